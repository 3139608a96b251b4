"""Opening escalations: one open escalation per conversation, raised to the most severe kind.

Everything one reply raises (a complaint and a low score, say) is one event: one escalation
opened or updated, one notification per person who should hear, one robot line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from bot import ledger
from bot.escalations import notify
from models import (
    AuditEvent,
    Conversation,
    Escalation,
    EscalationKind,
    EscalationStatus,
    Priority,
)

# Most severe first: decides the kind shown in the queue when several apply.
SEVERITY = [
    EscalationKind.RED_FLAG, EscalationKind.DISPUTE, EscalationKind.DECEASED,
    EscalationKind.COMPLAINT, EscalationKind.LOW_SCORE, EscalationKind.QUESTION,
    EscalationKind.WRONG_NUMBER, EscalationKind.OTHER,
]
PRIORITY_ORDER = [Priority.URGENT, Priority.HIGH, Priority.NORMAL]
# Kinds that alert until someone claims them, whatever priority they were raised with.
URGENT_KINDS = frozenset({EscalationKind.RED_FLAG.value, EscalationKind.DISPUTE.value})


@dataclass(frozen=True, slots=True)
class Raised:
    """One reason a person must look (the engine's ``EscalationRaised``)."""

    kind: str
    priority: str
    reason: str


async def raise_for(
    conn: BaseDBAsyncClient,
    *,
    conversation: Conversation,
    department_id: int | None,
    kind: str,
    priority: str,
    reason: str,
    now: datetime,
) -> Escalation:
    """Open an escalation, or attach to the conversation's open one (never a duplicate)."""
    return await raise_many(conn, conversation=conversation, department_id=department_id,
                            raised=[Raised(kind, priority, reason)], now=now)


def _most(items: Sequence[str], order: Sequence[str]) -> str:
    return min(items, key=lambda x: order.index(x))


async def raise_many(conn: BaseDBAsyncClient, *, conversation: Conversation,
                     department_id: int | None, raised: Sequence[Raised],
                     now: datetime) -> Escalation:
    """Open (or update) the conversation's escalation for everything one reply raised.

    One event, one notification per recipient: a reply that is both a complaint and a low
    score opens one escalation with both kinds, it does not open one and then update it.
    """
    assert raised, "nothing to raise"
    kinds = list(dict.fromkeys(EscalationKind(r.kind) for r in raised))
    severity = [k.value for k in SEVERITY]
    order = [p.value for p in PRIORITY_ORDER]
    kind = EscalationKind(_most([k.value for k in kinds], severity))
    prio = _most([Priority(r.priority).value for r in raised], order)
    if any(k.value in URGENT_KINDS for k in kinds):
        prio = Priority.URGENT.value
    reasons = list(dict.fromkeys(r.reason for r in raised))
    esc = await Escalation.filter(
        conversation_id=conversation.id,
        status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED],
    ).using_db(conn).first()
    if esc is None:
        esc = await Escalation.create(
            using_db=conn, conversation_id=conversation.id, department_id=department_id,
            kind=kind, kinds=[k.value for k in kinds], priority=Priority(prio),
            reason="; ".join(reasons), opened_at=now, updated_at=now,
        )
        action = "escalation_opened"
        await notify.for_escalation(conn, esc, "opened", now)
    else:
        new = [k.value for k in kinds if k.value not in esc.kinds]
        if new:
            esc.kinds = [*esc.kinds, *new]
        if severity.index(kind.value) < severity.index(esc.kind.value):
            esc.kind = kind
        if order.index(prio) < order.index(esc.priority.value):
            esc.priority = Priority(prio)
        for r in reasons:
            if r not in esc.reason:
                esc.reason = f"{esc.reason}; {r}" if esc.reason else r
        esc.updated_at = now
        await esc.save(using_db=conn)
        action = "escalation_updated"
        if new:
            # Someone hears about a new kind (a red flag on an open complaint), not a repeat.
            await notify.for_escalation(conn, esc, "updated", now, new_kinds=new)
    await ledger.append(
        AuditEvent, kind=action, actor="bot", subject_type="escalation", subject_id=str(esc.id),
        data={"kind": kind.value, "kinds": [k.value for k in kinds], "priority": prio,
              "conversation": conversation.id},
        recorded_at=now,
    )
    return esc


async def claimed_for(conn: BaseDBAsyncClient | None, contact_id: int) -> Escalation | None:
    """The contact's escalation a member of staff holds, if any: the bot is silent then."""
    return await Escalation.filter(
        status=EscalationStatus.CLAIMED, conversation__contact_id=contact_id,
    ).using_db(conn).order_by("-claimed_at", "-id").first()
