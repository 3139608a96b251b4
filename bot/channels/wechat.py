"""WeChat Official Account: a small async API client, the channel, and inbound handling.

wechatpy does the crypto (WeChatCrypto) and passive replies; signatures and the flat XML of
messages are read here (see _sign, parse_xml); the HTTP API is called here with aiohttp
(wechatpy has no async client, its token URL is fixed and its auto-retry can loop). The
access token comes from ``/cgi-bin/stable_token`` and is kept in the ``key_value`` table, so
every process shares one token.

Inbound rule: store first (deduplicated: ``MsgId``, events by FromUserName + CreateTime +
Event), act in the database only, answer WeChat well within its 5 seconds. Nothing here calls
the WeChat API from the webhook; replies and codes go through the outbox.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import hmac
import io
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from xml.parsers.expat import ExpatError

import aiohttp
import segno
import xmltodict
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from yarl import URL

from bot import bulk, dispatcher, escalations, ledger, links, notify, outbox
from bot.channels.base import ChannelError, Fault, Outgoing, SendResult, check_deadline
from bot.clock import Clock, SystemClock
from bot.config import Settings, WechatConfig
from bot.privacy import normalise_phone
from bot.runtime import Runtime
from models import (
    AuditEvent,
    CheckIn,
    CheckinStatus,
    Contact,
    Conversation,
    ConversationStatus,
    Department,
    Direction,
    Episode,
    KeyValue,
    Message,
    MessageStatus,
)

log = logging.getLogger(__name__)

CHANNEL = "wechat"
WINDOW = timedelta(hours=48)  # customer-service messages only this long after the last message
# A template message repeated with the same client_msg_id within this is sent once (WeChat's
# rule is ten minutes; a minute is kept in hand).
DEDUP_WINDOW = timedelta(minutes=9)
CS_PER_INBOUND = 5  # and at most this many per message received
TOKEN_MARGIN = timedelta(minutes=5)  # refresh a little before WeChat says the token expires
TOKEN_ERRORS = {40001, 42001, 40014}  # invalid / expired / malformed access token
UNREACHABLE = {
    43004: "the person does not follow the account",
    43101: "the person has not accepted this kind of message",
    40003: "the openid is not valid for this account",
}
# Answers that mean our own set-up is wrong: WeChat pauses instead of failing the message.
# errcode → (scope, what is wrong in Chinese, in English). "template": check-ins (and the kind
# of message that met it) wait, customer-service texts inside the 48-hour window still go.
FAULTS: dict[int, tuple[str, str, str]] = {
    40013: ("channel", "AppID 不正确", "the AppID is wrong"),
    40125: ("channel", "AppSecret 不正确", "the AppSecret is wrong"),
    41002: ("channel", "未配置 AppID", "the AppID is missing"),
    41004: ("channel", "未配置 AppSecret", "the AppSecret is missing"),
    40164: ("channel", "本服务器的IP不在公众号的IP白名单中",
            "this server's IP address is not in the account's IP whitelist"),
    48001: ("channel", "公众号没有该接口的权限（未认证或未开通）",
            "the account is not authorised for this API"),
    48004: ("channel", "接口已被微信封禁", "WeChat has banned this API for the account"),
    40037: ("template", "模板ID不正确（template_id）", "the template id is wrong"),
    40036: ("template", "模板ID长度不正确（template_id）", "the template id has a wrong length"),
}
# Template and subscribe message keyword types → WeChat's length limits (characters).
FIELD_LIMITS = {
    "thing": 20, "character_string": 32, "number": 32, "letter": 32, "symbol": 5,
    "phrase": 5, "name": 10, "phone_number": 17, "car_number": 8, "amount": 11, "time": 32,
    "date": 32, "const": 20,
}
# Events that open the 48-hour window (WeChat's list: message, subscribe, scan, menu click).
WINDOW_EVENTS = {"subscribe", "scan", "click", "scancode_push", "scancode_waitmsg"}
MEDIA_LABELS = {"image": "[图片]", "location": "[位置]", "link": "[链接]", "video": "[视频]",
                "shortvideo": "[视频]", "voice": "[语音]", "file": "[文件]"}
SCENE_PREFIX = "ep:"
OTP_RESEND_SECONDS = 60
WAITING_MAX_AGE = timedelta(days=3)  # older messages that waited for a reply are not sent late
OTP_MAX_TRIES = 5


# --------------------------------------------------------------------------- API client


class WechatApiError(Exception):
    """WeChat answered with a non-zero errcode (or not at all: errcode -1, ``transient``)."""

    def __init__(self, errcode: int, errmsg: str, *, transient: bool = False,
                 token: bool = False, unsure: bool = False) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.transient = transient
        self.token = token  # the token endpoint refused our AppID/AppSecret
        # The request may have been carried out (a timeout after it left, a dropped line):
        # repeating it is safe only for an idempotent call.
        self.unsure = unsure


# One header mapping for every API call (built per request, it was a measurable cost).
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


class WechatApi:
    """The few WeChat HTTP APIs we use, with a shared stable token, timeouts and retries."""

    def __init__(self, cfg: WechatConfig, clock: Clock) -> None:
        self.cfg = cfg
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._token: tuple[str, datetime] | None = None
        self._token_lock = asyncio.Lock()
        # API URLs with the token's query already encoded, per token: encoding ``params=``
        # on every send was a fifth of a sending worker's CPU.
        self._urls: tuple[str, dict[str, URL]] = ("", {})

    @property
    def _kv_key(self) -> str:
        return f"wechat:token:{self.cfg.app_id}"

    async def start(self) -> None:
        """Open the HTTP session."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.cfg.timeout_seconds)
            )

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _url(self, path: str, token: str) -> URL:
        """``path`` with ``access_token`` in its query, encoded once per token."""
        cached_for, urls = self._urls
        if cached_for != token:
            urls = {}
            self._urls = (token, urls)
        url = urls.get(path)
        if url is None:
            url = urls[path] = URL(f"{self.cfg.api_base_url}{path}").with_query(
                access_token=token)
        return url

    async def _post_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One POST of ``payload`` to ``path`` (no token)."""
        return await self._post(f"{self.cfg.api_base_url}{path}",
                                json.dumps(payload, ensure_ascii=False).encode())

    async def _post(self, url: str | URL, body: bytes) -> dict[str, Any]:
        """One POST of a JSON ``body``; transport trouble and 5xx become transient errors."""
        await self.start()
        assert self._session is not None
        check_deadline(self.clock.now(), self.cfg.timeout_seconds)  # right before it leaves
        try:
            async with self._session.post(url, data=body, headers=_JSON_HEADERS) as resp:
                if resp.status >= 500:
                    # 500/502/503: not carried out; 504: a gateway gave up waiting for it.
                    raise WechatApiError(-1, f"HTTP {resp.status}", transient=True,
                                         unsure=resp.status == 504)
                if resp.status != 200:
                    raise WechatApiError(-2, f"HTTP {resp.status}")
                raw = await resp.read()
            data = json.loads(raw)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as e:
            # No connection was made: the request never left.
            raise WechatApiError(-1, f"no connection ({type(e).__name__})",
                                 transient=True) from e
        except (TimeoutError, aiohttp.ClientError) as e:
            raise WechatApiError(-1, f"no answer ({type(e).__name__})", transient=True,
                                 unsure=True) from e
        except ValueError as e:
            raise WechatApiError(-1, "answer was not JSON", transient=True, unsure=True) from e
        if not isinstance(data, dict):
            raise WechatApiError(-1, "answer was not a JSON object", transient=True)
        return data

    async def _fetch_token(self, force: bool) -> tuple[str, int]:
        data = await self._post_json("/cgi-bin/stable_token", {
            "grant_type": "client_credential", "appid": self.cfg.app_id,
            "secret": self.cfg.app_secret, "force_refresh": force,
        })
        code = int(data.get("errcode") or 0)
        if code or not data.get("access_token"):
            raise WechatApiError(code or -1, str(data.get("errmsg", "no access_token")),
                                 transient=code == -1, token=code not in (0, -1, 45009))
        return str(data["access_token"]), int(data.get("expires_in") or 7200)

    async def check_credentials(self) -> None:
        """Ask ``stable_token`` itself, never a stored token (``survey-bot doctor``).

        Raises :class:`WechatApiError` with WeChat's errcode when it refuses.
        """
        await self._fetch_token(force=False)

    async def private_templates(self) -> set[str]:
        """The template ids the account has (``get_all_private_template``)."""
        await self.start()
        assert self._session is not None
        url = self._url("/cgi-bin/template/get_all_private_template", await self.access_token())
        try:
            async with self._session.get(url) as resp:
                data = json.loads(await resp.read())
        except (TimeoutError, aiohttp.ClientError, ValueError) as e:
            raise WechatApiError(-1, f"no usable answer ({type(e).__name__})",
                                 transient=True) from e
        code = int(data.get("errcode") or 0) if isinstance(data, dict) else -1
        if code:
            raise WechatApiError(code, str(data.get("errmsg", "")))
        return {str(t.get("template_id")) for t in data.get("template_list") or []}

    async def access_token(self, *, stale: str | None = None) -> str:
        """A valid token: from memory, the shared table, or ``stable_token``.

        ``stale`` is a token WeChat just refused: it is never returned again, and if
        ``stable_token`` hands it back, a forced refresh is asked for (sparingly: WeChat limits
        forced refreshes per day).
        """
        now = self.clock.now()
        if self._token and self._token[1] > now and self._token[0] != stale:
            return self._token[0]
        async with self._token_lock:
            now = self.clock.now()
            if self._token and self._token[1] > now and self._token[0] != stale:
                return self._token[0]
            row = await KeyValue.get_or_none(key=self._kv_key)
            if (row is not None and row.expires_at is not None and row.expires_at > now
                    and row.value != stale):
                self._token = (row.value, row.expires_at)
                return row.value
            token, expires_in = await self._fetch_token(force=False)
            if token == stale:
                token, expires_in = await self._fetch_token(force=True)
            expires = now + timedelta(seconds=expires_in) - TOKEN_MARGIN
            await KeyValue.update_or_create(
                defaults={"value": token, "expires_at": expires}, key=self._kv_key
            )
            self._token = (token, expires)
            return token

    async def call(self, path: str, payload: dict[str, Any], *,
                   idempotent: bool = True) -> dict[str, Any]:
        """Call an API with the token: refresh once on 40001/42001, back off on -1 and 5xx.

        A call that is not ``idempotent`` (a customer-service or subscribe message: WeChat
        takes no key for them) is never repeated after an answer that leaves its outcome
        unknown (a timeout, a dropped line): the caller settles that instead.
        """
        refreshed = False
        stale: str | None = None
        attempt = 0
        body = json.dumps(payload, ensure_ascii=False).encode()
        while True:
            try:
                token = await self.access_token(stale=stale)
                data = await self._post(self._url(path, token), body)
                code = int(data.get("errcode") or 0)
                if code in TOKEN_ERRORS and not refreshed:
                    refreshed, stale = True, token
                    continue
                if code:
                    raise WechatApiError(code, str(data.get("errmsg", "")), transient=code == -1)
                return data
            except WechatApiError as e:
                if (not e.transient or attempt >= self.cfg.max_retries
                        or (e.unsure and not idempotent)):
                    raise
                attempt += 1
                await asyncio.sleep(self.cfg.retry_backoff_seconds * 2 ** (attempt - 1))

    async def send_text(self, openid: str, text: str) -> None:
        """A customer-service text message (inside the 48-hour window)."""
        await self.call("/cgi-bin/message/custom/send", {
            "touser": openid, "msgtype": "text", "text": {"content": text},
        }, idempotent=False)

    async def send_template(self, openid: str, template_id: str, data: dict[str, Any],
                            url: str | None, client_msg_id: str) -> str:
        """A template message; returns WeChat's msgid (TEMPLATESENDJOBFINISH names it)."""
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data,
                                   "client_msg_id": client_msg_id}
        if url:
            payload["url"] = url
        result = await self.call("/cgi-bin/message/template/send", payload)
        return str(result.get("msgid", ""))

    async def send_subscribe(self, openid: str, template_id: str, data: dict[str, Any],
                             page: str | None) -> None:
        """A subscribe message (``bizsend``), for people who accepted that template."""
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
        if page:
            payload["page"] = page
        await self.call("/cgi-bin/message/subscribe/bizsend", payload, idempotent=False)

    async def create_qr(self, scene: str, expire_seconds: int) -> dict[str, Any]:
        """A temporary parametric QR code (``QR_STR_SCENE``): ticket, url, expire_seconds."""
        return await self.call("/cgi-bin/qrcode/create", {
            "expire_seconds": expire_seconds, "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}},
        })


