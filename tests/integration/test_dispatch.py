"""One dispatch pass against a real SMTP server: delivered, retried, failed, escalated."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from aqb_workflow import services
from aqb_workflow.bootstrap import bootstrap
from aqb_workflow.config import load_settings
from aqb_workflow.mail.backends import backend_from_settings
from aqb_workflow.scheduler.dispatch import run_pass
from aqb_workflow.store import outbox, queries
from aqb_workflow.store.migrate import upgrade
from aqb_workflow.testing import FixedClock
from aqb_workflow.verify import verify
from tests.conftest import MINISTRY, make_workspace


@pytest.fixture
def site(tmp_path, server):
    ws = make_workspace(tmp_path / "site", mail=server.config())
    clock = FixedClock(datetime(2024, 7, 2, 9, 0, tzinfo=UTC))
    app = bootstrap(load_settings(ws.config), clock=clock)
    upgrade(app.db)
    yield app, clock, server
    app.db.dispose()


def contacts(app, district=True, desk=True):
    if district:
        services.add_contact(
            app, MINISTRY, "giessen", "district", "Petra Muster", "pm@lkgi.example"
        )
    if desk:
        services.add_contact(
            app, MINISTRY, None, "ministry_desk", "AQB-Referat", "aqb@hmsi.example"
        )


def signed_by_ministry(app):
    key = services.create(app, MINISTRY, "giessen", 2024, "1.266.800")
    services.fire(app, MINISTRY, key, "sign_ministry", {"on": "2024-07-01", "by": "Heike Hofmann"})
    return key


def rows(app, **kw):
    with app.db.read() as conn:
        return outbox.listing(conn, **kw)


def send(app):
    return run_pass(app, backend_from_settings(app.settings), worker="test")


def test_due_reminder_arrives_in_german_with_both_parts_and_is_audited(site):
    app, clock, server = site
    contacts(app)
    key = signed_by_ministry(app)
    assert send(app).sent == 0  # nothing due on 2 July
    clock.set(datetime(2024, 7, 15, 6, 30, tzinfo=UTC))  # 14 days after signing, 08:30 Berlin
    result = send(app)
    assert (result.sent, result.failed) == (1, 0)
    [mail] = server.inbox.messages
    assert mail["To"] == "pm@lkgi.example"
    assert "Landkreis Gießen" in mail["Subject"]
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "1.266.800,00 €" in text and "1. Juli 2024" in text
    # the district signs in the real world: what to send to whom by when, and whom to ask
    assert "aqb " not in text and "aqb " not in html
    assert "bis zum 22. Juli 2024 an das AQB-Referat" in " ".join(text.split())
    assert "AQB-Referat" in text and "aqb@hmsi.example" in text
    assert "verspätet" not in text
    assert "Landkreis Gießen" in html
    [sent] = rows(app, status=["sent"])
    assert sent["message_id"] == mail["Message-ID"]
    with app.db.read() as conn:
        event = queries.history(conn, key)[-1]
    assert event.event == "reminder_sent"
    assert json.loads(event.payload)["to"] == ["pm@lkgi.example"]
    verify(app)


def test_missed_reminders_go_out_on_the_next_pass_marked_late(site):
    """After weeks of downtime a series sends only its latest due reminder, marked late and
    worded as the reader's first; its escalation waits its own 21 days after it."""
    app, clock, server = site
    contacts(app)
    signed_by_ministry(app)
    clock.set(datetime(2024, 9, 1, 9, 0, tzinfo=UTC))  # the daemon was down for weeks
    result = send(app)
    assert (result.sent, result.superseded, result.held) == (1, 2, 1)
    [mail] = server.inbox.messages
    assert "verspätet" in mail.get_body(("plain",)).get_content()
    assert "Erinnerung)" not in mail["Subject"]  # not "(3. Erinnerung)"
    assert all(r["late"] for r in rows(app, status=["sent"]))
    assert send(app).sent == 0


def test_temporary_failures_back_off_then_deliver(site):
    app, clock, server = site
    contacts(app)
    signed_by_ministry(app)
    clock.set(datetime(2024, 7, 15, 7, 0, tzinfo=UTC))
    server.inbox.reply = "451 4.3.0 Mailbox busy, try later"
    assert send(app).retried == 1
    [row] = rows(app, status=["pending"], due_before=clock.now() + timedelta(days=1))
    assert row["attempts"] == 1 and "451" in row["last_error"]
    assert row["next_attempt_at"].startswith("2024-07-15T07:01")
    clock.advance(minutes=1)
    assert send(app).retried == 1
    [row] = rows(app, status=["pending"], due_before=clock.now() + timedelta(days=1))
    assert row["next_attempt_at"].startswith("2024-07-15T07:06")  # then 5 minutes
    server.inbox.reply = None
    assert send(app).sent == 0  # not before its time
    clock.advance(minutes=5)
    assert send(app).sent == 1
    assert len(server.inbox.messages) == 1


