"""``aqb daemon`` as a real process against a real SMTP server (RELIABILITY.md G4, G10).

Each test builds its own installation, plans reminders with services (steps recorded late, so
the planner keeps reminders that are already overdue), starts ``python -m aqb_workflow daemon``
and watches what arrives at an aiosmtpd server on 127.0.0.1. The daemon uses the real clock;
every wait polls against a deadline, and every daemon is killed in a ``finally``.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from aiosmtpd.smtp import Envelope
from icalendar import Calendar

from aqb_workflow import services
from aqb_workflow.bootstrap import App, bootstrap
from aqb_workflow.config import load_settings
from aqb_workflow.domain.formats import format_utc
from aqb_workflow.mail.backends import backend_from_settings
from aqb_workflow.scheduler.dispatch import run_pass
from aqb_workflow.store.migrate import upgrade
from aqb_workflow.testing import FixedClock
from tests.conftest import MINISTRY, Workspace, make_workspace, run_cli
from tests.daemon_helpers import ESCALATION, daemon, daemon_log, engine_of, held_back, wait_for
from tests.paths import bring_to
from tests.smtp_server import Inbox, SmtpServer

BERLIN = ZoneInfo("Europe/Berlin")
PLANNED_AT = datetime(2024, 11, 20, 9, 0, tzinfo=UTC)
DISTRICT_MAIL = "aqb@lkgi.example"
DESK_MAIL = "desk@hmsi.example"


# -- helpers ------------------------------------------------------------------------------


def open_app(ws: Workspace, at: datetime) -> App:
    return bootstrap(load_settings(ws.config), clock=FixedClock(at))


def install(ws: Workspace, at: datetime = PLANNED_AT) -> App:
    """Schema, a district contact for Gießen and the ministry desk; the caller disposes."""
    app = open_app(ws, at)
    upgrade(app.db)
    services.add_contact(app, MINISTRY, "giessen", "district", "Petra Muster", DISTRICT_MAIL)
    services.add_contact(app, MINISTRY, None, "ministry_desk", "AQB-Referat", DESK_MAIL)
    return app


def plan_overdue(app: App, years: range) -> list[str]:
    """Agreements signed by the ministry on 1 July 2024 and not countersigned: each one gets a
    district_signature_pending and a district_signature_escalation, both long overdue. The
    daemon sends the first and holds the escalation back for 21 days after it."""
    return [bring_to(app, "signed_by_ministry", "giessen", year) for year in years]


def reminders(ws: Workspace, *flags: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(
        run_cli(ws, ["reminders", "list", *flags, "--json"]).stdout
    )
    return found


def rows_of(ws: Workspace, agreement: str | None = None) -> list[dict[str, Any]]:
    """Every reminder row, read behind aqb's back (a CLI call costs a second here)."""
    with engine_of(ws).connect() as conn:
        found = conn.execute(sa.text("SELECT * FROM reminder ORDER BY id")).mappings().all()
    return [dict(r) for r in found if agreement in (None, r["agreement"])]


def due_now(ws: Workspace, escalations: bool = False) -> list[dict[str, Any]]:
    """Pending and due now; without ``escalations``, what a pass sends (not those it holds)."""
    now = format_utc(datetime.now(UTC))
    return [
        r
        for r in rows_of(ws)
        if r["status"] == "pending"
        and r["next_attempt_at"] <= now
        and (escalations or r["kind"] != ESCALATION)
    ]


def open_rows(ws: Workspace) -> list[dict[str, Any]]:
    """Open reminders other than escalations held back for weeks."""
    return [r for r in rows_of(ws) if r["status"] in ("pending", "sending") and not held_back(r)]


def statuses(ws: Workspace, ids: set[int]) -> set[str]:
    """The set of statuses of these reminders."""
    return {r["status"] for r in rows_of(ws) if r["id"] in ids}


def message_ids(server: SmtpServer) -> list[str]:
    return server.inbox.message_ids()


