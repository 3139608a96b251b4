"""The Aliyun SMS channel against the fake server: codes, timeouts, caps, pause, OTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from bot import outbox
from bot.channels import sms_aliyun
from bot.channels.base import ChannelError
from bot.channels.sms_aliyun import AliyunSmsChannel, template_value
from bot.clock import FrozenClock
from bot.runtime import Runtime
from models import AuditEvent, Contact, KeyValue, Message
from tests.conftest import make_settings
from tests.fake_aliyun import FakeAliyunSms, sms_section


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
    ("isv.TEMPLATE_MISSING_PARAMETERS", "failed", 1, None, False),
    ("isv.AMOUNT_NOT_ENOUGH", "queued", 0, 300, False),
    ("isv.OUT_OF_SERVICE", "queued", 0, 300, False),
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


async def test_pause_alerts_once_holds_everything_and_resumes(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake)
    fake.codes.append("isv.AMOUNT_NOT_ENOUGH")
    [first] = await _queue(rt)
    await outbox.send_due(rt)
    assert await sms_aliyun.is_paused()
    alerts = await AuditEvent.filter(kind=sms_aliyun.ADMIN_ALERT_EVENT)
    assert len(alerts) == 1 and alerts[0].data["code"] == "isv.AMOUNT_NOT_ENOUGH"
    # Another number: nothing reaches Aliyun while paused, nothing is lost.
    [second] = await _queue(rt, phone="13900001111")
    asked = len(fake.sends())
    clock.advance(timedelta(minutes=10))
    await outbox.send_due(rt)
    assert len(fake.sends()) == asked
    assert {m.status for m in await Message.filter(id__in=[first.id, second.id])} == {"queued"}
    assert await AuditEvent.filter(kind=sms_aliyun.ADMIN_ALERT_EVENT).count() == 1
    assert await sms_aliyun.resume(clock.now())
    clock.advance(timedelta(minutes=10))
    await outbox.send_due(rt)
    assert {m.status for m in await Message.filter(id__in=[first.id, second.id])} == {"sent"}
    await channel.close()


async def test_timeout_after_accept_is_never_sent_twice(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake)
    fake.accept_then_stall = 1
    [msg] = await _queue(rt)
    await outbox.send_due(rt)
    row = await Message.get(id=msg.id)
    assert row.status == "queued" and (row.error or "").startswith("sms.timeout")
    assert await KeyValue.exists(key=f"sms:unsure:{msg.id}")
    clock.advance(timedelta(seconds=301))
    await outbox.send_due(rt)
    row = await Message.get(id=msg.id)
    assert row.status == "delivered"  # QuerySendDetails found it by OutId
    assert len(fake.sent) == 1 and len(fake.sends()) == 1
    assert not await KeyValue.exists(key=f"sms:unsure:{msg.id}")
    await channel.close()


async def test_timeout_without_accept_is_sent_after_the_query(
        orm: None, db_url: str, clock: FrozenClock, fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake)
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
    rt, channel = await _runtime(db_url, clock, fake)
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


async def test_bad_signature_fails_with_the_code(orm: None, db_url: str, clock: FrozenClock,
                                                 fake: FakeAliyunSms) -> None:
    rt, channel = await _runtime(db_url, clock, fake, access_key_secret="wrong")
    [msg] = await _queue(rt)
    await outbox.send_due(rt)
    row = await Message.get(id=msg.id)
    assert row.status == "failed" and "SignatureDoesNotMatch" in (row.error or "")
    assert fake.rejected == ["SignatureDoesNotMatch"] and fake.sent == []
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