# --------------------------------------------------------------------------- the channel


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def fill(template: str, values: Mapping[str, Any]) -> str:
    """``template`` with ``{placeholders}`` from ``values``; unknown ones become empty."""
    try:
        return template.format_map(_Blank(values))
    except (ValueError, IndexError, AttributeError):
        return template


_SPACES_RE = re.compile(r"\s+")


@functools.lru_cache(maxsize=256)
def _field_kind(keyword: str) -> tuple[str, int | None]:
    """A template keyword's type and its length limit (``thing3`` → ("thing", 20))."""
    kind = keyword.rstrip("0123456789")
    return kind, FIELD_LIMITS.get(kind)


def fit_field(keyword: str, value: str) -> str:
    """Cut a template value to WeChat's limit for the keyword's type (``thing3`` → 20)."""
    kind, limit = _field_kind(keyword)
    value = _SPACES_RE.sub(" ", value).strip()
    if limit is None or len(value) <= limit:
        return value
    return value[: limit - 1] + "…" if kind == "thing" else value[:limit]


@dataclass(slots=True)
class SendFacts:
    """What sending to one contact depends on, loaded for a batch and kept current by send.

    ``last_in``: (time, id) of the person's last WeChat message inside the 48-hour window;
    ``used``: customer-service messages sent since; ``templates``: per conversation and
    round (the opening, each reminder: :func:`send_round`), the check-in messages whose
    template (or subscribe message) went out.
    """

    last_in: tuple[datetime, int] | None = None
    used: int = 0
    templates: dict[tuple[int, str], set[int]] = dataclasses.field(default_factory=dict)


def send_round(key: str) -> str:
    """The round a check-in message belongs to, from its outbox key.

    ``checkin:7:open:1`` → ``checkin:7:open``; ``checkin:7:attempt2:0`` → ``checkin:7:attempt2``;
    a fallback copy (``…:via:wechat``) belongs to its original's round. One template invites
    the reply for a whole round; the next day's reminder is a new round with its own template.
    """
    return key.split(":via:", 1)[0].rsplit(":", 1)[0]