def test_permanent_failure_fails_at_once_and_tells_the_ministry_desk(site, tmp_path):
    app, clock, server = site
    contacts(app)
    key = signed_by_ministry(app)
    clock.set(datetime(2024, 7, 15, 7, 0, tzinfo=UTC))
    server.inbox.reply = "550 5.1.1 mailbox unknown"
    result = send(app)
    assert result.failed >= 1
    failed = rows(app, status=["failed"])
    assert failed[0]["kind"] == "district_signature_pending" and "550" in failed[0]["last_error"]
    with app.db.read() as conn:
        assert "reminder_failed" in [e.event for e in queries.history(conn, key)]
    # the escalation to the desk was refused as well; it is failed, not escalated again
    assert sorted(r["kind"] for r in failed) == ["delivery_failed", "district_signature_pending"]
    assert send(app).sent + send(app).failed == 0
    server.inbox.reply = None
    escalation = next(r for r in failed if r["kind"] == "delivery_failed")
    services.retry_reminder(app, MINISTRY, escalation["id"])
    assert send(app).sent == 1
    [mail] = server.inbox.messages
    assert mail["To"] == "aqb@hmsi.example"
    assert "aqb reminders retry" in mail.get_body(("plain",)).get_content()
    verify(app)


def test_server_down_for_days_gives_up_after_the_horizon(site):
    app, clock, server = site
    contacts(app)
    signed_by_ministry(app)
    server.stop()
    clock.set(datetime(2024, 7, 15, 7, 0, tzinfo=UTC))
    assert send(app).retried == 1
    for _ in range(200):
        clock.advance(hours=1)
        if send(app).failed:
            break
    [failed] = [
        r for r in rows(app, status=["failed"]) if r["kind"] == "district_signature_pending"
    ]
    assert "gave up" in failed["last_error"]
    assert clock.now() - datetime(2024, 7, 15, 6, 0, tzinfo=UTC) <= timedelta(hours=73)
    assert rows(app, status=["pending"], agreement="2024-giessen")[0]["kind"] in (
        "delivery_failed",
        "district_signature_pending",
        "district_signature_escalation",
    )


def test_missing_contact_fails_visibly_and_retry_delivers(site):
    app, clock, server = site
    contacts(app, district=False)
    signed_by_ministry(app)
    clock.set(datetime(2024, 7, 15, 7, 0, tzinfo=UTC))
    send(app)
    [failed] = [
        r for r in rows(app, status=["failed"]) if r["kind"] == "district_signature_pending"
    ]
    assert "no contact" in failed["last_error"]
    services.add_contact(app, MINISTRY, "giessen", "district", "Petra Muster", "pm@lkgi.example")
    services.retry_reminder(app, MINISTRY, failed["id"])
    send(app)
    assert "pm@lkgi.example" in [m["To"] for m in server.inbox.messages]
    assert not rows(app, status=["failed"], agreement="2024-giessen") or all(
        r["id"] != failed["id"] for r in rows(app, status=["failed"])
    )


def test_review_invitation_and_cancellation_update_the_same_calendar_entry(site):
    app, clock, server = site
    contacts(app)
    services.add_contact(app, MINISTRY, None, "participant", "Dr. Rita Rat", "rat@rp-ks.example")
    key = signed_by_ministry(app)
    clock.set(datetime(2024, 7, 20, 9, 0, tzinfo=UTC))
    services.fire(
        app, MINISTRY, key, "sign_district", {"on": "2024-07-10", "by": "S", "place": "Gießen"}
    )
    services.fire(app, MINISTRY, key, "issue_notice", {"on": "2024-07-15", "ref": "AZ"})
    clock.set(datetime(2024, 9, 20, 9, 0, tzinfo=UTC))
    services.fire(
        app, MINISTRY, key, "schedule_review", {"at": "2024-10-15 10:00", "location": "Kreishaus"}
    )
    clock.set(datetime(2024, 10, 1, 7, 0, tzinfo=UTC))  # 14 days before
    assert send(app).sent == 1
    # one reminder, a copy per reader group: the participants' without a command, the desk's
    invite, desk_copy = server.inbox.messages
    assert set(invite["To"].split(", ")) == {"pm@lkgi.example", "rat@rp-ks.example"}
    assert desk_copy["To"] == "aqb@hmsi.example"
    assert "aqb " not in invite.get_body(("plain",)).get_content()
    assert "aqb transition 2024-giessen close" in desk_copy.get_body(("plain",)).get_content()
    assert invite["Message-ID"] != desk_copy["Message-ID"]
    request = Calendar.from_ical(
        next(p for p in invite.walk() if p.get_content_type() == "text/calendar").get_payload(
            decode=True
        )
    )
    [event] = request.walk("VEVENT")
    assert str(request["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == "aqb-review-2024-giessen@aqb-workflow"
    assert event.decoded("DTSTART").astimezone(UTC) == datetime(2024, 10, 15, 8, 0, tzinfo=UTC)
    attendees = {str(a).removeprefix("mailto:").lower() for a in event.get("ATTENDEE")}
    assert attendees == {"pm@lkgi.example", "rat@rp-ks.example", "aqb@hmsi.example"}
    clock.advance(days=1)
    services.fire(app, MINISTRY, key, "withdraw", {"reason": "Test"})
    assert send(app).sent == 1
    cancel_mail = server.inbox.messages[-1]
    cancel = Calendar.from_ical(
        next(p for p in cancel_mail.walk() if p.get_content_type() == "text/calendar").get_payload(
            decode=True
        )
    )
    [cancelled] = cancel.walk("VEVENT")
    assert str(cancel["METHOD"]) == "CANCEL"
    assert str(cancelled["UID"]) == str(event["UID"])
    assert int(cancelled["SEQUENCE"]) > int(event["SEQUENCE"])
