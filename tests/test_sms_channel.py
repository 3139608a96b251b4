"""The Aliyun SMS channel against the fake server: codes, timeouts, caps, pause, OTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tortoise.transactions import in_transaction

from bot import loops, outbox
from bot.channels import pause, sms_aliyun
from bot.channels.base import ChannelError
from bot.channels.sms_aliyun import AliyunSmsChannel, template_value
from bot.clock import FrozenClock
from bot.runtime import Runtime
from models import AuditEvent, Contact, KeyValue, Message, Notification
from tests.conftest import make_settings
from tests.fake_aliyun import HASTY, FakeAliyunSms, sent_message_ids, sms_section


@pytest.fixture
async def fake() -> AsyncIterator[FakeAliyunSms]:
    f = await FakeAliyunSms().start()
    yield f
    await f.close()


async def _runtime(db_url: str, clock: FrozenClock, fake: FakeAliyunSms,
                   **sms: Any) -> tuple[Runtime, AliyunSmsChannel]:
    settings = make_settings(db_url, sms=sms_section(fake, **sms))
    channel = AliyunSmsChannel(settings, clock)
    await channel.start()
    return Runtime(settings=settings, clock=clock, channels={"sms": channel}), channel


async def _queue(rt: Runtime, phone: str = "13812345678", kind: str = "reply",
                 n: int = 1) -> list[Message]:
    contact = await Contact.get_or_none(phone=phone) or await Contact.create(
        name="张三", phone=phone)
    out = []
    async with in_transaction() as conn:
        for _ in range(n):
            key = f"t:{await Message.all().count()}:{len(out)}"
            out.append(await outbox.queue(conn, key=key, channel="sms", contact_id=contact.id,
                                          conversation_id=None, body="感谢您的反馈！",
                                          now=rt.now(), kind=kind))
    return out


@pytest.mark.parametrize(("code", "status", "attempts", "defer_s", "unreachable"), [
    ("isv.BUSINESS_LIMIT_CONTROL", "queued", 0, 3600, False),
    ("isv.MOBILE_NUMBER_ILLEGAL", "failed", 1, None, True),
    ("isv.BLACK_KEY_CONTROL_LIMIT", "failed", 1, None, False),
    ("isv.SMS_CONTENT_ILLEGAL", "failed", 1, None, False),
])
async def test_business_codes(orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms,
                              code: str, status: str, attempts: int, defer_s: int | None,
                              unreachable: bool) -> None:
    rt, channel = await _runtime(db_url, clock, fake)
    fake.codes.append(code)
    [msg] = await _queue(rt)
    await outbox.send_due(rt)
    row = await Message.get(id=msg.id)
    assert row.status == status and row.attempts == attempts
    assert code in (row.error or "")
    if defer_s is not None:
        assert row.next_attempt_at == clock.now() + timedelta(seconds=defer_s)
    contact = await Contact.get(id=msg.contact_id)
    assert ("sms" in contact.unreachable) is unreachable
    if unreachable:
        assert code in contact.unreachable["sms"]
    await channel.close()


# Every answer that means our own set-up is wrong, and what it holds: all SMS, or only the
# kinds sharing the template of the message that met it (checkin has its own template here).
@pytest.mark.parametrize(("code", "whole"), [
    ("isv.AMOUNT_NOT_ENOUGH", True), ("isv.OUT_OF_SERVICE", True),
    ("InvalidAccessKeyId.NotFound", True), ("InvalidAccessKeyId.Inactive", True),
    ("SignatureDoesNotMatch", True), ("Forbidden.RAM", True), ("isp.RAM_PERMISSION_DENY", True),
    ("isv.SMS_SIGNATURE_ILLEGAL", True), ("isv.ACCOUNT_ABNORMAL", True),
    ("isv.ACCOUNT_NOT_EXISTS", True), ("isv.PRODUCT_UN_SUBSCRIPT", True),
    ("isv.DAY_LIMIT_CONTROL", True),
    ("isv.SMS_TEMPLATE_ILLEGAL", False), ("isv.TEMPLATE_MISSING_PARAMETERS", False),
])
async def test_our_faults_pause_and_keep_every_message(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms, code: str,
        whole: bool) -> None:
    rt, channel = await _runtime(db_url, clock, fake)
    fake.refuse = code
    [checkin] = await _queue(rt, kind="checkin")
    await outbox.send_due(rt)
    row = await Message.get(id=checkin.id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("queued", 0, clock.now())
    assert code in (row.error or "")
    [held] = await pause.active(clock.now())
    assert held.code == code and held.kinds == (None if whole else frozenset({"checkin"}))
    # Another number, same kind: never asked while paused. Another template: goes when
    # only the template is paused.
    [same] = await _queue(rt, phone="13900001111", kind="checkin")
    [other] = await _queue(rt, phone="13900002222", kind="reply")
    asked = len(fake.rejected) + len(fake.requests)
    fake.refuse = None
    clock.advance(timedelta(minutes=10))
    await outbox.send_due(rt)
    assert len(fake.rejected) + len(fake.requests) == asked + (0 if whole else 1)
    assert (await Message.get(id=other.id)).status == ("queued" if whole else "sent")
    assert {m.status for m in await Message.filter(id__in=[checkin.id, same.id])} == {"queued"}
    assert await AuditEvent.filter(kind=pause.PAUSED_EVENT).count() == 1
    assert [p.channel for p in await pause.resume("sms", clock.now())] == ["sms"]
    await outbox.send_due(rt)
    assert {m.status for m in await Message.filter(id__in=[checkin.id, same.id, other.id])} \
        == {"sent"}
    assert sorted(await sent_message_ids(fake.sent)) == sorted((checkin.id, same.id, other.id))
    await channel.close()


async def test_daily_limit_pause_ends_by_itself(orm: None, db_url: str, clock: FrozenClock,
                                                fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake)
    fake.codes.append("isv.DAY_LIMIT_CONTROL")
    [msg] = await _queue(rt)
    await outbox.send_due(rt)
    [held] = await pause.active(clock.now())
    assert held.until == clock.now().replace(hour=0, minute=0) + timedelta(days=1)
    clock.advance(timedelta(hours=14, minutes=59))  # 23:59 in Shanghai: still held
    await outbox.send_due(rt)
    assert (await Message.get(id=msg.id)).status == "queued" and fake.sent == []
    clock.advance(timedelta(minutes=2))
    await outbox.send_due(rt)
    assert (await Message.get(id=msg.id)).status == "sent"
    # The next day's fault pauses (and alerts) again.
    fake.codes.append("isv.DAY_LIMIT_CONTROL")
    await _queue(rt)
    await outbox.send_due(rt)
    assert await AuditEvent.filter(kind=pause.PAUSED_EVENT).count() == 2
    await channel.close()


async def test_two_processes_meeting_the_fault_alert_once(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    rt1, ch1 = await _runtime(db_url, clock, fake)
    rt2, ch2 = await _runtime(db_url, clock, fake)
    fake.refuse = "isv.AMOUNT_NOT_ENOUGH"
    msgs = await _queue(rt1, n=1) + await _queue(rt1, phone="13900003333")
    # Each process has one of them in hand when the fault comes back.
    outbox.hand_off(rt1, [await _queued(msgs[0].id, rt1)], clock.now() + timedelta(minutes=1))
    outbox.hand_off(rt2, [await _queued(msgs[1].id, rt2)], clock.now() + timedelta(minutes=1))
    await asyncio.gather(outbox.send_due(rt1), outbox.send_due(rt2))
    assert await AuditEvent.filter(kind=pause.PAUSED_EVENT).count() == 1
    assert await Notification.filter(event=pause.PAUSED_EVENT).count() == 1  # the robot row
    assert {m.status for m in await Message.all()} == {"queued"}
    await ch1.close()
    await ch2.close()


async def _queued(message_id: int, rt: Runtime) -> outbox.Queued:
    """A queued row as the sender holds it, leased to ``rt``'s worker."""
    row = await Message.get(id=message_id)
    await Message.filter(id=message_id).update(lease_owner=rt.worker_id,
                                               lease_until=rt.now() + timedelta(minutes=1))
    return outbox.Queued(**{f: getattr(row, f) for f in outbox.Queued.FIELDS})


