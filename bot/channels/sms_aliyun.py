"""Aliyun SMS (dysmsapi) channel: approved templates, caps, pausing, receipts and replies.

Sending uses the SDK's public ``CommonRequest`` API through :mod:`bot.channels.aliyun_rpc`
(shared with the voice channel): every call runs in a small bounded thread pool and never
blocks the event loop. The SDK's own retries are off: ``SendSms`` is not idempotent, so
after a timeout we do not know whether the SMS went out. Such a message is marked *unsure* (a
``KeyValue`` row); it is sent again only after its receipt failed to arrive within
``receipt_wait_seconds`` and ``QuerySendDetails`` (matched on
``OutId`` = our message id) says Aliyun never took it.

Business errors come back as HTTP 200 with ``Code != "OK"``:

* ``isv.BUSINESS_LIMIT_CONTROL``: deferred (not an attempt) for ``limit_backoff_seconds``;
* ``isv.MOBILE_NUMBER_ILLEGAL``: the contact is unreachable by SMS, with the reason;
* a code that means our own set-up is wrong (:data:`FAULTS`: AccessKey, secret, signature,
  template, RAM permission, balance, account): SMS pauses for every process — only the kinds
  sharing the template, for a template fault — and every message waits until
  ``survey-bot channels resume sms`` (:mod:`bot.channels.pause`);
* anything else: the message fails with the code.

Caps are counted from the message table: at most ``per_number_template_cap`` messages per
number per template in any rolling 24 hours, and ``org_daily_cap`` per local day. A message
over a cap is deferred to when the cap frees, never dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q

from bot.channels import pause
from bot.channels.aliyun_rpc import API_VERSION, GATEWAY_FAULTS, AliyunRpc, Reply, Unsure
from bot.channels.base import ChannelError, Fault, Outgoing, SendResult
from bot.clock import Clock, SystemClock
from bot.config import Settings, SmsConfig, SmsTemplate
from bot.privacy import mask_phone, normalise_phone
from models import Contact, Direction, KeyValue, Message, MessageStatus

log = logging.getLogger(__name__)

__all__ = ["API_VERSION"]  # re-exported: the version the SMS API speaks
CHINA = ZoneInfo("Asia/Shanghai")  # Aliyun's SendDate and send_time are China time
VAR_LIMIT = 35  # Aliyun: each template variable at most 35 characters
UNSURE_PREFIX = "sms:unsure:"

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
    "isv.AMOUNT_NOT_ENOUGH": ("channel", "账户余额不足", "the account balance is too low"),
    "isv.OUT_OF_SERVICE": ("channel", "业务停机（余额不足）",
                           "the service is stopped (balance too low)"),
    "isv.PRODUCT_UN_SUBSCRIPT": ("channel", "账号未开通短信服务",
                                 "the account has not activated SMS"),
    "isv.PRODUCT_UNSUBSCRIBE": ("channel", "账号未开通短信服务",
                                "the account has not activated SMS"),
    "isv.ACCOUNT_NOT_EXISTS": ("channel", "阿里云账户不存在", "the Aliyun account does not exist"),
    "isv.ACCOUNT_ABNORMAL": ("channel", "阿里云账户异常", "the Aliyun account is abnormal"),
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
# Gateway codes named by family (Forbidden.RAM, Forbidden.AccessKeyDisabled, NoPermission...).
_FAULT_FAMILIES = (("Forbidden", "没有调用短信接口的权限", "not permitted to call the SMS API"),
                   ("NoPermission", "没有调用短信接口的权限", "not permitted to call the SMS API"))
_MOBILE = re.compile(r"1[3-9]\d{9}")
# Characters Aliyun refuses or that break the template: brackets of the signature, controls.
_DROP = set("【】[]")


def template_value(text: str, limit: int = VAR_LIMIT) -> str:
    """Make ``text`` a valid template variable: no emoji or controls, at most ``limit`` chars.

    Cutting works on whole characters (never half a surrogate or a dangling combining mark),
    and a cut value ends with "…" so the reader sees it was shortened.
    """
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


def mobile(raw: str | None) -> str | None:
    """The 11-digit mainland mobile number in ``raw`` (+86, 0086, spaces, dashes), or None."""
    phone = normalise_phone(raw or "")
    return phone if phone and _MOBILE.fullmatch(phone) else None


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render_params(template: SmsTemplate, values: Mapping[str, Any]) -> dict[str, str]:
    """Fill the template's variables from ``values``; unknown placeholders become empty."""
    data = _Blank({k: "" if v is None else str(v) for k, v in values.items()})
    return {name: template_value(spec.format_map(data)) for name, spec in template.params.items()}


