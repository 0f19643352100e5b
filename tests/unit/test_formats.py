"""German dates, amounts and wall-clock times, as ministry and district staff type them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aqb_workflow.domain.formats import (
    check_plausible,
    format_date_de,
    format_datetime_de,
    format_euro,
    format_utc,
    local_to_utc,
    parse_amount_cents,
    parse_date,
    parse_local_datetime,
    parse_utc,
    plausible_window,
)
from aqb_workflow.errors import BadInput

BERLIN = ZoneInfo("Europe/Berlin")


def last_sunday(year: int, month: int) -> date:
    """The last Sunday of a month: when Europe/Berlin changes to or from summer time."""
    first_of_next = date(year + (month == 12), month % 12 + 1, 1)
    day = first_of_next - timedelta(days=1)
    return day - timedelta(days=(day.weekday() - 6) % 7)


DST_YEARS = (2023, 2024, 2025, 2026)


# -- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["2024-07-01", "01.07.2024", "1.7.2024", "1.7. 2024", "1. 7. 2024", "  01.07.2024  "],
)
def test_parse_date_accepts_iso_and_the_german_forms_staff_type(text):
    assert parse_date(text) == date(2024, 7, 1)


def test_parse_date_reads_day_before_month_in_german_form():
    # 02.03.2024 is the 2nd of March, never February 3rd.
    assert parse_date("02.03.2024") == date(2024, 3, 2)
    assert parse_date("31.12.2024") == date(2024, 12, 31)


def test_parse_date_accepts_the_29th_of_february_in_a_leap_year_only():
    assert parse_date("29.02.2024") == date(2024, 2, 29)
    with pytest.raises(BadInput, match="kein gültiges Kalenderdatum"):
        parse_date("29.02.2023")


@pytest.mark.parametrize(
    "text",
    ["31.02.2024", "2024-13-01", "2024-02-30", "00.07.2024", "32.01.2024", "1.13.2024"],
)
def test_parse_date_refuses_days_that_are_not_in_the_calendar(text):
    with pytest.raises(BadInput) as caught:
        parse_date(text, "on")
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith("on:")
    assert "Kalenderdatum" in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "garbage",
        "",
        "   ",
        "1.7.124",
        "1.7.2",
        "2024/07/01",
        "07/01/2024",
        "2024-7-1",
        "1.7.2024 10:00",
        "1. Juliember 2024",
    ],
)
def test_parse_date_refuses_text_that_is_not_a_date_and_shows_the_accepted_forms(text):
    with pytest.raises(BadInput) as caught:
        parse_date(text, "received_on")
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert message.startswith("received_on:")
    assert "ist kein Datum" in message
    assert "2026-07-01" in message and "1.7.26" in message and "1. Juli 2026" in message


@pytest.mark.parametrize(
    "text",
    ["1.7.26", "1.7.2026", "01.07.26", "01.07.2026", "2026-07-01", "1. Juli 2026", "1. juli 26"],
)
def test_parse_date_accepts_short_german_dates_and_the_month_name(text):
    assert parse_date(text) == date(2026, 7, 1)


@pytest.mark.parametrize(
    ("text", "day"), [("31.12.99", date(2099, 12, 31)), ("1.1.00", date(2000, 1, 1))]
)
def test_a_two_digit_year_is_always_20yy(text, day):
    assert parse_date(text) == day


@pytest.mark.parametrize("text", ["1.7.1925", "31.12.1999", "1.7.2099", "2.12.2026"])
def test_a_date_before_2000_or_over_two_years_ahead_is_refused_in_german(text):
    with pytest.raises(BadInput) as caught:
        check_plausible(parse_date(text), date(2024, 12, 1), "on")
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert message.startswith("on: ") and "nicht plausibel" in message
    assert "1. Januar 2000 bis 1. Dezember 2026" in message


@pytest.mark.parametrize("text", ["1.1.2000", "1.12.2026", "1.7.24", "1.7.2016"])
def test_the_plausible_window_is_2000_to_two_years_ahead(text):
    check_plausible(parse_date(text), date(2024, 12, 1), "on")


def test_the_window_from_a_leap_day():
    assert plausible_window(date(2024, 2, 29)) == (date(2000, 1, 1), date(2026, 2, 28))


def test_a_local_time_may_be_typed_with_a_short_date_and_uhr():
    expected = datetime(2024, 10, 15, 8, 0, tzinfo=UTC)
    assert parse_local_datetime("15.10.24 10:00", BERLIN) == expected
    assert parse_local_datetime("15. Oktober 2024, 10:00 Uhr", BERLIN) == expected


# -- amounts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("1.266.800,00", 126_680_000),
        ("1266800", 126_680_000),
        ("1.266.800", 126_680_000),
        ("1266800.50", 126_680_050),
        ("1266800,50", 126_680_050),
        ("1.266.800 €", 126_680_000),
        ("1.266.800,00 €", 126_680_000),
        ("1.266.800,00 EUR", 126_680_000),
        ("  1.266.800,00  ", 126_680_000),
        ("1 266 800,00", 126_680_000),
        # Copied from a word processor: no-break and narrow no-break spaces.
        ("1.266.800,00\u00a0€", 126_680_000),
        ("1\u202f266\u202f800,00 €", 126_680_000),
        ("12,5", 1_250),
        ("12,50", 1_250),
        ("12.5", 1_250),
        ("0,05", 5),
        ("879.800", 87_980_000),
    ],
)
def test_parse_amount_cents_reads_german_and_plain_amounts(text, cents):
    assert parse_amount_cents(text) == cents


def test_a_dot_before_three_digits_is_a_thousands_separator_not_a_decimal_point():
    # German staff write 1.266 for one thousand two hundred sixty-six euros.
    assert parse_amount_cents("1.266") == 126_600
    assert parse_amount_cents("1.266,00") == 126_600


def test_parse_amount_cents_accepts_the_word_euro_as_in_the_agreement_text():
    # § 4 of the agreement reads "Haushaltsmittel in Höhe von insgesamt 1.266.800 Euro".
    assert parse_amount_cents("1.266.800 Euro") == 126_680_000
    assert parse_amount_cents("100 euro") == 10_000


@pytest.mark.parametrize(
    "text",
    [
        "1,2,3",
        "1.2345",
        "12.345,678",
        "",
        "   ",
        "€",
        "abc",
        "12,345",
        "1.26.800",
        "1.266.80",
        ",50",
        "12,",
        "1e6",
        "1.266.800.50",
    ],
)
def test_parse_amount_cents_refuses_what_it_cannot_read_unambiguously(text):
    with pytest.raises(BadInput) as caught:
        parse_amount_cents(text, "budget")
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith("budget:")


def test_parse_amount_cents_refuses_absurdly_large_amounts():
    with pytest.raises(BadInput, match="too large"):
        parse_amount_cents("10000000000000")
    assert parse_amount_cents("9.999.999.999.999,99") == 999_999_999_999_999


# -- formatting ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cents", "text"),
    [
        (126_680_000, "1.266.800,00 €"),
        (114_030_000, "1.140.300,00 €"),
        (5, "0,05 €"),
        (0, "0,00 €"),
        (100, "1,00 €"),
        (99_999, "999,99 €"),
        (100_000, "1.000,00 €"),
        (2_800_000_000, "28.000.000,00 €"),
        (-5, "-0,05 €"),
        (-126_680_050, "-1.266.800,50 €"),
    ],
)
def test_format_euro_writes_money_as_the_ministry_does(cents, text):
    assert format_euro(cents) == text


@given(st.integers(min_value=0, max_value=10**13))
def test_every_formatted_amount_reads_back_to_the_same_cents(cents):
    assert parse_amount_cents(format_euro(cents)) == cents


@given(st.integers(min_value=0, max_value=10**13))
def test_format_euro_always_groups_thousands_and_shows_two_decimals(cents):
    assert re.fullmatch(r"\d{1,3}(\.\d{3})*,\d{2} €", format_euro(cents))


@pytest.mark.parametrize(
    ("day", "text"),
    [
        (date(2024, 7, 1), "1. Juli 2024"),
        (date(2024, 3, 5), "5. März 2024"),
        (date(2024, 7, 15), "15. Juli 2024"),
        (date(2024, 10, 15), "15. Oktober 2024"),
        (date(2025, 12, 31), "31. Dezember 2025"),
    ],
)
def test_format_date_de_writes_the_day_without_leading_zero_and_the_month_in_german(day, text):
    assert format_date_de(day) == text


def test_format_date_de_knows_all_twelve_german_month_names():
    names = [format_date_de(date(2024, m, 1)).split(" ")[1] for m in range(1, 13)]
    assert names == [
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
    ]


def test_format_datetime_de_shows_local_berlin_time():
    instant = datetime(2024, 10, 15, 8, 0, tzinfo=UTC)
    assert format_datetime_de(instant, BERLIN) == "15. Oktober 2024, 10:00 Uhr"
    # Just before midnight UTC is already the next day in Berlin.
    late = datetime(2024, 11, 14, 23, 30, tzinfo=UTC)
    assert format_datetime_de(late, BERLIN) == "15. November 2024, 00:30 Uhr"


def test_stored_instants_round_trip_and_naive_ones_are_refused():
    instant = datetime(2024, 7, 1, 8, 0, 0, 123, tzinfo=UTC)
    text = format_utc(instant)
    assert text == "2024-07-01T08:00:00.000123+00:00"
    assert parse_utc(text) == instant
    assert parse_utc("2024-07-01T10:00:00+02:00") == datetime(2024, 7, 1, 8, 0, tzinfo=UTC)
    with pytest.raises(ValueError):
        format_utc(datetime(2024, 7, 1, 8, 0))  # noqa: DTZ001 - the naive value is the point
    with pytest.raises(ValueError):
        parse_utc("2024-07-01T08:00:00")


# -- local wall-clock times ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["2024-10-15 10:00", "15.10.2024 10:00", "15.10.2024 10:00:00", "2024-10-15T10:00"]
)
def test_summer_time_10_00_in_berlin_is_08_00_utc(text):
    result = parse_local_datetime(text, BERLIN)
    assert result == datetime(2024, 10, 15, 8, 0, tzinfo=UTC)
    assert result.utcoffset() == timedelta(0)


def test_winter_time_10_00_in_berlin_is_09_00_utc():
    assert parse_local_datetime("2024-11-15 10:00", BERLIN) == datetime(
        2024, 11, 15, 9, 0, tzinfo=UTC
    )
    assert parse_local_datetime("15.11.2024 10:00", BERLIN) == datetime(
        2024, 11, 15, 9, 0, tzinfo=UTC
    )


def test_a_time_skipped_by_the_spring_change_is_refused_as_not_existing():
    with pytest.raises(BadInput) as caught:
        parse_local_datetime("2024-03-31 02:30", BERLIN, "at")
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert message.startswith("at:")
    # The clocks go forward at 02:00: 02:30 never happens. Telling staff it "happens twice"
    # would send them looking for the wrong problem.
    assert "does not exist" in message
    assert "clocks go forward" in message
    assert "twice" not in message


def test_a_time_repeated_by_the_autumn_change_is_refused_as_ambiguous():
    with pytest.raises(BadInput) as caught:
        parse_local_datetime("2024-10-27 02:30", BERLIN, "at")
    assert caught.value.exit_code == 2
    assert "twice" in str(caught.value)


@pytest.mark.parametrize("year", DST_YEARS)
def test_the_computed_change_days_are_the_last_sundays(year):
    for month in (3, 10):
        day = last_sunday(year, month)
        assert day.weekday() == 6
        assert day.month == month
        assert (day + timedelta(days=7)).month != month


@pytest.mark.parametrize("year", DST_YEARS)
@pytest.mark.parametrize("minute", ["02:00", "02:30", "02:59"])
def test_spring_gap_is_refused_every_year(year, minute):
    day = last_sunday(year, 3)
    with pytest.raises(BadInput) as caught:
        parse_local_datetime(f"{day.isoformat()} {minute}", BERLIN)
    assert caught.value.exit_code == 2


@pytest.mark.parametrize("year", DST_YEARS)
def test_spring_change_every_year(year):
    day = last_sunday(year, 3)
    # Around the gap the wall clock is unambiguous: 01:59 CET and 03:00 CEST.
    before = parse_local_datetime(f"{day.isoformat()} 01:59", BERLIN)
    after = parse_local_datetime(f"{day.isoformat()} 03:00", BERLIN)
    assert before == datetime(day.year, day.month, day.day, 0, 59, tzinfo=UTC)
    assert after == datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
    # The Sunday before is an ordinary night.
    week_before = day - timedelta(days=7)
    assert parse_local_datetime(f"{week_before.isoformat()} 02:30", BERLIN) == datetime(
        week_before.year, week_before.month, week_before.day, 1, 30, tzinfo=UTC
    )


@pytest.mark.parametrize("year", DST_YEARS)
def test_autumn_change_every_year(year):
    day = last_sunday(year, 10)
    for minute in ("02:00", "02:30", "02:59"):
        with pytest.raises(BadInput, match="twice"):
            parse_local_datetime(f"{day:%d.%m.%Y} {minute}", BERLIN)
    before = parse_local_datetime(f"{day.isoformat()} 01:59", BERLIN)
    after = parse_local_datetime(f"{day.isoformat()} 03:00", BERLIN)
    assert before == datetime(day.year, day.month, day.day, 1, 59, tzinfo=UTC) - timedelta(hours=2)
    assert after == datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)
    week_before = day - timedelta(days=7)
    assert parse_local_datetime(f"{week_before.isoformat()} 02:30", BERLIN) == datetime(
        week_before.year, week_before.month, week_before.day, 0, 30, tzinfo=UTC
    )


def test_local_to_utc_resolves_a_plain_wall_clock_time():
    naive = datetime(2024, 7, 1, 10, 0)  # noqa: DTZ001 - a wall-clock time is naive by nature
    assert local_to_utc(naive, BERLIN) == datetime(2024, 7, 1, 8, 0, tzinfo=UTC)


def test_local_to_utc_refuses_an_ambiguous_time_directly():
    fold = datetime(2025, 10, 26, 2, 15)  # noqa: DTZ001
    with pytest.raises(BadInput, match="twice"):
        local_to_utc(fold, BERLIN, "at")


def test_local_to_utc_refuses_a_skipped_time_directly_as_not_existing():
    gap = datetime(2025, 3, 30, 2, 15)  # noqa: DTZ001
    with pytest.raises(BadInput, match="does not exist"):
        local_to_utc(gap, BERLIN, "at")


@pytest.mark.parametrize(
    "text",
    ["2024-10-15", "2024-10-15 25:00", "2024-10-15 10:60", "2024-10-15 10", "31.02.2024 10:00"],
)
def test_parse_local_datetime_refuses_incomplete_or_impossible_times(text):
    with pytest.raises(BadInput) as caught:
        parse_local_datetime(text, BERLIN, "at")
    assert caught.value.exit_code == 2
    assert str(caught.value).startswith("at:")
