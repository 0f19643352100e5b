"""G4 and G5: the daemon killed with SIGKILL at fixed points and at random times.

Whatever the kill, afterwards (one clean pass later) every planned reminder has been received
at least once, duplicates are bounded by the kills and always carry the same Message-ID, no
reminder is left pending or in flight, the audit chain verifies and SQLite is intact.

A killed sender leaves its row ``sending`` under a lease of five minutes (dispatch.LEASE). A
restarted daemon can prove the killed one gone (on SQLite it holds the single-daemon lock; on
PostgreSQL the dead process was on this host) and takes such a row back at once (G11). The
clean pass that ends each test runs in-process with a FixedClock six minutes after the real
now, where any lease has run out: exactly what any daemon's tick would do six minutes later.

The escalations these agreements plan are held back by the dispatcher (21 days after the
first reminder of their series): they stay pending and are not part of what is checked.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aqb_workflow import services
from aqb_workflow.bootstrap import App, bootstrap
from aqb_workflow.config import load_settings
from aqb_workflow.domain.formats import format_utc
from aqb_workflow.mail.backends import backend_from_settings
from aqb_workflow.scheduler.dispatch import run_pass
from aqb_workflow.store.migrate import upgrade
from aqb_workflow.testing import FixedClock
from tests.conftest import MINISTRY, Workspace, make_workspace, run_cli
from tests.daemon_helpers import (
    ESCALATION,
    daemon,
    daemon_log,
    database_url,
    engine_of,
    held_back,
    wait_for,
)
from tests.paths import bring_to
from tests.smtp_server import SmtpServer

PLANNED_AT = datetime(2024, 11, 20, 9, 0, tzinfo=UTC)
FAULTS = ["after_claim", "after_send", "in_mark_sent"]
SEEDS = [7, 1913, 20241120]
KILLS = 6


# -- helpers (kept local: each chaos file stands on its own) -----------------------------


def plan(ws: Workspace, districts: dict[str, range]) -> set[int]:
    """Agreements signed by the ministry on 1 July 2024, not countersigned: two overdue
    reminders each (district_signature_pending, district_signature_escalation), of which a
    pass sends the first and holds the escalation back."""
    app = bootstrap(load_settings(ws.config), clock=FixedClock(PLANNED_AT))
    try:
        upgrade(app.db)
        services.add_contact(app, MINISTRY, None, "ministry_desk", "AQB-Referat", "d@hmsi.ex")
        for district, years in districts.items():
            services.add_contact(app, MINISTRY, district, "district", "AQB", f"aqb@{district}.ex")
            for year in years:
                bring_to(app, "signed_by_ministry", district, year)
    finally:
        app.db.dispose()
    now = format_utc(datetime.now(UTC))
    overdue = [r for r in rows_of(ws) if r["status"] == "pending" and r["due_at"] <= now]
    assert len(overdue) == 2 * sum(len(years) for years in districts.values())
    return {r["id"] for r in overdue if r["kind"] != ESCALATION}


def query(ws: Workspace, statement: str) -> list[dict[str, Any]]:
    """Read behind aqb's back, on whichever database the workspace uses."""
    with engine_of(ws).connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(statement)).mappings()]


def rows_of(ws: Workspace) -> list[dict[str, Any]]:
    return query(ws, "SELECT * FROM reminder ORDER BY id")


