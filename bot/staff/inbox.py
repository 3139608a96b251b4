"""The staff inbox: what a queue row shows, what is unread, internal notes, urgent alerts, and
the masking of names and phones in everything staff read.

A queue row shows the conversation's last message (masked), whether the person wrote since
this member last looked (unread, kept per member in ``StaffRead``) and, on a claimed
escalation, that the person replied. Urgent escalations (red flag, dispute) alert every member
who can see them until someone claims them. Names are masked everywhere, the history included:
the bot's own "张伟您好…" names the person, so every text staff read goes through
:func:`masker` unless they revealed the contact (an audited act, ``bot.staff.reveal``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.functions import Max

from bot import ledger
from bot import staff as svc
from bot.escalations import URGENT_KINDS
from bot.privacy import mask_name, mask_phone
from bot.runtime import Runtime
from models import (
    AuditEvent,
    Contact,
    Direction,
    Escalation,
    EscalationNote,
    EscalationStatus,
    Message,
    MessageStatus,
    PersonContact,
    Priority,
    Staff,
    StaffRead,
)

PREVIEW = 60  # characters of the last message a queue row shows
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)")


# --- masking ---


async def names_of(contact_ids: Iterable[int]) -> dict[int, list[str]]:
    """Every name a contact's messages may carry: their own and the people they answer for."""
    ids = sorted(set(contact_ids))
    out: dict[int, set[str]] = {i: set() for i in ids}
    if not ids:
        return {}
    for cid, name in await Contact.filter(id__in=ids).values_list("id", "name"):
        if name:
            out[cid].add(name)
    for cid, name in await PersonContact.filter(contact_id__in=ids).values_list(
            "contact_id", "person__name"):
        if name:
            out[cid].add(name)
    return {cid: sorted(names, key=len, reverse=True) for cid, names in out.items()}


def masker(names: Iterable[str], phones: Iterable[str | None] = ()) -> Callable[[str], str]:
    """A function masking these names (张伟 → 张*), these phones and any mobile number."""
    forms = [(n, mask_name(n)) for n in sorted({n for n in names if n and len(n) > 1},
                                                key=len, reverse=True)]
    numbers = [p for p in phones if p]

    def mask(text: str) -> str:
        for full, masked in forms:
            text = text.replace(full, masked)
        for p in numbers:
            text = text.replace(p, mask_phone(p))
        return _MOBILE.sub(lambda m: mask_phone(m.group(0)), text)

    return mask


async def masker_for(contact: Contact) -> Callable[[str], str]:
    """The masker for one contact's texts."""
    names = (await names_of([contact.id])).get(contact.id, [])
    return masker(names, [contact.phone])


async def masker_for_audit(events: Iterable[AuditEvent]) -> Callable[[str], str]:
    """One masker for the audit events on a page: the names of the people they concern."""
    contacts: set[int] = set()
    escalations: set[int] = set()
    for ev in events:
        if ev.subject_id.isdigit():
            if ev.subject_type == "contact":
                contacts.add(int(ev.subject_id))
            elif ev.subject_type == "escalation":
                escalations.add(int(ev.subject_id))
    if escalations:
        contacts |= {int(r["conversation__contact_id"]) for r in await Escalation.filter(
            id__in=sorted(escalations)).values("conversation__contact_id")}
    names = [n for ns in (await names_of(contacts)).values() for n in ns]
    phones = [str(r["phone"]) for r in await Contact.filter(id__in=sorted(contacts)).values(
        "phone") if r["phone"]]
    return masker(names, phones)


# --- queue rows ---


@dataclass(frozen=True, slots=True)
class RowFacts:
    """What a queue row shows beside the escalation itself."""

    preview: str  # the last message, masked and cut
    preview_sender: str  # bot | staff | person
    last_at: datetime | None
    unread: bool  # the person wrote since this member last looked
    replied: bool  # claimed, and the person's message is the last word


async def _last_ids(contact_ids: list[int], *, inbound: bool) -> dict[int, int]:
    """Each contact's newest message id (withdrawn ones aside), or newest from the person."""
    if not contact_ids:
        return {}
    q = Message.filter(contact_id__in=contact_ids).exclude(status=MessageStatus.FAILED)
    if inbound:
        q = q.filter(direction=Direction.IN, sender="person")
    rows = await q.annotate(last=Max("id")).group_by("contact_id").values("contact_id", "last")
    return {int(r["contact_id"]): int(r["last"]) for r in rows}


async def _reads(staff_id: int, esc_ids: list[int]) -> dict[int, int]:
    if not esc_ids:
        return {}
    return {int(e): int(m) for e, m in await StaffRead.filter(
        staff_id=staff_id, escalation_id__in=esc_ids).values_list("escalation_id", "message_id")}


