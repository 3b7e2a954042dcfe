"""The one policy: who may do what with which analysis, and the SQL that lists the same."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from app.auth.identity import LOCAL_USER, Caller, share_visitor
from app.auth.policy import Action, permits, visible
from app.config import Settings
from app.models import Analysis
from tests.access.accounts import database, set_analysis
from tests.web.conftest import add_analysis


@dataclass
class Doc:
    id: str
    owner: str | None
    team: str | None


ALICE = Caller(name="alice", team="a")
BOB = Caller(name="bob", team="a")
CAROL = Caller(name="carol", team="b")
LONER = Caller(name="dave", team=None)
ROOT = Caller(name="root", admin=True)
ALICES = Doc("x1", "alice", "a")


@pytest.mark.parametrize("action", list(Action))
def test_the_owner_and_admins_may_do_everything(action: Action) -> None:
    assert permits(ALICE, action, ALICES)
    assert permits(ROOT, action, ALICES)
    assert permits(LOCAL_USER, action, ALICES)


def test_team_members_read_rerun_and_share_but_do_not_delete() -> None:
    allowed = {a for a in Action if permits(BOB, a, ALICES)}
    assert allowed == {Action.READ, Action.RERUN, Action.SHARE}


@pytest.mark.parametrize("caller", [CAROL, LONER, Caller(name=None)])
def test_outsiders_may_do_nothing(caller: Caller) -> None:
    assert not any(permits(caller, action, ALICES) for action in Action)


def test_no_team_matches_no_team() -> None:
    teamless = Doc("x2", "erin", None)
    assert not permits(LONER, Action.READ, teamless)
    assert not any(permits(CAROL, a, Doc("x3", "erin", None)) for a in Action)


def test_a_share_visitor_reads_its_one_analysis_and_nothing_else() -> None:
    visitor = share_visitor("x1")
    assert permits(visitor, Action.READ, ALICES)
    assert not any(permits(visitor, a, ALICES) for a in Action if a is not Action.READ)
    assert not permits(visitor, Action.READ, Doc("x9", "alice", "a"))


def test_a_share_visitor_is_never_mistaken_for_a_user_of_the_same_name() -> None:
    impostor = Caller(name="alice", team="a", admin=True, share_of="x9", via="share")
    assert not permits(impostor, Action.READ, ALICES)


def test_the_sql_lists_exactly_what_permits_lets_read(migrated: Settings) -> None:
    owners = [("alice", "a"), ("bob", "a"), ("carol", "b"), ("erin", None), (None, None)]
    ids = []
    for owner, team in owners:
        analysis_id = add_analysis(migrated)
        set_analysis(migrated, analysis_id, owner=owner, team=team)
        ids.append(analysis_id)
    callers = [ALICE, BOB, CAROL, LONER, ROOT, LOCAL_USER, share_visitor(ids[2])]
    with database(migrated) as session:
        rows = list(session.scalars(select(Analysis)))
        for caller in callers:
            listed = set(session.scalars(select(Analysis.id).where(visible(caller))))
            assert listed == {r.id for r in rows if permits(caller, Action.READ, r)}, caller
