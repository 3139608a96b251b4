"""The staff call list (电话回访): check-ins the bot could not complete, phoned by a person.

A check-in lands here after every way the bot has went unanswered (``bot.phone.reach``), or
at once for a contact marked phone only when no keypad survey can call them. The list is per
department, ordered by due time, with the episode's context and the attempts so far. It keeps
the call hours: a task outside them waits, and cannot be claimed, until they open.

Claiming is one conditional UPDATE (of two people exactly one wins) and reveals the name and
number to the claimant, recorded like every reveal (``contact_revealed``). The outcome is
recorded as a ``phone`` call:

- 接通 · 完成 / 部分 (``completed``, ``partial``): the answers, entered in the survey form the
  H5 page uses, go through the dispatcher and the engine on channel ``phone``: the same
  records, escalations, opt-outs and tallies as any other answer; the bot sends nothing (the
  person heard it all from the caller);
- 无人接听 / 关机停机 (``no_answer``, ``powered_off``): called again ``[calls] retry_hours``
  later in the call hours, up to ``[calls] max_attempts`` calls, then lost to follow-up
  (``no_answer`` / ``unreachable``);
- 空号/号码错误 (``wrong_number``): the number is marked wrong (no call, no SMS); lost;
- 拒绝 (``refused``): the person declined: opted out (never contacted again: staff told them on
  the phone, so no confirmation is sent); lost ``refused``;
- 已故 (``deceased``): the contact is stopped; lost ``deceased``;
- 要求改期 (``reschedule``): back on the list at the time the person asked for.

A task left uncalled ``[calls] give_up_days`` after it fell due is lost (``no_answer``); a
check-in answered meanwhile by another channel leaves the list by itself (:func:`tick`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bot import dispatcher, ledger
from bot.escalations.sla import Deadline
from bot.phone import reach
from bot.runtime import Runtime
from bot.staff import EVERYWHERE, StaffError, department_ids
from models import (
    Answer,
    AuditEvent,
    Call,
    CallStatus,
    CallTask,
    CallTaskStatus,
    CheckIn,
    CheckinStatus,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    Staff,
)
from surveys import engine
from surveys.definition import QuestionDef, SurveyDef

log = logging.getLogger(__name__)

PHONE = reach.PHONE
CONNECTED = ("completed", "partial")
RETRY = ("no_answer", "powered_off")
OUTCOMES = (*CONNECTED, *RETRY, "wrong_number", "refused", "deceased", "reschedule")
# Staff outcome → how the call went, and the reason a check-in is lost with it.
CALL_STATUS = {"completed": CallStatus.ANSWERED, "partial": CallStatus.ANSWERED,
               "no_answer": CallStatus.NO_ANSWER, "powered_off": CallStatus.POWERED_OFF,
               "wrong_number": CallStatus.INVALID_NUMBER, "refused": CallStatus.ANSWERED,
               "deceased": CallStatus.ANSWERED, "reschedule": CallStatus.ANSWERED}
LOST_REASON = {"no_answer": "no_answer", "powered_off": "unreachable",
               "wrong_number": "wrong_number", "refused": "refused", "deceased": "deceased"}
VIEWS = ("due", "mine", "all", "done")
MAX_NOTE = 2000


# --- onto the list ---------------------------------------------------------------------------


async def hand_over(rt: Runtime, conn: BaseDBAsyncClient, checkin_id: int,
                    reason: str) -> CallTask:
    """Put a check-in on the call list (once); it stays open, the bot stops following it up.

    A check-in that was never opened (a contact marked phone only) gets its conversation here,
    in which staff enter the answers. Its open conversation is closed: a reply by text still
    counts, and the person's next survey is not held up.
    """
    now = rt.now()
    checkin = await CheckIn.get(id=checkin_id, using_db=conn).prefetch_related(
        "episode__department")
    conv = await Conversation.filter(checkin_id=checkin_id).using_db(conn).order_by(
        "-id").first()
    contact = await Contact.get(id=checkin.contact_id, using_db=conn)
    if conv is None:
        from bot.planner import engine_context  # the planner uses this module

        survey = rt.settings.surveys[checkin.survey_id]
        ctx, greeting = await engine_context(rt, checkin, conn)
        step = engine.start(checkin.survey_id, survey, rt.texts, ctx, greeting)
        conv = await Conversation.create(
            using_db=conn, contact_id=contact.id, checkin_id=checkin_id,
            channel=reach.text_channel(rt, contact) or PHONE, state=step.state,
            status=ConversationStatus.CLOSED, last_activity_at=now)
    elif conv.status == ConversationStatus.OPEN:
        await Conversation.filter(id=conv.id).using_db(conn).update(
            status=ConversationStatus.CLOSED)
    department = checkin.episode.department
    task, created = await CallTask.get_or_create(
        using_db=conn, checkin_id=checkin_id, defaults={
            "contact_id": contact.id, "department_id": department.id,
            "conversation_id": conv.id, "reason": reason,
            "due_at": reach.call_time(rt, now, department.code),
            "created_at": now, "updated_at": now})
    await CheckIn.filter(id=checkin_id).using_db(conn).update(
        status=CheckinStatus.OPENED, channel=PHONE, expires_at=None,
        opened_at=checkin.opened_at or now, lease_owner=None, lease_until=None)
    if created:
        await ledger.append(AuditEvent, kind="call_listed", actor="bot", subject_type="checkin",
                            subject_id=str(checkin_id),
                            data={"task": task.id, "reason": reason}, recorded_at=now)
    rt.live.wake()
    return task


# --- the list ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attempt:
    """Attempts so far on one channel: how many, and when the last one went."""

    channel: str
    count: int
    last: datetime | None


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task as the list and its page show it (names and numbers masked by the caller)."""

    task: CallTask
    contact: Contact
    department: str
    department_code: str
    survey: str
    treatment: str
    clinician: str
    visit: datetime
    checkin_due: datetime
    callable_at: datetime  # the task's due time, moved into the call hours
    attempts: list[Attempt]
    staff_calls: list[Call]
    deadline: Deadline

    def can_call(self, now: datetime) -> bool:
        """Due, and inside the call hours."""
        return self.callable_at <= now


