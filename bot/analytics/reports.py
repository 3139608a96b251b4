"""The monthly per-department report and the CSV / XLSX exports of tallies and records.

Every export follows the dashboard's fairness rule: groups under ``[tallies] min_answers``
show counts only, and no export names who answered (records carry no contact or person).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.analytics import tallies
from bot.analytics.tallies import Operations, Scope, Tally
from bot.config import Settings
from models import Answer

OVERALL = "overall"


@dataclass(frozen=True)
class ReportRequest:
    """Which month (or range) and which departments."""

    period: str  # as typed: 2026-10, 2026-Q4, 2026-10-01..2026-10-31
    departments: frozenset[int] | None = None


def _rate(r: tallies.Rate) -> float | None:
    return None if r.value is None else round(r.value, 4)


def _ci(ci: tuple[float, float] | None) -> list[float] | None:
    return None if ci is None else [round(ci[0], 4), round(ci[1], 4)]


async def monthly_report(settings: Settings, now: datetime, req: ReportRequest,
                         question_id: str = OVERALL) -> dict[str, Any]:
    """The per-department summary of the seeds' monthly report, as plain data."""
    first, last = tallies.parse_range(req.period)
    scope = Scope(start=first, end=last, departments=req.departments)
    cfg = settings.tallies
    tz = settings.tz
    on_time = int(getattr(settings.checkin, "on_time_hours", 24))
    q_scope = Scope(start=first, end=last, departments=req.departments, question_id=question_id)
    by_dept = {t.key: t for t in await tallies.score_tallies(scope=q_scope,
                                                            min_answers=cfg.min_answers)}
    ops = {o.key: o for o in await tallies.operations(cfg, tz, now, scope=scope,
                                                      on_time_hours=on_time)}
    clin = await tallies.score_tallies(by="clinician", scope=q_scope,
                                       min_answers=cfg.min_answers)
    clin_dept = await _clinician_departments(scope)
    names = await tallies.department_names()
    rows = []
    for name in sorted(set(by_dept) | set(ops)):
        t = by_dept.get(name) or Tally("department", name, question_id,
                                       min_answers=cfg.min_answers)
        o = ops.get(name) or Operations(name, min_n=cfg.min_answers)
        dept_id = t.key_id if t.key_id is not None else o.key_id
        clinicians = [
            {"clinician": c.key, "answers": c.answers, "mean": _r(c.mean),
             "top_two_box": _r(c.top_two_box)}
            for c in clin if dept_id in clin_dept.get(c.key, set())
        ]
        rows.append(_dept_row(name, t, o, cfg.coverage_target, clinicians))
    total_t = tallies.combine(by_dept.values(), key="all", question_id=question_id,
                              min_answers=cfg.min_answers)
    total_o = _sum_ops(ops.values(), cfg.min_answers)
    return {
        "title": f"{settings.org.name} 回访与满意度月报",
        "period": req.period, "first_day": first.isoformat(), "last_day": last.isoformat(),
        "generated_at": now.astimezone(tz).isoformat(timespec="minutes"),
        "question": question_id, "min_answers": cfg.min_answers,
        "coverage_target": cfg.coverage_target,
        "departments": rows,
        "total": _dept_row("全院", total_t, total_o, cfg.coverage_target, []),
        "department_names": sorted(names.values()),
    }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _dept_row(name: str, t: Tally, o: Operations, target: float,
              clinicians: list[dict[str, Any]]) -> dict[str, Any]:
    cov = o.coverage
    return {
        "department": name, "answers": t.answers,
        "distribution": [t.distribution[s] for s in range(1, 6)],
        "mean": _r(t.mean), "mean_ci": _ci(t.mean_ci),
        "top_box": _r(t.top_box), "top_two_box": _r(t.top_two_box),
        "top_two_ci": _ci(t.top_two_rate.ci),
        "sent": o.sent, "answered": o.answered, "response_rate": _rate(o.response),
        "eligible": o.eligible, "covered": o.covered, "coverage": _rate(cov),
        "coverage_ok": None if cov.value is None else cov.value >= target,
        "on_time_rate": _rate(o.on_time_rate),
        "lost": dict(sorted(o.lost.items())), "lost_total": sum(o.lost.values()),
        "escalations": dict(sorted(o.escalations.items())),
        "escalations_total": sum(o.escalations.values()),
        "sla": _rate(o.sla), "sla_met": o.sla_met, "sla_due": o.sla_due,
        "praise": dict(sorted(o.praise.items(), key=lambda kv: (-kv[1], kv[0]))),
        "clinicians": clinicians,
    }


