"""SMS in batches (``[sms] batch_size``): the outbox against the fake Aliyun speaking SendBatchSms.

Per recipient at the fake: one call carries a batch, nothing is lost or doubled when the call's
outcome is unknown, one bad number does not hold the others, caps hold per number, and
receipts of a batch reach the right messages.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from bot import outbox
from bot.channels import pause
from bot.channels.sms_aliyun import AliyunSmsChannel
from bot.clock import FrozenClock
from bot.runtime import Runtime
from models import Contact, Message
from tests.conftest import eventually, make_settings
from tests.fake_aliyun import CALLBACK_TOKEN, HASTY, Chaos, FakeAliyunSms, sms_section


@pytest.fixture
async def fake() -> AsyncIterator[FakeAliyunSms]:
    f = await FakeAliyunSms().start()
    yield f
    await f.close()


async def _runtime(db_url: str, clock: FrozenClock, fake: FakeAliyunSms,
                   **sms: Any) -> tuple[Runtime, AliyunSmsChannel]:
    settings = make_settings(db_url, sms=sms_section(fake, **{"batch_size": 100, **sms}))
    channel = AliyunSmsChannel(settings, clock)
    await channel.start()
    return Runtime(settings=settings, clock=clock, channels={"sms": channel}), channel


async def _queue(rt: Runtime, phones: list[str], kind: str = "reply") -> list[Message]:
    """One message to each number (in this order), with a text of its own."""
    out = []
    async with in_transaction() as conn:
        for phone in phones:
            contact = await Contact.get_or_none(phone=phone, using_db=conn) \
                or await Contact.create(name=f"病人{phone[-4:]}", phone=phone, using_db=conn)
            n = await Message.all().using_db(conn).count()
            out.append(await outbox.queue(conn, key=f"t:{n}", channel="sms",
                                          contact_id=contact.id, conversation_id=None,
                                          body=f"第{n}条：{phone[-4:]}", now=rt.now(), kind=kind))
    return out


def _phones(n: int, base: int = 13800000000) -> list[str]:
    return [str(base + i) for i in range(n)]


def _sent_after(fake: FakeAliyunSms, calls: int) -> list[str]:
    """The numbers of every send request after the first ``calls`` SendBatchSms (sorted):
    messages settled one by one go again in a call or a few, or by themselves."""
    later = [p for c in fake.batch_sends()[calls:] for p in json.loads(c["PhoneNumberJson"])]
    return sorted(later + [c["PhoneNumbers"] for c in fake.sends()])


def _phone(row: Message) -> str:
    """The number of a message's contact (loaded with it)."""
    assert row.contact is not None and row.contact.phone is not None
    return row.contact.phone


def _per_phone(fake: FakeAliyunSms) -> Counter[str]:
    return Counter(s.phone for s in fake.sent)


async def _statuses(msgs: list[Message]) -> list[str]:
    rows = {r.id: r.status for r in await Message.filter(id__in=[m.id for m in msgs])}
    return [str(rows[m.id]) for m in msgs]


async def test_a_batch_of_n_goes_in_one_call_per_template(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake)
    replies = await _queue(rt, _phones(30))
    staff = await _queue(rt, _phones(5, 13900000000), kind="staff")
    await outbox.send_due(rt)
    calls = fake.batch_sends()
    assert len(calls) == 2 and not fake.sends()  # one call per template, no SendSms
    by_template = {c["TemplateCode"]: c for c in calls}
    assert sorted(by_template) == ["SMS_1002", "SMS_1003"]
    assert len(json.loads(by_template["SMS_1002"]["PhoneNumberJson"])) == 30
    assert json.loads(by_template["SMS_1003"]["SignNameJson"]) == ["示例医院"] * 5
    # Per recipient: each number once, with its own message's text.
    assert _per_phone(fake) == Counter(_phones(30) + _phones(5, 13900000000))
    texts = {s.phone: s.params["content"] for s in fake.sent}
    rows = await Message.filter(id__in=[m.id for m in replies + staff]).prefetch_related(
        "contact")
    assert all(texts[_phone(r)] == r.body for r in rows)
    # Recorded per message: sent, the call's BizId, the call's OutId.
    for r in rows:
        sms = next(s for s in fake.sent if s.phone == _phone(r))
        assert (r.status, r.provider_msg_id, r.out_id) == ("sent", sms.biz_id, sms.out_id)
        assert len(sms.out_id) == 18 and sms.out_id != str(r.id)
    assert len({s.out_id for s in fake.sent}) == 2
    await channel.close()


