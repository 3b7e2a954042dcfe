"""Getting analyses to a worker: the embedded runner or Celery, behind one `Dispatcher`."""

from __future__ import annotations

from typing import Protocol


class Dispatcher(Protocol):
    """Hands an analysis id to whatever runs analyses; called only after the row is committed."""

    def dispatch(self, analysis_id: str) -> None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def queue_depth(self) -> int | None:
        """Analyses waiting for a worker; None when the broker cannot be reached."""
        ...

    def check(self) -> str | None:
        """None when analyses can be handed out now, else what is wrong (for /readyz)."""
        ...
