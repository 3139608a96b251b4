"""Credential and configuration faults never lose a message.

From outside: the real app (HTTP, its background loops) against the provider fakes, the fix
applied the way an operator would (a corrected configuration, a restart) and the pause lifted
through the real command line. A wrong WeChat AppSecret or a wrong SMS secret pauses the
channel; nothing is failed or sent elsewhere; check-ins keep opening and wait (their reply
window too); admins hear once (audit, in-app, WeCom robot); /healthz and the staff header show
it; ``survey-bot channels resume`` after the fix sends every message exactly once.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_channels
from bot.channels import pause
from bot.clock import FrozenClock
from bot.runtime import Runtime
from models import AuditEvent, CheckIn, Contact, Message, Notification
from tests.conftest import BACKEND, eventually, make_settings
from tests.fake_aliyun import FakeAliyunSms, sent_message_ids, sms_section
from tests.fake_wechat import APP_SECRET, FakeWechat, wechat_section
from tests.fake_wecom import FakeWecom
from tests.staff_helpers import make_staff, sign_in

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def wechat() -> AsyncIterator[FakeWechat]:
    f = await FakeWechat().start()
    yield f
    await f.close()


@pytest.fixture
async def aliyun() -> AsyncIterator[FakeAliyunSms]:
    f = await FakeAliyunSms().start()
    yield f
    await f.close()


@pytest.fixture
async def wecom() -> AsyncIterator[FakeWecom]:
    f = FakeWecom()
    yield f
    await f.close()


def cli(*args: str, db_url: str) -> subprocess.CompletedProcess[str]:
    """The real ``survey-bot`` command, in its own process, on this test's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYBOT_")}
    env["SURVEYBOT_DATABASE__URL"] = db_url
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120, check=False)


