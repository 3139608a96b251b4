"""The staff workspace pages: sign-in, queues, an escalation (claim, reply, resolve, reveal),
notifications, staff admin and the audit log. Rules live in ``bot.staff``; here we translate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from bot import staff as svc
from bot.channels import pause
from bot.escalations import notify, sla
from bot.keys import RUNTIME
from bot.privacy import mask_name, mask_phone
from bot.staff import inbox
from handlers.auth import (
    SESSION_COOKIE,
    csrf_middleware,
    csrf_token,
    current_staff,
    login_csrf,
    set_login_csrf,
    signed_in,
)
from handlers.i18n import language, question_title
from handlers.render import render
from handlers.staff_live import history_item
from handlers.staff_messages import ERRORS_ZH
from handlers.validate import (
    ID_PART,
    ascii_int,
    choice,
    clean_text,
    form_text,
    query_text,
    read_form,
    route_id,
)
from models import (
    Answer,
    AuditEvent,
    CheckIn,
    Contact,
    Conversation,
    Department,
    Escalation,
    EscalationStatus,
    Message,
    Notification,
    NotificationChannel,
    Role,
    Staff,
)

WECHAT_WINDOW = timedelta(hours=48)


def setup(app: web.Application) -> None:
    """Register the staff routes and the CSRF check."""
    app.middlewares.append(csrf_middleware)
    r = app.router
    r.add_get("/staff", staff_home)
    r.add_get("/staff/login", login_page)
    r.add_post("/staff/login", login_post)
    r.add_post("/staff/logout", logout_post)
    r.add_get("/staff/queue", queue_page)
    r.add_get("/staff/queue/rows", queue_rows)
    r.add_get("/staff/escalations/" + ID_PART, escalation_page)
    for action in ("claim", "release", "reassign", "reply", "resolve", "reveal", "note"):
        r.add_post(f"/staff/escalations/{ID_PART}/{action}", _ACTIONS[action])
    r.add_get("/staff/conversations/" + ID_PART, conversation_page)
    r.add_get("/staff/notifications", notifications_page)
    r.add_get("/staff/admin", admin_page)
    r.add_post("/staff/admin/staff", admin_create)
    r.add_post("/staff/admin/staff/" + ID_PART, admin_update)
    r.add_get("/staff/audit", audit_page)


async def staff_home(request: web.Request) -> web.Response:
    """/staff goes to the queue."""
    raise web.HTTPSeeOther("/staff/queue")


async def page(request: web.Request, template: str, *, status: int = 200,
               **context: Any) -> web.Response:
    """Render a staff page with the member, the unread count and the CSRF token."""
    me = await current_staff(request)
    # Admins and managers see a paused channel in the header on every page: messages wait
    # until someone fixes the set-up and resumes it.
    rt = request.app[RUNTIME]
    pauses = [replace(p, until=rt.local(p.until) if p.until else None)
              for p in await pause.active(rt.now())
              ] if me is not None and me.role in (Role.ADMIN, Role.MANAGER) else []
    resp = render(request, template, me=me, csrf=await csrf_token(request),
                  unread=await notify.unread_count(me.id) if me else 0, pauses=pauses,
                  **context)
    resp.set_status(status)
    return resp


def _lang(request: web.Request) -> str:
    return language(request, request.app[RUNTIME].settings.web.default_language)


def say(request: web.Request, error: str) -> str:
    """A service error in the page's language."""
    if _lang(request) != "zh":
        return error
    for pattern, zh in ERRORS_ZH:
        m = re.fullmatch(pattern, error)
        if m:
            return m.expand(zh)
    return error


def span(seconds: float, lang: str) -> str:
    """A short human duration: 2天3小时 / 2d 3h, 25分 / 25 min."""
    s = int(abs(seconds))
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    zh = lang == "zh"
    if d:
        return f"{d}天{h}小时" if zh else f"{d}d {h}h"
    if h:
        return f"{h}小时{m}分" if zh else f"{h}h {m}min"
    return f"{m}分钟" if zh else f"{m} min"


def _timers(request: web.Request, esc: Escalation, now: datetime) -> list[dict[str, Any]]:
    rt = request.app[RUNTIME]
    lang = _lang(request)
    out = []
    for d in sla.deadlines(rt, esc):
        state = d.state(now)
        left = (d.due - now).total_seconds()
        out.append({"name": d.name, "state": state, "span": span(left, lang),
                    "due": rt.local(d.due).strftime("%m-%d %H:%M")})
    return out


