"""The harness of the year-in-the-life acceptance test (tests/e2e/test_year_in_the_life.py).

Three independent pieces, none of which asks aqb how it computes anything:

- ``HessianCalendar``: working days, § 31 Abs. 3 HVwVfG and the reminder send day, from
  ``holidays.Germany(subdiv="HE")`` and the closure days, written from DOMAIN.md and the rules'
  comments in states/agreement.toml, not from ``aqb_workflow.domain.calendar``.
- ``FakeTime``: the clock moved at the process boundary with libfaketime (Debian package
  ``faketime``; ``make test`` installs it). Each aqb process starts at the instant the test
  chose and runs on from there in real time; ``LD_PRELOAD`` + ``FAKETIME="@…"`` in its
  environment, nothing inside aqb knows.
- ``Mail`` and ``Expected``: what the SMTP server received, one record per recipient, matched
  against what the test expects on which day.
"""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from icalendar import Calendar

from tests.conftest import Result, Workspace

BERLIN = ZoneInfo("Europe/Berlin")
LIBFAKETIME = ("/usr/lib/*/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1")
MONTHS = (
    *("Januar", "Februar", "März", "April", "Mai", "Juni"),
    *("Juli", "August", "September", "Oktober", "November", "Dezember"),
)
GERMAN_DATE = re.compile(r"\b(\d{1,2})\. (" + "|".join(MONTHS) + r") (\d{4})\b")
AQB_COMMAND = re.compile(r"(?m)(^|\s)aqb [a-z]")


def german(day: date) -> str:
    """``1. Juli 2024``, as every text a person reads writes a date."""
    return f"{day.day}. {MONTHS[day.month - 1]} {day.year}"


def german_dates(text: str) -> list[date]:
    found = []
    for d, month, y in GERMAN_DATE.findall(text):
        try:
            found.append(date(int(y), MONTHS.index(month) + 1, int(d)))
        except ValueError:
            continue
    return found


# -- the Hessian calendar, written down independently -----------------------------------------


class HessianCalendar:
    """Days off and deadlines in Hessen (DOMAIN.md, "Dates, holidays, deadlines")."""

    def __init__(self, years: Iterable[int], closure_days: Iterable[str] = ("12-24", "12-31")):
        self.holidays = holidays.Germany(subdiv="HE", years=list(years))
        self.closure = {tuple(int(p) for p in md.split("-")) for md in closure_days}

    def is_holiday_or_weekend(self, day: date) -> bool:
        return day.weekday() >= 5 or day in self.holidays

    def is_day_off(self, day: date) -> bool:
        """No reminder goes out: weekend, holiday, or a closure day (24 and 31 December)."""
        return self.is_holiday_or_weekend(day) or (day.month, day.day) in self.closure

    def frist_end(self, day: date) -> date:
        """§ 31 Abs. 3 HVwVfG: a Frist ending on a weekend or holiday ends on the next working
        day; closure days are no holidays and do not move it."""
        while self.is_holiday_or_weekend(day):
            day += timedelta(days=1)
        return day

    def working_day_on_or_after(self, day: date) -> date:
        while self.is_day_off(day):
            day += timedelta(days=1)
        return day

    def working_day_on_or_before(self, day: date) -> date:
        while self.is_day_off(day):
            day -= timedelta(days=1)
        return day

    def add_working_days(self, day: date, n: int) -> date:
        """``n`` working days after (``n`` < 0: before) ``day``."""
        step = timedelta(days=1 if n > 0 else -1)
        for _ in range(abs(n)):
            day += step
            while self.is_day_off(day):
                day += step
        return day

    def send_day(self, anchor: date, offset: str) -> date:
        """The day a reminder goes out: ``offset`` ("14d", "-3wd", "0d") from ``anchor``; one
        that falls on a day off moves away from nothing it would precede: before its anchor to
        the working day before, on or after it to the working day after."""
        m = re.fullmatch(r"(-?\d+)(d|wd)", offset)
        assert m, offset
        n, unit = int(m.group(1)), m.group(2)
        if unit == "wd":
            return self.add_working_days(anchor, n)
        day = anchor + timedelta(days=n)
        if n < 0:
            return self.working_day_on_or_before(day)
        return self.working_day_on_or_after(day)


def local(day: date, hhmm: str) -> datetime:
    """``day`` at ``hhmm`` Europe/Berlin, as an aware UTC instant."""
    h, m = (int(p) for p in hhmm.split(":"))
    return datetime.combine(day, time(h, m), tzinfo=BERLIN).astimezone(UTC)


# -- the clock at the process boundary --------------------------------------------------------


def libfaketime() -> str:
    for pattern in LIBFAKETIME:
        for path in sorted(glob.glob(pattern)):
            return path
    found = shutil.which("faketime")
    pytest.fail(
        "libfaketime is missing: install the Debian package faketime (`make faketime` "
        f"installs it as root); faketime binary: {found}"
    )


