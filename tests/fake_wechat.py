"""A fake WeChat: the API server (tokens, custom send, template send, subscribe send, QR
codes) and the webhook caller (signed, AES-encrypted XML), both speaking the real protocol.

The API checks ``access_token`` like WeChat (40001 unknown, 42001 expired) and can be
scripted per path: answer any errcode, answer HTTP 5xx, stall, or drop the connection.
Account faults last until fixed: ``refuse`` (path, or "*" for every API, → errcode answered
to every call: 40164 IP not whitelisted, 48001 unauthorised), ``template_ids`` (when set,
only these exist: others get 40037), a ``secret`` other than the caller's (40125).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

APP_ID = "wx0123456789abcdef"
APP_SECRET = "fake-secret-0123456789"
TOKEN = "fake-webhook-token"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OFFICIAL_ID = "gh_fake0000001"


@dataclass
class Scripted:
    """One scripted answer: an errcode, an HTTP status, a stall (seconds: nothing is sent if
    the caller gives up first), a dropped line, or ``late``: the message is sent, then the
    answer comes that many seconds later (after the caller's timeout: its answer is lost)."""

    errcode: int | None = None
    status: int | None = None
    stall: float = 0.0
    drop: bool = False
    late: float = 0.0


@dataclass
class FakeWechat:
    """State of the fake API: issued tokens, what was sent, and the script."""

    app_id: str = APP_ID
    secret: str = APP_SECRET
    tokens: dict[str, bool] = field(default_factory=dict)  # token → still valid
    current: str | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)  # every accepted send
    calls: list[str] = field(default_factory=list)  # every path called
    script: dict[str, list[Scripted]] = field(default_factory=dict)
    refuse: dict[str, int] = field(default_factory=dict)  # path or "*" → errcode, until cleared
    template_ids: set[str] | None = None
    client_ids: dict[tuple[Any, Any], int] = field(default_factory=dict)
    deduplicated: int = 0  # template repeats WeChat dropped (same client_msg_id)
    token_fetches: int = 0
    forced_refreshes: int = 0
    _ids: Any = field(default_factory=lambda: itertools.count(1000))
    server: TestServer | None = None

    # ---- scripting
    def then(self, path: str, *answers: Scripted) -> None:
        """Queue answers for the next calls to ``path`` (e.g. "/cgi-bin/message/custom/send")."""
        self.script.setdefault(path, []).extend(answers)

    def fail(self, path: str, errcode: int, times: int = 1) -> None:
        """The next ``times`` calls to ``path`` answer ``errcode``."""
        self.then(path, *[Scripted(errcode=errcode) for _ in range(times)])

    def expire_tokens(self) -> None:
        """Every issued token expires now (WeChat's 2 hours have passed)."""
        for t in self.tokens:
            self.tokens[t] = False
        self.current = None

    def sent_to(self, openid: str, kind: str | None = None) -> list[dict[str, Any]]:
        """What was accepted for ``openid`` (kind: custom, template, subscribe)."""
        return [s for s in self.sent if s["body"].get("touser") == openid
                and (kind is None or s["kind"] == kind)]

    @property
    def base_url(self) -> str:
        """Where the fake listens."""
        assert self.server is not None
        return str(self.server.make_url("")).rstrip("/")

    # ---- the server
    async def _scripted(self, path: str) -> web.Response | None:
        refused = self.refuse.get(path, self.refuse.get("*"))
        if refused is not None:
            return web.json_response({"errcode": refused, "errmsg": f"refused {refused}"})
        queue = self.script.get(path)
        if not queue or queue[0].late:
            return None
        s = queue.pop(0)
        if s.stall:
            await asyncio.sleep(s.stall)
        if s.drop:
            raise ConnectionResetError("scripted drop")
        if s.status is not None:
            return web.Response(status=s.status, text="scripted failure")
        if s.errcode is not None:
            return web.json_response({"errcode": s.errcode, "errmsg": f"scripted {s.errcode}"})
        return None

    def _check_token(self, request: web.Request) -> web.Response | None:
        token = request.query.get("access_token", "")
        if token not in self.tokens:
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        if not self.tokens[token]:
            return web.json_response({"errcode": 42001, "errmsg": "access_token expired"})
        return None

    async def stable_token(self, request: web.Request) -> web.Response:
        self.calls.append(request.path)
        scripted = await self._scripted(request.path)
        if scripted is not None:
            return scripted
        body = await request.json()
        if body.get("grant_type") != "client_credential":
            return web.json_response({"errcode": 40002, "errmsg": "invalid grant_type"})
        if body.get("appid") != self.app_id:
            return web.json_response({"errcode": 40013, "errmsg": "invalid appid"})
        if body.get("secret") != self.secret:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        self.token_fetches += 1
        if body.get("force_refresh"):
            self.forced_refreshes += 1
            self.expire_tokens()
        if self.current is None or not self.tokens.get(self.current):
            self.current = f"tok-{secrets.token_hex(6)}"
            self.tokens[self.current] = True
        return web.json_response({"access_token": self.current, "expires_in": 7200})

    async def _api(self, request: web.Request, kind: str) -> web.Response:
        self.calls.append(request.path)
        body = json.loads(await request.text())
        refused = self.refuse.get(request.path, self.refuse.get("*"))
        if refused is not None:
            return web.json_response({"errcode": refused, "errmsg": f"refused {refused}"})
        bad = self._check_token(request)
        if bad is not None:
            return bad
        if not body.get("touser", "x"):
            return web.json_response({"errcode": 40003, "errmsg": "invalid openid"})
        if (kind in ("template", "subscribe") and self.template_ids is not None
                and body.get("template_id") not in self.template_ids):
            return web.json_response({"errcode": 40037, "errmsg": "invalid template_id"})
        # Template messages: one per openid + client_msg_id within ten minutes, however often
        # asked (WeChat's rule), decided when the request arrives.
        dedup = (body.get("touser"), body.get("client_msg_id")) if (
            kind == "template" and body.get("client_msg_id")) else None
        if dedup is not None and dedup in self.client_ids:
            self.deduplicated += 1
            return web.json_response({"errcode": 0, "errmsg": "ok",
                                      "msgid": self.client_ids[dedup]})
        if dedup is not None:
            self.client_ids[dedup] = next(self._ids)
        scripted = await self._scripted(request.path)
        if scripted is not None:
            if dedup is not None:
                del self.client_ids[dedup]  # refused: nothing was sent
            return scripted
        self.sent.append({"kind": kind, "body": body})
        out: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        if kind == "template":
            out["msgid"] = self.client_ids[dedup] if dedup is not None else next(self._ids)
        queue = self.script.get(request.path)
        if queue and queue[0].late:
            await asyncio.sleep(queue.pop(0).late)  # sent; the answer comes too late
        if kind == "qrcode":
            ticket = f"gQ{secrets.token_hex(8)}"
            out = {"ticket": ticket, "expire_seconds": body.get("expire_seconds", 60),
                   "url": f"http://weixin.qq.com/q/{ticket}"}
        return web.json_response(out)

    async def private_templates(self, request: web.Request) -> web.Response:
        """GET /cgi-bin/template/get_all_private_template: the account's templates."""
        self.calls.append(request.path)
        scripted = await self._scripted(request.path)
        if scripted is not None:
            return scripted
        bad = self._check_token(request)
        if bad is not None:
            return bad
        ids = sorted(self.template_ids or ())
        return web.json_response({"template_list": [
            {"template_id": t, "title": "回访提醒", "content": "{{thing1.DATA}}"} for t in ids]})

    def app(self) -> web.Application:
        """The aiohttp application of the fake API."""
        app = web.Application()
        app.router.add_post("/cgi-bin/stable_token", self.stable_token)
        app.router.add_get("/cgi-bin/template/get_all_private_template", self.private_templates)
        for path, kind in (("/cgi-bin/message/custom/send", "custom"),
                           ("/cgi-bin/message/template/send", "template"),
                           ("/cgi-bin/message/subscribe/bizsend", "subscribe"),
                           ("/cgi-bin/qrcode/create", "qrcode")):
            app.router.add_post(path, self._make(kind))
        return app

    def _make(self, kind: str):  # type: ignore[no-untyped-def]
        async def handler(request: web.Request) -> web.Response:
            return await self._api(request, kind)
        return handler

    async def start(self) -> FakeWechat:
        """Listen on a free loopback port."""
        self.server = TestServer(self.app(), host="127.0.0.1")
        # a test double need not drain for a minute (aiohttp's default) when it closes
        await self.server.start_server(shutdown_timeout=0.5)
        return self

    async def close(self) -> None:
        """Stop listening."""
        if self.server is not None:
            await self.server.close()


