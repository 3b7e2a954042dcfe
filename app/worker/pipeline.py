"""The only module that knows the order of the steps of an analysis.

    unpack (safe, per upload) → split by host → identify nodes → run the signature library → Report

`analyze()` is pure (files in, Report out; `loupe analyze` calls it directly, no database);
`app.worker.process.process_analysis()` wraps it for the workers.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from app.analyzers.cert_scan import CertificateScan, holds_certificates
from app.analyzers.config_findings import apply_configuration
from app.bundle.budget import LocalTotals, SharedTotals, Totals, UnpackBudget
from app.bundle.duplicates import repeated_upload_warning, repeated_uploads
from app.bundle.hosts import node_keys, split_by_host
from app.bundle.nodes import HEAD_BYTES, identify_node
from app.bundle.sources import SOURCES
from app.bundle.stored import SUFFIX
from app.bundle.unpack import Limits, Tee, UnpackResult, unpack_upload
from app.calls.extract import Collector
from app.calls.group import build_calls, merge_background
from app.calls.reuse import KnownCalls, extraction_key
from app.calls.signin import SigninCollector, combine
from app.calls.signin_flow import build as build_signins
from app.config import Settings
from app.errors import BundleError
from app.priority import lower_priority
from app.report import BundleFile, NodeInfo, Report, Unpacked, UploadUnpacked
from app.search.timeline import LOG_KINDS, TimelineCollector
from app.signatures import Library, Observe, run_library
from app.signatures.active_alarms import xstatus_alarms
from app.signatures.alarms import resolve_alarm_lifecycle, split_cleared
from app.signatures.coverage import coverage_of
from app.signatures.engine import FileStats, PreScanned, Tally
from app.signatures.output_bounds import OutputLimits, cap_findings, dropped_hits_warning
from app.signatures.prescan import PreScanner
from app.signatures.verdict import examined_lines
from app.worker.collection import collection_paused
from app.worker.handover import gil_handover

log = logging.getLogger(__name__)

Progress = Callable[[float], None]  # fraction 0..1 of the whole analysis
PROCESSES_FROM_JOBS = 4  # see in_processes()


@dataclass(frozen=True)
class Input:
    """One uploaded file: where it is, and the name the user gave it."""

    path: Path
    name: str
    product: str | None = None  # the product the user chose for it; None: detect it


SCANNED_HEAD_BYTES = HEAD_BYTES
"""What `loupe analyze` keeps on disk of a log scanned while unpacked: node identity's head."""


def limits_from(settings: Settings, *, keep_files: bool = True) -> Limits:
    """The unpack limits of `settings`. `keep_files=False` (`loupe analyze`, which keeps
    nothing): a log scanned whole while unpacked is written only up to SCANNED_HEAD_BYTES, the
    bytes node identity reads (app.bundle.nodes); no later step reads more of it."""
    return Limits(
        max_total_bytes=settings.unpack_max_total_bytes,
        max_members=settings.unpack_max_members,
        max_member_bytes=settings.unpack_max_member_bytes,
        max_ratio=settings.unpack_max_ratio,
        max_depth=settings.unpack_max_depth,
        ratio_grace_bytes=settings.unpack_ratio_grace_bytes,
        max_header_bytes=settings.unpack_max_header_bytes,
        direct_write_bytes=settings.unpack_direct_write_mib * 2**20,
        compress_from_bytes=(
            settings.unpack_compress_from_kib * 1024 if settings.compress_while_unpacking else 0
        ),
        scanned_head_bytes=None if keep_files else SCANNED_HEAD_BYTES,
    )


def output_limits_from(settings: Settings) -> OutputLimits:
    return OutputLimits(max_findings=settings.max_findings, max_bytes=settings.max_findings_bytes)


