"""The C loops of a block's scan (app/_native.c), or None where the extension was not built.

Loops that ran per line in Python, holding the GIL, run in C: `Newlines._count`,
`calls.extract.prepare_block` and `calls.signin.mark_block` (in the matcher threads, the GIL
released), and the per-message readers of call flows: `calls.sipline.read_line` (a SIP
summary or block line), `calls.sipmsg.read_head` (a SIPMSG block's start line and headers),
`calls.signin.fast_line` (a Traffic Server line), a logged UTCTime's datetime
(`calls.extract.Seconds.utc_time`, the sign-in reader's `_utc`), a block's new keep-alive rows
(`calls.extract.FileExtractor._new_rows`), the interning of a kept message's text
(`calls.interning.slot_interner`), and after the scan the grouping of sign-in attempts and the
pass over each one's messages (`calls.signin_flow.group_attempts`, `_attempt`) and the summary
of each call (`calls.group._summarise`). `setup.py` builds them (optional: without a compiler
the install goes on); each caller keeps its Python function as the reference and the fallback,
and tests/test_native.py (tests/calls/test_signin_groups.py and test_call_facts.py for those
after the scan) checks both answer alike. LOUPE_NATIVE=false (read once, at import) runs the
Python ones even when the C ones exist. The block loops (newline counting, the literal search
of prepare_block and mark_block) step 32 bytes at a time with AVX2 where the CPU has it
(checked at import), else 16 with SSE2; `loops.set_avx2` switches for tests.
"""

from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType


def _load() -> ModuleType | None:
    if os.environ.get("LOUPE_NATIVE", "true").strip().lower() in {"0", "false", "no", "off"}:
        return None
    try:
        return importlib.import_module("app._native")
    except ImportError:
        logging.getLogger(__name__).warning(
            "app._native is not built (no C compiler at install): the scan's per-line loops "
            "run in Python, with the same results but slower; reinstall with gcc or clang"
        )
        return None


loops: ModuleType | None = _load()
"""The extension module (see app/_native.c for its functions), or None."""


def _load_hsscan() -> ModuleType | None:
    if loops is None:  # (LOUPE_NATIVE=false, or no C compiler)
        return None
    try:
        return importlib.import_module("app._hsscan")
    except ImportError:  # not built (no libhyperscan-dev at install), or libhs not loadable
        return None


hsscan: ModuleType | None = _load_hsscan()
"""app._hsscan (Hyperscan called from C, no Python call per match: see app/_hsscan.c), built
where Hyperscan's headers and library are installed; None elsewhere and with LOUPE_NATIVE=false
(app.signatures.matchers then calls Hyperscan through the hyperscan package)."""


def describe() -> str:
    """Which loops run, for logs and the bench."""
    if loops is None:
        return "Python (app._native not built)"
    if hsscan is None:
        return "C (app._native); Hyperscan through the hyperscan package (app._hsscan not built)"
    return "C (app._native); Hyperscan from C (app._hsscan)"
