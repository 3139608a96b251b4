"""Tortoise ORM models: the people, episodes, check-ins and conversations the bot works on."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.fields import UTCDatetimeField


class Role(StrEnum):
    """What a staff member may do."""

    AGENT = "agent"
    HEAD = "head"
    MANAGER = "manager"
    ADMIN = "admin"


class PersonKind(StrEnum):
    """Who the episode is about."""

    PATIENT = "patient"
    STUDENT = "student"


class Relation(StrEnum):
    """How a contact relates to the person."""

    SELF = "self"
    PARENT = "parent"
    GUARDIAN = "guardian"
    SPOUSE = "spouse"
    CHILD = "child"
    OTHER = "other"


class EpisodeKind(StrEnum):
    """What happened: a visit, a discharge, a treatment, a term of lessons."""

    VISIT = "visit"
    DISCHARGE = "discharge"
    TREATMENT = "treatment"
    LESSON_TERM = "lesson_term"


class EpisodeStatus(StrEnum):
    """Whether the episode still wants follow-up."""

    ACTIVE = "active"
    CANCELLED = "cancelled"


class CheckinStatus(StrEnum):
    """Life of a check-in: planned → opened (message queued) → answered / expired."""

    PLANNED = "planned"
    OPENED = "opened"
    ANSWERED = "answered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


class ConversationStatus(StrEnum):
    """Whether the bot or a person is handling the conversation."""

    OPEN = "open"
    STAFF = "staff"
    CLOSED = "closed"


class Direction(StrEnum):
    """Inbound (from the person) or outbound (to them)."""

    IN = "in"
    OUT = "out"


class MessageStatus(StrEnum):
    """Inbound: received → processed. Outbound: queued → sent → delivered, or failed."""

    RECEIVED = "received"
    PROCESSED = "processed"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"


class EscalationKind(StrEnum):
    """Why a person must look."""

    RED_FLAG = "red_flag"
    # a threat of legal action, a complaint to the authorities, the media, a demand to meet
    # leadership, a refusal to pay: urgent, and also a complaint
    DISPUTE = "dispute"
    COMPLAINT = "complaint"
    LOW_SCORE = "low_score"
    QUESTION = "question"
    DECEASED = "deceased"
    WRONG_NUMBER = "wrong_number"
    # pressed 0 in a keypad survey call: wants a person to call back
    CALLBACK = "callback"
    OTHER = "other"


class Priority(StrEnum):
    """How fast: urgent (minutes, around the clock), high, normal."""

    URGENT = "urgent"
    HIGH = "high"
    NORMAL = "normal"


class EscalationStatus(StrEnum):
    """Queue state of an escalation."""

    OPEN = "open"
    CLAIMED = "claimed"
    RESOLVED = "resolved"


class Department(Model):
    """A hospital department, clinic or school section."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=128)
    created_at = UTCDatetimeField(auto_now_add=True)

    class Meta:
        table = "department"


class Staff(Model):
    """A member of staff: follow-up agent, department head, manager or admin."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=64, unique=True)
    display_name = fields.CharField(max_length=128)
    role = fields.CharEnumField(Role, max_length=16, default=Role.AGENT)
    password_hash = fields.CharField(max_length=255, null=True)
    is_active = fields.BooleanField(default=True)
    departments: fields.ManyToManyRelation[Department] = fields.ManyToManyField(
        "models.Department", related_name="staff", through="staff_department"
    )
    created_at = UTCDatetimeField(auto_now_add=True)

    class Meta:
        table = "staff"


class Person(Model):
    """The patient or student an episode is about."""

    id = fields.IntField(primary_key=True)
    source = fields.CharField(max_length=64, default="manual")
    external_id = fields.CharField(max_length=128, null=True)
    kind = fields.CharEnumField(PersonKind, max_length=16, default=PersonKind.PATIENT)
    name = fields.CharField(max_length=128)
    birth_date = fields.DateField(null=True)
    created_at = UTCDatetimeField(auto_now_add=True)
    contact_links: fields.ReverseRelation[PersonContact]

    class Meta:
        table = "person"
        unique_together = (("source", "external_id"),)


class Contact(Model):
    """Who answers: the person themself or a guardian (one guardian, several children)."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=128)
    phone = fields.CharField(max_length=32, null=True, unique=True)
    wechat_openid = fields.CharField(max_length=64, null=True, unique=True)
    preferred_channel = fields.CharField(max_length=16, null=True)
    opted_out_at = UTCDatetimeField(null=True)
    stopped_reason = fields.CharField(max_length=32, null=True)
    stopped_at = UTCDatetimeField(null=True)
    # channel name → why it cannot reach this contact ("43004 unsubscribed", ...)
    unreachable: dict = fields.JSONField(default=dict)
    last_inbound_at = UTCDatetimeField(null=True)
    last_inbound_channel = fields.CharField(max_length=16, null=True)
    created_at = UTCDatetimeField(auto_now_add=True)

    class Meta:
        table = "contact"