async def test_batch_size_bounds_a_call_and_one_is_the_old_single_path(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake, batch_size=4)
    await _queue(rt, _phones(10))
    await outbox.send_due(rt)
    sizes = sorted(len(json.loads(c["PhoneNumberJson"])) for c in fake.batch_sends())
    assert sizes == [2, 4, 4] and not fake.sends()
    await channel.close()

    fake.sent.clear()
    fake.requests.clear()
    rt1, single = await _runtime(db_url, clock, fake, batch_size=1)
    msgs = await _queue(rt1, _phones(3, 13700000000))
    await outbox.send_due(rt1)
    assert not fake.batch_sends() and len(fake.sends()) == 3
    assert sorted(s.out_id for s in fake.sent) == sorted(str(m.id) for m in msgs)
    assert {r.out_id for r in await Message.filter(id__in=[m.id for m in msgs])} == {None}
    await single.close()


async def test_one_persons_messages_keep_their_order(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake)
    fake.latency = 0.02
    msgs = await _queue(rt, ["13800000001", "13800000002", "13800000001", "13800000003",
                             "13800000001"])
    await outbox.send_due(rt)
    assert await _statuses(msgs) == ["sent"] * 5
    mine = [s for s in fake.sent if s.phone == "13800000001"]
    assert [s.params["content"] for s in mine] == [m.body for m in msgs if m.body.endswith(
        "0001")]
    # Never two of one number in one call: the second and third went in calls of their own.
    assert len({s.biz_id for s in mine}) == 3
    await channel.close()


@pytest.mark.parametrize("fault", ["accept_then_stall", "close", "late", "stall", "5xx"])
async def test_unknown_outcome_is_settled_number_by_number_without_doubles(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms, fault: str) -> None:
    rt, channel = await _runtime(db_url, clock, fake, **HASTY)
    if fault == "accept_then_stall":
        fake.accept_then_stall = 1
    else:
        fake.chaos = Chaos(seed=1, rates={fault: 1.0}, stall_seconds=1.0, late_seconds=1.0)
        fake.chaos.arm()
    msgs = await _queue(rt, _phones(12))
    await outbox.send_due(rt)
    assert len(fake.batch_sends()) == 1
    taken = fault in ("accept_then_stall", "close", "late")
    assert len(fake.sent) == (12 if taken else 0)
    rows = await Message.filter(id__in=[m.id for m in msgs])
    assert {(r.status, r.attempts) for r in rows} == {("queued", 0)}
    assert all(r.unsure_since == clock.now() for r in rows)
    out_id = rows[0].out_id
    assert out_id and {r.out_id for r in rows} == {out_id}
    fake.chaos = None
    # Too early: the receipts may still come; nothing is asked, nothing sent.
    clock.advance(timedelta(seconds=100))
    await outbox.send_due(rt)
    assert len(fake.batch_sends()) == 1 and not fake.sends()
    clock.advance(timedelta(seconds=250))
    await outbox.send_due(rt)
    queries = [r for r in fake.requests if r["Action"] == "QuerySendDetails"]
    assert sorted(q["PhoneNumber"] for q in queries) == _phones(12)  # number by number
    rows = await Message.filter(id__in=[m.id for m in msgs])
    if taken:
        # Found by the call's OutId: recorded, never sent again.
        assert {r.status for r in rows} == {"delivered"}
        assert len(fake.batch_sends()) == 1 and not fake.sends()
    else:
        # Aliyun never took them: sent again, once (a new call, a new OutId).
        # (Settled one by one, they may go in a few calls.)
        assert {r.status for r in rows} == {"sent"}
        assert _sent_after(fake, 1) == _phones(12)
        sms = {s.phone: s for s in fake.sent}
        for r in await Message.filter(id__in=[m.id for m in msgs]).prefetch_related("contact"):
            took = sms[_phone(r)].out_id
            assert took == str(r.id) or (took == r.out_id and took != out_id)
    assert _per_phone(fake) == Counter(_phones(12))
    assert all(r.unsure_since is None for r in rows)
    await channel.close()


