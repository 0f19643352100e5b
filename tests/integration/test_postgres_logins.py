"""On PostgreSQL the actor is the database login, and staff logins cannot rewrite history."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from tests.conftest import run_cli
from tests.paths import bring_to

pytestmark = pytest.mark.postgresql_only

STAFF = {"giessen": "district:giessen", "hmsi_aqb": "ministry"}


def as_login(workspace, login):
    return workspace.url.replace("://postgres@", f"://{login}@")


@pytest.fixture
def staff(workspace):
    for login in STAFF:
        # what the README tells the deploying admin to run for each member of staff
        workspace.sql(
            f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{login}') "
            f"THEN CREATE ROLE {login} LOGIN IN ROLE aqb_users; END IF; END $$"
        )
    text_ = workspace.config.read_text(encoding="utf-8")
    users = "".join(f'{login} = "{role}"\n' for login, role in STAFF.items() if login != "giessen")
    workspace.config.write_text(text_.replace("[users]\n", "[users]\n" + users), "utf-8")
    return workspace


def test_the_database_login_is_the_actor_and_scopes_what_it_sees(app, staff):
    bring_to(app, "signed_by_ministry")
    bring_to(app, "signed_by_ministry", district="wetterau")
    giessen = {"AQB_DATABASE_URL": as_login(staff, "giessen")}
    listed = json.loads(run_cli(staff, "list --json", actor=None, env=giessen).stdout)
    assert [r["key"] for r in listed] == ["2024-giessen"]
    run_cli(
        staff,
        "transition 2024-giessen sign_district on=2024-07-10 by=S place=Gießen",
        actor=None,
        env=giessen,
    )
    run_cli(
        staff,
        "transition 2024-wetterau sign_district on=2024-07-10 by=S place=F",
        actor=None,
        env=giessen,
        expect=1,
    )
    refused = run_cli(
        staff,
        "transition 2024-giessen issue_notice on=2024-08-01 ref=X",
        actor="hmsi_aqb",
        env=giessen,
        expect=1,
    )
    assert "giessen is not an admin" in refused.stderr
    history = json.loads(run_cli(staff, "history 2024-giessen --json", actor=None).stdout)
    assert history[-1]["actor"] == "giessen" and history[-1]["role"] == "district:giessen"
    run_cli(staff, "audit verify", actor=None, env=giessen)


def test_staff_logins_cannot_change_or_delete_audit_events_or_the_schema(app, staff):
    bring_to(app, "drafted")
    engine = create_engine(as_login(staff, "hmsi_aqb"))
    try:
        for statement in (
            "UPDATE audit_event SET actor = 'someone else'",
            "DELETE FROM audit_event",
            "CREATE TABLE shadow (x int)",
            "DROP TABLE agreement",
        ):
            with (
                engine.connect() as conn,
                pytest.raises(ProgrammingError, match=r"denied|must be owner"),
            ):
                conn.execute(text(statement))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM audit_event")).scalar() == 1
    finally:
        engine.dispose()