def _visible(depts: set[int] | None) -> Q:
    return Q() if depts is None else Q(department_id__in=sorted(depts))


async def _views(rt: Runtime, tasks: list[CallTask]) -> list[TaskView]:
    if not tasks:
        return []
    checkins = {c.id: c for c in await CheckIn.filter(
        id__in=[t.checkin_id for t in tasks]).prefetch_related("episode__department")}
    contacts = {c.id: c for c in await Contact.filter(id__in={t.contact_id for t in tasks})}
    sent: dict[int, dict[str, Attempt]] = {}
    for key, channel, at in await Message.filter(
            contact_id__in=list(contacts), direction=Direction.OUT,
            dedupe_key__startswith="checkin:").values_list("dedupe_key", "channel", "sent_at"):
        parts = str(key).split(":")
        if len(parts) != 4 or not parts[1].isascii() or not parts[1].isdigit():
            continue  # (fallback copies are counted with the attempt they copy)
        per = sent.setdefault(int(parts[1]), {})
        prev = per.get(channel)
        last = max((t for t in (prev.last if prev else None, at) if t is not None), default=None)
        per[channel] = Attempt(channel, (prev.count if prev else 0) + 1, last)
    calls: dict[int, list[Call]] = {}
    for c in await Call.filter(task_id__in=[t.id for t in tasks]).order_by("placed_at"):
        calls.setdefault(int(c.task_id or 0), []).append(c)
    out = []
    window = timedelta(hours=rt.settings.calls.call_within_hours)
    for t in tasks:
        ci = checkins[t.checkin_id]
        ep, dept = ci.episode, ci.episode.department
        first = calls.get(t.id, [])
        met = first[0].placed_at if first else t.closed_at
        out.append(TaskView(
            task=t, contact=contacts[t.contact_id], department=dept.name,
            department_code=dept.code,
            survey=rt.settings.surveys[ci.survey_id].title if ci.survey_id in
            rt.settings.surveys else ci.survey_id,
            treatment=ep.treatment_type, clinician=ep.clinician_name, visit=ep.occurred_at,
            checkin_due=ci.due_at, callable_at=max(t.due_at, reach.call_time(
                rt, max(t.due_at, rt.now()), dept.code)),
            attempts=sorted(sent.get(ci.id, {}).values(), key=lambda a: a.channel),
            staff_calls=first,
            deadline=Deadline("call", t.created_at, t.created_at + window, met)))
    return out


