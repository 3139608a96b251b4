"""Follow-up operations, escalations, complaint handling and praise, per group and period.

Definitions (the manager pages state them too):

- 应随访 (due): active episodes of the range with at least one check-in.
- 已随访 (followed up): of those, episodes with an answered check-in.
- 随访率 (follow-up rate) = 已随访 / 应随访, per episode.
- 消息应答率 (message reply rate) = answered check-ins / sent check-ins, per message.
- 及时率 (on-time rate) = check-ins first sent by their on-time window end / sent check-ins.
- 失访 (lost to follow-up): due episodes with no answer and nothing planned or open, by reason.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.expressions import Q

from bot.analytics import followup_counts, followup_rollup
from bot.analytics.exports import Sheet
from bot.analytics.stats import MIN_ANSWERS_FOR_MEAN, Rate
from bot.analytics.tallies import (
    DIMENSIONS,
    Scope,
    TallyError,
    _label,
    _orm_scope,
    bucket,
    clinician_key,
    department_names,
)
from bot.config import TalliesConfig
from models import (
    Answer,
    CheckinStatus,
    Episode,
    EpisodeStatus,
    Escalation,
    EscalationStatus,
    Staff,
)

_COLUMN = {d: d for d in DIMENSIONS}


# ---------------------------------------------------------------------------------------------
# operations: response, coverage, on-time, lost to follow-up, escalations, SLA, praise

SENT = (CheckinStatus.OPENED, CheckinStatus.ANSWERED, CheckinStatus.EXPIRED)
# CheckIn.lost_reason as the reach work records it, plus what is inferred for older rows
LOST_REASONS = ("no_answer", "refused", "opted_out", "wrong_number", "deceased", "unreachable",
                "fatigue", "skipped", "cancelled")


@dataclass
class Operations:
    """Operational figures of one group and period."""

    key: str
    period: str = ""
    key_id: Any = None
    min_n: int = MIN_ANSWERS_FOR_MEAN
    department: str = ""  # a clinician's department
    sent: int = 0
    answered: int = 0
    on_time: int = 0
    eligible: int = 0
    covered: int = 0
    lost: dict[str, int] = field(default_factory=dict)
    escalations: dict[str, int] = field(default_factory=dict)
    sla_met: int = 0
    sla_due: int = 0
    praise: dict[str, int] = field(default_factory=dict)

    # Follow-up rates are shown at any size, with their interval: the counts beside them are
    # shown anyway, and nobody's answer is in them.

    @property
    def response(self) -> Rate:
        """Answered / sent check-ins."""
        return Rate(self.answered, self.sent, 1)

    @property
    def coverage(self) -> Rate:
        """Eligible episodes with at least one completed follow-up."""
        return Rate(self.covered, self.eligible, 1)

    @property
    def on_time_rate(self) -> Rate:
        """Check-ins sent inside the on-time window."""
        return Rate(self.on_time, self.sent, 1)

    @property
    def sla(self) -> Rate:
        """Escalations claimed within their priority's target (decided ones only)."""
        return Rate(self.sla_met, self.sla_due, 1)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "key": self.key, "period": self.period, "sent": self.sent,
            "answered": self.answered, "response_rate": self.response.as_dict(),
            "eligible": self.eligible, "covered": self.covered,
            "coverage": self.coverage.as_dict(), "on_time": self.on_time_rate.as_dict(),
            "lost": dict(self.lost), "escalations": dict(self.escalations),
            "sla": self.sla.as_dict(), "praise": dict(self.praise),
        }


def _group_value(by: str, dept: int | None, clinician: str | None, treatment: str | None,
                 channel: str | None, code: str | None = None) -> Any:
    if by == "department":
        return dept
    if by == "clinician":
        # within the department, by the system's id else the name (as the tallies do)
        return (dept, clinician_key(code, clinician), clinician or "")
    if by == "treatment":
        return treatment or ""
    if by == "channel":
        return channel or ""
    return ""


def _add_rows(by: str, grp_day: Callable[[Any, str], Operations],
              rows: Sequence[followup_rollup.Row]) -> None:
    """Add the rollups' rows (:func:`followup_rollup.counts`) to their groups' days."""
    for (dept, clin, code, treat, chan, day, sent, answered, on_time, eligible, covered,
         lost) in rows:
        o = grp_day(_group_value(by, dept, clin, treat, chan, code), day)
        o.sent += sent
        o.answered += answered
        o.on_time += on_time
        o.eligible += eligible
        o.covered += covered
        if lost:
            for reason, n in lost.items():
                o.lost[reason] = o.lost.get(reason, 0) + n


