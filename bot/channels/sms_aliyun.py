"""Aliyun SMS (dysmsapi) channel: approved templates, caps, pausing, unsure sends.

Requests are signed with the Aliyun SDK's RPC signer (``aliyunsdkcore``) and sent with
aiohttp (:mod:`bot.channels.aliyun_rpc`, shared with the voice channel), so ``[sms] threads``
sends run at once in one process without a thread each, bounded by that number (for the
whole process, whichever outbox lane sends them) and by ``max_per_second`` (Aliyun's API
rate for the account, shared out between processes).
Nothing is retried behind our back: ``SendSms`` is not idempotent.

A request that may have reached Aliyun without an answer (a timeout after it left, a dropped
connection, a worker that died holding the message) makes the message *unsure*
(``message.unsure_since``). It is never sent blindly again: its receipt settles it, else after
``receipt_wait_seconds`` ``QuerySendDetails`` (matched on ``OutId`` = our message id, or the
``SendBatchSms`` call's OutId recorded on the message) says whether Aliyun took it, and only a
"never took it" sends it again.

With ``[sms] batch_size`` > 1, sends under way at once that share a template go in one
``SendBatchSms`` call (:mod:`bot.channels.sms_batch`); everything below still holds per number.

Business errors come back as HTTP 200 with ``Code != "OK"``:

* ``isv.BUSINESS_LIMIT_CONTROL``: deferred (not an attempt) for ``limit_backoff_seconds``;
  ``Throttling.*`` (the API rate): deferred a second;
* ``isv.MOBILE_NUMBER_ILLEGAL``: the contact is unreachable by SMS, with the reason;
* a code that means our own set-up is wrong (:data:`FAULTS`: AccessKey, secret, signature,
  template, RAM permission, balance, account): SMS pauses for every process — only the kinds
  sharing the template, for a template fault — and every message waits until
  ``survey-bot channels resume sms`` (:mod:`bot.channels.pause`);
* anything else: the message fails with the code.

Caps: at most ``per_number_template_cap`` messages per number per template in any rolling 24
hours (counted from the message table for a whole batch at once, then as it is sent) and
``org_daily_cap`` per local day (a counter in ``key_value`` that every process reserves from
atomically, so the cap holds across processes). A message over a cap waits for it to free,
never dropped.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bot.bulk import marks
from bot.channels import pause
from bot.channels.aliyun_rpc import (
    API_VERSION,
    GATEWAY_FAULTS,
    AliyunRpc,
    NotSent,
    Reply,
    Unsure,
    denied,
)
from bot.channels.base import ChannelError, Fault, Outgoing, SendResult
from bot.channels.pushed import CHINA  # Aliyun's SendDate is China time
from bot.channels.sms_batch import SmsBatcher
from bot.channels.sms_callbacks import (  # noqa: F401 - the callbacks' home until now
    SmsReport,
    SmsUp,
    apply_reports,
    contact_for,
    mobile,
    order_replies,
    parse_report,
    parse_up,
    reply_provider_id,
)
from bot.clock import Clock, SystemClock
from bot.config import Settings, SmsConfig, SmsTemplate
from bot.privacy import mask_phone
from models import Contact, Direction, KeyValue, Message, MessageStatus

log = logging.getLogger(__name__)

__all__ = ["API_VERSION"]  # re-exported: the version the SMS API speaks
VAR_LIMIT = 35  # Aliyun: each template variable at most 35 characters
LEGACY_UNSURE_PREFIX = "sms:unsure:"  # where earlier versions kept unsure sends

# Kinds always sent by themselves: a one-time code must not wait for a batch (Aliyun, too,
# says verification codes go by SendSms).
UNBATCHED = frozenset({"otp"})
LIMIT_CONTROL = "isv.BUSINESS_LIMIT_CONTROL"
NUMBER_ILLEGAL = "isv.MOBILE_NUMBER_ILLEGAL"
# Answers that mean our own set-up is wrong (Aliyun's API error codes): SMS pauses instead of
# failing the message. code → (scope, what is wrong in Chinese, in English). Scope "channel":
# all SMS; "template": the kinds that use the message's template code (the others still go:
# a wrong code for notices must not hold a complainant's answer); "day"/"month": all SMS
# until Aliyun's own counter resets (the limit set in its console).
FAULTS: dict[str, tuple[str, str, str]] = {
    **GATEWAY_FAULTS,
    "isp.RAM_PERMISSION_DENY": ("channel", "RAM 用户没有短信权限（AliyunDysmsFullAccess）",
                                "the RAM user may not send SMS (AliyunDysmsFullAccess)"),
    "isv.SMS_SIGNATURE_ILLEGAL": ("channel", "短信签名不存在或未通过审核",
                                  "the SMS signature is unknown or not approved"),
    "isv.SMS_SIGN_ILLEGAL": ("channel", "短信签名被禁止使用", "the SMS signature is banned"),
    "isv.SIGN_STATE_ILLEGAL": ("channel", "短信签名状态不可用", "the SMS signature is unusable"),
    "isv.DENY_IP_RANGE": ("channel", "服务器IP所在地区被禁止发送",
                          "this server's IP region may not send"),
    "isv.OUT_OF_SERVICE": ("channel", "业务停机（余额不足）",
                           "the service is stopped (balance too low)"),
    "isv.PRODUCT_UN_SUBSCRIPT": ("channel", "账号未开通短信服务",
                                 "the account has not activated SMS"),
    "isv.PRODUCT_UNSUBSCRIBE": ("channel", "账号未开通短信服务",
                                "the account has not activated SMS"),
    "isv.SMS_TEMPLATE_ILLEGAL": ("template", "短信模板不存在或未通过审核",
                                 "the SMS template is unknown or not approved"),
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": ("template", "签名类型与模板类型不匹配",
                                        "the signature's type does not fit the template"),
    "isv.TEMPLATE_MISSING_PARAMETERS": ("template", "模板变量与 [sms.templates] 的 params 不一致",
                                        "the template's variables differ from its params"),
    "isv.DAY_LIMIT_CONTROL": ("day", "已达阿里云控制台设置的日发送上限",
                              "the daily limit set in the Aliyun console is reached"),
    "isv.MONTH_LIMIT_CONTROL": ("month", "已达阿里云控制台设置的月发送上限",
                                "the monthly limit set in the Aliyun console is reached"),
}
# What a gateway refusal of the RAM user (aliyun_rpc.denied) means here.
_DENIED = ("channel", "没有调用短信接口的权限", "not permitted to call the SMS API")

# Characters Aliyun refuses or that break the template: brackets of the signature, controls.
_DROP = set("【】[]")


_DROPPED_CATEGORIES = frozenset(("So", "Sk", "Cs", "Co", "Cn", "Cf"))


def _kept_as_is(ch: str) -> bool:
    """True when :func:`_clean_value` keeps ``ch`` unchanged wherever it stands."""
    cat = unicodedata.category(ch)
    return (ch not in _DROP and cat not in _DROPPED_CATEGORIES and cat != "Cc"
            and (ch == " " or not ch.isspace())
            and not unicodedata.combining(ch) and unicodedata.normalize("NFC", ch) == ch
            and not 0xFE00 <= ord(ch) <= 0xFE0F)


@functools.cache
def _plain() -> re.Pattern[str]:
    """Runs of characters kept as they are, among those values are written in (ASCII, CJK
    punctuation and ideographs, full-width forms): built with the same test, so exact."""
    ranges: list[str] = []
    for lo, hi in ((0x20, 0x7E), (0x3000, 0x303F), (0x4E00, 0x9FFF), (0xFF00, 0xFFEF)):
        start = None
        for c in range(lo, hi + 2):
            if c <= hi and _kept_as_is(chr(c)):
                start = c if start is None else start
            elif start is not None:
                ranges.append(f"{re.escape(chr(start))}-{re.escape(chr(c - 1))}")
                start = None
    return re.compile(f"[{''.join(ranges)}]*")


def template_value(text: str, limit: int = VAR_LIMIT) -> str:
    """Make ``text`` a valid template variable: no emoji or controls, at most ``limit`` chars.

    Cutting works on whole characters (never half a surrogate or a dangling combining mark),
    and a cut value ends with "…" so the reader sees it was shortened.
    """
    if len(text) <= limit and _plain().fullmatch(text) and "  " not in text:
        return text.strip()  # most values (names, departments, codes): checked in one match
    return _clean_value(text, limit)


def _clean_value(text: str, limit: int) -> str:
    """:func:`template_value`, character by character."""
    kept: list[str] = []
    for ch in unicodedata.normalize("NFC", text):
        cat = unicodedata.category(ch)
        if (ch in _DROP or cat in ("So", "Sk", "Cs", "Co", "Cn", "Cf") or ord(ch) > 0xFFFF
                or 0xFE00 <= ord(ch) <= 0xFE0F):
            continue  # emoji, variation selectors, joiners, private use
        if cat == "Cc" or ch.isspace():
            ch = " "
        kept.append(ch)
    value = re.sub(r" {2,}", " ", "".join(kept)).strip()
    if len(value) <= limit:
        return value
    cut = value[: limit - 1]
    while cut and unicodedata.combining(cut[-1]):
        cut = cut[:-1]
    return cut.rstrip() + "…"


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render_params(template: SmsTemplate, values: Mapping[str, Any]) -> dict[str, str]:
    """Fill the template's variables from ``values``; unknown placeholders become empty."""
    data = _Blank({k: "" if v is None else str(v) for k, v in values.items()})
    return {name: template_value(spec.format_map(data)) for name, spec in template.params.items()}




