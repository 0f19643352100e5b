"""Working days, holidays and deadlines in Hessen (or another German state).

Pure: no I/O, no clock. Two rules that look alike but are not:

* A *deadline* (Frist) that ends on a Saturday, Sunday or public holiday ends at the end of
  the next working day (§ 31 Abs. 3 HVwVfG). Only weekends and statutory holidays move it.
* *Closure days* (24 and 31 December by default) are days off for state staff but not
  holidays: they never move a deadline, yet no reminder should go out on them, so they count
  as days off for everything except :meth:`WorkCalendar.deadline_end`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

# The country class itself, not ``holidays.Germany``: the package builds that name lazily,
# so type checkers cannot see it.
from holidays.countries.germany import Germany

from aqb_workflow.domain.formats import MONTHS_DE, format_date_de
from aqb_workflow.errors import ConfigError

WEEKDAYS_DE = (
    "Montag",
    "Dienstag",
    "Mittwoch",
    "Donnerstag",
    "Freitag",
    "Samstag",
    "Sonntag",
)

_ONE_DAY = timedelta(days=1)


def _state_names() -> dict[str, str]:
    """Subdivision code -> German state name (``HE`` -> ``Hessen``), from the package itself."""
    return {code: name for name, code in Germany.subdivisions_aliases.items()}


class WorkCalendar:
    """Holidays of one German state plus configurable closure days, cached per year."""

    def __init__(
        self,
        subdivision: str = "HE",
        closure_days: Iterable[tuple[int, int]] = ((12, 24), (12, 31)),
    ) -> None:
        known: tuple[str, ...] = tuple(Germany.subdivisions)
        code = Germany.subdivisions_aliases.get(subdivision, subdivision)
        if code not in known:
            # Refuse at construction, not on the first lookup deep inside a reminder run.
            raise ConfigError(
                f"calendar.subdivision: {subdivision!r} is not a German state "
                f"(one of {', '.join(known)})"
            )
        self.subdivision = code
        self.state_name = _state_names().get(code, code)
        self.closure_days: frozenset[tuple[int, int]] = frozenset(closure_days)
        self._years: dict[int, dict[date, tuple[str, ...]]] = {}

    # -- what kind of day ------------------------------------------------------------------

    def _holidays_of(self, year: int) -> dict[date, tuple[str, ...]]:
        cached = self._years.get(year)
        if cached is None:
            # language="de" explicitly: without it the names follow the process locale and
            # come out in English under LANG=C.UTF-8 ("Christmas Day").
            source = Germany(subdiv=self.subdivision, years=year, language="de")
            # Two holidays can fall on one day (Christi Himmelfahrt on 1 May 2008): keep both.
            cached = {day: tuple(source.get_list(day)) for day in source}
            self._years[year] = cached
        return cached

    def holiday(self, d: date) -> str | None:
        """The German name of the statutory holiday on ``d`` (``Fronleichnam``), else None.

        Two holidays on one day read ``Christi Himmelfahrt und Erster Mai``.
        """
        names = self._holidays_of(d.year).get(d)
        return " und ".join(names) if names else None

    def is_weekend(self, d: date) -> bool:
        return d.weekday() >= 5

    def is_closure_day(self, d: date) -> bool:
        """A configured day off that is not a holiday (24 and 31 December by default)."""
        return (d.month, d.day) in self.closure_days

    def is_working_day(self, d: date) -> bool:
        return not (self.is_weekend(d) or self.holiday(d) is not None or self.is_closure_day(d))

    def _moves_deadline(self, d: date) -> bool:
        # § 31 Abs. 3 HVwVfG names Saturdays, Sundays and public holidays, nothing else.
        return self.is_weekend(d) or self.holiday(d) is not None

    def reasons(self, d: date) -> list[str]:
        """Why ``d`` is not a working day, in German; empty for a working day."""
        found: list[str] = []
        if self.is_weekend(d):
            found.append(WEEKDAYS_DE[d.weekday()])
        names = self._holidays_of(d.year).get(d, ())
        found += [f"Feiertag in {self.state_name}: {name}" for name in names]
        if not names and self.is_closure_day(d):
            found.append(f"Schließtag (kein Feiertag): {d.day}. {MONTHS_DE[d.month - 1]}")
        return found

    # -- deadlines and working-day arithmetic ----------------------------------------------

    def deadline_end(self, d: date) -> date:
        """The day a deadline nominally ending on ``d`` really ends (§ 31 Abs. 3 HVwVfG).

        Saturdays, Sundays and public holidays push it to the next day that is none of these.
        Closure days are not holidays: a deadline ending on 24 December ends on 24 December,
        and one pushed onto a closure day stays there.
        """
        while self._moves_deadline(d):
            d += _ONE_DAY
        return d

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``; closure days are skipped (no reminders)."""
        d += _ONE_DAY
        while not self.is_working_day(d):
            d += _ONE_DAY
        return d

    def previous_working_day(self, d: date) -> date:
        """The last working day strictly before ``d``; closure days are skipped (no reminders)."""
        d -= _ONE_DAY
        while not self.is_working_day(d):
            d -= _ONE_DAY
        return d

    def on_or_after(self, d: date) -> date:
        """``d`` if it is a working day, else the next one."""
        return d if self.is_working_day(d) else self.next_working_day(d)

    def on_or_before(self, d: date) -> date:
        """``d`` if it is a working day, else the previous one."""
        return d if self.is_working_day(d) else self.previous_working_day(d)

    def add_working_days(self, d: date, n: int) -> date:
        """Count ``n`` working days from ``d`` (backwards if negative); ``n == 0`` is ``d``.

        ``d`` itself is never counted: 3 working days before Monday 31 March 2025 is
        Wednesday 26 March 2025.
        """
        step = self.next_working_day if n > 0 else self.previous_working_day
        for _ in range(abs(n)):
            d = step(d)
        return d

    # -- for people ------------------------------------------------------------------------

    def explain(self, d: date) -> dict[str, str | bool | list[str]]:
        """Everything about ``d`` a person asks: working day or not, why, and deadline end."""
        end = self.deadline_end(d)
        return {
            "date": d.isoformat(),
            "date_de": format_date_de(d),
            "weekday_de": WEEKDAYS_DE[d.weekday()],
            "working_day": self.is_working_day(d),
            "reasons": self.reasons(d),
            "deadline_end": end.isoformat(),
            "deadline_end_de": format_date_de(end),
            "deadline_moved": end != d,
        }
