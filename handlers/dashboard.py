"""The manager dashboard: tallies, trends, comparisons, drill-down, exports, monthly report.

Managers and admins see every department, a department head their own. Nothing on these
pages names who answered: drill-down rows show day, channel, score and comment only, and
groups under ``[tallies] min_answers`` answers cannot be drilled into.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from bot.analytics import charts, reports, tallies
from bot.keys import RUNTIME
from bot.analytics.tallies import Scope, TallyError
from handlers.auth import require_staff
from handlers.i18n import MESSAGES, language
from handlers.render import render
from models import Role, Staff

VIEWERS = {Role.MANAGER, Role.ADMIN, Role.HEAD}

# Dashboard wording, merged into the shared catalogue (Chinese first).
_WORDS: dict[str, tuple[str, str]] = {
    "dash.group_by": ("分组", "Group by"),
    "dash.period": ("周期", "Period"),
    "dash.from": ("从", "From"),
    "dash.to": ("到", "To"),
    "dash.apply": ("查看", "Show"),
    "dash.department": ("科室", "Department"),
    "dash.clinician": ("医生/老师", "Clinician"),
    "dash.treatment": ("治疗类型", "Treatment"),
    "dash.channel": ("渠道", "Channel"),
    "dash.question": ("问题", "Question"),
    "dash.all": ("全部", "All"),
    "dash.period.all": ("整个区间", "Whole range"),
    "dash.period.day": ("日", "Day"),
    "dash.period.week": ("周", "Week"),
    "dash.period.month": ("月", "Month"),
    "dash.period.quarter": ("季度", "Quarter"),
    "dash.top_box": ("非常满意率(5分)", "Top box (5)"),
    "dash.ci": ("95%置信区间", "95% CI"),
    "dash.trend": ("满意度趋势（平均分）", "Satisfaction trend (mean)"),
    "dash.compare": ("各组比较（平均分）", "Comparison (mean)"),
    "dash.operations": ("回访运行", "Follow-up operations"),
    "dash.sent": ("已发送", "Sent"),
    "dash.response": ("回复率", "Response rate"),
    "dash.coverage": ("回访率", "Coverage"),
    "dash.on_time": ("及时率", "On time"),
    "dash.lost": ("失访", "Lost to follow-up"),
    "dash.escalations": ("升级", "Escalations"),
    "dash.sla": ("SLA达标", "SLA met"),
    "dash.praise": ("表扬", "Praise"),
    "dash.group": ("组", "Group"),
    "dash.exports": ("导出", "Export"),
    "dash.tallies_csv": ("统计 CSV", "Tallies CSV"),
    "dash.tallies_xlsx": ("统计 Excel", "Tallies XLSX"),
    "dash.records_csv": ("记录 CSV", "Records CSV"),
    "dash.records_xlsx": ("记录 Excel", "Records XLSX"),
    "dash.monthly": ("月报", "Monthly report"),
    "dash.answers_behind": ("该数字背后的回答（不显示回答者）",
                            "The answers behind this number (who answered is never shown)"),
    "dash.day": ("日期", "Day"),
    "dash.score": ("评分", "Score"),
    "dash.comment": ("意见", "Comment"),
    "dash.too_few_drill": ("少于规定回答数，不能查看明细。",
                           "Too few answers to show the details."),
    "dash.coverage_target": ("目标", "target"),
    "dash.total": ("全院", "All departments"),
    "dash.clinicians": ("医生/老师", "Clinicians"),
    "dash.print": ("打印", "Print"),
    "dash.generated": ("生成时间", "Generated"),
    "dash.no_data": ("这个区间没有数据。", "No data in this range."),
    "dash.ci_note": ("括号内为95%置信区间（均分用t分布，比例用Wilson区间）。",
                     "Brackets hold 95% confidence intervals (t for means, Wilson for rates)."),
    "lost.opted_out": ("退订", "opted out"),
    "lost.wrong_number": ("号码错误", "wrong number"),
    "lost.deceased": ("去世", "deceased"),
    "lost.unreachable": ("无法送达", "unreachable"),
    "lost.no_answer": ("未回复", "no answer"),
    "lost.refused": ("拒绝", "refused"),
    "lost.fatigue": ("近期已回访", "surveyed recently"),
    "lost.skipped": ("未发送", "skipped"),
    "lost.cancelled": ("已取消", "cancelled"),
}
for _k, (_zh, _en) in _WORDS.items():
    MESSAGES.setdefault(_k, {"zh": _zh, "en": _en})


def setup(app: web.Application) -> None:
    """Register the dashboard routes."""
    r = app.router
    r.add_get("/tallies", dashboard)
    r.add_get("/tallies/answers", answers)
    r.add_get("/tallies/export.{fmt:csv|xlsx}", export_tallies)
    r.add_get("/tallies/records.{fmt:csv|xlsx}", export_records)
    r.add_get("/reports/monthly", monthly)
    r.add_get("/reports/monthly.{fmt:csv|xlsx|json}", monthly_file)


async def _viewer_departments(staff: Staff | None) -> frozenset[int] | None:
    """None: every department. A department head sees their own."""
    if staff is None or staff.role != Role.HEAD:
        return None
    return frozenset(int(r["id"]) for r in await staff.departments.all().values("id"))


def _int(v: str | None, name: str) -> int | None:
    if not v:
        return None
    try:
        return int(v)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a number, got {v!r}") from None


def _day(v: str | None, name: str) -> date | None:
    if not v:
        return None
    try:
        return date.fromisoformat(v)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a date like 2026-10-01, got {v!r}") \
            from None


async def _params(request: web.Request) -> tuple[dict[str, Any], Scope]:
    """Filters from the query string, scoped to what the viewer may see."""
    staff = await require_staff(request, roles=VIEWERS)
    q = request.query
    by = q.get("by", "department")
    period = q.get("period", "all")
    if by not in tallies.DIMENSIONS:
        raise web.HTTPBadRequest(text=f"by must be one of {', '.join(tallies.DIMENSIONS)}")
    if period not in tallies.PERIODS:
        raise web.HTTPBadRequest(text=f"period must be one of {', '.join(tallies.PERIODS)}")
    start, end = _day(q.get("from"), "from"), _day(q.get("to"), "to")
    if q.get("range"):
        try:
            start, end = tallies.parse_range(q["range"])
        except TallyError as e:
            raise web.HTTPBadRequest(text=str(e)) from e
    if start and end and end < start:
        raise web.HTTPBadRequest(text="'to' is before 'from': swap the dates")
    scope = Scope(start=start, end=end, departments=await _viewer_departments(staff),
                  department_id=_int(q.get("department"), "department"),
                  clinician=q.get("clinician") or None, treatment=q.get("treatment") or None,
                  channel=q.get("channel") or None, question_id=q.get("question") or None)
    params = {"by": by, "period": period, "from": start.isoformat() if start else "",
              "to": end.isoformat() if end else "", "department": q.get("department", ""),
              "question": q.get("question", ""), "clinician": q.get("clinician", ""),
              "treatment": q.get("treatment", ""), "channel": q.get("channel", "")}
    return params, scope


def _qs(params: dict[str, Any], **extra: Any) -> str:
    merged = {**params, **extra}
    return urlencode({k: v for k, v in merged.items() if v not in ("", None)})


async def dashboard(request: web.Request) -> web.Response:
    """Tallies table, charts, operations, open escalations; filters in the query string."""
    params, scope = await _params(request)
    rt = request.app[RUNTIME]
    cfg = rt.settings.tallies
    by, period = params["by"], params["period"]
    rows = await tallies.score_tallies(by=by, period=period, scope=scope,
                                       min_answers=cfg.min_answers)
    ops = await tallies.operations(cfg, rt.settings.tz, rt.now(), by=by, period=period,
                                   scope=scope,
                                   on_time_hours=int(getattr(rt.settings.checkin,
                                                             "on_time_hours", 24)))
    esc = await tallies.open_escalations_by_kind(
        sorted(scope.departments) if scope.departments is not None else None)
    lang = language(request, rt.settings.web.default_language)
    t = MESSAGES
    title_trend = t["dash.trend"][lang]
    title_cmp = t["dash.compare"][lang]
    # Trend: the chosen grouping over months (or the chosen period), question "overall"
    # unless one was picked. Comparison: the whole range, one bar per group.
    chart_q = params["question"] or "overall"
    trend_period = period if period not in ("all", "day") else "month"
    trend_scope = replace(scope, question_id=chart_q)
    trend = await tallies.score_tallies(by=by, period=trend_period, scope=trend_scope,
                                        min_answers=cfg.min_answers)
    series: dict[str, list[charts.Point]] = {}
    for tl in trend:
        ci = tl.mean_ci
        series.setdefault(tl.key or chart_q, []).append(charts.Point(
            tl.period, tl.mean, ci[0] if ci else None, ci[1] if ci else None, tl.answers))
    whole = rows if period == "all" else await tallies.score_tallies(
        by=by, scope=trend_scope, min_answers=cfg.min_answers)
    bars = []
    for tl in whole:
        if tl.question_id != chart_q:
            continue
        ci = tl.mean_ci
        bars.append(charts.Point(tl.key or chart_q, tl.mean, ci[0] if ci else None,
                                 ci[1] if ci else None, tl.answers))
    trend_svg = Markup(charts.line_chart(dict(list(series.items())[:8]),
                                         title=f"{title_trend} · {chart_q}")) if series else ""
    bars_svg = Markup(charts.bar_chart(bars, title=f"{title_cmp} · {chart_q}")) if bars else ""
    names = await tallies.department_names()
    if scope.departments is not None:
        names = {k: v for k, v in names.items() if k in scope.departments}
    questions = sorted({tl.question_id for tl in rows})
    table = [
        {"t": tl,
         "drill": _qs(params, by=by, key=tl.key_id if tl.key_id is not None else "",
                      q=tl.question_id, pkey=tl.period) if tl.shown else ""}
        for tl in rows
    ]
    return render(request, "dashboard.html", rows=table, ops=ops, escalations=esc,
                  params=params, dimensions=tallies.DIMENSIONS, periods=tallies.PERIODS,
                  departments=sorted(names.items(), key=lambda kv: kv[1]),
                  questions=questions, trend_svg=trend_svg, bars_svg=bars_svg,
                  qs=_qs(params), min_answers=cfg.min_answers,
                  coverage_target=cfg.coverage_target,
                  month=reports.default_period(reports.local_today(rt.now(), rt.settings.tz)))


async def answers(request: web.Request) -> web.Response:
    """Drill-down: the masked answers behind one tally."""
    params, scope = await _params(request)
    cfg = request.app[RUNTIME].settings.tallies
    q = request.query
    by = params["by"]
    key: Any = q.get("key", "")
    if by == "department":
        key = _int(key, "key")
    if not q.get("q"):
        raise web.HTTPBadRequest(text="q (the question id) is required")
    rows = await tallies.drill_down(scope, by=by, key=key, question_id=q["q"],
                                    period=params["period"], period_key=q.get("pkey", ""),
                                    min_answers=cfg.min_answers)
    label = key
    if by == "department" and isinstance(key, int):
        label = (await tallies.department_names()).get(key, "—")
    return render(request, "dashboard_answers.html", rows=rows, label=label,
                  question=q["q"], period_key=q.get("pkey", ""), back=_qs(params))


async def export_tallies(request: web.Request) -> web.Response:
    """The current tallies as CSV or XLSX."""
    params, scope = await _params(request)
    cfg = request.app[RUNTIME].settings.tallies
    rows = await tallies.score_tallies(by=params["by"], period=params["period"], scope=scope,
                                       min_answers=cfg.min_answers)
    header, data = reports.tallies_table(rows)
    return _file(request.match_info["fmt"], header, data, "tallies")


async def export_records(request: web.Request) -> web.Response:
    """Answer records in range (no contact, no person) as CSV or XLSX."""
    _, scope = await _params(request)
    header, data = await reports.records_table(scope)
    return _file(request.match_info["fmt"], header, data, "records")


def _file(fmt: str, header: list[str], data: list[list[Any]], name: str) -> web.Response:
    if fmt == "csv":
        return web.Response(
            body=reports.to_csv(header, data).encode("utf-8"),
            content_type="text/csv", charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return web.Response(
        body=reports.to_xlsx(header, data, name),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})


async def _report(request: web.Request) -> dict[str, Any]:
    staff = await require_staff(request, roles=VIEWERS)
    rt = request.app[RUNTIME]
    period = request.query.get("period") or reports.default_period(
        reports.local_today(rt.now(), rt.settings.tz))
    try:
        return await reports.monthly_report(
            rt.settings, rt.now(),
            reports.ReportRequest(period, await _viewer_departments(staff)))
    except TallyError as e:
        raise web.HTTPBadRequest(text=str(e)) from e


async def monthly(request: web.Request) -> web.Response:
    """The monthly per-department report as a printable page."""
    rep = await _report(request)
    return render(request, "report_monthly.html", r=rep,
                  period_qs=urlencode({"period": rep["period"]}))


async def monthly_file(request: web.Request) -> web.Response:
    """The monthly report as CSV, XLSX or JSON."""
    rep = await _report(request)
    fmt = request.match_info["fmt"]
    name = f"report-{rep['period']}"
    if fmt == "json":
        return web.json_response(rep, dumps=_dumps)
    if fmt == "csv":
        return web.Response(body=reports.report_csv(rep).encode("utf-8"), content_type="text/csv",
                            charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})
    return web.Response(
        body=reports.report_xlsx(rep),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})


def _dumps(obj: Any) -> str:
    import json

    return json.dumps(obj, ensure_ascii=False)
