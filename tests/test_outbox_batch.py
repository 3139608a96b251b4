"""The outbox sends a leased batch with what channels loaded for the whole batch: WeChat's
48-hour window, its five-per-inbound cap and the opening template hold inside one batch."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from bot import outbox
from bot.app import build_channels
from bot.clock import FrozenClock
from bot.runtime import Runtime
from models import Contact, Conversation, ConversationStatus, Direction, Message, MessageStatus
from tests.conftest import make_settings
from tests.fake_wechat import FakeWechat, wechat_section

_keys = itertools.count(1)


@pytest.fixture
async def fake() -> AsyncIterator[FakeWechat]:
    f = await FakeWechat().start()
    yield f
    await f.close()


@pytest.fixture
async def rt(db_url: str, clock: FrozenClock, fake: FakeWechat,
             orm: None) -> AsyncIterator[Runtime]:
    settings = make_settings(db_url, simulator={"enabled": False},
                             wechat=wechat_section(fake.base_url, template_id="TPL",
                                                   fallback_channel=""))
    runtime = Runtime(settings=settings, clock=clock, channels=build_channels(settings, clock))
    ch: Any = runtime.channels["wechat"]
    await ch.start()
    yield runtime
    await ch.close()


async def contact(rt: Runtime, openid: str, wrote_hours_ago: float | None) -> Contact:
    c = await Contact.create(name="李娜", wechat_openid=openid)
    if wrote_hours_ago is not None:
        at = rt.now() - timedelta(hours=wrote_hours_ago)
        await Message.create(direction=Direction.IN, channel="wechat", contact_id=c.id,
                             dedupe_key=f"in:{next(_keys)}", sender="person", body="你好",
                             status=MessageStatus.PROCESSED, created_at=at)
        await Contact.filter(id=c.id).update(last_inbound_at=at, last_inbound_channel="wechat")
    return c


async def sent_before(rt: Runtime, c: Contact, hours_ago: float) -> None:
    """A customer-service message that went out ``hours_ago``."""
    at = rt.now() - timedelta(hours=hours_ago)
    await Message.create(direction=Direction.OUT, channel="wechat", contact_id=c.id,
                         dedupe_key=f"t:{next(_keys)}", body="之前的", kind="reply",
                         status=MessageStatus.SENT, provider_msg_id=f"cs:{next(_keys)}",
                         created_at=at, sent_at=at)


async def queue(rt: Runtime, c: Contact, n: int, kind: str = "reply",
                conversation_id: int | None = None, key: str | None = None,
                start: int = 0) -> list[int]:
    """``n`` queued messages; ``key``: their round's outbox key (``checkin:7:open``)."""
    async with in_transaction() as conn:
        return [(await outbox.queue(conn, key=f"{key}:{start + i}" if key
                                    else f"t:{next(_keys)}",
                                    channel="wechat",
                                    contact_id=c.id, conversation_id=conversation_id,
                                    body=f"第{i}条", now=rt.now(), kind=kind)).id
                for i in range(n)]


async def statuses(ids: list[int]) -> list[tuple[str, str]]:
    rows = {m.id: m for m in await Message.filter(id__in=ids)}
    return [(rows[i].status.value, (rows[i].error or "")[:5]) for i in ids]


@pytest.mark.parametrize(("wrote", "earlier", "expected"), [
    # (hours since the person wrote, hours ago of earlier sends) → outcome of six messages
    (1, [], ["sent"] * 5 + ["45047"]),
    (1, [0.5], ["sent"] * 4 + ["45047", "queued"]),
    (1, [2, 0.5], ["sent"] * 4 + ["45047", "queued"]),  # the one before they wrote is free
    (1, [0.9, 0.8, 0.7, 0.6, 0.5], ["45047"] + ["queued"] * 5),
    (49, [], ["45015"] + ["queued"] * 5),  # window closed, a template invites them
    (None, [], ["45015"] + ["queued"] * 5),
])
async def test_five_per_inbound_holds_inside_one_batch(rt: Runtime, fake: FakeWechat,
                                                       wrote: float | None,
                                                       earlier: list[float],
                                                       expected: list[str]) -> None:
    c = await contact(rt, "oCAPPED", wrote)
    for h in earlier:
        await sent_before(rt, c, h)
    other = await contact(rt, "oOTHER", 0.2)
    ids = await queue(rt, c, 6)
    other_ids = await queue(rt, other, 2)
    assert await outbox.send_due(rt) == 8  # one batch
    got = [st if st != "queued" or not err else err for st, err in await statuses(ids)]
    got = [g if g != "failed" else "45015" for g in got]
    assert got == expected
    assert len(fake.sent_to("oCAPPED", "custom")) == expected.count("sent")
    assert [s for s, _ in await statuses(other_ids)] == ["sent", "sent"]


