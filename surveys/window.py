"""Send windows: when a message may reach a person (never in their rest hours). Pure."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class SendWindow:
    """Quiet hours (may span midnight), days with no sending, and how to spread a backlog."""

    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 30)
    no_send_weekdays: Collection[int] = field(default_factory=frozenset)  # 1 = Monday
    no_send_dates: Collection[date] = field(default_factory=frozenset)
    spread_minutes: int = 60

    def is_quiet(self, t: time) -> bool:
        """True when ``t`` (local wall time) falls in the quiet hours."""
        s, e = self.quiet_start, self.quiet_end
        if s == e:
            return False
        if s < e:
            return s <= t < e
        return t >= s or t < e

    def day_blocked(self, d: date) -> bool:
        """True on a no-send weekday or date."""
        return d.isoweekday() in self.no_send_weekdays or d in self.no_send_dates


def _spread(key: int, minutes: int) -> timedelta:
    """A stable offset in [0, minutes) for ``key``: a backlog leaves in a trickle, not a burst."""
    if minutes <= 0:
        return timedelta(0)
    h = (key * 2654435761) & 0xFFFFFFFF  # Knuth's multiplicative hash: cheap and well spread
    return timedelta(seconds=int(h / 2**32 * minutes * 60))


def next_send_time(at: datetime, tz: ZoneInfo, window: SendWindow, key: int = 0) -> datetime:
    """The first moment at or after ``at`` when sending is allowed.

    A time inside the quiet hours or on a blocked day moves to when the window next opens,
    plus a stable per-``key`` spread so that the night's backlog does not go out at once.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    local = at.astimezone(tz)
    moved = False
    for _ in range(400):  # bounded: a year of blocked days is a configuration error
        if window.day_blocked(local.date()):
            local = datetime.combine(local.date() + timedelta(days=1), window.quiet_end, tz)
            moved = True
            continue
        if window.is_quiet(local.timetz().replace(tzinfo=None)):
            opens = datetime.combine(local.date(), window.quiet_end, tz)
            if opens <= local:
                opens += timedelta(days=1)
            local = opens
            moved = True
            continue
        break
    else:
        raise ValueError("no allowed send time within a year: check no_send_weekdays/dates")
    if moved:
        local = local + _spread(key, window.spread_minutes)
        if window.is_quiet(local.timetz().replace(tzinfo=None)):
            local = datetime.combine(local.date(), window.quiet_end, tz)
    return local
