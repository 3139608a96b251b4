"""Staff corrections of how the bot read a reply: stored, audited, exported, trained on.

On an escalation, a member of staff says what the reply really meant ("not a complaint",
"this was a red flag", "score is 4").  :func:`record` stores the whole corrected reading
beside what the bot had read and appends an audit event; :func:`export_rows` gives the
corrections in the labelled-reply format of ``tests/data`` (``survey-bot corrections
export``), which ``survey-bot train`` adds to the shipped replies to retrain the
organisation's model.
"""

from __future__ import annotations

import re
from typing import Any, Final

from tortoise.transactions import in_transaction

from bot import ledger
from bot.runtime import Runtime
from bot.staff import StaffError, get_visible
from models import AuditEvent, Direction, LabelCorrection, Message, Staff

LABELS: Final = ("score", "opt_out", "complaint", "dispute", "red_flag", "question")
FLAGS: Final = LABELS[1:]  # the yes/no labels
# phone numbers and other long digit runs are masked in exports (privacy: training data
# leaves the database)
_DIGITS_RE: Final = re.compile(r"\d{7,}")


def _check(labels: dict[str, Any]) -> dict[str, Any]:
    """The label changes, validated; StaffError (400) says what is wrong."""
    if not isinstance(labels, dict) or not labels:
        raise StaffError("say which labels to correct, e.g. {\"complaint\": false}")
    out: dict[str, Any] = {}
    for key, value in labels.items():
        if key not in LABELS:
            raise StaffError(f"unknown label {key!r}; labels: {', '.join(LABELS)}")
        if key == "score":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 1 <= value <= 5):
                raise StaffError("score must be 1-5 or null (no score)")
        elif not isinstance(value, bool):
            raise StaffError(f"{key} must be true or false")
        out[key] = value
    return out


async def record(rt: Runtime, staff: Staff, escalation_id: int, labels: dict[str, Any],
                 note: str = "") -> LabelCorrection:
    """Correct the labels of the reply behind an escalation (the person's latest message).

    ``labels``: only what changes, e.g. ``{"complaint": False}`` or ``{"score": 4}``; the
    rest is the bot's own reading.  A dispute is also a complaint: setting ``dispute``
    true sets ``complaint``.  Raises :class:`bot.staff.StaffError` (404 for an escalation
    this member may not see, 400 for bad labels or no reply to correct).
    """
    changes = _check(labels)
    esc = await get_visible(staff, escalation_id)
    msg = await Message.filter(conversation_id=esc.conversation_id, direction=Direction.IN,
                               sender="person").order_by("-id").first()
    if msg is None or not msg.body.strip():
        raise StaffError("this escalation has no reply from the person to correct")
    reading = rt.parser.parse(msg.body).to_dict()
    parsed = {k: reading[k] for k in LABELS}
    corrected = {**parsed, **changes}
    if corrected["dispute"]:
        corrected["complaint"] = True
    now = rt.now()
    async with in_transaction():
        row = await LabelCorrection.create(
            escalation_id=esc.id, message_id=msg.id, staff_id=staff.id, text=msg.body,
            labels=corrected, parsed=parsed, note=note.strip()[:500], created_at=now)
        await ledger.append(
            AuditEvent, kind="labels_corrected", actor=staff.username,
            subject_type="escalation", subject_id=str(esc.id),
            data={"correction": row.id, "changed": sorted(
                k for k in LABELS if corrected[k] != parsed[k])},
            recorded_at=now)
    return row


async def export_rows(mask: bool = True) -> list[dict[str, Any]]:
    """Every corrected reply in the labelled-reply format (the latest correction wins)."""
    latest: dict[tuple[int | None, str], LabelCorrection] = {}
    for row in await LabelCorrection.all().order_by("id"):
        latest[(row.message_id, row.text)] = row
    out = []
    for row in latest.values():
        text = _DIGITS_RE.sub(lambda m: "1" + "0" * (len(m.group()) - 1), row.text) \
            if mask else row.text
        item: dict[str, Any] = {"text": text, **{k: row.labels.get(k) for k in LABELS}}
        if row.note:
            item["note"] = row.note
        out.append(item)
    return out


async def reading_for(rt: Runtime, esc_id: int, staff: Staff) -> dict[str, Any] | None:
    """What the escalation page offers to correct: the person's latest reply, the bot's
    reading of it, and the latest correction already made (None: no reply to correct)."""
    esc = await get_visible(staff, esc_id)
    msg = await Message.filter(conversation_id=esc.conversation_id, direction=Direction.IN,
                               sender="person").order_by("-id").first()
    if msg is None or not msg.body.strip():
        return None
    reading = rt.parser.parse(msg.body).to_dict()
    last = await LabelCorrection.filter(escalation_id=esc.id, message_id=msg.id).order_by(
        "-id").first()
    who = await Staff.get_or_none(id=last.staff_id) if last is not None else None
    current = dict(last.labels) if last is not None else {k: reading[k] for k in LABELS}
    return {"text": msg.body, "bot": {k: reading[k] for k in LABELS}, "labels": current,
            "corrected_by": who.display_name if who is not None else "",
            "corrected_at": last.created_at if last is not None else None}