async def test_unsure_batch_partly_taken_resends_only_those_aliyun_never_took(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    """A settled batch is never re-sent whole: the query decides each number."""
    rt, channel = await _runtime(db_url, clock, fake, **HASTY)
    fake.accept_then_stall = 1
    msgs = await _queue(rt, _phones(6))
    await outbox.send_due(rt)
    # Aliyun lost three of them after all (its own records say so).
    lost = set(_phones(6)[::2])
    fake.sent = [s for s in fake.sent if s.phone not in lost]
    clock.advance(timedelta(seconds=301))
    await outbox.send_due(rt)
    rows = {r.id: r for r in await Message.filter(id__in=[m.id for m in msgs])}
    assert [rows[m.id].status for m in msgs] == ["sent", "delivered"] * 3
    assert _per_phone(fake) == Counter(_phones(6))
    assert _sent_after(fake, 1) == sorted(lost)
    await channel.close()


@pytest.mark.parametrize(("code", "status", "unreachable"), [
    ("isv.MOBILE_NUMBER_ILLEGAL", "failed", True),
    ("isv.BUSINESS_LIMIT_CONTROL", "queued", False),
])
async def test_one_bad_number_does_not_hold_the_others(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms, code: str,
        status: str, unreachable: bool) -> None:
    rt, channel = await _runtime(db_url, clock, fake)
    phones = _phones(10)
    bad = phones[4]
    fake.number_codes[bad] = code
    msgs = await _queue(rt, phones)
    await outbox.send_due(rt)
    # The batch was refused whole; each then went by itself with SendSms.
    assert len(fake.batch_sends()) == 1 and len(fake.sends()) == 10
    assert _per_phone(fake) == Counter(p for p in phones if p != bad)
    assert await _statuses(msgs) == ["sent"] * 4 + [status] + ["sent"] * 5
    sent = {s.phone: s.out_id for s in fake.sent}
    assert all(sent[p] == str(m.id) for p, m in zip(phones, msgs, strict=True) if p != bad)
    contact = await Contact.get(phone=bad)
    assert ("sms" in contact.unreachable) is unreachable
    await channel.close()


async def test_caps_hold_per_number_and_numbers_over_them_stay_out_of_the_batch(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake, per_number_template_cap=1,
                                 org_daily_cap=8)
    phones = _phones(6)
    await _queue(rt, phones[:2])
    await outbox.send_due(rt)  # two sent: those numbers' caps for the template are full
    clock.advance(timedelta(minutes=5))
    msgs = await _queue(rt, phones)
    await outbox.send_due(rt)
    calls = fake.batch_sends()
    assert len(calls) == 2
    # The org cap leaves 6 of the day; 2 numbers are over their own cap: 4 go, in one call.
    assert sorted(json.loads(calls[1]["PhoneNumberJson"])) == phones[2:]
    statuses = await _statuses(msgs)
    assert statuses == ["queued", "queued", "sent", "sent", "sent", "sent"]
    held = await Message.filter(id__in=[m.id for m in msgs[:2]])
    assert all((r.error or "").startswith("sms.cap.number") and r.attempts == 0 for r in held)
    # The org cap: 8 a day, 6 used; of 4 more numbers, 2 go and 2 wait for tomorrow.
    more = await _queue(rt, _phones(4, 13600000000))
    await outbox.send_due(rt)
    assert sorted(await _statuses(more)) == ["queued", "queued", "sent", "sent"]
    assert len(fake.sent) == 8
    await channel.close()


async def test_our_own_fault_in_a_batch_pauses_and_keeps_every_message(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake)
    fake.template_codes = {"SMS_1001", "SMS_1003"}  # the reply template is not approved
    msgs = await _queue(rt, _phones(5))
    await outbox.send_due(rt)
    assert len(fake.batch_sends()) == 1 and not fake.sends() and not fake.sent
    rows = await Message.filter(id__in=[m.id for m in msgs])
    assert {(r.status, r.attempts) for r in rows} == {("queued", 0)}
    [held] = await pause.active(clock.now())
    assert held.code == "isv.SMS_TEMPLATE_ILLEGAL" and held.kinds == frozenset({"reply"})
    fake.template_codes = None
    await pause.resume("sms", clock.now())
    await outbox.send_due(rt)
    assert await _statuses(msgs) == ["sent"] * 5
    assert _per_phone(fake) == Counter(_phones(5))
    await channel.close()


async def test_a_ram_user_without_sendbatchsms_sends_each_by_itself_unpaused(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake)
    fake.forbidden_actions = {"SendBatchSms"}
    first = await _queue(rt, _phones(4))
    await outbox.send_due(rt)
    assert await _statuses(first) == ["sent"] * 4 and not await pause.active(clock.now())
    assert len(fake.batch_sends()) == 1 and len(fake.sends()) == 4
    # This process no longer tries: the next ones go by themselves at once.
    more = await _queue(rt, _phones(3, 13700000000))
    await outbox.send_due(rt)
    assert await _statuses(more) == ["sent"] * 3
    assert len(fake.batch_sends()) == 1 and len(fake.sends()) == 7
    assert _per_phone(fake) == Counter(_phones(4) + _phones(3, 13700000000))
    await channel.close()


async def test_checkins_by_batch_and_their_receipts_over_http(
        db_url: str, clock: FrozenClock, fake: FakeAliyunSms, client_factory: Any) -> None:
    """The running app: visits imported over HTTP, their check-ins in one SendBatchSms, the
    batch's receipts pushed back (one BizId and one OutId for all) each reach its message."""
    settings = make_settings(db_url, sms=sms_section(fake, batch_size=100),
                             channels={"order": ["sms", "simulator"]})
    client = await client_factory(settings, clock)
    visits = [{"external_id": f"MZ-B{i}", "person_name": f"病人{i}",
               "contact_phone": f"1381234{i:04d}", "occurred_at": "2026-11-16 09:30",
               "department": "dental", "department_name": "口腔科"} for i in range(8)]
    r = await client.post("/api/episodes", json={"source": "his", "episodes": visits},
                          headers={"Authorization": "Bearer test-key"})
    assert r.status == 200, await r.text()
    clock.advance(timedelta(days=1, hours=1))
    await eventually(lambda: Message.filter(direction="out", status="sent").count(),
                     timeout=20)
    await eventually(lambda: _count_sent(8))
    assert len(fake.batch_sends()) >= 1 and not fake.sends()
    assert len({s.biz_id for s in fake.sent}) == len(fake.batch_sends())
    url = str(client.make_url(f"/sms/aliyun/report/{CALLBACK_TOKEN}"))
    failed = fake.sent[3]
    items = [fake.report_item(s, success=s is not failed,
                              err_code="DELIVERED" if s is not failed else "MK:0001")
             for s in fake.sent]
    for _ in range(2):  # pushed twice: nothing changes the second time
        assert (await fake.push(url, items))[0] == 200
    rows = await Message.filter(direction="out", kind="checkin").prefetch_related("contact")
    assert len(rows) == 8
    for row in rows:
        expected = "failed" if _phone(row) == failed.phone else "delivered"
        assert row.status == expected, (_phone(row), row.status)
    assert _per_phone(fake) == Counter(v["contact_phone"] for v in visits)


async def _count_sent(n: int) -> bool:
    return await Message.filter(direction="out", kind="checkin",
                                status="sent").count() >= n