def _sum_ops(ops: Any, min_n: int) -> Operations:
    total = Operations("全院", min_n=min_n)
    for o in ops:
        total.sent += o.sent
        total.answered += o.answered
        total.on_time += o.on_time
        total.eligible += o.eligible
        total.covered += o.covered
        total.sla_met += o.sla_met
        total.sla_due += o.sla_due
        for attr in ("lost", "escalations", "praise"):
            acc = getattr(total, attr)
            for k, v in getattr(o, attr).items():
                acc[k] = acc.get(k, 0) + v
    return total


async def _clinician_departments(scope: Scope) -> dict[str, set[int]]:
    q = Answer.filter(score__isnull=False)
    if scope.start:
        q = q.filter(local_day__gte=scope.start.isoformat())
    if scope.end:
        q = q.filter(local_day__lte=scope.end.isoformat())
    out: dict[str, set[int]] = {}
    for r in await q.distinct().values("clinician", "department_id"):
        out.setdefault(r["clinician"] or "—", set()).add(r["department_id"])
    return out


# ---------------------------------------------------------------------------------------------
# flat tables for CSV and XLSX

REPORT_COLUMNS = [
    ("department", "科室 department"), ("answers", "回答数 answers"), ("mean", "平均分 mean"),
    ("mean_lo", "均分下限 mean 95% lo"), ("mean_hi", "均分上限 mean 95% hi"),
    ("top_box", "非常满意率 top box"), ("top_two_box", "满意率 top-two box"),
    ("sent", "已发送 sent"), ("answered", "已回复 answered"),
    ("response_rate", "回复率 response rate"), ("eligible", "应回访 eligible"),
    ("covered", "已回访 covered"), ("coverage", "回访率 coverage"),
    ("on_time_rate", "及时率 on-time"), ("lost_total", "失访 lost"),
    ("lost", "失访原因 lost by reason"),
    ("escalations_total", "升级 escalations"), ("escalations", "升级类型 by kind"),
    ("sla", "SLA达标率 SLA"), ("praise", "表扬 praise"),
]


def report_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per department, then the total."""
    out = []
    for d in [*report["departments"], report["total"]]:
        ci = d["mean_ci"] or [None, None]
        out.append({
            **{k: d.get(k) for k, _ in REPORT_COLUMNS},
            "mean_lo": ci[0], "mean_hi": ci[1],
            "lost": _kv(d["lost"]), "escalations": _kv(d["escalations"]),
            "praise": _kv(d["praise"]),
        })
    return out


def _kv(d: dict[str, int]) -> str:
    return "; ".join(f"{k}={v}" for k, v in d.items())


def _cell(v: Any) -> Any:
    return "—" if v is None else v


def report_csv(report: dict[str, Any]) -> str:
    """The monthly report as CSV (UTF-8 with BOM so Excel reads the Chinese)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow([h for _, h in REPORT_COLUMNS])
    for r in report_rows(report):
        w.writerow([_cell(r[k]) for k, _ in REPORT_COLUMNS])
    return buf.getvalue()


