"""Helpers for the phone follow-up tests: the app against the Aliyun voice and SMS fakes,
visits through the import API, receipts pushed as Aliyun pushes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.clock import FrozenClock
from bot.keys import RUNTIME
from models import Answer, Call, CallTask, Message
from tests.conftest import SHANGHAI, eventually, make_settings
from tests.fake_aliyun import FakeAliyunSms, sms_section
from tests.fake_aliyun_vms import VOICE_TOKEN, FakeAliyunVms, PlacedCall, voice_section
from tests.loop_helpers import import_visits


def at(day: int, hh: int, mm: int = 0) -> datetime:
    """A moment of November 2026, Shanghai time (the 16th is a Monday)."""
    return datetime(2026, 11, day, hh, mm, tzinfo=SHANGHAI)


def elder(external_id: str, phone: str, **more: str) -> dict[str, str]:
    """A visit by an 88-year-old marked phone only (回访方式 仅电话), as a hospital sends it."""
    row = {"external_id": external_id, "person_name": "王奶奶", "contact_phone": phone,
           "occurred_at": "2026-11-16 09:30", "department": "dental",
           "department_name": "口腔科", "出生日期": "1938-05-01", "回访方式": "仅电话"}
    row.update(more)
    return row


def phone_settings(db_url: str, vms: FakeAliyunVms, sms: FakeAliyunSms | None = None,
                   **sections: Any) -> Any:
    """Voice (and SMS) pointing at the fakes; a visit's check-in is due 3 hours later."""
    extra: dict[str, Any] = {"voice": voice_section(vms, **sections.pop("voice", {})),
                             "channels": {"order": ["sms", "voice"]},
                             "schedules": {"default": ["3h"]},
                             "send_window": {"spread_minutes": 0}}
    if sms is not None:
        extra["sms"] = sms_section(sms)
    for name, values in sections.items():
        if isinstance(values, dict) and isinstance(extra.get(name), dict):
            extra[name] = {**extra[name], **values}
        else:
            extra[name] = values
    return make_settings(db_url, **extra)


async def start(client_factory: Any, settings: Any, clock: FrozenClock,
                *visits: dict[str, str]) -> Any:
    """The real app on the fakes, with the visits imported."""
    client = await client_factory(settings, clock)
    if visits:
        await import_visits(client, *visits)
    return client


def wake(client: Any) -> None:
    """Nudge the background loops (the clock moved)."""
    rt = client.server.app[RUNTIME]
    for w in (rt.planner_waker, rt.outbox_waker, rt.inbox_waker):
        w.wake()


async def calls_placed(client: Any, vms: FakeAliyunVms, n: int) -> PlacedCall:
    """Wait until the fake accepted ``n`` IvrCalls; the newest."""
    async def placed() -> bool:
        wake(client)
        return len(vms.ivr_calls()) >= n
    await eventually(placed)
    # and recorded: the call row has its provider id
    call = vms.ivr_calls()[n - 1]
    await eventually(lambda: Call.filter(provider_call_id=call.call_id).exists())
    return call


async def push(client: Any, items: list[dict[str, Any]], token: str = VOICE_TOKEN
               ) -> tuple[int, Any]:
    """POST receipts to the voice callback as Aliyun does."""
    url = str(client.make_url(f"/voice/aliyun/report/{token}"))
    return await FakeAliyunVms.push(url, items)


async def answers(question: str = "overall") -> list[Answer]:
    """The recorded answers to one question."""
    return await Answer.filter(question_id=question).order_by("id")


async def task_listed() -> CallTask:
    """The call list task, once it exists."""
    return await eventually(lambda: CallTask.first())


async def sent_sms(sms: FakeAliyunSms) -> list[str]:
    """The content of every SMS the fake accepted."""
    return [s.params.get("content") or s.params.get("name", "") for s in sms.sent]


async def outbound(contact_id: int) -> list[Message]:
    """Everything written for this person, oldest first."""
    return await Message.filter(contact_id=contact_id, direction="out").order_by("id")
