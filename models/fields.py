"""Field types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise import fields


class UTCDatetimeField(fields.DatetimeField):
    """A timezone-aware datetime always written in UTC.

    SQLite keeps datetimes as text and compares them as text, and tortoise writes an aware
    value with whatever offset it carries (in creates, updates and filters alike). Written
    in one zone, ``due_at <= now`` means what it says whatever zone the clock uses.
    """

    def to_db_value(self, value: Any, instance: Any) -> Any:
        """Convert aware datetimes to UTC before they reach the database."""
        value = super().to_db_value(value, instance)
        if isinstance(value, datetime) and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value
