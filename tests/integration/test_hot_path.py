"""The queries made fast for scale and the hot write path, against the real database."""

from __future__ import annotations

import pytest
from sqlalchemy import column, select, table
from sqlalchemy.exc import OperationalError, ProgrammingError

from aqb_workflow.bootstrap import App
from aqb_workflow.store import tables as t
from aqb_workflow.store.direct import Direct
from aqb_workflow.store.queries import distinct_states
from aqb_workflow.store.unit_of_work import HEAD, LOAD
from tests.paths import bring_to


def test_states_in_use_are_exactly_the_states_agreements_are_in(app: App) -> None:
    with app.db.read() as conn:
        assert distinct_states(conn) == set()
    bring_to(app, "closed", "giessen")
    bring_to(app, "notice_issued", "kassel-stadt")
    bring_to(app, "notice_issued", "fulda")
    bring_to(app, "drafted", "giessen", 2025)
    bring_to(app, "withdrawn", "fulda", 2025)
    with app.db.read() as conn:
        assert distinct_states(conn) == {"closed", "notice_issued", "drafted", "withdrawn"}
        # the same answer as the plain DISTINCT it replaces
        plain = {row[0] for row in conn.execute(select(t.agreement.c.state).distinct())}
        assert distinct_states(conn) == plain


def test_a_direct_statement_reads_what_sqlalchemy_reads(app: App) -> None:
    key = bring_to(app, "signed_by_ministry")
    with app.db.read() as conn:
        row = LOAD.first(conn, {"key": key})
        via_core = conn.execute(select(t.agreement).where(t.agreement.c.key == key)).mappings()
        assert row == dict(via_core.one())
        assert LOAD.first(conn, {"key": "2024-nowhere"}) is None
        head = HEAD.first(conn)
        assert head is not None and head["seq"] >= 2


def test_a_driver_error_in_a_direct_statement_is_raised_as_sqlalchemys(app: App) -> None:
    """So ``translate_errors`` turns it into one clear line, as for every other statement."""
    ghost = table("agreement", column("no_such_column"))
    with app.db.read() as conn, pytest.raises((OperationalError, ProgrammingError)):
        Direct(select(ghost.c.no_such_column)).first(conn)
