"""Aliyun SMS push callbacks: delivery receipts (SmsReport) and replies (SmsUp).

Aliyun pushes JSON arrays, unauthenticated and sometimes twice, to the URLs configured in its
console; the secret part of the path (``[sms] callback_token``) is the guard, so a wrong token
is a plain 404. Replies are stored (deduplicated) and acknowledged at once; the dispatcher
processes them in the background. Aliyun expects ``{"code": 0, "msg": "接收成功"}``.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from bot import dispatcher
from bot.channels import sms_aliyun
from bot.keys import RUNTIME
from bot.privacy import mask_phone
from handlers import validate

log = logging.getLogger(__name__)

OK = {"code": 0, "msg": "接收成功"}
MAX_ITEMS = 1000
MAX_BODY = 2 * 1024 * 1024  # a push of MAX_ITEMS replies of Aliyun's longest length fits
T = TypeVar("T")


def _check_token(request: web.Request) -> None:
    expected = request.app[RUNTIME].settings.sms.callback_token
    given = request.match_info["token"]
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise web.HTTPNotFound()


def _error(reason: str) -> dict[str, Any]:
    return {"code": 1, "msg": reason}


async def _items(request: web.Request, parse: Callable[[Any], T]) -> list[T]:
    """The pushed array, parsed; bad items are logged and skipped (retrying cannot fix them)."""
    data = await validate.read_json(request, limit=MAX_BODY, max_depth=4, error=_error)
    if isinstance(data, dict):
        data = [data]  # be lenient: one object instead of an array of one
    if not isinstance(data, list) or len(data) > MAX_ITEMS:
        raise web.HTTPBadRequest(
            text=json.dumps({"code": 1, "msg": f"body must be a JSON array of at most "
                                               f"{MAX_ITEMS} objects"}, ensure_ascii=False),
            content_type="application/json")
    out: list[T] = []
    for i, item in enumerate(data):
        try:
            out.append(parse(item))
        except ValueError as e:
            log.warning("%s item %d skipped: %s", request.path.rsplit("/", 1)[0], i, e)
    return out


async def report(request: web.Request) -> web.Response:
    """Delivery receipts: mark messages delivered or failed (repeats change nothing)."""
    _check_token(request)
    rt = request.app[RUNTIME]
    reports = await _items(request, sms_aliyun.parse_report)
    await sms_aliyun.apply_reports(reports, rt.now())
    return web.json_response(OK)


async def up(request: web.Request) -> web.Response:
    """Replies: matched to the contact by normalised number, stored in the order written."""
    _check_token(request)
    rt = request.app[RUNTIME]
    replies = sms_aliyun.order_replies(await _items(request, sms_aliyun.parse_up))
    for reply in replies:
        contact = await sms_aliyun.contact_for(reply.phone)
        if contact is None:
            log.warning("SMS reply from an unknown number %s: stored for staff",
                        mask_phone(reply.phone))
        await dispatcher.receive(
            rt, channel="sms", contact_id=contact.id if contact else None, text=reply.content,
            provider_id=sms_aliyun.reply_provider_id(reply), raw=reply.raw,
        )
    return web.json_response(OK)


def setup(app: web.Application) -> None:
    """Register the Aliyun callback routes."""
    app.router.add_post("/sms/aliyun/report/{token}", report)
    app.router.add_post("/sms/aliyun/up/{token}", up)
