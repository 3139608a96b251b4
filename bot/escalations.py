"""Opening escalations: one open escalation per conversation, raised to the most severe kind."""

from __future__ import annotations

from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from bot import ledger, notify
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
    EscalationKind.COMPLAINT,
    EscalationKind.LOW_SCORE, EscalationKind.QUESTION, EscalationKind.WRONG_NUMBER,
    EscalationKind.OTHER,
]
PRIORITY_ORDER = [Priority.URGENT, Priority.HIGH, Priority.NORMAL]


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
    k, p = EscalationKind(kind), Priority(priority)
    esc = await Escalation.filter(
        conversation_id=conversation.id,
        status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED],
    ).using_db(conn).first()
    if esc is None:
        esc = await Escalation.create(
            using_db=conn, conversation_id=conversation.id, department_id=department_id,
            kind=k, kinds=[k.value], priority=p, reason=reason, opened_at=now,
        )
        action = "escalation_opened"
        await notify.for_escalation(conn, esc, "opened", now)
    else:
        new_kind = k.value not in esc.kinds
        if new_kind:
            esc.kinds = [*esc.kinds, k.value]
        if SEVERITY.index(k) < SEVERITY.index(esc.kind):
            esc.kind = k
        if PRIORITY_ORDER.index(p) < PRIORITY_ORDER.index(esc.priority):
            esc.priority = p
        esc.reason = f"{esc.reason}; {reason}" if reason not in esc.reason else esc.reason
        await esc.save(using_db=conn)
        action = "escalation_updated"
        if new_kind:
            # Someone hears about a new kind (a red flag on an open complaint), not a repeat.
            await notify.for_escalation(conn, esc, "updated", now)
    await ledger.append(
        AuditEvent, kind=action, actor="bot", subject_type="escalation", subject_id=str(esc.id),
        data={"kind": k.value, "priority": p.value, "conversation": conversation.id},
        recorded_at=now,
    )
    return esc