async def worklist(rt: Runtime, staff: Staff, *, view: str = "due", department: str = "",
                   limit: int = 300) -> list[TaskView]:
    """The tasks a member sees in one view, by due time (done: newest first)."""
    q = _visible(await department_ids(staff))
    if view == "mine":
        q &= Q(status=CallTaskStatus.CLAIMED, assignee_id=staff.id)
    elif view == "all":
        q &= Q(status__in=[CallTaskStatus.OPEN, CallTaskStatus.CLAIMED])
    elif view == "done":
        q &= Q(status__in=[CallTaskStatus.DONE, CallTaskStatus.LOST])
    else:
        q &= Q(status=CallTaskStatus.OPEN)
    rows = CallTask.filter(q).prefetch_related("assignee")
    if department:
        from models import Department

        d = await Department.get_or_none(code=department)
        rows = rows.filter(department_id=d.id if d else -1)
    order = ("-closed_at", "-id") if view == "done" else ("due_at", "id")
    return await _views(rt, await rows.order_by(*order).limit(limit))


async def counts(staff: Staff) -> dict[str, int]:
    """How many tasks each view holds (for the tabs)."""
    q = _visible(await department_ids(staff))
    return {
        "due": await CallTask.filter(q, status=CallTaskStatus.OPEN).count(),
        "mine": await CallTask.filter(q, status=CallTaskStatus.CLAIMED,
                                      assignee_id=staff.id).count(),
        "all": await CallTask.filter(q, status__in=[CallTaskStatus.OPEN,
                                                    CallTaskStatus.CLAIMED]).count(),
        "done": await CallTask.filter(q, status__in=[CallTaskStatus.DONE,
                                                     CallTaskStatus.LOST]).count(),
    }


async def get_visible(rt: Runtime, staff: Staff, task_id: int) -> TaskView:
    """One task, or StaffError 404 when it does not exist or is not this member's to see."""
    task = await CallTask.get_or_none(id=task_id).prefetch_related("assignee")
    depts = await department_ids(staff)
    if task is None or (depts is not None and task.department_id not in depts):
        raise StaffError("no such call in your departments' list", 404)
    return (await _views(rt, [task]))[0]


# --- claim, release ----------------------------------------------------------------------------


async def claim(rt: Runtime, staff: Staff, task_id: int) -> dict[str, str]:
    """Take a due task; returns the name and number it reveals to the claimant (audited)."""
    view = await get_visible(rt, staff, task_id)
    now = rt.now()
    if view.task.status == CallTaskStatus.CLAIMED and view.task.assignee_id == staff.id:
        return {"name": view.contact.name, "phone": view.contact.phone or ""}
    if view.task.status in (CallTaskStatus.DONE, CallTaskStatus.LOST):
        raise StaffError("this call is already done", 409)
    if not view.can_call(now):
        when = rt.local(view.callable_at).strftime("%m-%d %H:%M")
        raise StaffError(f"not yet: call from {when} (call hours)", 409)
    async with in_transaction() as conn:
        won = await CallTask.filter(id=task_id, status=CallTaskStatus.OPEN).using_db(
            conn).update(status=CallTaskStatus.CLAIMED, assignee_id=staff.id, claimed_at=now,
                         updated_at=now)
        if not won:
            current = await CallTask.get(id=task_id, using_db=conn).prefetch_related("assignee")
            holder = current.assignee.display_name if current.assignee else "?"
            raise StaffError(f"already claimed by {holder}", 409)
        await ledger.append(AuditEvent, kind="call_task_claimed", actor=staff.username,
                            subject_type="call_task", subject_id=str(task_id),
                            data={"checkin": view.task.checkin_id}, recorded_at=now)
        await ledger.append(AuditEvent, kind="contact_revealed", actor=staff.username,
                            subject_type="contact", subject_id=str(view.contact.id),
                            data={"why": "电话回访", "call_task": task_id}, recorded_at=now)
    rt.live.wake()
    return {"name": view.contact.name, "phone": view.contact.phone or ""}