async def run_cli(*args: str, db_url: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(cli, *args, db_url=db_url)


def visits(prefix: str, n: int, *, openid: bool) -> list[dict[str, str]]:
    return [{"external_id": f"{prefix}-{i}", "person_name": f"病人{prefix}{i}",
             "contact_phone": f"1380000{ord(prefix[0]) % 10}{i:03d}",
             "occurred_at": "2026-11-16 08:00", "department": "dental",
             "department_name": "口腔科",
             **({"contact_openid": f"o{prefix}{i:024d}"} if openid else {})}
            for i in range(n)]


async def post_visits(client: Any, rows: list[dict[str, str]]) -> None:
    r = await client.post("/api/episodes", json={"source": "his", "episodes": rows},
                          headers={"Authorization": "Bearer test-key"})
    assert r.status == 200, await r.text()


async def paused_on(client: Any, channel: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        body = await (await client.get("/healthz")).json()
        return body if any(p["channel"] == channel for p in body["paused"]) else None
    return await eventually(check)


async def out_rows() -> list[Message]:
    return list(await Message.filter(direction="out").order_by("id"))


async def assert_held(n: int) -> None:
    """``n`` outbound messages, every one queued and unattempted: nothing failed or lost."""
    rows = await out_rows()
    assert len(rows) == n
    assert {(m.status.value, m.attempts) for m in rows} == {("queued", 0)}, [
        (m.id, m.channel, m.status, m.attempts, m.error) for m in rows]


async def assert_alerted_once(wecom: FakeWecom, channel_zh: str, code: str,
                              admin_id: int) -> None:
    events = await AuditEvent.filter(kind=pause.PAUSED_EVENT)
    assert len(events) == 1 and events[0].data["code"] == code
    app = await Notification.filter(channel="app", event=pause.PAUSED_EVENT)
    assert [n.staff_id for n in app] == [admin_id]  # every admin (one here), nobody else
    await eventually(lambda: _received(wecom, 1))
    content = wecom.received[0]["markdown"]["content"]
    assert channel_zh in content and code in content and "channels resume" in content


async def _received(wecom: FakeWecom, n: int) -> bool:
    return len(wecom.received) >= n


async def assert_banner(client: Any, channel: str, code: str) -> None:
    """Admins and managers see the pause in the staff header, Chinese first, English too."""
    zh = await (await client.get("/staff/queue")).text()
    assert 'id="channel-paused"' in zh and "发送已暂停" in zh and code in zh
    assert f"survey-bot channels resume {channel}" in zh
    en = await (await client.get("/staff/queue?lang=en")).text()
    assert "Sending paused" in en and f"survey-bot channels resume {channel}" in en


async def test_wrong_appsecret_pauses_wechat_until_resumed_then_sends_everything_once(
        db_url: str, clock: FrozenClock, wechat: FakeWechat, aliyun: FakeAliyunSms,
        wecom: FakeWecom, client_factory: Any) -> None:
    robot = await wecom.start()
    admin = await _staff_in(db_url)

    def settings(secret: str) -> Any:
        # SMS is configured too and every contact has a phone: a pause must not send the
        # check-ins by SMS instead (the person would get both once WeChat resumes).
        return make_settings(
            db_url, simulator={"enabled": False},
            wechat=wechat_section(wechat.base_url, app_secret=secret, template_id="TPL",
                                  timeout_seconds=0.5, retry_backoff_seconds=0.01),
            sms=sms_section(aliyun), channels={"order": ["wechat", "sms"]},
            wecom={"base_url": robot, "robot_key": "robot-key", "timeout_seconds": 0.5})

    client = await client_factory(settings("a-wrong-secret"), clock)
    first = visits("A", 3, openid=True)
    await post_visits(client, first)
    clock.advance(timedelta(days=1, hours=1))  # Tue 10:00: the first check-ins are due

    health = await paused_on(client, "wechat")
    assert health["status"] == "degraded" and health["paused"][0]["code"] == "40125"
    assert (await client.get("/healthz?strict=1")).status == 503
    await eventually(lambda: _opened(3))
    await assert_held(3)
    assert wechat.sent == [] and aliyun.requests == []
    await assert_alerted_once(wecom, "微信", "40125", admin["admin"])
    await sign_in(client, "root")
    await assert_banner(client, "wechat", "40125")
    client.session.cookie_jar.clear()
    await sign_in(client, "agent")  # an agent can do nothing about it: no banner
    assert 'id="channel-paused"' not in await (await client.get("/staff/queue")).text()

    # While paused: new check-ins still open and wait; the first ones' reply window (24 h)
    # does not run while their message waits: no reminder, nothing lost to follow-up.
    await post_visits(client, visits("B", 2, openid=True))
    clock.advance(timedelta(days=1))
    await eventually(lambda: _opened(5))
    await asyncio.sleep(0.5)  # several rounds of every loop
    await assert_held(5)
    assert {c.attempts for c in await CheckIn.all()} == {1}
    assert await AuditEvent.filter(kind=pause.PAUSED_EVENT).count() == 1

    # The fix: the right secret, a restart. The pause outlives the restart until resumed.
    await client.close()
    client = await client_factory(settings(APP_SECRET), clock)
    await asyncio.sleep(0.5)
    await assert_held(5)
    assert wechat.sent == []

    done = await run_cli("channels", "resume", "wechat", db_url=db_url)
    assert done.returncode == 0, done.stderr
    assert "wechat resumed" in done.stdout and "40125" in done.stdout
    await eventually(lambda: _all_sent(5))
    per_person = Counter(s["body"]["touser"] for s in wechat.sent)
    assert sorted(per_person) == sorted(v["contact_openid"] for v in first + visits(
        "B", 2, openid=True)) and set(per_person.values()) == {1}
    assert aliyun.requests == []  # nothing went by SMS
    assert (await (await client.get("/healthz")).json())["status"] == "ok"
    assert await AuditEvent.filter(kind=pause.RESUMED_EVENT).count() == 1

    # The reply window starts when the message went out: an hour later, still no reminder.
    clock.advance(timedelta(hours=1))
    await asyncio.sleep(0.3)
    assert len(await out_rows()) == 5
    assert {c.status.value for c in await CheckIn.all()} == {"opened"}


async def test_wrong_sms_secret_pauses_sms_until_resumed_then_sends_everything_once(
        db_url: str, clock: FrozenClock, aliyun: FakeAliyunSms, wecom: FakeWecom,
        client_factory: Any) -> None:
    robot = await wecom.start()
    admin = await _staff_in(db_url)

    def settings(secret: str) -> Any:
        return make_settings(
            db_url, simulator={"enabled": False},
            sms=sms_section(aliyun, access_key_secret=secret), channels={"order": ["sms"]},
            wecom={"base_url": robot, "robot_key": "robot-key", "timeout_seconds": 0.5})

    client = await client_factory(settings("a-wrong-secret"), clock)
    await post_visits(client, visits("C", 4, openid=False))
    clock.advance(timedelta(days=1, hours=1))

    health = await paused_on(client, "sms")
    assert health["paused"][0]["code"] == "SignatureDoesNotMatch"
    await eventually(lambda: _opened(4))
    await asyncio.sleep(0.3)
    await assert_held(4)
    assert aliyun.sent == [] and set(aliyun.rejected) == {"SignatureDoesNotMatch"}
    asked = len(aliyun.rejected)  # those under way when the first answer came
    await asyncio.sleep(0.5)
    assert len(aliyun.rejected) == asked  # paused: Aliyun is not asked again
    await assert_alerted_once(wecom, "短信", "SignatureDoesNotMatch", admin["admin"])
    await sign_in(client, "root")
    await assert_banner(client, "sms", "SignatureDoesNotMatch")
    status = await run_cli("channels", "status", db_url=db_url)
    assert status.returncode == 0 and "sms paused" in status.stdout
    assert "SignatureDoesNotMatch" in status.stdout

    await client.close()
    client = await client_factory(settings(aliyun.access_key_secret), clock)
    await asyncio.sleep(0.3)
    await assert_held(4)

    done = await run_cli("channels", "resume", db_url=db_url)  # every paused channel
    assert done.returncode == 0 and "sms resumed" in done.stdout, done.stderr
    await eventually(lambda: _all_sent(4))
    per_phone = Counter(s.phone for s in aliyun.sent)
    assert len(per_phone) == 4 and set(per_phone.values()) == {1}
    assert sorted(await sent_message_ids(aliyun.sent)) == sorted(m.id for m in await out_rows())


def test_channels_commands_on_a_fresh_database(tmp_path: Path,
                                                request: pytest.FixtureRequest) -> None:
    cluster = request.getfixturevalue("_template")  # on PostgreSQL, the test server
    if BACKEND == "postgres":
        name = f"sb_fresh_{os.getpid()}"
        cluster.psql(f"CREATE DATABASE {name}")  # empty: nobody has migrated it
        url = cluster.url(name)
    else:
        url = f"sqlite://{tmp_path / 'never-used.sqlite3'}"
    try:
        if BACKEND == "postgres":
            # A shared server is never migrated behind the operator's back: refused, clearly.
            out = cli("channels", "status", db_url=url)
            assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
            assert "survey-bot migrate" in out.stderr
            done = cli("migrate", db_url=url)
            assert done.returncode == 0, done.stderr
        for args, said in ((("channels", "status"), "no channel is paused"),
                           (("sms-resume",), "sms was not paused")):  # = channels resume sms
            out = cli(*args, db_url=url)
            assert out.returncode == 0, out.stderr
            assert "Traceback" not in out.stderr
            assert said in out.stdout
    finally:
        if BACKEND == "postgres":
            cluster.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --- every WeChat answer that means our set-up is wrong, at the outbox -----------------


@pytest.mark.parametrize(("fault", "code", "whole"), [
    ("secret", "40125", True), ("appid", "40013", True), ("whitelist", "40164", True),
    ("unauthorised", "48001", True), ("template", "40037", False),
])
async def test_wechat_faults_pause_and_the_fixed_account_sends_once(
        orm: None, db_url: str, clock: FrozenClock, wechat: FakeWechat, fault: str, code: str,
        whole: bool) -> None:
    from bot import outbox

    settings = make_settings(db_url, simulator={"enabled": False},
                             wechat=wechat_section(wechat.base_url, template_id="TPL",
                                                   fallback_channel="",
                                                   retry_backoff_seconds=0.01))
    rt = Runtime(settings=settings, clock=clock, channels=build_channels(settings, clock))
    ch: Any = rt.channels["wechat"]
    await ch.start()
    if fault == "secret":
        wechat.secret = "rotated-elsewhere"
    elif fault == "appid":
        wechat.app_id = "wx-another-account"
    elif fault == "whitelist":
        wechat.refuse["*"] = 40164
    elif fault == "unauthorised":
        wechat.refuse["/cgi-bin/message/template/send"] = 48001
    else:
        wechat.template_ids = {"TPL-THE-RIGHT-ONE"}
    contacts = [await Contact.create(name=f"李{i}", wechat_openid=f"oFAULT{i:020d}")
                for i in range(3)]
    ids = [await _queue(rt, c, "checkin") for c in contacts]
    await outbox.send_due(rt)
    rows = await Message.filter(id__in=ids)
    assert {(m.status.value, m.attempts) for m in rows} == {("queued", 0)}
    [held] = await pause.active(clock.now())
    assert held.code == code and (held.kinds is None) is whole
    assert wechat.sent == []
    asked = len(wechat.calls)
    await outbox.send_due(rt)
    assert len(wechat.calls) == asked  # paused: WeChat is not asked again
    # The account is fixed, the pause lifted: each message goes once.
    wechat.secret, wechat.app_id = APP_SECRET, settings.wechat.app_id
    wechat.refuse.clear()
    wechat.template_ids = None
    await pause.resume("wechat", clock.now())
    await outbox.send_due(rt)
    assert {m.status.value for m in await Message.filter(id__in=ids)} == {"sent"}
    assert Counter(s["body"]["touser"] for s in wechat.sent) == Counter(
        c.wechat_openid for c in contacts)
    await ch.close()


async def _queue(rt: Runtime, contact: Contact, kind: str) -> int:
    from tortoise.transactions import in_transaction

    from bot import outbox

    async with in_transaction() as conn:
        m = await outbox.queue(conn, key=f"t:{contact.id}:{kind}", channel="wechat",
                               contact_id=contact.id, conversation_id=None, body="您好",
                               now=rt.now(), kind=kind)
    return m.id


async def _staff_in(db_url: str) -> dict[str, int]:
    """An admin, a manager and an agent, written before the app starts."""
    from bot import db

    await db.init_db(db_url)
    try:
        ids = {"admin": (await make_staff("root", "admin")).id,
               "manager": (await make_staff("boss", "manager")).id,
               "agent": (await make_staff("agent", "agent", ["dental"])).id}
    finally:
        await db.close_db()
    return ids


async def _opened(n: int) -> bool:
    return await CheckIn.filter(status="opened").count() >= n


async def _all_sent(n: int) -> bool:
    return await Message.filter(direction="out", status="sent").count() >= n
