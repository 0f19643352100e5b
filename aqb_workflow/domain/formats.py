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
_DE_DATE = re.compile(r"^(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4}|\d{2})$")
_DE_LONG_DATE = re.compile(r"^(\d{1,2})\.\s*([A-Za-zÄÖÜäöü]+)\.?\s+(\d{4}|\d{2})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
_MONTHS = (
    {name.lower(): n for n, name in enumerate(MONTHS_DE, start=1)}
    | {name.lower()[:3]: n for n, name in enumerate(MONTHS_DE, start=1)}
    | {"maerz": 3, "jänner": 1, "sept": 9}
)
_FORMS = "1.7.26, 01.07.2026, 1. Juli 2026 oder 2026-07-01"

#: Plausible dates: none before 2000 (the AQB's agreements in this registry start then) and
#: none more than two years after today (a review may be set well ahead, a signature never
#: lies in the future anyway). 1925, 2099 or a mistyped century are typing errors.
EARLIEST = date(2000, 1, 1)
YEARS_AHEAD = 2


def parse_date(text: str, what: str = "Datum") -> date:
    """``2024-07-01``, ``01.07.2024``, ``1.7.24`` or ``1. Juli 2024`` -> a real calendar date.

    A two-digit year means 20YY. Whether the date is plausible is ``check_plausible``'s call.
    """
    raw = text.strip()
    y, mo, d = _date_parts(raw, text, what)
    try:
        return date(y, mo, d)
    except ValueError:
        raise BadInput(f"{what}: {text.strip()!r} ist kein gültiges Kalenderdatum") from None


def _date_parts(raw: str, text: str, what: str) -> tuple[int, int, int]:
    m = _ISO_DATE.match(raw)
    if m:
        return int(m[1]), int(m[2]), int(m[3])
    m = _DE_DATE.match(raw)
    if m:
        return _full_year(m[3]), int(m[2]), int(m[1])
    m = _DE_LONG_DATE.match(raw)
    if m and m[2].lower() in _MONTHS:
        return _full_year(m[3]), _MONTHS[m[2].lower()], int(m[1])
    raise BadInput(f"{what}: {text.strip()!r} ist kein Datum (so geht es: {_FORMS})")


def _full_year(digits: str) -> int:
    """Two digits are this century's: ``26`` is 2026."""
    return 2000 + int(digits) if len(digits) == 2 else int(digits)


def plausible_window(today: date) -> tuple[date, date]:
    """The first and last date a recorded date or time may fall on, seen from ``today``."""
    if today.year > date.max.year - YEARS_AHEAD:
        return EARLIEST, date.max
    later = today.year + YEARS_AHEAD
    leap_day = (today.month, today.day) == (2, 29)
    return EARLIEST, today.replace(year=later, day=28 if leap_day else today.day)


def check_plausible(day: date, today: date, what: str = "Datum") -> None:
    """Refuse a date so far off (1925, 2099) that it can only be a typing error."""
    first, last = plausible_window(today)
    if not first <= day <= last:
        raise BadInput(
            f"{what}: {format_date_de(day)} ist nicht plausibel; möglich ist "
            f"{format_date_de(first)} bis {format_date_de(last)}"
        )


def parse_local_datetime(text: str, zone: ZoneInfo, what: str = "Zeitpunkt") -> datetime:
    """A local wall-clock time (``2024-10-15 10:00``, ``15.10.24 10:00``) -> aware UTC.

    A time that does not exist (skipped by the spring change) or exists twice (the autumn
    change) is refused rather than guessed.
    """
    raw = text.strip().replace("T", " ").removesuffix("Uhr").strip()
    parts = raw.rsplit(" ", 1)
    if len(parts) != 2:
        raise BadInput(
            f"{what}: {text.strip()!r} braucht Datum und Uhrzeit, z. B. 15.10.2024 10:00"
        )
    day = parse_date(parts[0].strip().rstrip(","), what)
    m = _TIME.match(parts[1].strip())
    if not m:
        raise BadInput(f"{what}: {text.strip()!r} hat keine gültige Uhrzeit (so: HH:MM)")
    try:
        clock = time(int(m[1]), int(m[2]), int(m[3] or 0))
    except ValueError:
        raise BadInput(f"{what}: {text.strip()!r} hat keine gültige Uhrzeit") from None
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