class WechatChannel:
    """Sends through WeChat: customer-service text inside 48 h, a template to reopen later."""

    name = CHANNEL

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.cfg = settings.wechat
        self.clock = clock or SystemClock()
        self.api = WechatApi(self.cfg, self.clock)
        self.crypto = (
            WeChatCrypto(self.cfg.token, self.cfg.encoding_aes_key, self.cfg.app_id)
            if self.cfg.encoding_aes_key else None
        )
        # One AES context for every inbound message (building one per message costs more
        # than the decryption itself).
        self.prp = PrpCrypto(self.crypto.key) if self.crypto is not None else None
        # Names of the other channels of this process (set by build_channels): a fallback is
        # only offered when it exists.
        self.peers: set[str] = set()
        self.inbox: _Inbox | None = None  # group commit of inbound texts (webhook)

    async def start(self) -> None:
        """Open the API client."""
        await self.api.start()

    async def close(self) -> None:
        """Close the API client."""
        await self.api.close()

    def can_reach(self, phone: str | None, openid: str | None) -> bool:
        """Only contacts bound to an openid."""
        return bool(openid)

    @property
    def call_seconds(self) -> float:
        """The longest one send can take: a token fetch, then every try with its back-off."""
        tries = self.cfg.max_retries + 1
        backoff = self.cfg.retry_backoff_seconds * (2 ** self.cfg.max_retries - 1)
        return self.cfg.timeout_seconds * (tries + 1) + backoff + 1

    def _settle(self, msg: Outgoing, facts: SendFacts, now: datetime) -> SendResult | None:
        """An earlier attempt's outcome is unknown. None: send again, harmlessly; else the
        message is taken as sent.

        WeChat has no API to ask what became of a message. A template message carries
        ``client_msg_id`` (our outbox key's digest): WeChat sends at most one message per
        openid and id within ten minutes, so it is sent again with the same id while that
        holds. Customer-service and subscribe messages carry no key: "settled" there means
        taken as sent, unconfirmed — never sent twice; a lost check-in is asked again by the
        next day's reminder, a lost reply by the person's next message.
        """
        assert msg.unsure_since is not None
        inside = facts.last_in is not None and now - facts.last_in[0] < WINDOW
        # The unknown attempt started at most a lease (and a call) before it was noticed.
        age = now - msg.unsure_since + timedelta(
            seconds=self.settings.worker.lease_seconds + self.call_seconds)
        by_template = (not inside and bool(self.cfg.template_id)
                       and self.cfg.reopen_with == "template"
                       and (msg.kind == "checkin" or self._fallback(msg) is None))
        if by_template and age < DEDUP_WINDOW:
            return None
        log.warning("WeChat message %s: outcome of an earlier attempt unknown; taken as sent "
                    "(WeChat offers no way to ask)", msg.message_id)
        return SendResult(provider_msg_id=f"{'cs' if inside else 'unconfirmed'}:"
                                          f"{msg.message_id}", unconfirmed=True)

    def _fallback(self, msg: Outgoing) -> str | None:
        fb = self.cfg.fallback_channel
        return fb if fb and fb in self.peers and msg.phone else None

    async def send(self, msg: Outgoing) -> SendResult:
        """Customer-service text inside the window, else reopen (template) or fall back."""
        if not msg.openid:
            raise ChannelError("the contact is not bound to WeChat", code="no_openid",
                               unreachable=True, fallback=self._fallback(msg))
        now = self.clock.now()
        facts = msg.prepared if isinstance(msg.prepared, SendFacts) else None
        if facts is None:
            facts = (await self._load_facts([msg], now))[msg.contact_id]
        if msg.unsure_since is not None:
            settled = self._settle(msg, facts, now)
            if settled is not None:
                return settled
        if facts.last_in is not None and now - facts.last_in[0] < WINDOW:
            if facts.used >= CS_PER_INBOUND:
                raise _wait_for_person(facts.last_in[0] + WINDOW - now)
            try:
                await self.api.send_text(msg.openid, msg.text)
                facts.used += 1
                return SendResult(provider_msg_id=f"cs:{msg.message_id}")
            except WechatApiError as e:
                if e.errcode != 45015:
                    raise self._error(e, msg) from e
        return await self._reopen(msg, facts)

    async def prepare(self, batch: list[Outgoing]) -> dict[int, SendFacts]:
        """The 48-hour windows, customer-service counts and opening templates of a batch."""
        facts = await self._load_facts(batch, self.clock.now())
        return {m.message_id: facts[m.contact_id] for m in batch}

    async def _load_facts(self, batch: list[Outgoing], now: datetime) -> dict[int, SendFacts]:
        """One :class:`SendFacts` per contact of ``batch``, in at most three queries."""
        facts = {m.contact_id: SendFacts() for m in batch}
        # The contact's last message on any channel bounds the WeChat one: when even that is
        # older than the window, no query is needed to know the window is closed.
        recent = list({m.contact_id for m in batch if m.openid and m.last_inbound_at is not None
                       and now - m.last_inbound_at < WINDOW})
        if recent:
            for r in await Message.filter(
                direction=Direction.IN, channel=CHANNEL, contact_id__in=recent,
                sender="person", created_at__gt=now - WINDOW,
            ).values("contact_id", "created_at", "id"):
                f = facts[r["contact_id"]]
                if f.last_in is None or (r["created_at"], r["id"]) > f.last_in:
                    f.last_in = (r["created_at"], r["id"])
            opened = {c: f.last_in for c, f in facts.items() if f.last_in is not None}
            if opened:
                for r in await Message.filter(
                    direction=Direction.OUT, channel=CHANNEL, contact_id__in=list(opened),
                    provider_msg_id__startswith="cs:",
                    sent_at__gte=min(at for at, _ in opened.values()),
                ).values("contact_id", "sent_at", "id"):
                    at, in_id = opened[r["contact_id"]]
                    if r["sent_at"] > at or (r["sent_at"] == at and r["id"] > in_id):
                        facts[r["contact_id"]].used += 1
        convs = {m.conversation_id: m.contact_id for m in batch
                 if m.kind == "checkin" and m.conversation_id is not None}
        if convs:
            # By contact as well: message.conversation_id has no index, (contact_id, id) has.
            for r in await Message.filter(
                Q(status__in=[MessageStatus.SENT, MessageStatus.DELIVERED],
                  provider_msg_id__startswith="tmpl:") | Q(provider_msg_id__startswith="sub:"),
                direction=Direction.OUT, contact_id__in=sorted(set(convs.values())),
                conversation_id__in=list(convs), kind="checkin",
            ).values("conversation_id", "id", "dedupe_key"):
                cid = convs[r["conversation_id"]]
                facts[cid].templates.setdefault(
                    (r["conversation_id"], send_round(r["dedupe_key"])), set()).add(r["id"])
        return facts

    async def _reopen(self, msg: Outgoing, facts: SendFacts) -> SendResult:
        """Outside the 48-hour window: a template for a check-in, else SMS or wait."""
        fb = self._fallback(msg)
        if self.cfg.template_id and (msg.kind == "checkin" or fb is None):
            sent = (facts.templates.setdefault(
                (msg.conversation_id, send_round(msg.idempotency_key)), set())
                if msg.conversation_id is not None else set())
            if msg.kind == "checkin" and sent - {msg.message_id}:
                # This round's template (the opening, or today's reminder) already invites
                # the reply.
                return SendResult(provider_msg_id=f"covered:{msg.message_id}")
            provider_id = await self._send_template(msg)
            if msg.kind == "checkin":
                sent.add(msg.message_id)
                return SendResult(provider_msg_id=provider_id)
            raise ChannelError("outside the 48-hour window: an invitation went out as a "
                               "template; this text waits for the person's next message",
                               code="45015", retryable=False)
        raise ChannelError("outside the 48-hour window" + ("" if fb else
                           ": waiting for the person's next message"),
                           code="45015", retryable=False, fallback=fb)

    def template_data(self, params: Mapping[str, Any]) -> dict[str, dict[str, str]]:
        """The template's keyword values from a message's params, cut to WeChat's limits."""
        values = {"org_name": self.settings.org.name, "org_phone": self.settings.org.phone,
                  **params}
        return {k: {"value": fit_field(k, fill(v, values))}
                for k, v in self.cfg.template_fields.items()}

    async def _send_template(self, msg: Outgoing) -> str:
        assert msg.openid
        data = self.template_data(msg.params)
        link = str(msg.params.get("link") or "") or None
        try:
            if self.cfg.reopen_with == "subscribe":
                await self.api.send_subscribe(msg.openid, self.cfg.template_id, data, link)
                return f"sub:{msg.message_id}"
            key = hashlib.sha256(msg.idempotency_key.encode()).hexdigest()[:32]
            msgid = await self.api.send_template(msg.openid, self.cfg.template_id, data, link,
                                                 client_msg_id=key)
            return f"tmpl:{msgid}"
        except WechatApiError as e:
            raise self._error(e, msg) from e

    def fault(self, e: WechatApiError, kind: str) -> Fault | None:
        """The pause an answer calls for (see :data:`FAULTS`), or None."""
        entry = FAULTS.get(e.errcode)
        if entry is None and e.token:
            # Any other refusal of the token endpoint (40001: "AppSecret wrong", 40002 ...).
            entry = ("channel", "无法获取 access_token（AppID/AppSecret 配置有误）",
                     "no access token: the AppID or AppSecret is wrong")
        if entry is None:
            return None
        scope, zh, en = entry
        kinds = frozenset({"checkin", kind}) if scope == "template" else None
        return Fault(code=str(e.errcode), zh=zh, en=en, kinds=kinds)

    def _error(self, e: WechatApiError, msg: Outgoing) -> ChannelError:
        """WeChat's errcode → what the outbox should do."""
        code = str(e.errcode)
        fault = self.fault(e, msg.kind)
        if fault is not None:
            return ChannelError(f"WeChat paused: {fault.en}", code=code, fault=fault)
        if e.errcode in UNREACHABLE:
            return ChannelError(f"{UNREACHABLE[e.errcode]} ({e.errmsg})", code=code,
                                unreachable=True, fallback=self._fallback(msg))
        if e.errcode == 45047:
            return _wait_for_person(WINDOW)
        if e.errcode == 45009:  # daily API quota
            return ChannelError("daily API quota reached", code=code, retry_after=3600)
        if e.unsure:
            return ChannelError(f"WeChat's answer was lost ({e.errmsg}): settled before any "
                                "resend", code="wechat.unsure", unsure=True, retry_after=1.0)
        if e.transient or e.errcode in TOKEN_ERRORS:
            return ChannelError(f"WeChat did not take it: {e.errmsg}", code=code)
        return ChannelError(f"WeChat refused the message: {e.errmsg}", code=code,
                            retryable=False)


