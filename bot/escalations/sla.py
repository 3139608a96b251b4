"""Service-level deadlines of escalations, and the ladder a breach climbs.

From the follow-up policies (docs/domain.md): complaints get a first response within 24 h,
are closed within 5 working days and the complainant has an answer within 7 days; red flags
get a response within minutes (default 30), around the clock. Anything else gets a first
response within ``other_response_hours``. A "response" is the first staff message to the
person (claiming is not a response); resolving also meets it.

Deadlines are derived from the escalation (kinds, opened_at, first_response_at, resolved_at),
so attaching a red flag to an open complaint tightens them at once. The ladder: a missed
deadline notifies the department head (level 1); missed by a second full window it notifies
the managers (level 2). Each level is notified once: the level is raised with a conditional
UPDATE, so several workers never notify twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from bot import ledger
from bot.escalations import notify
from bot.runtime import Runtime
from models import AuditEvent, Escalation, EscalationStatus
from surveys.schedule import add_working_days


@dataclass(frozen=True, slots=True)
class Deadline:
    """One clock on an escalation."""

    name: str  # response | close | answer
    start: datetime
    due: datetime
    met_at: datetime | None

    @property
    def window(self) -> timedelta:
        """How long the rule allows."""
        return self.due - self.start

    def state(self, now: datetime) -> str:
        """met | late (met after due) | running | breached."""
        if self.met_at is not None:
            return "met" if self.met_at <= self.due else "late"
        return "breached" if now > self.due else "running"

    def level(self, now: datetime) -> int:
        """0 while in time, 1 once overdue, 2 once overdue by another full window."""
        if self.met_at is not None or now <= self.due:
            return 0
        return 2 if now >= self.due + self.window else 1


def deadlines(rt: Runtime, esc: Escalation) -> list[Deadline]:
    """The deadlines that apply to ``esc`` (earliest response rule wins)."""
    cfg = rt.settings.staff
    kinds = set(esc.kinds or [esc.kind.value])
    if "dispute" in kinds:
        kinds.add("complaint")  # a dispute is a complaint too, with its deadlines
    start = esc.opened_at
    responded = esc.first_response_at or esc.resolved_at
    responses = [start + timedelta(hours=cfg.other_response_hours)]
    if kinds & {"red_flag", "dispute"} or esc.priority.value == "urgent":
        responses.append(start + timedelta(minutes=cfg.red_flag_response_minutes))
    if "complaint" in kinds:
        responses.append(start + timedelta(hours=cfg.complaint_response_hours))
    out = [Deadline("response", start, min(responses), responded)]
    if "complaint" in kinds:
        local = rt.local(start)
        close_day = add_working_days(local.date(), cfg.complaint_close_working_days,
                                     rt.is_workday)
        close_due = datetime.combine(close_day, local.timetz())
        out.append(Deadline("close", start, close_due, esc.resolved_at))
        answered = esc.resolved_at if esc.resolved_at and esc.first_response_at else None
        out.append(Deadline("answer", start, start + timedelta(days=cfg.complaint_answer_days),
                            answered))
    return out


def level(rt: Runtime, esc: Escalation, now: datetime) -> int:
    """How far up the ladder ``esc`` belongs now."""
    return max((d.level(now) for d in deadlines(rt, esc)), default=0)


async def check(rt: Runtime) -> int:
    """Raise the ladder level of escalations that missed a deadline; returns how many rose."""
    now = rt.now()
    rows = await Escalation.filter(
        status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED], sla_level__lt=2
    ).order_by("opened_at")
    rose = 0
    for esc in rows:
        new = level(rt, esc, now)
        if new <= esc.sla_level:
            continue
        async with in_transaction() as conn:
            n = await Escalation.filter(id=esc.id, sla_level=esc.sla_level).using_db(
                conn
            ).update(sla_level=new)
            if not n:
                continue  # another worker got there first
            missed = [d.name for d in deadlines(rt, esc) if d.level(now) > 0]
            await ledger.append(AuditEvent, kind="sla_breached", actor="bot",
                                subject_type="escalation", subject_id=str(esc.id),
                                data={"level": new, "missed": missed}, recorded_at=now)
            await notify.for_escalation(conn, esc, f"breach{new}", now, level=new)
        rose += 1
    if rose:
        rt.staff_waker.wake()
    return rose