def _certificates(report: Report, library: Library) -> CertificateScan | None:
    """The certificate step (app.analyzers.cert_findings) over the report's captures and PEM
    files; None when it holds neither: the step would change nothing, and its import of
    `cryptography` is saved (~40 ms of every `loupe analyze` of plain logs)."""
    if not holds_certificates(report.files):
        return None
    from app.analyzers.cert_findings import apply_certificates

    return apply_certificates(report, library.signatures)


def node_name(node: NodeInfo | None, bundle: str) -> str:
    """How calls name a node: its hostname, else the upload it came from."""
    return node.hostname if node is not None and node.hostname else bundle


def unique_names(names: Sequence[str]) -> list[str]:
    """Upload names made unique ("diag.tar.gz", "diag.tar.gz (2)"): each is a node's key."""
    seen: dict[str, int] = {}
    result = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return result


def default_jobs() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def in_processes(jobs: int, uploads: int) -> bool:
    """Whether several uploads are unpacked in processes of their own (else here, in turn).

    One upload here already keeps two cores busy (inflating thread, matcher threads, scanning
    while unpacking). Measured on 2 cores with two 1 GiB bundles: 7.7 s in two processes (no
    scan while unpacking: every log is read back), against about 4.5 s one after the other.
    Processes pay off only with more cores than one upload can use.
    """
    return uploads > 1 and jobs >= PROCESSES_FROM_JOBS


def _unpack_all(
    inputs: Sequence[Input],
    names: Sequence[str],
    workdir: Path,
    limits: Limits,
    jobs: int,
    tee: Tee | None,
    uploaded_bytes: int,
) -> Iterator[UnpackResult]:
    """Unpack results in input order: one process per upload when `in_processes` says so.

    `tee` (used when the uploads are unpacked here) sees the unpacked bytes. All uploads share
    one UnpackBudget, measured against `uploaded_bytes` (their sizes together).
    """
    threads = 1 if jobs > 1 else 0
    targets = [workdir / f"{position:03d}" for position in range(len(inputs))]
    if not in_processes(jobs, len(inputs)):
        budget = UnpackBudget(limits, uploaded_bytes, LocalTotals())
        for item, name, target in zip(inputs, names, targets, strict=True):
            yield unpack_upload(
                item.path, name, target, limits, inflate_threads=threads, tee=tee, budget=budget
            )
        return
    context = multiprocessing.get_context("spawn")  # no fork of a threaded web or worker process
    totals = SharedTotals(context)
    with ProcessPoolExecutor(
        min(jobs, len(inputs)),
        mp_context=context,
        initializer=_share_totals,
        initargs=(totals,),
    ) as pool:
        futures = [
            pool.submit(_unpack_in_child, item.path, name, target, limits, threads, uploaded_bytes)
            for item, name, target in zip(inputs, names, targets, strict=True)
        ]
        for future in futures:
            yield future.result()


_child_totals: Totals | None = None
"""The analysis' shared unpack totals, in a process that unpacks one of its uploads."""


def _share_totals(totals: SharedTotals) -> None:
    global _child_totals
    _child_totals = totals


def _unpack_in_child(
    src: Path, name: str, target: Path, limits: Limits, threads: int, uploaded_bytes: int
) -> UnpackResult:
    """unpack_upload in a pool process, against the budget shared by the whole analysis."""
    budget = UnpackBudget(limits, uploaded_bytes, _child_totals)
    return unpack_upload(src, name, target, limits, inflate_threads=threads, budget=budget)


