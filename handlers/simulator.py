"""The patient-phone simulator: pick a contact, chat as them, watch the bot answer."""

from __future__ import annotations

import re
import secrets

from aiohttp import web
from tortoise.expressions import Q

from bot import dispatcher
from bot.channels.simulator import SimulatorChannel
from bot.keys import RUNTIME
from handlers import validate
from handlers.i18n import language, translator
from handlers.render import render
from models import Contact, Direction, Message, MessageStatus

MAX_TEXT = 2000
_SECONDS = re.compile(r"[0-9]{1,6}(?:\.[0-9]{1,6})?")
SENDER_KEY = {"bot": "bot", "staff": "staff", "person": "person"}


def _channel(request: web.Request) -> SimulatorChannel:
    ch = request.app[RUNTIME].channels.get("simulator")
    if not isinstance(ch, SimulatorChannel):
        raise web.HTTPNotFound(text="the simulator channel is disabled ([simulator] enabled)")
    return ch


async def _contact(request: web.Request) -> Contact:
    contact = await Contact.get_or_none(id=validate.route_id(request))
    if contact is None:
        raise web.HTTPNotFound(text="no such contact")
    return contact


def _visible(contact_id: int):  # type: ignore[no-untyped-def]
    """What the contact's phone shows: messages sent to them and what they typed."""
    shown = Q(direction=Direction.IN) | Q(status__in=[MessageStatus.SENT, MessageStatus.DELIVERED])
    return Message.filter(Q(contact_id=contact_id, channel="simulator") & shown)


async def contacts(request: web.Request) -> web.Response:
    """Every contact, newest first."""
    _channel(request)
    rows = await Contact.all().order_by("-id").limit(200)
    return render(request, "simulator_list.html",
                  contacts=[{"id": c.id, "name": c.name, "phone": c.phone, "unread": 0}
                            for c in rows])


async def chat(request: web.Request) -> web.Response:
    """The chat view of one contact's phone."""
    _channel(request)
    contact = await _contact(request)
    msgs = await _visible(contact.id).order_by("id")
    return render(
        request, "simulator_chat.html", contact=contact, nonce=secrets.token_hex(8),
        last_id=msgs[-1].id if msgs else 0,
        messages=[{"id": m.id, "direction": m.direction.value, "body": m.body,
                   "sender_key": SENDER_KEY.get(m.sender, m.sender)} for m in msgs],
    )


async def send(request: web.Request) -> web.Response:
    """The contact types a reply: stored first (deduplicated by the form's nonce), then acted on."""
    _channel(request)
    contact = await _contact(request)
    form = await validate.read_form(request)
    text = form.get("text", "").strip()
    nonce = validate.form_text(form, "nonce", max_len=64, single_line=True) \
        or secrets.token_hex(8)
    if not text:
        raise web.HTTPBadRequest(text="empty reply: type something to send")
    if len(text) > MAX_TEXT:
        raise web.HTTPBadRequest(text=f"reply too long: at most {MAX_TEXT} characters")
    validate.clean_text(text, "text", max_len=MAX_TEXT)
    received = await dispatcher.receive(
        request.app[RUNTIME], channel="simulator", contact_id=contact.id, text=text,
        provider_id=f"{contact.id}:{nonce}",
    )
    _channel(request).notify(contact.id)
    if "application/json" in request.headers.get("Accept", ""):
        return web.json_response({"message_id": received.message_id,
                                  "duplicate": received.duplicate,
                                  "next_nonce": secrets.token_hex(8)})
    raise web.HTTPSeeOther(f"/simulator/contacts/{contact.id}")


async def messages(request: web.Request) -> web.Response:
    """Messages after ``after``; with ``wait`` seconds, wait for one (long polling)."""
    channel = _channel(request)
    contact = await _contact(request)
    after = validate.query_int(request, "after", hi=validate.INT64_MAX, default=0) or 0
    raw_wait = request.query.get("wait", "0")
    if not _SECONDS.fullmatch(raw_wait):
        raise web.HTTPBadRequest(text="wait must be a number of seconds like 10 or 2.5")
    wait = min(float(raw_wait), 30.0)
    rows = await _visible(contact.id).filter(id__gt=after).order_by("id")
    if not rows and wait:
        await channel.wait(contact.id, wait)
        rows = await _visible(contact.id).filter(id__gt=after).order_by("id")
    lang = language(request, request.app[RUNTIME].settings.web.default_language)
    t = translator(lang)
    return web.json_response({"messages": [
        {"id": m.id, "direction": m.direction.value, "body": m.body, "sender": m.sender,
         "sender_label": t(SENDER_KEY.get(m.sender, m.sender))}
        for m in rows
    ]})


def setup(app: web.Application) -> None:
    """Register the simulator routes."""
    app.router.add_get("/simulator", contacts)
    app.router.add_get("/simulator/contacts/" + validate.ID_PART, chat)
    app.router.add_post("/simulator/contacts/" + validate.ID_PART + "/send", send)
    app.router.add_get("/simulator/api/contacts/" + validate.ID_PART + "/messages", messages)
