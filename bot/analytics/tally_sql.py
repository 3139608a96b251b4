"""The SQL pieces every tally query shares: dimensions and their columns, the scope of a
tally, dialect placeholders, period expressions and labels, and running a query (PostgreSQL
with JIT off). :mod:`bot.analytics.tallies` re-exports them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.transactions import in_transaction

DIMENSIONS = ("department", "clinician", "treatment", "channel", "question")
# dimension → the answer columns it groups by ("question" groups by question only). A
# clinician is told apart within their department: by the system's id when given, else name.
GROUP_COLUMNS: dict[str, tuple[str, ...]] = {
    "department": ("department_id",),
    "clinician": ("department_id", "clinician_code", "clinician"),
    "treatment": ("treatment_type",), "channel": ("channel",), "question": ()}
# kept for callers that name one column per dimension
_COLUMN = {"department": "department_id", "clinician": "clinician",
           "treatment": "treatment_type", "channel": "channel", "question": None}
# Recovery satisfaction ("您对我们的处理结果满意吗？") is asked after a complaint or a low score
# was handled; it is reported with complaint handling, never as an ordinary question.
RECOVERY = "recovery"


@dataclass(frozen=True)
class Scope:
    """Which records a tally covers. ``departments`` limits a department head to theirs."""

    start: date | None = None  # first local day, inclusive
    end: date | None = None  # last local day, inclusive
    departments: frozenset[int] | None = None
    department_id: int | None = None
    clinician: str | None = None
    treatment: str | None = None
    channel: str | None = None
    question_id: str | None = None
    clinician_code: str | None = None

    def dept_ids(self) -> list[int] | None:
        """The department filter as a list (None: all departments)."""
        ids: set[int] | None = None if self.departments is None else set(self.departments)
        if self.department_id is not None:
            ids = {self.department_id} if ids is None else ids & {self.department_id}
        return None if ids is None else sorted(ids)

    def utc_bounds(self, tz: ZoneInfo) -> tuple[datetime | None, datetime | None]:
        """[start of first day, start of the day after the last) as aware datetimes."""
        lo = datetime.combine(self.start, time(0), tz) if self.start else None
        hi = (datetime.combine(self.end + timedelta(days=1), time(0), tz)
              if self.end else None)
        return lo, hi


class _Sql:
    """Placeholders in the connection's dialect (``?`` on SQLite, ``$n`` on PostgreSQL)."""

    def __init__(self, pg: bool) -> None:
        self.pg = pg
        self.values: list[Any] = []

    def p(self, v: Any) -> str:
        self.values.append(v)
        return f"${len(self.values)}" if self.pg else "?"

    def in_(self, col: str, vals: Sequence[Any]) -> str:
        if not vals:
            return "1 = 0"
        return f"{col} IN ({', '.join(self.p(v) for v in vals)})"


def _answer_where(sql: _Sql, scope: Scope) -> str:
    conds = ["score IS NOT NULL"]
    if scope.start is not None:
        conds.append(f"local_day >= {sql.p(scope.start.isoformat())}")
    if scope.end is not None:
        conds.append(f"local_day <= {sql.p(scope.end.isoformat())}")
    ids = scope.dept_ids()
    if ids is not None:
        conds.append(sql.in_("department_id", ids))
    for col, val in (("clinician", scope.clinician), ("treatment_type", scope.treatment),
                     ("channel", scope.channel), ("question_id", scope.question_id)):
        if val is not None:
            conds.append(f"{col} = {sql.p(val)}")
    if scope.clinician_code is not None:
        conds.append(f"COALESCE(clinician_code, '') = {sql.p(scope.clinician_code)}")
    return " AND ".join(conds)


def _period_sql(period: str, pg: bool, col: str = "local_day") -> str:
    """SQL for the period label of a YYYY-MM-DD text column (same labels as :func:`bucket`)."""
    if period == "month":
        return f"substr({col}, 1, 7)"
    if period == "quarter":
        return (f"substr({col}, 1, 4) || '-Q' || "
                f"CAST((CAST(substr({col}, 6, 2) AS INTEGER) + 2) / 3 AS TEXT)")
    if period == "week":
        if pg:
            # a timestamp without zone, formatted by _period_label: cheaper than to_char
            return f"date_trunc('week', CAST({col} AS timestamp))"
        return f"date({col}, '-6 days', 'weekday 1')"
    return col


def _period_label(v: Any) -> str:
    """A period value from SQL as :func:`bucket` spells it (PostgreSQL weeks are timestamps)."""
    return v.date().isoformat() if isinstance(v, datetime) else str(v)


def _conn() -> Any:
    return connections.get("default")


def _group_value(vals: Sequence[Any], by: str) -> Any:
    """One group's value as score_rows returns it: a scalar, or for clinicians
    (department id, clinician id or "", name)."""
    if by == "question":
        return ""
    if by == "clinician":
        dept, code, name = vals
        return (dept, code or "", name)
    return vals[0]


async def _fetch(conn: Any, pg: bool, q: str, values: list[Any]) -> list[Any]:
    if pg:
        # JIT compilation costs more than it saves on these short aggregate queries.
        async with in_transaction() as tx:
            await tx.execute_script("SET LOCAL jit = off")
            _, rows = await tx.execute_query(q, values)
    else:
        _, rows = await conn.execute_query(q, values)
    return list(rows)


# AnswerTally.nulls bits (see models.records.AnswerTally)
_NULL_BIT = {"department_id": 1, "clinician": 2, "treatment_type": 4, "local_day": 8}


Counts = tuple[int, int, int, int, int]  # answers scoring 1, 2, 3, 4, 5