def wechat_section(base_url: str, **extra: Any) -> dict[str, Any]:
    """A ``[wechat]`` settings section pointing at the fake."""
    return {"app_id": APP_ID, "app_secret": APP_SECRET, "token": TOKEN,
            "encoding_aes_key": AES_KEY, "api_base_url": base_url, **extra}


# --------------------------------------------------------------------------- webhook caller


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted, concatenated parts."""
    signer = WeChatSigner()
    signer.add_data(*parts)
    return str(signer.signature)


def text_xml(openid: str, content: str, msg_id: int, create_time: int | None = None) -> str:
    """A text message as WeChat posts it."""
    return (f"<xml><ToUserName><![CDATA[{OFFICIAL_ID}]]></ToUserName>"
            f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
            f"<CreateTime>{create_time or int(time.time())}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
            f"<MsgId>{msg_id}</MsgId></xml>")


def message_xml(openid: str, msg_type: str, create_time: int, **fields: Any) -> str:
    """Any message or event: extra fields become elements (CDATA for strings)."""
    parts = [f"<ToUserName><![CDATA[{OFFICIAL_ID}]]></ToUserName>",
             f"<FromUserName><![CDATA[{openid}]]></FromUserName>",
             f"<CreateTime>{create_time}</CreateTime>",
             f"<MsgType><![CDATA[{msg_type}]]></MsgType>"]
    for k, v in fields.items():
        parts.append(f"<{k}>{v}</{k}>" if isinstance(v, int) else f"<{k}><![CDATA[{v}]]></{k}>")
    return "<xml>" + "".join(parts) + "</xml>"


def event_xml(openid: str, event: str, create_time: int, key: str | None = None,
              **fields: Any) -> str:
    """An event (subscribe, SCAN, CLICK, unsubscribe, TEMPLATESENDJOBFINISH ...)."""
    extra: dict[str, Any] = {"Event": event}
    if key is not None:
        extra["EventKey"] = key
    extra.update(fields)
    return message_xml(openid, "event", create_time, **extra)


@dataclass
class Signed:
    """A webhook request ready to post: query string and body."""

    params: dict[str, str]
    body: bytes


def signed_request(xml: str, *, timestamp: int, mode: str = "safe", token: str = TOKEN,
                   aes_key: str = AES_KEY, app_id: str = APP_ID,
                   nonce: str | None = None) -> Signed:
    """Sign (and in safe/compatible mode encrypt) ``xml`` the way WeChat does."""
    nonce = nonce or str(secrets.randbelow(10**9))
    ts = str(timestamp)
    params = {"signature": sign(token, ts, nonce), "timestamp": ts, "nonce": nonce,
              "openid": "x"}
    if mode == "plain":
        return Signed(params, xml.encode())
    crypto = WeChatCrypto(token, aes_key, app_id)
    enc_doc = crypto.encrypt_message(xml, nonce, ts)
    import xmltodict

    enc = xmltodict.parse(enc_doc)["xml"]
    params.update(encrypt_type="aes", msg_signature=enc["MsgSignature"])
    if mode == "compatible":
        body = xml.replace("</xml>", f"<Encrypt><![CDATA[{enc['Encrypt']}]]></Encrypt></xml>")
    else:
        body = (f"<xml><ToUserName><![CDATA[{OFFICIAL_ID}]]></ToUserName>"
                f"<Encrypt><![CDATA[{enc['Encrypt']}]]></Encrypt></xml>")
    return Signed(params, body.encode())


def decrypt_reply(body: str, params: dict[str, str], token: str = TOKEN, aes_key: str = AES_KEY,
                  app_id: str = APP_ID) -> str:
    """Read an encrypted passive reply as WeChat would (checks its signature)."""
    import xmltodict

    doc = xmltodict.parse(body)["xml"]
    crypto = WeChatCrypto(token, aes_key, app_id)
    return str(crypto.decrypt_message(body, doc["MsgSignature"], doc["TimeStamp"],
                                      doc["Nonce"]))
