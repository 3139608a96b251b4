"""Staff workspace rules on a real database: claims, takeover, notifications, SLA ladder."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from bot import dispatcher
from bot import staff as svc
from bot.clock import FrozenClock
from bot.escalations import sla
from bot.runtime import Runtime
from models import (
    AuditEvent,
    Conversation,
    Escalation,
    Message,
    Notification,
    StaffSession,
)
from tests.conftest import SHANGHAI
from tests.staff_helpers import PASSWORD, conversation, escalate, make_staff

pytestmark = pytest.mark.usefixtures("orm")


async def test_two_simultaneous_claims_one_wins_other_told_who(runtime: Runtime) -> None:
    a = await make_staff("li", depts=["dental"], name="李")
    b = await make_staff("wang", depts=["dental"], name="王")
    esc = await escalate(runtime, await conversation(runtime))
    results = await asyncio.gather(svc.claim(runtime, a, esc.id), svc.claim(runtime, b, esc.id))
    winners = [r for r in results if r.won]
    losers = [r for r in results if not r.won]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0].holder == winners[0].holder
    fresh = await Escalation.get(id=esc.id).prefetch_related("assignee")
    assert fresh.status == "claimed" and fresh.assignee.display_name == winners[0].holder
    assert await AuditEvent.filter(kind="escalation_claimed").count() == 1


async def test_claimed_conversation_silences_the_bot_until_release(runtime: Runtime) -> None:
    agent = await make_staff("li", depts=["dental"])
    conv = await conversation(runtime)
    esc = await escalate(runtime, conv)
    assert (await svc.claim(runtime, agent, esc.id)).won
    assert (await Conversation.get(id=conv.id)).status == "staff"

    await dispatcher.receive(runtime, channel="simulator", contact_id=conv.contact_id,
                             text="5", provider_id="m1")
    await dispatcher.process_pending(runtime)
    assert not await Message.filter(direction="out").exists()  # the bot said nothing

    await svc.release(runtime, agent, esc.id)
    fresh = await Conversation.get(id=conv.id)
    assert fresh.status == "open" and fresh.state["status"] == "asking"
    assert (await Escalation.get(id=esc.id)).status == "open"


async def test_a_new_escalation_attaches_to_the_open_one(runtime: Runtime) -> None:
    await make_staff("li", depts=["dental"])
    conv = await conversation(runtime)
    first = await escalate(runtime, conv, "complaint", "high")
    second = await escalate(runtime, conv, "red_flag", "urgent", "symptom")
    assert first.id == second.id
    esc = await Escalation.get(id=first.id)
    assert esc.kind == "red_flag" and esc.priority == "urgent"
    assert set(esc.kinds) == {"complaint", "red_flag"}
    assert await Escalation.all().count() == 1


async def test_reply_goes_out_on_the_conversation_channel_as_staff(runtime: Runtime) -> None:
    agent = await make_staff("li", depts=["dental"], name="李护士")
    conv = await conversation(runtime, channel="wechat")
    esc = await escalate(runtime, conv)
    with pytest.raises(svc.StaffError, match="claim it first"):
        await svc.reply(runtime, agent, esc.id, "您好")
    await svc.claim(runtime, agent, esc.id)
    msg = await svc.reply(runtime, agent, esc.id, "您好，我是李护士")
    assert (msg.channel, msg.kind, msg.sender, msg.status) == ("wechat", "staff", "staff",
                                                               "queued")
    assert msg.params["staff_name"] == "李护士" and msg.conversation_id == conv.id
    assert (await Escalation.get(id=esc.id)).first_response_at == runtime.now()
    with pytest.raises(svc.StaffError, match="write a reply"):
        await svc.reply(runtime, agent, esc.id, "   ")


@pytest.mark.parametrize(("after", "conv_status", "question_sent"), [
    ("resume", "open", True),
    ("close", "closed", False),
])
async def test_resolve_then_bot_resumes_or_closes(runtime: Runtime, after: str,
                                                  conv_status: str, question_sent: bool) -> None:
    agent = await make_staff("li", depts=["dental"])
    conv = await conversation(runtime)
    esc = await escalate(runtime, conv, "question", "normal")
    await svc.claim(runtime, agent, esc.id)
    with pytest.raises(svc.StaffError, match="outcome"):
        await svc.resolve(runtime, agent, esc.id, outcome="made up", note="", after=after)
    done = await svc.resolve(runtime, agent, esc.id, outcome="已沟通解决", note="电话已回复",
                             after=after)
    assert done.status == "resolved" and done.outcome == "已沟通解决" and done.note == "电话已回复"
    fresh = await Conversation.get(id=conv.id)
    assert fresh.status == conv_status
    asked = await Message.filter(direction="out", sender="bot").values_list("body", flat=True)
    assert bool(asked) is question_sent
    if question_sent:
        assert "总体满意" in asked[0]


async def test_reassign_is_for_heads_and_stays_in_the_department(runtime: Runtime) -> None:
    agent = await make_staff("li", depts=["dental"])
    other = await make_staff("wang", depts=["dental"])
    ortho = await make_staff("zhao", depts=["ortho"])
    head = await make_staff("head", "head", depts=["dental"])
    esc = await escalate(runtime, await conversation(runtime))
    with pytest.raises(svc.StaffError, match="heads and managers"):
        await svc.reassign(runtime, agent, esc.id, other.id)
    with pytest.raises(svc.StaffError, match="does not work"):
        await svc.reassign(runtime, head, esc.id, ortho.id)
    await svc.reassign(runtime, head, esc.id, other.id)
    fresh = await Escalation.get(id=esc.id)
    assert fresh.status == "claimed" and fresh.assignee_id == other.id
    assigned = await Notification.filter(channel="app", event="assigned")
    assert [n.staff_id for n in assigned] == [other.id]


async def test_queues_are_scoped_to_departments(runtime: Runtime) -> None:
    dental = await make_staff("li", depts=["dental"])
    manager = await make_staff("boss", "manager")
    d = await escalate(runtime, await conversation(runtime, "dental"))
    o = await escalate(runtime, await conversation(runtime, "ortho"))
    assert [e.id for e in await svc.queue(dental, view="unassigned")] == [d.id]
    assert {e.id for e in await svc.queue(manager, view="all")} == {d.id, o.id}
    with pytest.raises(svc.StaffError):
        await svc.claim(runtime, dental, o.id)
    await svc.claim(runtime, dental, d.id)
    assert [e.id for e in await svc.queue(dental, view="mine")] == [d.id]
    assert await svc.queue(dental, view="unassigned") == []


async def test_unassigned_notifies_eligible_assigned_only_the_assignee(runtime: Runtime) -> None:
    li = await make_staff("li", depts=["dental"])
    wang = await make_staff("wang", depts=["dental"])
    await make_staff("zhao", depts=["ortho"])
    conv = await conversation(runtime)
    esc = await escalate(runtime, conv, "complaint")
    opened = await Notification.filter(channel="app", event="opened")
    assert sorted(n.staff_id for n in opened) == sorted([li.id, wang.id])
    await svc.claim(runtime, li, esc.id)
    await escalate(runtime, conv, "red_flag", "urgent", "bleeding")
    updated = await Notification.filter(channel="app", event="updated")
    assert [n.staff_id for n in updated] == [li.id]
    robot = await Notification.filter(channel="wecom").values_list("event", flat=True)
    assert sorted(robot) == ["opened", "updated"]
    for n in await Notification.all():
        assert "张三" not in n.text and "138" not in n.text and "bleeding" not in n.text


# --- SLA ---

MON_9 = datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI)


@pytest.mark.parametrize(("kind", "priority", "after", "level"), [
    ("red_flag", "urgent", timedelta(minutes=29), 0),
    ("red_flag", "urgent", timedelta(minutes=31), 1),
    ("red_flag", "urgent", timedelta(minutes=61), 2),
    ("complaint", "high", timedelta(hours=23), 0),
    ("complaint", "high", timedelta(hours=25), 1),
    ("complaint", "high", timedelta(hours=49), 2),
    ("question", "normal", timedelta(hours=47), 0),
    ("question", "normal", timedelta(hours=49), 1),
])
async def test_sla_ladder(runtime: Runtime, clock: FrozenClock, kind: str, priority: str,
                          after: timedelta, level: int) -> None:
    await make_staff("li", depts=["dental"])
    head = await make_staff("head", "head", depts=["dental"])
    manager = await make_staff("boss", "manager")
    esc = await escalate(runtime, await conversation(runtime), kind, priority)
    clock.advance(after)
    assert await sla.check(runtime) == (1 if level else 0)
    assert await sla.check(runtime) == 0  # each rung is notified once
    fresh = await Escalation.get(id=esc.id)
    assert fresh.sla_level == level
    told = {n.staff_id for n in await Notification.filter(channel="app",
                                                            event__startswith="breach")}
    expected = {1: {head.id}, 2: {head.id, manager.id}}.get(level, set())
    assert told == expected


async def test_complaint_closure_counts_working_days(runtime: Runtime,
                                                     clock: FrozenClock) -> None:
    clock._now = datetime(2026, 11, 19, 9, 0, tzinfo=SHANGHAI)  # Thursday
    agent = await make_staff("li", depts=["dental"])
    esc = await escalate(runtime, await conversation(runtime), "complaint")
    await svc.claim(runtime, agent, esc.id)
    await svc.reply(runtime, agent, esc.id, "您好")
    fresh = await Escalation.get(id=esc.id)
    by_name = {d.name: d for d in sla.deadlines(runtime, fresh)}
    # Thu + 5 working days (weekend skipped) = next Thursday; answer within 7 calendar days.
    assert runtime.local(by_name["close"].due) == datetime(2026, 11, 26, 9, 0,
                                                           tzinfo=SHANGHAI)
    assert by_name["answer"].due - fresh.opened_at == timedelta(days=7)
    assert by_name["response"].state(runtime.now()) == "met"
    clock.advance(timedelta(days=7, minutes=1))
    assert sla.level(runtime, fresh, runtime.now()) == 1
    await svc.resolve(runtime, agent, esc.id, outcome="已沟通解决", note="", after="close")
    done = await Escalation.get(id=esc.id)
    assert {d.name: d.state(runtime.now()) for d in sla.deadlines(runtime, done)} == {
        "response": "met", "close": "late", "answer": "late"}


# --- accounts and sign-in ---


async def test_login_throttles_per_username_and_address(runtime: Runtime) -> None:
    await make_staff("li", depts=["dental"])
    for _ in range(runtime.settings.staff.login_max_failures):
        with pytest.raises(svc.StaffError, match="wrong username or password"):
            await svc.login(runtime, "li", "wrong-password", "10.0.0.1")
    with pytest.raises(svc.StaffError, match="too many") as e:
        await svc.login(runtime, "li", PASSWORD, "10.0.0.1")
    assert e.value.status == 429
    # Another address is not locked out by someone else's guesses.
    assert (await svc.login(runtime, "li", PASSWORD, "10.0.0.2")).staff.username == "li"
    runtime.clock.advance(timedelta(minutes=16))  # type: ignore[attr-defined]
    assert (await svc.login(runtime, "li", PASSWORD, "10.0.0.1")).staff.username == "li"


async def test_passwords_are_argon2_and_sessions_store_only_a_hash(runtime: Runtime) -> None:
    s = await make_staff("li")
    assert s.password_hash and s.password_hash.startswith("$argon2id$")
    signed = await svc.login(runtime, "li", PASSWORD, "127.0.0.1")
    row = await StaffSession.get(staff_id=s.id)
    assert row.token_hash != signed.token and len(row.token_hash) == 64
    assert (await svc.session_for(runtime, signed.token)) is not None
    await svc.update_staff(s, password="another-password-2")
    assert (await svc.session_for(runtime, signed.token)) is None  # new password signs out


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"username": "x"}, "2–64 letters"),
    ({"password": "short"}, "at least 8"),
    ({"role": "boss"}, "unknown role"),
    ({"departments": ["nope"]}, "unknown department code"),
])
async def test_create_staff_refuses_bad_input(kwargs: dict, message: str) -> None:
    args = {"username": "newbie", "display_name": "N", "role": "agent", "password": PASSWORD,
            "departments": [], **kwargs}
    with pytest.raises(svc.StaffError, match=message):
        await svc.create_staff(**args)


async def test_reveal_is_audited_with_who_and_why(runtime: Runtime) -> None:
    agent = await make_staff("li", depts=["dental"])
    esc = await escalate(runtime, await conversation(runtime, phone="13912345678"))
    with pytest.raises(svc.StaffError, match="say why"):
        await svc.reveal(runtime, agent, esc.id, " ")
    shown = await svc.reveal(runtime, agent, esc.id, "需要电话回访")
    assert shown == {"name": "张三", "phone": "13912345678"}
    ev = await AuditEvent.get(kind="contact_revealed")
    assert ev.actor == "li" and ev.data["why"] == "需要电话回访"
    assert ev.recorded_at == runtime.now()