_Reply = Reply  # the answer of one call (bot.channels.aliyun_rpc)
_Unsure = Unsure  # the request may or may not have reached Aliyun
_NotSent = NotSent  # the request never left


@dataclass(slots=True)
class SmsFacts:
    """What a batch's caps depend on, loaded once (:meth:`AliyunSmsChannel.prepare`).

    ``window``: per (number, template code), when messages went out in the last 24 hours;
    shared by the batch's messages and kept current as they are sent. ``day``: the org
    counter's reservation for this batch (see :class:`_DayQuota`).
    """

    window: dict[tuple[str, str], list[datetime]] = field(default_factory=dict)
    day: _DayQuota | None = None


class _DayQuota:
    """A batch's share of the organisation's daily cap, reserved atomically in ``key_value``.

    Every process reserves what its batch needs from one counter row per local day (started
    at what the message table already counts), so the cap holds however many processes send;
    what a batch reserved and did not send is given back when it ends.
    """

    def __init__(self, key: str, granted: int, frees: float) -> None:
        self.key = key
        self.granted = granted
        self.used = 0
        self.frees = frees  # seconds until the local day ends

    def take(self) -> bool:
        if self.used >= self.granted:
            return False
        self.used += 1
        return True

    def put_back(self) -> None:
        self.used -= 1