@dataclass
class FakeTime:
    """The instant the next aqb process starts at. Each process gets its own second, so two
    steps the test takes one after the other are never recorded at the same instant."""

    now: datetime
    library: str = field(default_factory=libfaketime)

    def set(self, instant: datetime) -> None:
        assert instant.tzinfo is not None
        self.now = instant.astimezone(UTC)

    def env(self) -> dict[str, str]:
        stamp = self.now.strftime("@%Y-%m-%d %H:%M:%S")
        self.now += timedelta(seconds=1)
        return {
            "LD_PRELOAD": self.library,
            "FAKETIME": stamp,
            # FAKETIME's stamp is read in the process's zone: pin it to UTC. aqb itself works in
            # [time] zone (Europe/Berlin) through zoneinfo, which TZ does not touch.
            "TZ": "UTC",
            # Keep the monotonic clock real. With it faked (libfaketime 0.9.10, glibc, Python
            # 3.11) a timed wait such as threading.Event().wait(0.5), the daemon's loop, never
            # returns. With it real, time.sleep() fails with EINVAL (clock_nanosleep on
            # CLOCK_MONOTONIC with an absolute deadline): aqb uses no time.sleep.
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }


def run_aqb(
    ws: Workspace, args: list[str], clock: FakeTime, actor: str | None = "hmsi-aqb"
) -> Result:
    """``python -m aqb_workflow ARGS`` at the fake instant; the caller judges the exit code."""
    env = {**ws.env(actor), **clock.env()}
    proc = subprocess.run(
        [sys.executable, "-m", "aqb_workflow", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ws.root,
        timeout=120,
        check=False,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


# -- mail -------------------------------------------------------------------------------------


@dataclass
class Mail:
    """One received message as one recipient got it."""

    to: str
    day: date  # the Date header, in Europe/Berlin
    subject: str
    text: str
    key: str
    reminder: int | None
    kind: str | None
    message: EmailMessage

    @property
    def calendar(self) -> Calendar | None:
        parts = [p for p in self.message.walk() if p.get_content_type() == "text/calendar"]
        if not parts:
            return None
        payload = parts[0].get_payload(decode=True)
        assert isinstance(payload, bytes)
        return Calendar.from_ical(payload)

    def invite(self) -> dict[str, Any] | None:
        """METHOD, UID, SEQUENCE and start of the attached iCalendar event."""
        cal = self.calendar
        if cal is None:
            return None
        events = [c for c in cal.walk() if c.name == "VEVENT"]
        if len(events) != 1:
            return {"method": str(cal.get("METHOD")), "uid": None, "sequence": None}
        event = events[0]
        start = event.decoded("DTSTART") if event.get("DTSTART") else None
        return {
            "method": str(cal.get("METHOD")),
            "uid": str(event.get("UID")),
            "sequence": int(event.get("SEQUENCE", 0)),
            "start": start,
        }

    def __str__(self) -> str:
        return f"{self.day} {self.to} {self.key} {self.kind} #{self.reminder}: {self.subject!r}"


def plain_text(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    return "" if body is None else str(body.get_content())


def split_mail(msg: EmailMessage, kinds: dict[int, str]) -> list[Mail]:
    """One ``Mail`` per address in To (a message to two people counts for each)."""
    sent = parsedate_to_datetime(str(msg["Date"]))
    rid = msg["X-AQB-Reminder"]
    reminder = int(str(rid)) if rid is not None and str(rid).isdigit() else None
    return [
        Mail(
            to=addr.lower(),
            day=sent.astimezone(BERLIN).date(),
            subject=" ".join(str(msg["Subject"]).split()),
            text=plain_text(msg),
            key=str(msg["X-AQB-Agreement"]),
            reminder=reminder,
            kind=kinds.get(reminder) if reminder is not None else None,
            message=msg,
        )
        for _, addr in getaddresses([str(msg["To"])])
    ]


@dataclass(frozen=True)
class Expected:
    """A mail the test expects: to whom, on which day, about which agreement, of which kind
    (a set where the issue leaves the kind's name to the implementation, e.g. the update of a
    rescheduled review)."""

    day: date
    to: str
    key: str
    kinds: frozenset[str]

    def matches(self, mail: Mail) -> bool:
        return (mail.day, mail.to, mail.key) == (self.day, self.to, self.key) and (
            mail.kind in self.kinds
        )

    def __str__(self) -> str:
        return f"{self.day} {self.to} {self.key} {'|'.join(sorted(self.kinds))}"


def expected(day: date, key: str, kind: str | Iterable[str], *to: str) -> list[Expected]:
    kinds = frozenset([kind] if isinstance(kind, str) else kind)
    return [Expected(day, addr.lower(), key, kinds) for addr in to]


def match(wanted: list[Expected], got: list[Mail]) -> tuple[list[Expected], list[Mail]]:
    """(missing, unexpected): a one-to-one matching of expected mails to received ones."""
    left = list(got)
    missing = []
    for want in wanted:
        hit = next((m for m in left if want.matches(m)), None)
        if hit is None:
            missing.append(want)
        else:
            left.remove(hit)
    return missing, left


# -- documents of any year --------------------------------------------------------------------


def document_for_year(source: Path, source_year: int, year: int, target: Path) -> Path:
    """The same agreement text, dated ``year`` instead of ``source_year`` (four-digit years and
    the two-digit ones of handwritten dates such as "12.7.24" or "21.7.'20")."""
    text = source.read_text(encoding="utf-8")
    text = text.replace(str(source_year), str(year))
    short, new_short = f"{source_year % 100:02d}", f"{year % 100:02d}"
    text = re.sub(rf"(\d{{1,2}}\.\d{{1,2}}\.'?){short}\b", rf"\g<1>{new_short}", text)
    target.write_text(text, encoding="utf-8")
    return target