def _wait_for_person(left: timedelta) -> ChannelError:
    """45047: no more messages until the person writes again (their message requeues this).

    Deferred, not failed: later messages to them would hit the same cap, and falling back to
    SMS after five messages would be pushy. If they never write, the window closes and the
    next try reopens the conversation (template) or falls back.
    """
    return ChannelError(
        f"{CS_PER_INBOUND} messages sent since the person last wrote: waiting for their next "
        "message", code="45047", defer=True, retry_after=max(left.total_seconds(), 60.0))


# --------------------------------------------------------------------------- webhook input


class WebhookRejected(Exception):
    """A webhook call we refuse: ``status`` is the HTTP status, the message says why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True, slots=True)
class Inbound:
    """A verified, decrypted, parsed webhook message."""

    fields: dict[str, str]
    raw: str
    encrypted: bool


def _sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted parts joined (what wechatpy's WeChatSigner
    computes; done directly because the webhook signs twice per message). Sorting the strings
    sorts their UTF-8 bytes the same way."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# Numbers WeChat sends are ASCII digits: ``str.isdigit`` (and ``int``) would also take "²",
# "①", "٣" or "１". MsgId is an unsigned 64-bit number (at most 20 digits).
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_MSG_ID = re.compile(r"[0-9]{1,20}")
MSG_ID_MAX = 2**64 - 1
# Characters XML 1.0 forbids (the flat reader below must not accept what the XML parser would
# refuse): C0 controls other than tab, newline and carriage return, surrogates, U+FFFE/FFFF.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_DTD = re.compile(r"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def check_query(cfg: WechatConfig, query: Mapping[str, str], now: datetime) -> None:
    """Timestamp within the skew bound and, when given, a valid ``signature`` (else 403)."""
    ts, nonce = query.get("timestamp", ""), query.get("nonce", "")
    if not _TIMESTAMP.fullmatch(ts) or not nonce or len(nonce) > 64:
        raise WebhookRejected(403, "timestamp and nonce are required")
    if abs(now.timestamp() - int(ts)) > cfg.max_clock_skew_seconds:
        raise WebhookRejected(403, "timestamp too far from our clock (replay or clock skew)")
    sig = query.get("signature")
    if sig is None and query.get("encrypt_type") != "aes":
        raise WebhookRejected(403, "signature missing")
    if sig is not None and not _same(_sign(cfg.token, ts, nonce), sig):
        raise WebhookRejected(403, "bad signature")


# WeChat's documents are flat: <xml><Name><![CDATA[text]]></Name><Num>123</Num>...</xml>.
# A document made only of such elements (no declarations, entities, attributes or nesting)
# is read directly, in one pass; anything else goes through the XML parser with its checks.
# CDATA text is "anything without ]]>", written unrolled (runs of non-"]" characters) because
# a per-character lookahead made this the webhook's costliest step.
_FLAT_OPEN = re.compile(r"\s*<xml>")
_FLAT_FIELD = re.compile(
    r"\s*<([A-Za-z_][\w.-]{0,63})>"
    r"(?:<!\[CDATA\[([^\]]*(?:\](?!\]>)[^\]]*)*)\]\]>|([^<&]*))</\1>")
_FLAT_CLOSE = re.compile(r"\s*</xml>\s*")


def _flat_fields(text: str) -> dict[str, str] | None:
    if _XML_ILLEGAL.search(text):
        return None  # the XML parser refuses it, with its reason
    m = _FLAT_OPEN.match(text)
    if m is None:
        return None
    pos = m.end()
    fields: dict[str, str] = {}
    field = _FLAT_FIELD.match
    while (m := field(text, pos)) is not None:
        name, cdata = m.group(1, 2)
        # The XML parser keeps the last of repeated elements as a list: refuse those too.
        if name in fields:
            return None
        # Stripped like the XML parser's text (xmltodict strips CDATA text too).
        fields[name] = (cdata if cdata is not None else m.group(3)).strip()
        pos = m.end()
    if _FLAT_CLOSE.fullmatch(text, pos) is None:
        return None
    return fields


def parse_xml(text: str) -> dict[str, str]:
    """A flat ``<xml>`` document → its fields. Entities, DTDs and nesting are refused."""
    fast = _flat_fields(text)
    if fast is not None:
        return fast
    # The whole body: a declaration after any amount of padding is still one.
    if _DTD.search(text):
        raise WebhookRejected(400, "XML with a document type or entities is refused")
    try:
        doc = xmltodict.parse(text, disable_entities=True)
    except (ExpatError, ValueError) as e:
        raise WebhookRejected(400, f"not well-formed XML: {e}") from None
    root = doc.get("xml") if isinstance(doc, dict) else None
    if not isinstance(root, dict):
        raise WebhookRejected(400, "the root element must be <xml>")
    fields: dict[str, str] = {}
    for key, value in root.items():
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise WebhookRejected(400, f"field {key} is not plain text")
        fields[key] = value
    return fields


def _msg_id_ok(value: str) -> bool:
    return _MSG_ID.fullmatch(value) is not None and int(value) <= MSG_ID_MAX


def _require(fields: Mapping[str, str]) -> None:
    """The fields every message needs, each bounded: refused (400) before anything is stored."""
    for name in ("FromUserName", "MsgType", "CreateTime"):
        if not fields.get(name):
            raise WebhookRejected(400, f"field {name} is missing")
    if not _TIMESTAMP.fullmatch(fields["CreateTime"]):
        raise WebhookRejected(400, "field CreateTime must be 1 to 12 digits 0-9")
    sender = fields["FromUserName"]
    if len(sender) > 64 or any(c.isspace() or ord(c) < 32 for c in sender):
        raise WebhookRejected(400, "field FromUserName is malformed")
    if len(fields["MsgType"]) > 32:
        raise WebhookRejected(400, "field MsgType is malformed")
    if fields["MsgType"].lower() == "event":
        if not fields.get("Event"):
            raise WebhookRejected(400, "field Event is missing")
        if len(fields["Event"]) > 64:
            raise WebhookRejected(400, "field Event is malformed")
        for name in ("MsgID", "MsgId"):  # TEMPLATESENDJOBFINISH spells it MsgID
            if fields.get(name) and not _msg_id_ok(fields[name]):
                raise WebhookRejected(400, f"field {name} must be 1 to 20 digits 0-9")
    elif not fields.get("MsgId"):
        raise WebhookRejected(400, "field MsgId is missing")
    elif not _msg_id_ok(fields["MsgId"]):
        raise WebhookRejected(400, "field MsgId must be 1 to 20 digits 0-9 (a 64-bit number)")


def read_message(ch: WechatChannel, query: Mapping[str, str], body: bytes,
                 now: datetime) -> Inbound:
    """Verify and decode one POSTed message (plain, compatible or safe mode)."""
    cfg = ch.cfg
    check_query(cfg, query, now)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected(400, "body is not valid UTF-8") from None
    fields = parse_xml(text)
    encrypted = query.get("encrypt_type") == "aes"
    if not encrypted:
        if cfg.mode == "safe":
            raise WebhookRejected(403, "safe mode: plaintext messages are refused")
        _require(fields)
        return Inbound(fields, text, False)
    if ch.crypto is None or ch.prp is None:
        raise WebhookRejected(400, "encrypted message but no encoding_aes_key configured")
    enc, msg_sig = fields.get("Encrypt", ""), query.get("msg_signature", "")
    if not enc or not msg_sig:
        raise WebhookRejected(403, "Encrypt or msg_signature missing")
    if not _same(_sign(cfg.token, query["timestamp"], query["nonce"], enc), msg_sig):
        raise WebhookRejected(403, "bad msg_signature")
    try:
        # msg_signature is checked above; wechatpy's PrpCrypto decrypts and checks the AppID.
        plain = ch.prp.decrypt(enc, cfg.app_id)
    except (InvalidSignatureException, InvalidAppIdException):
        raise WebhookRejected(403, "message not for this app") from None
    except Exception:  # bad base64, padding, lengths: hostile or corrupt input
        raise WebhookRejected(400, "encrypted payload cannot be decrypted") from None
    inner = parse_xml(str(plain))
    _require(inner)
    return Inbound(inner, str(plain), True)


def render_reply(ch: WechatChannel, inbound: Inbound, text: str, nonce: str,
                 now: datetime) -> str:
    """A passive text reply, encrypted when the message was."""
    ts = int(now.timestamp())
    xml = TextReply(source=inbound.fields.get("ToUserName", ""),
                    target=inbound.fields["FromUserName"], content=text, time=ts).render()
    if inbound.encrypted and ch.crypto is not None:
        return str(ch.crypto.encrypt_message(xml, nonce, str(ts)))
    return str(xml)


# --------------------------------------------------------------------------- inbound actions

Action = Callable[[BaseDBAsyncClient, Message], Awaitable[tuple[str | None, int | None]]]


async def _store_then(rt: Runtime, *, contact_id: int | None, body: str, provider_id: str,
                      raw: str, sender: str, action: Action) -> str | None:
    """Store the raw inbound first, then act; a WeChat retry of a handled one does nothing.

    The row is written as failed ("not handled yet") so the dispatcher never takes it; the
    action and the switch to processed commit together. A retry finds it and acts again only
    if the first try did not finish.
    """
    now = rt.now()
    key = f"in:{CHANNEL}:{provider_id}"[:160]
    try:
        row = await Message.create(
            direction=Direction.IN, channel=CHANNEL, contact_id=contact_id, dedupe_key=key,
            provider_msg_id=provider_id[:128], sender=sender, body=body, raw_payload=raw,
            status=MessageStatus.FAILED, error="not handled yet", created_at=now,
        )
        rt.metrics.received(CHANNEL, "other")
    except IntegrityError:
        row = await Message.get(dedupe_key=key)
        if row.status != MessageStatus.FAILED:
            return None
    async with in_transaction() as conn:
        reply, conv_id = await action(conn, row)
        await Message.filter(id=row.id).using_db(conn).update(
            status=MessageStatus.PROCESSED, processed_at=now, error=None,
            conversation_id=conv_id,
        )
    if contact_id is not None and sender == "person":
        await Contact.filter(id=contact_id).update(last_inbound_at=now,
                                                   last_inbound_channel=CHANNEL)
        await _requeue_waiting(rt, {contact_id})
    return reply


# Outbound WeChat messages of contact ``m.contact_id`` that wait for the person to write.
_WAITING = ("m.direction = 'out' AND m.channel = 'wechat' AND m.status IN ('failed', 'queued') "
            "AND m.error LIKE '450%'")


async def _requeue_waiting(rt: Runtime, contact_ids: set[int]) -> None:
    """These people wrote (or scanned, clicked): messages that waited for it may go now.

    Those are 45047 (deferred) and 45015 with nowhere else to go. One cheap read in the
    common case where nothing waits.
    """
    waiting = {int(r["contact_id"]) for r in await bulk.execute_in(
        connections.get("default"),
        f"SELECT DISTINCT contact_id FROM message m WHERE {_WAITING} AND contact_id IN",
        [], sorted(contact_ids))}
    if waiting:
        await _requeue(rt, waiting)


async def _requeue(rt: Runtime, waiting: set[int]) -> None:
    """Send now what waited for these people to write (see :func:`_requeue_waiting`)."""
    now = rt.now()
    since = now - WAITING_MAX_AGE
    n = await Message.filter(
        direction=Direction.OUT, channel=CHANNEL, contact_id__in=list(waiting),
        status=MessageStatus.QUEUED, error__startswith="45047", next_attempt_at__gt=now,
    ).update(next_attempt_at=now)
    n += await Message.filter(
        direction=Direction.OUT, channel=CHANNEL, contact_id__in=list(waiting),
        status=MessageStatus.FAILED, created_at__gte=since, error__startswith="45015",
    ).exclude(error__contains="sent via").update(
        status=MessageStatus.QUEUED, next_attempt_at=now, attempts=0)
    if n:
        rt.outbox_waker.wake()


class _Inbox:
    """Group commit for text messages: requests that arrive together are stored together.

    Each request still waits until its own message is committed before WeChat hears
    ``success`` (store first); one INSERT per burst instead of one transaction per message
    is what lets a single process keep up with a busy account.
    """

    MAX_BATCH = 256

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.pending: list[tuple[str, str, str, str, asyncio.Future[Any]]] = []
        self.task: asyncio.Task[None] | None = None

    async def store(self, openid: str, text: str, provider_id: str,
                    raw: str) -> tuple[dispatcher.Received, int | None]:
        """Store one text message; returns how it went and the sender's contact id."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending.append((openid, text, provider_id, raw, fut))
        if self.task is None:
            self.task = asyncio.create_task(self._run())
        result: tuple[dispatcher.Received, int | None] = await fut
        return result

    async def _run(self) -> None:
        try:
            # Let the requests that arrived together join: one loop turn at a time, for as
            # long as each turn brings more (a burst being read), never idling for a timer.
            seen = 0
            while seen < len(self.pending) < self.MAX_BATCH:
                seen = len(self.pending)
                await asyncio.sleep(0)
            while self.pending:
                batch, self.pending = (self.pending[: self.MAX_BATCH],
                                       self.pending[self.MAX_BATCH:])
                try:
                    results = await self._flush(batch)
                except Exception as e:  # each waiting request answers 500: WeChat retries
                    for *_, fut in batch:
                        if not fut.done():
                            fut.set_exception(e)
                else:
                    for (*_, fut), result in zip(batch, results, strict=True):
                        if not fut.done():
                            fut.set_result(result)
        finally:
            self.task = None

    async def _flush(self, batch: list[tuple[str, str, str, str, asyncio.Future[Any]]]
                     ) -> list[tuple[dispatcher.Received, int | None]]:
        # Two round trips a batch: one statement finds the senders, records that they wrote
        # and says whether messages wait for it; one INSERT stores the batch.
        senders = await _senders_wrote(self.rt.now(), sorted({b[0] for b in batch}))
        items = [dispatcher.InboundItem(CHANNEL, senders.get(o, (None, False))[0], t, p, r)
                 for o, t, p, r, _ in batch]
        received = await dispatcher.receive_many(self.rt, items, contacts_done=True)
        waiting = {i.contact_id for (o, *_), i, r in zip(batch, items, received, strict=True)
                   if not r.duplicate and i.contact_id is not None and senders[o][1]}
        if waiting:
            await _requeue(self.rt, waiting)
        return [(r, i.contact_id) for i, r in zip(items, received, strict=True)]