def _require_holder(staff: Staff, task: CallTask) -> None:
    if task.status in (CallTaskStatus.DONE, CallTaskStatus.LOST):
        raise StaffError("this call is already done", 409)
    if task.status != CallTaskStatus.CLAIMED or task.assignee_id != staff.id:
        raise StaffError("claim it first", 409)


async def release(rt: Runtime, staff: Staff, task_id: int) -> None:
    """Put a claimed task back on the list (its holder, or a manager)."""
    view = await get_visible(rt, staff, task_id)
    if view.task.assignee_id != staff.id and staff.role not in EVERYWHERE:
        raise StaffError("only its holder or a manager may release it", 403)
    n = await CallTask.filter(id=task_id, status=CallTaskStatus.CLAIMED).update(
        status=CallTaskStatus.OPEN, assignee_id=None, claimed_at=None, updated_at=rt.now())
    if not n:
        raise StaffError("it is not claimed", 409)
    await ledger.append(AuditEvent, kind="call_task_released", actor=staff.username,
                        subject_type="call_task", subject_id=str(task_id), data={},
                        recorded_at=rt.now())


# --- the survey form -------------------------------------------------------------------------


def remaining_questions(survey: SurveyDef, state: dict[str, Any]) -> list[QuestionDef]:
    """The questions still to ask, as the H5 page shows them: from the current one on, those
    asked unconditionally (a follow-up question appears once its condition holds)."""
    if state.get("status", engine.ASKING) != engine.ASKING:
        return []
    idx = int(state.get("index", 0))
    answered = state.get("answers") or {}
    return [q for i, q in enumerate(survey.questions)
            if i == idx or (i > idx and not q.ask_if and q.id not in answered)]


async def survey_of(rt: Runtime, task: CallTask) -> tuple[SurveyDef, Conversation]:
    """The task's survey and the conversation the answers go into."""
    conv = await Conversation.get(id=task.conversation_id) if task.conversation_id else \
        await Conversation.filter(checkin_id=task.checkin_id).order_by("-id").first()
    if conv is None:
        raise StaffError("this call has no survey to fill in", 409)
    checkin = await CheckIn.get(id=task.checkin_id)
    survey = rt.settings.surveys.get(str(conv.state.get("survey") or checkin.survey_id)) \
        or rt.settings.surveys[checkin.survey_id]
    return survey, conv


