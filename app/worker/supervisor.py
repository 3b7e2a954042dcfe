"""Watch one analysing child process from outside: wall-clock and memory limits, heartbeat.

The supervisor runs in the worker (a thread of `loupe serve`, or the Celery task) and does
nothing but wait on the child, so it is never starved of the GIL by a long regex: every few
seconds it writes the heartbeat (with the child's progress), every quarter second it samples
the child's memory, and it kills the child's whole process group as soon as a limit is
passed. The worker lives on and takes the next analysis.

Memory is watched from /proc rather than bounded with RLIMIT_AS/RLIMIT_DATA: an address-space
limit counts what threads merely reserve (8 MiB stacks, 64 MiB malloc arenas per matcher,
inflate and writer thread), and an allocation refused inside Hyperscan, ISA-L or a handler
that catches every exception would surface as a random error or, worse, as a warning in an
analysis that then looks complete. Killed from outside, the analysis fails with the one true
reason. A spike faster than one sample (0.25 s) can overshoot the limit by what it allocates
meanwhile; the child is also the kernel's first OOM victim (see app/worker/child.py).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from enum import Enum
from multiprocessing.connection import Connection, wait

from app.config import Settings
from app.db import Database
from app.services import analyses
from app.worker import child, faults, memory

log = logging.getLogger(__name__)

SAMPLE_SECONDS = 0.25
HEARTBEAT_SECONDS = 5.0
EXIT_GRACE_SECONDS = 10.0


class Ending(Enum):
    """How an attempt at an analysis ended, seen from outside the child."""

    RECORDED = "recorded"  # the child stored done/failed/skipped itself
    TIMEOUT = "timeout"
    MEMORY = "memory"
    STOPPED = "stopped"  # the worker shuts down: the attempt does not count
    LOST = "lost"  # the child died or could not store anything


@dataclass(frozen=True)
class Outcome:
    ending: Ending
    status: str | None = None  # with RECORDED: what the child stored
    detail: str = ""  # with LOST: what happened, for the log and the give-up reason


def describe_exit(exitcode: int | None) -> str:
    """A child's exit code for people ("killed by SIGKILL", "exited with status 1")."""
    if exitcode is None:
        return "it did not end"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (for example by the kernel when memory ran out)" if name == "SIGKILL" else ""
        return f"the process analysing it was killed by {name}{hint}"
    return f"the process analysing it exited with status {exitcode}"


def duration_text(seconds: float) -> str:
    """900 → "15 minutes", 2 → "2 seconds", 5400 → "1 hour 30 minutes"."""
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole} second{'s' if whole != 1 else ''}"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    if minutes:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    if secs and not hours:
        parts.append(f"{secs} second{'s' if secs != 1 else ''}")
    return " ".join(parts)


def size_text(megabytes: int) -> str:
    """2048 → "2 GB", 300 → "300 MB"."""
    if megabytes >= 1024 and megabytes % 1024 == 0:
        return f"{megabytes // 1024} GB"
    if megabytes >= 1024:
        return f"{megabytes / 1024:.1f} GB"
    return f"{megabytes} MB"


def timeout_reason(settings: Settings) -> str:
    limit = settings.analysis_timeout_seconds
    return (
        f"Stopped after {duration_text(limit)}: the analysis took longer than "
        f"LOUPE_ANALYSIS_TIMEOUT_SECONDS={limit}. Upload fewer or smaller files, or ask the "
        "operator to raise the limit."
    )


def memory_reason(settings: Settings) -> str:
    limit = settings.analysis_max_memory_mb
    return (
        f"Stopped: the analysis used more than {size_text(limit)} of memory "
        f"(LOUPE_ANALYSIS_MAX_MEMORY_MB={limit}). Upload fewer or smaller files, or ask the "
        "operator to raise the limit."
    )


def _context() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["app.worker.preload"])  # once, not per analysis
    return context