def started(ws: Workspace, proc: subprocess.Popen[bytes]) -> bool:
    """The daemon wrote its heartbeat: it is about to run (or runs) its first pass."""
    try:
        beat = json.loads((ws.root / "aqb-daemon.heartbeat").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return bool(beat.get("pid") == proc.pid)


def clean_pass(ws: Workspace) -> None:
    """One pass after every lease has run out (see the module docstring)."""
    clock = FixedClock(datetime.now(UTC) + timedelta(minutes=6))
    app: App = bootstrap(load_settings(ws.config), clock=clock)
    try:
        outcome = run_pass(app, backend_from_settings(app.settings), worker="test")
    finally:
        app.db.dispose()
    assert outcome.failed == 0 and outcome.retried == 0, outcome


def check(ws: Workspace, server: SmtpServer, planned: set[int], kills: int) -> None:
    """The common end of every chaos test (RELIABILITY.md, 'How the chaos tests end')."""
    rows = {r["id"]: r for r in rows_of(ws)}
    received = Counter(server.inbox.message_ids())
    log = daemon_log(ws)
    for rid in planned:
        row = rows[rid]
        assert row["status"] == "sent", (row, log)
        assert received[row["message_id"]] >= 1, (row, log)  # G4: nothing lost
    left = [r for r in rows.values() if r["status"] in ("pending", "sending", "failed")]
    assert all(held_back(r) for r in left), left
    sent_ids = {r["message_id"] for r in rows.values() if r["status"] == "sent"}
    assert set(received) == sent_ids  # what the server has is exactly what the rows say
    duplicates = sum(n - 1 for n in received.values())
    assert duplicates <= kills, (received, log)  # G5: at most one per kill
    if database_url(ws).startswith("sqlite"):
        (verdict,) = query(ws, "PRAGMA integrity_check")
        assert list(verdict.values()) == ["ok"]
    events = query(ws, "SELECT payload FROM audit_event WHERE event = 'reminder_sent'")
    audited = Counter(json.loads(e["payload"])["reminder"] for e in events)
    assert all(audited[rid] == 1 for rid in planned), audited  # sent is recorded once
    verified = run_cli(ws, "audit verify", actor=None)
    for line in verified.stderr.splitlines():
        assert "one event behind" in line, verified.stderr  # the only tolerated warning


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    smtp = SmtpServer().start()
    try:
        yield smtp
    finally:
        smtp.stop()


@pytest.fixture
def site(tmp_path: Path, server: SmtpServer) -> Workspace:
    return make_workspace(tmp_path / "site", mail=server.config())


# -- the tests ------------------------------------------------------------------------------


@pytest.mark.parametrize("point", FAULTS)
def test_kill_at_a_fixed_point_then_resume(point, site, server):
    planned = plan(site, {"giessen": range(2001, 2007)})
    assert len(planned) == 6

    with daemon(site, AQB_FAULT=point) as proc:
        assert proc.wait(timeout=30) == -signal.SIGKILL, daemon_log(site)
    # the first message: claimed, and (after_send, in_mark_sent) accepted by the server
    assert len(server.inbox.messages) == (0 if point == "after_claim" else 1)
    stranded = [r for r in rows_of(site) if r["status"] == "sending"]
    assert len(stranded) == 1 and stranded[0]["attempts"] == 1, stranded
    if server.inbox.messages:
        assert server.inbox.message_ids() == [stranded[0]["message_id"]]

    # a restarted daemon proves the killed one gone and sends everything on its first pass,
    # the orphaned claim included, without waiting for the five-minute lease (G11)
    with daemon(site) as proc:
        wait_for(
            "every reminder sent",
            lambda: {r["status"] for r in rows_of(site) if r["id"] in planned} == {"sent"},
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, daemon_log(site)
    assert "took back 1 reminder(s)" in daemon_log(site)
    (last,) = [r for r in rows_of(site) if r["id"] == stranded[0]["id"]]
    assert last["status"] == "sent" and last["attempts"] == 2

    clean_pass(site)
    received = Counter(server.inbox.message_ids())
    assert received[last["message_id"]] == (1 if point == "after_claim" else 2)
    check(site, server, planned, kills=1)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS, ids=[f"seed={s}" for s in SEEDS])
def test_random_sigkills_lose_nothing(seed, site, server):
    """Six SIGKILLs at a random moment 0–0.4 s after the daemon wrote its heartbeat (its
    first pass starts right then; Python's start-up before it is not worth killing), each
    with the rows the previous ones left behind; then one clean pass."""
    rng = random.Random(seed)
    planned = plan(site, {"giessen": range(2001, 2011), "wetterau": range(2001, 2011)})
    kills = 0
    for _ in range(KILLS):
        with daemon(site) as proc:
            wait_for("the daemon's heartbeat", lambda: started(site, proc))
            time.sleep(rng.uniform(0, 0.4))
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=10) == -signal.SIGKILL
            kills += 1
    stranded = [r for r in rows_of(site) if r["status"] == "sending"]
    assert len(stranded) <= kills

    clean_pass(site)
    check(site, server, planned, kills=kills)
