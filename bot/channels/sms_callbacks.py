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

from bot.channels.pushed import ASCII_DIGITS, CHINA, UNSTORABLE, china_time, field_text
from bot.privacy import normalise_phone
from models import Contact, Direction, Message, MessageStatus

log = logging.getLogger(__name__)



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