def analyze(
    inputs: Sequence[Input],
    workdir: Path,
    library: Library,
    limits: Limits,
    progress: Progress | None = None,
    jobs: int | None = None,
    *,
    scan_while_unpacking: bool = True,
    output: OutputLimits | None = None,
    extract_calls: bool = False,
    count_timeline: bool = False,
    stored: Unpacked | None = None,
    known_calls: KnownCalls | None = None,
) -> Report:
    """Unpack every input into `workdir`, identify its node, run the library; raises BundleError.

    An input that repeats an earlier one byte for byte is analysed once, with a warning.

    `jobs` (default: every core this process may use) bounds the parallelism: gzip is inflated
    in a helper thread and signatures are matched in `jobs` threads; with 4 or more jobs,
    several uploads are unpacked in processes of their own (see `in_processes`). `jobs=1` runs
    everything but the writing of large files in the calling thread. Logs are scanned while
    they are unpacked (one read of their bytes) unless the uploads are unpacked in other
    processes or `scan_while_unpacking` is False (then they are read back from disk).
    `output` bounds the findings kept (app.signatures.output_bounds); what is left out is
    named in a report warning.
    The SIP messages of the logs are read from the same blocks (app.calls) when
    `extract_calls` is True (LOUPE_CALL_FLOWS; on by default, false saves CPU on SIP-heavy logs);
    otherwise `report.calls` stays None and no observer is attached (no per-block cost).
    With `count_timeline`, the same scan counts every log file's lines, errors, warnings,
    alarms and markers per minute (app.search.timeline, in the matcher threads) into
    `report.timeline`, which the server saves for the timeline page.

    `stored` (a re-run: what the first run's unpack gave, app/bundle/manifest.py) skips the
    unpack: its files are read from `workdir` as they are kept, the nodes identified again
    with the products `inputs` carry now, its warnings repeated; `inputs` are not read.
    `report.unpacked` says what was unpacked (or read back), for the next re-run.
    `known_calls` (a re-run: the calls and sign-ins an earlier run stored, app/calls/reuse.py)
    are kept when the files, nodes, products and code they came from are the same: the scan
    then reads no SIP or sign-in line, `report.calls` and `report.signins` stay None and
    `report.calls_kept` says so, and `report.calls_key` is their key (the worker gives the key
    of calls extracted anew, `calls_key(report)`, when it stores them).
    """
    with collection_paused(), gil_handover():  # (see app/worker/collection.py, handover.py)
        return _analyze(
            inputs, workdir, library, limits, progress, jobs, scan_while_unpacking, output,
            extract_calls, count_timeline, stored, known_calls,
        )  # fmt: skip


def _analyze(
    inputs: Sequence[Input],
    workdir: Path,
    library: Library,
    limits: Limits,
    progress: Progress | None,
    jobs: int | None,
    scan_while_unpacking: bool,
    output: OutputLimits | None,
    extract_calls: bool,
    count_timeline: bool,
    stored: Unpacked | None,
    known_calls: KnownCalls | None,
) -> Report:
    output = output or OutputLimits()
    jobs = max(1, jobs or default_jobs())
    report = Report(ruleset_version=library.version)
    kept: KnownCalls | None = None
    prescanned = None
    if stored is not None:
        _read_back(report, stored, inputs, workdir)
        if extract_calls and known_calls is not None and known_calls.key == calls_key(report):
            kept = known_calls
        if progress:
            progress(0.3)
    # SIP messages and MRA sign-ins, read from the blocks the signature scan reads (only when
    # asked for, and not kept from an earlier run); the timeline's counts, made in the same scan
    extracting = extract_calls and kept is None
    sip = Collector() if extracting else None
    signins = SigninCollector() if extracting else None
    observe = combine(sip.observer if sip else None, signins.observer if signins else None)
    timeline = TimelineCollector() if count_timeline else None
    tally = timeline.tally if timeline is not None else None
    if stored is None:
        prescanned = _unpack_into(
            report,
            inputs,
            workdir,
            library,
            limits,
            progress,
            jobs,
            output,
            observe,
            tally,
            scan_while_unpacking,
        )
    scan = _Scan(sip, signins, observe, timeline, tally, kept)
    return _scan(report, library, progress, jobs, output, scan, prescanned)


