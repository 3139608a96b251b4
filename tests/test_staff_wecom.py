"""WeCom group-robot notifications against a local fake speaking the webhook protocol."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from bot.clock import FrozenClock
from bot.escalations import notify
from bot.runtime import Runtime
from models import Notification
from tests.conftest import eventually, make_settings
from tests.fake_wecom import FakeWecom
from tests.staff_helpers import conversation, escalate, make_staff


@pytest.fixture
async def wecom() -> AsyncIterator[FakeWecom]:
    fake = FakeWecom()
    yield fake
    await fake.close()


async def _rt(db_url: str, clock: FrozenClock, fake: FakeWecom, **wecom: Any) -> Runtime:
    base = await fake.start()
    settings = make_settings(db_url, wecom={"base_url": base, "robot_key": "robot-key",
                                            "timeout_seconds": 0.5, **wecom})
    return Runtime(settings=settings, clock=clock, channels={})


async def _send(rt: Runtime) -> int:
    async with aiohttp.ClientSession() as http:
        return await notify.send_due(rt, http)


@pytest.mark.usefixtures("orm")
async def test_new_escalations_are_merged_into_one_markdown_message(
        db_url: str, clock: FrozenClock, wecom: FakeWecom) -> None:
    rt = await _rt(db_url, clock, wecom)
    for i, name in enumerate(("张三", "李四", "王五")):
        await escalate(rt, await conversation(rt, name=name, phone=f"1381234567{i}"),
                       "red_flag", "urgent", "拔牙后一直出血")
    assert await _send(rt) == 3
    assert len(wecom.received) == 1
    msg = wecom.received[0]
    assert msg["msgtype"] == "markdown" and msg["key"] == "robot-key"
    content = msg["markdown"]["content"]
    assert "3 条待处理事项" in content and "升级" not in content  # 待处理, never "upgrade"
    assert content.count("/staff/escalations/") == 3
    assert "临床警示" in content and "口腔科" in content
    for secret in ("张三", "李四", "13812345670", "138****5670", "出血"):
        assert secret not in content  # an id and a link, nothing that identifies or diagnoses
    assert await Notification.filter(channel="wecom", status="sent").count() == 3
    assert await _send(rt) == 0


@pytest.mark.usefixtures("orm")
async def test_at_most_n_per_minute_per_robot_the_rest_waits(
        db_url: str, clock: FrozenClock, wecom: FakeWecom) -> None:
    rt = await _rt(db_url, clock, wecom, per_minute=2)
    for _ in range(2):
        await escalate(rt, await conversation(rt))
        assert await _send(rt) == 1
    await escalate(rt, await conversation(rt))
    await escalate(rt, await conversation(rt))
    assert await _send(rt) == 0  # the robot's minute is full: both wait, nothing is lost
    assert len(wecom.received) == 2
    clock.advance(timedelta(seconds=61))
    assert await _send(rt) == 2
    assert len(wecom.received) == 3  # the two waiting ones went together


@pytest.mark.usefixtures("orm")
@pytest.mark.parametrize(("trouble", "error"), [
    ("rate", "45009"),
    ("5xx", "HTTP 502"),
    ("stall", "TimeoutError"),
])
async def test_robot_trouble_is_retried_later(db_url: str, clock: FrozenClock,
                                              wecom: FakeWecom, trouble: str,
                                              error: str) -> None:
    rt = await _rt(db_url, clock, wecom)
    wecom.script = [trouble]
    wecom.stall_seconds = 2.0
    await escalate(rt, await conversation(rt))
    assert await _send(rt) == 0
    row = await Notification.get(channel="wecom")
    assert row.status == "queued" and error in (row.error or "") and row.attempts == 1
    assert await _send(rt) == 0  # not due yet
    clock.advance(timedelta(seconds=61))
    assert await _send(rt) == 1
    assert len(wecom.received) == 1


@pytest.mark.usefixtures("orm")
async def test_a_bad_key_fails_for_good_and_no_key_means_off(
        db_url: str, clock: FrozenClock, wecom: FakeWecom) -> None:
    rt = await _rt(db_url, clock, wecom, robot_key="wrong-key",
                   department_robots={"ortho": ""})
    await escalate(rt, await conversation(rt))
    await _send(rt)
    row = await Notification.get(channel="wecom")
    assert row.status == "failed" and "93000" in (row.error or "")

    other = FakeWecom()
    rt2 = await _rt(db_url, clock, other, robot_key="")
    await escalate(rt2, await conversation(rt2, "ortho"))
    await _send(rt2)
    await other.close()
    assert await Notification.filter(channel="wecom", status="off").count() == 1


async def test_department_robot_and_the_background_loop(
        db_url: str, clock: FrozenClock, wecom: FakeWecom, client_factory: Any) -> None:
    wecom.keys = {"robot-key", "ortho-key"}
    base = await wecom.start()
    settings = make_settings(db_url, wecom={"base_url": base, "robot_key": "robot-key",
                                            "department_robots": {"ortho": "ortho-key"}})
    client = await client_factory(settings, clock)
    from bot.keys import RUNTIME

    rt = client.server.app[RUNTIME]
    head = await make_staff("head", "head", depts=["ortho"])
    esc = await escalate(rt, await conversation(rt, "ortho"), "red_flag", "urgent")
    await eventually(lambda: _received(wecom, 1))
    assert wecom.received[0]["key"] == "ortho-key"
    # 31 minutes without a response: the loop climbs the ladder and tells the group and head.
    clock.advance(timedelta(minutes=31))
    rt.staff_waker.wake()
    await eventually(lambda: _received(wecom, 2))
    assert "超时" in wecom.received[1]["markdown"]["content"]
    assert await Notification.filter(channel="app", staff_id=head.id,
                                     event="breach1", escalation_id=esc.id).exists()


async def _received(fake: FakeWecom, n: int) -> bool:
    return len(fake.received) >= n
