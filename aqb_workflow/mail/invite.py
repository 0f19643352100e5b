"""The calendar invitation (iCalendar, RFC 5545/5546) for an autumn review meeting.

Usage::

    from aqb_workflow.mail.invite import review_invite

    ics = review_invite(
        uid="aqb-review-2024-giessen@aqb-workflow",  # stable per agreement: the caller's job
        sequence=0,                                    # +1 for every update and the cancel
        method="REQUEST",                              # "CANCEL" when the review is called off
        start=datetime(2024, 10, 15, 8, 0, tzinfo=UTC),
        duration=timedelta(hours=2),
        zone=ZoneInfo("Europe/Berlin"),
        summary="AQB 2024 – Umsetzungsbesprechung Landkreis Gießen",
        location="Kreishaus Gießen",
        description="Umsetzungsbesprechung nach § 6 der Zielvereinbarung 2024",
        organizer=("AQB-Referat HMSI", "aqb@hmsi.hessen.de"),
        attendees=[("Anita Schneider", "landraetin@lkgi.de")],
        stamp=now,
    )

Calendar clients match updates and cancellations by ``UID``; a higher ``SEQUENCE`` wins. Keep
the UID stable for one review (e.g. ``f"aqb-review-{key}@aqb-workflow"``) and raise the
sequence whenever time, place or status change. Start and end are written as local wall time
with ``TZID`` (and a matching ``VTIMEZONE``), so the meeting stays at 10:00 local in every
client; ``DTSTAMP`` is UTC.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress

PRODID = "-//HMSI AQB-Referat//aqb-workflow//DE"


def _last_sunday(year: int, month: int) -> date:
    day = date(year, month, 31)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def _follows_eu_rule(zone: ZoneInfo, years: range) -> tuple[timedelta, timedelta] | None:
    """(standard, summer) offsets if ``zone`` changes at 01:00 UTC on the last Sundays of
    March and October in all ``years`` (the EU rule since 1996), else None."""
    std = datetime(years.start, 1, 15, tzinfo=UTC).astimezone(zone).utcoffset()
    dst = datetime(years.start, 7, 15, tzinfo=UTC).astimezone(zone).utcoffset()
    if std is None or dst is None or dst - std != timedelta(hours=1):
        return None
    second = timedelta(seconds=1)
    for year in years:
        for month, before, after in ((3, std, dst), (10, dst, std)):
            change = datetime.combine(_last_sunday(year, month), time(1), tzinfo=UTC)
            if (change - second).astimezone(zone).utcoffset() != before:
                return None
            if change.astimezone(zone).utcoffset() != after:
                return None
    return std, dst


def _offset(delta: timedelta) -> str:
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"


@functools.lru_cache(maxsize=16)
def _vtimezone(key: str, year: int) -> bytes:
    """The VTIMEZONE for ``key`` around ``year`` (cached: generating one is slow).

    Zones on the EU rule (Europe/Berlin) get the classic two-RRULE form that Outlook
    understands; Outlook misreads the RDATE lists icalendar generates (shifting events by an
    hour). Other zones, or the EU rule ever changing in tzdata, fall back to icalendar's
    generated definition.
    """
    zone = ZoneInfo(key)
    eu = _follows_eu_rule(zone, range(year - 1, year + 2))
    if eu is None:
        tz = Timezone.from_tzinfo(
            zone, tzid=key, first_date=date(year - 1, 1, 1), last_date=date(year + 2, 1, 1)
        )
        return bytes(tz.to_ical())
    std, dst = eu
    std_name = datetime(year, 1, 15, tzinfo=UTC).astimezone(zone).tzname()
    dst_name = datetime(year, 7, 15, tzinfo=UTC).astimezone(zone).tzname()
    # onsets in the local time before the change: 01:00 UTC + the old offset
    spring = (datetime(1970, 3, 29, 1, tzinfo=UTC) + std).strftime("%Y%m%dT%H%M%S")
    autumn = (datetime(1970, 10, 25, 1, tzinfo=UTC) + dst).strftime("%Y%m%dT%H%M%S")
    lines = [
        "BEGIN:VTIMEZONE",
        f"TZID:{key}",
        "BEGIN:DAYLIGHT",
        f"TZOFFSETFROM:{_offset(std)}",
        f"TZOFFSETTO:{_offset(dst)}",
        f"TZNAME:{dst_name}",
        f"DTSTART:{spring}",
        "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
        "END:DAYLIGHT",
        "BEGIN:STANDARD",
        f"TZOFFSETFROM:{_offset(dst)}",
        f"TZOFFSETTO:{_offset(std)}",
        f"TZNAME:{std_name}",
        f"DTSTART:{autumn}",
        "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
        "END:STANDARD",
        "END:VTIMEZONE",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def _address(name: str, email: str) -> vCalAddress:
    return vCalAddress.new(email, cn=name)


def review_invite(
    *,
    uid: str,
    sequence: int,
    method: Literal["REQUEST", "CANCEL"],
    start: datetime,
    duration: timedelta,
    zone: ZoneInfo,
    summary: str,
    location: str,
    description: str,
    organizer: tuple[str, str],
    attendees: Sequence[tuple[str, str]],
    stamp: datetime,
) -> bytes:
    """One VEVENT as ``text/calendar`` bytes (CRLF lines, UTF-8); see the module docstring."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError(f"method must be REQUEST or CANCEL, not {method!r}")
    if start.tzinfo is None or stamp.tzinfo is None:
        raise ValueError("start and stamp must be aware datetimes (UTC)")
    if duration <= timedelta(0):
        raise ValueError("duration must be positive")
    if sequence < 0:
        raise ValueError("sequence must not be negative")

    if not getattr(zone, "key", None):
        raise ValueError('zone must be a named ZoneInfo, e.g. ZoneInfo("Europe/Berlin")')
    local_start = start.astimezone(zone)
    local_end = (start + duration).astimezone(zone)

    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", local_start)
    event.add("dtend", local_end)
    event.add("summary", summary)
    event.add("location", location)
    event.add("description", description)
    event.add("organizer", _address(*organizer))
    for name, email in attendees:
        attendee = _address(name, email)
        attendee.params["ROLE"] = "REQ-PARTICIPANT"
        attendee.params["PARTSTAT"] = "NEEDS-ACTION"
        attendee.params["RSVP"] = "TRUE"
        event.add("attendee", attendee)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")

    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", method)
    cal.add_component(Timezone.from_ical(_vtimezone(zone.key, local_start.year)))
    cal.add_component(event)
    return bytes(cal.to_ical())
