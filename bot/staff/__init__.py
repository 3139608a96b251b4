"""The staff workspace's rules: accounts, sessions, sign-in throttling, the queue, claims,
takeover (reply, resolve) and deliberate, audited reveals of names and phones.

The HTTP edge (handlers/staff.py) only translates requests into these calls and
:class:`StaffError` into pages. Everything that changes a conversation locks its contact row
first, in the same order as the dispatcher, so a claim and an inbound reply never interleave.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bot import ledger, outbox
from bot.coverage import Coverage, Uncovered, uncovered_departments  # noqa: F401 (re-exported)
from bot.escalations import notify, recovery
from bot.planner import engine_context
from bot.privacy import mask_name, mask_phone
from bot.runtime import Runtime
from bot.staff.accounts import (  # noqa: F401 (the package's face: bot.staff.login, ...)
    EVERYWHERE,
    LEADS,
    MIN_PASSWORD,
    USERNAME,
    SignedIn,
    StaffError,
    can_see,
    check_password_rules,
    create_staff,
    department_ids,
    get_visible,
    hash_password,
    login,
    logout,
    session_for,
    throttle_keys,
    update_staff,
    visible,
)
from models import (
    AuditEvent,
    CheckIn,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Escalation,
    EscalationStatus,
    Message,
    MessageStatus,
    Staff,
)
from surveys import engine

PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2}
VIEWS = ("unassigned", "mine", "all", "resolved")


async def queue(staff: Staff, *, view: str = "unassigned", kind: str = "",
                priority: str = "", department: str = "", limit: int = 300) -> list[Escalation]:
    """The escalations a member sees in one view, most urgent first, then oldest."""
    q = visible(await department_ids(staff))
    if view == "mine":
        q &= Q(assignee_id=staff.id, status=EscalationStatus.CLAIMED)
    elif view == "resolved":
        q &= Q(status=EscalationStatus.RESOLVED)
    elif view == "all":
        q &= Q(status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED])
    else:
        q &= Q(status=EscalationStatus.OPEN)
    if priority:
        q &= Q(priority=priority)
    if department:
        q &= Q(department__code=department)
    rows = await Escalation.filter(q).prefetch_related(
        "department", "assignee", "conversation__contact"
    ).order_by("-opened_at").limit(limit)
    if kind:
        rows = [e for e in rows if kind in (e.kinds or [e.kind.value])]
    if view == "resolved":
        return rows
    return sorted(rows, key=lambda e: (PRIORITY_RANK[e.priority.value], e.opened_at))


def masked_contact(contact: Contact) -> dict[str, str]:
    """The contact as staff see it by default."""
    return {"name": mask_name(contact.name), "phone": mask_phone(contact.phone)}


# --- claim, release, reassign ---


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """Who holds the escalation after a claim attempt."""

    won: bool
    holder: str


async def _lock_conversation(conn: BaseDBAsyncClient, conversation_id: int) -> Conversation:
    # Same order as the dispatcher: lock the contact row (PostgreSQL), then load the state.
    conv = await Conversation.get(id=conversation_id, using_db=conn)
    await Contact.filter(id=conv.contact_id).using_db(conn).select_for_update().get()
    return await Conversation.get(id=conversation_id, using_db=conn)


async def _audit(kind: str, staff: Staff, esc: Escalation, now: datetime,
                 **data: Any) -> None:
    await ledger.append(AuditEvent, kind=kind, actor=staff.username, subject_type="escalation",
                        subject_id=str(esc.id), data=data, recorded_at=now)


async def claim(rt: Runtime, staff: Staff, esc_id: int) -> ClaimResult:
    """Take an open escalation. Atomic: of two simultaneous claims exactly one wins.

    The winner's conversation goes quiet (the bot stops answering) until release or resolve.
    """
    esc = await get_visible(staff, esc_id)
    now = rt.now()
    async with in_transaction() as conn:
        conv = await _lock_conversation(conn, esc.conversation_id)
        # The conditional UPDATE is the arbiter: only a row still open changes hands.
        won = await Escalation.filter(id=esc.id, status=EscalationStatus.OPEN).using_db(
            conn
        ).update(status=EscalationStatus.CLAIMED, assignee_id=staff.id, claimed_at=now,
                 updated_at=now)
        if not won:
            current = await Escalation.get(id=esc.id, using_db=conn).prefetch_related("assignee")
            if current.status == EscalationStatus.RESOLVED:
                raise StaffError("this escalation is already resolved", 409)
            holder = current.assignee.display_name if current.assignee else "?"
            return ClaimResult(False, holder)
        before = conv.status.value
        if conv.status != ConversationStatus.STAFF:
            conv.status = ConversationStatus.STAFF
            await conv.save(using_db=conn, update_fields=["status"])
        await Escalation.filter(id=esc.id).using_db(conn).update(status_before_claim=before)
        await _hush(conn, conv.contact_id)
        await _audit("escalation_claimed", staff, esc, now, conversation=conv.id)
    rt.live.wake()
    return ClaimResult(True, staff.display_name)


async def _hush(conn: BaseDBAsyncClient, contact_id: int) -> int:
    """Withdraw what the bot still had queued for this person: staff hold the conversation.

    (A message a sender is handing to its provider at this very moment may still go.)
    """
    return await Message.filter(
        contact_id=contact_id, direction=Direction.OUT, sender="bot",
        status=MessageStatus.QUEUED, lease_until__isnull=True,
    ).using_db(conn).update(status=MessageStatus.FAILED, error="withdrawn: staff took over")


def _require_holder(staff: Staff, esc: Escalation) -> None:
    if esc.status == EscalationStatus.RESOLVED:
        raise StaffError("this escalation is already resolved", 409)
    if esc.status != EscalationStatus.CLAIMED or esc.assignee_id != staff.id:
        holder = esc.assignee.display_name if esc.assignee else None
        raise StaffError(f"claim it first (held by {holder})" if holder else "claim it first",
                         409)


async def _restore(rt: Runtime, conn: BaseDBAsyncClient, conv: Conversation,
                   before: str | None) -> None:
    """Give the conversation back to the bot as it was before the claim."""
    if before == ConversationStatus.STAFF.value:
        return  # the bot had already handed over (red flag, unusable replies): stay quiet
    status, state, _ = await _resume_plan(rt, conn, conv)
    conv.status, conv.state = status, state
    await conv.save(using_db=conn, update_fields=["status", "state"])


async def release(rt: Runtime, staff: Staff, esc_id: int) -> None:
    """Put a claimed escalation back in the unassigned queue (its holder, or a lead)."""
    esc = await get_visible(staff, esc_id)
    if esc.assignee_id != staff.id and staff.role not in LEADS:
        raise StaffError("only its holder or a department head may release it", 403)
    if esc.status != EscalationStatus.CLAIMED:
        raise StaffError("it is not claimed", 409)
    now = rt.now()
    async with in_transaction() as conn:
        conv = await _lock_conversation(conn, esc.conversation_id)
        n = await Escalation.filter(id=esc.id, status=EscalationStatus.CLAIMED).using_db(
            conn
        ).update(status=EscalationStatus.OPEN, assignee_id=None, claimed_at=None, updated_at=now)
        if not n:
            raise StaffError("it is not claimed", 409)
        await _restore(rt, conn, conv, esc.status_before_claim)
        await _audit("escalation_released", staff, esc, now)
        esc.status, esc.assignee_id = EscalationStatus.OPEN, None
        await notify.for_escalation(conn, esc, "released", now)
    rt.staff_waker.wake()
    rt.live.wake()


async def reassign(rt: Runtime, staff: Staff, esc_id: int, to_id: int) -> Staff:
    """Hand an open or claimed escalation to someone else (department heads and managers)."""
    if staff.role not in LEADS:
        raise StaffError("only department heads and managers may reassign", 403)
    esc = await get_visible(staff, esc_id)
    if esc.status == EscalationStatus.RESOLVED:
        raise StaffError("this escalation is already resolved", 409)
    target = await Staff.get_or_none(id=to_id, is_active=True)
    if target is None or not await can_see(target, esc):
        raise StaffError("that person does not work in this escalation's department", 400)
    now = rt.now()
    async with in_transaction() as conn:
        conv = await _lock_conversation(conn, esc.conversation_id)
        current = await Escalation.get(id=esc.id, using_db=conn)
        before = current.status_before_claim or conv.status.value
        if current.status == EscalationStatus.OPEN:
            before = conv.status.value
        await Escalation.filter(id=esc.id).using_db(conn).update(
            status=EscalationStatus.CLAIMED, assignee_id=target.id, claimed_at=now,
            updated_at=now, status_before_claim=before,
        )
        if conv.status != ConversationStatus.STAFF:
            conv.status = ConversationStatus.STAFF
            await conv.save(using_db=conn, update_fields=["status"])
        await _hush(conn, conv.contact_id)
        await _audit("escalation_reassigned", staff, esc, now, to=target.username,
                     previous=esc.assignee.username if esc.assignee else None)
        esc.assignee_id = target.id
        esc.status = EscalationStatus.CLAIMED
        await notify.for_escalation(conn, esc, "assigned", now)
    rt.staff_waker.wake()
    rt.live.wake()
    return target


# --- takeover: reply and resolve ---


async def reply(rt: Runtime, staff: Staff, esc_id: int, text: str) -> Message:
    """Send a staff message to the person on their conversation's channel (via the outbox).

    The channel decides how it reaches them (WeChat inside the 48-hour window, otherwise an
    SMS template or the H5 page); ``kind="staff"`` and the params tell it who is writing.
    """
    text = text.strip()
    if not text:
        raise StaffError("write a reply first (or pick a canned one)")
    if len(text) > 1000:
        raise StaffError("a reply is at most 1000 characters; split it into two")
    esc = await get_visible(staff, esc_id)
    _require_holder(staff, esc)
    stopped = stop_reason(esc.conversation.contact)
    if stopped:
        raise StaffError(f"this person asked for no more messages ({stopped}): phone them if "
                         "you must", 409)
    now = rt.now()
    async with in_transaction() as conn:
        conv = await _lock_conversation(conn, esc.conversation_id)
        params = {"staff_name": staff.display_name, "org_name": rt.settings.org.name,
                  "department": esc.department.name if esc.department else ""}
        msg = await outbox.queue(
            conn, key=f"staff:{esc.id}:{secrets.token_hex(8)}", channel=conv.channel,
            contact_id=conv.contact_id, conversation_id=conv.id, body=text, now=now,
            sender="staff", kind="staff", params=params,
        )
        await Escalation.filter(id=esc.id, first_response_at__isnull=True).using_db(
            conn
        ).update(first_response_at=now)
        await Escalation.filter(id=esc.id).using_db(conn).update(updated_at=now)
        await _audit("staff_replied", staff, esc, now, message=msg.id)
    rt.outbox_waker.wake()
    rt.live.wake()
    return msg


def stop_reason(contact: Contact) -> str:
    """Why nothing may be sent to this contact any more ("" when messages may go)."""
    if contact.opted_out_at is not None:
        return "opted_out"
    return contact.stopped_reason or ""


def fill_canned(rt: Runtime, staff: Staff, esc: Escalation, template: str) -> str:
    """A canned reply with {org_name}, {staff_name} and {department} filled in."""
    return engine.render(template, engine.Context(values={
        "org_name": rt.settings.org.name, "staff_name": staff.display_name,
        "department": esc.department.name if esc.department else "",
    }))


async def _resume_plan(rt: Runtime, conn: BaseDBAsyncClient,
                       conv: Conversation) -> tuple[ConversationStatus, dict[str, Any], str | None]:
    """Where the bot picks up: the unanswered question (and its text), or the survey closes."""
    state = dict(conv.state or {})
    survey = rt.settings.surveys.get(state.get("survey", ""))
    checkin = await CheckIn.get_or_none(id=conv.checkin_id, using_db=conn) if conv.checkin_id \
        else None
    expired = checkin is not None and checkin.expires_at is not None \
        and checkin.expires_at <= rt.now()
    idx = int(state.get("index", 0))
    if (survey is not None and checkin is not None and not expired
            and 0 <= idx < len(survey.questions)
            and survey.questions[idx].id not in (state.get("answers") or {})):
        state["status"] = engine.ASKING
        ctx, _ = await engine_context(rt, checkin, conn)
        # Say which survey this is (a parent may have several children being asked about).
        question = engine.render(rt.texts["resume"], ctx) + engine.render(
            survey.questions[idx].text, ctx)
        return ConversationStatus.OPEN, state, question
    state["status"] = engine.DONE
    return ConversationStatus.CLOSED, state, None


AFTER = ("resume", "close", "later")


def default_after(esc: Escalation) -> str:
    """What the resolve form proposes: close after a clinical worry (never a satisfaction
    question to a bleeding patient), otherwise resume the survey."""
    return "close" if "red_flag" in (esc.kinds or [esc.kind.value]) else "resume"


async def resolve(rt: Runtime, staff: Staff, esc_id: int, *, outcome: str, note: str,
                  after: str = "close") -> Escalation:
    """Close the escalation with an outcome and a note; then the bot resumes the survey,
    closes it, or follows up later (``after``). A resolved complaint or low score plans the
    recovery question (bot.escalations.recovery)."""
    outcome = outcome.strip()
    if outcome not in rt.settings.staff.outcomes:
        raise StaffError("pick an outcome from the list")
    if after not in AFTER:
        raise StaffError("after resolving, the survey either resumes, closes or is followed "
                         "up later")
    esc = await get_visible(staff, esc_id)
    _require_holder(staff, esc)
    note = note.strip()[:4000]
    now = rt.now()
    async with in_transaction() as conn:
        conv = await _lock_conversation(conn, esc.conversation_id)
        n = await Escalation.filter(
            id=esc.id, status=EscalationStatus.CLAIMED, assignee_id=staff.id
        ).using_db(conn).update(status=EscalationStatus.RESOLVED, resolved_at=now,
                                outcome=outcome, note=note, updated_at=now)
        if not n:
            raise StaffError("it changed hands meanwhile; reload the page", 409)
        if after == "resume":
            status, state, question = await _resume_plan(rt, conn, conv)
        else:
            status, state, question = ConversationStatus.CLOSED, {
                **(conv.state or {}), "status": engine.DONE}, None
        conv.status, conv.state, conv.last_activity_at = status, state, now
        await conv.save(using_db=conn, update_fields=["status", "state", "last_activity_at"])
        if question and not stop_reason(await Contact.get(id=conv.contact_id, using_db=conn)):
            await outbox.queue(conn, key=f"resume:{esc.id}", channel=conv.channel,
                               contact_id=conv.contact_id, conversation_id=conv.id,
                               body=question, now=now)
        planned = await recovery.after_resolve(rt, conn, esc, conv,
                                               follow_up_later=after == "later")
        await _audit("escalation_resolved", staff, esc, now, outcome=outcome, note=note,
                     after="resumed" if question else after, planned=planned)
    rt.outbox_waker.wake()
    rt.planner_waker.wake()
    rt.live.wake()
    return await Escalation.get(id=esc.id)


# --- privacy ---


async def reveal(rt: Runtime, staff: Staff, esc_id: int, why: str) -> dict[str, str]:
    """The contact's real name and phone, for this member, recorded with the reason."""
    why = why.strip()
    if len(why) < 2:
        raise StaffError("say why you need the name and phone (it is recorded)")
    esc = await get_visible(staff, esc_id)
    contact = esc.conversation.contact
    await ledger.append(AuditEvent, kind="contact_revealed", actor=staff.username,
                        subject_type="contact", subject_id=str(contact.id),
                        data={"why": why[:500], "escalation": esc.id}, recorded_at=rt.now())
    return {"name": contact.name, "phone": contact.phone or ""}
