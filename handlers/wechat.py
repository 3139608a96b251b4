"""The WeChat webhook (URL verification, messages in plain/compatible/safe mode) and the
printable binding QR code for staff. Verify, translate, answer fast: no business rules here."""

from __future__ import annotations

import html
import logging
import secrets

from aiohttp import web

from bot.channels import wechat
from bot.keys import RUNTIME
from bot.privacy import mask_name
from bot.staff import department_ids
from handlers import validate
from handlers.auth import require_staff
from handlers.i18n import language

log = logging.getLogger(__name__)

SUCCESS = "success"  # WeChat's "received, no passive reply"


def _channel(request: web.Request) -> wechat.WechatChannel:
    ch = request.app[RUNTIME].channels.get(wechat.CHANNEL)
    if not isinstance(ch, wechat.WechatChannel):
        raise web.HTTPNotFound(text="the WeChat channel is off ([wechat] app_id is empty)")
    return ch


async def _read_limited(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    # Without Content-Length the application's client_max_size bounds what is read.
    body = await request.read()
    if len(body) > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(body))
    return body


async def verify_url(request: web.Request) -> web.Response:
    """GET: WeChat checks the server URL; a valid signature gets ``echostr`` back unchanged."""
    ch = _channel(request)
    try:
        wechat.check_query(ch.cfg, request.query, request.app[RUNTIME].now())
        if "signature" not in request.query:
            raise wechat.WebhookRejected(403, "signature missing")
    except wechat.WebhookRejected as e:
        raise web.HTTPForbidden(text=str(e)) from e
    return web.Response(text=request.query.get("echostr", ""), content_type="text/plain")


async def receive(request: web.Request) -> web.Response:
    """POST: verify, decrypt, store, answer (``success`` or a passive reply)."""
    ch = _channel(request)
    rt = request.app[RUNTIME]
    body = await _read_limited(request, ch.cfg.max_body_bytes)
    now = rt.now()
    try:
        inbound = wechat.read_message(ch, request.query, body, now)
    except wechat.WebhookRejected as e:
        log.info("wechat webhook refused (%d): %s", e.status, e)
        if e.status == 403:
            raise web.HTTPForbidden(text=str(e)) from e
        raise web.HTTPBadRequest(text=str(e)) from e
    reply = await wechat.handle(rt, ch, inbound)
    if not reply:
        return web.Response(text=SUCCESS, content_type="text/plain")
    nonce = request.query.get("nonce") or secrets.token_hex(8)
    return web.Response(text=wechat.render_reply(ch, inbound, reply, nonce, now),
                        content_type="application/xml")


QR_WORDS = {
    "title": {"zh": "微信绑定二维码", "en": "WeChat binding QR code"},
    "hint": {"zh": "请用微信扫码关注{org}，之后的回访消息会通过公众号发给您。",
             "en": "Scan with WeChat to follow {org}; follow-up messages then arrive there."},
    "valid": {"zh": "有效期至", "en": "Valid until"},
    "print": {"zh": "打印", "en": "Print"},
}


async def qr_page(request: web.Request) -> web.Response:
    """Printable binding QR code for an episode (discharge paperwork)."""
    staff = await require_staff(request)
    ch = _channel(request)
    rt = request.app[RUNTIME]
    lang = language(request, rt.settings.web.default_language)
    external_id = request.match_info["external_id"]
    source = request.query.get("source") or None
    if validate.text_problem(external_id, max_len=128, single_line=True) or (
            source and validate.text_problem(source, max_len=64, single_line=True)):
        raise web.HTTPNotFound(text="no episode with that external id")
    try:
        episode = await wechat.find_episode(external_id, source)
    except LookupError as e:
        raise web.HTTPNotFound(text=str(e)) from e
    depts = await department_ids(staff) if staff is not None else None
    if depts is not None and episode.department_id not in depts:
        raise web.HTTPForbidden(text="this episode belongs to a department you do not serve")
    try:
        qr = await wechat.episode_qr(rt, ch, episode)
    except wechat.WechatApiError as e:
        raise web.HTTPBadGateway(text=f"WeChat could not create the QR code: {e}") from e
    await episode.fetch_related("person", "department")

    def t(key: str) -> str:
        words = QR_WORDS[key]
        return words.get(lang, words["zh"])

    org = html.escape(rt.settings.org.name)
    until = rt.local(qr.expires_at).strftime("%Y-%m-%d %H:%M")
    page = f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<title>{t('title')}</title><style>body{{font-family:sans-serif;text-align:center;margin:2em}}
@media print{{button{{display:none}}}}</style></head><body>
<h1>{t('title')}</h1>
<p>{html.escape(mask_name(episode.person.name))} · {html.escape(episode.department.name)}</p>
<div class="qr">{qr.svg()}</div>
<p>{t('hint').format(org=org)}</p>
<p>{t('valid')} {until}</p>
<button onclick="window.print()">{t('print')}</button>
</body></html>"""
    return web.Response(text=page, content_type="text/html")


def setup(app: web.Application) -> None:
    """Register the webhook (at ``[wechat] webhook_path``) and the QR page."""
    path = app[RUNTIME].settings.wechat.webhook_path
    app.router.add_get(path, verify_url)
    app.router.add_post(path, receive)
    app.router.add_get("/staff/wechat-qr/{external_id}", qr_page)
