"""Rows written by bot.bulk read back exactly as rows written by the ORM (both databases)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from tortoise.exceptions import ValidationError

from bot import bulk, outbox
from bot.clock import FrozenClock
from models import Contact, Direction, Message, MessageStatus

pytestmark = pytest.mark.usefixtures("orm")


def _row(key: str, now: datetime, contact_id: int, **over: object) -> dict[str, object]:
    return {**outbox.new_row(key=key, channel="wechat", contact_id=contact_id,
                             conversation_id=None, body="您好，回访", now=now, kind="checkin",
                             params={"person_name": "张三", "n": 1}), **over}


def _comparable(m: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in m.items() if k not in ("id", "dedupe_key")}


@pytest.mark.parametrize("over", [
    {},  # ints, strs, enums, JSON and datetimes, the values planner rows carry
    {"attempts": 3, "error": "x" * 255, "sender": "staff:7", "provider_msg_id": None},
    {"status": "sent", "direction": "out"},  # plain strings where enums are usual
    {"next_attempt_at": datetime(2026, 11, 16, 1, 0).astimezone()},  # another zone
])
async def test_bulk_insert_reads_back_like_the_orm(clock: FrozenClock,
                                                   over: dict[str, object]) -> None:
    contact = await Contact.create(name="张三", phone="13900000000")
    now = clock.now()
    await Message.create(**_row("orm", now, contact.id, **over))
    # Two rows sharing objects (now, params): converted once, written for both.
    shared = _row("bulk-a", now, contact.id, **over)
    await bulk.insert(Message._meta.db, Message, [shared, {**shared, "dedupe_key": "bulk-b"}])
    orm, a, b = [_comparable(m) for m in await Message.all().order_by("id").values()]
    assert a == orm and b == orm
    assert orm["status"] == MessageStatus(str(over.get("status", MessageStatus.QUEUED)))
    assert orm["direction"] == Direction.OUT


async def test_bulk_insert_refuses_what_the_orm_refuses(clock: FrozenClock) -> None:
    contact = await Contact.create(name="张三")
    bad = _row("too-long", clock.now(), contact.id, error="x" * 256)
    with pytest.raises(ValidationError):
        await Message.create(**bad)
    with pytest.raises(ValidationError):
        await bulk.insert(Message._meta.db, Message, [bad])
    assert await Message.all().count() == 0


async def test_update_each_writes_like_the_orm(clock: FrozenClock) -> None:
    contact = await Contact.create(name="张三")
    now = clock.now()
    one = await Message.create(**_row("one", now, contact.id))
    two = await Message.create(**_row("two", now, contact.id))
    later = now + timedelta(seconds=5)
    await Message.filter(id=one.id).update(status=MessageStatus.SENT, attempts=1,
                                           provider_msg_id="p", sent_at=later)
    await bulk.update_each(Message._meta.db, Message,
                           ("status", "attempts", "provider_msg_id", "sent_at"),
                           [(MessageStatus.SENT, 1, "p", later, two.id)])
    a, b = [_comparable(m) for m in await Message.all().order_by("id").values()]
    assert a == b