async def _senders_wrote(now: datetime, openids: list[str]) -> dict[str, tuple[int, bool]]:
    """Bound senders among ``openids`` → (contact id, whether messages wait for them to write),
    their last inbound time set to ``now`` on the way.

    Set before their messages are stored, and for WeChat's retries too: they did write (a
    signed message arrived), and a retry comes seconds later. The send side reads this time
    only to skip its window query, which reads the stored messages themselves.
    """
    conn = connections.get("default")
    pg = conn.capabilities.dialect == "postgres"
    marks = [f"${i}" if pg else "?" for i in range(1, len(openids) + 3)]
    when = Contact._meta.fields_map["last_inbound_at"].to_db_value(now, Contact)
    rows = await conn.execute_query_dict(
        f"UPDATE contact SET last_inbound_at = {marks[0]}, last_inbound_channel = {marks[1]} "
        f"WHERE wechat_openid IN ({','.join(marks[2:])}) RETURNING wechat_openid, id, "
        f"EXISTS (SELECT 1 FROM message m WHERE m.contact_id = contact.id AND {_WAITING}) "
        "AS waiting", [when, CHANNEL, *openids])
    return {str(r["wechat_openid"]): (int(r["id"]), bool(r["waiting"])) for r in rows}


def _values(rt: Runtime, **extra: Any) -> dict[str, Any]:
    return {"org_name": rt.settings.org.name, "org_phone": rt.settings.org.phone,
            "department": "", **extra}


