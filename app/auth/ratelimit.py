"""Failed logins in a sliding minute, per user name and address and per address; past, 429.

The per-address limit (ADDRESS_FACTOR times the per-name one) stops one address from trying a
password on many names."""

from __future__ import annotations

import threading
import time
from collections import deque

WINDOW_SECONDS = 60.0
MAX_KEYS = 100_000  # bounded memory whatever is thrown at the login form
ADDRESS_FACTOR = 4
ANY_NAME = "\x00any"  # the key of an address' failures whatever the name


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
        now = time.monotonic()
        with self._lock:
            by_name = len(self._recent((name.lower(), address), now))
            by_address = len(self._recent((ANY_NAME, address), now))
        return by_name >= self.per_minute or by_address >= self.per_minute * ADDRESS_FACTOR

    def failed(self, name: str, address: str) -> None:
        self._count((name.lower(), address))
        self._count((ANY_NAME, address))

    def _count(self, key: tuple[str, str]) -> None:
        now = time.monotonic()
        with self._lock:
            if key not in self._failures and len(self._failures) >= MAX_KEYS:
                for old in list(self._failures):
                    self._recent(old, now)  # drops the keys with no failure in the window
                if len(self._failures) >= MAX_KEYS:  # all recent: forget the oldest key
                    self._failures.pop(next(iter(self._failures)))
            self._recent(key, now)
            self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop((name.lower(), address), None)