async def _enter_answers(rt: Runtime, task: CallTask, call_id: int, survey: SurveyDef,
                         conv_id: int, values: dict[str, str], comment: str) -> int:
    """Feed the answers the caller entered through the dispatcher, question by question, as
    the H5 page does (channel ``phone``); returns how many were taken."""
    scored = [q.id for q in survey.questions if q.kind == "score" and values.get(q.id)]
    with_comment = scored[-1] if scored else None
    taken = 0
    for _ in range(len(survey.questions) + 1):
        conv = await Conversation.get(id=conv_id)
        if conv.state.get("status") != engine.ASKING:
            break
        q = survey.questions[int(conv.state.get("index", 0))]
        raw = None
        if q.kind == "score":
            answer = values.get(q.id, "")
            if answer:
                extra = comment if q.id == with_comment else ""
                raw = json.dumps({"score": int(answer), "comment": extra}, ensure_ascii=False)
                answer = f"{answer} {extra}".strip()
                if extra:
                    comment = ""
        else:
            answer = values.get(q.id, "")
            if not answer:
                # A written question the caller did not ask (or got no answer to): skipped,
                # not answered with nothing.
                if not await _skip(conv_id, task.contact_id, survey):
                    break
                continue
        if not answer:
            break  # not asked on this call (partly completed)
        received = await dispatcher.receive(
            rt, channel=PHONE, contact_id=task.contact_id, text=answer,
            provider_id=f"call{call_id}:{q.id}", conversation_id=conv_id, raw=raw)
        await dispatcher.process_contact_now(rt, task.contact_id)
        taken += 1
        if received.duplicate:
            break
    if comment:
        # Said at the end of the call: kept with the conversation like a late reply (a red
        # flag or a complaint in it still reaches staff).
        await dispatcher.receive(rt, channel=PHONE, contact_id=task.contact_id, text=comment,
                                 provider_id=f"call{call_id}:comment", conversation_id=conv_id)
        await dispatcher.process_contact_now(rt, task.contact_id)
    return taken


async def _skip(conv_id: int, contact_id: int, survey: SurveyDef) -> bool:
    """Move the conversation past its current (written) question; False at the survey's end."""
    async with in_transaction() as conn:
        # Same order as the dispatcher: the contact row first, then the state.
        await Contact.filter(id=contact_id).using_db(conn).select_for_update().get()
        conv = await Conversation.get(id=conv_id, using_db=conn)
        state = dict(conv.state or {})
        answers = state.get("answers") or {}
        idx = int(state.get("index", 0))
        nxt = next((i for i in range(idx + 1, len(survey.questions))
                    if survey.questions[i].id not in answers
                    and _applies(survey.questions[i], answers)), None)
        if nxt is None:
            return False
        state["index"] = nxt
        await Conversation.filter(id=conv_id).using_db(conn).update(state=state)
    return True


def _applies(q: QuestionDef, answers: dict[str, Any]) -> bool:
    cond = q.condition
    return cond is None or cond.holds(answers.get(cond.question))


# --- outcomes --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the caller recorded."""

    outcome: str
    note: str = ""
    when: datetime | None = None  # reschedule: the time the person asked for
    answers: dict[str, str] | None = None  # question id → "1".."5" or text
    comment: str = ""


