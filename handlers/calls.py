"""The staff call list pages (电话回访): the list, one call (claim, dial, record the outcome and
the answers in the survey form), and the coverage figures. Rules live in
``bot.phone.calllist``; here we translate requests and errors.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot.keys import RUNTIME
from bot.phone import calllist, coverage
from bot.privacy import mask_name, mask_phone
from bot.staff import StaffError, department_ids
from handlers.auth import signed_in
from handlers.calls_messages import CALLS_ERRORS_ZH
from handlers.h5 import MAX_COMMENT
from handlers.i18n import language
from handlers.staff import page, span
from handlers.staff_messages import ERRORS_ZH
from handlers.validate import (
    ID_PART,
    form_text,
    query_text,
    read_form,
    refuse,
    route_id,
)
from models import Department, Role
from surveys import engine

_WHEN = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2})")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
NOTICES = ("claim", "record", "release")


def setup(app: web.Application) -> None:
    """Register the call list routes (CSRF-checked like every /staff/ form)."""
    r = app.router
    r.add_get("/staff/calls", list_page)
    r.add_get("/staff/calls/coverage", coverage_page)
    r.add_get("/staff/calls/" + ID_PART, task_page)
    for action in ("claim", "release", "record"):
        r.add_post(f"/staff/calls/{ID_PART}/{action}", _ACTIONS[action])


def _lang(request: web.Request) -> str:
    return language(request, request.app[RUNTIME].settings.web.default_language)


def say(request: web.Request, error: str) -> str:
    """A service error in the page's language."""
    if _lang(request) != "zh":
        return error
    for pattern, zh in (*CALLS_ERRORS_ZH, *ERRORS_ZH):
        m = re.fullmatch(pattern, error)
        if m:
            return m.expand(zh)
    return error


def _row(request: web.Request, v: calllist.TaskView, now: datetime) -> dict[str, Any]:
    rt = request.app[RUNTIME]
    t = v.task
    state = v.deadline.state(now)
    return {
        "id": t.id, "status": t.status.value, "department": v.department,
        "contact": mask_name(v.contact.name), "phone": mask_phone(v.contact.phone),
        "reason": t.reason, "treatment": v.treatment or "—", "survey": v.survey,
        "visit": rt.local(v.visit).strftime("%Y-%m-%d"),
        "due": rt.local(t.due_at).strftime("%m-%d %H:%M"),
        "callable": v.can_call(now),
        "callable_at": rt.local(v.callable_at).strftime("%m-%d %H:%M"),
        "attempts": [{"channel": a.channel, "count": a.count,
                      "last": rt.local(a.last).strftime("%m-%d %H:%M") if a.last else ""}
                     for a in v.attempts],
        "staff_calls": len(v.staff_calls),
        "assignee": t.assignee.display_name if t.assignee else "",
        "outcome": t.outcome or "",
        "timer": {"state": state, "span": span((v.deadline.due - now).total_seconds(),
                                               _lang(request)),
                  "due": rt.local(v.deadline.due).strftime("%m-%d %H:%M")},
    }


async def list_page(request: web.Request) -> web.Response:
    """The call list: to call / mine / all open / done, by due time; per department."""
    me = await signed_in(request)
    rt = request.app[RUNTIME]
    view = request.query.get("view", "due")
    if view not in calllist.VIEWS:
        view = "due"
    department = query_text(request, "department", max_len=64)
    tasks = await calllist.worklist(rt, me, view=view, department=department)
    now = rt.now()
    depts = await department_ids(me)
    dq = Department.all() if depts is None else Department.filter(id__in=sorted(depts))
    return await page(request, "calls.html", items=[_row(request, v, now) for v in tasks],
                      view=view, department=department, counts=await calllist.counts(me),
                      departments=await dq.order_by("name"),
                      hours=", ".join(rt.settings.voice.call_hours),
                      can_cover=me.role != Role.AGENT)


async def _task_view(request: web.Request, me: Any, task_id: int, *, status: int = 200,
                     error: str = "", notice: str = "",
                     values: dict[str, str] | None = None) -> web.Response:
    rt = request.app[RUNTIME]
    v = await calllist.get_visible(rt, me, task_id)
    now = rt.now()
    holder = v.task.status.value == "claimed" and v.task.assignee_id == me.id
    questions: list[dict[str, Any]] = []
    if holder:
        from bot.planner import engine_context
        from models import CheckIn

        survey, conv = await calllist.survey_of(rt, v.task)
        ctx, _ = await engine_context(rt, await CheckIn.get(id=v.task.checkin_id))
        questions = [{"id": q.id, "kind": q.kind, "text": engine.render(q.text, ctx),
                      "labels": {k: q.labels.get(k, "") for k in range(1, 6)}}
                     for q in calllist.remaining_questions(survey, conv.state)]
    calls = [{"at": rt.local(c.placed_at).strftime("%m-%d %H:%M"), "outcome": c.outcome,
              "note": c.note} for c in v.staff_calls]
    resp = await page(
        request, "call_task.html", status=status, c=_row(request, v, now), v=v, holder=holder,
        name=v.contact.name if holder else mask_name(v.contact.name),
        phone=(v.contact.phone or "") if holder else mask_phone(v.contact.phone),
        tel=holder and rt.settings.calls.tel_links and bool(v.contact.phone),
        outcomes=calllist.OUTCOMES, questions=questions, values=values or {},
        h5=rt.settings.h5, max_comment=MAX_COMMENT, calls=calls, error=error,
        notice=notice if notice in NOTICES else "",
        today=rt.local(now).strftime("%Y-%m-%dT%H:%M"),
        hours=", ".join(rt.settings.voice.call_hours))
    if holder:
        resp.headers["Cache-Control"] = "no-store"  # the number stays off disk
    return resp


