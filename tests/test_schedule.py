"""Schedules: offsets and due times, table-driven."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from surveys.schedule import Offset, add_working_days, due_at, parse_offset
from tests.conftest import SHANGHAI


@pytest.mark.parametrize(("text", "expected"), [
    ("3h", Offset(3, "h")), ("1d", Offset(1, "d")), (" 3wd ", Offset(3, "wd")),
    ("2w", Offset(2, "w")), ("0d", Offset(0, "d")),
])
def test_parse_offset(text: str, expected: Offset) -> None:
    assert parse_offset(text) == expected


@pytest.mark.parametrize("bad", ["", "1", "d", "1y", "-1d", "1.5d", "3 days"])
def test_parse_offset_rejects_with_the_allowed_forms(bad: str) -> None:
    with pytest.raises(ValueError, match="wd \\(working days\\)"):
        parse_offset(bad)


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


TEN = time(10, 0)


@pytest.mark.parametrize(("occurred", "offset", "expected"), [
    (at(2026, 11, 16, 14, 30), "3h", at(2026, 11, 16, 17, 30)),      # hours are exact
    (at(2026, 11, 16, 14, 30), "1d", at(2026, 11, 17, 10, 0)),       # next day at send time
    (at(2026, 11, 16, 8, 0), "0d", at(2026, 11, 16, 10, 0)),         # same day, send time
    (at(2026, 11, 16, 14, 0), "0d", at(2026, 11, 16, 14, 0)),        # same day, not before it
    (at(2026, 11, 20, 9, 0), "3wd", at(2026, 11, 25, 10, 0)),        # Fri + 3 working days
    (at(2026, 11, 16, 9, 0), "2w", at(2026, 11, 30, 10, 0)),
    (at(2026, 11, 16, 23, 30), "1d", at(2026, 11, 17, 10, 0)),       # local date, not UTC
])
def test_due_at(occurred: datetime, offset: str, expected: datetime) -> None:
    assert due_at(occurred, parse_offset(offset), SHANGHAI, TEN) == expected


def test_due_at_needs_aware_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due_at(datetime(2026, 1, 1), Offset(1, "d"), SHANGHAI, TEN)  # noqa: DTZ001


def test_working_days_use_the_given_calendar() -> None:
    holidays = {date(2026, 11, 18)}
    def workday(d: date) -> bool:
        return d.weekday() < 5 and d not in holidays
    assert add_working_days(date(2026, 11, 17), 1, workday) == date(2026, 11, 19)
    assert add_working_days(date(2026, 11, 21), 0, workday) == date(2026, 11, 23)