def lost_reason(status: str, contact: dict[str, Any], recorded: str | None = None) -> str:
    """Why an episode was lost to follow-up: the check-in's recorded ``lost_reason``, else
    what the contact row records, else no answer (expired) or skipped."""
    if recorded:
        return recorded
    if contact.get("opted_out_at") is not None:
        return "opted_out"
    stopped = contact.get("stopped_reason")
    if stopped:
        return str(stopped) if stopped in LOST_REASONS else "skipped"
    if contact.get("unreachable"):
        return "unreachable"
    if status == CheckinStatus.EXPIRED:
        return "no_answer"
    if status == CheckinStatus.CANCELLED:
        return "cancelled"
    return "skipped"


def _inside(day: date, scope: Scope) -> bool:
    return ((scope.start is None or day >= scope.start)
            and (scope.end is None or day <= scope.end))


async def operations(cfg: TalliesConfig, tz: ZoneInfo, now: datetime, *,
                     by: str = "department", period: str = "all",
                     scope: Scope | None = None, on_time_hours: int = 24) -> list[Operations]:
    """Operational figures per group and period (see the module docstring for definitions).

    - response: check-ins sent (opened, answered or expired) whose due day is in range;
      answered ones over them.
    - on time: sent check-ins first sent (``opened_at``) by ``window_end_at`` (the schedule's
      due time + [checkin] on_time_hours, as the planner records it; rows without one use
      due_at + ``on_time_hours``).
    - coverage: active episodes that occurred in range and have at least one check-in;
      covered when one is answered.
    - lost: eligible episodes with no answer and nothing planned or open any more, by the
      last check-in's ``lost_reason`` (else the contact's opt-out / stop / unreachable record,
      else no answer).
    - escalations by kind and SLA: escalations opened in range; met when claimed within the
      priority's target; unclaimed ones count once their deadline has passed.
    - praise: comments in range that name a clinician or staff member and hold a praise word.
    """
    if by not in _COLUMN:
        raise TallyError(f"unknown dimension {by!r}; use one of {', '.join(DIMENSIONS)}")
    scope = scope or Scope()
    lo, hi = scope.utc_bounds(tz)
    # The range is widened by a day each side in SQL and cut exactly on local days here.
    lo_q = lo - timedelta(days=1) if lo else None
    hi_q = hi + timedelta(days=1) if hi else None
    ids = scope.dept_ids()
    names = (await department_names(scope.departments) if by in ("department", "clinician")
             else {})
    state = _Groups(by, period, names, cfg.min_answers)
    grp, grp_day = state.grp, state.grp_day

    # Check-ins and episodes are counted per group and local day, from the follow-up rollups
    # (bot.analytics.followup_rollup) where one answers the grouping and filters, else in SQL
    # from the raw rows (bot.analytics.followup_counts); the days are folded into periods here.
    grain = followup_rollup.grain_for(
        by, departments=ids is not None, clinician=scope.clinician is not None,
        treatment=scope.treatment is not None, channel=scope.channel is not None)
    if grain is not None:
        await followup_rollup.fold(tz)
        _add_rows(by, grp_day, await followup_rollup.counts(
            grain, by, period, start=scope.start, end=scope.end, dept_ids=ids,
            clinician=scope.clinician, treatment=scope.treatment, channel=scope.channel))
    else:
        await _raw_counts(by, tz, scope, lo_q, hi_q, ids, on_time_hours, grp)

    await _escalations_and_praise(cfg, tz, now, by, scope, lo_q, hi_q, ids, grp)
    return sorted(state.groups.values(), key=lambda o: _order(by, o))


def _order(by: str, o: Operations) -> tuple[str, str, str, str]:
    """Rows in label and period order; groups that share a label (two departments' 李医生)
    by their identity, as :func:`followup_rollup.page_keys` orders them."""
    g1, g2, _, _ = _page_key(by, o.key_id, o.key, o.period)
    return (o.key, o.period, g1 or "", g2 or "")


