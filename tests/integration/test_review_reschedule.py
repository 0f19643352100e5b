"""A rescheduled review, through the real outbox and a real SMTP server: after the invitation
went out, the next pass announces the change (same UID, higher SEQUENCE, old and new date);
before it went out, only the invitation carries the new date; withdrawing still cancels."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from aqb_workflow import services
from aqb_workflow.bootstrap import bootstrap
from aqb_workflow.config import load_settings
from aqb_workflow.mail.backends import backend_from_settings
from aqb_workflow.scheduler.dispatch import run_pass
from aqb_workflow.store import outbox
from aqb_workflow.store.migrate import upgrade
from aqb_workflow.testing import FixedClock
from aqb_workflow.verify import verify
from tests.conftest import GIESSEN, MINISTRY, RP, make_workspace
from tests.smtp_server import SmtpServer

UID = "aqb-review-2024-giessen@aqb-workflow"
PARTICIPANTS = {"pm@lkgi.example", "rat@rp-ks.example"}
DESK = "aqb@hmsi.example"


@pytest.fixture
def site(tmp_path):
    server = SmtpServer().start()
    ws = make_workspace(tmp_path / "site", mail=server.config())
    clock = FixedClock(datetime(2024, 7, 20, 9, 0, tzinfo=UTC))
    app = bootstrap(load_settings(ws.config), clock=clock)
    upgrade(app.db)
    services.add_contact(app, MINISTRY, "giessen", "district", "Petra Muster", "pm@lkgi.example")
    services.add_contact(app, MINISTRY, None, "ministry_desk", "Heike Referat", DESK)
    services.add_contact(app, MINISTRY, None, "participant", "Dr. Rita Rat", "rat@rp-ks.example")
    yield app, clock, server
    app.db.dispose()
    server.stop()


def scheduled(app, clock, at="15.10.2024 10:00"):
    """Signed, notice issued, review scheduled on 20 September 2024."""
    key = services.create(app, MINISTRY, "giessen", 2024, "1.266.800")
    services.fire(app, MINISTRY, key, "sign_ministry", {"on": "2024-07-01", "by": "Hofmann"})
    sign = {"on": "2024-07-10", "by": "Schneider", "place": "Gießen"}
    services.fire(app, GIESSEN, key, "sign_district", sign)
    services.fire(app, RP, key, "issue_notice", {"on": "2024-07-15", "ref": "RPKS 57"})
    clock.set(datetime(2024, 9, 20, 9, 0, tzinfo=UTC))
    services.fire(app, MINISTRY, key, "schedule_review", {"at": at, "location": "Kreishaus"})
    return key


def send(app, server):
    """One pass; the messages it delivered."""
    before = len(server.inbox.messages)
    run_pass(app, backend_from_settings(app.settings), worker="test")
    return server.inbox.messages[before:]


def event_of(mail):
    part = next(p for p in mail.walk() if p.get_content_type() == "text/calendar")
    cal = Calendar.from_ical(part.get_payload(decode=True))
    [event] = cal.walk("VEVENT")
    return str(cal["METHOD"]), str(event["UID"]), int(event["SEQUENCE"]), event


def text(mail):
    return " ".join(mail.get_body(("plain",)).get_content().split())


def split(mails):
    """The participants' copy and the desk's copy of one reminder."""
    [outside] = [m for m in mails if set(m["To"].split(", ")) == PARTICIPANTS]
    [desk] = [m for m in mails if m["To"] == DESK]
    return outside, desk


def test_a_move_after_the_invitation_is_announced_as_a_change_at_once(site):
    app, clock, server = site
    key = scheduled(app, clock)
    clock.set(datetime(2024, 10, 1, 7, 0, tzinfo=UTC))  # 14 days before 15 October
    invitation, _ = split(send(app, server))
    assert (
        "Einladung zur Umsetzungsbesprechung am 15. Oktober 2024, 10:00 Uhr"
        in (invitation["Subject"])
    )
    method, uid, first_sequence, _ = event_of(invitation)
    assert (method, uid) == ("REQUEST", UID)

    clock.set(datetime(2024, 10, 2, 12, 0, tzinfo=UTC))
    services.fire(app, MINISTRY, key, "reschedule_review", {"at": "12.11.2024 14:00"})
    outside, desk = split(send(app, server))  # the very next pass, not at 08:00 tomorrow
    for mail in (outside, desk):
        assert mail["Subject"] == (
            "Terminänderung: Umsetzungsbesprechung AQB 2024 – Landkreis Gießen verlegt auf "
            "12. November 2024, 14:00 Uhr"
        )
        body = text(mail)
        assert "Neuer Termin: 12. November 2024, 14:00 Uhr" in body
        assert "Bisheriger Termin: 15. Oktober 2024, 10:00 Uhr (entfällt)" in body
        method, uid, sequence, event = event_of(mail)
        assert (method, uid) == ("REQUEST", UID)
        assert sequence > first_sequence
        assert event.decoded("DTSTART").astimezone(UTC) == datetime(2024, 11, 12, 13, 0, tzinfo=UTC)
    assert "aqb " not in text(outside) and "Heike Referat" in text(outside)
    assert "aqb transition 2024-giessen close" in text(desk)
    assert send(app, server) == []  # announced once

    # 14 days before the new date: a reminder of the new date, not a second invitation
    clock.set(datetime(2024, 10, 29, 7, 0, tzinfo=UTC))
    reminder, _ = split(send(app, server))
    assert (
        "Erinnerung an die Umsetzungsbesprechung am 12. November 2024, 14:00 Uhr"
        in (reminder["Subject"])
    )
    assert event_of(reminder)[2] > first_sequence
    verify(app)


def test_a_move_to_a_nearer_date_sends_the_change_only(site):
    app, clock, server = site
    key = scheduled(app, clock, at="22.10.2024 10:00")
    clock.set(datetime(2024, 10, 8, 7, 0, tzinfo=UTC))  # 14 days before 22 October
    split(send(app, server))
    clock.set(datetime(2024, 10, 9, 8, 0, tzinfo=UTC))
    # the invitation for 17 October would have been due on 3 October: it is not sent now
    services.fire(app, MINISTRY, key, "reschedule_review", {"at": "17.10.2024 09:00"})
    mails = send(app, server)
    assert len(mails) == 2
    assert all(m["Subject"].startswith("Terminänderung:") for m in mails)
    assert all("Bisheriger Termin: 22. Oktober 2024, 10:00 Uhr" in text(m) for m in mails)


def test_a_move_before_the_invitation_changes_only_the_invitation(site):
    app, clock, server = site
    key = scheduled(app, clock)
    clock.set(datetime(2024, 9, 25, 9, 0, tzinfo=UTC))
    services.fire(app, MINISTRY, key, "reschedule_review", {"at": "12.11.2024 14:00"})
    assert send(app, server) == []  # nothing to announce: nobody was invited yet
    clock.set(datetime(2024, 10, 1, 7, 0, tzinfo=UTC))  # the old invitation date passes
    assert send(app, server) == []
    clock.set(datetime(2024, 10, 29, 7, 0, tzinfo=UTC))  # 14 days before 12 November
    outside, _ = split(send(app, server))
    assert (
        "Einladung zur Umsetzungsbesprechung am 12. November 2024, 14:00 Uhr"
        in (outside["Subject"])
    )
    assert "15. Oktober" not in text(outside)
    assert event_of(outside)[:2] == ("REQUEST", UID)
    with app.db.read() as conn:
        kinds = [r["kind"] for r in outbox.listing(conn, agreement=key)]
    assert "review_rescheduled" not in kinds


def test_every_move_back_and_forth_is_announced_and_withdraw_still_cancels(site):
    app, clock, server = site
    key = scheduled(app, clock)
    clock.set(datetime(2024, 10, 1, 7, 0, tzinfo=UTC))
    invitation, _ = split(send(app, server))
    sequences = [event_of(invitation)[2]]
    for day, at, previous in (
        (2, "12.11.2024 14:00", "15. Oktober 2024, 10:00 Uhr"),
        (3, "15.10.2024 10:00", "12. November 2024, 14:00 Uhr"),
        (4, "12.11.2024 14:00", "15. Oktober 2024, 10:00 Uhr"),
    ):
        clock.set(datetime(2024, 10, day, 9, 0, tzinfo=UTC))
        services.fire(app, MINISTRY, key, "reschedule_review", {"at": at})
        outside, _ = split(send(app, server))
        assert outside["Subject"].startswith("Terminänderung:")
        assert f"Bisheriger Termin: {previous}" in text(outside)
        sequences.append(event_of(outside)[2])
    clock.set(datetime(2024, 10, 4, 10, 0, tzinfo=UTC))
    services.fire(app, MINISTRY, key, "withdraw", {"reason": "Kreistag lehnt ab"})
    outside, _ = split(send(app, server))
    method, uid, sequence, _ = event_of(outside)
    assert (method, uid) == ("CANCEL", UID)
    sequences.append(sequence)
    assert sequences == sorted(set(sequences))  # strictly rising
    verify(app)
