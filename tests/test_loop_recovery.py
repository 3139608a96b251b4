"""Closing the loop: after staff resolve a complaint or a low score, one short question about
how it was handled ("您对我们的处理结果满意吗？1-5"), recorded as recovery satisfaction and
tallied, under every rule the other messages follow: quiet hours, opt-out, the takeover
silence; fatigue does not block it, and it is asked once. Over real HTTP, on SQLite and
PostgreSQL."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from bot.clock import FrozenClock
from bot.config import Settings
from bot.keys import RUNTIME
from models import Answer, CheckIn, Escalation, Message
from surveys.definition import RECOVERY
from tests.conftest import eventually, make_settings
from tests.loop_helpers import (
    act,
    as_staff,
    checkins_sent,
    contact_id,
    escalation_of,
    import_visits,
    processed,
    say,
    settle,
    to_person,
    visit,
)
from tests.staff_helpers import make_staff


async def _resolve_complaint(client: Any, cid: int, outcome: str = "已沟通解决") -> Escalation:
    await processed(await say(client, cid, "2 护士态度不好"))
    await settle(client)
    esc = await escalation_of(cid)
    csrf = await as_staff(client, "li")
    await act(client, esc.id, "claim", csrf)
    await act(client, esc.id, "reply", csrf, text="非常抱歉，我们已和护士长沟通。")
    r = await act(client, esc.id, "resolve", csrf, outcome=outcome, note="已道歉",
                  after="close")
    assert r.status == 200
    await settle(client)
    return await Escalation.get(id=esc.id)


def _wake(client: Any) -> None:
    rt = client.server.app[RUNTIME]
    rt.planner_waker.wake()
    rt.outbox_waker.wake()


async def _asked(cid: int, settings: Settings) -> list[Message]:
    return [m for m in await to_person(cid) if settings.texts.recovery_question in m.body]


async def test_a_resolved_complaint_gets_one_recovery_question_whose_answer_is_tallied(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await client_factory(settings, clock)
    await make_staff("li", depts=["dental"])
    await make_staff("boss", "manager")
    await import_visits(client, visit("D-1", "张伟", "13800001111", clinician="李医生"))
    await checkins_sent(clock, 1)
    cid = await contact_id("13800001111")
    esc = await _resolve_complaint(client, cid)
    rec = await CheckIn.get(offset=f"rec:{esc.id}").prefetch_related("episode")
    first = await CheckIn.filter(offset="1d").first()
    assert first is not None
    assert rec.survey_id == RECOVERY and rec.episode_id == first.episode_id
    assert rec.due_at == esc.resolved_at + timedelta(hours=settings.staff.recovery_survey_hours)
    assert await _asked(cid, settings) == []

    clock.advance(timedelta(hours=settings.staff.recovery_survey_hours, minutes=1))
    _wake(client)
    asked = await eventually(lambda: _asked(cid, settings))
    await settle(client)
    assert len(asked) == 1 and asked[0].body.startswith("张伟您好")
    before = len(await to_person(cid))

    await processed(await say(client, cid, "4"))
    await settle(client)
    answer = await Answer.get(survey_id=RECOVERY)
    assert (answer.question_id, answer.score) == (RECOVERY, 4)
    assert answer.episode_id == rec.episode_id and answer.checkin_id == rec.id
    assert answer.department_id == rec.episode.department_id
    assert [m.body for m in (await to_person(cid))[before:]] == [settings.texts.recovery_thanks]
    assert not await Escalation.filter(status="open").exists()  # a 4 needs nobody

    # Tallied for the managers as recovery satisfaction, in the report's complaint handling,
    # and kept out of the ordinary satisfaction tallies.
    await as_staff(client, "boss")
    html = await (await client.get("/tallies")).text()
    assert 'data-question="recovery"' not in html
    period = rt_local_month(client, answer.recorded_at)
    report = await (await client.get(f"/reports/monthly?period={period}")).text()
    cell = re.search(r'<td class="recovery">(.*?)</td>', report, re.S)
    assert cell and "n=1" in cell.group(1), report


async def test_a_low_recovery_score_goes_back_to_staff_and_asks_nothing_more(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await client_factory(settings, clock)
    await make_staff("li", depts=["dental"])
    await import_visits(client, visit("D-1", "张伟", "13800001111"))
    await checkins_sent(clock, 1)
    cid = await contact_id("13800001111")
    esc = await _resolve_complaint(client, cid)
    clock.advance(timedelta(hours=settings.staff.recovery_survey_hours, minutes=1))
    _wake(client)
    await eventually(lambda: _asked(cid, settings))
    await processed(await say(client, cid, "1 根本没解决"))
    again = await Escalation.get(status="open")
    assert again.id != esc.id and "low_score" in again.kinds
    csrf = await as_staff(client, "li")
    await act(client, again.id, "claim", csrf)
    await act(client, again.id, "resolve", csrf, outcome="已转科室处理", note="", after="close")
    assert not await CheckIn.filter(offset=f"rec:{again.id}").exists()  # no loop of loops


async def test_the_recovery_question_is_asked_once_without_reminders(
        settings: Settings, clock: FrozenClock, client_factory: Any) -> None:
    client = await client_factory(settings, clock)
    await make_staff("li", depts=["dental"])
    await import_visits(client, visit("D-1", "张伟", "13800001111"))
    await checkins_sent(clock, 1)
    cid = await contact_id("13800001111")
    esc = await _resolve_complaint(client, cid)
    clock.advance(timedelta(hours=settings.staff.recovery_survey_hours, minutes=1))
    _wake(client)
    await eventually(lambda: _asked(cid, settings))
    await settle(client)
    before = len(await to_person(cid))
    clock.advance(timedelta(hours=settings.checkin.reply_window_hours + 1))
    _wake(client)
    await eventually(lambda: CheckIn.filter(offset=f"rec:{esc.id}", status="expired").exists())
    clock.advance(timedelta(days=2))
    _wake(client)
    await settle(client)
    assert len(await to_person(cid)) == before  # no reminder, ever
    rec = await CheckIn.get(offset=f"rec:{esc.id}")
    assert (rec.status, rec.lost_reason, rec.attempts) == ("expired", "no_answer", 1)


async def test_quiet_hours_hold_it_until_morning(db_url: str, clock: FrozenClock,
                                                 client_factory: Any) -> None:
    settings = make_settings(db_url, staff={"recovery_survey_hours": 12},
                             send_window={"spread_minutes": 0})
    client = await client_factory(settings, clock)
    await make_staff("li", depts=["dental"])
    await import_visits(client, visit("D-1", "张伟", "13800001111"))
    await checkins_sent(clock, 1)  # Tuesday 10:00
    cid = await contact_id("13800001111")
    esc = await _resolve_complaint(client, cid)
    rec = await CheckIn.get(offset=f"rec:{esc.id}")
    local = rec.send_at.astimezone(settings.tz)
    assert (local.hour, local.minute) == (8, 30)  # due at 22:00, sent when the window opens
    clock.advance(timedelta(hours=13))  # 23:00
    _wake(client)
    await eventually(lambda: CheckIn.filter(id=rec.id, send_at=rec.send_at).exists())
    await settle(client)
    assert await _asked(cid, settings) == []
    clock.set(local + timedelta(minutes=1))
    _wake(client)
    assert len(await eventually(lambda: _asked(cid, settings))) == 1


async def test_nothing_after_an_opt_out(settings: Settings, clock: FrozenClock,
                                       client_factory: Any) -> None:
    client = await client_factory(settings, clock)
    await make_staff("li", depts=["dental"])
    await import_visits(client, visit("D-1", "张伟", "13800001111"))
    await checkins_sent(clock, 1)
    cid = await contact_id("13800001111")
    esc = await _resolve_complaint(client, cid)
    await processed(await say(client, cid, "以后别再给我发消息了"))
    await settle(client)
    before = len(await to_person(cid))
    clock.advance(timedelta(hours=settings.staff.recovery_survey_hours + 1))
    _wake(client)
    await eventually(lambda: CheckIn.filter(offset=f"rec:{esc.id}", status="skipped").exists())
    await settle(client)
    assert len(await to_person(cid)) == before  # the stop skipped it: nothing went


async def test_it_waits_for_a_takeover_and_fatigue_does_not_block_it(
        db_url: str, clock: FrozenClock, client_factory: Any) -> None:
    settings = make_settings(db_url, staff={"recovery_survey_hours": 30})
    client = await client_factory(settings, clock)
    await make_staff("li", depts=["dental", "ortho"])
    await import_visits(client, visit("D-1", "张伟", "13800001111"))
    await checkins_sent(clock, 1)
    cid = await contact_id("13800001111")
    esc = await _resolve_complaint(client, cid)
    # The same person's discharge from another department opens a survey the next morning.
    await import_visits(client, visit("O-1", "张伟", "13800001111", "ortho", "骨科",
                                      kind="discharge", occurred_at="2026-11-17 09:00"))
    clock.advance(timedelta(hours=24, minutes=5))  # Wednesday 10:05: the discharge survey
    _wake(client)
    discharge = await eventually(lambda: CheckIn.filter(episode__external_id="O-1",
                                                         status="opened").first())
    await settle(client)
    # The person reports a worry during it; staff take that over.
    await processed(await say(client, cid, "伤口一直在渗血"))
    question = await Escalation.get(status="open")
    csrf = await as_staff(client, "li")
    await act(client, question.id, "claim", csrf)
    before = len(await to_person(cid))
    clock.advance(timedelta(hours=6, minutes=5))  # the recovery question is due: held back
    _wake(client)
    rec = await CheckIn.get(offset=f"rec:{esc.id}")
    await eventually(lambda: CheckIn.filter(id=rec.id, lease_until__isnull=False).exists())
    assert len(await to_person(cid)) == before and await _asked(cid, settings) == []
    # Resolved with the survey closed: the recovery question goes, though a survey about the
    # same person (the discharge) opened within fatigue_days.
    await act(client, question.id, "resolve", csrf, outcome="已沟通解决", note="", after="close")
    clock.advance(timedelta(minutes=31))
    _wake(client)
    assert len(await eventually(lambda: _asked(cid, settings))) == 1
    assert (await CheckIn.get(id=rec.id)).status == "opened"
    assert discharge.opened_at is not None


def rt_local_month(client: Any, when: datetime) -> str:
    """The local month of ``when`` as the report names it (2026-11)."""
    return f"{client.server.app[RUNTIME].local(when):%Y-%m}"
