"""Services end to end without HTTP: planner → outbox → dispatcher on a real database."""

from __future__ import annotations

from datetime import timedelta

from bot import dispatcher, importer, outbox, planner
from bot.clock import FrozenClock
from bot.runtime import Runtime
from models import (
    Answer,
    CallTask,
    CheckIn,
    CheckinStatus,
    Contact,
    Conversation,
    Escalation,
    Message,
    MessageStatus,
)


def visit(ext: str, person: str, phone: str, when: str = "2026-11-16 09:00", **extra: str
          ) -> tuple[int, dict[str, str]]:
    row = {"external_id": ext, "person_name": person, "contact_phone": phone,
           "occurred_at": when, "department": "dental", "department_name": "口腔科", **extra}
    return (1, row)


async def drain(rt: Runtime) -> None:
    """Run every loop until nothing is left to do."""
    while (await planner.open_due(rt)) + (await dispatcher.process_pending(rt)) + (
            await outbox.send_due(rt)):
        pass


async def say(rt: Runtime, contact: Contact, text: str, n: int) -> None:
    await dispatcher.receive(rt, channel="simulator", contact_id=contact.id, text=text,
                             provider_id=f"{contact.id}:{n}")
    await drain(rt)


async def bodies(contact: Contact) -> list[str]:
    rows = await Message.filter(contact_id=contact.id, direction="out",
                                status=MessageStatus.DELIVERED).order_by("id")
    return [m.body for m in rows]


async def test_guardian_gets_one_survey_at_a_time_naming_each_child(
        orm: None, runtime: Runtime, clock: FrozenClock) -> None:
    await importer.import_rows(runtime, [
        visit("K1", "小明", "13800004444", contact_name="赵丽", relation="parent"),
        visit("K2", "小红", "13800004444", "2026-11-16 10:00", contact_name="赵丽",
              relation="parent"),
    ], "t")
    clock.advance(timedelta(days=1, hours=2))
    await drain(runtime)
    mum = await Contact.get(phone="13800004444")
    first = await bodies(mum)
    assert len(first) == 1 and "想了解小明的情况" in first[0] and "小明11月16日" in first[0]
    await say(runtime, mum, "5", 1)
    # The first survey ended: the second one goes out now, about the other child.
    out = await bodies(mum)
    assert "感谢" in out[1] and "想了解小红的情况" in out[2]
    await say(runtime, mum, "4", 2)
    answers = await Answer.filter(question_id="overall").order_by("id").values_list(
        "episode_id", "score")
    assert [s for _, s in answers] == [5, 4] and len({e for e, _ in answers}) == 2


async def test_opt_out_confirms_once_and_withdraws_everything_else(
        orm: None, runtime: Runtime, clock: FrozenClock) -> None:
    await importer.import_rows(runtime, [visit("O1", "张三", "13800001111",
                                               treatment_type="补牙")], "t")
    clock.advance(timedelta(days=1, hours=2))
    await planner.open_due(runtime)  # the day-0 and day-1 check-ins are both due
    contact = await Contact.get(phone="13800001111")
    await outbox.send_due(runtime)
    await say(runtime, contact, "TD", 1)
    assert (await Contact.get(id=contact.id)).opted_out_at is not None
    out = await bodies(contact)
    assert sum("不再给您发送" in b for b in out) == 1
    await say(runtime, contact, "退订", 2)
    assert sum("不再给您发送" in b for b in await bodies(contact)) == 1  # confirmed once
    # Later check-ins never go out.
    clock.advance(timedelta(days=400))
    await drain(runtime)
    statuses = set(await CheckIn.filter(contact_id=contact.id, status__in=[
        CheckinStatus.PLANNED, CheckinStatus.OPENED]).values_list("status", flat=True))
    assert statuses <= {CheckinStatus.OPENED}
    assert await CheckIn.filter(contact_id=contact.id, status=CheckinStatus.SKIPPED).count() >= 3
    assert len(await bodies(contact)) == len(out)


