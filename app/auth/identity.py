"""The caller of a request: a person or script with a name, a team and a role, or a share link."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking. `share_of` is set for an anonymous visitor holding a share link: that one
    analysis, read-only, and nothing else."""

    name: str | None
    team: str | None = None
    admin: bool = False
    share_of: str | None = None
    via: str = "session"  # "none" (LOUPE_AUTH=none), "session", "token" or "share"

    @property
    def label(self) -> str:
        """How the audit log names the caller."""
        if self.share_of is not None:
            return "share link"
        return self.name or "local"


# LOUPE_AUTH=none: one local user who may do everything, as before accounts existed
LOCAL_USER = Caller(name=None, team=None, admin=True, via="none")


def share_visitor(analysis_id: str) -> Caller:
    return Caller(name=None, team=None, admin=False, share_of=analysis_id, via="share")
