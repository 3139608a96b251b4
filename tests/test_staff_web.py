"""The staff workspace over HTTP: sign-in, CSRF, throttling, scoping, actions, admin, audit."""

from __future__ import annotations

import re
from typing import Any

from bot.clock import FrozenClock
from bot.config import Settings
from models import AuditEvent, Escalation, Message, Staff
from tests.staff_helpers import (
    PASSWORD,
    conversation,
    csrf_of,
    escalate,
    make_staff,
    sign_in,
)


async def _app(settings: Settings, clock: FrozenClock, client_factory: Any) -> Any:
    return await client_factory(settings, clock, run_loops=False)


async def test_pages_need_sign_in_and_forms_need_the_csrf_token(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await _app(settings, clock, client_factory)
    await make_staff("li", depts=["dental"])
    r = await client.get("/staff/queue?view=mine", allow_redirects=False)
    assert r.status == 303
    assert r.headers["Location"].startswith("/staff/login?next=/staff/queue")
    # The sign-in form itself refuses a post without its token (login CSRF).
    r = await client.post("/staff/login", data={"username": "li", "password": PASSWORD})
    assert r.status == 403 and "reload the page" in await r.text()

    csrf = await sign_in(client, "li")
    esc = await escalate(_rt(client), await conversation(_rt(client)))
    r = await client.post(f"/staff/escalations/{esc.id}/claim", data={})
    assert r.status == 403
    assert (await Escalation.get(id=esc.id)).status == "open"
    r = await client.post(f"/staff/escalations/{esc.id}/claim", data={"csrf": "forged"})
    assert r.status == 403
    r = await client.post(f"/staff/escalations/{esc.id}/claim", data={"csrf": csrf})
    assert r.status == 200 and "已认领" in await r.text()
    assert (await Escalation.get(id=esc.id)).status == "claimed"

    # Signing out ends the session on the server, not just in the browser.
    await client.post("/staff/logout", data={"csrf": csrf})
    r = await client.get("/staff/queue", allow_redirects=False)
    assert r.status == 303


def _rt(client: Any) -> Any:
    from bot.keys import RUNTIME

    return client.server.app[RUNTIME]


async def test_wrong_passwords_lock_out_with_a_clear_message(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await _app(settings, clock, client_factory)
    await make_staff("li")
    page = await (await client.get("/staff/login")).text()
    token = csrf_of(page)
    for _ in range(5):
        r = await client.post("/staff/login", data={"username": "li", "password": "nope-nope",
                                                    "csrf": token})
        assert r.status == 401 and "用户名或密码不正确" in await r.text()
    r = await client.post("/staff/login", data={"username": "li", "password": PASSWORD,
                                                "csrf": token})
    assert r.status == 429 and "请15分钟后再试" in await r.text()


async def test_queue_views_filters_masking_and_english(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await _app(settings, clock, client_factory)
    rt = _rt(client)
    await make_staff("li", depts=["dental"])
    complaint = await escalate(rt, await conversation(rt, "dental", name="张三",
                                                      phone="13812345678"))
    red = await escalate(rt, await conversation(rt, "dental", name="李四"), "red_flag",
                         "urgent", "symptom")
    hidden = await escalate(rt, await conversation(rt, "ortho", name="王五"))
    await sign_in(client, "li")

    html = await (await client.get("/staff/queue")).text()
    rows = re.findall(r'data-escalation="(\d+)"', html)
    assert rows == [str(red.id), str(complaint.id)]  # urgent first, other departments hidden
    assert str(hidden.id) not in rows
    assert "张*" in html and "138****5678" in html and "张三" not in html
    assert "13812345678" not in html
    assert "剩余" in html  # the deadline clock is shown

    only_red = await (await client.get("/staff/queue/rows?kind=red_flag")).text()
    assert re.findall(r'data-escalation="(\d+)"', only_red) == [str(red.id)]
    mine = await (await client.get("/staff/queue?view=mine")).text()
    assert "data-escalation" not in mine
    english = await (await client.get("/staff/queue?lang=en")).text()
    assert "Unassigned" in english and "Complaint" in english and "due in" in english
    r = await client.get(f"/staff/escalations/{hidden.id}")
    assert r.status == 404


async def test_takeover_reply_and_resolve_over_http(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await _app(settings, clock, client_factory)
    rt = _rt(client)
    await make_staff("li", depts=["dental"], name="李护士")
    esc = await escalate(rt, await conversation(rt))
    csrf = await sign_in(client, "li")
    await client.post(f"/staff/escalations/{esc.id}/claim", data={"csrf": csrf})
    page = await (await client.get(f"/staff/escalations/{esc.id}")).text()
    assert "我是示例医院的李护士" in page  # canned replies are filled in
    r = await client.post(f"/staff/escalations/{esc.id}/reply",
                          data={"csrf": csrf, "text": "您好，我是李护士，请问方便通话吗？"})
    assert r.status == 200 and "回复已进入发送队列" in await r.text()
    msg = await Message.get(sender="staff")
    assert msg.kind == "staff" and msg.channel == "simulator"
    r = await client.post(f"/staff/escalations/{esc.id}/resolve",
                          data={"csrf": csrf, "outcome": "不存在的结果", "note": ""})
    assert r.status == 400 and "请从列表中选择处理结果" in await r.text()
    r = await client.post(f"/staff/escalations/{esc.id}/resolve",
                          data={"csrf": csrf, "outcome": "已沟通解决", "note": "已电话沟通",
                                "after": "close"})
    assert r.status == 200 and str(r.url).endswith("/staff/queue?view=mine")
    done = await Escalation.get(id=esc.id)
    assert done.status == "resolved" and done.note == "已电话沟通"


async def test_reveal_and_the_audit_log(settings: Settings, clock: FrozenClock,
                                        client_factory: Any) -> None:
    client = await _app(settings, clock, client_factory)
    rt = _rt(client)
    await make_staff("li", depts=["dental"])
    await make_staff("root", "admin")
    esc = await escalate(rt, await conversation(rt, phone="13912345678"))
    csrf = await sign_in(client, "li")
    page = await (await client.get(f"/staff/escalations/{esc.id}")).text()
    assert "13912345678" not in page and "139****5678" in page
    r = await client.post(f"/staff/escalations/{esc.id}/reveal", data={"csrf": csrf, "why": ""})
    assert r.status == 400 and "13912345678" not in await r.text()
    r = await client.post(f"/staff/escalations/{esc.id}/reveal",
                          data={"csrf": csrf, "why": "患者要求回电"})
    assert "13912345678" in await r.text() and r.headers["Cache-Control"] == "no-store"
    assert (await client.get("/staff/audit")).status == 403  # agents cannot read the log

    await client.post("/staff/logout", data={"csrf": csrf})
    await sign_in(client, "root")
    audit = await (await client.get("/staff/audit?kind=contact_revealed")).text()
    assert "患者要求回电" in audit and ">li<" in audit
    assert await AuditEvent.filter(kind="contact_revealed", actor="li").count() == 1


async def test_admin_manages_staff(settings: Settings, clock: FrozenClock,
                                   client_factory: Any) -> None:
    client = await _app(settings, clock, client_factory)
    await make_staff("root", "admin")
    await make_staff("li", depts=["dental"])
    csrf = await sign_in(client, "root")
    page = await (await client.get("/staff/admin")).text()
    assert 'data-staff="li"' in page
    r = await client.post("/staff/admin/staff", data={
        "csrf": csrf, "username": "wang", "display_name": "王", "role": "head",
        "departments": "ortho", "password": "short"})
    assert r.status == 400 and "密码至少需要8个字符" in await r.text()
    r = await client.post("/staff/admin/staff", data={
        "csrf": csrf, "username": "wang", "display_name": "王", "role": "head",
        "departments": "ortho", "password": "long-enough-1"})
    assert r.status == 200 and "已添加" in await r.text()
    wang = await Staff.get(username="wang").prefetch_related("departments")
    assert wang.role == "head" and [d.code for d in wang.departments] == ["ortho"]
    li = await Staff.get(username="li")
    r = await client.post(f"/staff/admin/staff/{li.id}", data={
        "csrf": csrf, "role": "agent", "departments": ["dental", "ortho"]})  # not active
    assert r.status == 200
    li = await Staff.get(username="li")
    assert li.is_active is False
    assert await AuditEvent.filter(kind="staff_updated", actor="root").exists()
