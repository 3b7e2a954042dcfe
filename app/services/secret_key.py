"""The server's secret key: `LOUPE_SECRET_KEY`, or a random one kept in the data dir (0600).

Several web processes sharing one data dir must agree on the key, so the first one to start
writes it atomically (a temporary file linked into place, never overwritten) and the others read
it. Purpose-specific keys are derived from it with HMAC, so one secret serves many uses.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

KEY_FILE = "secret_key"
KEY_BYTES = 32


class SecretKeyError(RuntimeError):
    """The key file exists but cannot be used; the message says what to fix."""


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def load_or_create(data_dir: Path) -> bytes:
    """The key kept in `data_dir`, created (mode 0600) on first use."""
    path = key_path(data_dir)
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        temporary = data_dir / f".{KEY_FILE}.{secrets.token_hex(8)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_hex(KEY_BYTES) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process won: use its key
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    if path.is_symlink() or not path.is_file():
        raise SecretKeyError(f"{path} must be a regular file holding the secret key.")
    text = path.read_text(encoding="ascii", errors="replace").strip()
    if len(text) < 32:
        raise SecretKeyError(
            f"{path} holds no usable key (fewer than 32 characters): delete it to make a new "
            "one, or set LOUPE_SECRET_KEY."
        )
    return text.encode()


def server_key(secret_key: str | None, data_dir: Path) -> bytes:
    """The configured secret, or the one kept in the data dir."""
    if secret_key:
        return secret_key.encode()
    return load_or_create(data_dir)


def derive(key: bytes, purpose: str) -> bytes:
    """A key for one purpose ('csrf', 'session', ...): knowing one tells nothing of the others."""
    return hmac.new(key, f"logloupe {purpose} v1".encode(), hashlib.sha256).digest()