async def record(rt: Runtime, staff: Staff, task_id: int, out: Outcome) -> CallTask:
    """Record one staff call on a claimed task (see the module docstring)."""
    if out.outcome not in OUTCOMES:
        raise StaffError("pick how the call went")
    note = out.note.strip()[:MAX_NOTE]
    view = await get_visible(rt, staff, task_id)
    task = view.task
    _require_holder(staff, task)
    now = rt.now()
    answers = {k: v.strip() for k, v in (out.answers or {}).items() if v and v.strip()}
    survey, conv = await survey_of(rt, task)
    if out.outcome in CONNECTED:
        shown = remaining_questions(survey, conv.state)
        bad = [q.id for q in shown if q.kind == "score" and answers.get(q.id)
               and answers[q.id] not in {"1", "2", "3", "4", "5"}]
        if bad:
            raise StaffError("a score is a whole number from 1 to 5", 422)
        missing = [q.id for q in shown if q.kind == "score" and not answers.get(q.id)]
        if out.outcome == "completed" and missing:
            raise StaffError("completed: give every score on the form (or choose partly)", 422)
        if out.outcome == "partial" and not answers:
            raise StaffError("partly: enter at least one answer (or choose another outcome)",
                             422)
    when = None
    if out.outcome == "reschedule":
        if out.when is None or out.when <= now:
            raise StaffError("reschedule: give a time in the future", 422)
        if out.when > now + timedelta(days=rt.settings.calls.give_up_days):
            raise StaffError(f"reschedule: within {rt.settings.calls.give_up_days} days", 422)
        if not reach.in_call_hours(rt, out.when, view.department_code):
            raise StaffError("reschedule: choose a time inside the call hours", 422)
        when = out.when
    call = await Call.create(
        channel=PHONE, contact_id=task.contact_id, phone=view.contact.phone or "",
        checkin_id=task.checkin_id, conversation_id=conv.id, department_id=task.department_id,
        task_id=task.id, staff_id=staff.id, status=CALL_STATUS[out.outcome],
        outcome=out.outcome, note=note, placed_at=now,
        answered_at=now if CALL_STATUS[out.outcome] == CallStatus.ANSWERED else None,
        ended_at=now, updated_at=now)
    if out.outcome in CONNECTED:
        await _enter_answers(rt, task, call.id, survey, conv.id, answers, out.comment.strip())
    async with in_transaction() as conn:
        contact = await Contact.filter(id=task.contact_id).using_db(conn).select_for_update(
        ).get()
        fresh = await CallTask.get(id=task_id, using_db=conn)
        _require_holder(staff, fresh)
        changes: dict[str, Any] = {"outcome": out.outcome, "note": note or fresh.note,
                                   "updated_at": now}
        if out.outcome in CONNECTED:
            await _finish_survey(conn, conv.id, now)
            answered = await Answer.filter(checkin_id=task.checkin_id).using_db(conn).exists()
            if answered:
                changes.update(status=CallTaskStatus.DONE, closed_at=now)
            else:  # (answers that only commented, say): nothing recorded for the check-in
                await _lose(rt, conn, fresh, "no_answer", now)
        elif out.outcome in RETRY:
            attempts = fresh.attempts + 1
            changes["attempts"] = attempts
            if attempts >= rt.settings.calls.max_attempts:
                await _lose(rt, conn, fresh, LOST_REASON[out.outcome], now)
            else:
                later = now + timedelta(hours=rt.settings.calls.retry_hours)
                changes.update(status=CallTaskStatus.OPEN, assignee_id=None, claimed_at=None,
                               due_at=reach.call_time(rt, later, view.department_code))
        elif out.outcome == "reschedule":
            assert when is not None
            changes.update(status=CallTaskStatus.OPEN, assignee_id=None, claimed_at=None,
                           due_at=when)
        else:
            await _stop(rt, conn, contact, out.outcome, staff, now)
            await _lose(rt, conn, fresh, LOST_REASON[out.outcome], now)
        await CallTask.filter(id=task_id).using_db(conn).update(**changes)
        await ledger.append(AuditEvent, kind="call_recorded", actor=staff.username,
                            subject_type="call_task", subject_id=str(task_id),
                            data={"call": call.id, "outcome": out.outcome, "note": note,
                                  "when": when.isoformat() if when else None},
                            recorded_at=now)
    rt.live.wake()
    rt.planner_waker.wake()
    return await CallTask.get(id=task_id)


async def _finish_survey(conn: BaseDBAsyncClient, conv_id: int, now: datetime) -> None:
    """The call is over: the survey ends where the person stopped (the bot does not go on)."""
    conv = await Conversation.get(id=conv_id, using_db=conn)
    if conv.status == ConversationStatus.STAFF:
        return  # the answers raised something a person now holds
    state = dict(conv.state or {})
    if state.get("status") == engine.ASKING:
        state["status"] = engine.DONE
    await Conversation.filter(id=conv_id).using_db(conn).update(
        state=state, status=ConversationStatus.CLOSED, last_activity_at=now)


