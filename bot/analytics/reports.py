"""The monthly and quarterly report, as a hospital files it.

Sections: satisfaction per department and for the organisation, every scored question by its
title, with the change against the last period and the same period a year before (marked
when the 95 % interval of the difference excludes zero); 门诊/住院 (outpatient visits and
treatments / inpatient discharges); the department ranking; clinicians within their
department; follow-up (应随访 / 已随访 / 随访率 / 及时率 / 失访 by reason, per department and
per channel); complaint handling (received, first response within the deadline, closed within
the working days, outcomes, recovery satisfaction); praise by staff member; comment themes.

Every score figure is a :class:`~bot.analytics.tallies.Tally` computed once here and rendered
by the page, CSV, XLSX (one sheet per section) and JSON alike. Suppression runs over the
whole report: a department per question is one line under the organisation's figure, and its
clinicians, its 门诊/住院 split and its recovery answers are lines under it, so nothing hidden
can be subtracted back out of any table or total in the report.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from tortoise import connections

from bot import ledger
from bot.analytics import operations, suppression, tallies, themes
from bot.analytics.operations import Operations
from bot.analytics.report_sections import Report, _change
from bot.analytics.stats import rnd
from bot.analytics.tallies import RECOVERY, Scope, Tally, TallyError, clinician_key
from bot.analytics.views import question_titles
from bot.config import Settings
from bot.escalations import sla
from bot.runtime import Runtime
from models import Answer, Escalation, EscalationKind, Priority

KIND_LABEL = {"outpatient": "门诊 Outpatient", "inpatient": "住院 Inpatient",
              "lessons": "课程 Lessons", "other": "其他 Other"}
KIND_OF = {"visit": "outpatient", "treatment": "outpatient", "discharge": "inpatient",
           "lesson_term": "lessons"}
ORG = "全院"


@dataclass(frozen=True)
class ReportRequest:
    """Which month or quarter (or range) and which departments."""

    period: str  # as typed: 2026-10, 2026-Q4, 2026-10-01..2026-10-31
    departments: frozenset[int] | None = None


def default_period(today: date) -> str:
    """Last month, as the monthly report is read at the start of the next one."""
    first = today.replace(day=1)
    prev = first - timedelta(days=1)
    return prev.strftime("%Y-%m")


def default_quarter(today: date) -> str:
    """The last complete quarter."""
    q = (today.month - 1) // 3  # quarters before this one this year
    return f"{today.year - 1}-Q4" if q == 0 else f"{today.year}-Q{q}"


def local_today(now: datetime, tz: ZoneInfo) -> date:
    """Today in the organisation's zone."""
    return now.astimezone(tz).date()


def neighbours(period: str) -> tuple[str | None, str | None]:
    """The period before and the same period a year before (None for custom ranges)."""
    if len(period) == 7 and period[4] == "-" and period[5:].isdigit():
        y, m = int(period[:4]), int(period[5:])
        prev = f"{y - (m == 1)}-{(m - 2) % 12 + 1:02d}"
        return prev, f"{y - 1}-{m:02d}"
    if len(period) == 7 and period[5] in "Qq":
        y, q = int(period[:4]), int(period[6])
        prev = f"{y - 1}-Q4" if q == 1 else f"{y}-Q{q - 1}"
        return prev, f"{y - 1}-Q{q}"
    return None, None


# ---------------------------------------------------------------------------------------------
# building

async def _report_rows(first: date, last: date,
                       departments: list[int] | None) -> list[tuple[Any, ...]]:
    """(month, department, clinician id, clinician, episode kind, question, score, n) for the
    range: one query (the kind comes from the episode)."""
    conn = connections.get("default")
    pg = conn.capabilities.dialect == "postgres"
    sql = tallies._Sql(pg)
    conds = ["a.score IS NOT NULL", f"a.local_day >= {sql.p(first.isoformat())}",
             f"a.local_day <= {sql.p(last.isoformat())}"]
    if departments is not None:
        conds.append(sql.in_("a.department_id", departments))
    q = ("SELECT substr(a.local_day, 1, 7), a.department_id, COALESCE(a.clinician_code, ''), "
         "a.clinician, COALESCE(e.kind, ''), a.question_id, a.score, COUNT(*) FROM answer a "
         "LEFT JOIN episode e ON e.id = a.episode_id "
         f"WHERE {' AND '.join(conds)} GROUP BY 1, 2, 3, 4, 5, 6, 7")
    return [tuple(r) for r in await tallies._fetch(conn, pg, q, sql.values)]


