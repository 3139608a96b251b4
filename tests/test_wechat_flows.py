"""WeChat end to end over HTTP: check-in → "5" → recorded → answer through the fake API;
every error code path; the token expiring mid-run; binding; media; menus; QR codes."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import xmltodict
from tortoise.transactions import in_transaction

from bot import outbox
from bot.channels.simulator import SimulatorChannel
from bot.channels.wechat import WechatApi, WechatChannel, fit_field
from bot.clock import FrozenClock
from bot.keys import RUNTIME
from models import (
    Answer,
    AuditEvent,
    CheckIn,
    Contact,
    Conversation,
    Escalation,
    KeyValue,
    Message,
)
from tests.conftest import eventually, make_settings
from tests.fake_wechat import (
    FakeWechat,
    Scripted,
    decrypt_reply,
    event_xml,
    message_xml,
    signed_request,
    text_xml,
    wechat_section,
)
from tests.staff_helpers import make_staff, sign_in

OPENID = "oPATIENT0000000000000000001"
VISIT = {
    "external_id": "ZY-2026-0042", "person_name": "李娜", "contact_phone": "13800000042",
    "occurred_at": "2026-11-16 08:00", "department": "ortho", "department_name": "骨科",
    "treatment_type": "", "contact_openid": OPENID,
}
CUSTOM = "/cgi-bin/message/custom/send"
TEMPLATE = "/cgi-bin/message/template/send"
_ids = iter(range(10_000, 10**9))


@pytest.fixture
async def fake() -> AsyncIterator[FakeWechat]:
    f = await FakeWechat().start()
    yield f
    await f.close()


async def start(client_factory: Any, db_url: str, clock: FrozenClock, fake: FakeWechat,
                channels: dict[str, Any] | None = None, **wechat: Any) -> Any:
    wechat.setdefault("timeout_seconds", 0.5)
    wechat.setdefault("retry_backoff_seconds", 0.01)
    # No simulator unless a test asks: a failed WeChat message would fall back to it.
    settings = make_settings(db_url, wechat=wechat_section(fake.base_url, **wechat),
                             simulator={"enabled": False})
    if channels is not None:
        ch = WechatChannel(settings, clock)
        channels = {**channels, "wechat": ch}
        ch.peers = set(channels)
    return await client_factory(settings, clock, channels=channels)


async def say(client: Any, clock: FrozenClock, xml: str) -> str:
    req = signed_request(xml, timestamp=int(clock.now().timestamp()))
    r = await client.post("/wechat", params=req.params, data=req.body)
    assert r.status == 200, await r.text()
    body = await r.text()
    if body == "success":
        return ""
    return str(xmltodict.parse(decrypt_reply(body, {}))["xml"]["Content"])


async def text(client: Any, clock: FrozenClock, content: str, openid: str = OPENID) -> str:
    return await say(client, clock, text_xml(openid, content, next(_ids),
                                             int(clock.now().timestamp())))


async def import_visit(client: Any, **changes: Any) -> None:
    r = await client.post("/api/episodes", json={"source": "his",
                                                 "episodes": [{**VISIT, **changes}]},
                          headers={"Authorization": "Bearer test-key"})
    assert r.status == 200, await r.text()


async def queue_out(client: Any, contact_id: int, body: str, kind: str = "reply") -> int:
    rt = client.server.app[RUNTIME]
    async with in_transaction() as conn:
        m = await outbox.queue(conn, key=f"t:{next(_ids)}", channel="wechat",
                               contact_id=contact_id, conversation_id=None, body=body,
                               now=rt.now(), kind=kind)
    rt.outbox_waker.wake()
    return m.id


async def settled(message_id: int) -> Message:
    async def done() -> Message | None:
        m = await Message.get(id=message_id)
        return m if m.status != "queued" or m.error else None
    return await eventually(done)


# ---------------------------------------------------------------- the whole path


async def test_checkin_by_template_then_5_recorded_and_answered(
        client_factory: Any, db_url: str, clock: FrozenClock, fake: FakeWechat) -> None:
    client = await start(client_factory, db_url, clock, fake, template_id="TPL-REOPEN",
                         template_fields={
                             "thing1": "{org_name}{department}想了解您出院后的恢复情况",
                             "time2": "{visit_date}"})
    await import_visit(client)
    clock.advance(timedelta(days=1, hours=2))
    # Never wrote to us: outside the 48 h window, so the check-in opens with a template.
    sent = await eventually(lambda: _sent(fake, "template"))
    tpl = sent[0]["body"]
    assert tpl["template_id"] == "TPL-REOPEN" and tpl["touser"] == OPENID
    assert len(tpl["data"]["thing1"]["value"]) <= 20
    assert "/s/" in tpl["url"]  # the H5 survey page
    assert fake.sent_to(OPENID, "custom") == []
    # (recorded once the send is done: the fake may hear it a moment before the row says so)
    first = await eventually(lambda: Message.filter(direction="out", channel="wechat",
                                                    status="sent").order_by("id").first())
    assert first.provider_msg_id and first.provider_msg_id.startswith("tmpl:")
    out = [first]
    msgid = first.provider_msg_id.removeprefix("tmpl:")

    # WeChat reports the delivery.
    await say(client, clock, event_xml(OPENID, "TEMPLATESENDJOBFINISH",
                                       int(clock.now().timestamp()), MsgID=msgid,
                                       Status="success"))
    assert (await Message.get(id=out[0].id)).status == "delivered"

    # The person answers "5" in the chat (signed, encrypted): recorded, thanked by CS text.
    assert await text(client, clock, "5") == ""
    answer = await eventually(lambda: Answer.filter(question_id="overall").first())
    assert answer.score == 5 and answer.channel == "wechat"
    thanks = await eventually(lambda: _sent(fake, "custom"))
    assert thanks[0]["body"]["msgtype"] == "text" and thanks[0]["body"]["text"]["content"]
    assert (await CheckIn.get()).status == "answered"


def _sent(fake: FakeWechat, kind: str) -> Any:
    async def check() -> list[dict[str, Any]]:
        return fake.sent_to(OPENID, kind)
    return check()


# ---------------------------------------------------------------- error codes


async def _bound_contact(client: Any, clock: FrozenClock, phone: str = "13800000042") -> int:
    contact = await Contact.create(name="李娜", phone=phone, wechat_openid=OPENID)
    await text(client, clock, "你好")  # opens the 48-hour window
    return contact.id


@pytest.mark.parametrize(("script", "sends", "forced"), [
    ([Scripted(errcode=40001)], 1, 1),
    ([Scripted(errcode=42001)], 1, 1),
    ([Scripted(errcode=-1)], 1, 0),
    ([Scripted(status=502)], 1, 0),
    ([Scripted(status=503), Scripted(errcode=-1)], 1, 0),
    ([Scripted(drop=True)], 1, 0),
])
async def test_transient_errors_are_retried_within_the_call(
        client_factory: Any, db_url: str, clock: FrozenClock, fake: FakeWechat,
        script: list[Scripted], sends: int, forced: int) -> None:
    client = await start(client_factory, db_url, clock, fake)
    cid = await _bound_contact(client, clock)
    fake.then(CUSTOM, *script)
    m = await settled(await queue_out(client, cid, "您好"))
    assert m.status == "sent", m.error
    assert len(fake.sent_to(OPENID, "custom")) == sends
    assert fake.forced_refreshes == forced


async def test_a_lost_answer_is_never_followed_by_a_second_customer_service_message(
        client_factory: Any, db_url: str, clock: FrozenClock, fake: FakeWechat) -> None:
    # WeChat takes the message but its answer comes after our timeout. Customer-service
    # messages carry no idempotency key and WeChat cannot be asked: it is taken as sent.
    client = await start(client_factory, db_url, clock, fake)
    cid = await _bound_contact(client, clock)
    fake.then(CUSTOM, Scripted(late=1.5))
    m = await settled(await queue_out(client, cid, "您好"))
    assert (m.status, m.attempts) == ("queued", 0) and m.unsure_since == clock.now()
    clock.advance(timedelta(seconds=2))
    done = await eventually(lambda: _status(m.id, "sent"))
    assert done.provider_msg_id == f"cs:{m.id}" and "outcome unknown" in (done.error or "")
    assert len(fake.sent_to(OPENID, "custom")) == 1


async def test_a_lost_template_answer_is_repeated_with_the_same_client_msg_id(
        client_factory: Any, db_url: str, clock: FrozenClock, fake: FakeWechat) -> None:
    client = await start(client_factory, db_url, clock, fake, template_id="TPL", max_retries=0)
    cid = (await Contact.create(name="李娜", wechat_openid=OPENID)).id  # never wrote: template
    fake.then(TEMPLATE, Scripted(late=1.5))
    m = await settled(await queue_out(client, cid, "您好", kind="checkin"))
    assert m.status == "queued" and m.unsure_since is not None
    clock.advance(timedelta(seconds=2))
    await eventually(lambda: _status(m.id, "sent"))
    [sent] = fake.sent_to(OPENID, "template")  # WeChat dropped the repeat
    assert fake.deduplicated == 1 and sent["body"]["client_msg_id"]


async def test_persistent_system_busy_backs_off_to_the_outbox(
        client_factory: Any, db_url: str, clock: FrozenClock, fake: FakeWechat) -> None:
    client = await start(client_factory, db_url, clock, fake, max_retries=2)
    cid = await _bound_contact(client, clock)
    fake.fail(CUSTOM, -1, times=3)
    m = await settled(await queue_out(client, cid, "您好"))
    assert m.status == "queued" and m.error and m.error.startswith("-1")
    assert m.attempts == 1 and m.next_attempt_at and m.next_attempt_at > clock.now()
    clock.advance(timedelta(minutes=5))  # the outbox's back-off passes: delivered
    assert (await eventually(lambda: _status(m.id, "sent"))).status == "sent"


async def _status(mid: int, status: str) -> Message | None:
    m = await Message.get(id=mid)
    return m if m.status == status else None


@pytest.mark.parametrize("code", [43004, 43101, 40003])
async def test_unreachable_codes_mark_the_contact(client_factory: Any, db_url: str,
                                                  clock: FrozenClock, fake: FakeWechat,
                                                  code: int) -> None:
    client = await start(client_factory, db_url, clock, fake, fallback_channel="")
    cid = await _bound_contact(client, clock)
    fake.fail(CUSTOM, code)
    m = await settled(await queue_out(client, cid, "您好"))
    assert m.status == "failed" and m.error and m.error.startswith(str(code))
    contact = await Contact.get(id=cid)
    assert str(code) in contact.unreachable["wechat"]


async def test_unreachable_falls_back_to_the_configured_channel(
        client_factory: Any, db_url: str, clock: FrozenClock, fake: FakeWechat) -> None:
    # The fallback is general: any configured channel that can reach the contact (SMS in
    # production; the simulator here, which needs no provider).
    client = await start(client_factory, db_url, clock, fake, fallback_channel="simulator",
                         channels={"simulator": SimulatorChannel()})
    cid = await _bound_contact(client, clock)
    fake.fail(CUSTOM, 43004)
    m = await settled(await queue_out(client, cid, "复诊提醒"))
    assert m.status == "failed" and "sent via simulator" in (m.error or "")
    copy = await eventually(lambda: Message.filter(channel="simulator", status="delivered")
                            .first())
    assert copy.body == "复诊提醒" and copy.contact_id == cid


async def test_45015_without_template_or_fallback_waits_for_next_message(
        client_factory: Any, db_url: str, clock: FrozenClock, fake: FakeWechat) -> None:
    client = await start(client_factory, db_url, clock, fake, fallback_channel="")
    cid = await _bound_contact(client, clock)
    fake.fail(CUSTOM, 45015)  # WeChat says the window closed (our clock disagrees)
    m = await settled(await queue_out(client, cid, "工作人员的回复"))
    assert m.status == "failed" and m.error and m.error.startswith("45015")
    await text(client, clock, "在吗")
    assert (await eventually(lambda: _status(m.id, "sent"))).status == "sent"
    assert next(s["body"]["text"]["content"] for s in fake.sent_to(OPENID, "custom")) == \
        "工作人员的回复"


async def test_outside_48h_reply_reopens_with_template_and_waits(
        client_factory: Any, db_url: str, clock: FrozenClock, fake: FakeWechat) -> None:
    client = await start(client_factory, db_url, clock, fake, template_id="TPL",
                         fallback_channel="")
    cid = await _bound_contact(client, clock)
    clock.advance(timedelta(hours=49))
    m = await settled(await queue_out(client, cid, "医生的回复", kind="staff"))
    assert m.status == "failed" and (m.error or "").startswith("45015")
    assert len(fake.sent_to(OPENID, "template")) == 1  # the invitation
    assert fake.sent_to(OPENID, "custom") == []
    await text(client, clock, "好的")  # the person answers the invitation
    assert (await eventually(lambda: _status(m.id, "sent"))).status == "sent"


async def test_outside_48h_subscribe_message(client_factory: Any, db_url: str,
                                             clock: FrozenClock, fake: FakeWechat) -> None:
    client = await start(client_factory, db_url, clock, fake, template_id="SUB",
                         reopen_with="subscribe")
    await Contact.create(name="李娜", phone="13800000042", wechat_openid=OPENID)
    cid = (await Contact.get(wechat_openid=OPENID)).id
    m = await settled(await queue_out(client, cid, "回访", kind="checkin"))
    assert m.status == "sent" and (m.provider_msg_id or "").startswith("sub:")
    assert fake.sent_to(OPENID, "subscribe")[0]["body"]["template_id"] == "SUB"


async def test_45047_and_our_own_cap_of_five(client_factory: Any, db_url: str,
                                             clock: FrozenClock, fake: FakeWechat) -> None:
    client = await start(client_factory, db_url, clock, fake)
    cid = await _bound_contact(client, clock)
    ids = [await queue_out(client, cid, f"第{i}条") for i in range(6)]
    sixth = await settled(ids[5])
    assert sixth.status == "queued" and (sixth.error or "").startswith("45047")
    assert sixth.attempts == 0  # deferred, not a failed try
    assert len(fake.sent_to(OPENID, "custom")) == 5
    clock.advance(timedelta(minutes=1))
    await text(client, clock, "收到")
    assert (await eventually(lambda: _status(ids[5], "sent"))).status == "sent"
    # WeChat's own 45047 is handled the same way.
    fake.fail(CUSTOM, 45047)
    m = await settled(await queue_out(client, cid, "再一条"))
    assert (m.error or "").startswith("45047")


async def test_other_errors_fail_with_the_code(client_factory: Any, db_url: str,
                                               clock: FrozenClock, fake: FakeWechat) -> None:
    client = await start(client_factory, db_url, clock, fake)
    cid = await _bound_contact(client, clock)
    fake.fail(CUSTOM, 45002)  # content size out of limit: this message's own problem
    m = await settled(await queue_out(client, cid, "x"))
    assert m.status == "failed" and (m.error or "").startswith("45002")


# ---------------------------------------------------------------- tokens


async def test_token_expiring_mid_run(client_factory: Any, db_url: str, clock: FrozenClock,
                                      fake: FakeWechat) -> None:
    client = await start(client_factory, db_url, clock, fake)
    cid = await _bound_contact(client, clock)
    assert (await settled(await queue_out(client, cid, "一"))).status == "sent"
    first = (await KeyValue.get(key=f"wechat:token:{fake.app_id}")).value
    fake.expire_tokens()  # two hours pass at WeChat; our cache still believes the token
    assert (await settled(await queue_out(client, cid, "二"))).status == "sent"
    second = (await KeyValue.get(key=f"wechat:token:{fake.app_id}")).value
    assert first != second and fake.token_fetches == 2 and fake.forced_refreshes == 0
    assert len(fake.sent_to(OPENID, "custom")) == 2


async def test_token_is_shared_through_the_database(client_factory: Any, db_url: str,
                                                    clock: FrozenClock,
                                                    fake: FakeWechat) -> None:
    client = await start(client_factory, db_url, clock, fake)
    cfg = client.server.app[RUNTIME].settings.wechat
    a, b = WechatApi(cfg, clock), WechatApi(cfg, clock)  # two processes
    try:
        assert await a.access_token() == await b.access_token()
        assert fake.token_fetches == 1
        clock.advance(timedelta(hours=2))  # past expires_in: fetched again, once
        assert await b.access_token() == await a.access_token()
        assert fake.token_fetches == 2
    finally:
        await a.close()
        await b.close()


async def test_bad_secret_pauses_and_keeps_the_message(client_factory: Any, db_url: str,
                                                       clock: FrozenClock,
                                                       fake: FakeWechat) -> None:
    fake.secret = "something else"
    client = await start(client_factory, db_url, clock, fake)
    cid = await _bound_contact(client, clock)
    m = await settled(await queue_out(client, cid, "x"))
    assert (m.status, m.attempts) == ("queued", 0) and "40125" in (m.error or "")
    health = await (await client.get("/healthz")).json()
    assert health["status"] == "degraded" and health["paused"][0]["code"] == "40125"


def test_template_fields_are_cut_to_wechat_limits() -> None:
    assert fit_field("thing3", "一" * 30) == "一" * 19 + "…"
    assert len(fit_field("character_string12", "x" * 50)) == 32
    assert fit_field("phrase1", "非常满意非常满意") == "非常满意非"
    assert fit_field("time2", "11月16日") == "11月16日"
    assert fit_field("unknown", "a  b\n c") == "a b c"


# ---------------------------------------------------------------- binding


async def test_qr_code_binds_by_subscribe_and_scan(client_factory: Any, db_url: str,
                                                   clock: FrozenClock, fake: FakeWechat) -> None:
    client = await start(client_factory, db_url, clock, fake)
    await import_visit(client, contact_openid="")
    assert (await client.get(f"/staff/wechat-qr/{VISIT['external_id']}",
                             allow_redirects=False)).status == 303  # sign in first
    await make_staff("nurse", "agent", ["ortho"])
    await make_staff("dentist", "agent", ["dental"])
    other_desk = await client_factory(client.server.app[RUNTIME].settings, clock,
                                      run_loops=False)
    await sign_in(other_desk, "dentist")
    assert (await other_desk.get(f"/staff/wechat-qr/{VISIT['external_id']}")).status == 403
    await sign_in(client, "nurse")
    page = await client.get(f"/staff/wechat-qr/{VISIT['external_id']}")
    assert page.status == 200 and "<svg" in await page.text()
    assert "李*" in await page.text() and "李娜" not in await page.text()
    qr = fake.sent[-1]["body"]
    scene = qr["action_info"]["scene"]["scene_str"]
    assert qr["action_name"] == "QR_STR_SCENE" and scene.startswith("ep:")
    assert qr["expire_seconds"] == 30 * 86400
    await client.get(f"/staff/wechat-qr/{VISIT['external_id']}")  # reused, not re-created
    assert len([s for s in fake.sent if s["kind"] == "qrcode"]) == 1
    assert (await client.get("/staff/wechat-qr/NOPE")).status == 404

    now = int(clock.now().timestamp())
    greeting = await say(client, clock, event_xml(OPENID, "subscribe", now,
                                                  key=f"qrscene_{scene}", Ticket="t"))
    assert "骨科" in greeting and "绑定" in greeting
    contact = await Contact.get(phone=VISIT["contact_phone"])
    assert contact.wechat_openid == OPENID and contact.preferred_channel == "wechat"
    assert await AuditEvent.filter(kind="wechat_bound").count() == 1

    # Unfollowing makes WeChat unreachable; following again by scanning restores it.
    await say(client, clock, event_xml(OPENID, "unsubscribe", now + 1))
    contact = await Contact.get(id=contact.id)
    assert "unsubscribed" in contact.unreachable["wechat"] and contact.opted_out_at is None
    await say(client, clock, event_xml(OPENID, "SCAN", now + 2, key=scene, Ticket="t"))
    assert "wechat" not in (await Contact.get(id=contact.id)).unreachable

    # Someone else scans the same paper: the latest scan wins.
    other = "oOTHER00000000000000000002"
    await say(client, clock, event_xml(other, "SCAN", now + 3, key=scene))
    assert (await Contact.get(id=contact.id)).wechat_openid == other
    assert "失效" in await say(client, clock, event_xml(OPENID, "SCAN", now + 4,
                                                          key="ep:999999"))


async def test_unsubscribe_can_opt_out(client_factory: Any, db_url: str, clock: FrozenClock,
                                       fake: FakeWechat) -> None:
    client = await start(client_factory, db_url, clock, fake, unsubscribe_opts_out=True)
    await import_visit(client)
    await say(client, clock, event_xml(OPENID, "unsubscribe", int(clock.now().timestamp())))
    contact = await Contact.get(wechat_openid=OPENID)
    assert contact.opted_out_at is not None
    assert await CheckIn.filter(status="planned").count() == 0


async def test_binding_by_phone_and_sms_code(client_factory: Any, db_url: str,
                                             clock: FrozenClock, fake: FakeWechat) -> None:
    sms = SimulatorChannel()  # stands in for the SMS channel: delivers into the database
    client = await start(client_factory, db_url, clock, fake, channels={"sms": sms})
    await import_visit(client, contact_openid="")
    stranger = "oSTRANGER000000000000000003"
    assert "二维码" in await text(client, clock, "你好", openid=stranger)
    # An unknown number gets the same answer and no code.
    reply = await text(client, clock, "139 0000 9999", openid=stranger)
    assert "验证码" in reply and await Message.filter(channel="sms").count() == 0
    assert await text(client, clock, "+86 138-0000-0042", openid=stranger) == reply
    code_msg = await eventually(lambda: Message.filter(channel="sms", kind="otp",
                                                       status="delivered").first())
    code = code_msg.params["code"]
    assert len(code) == 6 and code in code_msg.body
    wrong = "000000" if code != "000000" else "111111"
    assert "不正确" in await text(client, clock, wrong, openid=stranger)
    assert "绑定" in await text(client, clock, code, openid=stranger)
    contact = await Contact.get(phone="13800000042")
    assert contact.wechat_openid == stranger
    # What they wrote before binding now belongs to them.
    assert await Message.filter(direction="in", contact_id=contact.id).count() >= 4


async def test_phone_binding_without_sms_channel(client_factory: Any, db_url: str,
                                                 clock: FrozenClock, fake: FakeWechat) -> None:
    client = await start(client_factory, db_url, clock, fake)
    await import_visit(client, contact_openid="")
    assert "二维码" in await text(client, clock, "13800000042", openid="oX0000000000000000009")


# ---------------------------------------------------------------- media, voice, menus


async def _in_survey(client: Any, clock: FrozenClock, fake: FakeWechat) -> Contact:
    await import_visit(client)
    # Following the account opens the window: the check-in goes by customer-service text.
    await say(client, clock, event_xml(OPENID, "subscribe", int(clock.now().timestamp())))
    clock.advance(timedelta(days=1, hours=2))
    await eventually(lambda: Conversation.filter(status="open", checkin_id__not_isnull=True)
                     .first())
    await eventually(lambda: _sent(fake, "custom"))
    return await Contact.get(wechat_openid=OPENID)


async def test_media_and_voice_during_a_survey(client_factory: Any, db_url: str,
                                               clock: FrozenClock, fake: FakeWechat) -> None:
    client = await start(client_factory, db_url, clock, fake)
    contact = await _in_survey(client, clock, fake)
    now = int(clock.now().timestamp())
    voice = message_xml(OPENID, "voice", now, MediaId="m1", Format="amr", Recognition="",
                        MsgId=next(_ids))
    assert "输入数字" in await say(client, clock, voice)
    assert await Escalation.all().count() == 0
    voice2 = message_xml(OPENID, "voice", now, MediaId="m2", Format="amr", MsgId=next(_ids))
    assert "工作人员" in await say(client, clock, voice2)
    image = message_xml(OPENID, "image", now, PicUrl="http://x/p.jpg", MediaId="m3",
                        MsgId=next(_ids))
    assert "工作人员" in await say(client, clock, image)
    location = message_xml(OPENID, "location", now, Location_X="30.2", Location_Y="120.1",
                           Scale=15, Label="杭州市", MsgId=next(_ids))
    await say(client, clock, location)
    esc = await Escalation.get()
    assert esc.kind == "other" and "[语音]" in esc.reason and "[图片]" in esc.reason
    stored = await Message.filter(direction="in", contact_id=contact.id, body__startswith="[")
    assert {m.body for m in stored} >= {"[语音]", "[图片]", "[位置] 杭州市"}
    # Voice with WeChat's recognition is read like text: "五分" answers the question.
    said = message_xml(OPENID, "voice", now, MediaId="m4", Format="amr", Recognition="五分。",
                       MsgId=next(_ids))
    assert await say(client, clock, said) == ""
    answer = await eventually(lambda: Answer.filter(question_id="overall").first())
    assert answer.score == 5


async def test_menu_clicks(client_factory: Any, db_url: str, clock: FrozenClock,
                           fake: FakeWechat) -> None:
    client = await start(client_factory, db_url, clock, fake, menu_survey_key="我要评价",
                         menu_staff_key="联系客服")
    await _in_survey(client, clock, fake)
    now = int(clock.now().timestamp())
    link = await say(client, clock, event_xml(OPENID, "CLICK", now, key="我要评价"))
    assert "/s/" in link
    staff = await say(client, clock, event_xml(OPENID, "CLICK", now + 1, key="联系客服"))
    assert "工作人员" in staff
    assert (await Escalation.get()).reason.startswith("asked for staff")
    assert await say(client, clock, event_xml(OPENID, "CLICK", now + 2, key="其他")) == ""


# ---------------------------------------------------------------- CLI


async def test_cli_prints_the_qr_code(client_factory: Any, db_url: str, clock: FrozenClock,
                                      fake: FakeWechat, tmp_path: Path) -> None:
    client = await start(client_factory, db_url, clock, fake)
    await import_visit(client)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\nurl = "{db_url}"\n[wechat]\napp_id = "{fake.app_id}"\n'
                   f'app_secret = "{fake.secret}"\ntoken = "t"\nmode = "plain"\n'
                   f'api_base_url = "{fake.base_url}"\n', encoding="utf-8")
    svg = tmp_path / "qr.svg"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--config", str(cfg), "wechat-qr",
        VISIT["external_id"], "--svg", str(svg),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert "http://weixin.qq.com/q/" in out.decode()
    assert svg.read_text().startswith("<?xml") or "<svg" in svg.read_text()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--config", str(cfg), "wechat-qr", "NOPE",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1 and "no episode" in err.decode()
