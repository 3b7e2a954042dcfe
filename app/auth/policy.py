"""Who may do what with which analysis: the one policy of logloupe.

- an admin may do everything;
- the owner may do everything with their analysis;
- a member of the analysis' team may read, re-run and share it (not delete it or extend it);
- a share-link visitor may read the one analysis of the link, nothing else;
- anyone else may do nothing, and is told the analysis does not exist (404, not 403).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from sqlalchemy import ColumnElement, false, or_, true

from app.auth.identity import Caller
from app.models import Analysis


class Action(StrEnum):
    READ = "read"  # overview, JSON, log viewer, raw files, certificates
    RERUN = "rerun"
    SHARE = "share"  # create, list and revoke share links
    MANAGE = "manage"  # delete, extend the retention


TEAM_ACTIONS = frozenset({Action.READ, Action.RERUN, Action.SHARE})


class Owned(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def owner(self) -> str | None: ...

    @property
    def team(self) -> str | None: ...


def permits(caller: Caller, action: Action, analysis: Owned) -> bool:
    """Whether `caller` may do `action` with `analysis`."""
    if caller.share_of is not None:
        return action is Action.READ and analysis.id == caller.share_of
    if caller.admin:
        return True
    if caller.name is not None and analysis.owner == caller.name:
        return True
    return caller.team is not None and analysis.team == caller.team and action in TEAM_ACTIONS


def visible(caller: Caller) -> ColumnElement[bool]:
    """The SQL condition for the analyses `caller` may read (the READ rule of `permits`)."""
    if caller.share_of is not None:
        return Analysis.id == caller.share_of
    if caller.admin:
        return true()
    conditions = []
    if caller.name is not None:
        conditions.append(Analysis.owner == caller.name)
    if caller.team is not None:
        conditions.append(Analysis.team == caller.team)
    return or_(*conditions) if conditions else false()