class PersonContact(Model):
    """Links a person to a contact who may answer for them."""

    id = fields.IntField(primary_key=True)
    person_id: int
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="contact_links", on_delete=fields.CASCADE
    )
    contact_id: int
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="person_links", on_delete=fields.CASCADE
    )
    relation = fields.CharEnumField(Relation, max_length=16, default=Relation.SELF)

    class Meta:
        table = "person_contact"
        unique_together = (("person", "contact"),)


class Episode(Model):
    """A visit, discharge, treatment or term of lessons that wants follow-up."""

    id = fields.IntField(primary_key=True)
    source = fields.CharField(max_length=64, default="manual")
    external_id = fields.CharField(max_length=128)
    kind = fields.CharEnumField(EpisodeKind, max_length=16, default=EpisodeKind.VISIT)
    status = fields.CharEnumField(EpisodeStatus, max_length=16, default=EpisodeStatus.ACTIVE)
    person_id: int
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="episodes", on_delete=fields.RESTRICT
    )
    contact_id: int
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="episodes", on_delete=fields.RESTRICT
    )
    department_id: int
    department: fields.ForeignKeyRelation[Department] = fields.ForeignKeyField(
        "models.Department", related_name="episodes", on_delete=fields.RESTRICT
    )
    clinician_id: int | None
    clinician: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="episodes", null=True, on_delete=fields.SET_NULL
    )
    clinician_name = fields.CharField(max_length=128, default="")
    # the clinician's id in the hospital system (import column clinician_id), "" when not given
    clinician_code = fields.CharField(max_length=64, default="")
    treatment_type = fields.CharField(max_length=64, default="")
    occurred_at = UTCDatetimeField()
    created_at = UTCDatetimeField(auto_now_add=True)
    updated_at = UTCDatetimeField(auto_now=True)

    class Meta:
        table = "episode"
        unique_together = (("source", "external_id"),)
        indexes = (("department_id", "occurred_at"),)


class CheckIn(Model):
    """One planned contact after an episode (e.g. day 1), leased by workers when due."""

    id = fields.IntField(primary_key=True)
    episode_id: int
    episode: fields.ForeignKeyRelation[Episode] = fields.ForeignKeyField(
        "models.Episode", related_name="checkins", on_delete=fields.CASCADE
    )
    contact_id: int
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="checkins", on_delete=fields.RESTRICT
    )
    offset = fields.CharField(max_length=16)
    survey_id = fields.CharField(max_length=64)
    channel = fields.CharField(max_length=16, null=True)
    status = fields.CharEnumField(CheckinStatus, max_length=16, default=CheckinStatus.PLANNED)
    # due_at: what the schedule says (on-time is measured against it, until window_end_at).
    # send_at: when it may actually go out (quiet hours, blocked days, spread, retries).
    due_at = UTCDatetimeField()
    send_at = UTCDatetimeField()
    window_end_at = UTCDatetimeField()
    importance = fields.SmallIntField(default=1)
    attempts = fields.SmallIntField(default=0)
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_until = UTCDatetimeField(null=True)
    opened_at = UTCDatetimeField(null=True)
    last_attempt_at = UTCDatetimeField(null=True)
    # While opened: when the current attempt stops waiting (then retry, or lost to follow-up).
    expires_at = UTCDatetimeField(null=True)
    answered_at = UTCDatetimeField(null=True)
    # Lost to follow-up: no_answer, refused, opted_out, wrong_number, deceased, unreachable,
    # fatigue (a more important survey reached the person within fatigue_days).
    lost_reason = fields.CharField(max_length=32, null=True)
    created_at = UTCDatetimeField(auto_now_add=True)

    class Meta:
        table = "checkin"
        unique_together = (("episode", "offset"),)
        indexes = (("status", "send_at"), ("status", "expires_at"), ("contact_id", "status"))