class _Groups:
    """The rows of :func:`operations` as they are met: one per group and period (a clinician
    within their department by id, else name; labelled by the first row met). With ``only``,
    rows of other groups go to a row nobody reads."""

    def __init__(self, by: str, period: str, names: dict[int, str], min_n: int,
                 only: set[tuple[Any, str]] | None = None) -> None:
        self.by, self.period, self.names, self.min_n, self.only = by, period, names, min_n, only
        self.groups: dict[tuple[Any, str], Operations] = {}
        self.periods: dict[str, str] = {}  # local day → its period (rows repeat the days)
        self.nowhere = Operations("")

    def grp(self, g: Any, day: date) -> Operations:
        return self.grp_day(g, day.isoformat())

    def grp_day(self, g: Any, day: str) -> Operations:
        per = self.periods.get(day)
        if per is None:
            per = self.periods[day] = bucket(day, self.period)
        clin = self.by == "clinician"
        k = ((g[0], g[1]) if clin else g, per)
        o = self.groups.get(k)
        if o is not None:
            if clin and (g[2] or "—") < o.key:  # one id, several names: the least, always
                o.key = g[2] or "—"
            return o
        if self.only is not None and k not in self.only:
            return self.nowhere
        label = (g[2] or "—") if clin else _label(self.by, g, self.names)
        o = self.groups[k] = Operations(label, per, g[:2] if clin else g, self.min_n)
        if clin:
            o.department = self.names.get(g[0], "—") if g[0] is not None else "—"
        return o


async def operations_page(cfg: TalliesConfig, tz: ZoneInfo, now: datetime, *,
                          by: str = "department", period: str = "all",
                          scope: Scope | None = None, on_time_hours: int = 24, first: int = 0,
                          size: int = 200) -> tuple[list[Operations], int]:
    """Rows ``first`` .. ``first + size`` of :func:`operations` (the same rows, figures and
    order) and how many rows it has in all. Where a follow-up rollup answers, the database
    orders the groups and periods, cuts the page and counts them (ORDER BY, LIMIT, OFFSET),
    and only the page's groups are counted; else :func:`operations` is cut."""
    if by not in _COLUMN:
        raise TallyError(f"unknown dimension {by!r}; use one of {', '.join(DIMENSIONS)}")
    scope = scope or Scope()
    ids = scope.dept_ids()
    grain = followup_rollup.grain_for(
        by, departments=ids is not None, clinician=scope.clinician is not None,
        treatment=scope.treatment is not None, channel=scope.channel is not None)
    if grain is None or by == "question":
        ops = await operations(cfg, tz, now, by=by, period=period, scope=scope,
                               on_time_hours=on_time_hours)
        return ops[first:first + size], len(ops)
    lo, hi = scope.utc_bounds(tz)
    lo_q = lo - timedelta(days=1) if lo else None
    hi_q = hi + timedelta(days=1) if hi else None
    names = (await department_names(scope.departments) if by in ("department", "clinician")
             else {})
    # escalations and praise (few) first, every group of them: the page is cut among the
    # rollups' groups and theirs
    extra = _Groups(by, period, names, cfg.min_answers)
    await _escalations_and_praise(cfg, tz, now, by, scope, lo_q, hi_q, ids, extra.grp)
    await followup_rollup.fold(tz)
    filters: dict[str, Any] = {
        "start": scope.start, "end": scope.end, "dept_ids": ids, "clinician": scope.clinician,
        "treatment": scope.treatment, "channel": scope.channel}
    keys, total = await followup_rollup.page_keys(
        grain, by, period, **filters, first=first, size=size,
        extra=[_page_key(by, g, o.key, per) for (g, per), o in extra.groups.items()])
    wanted = [(_group_of(by, g1, g2), per, label) for g1, g2, label, per in keys]
    page = _Groups(by, period, names, cfg.min_answers, only={(g, per) for g, per, _ in wanted})
    for g, per, label in wanted:  # in the page's order, labelled as the database ordered them
        o = page.groups[(g, per)] = Operations(label, per, g, cfg.min_answers)
        if by == "clinician":
            o.department = names.get(g[0], "—") if g[0] is not None else "—"
    if by in ("department", "clinician"):
        only = ("department_id", sorted({g[0] if by == "clinician" else g for g, _, _ in wanted}
                                        - {None}))
    else:
        only = ("treatment_type" if by == "treatment" else "channel",
                sorted({g for g, _, _ in wanted}))
    _add_rows(by, page.grp_day,
              await followup_rollup.counts(grain, by, period, **filters, only=only))
    for k, o in page.groups.items():
        x = extra.groups.get(k)
        if x is not None:
            o.escalations, o.sla_met, o.sla_due, o.praise = (
                x.escalations, x.sla_met, x.sla_due, x.praise)
    return list(page.groups.values()), total


