"""A drill at midnight: quiet hours off and a 0h schedule send a check-in at once.

A hospital testing its set-up imports a member of staff as a visit at any hour and expects
the check-in on that phone within seconds. With the window on, the same import waits for
the morning.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest

from bot.clock import FrozenClock
from models import CheckIn, Message
from tests.conftest import SHANGHAI, eventually, make_settings

VISIT = {"external_id": "DRILL-1", "person_name": "测试员", "contact_phone": "13800009999",
         "occurred_at": "2026-11-16 23:40", "department": "dental"}


@pytest.mark.parametrize("window_on", [False, True])
async def test_a_midnight_drill_sends_at_once_only_with_the_window_off(
        window_on: bool, db_url: str, client_factory: Any) -> None:
    clock = FrozenClock(datetime(2026, 11, 16, 23, 45, tzinfo=SHANGHAI))  # in quiet hours
    settings = make_settings(db_url, send_window={"enabled": window_on},
                             schedules={"default": ["0h"]})
    client = await client_factory(settings, clock)
    r = await client.post("/api/episodes", json={"source": "his", "episodes": [VISIT]},
                          headers={"Authorization": "Bearer test-key"})
    assert r.status == 200, await r.text()
    checkin = await eventually(lambda: CheckIn.get_or_none())
    assert checkin.due_at == datetime(2026, 11, 16, 23, 40, tzinfo=SHANGHAI)
    if window_on:
        # Held for the morning (08:30 plus the spread), not sent in the night: the loops poll
        # every 0.05 s, so a few dozen ticks pass before this looks.
        await asyncio.sleep(1.0)
        assert not await Message.filter(direction="out").exists()
        opens = (await CheckIn.get(id=checkin.id)).send_at.astimezone(SHANGHAI)
        assert opens.date().day == 17 and (opens.hour, opens.minute) >= (8, 30)
    else:
        sent = await eventually(lambda: Message.get_or_none(direction="out", kind="checkin"))
        assert "测试员" in sent.body
