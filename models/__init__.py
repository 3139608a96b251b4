"""The data model (Tortoise ORM). Import models from here; the ORM app label is ``models``."""

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
    "Answer", "AnswerDay", "AnswerTally", "AuditEvent", "CheckIn", "CheckinStatus", "Contact",
    "Conversation",
    "ConversationStatus", "Department", "Direction", "Episode", "EpisodeKind", "EpisodeStatus",
    "Escalation", "EscalationKind", "EscalationStatus", "KeyValue", "LabelCorrection", "Message",
    "MessageStatus",
    "Notification", "NotificationChannel",
    "Person", "PersonContact", "PersonKind", "Priority", "Relation", "Role", "Staff",
    "StaffSession", "SurveyLink",
]