def _page_key(by: str, g: Any, label: str, per: str) -> followup_rollup.PageKey:
    """A group of :func:`_group_value` as :func:`followup_rollup.page_keys` names it."""
    if by == "clinician":
        return (None if g[0] is None else str(g[0]), g[1], label, per)
    if by == "department":
        return (None if g is None else str(g), "", label, per)
    return (g, "", label, per)


def _group_of(by: str, g1: str | None, g2: str | None) -> Any:
    """The inverse of :func:`_page_key`: the group's key as :class:`_Groups` holds it."""
    if by == "clinician":
        return (None if g1 is None else int(g1), g2)
    if by == "department":
        return None if g1 is None else int(g1)
    return g1 or ""


async def _escalations_and_praise(cfg: TalliesConfig, tz: ZoneInfo, now: datetime, by: str,
                                  scope: Scope, lo_q: datetime | None, hi_q: datetime | None,
                                  ids: list[int] | None,
                                  grp: Callable[[Any, date], Operations]) -> None:
    """Escalations by kind and SLA, and praise of named staff, into their groups."""
    def ep_ok(dept: int | None, clin: str, treat: str) -> bool:
        return ((ids is None or dept in ids)
                and (scope.clinician is None or clin == scope.clinician)
                and (scope.treatment is None or treat == scope.treatment))

    # escalations → counts by kind and SLA
    targets = {"urgent": cfg.sla_urgent_minutes, "high": cfg.sla_high_minutes,
               "normal": cfg.sla_normal_minutes}
    xq = Escalation.all()
    if lo_q:
        xq = xq.filter(opened_at__gte=lo_q)
    if hi_q:
        xq = xq.filter(opened_at__lt=hi_q)
    if ids is not None:
        xq = xq.filter(department_id__in=ids)
    for x in await xq.values("kind", "priority", "status", "opened_at", "claimed_at",
                             "resolved_at", "department_id",
                             "conversation__channel",
                             "conversation__checkin__episode__clinician_name",
                             "conversation__checkin__episode__treatment_type",
                             "conversation__checkin__episode__clinician_code"):
        day = x["opened_at"].astimezone(tz).date()
        clin = x["conversation__checkin__episode__clinician_name"] or ""
        treat = x["conversation__checkin__episode__treatment_type"] or ""
        chan = x["conversation__channel"]
        if not _inside(day, scope) or not ep_ok(x["department_id"], clin, treat):
            continue
        if scope.channel is not None and chan != scope.channel:
            continue
        o = grp(_group_value(by, x["department_id"], clin, treat, chan,
                             x["conversation__checkin__episode__clinician_code"]), day)
        kind = str(getattr(x["kind"], "value", x["kind"]))
        o.escalations[kind] = o.escalations.get(kind, 0) + 1
        deadline = x["opened_at"] + timedelta(
            minutes=targets.get(str(getattr(x["priority"], "value", x["priority"])),
                                cfg.sla_normal_minutes))
        # first response = claimed, or resolved without a claim
        first = x["claimed_at"] or x["resolved_at"]
        if first is not None:
            o.sla_due += 1
            o.sla_met += first <= deadline
        elif now > deadline:
            o.sla_due += 1

    # praise of named staff
    for (g, pday), who in await _praise(cfg, scope, by):
        o = grp(g, pday)
        o.praise[who] = o.praise.get(who, 0) + 1


