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
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from tortoise import connections

from bot import ledger
from bot.analytics import exports, operations, suppression, tallies, themes
from bot.analytics.exports import Sheet
from bot.analytics.operations import Operations
from bot.analytics.stats import rnd, welch_diff
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


@dataclass
class Change:
    """A figure against an earlier period: the earlier tally and the difference of means."""

    before: Tally
    diff: float | None = None
    lo: float | None = None
    hi: float | None = None

    @property
    def significant(self) -> bool:
        """The 95 % interval of the difference excludes zero."""
        return self.lo is not None and self.hi is not None and (self.lo > 0 or self.hi < 0)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (score100 points on the report's scale)."""
        return {"before": self.before.figures(), "diff_mean": rnd(self.diff, 2),
                "diff_lo": rnd(self.lo, 2), "diff_hi": rnd(self.hi, 2),
                "significant": self.significant}


def _change(now: Tally, before: Tally | None) -> Change | None:
    if before is None:
        return None
    out = Change(before)
    if now.shown and before.shown:
        d = welch_diff((now.answers, now.mean, now.sd), (before.answers, before.mean, before.sd))
        if d is not None:
            out.diff, out.lo, out.hi = d
        elif now.mean is not None and before.mean is not None:
            out.diff = now.mean - before.mean
    return out


@dataclass
class Report:
    """Everything one report publishes."""

    title: str
    period: str
    first: date
    last: date
    generated_at: str
    min_answers: int
    hundred_point: str
    coverage_target: float
    questions: dict[str, str]  # id → title, in order
    departments: dict[int | None, str]  # id → name, in order
    # (department id or None for the organisation, question) → tally
    sat: dict[tuple[Any, str], Tally] = field(default_factory=dict)
    prev: dict[tuple[Any, str], Change] = field(default_factory=dict)
    year: dict[tuple[Any, str], Change] = field(default_factory=dict)
    prev_period: str | None = None
    year_period: str | None = None
    kinds: dict[tuple[Any, str, str], Tally] = field(default_factory=dict)  # (dept, kind, q)
    clinicians: dict[tuple[Any, str, str], Tally] = field(default_factory=dict)  # (d, key, q)
    followup: dict[Any, Operations] = field(default_factory=dict)  # dept (None: org) → ops
    channels: dict[str, Operations] = field(default_factory=dict)
    complaints: dict[Any, dict[str, Any]] = field(default_factory=dict)
    recovery: dict[Any, Tally] = field(default_factory=dict)
    theme_counts: themes.ThemeCounts | None = None
    chain_head: str = ""

    @property
    def lead_question(self) -> str | None:
        """The question departments are ranked by: overall satisfaction when asked."""
        if "overall" in self.questions:
            return "overall"
        return next(iter(self.questions), None)

    def ranking(self) -> list[tuple[int, Any, Tally]]:
        """Departments by the 100-point score of the lead question (hidden ones unranked)."""
        q = self.lead_question or ""
        rows = [(d, self.sat[(d, q)]) for d in self.departments
                if d is not None and (d, q) in self.sat and self.sat[(d, q)].shown]
        rows.sort(key=lambda dt: (-(dt[1].score100 or 0), self.departments[dt[0]]))
        return [(i + 1, d, t) for i, (d, t) in enumerate(rows)]

    def kinds_present(self) -> list[str]:
        """The 门诊/住院… kinds with answers."""
        return [k for k in KIND_LABEL if any(kk == k for (_, kk, _) in self.kinds)]

    def clinician_rows(self, dept: Any) -> list[tuple[str, dict[str, Tally]]]:
        """A department's clinicians (by name, then id) with their tally per question."""
        by_key: dict[str, dict[str, Tally]] = defaultdict(dict)
        for (d, key, q), t in self.clinicians.items():
            if d == dept:
                by_key[key][q] = t
        return sorted(by_key.items(), key=lambda kv: (next(iter(kv[1].values())).key, kv[0]))

    def every_tally(self) -> list[Tally]:
        """Every score figure the report publishes."""
        return [*self.sat.values(), *(c.before for c in self.prev.values()),
                *(c.before for c in self.year.values()), *self.kinds.values(),
                *self.clinicians.values(), *self.recovery.values()]

    # -- JSON ----------------------------------------------------------------------------------

    def as_dict(self) -> dict[str, Any]:
        """The whole report as plain data."""
        def dept_name(d: Any) -> str:
            return ORG if d is None else self.departments.get(d, "—")

        sat = []
        for (d, q), t in self.sat.items():
            row = {"department": dept_name(d), "question": q, "title": self.questions[q],
                   **t.figures()}
            if (d, q) in self.prev:
                row["vs_previous"] = self.prev[(d, q)].as_dict()
            if (d, q) in self.year:
                row["vs_year_before"] = self.year[(d, q)].as_dict()
            sat.append(row)
        return {
            "title": self.title, "period": self.period, "first_day": self.first.isoformat(),
            "last_day": self.last.isoformat(), "generated_at": self.generated_at,
            "min_answers": self.min_answers, "hundred_point": self.hundred_point,
            "previous_period": self.prev_period, "year_before_period": self.year_period,
            "questions": self.questions,
            "satisfaction": sat,
            "outpatient_inpatient": [
                {"department": dept_name(d), "kind": k, "question": q, **t.figures()}
                for (d, k, q), t in self.kinds.items()],
            "ranking": [{"rank": i, "department": dept_name(d), "question": t.question_id,
                         "score100": rnd(t.score100, 1), "mean": rnd(t.mean, 2)}
                        for i, d, t in self.ranking()],
            "clinicians": [{"department": dept_name(d), "clinician": t.key, "id": key,
                            "question": q, **t.figures()}
                           for (d, key, q), t in self.clinicians.items()],
            "followup": [{"department": dept_name(d), **_ops_dict(o)}
                         for d, o in self.followup.items()],
            "followup_by_channel": [{"channel": c, **_ops_dict(o)}
                                    for c, o in self.channels.items()],
            "complaints": [{"department": dept_name(d), **c,
                            "recovery": self.recovery[d].figures() if d in self.recovery
                            else None}
                           for d, c in self.complaints.items()],
            "themes": self.theme_counts.as_dict() if self.theme_counts else None,
            "chain_head": self.chain_head,
        }

    # -- tables (CSV blocks, XLSX sheets) -----------------------------------------------------

    def sheets(self) -> list[Sheet]:
        """One sheet per section (the CSV holds the same blocks)."""
        def dname(d: Any) -> str:
            return ORG if d is None else self.departments.get(d, "—")

        fig = ["answers", "mean", "mean_lo", "mean_hi", "score100", "top_box", "top_box_lo",
               "top_box_hi", "top_two_box", "top_two_lo", "top_two_hi"]
        fig_h = ["回答数 answers", "平均分 mean", "下限 lo", "上限 hi", "百分制 score100",
                 "非常满意率 top box", "下限 lo", "上限 hi", "满意率(4-5) top-two", "下限 lo",
                 "上限 hi"]

        def figs(t: Tally) -> list[Any]:
            f = t.figures()
            return [f[k] for k in fig]

        def mark(c: Change | None) -> list[Any]:
            if c is None:
                return [None, None, None]
            return [c.before.figures()["mean"], rnd(c.diff, 2),
                    ("显著 significant" if c.significant else "") if c.diff is not None else ""]

        order = [*[d for d in self.departments if d is not None], None]
        summary = Sheet("概要 Summary", ["项目 item", "值 value"], [
            ["报告 report", self.title], ["期间 period", self.period],
            ["起止 from–to", f"{self.first.isoformat()} – {self.last.isoformat()}"],
            ["生成 generated", self.generated_at],
            ["最少回答数 min answers", self.min_answers],
            ["记录链哈希 chain head", self.chain_head]], widths={0: 24, 1: 70})
        lead = self.lead_question
        if lead and (None, lead) in self.sat:
            t = self.sat[(None, lead)]
            summary.rows += [[f"{ORG} {self.questions[lead]} 百分制", t.figures()["score100"]],
                             [f"{ORG} 回答数 answers", t.answers]]
        org_ops = self.followup.get(None)
        if org_ops is not None:
            summary.rows += [["随访率 follow-up rate", rnd(org_ops.coverage.value, 3)],
                             ["应随访 due", org_ops.eligible], ["已随访 followed up",
                                                                org_ops.covered]]
        sat = Sheet("满意度 Satisfaction", [
            "科室 department", "问题 question", "题目 title", *fig_h,
            f"上期均分 {self.prev_period or ''}", "变化 change", "标记 mark",
            f"去年同期均分 {self.year_period or ''}", "变化 change", "标记 mark", "隐藏 hidden"],
            widths={0: 14, 2: 18})
        for d in order:
            for q in self.questions:
                st = self.sat.get((d, q))
                if st is None:
                    continue
                sat.rows.append([dname(d), q, self.questions[q], *figs(st),
                                 *mark(self.prev.get((d, q))), *mark(self.year.get((d, q))),
                                 _hidden(st)])
        kinds = Sheet("门诊住院 Outpatient-Inpatient", [
            "科室 department", "类别 kind", "问题 question", "题目 title", *fig_h,
            "隐藏 hidden"])
        for d in order:
            for k in KIND_LABEL:
                for q in self.questions:
                    kt = self.kinds.get((d, k, q))
                    if kt is not None:
                        kinds.rows.append([dname(d), KIND_LABEL[k], q, self.questions[q],
                                           *figs(kt), _hidden(kt)])
        rank = Sheet("排名 Ranking", ["名次 rank", "科室 department", "题目 title",
                                      "百分制 score100", "平均分 mean", "回答数 answers"])
        for i, d, t in self.ranking():
            rank.rows.append([i, dname(d), self.questions[t.question_id],
                              t.figures()["score100"], t.figures()["mean"], t.answers])
        clin = Sheet("医生 Clinicians", ["科室 department", "医生/老师 clinician", "工号 id",
                                         "问题 question", "题目 title", *fig_h, "隐藏 hidden"])
        for d in order:
            for key, per_q in self.clinician_rows(d):
                for q, t in per_q.items():
                    clin.rows.append([dname(d), t.key, key[3:] if key.startswith("id:") else "",
                                      q, self.questions[q], *figs(t), _hidden(t)])
        ops_h = ["应随访 due", "已随访 followed up", "随访率 follow-up rate", "下限 lo", "上限 hi",
                 "已发送消息 messages sent", "已答复 answered", "消息应答率 reply rate",
                 "及时发送 on time", "及时率 on-time rate", "失访 lost", "失访原因 lost by reason"]
        fol = Sheet("随访 Follow-up", ["科室/渠道 department/channel", *ops_h])
        for d in order:
            if d in self.followup:
                fol.rows.append([dname(d), *_ops_row(self.followup[d])])
        for c, o in self.channels.items():
            fol.rows.append([f"渠道 {c}", *_ops_row(o)])
        comp = Sheet("投诉 Complaints", [
            "科室 department", "收到 received", "24小时内首次回应 responded in time",
            "回应及时率 response rate", "按时结案 closed in time", "结案及时率 closure rate",
            "未结案 open", "处理结果 outcomes", "处理满意度回答数 recovery answers",
            "处理满意度均分 recovery mean", "隐藏 hidden"])
        for d in order:
            cp = self.complaints.get(d)
            if cp is None:
                continue
            rec = self.recovery.get(d)
            comp.rows.append([dname(d), cp["received"], cp["responded_in_time"],
                              cp["response_rate"], cp["closed_in_time"], cp["closure_rate"],
                              cp["open"], _kv(cp["outcomes"]), rec.answers if rec else 0,
                              rec.figures()["mean"] if rec else None,
                              _hidden(rec) if rec else ""])
        praise = Sheet("表扬 Praise", ["科室 department", "工作人员 staff", "表扬次数 comments"])
        th = Sheet("意见主题 Themes", ["主题 theme", "Theme", "意见条数 comments",
                                       "按科室 by department", "示例（已脱敏） examples"])
        if self.theme_counts is not None:
            tc = self.theme_counts.as_dict()
            praise.rows = [[p["department"], p["staff"], p["comments"]] for p in tc["praise"]]
            th.rows = [[t["zh"], t["en"], t["comments"], _kv(t["by_department"]),
                        " / ".join(t["examples"])] for t in tc["themes"]]
        notes = Sheet("说明 Notes", ["说明 notes"], [[n] for n in self.notes()], widths={0: 120})
        return [summary, sat, kinds, rank, clin, fol, comp, praise, th, notes]

    def notes(self) -> list[str]:
        """How every figure is defined (Chinese, then English)."""
        scale = ("百分制得分 = 平均分 × 20（非常满意=100，满意=80，一般=60，不满意=40，"
                 "非常不满意=20）。" if self.hundred_point == "times20" else
                 "百分制得分 = (平均分 − 1) × 25（5分=100，1分=0）。")
        return [
            scale,
            "区间为95%置信区间：均分用t分布（自由度 n−1），比例用Wilson区间；变化用Welch区间，"
            "区间不含0时标“显著”。",
            f"回答少于{self.min_answers}份的组不显示分布、均分和比例；同一合计下至少再隐藏一组，"
            "使隐藏组无法由合计反推。",
            "应随访=本期就诊/出院且已安排回访的病例；已随访=其中有回复的；随访率=已随访÷应随访；"
            "消息应答率=已答复消息÷已发送消息；及时率=按时发送的回访÷已发送；失访按原因统计。",
            "投诉：首次回应与结案时限按[staff]设置（默认24小时、5个工作日）；"
            "处理满意度为投诉或低分处理后回访的1–5分。",
            f"记录链哈希：本期最后一条满意度记录的哈希 {self.chain_head}，"
            "可用 survey-bot verify 核对。",
            "100-point score: see above. Intervals: 95 %, t for means, Wilson for rates, Welch "
            "for changes (marked when the interval excludes zero). Groups under the minimum "
            "show no figures, and one more group under the same total is hidden with them.",
        ]


def _hidden(t: Tally) -> str:
    return exports.HIDDEN_WORDS.get(t.reason, "") if not t.shown else ""


def _kv(d: dict[str, Any]) -> str:
    return "; ".join(f"{k}={v}" for k, v in d.items())


def _ops_row(o: Operations) -> list[Any]:
    cov = o.coverage
    ci = cov.ci or (None, None)
    return [o.eligible, o.covered, rnd(cov.value, 3), rnd(ci[0], 3), rnd(ci[1], 3), o.sent,
            o.answered, rnd(o.response.value, 3), o.on_time, rnd(o.on_time_rate.value, 3),
            sum(o.lost.values()), _kv(dict(sorted(o.lost.items())))]


def _ops_dict(o: Operations) -> dict[str, Any]:
    return {"due": o.eligible, "followed_up": o.covered, "follow_up_rate": o.coverage.as_dict(),
            "messages_sent": o.sent, "messages_answered": o.answered,
            "reply_rate": o.response.as_dict(), "on_time": o.on_time,
            "on_time_rate": o.on_time_rate.as_dict(), "lost": dict(sorted(o.lost.items())),
            "lost_total": sum(o.lost.values())}


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
