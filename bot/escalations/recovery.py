"""Closing the loop after staff resolved an escalation: the check-ins it leaves behind.

- **Recovery satisfaction**: a resolved complaint or low score gets, ``[staff]
  recovery_survey_hours`` later, one short question ("您对我们的处理结果满意吗？1-5",
  ``[texts] recovery_question``): the one-question survey ``recovery``, whose answer is an
  ``Answer`` with ``survey_id = question_id = "recovery"`` on the same episode, department and
  check-in chain (the Medallia-style inner loop; the tallies count those rows).
- **Follow up later**: after a red flag the default is to close; staff may ask the bot to
  follow up instead, ``[staff] follow_up_later_hours`` later, from the start of the survey.

Both are ordinary planned check-ins of the episode (offsets ``rec:<escalation>`` and
``later:<escalation>``), so every rule of the planner holds for them: nothing to a person who
opted out, nothing in the quiet hours, nothing while staff hold one of their conversations,
one survey at a time. Fatigue does not block a recovery question (it is the answer to what the
person raised), nor does a recovery question count towards fatigue; it is asked once, without
reminders.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from bot.runtime import Runtime
from models import CheckIn, Contact, Conversation, Episode, Escalation
from surveys.definition import RECOVERY
from surveys.window import next_send_time

RECOVERY_OFFSET = "rec:"
LATER_OFFSET = "later:"
# Kinds whose resolution asks how satisfied the person is with it; never after a clinical
# worry, a death or a wrong number.
ASKS_RECOVERY = frozenset({"complaint", "low_score", "dispute"})
NEVER_ASKS = frozenset({"red_flag", "deceased", "wrong_number"})


def is_special(offset: str) -> bool:
    """A check-in planned by staff action, not by the episode's schedule."""
    return offset.startswith((RECOVERY_OFFSET, LATER_OFFSET))


def is_recovery(offset: str) -> bool:
    """The recovery satisfaction question (asked once, no reminders, exempt from fatigue)."""
    return offset.startswith(RECOVERY_OFFSET)


def wants_recovery(rt: Runtime, esc: Escalation, survey_id: str) -> bool:
    """Whether resolving ``esc`` asks how satisfied the person is with the outcome."""
    kinds = set(esc.kinds or [esc.kind.value])
    return (rt.settings.staff.recovery_survey_hours > 0 and bool(kinds & ASKS_RECOVERY)
            and not kinds & NEVER_ASKS and survey_id != RECOVERY)


async def _plan(rt: Runtime, conn: BaseDBAsyncClient, checkin: CheckIn, *, offset: str,
                survey_id: str, due: datetime, importance: int) -> CheckIn:
    episode = await Episode.get(id=checkin.episode_id, using_db=conn).prefetch_related(
        "department")
    window = rt.send_window(episode.department.code)
    row, _ = await CheckIn.get_or_create(
        using_db=conn, episode_id=checkin.episode_id, offset=offset, defaults={
            "contact_id": checkin.contact_id, "survey_id": survey_id, "due_at": due,
            "send_at": next_send_time(due, rt.settings.tz, window, checkin.id),
            "window_end_at": due + timedelta(hours=rt.settings.checkin.on_time_hours),
            "importance": importance,
        })
    return row


async def after_resolve(rt: Runtime, conn: BaseDBAsyncClient, esc: Escalation,
                        conv: Conversation, *, follow_up_later: bool) -> list[str]:
    """Plan what resolving ``esc`` leaves behind; returns the offsets planned."""
    if conv.checkin_id is None:
        return []  # a message outside any survey: no episode to follow up
    checkin = await CheckIn.get(id=conv.checkin_id, using_db=conn)
    contact = await Contact.get(id=conv.contact_id, using_db=conn)
    if contact.opted_out_at is not None or contact.stopped_reason:
        return []
    now = rt.now()
    survey_id = str((conv.state or {}).get("survey") or checkin.survey_id)
    planned: list[str] = []
    if follow_up_later and survey_id != RECOVERY:
        hours = rt.settings.staff.follow_up_later_hours
        row = await _plan(rt, conn, checkin, offset=f"{LATER_OFFSET}{esc.id}",
                          survey_id=survey_id, due=now + timedelta(hours=hours),
                          importance=checkin.importance)
        planned.append(row.offset)
    if wants_recovery(rt, esc, survey_id):
        hours = rt.settings.staff.recovery_survey_hours
        row = await _plan(rt, conn, checkin, offset=f"{RECOVERY_OFFSET}{esc.id}",
                          survey_id=RECOVERY, due=now + timedelta(hours=hours), importance=0)
        planned.append(row.offset)
    return planned