async def test_timeout_after_accept_is_never_sent_twice(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake, **HASTY)
    fake.accept_then_stall = 1
    [msg] = await _queue(rt)
    await outbox.send_due(rt)
    row = await Message.get(id=msg.id)
    assert row.status == "queued" and (row.error or "").startswith("sms.timeout")
    assert row.unsure_since == clock.now() and row.attempts == 0
    clock.advance(timedelta(seconds=301))
    await outbox.send_due(rt)
    row = await Message.get(id=msg.id)
    assert row.status == "delivered"  # QuerySendDetails found it by OutId
    assert len(fake.sent) == 1 and len(fake.sends()) == 1
    assert row.unsure_since is None
    await channel.close()


async def test_timeout_without_accept_is_sent_after_the_query(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake, **HASTY)
    fake.stall = 1
    [msg] = await _queue(rt)
    await outbox.send_due(rt)
    assert (await Message.get(id=msg.id)).status == "queued"
    clock.advance(timedelta(seconds=120))  # too early: the receipt may still come
    await outbox.send_due(rt)
    assert len(fake.sends()) == 1
    clock.advance(timedelta(seconds=400))
    await outbox.send_due(rt)
    row = await Message.get(id=msg.id)
    assert row.status == "sent" and len(fake.sent) == 1 and len(fake.sends()) == 2
    assert fake.sent[0].out_id == str(msg.id)
    await channel.close()


