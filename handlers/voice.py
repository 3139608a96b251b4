"""Aliyun Voice Service push callback: call receipts (VoiceCallReport and VoiceReport).

Set both push URLs in the Aliyun console (语音服务 → 回执消息 → HTTP批量推送) to
``{public_url}/voice/aliyun/report/{callback_token}``. Pushes are unauthenticated JSON arrays,
sometimes repeated (Aliyun retries after 1, 5 and 10 minutes until it reads ``{"code": 0}``),
so the secret part of the path (``[voice] callback_token``) is the guard and a wrong token is
a plain 404. The body passes the same edge validation as every webhook (size, depth, UTF-8,
bounded fields); a bad item is logged and skipped, the others are kept.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from bot.keys import RUNTIME
from bot.phone import receipts
from handlers.sms import OK
from handlers.sms import _items as read_items  # the Aliyun push reader SMS uses too

MAX_ITEMS = 1000


def _check_token(request: web.Request) -> None:
    expected = request.app[RUNTIME].settings.voice.callback_token
    given = request.match_info["token"]
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise web.HTTPNotFound()


async def report(request: web.Request) -> web.Response:
    """Call receipts: states, keys pressed, the call's record (repeats change nothing)."""
    _check_token(request)
    rt = request.app[RUNTIME]
    await receipts.apply(rt, await read_items(request, receipts.parse_receipt))
    return web.json_response(OK)


def setup(app: web.Application) -> None:
    """Register the Aliyun voice callback route."""
    app.router.add_post("/voice/aliyun/report/{token}", report)
