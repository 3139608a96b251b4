"""Working days: China's official calendar (``chinesecalendar``) plus configured overrides.

``chinesecalendar`` knows the State Council's holiday and make-up-day schedule only for the
years it ships (up to 2026 in 1.11). Later years come from ``[calendar]`` overrides; a year
known to neither falls back to Monday–Friday, and start-up warns about it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import chinese_calendar


def _known_years() -> range:
    years = sorted({d.year for d in chinese_calendar.holidays})
    return range(years[0], years[-1] + 1)


KNOWN_YEARS = _known_years()


class WorkCalendar:
    """Decides whether a date is a working day."""

    def __init__(self, holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> None:
        self.holidays = frozenset(holidays)
        self.workdays = frozenset(workdays)
        self._override_years = {d.year for d in self.holidays | self.workdays}

    def is_workday(self, day: date) -> bool:
        """True on working days, including make-up weekend days."""
        if day in self.holidays:
            return False
        if day in self.workdays:
            return True
        if day.year in KNOWN_YEARS:
            return bool(chinese_calendar.is_workday(day))
        return day.weekday() < 5

    def knows(self, year: int) -> bool:
        """True when the official calendar or the overrides cover ``year``."""
        return year in KNOWN_YEARS or year in self._override_years

    def warnings(self, today: date) -> list[str]:
        """Start-up warnings for the current and next year when neither source knows them."""
        return [
            f"working days for {y} are unknown: chinesecalendar covers "
            f"{KNOWN_YEARS.start}–{KNOWN_YEARS.stop - 1}; add {y}'s holidays and make-up days "
            f"to [calendar] holidays / workdays (until then Monday–Friday is assumed)"
            for y in (today.year, today.year + 1) if not self.knows(y)
        ]
