"""German input and output formats: dates, amounts, times.

Staff type ``01.07.2024`` and ``1.266.800,00``; ISO forms are accepted too. Money is integer
cents throughout; floats never touch it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from aqb_workflow.errors import BadInput

MONTHS_DE = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DE_DATE = re.compile(r"^(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


def parse_date(text: str, what: str = "date") -> date:
    """``2024-07-01``, ``01.07.2024`` or ``1.7.2024`` -> a real calendar date."""
    raw = text.strip()
    m = _ISO_DATE.match(raw)
    if m:
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
    else:
        m = _DE_DATE.match(raw)
        if not m:
            raise BadInput(f"{what}: {text!r} is not a date (use 2024-07-01 or 01.07.2024)")
        d, mo, y = int(m[1]), int(m[2]), int(m[3])
    try:
        return date(y, mo, d)
    except ValueError:
        raise BadInput(f"{what}: {text!r} is not a real calendar date") from None


def parse_local_datetime(text: str, zone: ZoneInfo, what: str = "time") -> datetime:
    """A local wall-clock time (``2024-10-15 10:00``, ``15.10.2024 10:00``) -> aware UTC.

    A time that does not exist (skipped by the spring change) or exists twice (the autumn
    change) is refused rather than guessed.
    """
    raw = text.strip().replace("T", " ")
    parts = raw.rsplit(" ", 1)
    if len(parts) != 2:
        raise BadInput(f"{what}: {text!r} needs a date and a time, e.g. 2024-10-15 10:00")
    day = parse_date(parts[0], what)
    m = _TIME.match(parts[1].strip())
    if not m:
        raise BadInput(f"{what}: {text!r} has no valid time of day (use HH:MM)")
    try:
        clock = time(int(m[1]), int(m[2]), int(m[3] or 0))
    except ValueError:
        raise BadInput(f"{what}: {text!r} has no valid time of day") from None
    return local_to_utc(datetime.combine(day, clock), zone, what)


def local_to_utc(naive: datetime, zone: ZoneInfo, what: str = "time") -> datetime:
    """Resolve a wall-clock time in ``zone`` to UTC, refusing gaps and ambiguous times."""
    first = naive.replace(tzinfo=zone, fold=0)
    second = naive.replace(tzinfo=zone, fold=1)
    back = first.astimezone(UTC).astimezone(zone)
    if back.replace(tzinfo=None) != naive:
        raise BadInput(
            f"{what}: {naive:%Y-%m-%d %H:%M} does not exist in {zone.key} (clocks go forward)"
        )
    if first.utcoffset() != second.utcoffset():
        raise BadInput(
            f"{what}: {naive:%Y-%m-%d %H:%M} happens twice in {zone.key} (clocks go back); "
            "choose another time"
        )
    return first.astimezone(UTC)


def parse_amount_cents(text: str, what: str = "amount") -> int:
    """``1.266.800,00``, ``1266800``, ``1266800.50`` or ``1.266.800 €`` -> cents.

    A dot followed by exactly three digits is a German thousands separator, never a decimal
    point, so ``1.266`` is 1266 euros, not 1,27.
    """
    raw = re.sub(r"\s|€|Euro|EUR", "", text.strip(), flags=re.IGNORECASE)
    if not raw:
        raise BadInput(f"{what}: empty amount")
    if "," in raw:
        if raw.count(",") > 1 or not re.fullmatch(
            r"-?\d{1,3}(\.\d{3})*,\d{1,2}|-?\d+,\d{1,2}", raw
        ):
            raise BadInput(f"{what}: {text!r} is not an amount (use 1.266.800,00 or 1266800)")
        number = raw.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"-?\d{1,3}(\.\d{3})+", raw):
        number = raw.replace(".", "")
    elif re.fullmatch(r"-?\d+(\.\d{1,2})?", raw):
        number = raw
    else:
        raise BadInput(f"{what}: {text!r} is not an amount (use 1.266.800,00 or 1266800)")
    try:
        value = Decimal(number)
    except InvalidOperation:
        raise BadInput(f"{what}: {text!r} is not an amount") from None
    cents = value * 100
    if cents != cents.to_integral_value():
        raise BadInput(f"{what}: {text!r} has more than two decimal places")
    if abs(cents) >= 10**15:
        raise BadInput(f"{what}: {text!r} is too large")
    return int(cents)


def format_euro(cents: int) -> str:
    """12668000 -> ``126.680,00 €``; the form the ministry writes money in."""
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(cents), 100)
    return f"{sign}{euros:,}".replace(",", ".") + f",{rest:02d} €"


def format_date_de(day: date) -> str:
    """date(2024, 7, 1) -> ``1. Juli 2024``."""
    return f"{day.day}. {MONTHS_DE[day.month - 1]} {day.year}"


def format_datetime_de(instant: datetime, zone: ZoneInfo) -> str:
    """An aware instant -> ``15. Oktober 2024, 10:00 Uhr`` in the given zone."""
    local = instant.astimezone(zone)
    return f"{format_date_de(local.date())}, {local:%H:%M} Uhr"


def parse_utc(text: str) -> datetime:
    """The stored form (ISO 8601 with offset) -> aware UTC datetime."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"stored instant {text!r} has no offset")
    return value.astimezone(UTC)


def format_utc(instant: datetime) -> str:
    """An aware instant -> the stored form, ``2024-07-01T08:00:00.000000+00:00``."""
    if instant.tzinfo is None:
        raise ValueError("naive datetimes are never stored")
    return instant.astimezone(UTC).isoformat(timespec="microseconds")
