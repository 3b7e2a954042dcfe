"""Identifiers of analyses: opaque and unguessable."""

from __future__ import annotations

import secrets


def new_id() -> str:
    """An opaque, unguessable id: 128 bits from the OS's CSPRNG, URL-safe."""
    return secrets.token_urlsafe(16)
