"""Periods of the tallies: local days bucketed into weeks, months and quarters, and ranges.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from bot.analytics.figures import TallyError

PERIODS = ("all", "day", "week", "month", "quarter")


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def bucket(day: str, period: str) -> str:
    """The period a local day (YYYY-MM-DD) falls in."""
    if period == "all":
        return ""
    if period == "day":
        return day
    if period == "month":
        return day[:7]
    if period == "quarter":
        return f"{day[:4]}-Q{(int(day[5:7]) + 2) // 3}"
    if period == "week":
        return week_start(date.fromisoformat(day)).isoformat()
    raise TallyError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")


def parse_range(text: str) -> tuple[date, date]:
    """A period as typed by a manager → first and last local day (inclusive).

    Accepts ``2026-10`` (a month), ``2026-Q4``, ``2026`` (a year), ``2026-11-16`` (a day) and
    ``2026-10-01..2026-10-31`` (a custom range).
    """
    s = text.strip()
    try:
        if ".." in s:
            a, b = (x.strip() for x in s.split("..", 1))
            first, last = date.fromisoformat(a), date.fromisoformat(b)
            if last < first:
                raise TallyError(f"range {text!r} ends before it starts")
            return first, last
        if m := re.fullmatch(r"(\d{4})-[Qq]([1-4])", s):
            y, q = int(m.group(1)), int(m.group(2))
            first = date(y, 3 * q - 2, 1)
            return first, _month_end(date(y, 3 * q, 1))
        if re.fullmatch(r"\d{4}-\d{2}", s):
            first = date.fromisoformat(s + "-01")
            return first, _month_end(first)
        if re.fullmatch(r"\d{4}", s):
            return date(int(s), 1, 1), date(int(s), 12, 31)
        d = date.fromisoformat(s)
        return d, d
    except ValueError as e:
        if isinstance(e, TallyError):
            raise
        raise TallyError(
            f"cannot read period {text!r}: use 2026-10 (month), 2026-Q4, 2026, 2026-11-16 or "
            "2026-10-01..2026-10-31"
        ) from None


def _month_end(first: date) -> date:
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def _period_bounds(period: str, key: str) -> tuple[date, date]:
    if period == "day":
        d = date.fromisoformat(key)
        return d, d
    if period == "week":
        d = date.fromisoformat(key)
        return d, d + timedelta(days=6)
    return parse_range(key)
