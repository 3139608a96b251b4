"""Send windows, table-driven: quiet hours, blocked days, spreading."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from surveys.window import SendWindow, next_send_time
from tests.conftest import SHANGHAI

W = SendWindow(spread_minutes=0)


def at(d: int, hh: int, mm: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, d, hh, mm, tzinfo=SHANGHAI)


@pytest.mark.parametrize(("when", "window", "expected"), [
    (at(16, 10), W, at(16, 10)),                         # open: unchanged
    (at(16, 21, 0), W, at(17, 8, 30)),                   # quiet starts at 21:00
    (at(16, 20, 59), W, at(16, 20, 59)),
    (at(16, 23, 30), W, at(17, 8, 30)),                  # across midnight
    (at(17, 3, 0), W, at(17, 8, 30)),                    # early morning
    (at(17, 8, 30), W, at(17, 8, 30)),                   # window opens exactly
    (at(16, 13), SendWindow(time(12), time(14), spread_minutes=0), at(16, 14)),  # siesta
    (at(21, 10), SendWindow(no_send_weekdays={6, 7}, spread_minutes=0), at(23, 8, 30)),
    (at(20, 22), SendWindow(no_send_weekdays={6, 7}, spread_minutes=0), at(23, 8, 30)),
    (at(1, 10, month=10), SendWindow(no_send_dates={date(2026, 10, 1), date(2026, 10, 2)},
                                     spread_minutes=0), at(3, 8, 30, month=10)),
    (at(16, 22), SendWindow(time(0, 0), time(0, 0), spread_minutes=0), at(16, 22)),  # no quiet
])
def test_next_send_time(when: datetime, window: SendWindow, expected: datetime) -> None:
    assert next_send_time(when, SHANGHAI, window) == expected


def test_backlog_is_spread_but_stays_in_the_window() -> None:
    w = SendWindow(spread_minutes=60)
    times = [next_send_time(at(16, 23), SHANGHAI, w, key=k) for k in range(200)]
    assert min(times) >= at(17, 8, 30) and max(times) < at(17, 9, 30)
    assert len({t.minute for t in times}) > 30  # not one burst
    assert next_send_time(at(16, 10), SHANGHAI, w, key=7) == at(16, 10)  # open: no delay


def test_a_window_that_never_opens_is_an_error() -> None:
    with pytest.raises(ValueError, match="no allowed send time"):
        next_send_time(at(16, 10), SHANGHAI, SendWindow(no_send_weekdays=set(range(1, 8))))
