"""Working days and deadlines in Hessen, checked against dates computed here, not by `holidays`.

Easter comes from the Anonymous Gregorian algorithm below, so a wrong holiday table in the
package would show up as a failing test rather than be copied into the expectations.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aqb_workflow.domain.calendar import WorkCalendar
from aqb_workflow.errors import ConfigError

HE = WorkCalendar()


def easter(year: int) -> date:
    """Easter Sunday (Gregorian), Anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


def hessian_holidays(year: int) -> dict[date, str]:
    """The 10 statutory holidays of Hessen, computed from first principles.

    Two on one day (Christi Himmelfahrt on 1 May 2008) read "Christi Himmelfahrt und Erster Mai".
    """
    e = easter(year)
    found: dict[date, list[str]] = {}
    if year == 2017:
        found[date(2017, 10, 31)] = ["Reformationstag"]  # 500th anniversary, all of Germany
    for day, name in [
        (date(year, 1, 1), "Neujahr"),
        (e - timedelta(days=2), "Karfreitag"),
        (e + timedelta(days=1), "Ostermontag"),
        (date(year, 5, 1), "Erster Mai"),
        (e + timedelta(days=39), "Christi Himmelfahrt"),
        (e + timedelta(days=50), "Pfingstmontag"),
        (e + timedelta(days=60), "Fronleichnam"),
        (date(year, 10, 3), "Tag der Deutschen Einheit"),
        (date(year, 12, 25), "Erster Weihnachtstag"),
        (date(year, 12, 26), "Zweiter Weihnachtstag"),
    ]:
        found.setdefault(day, []).append(name)
    return {day: " und ".join(sorted(names)) for day, names in found.items()}


def test_easter_algorithm_matches_known_dates():
    assert easter(2024) == date(2024, 3, 31)
    assert easter(2025) == date(2025, 4, 20)
    assert easter(2029) == date(2029, 4, 1)
    assert easter(2000) == date(2000, 4, 23)


@pytest.mark.parametrize("year", [2024, 2025])
def test_all_ten_hessian_holidays_are_not_working_days(year):
    expected = hessian_holidays(year)
    assert len(expected) == 10
    for day, name in expected.items():
        assert not HE.is_working_day(day), day
        assert HE.holiday(day) == name
        assert f"Feiertag in Hessen: {name}" in HE.reasons(day)


@pytest.mark.parametrize("year", [2024, 2025])
def test_no_other_weekday_of_the_year_is_a_holiday(year):
    expected = hessian_holidays(year)
    day = date(year, 1, 1)
    while day.year == year:
        assert (HE.holiday(day) is not None) == (day in expected), day
        day += timedelta(days=1)


def test_the_package_agrees_with_the_computed_holidays_2000_to_2100():
    for year in range(2000, 2101):
        start = date(year, 1, 1)
        days = [start + timedelta(days=i) for i in range((date(year + 1, 1, 1) - start).days)]
        found = {d: name for d in days if (name := HE.holiday(d)) is not None}
        expected = hessian_holidays(year)
        assert found.keys() == expected.keys(), year
        for day, name in found.items():  # the package's order of two names on one day
            assert sorted(name.split(" und ")) == expected[day].split(" und "), day


def test_two_holidays_on_one_day_are_both_reasons():
    may1 = date(2008, 5, 1)
    assert easter(2008) + timedelta(days=39) == may1  # Christi Himmelfahrt on 1 May
    assert sorted(HE.reasons(may1)) == [
        "Feiertag in Hessen: Christi Himmelfahrt",
        "Feiertag in Hessen: Erster Mai",
    ]
    assert HE.deadline_end(may1) == date(2008, 5, 2)


def test_fronleichnam_2025_is_a_holiday_in_hessen():
    d = date(2025, 6, 19)
    assert HE.holiday(d) == "Fronleichnam"
    assert not HE.is_working_day(d)
    assert HE.reasons(d) == ["Feiertag in Hessen: Fronleichnam"]
    assert HE.deadline_end(d) == date(2025, 6, 20)


def test_reformation_anniversary_2017_was_a_holiday_everywhere():
    assert HE.holiday(date(2017, 10, 31)) == "Reformationstag"
    assert HE.is_working_day(date(2018, 10, 31))


def test_reformationstag_is_a_working_day_in_hessen():
    d = date(2025, 10, 31)  # a Friday; a holiday in Saxony, not in Hessen
    assert d.weekday() == 4
    assert HE.holiday(d) is None
    assert HE.is_working_day(d)
    assert HE.reasons(d) == []
    assert WorkCalendar("SN").holiday(d) is not None


@pytest.mark.parametrize("day", [date(2024, 12, 24), date(2024, 12, 31)])
def test_closure_days_are_days_off_but_do_not_move_a_deadline(day):
    assert day.weekday() == 1  # both Tuesdays in 2024
    assert HE.is_closure_day(day)
    assert HE.holiday(day) is None
    assert not HE.is_working_day(day)
    assert HE.reasons(day) == [f"Schließtag (kein Feiertag): {day.day}. Dezember"]
    assert HE.deadline_end(day) == day


def test_reminders_skip_closure_days():
    # 23 Dec 2024 (Mon) -> next working day is 27 Dec (24 closure, 25/26 holidays)
    assert HE.next_working_day(date(2024, 12, 23)) == date(2024, 12, 27)
    assert HE.previous_working_day(date(2025, 1, 2)) == date(2024, 12, 30)
    assert HE.on_or_after(date(2024, 12, 24)) == date(2024, 12, 27)
    assert HE.on_or_before(date(2024, 12, 24)) == date(2024, 12, 23)