def _item(request: web.Request, esc: Escalation, now: datetime,
          facts: inbox.RowFacts | None = None) -> dict[str, Any]:
    rt = request.app[RUNTIME]
    timers = _timers(request, esc, now)
    # The queue shows the most pressing running clock (or the worst breach).
    pressing = next((t for t in timers if t["state"] == "breached"), None) or next(
        (t for t in timers if t["state"] == "running"), None)
    contact = esc.conversation.contact
    return {
        "id": esc.id, "priority": esc.priority.value, "kinds": esc.kinds or [esc.kind.value],
        "department": esc.department.name if esc.department else "—",
        "conversation_id": esc.conversation_id,
        "contact": mask_name(contact.name), "phone": mask_phone(contact.phone),
        "reason": esc.reason, "status": esc.status.value,
        "assignee": esc.assignee.display_name if esc.assignee else "",
        "opened_at": rt.local(esc.opened_at).strftime("%m-%d %H:%M"),
        "timer": pressing, "level": esc.sla_level, "outcome": esc.outcome or "",
        "preview": facts.preview if facts else "",
        "preview_sender": facts.preview_sender if facts else "",
        "last_at": rt.local(facts.last_at).strftime("%m-%d %H:%M")
        if facts and facts.last_at else "",
        "unread": bool(facts and facts.unread), "replied": bool(facts and facts.replied),
    }


async def _queue_context(request: web.Request) -> dict[str, Any]:
    me = await signed_in(request)
    q = request.query
    view = q.get("view", "unassigned")
    if view not in svc.VIEWS:
        view = "unassigned"
    filters = {k: query_text(request, k, max_len=64) for k in ("kind", "priority", "department")}
    if filters["priority"]:
        choice(filters["priority"], "priority", svc.PRIORITY_RANK)
    rows = await svc.queue(me, view=view, kind=filters["kind"], priority=filters["priority"],
                           department=filters["department"])
    now = request.app[RUNTIME].now()
    depts = await svc.department_ids(me)
    dq = Department.all() if depts is None else Department.filter(id__in=list(depts))
    facts = await inbox.row_facts(me, rows)
    return {"items": [_item(request, e, now, facts.get(e.id)) for e in rows], "view": view,
            "filters": filters, "counts": await inbox.view_counts(me),
            "departments": await dq.order_by("name"), "query": request.query_string}


async def queue_page(request: web.Request) -> web.Response:
    """The queue: Unassigned / Mine / All / Resolved, with filters; refreshes itself."""
    return await page(request, "staff_queue.html", **await _queue_context(request))


async def queue_rows(request: web.Request) -> web.Response:
    """Just the rows, for the page's live refresh."""
    return render(request, "staff_queue_rows.html", **await _queue_context(request))


# --- one escalation ---


def _channel_hint(conv: Conversation, now: datetime) -> str:
    contact = conv.contact
    if conv.channel == "wechat":
        last = contact.last_inbound_at
        if last is not None and contact.last_inbound_channel == "wechat" \
                and now - last < WECHAT_WINDOW:
            return "wechat_window"
        return "wechat_outside"
    return conv.channel


async def _history(request: web.Request, contact: Contact, mask: Callable[[str], str],
                   escalation_ids: list[int] | None = None) -> list[dict[str, Any]]:
    """The person's whole history (bot, person, staff), masked unless revealed, with the
    internal notes of ``escalation_ids`` in their place."""
    rt = request.app[RUNTIME]
    msgs = list(reversed(await Message.filter(contact_id=contact.id).order_by("-id").limit(500)))
    items = [{**history_item(rt, m, mask), "kind": "message", "ts": m.created_at}
             for m in msgs]
    for esc_id in escalation_ids or []:
        for n in await inbox.notes(esc_id):
            items.append({"kind": "note", "body": mask(n.body), "ts": n.created_at,
                          "who": n.staff.display_name if n.staff else "?",
                          "at": rt.local(n.created_at).strftime("%m-%d %H:%M")})
    return sorted(items, key=lambda i: (i["ts"], i["kind"] == "note"))