async def test_red_flag_escalates_urgently_and_bot_steps_back(
        orm: None, runtime: Runtime, clock: FrozenClock) -> None:
    await importer.import_rows(runtime, [visit("R1", "王芳", "13800002222",
                                               treatment_type="拔牙")], "t")
    clock.advance(timedelta(hours=4))
    await drain(runtime)
    contact = await Contact.get(phone="13800002222")
    assert "持续出血" in (await bodies(contact))[0]  # the recovery question comes first
    await say(runtime, contact, "拔牙后一直出血止不住", 1)
    esc = await Escalation.get()
    assert (esc.kind, esc.priority) == ("red_flag", "urgent")
    assert "120" in (await bodies(contact))[-1]
    conv = await Conversation.get()
    assert conv.status == "staff"
    await say(runtime, contact, "5", 2)  # the bot stays silent while staff handle it
    assert "120" in (await bodies(contact))[-1]
    assert not await Answer.filter(question_id="overall").exists()


async def test_score_after_expiry_is_still_recorded(
        orm: None, runtime: Runtime, clock: FrozenClock) -> None:
    await importer.import_rows(runtime, [visit("E1", "李四", "13800003333")], "t")
    clock.advance(timedelta(days=1, hours=2))
    await drain(runtime)
    for _ in range(runtime.settings.checkin.max_attempts):  # reminders, then the call list
        clock.advance(timedelta(hours=runtime.settings.checkin.reply_window_hours + 1))
        await planner.follow_up_unanswered(runtime)
        await drain(runtime)
    checkin = await CheckIn.get()
    # Nobody answered: the bot stops, a member of staff is to phone (电话回访), not lost.
    assert (checkin.status, checkin.lost_reason, checkin.attempts, checkin.channel) == (
        CheckinStatus.OPENED, None, 3, "phone")
    assert (await CallTask.get()).reason == "no_answer"
    contact = await Contact.get(phone="13800003333")
    await say(runtime, contact, "4分", 1)
    answer = await Answer.get()
    assert answer.score == 4
    assert (await CheckIn.get()).status == CheckinStatus.ANSWERED
    assert "感谢" in (await bodies(contact))[-1]
    await say(runtime, contact, "谢谢", 2)  # small talk after the end: stored, nothing sent
    assert await Message.filter(direction="in").count() == 2
    assert not await Escalation.exists()


async def test_message_outside_any_survey_goes_to_staff(
        orm: None, runtime: Runtime, clock: FrozenClock) -> None:
    contact = await Contact.create(name="陌生人", phone="13900000000")
    await say(runtime, contact, "你们周六上班吗", 1)
    esc = await Escalation.get()
    assert esc.kind in ("question", "other")
    assert "工作人员" in (await bodies(contact))[-1]


async def test_dispute_opens_an_urgent_escalation_of_its_own_kind(
        orm: None, runtime: Runtime, clock: FrozenClock) -> None:
    await importer.import_rows(runtime, [visit("D1", "李雷", "13800003333")], "t")
    clock.advance(timedelta(days=1, hours=2))
    await drain(runtime)
    contact = await Contact.get(phone="13800003333")
    await say(runtime, contact, "2分，收费乱七八糟，不给个说法我就打12345投诉你们", 1)
    esc = await Escalation.get()
    # the dispute outranks the complaint and the low score it also is
    assert (esc.kind, esc.priority) == ("dispute", "urgent")
    assert {"dispute", "complaint", "low_score"} <= set(esc.kinds)


async def test_dispute_with_a_stop_is_still_escalated(
        orm: None, runtime: Runtime, clock: FrozenClock) -> None:
    await importer.import_rows(runtime, [visit("D2", "韩梅", "13800005555")], "t")
    clock.advance(timedelta(days=1, hours=2))
    await drain(runtime)
    contact = await Contact.get(phone="13800005555")
    await say(runtime, contact, "已经投诉到卫健委了，别再发了", 1)
    assert (await Contact.get(id=contact.id)).opted_out_at is not None
    esc = await Escalation.get()
    assert (esc.kind, esc.priority) == ("dispute", "urgent")