class AliyunSmsChannel:
    """Sends approved-template SMS through Aliyun; see the module docstring for the rules."""

    name = "sms"

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.cfg: SmsConfig = settings.sms
        self.clock = clock or SystemClock()
        self._rpc = AliyunRpc(
            access_key_id=self.cfg.access_key_id, access_key_secret=self.cfg.access_key_secret,
            region_id=self.cfg.region_id, endpoint=self.cfg.endpoint,
            timeout=self.cfg.timeout_seconds, connect_timeout=self.cfg.connect_timeout_seconds,
            connections=self.cfg.threads, clock=self.clock,
            max_per_second=self.cfg.max_per_second)
        self._batcher = SmsBatcher(
            self._call, self.clock, size=self.cfg.batch_size,
            request_seconds=self.cfg.timeout_seconds + self.cfg.connect_timeout_seconds,
            is_fault=lambda code: self._fault_entry(code) is not None,
        ) if self.cfg.batch_size > 1 else None

    @property
    def max_concurrency(self) -> int:
        """Sends at once in this process: ``[sms] threads`` requests, each carrying up to
        ``batch_size`` messages (the HTTP connections stay bounded by ``threads``)."""
        return self.cfg.threads * self.cfg.batch_size

    @property
    def call_seconds(self) -> float:
        """The longest one send can take (a settling query, then the send)."""
        return 2 * (self.cfg.timeout_seconds + self.cfg.connect_timeout_seconds) + 1

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the HTTP session; carry over unsure sends an earlier version recorded."""
        self._rpc.start()
        try:
            await _carry_over_unsure(self.clock.now())
        except Exception:
            log.warning("could not read unsure SMS sends of an earlier version", exc_info=True)

    async def close(self) -> None:
        """Close the HTTP session (running sends end by their timeouts)."""
        if self._batcher is not None:
            await self._batcher.close()
        await self._rpc.close()

    # --- the Channel protocol ------------------------------------------------------------

    def can_reach(self, phone: str | None, openid: str | None) -> bool:
        """Only mainland mobile numbers receive SMS."""
        return mobile(phone) is not None

    async def prepare(self, batch: list[Outgoing]) -> dict[int, SmsFacts]:
        """The caps of a whole batch in two statements: the numbers' last 24 hours, and a
        reservation from the organisation's daily counter."""
        now = self.clock.now()
        facts = SmsFacts()
        phones = {p for m in batch if (p := mobile(m.phone)) is not None}
        codes = {k: t.code for k, t in self.cfg.templates.items()}
        if phones:
            for phone, kind, at in await Message.filter(
                direction=Direction.OUT, channel=self.name, provider_msg_id__isnull=False,
                contact__phone__in=sorted(phones), sent_at__gte=now - timedelta(hours=24),
            ).values_list("contact__phone", "kind", "sent_at"):
                if kind in codes:
                    facts.window.setdefault((phone, codes[kind]), []).append(at)
        facts.day = await self._reserve(now, len(batch))
        return {m.message_id: facts for m in batch}

    async def send(self, msg: Outgoing) -> SendResult:
        """Send ``msg`` with its kind's template, settling an unsure earlier send first."""
        now = self.clock.now()
        template = self.cfg.templates.get(msg.kind)
        if template is None or not template.code:
            raise ChannelError(
                f"no approved SMS template for {msg.kind!r} messages: set "
                f"[sms.templates] {msg.kind} = {{ code = \"SMS_...\", params = {{...}} }}",
                code="sms.no_template", retryable=False)
        phone = mobile(msg.phone)
        if phone is None:
            raise ChannelError("not a mainland mobile number", code="sms.not_mobile",
                               unreachable=True)
        if msg.unsure_since is not None:
            earlier = await self._settle(msg, phone, now, template)
            if earlier is not None:
                return earlier
        facts = msg.prepared if isinstance(msg.prepared, SmsFacts) else None
        day = await self._check_caps(msg, template, phone, now, facts)
        values = {"org_name": self.settings.org.name, "org_phone": self.settings.org.phone,
                  **msg.params, "text": msg.text}
        rendered = render_params(template, values)
        went = False
        try:
            reply = None
            if self._batcher is not None and msg.kind not in UNBATCHED:
                reply = await self._batcher.send(msg.message_id, phone, template.code,
                                                 self.cfg.sign_name, rendered)
            if reply is None:  # by itself (SendSms, OutId = the message id)
                reply = await self._call("SendSms", {
                    "PhoneNumbers": phone,
                    "SignName": self.cfg.sign_name,
                    "TemplateCode": template.code,
                    "TemplateParam": json.dumps(rendered, ensure_ascii=False),
                    "OutId": str(msg.message_id),
                })
            went = reply.status == 200 and reply.body.get("Code") == "OK"
            result = self._outcome(reply, msg, phone, template)
        except _Unsure as e:
            went = True  # it may have: it counts against the cap
            raise ChannelError(
                f"no answer from Aliyun ({e}); settled by its receipt or a query before any "
                "resend", code="sms.timeout", unsure=True,
                retry_after=self.cfg.receipt_wait_seconds) from None
        except _NotSent as e:
            raise ChannelError(f"cannot reach the SMS endpoint: {e}", code="sms.connect",
                               retry_after=1.0) from None
        finally:
            if day is not None and not went:
                day.put_back()
            if facts is None and day is not None:
                await _give_back([day])  # a send outside a batch reserved for itself alone
        if facts is not None:
            facts.window.setdefault((phone, template.code), []).append(now)
        return result

    # --- outcomes ---------------------------------------------------------------------------

    @staticmethod
    def _fault_entry(code: str) -> tuple[str, str, str] | None:
        return FAULTS.get(code) or (_DENIED if denied(code) else None)

    def fault(self, code: str, template: SmsTemplate) -> Fault | None:
        """The pause an answer calls for (see :data:`FAULTS`), or None."""
        entry = self._fault_entry(code)
        if entry is None:
            return None
        scope, zh, en = entry
        kinds = None
        until = None
        if scope == "template":
            kinds = frozenset(k for k, t in self.cfg.templates.items() if t.code == template.code)
            zh, en = f"{zh}（{template.code}）", f"{en} ({template.code})"
        elif scope in ("day", "month"):
            local = self.clock.now().astimezone(CHINA)
            start = local.replace(hour=0, minute=0, second=0, microsecond=0)
            if scope == "day":
                until = start + timedelta(days=1)
            else:
                until = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        return Fault(code=code, zh=zh, en=en, kinds=kinds, until=until)

    def _outcome(self, reply: _Reply, msg: Outgoing, phone: str,
                 template: SmsTemplate) -> SendResult:
        code = str(reply.body.get("Code", ""))
        text = str(reply.body.get("Message", ""))[:200]
        if reply.status == 200 and code == "OK":
            biz = reply.body.get("BizId") or f"out:{msg.message_id}"
            return SendResult(provider_msg_id=str(biz))
        if code == LIMIT_CONTROL:
            raise ChannelError(f"Aliyun flow control for this number: {text}", code=code,
                               defer=True, retry_after=self.cfg.limit_backoff_seconds)
        if code.startswith("Throttling"):
            # The API's own rate: nothing was sent; not an attempt.
            raise ChannelError(f"Aliyun's API rate is reached: {code}", code=code, defer=True,
                               retry_after=1.0)
        if code == NUMBER_ILLEGAL:
            raise ChannelError(f"Aliyun says the number is not valid: {text}", code=code,
                               unreachable=True)
        fault = self.fault(code, template)
        if fault is not None:
            # The provider's text is left out: it can echo the request (numbers, values).
            raise ChannelError(f"SMS paused: {fault.en}", code=code, fault=fault)
        if reply.status >= 500 or code in ("ServiceUnavailable", "InternalError"):
            raise ChannelError(f"Aliyun is busy: {code} {text}", code=code or "sms.http")
        log.error("SMS %s to %s refused: %s %s", msg.message_id, mask_phone(phone), code, text)
        raise ChannelError(f"Aliyun refused the message: {text}", code=code or "sms.error",
                           retryable=False)

    async def _settle(self, msg: Outgoing, phone: str, now: datetime,
                      template: SmsTemplate) -> SendResult | None:
        """An earlier send's outcome is unknown: did Aliyun take it? Its result, or None to
        send (only when Aliyun says it never took it)."""
        assert msg.unsure_since is not None
        wait_until = msg.unsure_since + timedelta(seconds=self.cfg.receipt_wait_seconds)
        if now < wait_until:
            raise ChannelError("waiting for the receipt of an earlier send whose outcome is "
                               "unknown", code="sms.unsure", defer=True,
                               retry_after=max((wait_until - now).total_seconds(), 0.1))
        # The unknown attempt was at most one lease (plus a call) before it was noticed: ask
        # about each China day that span touches.
        span = timedelta(seconds=self.settings.worker.lease_seconds + self.call_seconds)
        days = sorted({(msg.unsure_since - span).astimezone(CHINA).strftime("%Y%m%d"),
                       msg.unsure_since.astimezone(CHINA).strftime("%Y%m%d")})
        # Sent by itself its OutId is the message id; in a SendBatchSms call, that call's
        # (recorded on the row before the request left).
        out_ids = {str(msg.message_id), *(str(o) for o in await Message.filter(
            id=msg.message_id).values_list("out_id", flat=True) if o)}
        try:
            found = None
            for day in days:
                found = found or await self._query(phone, day, out_ids, template)
        except (_Unsure, _NotSent) as e:
            raise ChannelError(f"could not ask Aliyun about an earlier send: {e}",
                               code="sms.query", unsure=True,
                               retry_after=self.cfg.receipt_wait_seconds) from None
        if found is None:
            log.info("SMS %s: Aliyun never took the earlier send; sending again",
                     msg.message_id)
            return None
        status = int(found.get("SendStatus") or 0)
        if status == 2:  # 1 waiting, 2 failed, 3 delivered
            raise ChannelError(f"not delivered: {found.get('ErrCode')}",
                               code=str(found.get("ErrCode") or "sms.failed"), retryable=False)
        return SendResult(provider_msg_id=str(found.get("BizId") or f"out:{msg.message_id}"),
                          delivered=status == 3)

    async def _query(self, phone: str, date: str, out_ids: set[str],
                     template: SmsTemplate) -> dict[str, Any] | None:
        for page in range(1, 11):
            reply = await self._call("QuerySendDetails", {
                "PhoneNumber": phone, "SendDate": date, "PageSize": "50",
                "CurrentPage": str(page)})
            code = str(reply.body.get("Code", ""))
            fault = self.fault(code, template) if code != "OK" else None
            if fault is not None:
                # Same credentials as sending: the unsure message waits with everything else.
                raise ChannelError(f"SMS paused: {fault.en}", code=code, fault=fault)
            if code != "OK":
                raise _Unsure(f"QuerySendDetails answered {reply.body.get('Code')}")
            rows = (reply.body.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
            for r in rows:
                if str(r.get("OutId", "")) in out_ids:
                    return dict(r)
            if len(rows) < 50:
                return None
        return None

    # --- caps -----------------------------------------------------------------------------

    async def _check_caps(self, msg: Outgoing, template: SmsTemplate, phone: str,
                          now: datetime, facts: SmsFacts | None) -> _DayQuota | None:
        """Raise a deferral when a cap is full; returns the day quota this send took."""
        alone = facts is None
        if facts is None:  # a send outside a batch (one-time codes, tests): ask the table
            facts = SmsFacts()
            for r in await Message.filter(
                Q(contact__phone=phone) | Q(dedupe_key__startswith=f"otp:{phone}:"),
                direction=Direction.OUT, channel=self.name, provider_msg_id__isnull=False,
                kind__in=[k for k, t in self.cfg.templates.items() if t.code == template.code],
                sent_at__gte=now - timedelta(hours=24),
            ).values_list("sent_at", flat=True):
                facts.window.setdefault((phone, template.code), []).append(r)  # type: ignore[arg-type]
            facts.day = await self._reserve(now, 1)
        recent = [at for at in facts.window.get((phone, template.code), ())
                  if at > now - timedelta(hours=24)]
        if len(recent) >= self.cfg.per_number_template_cap:
            frees = (min(recent) + timedelta(hours=24) - now).total_seconds()
            if alone and facts.day is not None:
                await _give_back([facts.day])
            raise ChannelError("this number's 24-hour cap for the template is reached",
                               code="sms.cap.number", defer=True, retry_after=max(frees, 1.0))
        day = facts.day
        if day is None or not day.take():
            raise ChannelError("the organisation's daily SMS cap is reached", code="sms.cap.org",
                               defer=True, retry_after=day.frees if day else 3600.0)
        return day

    async def _reserve(self, now: datetime, wanted: int) -> _DayQuota:
        """Reserve up to ``wanted`` sends from today's org counter (every process shares it).

        One row per local day, started at what the message table counts; read under a row
        lock and raised in the same transaction, so two processes never both take the last
        places. A short transaction per batch, not per message.
        """
        local = now.astimezone(self.settings.tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        tomorrow = midnight + timedelta(days=1)
        key = f"sms:day:{midnight:%Y-%m-%d}"
        cap = self.cfg.org_daily_cap
        if not await KeyValue.filter(key=key).exists():
            counted = await Message.filter(
                direction=Direction.OUT, channel=self.name, provider_msg_id__isnull=False,
                sent_at__gte=midnight).count()
            conn = connections.get("default")
            m = marks(conn, 3)
            exp = KeyValue._meta.fields_map["expires_at"].to_db_value(
                tomorrow + timedelta(days=1), KeyValue)
            await conn.execute_query(
                f"INSERT INTO key_value (key, value, expires_at) VALUES ({m[0]}, {m[1]}, {m[2]}) "
                "ON CONFLICT (key) DO NOTHING", [key, str(counted), exp])
        async with in_transaction() as conn:
            m = marks(conn, 2)
            lock = " FOR UPDATE" if conn.capabilities.dialect == "postgres" else ""
            rows = await conn.execute_query_dict(
                f"SELECT value FROM key_value WHERE key = {m[0]}{lock}", [key])
            before = int(rows[0]["value"]) if rows else cap
            granted = max(0, min(wanted, cap - before))
            if granted:
                await conn.execute_query(
                    f"UPDATE key_value SET value = {m[0]} WHERE key = {m[1]}",
                    [str(before + granted), key])
        return _DayQuota(key, granted, (tomorrow - local).total_seconds())

    async def finish_batch(self, batch: list[Outgoing]) -> None:
        """A batch is done: give back what *it* reserved from the daily counter and did not
        send (called by the outbox after each batch; other batches of this process may still
        be sending on their own reservations)."""
        await _give_back([o.prepared.day for o in batch
                          if isinstance(o.prepared, SmsFacts) and o.prepared.day is not None])

    # --- the API (bot.channels.aliyun_rpc: signed by the SDK, sent with aiohttp) ------------

    async def account_query(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        """A read-only query of the account (``survey-bot doctor``): Aliyun's answer.

        Transport trouble comes back as ``{"Code": "sms.no_answer", "Message": ...}``.
        """
        try:
            return dict((await self._call(action, params)).body)
        except (_Unsure, _NotSent, ChannelError) as e:
            return {"Code": "sms.no_answer", "Message": str(e) or type(e).__name__}

    async def _call(self, action: str, params: dict[str, str]) -> _Reply:
        return await self._rpc.call(action, params)


async def _give_back(quotas: list[_DayQuota]) -> None:
    """Return to the daily counter what ``quotas`` reserved and did not send (each once)."""
    unused: dict[str, int] = {}
    for q in {id(q): q for q in quotas}.values():
        if q.granted > q.used:
            unused[q.key] = unused.get(q.key, 0) + q.granted - q.used
            q.granted = q.used  # given back: a second call gives nothing
    for key, n in unused.items():
        conn = connections.get("default")
        m = marks(conn, 2)
        await conn.execute_query(
            f"UPDATE key_value SET value = CAST(CAST(value AS INTEGER) - {m[0]} AS TEXT) "
            f"WHERE key = {m[1]}", [n, key])


async def _carry_over_unsure(now: datetime) -> None:
    """Unsure sends recorded by an earlier version (``key_value`` rows) move to their message."""
    rows = await KeyValue.filter(key__startswith=LEGACY_UNSURE_PREFIX)
    for row in rows:
        ident = row.key.removeprefix(LEGACY_UNSURE_PREFIX)
        try:
            at = datetime.fromisoformat(json.loads(row.value)["at"])
        except (ValueError, KeyError, TypeError):
            at = now
        if ident.isdigit():
            await Message.filter(id=int(ident), status=MessageStatus.QUEUED).update(
                unsure_since=at)
        await KeyValue.filter(key=row.key).delete()


# --- one-time codes (WeChat binding) -------------------------------------------------------


async def send_otp(settings: Settings, channels: Mapping[str, Any], phone: str, code: str,
                   now: datetime) -> SendResult:
    """Send a one-time ``code`` to ``phone`` with the ``otp`` template, now.

    Written to the message table first (for the caps and the record; the code itself is never
    stored) and sent at once, not through the outbox: a late code is useless, so a timeout or
    a cap raises :class:`ChannelError` and the caller asks the person to try again.
    """
    channel = channels.get("sms")
    if not isinstance(channel, AliyunSmsChannel):
        raise ChannelError("SMS is not configured ([sms] access_key_id)", code="sms.off",
                           retryable=False)
    number = mobile(phone)
    if number is None:
        raise ChannelError(f"{mask_phone(phone)} is not a mainland mobile number",
                           code="sms.not_mobile", retryable=False)
    held = pause.covered(await pause.active(now), "sms", "otp")
    if held is not None:
        raise ChannelError(f"SMS is paused: {held.en}", code=held.code, retryable=False)
    contact = await Contact.get_or_none(phone=number)
    row = await Message.create(
        direction=Direction.OUT, channel="sms", contact_id=contact.id if contact else None,
        dedupe_key=f"otp:{number}:{secrets.token_hex(8)}", sender="bot", kind="otp",
        body="（一次性验证码）", status=MessageStatus.QUEUED, next_attempt_at=None,
        created_at=now,
    )
    try:
        result = await channel.send(Outgoing(
            message_id=row.id, idempotency_key=row.dedupe_key,
            contact_id=contact.id if contact else 0, phone=number, openid=None,
            text="", kind="otp", params={"code": code}))
    except ChannelError as e:
        if e.fault is not None:
            await pause.pause("sms", e.fault, now)
        await Message.filter(id=row.id).update(status=MessageStatus.FAILED, attempts=1,
                                                error=f"{e.code}: {e}"[:255])  # never resent
        raise
    await Message.filter(id=row.id).update(status=MessageStatus.SENT, attempts=1,
                                            provider_msg_id=result.provider_msg_id, sent_at=now)
    return result