async def _sidebar(request: web.Request, esc: Escalation, conv: Conversation,
                   contact: Contact) -> dict[str, Any]:
    """The visit and this contact's earlier answers and escalations."""
    rt = request.app[RUNTIME]
    visit: dict[str, Any] = {"channel": conv.channel}
    if conv.checkin_id is not None:
        checkin = await CheckIn.get(id=conv.checkin_id).prefetch_related("episode__department")
        ep = checkin.episode
        visit.update(department=ep.department.name, clinician=ep.clinician_name or "—",
                     treatment=ep.treatment_type or "—",
                     date=rt.local(ep.occurred_at).strftime("%Y-%m-%d"))
    conv_ids = [c for c in await Conversation.filter(contact_id=contact.id).values_list(
        "id", flat=True)]
    answers = [{"question": question_title(rt.settings, a.survey_id, a.question_id),
                "score": a.score, "day": a.local_day or "", "channel": a.channel}
               for a in await Answer.filter(conversation_id__in=conv_ids, score__isnull=False)
               .order_by("-id").limit(20)]
    earlier = [{"id": e.id, "kinds": e.kinds or [e.kind.value], "status": e.status.value,
                "outcome": e.outcome or "", "opened_at": rt.local(e.opened_at).strftime("%Y-%m-%d")}
               for e in await Escalation.filter(conversation_id__in=conv_ids).exclude(id=esc.id)
               .order_by("-id").limit(20)]
    return {"visit": visit, "answers": answers, "earlier": earlier}


async def _escalation_view(request: web.Request, me: Staff, esc_id: int, *, status: int = 200,
                           error: str = "", revealed: dict[str, str] | None = None,
                           notice: str = "") -> web.Response:
    rt = request.app[RUNTIME]
    esc = await svc.get_visible(me, esc_id)
    conv = await Conversation.get(id=esc.conversation_id).prefetch_related("contact")
    contact = conv.contact
    now = rt.now()
    holder = esc.status == EscalationStatus.CLAIMED and esc.assignee_id == me.id
    colleagues: list[Staff] = []
    if me.role in svc.LEADS and esc.status != EscalationStatus.RESOLVED:
        for s in await Staff.filter(is_active=True).order_by("display_name"):
            if await svc.can_see(s, esc):
                colleagues.append(s)
    canned = [svc.fill_canned(rt, me, esc, c) for c in rt.settings.staff.canned_replies]
    mask = (lambda text: text) if revealed else await inbox.masker_for(contact)
    messages = await _history(request, contact, mask, [esc.id])
    last_id = max((m["id"] for m in messages if m["kind"] == "message"), default=0)
    await inbox.mark_read(rt, me, esc, contact.id)
    return await page(
        request, "escalation.html", status=status, e=_item(request, esc, now), esc=esc,
        timers=_timers(request, esc, now), messages=messages, last_id=last_id,
        note=mask(esc.note or ""), side=await _sidebar(request, esc, conv, contact),
        holder=holder, colleagues=colleagues, canned=canned,
        outcomes=rt.settings.staff.outcomes, channel_hint=_channel_hint(conv, now),
        revealed=revealed, error=error, notice=notice, is_lead=me.role in svc.LEADS,
        after_default=svc.default_after(esc), red_flag="red_flag" in (esc.kinds or []),
        later_hours=rt.settings.staff.follow_up_later_hours,
        stopped=bool(svc.stop_reason(contact)),
    )


async def escalation_page(request: web.Request) -> web.Response:
    """An escalation: the whole conversation, its clocks and what this member may do."""
    me = await signed_in(request)
    try:
        done = request.query.get("done", "")
        return await _escalation_view(request, me, route_id(request),
                                      notice=done if done in _ACTIONS else "")
    except svc.StaffError as e:
        raise web.HTTPNotFound(text=str(e)) from e


def _done(esc_id: int, what: str) -> web.HTTPSeeOther:
    return web.HTTPSeeOther(f"/staff/escalations/{esc_id}?done={what}")


async def _act(request: web.Request, action: str) -> web.Response:
    me = await signed_in(request)
    rt = request.app[RUNTIME]
    esc_id = route_id(request)
    form = await read_form(request)
    try:
        if action == "claim":
            result = await svc.claim(rt, me, esc_id)
            if not result.won:
                return await _escalation_view(request, me, esc_id, status=409,
                                              error=f"taken:{result.holder}")
        elif action == "release":
            await svc.release(rt, me, esc_id)
        elif action == "reassign":
            to = form.get("to", "")
            if not to:
                raise svc.StaffError("pick who takes it over")
            await svc.reassign(rt, me, esc_id, ascii_int(to, "to", hi=2**31 - 1))
        elif action == "reply":
            await svc.reply(rt, me, esc_id, form_text(form, "text", max_len=4000))
        elif action == "resolve":
            await svc.resolve(rt, me, esc_id,
                              outcome=form_text(form, "outcome", max_len=64, single_line=True),
                              note=form_text(form, "note", max_len=4000),
                              after=form_text(form, "after", max_len=16, default="close"))
        elif action == "note":
            await inbox.add_note(rt, me, esc_id, form_text(form, "text", max_len=4000))
        elif action == "reveal":
            revealed = await svc.reveal(rt, me, esc_id, form_text(form, "why", max_len=500))
            resp = await _escalation_view(request, me, esc_id, revealed=revealed)
            resp.headers["Cache-Control"] = "no-store"  # revealed details stay off disk
            return resp
    except svc.StaffError as e:
        if e.status == 404:
            raise web.HTTPNotFound(text=str(e)) from e
        try:
            return await _escalation_view(request, me, esc_id, status=e.status,
                                          error=say(request, str(e)))
        except svc.StaffError:
            # Not this member's to see (another department's): the refusal, without the page.
            raise web.HTTPForbidden(text=say(request, str(e))) from e
    if action == "resolve":
        raise web.HTTPSeeOther("/staff/queue?view=mine")
    raise _done(esc_id, action)


