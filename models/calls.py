"""Phone follow-up: calls placed (by the keypad survey or by staff) and the staff call list."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.fields import UTCDatetimeField


class CallStatus(StrEnum):
    """What became of one call.

    ``dialing`` is written before the provider is asked (so every call counts towards the
    per-number limits, and a crash mid-request is known); ``unsure`` when the request got no
    answer in time; ``refused`` when the provider refused it (never rang: not counted);
    ``placed`` once accepted. Receipts then say ``ringing``, ``answered`` or why not.
    ``no_receipt``: an unsure call whose receipt never came (counted as made, outcome unknown).
    Staff calls are written with their outcome at once.
    """

    DIALING = "dialing"
    UNSURE = "unsure"
    REFUSED = "refused"
    PLACED = "placed"
    RINGING = "ringing"
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REJECTED = "rejected"
    POWERED_OFF = "powered_off"
    SUSPENDED = "suspended"
    INVALID_NUMBER = "invalid_number"
    UNREACHABLE = "unreachable"
    LIMITED = "limited"
    FAILED = "failed"
    NO_RECEIPT = "no_receipt"


class Call(Model):
    """One telephone call to a contact: a keypad survey call (``voice``) or a staff call
    (``phone``). The per-number limits of the keypad survey are counted from this table."""

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharField(max_length=16)  # voice | phone
    contact_id: int
    contact: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.Contact", related_name="calls", on_delete=fields.CASCADE)
    phone = fields.CharField(max_length=32)
    checkin_id = fields.IntField(null=True)
    conversation_id = fields.IntField(null=True)
    department_id = fields.IntField(null=True)
    # voice: the outbound message the call carries (Aliyun's OutId); one call per message
    message_id = fields.BigIntField(null=True, unique=True)
    # phone: the call list task and who called
    task_id = fields.IntField(null=True)
    staff_id = fields.IntField(null=True)
    question_id = fields.CharField(max_length=64, default="")
    provider_call_id = fields.CharField(max_length=128, null=True)
    status = fields.CharEnumField(CallStatus, max_length=16)
    # Staff calls: the outcome recorded (completed, partial, no_answer, ...); voice: the key
    outcome = fields.CharField(max_length=16, default="")
    status_code = fields.CharField(max_length=32, default="")
    dtmf = fields.CharField(max_length=32, default="")
    duration_seconds = fields.IntField(null=True)
    note = fields.TextField(default="")
    placed_at = UTCDatetimeField()
    answered_at = UTCDatetimeField(null=True)
    ended_at = UTCDatetimeField(null=True)
    updated_at = UTCDatetimeField()

    class Meta:
        table = "call"
        indexes = (("phone", "channel", "placed_at"), ("checkin_id",), ("channel", "placed_at"),
                   ("task_id",))


class CallTaskStatus(StrEnum):
    """A call list task: waiting to be called, held by a member of staff, or finished."""

    OPEN = "open"
    CLAIMED = "claimed"
    DONE = "done"
    LOST = "lost"


class CallTask(Model):
    """A check-in the bot could not complete, waiting for a member of staff to phone.

    One per check-in. ``due_at`` orders the list and is when to call (a retry, or the time the
    person asked for); ``attempts`` counts staff calls that did not reach the person.
    """

    id = fields.IntField(primary_key=True)
    checkin_id: int
    checkin: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.CheckIn", related_name="call_tasks", on_delete=fields.CASCADE)
    contact_id = fields.IntField()
    department_id = fields.IntField(null=True)
    conversation_id = fields.IntField(null=True)
    reason = fields.CharField(max_length=32)  # unanswered | phone_only
    status = fields.CharEnumField(CallTaskStatus, max_length=16, default=CallTaskStatus.OPEN)
    due_at = UTCDatetimeField()
    assignee_id: int | None
    assignee: fields.ForeignKeyNullableRelation = fields.ForeignKeyField(
        "models.Staff", related_name="call_tasks", null=True, on_delete=fields.SET_NULL)
    claimed_at = UTCDatetimeField(null=True)
    attempts = fields.SmallIntField(default=0)
    outcome = fields.CharField(max_length=16, null=True)
    note = fields.TextField(null=True)
    created_at = UTCDatetimeField()
    updated_at = UTCDatetimeField()
    closed_at = UTCDatetimeField(null=True)

    class Meta:
        table = "call_task"
        unique_together = (("checkin",),)
        indexes = (("status", "due_at"), ("department_id", "status"))
