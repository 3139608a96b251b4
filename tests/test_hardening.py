"""The hardening issue's guarantees, each driven from outside: parallel sign-in guesses,
WeChat MsgIds and DTDs, department names in a head's reports, cross-department reassigning,
batches that keep their valid items, and the last-resort 500."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot import staff as svc
from bot.app import create_app
from bot.clock import FrozenClock
from bot.config import Settings
from bot.keys import RUNTIME
from models import Episode, Escalation, KeyValue, Message
from tests.conftest import make_settings
from tests.fake_aliyun import CALLBACK_TOKEN, sms_section
from tests.fake_wechat import FakeWechat, signed_request, text_xml, wechat_section
from tests.staff_helpers import PASSWORD, conversation, csrf_of, escalate, make_staff, sign_in
from tests.test_tallies_web import seeded

# --------------------------------------------------------------------------- sign-in


async def test_twenty_parallel_wrong_passwords_five_checked_fifteen_refused(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await client_factory(settings, clock, run_loops=False)
    await make_staff("li")
    token = csrf_of(await (await client.get("/staff/login")).text())

    async def attempt(password: str) -> int:
        r = await client.post("/staff/login", data={"username": "li", "password": password,
                                                    "csrf": token}, allow_redirects=False)
        return r.status

    statuses = await asyncio.gather(*(attempt(f"wrong-{i}") for i in range(20)))
    assert sorted(statuses) == [401] * 5 + [429] * 15
    # The counter holds every attempt, not the last one written.
    pair = svc.throttle_keys("li", "127.0.0.1")["pair"]
    assert int((await KeyValue.get(key=pair)).value) == 20
    # Locked: the right password is refused too, without being checked.
    assert await attempt(PASSWORD) == 429


async def test_guesses_from_many_addresses_meet_the_per_account_limit(
        db_url: str, clock: FrozenClock) -> None:
    from bot import db
    from bot.app import build_channels
    from bot.runtime import Runtime

    settings = make_settings(db_url, staff={"login_max_failures_per_account": 10})
    rt = Runtime(settings=settings, clock=clock, channels=build_channels(settings))
    await db.init_db(db_url)
    try:
        await make_staff("li")

        async def attempt(i: int) -> int:
            try:
                await svc.login(rt, "li", "wrong-password", f"10.0.{i // 250}.{i % 250}")
            except svc.StaffError as e:
                return e.status
            return 200

        statuses = await asyncio.gather(*(attempt(i) for i in range(40)))
        assert statuses.count(401) == 10 and statuses.count(429) == 30
        with pytest.raises(svc.StaffError) as e:
            await svc.login(rt, "li", PASSWORD, "10.9.9.9")  # a fresh address: still locked
        assert e.value.status == 429
    finally:
        await db.close_db()


async def test_a_long_username_is_refused_not_a_crash(settings: Settings, clock: FrozenClock,
                                                      client_factory: Any) -> None:
    client = await client_factory(settings, clock, run_loops=False)
    token = csrf_of(await (await client.get("/staff/login")).text())
    r = await client.post("/staff/login", data={"username": "u" * 5000, "password": "x" * 10,
                                                "csrf": token})
    assert r.status == 422 and "用户名最多64个字符" in await r.text()
    r = await client.post("/staff/login", data=b"\xff\xfe=%ff", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status in (400, 403)


# --------------------------------------------------------------------------- WeChat


@pytest.fixture
async def fake() -> AsyncIterator[FakeWechat]:
    f = await FakeWechat().start()
    yield f
    await f.close()


@pytest.mark.parametrize("msg_id", ["①", "٣", "１", "9" * 40, "²", "18446744073709551616"])
@pytest.mark.parametrize("mode", ["safe", "plain"])
async def test_signed_message_with_a_lookalike_msgid_is_refused_and_not_stored(
        client_factory: Any, db_url: str, clock: FrozenClock, fake: FakeWechat, msg_id: str,
        mode: str) -> None:
    settings = make_settings(db_url, wechat=wechat_section(fake.base_url, mode="compatible"))
    client = await client_factory(settings, clock, run_loops=False)
    now = int(clock.now().timestamp())
    xml = text_xml("oFAKE0001", "5", 1).replace("<MsgId>1</MsgId>", f"<MsgId>{msg_id}</MsgId>")
    req = signed_request(xml, timestamp=now, mode=mode)
    r = await client.post("/wechat", params=req.params, data=req.body)
    assert r.status == 400 and "MsgId" in await r.text()
    assert await Message.all().count() == 0
    # The same message with a real MsgId (WeChat's are 64-bit) is stored.
    ok = signed_request(text_xml("oFAKE0001", "5", 18446744073709551615), timestamp=now,
                        mode=mode)
    r = await client.post("/wechat", params=ok.params, data=ok.body)
    assert r.status == 200 and await Message.all().count() == 1


@pytest.mark.parametrize("mode", ["safe", "plain"])
async def test_a_doctype_anywhere_in_the_body_is_refused(client_factory: Any, db_url: str,
                                                         clock: FrozenClock, fake: FakeWechat,
                                                         mode: str) -> None:
    settings = make_settings(db_url, wechat=wechat_section(fake.base_url, mode="compatible"))
    client = await client_factory(settings, clock, run_loops=False)
    now = int(clock.now().timestamp())
    xml = text_xml("oFAKE0001", "5", 7).replace("<xml>", "<xml>" + " " * 6000, 1).replace(
        "</xml>", "<!DOCTYPE x [<!ENTITY e 'boom'>]></xml>")
    req = signed_request(xml, timestamp=now, mode=mode)
    r = await client.post("/wechat", params=req.params, data=req.body)
    assert r.status == 400 and "document type" in await r.text()
    assert await Message.all().count() == 0


@pytest.mark.parametrize("ts", ["²", "①", "٣", "１", "9" * 40])
async def test_a_lookalike_timestamp_is_refused(client_factory: Any, db_url: str,
                                                clock: FrozenClock, fake: FakeWechat,
                                                ts: str) -> None:
    settings = make_settings(db_url, wechat=wechat_section(fake.base_url))
    client = await client_factory(settings, clock, run_loops=False)
    req = signed_request(text_xml("oFAKE0001", "5", 1), timestamp=int(clock.now().timestamp()))
    r = await client.post("/wechat", params={**req.params, "timestamp": ts}, data=req.body)
    assert r.status == 403
    assert await Message.all().count() == 0


# --------------------------------------------------------------------------- department names


async def test_a_heads_reports_name_only_their_departments(db_url: str,
                                                           client_factory: Any) -> None:
    from models import Department

    client = await seeded(db_url, client_factory, role="head", depts=["eye"])
    rep = json.dumps(await (await client.get("/reports/monthly.json?period=2026-10")).json(),
                     ensure_ascii=False)
    assert "眼科" in rep and "内科" not in rep
    im = (await Department.get(code="im")).id
    page = await (await client.get(
        f"/tallies/answers?by=department&key={im}&q=overall&from=2026-10-01&to=2026-10-31"
        "&period=all")).text()
    assert "内科" not in page
    eye = (await Department.get(code="eye")).id
    page = await (await client.get(
        f"/tallies/answers?by=department&key={eye}&q=overall&from=2026-10-01&to=2026-10-31"
        "&period=all")).text()
    assert "眼科" in page
    # A manager still sees every name.
    await make_staff("mgr", "manager")
    other = await client_factory(client.server.app[RUNTIME].settings, client.clock)
    await sign_in(other, "mgr")
    rep = json.dumps(await (await other.get("/reports/monthly.json?period=2026-10")).json(),
                     ensure_ascii=False)
    assert "内科" in rep and "眼科" in rep


# --------------------------------------------------------------------------- staff actions


async def test_an_agent_reassigning_another_departments_escalation_gets_a_4xx(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await client_factory(settings, clock, run_loops=False)
    rt = client.server.app[RUNTIME]
    head = await make_staff("head1", "head", ["dental"])
    await make_staff("agent1", "agent", ["ortho"])
    esc = await escalate(rt, await conversation(rt, "dental"))
    csrf = await sign_in(client, "agent1")
    r = await client.post(f"/staff/escalations/{esc.id}/reassign",
                          data={"csrf": csrf, "to": str(head.id)})
    assert r.status == 403
    assert "转派" in await r.text() or "reassign" in await r.text()
    after = await Escalation.get(id=esc.id)
    assert after.status == "open" and after.assignee_id is None


# --------------------------------------------------------------------------- batches


async def test_an_sms_push_keeps_its_valid_replies(db_url: str, clock: FrozenClock,
                                                   client_factory: Any) -> None:
    from types import SimpleNamespace

    fake = SimpleNamespace(access_key_id="ak", access_key_secret="sk", url="http://127.0.0.1:9")
    settings = make_settings(db_url, sms=sms_section(fake))  # type: ignore[arg-type]
    client = await client_factory(settings, clock, run_loops=False)
    push = [{"phone_number": "13700000001", "content": "5", "sequence_id": 1001,
             "send_time": "2026-11-16 08:59:00"},
            {"phone_number": "13700000001", "content": "4", "sequence_id": "²"},
            {"phone_number": "13700000001", "content": "3", "sequence_id": "9" * 40},
            {"phone_number": "13700000001", "content": "x" * 5000, "sequence_id": 1002}]
    for _ in range(2):  # Aliyun pushes again: the valid reply is stored once
        r = await client.post(f"/sms/aliyun/up/{CALLBACK_TOKEN}", json=push)
        assert r.status == 200 and (await r.json())["code"] == 0
    stored = await Message.filter(channel="sms").values_list("body", flat=True)
    assert stored == ["5"]
    for body in (b"[" * 100_000, b'[{"sequence_id":' + b"9" * 5000 + b"}]", b"\xff"):
        r = await client.post(f"/sms/aliyun/up/{CALLBACK_TOKEN}", data=body,
                              headers={"Content-Type": "application/json"})
        assert r.status in (400, 413) and (await r.json())["code"] == 1
    assert await Message.filter(channel="sms").count() == 1


async def test_the_api_keeps_valid_episodes_beside_refused_ones(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await client_factory(settings, clock, run_loops=False)
    good = {"external_id": "OK1", "person_name": "王五", "contact_phone": "13900001111",
            "occurred_at": "2026-11-15", "department": "dental"}
    episodes = [good,
                {**good, "external_id": "X" * 200},
                {**good, "external_id": "NUL", "person_name": "a\u0000b"},
                {**good, "external_id": "LIST", "clinician": ["a", "b"]},
                {**good, "external_id": "YEAR", "occurred_at": "9999-12-31 23:59"},
                {**good, "external_id": "PHONE", "contact_phone": "1٣900001111"}]
    r = await client.post("/api/episodes", json={"source": "his", "episodes": episodes},
                          headers={"Authorization": "Bearer test-key"})
    body = await r.json()
    assert r.status == 207 and body["created"] == 1
    # One error each: the refused cell is not also reported as missing.
    assert sorted(e["line"] for e in body["errors"]) == [2, 3, 4, 5, 6], body["errors"]
    assert await Episode.all().values_list("external_id", flat=True) == ["OK1"]
    r = await client.post("/api/episodes", data=b"[" * 100_000, headers={
        "Authorization": "Bearer test-key", "Content-Type": "application/json"})
    assert r.status in (400, 413)


# --------------------------------------------------------------------------- last resort


async def test_an_unexpected_error_is_a_plain_500_logged_once(
        settings: Settings, clock: FrozenClock, caplog: pytest.LogCaptureFixture) -> None:
    from aiohttp.test_utils import TestClient, TestServer

    app = create_app(settings, clock=clock, migrate=False, run_loops=False)

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("secret detail 13800001111")

    app.router.add_get("/broken/{token}", broken)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        with caplog.at_level(logging.ERROR):
            r = await client.get("/broken/callback-secret")
            text = await r.text()
    finally:
        await client.close()
    assert r.status == 500 and text == "internal error"
    assert "secret detail" not in text and "Traceback" not in text
    logged = [rec for rec in caplog.records if "unhandled error" in rec.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert "/broken/{token}" in logged[0].getMessage()  # the route, not the secret path
    assert not re.search("callback-secret", logged[0].getMessage())
