"""Aliyun SMS receipts (SmsReport) and replies (SmsUp) pushed to our callback URLs."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.queryset import QuerySet

from bot.channels.pushed import ASCII_DIGITS, CHINA, UNSTORABLE, china_time, field_text
from bot.privacy import normalise_phone
from models import Contact, Direction, Message, MessageStatus

log = logging.getLogger(__name__)

# SendBatchSms OutIds are 18 digits from here up (bot.channels.sms_batch); below, an OutId is
# the message id of a SendSms. At most this many numbers share one.
BATCH_OUT_ID_MIN = 10**17
BATCH_MAX = 100



_MOBILE = re.compile(r"1[3-9]\d{9}")


def mobile(raw: str | None) -> str | None:
    """The 11-digit mainland mobile number in ``raw`` (+86, 0086, spaces, dashes), or None."""
    phone = normalise_phone(raw or "")
    return phone if phone and _MOBILE.fullmatch(phone) else None


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


def _text(item: Mapping[str, Any], key: str) -> str:
    return field_text(item, key, _FIELD_MAX)



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
    if out_id and not ASCII_DIGITS.fullmatch(out_id):  # our message id, as we sent it
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
    if sequence_id and not ASCII_DIGITS.fullmatch(sequence_id):
        raise ValueError("'sequence_id' must be 1 to 18 digits 0-9")
    raw = json.dumps(dict(item), ensure_ascii=False, sort_keys=True)
    if UNSTORABLE.search(raw):
        raise ValueError("the reply contains control characters or invalid Unicode")
    return SmsUp(phone=phone, content=content, send_time=china_time(_text(item, "send_time")),
                 sequence_id=sequence_id, raw=raw)


async def apply_reports(reports: list[SmsReport], now: datetime) -> int:
    """Record receipts on their messages (matched by OutId); repeats change nothing."""
    applied = 0
    for r in reports:
        msg = None
        phone = mobile(r.phone)
        if r.out_id and int(r.out_id) >= BATCH_OUT_ID_MIN:
            # A SendBatchSms call's OutId, shared by its messages: the phone tells them apart.
            msg = await _one_for_phone(Message.filter(out_id=r.out_id), phone)
        elif r.out_id:  # parse_report: ASCII digits only; a SendSms OutId is the message id
            msg = await Message.get_or_none(id=int(r.out_id), direction=Direction.OUT,
                                            channel="sms")
        if msg is None and r.biz_id:
            # A batch's BizId is shared too.
            msg = await _one_for_phone(Message.filter(provider_msg_id=r.biz_id), phone)
        if msg is None:
            log.warning("SMS receipt for unknown message (out_id %r)", r.out_id[:20])
            continue
        if msg.provider_msg_id and r.biz_id and msg.provider_msg_id not in (
                r.biz_id, f"out:{msg.id}"):
            continue  # a receipt for an earlier, superseded send
        # A receipt settles an unsure send: it went.
        changes: dict[str, Any] = {"next_attempt_at": None, "unsure_since": None}
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
        applied += done
    return applied


async def _one_for_phone(rows: QuerySet[Message], phone: str | None) -> Message | None:
    """The outbound SMS among ``rows`` to ``phone`` (the only one, if the push names no
    number it has); None when none is, or when several could be and the phone cannot say."""
    found = await rows.filter(direction=Direction.OUT, channel="sms").select_related(
        "contact").limit(BATCH_MAX + 1)
    if phone is not None:
        mine = [m for m in found if m.contact is not None and mobile(m.contact.phone) == phone]
        if mine or len(found) != 1:
            return mine[0] if len(mine) == 1 else None
    return found[0] if len(found) == 1 else None


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