def heartbeat_of(ws: Workspace, proc: subprocess.Popen[bytes]) -> dict[str, Any] | None:
    """The heartbeat once ``proc`` has written it (it does so before its first pass)."""
    try:
        data = json.loads((ws.root / "aqb-daemon.heartbeat").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if data.get("pid") == proc.pid else None


def plain(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None, msg
    return str(body.get_content())


def addresses(msg: EmailMessage) -> set[str]:
    return {addr for _, addr in getaddresses([str(msg["To"])])}


def calendar_part(msg: EmailMessage) -> Calendar:
    parts = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, [p.get_content_type() for p in msg.walk()]
    payload = parts[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    return Calendar.from_ical(payload)


def sent_reminder(server: SmtpServer, reminder_id: int) -> EmailMessage | None:
    for msg in list(server.inbox.messages):
        if msg["X-AQB-Reminder"] == str(reminder_id):
            return msg
    return None


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


def test_daemon_sends_everything_due_reports_status_and_stops_on_sigterm(site, server):
    app = install(site)
    keys = plan_overdue(app, range(2001, 2008))
    app.db.dispose()
    assert len(due_now(site, escalations=True)) == 2 * len(keys) == 14
    due = due_now(site)
    assert len(due) == len(keys) == 7
    assert {r["kind"] for r in due} == {"district_signature_pending"}

    with daemon(site) as proc:
        wait_for("7 messages", lambda: len(server.inbox.messages) >= len(due))
        wanted = {r["id"] for r in due}
        wait_for("all rows sent", lambda: statuses(site, wanted) == {"sent"})
        wait_for("escalations held", lambda: len([r for r in rows_of(site) if held_back(r)]) == 7)
        status = run_cli(site, "daemon status", expect=0, actor=None)
        assert f"läuft (PID {proc.pid})" in status.stdout
        assert f"7 geplant, 0 im Versand, 0 fehlgeschlagen, {len(due)} versandt" in status.stdout

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=8) == 0, daemon_log(site)

    stopped = run_cli(site, "daemon status", expect=1, actor=None)
    assert "läuft nicht" in stopped.stdout
    assert "SIGTERM" in daemon_log(site)

    rows = {r["message_id"]: r for r in reminders(site, "--all")}
    received = message_ids(server)
    assert len(received) == len(set(received)) == len(due)  # each Message-ID once
    assert set(received) == {r["message_id"] for r in due}
    for msg in server.inbox.messages:
        row = rows[str(msg["Message-ID"])]
        assert row["status"] == "sent" and row["attempts"] == 1
        assert msg.get_content_type() == "multipart/alternative"
        kinds = [p.get_content_type() for p in msg.iter_parts()]
        assert kinds == ["text/plain", "text/html"]
        text = plain(msg)
        html_part = msg.get_body(("html",))
        assert html_part is not None
        html = str(html_part.get_content())
        for body in (text, html):
            assert "Landkreis Gießen" in body
            assert "1.266.800,00" in body and "€" in body
        assert "1.266.800,00 €" in text
        assert "1. Juli 2024" in text  # the ministry's signature, as a German date
        expected = DISTRICT_MAIL if row["kind"] == "district_signature_pending" else DESK_MAIL
        # the desk gets the command to run; the district, who acts on paper, never one
        assert (row["agreement"] in text) == (expected == DESK_MAIL)
        assert ("aqb " in text) == (expected == DESK_MAIL)
        assert row["sent_to"] == [expected]  # real JSON, not JSON in a string
        assert addresses(msg) == {expected}
    run_cli(site, "audit verify")


@pytest.mark.sqlite_only  # on PostgreSQL daemons share the work (tests/chaos/test_two_daemons.py)
def test_second_daemon_on_the_same_sqlite_database_refuses(site, server):
    app = install(site)
    app.db.dispose()
    with daemon(site) as first:
        wait_for("the first daemon's heartbeat", lambda: heartbeat_of(site, first))
        second = subprocess.run(
            [sys.executable, "-m", "aqb_workflow", "daemon"],
            env=site.env(actor=None),
            cwd=site.root,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert second.returncode == 1, (second.stdout, second.stderr)
        assert "another aqb daemon" in second.stderr
        assert str(first.pid) in second.stderr
        assert "Traceback" not in second.stderr
        assert first.poll() is None  # the first one is not disturbed
        assert heartbeat_of(site, first)  # still the first one's heartbeat
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=8) == 0


class SlowInbox(Inbox):
    """Takes ``delay`` seconds to answer DATA; ``receiving`` is set when a DATA begins."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.receiving = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.receiving.set()
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_server() -> Iterator[SmtpServer]:
    smtp = SmtpServer()
    smtp.inbox = SlowInbox(delay=1.0)
    smtp.start()
    try:
        yield smtp
    finally:
        smtp.stop()


def test_sigterm_during_a_slow_send_finishes_it_then_a_second_signal_exits_at_once(
    tmp_path, slow_server
):
    """G10: SIGTERM while the server is still chewing on a message: the daemon waits for the
    250, records the message ``sent``, takes no further one and exits 0. A restarted daemon
    resumes; a second signal during its slow send ends it at once."""
    inbox = slow_server.inbox
    assert isinstance(inbox, SlowInbox)
    ws = make_workspace(tmp_path / "site", mail=slow_server.config())
    app = install(ws)
    plan_overdue(app, range(2001, 2003))
    app.db.dispose()
    planned = {r["id"] for r in due_now(ws, escalations=True)}
    assert len(planned) == 4

    with daemon(ws) as proc:
        assert inbox.receiving.wait(timeout=20), daemon_log(ws)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0, daemon_log(ws)
    assert "finishing the message in flight" in daemon_log(ws)
    received = message_ids(slow_server)
    assert len(received) == 1  # the one in flight, and no further one
    rows = {r["message_id"]: r for r in rows_of(ws) if r["id"] in planned}
    assert rows[received[0]]["status"] == "sent"  # recorded before the exit
    assert sorted(r["status"] for r in rows.values()) == ["pending", "pending", "pending", "sent"]

    inbox.receiving.clear()
    with daemon(ws) as proc:
        assert inbox.receiving.wait(timeout=20), daemon_log(ws)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.1)
        began = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) != 0
        assert time.monotonic() - began < inbox.delay  # did not wait for the slow server
    assert "second signal" in daemon_log(ws)


def last_working_day_before_today(app: App) -> datetime:
    """09:00 local on the last working day before today (the real today, in Berlin)."""
    today = datetime.now(UTC).astimezone(BERLIN).date()
    day = app.calendar.previous_working_day(today)
    return datetime.combine(day, clock_time(9, 0), tzinfo=BERLIN)


def test_review_invite_and_its_cancellation_carry_one_uid(site, server):
    """A review 12 days after the last working day before today: its -14d invitation is
    already due, so the daemon sends it at once with a REQUEST; withdrawing the agreement
    plans a review_cancelled that goes out with a CANCEL for the same UID.

    The steps are recorded with a clock standing at 09:00 (then 12:00 for the withdrawal) on
    the last working day before the real today rather than at the real now: reminders never
    go out before 08:00 local nor on a day off, so a withdrawal recorded "now" could be due
    only tomorrow morning; one recorded on the previous working day is due for certain.
    """
    app = install(site)
    clock: FixedClock = app.clock  # type: ignore[assignment]
    start = last_working_day_before_today(app)
    clock.set(start)
    services.add_contact(app, MINISTRY, "giessen", "participant", "Anita Schneider", "ls@lkgi.ex")
    key = bring_to(app, "notice_issued", "giessen", 2024)
    review_day = start.date() + timedelta(days=12)
    services.fire(
        app,
        MINISTRY,
        key,
        "schedule_review",
        {"at": f"{review_day.isoformat()} 10:00", "location": "Kreishaus Gießen"},
    )
    upcoming = [r for r in due_now(site) if r["kind"] == "review_upcoming"]
    assert len(upcoming) == 1, rows_of(site)
    invite_row = upcoming[0]

    with daemon(site) as proc:
        invite = wait_for("the invitation", lambda: sent_reminder(server, invite_row["id"]))
        assert str(invite["Message-ID"]) == invite_row["message_id"]
        # the participants' copy; the desk's has its own Message-ID and the same invitation
        assert addresses(invite) == {"ls@lkgi.ex", DISTRICT_MAIL}
        assert "aqb " not in plain(invite)
        text = plain(invite)
        assert "Landkreis Gießen" in text and "Kreishaus Gießen" in text
        cal = calendar_part(invite)
        assert str(cal["METHOD"]) == "REQUEST"
        (event,) = cal.walk("VEVENT")
        uid = str(event["UID"])
        assert uid == f"aqb-review-{key}@aqb-workflow"
        dtstart: Any = event["DTSTART"]
        assert dtstart.params.get("TZID") == "Europe/Berlin"
        assert dtstart.dt.replace(tzinfo=None) == datetime.combine(review_day, clock_time(10))
        assert dtstart.dt.astimezone(BERLIN).hour == 10
        request_sequence = int(event.get("SEQUENCE", 0))

        clock.set(start + timedelta(hours=3))
        services.fire(app, MINISTRY, key, "withdraw", {"reason": "x"})
        cancelled_rows = [r for r in rows_of(site, key) if r["kind"] == "review_cancelled"]
        assert len(cancelled_rows) == 1
        cancel_row = cancelled_rows[0]
        cancel = wait_for("the cancellation", lambda: sent_reminder(server, cancel_row["id"]))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=8) == 0, daemon_log(site)
    app.db.dispose()

    cal = calendar_part(cancel)
    assert str(cal["METHOD"]) == "CANCEL"
    (event,) = cal.walk("VEVENT")
    assert str(event["UID"]) == uid
    assert int(event.get("SEQUENCE", 0)) >= request_sequence
    assert str(event.get("STATUS", "CANCELLED")) == "CANCELLED"
    assert "Landkreis Gießen" in plain(cancel)
    assert str(cancel["Message-ID"]) != str(invite["Message-ID"])
    after = {r["id"]: r for r in rows_of(site, key)}
    assert after[invite_row["id"]]["status"] == "sent"
    assert after[cancel_row["id"]]["status"] == "sent"
    assert not [r for r in after.values() if r["status"] in ("pending", "sending")]
    run_cli(site, "audit verify")


def test_smtp_server_down_at_start_loses_nothing(site, server):
    """The server is down when the daemon starts: every due reminder is tried once and stays
    pending with a retry planned and the error recorded. Once the server is back, one pass
    sends them all.

    The retry schedule is in minutes ([reminders] retry_minutes, first wait 1 minute), so the
    catch-up pass is not left to the real clock: it runs in-process (``run_pass`` with the
    configured SMTP backend) with a FixedClock standing 2 minutes after the real now, which
    is exactly what the daemon's next tick would do two minutes later.

    The reminders are planned with the real now (steps recorded late): they were created a
    moment ago although their due date lies in 2024, which is when the planner keeps them.
    """
    planned_at = datetime.now(UTC) - timedelta(minutes=1)
    app = install(site, at=planned_at)
    plan_overdue(app, range(2001, 2006))
    app.db.dispose()
    due = due_now(site)
    assert len(due) == 5
    port = server.port
    server.stop()

    result = subprocess.run(
        [sys.executable, "-m", "aqb_workflow", "daemon", "--once"],
        env=site.env(actor=None),
        cwd=site.root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    after = {r["id"]: r for r in reminders(site, "--all")}  # as staff would look
    assert {after[r["id"]]["message_id"] for r in due} == {r["message_id"] for r in due}
    for row in (after[r["id"]] for r in due):
        assert row["status"] == "pending", row  # retry scheduled, not given up, not lost
        assert row["attempts"] >= 1, row
        assert row["last_error"], row
        assert row["next_attempt_at"] > datetime.now(UTC).isoformat(), row
    assert not [r for r in rows_of(site) if r["status"] == "failed"]
    status = json.loads(run_cli(site, "daemon status --json", expect=1, actor=None).stdout)
    # the escalations are held back for weeks; the others are due and undelivered, but
    # planned a minute ago: not yet overdue beyond the grace of 30 minutes
    assert status["pending"] == 2 * len(due) and status["failed"] == 0
    assert status["due"] == len(due) and status["overdue"] == 0

    back = SmtpServer(port=port).start()
    try:
        later = open_app(site, datetime.now(UTC) + timedelta(minutes=2))
        try:
            outcome = run_pass(later, backend_from_settings(later.settings), worker="test")
        finally:
            later.db.dispose()
        assert (outcome.sent, outcome.retried, outcome.failed) == (len(due), 0, 0)
        received = back.inbox.message_ids()
    finally:
        back.stop()
    assert sorted(received) == sorted(r["message_id"] for r in due)
    final = {r["id"]: r for r in rows_of(site)}
    for row in due:
        assert final[row["id"]]["status"] == "sent" and final[row["id"]]["attempts"] == 2, row
    assert not open_rows(site)  # nothing open but the escalations held back
    run_cli(site, "audit verify")


def test_daemon_once_with_the_file_backend_writes_eml_files(tmp_path):
    """What ``make demo`` shows: no mail server, the default file backend writes .eml files."""
    ws = make_workspace(tmp_path / "site")
    app = install(ws)
    plan_overdue(app, range(2001, 2003))
    app.db.dispose()
    due = due_now(ws)
    assert len(due) == 2

    run_cli(ws, "daemon --once", actor=None)

    files = sorted((ws.root / "outbox").glob("*.eml"))
    assert len(files) == len(due)
    parsed = [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]
    assert sorted(str(m["Message-ID"]) for m in parsed) == sorted(r["message_id"] for r in due)
    for msg in parsed:
        assert isinstance(msg, EmailMessage)
        text = plain(msg)
        assert "Landkreis Gießen" in text
        assert "1.266.800,00 €" in text
        assert "1. Juli 2024" in text
        assert msg["From"] and msg["To"] and msg["Subject"]
    assert not open_rows(ws)  # nothing open: all sent, the escalations held back
    beat = json.loads((ws.root / "aqb-daemon.heartbeat").read_text("utf-8"))
    assert beat["state"] == "stopped" and beat["passes"] == 1
    run_cli(ws, "daemon status", expect=1, actor=None)  # a single pass is not a running daemon
    run_cli(ws, "audit verify")