async def row_facts(staff: Staff, escs: list[Escalation]) -> dict[int, RowFacts]:
    """Preview, unread and "replied" for these escalations (prefetched conversation__contact),
    in a handful of queries whatever the number of rows."""
    contacts = {e.conversation.contact_id: e.conversation.contact for e in escs}
    cids = sorted(contacts)
    last_any = await _last_ids(cids, inbound=False)
    last_in = await _last_ids(cids, inbound=True)
    reads = await _reads(staff.id, [e.id for e in escs])
    bodies = {m.id: m for m in await Message.filter(id__in=list(last_any.values()))}
    names = await names_of(cids)
    out: dict[int, RowFacts] = {}
    for e in escs:
        cid = e.conversation.contact_id
        last = bodies.get(last_any.get(cid, 0))
        mask = masker(names.get(cid, []), [contacts[cid].phone])
        text = mask(" ".join((last.body if last else "").split()))
        inbound = last_in.get(cid, 0)
        out[e.id] = RowFacts(
            preview=text if len(text) <= PREVIEW else text[:PREVIEW - 1] + "…",
            preview_sender=last.sender if last else "",
            last_at=last.created_at if last else None,
            unread=inbound > reads.get(e.id, 0),
            replied=(e.status == EscalationStatus.CLAIMED and last is not None
                     and last.id == inbound and e.claimed_at is not None
                     and last.created_at >= e.claimed_at),
        )
    return out


@dataclass(frozen=True, slots=True)
class ViewCount:
    """How many rows a queue view has, and how many of them are unread for this member."""

    rows: int
    unread: int


async def view_counts(staff: Staff) -> dict[str, ViewCount]:
    """Rows and unread rows per view (Unassigned, Mine, All open) for this member."""
    q = svc.visible(await svc.department_ids(staff)) & Q(
        status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED])
    rows = await Escalation.filter(q).values("id", "status", "assignee_id",
                                             "conversation__contact_id")
    last_in = await _last_ids(sorted({int(r["conversation__contact_id"]) for r in rows}),
                              inbound=True)
    reads = await _reads(staff.id, [int(r["id"]) for r in rows])
    counts = {v: [0, 0] for v in ("unassigned", "mine", "all")}
    for r in rows:
        unread = last_in.get(int(r["conversation__contact_id"]), 0) > reads.get(int(r["id"]), 0)
        views = ["all"]
        if r["status"] == EscalationStatus.OPEN:
            views.append("unassigned")
        elif r["assignee_id"] == staff.id:
            views.append("mine")
        for v in views:
            counts[v][0] += 1
            counts[v][1] += unread
    return {v: ViewCount(n, u) for v, (n, u) in counts.items()}


async def mark_read(rt: Runtime, staff: Staff, esc: Escalation, contact_id: int,
                    upto: int | None = None) -> None:
    """This member has seen the escalation's conversation (up to message ``upto``)."""
    if upto is None:
        latest = await Message.filter(contact_id=contact_id, direction=Direction.IN,
                                      sender="person").order_by("-id").first()
        upto = latest.id if latest else 0
    row = await StaffRead.get_or_none(staff_id=staff.id, escalation_id=esc.id)
    if row is None:
        try:
            await StaffRead.create(staff_id=staff.id, escalation_id=esc.id, message_id=upto,
                                   read_at=rt.now())
            return
        except IntegrityError:  # another tab of the same member got there first
            row = await StaffRead.get(staff_id=staff.id, escalation_id=esc.id)
    if upto > row.message_id:
        await StaffRead.filter(id=row.id, message_id__lt=upto).update(message_id=upto,
                                                                      read_at=rt.now())


# --- internal notes ---


async def add_note(rt: Runtime, staff: Staff, esc_id: int, body: str) -> EscalationNote:
    """An internal note (never sent to the person), recorded in the audit log."""
    body = body.strip()
    if not body:
        raise svc.StaffError("write the note first")
    if len(body) > 2000:
        raise svc.StaffError("a note is at most 2000 characters")
    esc = await svc.get_visible(staff, esc_id)
    now = rt.now()
    note = await EscalationNote.create(escalation_id=esc.id, staff_id=staff.id, body=body,
                                       created_at=now)
    await ledger.append(AuditEvent, kind="note_added", actor=staff.username,
                        subject_type="escalation", subject_id=str(esc.id),
                        data={"note": note.id, "text": body}, recorded_at=now)
    rt.live.wake()
    return note


async def notes(esc_id: int) -> list[EscalationNote]:
    """An escalation's internal notes, oldest first (with their authors)."""
    return await EscalationNote.filter(escalation_id=esc_id).order_by("id").prefetch_related(
        "staff")


# --- urgent alerts ---


def is_urgent(esc: Escalation) -> bool:
    """Red flags and disputes (and anything raised as urgent) alert until claimed."""
    return esc.priority == Priority.URGENT or bool(set(esc.kinds or []) & URGENT_KINDS)


async def alerts(staff: Staff) -> list[Escalation]:
    """The unclaimed urgent escalations this member can see, oldest first."""
    q = svc.visible(await svc.department_ids(staff)) & Q(status=EscalationStatus.OPEN,
                                                         priority=Priority.URGENT)
    return await Escalation.filter(q).prefetch_related("department").order_by("opened_at")