async def handle(rt: Runtime, ch: WechatChannel, inbound: Inbound) -> str | None:
    """Act on one verified message; returns the text of a passive reply, or None."""
    f = inbound.fields
    openid = f["FromUserName"]
    mtype = f["MsgType"].lower()
    if mtype == "text" or (mtype == "voice" and f.get("Recognition", "").strip()):
        text = (f.get("Content") if mtype == "text" else f.get("Recognition")) or ""
        if ch.inbox is None or ch.inbox.rt is not rt:
            ch.inbox = _Inbox(rt)
        received, contact_id = await ch.inbox.store(openid, text, f["MsgId"], inbound.raw)
        if received.duplicate or contact_id is not None:
            return None
        return await _bind_by_text(rt, openid, text.strip())
    contact = await Contact.get_or_none(wechat_openid=openid)
    if mtype == "event":
        return await _on_event(rt, ch, inbound, contact)
    return await _on_media(rt, inbound, contact, mtype, f["MsgId"])


def _media_body(f: Mapping[str, str], mtype: str) -> str:
    label = MEDIA_LABELS.get(mtype, f"[{mtype[:16]}]")
    if mtype == "location":
        return f"{label} {f.get('Label', '')}".strip()[:500]
    if mtype == "link":
        return f"{label} {f.get('Title', '')} {f.get('Url', '')}".strip()[:500]
    return label


async def _current_conversation(conn: BaseDBAsyncClient, contact_id: int,
                                statuses: list[ConversationStatus]) -> Conversation | None:
    return await Conversation.filter(contact_id=contact_id, status__in=statuses).using_db(
        conn).order_by("-last_activity_at", "-id").first()


async def _department_of(conn: BaseDBAsyncClient, conv: Conversation) -> int | None:
    if conv.checkin_id is None:
        return None
    checkin = await CheckIn.get(id=conv.checkin_id, using_db=conn)
    episode = await Episode.get(id=checkin.episode_id, using_db=conn)
    return episode.department_id


async def _hand_to_staff(rt: Runtime, conn: BaseDBAsyncClient, contact_id: int,
                         reason: str) -> Conversation:
    """Put the person's current (or last, or a new) conversation in the staff queue."""
    now = rt.now()
    conv = await _current_conversation(
        conn, contact_id, [ConversationStatus.OPEN, ConversationStatus.STAFF]
    ) or await Conversation.filter(contact_id=contact_id).using_db(conn).order_by("-id").first()
    if conv is None:
        conv = await Conversation.create(
            using_db=conn, contact_id=contact_id, channel=CHANNEL, last_activity_at=now,
            state={"status": "done"}, status=ConversationStatus.CLOSED,
        )
    await escalations.raise_for(conn, conversation=conv,
                                department_id=await _department_of(conn, conv),
                                kind="other", priority="normal", reason=reason, now=now)
    rt.metrics.escalation_raised("other")
    return conv


async def _held(rt: Runtime, conn: BaseDBAsyncClient, contact_id: int) -> int | None:
    """While staff hold one of this person's conversations the bot sends nothing, passive
    replies included: what the person sent is stored there and the assignee hears of it."""
    esc = await escalations.claimed_for(conn, contact_id)
    if esc is None:
        return None
    await notify.for_escalation(conn, esc, "replied", rt.now())
    return esc.conversation_id