def warm_up() -> None:
    """Start the fork server now (it imports the pipeline in the background), so that the
    first analysis does not wait for it."""
    from multiprocessing import forkserver

    _context()
    forkserver.ensure_running()


class Supervisor:
    """Runs one claimed analysis in a child process and watches it until it ends."""

    def __init__(
        self,
        analysis_id: str,
        worker: str,
        settings: Settings,
        db: Database,
        stop: threading.Event | None = None,
    ) -> None:
        self.analysis_id = analysis_id
        self.worker = worker
        self.settings = settings
        self.db = db
        self.stop = stop or threading.Event()
        self.peak_bytes = 0  # the most memory the child was seen to hold

    def run(self) -> Outcome:
        context = _context()
        progress = context.Value("i", 0, lock=False)
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(
            target=child.main,
            args=(
                self.analysis_id,
                self.worker,
                self.settings.model_dump_json(),
                progress,
                sender,
                os.environ.get(faults.ENV, ""),
            ),
            name=f"analysis-{self.analysis_id}",
        )
        process.start()  # waits for the fork server if it is still importing the pipeline
        started = time.monotonic()  # the analysis' own time starts now
        sender.close()  # the child holds the only writer: EOF when it dies
        outcome = Outcome(Ending.LOST)
        try:
            outcome = self._watch(process, receiver, progress, started)
        finally:
            if outcome.ending is Ending.RECORDED:
                process.join(timeout=EXIT_GRACE_SECONDS)  # it is closing its connections
            _kill_group(process)  # before join(): the pid cannot have been reused yet
            process.join()
            receiver.close()
            exitcode = process.exitcode
            process.close()
        if outcome.ending is Ending.LOST and not outcome.detail:
            return Outcome(Ending.LOST, detail=describe_exit(exitcode))
        return outcome

    def _watch(
        self,
        process: multiprocessing.process.BaseProcess,
        receiver: Connection,
        progress: multiprocessing.sharedctypes.Synchronized[int],
        started: float,
    ) -> Outcome:
        deadline = started + self.settings.analysis_timeout_seconds
        memory_limit = self.settings.analysis_max_memory_mb * 2**20
        next_beat = started  # at once: the fork server may have taken seconds to start
        assert process.pid is not None
        meter = memory.GroupMeter(process.pid)
        while True:
            ready = wait([receiver, process.sentinel], timeout=SAMPLE_SECONDS)
            if receiver in ready:
                try:
                    kind, value = receiver.recv()
                except EOFError:  # died without a word
                    return Outcome(Ending.LOST)
                if kind == child.RECORDED:
                    return Outcome(Ending.RECORDED, status=str(value))
                return Outcome(Ending.LOST, detail=str(value))
            if process.sentinel in ready and not receiver.poll():
                return Outcome(Ending.LOST)
            now = time.monotonic()
            if self.stop.is_set():
                return Outcome(Ending.STOPPED)
            if now >= deadline:
                return Outcome(Ending.TIMEOUT)
            used = meter.sample()
            self.peak_bytes = max(self.peak_bytes, used)
            if used > memory_limit:
                return Outcome(Ending.MEMORY, detail=f"{used / 2**20:.0f} MB")
            if now >= next_beat:
                self._beat(progress.value)
                next_beat = now + HEARTBEAT_SECONDS

    def _beat(self, progress: int) -> None:
        try:
            with self.db.session() as session:
                analyses.heartbeat(session, self.analysis_id, self.worker, progress)
        except Exception:  # a missed heartbeat is not fatal; the next one may get through
            log.warning("heartbeat failed for analysis %s", self.analysis_id, exc_info=True)


def _kill_group(process: multiprocessing.process.BaseProcess) -> None:
    """SIGKILL the child and every process of its group, unless it has ended and been reaped
    (its id could then belong to another process)."""
    if process.pid is None or process.exitcode is not None:
        return
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with suppress(ProcessLookupError):
        os.kill(process.pid, signal.SIGKILL)
