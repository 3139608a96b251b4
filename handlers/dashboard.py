"""The manager dashboard: tallies, trends, comparisons, drill-down, exports, monthly report.

Managers and admins see every department, a department head their own. Nothing on these
pages names who answered: drill-down rows show day, channel, score and comment only, and
groups under ``[tallies] min_answers`` answers cannot be drilled into.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from bot.analytics import charts, exports, operations, records, reports, tallies, themes, views
from bot.analytics.tallies import Scope, TallyError
from bot.keys import RUNTIME
from handlers import validate
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
    "dash.response": ("消息应答率", "Message reply rate"),
    "dash.coverage": ("随访率", "Follow-up rate"),
    "dash.on_time": ("及时率", "On time"),
    "dash.lost": ("失访", "Lost to follow-up"),
    "dash.escalations": ("待处理事项", "Escalations"),
    "dash.sla": ("SLA达标", "SLA met"),
    "dash.praise": ("表扬", "Praise"),
    "dash.group": ("组", "Group"),
    "dash.exports": ("导出", "Export"),
    "dash.tallies_csv": ("统计 CSV", "Tallies CSV"),
    "dash.followup_csv": ("随访 CSV", "Follow-up CSV"),
    "dash.followup_xlsx": ("随访 XLSX", "Follow-up XLSX"),
    "dash.followup_json": ("随访 JSON", "Follow-up JSON"),
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
    "dash.satisfaction": ("满意度", "Satisfaction"),
    "dash.followup": ("随访与投诉", "Follow-up and complaints"),
    "dash.score100": ("百分制得分", "100-point score"),
    "dash.score100_note": ("百分制得分 = 平均分 × 20（非常满意=100，满意=80，一般=60，不满意=40，"
                           "非常不满意=20）。",
                           "100-point score = mean × 20 (very satisfied 100, satisfied 80, "
                           "neutral 60, dissatisfied 40, very dissatisfied 20)."),
    "dash.score100_note_linear": ("百分制得分 = (平均分 − 1) × 25（5分=100，1分=0）。",
                                  "100-point score = (mean − 1) × 25 (5 → 100, 1 → 0)."),
    "dash.hidden_note": (
        "“—”：回答少于{n}份的组不显示分布、平均分和比例；为使其无法由合计反推，"
        "同一合计下至少再隐藏一组（标“*”）。",
        "“—”: groups with fewer than {n} answers show no distribution, mean or rates; so that "
        "they cannot be worked out from a total, at least one more group under the same total "
        "is hidden too (marked “*”)."),
    "dash.all_groups": ("全部", "All"),
    "dash.whole_range": ("合计", "Whole range"),
    "dash.rows_shown": ("第{a}–{b}行，共{n}行；导出含全部行。",
                        "Rows {a}–{b} of {n}; the exports hold every row."),
    "dash.all_rows": ("全部行（CSV）", "Every row (CSV)"),
    "dash.prev": ("上一页", "Previous"),
    "dash.next": ("下一页", "Next"),
    "dash.tallies_json": ("统计 JSON", "Tallies JSON"),
    "dash.records_note": ("记录导出只含可显示组的回答（评分与意见），不含回答者，"
                          "也不含比所选分组更细的信息。",
                          "Record exports hold the answers of the groups shown (score and "
                          "comment) — never who answered, nor anything finer than the grouping."),
    "dash.themes": ("意见主题", "Comment themes"),
    "dash.theme": ("主题", "Theme"),
    "dash.comments": ("意见条数", "Comments"),
    "dash.examples": ("示例（已脱敏）", "Examples (masked)"),
    "dash.praised": ("被表扬的工作人员", "Staff praised"),
    "dash.quarterly": ("季报", "Quarterly report"),
    "dash.due": ("应随访", "Due for follow-up"),
    "dash.followed": ("已随访", "Followed up"),
    "dash.definitions": (
        "应随访：本期就诊/出院且已安排回访的病例。已随访：其中有回复的。"
        "随访率 = 已随访 ÷ 应随访（按病例）。"
        "消息应答率 = 已答复的回访消息 ÷ 已发送的回访消息（按消息）。"
        "及时率 = 按时发出的回访 ÷ 已发送。失访：没有回复且不再回访的病例，按原因统计。",
        "Due: episodes of the period with follow-up planned. Followed up: those with a reply. "
        "Follow-up rate = followed up ÷ due (per episode). Message reply rate = answered "
        "follow-up messages ÷ messages sent (per message). On-time rate = sent on time ÷ sent. "
        "Lost: episodes with no reply and no follow-up left, by reason."),
    "rep.satisfaction": ("满意度", "Satisfaction"),
    "rep.kinds": ("门诊 / 住院", "Outpatient / inpatient"),
    "rep.ranking": ("科室排名", "Department ranking"),
    "rep.rank": ("名次", "Rank"),
    "rep.followup": ("随访", "Follow-up"),
    "rep.by_channel": ("按渠道", "By channel"),
    "rep.complaints": ("投诉处理", "Complaint handling"),
    "rep.received": ("收到", "Received"),
    "rep.responded": ("按时首次回应", "First response in time"),
    "rep.closed": ("按时结案", "Closed in time"),
    "rep.open": ("未结案", "Still open"),
    "rep.outcomes": ("处理结果", "Outcomes"),
    "rep.recovery": ("处理满意度", "Recovery satisfaction"),
    "rep.praise": ("表扬", "Praise"),
    "rep.vs_prev": ("较上期", "vs previous"),
    "rep.vs_year": ("较去年同期", "vs a year before"),
    "rep.significant": ("▲▼ 变化超出95%区间", "▲▼ change beyond the 95% interval"),
    "rep.chain": ("记录链哈希（期末）", "Record chain head (end of period)"),
    "rep.notes": ("说明", "Notes"),
    "rep.org": ("全院", "Organisation"),
}
for _k, (_zh, _en) in _WORDS.items():
    MESSAGES.setdefault(_k, {"zh": _zh, "en": _en})


def setup(app: web.Application) -> None:
    """Register the dashboard routes."""
    r = app.router
    r.add_get("/tallies", dashboard)
    r.add_get("/tallies/answers", answers)
    r.add_get("/tallies/export.{fmt:csv|xlsx|json}", export_tallies)
    r.add_get("/tallies/records.{fmt:csv|xlsx}", export_records)
    r.add_get("/tallies/followup", followup)
    r.add_get("/tallies/followup.{fmt:csv|xlsx|json}", export_followup)
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
    return validate.ascii_int(v, name, hi=validate.INT32_MAX)


YEARS = (1900, 2100)  # dates outside are typos, and would overflow the time-zone arithmetic
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _day(v: str | None, name: str) -> date | None:
    if not v:
        return None
    try:
        d = date.fromisoformat(v) if _ISO_DAY.fullmatch(v) else None
    except ValueError:
        d = None
    if d is None:
        raise web.HTTPBadRequest(text=f"{name} must be a date like 2026-10-01")
    _in_years(d, name)
    return d


def _in_years(d: date, name: str) -> None:
    if not YEARS[0] <= d.year <= YEARS[1]:
        raise web.HTTPUnprocessableEntity(
            text=f"{name} must be between {YEARS[0]} and {YEARS[1]}")


def _range(text: str, name: str) -> tuple[date, date]:
    """A typed period (see ``tallies.parse_range``) within :data:`YEARS`, else 400/422."""
    validate.clean_text(text, name, max_len=64, single_line=True)
    try:
        first, last = tallies.parse_range(text)
    except TallyError as e:
        raise web.HTTPBadRequest(text=str(e)) from e
    _in_years(first, name)
    _in_years(last, name)
    return first, last


def default_range(today: date) -> tuple[date, date]:
    """The last twelve months: from the first day of the month eleven months ago to today."""
    y, m = today.year, today.month - 11
    while m < 1:
        y, m = y - 1, m + 12
    return date(y, m, 1), today


async def _params(request: web.Request) -> tuple[dict[str, Any], Scope]:
    """Filters from the query string, scoped to what the viewer may see."""
    staff = await require_staff(request, roles=VIEWERS)
    rt = request.app[RUNTIME]
    q = request.query
    by = q.get("by", "department")
    period = q.get("period", "month")
    if by not in tallies.DIMENSIONS:
        raise web.HTTPBadRequest(text=f"by must be one of {', '.join(tallies.DIMENSIONS)}")
    if period not in tallies.PERIODS:
        raise web.HTTPBadRequest(text=f"period must be one of {', '.join(tallies.PERIODS)}")
    start, end = _day(q.get("from"), "from"), _day(q.get("to"), "to")
    if q.get("range"):
        start, end = _range(q["range"], "range")
    if "from" not in q and "to" not in q and "range" not in q:
        start, end = default_range(reports.local_today(rt.now(), rt.settings.tz))
    question = validate.query_text(request, "question", max_len=64)
    if start and end and end < start:
        raise web.HTTPBadRequest(text="'to' is before 'from': swap the dates")
    scope = Scope(start=start, end=end, departments=await _viewer_departments(staff),
                  department_id=_int(q.get("department"), "department"),
                  question_id=question or None)
    params = {"by": by, "period": period, "from": start.isoformat() if start else "",
              "to": end.isoformat() if end else "", "department": q.get("department", ""),
              "question": question}
    return params, scope


def _qs(params: dict[str, Any], **extra: Any) -> str:
    merged = {**params, **extra}
    return urlencode({k: v for k, v in merged.items() if v not in ("", None)}, doseq=True)


def _key_param(key_id: Any) -> str:
    """A group's key_id in a URL (clinicians: "department id|clinician key")."""
    if isinstance(key_id, tuple):
        return f"{key_id[0]}|{key_id[1]}"
    return "" if key_id is None else str(key_id)