async def test_receipt_settles_a_timed_out_send(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake, **HASTY)
    fake.accept_then_stall = 1
    [msg] = await _queue(rt)
    await outbox.send_due(rt)
    report = sms_aliyun.parse_report(FakeAliyunSms.report_item(fake.sent[0]))
    assert await sms_aliyun.apply_reports([report, report], clock.now()) == 1
    row = await Message.get(id=msg.id)
    assert row.status == "delivered" and row.provider_msg_id == fake.sent[0].biz_id
    clock.advance(timedelta(hours=1))
    await outbox.send_due(rt)
    assert len(fake.sends()) == 1
    await channel.close()


async def test_per_number_template_cap_defers_until_the_window_frees(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake, per_number_template_cap=2)
    msgs = await _queue(rt, n=2)
    for _ in range(2):
        await outbox.send_due(rt)
        clock.advance(timedelta(hours=1))
    [third] = await _queue(rt)
    await outbox.send_due(rt)
    row = await Message.get(id=third.id)
    assert row.status == "queued" and (row.error or "").startswith("sms.cap.number")
    assert row.attempts == 0
    first_sent = (await Message.get(id=msgs[0].id)).sent_at
    assert first_sent is not None
    assert row.next_attempt_at == first_sent + timedelta(hours=24)
    # Another template to another number is not held by this cap.
    [other] = await _queue(rt, phone="13900002222", kind="staff")
    await outbox.send_due(rt)
    assert (await Message.get(id=other.id)).status == "sent"
    clock.advance(timedelta(hours=23))
    await outbox.send_due(rt)
    assert (await Message.get(id=third.id)).status == "sent"
    await channel.close()


async def test_org_daily_cap(orm: None, db_url: str, clock: FrozenClock,
                             fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake, org_daily_cap=1)
    [a] = await _queue(rt, phone="13800000001")
    [b] = await _queue(rt, phone="13800000002")
    await outbox.send_due(rt)
    assert (await Message.get(id=a.id)).status == "sent"
    row = await Message.get(id=b.id)
    assert row.status == "queued" and (row.error or "").startswith("sms.cap.org")
    local = clock.now()
    assert row.next_attempt_at == local.replace(hour=0, minute=0) + timedelta(days=1)
    await channel.close()


