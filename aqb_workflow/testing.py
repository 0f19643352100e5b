"""Small honest fakes shipped with the package, for our tests and for anyone embedding aqb."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class FixedClock:
    """A clock that stands still until told to move.

    >>> clock = FixedClock(datetime(2024, 7, 1, 8, tzinfo=UTC))
    >>> clock.advance(days=1).now().day
    2
    """

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def advance(self, **delta: float) -> FixedClock:
        self._at += timedelta(**delta)
        return self

    def set(self, at: datetime) -> FixedClock:
        self._at = at.astimezone(UTC)
        return self
