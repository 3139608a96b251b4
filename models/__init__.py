"""The data model (Tortoise ORM). Import models from here; the ORM app label is ``models``."""

from models.calls import Call, CallStatus, CallTask, CallTaskStatus
from models.entities import (
    CheckIn,
    CheckinStatus,
    Contact,
    Conversation,
    ConversationStatus,
    Department,
    Direction,
    Episode,
    EpisodeKind,
    EpisodeStatus,
    Escalation,
    EscalationKind,
    EscalationNote,
    EscalationStatus,
    Message,
    MessageStatus,
    Notification,
    NotificationChannel,
    Person,
    PersonContact,
    PersonKind,
    Priority,
    Relation,
    Role,
    Staff,
    StaffRead,
    StaffSession,
    SurveyLink,
)
from models.records import (
    Answer,
    AnswerDay,
    AnswerTally,
    AuditEvent,
    KeyValue,
    LabelCorrection,
)

__all__ = [
    "Answer", "AnswerDay", "AnswerTally", "AuditEvent", "Call", "CallStatus", "CallTask",
    "CallTaskStatus", "CheckIn", "CheckinStatus", "Contact",
    "Conversation",
    "ConversationStatus", "Department", "Direction", "Episode", "EpisodeKind", "EpisodeStatus",
    "Escalation", "EscalationKind", "EscalationNote", "EscalationStatus", "KeyValue",
    "LabelCorrection", "Message",
    "MessageStatus",
    "Notification", "NotificationChannel",
    "Person", "PersonContact", "PersonKind", "Priority", "Relation", "Role", "Staff",
    "StaffRead", "StaffSession", "SurveyLink",
]
