"""Aliyun Voice Service (dyvmsapi): the keypad survey by telephone (``IvrCall``).

A message on this channel is a **call**, not a text. A check-in message (kind ``checkin``)
or a message that names a question (``params["ask"]``) places an ``IvrCall``: the approved
text-to-speech template of the question the conversation is waiting for (``[voice.questions]``,
greeting included) is played ``play_times`` times, and the person answers with a key
(``[voice.menu]``: the template Aliyun plays after each key). ``OutId`` is our message id; the
key comes back in the receipt (:mod:`bot.phone.receipts`). A ``notice`` goes as a plain
``SingleCallByTts`` when ``[voice.notice]`` has a template. Anything else (a thank-you, a
staff reply, an opt-out confirmation) cannot be said by a template call: it is refused, and
the outbox sends it on the next channel that carries text (never to a contact marked phone
only).

The same rules as SMS (:mod:`bot.channels.sms_aliyun`, through :mod:`bot.channels.aliyun_rpc`):

* signing, timeouts and pacing are the shared RPC helper's; nothing is retried behind our
  back, and no request starts unless it can end within this worker's lease on the message;
* a call that got no answer in time (or whose worker died while placing it) is **unsure**
  (``message.unsure_since``, and the ``call`` row placed before the request): it is never
  placed again blindly. Its receipt settles it; Aliyun offers no query by ``OutId``, so when
  no receipt arrived within ``receipt_wait_seconds`` (Aliyun pushes again after 1, 5 and 10
  minutes) the call is taken as made, outcome unknown (recorded so), and the check-in's next
  attempt follows its reach rules;
* an answer that means our own set-up is wrong (AccessKey, permission, balance, the show
  number, a template) pauses the channel for every process (:mod:`bot.channels.pause`);
* ``isv.BUSINESS_LIMIT_CONTROL`` waits ``limit_backoff_seconds`` (not an attempt).

Aliyun's per-number limits are enforced from our own ``call`` table before Aliyun is asked: at
most ``per_minute``, ``per_hour`` and ``per_day`` calls per number (default 1, 5 and 20); a
call over a limit waits until it frees. Calls keep the call hours (``[voice] call_hours``) on
the send window's days. One call at a time (``max_concurrency``) keeps the counts exact.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.channels.aliyun_rpc import GATEWAY_FAULTS, AliyunRpc, NotSent, Reply, Unsure, denied
from bot.channels.base import ChannelError, Fault, Outgoing, SendResult
from bot.channels.sms_aliyun import template_value
from bot.clock import Clock, SystemClock
from bot.config import VOICE_KEYS, Settings, VoiceConfig, VoicePrompt
from bot.phone import keypad, reach
from bot.privacy import mask_phone, normalise_phone
from models import Call, CallStatus, CheckIn, Conversation
from surveys import engine

log = logging.getLogger(__name__)

NAME = "voice"
IVR = "IvrCall"
TTS = "SingleCallByTts"
LIMIT_CONTROL = "isv.BUSINESS_LIMIT_CONTROL"
NUMBER_ILLEGAL = "isv.MOBILE_NUMBER_ILLEGAL"
# Answers that mean our own set-up is wrong: the whole channel pauses (a wrong template code
# fails every call that plays it). code → (scope, Chinese, English).
FAULTS: dict[str, tuple[str, str, str]] = {
    **GATEWAY_FAULTS,
    "isp.RAM_PERMISSION_DENY": ("channel", "RAM 用户没有语音服务权限（AliyunDyvmsFullAccess）",
                                "the RAM user may not call (AliyunDyvmsFullAccess)"),
    "isv.OUT_OF_SERVICE": ("channel", "语音服务已停机（余额不足）",
                           "the voice service is stopped (balance too low)"),
    "isv.PRODUCT_UN_SUBSCRIPT": ("channel", "账号未开通语音服务",
                                 "the account has not activated the voice service"),
    "isv.PRODUCT_UNSUBSCRIBE": ("channel", "语音服务的交互式语音应答功能未开通",
                                "the voice service's IVR feature is not activated"),
    "isv.DISPLAY_NUMBER_ILLEGAL": ("channel", "主叫显号（called_show_number）不可用",
                                   "the show number (called_show_number) cannot be used"),
    "isv.BILLID_NOT_EXIST": ("channel", "主叫显号不属于此阿里云账号",
                             "the show number does not belong to this Aliyun account"),
    "isv.TTS_TEMPLATE_ILLEGAL": ("channel", "语音模板不存在或未通过审核",
                                 "a TTS template is unknown or not approved"),
    "isv.TEMPLATE_ILLEGAL": ("channel", "语音模板不存在或未通过审核",
                             "a TTS template is unknown or not approved"),
    "isv.VOICE_FILE_ILLEGAL": ("channel", "语音文件不可用", "a voice file cannot be used"),
    "isv.TEMPLATE_MISSING_PARAMETERS": ("channel",
                                        "模板变量与 [voice.questions] 的 params 不一致",
                                        "a template's variables differ from its params"),
}
# What a gateway refusal of the RAM user (aliyun_rpc.denied) means here.
_DENIED = ("channel", "没有调用语音服务接口的权限", "not permitted to call the voice API")
# Aliyun's own calling-period rules: try again at the next call hour.
PERIOD_CODES = ("isv.VOICE_CALL_PERIOD_ERROR", "isv.VOICE_ROBOT_NOT_PERIOD")
# Characters a voice template variable may not carry, and links (Aliyun's template rules).
_FORBIDDEN = re.compile(r"https?://\S+|www\.\S+|[#/:\-%¥$【】\[\]]")
# Calls that reached the number (or may have): they count towards Aliyun's limits.
UNCOUNTED = (CallStatus.REFUSED,)
ASKS = ("checkin",)  # kinds that open (or retry) a survey: the call asks its question


def voice_value(text: str, limit: int) -> str:
    """A valid voice template variable: no links or forbidden symbols, emoji or controls,
    at most ``limit`` characters (a cut value ends with "…")."""
    return template_value(_FORBIDDEN.sub(" ", text), limit).strip()


class _Blank(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return ""


def render_params(prompt: VoicePrompt, values: Mapping[str, Any], limit: int) -> dict[str, str]:
    """Fill the template's variables from ``values``; unknown placeholders become empty."""
    data = _Blank({k: "" if v is None else str(v) for k, v in values.items()})
    return {name: voice_value(spec.format_map(data), limit)
            for name, spec in prompt.params.items()}


