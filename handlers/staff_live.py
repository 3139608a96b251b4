"""The live staff workspace: server-sent events, their polling fallback, read marks, the layout
every signed-in page shares (unread count, the urgent alerts banner) and error pages inside it.

``GET /staff/events`` is a server-sent event stream (``text/event-stream``) for the page that
opened it: ``alerts`` (unclaimed urgent escalations this member can see: the banner, a sound,
a browser notification), ``unread`` (the header badge), ``queue`` (the queue's rows changed)
and, on an escalation page, ``message`` (each new message of its conversation, masked, as the
HTML the page appends) and ``escalation`` (claimed, released or resolved meanwhile). The
stream wakes on ``rt.live`` (every process on PostgreSQL, bot.wakeups) and looks again every
few seconds besides. ``GET /staff/live`` answers the same once, as JSON: the page polls it
only when EventSource is missing or keeps failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot import staff as svc
from bot.escalations import notify
from bot.keys import RUNTIME
from bot.staff import inbox
from handlers.auth import csrf_token, current_staff, signed_in
from handlers.i18n import language, translator
from handlers.render import LAYOUT, render, render_string
from handlers.staff_messages import ERRORS_ZH
from models import (
    Contact,
    Conversation,
    Direction,
    Escalation,
    EscalationStatus,
    Message,
    Staff,
    StaffRead,
)

log = logging.getLogger(__name__)

LOOK_AGAIN = 5.0  # seconds between looks when nothing woke the stream
STREAM_FOR = 600.0  # a stream ends after this; EventSource reconnects by itself
# Pages whose layout needs nothing (fragments, streams, the patient's pages, machines).
_BARE = ("/static/", "/staff/events", "/staff/live", "/staff/queue/rows", "/s/", "/api/",
         "/wechat", "/sms/", "/healthz", "/simulator/api/")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def setup(app: web.Application) -> None:
    """Register the live routes and the layout and error middlewares."""
    app.middlewares.append(error_middleware)
    app.middlewares.append(layout_middleware)
    app.router.add_get("/staff/events", events)
    app.router.add_get("/staff/live", live)
    app.router.add_post("/staff/escalations/{id:\\d+}/seen", seen)


# --- layout and errors ---


async def alert_items(request: web.Request, me: Staff) -> list[dict[str, Any]]:
    """The banner's unclaimed urgent escalations (no names: ids, kinds, department)."""
    rt = request.app[RUNTIME]
    t = translator(language(request, rt.settings.web.default_language))
    return [{"id": e.id, "kinds": "、".join(t("kind." + k) for k in (e.kinds or [e.kind.value])),
             "department": e.department.name if e.department else "—",
             "opened": rt.local(e.opened_at).strftime("%H:%M"),
             "url": f"/staff/escalations/{e.id}"} for e in await inbox.alerts(me)]


@web.middleware
async def layout_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """For a signed-in member's pages: who they are, unread notifications, urgent alerts."""
    if request.method == "GET" and not request.path.startswith(_BARE):
        me = await current_staff(request)
        if me is not None:
            request[LAYOUT] = {"me": me, "csrf": await csrf_token(request),
                               "unread": await notify.unread_count(me.id),
                               "alerts": await alert_items(request, me)}
    return await handler(request)


