"""Schedules: when check-ins are due after an episode. Pure date arithmetic."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

_OFFSET = re.compile(r"^\s*(\d{1,4})\s*(h|d|wd|w)\s*$")

Unit = Literal["h", "d", "wd", "w"]


@dataclass(frozen=True, slots=True)
class Offset:
    """An offset after the episode: hours, days, working days or weeks."""

    amount: int
    unit: Unit

    @property
    def label(self) -> str:
        """Canonical text form, e.g. ``3wd``; also the check-in's idempotency label."""
        return f"{self.amount}{self.unit}"


def parse_offset(text: str) -> Offset:
    """Parse ``3h``, ``1d``, ``3wd`` (working days) or ``2w``; ValueError says what is allowed."""
    m = _OFFSET.match(text)
    if not m:
        raise ValueError(
            f"offset {text!r} not understood: use a whole number followed by h (hours), "
            "d (days), wd (working days) or w (weeks), e.g. \"3h\", \"1d\", \"3wd\""
        )
    return Offset(int(m.group(1)), m.group(2))  # type: ignore[arg-type]


def weekday_is_workday(day: date) -> bool:
    """Fallback working-day rule: Monday to Friday."""
    return day.weekday() < 5


def add_working_days(day: date, n: int, is_workday: Callable[[date], bool]) -> date:
    """The n-th working day after ``day`` (n = 0: ``day`` itself or the next working day)."""
    d = day
    if n == 0:
        while not is_workday(d):
            d += timedelta(days=1)
        return d
    count = 0
    while count < n:
        d += timedelta(days=1)
        if is_workday(d):
            count += 1
    return d


def due_at(
    occurred_at: datetime,
    offset: Offset,
    tz: ZoneInfo,
    send_time: time,
    is_workday: Callable[[date], bool] = weekday_is_workday,
) -> datetime:
    """When a check-in ``offset`` after ``occurred_at`` is due (aware, in ``tz``).

    Hour offsets are exact. Day-based offsets fall on the local date and go out at
    ``send_time`` — or, for day 0, no earlier than the episode itself.
    """
    if occurred_at.tzinfo is None:
        raise ValueError("occurred_at must be timezone-aware")
    local = occurred_at.astimezone(tz)
    if offset.unit == "h":
        return local + timedelta(hours=offset.amount)
    if offset.unit == "wd":
        day = add_working_days(local.date(), offset.amount, is_workday)
    else:
        days = offset.amount * (7 if offset.unit == "w" else 1)
        day = local.date() + timedelta(days=days)
    at = datetime.combine(day, send_time, tzinfo=tz)
    return max(at, local) if day == local.date() else at
