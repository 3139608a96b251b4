"""The WeChat channel: customer-service text inside the 48-hour window, templates or subscribe
messages outside it, and pausing on answers that mean our own set-up is wrong.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tortoise.expressions import Q
from wechatpy.crypto import PrpCrypto, WeChatCrypto

from bot.channels.base import ChannelError, Fault, Outgoing, SendResult
from bot.channels.wechat.api import WechatApi, WechatApiError
from bot.channels.wechat.codes import (
    CHANNEL,
    CS_PER_INBOUND,
    DEDUP_WINDOW,
    FAULTS,
    FIELD_LIMITS,
    TOKEN_ERRORS,
    UNREACHABLE,
    WINDOW,
)
from bot.clock import Clock, SystemClock
from bot.config import Settings
from models import (
    Direction,
    Message,
    MessageStatus,
)

if TYPE_CHECKING:
    from bot.channels.wechat.inbound import _Inbox

log = logging.getLogger(__name__)

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