def _identify_nodes(
    files: Sequence[BundleFile], upload: str, product: str | None
) -> list[NodeInfo]:
    """The nodes of the upload `upload`: one per node key of its files (app.bundle.hosts; the
    upload's name when it holds none), each identified from its own files, with the product
    the user chose for the upload (None: detect it)."""
    return [identify_node(files, key, product) for key in node_keys(files) or [upload]]


def _read_back(report: Report, stored: Unpacked, inputs: Sequence[Input], workdir: Path) -> None:
    """A re-run's files, nodes and unpack warnings, from what the first run unpacked."""
    for partial in workdir.rglob(f"*{SUFFIX}.partial-*"):  # left by a compaction cut short
        partial.unlink(missing_ok=True)
    report.warnings.extend(stored.warnings)
    for upload in stored.uploads:
        product = inputs[upload.position].product if upload.position < len(inputs) else None
        report.files.extend(upload.files)
        report.warnings.extend(upload.warnings)
        report.nodes.extend(_identify_nodes(upload.files, upload.name, product))
    report.unpacked = stored


def _file_nodes(report: Report) -> dict[str, str]:
    """The name of each file's node, as calls and sign-ins show it (`node_name`)."""
    nodes = {node.bundle: node for node in report.nodes}
    return {f.name: node_name(nodes.get(f.bundle), f.bundle) for f in report.files}


def _products(report: Report) -> dict[str, str | None]:
    """Each node's product, by the name calls and sign-ins give the node."""
    return {node_name(n, n.bundle): n.product for n in report.nodes}


def calls_key(report: Report) -> str:
    """The extraction key (app/calls/reuse.py) of the calls of the report's files and nodes:
    what the worker keeps beside the calls it stores (`loupe analyze` stores none, and spends
    nothing on it)."""
    return extraction_key(report.files, _file_nodes(report), _products(report))


