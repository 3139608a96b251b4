"""The closed loop's invariants (docs/loop.md), each driven from outside over real HTTP: visits
through the import API, the person through the simulator and the H5 page, staff through their
pages, WeCom robots through a fake speaking their protocol. SQLite and PostgreSQL alike.

(a) every open escalation has someone who can see it and was notified;
(b) urgent escalations alert until claimed;
(c) while a conversation is claimed the bot sends nothing, and the assignee hears and sees;
(d) an opt-out gets exactly one confirmation, and nothing after it;
(e) every answer carries its comment, whatever the channel.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from bot import escalations
from bot import staff as svc
from bot.clock import FrozenClock
from bot.config import Settings
from bot.escalations import sla
from bot.keys import RUNTIME
from models import (
    Answer,
    AuditEvent,
    CheckIn,
    Contact,
    Conversation,
    Department,
    Escalation,
    Message,
    Notification,
)
from tests.conftest import eventually, make_settings
from tests.fake_wecom import FakeWecom
from tests.loop_helpers import (
    act,
    as_staff,
    checkins_sent,
    contact_id,
    escalation_of,
    h5_link,
    import_visits,
    processed,
    rows,
    say,
    settle,
    to_person,
    visit,
)
from tests.staff_helpers import make_staff


@pytest.fixture
async def wecom() -> AsyncIterator[FakeWecom]:
    fake = FakeWecom()
    yield fake
    await fake.close()


def _robot_heard(fake: FakeWecom, esc_id: int) -> bool:
    return any(f"/staff/escalations/{esc_id})" in m["markdown"]["content"]
               for m in fake.received)


async def _app_notes(esc_id: int) -> dict[str, list[str]]:
    """username → the in-app notification events about this escalation."""
    out: dict[str, list[str]] = {}
    for n in await Notification.filter(channel="app", escalation_id=esc_id).order_by(
            "id").prefetch_related("staff"):
        out.setdefault(n.staff.username, []).append(n.event)
    return out


# --- (a) and (b): nobody unheard, urgent alerts until claimed ---


async def test_a_red_flag_in_a_department_nobody_works_reaches_a_manager_and_the_robot(
        db_url: str, clock: FrozenClock, client_factory: Any, wecom: FakeWecom) -> None:
    settings = make_settings(db_url, wecom={"base_url": await wecom.start(),
                                            "robot_key": "robot-key"})
    client = await client_factory(settings, clock)
    await make_staff("li", depts=["dental"], name="李护士")  # works 口腔科, not 耳鼻喉科
    await make_staff("boss", "manager", name="院长")
    await make_staff("root", "admin")
    # A visit in a department the import creates, which nobody works.
    await import_visits(client, visit("ENT-1", "王五", "13900000005", "ent", "耳鼻喉科"))
    await checkins_sent(clock, 1)

    r = await client.post(await h5_link("王五"), data={
        "q_overall": "3", "comment": "耳朵一直流脓，烧到39度，吃了药也不退"})
    page = await r.text()
    # The advice says truthfully who heard: not "the doctor", the hospital's managers.
    assert settings.texts.told_hospital in page and "医生尽快" not in page
    esc = await Escalation.get().prefetch_related("department")
    assert esc.kind == "red_flag" and esc.priority == "urgent"
    assert esc.department.code == "ent"

    # Seen and notified: the manager and the admin (once each), the default robot.
    assert await _app_notes(esc.id) == {"boss": ["opened"], "root": ["opened"]}
    async def robot_heard() -> bool:
        return _robot_heard(wecom, esc.id)
    await eventually(robot_heard)
    robot = next(m["markdown"]["content"] for m in wecom.received
                 if f"/{esc.id})" in m["markdown"]["content"])
    assert "临床警示" in robot and "耳鼻喉科" in robot and "王五" not in robot

    await as_staff(client, "boss")
    queue = await (await client.get("/staff/queue")).text()
    assert rows(queue) == [str(esc.id)]
    # (b) the banner is on every page of anyone who can see it, until someone claims it
    for path in ("/staff/queue", "/staff/notifications", "/tallies", "/reports/monthly"):
        html = await (await client.get(path)).text()
        assert f'data-alert="{esc.id}"' in html and 'id="alert-banner"' in html, path
    live = await (await client.get("/staff/live", headers={"Accept": "application/json"})).json()
    assert [a["id"] for a in live["alerts"]] == [esc.id]

    await as_staff(client, "li")
    r = await client.get(f"/staff/escalations/{esc.id}")
    assert r.status == 404  # not li's department; the page says so in the layout, in Chinese
    assert "不在您负责的科室" in await r.text() or "找不到" in await r.text()
    assert 'data-alert=' not in await (await client.get("/staff/queue")).text()

    # The roster gap is listed for whoever fixes it (and for `survey-bot doctor`).
    cover = await svc.uncovered_departments()
    assert [u.department.code for u in cover.no_staff] == ["ent"]
    assert cover.no_staff[0].open_escalations == 1
    await as_staff(client, "root")
    admin = await (await client.get("/staff/admin")).text()
    assert re.search(r'data-cover="no_staff">\s*<li data-department="ent">', admin)

    # Claimed: the alert stops everywhere.
    await as_staff(client, "boss")
    csrf = await _csrf(client, f"/staff/escalations/{esc.id}")
    await act(client, esc.id, "claim", csrf)
    html = await (await client.get("/tallies")).text()
    assert f'data-alert="{esc.id}"' not in html


async def _csrf(client: Any, path: str) -> str:
    html = await (await client.get(path)).text()
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m
    return m.group(1)


async def test_one_notification_per_event_heads_hear_of_their_department(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await client_factory(settings, clock)
    await make_staff("li", depts=["dental"])
    await make_staff("hu", "head", depts=["dental"])
    await make_staff("wang", depts=["ortho"])
    await make_staff("boss", "manager")
    await import_visits(client, visit("D-1", "张伟", "13800001111"))
    await checkins_sent(clock, 1)
    cid = await contact_id("13800001111")
    # One reply, a complaint and a low score: one escalation opened, one notification each.
    await processed(await say(client, cid, "2 护士态度不好"))
    esc = await escalation_of(cid)
    assert set(esc.kinds) == {"complaint", "low_score"}
    assert await _app_notes(esc.id) == {"hu": ["opened"], "li": ["opened"]}
    assert await Notification.filter(channel="wecom").count() == 1
    assert await AuditEvent.filter(kind__startswith="escalation_").count() == 1

    # Claimed by li: the next new kind is li's to hear (a red flag: the head hears too).
    csrf = await as_staff(client, "li")
    await act(client, esc.id, "claim", csrf)
    await processed(await say(client, cid, "伤口一直在流血，止不住"))
    notes = await _app_notes(esc.id)
    assert notes == {"hu": ["opened", "updated"], "li": ["opened", "updated"]}
    r = await client.get("/staff/notifications")
    assert "待处理有新情况" in await r.text() and "升级" not in await r.text()


async def test_a_dispute_reaches_the_heads_and_managers_at_once_and_alerts(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    """Raised the way the engine's events are (bot.escalations.raise_many), against the kind
    name "dispute" (the parser's label arrives with the understanding work)."""
    client = await client_factory(settings, clock, run_loops=False)
    rt = client.server.app[RUNTIME]
    from tests.staff_helpers import conversation

    await make_staff("li", depts=["dental"])
    await make_staff("hu", "head", depts=["dental"])
    await make_staff("boss", "manager")
    conv = await conversation(rt, name="赵六")
    ci = await CheckIn.get(id=conv.checkin_id).prefetch_related("episode")
    async with in_transaction() as conn:
        esc = await escalations.raise_many(
            conn, conversation=conv, department_id=ci.episode.department_id, now=rt.now(),
            raised=[escalations.Raised("dispute", "high", "threatened to sue"),
                    escalations.Raised("complaint", "high", "complaint words in the reply")])
    assert esc.priority == "urgent" and esc.kind == "dispute"
    assert await _app_notes(esc.id) == {"boss": ["opened"], "hu": ["opened"], "li": ["opened"]}
    clocks = {d.name: d for d in sla.deadlines(rt, esc)}
    assert clocks["response"].window == timedelta(minutes=30)
    assert "close" in clocks  # a dispute is a complaint too: its closing deadline applies
    await as_staff(client, "li")
    html = await (await client.get("/staff/queue")).text()
    assert f'data-alert="{esc.id}"' in html and "纠纷" in html


# --- (c) silent while claimed; the assignee hears and sees ---


async def test_the_bot_stays_silent_on_every_path_while_staff_hold_the_conversation(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await client_factory(settings, clock)
    await make_staff("li", depts=["dental"], name="李护士")
    await import_visits(client, visit("D-1", "张伟", "13800001111"))
    await checkins_sent(clock, 1)
    cid = await contact_id("13800001111")
    await processed(await say(client, cid, "2 护士态度不好"))
    await settle(client)
    esc = await escalation_of(cid)
    csrf = await as_staff(client, "li")
    await act(client, esc.id, "claim", csrf)
    before = len(await to_person(cid))

    # A red flag after the claim: no advice from the bot (the agent answers), kinds raised.
    await processed(await say(client, cid, "还在渗血，我现在该怎么办？"))
    # A question, a re-ask-worthy mumble, a score: nothing either.
    for text in ("请问什么时候复诊？", "嗯嗯", "5"):
        await processed(await say(client, cid, text))
    await settle(client)
    assert len(await to_person(cid)) == before
    fresh = await Escalation.get(id=esc.id)
    assert "red_flag" in fresh.kinds and fresh.priority == "urgent"
    # The assignee hears: the new kind once, then one unread "the person wrote".
    assert (await _app_notes(esc.id))["li"] == ["opened", "updated", "replied"]
    page = await (await client.get(f"/staff/escalations/{esc.id}")).text()
    for text in ("还在渗血，我现在该怎么办？", "请问什么时候复诊？", "嗯嗯"):
        assert text in page

    # A new survey for someone else this person answers for waits while the claim lasts.
    await import_visits(client, visit("P-9", "张小宝", "13800001111", "dental", "口腔科",
                                      occurred_at="2026-11-17 09:00", contact_name="张伟",
                                      relation="parent"))
    clock.advance(timedelta(days=1, minutes=5))  # Wednesday 10:05: due
    child = await CheckIn.get(episode__person__name="张小宝")
    await eventually(lambda: CheckIn.filter(id=child.id, lease_until__isnull=False).exists())
    assert (await CheckIn.get(id=child.id)).status == "planned"
    assert len(await to_person(cid)) == before

    # Released by resolving: the waiting survey goes out, naming the child.
    csrf = await as_staff(client, "li")  # a new day, a new sign-in
    r = await act(client, esc.id, "resolve", csrf, outcome="已安排复诊", note="已电话联系",
                  after="close")
    assert r.status == 200
    clock.advance(timedelta(minutes=31))
    client.server.app[RUNTIME].planner_waker.wake()
    await eventually(lambda: CheckIn.filter(id=child.id, status="opened").exists())
    await settle(client)
    last = (await to_person(cid))[-1]
    assert "张小宝" in last.body


async def test_an_opt_out_during_a_takeover_is_kept_and_nothing_is_sent(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await client_factory(settings, clock)
    await make_staff("li", depts=["dental"])
    await import_visits(client, visit("D-1", "张伟", "13800001111"))
    await checkins_sent(clock, 1)
    cid = await contact_id("13800001111")
    await processed(await say(client, cid, "2 护士态度不好"))
    await settle(client)
    esc = await escalation_of(cid)
    csrf = await as_staff(client, "li")
    await act(client, esc.id, "claim", csrf)
    before = len(await to_person(cid))
    await processed(await say(client, cid, "TD"))
    await settle(client)
    assert len(await to_person(cid)) == before  # the bot said nothing, not even goodbye
    assert (await Contact.get(id=cid)).opted_out_at is not None
    page = await (await client.get(f"/staff/escalations/{esc.id}")).text()
    assert 'id="stopped"' in page and 'id="reply-form"' not in page
    r = await act(client, esc.id, "reply", csrf, text="您好，请问还需要帮助吗？")
    assert r.status == 409 and "请打电话" in await r.text()
    assert len(await to_person(cid)) == before


async def _events(resp: Any, want: str, timeout: float = 10.0) -> dict[str, Any]:
    """Read a server-sent event stream until an event named ``want``; its data."""
    event = ""

    async def read() -> dict[str, Any]:
        nonlocal event
        while True:
            line = (await resp.content.readline()).decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == want:
                return dict(json.loads(line[6:]))
    return await asyncio.wait_for(read(), timeout)


async def test_what_the_person_writes_during_a_takeover_streams_to_the_open_page(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await client_factory(settings, clock)
    await make_staff("li", depts=["dental"], name="李护士")
    await import_visits(client, visit("D-1", "张伟", "13800001111"))
    await checkins_sent(clock, 1)
    cid = await contact_id("13800001111")
    await processed(await say(client, cid, "2 护士态度不好"))
    esc = await escalation_of(cid)
    csrf = await as_staff(client, "li")
    await act(client, esc.id, "claim", csrf)  # the page is open: read up to here
    last = max(m.id for m in await Message.filter(contact_id=cid))

    stream = await client.get(f"/staff/events?esc={esc.id}&after={last}",
                              headers={"Accept": "text/event-stream"})
    assert stream.status == 200
    assert stream.headers["Content-Type"].startswith("text/event-stream")
    await _events(stream, "alerts")  # the stream is up
    mid = await say(client, cid, "我是张伟，电话13800001111，伤口还是有点疼")
    data = await _events(stream, "message")
    assert data["id"] == mid and data["from_person"] is True
    # shown as the page's chat shows it, masked: no name, no phone
    assert "伤口还是有点疼" in data["html"] and "张*" in data["html"]
    assert "张伟" not in data["html"] and "13800001111" not in data["html"]
    stream.close()

    # The queue row is unread, the person replied, the assignee was told once.
    await processed(mid)
    mine = await (await client.get("/staff/queue/rows?view=mine")).text()
    row = re.search(rf'<tr [^>]*data-escalation="{esc.id}"[^>]*>', mine)
    assert row and "unread" in row.group(0) and "患者已回复" in mine
    assert re.search(r'data-view="mine">[^<]*<span class="count">1</span> '
                     r'<span class="badge unread-count"', mine)
    assert (await _app_notes(esc.id))["li"] == ["opened", "replied"]
    # The page saw them act: read.
    r = await client.post(f"/staff/escalations/{esc.id}/seen",
                          data={"csrf": csrf, "upto": str(mid)})
    assert r.status == 200
    mine = await (await client.get("/staff/queue/rows?view=mine")).text()
    row = re.search(rf'<tr [^>]*data-escalation="{esc.id}"[^>]*>', mine)
    assert row and "unread" not in row.group(0)
    # The polling fallback says the same thing as the stream.
    live = await (await client.get(f"/staff/live?esc={esc.id}&after={last}",
                                   headers={"Accept": "application/json"})).json()
    assert [m["id"] for m in live["messages"]] == [mid]


# --- (d) one goodbye, nothing after ---


class TickingClock(FrozenClock):
    """Moves a millisecond every time it is read: two "now"s are never the same instant."""

    def now(self) -> datetime:
        self.advance(timedelta(milliseconds=1))
        return super().now()


async def test_td_yields_exactly_one_confirmation_and_nothing_after(
        settings: Settings, client_factory: Any) -> None:
    clock = TickingClock(datetime(2026, 11, 16, 9, 0, tzinfo=settings.tz))
    client = await client_factory(settings, clock)
    await make_staff("li", depts=["dental"])
    await import_visits(client, visit("D-1", "张伟", "13800001111"),
                        visit("D-2", "张伟", "13800001111", occurred_at="2026-11-16 09:40",
                              treatment_type="拔牙"))
    clock.advance(timedelta(days=1, hours=1))
    cid = await contact_id("13800001111")
    await eventually(lambda: Message.filter(contact_id=cid, direction="out",
                                            status="delivered").exists())
    before = len(await to_person(cid))
    await processed(await say(client, cid, "TD"))
    await settle(client)
    sent = await to_person(cid)
    assert [m.body for m in sent[before:]] == [settings.texts.opt_out_confirmed]
    assert sent[-1].status == "delivered" and sent[-1].params.get("final") is True
    assert (await Contact.get(id=cid)).opted_out_at is not None

    # Nothing after it: not a complaint acknowledgement, not red-flag advice, not a reminder,
    # not the other survey, not a second goodbye.
    for text in ("你们怎么回事，收费太乱了", "伤口一直在流血", "TD", "你好"):
        await processed(await say(client, cid, text))
    for _ in range(3):
        clock.advance(timedelta(days=1))
        client.server.app[RUNTIME].planner_waker.wake()
        await asyncio.sleep(0.3)
    await settle(client)
    assert len(await to_person(cid)) == before + 1
    assert not await CheckIn.filter(contact_id=cid, status="planned").exists()
    # What the person wrote still reached staff.
    assert await Escalation.filter(conversation__contact_id=cid).exists()


# --- (e) every answer carries its comment ---


async def test_an_h5_comment_is_part_of_its_answer_in_records_praise_and_staff_view(
        db_url: str, clock: FrozenClock, client_factory: Any) -> None:
    # Two answers: published only with a publication threshold of one (the records export
    # lists nothing of a group too small to publish).
    settings = make_settings(db_url, tallies={"min_answers": 1})
    client = await client_factory(settings, clock)
    await make_staff("boss", "manager")
    await import_visits(client, visit("D-1", "王芳", "13800002222", clinician="李医生"),
                        visit("D-2", "刘洋", "13800003333", clinician="李医生"))
    await checkins_sent(clock, 2)
    r = await client.post(await h5_link("王芳"),
                          data={"q_overall": "5", "comment": "李医生很耐心，谢谢"})
    assert r.status == 200 and "感谢您的反馈" in await r.text()
    # The same thing said in chat carries its comment the same way.
    await processed(await say(client, await contact_id("13800003333"), "5分，李医生很耐心"))

    scored = {a.channel: a for a in await Answer.filter(question_id="overall")}
    assert scored["h5"].score == 5 and "李医生很耐心，谢谢" in scored["h5"].text
    comments = {a.channel: a.text for a in await Answer.filter(question_id="comment")}
    assert comments["h5"] == "李医生很耐心，谢谢" and "李医生很耐心" in comments["simulator"]
    assert not await Message.filter(channel="h5", dedupe_key__endswith=":comment").exists()

    await as_staff(client, "boss")
    r = await client.get("/tallies/records.csv?by=channel&period=all")
    records = list(csv.DictReader(io.StringIO((await r.text()).lstrip("\ufeff"))))
    h5 = [x for x in records if x["group"] == "h5" and x["question"] == "overall"]
    assert [(x["score"], "李医生很耐心，谢谢" in x["comment"]) for x in h5] == [("5", True)]
    tallies = await (await client.get("/tallies?by=department")).text()
    assert re.search(r'<li data-staff="李医生">李医生（[^）]*）2</li>', tallies), tallies
    # Staff reading the conversation see the comment with its score.
    conv = await Conversation.get(contact__phone="13800002222")
    page = await (await client.get(f"/staff/conversations/{conv.id}")).text()
    assert "5 李医生很耐心，谢谢" in page


# --- masking everywhere, history included ---


async def test_no_full_name_on_any_staff_page_before_a_reveal(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await client_factory(settings, clock)
    await make_staff("root", "admin", name="系统管理员")
    await Department.create(code="peds", name="儿科")
    await make_staff("li", depts=["dental", "peds"])
    await import_visits(
        client, visit("D-1", "张伟", "13800001111"),
        visit("P-1", "赵小明", "13800004444", "peds", "儿科", contact_name="赵丽",
              relation="parent"))
    await checkins_sent(clock, 2)
    zhang, zhao = await contact_id("13800001111"), await contact_id("13800004444")
    await processed(await say(client, zhang, "2 护士态度不好，我是张伟"))
    await processed(await say(client, zhao, "赵小明一直发烧39度不退"))
    await settle(client)
    esc = await escalation_of(zhang)
    other = await escalation_of(zhao)
    csrf = await as_staff(client, "root")
    await act(client, esc.id, "claim", csrf)
    await act(client, esc.id, "note", csrf, text="张伟要求下午回电 13800001111")
    await act(client, esc.id, "reply", csrf, text="张伟您好，我们已收到。")
    await settle(client)
    assert any("张伟您好" in m.body for m in await to_person(zhang))  # the bot's own greeting
    secrets = ("张伟", "赵小明", "赵丽", "13800001111", "13800004444")

    conv = await Conversation.get(contact_id=zhang)
    pages = ["/staff/queue", "/staff/queue?view=mine", "/staff/queue?view=all",
             "/staff/queue/rows?view=all", "/staff/queue?lang=en&view=all",
             f"/staff/escalations/{esc.id}", f"/staff/escalations/{other.id}",
             f"/staff/conversations/{conv.id}", "/staff/notifications", "/staff/admin",
             "/staff/audit", "/tallies", "/reports/monthly?period=2026-11",
             f"/staff/live?esc={esc.id}"]
    for path in pages:
        r = await client.get(path)
        assert r.status == 200, path
        html = await r.text()
        leaked = [s for s in secrets if s in html]
        assert not leaked, f"{path} shows {leaked}"
    assert "张*您好" in await (await client.get(f"/staff/escalations/{esc.id}")).text()
    assert "赵**" in await (await client.get(f"/staff/escalations/{other.id}")).text()

    # A reveal shows the name, once, audited; the next page is masked again.
    r = await act(client, esc.id, "reveal", csrf, why="患者要求回电")
    html = await r.text()
    assert "张伟" in html and "13800001111" in html
    assert await AuditEvent.filter(kind="contact_revealed").count() == 1
    assert "张伟" not in await (await client.get(f"/staff/escalations/{esc.id}")).text()


# --- closing the loop: resolving ---


async def test_resolving_asks_for_an_outcome_and_keeps_the_note_red_flags_close_by_default(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await client_factory(settings, clock)
    await make_staff("li", depts=["dental"])
    await make_staff("root", "admin")
    await import_visits(client, visit("D-1", "王芳", "13800002222", treatment_type="拔牙"))
    await checkins_sent(clock, 1)
    cid = await contact_id("13800002222")
    await processed(await say(client, cid, "拔牙后一直出血"))
    esc = await escalation_of(cid)
    csrf = await as_staff(client, "li")
    page = await (await act(client, esc.id, "claim", csrf)).text()
    # No outcome is chosen for you; after a red flag, closing is proposed, and following up
    # later is offered; resuming the satisfaction survey is not.
    assert re.search(r'<option value="" selected disabled>', page)
    assert re.search(r'value="close" checked', page) and 'value="later"' in page
    assert 'value="resume"' not in page
    r = await act(client, esc.id, "resolve", csrf, outcome="", note="", after="close")
    assert r.status == 400 and "请从列表中选择处理结果" in await r.text()
    r = await act(client, esc.id, "resolve", csrf, outcome="已安排复诊",
                  note="已电话指导压迫止血，明早复诊", after="later")
    assert r.status == 200
    later = await CheckIn.get(offset=f"later:{esc.id}")
    assert later.status == "planned" and later.survey_id == "dental"
    hours = settings.staff.follow_up_later_hours
    assert later.due_at == (await Escalation.get(id=esc.id)).resolved_at + timedelta(hours=hours)
    assert not await CheckIn.filter(offset=f"rec:{esc.id}").exists()  # no satisfaction ask
    page = await (await client.get(f"/staff/escalations/{esc.id}")).text()
    assert "已电话指导压迫止血，明早复诊" in page
    await as_staff(client, "root")
    audit = await (await client.get("/staff/audit?kind=escalation_resolved")).text()
    assert "已电话指导压迫止血，明早复诊" in audit


# --- wording ---


async def test_refusals_are_pages_in_the_layout_and_the_language_switch_keeps_the_view(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await client_factory(settings, clock, run_loops=False)
    await make_staff("li", depts=["dental"])
    await as_staff(client, "li")
    r = await client.get("/tallies")
    html = await r.text()
    assert r.status == 403 and "您的角色无权打开此页面" in html and 'id="lang-switch"' in html
    r = await client.get("/tallies?lang=en")
    assert r.status == 403 and "Your role may not open this page" in await r.text()
    html = await (await client.get("/staff/queue?view=mine&kind=complaint&lang=zh")).text()
    m = re.search(r'href="([^"]+)" class="lang" id="lang-switch"', html)
    assert m and m.group(1) == "/staff/queue?view=mine&amp;kind=complaint&amp;lang=en"
    roles = {"回访专员", "科室负责人", "医院管理层", "系统管理员"}
    from handlers.staff_messages import STAFF_MESSAGES

    assert {STAFF_MESSAGES[f"role.{r}"]["zh"] for r in ("agent", "head", "manager", "admin")} \
        == roles
    assert not any("升级" in v["zh"] for v in STAFF_MESSAGES.values())


async def test_departments_without_cover(settings: Settings, clock: FrozenClock,
                                         client_factory: Any) -> None:
    client = await client_factory(settings, clock, run_loops=False)
    await make_staff("li", depts=["dental"])
    await make_staff("hu", "head", depts=["ortho"])
    await import_visits(client, visit("D-1", "张伟", "13800001111"),
                        visit("O-1", "刘洋", "13800003333", "ortho", "骨科"),
                        visit("E-1", "王五", "13900000005", "ent", "耳鼻喉科"))
    await Department.create(code="idle", name="无人科室")  # no work waiting: not listed
    cover = await svc.uncovered_departments()
    assert [u.department.code for u in cover.no_staff] == ["ent"]
    assert [u.department.code for u in cover.no_head] == ["dental", "ent"]
    assert all(u.active_episodes == 1 for u in cover.no_head)
