"""The keypad survey by telephone, from outside: the real app (HTTP, its background loops)
against a fake Aliyun Voice Service that checks every signature and pushes receipts back the
way Aliyun does — with keys pressed, twice, late and out of order. SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bot.channels import pause
from bot.clock import FrozenClock
from models import (
    AuditEvent,
    Call,
    CallTask,
    CheckIn,
    Contact,
    Escalation,
    Message,
    Notification,
)
from tests.conftest import eventually
from tests.fake_aliyun import HASTY, FakeAliyunSms
from tests.fake_aliyun_vms import (
    APPROVED,
    MENU,
    SHOW_NUMBER,
    FakeAliyunVms,
)
from tests.loop_helpers import settle
from tests.phone_helpers import (
    answers,
    at,
    calls_placed,
    elder,
    outbound,
    phone_settings,
    push,
    start,
    task_listed,
    wake,
)
from tests.staff_helpers import make_staff, sign_in

OK = {"code": 0, "msg": "接收成功"}


@pytest.fixture
async def vms(clock: FrozenClock) -> AsyncIterator[FakeAliyunVms]:
    f = await FakeAliyunVms(show_numbers={SHOW_NUMBER}, tts_codes=APPROVED, clock=clock).start()
    yield f
    await f.close()


@pytest.fixture
async def sms() -> AsyncIterator[FakeAliyunSms]:
    f = await FakeAliyunSms().start()
    yield f
    await f.close()


async def _first_call(client: Any, vms: FakeAliyunVms, clock: FrozenClock) -> Any:
    """Move to 14:00 on Monday (the check-in is due at 12:30, in the midday pause)."""
    clock.set(at(16, 14, 1))
    return await calls_placed(client, vms, 1)


async def test_a_phone_only_elderly_contact_gets_an_ivr_call_at_an_allowed_time(
        db_url: str, clock: FrozenClock, vms: FakeAliyunVms, sms: FakeAliyunSms,
        client_factory: Any) -> None:
    settings = phone_settings(db_url, vms, sms)
    client = await start(client_factory, settings, clock, elder("V-1", "13900001111"))
    contact = await Contact.get(phone="13900001111")
    assert contact.preferred_channel == "phone"  # 回访方式 仅电话, from the import
    checkin = await CheckIn.get()
    assert checkin.due_at == at(16, 12, 30)
    # Due in the midday pause of the call hours (12:00-14:00): nothing is placed yet.
    clock.set(at(16, 12, 40))
    wake(client)
    await eventually(lambda: CheckIn.filter(send_at=at(16, 14, 0)).exists())
    assert vms.calls == [] and sms.sent == []

    call = await _first_call(client, vms, clock)
    msg = await Message.get(direction="out", channel="voice")
    assert (call.phone, call.show_number, call.out_id) == ("13900001111", SHOW_NUMBER,
                                                            str(msg.id))
    # The approved template of the survey's score question, the greeting's variables filled,
    # and the key map: 1-5 answer, 0 a person, 9 stop.
    assert call.code == "TTS_OVERALL"
    assert call.params == {"org": "示例医院", "dept": "口腔科", "name": "您"}
    assert call.menu == MENU and (call.play_times, call.timeout_ms) == ("2", "10000")
    assert call.at == at(16, 14, 1)
    # What staff read in the history: the greeting, the question and the keys.
    assert "口腔科" in msg.body and "按0转人工" in msg.body and "按9不再接听" in msg.body
    assert sms.sent == []  # phone only: never written to
    assert (await CheckIn.get()).channel == "voice"


async def test_one_call_at_a_time_whichever_outbox_lane_places_it(
        db_url: str, clock: FrozenClock, vms: FakeAliyunVms, client_factory: Any) -> None:
    """Calls are placed one at a time per process (the per-number limits are counted from the
    call table before each call), though the worker sends in several outbox lanes at once."""
    vms.latency = 0.05
    settings = phone_settings(db_url, vms, worker={"batch_size": 2})
    client = await start(client_factory, settings, clock,
                         *(elder(f"V-{i}", f"1390000{i:04d}") for i in range(8)))
    clock.set(at(16, 14, 1))
    await calls_placed(client, vms, 8)
    assert len({c.phone for c in vms.ivr_calls()}) == 8
    assert vms.peak_in_flight == 1


async def test_a_key_pushed_twice_records_one_answer_on_channel_voice(
        db_url: str, clock: FrozenClock, vms: FakeAliyunVms, sms: FakeAliyunSms,
        client_factory: Any) -> None:
    client = await start(client_factory, phone_settings(db_url, vms, sms), clock,
                         elder("V-2", "13900002222"))
    call = await _first_call(client, vms, clock)
    # The key while the call runs, then the call's record, each pushed twice.
    for item in (vms.call_report(call, "300000", dtmf="4"), vms.call_report(call, "300000",
                                                                           dtmf="4"),
                 vms.voice_report(call, "200000", dtmf="4", duration=21),
                 vms.voice_report(call, "200000", dtmf="4", duration=21)):
        assert await push(client, [item]) == (200, OK)
    got = await eventually(answers)
    await settle(client)
    got = await answers()
    assert [(a.score, a.channel) for a in got] == [(4, "voice")]
    assert await Message.filter(direction="in", channel="voice").count() == 1
    checkin = await CheckIn.get()
    assert checkin.status == "answered"
    row = await Call.get(provider_call_id=call.call_id)
    assert (row.status, row.dtmf, row.duration_seconds) == ("answered", "4", 21)
    assert (await Message.get(direction="out", channel="voice")).status == "delivered"
    # A 4 completes the voice survey: nothing more is placed or written.
    assert len(vms.ivr_calls()) == 1 and sms.sent == []


async def test_zero_opens_a_callback_escalation(
        db_url: str, clock: FrozenClock, vms: FakeAliyunVms, sms: FakeAliyunSms,
        client_factory: Any) -> None:
    client = await start(client_factory, phone_settings(db_url, vms, sms), clock,
                         elder("V-3", "13900003333"))
    await make_staff("li", depts=["dental"])
    call = await _first_call(client, vms, clock)
    assert await push(client, [vms.voice_report(call, "200000", dtmf="0", duration=9)]) == (
        200, OK)
    esc = await eventually(lambda: Escalation.first())
    assert (esc.kind, esc.priority) == ("callback", "high")
    assert "wants a person" in esc.reason
    note = await eventually(lambda: Notification.filter(escalation_id=esc.id,
                                                        channel="app").first())
    assert note.event == "opened"
    await settle(client)
    assert not await answers()  # a 0 is not a score
    assert len(vms.ivr_calls()) == 1 and sms.sent == []
    # The agent sees it in the queue as a call-back request (回电请求), name masked.
    await sign_in(client, "li")
    html = await (await client.get("/staff/queue")).text()
    assert "回电请求" in html and "王**" in html and "13900003333" not in html


async def test_nine_opts_out_with_exactly_one_confirmation(
        db_url: str, clock: FrozenClock, vms: FakeAliyunVms, sms: FakeAliyunSms,
        client_factory: Any) -> None:
    # Not phone only: an SMS can reach them, but the elderly are called first.
    settings = phone_settings(db_url, vms, sms, reach={"voice_first_age": 75})
    visit = elder("V-4", "13900004444")
    del visit["回访方式"]
    later = {**elder("V-5", "13900004444"), "occurred_at": "2026-11-18 09:30"}
    del later["回访方式"]
    client = await start(client_factory, settings, clock, visit, later)
    call = await _first_call(client, vms, clock)
    cid = (await Contact.get(phone="13900004444")).id
    for _ in range(2):  # pushed twice
        assert await push(client, [vms.voice_report(call, "200000", dtmf="9",
                                                    duration=8)]) == (200, OK)
    await eventually(lambda: Contact.filter(id=cid, opted_out_at__isnull=False).exists())
    await settle(client)
    # One confirmation, by SMS (the channel that carries text), nothing else.
    assert [s.template for s in sms.sent] == ["SMS_1002"]
    assert sms.sent[0].params["content"].startswith("好的，以后不再")
    assert len(vms.ivr_calls()) == 1
    assert await AuditEvent.filter(kind="opted_out", subject_id=str(cid)).count() == 1
    # The next visit's check-in is never opened; later days bring nothing.
    clock.set(at(18, 14, 5))
    wake(client)
    await settle(client)
    assert (await CheckIn.get(episode__external_id="V-5")).status == "skipped"
    assert len(sms.sent) == 1 and len(vms.ivr_calls()) == 1
    sent = [m for m in await outbound(cid) if m.status in ("sent", "delivered")]
    assert len([m for m in sent if m.channel == "sms"]) == 1


async def test_no_answer_retries_at_the_next_allowed_time_then_the_staff_call_list(
        db_url: str, clock: FrozenClock, vms: FakeAliyunVms, sms: FakeAliyunSms,
        client_factory: Any) -> None:
    client = await start(client_factory, phone_settings(db_url, vms, sms), clock,
                         elder("V-6", "13900006666"))
    await make_staff("li", depts=["dental"])
    first = await _first_call(client, vms, clock)
    assert await push(client, [vms.voice_report(first, "200003", smart="NO_ANSWER")]) == (
        200, OK)
    await eventually(lambda: Call.filter(provider_call_id=first.call_id,
                                         status="no_answer").exists())
    # Not before [voice] retry_minutes (120) after the first call.
    clock.set(at(16, 15, 30))
    wake(client)
    await eventually(lambda: CheckIn.filter(expires_at__gte=at(16, 16, 0)).exists())
    assert len(vms.ivr_calls()) == 1
    clock.set(at(16, 16, 2))
    second = await calls_placed(client, vms, 2)
    assert second.at == at(16, 16, 2)
    assert await push(client, [vms.voice_report(second, "200010")]) == (200, OK)  # off
    task = await task_listed()
    assert (task.reason, task.status) == ("no_answer", "open")
    checkin = await CheckIn.get()
    assert (checkin.status, checkin.channel, checkin.lost_reason) == ("opened", "phone", None)
    # It waits on the department's call list (the bot never wrote: phone only).
    await sign_in(client, "li")
    html = await (await client.get("/staff/calls")).text()
    assert f'data-task="{task.id}"' in html and "13900006666" not in html
    assert "语音电话 ×2" in html
    assert sms.sent == []


async def test_receipts_late_out_of_order_and_unknown(
        db_url: str, clock: FrozenClock, vms: FakeAliyunVms, sms: FakeAliyunSms,
        client_factory: Any) -> None:
    client = await start(client_factory, phone_settings(db_url, vms, sms), clock,
                         elder("V-7", "13900007777"))
    call = await _first_call(client, vms, clock)
    # The record first, then states from during the call (out of order), in one push with an
    # item for a call we never placed and an item that is not a receipt at all.
    stray = vms.voice_report(call, "200000", dtmf="5", duration=3)
    stray.update(out_id="999999999", call_id="0^0")
    status, body = await push(client, [
        vms.voice_report(call, "200000", dtmf="5", duration=30),
        vms.call_report(call, "200201"), vms.call_report(call, "200102"), stray,
        {"call_id": "x", "status_code": "二〇〇"}])
    assert (status, body) == (200, OK)
    row = await Call.get(provider_call_id=call.call_id)
    assert (row.status, row.dtmf) == ("answered", "5")  # ringing does not undo the end
    assert [(a.score, a.channel) for a in await eventually(answers)] == [(5, "voice")]
    # Late: the same key from the call's state report, an hour later, changes nothing.
    clock.advance(timedelta(hours=1))
    assert await push(client, [vms.call_report(call, "300000", dtmf="5")]) == (200, OK)
    await settle(client)
    assert len(await answers()) == 1


@pytest.mark.parametrize(("token", "body", "status"), [
    ("wrong-token-0123456789", "[]", 404),
    (None, "not json", 400),
    (None, "[" * 10 + "]" * 10, 413),
])
async def test_the_receipt_callback_is_guarded_and_validated(
        db_url: str, clock: FrozenClock, vms: FakeAliyunVms, client_factory: Any,
        token: str | None, body: str, status: int) -> None:
    from tests.fake_aliyun_vms import VOICE_TOKEN

    client = await start(client_factory, phone_settings(db_url, vms), clock)
    r = await client.post(f"/voice/aliyun/report/{token or VOICE_TOKEN}", data=body,
                          headers={"Content-Type": "application/json"})
    assert r.status == status
    assert await Message.all().count() == 0


async def test_a_call_with_no_answer_from_aliyun_is_never_placed_twice(
        db_url: str, clock: FrozenClock, vms: FakeAliyunVms, sms: FakeAliyunSms,
        client_factory: Any) -> None:
    settings = phone_settings(db_url, vms, sms, voice={"receipt_wait_seconds": 600, **HASTY})
    client = await start(client_factory, settings, clock, elder("V-8", "13900008888"))
    vms.accept_then_stall = 1  # Aliyun places the call, its answer is lost
    clock.set(at(16, 14, 1))
    wake(client)
    await eventually(lambda: Call.filter(status="unsure").exists())
    assert len(vms.ivr_calls()) == 1
    msg = await Message.get(direction="out", channel="voice")
    # Unsure, as an SMS would be: not an attempt, settled before anything is placed again.
    assert (msg.status, msg.attempts) == ("queued", 0) and msg.unsure_since is not None
    # Before the receipt wait is over nothing is placed again, however often the outbox looks.
    clock.advance(timedelta(minutes=5))
    wake(client)
    await eventually(lambda: Message.filter(id=msg.id, lease_owner__isnull=True).exists())
    assert len(vms.ivr_calls()) == 1
    # The receipt settles it: answered with a 3.
    call = vms.ivr_calls()[0]
    assert await push(client, [vms.voice_report(call, "200000", dtmf="3", duration=11)]) == (
        200, OK)
    assert [a.score for a in await eventually(answers)] == [3]
    clock.advance(timedelta(minutes=30))
    wake(client)
    await settle(client)
    assert len(vms.ivr_calls()) == 1
    settled = await Message.get(id=msg.id)
    assert (settled.status, settled.unsure_since) == ("delivered", None)


async def test_an_unsure_call_without_receipt_counts_as_made(
        db_url: str, clock: FrozenClock, vms: FakeAliyunVms, sms: FakeAliyunSms,
        client_factory: Any) -> None:
    settings = phone_settings(db_url, vms, sms, voice={"receipt_wait_seconds": 600, **HASTY})
    client = await start(client_factory, settings, clock, elder("V-9", "13900009999"))
    vms.accept_then_stall = 1
    clock.set(at(16, 14, 1))
    wake(client)
    await eventually(lambda: Call.filter(status="unsure").exists())
    clock.advance(timedelta(minutes=11))  # no receipt ever comes
    wake(client)
    await eventually(lambda: Call.filter(status="no_receipt").exists())
    await settle(client)
    assert len(vms.ivr_calls()) == 1
    made = await Message.get(direction="out", channel="voice")
    assert (made.status, made.unsure_since) == ("sent", None)
    assert "outcome unknown" in (made.error or "")  # recorded as taken, not as confirmed


async def test_a_worker_that_stopped_while_placing_a_call_leaves_it_unsure(
        db_url: str, clock: FrozenClock, vms: FakeAliyunVms, sms: FakeAliyunSms,
        client_factory: Any) -> None:
    client = await start(client_factory, phone_settings(db_url, vms, sms), clock,
                         elder("V-14", "13900001414"))
    call = await _first_call(client, vms, clock)
    msg = await eventually(lambda: Message.get_or_none(direction="out", channel="voice",
                                                      status="sent"))
    # As the database looks when a worker stopped between Aliyun taking the call and writing
    # down its answer: the call row says dialing, the message is still leased to that worker.
    await Call.filter(message_id=msg.id).update(status="dialing", provider_call_id=None)
    await Message.filter(id=msg.id).update(
        status="queued", attempts=0, provider_msg_id=None, sent_at=None,
        next_attempt_at=clock.now(),
        lease_owner="worker-that-stopped", lease_until=clock.now() - timedelta(seconds=1))
    clock.advance(timedelta(minutes=2))
    wake(client)
    held = await eventually(lambda: Message.get_or_none(id=msg.id, unsure_since__isnull=False,
                                                       lease_owner__isnull=True))
    assert (held.status, held.attempts) == ("queued", 0)
    assert len(vms.ivr_calls()) == 1  # never placed again blindly
    # The call's record settles it.
    assert await push(client, [vms.voice_report(call, "200000", dtmf="4", duration=9)]) == (
        200, OK)
    assert [(a.score, a.channel) for a in await eventually(answers)] == [(4, "voice")]
    clock.advance(timedelta(minutes=30))
    wake(client)
    await settle(client)
    done = await Message.get(id=msg.id)
    assert (done.status, done.unsure_since) == ("delivered", None)
    assert len(vms.ivr_calls()) == 1


async def test_an_account_fault_pauses_voice_and_the_call_waits_unattempted(
        db_url: str, clock: FrozenClock, vms: FakeAliyunVms, sms: FakeAliyunSms,
        client_factory: Any) -> None:
    client = await start(client_factory, phone_settings(db_url, vms, sms), clock,
                         elder("V-10", "13900001010"))
    vms.refuse = "isv.OUT_OF_SERVICE"
    clock.set(at(16, 14, 1))
    wake(client)
    await eventually(lambda: AuditEvent.filter(kind="channel_paused").exists())
    health = await (await client.get("/healthz")).json()
    assert health["status"] == "degraded" and health["paused"][0]["channel"] == "voice"
    msg = await Message.get(direction="out", channel="voice")
    assert (msg.status, msg.attempts) == ("queued", 0)
    assert vms.ivr_calls() == [] and sms.sent == []  # nothing sent elsewhere
    vms.refuse = None  # the balance is topped up
    assert [p.channel for p in await pause.resume("voice", clock.now())] == ["voice"]
    await calls_placed(client, vms, 1)
    await eventually(lambda: Message.filter(id=msg.id, status="sent").exists())


async def test_the_per_number_limits_come_from_our_own_table(
        db_url: str, clock: FrozenClock, vms: FakeAliyunVms, sms: FakeAliyunSms,
        client_factory: Any) -> None:
    # The discharge survey asks several scores; by phone two, one call each: the second
    # call of the same minute waits for the number's per-minute limit to free.
    settings = phone_settings(
        db_url, vms, sms, voice={"max_questions": 2, "questions": {
            "overall": {"code": "TTS_OVERALL", "params": {"org": "{org_name}"}},
            "doctor": {"code": "TTS_OVERALL", "params": {"org": "{org_name}"}}}},
        schedules={"default": ["3h"], "出院": ["3h"]})
    client = await start(client_factory, settings, clock,
                         elder("V-11", "13900001111", kind="discharge"))
    first = await _first_call(client, vms, clock)
    assert await push(client, [vms.voice_report(first, "200000", dtmf="5", duration=14)]) == (
        200, OK)
    await eventually(lambda: Message.filter(direction="out", channel="voice",
                                            error__startswith="voice.limit").exists())
    assert len(vms.ivr_calls()) == 1 and vms.limited == []
    clock.advance(timedelta(minutes=1))
    second = await calls_placed(client, vms, 2)
    assert second.at == at(16, 14, 2) and vms.limited == []
    assert await push(client, [vms.voice_report(second, "200000", dtmf="4",
                                                duration=9)]) == (200, OK)
    got = await eventually(lambda: answers("doctor"))
    assert [a.score for a in got] == [4]
    assert [a.score for a in await answers("overall")] == [5]
    assert len(vms.ivr_calls()) == 2  # two questions asked; the rest are not for the phone
    assert not await CallTask.exists()


async def test_a_staff_reply_on_a_call_conversation_goes_by_text(
        db_url: str, clock: FrozenClock, vms: FakeAliyunVms, sms: FakeAliyunSms,
        client_factory: Any) -> None:
    from tests.loop_helpers import act, page_csrf

    settings = phone_settings(db_url, vms, sms, reach={"voice_first_age": 75})
    visit = elder("V-12", "13900001212")
    del visit["回访方式"]
    client = await start(client_factory, settings, clock, visit)
    await make_staff("li", depts=["dental"])
    call = await _first_call(client, vms, clock)
    assert await push(client, [vms.voice_report(call, "200000", dtmf="0", duration=5)]) == (
        200, OK)
    esc = await eventually(lambda: Escalation.first())
    await sign_in(client, "li")
    csrf = await page_csrf(client, f"/staff/escalations/{esc.id}")
    assert (await act(client, esc.id, "claim", csrf)).status == 200
    page = await (await client.get(f"/staff/escalations/{esc.id}")).text()
    assert "文字回复改由短信或微信发送" in page
    assert (await act(client, esc.id, "reply", csrf, text="王奶奶您好，我是李护士。")).status == 200
    await settle(client)
    # A call cannot say it: it went by SMS (the staff template), no second call.
    assert [s.template for s in sms.sent] == ["SMS_1003"]
    assert len(vms.ivr_calls()) == 1


async def test_a_notice_is_a_plain_call_when_it_has_a_template(
        db_url: str, clock: FrozenClock, vms: FakeAliyunVms) -> None:
    from bot import db
    from bot.channels.base import ChannelError, Outgoing
    from bot.channels.voice_aliyun import AliyunVoiceChannel

    settings = phone_settings(db_url, vms, voice={"notice": {
        "code": "TTS_NOTICE", "params": {"content": "{text}"}}})
    clock.set(at(16, 15))
    await db.init_db(db_url)
    channel = AliyunVoiceChannel(settings, clock)
    try:
        contact = await Contact.create(name="王奶奶", phone="13900001313")
        msg = await Message.create(direction="out", channel="voice", contact_id=contact.id,
                                   dedupe_key="notice:1", kind="notice", status="queued",
                                   body="明天上午复诊，请带好病历。http://x.example",
                                   created_at=clock.now())
        out = Outgoing(message_id=msg.id, idempotency_key=msg.dedupe_key,
                       contact_id=contact.id, phone=contact.phone, openid=None,
                       text=msg.body, kind="notice")
        result = await channel.send(out)
        placed = vms.calls[-1]
        assert (placed.action, placed.code, result.provider_msg_id) == (
            "SingleCallByTts", "TTS_NOTICE", placed.call_id)
        # the variable is cut and cleaned: no link, no forbidden symbols
        assert placed.params == {"content": "明天上午复诊，请带好病历。"}
        reply = Outgoing(message_id=msg.id + 1, idempotency_key="r", contact_id=contact.id,
                         phone=contact.phone, openid=None, text="谢谢", kind="reply")
        with pytest.raises(ChannelError) as refused:
            await channel.send(reply)
        assert (refused.value.code, refused.value.retryable) == ("voice.text_only", False)
        assert refused.value.fallback is None  # the outbox sends it by text instead
    finally:
        await channel.close()
        await db.close_db()
