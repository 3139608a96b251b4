"""The WeChat webhook over HTTP: official vectors, signatures, modes, retries, hostile XML."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import xmltodict

from bot.clock import FrozenClock
from bot.config import Settings
from models import Contact, Message
from tests.conftest import make_settings
from tests.fake_wechat import (
    AES_KEY,
    APP_ID,
    TOKEN,
    FakeWechat,
    decrypt_reply,
    event_xml,
    message_xml,
    sign,
    signed_request,
    text_xml,
    wechat_section,
)

# Tencent's published test vectors (WXBizMsgCrypt's Python sample and the message-encryption
# documentation's worked example): a webhook that accepts these accepts real WeChat traffic.
VECTORS = json.loads((Path(__file__).parent / "data" / "wechat_vectors.json").read_text())
OPENID = "oFAKEopenid000000000000000001"


@pytest.fixture
async def fake() -> AsyncIterator[FakeWechat]:
    f = await FakeWechat().start()
    yield f
    await f.close()


def ts(clock: FrozenClock) -> int:
    return int(clock.now().timestamp())


async def app_with(client_factory: Any, db_url: str, clock: FrozenClock, fake: FakeWechat,
                   **wechat: Any) -> Any:
    settings = make_settings(db_url, wechat=wechat_section(fake.base_url, **wechat))
    return await client_factory(settings, clock, run_loops=False)


async def post(client: Any, xml: str, clock: FrozenClock, mode: str = "safe",
               **kw: Any) -> Any:
    req = signed_request(xml, timestamp=ts(clock), mode=mode, **kw)
    return await client.post("/wechat", params=req.params, data=req.body)


# ---------------------------------------------------------------- official vectors


async def test_official_plain_signature_vector(client_factory: Any, db_url: str,
                                               fake: FakeWechat) -> None:
    v = VECTORS["plain_mode_signature"]
    clock = FrozenClock(datetime.fromtimestamp(int(v["timestamp"]), UTC))
    client = await app_with(client_factory, db_url, clock, fake, token=v["token"], mode="plain")
    q = {"signature": v["signature"], "timestamp": v["timestamp"], "nonce": v["nonce"],
         "echostr": "4711 echo 字"}
    r = await client.get("/wechat", params=q)
    assert r.status == 200 and await r.text() == "4711 echo 字"
    r = await client.get("/wechat", params={**q, "signature": "0" * 40})
    assert r.status == 403


async def test_official_safe_mode_vector(client_factory: Any, db_url: str,
                                         fake: FakeWechat) -> None:
    v = VECTORS["safe_mode_python_sample"]
    clock = FrozenClock(datetime.fromtimestamp(int(v["timestamp"]), UTC))
    client = await app_with(client_factory, db_url, clock, fake, token=v["token"],
                            encoding_aes_key=v["encoding_aes_key"], app_id=v["app_id"])
    q = {"timestamp": v["timestamp"], "nonce": v["nonce"], "encrypt_type": "aes",
         "msg_signature": v["msg_signature"]}
    r = await client.post("/wechat", params=q, data=v["body"].encode())
    assert r.status == 200, await r.text()
    # Unknown person: stored first (no contact), answered with an encrypted bind prompt.
    msg = await Message.get(provider_msg_id="6054768590064713728")
    assert msg.body == "abcdteT" and msg.contact_id is None
    assert msg.raw_payload == v["plaintext"]
    reply = xmltodict.parse(decrypt_reply(await r.text(), {}, token=v["token"],
                                          aes_key=v["encoding_aes_key"],
                                          app_id=v["app_id"]))["xml"]
    assert reply["ToUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert "二维码" in reply["Content"]
    # A tampered msg_signature is refused and stores nothing more.
    r = await client.post("/wechat", params={**q, "msg_signature": "f" * 40},
                          data=v["body"].encode())
    assert r.status == 403
    assert await Message.all().count() == 1


# ---------------------------------------------------------------- verification and modes


@pytest.mark.parametrize("mode", ["safe", "compatible", "plain"])
async def test_each_mode_stores_once_and_answers_success(client_factory: Any, db_url: str,
                                                         clock: FrozenClock, fake: FakeWechat,
                                                         mode: str) -> None:
    client = await app_with(client_factory, db_url, clock, fake, mode=mode)
    contact = await Contact.create(name="王芳", phone="13900000001", wechat_openid=OPENID)
    xml = text_xml(OPENID, "5", 9001, ts(clock))
    for _ in range(4):  # WeChat's first try and its three retries
        r = await post(client, xml, clock, mode=mode)
        assert r.status == 200 and await r.text() == "success"
    rows = await Message.filter(direction="in")
    assert len(rows) == 1 and rows[0].body == "5" and rows[0].contact_id == contact.id
    assert rows[0].status == "received"  # the dispatcher takes it from here


async def test_safe_mode_refuses_plaintext(client_factory: Any, db_url: str,
                                           clock: FrozenClock, fake: FakeWechat) -> None:
    client = await app_with(client_factory, db_url, clock, fake, mode="safe")
    r = await post(client, text_xml(OPENID, "5", 1, ts(clock)), clock, mode="plain")
    assert r.status == 403
    assert await Message.all().count() == 0


@pytest.mark.parametrize(("change", "status"), [
    ({"signature": "0" * 40}, 403),
    ({"msg_signature": "0" * 40}, 403),
    ({"timestamp": "SHIFT_PAST"}, 403),
    ({"timestamp": "SHIFT_FUTURE"}, 403),
    ({"timestamp": "abc"}, 403),
    ({"nonce": ""}, 403),
])
async def test_bad_signatures_and_stale_timestamps(client_factory: Any, db_url: str,
                                                   clock: FrozenClock, fake: FakeWechat,
                                                   change: dict[str, str], status: int) -> None:
    client = await app_with(client_factory, db_url, clock, fake)
    req = signed_request(text_xml(OPENID, "5", 2, ts(clock)), timestamp=ts(clock))
    params = dict(req.params)
    for k, v in change.items():
        if v in ("SHIFT_PAST", "SHIFT_FUTURE"):
            shifted = ts(clock) + (-301 if v == "SHIFT_PAST" else 301)
            # Correctly signed, but too far from our clock: a replay.
            req = signed_request(text_xml(OPENID, "5", 2, ts(clock)), timestamp=shifted)
            params = dict(req.params)
        else:
            params[k] = v
    r = await client.post("/wechat", params=params, data=req.body)
    assert r.status == status
    assert await Message.all().count() == 0


async def test_get_verification_needs_signature_and_fresh_timestamp(
        client_factory: Any, db_url: str, clock: FrozenClock, fake: FakeWechat) -> None:
    client = await app_with(client_factory, db_url, clock, fake)
    t = str(ts(clock))
    ok = {"signature": sign(TOKEN, t, "77"), "timestamp": t, "nonce": "77", "echostr": "abc"}
    assert await (await client.get("/wechat", params=ok)).text() == "abc"
    old = str(ts(clock) - 3600)
    stale = {"signature": sign(TOKEN, old, "77"), "timestamp": old, "nonce": "77",
             "echostr": "abc"}
    assert (await client.get("/wechat", params=stale)).status == 403


async def test_webhook_path_from_configuration(client_factory: Any, db_url: str,
                                               clock: FrozenClock, fake: FakeWechat) -> None:
    client = await app_with(client_factory, db_url, clock, fake, webhook_path="/wx/hook")
    req = signed_request(text_xml(OPENID, "hi", 3, ts(clock)), timestamp=ts(clock))
    assert (await client.post("/wx/hook", params=req.params, data=req.body)).status == 200
    assert (await client.post("/wechat", params=req.params, data=req.body)).status in (404, 405)


async def test_channel_off_means_404(client_factory: Any, settings: Settings,
                                     clock: FrozenClock) -> None:
    client = await client_factory(settings, clock, run_loops=False)
    assert (await client.get("/wechat")).status == 404


# ---------------------------------------------------------------- hostile input

BOMB = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<xml><ToUserName>x</ToUserName><FromUserName>u</FromUserName>'
        '<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&b;</Content>'
        '<MsgId>1</MsgId></xml>')
XXE = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
       '<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime>'
       '<MsgType>text</MsgType><Content>&x;</Content><MsgId>1</MsgId></xml>')


@pytest.mark.parametrize(("name", "body", "mode", "status"), [
    ("entity expansion, plain", BOMB, "plain", 400),
    ("external entity, plain", XXE, "plain", 400),
    ("entity expansion inside AES", BOMB, "safe", 400),
    ("not XML", "hello", "plain", 400),
    ("truncated XML", "<xml><FromUserName>u</From", "plain", 400),
    ("wrong root", "<html><FromUserName>u</FromUserName></html>", "plain", 400),
    ("nested field", message_xml(OPENID, "text", 1, MsgId=5).replace(
        "</xml>", "<Content><a>1</a></Content></xml>"), "plain", 400),
    ("missing FromUserName", "<xml><MsgType>text</MsgType><CreateTime>1</CreateTime>"
     "<MsgId>1</MsgId><Content>5</Content></xml>", "plain", 400),
    ("missing MsgId", message_xml(OPENID, "text", 1, Content="5"), "safe", 400),
    ("missing Event", message_xml(OPENID, "event", 1), "safe", 400),
    ("missing Encrypt", "<xml><ToUserName>x</ToUserName></xml>", "aes-raw", 403),
    ("garbage ciphertext", "<xml><Encrypt>!!notbase64!!</Encrypt></xml>", "aes-raw", 403),
])
async def test_hostile_xml_is_refused_without_a_row(client_factory: Any, db_url: str,
                                                    clock: FrozenClock, fake: FakeWechat,
                                                    name: str, body: str, mode: str,
                                                    status: int) -> None:
    client = await app_with(client_factory, db_url, clock, fake,
                            mode="compatible" if mode == "plain" else "safe")
    if mode == "aes-raw":
        t, nonce = str(ts(clock)), "5"
        params = {"signature": sign(TOKEN, t, nonce), "timestamp": t, "nonce": nonce,
                  "encrypt_type": "aes", "msg_signature": "0" * 40}
        r = await client.post("/wechat", params=params, data=body.encode())
    else:
        r = await post(client, body, clock, mode=mode)
    assert r.status == status, (name, await r.text())
    assert await Message.all().count() == 0


async def test_garbage_ciphertext_with_valid_signature(client_factory: Any, db_url: str,
                                                       clock: FrozenClock,
                                                       fake: FakeWechat) -> None:
    # Signed correctly (the attacker would need the token, but a corrupt relay may do this).
    client = await app_with(client_factory, db_url, clock, fake)
    t, nonce, enc = str(ts(clock)), "9", "QUJDREVGR0g="
    params = {"signature": sign(TOKEN, t, nonce), "timestamp": t, "nonce": nonce,
              "encrypt_type": "aes", "msg_signature": sign(TOKEN, t, nonce, enc)}
    r = await client.post("/wechat", params=params,
                          data=f"<xml><Encrypt>{enc}</Encrypt></xml>".encode())
    assert r.status == 400
    assert await Message.all().count() == 0


async def test_invalid_utf8_and_huge_bodies(client_factory: Any, db_url: str,
                                            clock: FrozenClock, fake: FakeWechat) -> None:
    client = await app_with(client_factory, db_url, clock, fake, mode="plain")
    t, nonce = str(ts(clock)), "1"
    params = {"signature": sign(TOKEN, t, nonce), "timestamp": t, "nonce": nonce}
    bad = text_xml(OPENID, "X", 1, ts(clock)).encode().replace(b"X", b"\xff\xfe")
    r = await client.post("/wechat", params=params, data=bad)
    assert r.status == 400 and "UTF-8" in await r.text()
    huge = text_xml(OPENID, "5" * 200_000, 2, ts(clock)).encode()
    r = await client.post("/wechat", params=params, data=huge)
    assert r.status == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for _ in range(100):
            yield b"<" * 4096

    r = await client.post("/wechat", params=params, data=chunks())
    assert r.status == 413
    assert await Message.all().count() == 0


# ---------------------------------------------------------------- event deduplication


async def test_events_are_deduplicated_by_user_time_and_event(
        client_factory: Any, db_url: str, clock: FrozenClock, fake: FakeWechat) -> None:
    client = await app_with(client_factory, db_url, clock, fake)
    xml = event_xml(OPENID, "subscribe", ts(clock))
    bodies = []
    for _ in range(4):
        r = await post(client, xml, clock)
        assert r.status == 200
        bodies.append(await r.text())
    assert "感谢关注" in xmltodict.parse(decrypt_reply(bodies[0], {}))["xml"]["Content"]
    assert bodies[1:] == ["success"] * 3  # retries: stored once, greeted once
    assert await Message.filter(direction="in").count() == 1
    # Another second is another event.
    await post(client, event_xml(OPENID, "subscribe", ts(clock) + 1), clock)
    assert await Message.filter(direction="in").count() == 2


async def test_vectors_constants_are_consistent() -> None:
    # The fake signs with the same algorithm as the official vectors.
    v = VECTORS["plain_mode_signature"]
    assert sign(v["token"], v["timestamp"], v["nonce"]) == v["signature"]
    assert len(AES_KEY) == 43 and APP_ID.startswith("wx")


async def test_time_is_the_injected_clock(client_factory: Any, db_url: str,
                                          fake: FakeWechat) -> None:
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
    client = await app_with(client_factory, db_url, clock, fake)
    r = await post(client, text_xml(OPENID, "1", 77, ts(clock)), clock)
    assert r.status == 200
    clock.advance(timedelta(minutes=10))
    req = signed_request(text_xml(OPENID, "1", 78, 0), timestamp=ts(clock) - 600)
    assert (await client.post("/wechat", params=req.params, data=req.body)).status == 403


async def test_a_burst_is_stored_together_and_retries_inside_it_once(
        client_factory: Any, db_url: str, clock: FrozenClock, fake: FakeWechat) -> None:
    # Requests arriving together share one commit (group commit); a retry that arrives
    # while the first try is still in flight is still stored once.
    import asyncio

    client = await app_with(client_factory, db_url, clock, fake)
    contact = await Contact.create(name="王芳", phone="13900000001", wechat_openid=OPENID)
    xmls = [text_xml(OPENID, str(1 + i % 5), 5000 + i, ts(clock)) for i in range(40)]
    xmls += xmls[:10]  # retries in the same burst
    stranger = text_xml("oSTRANGER0000000000000000009", "你好", 6000, ts(clock))
    replies = await asyncio.gather(*(post(client, x, clock) for x in [*xmls, stranger]))
    assert all(r.status == 200 for r in replies)
    rows = await Message.filter(direction="in").order_by("provider_msg_id")
    assert len(rows) == 41
    mine = [r for r in rows if r.contact_id == contact.id]
    assert len(mine) == 40 and {r.status for r in mine} == {"received"}
    assert all(r.kind == "reply" and r.params == {} and r.attempts == 0 and r.sender == "person"
               for r in mine)
    assert (await Contact.get(id=contact.id)).last_inbound_channel == "wechat"
    assert "二维码" in decrypt_reply(await replies[-1].text(), {})  # the stranger's prompt


async def test_receive_many_stores_rows_exactly_like_receive(orm: None, runtime: Any) -> None:
    # Same values and the same stored form (SQLite compares datetimes as text).
    from bot import dispatcher

    a = await Contact.create(name="甲", phone="13900000011")
    b = await Contact.create(name="乙", phone="13900000012")
    one = await dispatcher.receive(runtime, channel="wechat", contact_id=a.id, text="5",
                                   provider_id="1", raw="<xml/>")
    many = await dispatcher.receive_many(runtime, [
        dispatcher.InboundItem("wechat", b.id, "5", "2", "<xml/>"),
        dispatcher.InboundItem("wechat", b.id, "5", "2", "<xml/>"),
        dispatcher.InboundItem("wechat", a.id, "5", "1", "<xml/>"),
    ])
    assert [r.duplicate for r in many] == [False, True, True]
    assert many[2].message_id == one.message_id
    fields = ("direction", "channel", "sender", "body", "raw_payload", "status", "kind",
              "params", "attempts", "created_at", "next_attempt_at", "conversation_id")
    rows = await Message.all().order_by("id").values(*fields)
    assert rows[0] == rows[1]
    now = runtime.now()
    assert await Message.filter(next_attempt_at__lte=now).count() == 2  # the dispatcher's
    contacts = await Contact.filter(id__in=[a.id, b.id]).values_list("last_inbound_at",
                                                                      flat=True)
    assert set(contacts) == {now}