class Conversation(Model):
    """The exchange that one check-in opens with a contact, with the engine's state."""

    id = fields.IntField(primary_key=True)
    contact_id: int
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="conversations", on_delete=fields.RESTRICT
    )
    checkin_id: int | None
    checkin: fields.ForeignKeyNullableRelation[CheckIn] = fields.ForeignKeyField(
        "models.CheckIn", related_name="conversations", null=True, on_delete=fields.SET_NULL
    )
    channel = fields.CharField(max_length=16)
    status = fields.CharEnumField(
        ConversationStatus, max_length=16, default=ConversationStatus.OPEN
    )
    state: dict = fields.JSONField(default=dict)
    version = fields.IntField(default=0)
    last_activity_at = UTCDatetimeField()
    created_at = UTCDatetimeField(auto_now_add=True)

    class Meta:
        table = "conversation"
        # checkin_id: a check-in's retries and its H5 link page find its conversation by it.
        indexes = (("contact_id", "status"), ("checkin_id",))


class Message(Model):
    """Inbound and outbound messages (outbound rows are the outbox)."""

    id = fields.BigIntField(primary_key=True)
    direction = fields.CharEnumField(Direction, max_length=4)
    channel = fields.CharField(max_length=16)
    contact_id: int | None
    contact: fields.ForeignKeyNullableRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="messages", null=True, on_delete=fields.SET_NULL
    )
    conversation_id: int | None
    conversation: fields.ForeignKeyNullableRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name="messages", null=True, on_delete=fields.SET_NULL
    )
    # Inbound: the provider's id (WeChat MsgId, ...) made unique per channel.
    # Outbound: our idempotency key, handed to the provider where it takes one.
    dedupe_key = fields.CharField(max_length=160, unique=True)
    provider_msg_id = fields.CharField(max_length=128, null=True)
    sender = fields.CharField(max_length=16, default="bot")  # bot | staff | person
    # Outbound: what the text is for, so channels that send only approved templates (SMS,
    # WeChat templates) can pick one: checkin (opens a survey), reply (bot, inside a
    # conversation), staff (a person's reply), notice. ``params`` fill the template.
    kind = fields.CharField(max_length=16, default="reply")
    params: dict = fields.JSONField(default=dict)
    body = fields.TextField()
    raw_payload = fields.TextField(null=True)
    status = fields.CharEnumField(MessageStatus, max_length=16)
    attempts = fields.IntField(default=0)
    next_attempt_at = UTCDatetimeField(null=True)
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_until = UTCDatetimeField(null=True)
    # Outbound: the last attempt's outcome is unknown since then (a timeout after the request
    # left, a dropped connection, a worker that died holding it). Settled (receipt, the
    # provider's query or idempotency key) before the message is ever sent again.
    unsure_since = UTCDatetimeField(null=True)
    error = fields.CharField(max_length=255, null=True)
    created_at = UTCDatetimeField()
    sent_at = UTCDatetimeField(null=True)
    processed_at = UTCDatetimeField(null=True)
    # Outbound SMS sent in one SendBatchSms call: that call's OutId, shared by every message
    # of the batch (written before the request leaves). Receipts and the settling query match
    # on (OutId, phone). None: the OutId is the message id (SendSms).
    out_id = fields.CharField(max_length=32, null=True)

    class Meta:
        table = "message"
        indexes = (("direction", "status", "next_attempt_at"), ("contact_id", "id"),
                   ("out_id",))


class SurveyLink(Model):
    """An unguessable, expiring token that opens a check-in's survey on the H5 page."""

    id = fields.IntField(primary_key=True)
    token = fields.CharField(max_length=32, unique=True)
    checkin_id: int
    checkin: fields.ForeignKeyRelation[CheckIn] = fields.ForeignKeyField(
        "models.CheckIn", related_name="links", on_delete=fields.CASCADE
    )
    created_at = UTCDatetimeField()
    expires_at = UTCDatetimeField()
    used_at = UTCDatetimeField(null=True)

    class Meta:
        table = "survey_link"
        indexes = (("checkin_id",),)  # a retry re-sends the check-in's link