def report_xlsx(report: dict[str, Any]) -> bytes:
    """The monthly report as a workbook: departments, clinicians, notes."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "科室 Departments"
    ws.append([report["title"]])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([f"{report['first_day']} – {report['last_day']}", f"生成 {report['generated_at']}"])
    ws.append([h for _, h in REPORT_COLUMNS])
    for c in ws[3]:
        c.font = Font(bold=True)
    for r in report_rows(report):
        ws.append([_cell(r[k]) for k, _ in REPORT_COLUMNS])
    ws.column_dimensions["A"].width = 16
    cs = wb.create_sheet("医生 Clinicians")
    cs.append(["科室 department", "医生/老师 clinician", "回答数 answers", "平均分 mean",
               "满意率 top-two box"])
    for d in report["departments"]:
        for c in d["clinicians"]:
            cs.append([d["department"], c["clinician"], c["answers"], _cell(c["mean"]),
                       _cell(c["top_two_box"])])
    ns = wb.create_sheet("说明 Notes")
    for line in NOTES:
        ns.append([line])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


NOTES = [
    "少于规定回答数的组只显示计数，不显示平均分和比例（“—”）：样本太少既不公平，也可能暴露个人。",
    "Groups under the minimum number of answers show counts only ('—').",
    "区间为95%置信区间：均分用t分布，比例用Wilson区间。",
    "95% intervals: t for means, Wilson for rates.",
    "回复率=已回复/已发送；回访率=有至少一次完成回访的就诊/应回访就诊；及时率=在应发时间后规定小时内发出。",
    "失访=没有完成回访且不再有待发回访的就诊，按联系人记录的原因（退订、号码错误、去世、无法送达）归类，否则为未回复。",
    "SLA=升级在其优先级时限内被认领；尚未到期的未认领升级不计。",
    "表扬=评论中提到医生或工作人员姓名并含表扬用语（[tallies] praise_words）。",
]


def tallies_table(rows: list[Tally]) -> tuple[list[str], list[list[Any]]]:
    """Tallies as a header and rows (for CSV/XLSX)."""
    header = ["dimension", "group", "period", "question", "answers", "1", "2", "3", "4", "5",
              "mean", "mean_lo", "mean_hi", "top_box", "top_two_box", "top_two_lo",
              "top_two_hi"]
    out = []
    for t in rows:
        ci = t.mean_ci or (None, None)
        tci = t.top_two_rate.ci or (None, None)
        out.append([t.dimension, t.key, t.period, t.question_id, t.answers,
                    *[t.distribution[s] for s in range(1, 6)],
                    *[_cell(_r(v)) for v in (t.mean, ci[0], ci[1], t.top_box, t.top_two_box,
                                             tci[0], tci[1])]])
    return header, out


RECORD_COLUMNS = ["id", "day", "department", "clinician", "treatment_type", "channel",
                  "survey", "question", "score", "text", "hash"]


async def records_table(scope: Scope, limit: int = 200_000) -> tuple[list[str], list[list[Any]]]:
    """Answer records in scope, without anything that names who answered."""
    names = await tallies.department_names()
    q = Answer.all()
    if scope.start:
        q = q.filter(local_day__gte=scope.start.isoformat())
    if scope.end:
        q = q.filter(local_day__lte=scope.end.isoformat())
    ids = scope.dept_ids()
    if ids is not None:
        q = q.filter(department_id__in=ids)
    rows = await q.order_by("id").limit(limit).values(
        "id", "local_day", "department_id", "clinician", "treatment_type", "channel",
        "survey_id", "question_id", "score", "text", "hash")
    return RECORD_COLUMNS, [
        [r["id"], r["local_day"] or "", names.get(r["department_id"], "—"),
         r["clinician"] or "", r["treatment_type"] or "", r["channel"], r["survey_id"],
         r["question_id"], "" if r["score"] is None else r["score"], r["text"], r["hash"]]
        for r in rows
    ]


def to_csv(header: list[str], rows: list[list[Any]]) -> str:
    """CSV with a BOM (Excel opens UTF-8 Chinese correctly)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def to_xlsx(header: list[str], rows: list[list[Any]], title: str) -> bytes:
    """One-sheet workbook."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook(write_only=False)
    ws = wb.active
    ws.title = title[:31]
    ws.append(header)
    for c in ws[1]:
        c.font = Font(bold=True)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def default_period(today: date) -> str:
    """Last month, as the monthly report is read at the start of the next one."""
    first = today.replace(day=1)
    prev = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    return prev.strftime("%Y-%m")


def local_today(now: datetime, tz: ZoneInfo) -> date:
    """Today in the organisation's zone."""
    return now.astimezone(tz).date()
