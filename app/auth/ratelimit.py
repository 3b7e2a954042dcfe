"""Failed logins per user name and address in a sliding minute; past the limit, 429."""

from __future__ import annotations

import threading
import time
from collections import deque

WINDOW_SECONDS = 60.0
MAX_KEYS = 100_000  # bounded memory whatever is thrown at the login form


class LoginLimiter:
    """Counts failed logins of one process (each web process has its own counts)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        stamps = self._failures.get(key)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - WINDOW_SECONDS:
            stamps.popleft()
        if not stamps:
            del self._failures[key]
        return stamps

    def blocked(self, name: str, address: str) -> bool:
        with self._lock:
            return len(self._recent((name.lower(), address), time.monotonic())) >= self.per_minute

    def failed(self, name: str, address: str) -> None:
        key = (name.lower(), address)
        now = time.monotonic()
        with self._lock:
            if key not in self._failures and len(self._failures) >= MAX_KEYS:
                for old in [k for k in self._failures if not self._recent(k, now)]:
                    self._failures.pop(old, None)
                if len(self._failures) >= MAX_KEYS:
                    self._failures.pop(next(iter(self._failures)))
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop((name.lower(), address), None)
