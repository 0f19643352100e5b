"""Reminders are planned, cancelled and re-planned inside the transitions that cause them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from aqb_workflow import services
from aqb_workflow.domain.formats import parse_utc
from aqb_workflow.store import outbox, queries
from tests.conftest import GIESSEN, MINISTRY, RP

BERLIN = ZoneInfo("Europe/Berlin")


def reminders(app, key, status=("pending",)):
    with app.db.read() as conn:
        return outbox.listing(conn, status=list(status), agreement=key)


def due_local(row):
    return parse_utc(row["due_at"]).astimezone(BERLIN)


def by_kind(rows):
    found = {}
    for row in rows:
        found.setdefault(row["kind"], []).append(due_local(row))
    return {kind: sorted(d.date() for d in days) for kind, days in found.items()}


def test_drafted_agreement_plans_application_and_signature_reminders(app, clock):
    clock.set(datetime(2024, 1, 10, 9, 0, tzinfo=UTC))
    key = services.create(app, MINISTRY, "giessen", 2024, "1266800")
    rows = reminders(app, key)
    assert by_kind(rows) == {
        # 31 March 2024 is a Sunday and 1 April Ostermontag: the Frist ends Tuesday 2 April
        # (§ 31 Abs. 3 HVwVfG); 14 days before is 19 March, 3 working days before is 26 March
        # (29 March Karfreitag, weekend, 1 April holiday).
        "application_due": [date(2024, 3, 19), date(2024, 3, 26)],
        "ministry_signature_pending": [date(2024, 1, 24)],
    }
    assert all(d.hour == 8 and d.minute == 0 for d in map(due_local, rows))
    recipients = {r["kind"]: json.loads(r["recipients"]) for r in rows}
    assert recipients["application_due"] == ["district"]
    assert recipients["ministry_signature_pending"] == ["ministry_desk"]
    with app.db.read() as conn:
        created = queries.history(conn, key)[0]
    assert sorted(json.loads(created.payload)["reminders"]["planned"]) == sorted(
        r["id"] for r in rows
    )


def test_signing_cancels_and_plans_weekly_district_reminders_then_escalation(app, clock):
    clock.set(datetime(2024, 1, 10, 9, 0, tzinfo=UTC))
    key = services.create(app, MINISTRY, "giessen", 2024, "1266800")
    clock.set(datetime(2024, 1, 16, 9, 0, tzinfo=UTC))
    fired = services.fire(app, MINISTRY, key, "sign_ministry", {"on": "2024-01-15", "by": "H"})
    assert by_kind(reminders(app, key)) == {
        "application_due": [date(2024, 3, 19), date(2024, 3, 26)],
        "district_signature_pending": [date(2024, 1, 29), date(2024, 2, 5), date(2024, 2, 12)],
        "district_signature_escalation": [date(2024, 2, 19)],
    }
    cancelled = reminders(app, key, status=("cancelled",))
    assert [r["kind"] for r in cancelled] == ["ministry_signature_pending"]
    with app.db.read() as conn:
        event = queries.history(conn, key)[-1]
    assert event.seq == fired.seq
    assert json.loads(event.payload)["reminders"]["cancelled"] == [cancelled[0]["id"]]


def test_recording_the_application_cancels_its_reminders_without_an_amendment(app, clock):
    clock.set(datetime(2024, 2, 1, 9, 0, tzinfo=UTC))
    key = services.create(app, MINISTRY, "giessen", 2024, "1266800")
    services.fire(app, MINISTRY, key, "sign_ministry", {"on": "2024-01-31", "by": "H"})
    services.edit(app, MINISTRY, key, {"application_filed_on": "01.02.2024"}, None)
    assert "application_due" not in by_kind(reminders(app, key))
    with app.db.read() as conn:
        assert queries.history(conn, key)[-1].event == "edited"


def walk_to_notice(app, clock, key_year=2024):
    clock.set(datetime(2024, 7, 20, 9, 0, tzinfo=UTC))
    key = services.create(app, MINISTRY, "giessen", key_year, "1266800")
    services.fire(app, MINISTRY, key, "sign_ministry", {"on": "2024-07-01", "by": "H"})
    services.fire(
        app, GIESSEN, key, "sign_district", {"on": "2024-07-10", "by": "S", "place": "Gießen"}
    )
    return key


def test_notice_and_review_planning_reminders(app, clock):
    key = walk_to_notice(app, clock)
    # signed by both on 10 July: the notice is due 21 days later, on 31 July
    assert by_kind(reminders(app, key)) == {"notice_pending": [date(2024, 7, 31)]}
    assert json.loads(reminders(app, key)[0]["recipients"]) == ["rp_kassel", "ministry_desk"]
    services.fire(app, RP, key, "issue_notice", {"on": "2024-07-20", "ref": "AZ"})
    # 1 September 2024 is a Sunday: the reminder goes out on Monday 2 September
    assert by_kind(reminders(app, key)) == {"review_planning": [date(2024, 9, 2)]}


def test_review_reminders_follow_the_meeting_across_the_dst_change(app, clock):
    key = walk_to_notice(app, clock)
    services.fire(app, RP, key, "issue_notice", {"on": "2024-07-20", "ref": "AZ"})
    clock.set(datetime(2024, 9, 3, 9, 0, tzinfo=UTC))
    services.fire(
        app, MINISTRY, key, "schedule_review", {"at": "28.10.2024 10:00", "location": "Gießen"}
    )
    rows = reminders(app, key)
    assert by_kind(rows) == {
        "review_upcoming": [date(2024, 10, 14), date(2024, 10, 24)],
        "review_overdue": [date(2024, 10, 29)],
    }
    utc_hours = {due_local(r).date(): parse_utc(r["due_at"]).hour for r in rows}
    # 08:00 in Berlin is 06:00 UTC in summer time and 07:00 UTC after 27 October
    assert utc_hours == {date(2024, 10, 14): 6, date(2024, 10, 24): 6, date(2024, 10, 29): 7}
    first_sequence = rows[0]["invite_sequence"]
    assert {r["invite"] for r in rows if r["kind"] == "review_upcoming"} == {"request"}

    services.fire(app, MINISTRY, key, "reschedule_review", {"at": "2024-11-12 14:00"})
    moved = reminders(app, key)
    assert by_kind(moved) == {
        "review_upcoming": [date(2024, 10, 29), date(2024, 11, 8)],
        "review_overdue": [date(2024, 11, 13)],
    }
    assert all(r["invite_sequence"] > first_sequence for r in moved)
    assert len(reminders(app, key, status=("cancelled",))) >= 3


def test_withdrawing_a_scheduled_review_sends_a_cancellation(app, clock):
    key = walk_to_notice(app, clock)
    services.fire(app, RP, key, "issue_notice", {"on": "2024-07-20", "ref": "AZ"})
    clock.set(datetime(2024, 9, 3, 9, 0, tzinfo=UTC))
    services.fire(
        app, MINISTRY, key, "schedule_review", {"at": "2024-10-15 10:00", "location": "X"}
    )
    clock.set(datetime(2024, 9, 10, 9, 0, tzinfo=UTC))
    services.fire(app, MINISTRY, key, "withdraw", {"reason": "Kreistag lehnt ab"})
    rows = reminders(app, key)
    assert [(r["kind"], r["invite"]) for r in rows] == [("review_cancelled", "cancel")]
    assert json.loads(rows[0]["recipients"]) == ["participants"]


def test_reminders_never_fall_on_a_day_off(app, clock):
    # ministry signs 10 December 2024: +14 days is 24 December (closure day), then the
    # holidays: the first reminder goes out on Friday 27 December
    clock.set(datetime(2024, 12, 10, 9, 0, tzinfo=UTC))
    key = services.create(app, MINISTRY, "giessen", 2025, "1266800")
    services.fire(app, MINISTRY, key, "sign_ministry", {"on": "2024-12-10", "by": "H"})
    days = by_kind(reminders(app, key))["district_signature_pending"]
    assert days[0] == date(2024, 12, 27)
    for day in [d for ds in by_kind(reminders(app, key)).values() for d in ds]:
        assert app.calendar.is_working_day(day), day


def test_a_reminder_before_a_holiday_moves_to_the_working_day_before(app, clock):
    key = walk_to_notice(app, clock)
    services.fire(app, RP, key, "issue_notice", {"on": "2024-07-20", "ref": "AZ"})
    services.fire(
        app, MINISTRY, key, "schedule_review", {"at": "2024-09-13 10:00", "location": "X"}
    )
    # 14 days before 13 September 2024 is 30 August, a Friday: it stays
    assert by_kind(reminders(app, key))["review_upcoming"][0] == date(2024, 8, 30)
    clock.set(datetime(2025, 5, 1, 9, 0, tzinfo=UTC))
    key2 = services.create(app, MINISTRY, "wetterau", 2025, "1140300")
    for trigger, fields in [
        ("sign_ministry", {"on": "2025-04-01", "by": "H"}),
        ("sign_district", {"on": "2025-04-02", "by": "S", "place": "Friedberg"}),
        ("issue_notice", {"on": "2025-04-03", "ref": "AZ"}),
        ("schedule_review", {"at": "2025-07-03 10:00", "location": "Friedberg"}),
    ]:
        services.fire(app, MINISTRY, key2, trigger, fields)
    # 14 days before 3 July 2025 is 19 June 2025, Fronleichnam: it moves to 18 June
    assert by_kind(reminders(app, key2))["review_upcoming"][0] == date(2025, 6, 18)


def test_what_is_already_overdue_when_planned_is_kept_once(app, clock):
    clock.set(datetime(2024, 11, 20, 9, 0, tzinfo=UTC))
    key = services.create(app, MINISTRY, "giessen", 2024, "1266800")
    services.fire(app, MINISTRY, key, "sign_ministry", {"on": "2024-07-01", "by": "H"})
    kinds = by_kind(reminders(app, key))
    # the application deadline (2 April) is over: no reminder before it; of the three weekly
    # district reminders only the latest overdue one stays, plus the escalation
    assert kinds == {
        "district_signature_pending": [date(2024, 7, 29)],
        "district_signature_escalation": [date(2024, 8, 5)],
    }


def test_a_transition_keeps_a_pending_delivery_failure_report(app, clock):
    """The report of a failed mail is no rule's reminder: the agreement's next step does not
    cancel it before the desk has read it."""
    from aqb_workflow.store.unit_of_work import UnitOfWork

    key = services.create(app, MINISTRY, "giessen", 2024, "1266800")
    with UnitOfWork(app.db, app.anchor) as uow:
        report = outbox.add_one(
            uow.conn, key, "delivery_failed", ["ministry_desk"], clock.now(), "delivery_failed|1|x"
        )
        uow.commit()
    services.fire(app, MINISTRY, key, "sign_ministry", {"on": "2024-07-01", "by": "H. Hofmann"})
    with app.db.read() as conn:
        assert outbox.get(conn, report)["status"] == "pending"