@dataclass(frozen=True, slots=True)
class _Plan:
    """What one message makes this channel do."""

    action: str  # IvrCall | SingleCallByTts
    prompt: VoicePrompt
    question_id: str
    checkin_id: int | None
    conversation_id: int | None
    department_code: str | None
    department_id: int | None


class AliyunVoiceChannel:
    """Places keypad survey calls through Aliyun; see the module docstring for the rules."""

    name = NAME
    # Limits are counted from the call table: one call at a time keeps the count exact.
    max_concurrency = 1

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.cfg: VoiceConfig = settings.voice
        self.clock = clock or SystemClock()
        self._rpc = AliyunRpc(
            access_key_id=self.cfg.access_key_id, access_key_secret=self.cfg.access_key_secret,
            region_id=self.cfg.region_id, endpoint=self.cfg.endpoint,
            timeout=self.cfg.timeout_seconds, connect_timeout=self.cfg.connect_timeout_seconds,
            connections=self.cfg.threads, clock=self.clock)

    @property
    def call_seconds(self) -> float:
        """The longest one send can take (one request; the outbox's lease must outlast it)."""
        return self._rpc.call_seconds + 1

    async def start(self) -> None:
        """Open the HTTP session."""
        self._rpc.start()

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._rpc.close()

    def can_reach(self, phone: str | None, openid: str | None) -> bool:
        """Any mainland number, mobile or landline, can be called."""
        return normalise_phone(phone or "") is not None

    # --- sending ------------------------------------------------------------------------------

    async def send(self, msg: Outgoing) -> SendResult:
        """Place the call ``msg`` stands for (see the module docstring)."""
        now = self.clock.now()
        phone = normalise_phone(msg.phone or "")
        if phone is None:
            raise ChannelError("no number to call", code="voice.no_number", unreachable=True)
        plan = await self._plan(msg)
        call = await Call.get_or_none(message_id=msg.message_id)
        if call is not None and call.status in (CallStatus.DIALING, CallStatus.UNSURE):
            # The request may have left (no answer, or the worker placing it stopped).
            return await self._settle(call, msg.unsure_since, now)
        if call is not None and call.status != CallStatus.REFUSED:
            # Placed already (the answer was recorded after a crash): the same call, not another.
            return SendResult(provider_msg_id=call.provider_call_id or f"call:{call.id}")
        allowed = reach.call_time_for(self.settings, now, plan.department_code)
        if allowed > now:
            raise ChannelError("outside the call hours", code="voice.hours", defer=True,
                               retry_after=(allowed - now).total_seconds())
        await self._check_limits(phone, now)
        values = {"org_name": self.settings.org.name, "org_phone": self.settings.org.phone,
                  **msg.params, "text": msg.text}
        params = self._request(plan, phone, msg.message_id, values)
        fields: dict[str, Any] = {"channel": NAME, "contact_id": msg.contact_id, "phone": phone,
                  "checkin_id": plan.checkin_id, "conversation_id": plan.conversation_id,
                  "department_id": plan.department_id, "question_id": plan.question_id,
                  "status": CallStatus.DIALING, "placed_at": now, "updated_at": now,
                  "provider_call_id": None, "status_code": "", "dtmf": ""}
        if call is None:
            call = await Call.create(message_id=msg.message_id, **fields)
        else:
            await Call.filter(id=call.id).update(**fields)
        try:
            reply = await self._rpc.call(plan.action, params)
        except Unsure as e:
            await Call.filter(id=call.id).update(status=CallStatus.UNSURE, updated_at=now)
            raise ChannelError(
                f"no answer from Aliyun ({e}); waiting for the call's receipt before calling "
                "again", code="voice.timeout", unsure=True,
                retry_after=self.cfg.receipt_wait_seconds) from None
        except NotSent as e:
            # Never left: not a call (it does not count towards the limits); try again soon.
            await Call.filter(id=call.id).update(status=CallStatus.REFUSED, updated_at=now)
            raise ChannelError(f"cannot reach the voice endpoint: {e}", code="voice.connect",
                               retry_after=1.0) from None
        except ChannelError:  # not started (this worker's lease would end first)
            await Call.filter(id=call.id).update(status=CallStatus.REFUSED, updated_at=now)
            raise
        return await self._outcome(reply, msg, call, phone)

    def _request(self, plan: _Plan, phone: str, message_id: int,
                 values: dict[str, Any]) -> dict[str, str]:
        cfg = self.cfg
        filled = render_params(plan.prompt, values, cfg.var_limit)
        params = {"CalledShowNumber": cfg.called_show_number, "CalledNumber": phone,
                  "PlayTimes": str(cfg.play_times), "OutId": str(message_id)}
        if plan.action == TTS:
            params["TtsCode"] = plan.prompt.code
            if filled:
                params["TtsParam"] = json.dumps(filled, ensure_ascii=False)
            return params
        params["StartCode"] = plan.prompt.code
        if filled:
            params["StartTtsParams"] = json.dumps(filled, ensure_ascii=False)
        params["Timeout"] = str(cfg.key_timeout_seconds * 1000)
        for i, key in enumerate(VOICE_KEYS, start=1):
            params[f"MenuKeyMap.{i}.Key"] = key
            params[f"MenuKeyMap.{i}.Code"] = cfg.menu[key]
        if cfg.bye_code:
            params["ByeCode"] = cfg.bye_code
        return params

    async def _plan(self, msg: Outgoing) -> _Plan:
        """What ``msg`` asks for: the question a call asks, or a notice; refused otherwise."""
        conv = await Conversation.get_or_none(id=msg.conversation_id) \
            if msg.conversation_id is not None else None
        where: dict[str, Any] = {}
        if conv is not None and conv.checkin_id is not None:
            rows = await CheckIn.filter(id=conv.checkin_id).values(
                "episode__department__code", "episode__department_id")
            if rows:
                where = rows[0]
        base: dict[str, Any] = {"checkin_id": conv.checkin_id if conv else None,
                "conversation_id": conv.id if conv else None,
                "department_code": where.get("episode__department__code"),
                "department_id": where.get("episode__department_id")}
        if msg.kind == "notice":
            if not self.cfg.notice.code:
                raise ChannelError("no voice template for notices ([voice.notice]); it goes "
                                   "by text", code="voice.no_template", retryable=False)
            return _Plan(TTS, self.cfg.notice, "", **base)
        asked = (msg.params or {}).get("ask")
        if msg.kind not in ASKS and not asked:
            raise ChannelError("a call cannot say this message; it goes by text",
                               code="voice.text_only", retryable=False)
        state = dict(conv.state or {}) if conv is not None else {}
        survey = self.settings.surveys.get(str(state.get("survey", "")))
        question = keypad.voice_question(survey, state) if survey is not None else None
        if question is None or (asked and question.id != asked):
            moot = survey is None or state.get("status") != engine.ASKING or bool(asked)
            # Nothing left to ask by phone: a survey with questions only text can ask goes by
            # text; an answered one is moot (fallback to this channel: no other is tried).
            raise ChannelError("nothing to ask by phone", code="voice.nothing_to_ask",
                               retryable=False, fallback=NAME if moot else None)
        prompt = self.cfg.questions.get(question.id)
        if prompt is None or not prompt.code:
            raise ChannelError(f"no voice template for question {question.id!r} "
                               f"([voice.questions] {question.id}); it goes by text",
                               code="voice.no_template", retryable=False)
        return _Plan(IVR, prompt, question.id, **base)

    async def _settle(self, call: Call, unsure_since: datetime | None,
                      now: datetime) -> SendResult:
        """A call that may have been placed: wait for its receipt, never call blindly again."""
        since = max(call.updated_at, unsure_since) if unsure_since else call.updated_at
        wait_until = since + timedelta(seconds=self.cfg.receipt_wait_seconds)
        if now < wait_until:
            raise ChannelError("waiting for the receipt of a call that got no answer",
                               code="voice.unsure", defer=True,
                               retry_after=(wait_until - now).total_seconds())
        # No receipt after Aliyun's retries: count it as made, outcome unknown. The check-in's
        # reach rules decide what follows; nothing is placed again for this message.
        await Call.filter(id=call.id, status__in=[CallStatus.DIALING, CallStatus.UNSURE]).update(
            status=CallStatus.NO_RECEIPT, updated_at=now)
        log.warning("voice call %s: no receipt after %.0f s; counted as made, outcome unknown",
                    call.id, self.cfg.receipt_wait_seconds)
        return SendResult(provider_msg_id=f"call:{call.id}", unconfirmed=True)

    async def _check_limits(self, phone: str, now: datetime) -> None:
        """Aliyun's per-number limits, from our own table; over one, wait until it frees."""
        cfg = self.cfg
        day = timedelta(hours=24)
        rows = await Call.filter(channel=NAME, phone=phone, placed_at__gt=now - day).exclude(
            status__in=UNCOUNTED).values_list("placed_at", "id")
        recent: list[datetime] = sorted((at for at, _ in rows), reverse=True)
        for window, cap in ((timedelta(minutes=1), cfg.per_minute),
                            (timedelta(hours=1), cfg.per_hour), (day, cfg.per_day)):
            inside = [t for t in recent if t > now - window]
            if len(inside) >= cap:
                frees = inside[cap - 1] + window
                raise ChannelError(
                    f"this number's limit of {cap} calls per {window} is reached",
                    code="voice.limit", defer=True,
                    retry_after=max((frees - now).total_seconds(), 1.0))

    # --- outcomes -----------------------------------------------------------------------------

    def fault(self, code: str) -> Fault | None:
        """The pause an answer calls for (see :data:`FAULTS`), or None."""
        entry = FAULTS.get(code) or (_DENIED if denied(code) else None)
        if entry is None:
            return None
        _, zh, en = entry
        return Fault(code=code, zh=zh, en=en)

    async def _outcome(self, reply: Reply, msg: Outgoing, call: Call, phone: str) -> SendResult:
        now = self.clock.now()
        code = str(reply.body.get("Code", ""))
        text = str(reply.body.get("Message", ""))[:200]
        if reply.status == 200 and code == "OK":
            call_id = str(reply.body.get("CallId") or "")[:128] or None
            await Call.filter(id=call.id).update(status=CallStatus.PLACED,
                                                 provider_call_id=call_id, updated_at=now)
            return SendResult(provider_msg_id=call_id or f"call:{call.id}")
        await Call.filter(id=call.id).update(status=CallStatus.REFUSED, status_code=code[:32],
                                             updated_at=now)
        if code == LIMIT_CONTROL:
            raise ChannelError(f"Aliyun flow control for this number: {text}", code=code,
                               defer=True, retry_after=self.cfg.limit_backoff_seconds)
        if code in PERIOD_CODES:
            raise ChannelError(f"Aliyun refuses calls at this time: {text}", code=code,
                               defer=True, retry_after=3600.0)
        if code == NUMBER_ILLEGAL:
            raise ChannelError("Aliyun says the number is not valid (invalid_number)",
                               code=code, unreachable=True)
        fault = self.fault(code)
        if fault is not None:
            raise ChannelError(f"voice paused: {fault.en}", code=code, fault=fault)
        if reply.status >= 500 or code.startswith("Throttling") or code in (
                "ServiceUnavailable", "isp.SYSTEM_ERROR"):
            raise ChannelError(f"Aliyun is busy: {code} {text}", code=code or "voice.http")
        log.error("voice call %s to %s refused: %s %s", msg.message_id, mask_phone(phone),
                  code, text)
        raise ChannelError(f"Aliyun refused the call: {code}", code=code or "voice.error",
                           retryable=False)

    async def account_query(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        """A read-only query (``survey-bot doctor``): Aliyun's answer, or ``voice.no_answer``."""
        try:
            return dict((await self._rpc.call(action, params)).body)
        except (Unsure, NotSent, ChannelError) as e:
            return {"Code": "voice.no_answer", "Message": str(e) or type(e).__name__}
