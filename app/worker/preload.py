"""What the fork server imports once, so that every analysing child starts ready.

The fork server (app/worker/supervisor.py) imports this module before it forks any child: the
pipeline's modules, and the signature library this installation uses (LOUPE_LIBRARY_DIR, else
the packaged one). A child then starts in milliseconds with both in memory (shared with the
fork server until written to). If the library cannot be loaded here, each child loads it
itself and reports the error the usual way, in the analysis.

What the fork server made is then frozen out of the cyclic garbage collector (`gc.freeze`,
inherited by every child): a child's full collections before its analysis walked all of it
(~50 ms measured with the bench's 773 signatures), and untouched objects stay shared with the
fork server instead of being copied into each child as the collector writes to them.

The digest of the code the children run (app/calls/reuse.code_identity, the key of the calls a
re-run may keep) is taken here too: ~15 ms once, and it names the code loaded in memory, which
the children run, even if the files on disk change before the fork server restarts.
"""

from __future__ import annotations

import logging

from app.calls.reuse import code_identity
from app.config import get_settings
from app.worker.child import default_library
from app.worker.collection import freeze_survivors

log = logging.getLogger(__name__)


def load_default_library() -> None:
    settings = get_settings()
    try:
        default_library(settings.library_dir, settings.cache_dir)
    except Exception as exc:  # only a head start: an exception here would stop the fork server
        log.warning("the fork server could not preload the signature library: %r", exc)


load_default_library()
code_identity()
freeze_survivors()
