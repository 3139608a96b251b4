"""The staff call list (电话回访) over HTTP: what lands on it, claiming (the number revealed,
audited, one winner), the call hours, every outcome, answers entered in the survey form going
through the engine on channel ``phone``, and the coverage figures. SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FrozenClock
from bot.keys import RUNTIME
from bot.phone import calllist
from models import (
    Answer,
    AuditEvent,
    Call,
    CallTask,
    CheckIn,
    Contact,
    Escalation,
    Message,
)
from tests.conftest import eventually, make_settings
from tests.loop_helpers import import_visits
from tests.phone_helpers import at, elder, wake
from tests.staff_helpers import csrf_of, make_staff, sign_in

PHONE = "13900005555"


def settings_for(db_url: str, **extra: Any) -> Any:
    """No keypad survey: a contact marked phone only goes straight to the call list."""
    return make_settings(db_url, schedules={"default": ["3h"]},
                         send_window={"spread_minutes": 0}, **extra)


async def listed(client: Any, clock: FrozenClock, *visits: dict[str, str]) -> CallTask:
    """Import the visits and move to when the call list takes the first (Monday 14:01)."""
    await import_visits(client, *visits)
    clock.set(at(16, 14, 1))
    wake(client)
    return await eventually(lambda: CallTask.first())


async def claim(client: Any, task_id: int) -> Any:
    page = await (await client.get(f"/staff/calls/{task_id}")).text()
    return await client.post(f"/staff/calls/{task_id}/claim", data={"csrf": csrf_of(page)})


async def record(client: Any, task_id: int, **form: str) -> Any:
    page = await (await client.get(f"/staff/calls/{task_id}")).text()
    return await client.post(f"/staff/calls/{task_id}/record",
                             data={"csrf": csrf_of(page), **form})


async def test_a_phone_only_contact_is_listed_at_once_and_claiming_reveals_the_number(
        db_url: str, clock: FrozenClock, client_factory: Any) -> None:
    client = await client_factory(settings_for(db_url), clock)
    await make_staff("li", depts=["dental"], name="李护士")
    await make_staff("wang", depts=["dental"], name="王护士")
    await make_staff("zhao", depts=["ortho"])
    task = await listed(client, clock, elder("C-1", PHONE))
    assert (task.reason, task.status) == ("phone_only", "open")
    checkin = await CheckIn.get()
    assert (checkin.status, checkin.channel) == ("opened", "phone")
    assert not await Message.filter(direction="out").exists()  # never written to
    await sign_in(client, "li")
    html = await (await client.get("/staff/calls")).text()
    assert f'data-task="{task.id}"' in html and "王**" in html and "139****5555" in html
    assert PHONE not in html and "王奶奶" not in html and "仅电话回访" in html
    page = await (await client.get(f"/staff/calls/{task.id}")).text()
    assert PHONE not in page and "tel:" not in page
    r = await claim(client, task.id)
    assert r.status == 200 and r.url.path == f"/staff/calls/{task.id}"
    page = await r.text()
    assert f'href="tel:{PHONE}"' in page and "王奶奶" in page
    assert r.headers["Cache-Control"] == "no-store"
    reveal = await AuditEvent.get(kind="contact_revealed")
    assert (reveal.actor, reveal.data["call_task"]) == ("li", task.id)
    # A colleague is told who has it; another department does not see it at all.
    client.session.cookie_jar.clear()
    await sign_in(client, "wang")
    r = await claim(client, task.id)
    assert r.status == 409 and "已被李护士认领" in await r.text()
    assert PHONE not in await r.text()
    client.session.cookie_jar.clear()
    await sign_in(client, "zhao")
    assert (await client.get(f"/staff/calls/{task.id}")).status == 404
    assert f'data-task="{task.id}"' not in await (await client.get("/staff/calls")).text()


async def test_the_list_keeps_the_call_hours(db_url: str, clock: FrozenClock,
                                             client_factory: Any) -> None:
    client = await client_factory(settings_for(db_url), clock)
    await make_staff("li", depts=["dental"])
    await import_visits(client, elder("C-2", PHONE))
    clock.set(at(16, 12, 40))  # due 12:30, in the midday pause: listed, not yet callable
    wake(client)
    task = await eventually(lambda: CallTask.first())
    assert task.due_at == at(16, 14, 0)
    await sign_in(client, "li")
    page = await (await client.get(f"/staff/calls/{task.id}")).text()
    assert "不在可拨打时间" in page and "11-16 14:00" in page
    r = await claim(client, task.id)
    assert r.status == 409 and "尚不可拨打" in await r.text()
    assert not await AuditEvent.filter(kind="contact_revealed").exists()
    clock.set(at(16, 14, 0))
    assert (await claim(client, task.id)).status == 200


async def test_no_answer_comes_back_later_then_is_lost(db_url: str, clock: FrozenClock,
                                                       client_factory: Any) -> None:
    client = await client_factory(settings_for(db_url), clock)
    await make_staff("li", depts=["dental"])
    task = await listed(client, clock, elder("C-3", PHONE))
    for n in (1, 2):
        client.session.cookie_jar.clear()
        await sign_in(client, "li")  # (a new day, a new session)
        assert (await claim(client, task.id)).status == 200
        r = await record(client, task.id, outcome="no_answer", note="无人接")
        assert r.status == 200
        fresh = await CallTask.get(id=task.id)
        assert (fresh.status, fresh.attempts, fresh.assignee_id) == ("open", n, None)
        # [calls] retry_hours (4) later, moved into the call hours: 18:01, then 09:00
        assert fresh.due_at == [at(16, 18, 1), at(17, 9)][n - 1]
        clock.set(fresh.due_at)
    client.session.cookie_jar.clear()
    await sign_in(client, "li")
    assert (await claim(client, task.id)).status == 200
    r = await record(client, task.id, outcome="powered_off")
    fresh = await CallTask.get(id=task.id)
    assert (fresh.status, fresh.attempts) == ("lost", 3)
    checkin = await CheckIn.get()
    assert (checkin.status, checkin.lost_reason) == ("expired", "unreachable")
    assert await Call.filter(channel="phone", task_id=task.id).count() == 3
    lost = await AuditEvent.get(kind="lost_to_follow_up")
    assert lost.data == {"reason": "unreachable", "call_task": task.id}


@pytest.mark.parametrize(("outcome", "reason"), [
    ("wrong_number", "wrong_number"), ("refused", "refused"), ("deceased", "deceased")])
async def test_outcomes_that_end_the_follow_up(db_url: str, clock: FrozenClock,
                                               client_factory: Any, outcome: str,
                                               reason: str) -> None:
    client = await client_factory(settings_for(db_url), clock)
    await make_staff("li", depts=["dental"])
    nxt = {**elder("C-5", PHONE), "occurred_at": "2026-11-30 09:30"}
    task = await listed(client, clock, elder("C-4", PHONE), nxt)
    await sign_in(client, "li")
    await claim(client, task.id)
    assert (await record(client, task.id, outcome=outcome, note="家属接听")).status == 200
    assert (await CallTask.get(id=task.id)).status == "lost"
    first = await CheckIn.get(episode__external_id="C-4")
    assert (first.status, first.lost_reason) == ("expired", reason)
    contact = await Contact.get(phone=PHONE)
    later = await CheckIn.get(episode__external_id="C-5")
    if outcome == "wrong_number":
        assert "wrong_number" in contact.unreachable["phone"]
        assert contact.opted_out_at is None
    elif outcome == "refused":
        assert contact.opted_out_at is not None and later.status == "skipped"
    else:
        assert contact.stopped_reason == "deceased" and later.status == "skipped"
    # Staff said it on the phone: the bot sends nothing, not even a confirmation.
    assert not await Message.filter(direction="out").exists()


async def test_a_reschedule_puts_it_back_at_the_time_asked(db_url: str, clock: FrozenClock,
                                                           client_factory: Any) -> None:
    client = await client_factory(settings_for(db_url), clock)
    await make_staff("li", depts=["dental"])
    task = await listed(client, clock, elder("C-6", PHONE))
    await sign_in(client, "li")
    await claim(client, task.id)
    r = await record(client, task.id, outcome="reschedule", when="2026-11-17T12:30")
    assert r.status == 422 and "可拨打时间内" in await r.text()  # the midday pause
    r = await record(client, task.id, outcome="reschedule", when="2026-11-17 T15:00")
    assert r.status == 422 and "格式不正确" in await r.text()
    r = await record(client, task.id, outcome="reschedule", when="2026-11-17T15:00",
                     note="明天下午三点再打")
    assert r.status == 200
    fresh = await CallTask.get(id=task.id)
    assert (fresh.status, fresh.due_at, fresh.attempts) == ("open", at(17, 15), 0)
    html = await (await client.get("/staff/calls")).text()
    assert "11-17 15:00" in html
    assert (await claim(client, task.id)).status == 409  # not before then
    clock.set(at(17, 15))
    client.session.cookie_jar.clear()
    await sign_in(client, "li")
    assert (await claim(client, task.id)).status == 200


async def test_answers_entered_on_the_call_go_through_the_engine_on_channel_phone(
        db_url: str, clock: FrozenClock, client_factory: Any) -> None:
    client = await client_factory(settings_for(db_url), clock)
    await make_staff("li", depts=["dental"])
    await make_staff("boss", role="manager")
    task = await listed(client, clock, elder("C-7", PHONE))
    await sign_in(client, "li")
    await claim(client, task.id)
    page = await (await client.get(f"/staff/calls/{task.id}")).text()
    assert 'name="q_overall"' in page  # the H5 page's 1-5 buttons
    r = await record(client, task.id, outcome="completed")
    assert r.status == 422 and "每一项评分" in await r.text()
    r = await record(client, task.id, outcome="completed", q_overall="2",
                     comment="护士态度不好", note="本人接听")
    assert r.status == 200
    got = await Answer.filter(checkin_id=(await CheckIn.get()).id).order_by("id")
    assert [(a.question_id, a.score, a.channel) for a in got] == [
        ("overall", 2, "phone"), ("improve", None, "phone")]
    assert got[1].text == "护士态度不好"
    assert (await CheckIn.get()).status == "answered"
    assert (await CallTask.get(id=task.id)).status == "done"
    esc = await Escalation.get()
    assert {"low_score", "complaint"} <= set(esc.kinds)  # escalated like any answer
    assert not await Message.filter(direction="out").exists()  # the caller said it all
    call = await Call.get(channel="phone")
    assert (call.outcome, call.status, call.task_id) == ("completed", "answered", task.id)
    # The tallies count it under channel phone; the coverage figures too.
    client.session.cookie_jar.clear()
    await sign_in(client, "boss")
    tallies = await (await client.get("/tallies?by=channel&period=all")).text()
    assert re.search(r'<tr data-department="phone"[^>]*data-question="overall"', tallies)
    cov = await (await client.get("/staff/calls/coverage?from=2026-11-16&to=2026-11-16")).text()
    row = re.search(r'<tr data-channel="phone" data-department="total".*?</tr>', cov, re.S)
    assert row and "100.0%" in row.group(0)


async def test_a_check_in_answered_elsewhere_leaves_the_list(
        db_url: str, clock: FrozenClock, client_factory: Any) -> None:
    # Not phone only: written to first (simulator), then listed when nobody answered.
    settings = settings_for(db_url, checkin={"max_attempts": 1})
    client = await client_factory(settings, clock)
    visit = elder("C-8", PHONE)
    del visit["回访方式"]
    await import_visits(client, visit)
    clock.set(at(16, 14, 1))
    wake(client)
    # Sent, not only written: a check-in whose message still waits gets its whole reply window
    # from when it goes (bot.planner._round_not_over), so the clock moves on only after that.
    await eventually(lambda: Message.filter(direction="out", channel="simulator",
                                            sent_at__isnull=False).exists())
    clock.advance(timedelta(hours=25))
    wake(client)
    task = await eventually(lambda: CallTask.first())
    assert task.reason == "no_answer"
    # The person replies after all: the task closes by itself.
    cid = (await Contact.get(phone=PHONE)).id
    r = await client.post(f"/simulator/contacts/{cid}/send", data={"text": "5", "nonce": "a"},
                          headers={"Accept": "application/json"})
    assert r.status == 200
    await eventually(lambda: Answer.filter(score=5).exists())
    wake(client)
    done = await eventually(lambda: CallTask.filter(status="done").first())
    assert done.outcome == "answered"


async def test_a_task_left_uncalled_is_given_up(db_url: str, clock: FrozenClock,
                                                client_factory: Any) -> None:
    client = await client_factory(settings_for(db_url), clock)
    task = await listed(client, clock, elder("C-9", PHONE))
    clock.set(task.due_at + timedelta(days=6, hours=23))
    assert await calllist.tick(client.server.app[RUNTIME]) == 0  # not yet
    assert (await CallTask.get(id=task.id)).status == "open"
    clock.set(task.due_at + timedelta(days=7))
    wake(client)
    lost = await eventually(lambda: CallTask.filter(id=task.id, status="lost").first())
    assert lost.closed_at == clock.now()
    checkin = await CheckIn.get()
    assert (checkin.status, checkin.lost_reason) == ("expired", "no_answer")