def _unpack_into(
    report: Report,
    inputs: Sequence[Input],
    workdir: Path,
    library: Library,
    limits: Limits,
    progress: Progress | None,
    jobs: int,
    output: OutputLimits,
    observe: Observe | None,
    tally: Tally | None,
    scan_while_unpacking: bool,
) -> dict[str, PreScanned] | None:
    """Unpack every input into a fresh `workdir` (scanning while unpacking when it can); fills
    the report's files, nodes, warnings and `unpacked`; returns what the scan saw."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    all_names = unique_names([item.name for item in inputs])
    repeats = repeated_uploads([item.path for item in inputs])
    for position, first in repeats.items():
        report.warnings.append(repeated_upload_warning(all_names[position], all_names[first]))
    kept = [position for position in range(len(inputs)) if position not in repeats]
    inputs = [inputs[position] for position in kept]
    names = [all_names[position] for position in kept]
    repeat_warnings = list(report.warnings)
    uploads: list[UploadUnpacked] = []
    total_in = sum(item.path.stat().st_size for item in inputs) or 1
    done_in = 0
    with ExitStack() as stack:
        prescanner: PreScanner | None = None
        if scan_while_unpacking and not in_processes(jobs, len(inputs)):
            pool = None
            if jobs > 1:
                helpers = ThreadPoolExecutor(
                    jobs, thread_name_prefix="prescan", initializer=lower_priority
                )
                pool = stack.enter_context(helpers)
            prescanner = PreScanner(
                library.signatures,
                SOURCES,
                pool,
                window=2 * jobs + 1,
                max_groups=output.max_groups,
                observe=observe,
                tally=tally,
            )
        unpacked = _unpack_all(inputs, names, workdir, limits, jobs, prescanner, total_in)
        for position, item, name, result in zip(kept, inputs, names, unpacked, strict=True):
            files = split_by_host(result.files, name)
            report.files.extend(files)
            report.warnings.extend(result.warnings)
            report.nodes.extend(_identify_nodes(files, name, item.product))
            uploads.append(UploadUnpacked(position, name, files, list(result.warnings)))
            done_in += item.path.stat().st_size
            if progress:
                progress(0.3 * done_in / total_in)
    report.unpacked = Unpacked(uploads=uploads, warnings=repeat_warnings)
    return prescanner.results if prescanner is not None else None


@dataclass(frozen=True)
class _Scan:
    """What the signature scan also feeds, besides the findings (all optional)."""

    sip: Collector | None
    signins: SigninCollector | None
    observe: Observe | None
    timeline: TimelineCollector | None
    tally: Tally | None
    kept: KnownCalls | None = None  # an earlier run's calls, kept (nothing extracted)


def _scan(
    report: Report,
    library: Library,
    progress: Progress | None,
    jobs: int,
    output: OutputLimits,
    scan: _Scan,
    prescanned: dict[str, PreScanned] | None,
) -> Report:
    """Run the library on the report's files; fills findings, certificates, calls, coverage."""
    if not report.files:
        raise BundleError(
            "The upload holds no file that could be read: every member was skipped "
            + ("(" + "; ".join(report.warnings[:3]) + ")" if report.warnings else "")
        )
    nodes = {node.bundle: node for node in report.nodes}
    total_bytes = sum(f.size for f in report.files) or 1
    scanned = 0

    def on_bytes(n: int) -> None:
        nonlocal scanned
        scanned += n
        if progress:
            progress(0.3 + 0.7 * min(1.0, scanned / total_bytes))

    stats: dict[str, FileStats] = {}
    dropped: dict[str, int] = {}
    findings = run_library(
        library,
        report.files,
        nodes,
        progress=on_bytes,
        jobs=jobs,
        prescanned=prescanned,
        stats=stats,
        max_groups=output.max_groups,
        dropped=dropped,
        warnings=report.warnings,
        observe=scan.observe,
        tally=scan.tally,
    )
    if scan.timeline is not None:
        logs = (f.name for f in report.files if f.kind in LOG_KINDS)
        report.timeline = scan.timeline.to_json(logs)
    # alarms active when logging started: the xstatus dump's alarm list, per node
    xstatus = xstatus_alarms(report.files)
    active = {
        (nodes[bundle].hostname if bundle in nodes else None): reading.by_id()
        for bundle, reading in xstatus.items()
    }
    by_id = {signature.id: signature for signature in library.signatures}
    report.findings, cleared = split_cleared(
        resolve_alarm_lifecycle(findings, active=active, signatures=by_id)
    )
    certs = _certificates(report, library)  # captures + PEMs: certificates
    config = apply_configuration(report, library.signatures, certs)  # xconf: configuration
    notes = dict(cleared)
    for signature_id, checked in config.items():
        if checked.note:
            notes[signature_id] = checked.note
    unchecked = {sid: c.skipped for sid, c in config.items() if c.skipped}
    if scan.sip is not None:
        file_nodes, products = _file_nodes(report), _products(report)
        report.calls = build_calls(scan.sip.messages, file_nodes)
        report.call_background = merge_background(scan.sip.background_rows(), file_nodes)
        report.call_warnings = scan.sip.warnings()
        if scan.signins is not None:
            report.signins = build_signins(scan.signins, file_nodes, products)
            report.call_warnings += scan.signins.warnings()
        report.warnings.extend(report.call_warnings)
    elif scan.kept is not None:
        report.calls_key, report.calls_kept = scan.kept.key, True
        report.call_warnings = list(scan.kept.warnings)
        report.warnings.extend(report.call_warnings)
    report.examined = examined_lines(report.files, nodes, stats)
    report.coverage = coverage_of(  # before the cap: a signature that matched says so
        library.signatures,
        report.files,
        nodes,
        report.findings,
        notes=notes,
        stats=stats,
        unchecked=unchecked,
        xstatus=xstatus,
    )
    report.findings, left_out = cap_findings(report.findings, output)
    for warning in (dropped_hits_warning(dropped, output.max_groups), left_out):
        if warning is not None:
            report.warnings.append(warning)
    return report