async def test_outbox_lanes_share_the_threads_and_the_daily_cap(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    """The worker's outbox lanes, running as a worker runs them, send two batches at once:
    still at most ``[sms] threads`` requests at Aliyun at a time from the process, and the
    organisation's daily cap exact (a batch gives back only what *it* reserved and did not
    use, never a reservation another lane is still sending on)."""
    fake.latency = 0.05
    # (SendSms each: with batches a lane's four would share one request.)
    settings = make_settings(db_url, sms=sms_section(fake, org_daily_cap=25, threads=3,
                                                     batch_size=1),
                             worker={"batch_size": 4})
    channel = AliyunSmsChannel(settings, clock)
    await channel.start()
    rt = Runtime(settings=settings, clock=clock, channels={"sms": channel})
    for i in range(20):
        await _queue(rt, phone=f"1380000{i:04d}")
    for i in range(5):  # people with two messages: their batch takes longer than the others
        await _queue(rt, phone=f"1390000{i:04d}", n=2)
    tasks = loops.start_loops(rt)
    try:
        for _ in range(400):
            due = await Message.filter(status="queued", next_attempt_at__lte=clock.now()).count()
            if not due and not fake.in_flight:
                break
            await asyncio.sleep(0.05)
    finally:
        await loops.stop_loops(tasks)
    assert loops.OUTBOX_LANES > 1
    sent = await Message.filter(status="sent").count()
    held = await Message.filter(status="queued").values_list("next_attempt_at", flat=True)
    assert sent == 25 == len(fake.sent) == len(set(await sent_message_ids(fake.sent)))
    # over the cap (or behind someone's first message that is): waiting for tomorrow
    midnight = clock.now().replace(hour=0, minute=0) + timedelta(days=1)
    assert held == [midnight] * 5
    assert 1 < fake.peak_in_flight <= 3
    counter = await KeyValue.filter(key__startswith="sms:day:").values_list("value", flat=True)
    assert [int(v) for v in counter] == [25]  # every reservation used or given back
    await channel.close()


async def test_wrong_secret_pauses_and_the_unsure_query_waits_too(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake, **HASTY)
    fake.accept_then_stall = 1
    [unsure] = await _queue(rt)
    await outbox.send_due(rt)  # taken by Aliyun, answer lost: unsure
    fake.access_key_secret = "rotated"  # the secret changed under us
    [msg] = await _queue(rt, phone="13900004444")
    clock.advance(timedelta(seconds=301))
    await outbox.send_due(rt)
    rows = {m.id: m for m in await Message.filter(id__in=[unsure.id, msg.id])}
    assert {(m.status, m.attempts) for m in rows.values()} == {("queued", 0)}
    assert rows[unsure.id].unsure_since is not None  # still to be settled, after the fix
    assert [p.code for p in await pause.active(clock.now())] == ["SignatureDoesNotMatch"]
    assert "SignatureDoesNotMatch" in fake.rejected and len(fake.sent) == 1
    fake.access_key_secret = "test-secret"  # fixed
    await pause.resume(None, clock.now())
    await outbox.send_due(rt)
    assert {m.status for m in await Message.filter(id__in=[unsure.id, msg.id])} == {
        "sent", "delivered"}
    assert sorted(s.out_id for s in fake.sent) == sorted([str(unsure.id), str(msg.id)])
    await channel.close()


async def test_template_values_and_missing_template(orm: None, db_url: str, clock: FrozenClock,
                                                    fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake)
    contact = await Contact.create(name="欧阳😀娜娜" * 10, phone="+86 139-1234-5678")
    async with in_transaction() as conn:
        ok = await outbox.queue(conn, key="c1", channel="sms", contact_id=contact.id,
                                conversation_id=None, body="x", now=rt.now(), kind="checkin",
                                params={"contact_name": contact.name, "department": "口腔科",
                                        "link_token": "AbCdEfGhIjKlMnOp"})
        none = await outbox.queue(conn, key="c2", channel="sms", contact_id=contact.id,
                                  conversation_id=None, body="x", now=rt.now(), kind="notice")
    await outbox.send_due(rt)
    await outbox.send_due(rt)
    assert (await Message.get(id=ok.id)).status == "sent"
    [sms] = fake.sent
    assert sms.phone == "13912345678" and sms.out_id == str(ok.id)
    assert sms.params["code"] == "AbCdEfGhIjKlMnOp" and sms.params["dept"] == "口腔科"
    assert len(sms.params["name"]) == 35 and sms.params["name"].endswith("…")
    assert "😀" not in sms.params["name"]
    failed = await Message.get(id=none.id)
    assert failed.status == "failed" and "[sms.templates] notice" in (failed.error or "")
    await channel.close()


@pytest.mark.parametrize(("text", "expected"), [
    ("张三", "张三"),
    ("张三😀👍🏻", "张三"),
    ("a\u200db\ufe0fc", "abc"),
    ("【示例】医院\n口腔科", "示例医院 口腔科"),
    ("一" * 35, "一" * 35),
    ("一" * 36, "一" * 34 + "…"),
    ("e\u0301" * 40, "é" * 34 + "…"),
])
def test_template_value(text: str, expected: str) -> None:
    assert template_value(text) == expected


_VALUE_CHARS = st.one_of(st.characters(codec="utf-8", exclude_categories=("Cs",)),
                         st.sampled_from("张三口腔科，。、【】[]^`～ 　\t😀👍🏻\u0301ｶﾞ〒￣"))


@settings(max_examples=500, deadline=None)
@given(text=st.text(_VALUE_CHARS, max_size=50), limit=st.sampled_from([5, 20, 35]))
def test_a_plain_value_takes_the_short_way_to_the_same_value(text: str, limit: int) -> None:
    """The one-match path for plain values gives exactly what the character-by-character
    cleaning gives, for any text."""
    assert template_value(text, limit) == sms_aliyun._clean_value(text, limit)



async def test_otp(orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake, per_number_template_cap=1)
    result = await sms_aliyun.send_otp(rt.settings, rt.channels, "0086 138 0000 9999", "482913",
                                       clock.now())
    assert result.provider_msg_id == fake.sent[0].biz_id
    assert fake.sent[0].template == "SMS_1005" and fake.sent[0].params == {"code": "482913"}
    row = await Message.get(kind="otp")
    assert row.status == "sent" and "482913" not in row.body + str(row.params)
    with pytest.raises(ChannelError) as err:
        await sms_aliyun.send_otp(rt.settings, rt.channels, "13800009999", "111111", clock.now())
    assert err.value.code == "sms.cap.number"
    await channel.close()


async def test_a_batch_that_outlives_its_lease_is_not_sent_twice(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    # Worker 1 sends one at a time and Aliyun is slow; its lease runs out mid-batch and
    # worker 2 takes the batch. Neither sends a message twice: worker 1 drops what it no
    # longer holds, worker 2 settles what worker 1 may have sent before sending anything.
    rt1, ch1 = await _runtime(db_url, clock, fake, threads=1, batch_size=1)
    rt2, ch2 = await _runtime(db_url, clock, fake, batch_size=1)
    msgs = [*await _queue(rt1, phone="13900005551"), *await _queue(rt1, phone="13900005552")]
    fake.latency = 0.3
    first = asyncio.create_task(outbox.send_due(rt1))
    for _ in range(200):  # until worker 1 is waiting for Aliyun's answer to the first
        if fake.sends():
            break
        await asyncio.sleep(0.01)
    clock.advance(timedelta(seconds=rt1.settings.worker.lease_seconds + 1))
    await outbox.send_due(rt2)  # the expired leases: both taken, both unsure, none sent
    await first
    assert len(fake.sent) == 1  # worker 1's first send; its second was no longer its own
    rows = await Message.filter(id__in=[m.id for m in msgs]).order_by("id")
    assert [r.status for r in rows] == ["sent", "queued"] and rows[1].unsure_since is not None
    fake.latency = 0
    clock.advance(timedelta(seconds=301))  # no receipt: the query says it never went
    await outbox.send_due(rt2)
    assert sorted(s.out_id for s in fake.sent) == sorted(str(m.id) for m in msgs)
    assert {r.status for r in await Message.filter(id__in=[m.id for m in msgs])} == {"sent"}
    await ch1.close()
    await ch2.close()
