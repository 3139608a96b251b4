"""The planner writes a check-in's first message already leased to its own worker and hands
it to that worker's sender: no second lease, and no other worker sends it unless the opener
dies (the lease expires) or lets the lease run low."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bot import importer, outbox, planner
from bot.channels.base import Outgoing, SendResult
from bot.clock import FrozenClock
from bot.leases import lease
from bot.runtime import Runtime
from models import CheckIn, CheckinStatus, Contact, Message, MessageStatus
from tests.conftest import BACKEND, make_settings

SHANGHAI_10AM_NEXT_DAY = datetime.fromisoformat("2026-11-17T11:00:00+08:00")


@dataclass
class Recorder:
    """A channel at the boundary that accepts everything and remembers what it sent."""

    name: str = "sms"
    calls: list[Outgoing] = field(default_factory=list)

    def can_reach(self, phone: str | None, openid: str | None) -> bool:
        return phone is not None

    async def send(self, msg: Outgoing) -> SendResult:
        self.calls.append(msg)
        return SendResult(provider_msg_id=f"p{len(self.calls)}")


@pytest.fixture
def workers(db_url: str, clock: FrozenClock, orm: None) -> tuple[Runtime, Runtime]:
    """Two workers on one database, each with its own channel."""
    settings = make_settings(db_url, send_window={"spread_minutes": 0})
    return (Runtime(settings=settings, clock=clock, channels={"sms": Recorder()}),
            Runtime(settings=settings, clock=clock, channels={"sms": Recorder()}))


async def opened_by(rt: Runtime, clock: FrozenClock) -> Message:
    await importer.import_rows(rt, [(1, {
        "external_id": "H1", "person_name": "张三", "contact_phone": "13800001111",
        "occurred_at": "2026-11-16 08:00", "department": "dental"})], "t")
    clock.set(SHANGHAI_10AM_NEXT_DAY)
    assert await planner.open_due(rt) == 1
    return await Message.get(direction="out")


def calls(rt: Runtime) -> list[Outgoing]:
    ch = rt.channels["sms"]
    assert isinstance(ch, Recorder)
    return ch.calls


async def test_the_opener_sends_from_memory_and_no_one_else_takes_it(
        workers: tuple[Runtime, Runtime], clock: FrozenClock) -> None:
    a, b = workers
    msg = await opened_by(a, clock)
    # Stored before any send, with the opener's lease on it.
    assert msg.status == MessageStatus.QUEUED
    assert msg.lease_owner is not None and msg.lease_owner.startswith(a.worker_id)
    assert await outbox.send_due(b) == 0 and calls(b) == []
    assert await outbox.send_due(a) == 1
    assert [c.message_id for c in calls(a)] == [msg.id]
    await msg.refresh_from_db()
    assert (msg.status, msg.lease_owner, msg.attempts) == (MessageStatus.SENT, None, 1)
    assert await outbox.send_due(a) == 0 and await outbox.send_due(b) == 0
    assert len(calls(a)) == 1 and calls(b) == []


async def test_a_dead_openers_message_goes_out_once_its_lease_expires(
        workers: tuple[Runtime, Runtime], clock: FrozenClock) -> None:
    a, b = workers
    msg = await opened_by(a, clock)
    a.outbox_handoff.clear()  # the opener dies before sending
    assert await outbox.send_due(b) == 0
    clock.advance(timedelta(seconds=a.settings.worker.lease_seconds + 1))
    assert await outbox.send_due(b) == 1
    assert [c.message_id for c in calls(b)] == [msg.id] and calls(a) == []


async def test_a_handed_message_whose_lease_ran_low_is_leased_afresh_and_sent_once(
        workers: tuple[Runtime, Runtime], clock: FrozenClock) -> None:
    a, b = workers
    msg = await opened_by(a, clock)
    clock.advance(timedelta(seconds=a.settings.worker.lease_seconds * 0.6))
    assert await outbox.send_due(a) == 1
    assert [c.message_id for c in calls(a)] == [msg.id]
    assert not a.outbox_handoff
    clock.advance(timedelta(seconds=a.settings.worker.lease_seconds + 1))
    assert await outbox.send_due(b) == 0 and await outbox.send_due(a) == 0
    assert len(calls(a)) == 1 and calls(b) == []


async def test_an_opt_out_between_opening_and_sending_withdraws_the_handed_message(
        workers: tuple[Runtime, Runtime], clock: FrozenClock) -> None:
    a, _ = workers
    msg = await opened_by(a, clock)
    clock.advance(timedelta(seconds=1))
    await Contact.filter(id=msg.contact_id).update(opted_out_at=clock.now())
    assert await outbox.send_due(a) == 1
    await msg.refresh_from_db()
    assert (msg.status, msg.error) == (MessageStatus.FAILED, "contact opted out")
    assert calls(a) == []


async def test_a_worker_shutting_down_gives_back_what_it_had_not_taken(
        workers: tuple[Runtime, Runtime], clock: FrozenClock) -> None:
    a, b = workers
    msg = await opened_by(a, clock)
    assert await outbox.release_handoff(a) == 1
    assert not a.outbox_handoff
    assert await outbox.send_due(b) == 1  # at once, not after the lease
    assert [c.message_id for c in calls(b)] == [msg.id] and calls(a) == []


async def test_the_opened_checkin_reads_back_as_the_orm_would_write_it(
        workers: tuple[Runtime, Runtime], clock: FrozenClock) -> None:
    a, _ = workers
    msg = await opened_by(a, clock)
    c = await CheckIn.get()
    now = clock.now()
    hours = a.settings.checkin.reply_window_hours
    assert (c.status, c.channel, c.attempts, c.lease_owner, c.lease_until) == (
        CheckinStatus.OPENED, "sms", 1, None, None)
    assert c.opened_at == now and c.last_attempt_at == now
    assert c.expires_at == now + timedelta(hours=hours)
    assert c.opened_at is not None and c.opened_at.utcoffset() is not None
    # and the ORM's own filters find it by those values
    assert await CheckIn.filter(opened_at=now, expires_at__gt=now).count() == 1
    assert msg.conversation_id is not None


@pytest.mark.skipif(BACKEND != "postgres", reason="concurrent leases need two connections")
async def test_two_workers_leasing_at_once_never_get_the_same_message(
        workers: tuple[Runtime, Runtime], clock: FrozenClock) -> None:
    # Before, tortoise's values_list() dropped the subquery's FOR UPDATE SKIP LOCKED: the
    # second lease waited for the first's row locks, then took the same rows over.
    contact = await Contact.create(name="张三", phone="13800001234")
    async with in_transaction() as conn:
        for i in range(300):
            await outbox.queue(conn, key=f"race:{i}", channel="simulator", contact_id=contact.id,
                               conversation_id=None, body="x", now=clock.now())
    due = Q(direction="out", status="queued", next_attempt_at__lte=clock.now())
    for _ in range(5):
        a, b = await asyncio.gather(*(
            lease(Message, due, now=clock.now(), owner=f"w{i}", seconds=60, limit=100,
                  fields=("id",), previous=i == 1) for i in range(2)))
        ids_a, ids_b = {r["id"] for r in a}, {r["id"] for r in b}
        assert not ids_a & ids_b and len(ids_a) == len(ids_b) == 100
        await Message.all().update(lease_owner=None, lease_until=None)
