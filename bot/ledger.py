"""Appending to and verifying the hash-chained record tables (answers, audit events)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from tortoise.transactions import in_transaction

from models import Answer, AuditEvent

GENESIS = "0" * 64
R = TypeVar("R", Answer, AuditEvent)

# Appends read the last hash and insert in one transaction. SQLite runs one transaction at a
# time on its single connection; PostgreSQL takes an advisory transaction lock per table, held
# to commit, so concurrent appends from any process queue up instead of forking the chain.
_ADVISORY_KEYS = {"answer": 0x5342_0001, "audit_event": 0x5342_0002}


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def row_hash(prev_hash: str, content: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and a canonical JSON of the row's content."""
    payload = json.dumps(_canonical(content), ensure_ascii=False, sort_keys=True,
                         separators=(",", ":"))
    return hashlib.sha256(f"{prev_hash}\n{payload}".encode()).hexdigest()


def _chain_fields(model: type[Answer] | type[AuditEvent]) -> tuple[str, ...]:
    return model.CHAIN_FIELDS


def _content(model: type[R], values: dict[str, Any]) -> dict[str, Any]:
    # Fields added to a chain later are hashed only when set, so older rows still verify.
    optional: frozenset[str] = getattr(model, "OPTIONAL_CHAIN_FIELDS", frozenset())
    return {f: values.get(f) for f in _chain_fields(model)
            if f not in optional or values.get(f) is not None}


async def append(model: type[R], **values: Any) -> R:
    """Append one row to ``model``'s chain. Must run inside a transaction on PostgreSQL."""
    table = model._meta.db_table
    if "recorded_at" in values:
        # Store what we hash: microsecond precision, UTC.
        values["recorded_at"] = values["recorded_at"].astimezone(UTC)
    async with in_transaction() as conn:
        if conn.capabilities.dialect == "postgres":
            await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [_ADVISORY_KEYS[table]])
        last = await model.all().using_db(conn).order_by("-id").first().values("hash")
        prev = last["hash"] if last else GENESIS
        digest = row_hash(prev, _content(model, values))
        row = await model.create(using_db=conn, prev_hash=prev, hash=digest, **values)
        if model is Answer and values.get("score") is not None:
            await _count_answer(conn, values)
        return row


# The rollups the tallies read (models.AnswerTally per month, models.AnswerDay per day); NULLs
# become 0/'' plus a bit in ``nulls`` because NULLs never collide in a unique key, so an upsert
# would not find them.
_TALLY_COLS = ("department_id", "clinician", "clinician_code", "treatment_type", "channel",
               "question_id", "score", "local_month", "nulls")
_DAY_COLS = ("local_day", "department_id", "question_id", "score", "nulls", "channel")


def tally_key(values: dict[str, Any]) -> tuple[Any, ...]:
    """The AnswerTally key of one scored answer's values."""
    dept, clin, treat, day = (values.get("department_id"), values.get("clinician"),
                              values.get("treatment_type"), values.get("local_day"))
    nulls = (dept is None) | (clin is None) << 1 | (treat is None) << 2 | (day is None) << 3
    return (dept or 0, clin or "", values.get("clinician_code") or "", treat or "",
            values["channel"], values["question_id"], values["score"], (day or "")[:7], nulls)


def day_key(values: dict[str, Any]) -> tuple[Any, ...]:
    """The AnswerDay key of one scored answer's values (same ``nulls`` bits as tally_key)."""
    dept, day = values.get("department_id"), values.get("local_day")
    nulls = (dept is None) | (day is None) << 3
    return (day or "", dept or 0, values["question_id"], values["score"], nulls,
            values["channel"])


def _upsert_sql(pg: bool, table: str, cols: tuple[str, ...]) -> str:
    marks = ", ".join(f"${i + 1}" if pg else "?" for i in range(len(cols)))
    names = ", ".join(cols)
    return (f"INSERT INTO {table} ({names}, n) VALUES ({marks}, 1) "
            f"ON CONFLICT ({names}) DO UPDATE SET n = {table}.n + 1")


async def _count_answer(conn: Any, values: dict[str, Any]) -> None:
    pg = conn.capabilities.dialect == "postgres"
    await conn.execute_query(_upsert_sql(pg, "answer_tally", _TALLY_COLS),
                             list(tally_key(values)))
    await conn.execute_query(_upsert_sql(pg, "answer_day", _DAY_COLS), list(day_key(values)))


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of verifying one chain."""

    table: str
    rows: int
    first_bad_id: int | None
    problem: str

    @property
    def ok(self) -> bool:
        """True when every row fits."""
        return self.first_bad_id is None


async def verify(model: type[R], batch: int = 5000) -> ChainReport:
    """Walk the chain in id order; report the first row whose link or content does not fit."""
    table = model._meta.db_table
    prev = GENESIS
    count = 0
    last_id = 0
    chain: tuple[str, ...] = _chain_fields(model)
    fields = ["id", "prev_hash", "hash", *chain]
    while True:
        rows = await model.filter(id__gt=last_id).order_by("id").limit(batch).values(*fields)
        if not rows:
            break
        for row in rows:
            count += 1
            if row["prev_hash"] != prev:
                return ChainReport(table, count, row["id"],
                                   "prev_hash does not match the previous row (row removed or "
                                   "reordered)")
            if row_hash(prev, _content(model, row)) != row["hash"]:
                return ChainReport(table, count, row["id"],
                                   "content does not match its hash (row edited)")
            prev = row["hash"]
            last_id = row["id"]
    return ChainReport(table, count, None, "")


async def verify_all() -> list[ChainReport]:
    """Verify every chained table."""
    return [await verify(Answer), await verify(AuditEvent)]




async def head_hash(model: type[R], until: datetime | None = None) -> str:
    """The chain's head at ``until``: the hash of the last row recorded before it (GENESIS
    when there is none). Reports print it, so a later `survey-bot verify` shows the records
    they were computed from are still there, unchanged."""
    q = model.all()
    if until is not None:
        q = q.filter(recorded_at__lt=until)
    last = await q.order_by("-id").first().values("hash")
    return str(last["hash"]) if last else GENESIS
