"""Keeps the secrets that travel in URLs (share links, sign-on codes) out of the access log."""

from __future__ import annotations

import logging
import re

ACCESS_LOGGER = "uvicorn.access"
# a path that starts with /s/ (not a log file in a directory named s), and sign-on parameters
SECRET_IN_URL = re.compile(r"""(?<![^\s"'])(/s/)[^/?#\s]+|([?&](?:code|state)=)[^&#\s]+""")


def redact(text: str) -> str:
    """'/s/SECRET' -> '/s/[redacted]', '?code=X&state=Y' -> '?code=[redacted]&state=[redacted]'."""
    return SECRET_IN_URL.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)


class SecretUrlFilter(logging.Filter):
    """Rewrites the request line of uvicorn's access log records (and any message) in place."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install() -> None:
    """Add the filter to the access logger once per process."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, SecretUrlFilter) for f in logger.filters):
        logger.addFilter(SecretUrlFilter())