async def _on_media(rt: Runtime, inbound: Inbound, contact: Contact | None, mtype: str,
                    pid: str) -> str | None:
    """Image, location, link, video, unrecognised voice: stored; staff look during a survey.

    They are not passed to the survey engine (it reads text): a photo of a wound or a
    location is for a person. An unrecognised voice message during a survey is first
    answered with a request to type the digit; the second one goes to staff.
    """
    wc = rt.settings.wechat
    body = _media_body(inbound.fields, mtype)
    texts = rt.texts

    async def act(conn: BaseDBAsyncClient, row: Message) -> tuple[str | None, int | None]:
        if contact is None:
            return fill(wc.text_bind_prompt, _values(rt)), None
        held = await _held(rt, conn, contact.id)
        if held is not None:
            return None, held  # staff hold the conversation: theirs to read, no bot reply
        conv = await _current_conversation(conn, contact.id, [ConversationStatus.OPEN])
        if mtype == "voice" and conv is not None:
            earlier = await Message.filter(  # contact_id: the indexed way to the rows
                contact_id=contact.id, conversation_id=conv.id, direction=Direction.IN,
                body=MEDIA_LABELS["voice"],
            ).using_db(conn).count()
            if earlier == 0:
                return fill(wc.text_voice_unclear, _values(rt)), conv.id
        staff_conv = await _hand_to_staff(rt, conn, contact.id,
                                          f"{body[:40]} received on WeChat")
        reply = wc.text_media_received if conv is not None else texts["handed_to_staff"]
        return fill(reply, _values(rt)), staff_conv.id

    return await _store_then(rt, contact_id=contact.id if contact else None, body=body,
                             provider_id=pid, raw=inbound.raw, sender="person", action=act)


async def _on_event(rt: Runtime, ch: WechatChannel, inbound: Inbound,
                    contact: Contact | None) -> str | None:
    f = inbound.fields
    event = f["Event"].lower()
    key = f.get("EventKey", "") or ""
    openid = f["FromUserName"]
    pid = f"{openid}:{f['CreateTime']}:{event}"
    if event == "templatesendjobfinish":
        pid += f":{f.get('MsgID') or f.get('MsgId', '')}"
    wc = rt.settings.wechat
    sender = "person" if event in WINDOW_EVENTS else "wechat"
    body = f"[事件 {event}] {key}".strip()[:200]

    async def act(conn: BaseDBAsyncClient, row: Message) -> tuple[str | None, int | None]:
        if event in ("subscribe", "scan"):
            scene = key.removeprefix("qrscene_")
            if scene.startswith(SCENE_PREFIX):
                return await _bind_by_scene(rt, conn, openid, scene, row), None
            if contact is not None:
                await _clear_unreachable(conn, contact)
                return None, None
            return fill(wc.text_welcome if event == "subscribe" else wc.text_bind_prompt,
                        _values(rt)), None
        if event == "unsubscribe":
            if contact is not None:
                await _unsubscribed(rt, conn, contact)
            return None, None
        if event == "templatesendjobfinish":
            await _template_finished(conn, f.get("MsgID") or f.get("MsgId", ""),
                                     f.get("Status", ""))
            return None, None
        if event == "click":
            if contact is None:
                return fill(wc.text_bind_prompt, _values(rt)), None
            held = await _held(rt, conn, contact.id)
            if held is not None:
                return None, held  # staff hold the conversation: no bot reply
            return await _menu_click(rt, conn, contact, key)
        return None, None

    return await _store_then(rt, contact_id=contact.id if contact else None, body=body,
                             provider_id=pid, raw=inbound.raw, sender=sender, action=act)


async def _clear_unreachable(conn: BaseDBAsyncClient, contact: Contact) -> None:
    fresh = await Contact.get(id=contact.id, using_db=conn)
    if CHANNEL in (fresh.unreachable or {}):
        unreachable = {k: v for k, v in fresh.unreachable.items() if k != CHANNEL}
        await Contact.filter(id=contact.id).using_db(conn).update(unreachable=unreachable)


async def bind(rt: Runtime, conn: BaseDBAsyncClient, contact_id: int, openid: str,
               how: str, ref: str | None = None) -> None:
    """Bind ``openid`` to a contact (the latest binding wins) and prefer WeChat for them."""
    now = rt.now()
    others = await Contact.filter(wechat_openid=openid).exclude(id=contact_id).using_db(
        conn).values_list("id", flat=True)
    if others:
        await Contact.filter(id__in=list(others)).using_db(conn).update(wechat_openid=None)
    contact = await Contact.get(id=contact_id, using_db=conn)
    unreachable = {k: v for k, v in (contact.unreachable or {}).items() if k != CHANNEL}
    await Contact.filter(id=contact_id).using_db(conn).update(
        wechat_openid=openid, unreachable=unreachable, preferred_channel=CHANNEL,
        last_inbound_at=now, last_inbound_channel=CHANNEL,
    )
    # Inbound rows written before we knew who this was now belong to the contact.
    await Message.filter(direction=Direction.IN, channel=CHANNEL, contact_id=None,
                         raw_payload__contains=openid).using_db(conn).update(
        contact_id=contact_id)
    await ledger.append(
        AuditEvent, kind="wechat_bound", actor="person", subject_type="contact",
        subject_id=str(contact_id),
        data={"how": how, "ref": ref, "moved_from": sorted(others)}, recorded_at=now,
    )


async def _bind_by_scene(rt: Runtime, conn: BaseDBAsyncClient, openid: str, scene: str,
                         row: Message) -> str:
    wc = rt.settings.wechat
    ident = scene.removeprefix(SCENE_PREFIX)
    # ASCII digits within the id column's range; anything else is a code we never made.
    valid = re.fullmatch(r"[0-9]{1,10}", ident) is not None and int(ident) < 2**31
    episode = await Episode.get_or_none(id=int(ident), using_db=conn) if valid else None
    if episode is None:
        return fill(wc.text_qr_invalid, _values(rt))
    await bind(rt, conn, episode.contact_id, openid, "qr", ref=str(episode.id))
    await Message.filter(id=row.id).using_db(conn).update(contact_id=episode.contact_id)
    department = await Department.get(id=episode.department_id, using_db=conn)
    return fill(wc.text_bound, _values(rt, department=department.name))


async def _unsubscribed(rt: Runtime, conn: BaseDBAsyncClient, contact: Contact) -> None:
    now = rt.now()
    fresh = await Contact.get(id=contact.id, using_db=conn)
    unreachable = {**(fresh.unreachable or {}), CHANNEL: "unsubscribed: unfollowed the account"}
    updates: dict[str, Any] = {"unreachable": unreachable}
    if rt.settings.wechat.unsubscribe_opts_out and fresh.opted_out_at is None:
        updates["opted_out_at"] = now
        await CheckIn.filter(contact_id=contact.id, status=CheckinStatus.PLANNED).using_db(
            conn).update(status=CheckinStatus.SKIPPED)
    await Contact.filter(id=contact.id).using_db(conn).update(**updates)
    await ledger.append(
        AuditEvent, kind="wechat_unsubscribed", actor="person", subject_type="contact",
        subject_id=str(contact.id), data={"opted_out": "opted_out_at" in updates},
        recorded_at=now,
    )