async def task_page(request: web.Request) -> web.Response:
    """One call: the visit, the attempts so far, claim; when claimed, the number, a tel: link,
    the outcome and the survey form."""
    me = await signed_in(request)
    try:
        return await _task_view(request, me, route_id(request),
                                notice=request.query.get("done", ""))
    except StaffError as e:
        raise web.HTTPNotFound(text=say(request, str(e))) from e


def _when(rt: Any, text: str) -> datetime | None:
    """A ``datetime-local`` value in the organisation's zone (None when empty)."""
    text = text.strip()
    if not text:
        return None
    m = _WHEN.fullmatch(text)
    if m is None:
        raise StaffError("reschedule: the time is not a date and time", 422)
    y, mo, d, hh, mm = (int(g) for g in m.groups())
    if not 1900 <= y <= 2100:
        raise StaffError("reschedule: the time is not a date and time", 422)
    try:
        return datetime(y, mo, d, hh, mm, tzinfo=rt.settings.tz)
    except ValueError:
        raise StaffError("reschedule: the time is not a date and time", 422) from None


async def _act(request: web.Request, action: str) -> web.Response:
    me = await signed_in(request)
    rt = request.app[RUNTIME]
    task_id = route_id(request)
    form = await read_form(request)
    values: dict[str, str] = {}
    try:
        if action == "claim":
            await calllist.claim(rt, me, task_id)
        elif action == "release":
            await calllist.release(rt, me, task_id)
        else:
            outcome = form_text(form, "outcome", max_len=16, single_line=True)
            values = {k: form_text(form, k, max_len=MAX_COMMENT) for k in form
                      if k.startswith("q_") and len(k) <= 66}
            values["comment"] = form_text(form, "comment", max_len=MAX_COMMENT)
            await calllist.record(rt, me, task_id, calllist.Outcome(
                outcome=outcome, note=form_text(form, "note", max_len=calllist.MAX_NOTE),
                when=_when(rt, form_text(form, "when", max_len=32, single_line=True)),
                answers={k[2:]: v for k, v in values.items() if k.startswith("q_")},
                comment=values["comment"]))
    except StaffError as e:
        if e.status == 404:
            raise web.HTTPNotFound(text=say(request, str(e))) from e
        try:
            return await _task_view(request, me, task_id, status=e.status,
                                    error=say(request, str(e)), values=values)
        except StaffError as missing:
            # A bad form for a call that is not there (or not this member's): the page it
            # would be shown on does not exist either.
            raise web.HTTPNotFound(text=say(request, str(missing))) from missing
    if action == "release":
        raise web.HTTPSeeOther("/staff/calls?view=due")
    raise web.HTTPSeeOther(f"/staff/calls/{task_id}?done={action}")


def _action(name: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return await _act(request, name)

    handler.__name__ = f"call_{name}"
    return handler


_ACTIONS = {name: _action(name) for name in ("claim", "release", "record")}


async def coverage_page(request: web.Request) -> web.Response:
    """应随访 / 已随访 / 随访率 / 接通率 / 完成率 / 失访 by department and channel (heads see
    their departments; managers and admins every one)."""
    me = await signed_in(request, roles={Role.HEAD, Role.MANAGER, Role.ADMIN})
    rt = request.app[RUNTIME]
    today = rt.local(rt.now()).date()
    start = query_text(request, "from", max_len=10) or (today - timedelta(days=29)).isoformat()
    end = query_text(request, "to", max_len=10) or today.isoformat()
    for name, value in (("from", start), ("to", end)):
        if not _DAY.fullmatch(value) or not 1900 <= int(value[:4]) <= 2100:
            refuse(422, f"{name} must be a date, YYYY-MM-DD, between 1900 and 2100")
    try:
        since = datetime.fromisoformat(start).replace(tzinfo=rt.settings.tz)
        until = datetime.fromisoformat(end).replace(tzinfo=rt.settings.tz) + timedelta(days=1)
    except ValueError:
        refuse(422, "from and to must be dates, YYYY-MM-DD")
    if until <= since:
        refuse(422, "to must not be before from")
    rows = await coverage.figures(since, until, await department_ids(me))
    return await page(request, "calls_coverage.html", rows=rows, start=start, end=end)