def _wants_page(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return (request.path.startswith(("/staff", "/tallies", "/reports"))
            and "json" not in accept and "event-stream" not in accept)


def _say(request: web.Request, text: str) -> str:
    rt = request.app[RUNTIME]
    if language(request, rt.settings.web.default_language) != "zh":
        return text
    for pattern, zh in ERRORS_ZH:
        m = re.fullmatch(pattern, text)
        if m:
            return m.expand(zh)
    return text


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A refusal (403, 404) on a staff or manager page is a page in the layout, translated,
    not a bare English line."""
    try:
        return await handler(request)
    except (web.HTTPForbidden, web.HTTPNotFound) as e:
        if not _wants_page(request) or (e.content_type or "") != "text/plain":
            raise
        detail = e.text or ""
        key = "forbidden" if e.status == 403 else "not_found"
        if request.path.startswith("/staff/") and request.method == "GET" \
                and LAYOUT not in request:
            me = await current_staff(request)
            if me is not None:
                request[LAYOUT] = {"me": me, "csrf": await csrf_token(request),
                                   "unread": await notify.unread_count(me.id), "alerts": []}
        resp = render(request, "error.html", key=key, message=_say(request, detail),
                      detail=detail)
        resp.set_status(e.status)
        return resp


# --- what a page shows live ---


async def _escalation_for(me: Staff, esc_id: int) -> tuple[Escalation, Contact] | None:
    try:
        esc = await svc.get_visible(me, esc_id)
    except svc.StaffError:
        return None
    return esc, esc.conversation.contact


async def message_items(request: web.Request, contact: Contact, after: int,
                        mask: Callable[[str], str]) -> list[dict[str, Any]]:
    """The contact's messages after id ``after``, masked, as the chat's HTML."""
    rows = await Message.filter(contact_id=contact.id, id__gt=after).order_by("id").limit(200)
    rt = request.app[RUNTIME]
    return [{"id": m.id, "from_person": m.sender == "person",
             "html": render_string(request, "_message.html", m=history_item(rt, m, mask),
                                   fresh=True)} for m in rows]


def history_item(rt: Any, m: Message, mask: Callable[[str], str]) -> dict[str, Any]:
    """One message as the chat shows it (its body masked)."""
    return {"id": m.id, "direction": m.direction.value, "sender_key": m.sender,
            "body": mask(m.body), "status": m.status.value,
            "at": rt.local(m.created_at).strftime("%m-%d %H:%M")}


async def _queue_digest(me: Staff) -> str:
    """Changes whenever a row of this member's queues would look different: an escalation
    opened, changed or resolved, or a person wrote."""
    q = Escalation.filter(svc.visible(await svc.department_ids(me)))
    count = await q.count()
    changed = await q.order_by("-updated_at").first().values_list("updated_at", flat=True)
    wrote = await Message.filter(direction=Direction.IN).order_by("-id").first().values_list(
        "id", flat=True)
    # read in another tab: the unread marks change (marks only move to newer messages)
    reads = StaffRead.filter(staff_id=me.id)
    read = await reads.order_by("-message_id").first().values_list("message_id", flat=True)
    return f"{count}:{changed}:{wrote}:{await reads.count()}:{read}"


async def snapshot(request: web.Request, me: Staff, esc_id: int | None,
                   after: int) -> dict[str, Any]:
    """Everything a page may update, as of now."""
    out: dict[str, Any] = {
        "alerts": await alert_items(request, me),
        "unread": await notify.unread_count(me.id),
        "queue": await _queue_digest(me),
        "messages": [], "escalation": "",
    }
    if esc_id:
        found = await _escalation_for(me, esc_id)
        if found is not None:
            esc, contact = found
            mask = await inbox.masker_for(contact)
            out["messages"] = await message_items(request, contact, after, mask)
            out["escalation"] = f"{esc.status.value}:{esc.assignee_id}:{','.join(esc.kinds)}"
    return out


def _ints(request: web.Request) -> tuple[int | None, int]:
    try:
        esc_id = int(request.query.get("esc", "0")) or None
        after = int(request.query.get("after", "0"))
    except ValueError as e:
        raise web.HTTPBadRequest(text="esc and after must be whole numbers") from e
    return esc_id, after


async def live(request: web.Request) -> web.Response:
    """The polling fallback: the same as the stream, once, as JSON."""
    me = await current_staff(request)
    if me is None:
        raise web.HTTPUnauthorized(text="sign in first: /staff/login")
    esc_id, after = _ints(request)
    return web.json_response(await snapshot(request, me, esc_id, after))


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events for one open page (see the module docstring)."""
    me = await current_staff(request)
    if me is None:
        raise web.HTTPUnauthorized(text="sign in first: /staff/login")
    rt = request.app[RUNTIME]
    esc_id, after = _ints(request)
    resp = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no"})  # no proxy buffering: events go out as they happen
    await resp.prepare(request)
    loop = asyncio.get_running_loop()
    until = loop.time() + STREAM_FOR
    sent: dict[str, Any] = {}

    async def send(event: str, data: Any) -> None:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        await resp.write(f"event: {event}\ndata: {body}\n\n".encode())

    with contextlib.suppress(ConnectionResetError):  # the page went away
        await resp.write(b"retry: 3000\n\n")
        while loop.time() < until:
            snap = await snapshot(request, me, esc_id, after)
            for name in ("alerts", "unread", "queue", "escalation"):
                if sent.get(name) != snap[name]:
                    if name in sent or name in ("alerts", "unread"):
                        await send(name, snap[name])
                    sent[name] = snap[name]
            for m in snap["messages"]:
                await send("message", m)
                after = m["id"]
            await resp.write(b": idle\n\n")  # finds a closed connection
            await rt.live.wait(LOOK_AGAIN)
    return resp


async def seen(request: web.Request) -> web.Response:
    """The member has read the conversation up to a message (the page saw them interact)."""
    me = await signed_in(request)
    form = await request.post()
    try:
        esc = await svc.get_visible(me, int(request.match_info["id"]))
        upto = int(str(form.get("upto", "0")))
    except (svc.StaffError, ValueError) as e:
        raise web.HTTPNotFound(text="no such escalation in your departments' queues") from e
    conv = await Conversation.get(id=esc.conversation_id)
    await inbox.mark_read(request.app[RUNTIME], me, esc, conv.contact_id, upto or None)
    request.app[RUNTIME].live.wake()
    return web.json_response({"ok": True, "status": EscalationStatus(esc.status).value})