async def _raw_counts(by: str, tz: ZoneInfo, scope: Scope, lo_q: datetime | None,
                      hi_q: datetime | None, ids: list[int] | None, on_time_hours: int,
                      grp: Callable[[Any, date], Operations]) -> None:
    """Check-ins and episodes counted in SQL from the raw rows (scopes no rollup answers:
    a treatment or channel with a clinician, a clinician or channel with a treatment...)."""
    pg = connections.get("default").capabilities.dialect == "postgres"
    common: dict[str, Any] = {
        "by": by, "tz": tz, "pg": pg, "lo": lo_q, "hi": hi_q, "dept_ids": ids,
        "clinician": scope.clinician, "treatment": scope.treatment, "channel": scope.channel}

    # check-ins → response and on-time
    for dept, clin, code, treat, chan, d, n_sent, n_answered, n_on_time in (
            await followup_counts.checkin_days(
                **common, sent=[str(x) for x in SENT], answered=str(CheckinStatus.ANSWERED),
                on_time_hours=on_time_hours)):
        day = followup_counts.as_day(d)
        if not _inside(day, scope):
            continue
        o = grp(_group_value(by, dept, clin, treat, chan, code), day)
        o.sent += int(n_sent)
        o.answered += int(n_answered)
        o.on_time += int(n_on_time)

    # episodes → coverage and lost to follow-up (channel: the first check-in's that has one)
    statuses = {s.name.lower(): str(s) for s in CheckinStatus}
    for dept, clin, code, treat, chan, d, covered, reason, n in (
            await followup_counts.episode_days(
                **common, active=str(EpisodeStatus.ACTIVE), statuses=statuses)):
        day = followup_counts.as_day(d)
        if not _inside(day, scope):
            continue
        o = grp(_group_value(by, dept, clin, treat, chan, code), day)
        o.eligible += int(n)
        o.covered += int(n) if int(covered) else 0
        if reason is not None:
            o.lost[str(reason)] = o.lost.get(str(reason), 0) + int(n)


OPS_HEADER = ["分组 group", "科室 department", "时段 period", "应随访 due", "已随访 followed up",
              "随访率 follow-up rate", "已发送消息 messages sent", "已答复 answered",
              "消息应答率 reply rate", "及时发送 on time", "及时率 on-time rate", "失访 lost",
              "失访原因 lost by reason", "投诉等 escalations", "首次回应及时 SLA met",
              "应计 SLA due"]


def sheet(ops: Sequence[Operations]) -> Sheet:
    """The follow-up figures, every row, as one export sheet."""
    def kv(d: dict[str, int]) -> str:
        return "; ".join(f"{k}={v}" for k, v in sorted(d.items()))

    def rate(r: Rate) -> Any:
        return None if r.value is None else round(r.value, 3)

    return Sheet("随访 Follow-up", OPS_HEADER, [
        [o.key, o.department, o.period, o.eligible, o.covered, rate(o.coverage), o.sent,
         o.answered, rate(o.response), o.on_time, rate(o.on_time_rate), sum(o.lost.values()),
         kv(o.lost), kv(o.escalations), o.sla_met, o.sla_due] for o in ops])


def _name_forms(name: str) -> set[str]:
    """A staff name and its bare form ("李明医生" → also "李明"); one-character stems are too
    ambiguous to count."""
    forms = {name} if len(name) >= 2 else set()
    bare = re.sub(r"(医生|大夫|老师|护士|主任|院长)$", "", name)
    if len(bare) >= 2:
        forms.add(bare)
    return forms


async def _praise(cfg: TalliesConfig, scope: Scope,
                  by: str) -> list[tuple[tuple[Any, date], str]]:
    words = [w for w in cfg.praise_words if w]
    if not words:
        return []
    # only comments holding a praise word leave the database (LIKE; the words are data)
    q = _orm_scope(Answer.filter(score__isnull=True).exclude(text=""), scope).filter(
        functools.reduce(operator.or_, (Q(text__contains=w) for w in words)))
    rows = await q.values("text", "department_id", "clinician", "treatment_type", "channel",
                          "local_day", "clinician_code")
    if not rows:
        return []
    known: set[str] = {str(n) for n in await Episode.all().distinct().values_list(
        "clinician_name", flat=True) if n}
    known |= {str(n) for n in await Staff.all().values_list("display_name", flat=True) if n}
    forms = sorted(((f, n) for n in known for f in _name_forms(n)), key=lambda x: -len(x[0]))
    out: list[tuple[tuple[Any, date], str]] = []
    for r in rows:
        text = r["text"]
        if not r["local_day"] or not any(w in text for w in words):
            continue
        named = {n for f, n in forms if f in text}
        g = _group_value(by, r["department_id"], r["clinician"], r["treatment_type"],
                         r["channel"], r["clinician_code"])
        day = date.fromisoformat(r["local_day"])
        out.extend(((g, day), n) for n in sorted(named))
    return out


async def open_escalations_by_kind(departments: Sequence[int] | None = None) -> dict[str, int]:
    """How many escalations wait in the queues, per kind."""
    q = Escalation.filter(status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED])
    if departments is not None:
        q = q.filter(department_id__in=list(departments))
    counts: dict[str, int] = {}
    for k in await q.values_list("kind", flat=True):
        key = str(getattr(k, "value", k))
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