def _action(name: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return await _act(request, name)

    handler.__name__ = f"escalation_{name}"
    return handler


_ACTIONS = {name: _action(name) for name in
            ("claim", "release", "reassign", "reply", "resolve", "reveal", "note")}


async def conversation_page(request: web.Request) -> web.Response:
    """A conversation's whole history (masked), with links to its escalations."""
    me = await signed_in(request)
    conv = await Conversation.get_or_none(id=route_id(request)).prefetch_related(
        "contact")
    if conv is None:
        raise web.HTTPNotFound(text="no such conversation")
    escs = [e for e in await Escalation.filter(conversation_id=conv.id).order_by("-id")
            if await svc.can_see(me, e)]
    if not escs and await svc.department_ids(me) is not None:
        raise web.HTTPNotFound(text="no such conversation in your departments")
    messages = await _history(request, conv.contact, await inbox.masker_for(conv.contact),
                              [e.id for e in escs])
    return await page(request, "conversation.html", messages=messages,
                      last_id=max((m["id"] for m in messages if m["kind"] == "message"),
                                  default=0),
                      live_escalation=escs[0].id if escs else 0,
                      contact=mask_name(conv.contact.name), phone=mask_phone(conv.contact.phone),
                      escalations=escs)


# --- sign-in ---


# A path on this site: "/" then printable ASCII, never "//" or "/\\" (browsers read both as
# another host), no spaces or controls (they cannot go in a Location header).
_LOCAL_PATH = re.compile(r"/(?![/\\])[!-~]{0,1999}")


def _safe_next(value: str) -> str:
    ok = _LOCAL_PATH.fullmatch(value) is not None and "\\" not in value
    return value if ok else "/staff/queue"


async def login_page(request: web.Request) -> web.Response:
    """The sign-in form."""
    if await current_staff(request) is not None:
        raise web.HTTPSeeOther(_safe_next(request.query.get("next", "")))
    return await _login_form(request, "", 200)


async def _login_form(request: web.Request, error: str, status: int) -> web.Response:
    nxt = _safe_next(request.query.get("next", "") or (await read_form(request)).get("next", ""))
    token = login_csrf(request)
    resp = render(request, "login.html", me=None, csrf="", unread=0, error=error, next=nxt,
                  login_csrf=token)
    set_login_csrf(request, resp, token)
    resp.set_status(status)
    return resp


async def login_post(request: web.Request) -> web.Response:
    """Check the password (throttled per username and address) and start a session."""
    rt = request.app[RUNTIME]
    form = await read_form(request)
    ip = request.remote or ""
    try:
        username = form.get("username", "")
        password = form.get("password", "")
        if len(username) > 64 or len(password) > 1024:
            raise svc.StaffError("a username is at most 64 characters, a password 1024", 422)
        signed = await svc.login(rt, username, password, ip)
    except svc.StaffError as e:
        return await _login_form(request, say(request, str(e)), e.status)
    resp = web.HTTPSeeOther(_safe_next(form.get("next", "")))
    resp.set_cookie(SESSION_COOKIE, signed.token, httponly=True, samesite="Lax", path="/",
                    secure=rt.settings.server.base_url().startswith("https://"),
                    max_age=rt.settings.staff.session_hours * 3600)
    raise resp


async def logout_post(request: web.Request) -> web.Response:
    """End the session."""
    await svc.logout(request.cookies.get(SESSION_COOKIE, ""))
    resp = web.HTTPSeeOther("/staff/login")
    resp.del_cookie(SESSION_COOKIE, path="/")
    raise resp


# --- notifications, admin, audit ---


async def notifications_page(request: web.Request) -> web.Response:
    """This member's in-app notifications, newest first; viewing marks them read."""
    me = await signed_in(request)
    rt = request.app[RUNTIME]
    rows = await Notification.filter(channel=NotificationChannel.APP, staff_id=me.id).order_by(
        "-id").limit(200)
    items = [{"event": n.event, "text": n.text, "escalation_id": n.escalation_id,
              "unread": n.read_at is None, "at": rt.local(n.created_at).strftime("%m-%d %H:%M")}
             for n in rows]
    await notify.mark_read(me.id, rt.now())
    return await page(request, "notifications.html", items=items)


async def _admin_view(request: web.Request, *, error: str = "", notice: str = "",
                      status: int = 200) -> web.Response:
    members = await Staff.all().order_by("username").prefetch_related("departments")
    return await page(request, "staff_admin.html", status=status, members=members,
                      departments=await Department.all().order_by("code"),
                      coverage=await svc.uncovered_departments(),
                      roles=[r.value for r in Role], error=error, notice=notice)


async def admin_page(request: web.Request) -> web.Response:
    """Admins manage staff accounts, roles and departments."""
    await signed_in(request, roles={Role.ADMIN})
    done = request.query.get("done", "")
    return await _admin_view(request, notice=done if done in ("created", "updated") else "")


def _codes(form: Any) -> list[str]:
    return [clean_text(c, "departments", max_len=64, single_line=True)
            for c in form.getall("departments", [])][:200]


async def admin_create(request: web.Request) -> web.Response:
    """Create a staff account."""
    me = await signed_in(request, roles={Role.ADMIN})
    form = await read_form(request)
    try:
        s = await svc.create_staff(
            username=form_text(form, "username", max_len=64, single_line=True).strip(),
            display_name=form_text(form, "display_name", max_len=128,
                                   single_line=True).strip(),
            role=form_text(form, "role", max_len=16, default="agent"),
            password=form_text(form, "password", max_len=1024),
            departments=_codes(form),
        )
    except svc.StaffError as e:
        return await _admin_view(request, error=say(request, str(e)), status=e.status)
    await _audit_admin(request, me, "staff_created", s)
    raise web.HTTPSeeOther("/staff/admin?done=created")


async def admin_update(request: web.Request) -> web.Response:
    """Change a member's role, departments, active flag or password."""
    me = await signed_in(request, roles={Role.ADMIN})
    target = await Staff.get_or_none(id=route_id(request))
    if target is None:
        raise web.HTTPNotFound(text="no such staff member")
    form = await read_form(request)
    active = form.get("active") == "on"
    if target.id == me.id and (not active or form.get("role") != Role.ADMIN.value):
        return await _admin_view(request, status=400,
                                 error=say(request, "you cannot demote or deactivate yourself"))
    try:
        await svc.update_staff(target, role=form_text(form, "role", max_len=16,
                                                      default=target.role.value),
                               departments=_codes(form), active=active,
                               password=form_text(form, "password", max_len=1024) or None)
    except svc.StaffError as e:
        return await _admin_view(request, error=say(request, str(e)), status=e.status)
    await _audit_admin(request, me, "staff_updated", target)
    raise web.HTTPSeeOther("/staff/admin?done=updated")


async def _audit_admin(request: web.Request, me: Staff, kind: str, target: Staff) -> None:
    from bot import ledger

    await target.fetch_related("departments")
    await ledger.append(AuditEvent, kind=kind, actor=me.username, subject_type="staff",
                        subject_id=str(target.id),
                        data={"role": target.role.value, "active": target.is_active,
                              "departments": sorted(d.code for d in target.departments)},
                        recorded_at=request.app[RUNTIME].now())


async def audit_page(request: web.Request) -> web.Response:
    """The audit trail (admins): who did what, newest first; filter by kind or actor."""
    await signed_in(request, roles={Role.ADMIN})
    rt = request.app[RUNTIME]
    q = AuditEvent.all()
    kind, actor = query_text(request, "kind", max_len=64), query_text(request, "actor",
                                                                        max_len=64)
    if kind:
        q = q.filter(kind=kind)
    if actor:
        q = q.filter(actor=actor)
    rows = await q.order_by("-id").limit(300)
    mask = await inbox.masker_for_audit(rows)  # a reason or a note may name the person
    items = [{"id": a.id, "kind": a.kind, "actor": a.actor,
              "subject": f"{a.subject_type} {a.subject_id}",
              "data": mask(json.dumps(a.data, ensure_ascii=False, sort_keys=True)),
              "at": rt.local(a.recorded_at).strftime("%Y-%m-%d %H:%M:%S")} for a in rows]
    return await page(request, "audit.html", items=items, kind=kind, actor=actor)
