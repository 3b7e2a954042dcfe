"""The only module that knows the order of the steps of an analysis.

    unpack (safe, per upload) → identify nodes → run the signature library → Report

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

from app.analyzers.cert_findings import apply_certificates
from app.bundle.nodes import identify_node
from app.bundle.sources import SOURCES
from app.bundle.unpack import Limits, Tee, UnpackResult, unpack_upload
from app.calls.extract import Collector
from app.calls.group import build_calls, merge_background
from app.config import Settings
from app.errors import BundleError
from app.report import NodeInfo, Report
from app.signatures import Library, run_library
from app.signatures.alarms import resolve_alarm_lifecycle, split_cleared
from app.signatures.coverage import coverage_of
from app.signatures.prescan import PreScanner

log = logging.getLogger(__name__)

Progress = Callable[[float], None]  # fraction 0..1 of the whole analysis
PROCESSES_FROM_JOBS = 4  # see in_processes()


@dataclass(frozen=True)
class Input:
    """One uploaded file: where it is, and the name the user gave it."""

    path: Path
    name: str


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_total_bytes=settings.unpack_max_total_bytes,
        max_members=settings.unpack_max_members,
        max_member_bytes=settings.unpack_max_member_bytes,
        max_ratio=settings.unpack_max_ratio,
        max_depth=settings.unpack_max_depth,
        direct_write_bytes=settings.unpack_direct_write_mib * 2**20,
    )


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
) -> Iterator[UnpackResult]:
    """Unpack results in input order: one process per upload when `in_processes` says so.

    `tee` (used when the uploads are unpacked here) sees the unpacked bytes.
    """
    threads = 1 if jobs > 1 else 0
    targets = [workdir / f"{position:03d}" for position in range(len(inputs))]
    if not in_processes(jobs, len(inputs)):
        for item, name, target in zip(inputs, names, targets, strict=True):
            yield unpack_upload(item.path, name, target, limits, inflate_threads=threads, tee=tee)
        return
    context = multiprocessing.get_context("spawn")  # no fork of a threaded web or worker process
    with ProcessPoolExecutor(min(jobs, len(inputs)), mp_context=context) as pool:
        futures = [
            pool.submit(unpack_upload, item.path, name, target, limits, inflate_threads=threads)
            for item, name, target in zip(inputs, names, targets, strict=True)
        ]
        for future in futures:
            yield future.result()


def analyze(
    inputs: Sequence[Input],
    workdir: Path,
    library: Library,
    limits: Limits,
    progress: Progress | None = None,
    jobs: int | None = None,
    *,
    scan_while_unpacking: bool = True,
    extract_calls: bool = True,
) -> Report:
    """Unpack every input into `workdir`, identify its node, run the library; raises BundleError.

    `jobs` (default: every core this process may use) bounds the parallelism: gzip is inflated
    in a helper thread and signatures are matched in `jobs` threads; with 4 or more jobs,
    several uploads are unpacked in processes of their own (see `in_processes`). `jobs=1` runs
    everything but the writing of large files in the calling thread. Logs are scanned while
    they are unpacked (one read of their bytes) unless the uploads are unpacked in other
    processes or `scan_while_unpacking` is False (then they are read back from disk).
    The SIP messages of the logs are read from the same blocks (app.calls) unless
    `extract_calls` is False (benchmarks compare the two).
    """
    jobs = max(1, jobs or default_jobs())
    report = Report(ruleset_version=library.version)
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    names = unique_names([item.name for item in inputs])
    total_in = sum(item.path.stat().st_size for item in inputs) or 1
    done_in = 0
    sip = Collector()  # SIP messages, read from the blocks the signature scan reads
    observe = sip.observer if extract_calls else None
    with ExitStack() as stack:
        prescanner: PreScanner | None = None
        if scan_while_unpacking and not in_processes(jobs, len(inputs)):
            pool = None
            if jobs > 1:
                pool = stack.enter_context(ThreadPoolExecutor(jobs, thread_name_prefix="prescan"))
            prescanner = PreScanner(
                library.signatures, SOURCES, pool, window=2 * jobs + 1, observe=observe
            )
        unpacked = _unpack_all(inputs, names, workdir, limits, jobs, prescanner)
        for item, name, result in zip(inputs, names, unpacked, strict=True):
            report.files.extend(result.files)
            report.warnings.extend(result.warnings)
            report.nodes.append(identify_node(result.files, name))
            done_in += item.path.stat().st_size
            if progress:
                progress(0.3 * done_in / total_in)
    prescanned = prescanner.results if prescanner is not None else None
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

    findings = run_library(
        library,
        report.files,
        nodes,
        progress=on_bytes,
        jobs=jobs,
        prescanned=prescanned,
        observe=observe,
    )
    report.findings, cleared = split_cleared(resolve_alarm_lifecycle(findings))
    apply_certificates(report, library.signatures)  # captures + PEMs: certificates, findings
    file_nodes = {f.name: node_name(nodes.get(f.bundle), f.bundle) for f in report.files}
    report.calls = build_calls(sip.messages, file_nodes)
    report.call_background = merge_background(sip.background_rows(), file_nodes)
    report.warnings.extend(sip.warnings())
    report.coverage = coverage_of(
        library.signatures, report.files, nodes, report.findings, notes=cleared
    )
    return report