def _parse_key(by: str, raw: str) -> Any:
    if by == "department":
        return _int(raw, "key")
    if by == "clinician":
        dept, sep, ident = raw.partition("|")
        if not sep or not ident.startswith(("id:", "name:")):
            raise web.HTTPBadRequest(text="key for a clinician is 'department id|id:…' or "
                                          "'department id|name:…'")
        return (_int(dept, "key"), ident)
    return raw


async def _view(request: web.Request) -> tuple[dict[str, Any], views.TallyView]:
    params, scope = await _params(request)
    rt = request.app[RUNTIME]
    try:
        view = await views.compute(rt.settings, by=params["by"], period=params["period"],
                                   scope=scope)
    except TallyError as e:
        raise web.HTTPBadRequest(text=str(e)) from e
    return params, view


def _point(label: str, tl: tallies.Tally) -> charts.Point:
    ci = tl.mean_ci
    return charts.Point(label, tl.mean, ci[0] if ci else None, ci[1] if ci else None,
                        tl.answers)


def _figure_cells(tl: tallies.Tally) -> Markup:
    """A table row's figure cells (distribution, mean, 100-point score, top box, top two),
    each figure computed once: the same HTML as the ``dist``, ``mean``, ``s100`` and
    ``rate`` macros of _tally_macros.html give, at a fraction of their cost over a page of
    rows (tests/test_tallies_web.py compares the two)."""
    if not tl.shown:
        return Markup(_HIDDEN_CELLS.format(star="*" if tl.reason == "complement" else ""))
    d = tl.distribution
    mean, ci, s100 = tl.mean, tl.mean_ci, tl.score100
    mean_s = "—" if mean is None else f"{mean:.2f}" + (
        f'<small class="ci"> [{ci[0]:.2f}–{ci[1]:.2f}]</small>' if ci else "")
    rates = []
    for r in (tl.top_box_rate, tl.top_two_rate):
        v, rci = r.value, r.ci
        rates.append("—" if v is None or rci is None else
                     f'{v * 100:.1f}%<small class="ci"> [{rci[0] * 100:.1f}–'
                     f'{rci[1] * 100:.1f}]</small>')
    return Markup(
        "".join(f'<td class="d{k}">{d[k]}</td>' for k in range(1, 6))
        + f'\n    <td class="mean">{mean_s}</td>'
        + f'\n    <td class="s100">{"—" if s100 is None else f"{s100:.1f}"}</td>'
        + f'\n    <td class="top1">{rates[0]}</td>\n    <td class="top2">{rates[1]}</td>')


