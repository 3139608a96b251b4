"""Aliyun's call receipts: ``VoiceCallReport`` (states during a call, and each key pressed,
status ``300000``) and ``VoiceReport`` (the call's record once it ended: status code,
``duration``, ``dtmf``). Both are pushed as JSON arrays, sometimes twice, late or out of order.

Each receipt is matched to its call by ``out_id`` (our message id), else Aliyun's ``call_id``.
The key pressed goes to the dispatcher as one inbound message per call (deduplicated by the
call: a receipt pushed twice, or both receipts carrying the key, store it once) and from there
to the survey engine (:mod:`bot.phone.keypad`). A call's final state is taken from its
``VoiceReport`` once; a state pushed during the call never overrides it. A call that ended
without a key (not answered, busy, rejected, powered off, answered but silent) lets the
check-in's next attempt follow at once (:mod:`bot.phone.reach` decides what and when).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot import dispatcher
from bot.channels import pause
from bot.channels.base import Fault
from bot.channels.pushed import ASCII_DIGITS, china_time, field_text
from bot.phone import keypad
from bot.runtime import Runtime
from models import (
    Call,
    CallStatus,
    CheckIn,
    CheckinStatus,
    Contact,
    Direction,
    Message,
    MessageStatus,
)

log = logging.getLogger(__name__)

DTMF = "300000"
# Final call results (运营商回执, VoiceReport status_code) → what became of the call.
FINAL_CODES: dict[str, CallStatus] = {
    "200000": CallStatus.ANSWERED,  # listened to the end
    "200001": CallStatus.ANSWERED,  # hung up early
    "200008": CallStatus.ANSWERED,  # answered, no key before the timeout
    "200100": CallStatus.ANSWERED,  # call ended (after it was answered)
    "200002": CallStatus.BUSY,
    "200003": CallStatus.NO_ANSWER,
    "200004": CallStatus.INVALID_NUMBER,
    "482": CallStatus.INVALID_NUMBER,
    "200005": CallStatus.REJECTED,
    "200007": CallStatus.UNREACHABLE,
    "200012": CallStatus.UNREACHABLE,
    "200010": CallStatus.POWERED_OFF,
    "200011": CallStatus.SUSPENDED,
    "200118": CallStatus.LIMITED,
    "200119": CallStatus.LIMITED,
    "200121": CallStatus.LIMITED,
}
# smart_status_code, when Aliyun sends it: finer than the carrier's code.
SMART_CODES: dict[str, CallStatus] = {
    "ANSWERED": CallStatus.ANSWERED, "CALL_REJECTED": CallStatus.REJECTED,
    "NO_ANSWER": CallStatus.NO_ANSWER, "USER_BUSY": CallStatus.BUSY,
    "POWERED_OFF": CallStatus.POWERED_OFF, "SUSPEND": CallStatus.SUSPENDED,
    "INVALID_NUMBER": CallStatus.INVALID_NUMBER, "NO_USER_RESPONDING": CallStatus.UNREACHABLE,
    "UNAVAILABLE": CallStatus.UNREACHABLE, "INCOMING_CALL_BARRED": CallStatus.REJECTED,
    "CALL_FORWARDING": CallStatus.NO_ANSWER, "INTELLIGENT_ANSWER": CallStatus.NO_ANSWER,
    "NETWORK_BUSY": CallStatus.FAILED, "OPERATOR_BLOCK": CallStatus.FAILED,
    "CANCEL": CallStatus.FAILED, "OTHER": CallStatus.FAILED, "OTHERS": CallStatus.FAILED,
}
# States pushed during a call (VoiceCallReport).
PROGRESS_CODES: dict[str, CallStatus] = {"200101": CallStatus.PLACED, "200201": CallStatus.RINGING,
                                         "200102": CallStatus.ANSWERED}
# The carrier refused the show number: our own set-up is wrong.
SHOW_NUMBER_REFUSED = "200117"
FINAL_FIELDS = ("duration", "end_time", "originate_time", "hangup_direction", "callee")

_FIELD_MAX = {"out_id": 64, "call_id": 128, "status_code": 16, "smart_status_code": 32,
              "dtmf": 32, "status_time": 32, "end_time": 32, "start_time": 32,
              "duration": 9, "status_msg": 255, "callee": 32, "caller": 32}
_CODE = re.compile(r"[0-9]{1,16}")
_SMART = re.compile(r"[A-Z_]{1,32}")
_KEYS = re.compile(r"[0-9*#]{0,32}")


@dataclass(frozen=True, slots=True)
class VoiceReceipt:
    """One pushed receipt, validated."""

    final: bool  # a VoiceReport (the record of an ended call), else a VoiceCallReport
    out_id: str
    call_id: str
    status_code: str
    smart: str
    dtmf: str
    duration: int | None
    at: datetime | None


def _text(item: Mapping[str, Any], key: str) -> str:
    return field_text(item, key, _FIELD_MAX)



def parse_receipt(item: Any) -> VoiceReceipt:
    """Validate one VoiceCallReport or VoiceReport item; ValueError says what is wrong."""
    if not isinstance(item, Mapping):
        raise ValueError("each receipt must be a JSON object")
    out_id, call_id = _text(item, "out_id"), _text(item, "call_id")
    if not out_id and not call_id:
        raise ValueError("'out_id' or 'call_id' is required")
    code, smart, dtmf = (_text(item, "status_code"), _text(item, "smart_status_code"),
                         _text(item, "dtmf"))
    if not code and not dtmf:
        raise ValueError("'status_code' or 'dtmf' is required")
    if code and not _CODE.fullmatch(code):
        raise ValueError("'status_code' must be digits 0-9")
    if smart and not _SMART.fullmatch(smart):
        raise ValueError("'smart_status_code' must be capital letters and _")
    if not _KEYS.fullmatch(dtmf):
        raise ValueError("'dtmf' must be keys 0-9, * and #")
    raw_duration = _text(item, "duration")
    if raw_duration and not ASCII_DIGITS.fullmatch(raw_duration):
        raise ValueError("'duration' must be whole seconds, digits 0-9")
    final = any(k in item for k in FINAL_FIELDS)
    when = china_time(_text(item, "end_time") if final else _text(item, "status_time"))
    return VoiceReceipt(final=final, out_id=out_id, call_id=call_id, status_code=code,
                        smart=smart, dtmf=dtmf,
                        duration=int(raw_duration) if raw_duration else None, at=when)


def final_status(r: VoiceReceipt) -> CallStatus:
    """What became of a call, from its record (smart status first, then the carrier's code)."""
    if keypad.first_key(r.dtmf):
        return CallStatus.ANSWERED
    return SMART_CODES.get(r.smart) or FINAL_CODES.get(r.status_code) or CallStatus.FAILED


UNANSWERED = frozenset({CallStatus.NO_ANSWER, CallStatus.BUSY, CallStatus.REJECTED,
                        CallStatus.POWERED_OFF, CallStatus.SUSPENDED, CallStatus.UNREACHABLE,
                        CallStatus.INVALID_NUMBER, CallStatus.LIMITED, CallStatus.FAILED})


async def _find(r: VoiceReceipt) -> Call | None:
    if r.out_id and ASCII_DIGITS.fullmatch(r.out_id) and int(r.out_id) < 2**63:
        call = await Call.get_or_none(message_id=int(r.out_id), channel=keypad.VOICE)
        if call is not None:
            return call
    if r.call_id:
        return await Call.get_or_none(provider_call_id=r.call_id, channel=keypad.VOICE)
    return None


async def apply(rt: Runtime, receipts: list[VoiceReceipt]) -> int:
    """Record receipts on their calls, store the keys pressed; repeats change nothing.

    Returns how many receipts matched a call of ours.
    """
    now = rt.now()
    matched = 0
    for r in receipts:
        call = await _find(r)
        if call is None:
            log.warning("voice receipt for an unknown call (out_id %r)", r.out_id[:20])
            continue
        matched += 1
        key = keypad.first_key(r.dtmf)
        changes: dict[str, Any] = {"updated_at": now}
        if r.call_id and not call.provider_call_id:
            changes["provider_call_id"] = r.call_id
        if key and not call.dtmf:
            changes.update(dtmf=r.dtmf, answered_at=call.answered_at or now)
        ended_now = r.final and call.ended_at is None
        status: CallStatus | None = None
        if ended_now:
            status = final_status(r)
            changes.update(status=status, ended_at=r.at or now, status_code=r.status_code,
                           duration_seconds=r.duration)
            if status == CallStatus.ANSWERED:
                changes["answered_at"] = changes.get("answered_at") or call.answered_at or now
        elif call.ended_at is None and not r.final:
            progress = CallStatus.ANSWERED if key else PROGRESS_CODES.get(r.status_code)
            # never backwards: ringing does not undo answered
            if progress is not None and not (progress == CallStatus.RINGING
                                             and call.status == CallStatus.ANSWERED):
                changes["status"] = progress
        await Call.filter(id=call.id).update(**changes)
        if key:
            answer = keypad.KeyAnswer(key, call.question_id, call.id)
            await dispatcher.receive(
                rt, channel=keypad.VOICE, contact_id=call.contact_id, text=answer.text,
                provider_id=f"call:{call.id}", raw=answer.raw(),
                conversation_id=call.conversation_id)
        if ended_now and status is not None:
            await _ended(rt, call, status, r, answered_with_key=bool(key or call.dtmf), now=now)
    return matched


async def _ended(rt: Runtime, call: Call, status: CallStatus, r: VoiceReceipt, *,
                 answered_with_key: bool, now: datetime) -> None:
    """A call's record arrived: settle its message; without a key, the next attempt may go."""
    if call.message_id is not None:
        delivered = status == CallStatus.ANSWERED
        # The record settles an unsure call: it was placed.
        changes: dict[str, Any] = {"next_attempt_at": None, "unsure_since": None,
                                   "status": MessageStatus.DELIVERED if delivered
                                   else MessageStatus.FAILED,
                                   "error": None if delivered
                                   else f"{r.status_code or r.smart}: {status.value}"[:255]}
        msg = await Message.get_or_none(id=call.message_id, direction=Direction.OUT)
        if msg is not None and msg.sent_at is None:
            changes["sent_at"] = call.placed_at
        if msg is not None and not msg.provider_msg_id:
            changes["provider_msg_id"] = call.provider_call_id or r.call_id or f"call:{call.id}"
        await Message.filter(id=call.message_id,
                             status__in=[MessageStatus.SENT, MessageStatus.QUEUED]).update(
            **changes)
    if status == CallStatus.INVALID_NUMBER:
        contact = await Contact.get(id=call.contact_id)
        unreachable = dict(contact.unreachable or {})
        unreachable[keypad.VOICE] = f"invalid_number: {r.status_code or r.smart}"
        await Contact.filter(id=contact.id).update(unreachable=unreachable)
    if r.status_code == SHOW_NUMBER_REFUSED:
        await pause.pause(keypad.VOICE, Fault(
            code=SHOW_NUMBER_REFUSED, zh="运营商拒绝了主叫显号（called_show_number）",
            en="the carrier refused the show number (called_show_number)"), now)
    if not answered_with_key and call.checkin_id is not None:
        # Unanswered (or answered in silence): the planner decides the next attempt now.
        n = await CheckIn.filter(id=call.checkin_id, status=CheckinStatus.OPENED,
                                 expires_at__gt=now).update(expires_at=now)
        if n:
            rt.planner_waker.wake()