def test_deadline_on_saturday_ends_on_monday():
    assert date(2025, 5, 31).weekday() == 5
    assert HE.deadline_end(date(2025, 5, 31)) == date(2025, 6, 2)
    assert HE.reasons(date(2025, 5, 31)) == ["Samstag"]
    assert HE.reasons(date(2025, 6, 1)) == ["Sonntag"]


def test_deadline_on_good_friday_ends_after_easter_monday():
    assert HE.deadline_end(date(2024, 3, 29)) == date(2024, 4, 2)


def test_deadline_pushed_onto_a_closure_day_stays_there():
    # Sat 24 Dec 2022 -> Sun 25 (holiday) -> Mon 26 (holiday) -> Tue 27: a working day.
    assert HE.deadline_end(date(2022, 12, 24)) == date(2022, 12, 27)
    # Sun 30 Dec 2029 -> Mon 31 Dec 2029: a closure day, but not a holiday, so it stays.
    assert date(2029, 12, 30).weekday() == 6
    assert HE.deadline_end(date(2029, 12, 30)) == date(2029, 12, 31)


def _expected_deadline(day: date) -> date:
    """§ 31 Abs. 3 HVwVfG from first principles, using the independently computed holidays."""
    while day.weekday() >= 5 or day in hessian_holidays(day.year):
        day += timedelta(days=1)
    return day


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2024, date(2024, 4, 2)),  # Sunday; Monday 1 April is Ostermontag
        (2025, date(2025, 3, 31)),  # Monday: unchanged
        (2029, date(2029, 4, 3)),  # Saturday; 1 April Easter Sunday, 2 April Ostermontag
    ],
)
def test_31_march_deadline(year, expected):
    assert _expected_deadline(date(year, 3, 31)) == expected  # the claim itself, checked
    assert HE.deadline_end(date(year, 3, 31)) == expected
    explained = HE.explain(date(year, 3, 31))
    assert explained["deadline_end"] == expected.isoformat()
    assert explained["deadline_moved"] is (expected != date(year, 3, 31))


def test_add_working_days():
    monday = date(2025, 3, 31)
    assert HE.add_working_days(monday, 0) == monday
    assert HE.add_working_days(date(2025, 3, 29), 0) == date(2025, 3, 29)  # n=0: d itself
    assert HE.add_working_days(monday, -3) == date(2025, 3, 26)
    assert HE.add_working_days(monday, -1) == date(2025, 3, 28)  # over the weekend
    assert HE.add_working_days(date(2025, 3, 28), 1) == monday
    # across Easter 2025: Thu 17 Apr + 1 -> Tue 22 Apr (Karfreitag, weekend, Ostermontag)
    assert HE.add_working_days(date(2025, 4, 17), 1) == date(2025, 4, 22)
    assert HE.add_working_days(date(2025, 4, 22), -1) == date(2025, 4, 17)
    # across Fronleichnam: Wed 18 Jun 2025 + 2 -> Mon 23 Jun
    assert HE.add_working_days(date(2025, 6, 18), 2) == date(2025, 6, 23)
    # across Christmas and the closure days: Mon 23 Dec 2024 + 3 -> Thu 2 Jan 2025
    assert HE.add_working_days(date(2024, 12, 23), 3) == date(2025, 1, 2)


def test_configurable_closure_days_take_effect():
    custom = WorkCalendar(closure_days=((1, 2),))
    jan2 = date(2025, 1, 2)  # a Thursday
    assert custom.is_closure_day(jan2)
    assert not custom.is_working_day(jan2)
    assert custom.deadline_end(jan2) == jan2
    assert custom.next_working_day(date(2024, 12, 31)) == date(2025, 1, 3)
    # 24 and 31 December are ordinary working days when not configured
    assert custom.is_working_day(date(2024, 12, 24))
    assert not custom.is_closure_day(date(2024, 12, 31))
    assert WorkCalendar(closure_days=()).is_working_day(date(2024, 12, 24))


def test_explain_for_people():
    assert HE.explain(date(2025, 6, 19)) == {
        "date": "2025-06-19",
        "date_de": "19. Juni 2025",
        "weekday_de": "Donnerstag",
        "working_day": False,
        "reasons": ["Feiertag in Hessen: Fronleichnam"],
        "deadline_end": "2025-06-20",
        "deadline_end_de": "20. Juni 2025",
        "deadline_moved": True,
    }
    working = HE.explain(date(2025, 6, 3))
    assert working["working_day"] is True
    assert working["reasons"] == []
    assert working["deadline_moved"] is False


def test_unknown_subdivision_is_a_config_error():
    with pytest.raises(ConfigError, match=r"calendar\.subdivision"):
        WorkCalendar("XX")
    assert WorkCalendar("Hessen").subdivision == "HE"


DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31))


@given(DAYS)
def test_deadline_end_property(d):
    end = HE.deadline_end(d)
    assert end >= d
    assert end.weekday() < 5 and HE.holiday(end) is None
    between = d
    while between < end:
        assert between.weekday() >= 5 or HE.holiday(between) is not None
        between += timedelta(days=1)
    assert end == _expected_deadline(d)


@given(DAYS)
def test_working_day_neighbours_property(d):
    before = HE.previous_working_day(d)
    after = HE.next_working_day(d)
    assert before < d < after
    assert HE.is_working_day(before) and HE.is_working_day(after)
    assert HE.on_or_before(d) <= d <= HE.on_or_after(d)
    assert HE.is_working_day(d) == (HE.reasons(d) == [])


@given(DAYS, st.integers(min_value=-40, max_value=40))
def test_add_working_days_round_trip(d, n):
    moved = HE.add_working_days(d, n)
    if n:
        assert HE.is_working_day(moved)
        assert (moved > d) == (n > 0)
        if HE.is_working_day(d):
            assert HE.add_working_days(moved, -n) == d
    else:
        assert moved == d