async def _department_tallies(first: date, last: date, departments: list[int] | None,
                              settings: Settings, titles: dict[str, str]) -> dict[
                                  tuple[Any, str], Tally]:
    """Department × question for an earlier period, suppressed as that period's report is."""
    cfg = settings.tallies
    rows = await tallies.score_rows("department", "all", Scope(
        start=first, end=last, departments=None if departments is None else frozenset(
            departments)))
    out: dict[tuple[Any, str], Tally] = {}
    names = await tallies.department_names(departments)
    for g, _, q, score, n in rows:
        if q == RECOVERY or q not in titles or not 1 <= score <= 5:
            continue
        for key in ((g, q), (None, q)):
            t = out.get(key)
            if t is None:
                t = out[key] = Tally("department", ORG if key[0] is None else
                                     names.get(g, "—"), q, "", key_id=key[0],
                                     min_answers=cfg.min_answers, scale=cfg.hundred_point)
            t.distribution[score] += n
    lines = [(out[(None, q)], [t for (d, qq), t in out.items() if d is not None and qq == q])
             for q in {q for _, q in out}]
    suppression.suppress(out.values(), lines, cfg.min_answers)
    return out


class _Family:
    """The score figures of one report (or of one month of a quarter's), and its lines."""

    def __init__(self, departments: dict[Any, str], min_answers: int, scale: str) -> None:
        self.departments = departments
        self.min_answers, self.scale = min_answers, scale
        self.sat: dict[tuple[Any, str], Tally] = {}
        self.kinds: dict[tuple[Any, str, str], Tally] = {}
        self.clinicians: dict[tuple[Any, str, str], Tally] = {}
        self.recovery: dict[Any, Tally] = {}
        self.parts: dict[tuple[Any, ...], list[Tally]] = {}

    def _new(self, dim: str, key: str, q: str, key_id: Any = None, parent: str = "") -> Tally:
        return Tally(dim, key, q, "", key_id=key_id, min_answers=self.min_answers,
                     scale=self.scale, parent=parent)

    def cells(self) -> list[tuple[tuple[Any, ...], Tally]]:
        """Every figure with a key that names it in any period."""
        return [*((("sat", *k), t) for k, t in self.sat.items()),
                *((("kind", *k), t) for k, t in self.kinds.items()),
                *((("clin", *k), t) for k, t in self.clinicians.items()),
                *((("rec", k), t) for k, t in self.recovery.items())]

    def get(self, key: tuple[Any, ...]) -> Tally | None:
        """The figure of a key from :meth:`cells`."""
        kind, rest = key[0], key[1:]
        if kind == "rec":
            return self.recovery.get(rest[0])
        if kind == "sat":
            return self.sat.get(rest)
        if kind == "kind":
            return self.kinds.get(rest)
        return self.clinicians.get(rest)

    def fill(self, rows: list[tuple[Any, ...]], names: dict[int, str]) -> None:
        """Count the report query's rows into the figures."""
        spell: dict[tuple[Any, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for _m, dept, code, name, kind, q, score, n in rows:
            n, score = int(n), int(score)
            if not 1 <= score <= 5 or (dept is not None and dept not in self.departments):
                continue
            if q == RECOVERY:
                for d in (dept, None):
                    t = self.recovery.get(d)
                    if t is None:
                        t = self.recovery[d] = self._new(
                            "recovery", self.departments.get(d, "—"), RECOVERY, d)
                    t.distribution[score] += n
                continue
            dname = names.get(dept, "—") if dept is not None else "—"
            k = KIND_OF.get(str(kind), "other")
            for d in (dept, None):
                t = self.sat.get((d, q))
                if t is None:
                    t = self.sat[(d, q)] = self._new("department", ORG if d is None else dname,
                                                     q, d)
                t.distribution[score] += n
                t = self.kinds.get((d, k, q))
                if t is None:
                    t = self.kinds[(d, k, q)] = self._new("kind", KIND_LABEL[k], q, (d, k),
                                                          ORG if d is None else dname)
                t.distribution[score] += n
            ck = clinician_key(code, name)
            spell[(dept, ck)][name or ""] += n
            t = self.clinicians.get((dept, ck, q))
            if t is None:
                t = self.clinicians[(dept, ck, q)] = self._new("clinician", name or "—", q,
                                                               (dept, ck), dname)
            t.distribution[score] += n
        for (d, ck, _q), t in self.clinicians.items():
            t.key = max(spell[(d, ck)].items(), key=lambda kv: (kv[1], kv[0]))[0] or "—"

    def decide(self, titles: dict[str, str], forced: list[Tally] | None = None) -> None:
        """Suppression over the whole family: every total with what adds up to it."""
        lines: list[tuple[object, list[Tally]]] = []
        for q in titles:
            lines.append((self.sat.get((None, q)),
                          [t for (d, qq), t in self.sat.items() if d is not None and qq == q]))
            for k in KIND_LABEL:
                lines.append((self.kinds.get((None, k, q)), [
                    t for (d, kk, qq), t in self.kinds.items() if d is not None and kk == k
                    and qq == q]))
            for d in self.departments:
                lines.append((self.sat.get((d, q)), [
                    t for (dd, _k, qq), t in self.kinds.items() if dd == d and qq == q]))
                if d is not None:
                    lines.append((self.sat.get((d, q)), [
                        t for (dd, _c, qq), t in self.clinicians.items()
                        if dd == d and qq == q]))
        lines.append((self.recovery.get(None),
                      [t for d, t in self.recovery.items() if d is not None]))
        every = [t for _, t in self.cells()]
        suppression.suppress(every, lines, self.min_answers, forced=forced or [])


async def build_report(settings: Settings, now: datetime, req: ReportRequest,
                       rt: Runtime | None = None) -> Report:
    """The report for one month, quarter or range."""
    first, last = tallies.parse_range(req.period)
    cfg = settings.tallies
    tz = settings.tz
    depts = None if req.departments is None else sorted(req.departments)
    all_titles = question_titles(settings)
    rows = await _report_rows(first, last, depts)
    asked = {r[5] for r in rows if r[5] != RECOVERY}
    titles = {q: all_titles.get(q, q) for q in sorted(
        asked, key=lambda q: (q != "overall", list(all_titles).index(q) if q in all_titles
                              else 999, q))}
    names = await tallies.department_names(depts)
    present = sorted({r[1] for r in rows} | set(depts or []),
                     key=lambda d: (d is None, names.get(d, "—") if d is not None else ""))
    if depts is not None:
        present = [d for d in present if d in depts]
    prev_p, year_p = neighbours(req.period.strip())
    rep = Report(
        title=f"{settings.org.name} 回访与满意度{'季报' if 'Q' in req.period.upper() else '月报'}",
        period=req.period.strip(), first=first, last=last,
        generated_at=now.astimezone(tz).isoformat(timespec="minutes"),
        min_answers=cfg.min_answers, hundred_point=cfg.hundred_point,
        coverage_target=cfg.coverage_target, questions=titles,
        departments={**{d: names.get(d, "—") for d in present if d is not None}, None: ORG},
        prev_period=prev_p, year_period=year_p)

    # The range's figures; when it spans several months (a quarter), each month's too, as the
    # monthly reports published them: a quarter's figure is hidden when subtracting the
    # published months from it would give away a hidden month.
    months = sorted({r[0] for r in rows if r[0]})
    whole = _Family(rep.departments, cfg.min_answers, cfg.hundred_point)
    whole.fill(rows, names)
    forced: list[Tally] = []
    if len(months) > 1:
        for m in months:
            fam = _Family(rep.departments, cfg.min_answers, cfg.hundred_point)
            fam.fill([r for r in rows if r[0] == m], names)
            fam.decide(titles)
            for key, _t in whole.cells():
                part = fam.get(key)
                if part is not None:
                    whole.parts.setdefault(key, []).append(part)
        for key, t in whole.cells():
            parts = whole.parts.get(key, [])
            hid = [p for p in parts if not p.shown]
            if hid and len(hid) < len(parts) and not suppression.line_is_safe(
                    hid, cfg.min_answers):
                forced.append(t)
    whole.decide(titles, forced)
    rep.sat, rep.kinds, rep.clinicians, rep.recovery = (whole.sat, whole.kinds,
                                                         whole.clinicians, whole.recovery)

    # the same figures for the last period and a year before (their own reports' choices)
    for label, store in ((prev_p, rep.prev), (year_p, rep.year)):
        if label is None:
            continue
        a, b = tallies.parse_range(label)
        before = await _department_tallies(a, b, depts, settings, titles)
        for key, t in rep.sat.items():
            ch = _change(t, before.get(key))
            if ch is not None:
                store[key] = ch

    # follow-up, per department and channel, and the organisation
    scope = Scope(start=first, end=last, departments=req.departments)
    on_time = settings.checkin.on_time_hours
    for o in await operations.operations(cfg, tz, now, scope=scope, on_time_hours=on_time):
        rep.followup[o.key_id] = o
    total = Operations(ORG, min_n=cfg.min_answers)
    for o in rep.followup.values():
        _add_ops(total, o)
    if rep.followup:
        rep.followup[None] = total
    for o in await operations.operations(cfg, tz, now, by="channel", scope=scope,
                                         on_time_hours=on_time):
        rep.channels[o.key or "—"] = o

    rep.complaints = await complaint_handling(settings, rt, first, last, req.departments, now)
    rep.theme_counts = await themes.themes_for(settings, scope)
    end = datetime.combine(last + timedelta(days=1), time(0), tz)
    rep.chain_head = await ledger.head_hash(Answer, min(end, now))
    return rep


def _add_ops(total: Operations, o: Operations) -> None:
    for attr in ("sent", "answered", "on_time", "eligible", "covered", "sla_met", "sla_due"):
        setattr(total, attr, getattr(total, attr) + getattr(o, attr))
    for attr in ("lost", "escalations", "praise"):
        acc = getattr(total, attr)
        for k, v in getattr(o, attr).items():
            acc[k] = acc.get(k, 0) + v


@dataclass
class _Esc:
    """What bot.escalations.sla.deadlines reads of an escalation."""

    kinds: list[str]
    kind: Any
    priority: Any
    opened_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None


async def complaint_handling(settings: Settings, rt: Runtime | None, first: date, last: date,
                             departments: frozenset[int] | None,
                             now: datetime) -> dict[Any, dict[str, Any]]:
    """Complaints opened in the range per department (None: all): received, first response
    and closure within the [staff] deadlines, still open, outcomes."""
    from bot.app import build_channels
    from bot.clock import FrozenClock

    runtime = rt or Runtime(settings=settings, clock=FrozenClock(now),
                            channels=build_channels(settings))
    tz = settings.tz
    lo = datetime.combine(first, time(0), tz)
    hi = datetime.combine(last + timedelta(days=1), time(0), tz)
    q = Escalation.filter(opened_at__gte=lo, opened_at__lt=hi)
    if departments is not None:
        q = q.filter(department_id__in=sorted(departments))
    out: dict[Any, dict[str, Any]] = {}
    for x in await q.values("department_id", "kind", "kinds", "priority", "status", "opened_at",
                            "first_response_at", "resolved_at", "outcome"):
        kinds = list(x["kinds"] or [str(getattr(x["kind"], "value", x["kind"]))])
        if "complaint" not in kinds:
            continue
        esc = _Esc(kinds, EscalationKind(x["kind"]), Priority(x["priority"]), x["opened_at"],
                   x["first_response_at"], x["resolved_at"])
        dls = {d.name: d for d in sla.deadlines(runtime, cast(Escalation, esc))}
        for d in (x["department_id"], None):
            c = out.setdefault(d, {"received": 0, "responded_in_time": 0, "response_due": 0,
                                   "closed_in_time": 0, "close_due": 0, "open": 0,
                                   "outcomes": {}})
            c["received"] += 1
            for name, met_key, due_key in (("response", "responded_in_time", "response_due"),
                                           ("close", "closed_in_time", "close_due")):
                dl = dls.get(name)
                if dl is None:
                    continue
                state = dl.state(now)
                if state != "running":
                    c[due_key] += 1
                    c[met_key] += state == "met"
            if x["resolved_at"] is None:
                c["open"] += 1
            if x["outcome"]:
                c["outcomes"][x["outcome"]] = c["outcomes"].get(x["outcome"], 0) + 1
    for c in out.values():
        c["response_rate"] = rnd(c["responded_in_time"] / c["response_due"], 3) \
            if c["response_due"] else None
        c["closure_rate"] = rnd(c["closed_in_time"] / c["close_due"], 3) \
            if c["close_due"] else None
    return out


def summary_markdown(rep: Report, link: str) -> str:
    """The robot message: figures and a link, no names (departments only in counts)."""
    lead = rep.lead_question
    lines = [f"**{rep.title} {rep.period}**"]
    if lead and (None, lead) in rep.sat:
        t = rep.sat[(None, lead)]
        f = t.figures()
        score = f"{f['score100']} 分" if f["score100"] is not None else "—"
        lines.append(f"> {rep.questions[lead]}：{score}（{t.answers} 份回答）")
        ch = rep.prev.get((None, lead))
        if ch is not None and ch.diff is not None:
            mark = "，变化显著" if ch.significant else ""
            lines.append(f"> 较上期：{ch.diff:+.2f} 分（均分）{mark}")
    o = rep.followup.get(None)
    if o is not None and o.eligible:
        lines.append(f"> 随访率：{(o.coverage.value or 0) * 100:.1f}%（{o.covered}/{o.eligible}）"
                     f"，失访 {sum(o.lost.values())}")
    c = rep.complaints.get(None)
    if c is not None:
        rate = f"{c['response_rate'] * 100:.0f}%" if c["response_rate"] is not None else "—"
        lines.append(f"> 投诉 {c['received']} 件，及时回应率 {rate}，未结案 {c['open']}")
    ranked = rep.ranking()
    if ranked:
        lines.append(f"> 排名第一：{rep.departments[ranked[0][1]]}")
    lines.append(f"[查看完整报告]({link})")
    return "\n".join(lines)


def check_period(text: str) -> str:
    """A report period as typed, or TallyError saying what is accepted."""
    tallies.parse_range(text)
    return text.strip()


__all__ = ["Report", "ReportRequest", "TallyError", "build_report", "check_period",
           "default_period", "default_quarter", "local_today", "neighbours"]