async def test_opening_template_once_per_conversation_inside_one_batch(
        rt: Runtime, fake: FakeWechat) -> None:
    c = await contact(rt, "oNEW", None)  # never wrote: check-ins open with a template
    convs = [await Conversation.create(contact_id=c.id, channel="wechat",
                                       status=ConversationStatus.OPEN,
                                       last_activity_at=rt.now()) for _ in range(2)]
    first = await queue(rt, c, 2, kind="checkin", conversation_id=convs[0].id,
                        key="checkin:1:open")
    second = await queue(rt, c, 1, kind="checkin", conversation_id=convs[1].id,
                         key="checkin:2:open")
    assert await outbox.send_due(rt) == 3
    rows = {m.id: m for m in await Message.filter(id__in=first + second)}
    assert [(rows[i].provider_msg_id or "").split(":")[0] for i in first + second] == \
        ["tmpl", "covered", "tmpl"]
    assert {rows[i].status for i in rows} == {MessageStatus.SENT}
    assert len(fake.sent_to("oNEW", "template")) == 2
    # A later batch knows the round's template went out (a message of the same round that
    # was held back, e.g. by a retry)...
    later = await queue(rt, c, 1, kind="checkin", conversation_id=convs[0].id,
                        key="checkin:1:open", start=9)
    await outbox.send_due(rt)
    assert (await Message.get(id=later[0])).provider_msg_id == f"covered:{later[0]}"
    assert len(fake.sent_to("oNEW", "template")) == 2
    # ...but the next day's reminder is a new round: it reopens with its own template.
    reminder = await queue(rt, c, 2, kind="checkin", conversation_id=convs[0].id,
                           key="checkin:1:attempt2")
    await outbox.send_due(rt)
    rows = {m.id: m for m in await Message.filter(id__in=reminder)}
    assert [(rows[i].provider_msg_id or "").split(":")[0] for i in reminder] == \
        ["tmpl", "covered"]
    assert len(fake.sent_to("oNEW", "template")) == 3


@pytest.mark.parametrize(("stop", "queued_minutes_after_stop", "final", "expected"), [
    # (how the person was stopped, when the message was queued relative to it, whether it is
    # the stop's confirmation) → outcome
    (None, -10, False, ("sent", "")),
    ("opted_out_at", -10, False, ("failed", "contact opted out")),
    ("opted_out_at", 0, True, ("sent", "")),  # the confirmation written with the stop goes
    ("opted_out_at", -1, True, ("sent", "")),  # ...even stamped a moment before the stop
    ("opted_out_at", 5, False, ("failed", "contact opted out")),  # nothing after it
    ("stopped_at", -10, False, ("failed", "contact stopped: wrong number")),
    ("stopped_at", 5, False, ("failed", "contact stopped: wrong number")),
    ("stopped_at", 0, True, ("sent", "")),
])
async def test_after_a_stop_only_its_confirmation_goes(
        rt: Runtime, fake: FakeWechat, stop: str | None, queued_minutes_after_stop: int,
        final: bool, expected: tuple[str, str]) -> None:
    c = await contact(rt, "oSTOP", 0.5)
    other = await contact(rt, "oGOING", 0.5)
    stop_at = rt.now() - timedelta(hours=1)
    async with in_transaction() as conn:
        msg = await outbox.queue(conn, key=f"t:{next(_keys)}", channel="wechat",
                                 contact_id=c.id, conversation_id=None, body="还好吗",
                                 now=stop_at + timedelta(minutes=queued_minutes_after_stop),
                                 kind="reply", params={"final": True} if final else None)
    await Message.filter(id=msg.id).update(next_attempt_at=rt.now())
    other_ids = await queue(rt, other, 1)
    if stop is not None:
        await Contact.filter(id=c.id).update(**{stop: stop_at}, stopped_reason="wrong number")
    assert await outbox.send_due(rt) == 2
    got = await Message.get(id=msg.id)
    assert (got.status.value, got.error or "") == expected
    assert len(fake.sent_to("oSTOP", "custom")) == (expected[0] == "sent")
    assert [s for s, _ in await statuses(other_ids)] == ["sent"]