async def _template_finished(conn: BaseDBAsyncClient, msgid: str, status: str) -> None:
    """TEMPLATESENDJOBFINISH: the template message's delivery outcome."""
    if not msgid:
        return
    msg = await Message.filter(direction=Direction.OUT, channel=CHANNEL,
                               provider_msg_id=f"tmpl:{msgid}").using_db(conn).first()
    if msg is None:
        return
    if status == "success":
        await Message.filter(id=msg.id).using_db(conn).update(status=MessageStatus.DELIVERED)
        return
    reason = f"template {status or 'failed'}"[:255]
    await Message.filter(id=msg.id).using_db(conn).update(status=MessageStatus.FAILED,
                                                          error=reason)
    if "block" in status and msg.contact_id is not None:
        contact = await Contact.get(id=msg.contact_id, using_db=conn)
        unreachable = {**(contact.unreachable or {}), CHANNEL: "blocked template messages"}
        await Contact.filter(id=contact.id).using_db(conn).update(unreachable=unreachable)


async def _menu_click(rt: Runtime, conn: BaseDBAsyncClient, contact: Contact,
                      key: str) -> tuple[str | None, int | None]:
    wc = rt.settings.wechat
    if key == wc.menu_survey_key:
        conv = await _current_conversation(conn, contact.id, [ConversationStatus.OPEN])
        checkin = (await CheckIn.get_or_none(id=conv.checkin_id, using_db=conn)
                   if conv is not None and conv.checkin_id else None)
        if conv is None or checkin is None or checkin.expires_at is None:
            return fill(wc.text_no_survey, _values(rt)), None
        _, url = await links.create_link(rt, conn, checkin.id, checkin.expires_at)
        return fill(wc.text_survey_link, _values(rt, link=url)), conv.id
    if key == wc.menu_staff_key:
        conv = await _hand_to_staff(rt, conn, contact.id, "asked for staff (WeChat menu)")
        return fill(rt.texts["handed_to_staff"], _values(rt)), conv.id
    return None, None


# --------------------------------------------------------------------------- binding by SMS


def _otp_key(openid: str) -> str:
    return f"wechat:otp:{openid}"


def _otp_hash(openid: str, code: str) -> str:
    return hashlib.sha256(f"{openid}:{code}".encode()).hexdigest()


async def _bind_by_text(rt: Runtime, openid: str, text: str) -> str:
    """An unknown person wrote: a phone number starts SMS binding, a code finishes it."""
    wc = rt.settings.wechat
    if re.fullmatch(r"\d{6}", text):
        return await _check_code(rt, openid, text)
    phone = normalise_phone(text) if re.fullmatch(r"[\d\s+\-()]{11,24}", text) else None
    if phone is None:
        return fill(wc.text_bind_prompt, _values(rt))
    if "sms" not in rt.channels:
        return fill(wc.text_otp_unavailable, _values(rt))
    now = rt.now()
    sent = fill(wc.text_otp_sent, _values(rt))
    contact = await Contact.get_or_none(phone=phone)
    # Same answer whether or not the number is known: nobody learns who is registered.
    if contact is None or contact.opted_out_at is not None:
        return sent
    row = await KeyValue.get_or_none(key=_otp_key(openid))
    if row is not None and row.expires_at and row.expires_at > now:
        state = json.loads(row.value)
        if now.timestamp() - float(state.get("sent_at", 0)) < OTP_RESEND_SECONDS:
            return sent
    code = f"{secrets.randbelow(10**6):06d}"
    state = {"contact_id": contact.id, "hash": _otp_hash(openid, code), "tries": 0,
             "sent_at": now.timestamp()}
    body = fill(wc.text_otp_sms, _values(rt, code=code, minutes=wc.otp_ttl_minutes))
    async with in_transaction() as conn:
        await KeyValue.update_or_create(
            defaults={"value": json.dumps(state),
                      "expires_at": now + timedelta(minutes=wc.otp_ttl_minutes)},
            key=_otp_key(openid), using_db=conn,
        )
        await outbox.queue(conn, key=f"wechat-otp:{contact.id}:{int(now.timestamp())}",
                           channel="sms", contact_id=contact.id, conversation_id=None,
                           body=body, now=now, kind="otp", params={"code": code, "text": body})
    rt.outbox_waker.wake()
    return sent


async def _check_code(rt: Runtime, openid: str, code: str) -> str:
    wc = rt.settings.wechat
    now = rt.now()
    async with in_transaction() as conn:
        row = await KeyValue.filter(key=_otp_key(openid)).using_db(conn).first()
        if row is None or row.expires_at is None or row.expires_at <= now:
            return fill(wc.text_otp_wrong, _values(rt))
        state = json.loads(row.value)
        if not _same(state["hash"], _otp_hash(openid, code)):
            state["tries"] = int(state.get("tries", 0)) + 1
            if state["tries"] >= OTP_MAX_TRIES:
                await KeyValue.filter(key=row.key).using_db(conn).delete()
            else:
                await KeyValue.filter(key=row.key).using_db(conn).update(
                    value=json.dumps(state))
            return fill(wc.text_otp_wrong, _values(rt))
        await KeyValue.filter(key=row.key).using_db(conn).delete()
        contact_id = int(state["contact_id"])
        await bind(rt, conn, contact_id, openid, "sms")
        episode = await Episode.filter(contact_id=contact_id).using_db(conn).order_by(
            "-occurred_at").prefetch_related("department").first()
    department = episode.department.name if episode is not None else ""
    return fill(wc.text_bound, _values(rt, department=department))


# --------------------------------------------------------------------------- QR codes


@dataclass(frozen=True, slots=True)
class QrCode:
    """A parametric QR code that binds whoever scans it to the episode's contact."""

    episode_id: int
    url: str
    ticket: str
    expires_at: datetime

    def svg(self, scale: int = 6) -> str:
        """The code as inline SVG (for the printable staff page)."""
        return str(segno.make(self.url, error="m").svg_inline(scale=scale))

    def text(self) -> str:
        """The code drawn with block characters (for a terminal)."""
        out = io.StringIO()
        segno.make(self.url, error="m").terminal(out=out, compact=True)
        return out.getvalue()


async def episode_qr(rt: Runtime, ch: WechatChannel, episode: Episode) -> QrCode:
    """The episode's binding QR code: reused while it has a day left, else created anew."""
    now = rt.now()
    key = f"wechat:qr:{episode.id}"
    row = await KeyValue.get_or_none(key=key)
    if row is not None and row.expires_at is not None and row.expires_at > now + timedelta(
            days=1):
        data = json.loads(row.value)
        return QrCode(episode.id, data["url"], data["ticket"], row.expires_at)
    seconds = rt.settings.wechat.qr_expire_days * 86_400
    result = await ch.api.create_qr(f"{SCENE_PREFIX}{episode.id}", seconds)
    if not result.get("url") or not result.get("ticket"):
        raise WechatApiError(-2, "qrcode/create answered without url or ticket")
    expires = now + timedelta(seconds=int(result.get("expire_seconds") or seconds))
    await KeyValue.update_or_create(
        defaults={"value": json.dumps({"url": result["url"], "ticket": result["ticket"]}),
                  "expires_at": expires}, key=key)
    return QrCode(episode.id, str(result["url"]), str(result["ticket"]), expires)


async def find_episode(external_id: str, source: str | None = None) -> Episode:
    """The episode with this external id (and source, when several systems use the id)."""
    qs = Episode.filter(external_id=external_id)
    if source:
        qs = qs.filter(source=source)
    found = await qs.limit(3)
    if not found:
        raise LookupError(f"no episode with external id {external_id!r}"
                          + (f" from source {source!r}" if source else ""))
    if len(found) > 1:
        sources = ", ".join(sorted(e.source for e in found))
        raise LookupError(f"external id {external_id!r} exists in several sources ({sources}): "
                          "name one with --source")
    return found[0]
