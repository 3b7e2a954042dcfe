"""Secrets handed to people (session cookies, API tokens, share links): made, hashed, compared.

Each is 32 random bytes (256 bits), so a plain SHA-256 is enough to store it: there is nothing
to brute-force. Only the hash is kept; the comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32


def new_secret() -> str:
    """A fresh URL-safe secret of 256 bits."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(secret: str) -> str:
    """The hex SHA-256 kept in the database instead of the secret."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def matches(secret: str, stored_digest: str) -> bool:
    """Whether `secret` hashes to `stored_digest`, in constant time."""
    return hmac.compare_digest(digest(secret), stored_digest)