_HIDDEN_CELLS = ("".join(f'<td class="d{k}">—</td>' for k in range(1, 6))
                 + '\n    <td class="mean">—{star}</td>\n    <td class="s100">—</td>'
                 '\n    <td class="top1">—</td>\n    <td class="top2">—</td>')


async def dashboard(request: web.Request) -> web.Response:
    """Satisfaction: the table (paginated), trend and comparison charts, comment themes.
    One score query per request; every figure comes from the same view."""
    params, view = await _view(request)
    rt = request.app[RUNTIME]
    cfg = rt.settings.tallies
    lang = language(request, rt.settings.web.default_language)
    t = MESSAGES
    chart_q = params["question"] or ("overall" if "overall" in view.grand
                                     else (view.questions[0] if view.questions else "overall"))
    title_q = view.title(chart_q)
    series = {
        name: [_point(tl.period, tl) for tl in ts]
        for name, ts in view.trend(chart_q).items()
    }
    bars = [_point(view._name(tl), tl) for tl in view.bars(chart_q)]
    trend_svg = Markup(charts.line_chart(series, title=f"{t['dash.trend'][lang]} · {title_q}")
                       ) if series else ""
    bars_svg = Markup(charts.bar_chart(bars, title=f"{t['dash.compare'][lang]} · {title_q}")
                      ) if bars else ""
    table = view.table()
    page = max(1, _int(request.query.get("page"), "page") or 1)
    size = cfg.page_rows
    first = (page - 1) * size
    shown = table[first:first + size]
    drillable = {id(tl) for tl in view.rows}
    base = _qs(params)  # the drill-down links add key, q and pkey to the page's own query
    rows = [{"t": tl, "title": view.title(tl.question_id), "cells": _figure_cells(tl),
             "drill": base + "&" + _qs({}, key=_key_param(tl.key_id), q=tl.question_id,
                                       pkey=tl.period)
             if tl.shown and id(tl) in drillable else ""}
            for tl in shown]
    names = await tallies.department_names(view.scope.departments)
    found = await themes.themes_for(rt.settings, view.scope, period=params["period"])
    today = reports.local_today(rt.now(), rt.settings.tz)
    return render(request, "dashboard.html", rows=rows, view=view, params=params,
                  dimensions=tallies.DIMENSIONS, periods=tallies.PERIODS,
                  departments=sorted(names.items(), key=lambda kv: kv[1]),
                  trend_svg=trend_svg, bars_svg=bars_svg, qs=_qs(params),
                  min_answers=cfg.min_answers, hundred_point=cfg.hundred_point,
                  page=page, pages=max(1, -(-len(table) // size)), first=first,
                  total_rows=len(table), themes=found,
                  month=reports.default_period(today),
                  quarter=reports.default_quarter(today))


async def answers(request: web.Request) -> web.Response:
    """Drill-down: the answers (score and comment) behind one shown figure."""
    params, view = await _view(request)
    by = params["by"]
    question = validate.query_text(request, "q", max_len=64)
    pkey = validate.query_text(request, "pkey", max_len=64)
    if not question:
        raise web.HTTPBadRequest(text="q (the question id) is required")
    if pkey and params["period"] in ("day", "week"):
        _day(pkey, "pkey")
    elif pkey and params["period"] != "all":
        _range(pkey, "pkey")
    key = _parse_key(by, validate.query_text(request, "key", max_len=200))
    # Only a cell of the viewer's own view: another department's cell is not found, so
    # neither its rows nor its name are shown.
    cell = view.cell(key, question, pkey)
    rows = None
    if cell is not None and cell.shown:
        rows = await records.behind(view, cell)
    label = cell.key if cell is not None else "—"
    return render(request, "dashboard_answers.html", rows=rows, label=label,
                  question=view.title(question), period_key=pkey, back=_qs(params))


async def export_tallies(request: web.Request) -> web.Response:
    """The page's tallies, every row, as CSV, XLSX or JSON."""
    params, view = await _view(request)
    fmt = request.match_info["fmt"]
    name = f"tallies-{params['by']}-{params['period']}"
    if fmt == "json":
        body = exports.json_text({"by": view.by, "period": view.period,
                                  "from": params["from"], "to": params["to"],
                                  "min_answers": view.min_answers,
                                  "questions": {q: view.title(q) for q in view.questions},
                                  "rows": [tl.as_dict() for tl in view.table()]})
        return _download(body.encode(), "application/json", f"{name}.json")
    sheet = exports.tally_sheet(view.table(), view.titles, "统计 Tallies")
    return _file(fmt, [sheet], name)


async def export_records(request: web.Request) -> web.Response:
    """The answers behind the page's shown figures (no one who answered) as CSV or XLSX."""
    _, view = await _view(request)
    sheet = await records.sheet(view)
    return _file(request.match_info["fmt"], [sheet], "records")


def _download(body: bytes, content_type: str, filename: str) -> web.Response:
    return web.Response(body=body, content_type=content_type,
                        charset="utf-8" if not content_type.endswith("sheet") else None,
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _file(fmt: str, sheets: list[exports.Sheet], name: str) -> web.Response:
    if fmt == "csv":
        return _download(exports.csv_text(sheets).encode("utf-8"), "text/csv", f"{name}.csv")
    return _download(exports.xlsx_bytes(sheets), XLSX, f"{name}.xlsx")


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _followup_ops(request: web.Request) -> tuple[dict[str, Any], Scope, list[Any]]:
    params, scope = await _params(request)
    rt = request.app[RUNTIME]
    ops = await operations.operations(
        rt.settings.tallies, rt.settings.tz, rt.now(), by=params["by"], period=params["period"],
        scope=scope, on_time_hours=rt.settings.checkin.on_time_hours)
    return params, scope, ops


async def followup(request: web.Request) -> web.Response:
    """Follow-up operations and complaint handling per group and period: the table paginated
    (``[tallies] page_rows``), every row in the exports."""
    params, scope = await _params(request)
    rt = request.app[RUNTIME]
    cfg = rt.settings.tallies
    page = max(1, _int(request.query.get("page"), "page") or 1)
    size = cfg.page_rows
    first = (page - 1) * size
    # one page, ordered, cut and counted by the database (the exports hold every row)
    ops, total = await operations.operations_page(
        cfg, rt.settings.tz, rt.now(), by=params["by"], period=params["period"], scope=scope,
        on_time_hours=rt.settings.checkin.on_time_hours, first=first, size=size)
    esc = await operations.open_escalations_by_kind(
        sorted(scope.departments) if scope.departments is not None else None)
    names = await tallies.department_names()
    if scope.departments is not None:
        names = {k: v for k, v in names.items() if k in scope.departments}
    return render(request, "dashboard_followup.html", ops=ops,
                  escalations=esc, params=params,
                  dimensions=tallies.DIMENSIONS, periods=tallies.PERIODS, qs=_qs(params),
                  departments=sorted(names.items(), key=lambda kv: kv[1]),
                  coverage_target=cfg.coverage_target, page=page,
                  pages=max(1, -(-total // size)), first=first, total_rows=total)


async def export_followup(request: web.Request) -> web.Response:
    """The follow-up page's figures, every row, as CSV, XLSX or JSON."""
    params, _, ops = await _followup_ops(request)
    fmt = request.match_info["fmt"]
    name = f"followup-{params['by']}-{params['period']}"
    if fmt == "json":
        body = exports.json_text({
            "by": params["by"], "period": params["period"], "from": params["from"],
            "to": params["to"],
            "rows": [{**o.as_dict(), "key_id": _key_param(o.key_id),
                      "department": o.department} for o in ops]})
        return _download(body.encode(), "application/json", f"{name}.json")
    return _file(fmt, [operations.sheet(ops)], name)


async def _report(request: web.Request) -> reports.Report:
    staff = await require_staff(request, roles=VIEWERS)
    rt = request.app[RUNTIME]
    period = request.query.get("period") or reports.default_period(
        reports.local_today(rt.now(), rt.settings.tz))
    _range(period, "period")
    try:
        return await reports.build_report(
            rt.settings, rt.now(),
            reports.ReportRequest(period, await _viewer_departments(staff)))
    except TallyError as e:
        raise web.HTTPBadRequest(text=str(e)) from e


async def monthly(request: web.Request) -> web.Response:
    """The monthly (or quarterly) report as a printable page."""
    rep = await _report(request)
    return render(request, "report_monthly.html", r=rep,
                  period_qs=urlencode({"period": rep.period}))


async def monthly_file(request: web.Request) -> web.Response:
    """The report as CSV, XLSX (one sheet per section) or JSON."""
    rep = await _report(request)
    fmt = request.match_info["fmt"]
    name = f"report-{rep.period}"
    if fmt == "json":
        return _download(exports.json_text(rep.as_dict()).encode(), "application/json",
                         f"{name}.json")
    return _file(fmt, rep.sheets(), name)