class Escalation(Model):
    """A conversation that needs a person, in a department's queue."""

    id = fields.IntField(primary_key=True)
    conversation_id: int
    conversation: fields.ForeignKeyRelation[Conversation] = fields.ForeignKeyField(
        "models.Conversation", related_name="escalations", on_delete=fields.RESTRICT
    )
    department_id: int | None
    department: fields.ForeignKeyNullableRelation[Department] = fields.ForeignKeyField(
        "models.Department", related_name="escalations", null=True, on_delete=fields.SET_NULL
    )
    kind = fields.CharEnumField(EscalationKind, max_length=16)
    kinds: list = fields.JSONField(default=list)
    priority = fields.CharEnumField(Priority, max_length=8)
    status = fields.CharEnumField(EscalationStatus, max_length=16, default=EscalationStatus.OPEN)
    reason = fields.TextField(default="")
    assignee_id: int | None
    assignee: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="escalations", null=True, on_delete=fields.SET_NULL
    )
    opened_at = UTCDatetimeField()
    claimed_at = UTCDatetimeField(null=True)
    resolved_at = UTCDatetimeField(null=True)
    outcome = fields.CharField(max_length=64, null=True)
    note = fields.TextField(null=True)
    # Staff workspace: the first staff message to the person (SLA "first response"), how far
    # up the ladder a breach has climbed (0 assignee, 1 department head, 2 manager), and the
    # conversation status the claim replaced, restored on release.
    first_response_at = UTCDatetimeField(null=True)
    sla_level = fields.SmallIntField(default=0)
    status_before_claim = fields.CharField(max_length=16, null=True)
    updated_at = UTCDatetimeField(null=True)

    class Meta:
        table = "escalation"
        indexes = (("status", "priority"), ("department_id", "status"))


class EscalationNote(Model):
    """An internal note on an escalation: staff only, never sent to the person (audited)."""

    id = fields.IntField(primary_key=True)
    escalation_id: int
    escalation: fields.ForeignKeyRelation[Escalation] = fields.ForeignKeyField(
        "models.Escalation", related_name="notes", on_delete=fields.CASCADE
    )
    staff_id: int | None
    staff: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="notes", null=True, on_delete=fields.SET_NULL
    )
    body = fields.TextField()
    created_at = UTCDatetimeField()

    class Meta:
        table = "escalation_note"
        indexes = (("escalation_id", "id"),)


class StaffRead(Model):
    """How far a member has read an escalation's conversation: the queue's unread marks.

    ``message_id`` is the newest message of the person that this member has seen there; a
    later one makes the row unread for them.
    """

    id = fields.IntField(primary_key=True)
    staff_id: int
    staff: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="reads", on_delete=fields.CASCADE
    )
    escalation_id: int
    escalation: fields.ForeignKeyRelation[Escalation] = fields.ForeignKeyField(
        "models.Escalation", related_name="reads", on_delete=fields.CASCADE
    )
    message_id = fields.BigIntField(default=0)
    read_at = UTCDatetimeField()

    class Meta:
        table = "staff_read"
        unique_together = (("staff", "escalation"),)


class StaffSession(Model):
    """A signed-in browser: the cookie holds a random token, the table only its SHA-256."""

    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)
    csrf_token = fields.CharField(max_length=64)
    staff_id: int
    staff: fields.ForeignKeyRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="sessions", on_delete=fields.CASCADE
    )
    created_at = UTCDatetimeField()
    expires_at = UTCDatetimeField()
    ip = fields.CharField(max_length=64, default="")

    class Meta:
        table = "staff_session"
        indexes = (("staff_id",),)


class NotificationChannel(StrEnum):
    """In the app (one row per recipient) or a WeCom group robot (queued, coalesced)."""

    APP = "app"
    WECOM = "wecom"


class Notification(Model):
    """A note about an escalation for a staff member or a group robot (never names or phones)."""

    id = fields.BigIntField(primary_key=True)
    channel = fields.CharEnumField(NotificationChannel, max_length=8)
    staff_id: int | None
    staff: fields.ForeignKeyNullableRelation[Staff] = fields.ForeignKeyField(
        "models.Staff", related_name="notifications", null=True, on_delete=fields.CASCADE
    )
    escalation_id: int | None
    escalation: fields.ForeignKeyNullableRelation[Escalation] = fields.ForeignKeyField(
        "models.Escalation", related_name="notifications", null=True, on_delete=fields.CASCADE
    )
    robot = fields.CharField(max_length=64, default="")
    event = fields.CharField(max_length=32)
    text = fields.TextField()
    created_at = UTCDatetimeField()
    read_at = UTCDatetimeField(null=True)
    status = fields.CharField(max_length=8, default="queued")  # queued | sent | failed (wecom)
    batch = fields.CharField(max_length=64, null=True)
    attempts = fields.IntField(default=0)
    next_attempt_at = UTCDatetimeField(null=True)
    sent_at = UTCDatetimeField(null=True)
    lease_owner = fields.CharField(max_length=64, null=True)
    lease_until = UTCDatetimeField(null=True)
    error = fields.CharField(max_length=255, null=True)

    class Meta:
        table = "notification"
        indexes = (("staff_id", "read_at"), ("channel", "status", "next_attempt_at"),
                   ("escalation_id",), ("robot", "sent_at"))
