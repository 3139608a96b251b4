"""What a report holds, section by section, and how each section is written: the printable
page's rows, the XLSX sheets (one per section), the CSV blocks and the JSON.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from bot.analytics import exports, themes
from bot.analytics.exports import Sheet
from bot.analytics.operations import Operations
from bot.analytics.stats import rnd, welch_diff
from bot.analytics.tallies import Tally

KIND_LABEL = {"outpatient": "门诊 Outpatient", "inpatient": "住院 Inpatient",
              "lessons": "课程 Lessons", "other": "其他 Other"}
KIND_OF = {"visit": "outpatient", "treatment": "outpatient", "discharge": "inpatient",
           "lesson_term": "lessons"}
ORG = "全院"


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
