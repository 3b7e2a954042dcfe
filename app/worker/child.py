"""The process that analyses one upload: started by the supervisor, killed by it if need be.

`main()` is the entry point of the child. It is forked by the multiprocessing "forkserver" of
the supervising process: a single-threaded process that imported this module once, so an
analysis starts in milliseconds rather than the 1-2 s a fresh interpreter takes, with no
inherited threads or locks. It makes the child easy to stop and cheap to lose: leader of its
own process group (the supervisor kills the group, processes the pipeline starts included),
killed by the kernel if its parent dies (PR_SET_PDEATHSIG; the fork server exits as soon as
the supervising process dies), first in line for the kernel's OOM killer (oom_score_adj
1000) rather than the web server or the worker. Then it runs the claimed analysis
(`run_claimed`) and tells the supervisor how it ended.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import signal
import traceback
from collections.abc import Sequence
from contextlib import suppress
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path

from sqlalchemy.exc import DisconnectionError, OperationalError

from app.bundle.manifest import ManifestUnusable, read_manifest, remove_manifest, write_manifest
from app.bundle.stored import compress_tree
from app.config import Settings
from app.db import Database
from app.errors import BundleError, StoredFileDamaged
from app.observability import analysis_context, configure_logging
from app.report import Report, Unpacked
from app.services import analyses, storage
from app.services import calls as calls_service
from app.services.findings import save_report
from app.signatures import Library, load_library
from app.worker import faults
from app.worker.collection import collection_paused
from app.worker.malloc import tune_malloc
from app.worker.pipeline import (
    Input,
    Progress,
    analyze,
    calls_key,
    limits_from,
    output_limits_from,
)

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1
RECORDED = "recorded"  # the child stored the outcome itself: ("recorded", status)
LOST = "lost"  # the child could not store anything: ("lost", what happened)

_LIBRARIES: dict[Path | None, Library] = {}


def default_library(path: Path | None = None, cache_dir: Path | None = None) -> Library:
    """The library at `path` (LOUPE_LIBRARY_DIR; None: the packaged one), once per process."""
    if path not in _LIBRARIES:
        _LIBRARIES[path] = load_library(path, cache_dir=cache_dir)
    return _LIBRARIES[path]


def prepare_process() -> None:
    """Own process group, death with the parent, first victim of the OOM killer."""
    os.setpgid(0, 0)
    parent = os.getppid()
    with suppress(OSError, AttributeError):  # not Linux: the supervisor still kills us
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)
    with suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text("1000")
    tune_malloc()


def main(
    analysis_id: str,
    worker: str,
    settings_json: str,
    progress: Synchronized[int],
    results: Connection,
    test_fault: str,
) -> None:
    """Entry point of the child: analyse the claimed analysis, send how it ended.
    `test_fault`: LOUPE_TEST_FAULT of the supervisor (app/worker/faults.py)."""
    prepare_process()
    os.environ[faults.ENV] = test_fault
    settings = Settings.model_validate_json(settings_json)
    if settings.log_json:
        configure_logging(json_lines=True)
    db = Database(settings.sqlalchemy_url)

    def report(fraction: float) -> None:
        progress.value = int(fraction * 100)

    try:
        with analysis_context(analysis_id):
            status = run_claimed(analysis_id, worker, settings, db, report, own_process=True)
        results.send((RECORDED, status))
    except (OperationalError, DisconnectionError) as exc:
        log.warning("analysis %s: database unreachable: %s", analysis_id, exc)
        results.send((LOST, "the database was not reachable"))
    finally:
        results.close()
        db.dispose()


def run_claimed(
    analysis_id: str,
    worker: str,
    settings: Settings,
    db: Database,
    progress: Progress | None = None,
    *,
    own_process: bool = False,
) -> str:
    """Analyse an analysis `worker` has claimed and store the outcome; returns its status
    ("done", "failed" or "skipped" when another worker took it over meanwhile).

    `own_process`: this process ends with the analysis (the forked child): the report, made
    while the cyclic garbage collector was paused, is then frozen out of it (gc.freeze)
    before it runs again; its first pass walked everything the analysis had allocated (~50 ms
    for the bench's 1 GiB bundle), and the report lives until the process ends anyway.

    A bad bundle fails with the reason the pipeline gives; a crash fails as an internal error
    whose traceback goes to the log. Database errors propagate: nothing could be stored.
    """
    library = default_library(settings.library_dir, settings.cache_dir)
    data_dir = settings.resolved_data_dir
    with db.session() as session:
        analysis = analyses.get(session, analysis_id)
        inputs = [
            Input(
                path=storage.resolve_inside(data_dir, f.storage_path),
                name=f.name,
                product=f.product,
            )
            for f in analysis.files
        ]
    log.info("analysis %s started by %s in process %d", analysis_id, worker, os.getpid())
    # held until the files are kept: a re-run taken by another worker meanwhile waits
    with storage.analysis_lock(data_dir, analysis_id):
        work = storage.work_dir(data_dir, analysis_id)
        try:
            faults.inject([item.name for item in inputs])
            stored = stored_unpack(data_dir, analysis_id, inputs)
            known = None
            if stored is not None:
                log.info("analysis %s: re-run from the files its first run unpacked", analysis_id)
                if settings.call_flows:
                    with db.session() as session:
                        known = calls_service.known_calls(session, data_dir, analysis_id)
            with collection_paused():
                report = analyze(
                    inputs,
                    work,
                    library,
                    limits_from(settings),
                    progress,
                    jobs=settings.jobs,
                    output=output_limits_from(settings),
                    extract_calls=settings.call_flows,
                    count_timeline=True,
                    stored=stored,
                    known_calls=known,
                )
                if report.calls is not None:  # extracted anew: their key is kept with them
                    report.calls_key = calls_key(report)
                if own_process:
                    gc.freeze()
        except BundleError as exc:
            log.info("analysis %s failed: %s", analysis_id, exc)
            with db.session() as session:
                analyses.fail(session, analysis_id, str(exc), worker)
            return "failed"
        except Exception as exc:
            log.error("analysis %s crashed:\n%s", analysis_id, traceback.format_exc())
            with db.session() as session:
                analyses.fail(
                    session,
                    analysis_id,
                    f"Internal error while analysing ({type(exc).__name__}: {exc}). "
                    "The operator can find the traceback in the server log.",
                    worker,
                )
            return "failed"
        with db.session() as session:
            saved = save_report(
                session, analysis_id=analysis_id, report=report, data_dir=data_dir, worker=worker
            )
        log.info(
            "analysis %s %s: %d findings",
            analysis_id,
            "done" if saved else "superseded",
            len(report.findings),
        )
        if saved:
            _trim_log(db)
            keep_stored(settings, analysis_id, report)
        return "done" if saved else "skipped"


def _trim_log(db: Database) -> None:
    """Cut SQLite's write-ahead log after a save (Database.trim_log); a failure is logged."""
    try:
        db.trim_log()
    except Exception:  # (never fails the analysis just saved)
        log.warning("could not checkpoint the database's write-ahead log", exc_info=True)


def stored_unpack(data_dir: Path, analysis_id: str, inputs: Sequence[Input]) -> Unpacked | None:
    """What an earlier run of the analysis unpacked, when its files are all still in the work
    dir (a re-run reads them); None: unpack the uploads (a first run, an analysis made before
    the manifest, or a manifest that cannot be used while the uploads are still here).

    Raises BundleError when neither the unpacked files nor the uploads can be read."""
    path = storage.manifest_path(data_dir, analysis_id)
    problem = None
    try:
        stored = read_manifest(path, storage.work_dir(data_dir, analysis_id))
    except ManifestUnusable as exc:
        stored, problem = None, str(exc)
        log.warning("analysis %s: %s; its uploads are unpacked again", analysis_id, exc)
    if stored is not None:
        return stored
    missing = [item.name for item in inputs if not item.path.is_file()]
    if missing:
        if problem is not None:
            raise BundleError(
                f"This analysis cannot be run again: {problem}, and its upload is not kept. "
                "Upload the bundle again."
            )
        raise BundleError(
            "The uploaded file(s) "
            + ", ".join(missing)
            + " cannot be read by this worker: check that every worker mounts the same "
            "data dir (LOUPE_DATA_DIR)."
        )
    remove_manifest(path)  # the work dir is unpacked anew: the old record no longer holds
    return None


def keep_stored(settings: Settings, analysis_id: str, report: Report) -> None:
    """Once the findings are saved: record what was unpacked, compress the work dir, then
    remove the upload (unless LOUPE_KEEP_UPLOADS). In this order, a worker that dies between
    two steps leaves an analysis that re-runs: from the upload while there is no record, from
    the work dir (plain, or compressed) once there is one."""
    data_dir = settings.resolved_data_dir
    work = storage.work_dir(data_dir, analysis_id)
    if report.unpacked is None:
        return
    try:
        write_manifest(storage.manifest_path(data_dir, analysis_id), report.unpacked, work)
    except (OSError, ValueError) as exc:
        log.warning("analysis %s: the record of its unpacked files failed: %s", analysis_id, exc)
        compact_work_dir(settings, analysis_id)
        return  # the upload stays: a re-run unpacks it again
    if not compact_work_dir(settings, analysis_id) or settings.keep_uploads:
        return
    freed = storage.remove_uploads(data_dir, analysis_id)
    log.info(
        "analysis %s: upload removed (%d bytes); re-runs read its work dir", analysis_id, freed
    )


def compact_work_dir(settings: Settings, analysis_id: str) -> bool:
    """Keep the analysis' large unpacked files compressed, now that its findings are saved (off
    the analysis' critical path: the pages already show the result, and read either form).
    A failure leaves the plain files, which read as well: it is logged, never fatal (False)."""
    threshold = settings.unpack_compress_from_kib * 1024
    if not threshold or settings.compress_while_unpacking:
        return True
    try:
        done = compress_tree(
            storage.work_dir(settings.resolved_data_dir, analysis_id),
            plain_below=threshold,
            level=settings.store_level,
        )
    except (OSError, StoredFileDamaged) as exc:
        log.warning("analysis %s: its work dir could not be compressed: %s", analysis_id, exc)
        return False
    if done.files:
        log.info(
            "analysis %s: %d unpacked files kept compressed, %d bytes in %d",
            analysis_id,
            done.files,
            done.before,
            done.after,
        )
    return True
