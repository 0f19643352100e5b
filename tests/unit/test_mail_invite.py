"""The review invitation parses back with icalendar and keeps 10:00 local in every season."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from aqb_workflow.mail.invite import review_invite

BERLIN = ZoneInfo("Europe/Berlin")
UID = "aqb-review-2024-giessen@aqb-workflow"


def make(start: datetime, method: str = "REQUEST", sequence: int = 0) -> bytes:
    return review_invite(
        uid=UID,
        sequence=sequence,
        method=method,  # type: ignore[arg-type]
        start=start,
        duration=timedelta(hours=2),
        zone=BERLIN,
        summary="AQB 2024 – Umsetzungsbesprechung Landkreis Gießen",
        location="Kreishaus Gießen, Riversplatz 1–9",
        description="Umsetzungsbesprechung nach § 6 der Zielvereinbarung 2024",
        organizer=("AQB-Referat HMSI", "aqb@hmsi.hessen.de"),
        attendees=[("Anita Schneider", "landraetin@lkgi.de"), ("Müller, Jürgen", "jm@lkgi.de")],
        stamp=datetime(2024, 9, 2, 6, 30, tzinfo=UTC),
    )


def event_of(ics: bytes) -> tuple[Calendar, Any]:
    cal = Calendar.from_ical(ics)
    events = cal.walk("VEVENT")
    assert len(events) == 1
    return cal, events[0]


@pytest.mark.parametrize(
    ("start_utc", "month"),
    [
        (datetime(2024, 10, 15, 8, 0, tzinfo=UTC), 10),  # CEST: 10:00 local == 08:00 UTC
        (datetime(2024, 11, 12, 9, 0, tzinfo=UTC), 11),  # CET:  10:00 local == 09:00 UTC
    ],
)
def test_local_wall_time_with_tzid(start_utc: datetime, month: int) -> None:
    ics = make(start_utc)
    _, ev = event_of(ics)
    start = ev.decoded("DTSTART")
    end = ev.decoded("DTEND")
    assert ev["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert ev["DTEND"].params["TZID"] == "Europe/Berlin"
    assert (start.month, start.hour, start.minute) == (month, 10, 0)
    assert start.astimezone(UTC) == start_utc
    assert end - start == timedelta(hours=2)
    day = start_utc.strftime("%Y%m%d")
    assert f"DTSTART;TZID=Europe/Berlin:{day}T100000".encode() in ics
    stamp = ev.decoded("DTSTAMP")
    assert stamp == datetime(2024, 9, 2, 6, 30, tzinfo=UTC)
    assert b"DTSTAMP:20240902T063000Z" in ics


def test_calendar_headers_and_event_fields() -> None:
    ics = make(datetime(2024, 10, 15, 8, 0, tzinfo=UTC), sequence=3)
    cal, ev = event_of(ics)
    assert str(cal["METHOD"]) == "REQUEST"
    assert str(cal["VERSION"]) == "2.0"
    assert "aqb-workflow" in str(cal["PRODID"])
    assert str(ev["UID"]) == UID
    assert int(ev["SEQUENCE"]) == 3
    assert str(ev["STATUS"]) == "CONFIRMED"
    assert str(ev["SUMMARY"]) == "AQB 2024 – Umsetzungsbesprechung Landkreis Gießen"
    assert str(ev["LOCATION"]) == "Kreishaus Gießen, Riversplatz 1–9"
    assert "§ 6" in str(ev["DESCRIPTION"])
    organizer = ev["ORGANIZER"]
    assert str(organizer) == "mailto:aqb@hmsi.hessen.de"
    assert organizer.params["CN"] == "AQB-Referat HMSI"
    attendees = ev["ATTENDEE"]
    assert [str(a) for a in attendees] == ["mailto:landraetin@lkgi.de", "mailto:jm@lkgi.de"]
    assert attendees[1].params["CN"] == "Müller, Jürgen"
    for attendee in attendees:
        assert attendee.params["ROLE"] == "REQ-PARTICIPANT"
        assert attendee.params["PARTSTAT"] == "NEEDS-ACTION"
        assert attendee.params["RSVP"] == "TRUE"
    assert b"\r\n" in ics and all(len(line) <= 75 for line in ics.split(b"\r\n"))


def test_vtimezone_present_with_both_rules() -> None:
    cal, _ = event_of(make(datetime(2024, 10, 15, 8, 0, tzinfo=UTC)))
    zones = cal.walk("VTIMEZONE")
    assert [str(z["TZID"]) for z in zones] == ["Europe/Berlin"]
    parts = {c.name: c for c in zones[0].subcomponents}
    assert set(parts) == {"STANDARD", "DAYLIGHT"}
    # the classic RRULE form Outlook understands (it misreads RDATE lists)
    assert "RRULE" in parts["DAYLIGHT"] and "RRULE" in parts["STANDARD"]
    assert "RDATE" not in parts["DAYLIGHT"]
    assert cal.get_missing_tzids() == set()


def test_vtimezone_rules_agree_with_zoneinfo() -> None:
    """The VTIMEZONE alone (not the TZID name) maps 10:00 local to the right UTC instant."""
    cal, _ = event_of(make(datetime(2024, 10, 15, 8, 0, tzinfo=UTC)))
    vtimezone: Any = cal.walk("VTIMEZONE")[0]
    tz = vtimezone.to_tz()
    for month, day, utc_hour in [(10, 15, 8), (11, 12, 9)]:
        local = datetime(2024, month, day, 10, tzinfo=tz)
        assert local.astimezone(UTC).hour == utc_hour


def test_cancel() -> None:
    ics = make(datetime(2024, 10, 15, 8, 0, tzinfo=UTC), method="CANCEL", sequence=1)
    cal, ev = event_of(ics)
    assert str(cal["METHOD"]) == "CANCEL"
    assert str(ev["STATUS"]) == "CANCELLED"
    assert str(ev["UID"]) == UID
    assert int(ev["SEQUENCE"]) == 1
    assert b"STATUS:CANCELLED" in ics


def test_refuses_naive_times_and_bad_method() -> None:
    with pytest.raises(ValueError, match="aware"):
        make(datetime(2024, 10, 15, 8, 0))  # noqa: DTZ001
    with pytest.raises(ValueError, match="REQUEST or CANCEL"):
        make(datetime(2024, 10, 15, 8, 0, tzinfo=UTC), method="PUBLISH")
