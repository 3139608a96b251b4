"""Health, index and the minimal staff queue (dashboard: handlers/dashboard.py)."""

from __future__ import annotations

from aiohttp import web
from tortoise import connections

from bot.keys import RUNTIME
from bot.privacy import mask_name, mask_phone
from handlers.auth import require_staff
from handlers.render import render
from models import Conversation, Escalation, EscalationStatus, Message

SENDER_KEY = {"bot": "bot", "staff": "staff", "person": "person"}


async def healthz(request: web.Request) -> web.Response:
    """Liveness and database reachability."""
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as e:
        return web.json_response({"status": "error", "database": type(e).__name__}, status=503)
    rt = request.app[RUNTIME]
    return web.json_response({"status": "ok", "database": "ok", **rt.describe()})


async def index(request: web.Request) -> web.Response:
    """Links to the three pages."""
    return render(request, "index.html", org=request.app[RUNTIME].settings.org.name)


async def queue(request: web.Request) -> web.Response:
    """Open and claimed escalations, most urgent first; names and phones masked."""
    await require_staff(request)
    rt = request.app[RUNTIME]
    rows = await Escalation.filter(
        status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED]
    ).prefetch_related("department", "conversation__contact").order_by("opened_at")
    order = {"urgent": 0, "high": 1, "normal": 2}
    rows.sort(key=lambda e: (order[e.priority.value], e.opened_at))
    items = [
        {
            "id": e.id, "priority": e.priority.value, "kinds": e.kinds or [e.kind.value],
            "department": e.department.name if e.department else "—",
            "conversation_id": e.conversation_id,
            "contact": mask_name(e.conversation.contact.name),
            "phone": mask_phone(e.conversation.contact.phone),
            "reason": e.reason, "status": e.status.value,
            "opened_at": rt.local(e.opened_at).strftime("%Y-%m-%d %H:%M"),
        }
        for e in rows
    ]
    return render(request, "queue.html", items=items)


async def conversation(request: web.Request) -> web.Response:
    """The whole history of a conversation's contact, masked."""
    await require_staff(request)
    rt = request.app[RUNTIME]
    conv = await Conversation.get_or_none(id=int(request.match_info["id"])).prefetch_related(
        "contact"
    )
    if conv is None:
        raise web.HTTPNotFound(text="no such conversation")
    msgs = await Message.filter(contact_id=conv.contact_id).order_by("id").limit(500)
    messages = [
        {"direction": m.direction.value, "sender_key": SENDER_KEY.get(m.sender, m.sender),
         "body": m.body, "at": rt.local(m.created_at).strftime("%m-%d %H:%M")}
        for m in msgs
    ]
    return render(request, "conversation.html", messages=messages,
                  contact=mask_name(conv.contact.name), phone=mask_phone(conv.contact.phone))