_Reply = Reply  # the answer of one call (kept under its old name)
_Unsure = Unsure  # the request may or may not have reached Aliyun


class AliyunSmsChannel:
    """Sends approved-template SMS through Aliyun; see the module docstring for the rules."""

    name = "sms"
    # Caps are counted from the message table: one send at a time keeps the count exact.
    max_concurrency = 1

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.cfg: SmsConfig = settings.sms
        self.clock = clock or SystemClock()
        self._rpc = AliyunRpc(
            access_key_id=self.cfg.access_key_id, access_key_secret=self.cfg.access_key_secret,
            region_id=self.cfg.region_id, endpoint=self.cfg.endpoint,
            timeout=self.cfg.timeout_seconds, connect_timeout=self.cfg.connect_timeout_seconds,
            threads=self.cfg.threads, label="SMS", code_prefix="sms")

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the thread pool and the SDK client."""
        self._rpc.start()

    async def close(self) -> None:
        """Stop the thread pool (running sends finish first: they have timeouts)."""
        await self._rpc.close()

    # --- the Channel protocol ------------------------------------------------------------

    def can_reach(self, phone: str | None, openid: str | None) -> bool:
        """Only mainland mobile numbers receive SMS."""
        return mobile(phone) is not None

    async def send(self, msg: Outgoing) -> SendResult:
        """Send ``msg`` with its kind's template, honouring pause, unsure sends and caps."""
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
        earlier = await self._resolve_unsure(msg, phone, now, template)
        if earlier is not None:
            return earlier
        await self._check_caps(msg, template, phone, now)
        values = {"org_name": self.settings.org.name, "org_phone": self.settings.org.phone,
                  **msg.params, "text": msg.text}
        params = {
            "PhoneNumbers": phone,
            "SignName": self.cfg.sign_name,
            "TemplateCode": template.code,
            "TemplateParam": json.dumps(render_params(template, values), ensure_ascii=False),
            "OutId": str(msg.message_id),
        }
        try:
            reply = await self._call("SendSms", params)
        except _Unsure as e:
            await _mark_unsure(msg.message_id, phone, now)
            raise ChannelError(
                f"no answer from Aliyun ({e}); waiting for the receipt before sending again",
                code="sms.timeout", retry_after=self.cfg.receipt_wait_seconds) from None
        return await self._outcome(reply, msg, phone, template)

    # --- outcomes ---------------------------------------------------------------------------

    def fault(self, code: str, template: SmsTemplate) -> Fault | None:
        """The pause an answer calls for (see :data:`FAULTS`), or None."""
        entry = FAULTS.get(code) or next(
            (("channel", zh, en) for family, zh, en in _FAULT_FAMILIES
             if code == family or code.startswith(f"{family}.")), None)
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

    async def _outcome(self, reply: _Reply, msg: Outgoing, phone: str,
                       template: SmsTemplate) -> SendResult:
        code = str(reply.body.get("Code", ""))
        text = str(reply.body.get("Message", ""))[:200]
        if reply.status == 200 and code == "OK":
            biz = reply.body.get("BizId") or f"out:{msg.message_id}"
            return SendResult(provider_msg_id=str(biz))
        if code == LIMIT_CONTROL:
            raise ChannelError(f"Aliyun flow control for this number: {text}", code=code,
                               defer=True, retry_after=self.cfg.limit_backoff_seconds)
        if code == NUMBER_ILLEGAL:
            raise ChannelError(f"Aliyun says the number is not valid: {text}", code=code,
                               unreachable=True)
        fault = self.fault(code, template)
        if fault is not None:
            # The provider's text is left out: it can echo the request (numbers, values).
            raise ChannelError(f"SMS paused: {fault.en}", code=code, fault=fault)
        if reply.status >= 500 or code.startswith("Throttling") or code == "ServiceUnavailable":
            raise ChannelError(f"Aliyun is busy: {code} {text}", code=code or "sms.http")
        log.error("SMS %s to %s refused: %s %s", msg.message_id, mask_phone(phone), code, text)
        raise ChannelError(f"Aliyun refused the message: {text}", code=code or "sms.error",
                           retryable=False)

    async def _resolve_unsure(self, msg: Outgoing, phone: str, now: datetime,
                              template: SmsTemplate) -> SendResult | None:
        """After a timed-out send: did Aliyun take it? Returns its result, or None to send."""
        row = await KeyValue.get_or_none(key=f"{UNSURE_PREFIX}{msg.message_id}")
        if row is None:
            return None
        data = json.loads(row.value)
        wait_until = datetime.fromisoformat(data["at"]) + timedelta(
            seconds=self.cfg.receipt_wait_seconds)
        if now < wait_until:
            raise ChannelError("waiting for the receipt of a timed-out send", code="sms.unsure",
                               defer=True, retry_after=(wait_until - now).total_seconds())
        try:
            found = await self._query(phone, data["date"], str(msg.message_id), template)
        except _Unsure as e:
            raise ChannelError(f"could not ask Aliyun about an earlier send: {e}",
                               code="sms.query",
                               retry_after=self.cfg.receipt_wait_seconds) from None
        await KeyValue.filter(key=row.key).delete()
        if found is None:
            log.info("SMS %s: Aliyun never took the timed-out send; sending again",
                     msg.message_id)
            return None
        status = int(found.get("SendStatus") or 0)
        if status == 2:  # 1 waiting, 2 failed, 3 delivered
            raise ChannelError(f"not delivered: {found.get('ErrCode')}",
                               code=str(found.get("ErrCode") or "sms.failed"), retryable=False)
        return SendResult(provider_msg_id=str(found.get("BizId") or f"out:{msg.message_id}"),
                          delivered=status == 3)

    async def _query(self, phone: str, date: str, out_id: str,
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
                if str(r.get("OutId", "")) == out_id:
                    return dict(r)
            if len(rows) < 50:
                return None
        return None

    async def _check_caps(self, msg: Outgoing, template: SmsTemplate, phone: str,
                          now: datetime) -> None:
        sent = Q(direction=Direction.OUT, channel=self.name, provider_msg_id__isnull=False)
        local = now.astimezone(self.settings.tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        today = await Message.filter(sent, sent_at__gte=midnight).count()
        if today >= self.cfg.org_daily_cap:
            raise ChannelError("the organisation's daily SMS cap is reached", code="sms.cap.org",
                               defer=True,
                               retry_after=(midnight + timedelta(days=1) - local).total_seconds())
        kinds = [k for k, t in self.cfg.templates.items() if t.code == template.code]
        window = Message.filter(
            sent, Q(contact__phone=phone) | Q(dedupe_key__startswith=f"otp:{phone}:"),
            kind__in=kinds, sent_at__gte=now - timedelta(hours=24),
        )
        if await window.count() >= self.cfg.per_number_template_cap:
            oldest = await window.order_by("sent_at").first()
            frees = 3600.0
            if oldest is not None and oldest.sent_at is not None:
                frees = (oldest.sent_at + timedelta(hours=24) - now).total_seconds()
            raise ChannelError("this number's 24-hour cap for the template is reached",
                               code="sms.cap.number", defer=True, retry_after=max(frees, 1.0))

    # --- the SDK, off the event loop -------------------------------------------------------

    async def account_query(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        """A read-only query of the account (``survey-bot doctor``): Aliyun's answer.

        Transport trouble comes back as ``{"Code": "sms.no_answer", "Message": ...}``.
        """
        try:
            return dict((await self._call(action, params)).body)
        except (_Unsure, ChannelError) as e:
            return {"Code": "sms.no_answer", "Message": str(e)}

    async def _call(self, action: str, params: dict[str, str]) -> _Reply:
        return await self._rpc.call(action, params)


# --- unsure sends (KeyValue, seen by every process) -----------------------------------------


async def _mark_unsure(message_id: int, phone: str, now: datetime) -> None:
    value = json.dumps({"at": now.isoformat(), "date": now.astimezone(CHINA).strftime("%Y%m%d")})
    key = f"{UNSURE_PREFIX}{message_id}"
    # Keep the first unsure moment: that send is the one whose receipt we wait for.
    if not await KeyValue.filter(key=key).exists():
        await KeyValue.create(key=key, value=value)


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
        await KeyValue.filter(key=f"{UNSURE_PREFIX}{row.id}").delete()  # never resent
        await Message.filter(id=row.id).update(status=MessageStatus.FAILED, attempts=1,
                                                error=f"{e.code}: {e}"[:255])
        raise
    await Message.filter(id=row.id).update(status=MessageStatus.SENT, attempts=1,
                                            provider_msg_id=result.provider_msg_id, sent_at=now)
    return result


# --- receipts (SmsReport) and replies (SmsUp) ----------------------------------------------


@dataclass(frozen=True, slots=True)
class SmsReport:
    """One delivery receipt."""

    phone: str
    success: bool
    out_id: str
    biz_id: str
    err_code: str
    err_msg: str


@dataclass(frozen=True, slots=True)
class SmsUp:
    """One reply from a phone."""

    phone: str
    content: str
    send_time: datetime | None
    sequence_id: str
    raw: str


# Bounds of the pushed fields (Aliyun's own sizes, within our columns): a field past them makes
# its item invalid; the other items of the push are kept.
_FIELD_MAX = {"phone_number": 32, "out_id": 18, "biz_id": 128, "err_code": 64, "err_msg": 255,
              "content": 2000, "send_time": 32, "report_time": 32, "sign_name": 64,
              "dest_code": 64, "sequence_id": 18}
_ASCII_DIGITS = re.compile(r"[0-9]{1,18}")
# Controls other than tab and newline, and surrogates: no database stores them as text.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _text(item: Mapping[str, Any], key: str) -> str:
    """A pushed field as bounded text; numbers become their digits; anything else is refused."""
    v = item.get(key)
    if v is None:
        return ""
    if isinstance(v, bool) or not isinstance(v, str | int):
        raise ValueError(f"'{key}' must be text")
    text = str(v).strip()
    limit = _FIELD_MAX.get(key, 255)
    if len(text) > limit:
        raise ValueError(f"'{key}' is longer than {limit} characters")
    if _UNSTORABLE.search(text):
        raise ValueError(f"'{key}' contains control characters or invalid Unicode")
    return text


def _china_time(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    except ValueError:
        return None


def parse_report(item: Any) -> SmsReport:
    """Validate one SmsReport item; ValueError says what is wrong."""
    if not isinstance(item, Mapping):
        raise ValueError("each receipt must be a JSON object")
    success = item.get("success")
    if isinstance(success, str):
        success = success.lower() == "true"
    if not isinstance(success, bool):
        raise ValueError("'success' must be true or false")
    out_id, biz_id = _text(item, "out_id"), _text(item, "biz_id")
    if not out_id and not biz_id:
        raise ValueError("'out_id' or 'biz_id' is required")
    if out_id and not _ASCII_DIGITS.fullmatch(out_id):  # our message id, as we sent it
        raise ValueError("'out_id' must be 1 to 18 digits 0-9")
    return SmsReport(phone=_text(item, "phone_number"), success=success,
                     out_id=out_id, biz_id=biz_id,
                     err_code=_text(item, "err_code"), err_msg=_text(item, "err_msg"))


def parse_up(item: Any) -> SmsUp:
    """Validate one SmsUp item (``sequence_id`` string or number, ``sign_name`` optional)."""
    if not isinstance(item, Mapping):
        raise ValueError("each reply must be a JSON object")
    phone, content = _text(item, "phone_number"), _text(item, "content")
    if not phone:
        raise ValueError("'phone_number' is required")
    if not content:
        raise ValueError("'content' is required")
    seq = item.get("sequence_id")
    if (seq is not None and not isinstance(seq, str | int)) or isinstance(seq, bool):
        raise ValueError("'sequence_id' must be a string or a number")
    sequence_id = _text(item, "sequence_id")
    if sequence_id and not _ASCII_DIGITS.fullmatch(sequence_id):
        raise ValueError("'sequence_id' must be 1 to 18 digits 0-9")
    raw = json.dumps(dict(item), ensure_ascii=False, sort_keys=True)
    if _UNSTORABLE.search(raw):
        raise ValueError("the reply contains control characters or invalid Unicode")
    return SmsUp(phone=phone, content=content, send_time=_china_time(_text(item, "send_time")),
                 sequence_id=sequence_id, raw=raw)


async def apply_reports(reports: list[SmsReport], now: datetime) -> int:
    """Record receipts on their messages (matched by OutId); repeats change nothing."""
    applied = 0
    for r in reports:
        msg = None
        if r.out_id and int(r.out_id) < 2**63:  # parse_report: ASCII digits only
            msg = await Message.get_or_none(id=int(r.out_id), direction=Direction.OUT,
                                            channel="sms")
        if msg is None and r.biz_id:
            msg = await Message.get_or_none(provider_msg_id=r.biz_id, direction=Direction.OUT,
                                            channel="sms")
        if msg is None:
            log.warning("SMS receipt for unknown message (out_id %r)", r.out_id[:20])
            continue
        if msg.provider_msg_id and r.biz_id and msg.provider_msg_id not in (
                r.biz_id, f"out:{msg.id}"):
            continue  # a receipt for an earlier, superseded send
        changes: dict[str, Any] = {"next_attempt_at": None}
        if not msg.provider_msg_id:
            changes["provider_msg_id"] = r.biz_id or f"out:{msg.id}"
        if msg.sent_at is None:
            changes["sent_at"] = now
        if r.success:
            changes.update(status=MessageStatus.DELIVERED, error=None)
        else:
            changes.update(status=MessageStatus.FAILED,
                           error=f"{r.err_code}: {r.err_msg}"[:255])
        done = await Message.filter(
            id=msg.id, status__in=[MessageStatus.SENT, MessageStatus.QUEUED]
        ).update(**changes)
        await KeyValue.filter(key=f"{UNSURE_PREFIX}{msg.id}").delete()
        applied += done
    return applied


def reply_provider_id(up: SmsUp) -> str:
    """A stable id for a reply: Aliyun's sequence_id, else a digest of what was said when."""
    if up.sequence_id:
        return f"up:{up.sequence_id}"
    digest = hashlib.sha256(f"{mobile(up.phone) or up.phone}|{up.send_time}|{up.content}".encode())
    return f"up:h:{digest.hexdigest()[:32]}"


def order_replies(replies: list[SmsUp]) -> list[SmsUp]:
    """Replies in the order they were written (pushes may batch them out of order)."""
    def key(u: SmsUp) -> tuple[datetime, int, str]:
        seq = int(u.sequence_id) if u.sequence_id else 0  # parse_up: ASCII digits only
        return (u.send_time or datetime.min.replace(tzinfo=CHINA), seq, u.sequence_id)
    return sorted(replies, key=key)


async def contact_for(phone: str) -> Contact | None:
    """The contact with this number, whatever way it is written (+86, 0086, spaces, dashes)."""
    number = normalise_phone(phone)
    return await Contact.get_or_none(phone=number) if number else None