async def _stop(rt: Runtime, conn: BaseDBAsyncClient, contact: Contact, outcome: str,
                staff: Staff, now: datetime) -> None:
    """What the caller learnt stops every follow-up of this contact (or of this number)."""
    if outcome == "wrong_number":
        unreachable = dict(contact.unreachable or {})
        for channel in (reach.VOICE, "sms", PHONE):
            unreachable[channel] = "wrong_number: a member of staff found the number wrong"
        await Contact.filter(id=contact.id).using_db(conn).update(unreachable=unreachable)
        return
    if outcome == "refused":
        await Contact.filter(id=contact.id).using_db(conn).update(opted_out_at=now)
        kind = "opted_out"
    else:  # deceased
        await Contact.filter(id=contact.id).using_db(conn).update(stopped_reason="deceased",
                                                                  stopped_at=now)
        kind = "deceased"
    # Never contact them again: every pending check-in of this contact is dropped.
    await CheckIn.filter(contact_id=contact.id, status=CheckinStatus.PLANNED).using_db(
        conn).update(status=CheckinStatus.SKIPPED)
    await ledger.append(AuditEvent, kind=kind, actor=staff.username, subject_type="contact",
                        subject_id=str(contact.id), data={"by": "phone"}, recorded_at=now)


async def _lose(rt: Runtime, conn: BaseDBAsyncClient, task: CallTask, reason: str,
                now: datetime) -> None:
    """The check-in is lost to follow-up with ``reason``; the task leaves the list."""
    await CallTask.filter(id=task.id).using_db(conn).update(
        status=CallTaskStatus.LOST, closed_at=now, updated_at=now)
    n = await CheckIn.filter(id=task.checkin_id, status=CheckinStatus.OPENED).using_db(
        conn).update(status=CheckinStatus.EXPIRED, lost_reason=reason)
    if task.conversation_id is not None:
        await Conversation.filter(id=task.conversation_id,
                                  status=ConversationStatus.OPEN).using_db(conn).update(
            status=ConversationStatus.CLOSED)
    if n:
        await ledger.append(AuditEvent, kind="lost_to_follow_up", actor="bot",
                            subject_type="checkin", subject_id=str(task.checkin_id),
                            data={"reason": reason, "call_task": task.id}, recorded_at=now)


# --- housekeeping ----------------------------------------------------------------------------


async def tick(rt: Runtime) -> int:
    """Tasks whose check-in was answered elsewhere leave the list; tasks left uncalled
    ``[calls] give_up_days`` after they fell due (or of a contact who has since stopped) are
    lost."""
    now = rt.now()
    handled = 0
    # Only tasks nobody holds: a claimed one is a member of staff's, who records how it went
    # (the answers they enter answer its check-in before the outcome is written).
    tasks = await CallTask.filter(status=CallTaskStatus.OPEN).order_by("due_at").limit(500)
    if not tasks:
        return 0
    checkins = dict(await CheckIn.filter(id__in=[t.checkin_id for t in tasks]).values_list(
        "id", "status"))
    stopped = {int(r["id"]): r for r in await Contact.filter(
        id__in={t.contact_id for t in tasks}).values("id", "opted_out_at", "stopped_reason")}
    give_up = now - timedelta(days=rt.settings.calls.give_up_days)
    for t in tasks:
        status, contact = checkins.get(t.checkin_id), stopped.get(t.contact_id, {})
        halted = contact.get("opted_out_at") or contact.get("stopped_reason")
        expired = status != CheckinStatus.OPENED or t.due_at <= give_up
        if status != CheckinStatus.ANSWERED and not halted and not expired:
            continue  # still waiting for a call: nothing to do
        async with in_transaction() as conn:
            if status == CheckinStatus.ANSWERED:
                handled += await CallTask.filter(id=t.id, status=t.status).using_db(
                    conn).update(status=CallTaskStatus.DONE, outcome="answered", closed_at=now,
                                 updated_at=now)
                continue
            reason = "no_answer"
            if halted:
                reason = "opted_out" if contact.get("opted_out_at") \
                    else str(contact["stopped_reason"])
            await _lose(rt, conn, t, reason, now)
            handled += 1
    if handled:
        rt.live.wake()
    return handled
