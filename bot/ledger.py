"""Appending to and verifying the hash-chained record tables (answers, audit events).

Each row's ``hash`` links it to the row before (``prev_hash``) over a canonical JSON of its
chained fields. With a chain key (``[ledger] chain_key``, from the environment) the link is
HMAC-SHA256 under the key; without one it is SHA-256. Rows written before a key was set stay
unkeyed: the first keyed row covers the last unkeyed hash, so the unkeyed rows before it can
no longer be edited unnoticed either. After a rotation the retired keys verify the rows they
signed; a chain never goes back to an older key (or to unkeyed links) once a newer one signed
a row. :func:`write_anchor` and :func:`check_anchors` keep signed checkpoints of the chain
heads outside the database (``survey-bot verify --anchor FILE``): they catch what links alone
cannot, a chain cut short or rewritten whole.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from tortoise.transactions import in_transaction

from models import Answer, AuditEvent

GENESIS = "0" * 64
R = TypeVar("R", Answer, AuditEvent)

# Appends read the last hash and insert in one transaction. SQLite runs one transaction at a
# time on its single connection; PostgreSQL takes an advisory transaction lock per table, held
# to commit, so concurrent appends from any process queue up instead of forking the chain.
_ADVISORY_KEYS = {"answer": 0x5342_0001, "audit_event": 0x5342_0002}


@dataclass(frozen=True)
class KeyRing:
    """The chain keys this process knows: the current one signs, all of them verify."""

    current: bytes | None = None
    previous: tuple[bytes, ...] = ()

    @property
    def keys(self) -> tuple[bytes, ...]:
        """Newest first."""
        return ((self.current,) if self.current else ()) + self.previous

    @staticmethod
    def fingerprint(key: bytes) -> str:
        """A short public name of a key (printed and anchored; reveals nothing of it)."""
        return hashlib.sha256(b"survey-bot chain key\n" + key).hexdigest()[:12]


_ring = KeyRing()


def configure(chain_key: str = "", previous: Sequence[str] = ()) -> KeyRing:
    """Set this process's chain keys (``[ledger]`` settings; the runtime calls it at start)."""
    global _ring
    _ring = KeyRing(chain_key.encode() if chain_key else None,
                    tuple(k.encode() for k in previous if k))
    return _ring


def keyring() -> KeyRing:
    """The chain keys in force."""
    return _ring


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return value


def _payload(prev_hash: str, content: dict[str, Any]) -> bytes:
    body = json.dumps(_canonical(content), ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))
    return f"{prev_hash}\n{body}".encode()


def row_hash(prev_hash: str, content: dict[str, Any], key: bytes | None = None) -> str:
    """The link of a row: HMAC-SHA256 under ``key`` over the previous hash and a canonical
    JSON of the row's content, or plain SHA-256 of the same without a key."""
    data = _payload(prev_hash, content)
    if key:
        return hmac.new(key, data, hashlib.sha256).hexdigest()
    return hashlib.sha256(data).hexdigest()


def _chain_fields(model: type[Answer] | type[AuditEvent]) -> tuple[str, ...]:
    return model.CHAIN_FIELDS


def chain_content(model: type[R], values: dict[str, Any]) -> dict[str, Any]:
    """What a row's link covers: its chain fields. A field added to a chain later is hashed
    only when set, so rows written before it existed still verify."""
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
        digest = row_hash(prev, chain_content(model, values), _ring.current)
        row = await model.create(using_db=conn, prev_hash=prev, hash=digest, **values)
        if model is Answer and values.get("score") is not None:
            await _count_answer(conn, values)
        return row


# The rollups the tallies read (models.AnswerTally per month, models.AnswerDay and
# models.AnswerClinicianDay and models.AnswerTreatmentDay per day, and those three per month:
# AnswerMonth, AnswerClinicianMonth and AnswerTreatmentMonth, keyed by the month's first day);
# NULLs
# become 0/'' plus a bit in ``nulls`` because NULLs never collide in a unique key, so an upsert
# would not find them.
_TALLY_COLS = ("department_id", "clinician", "clinician_code", "treatment_type", "channel",
               "question_id", "score", "local_month", "nulls")
_DAY_COLS = ("local_day", "department_id", "question_id", "score", "nulls", "channel")
_CLINICIAN_DAY_COLS = ("local_day", "department_id", "clinician", "clinician_code",
                       "question_id", "nulls")
_TREATMENT_DAY_COLS = ("local_day", "department_id", "treatment_type", "question_id", "nulls")
_TREATMENT_MONTH_COLS = ("month_start", *_TREATMENT_DAY_COLS[1:])
_MONTH_COLS = ("month_start", *_DAY_COLS[1:])
_CLINICIAN_WEEK_COLS = ("week_start", *_CLINICIAN_DAY_COLS[1:])
_CLINICIAN_MONTH_COLS = ("month_start", *_CLINICIAN_DAY_COLS[1:])


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


def clinician_day_key(values: dict[str, Any]) -> tuple[Any, ...]:
    """The AnswerClinicianDay key of one scored answer's values (same ``nulls`` bits)."""
    dept, clin, day = values.get("department_id"), values.get("clinician"), values.get(
        "local_day")
    nulls = (dept is None) | (clin is None) << 1 | (day is None) << 3
    return (day or "", dept or 0, clin or "", values.get("clinician_code") or "",
            values["question_id"], nulls)


def _upsert_score_sql(pg: bool, table: str, cols: tuple[str, ...], score: int) -> str:
    # the five scores are columns n1..n5 of one row (models.AnswerClinicianDay)
    marks = ", ".join(f"${i + 1}" if pg else "?" for i in range(len(cols)))
    names = ", ".join(cols)
    # (every count written: the columns' defaults are the ORM's, not the database's)
    counts = ", ".join("1" if s == score else "0" for s in range(1, 6))
    return (f"INSERT INTO {table} ({names}, n1, n2, n3, n4, n5) VALUES ({marks}, {counts}) "
            f"ON CONFLICT ({names}) DO UPDATE SET n{score} = {table}.n{score} + 1")


async def _count_answer(conn: Any, values: dict[str, Any]) -> None:
    pg = conn.capabilities.dialect == "postgres"
    await conn.execute_query(_upsert_sql(pg, "answer_tally", _TALLY_COLS),
                             list(tally_key(values)))
    day = day_key(values)
    await conn.execute_query(_upsert_sql(pg, "answer_day", _DAY_COLS), list(day))
    await conn.execute_query(_upsert_sql(pg, "answer_month", _MONTH_COLS),
                             [month_start(day[0]), *day[1:]])
    score = values["score"]
    if isinstance(score, int) and 1 <= score <= 5:  # the tallies count 1-5 only
        for key, rollups in ((clinician_day_key(values), _CLINICIAN_ROLLUPS),
                             (treatment_day_key(values), _TREATMENT_ROLLUPS)):
            for table, cols, unit in rollups:
                await conn.execute_query(_upsert_score_sql(pg, table, cols, score),
                                         [unit(key[0]), *key[1:]])


def treatment_day_key(values: dict[str, Any]) -> tuple[Any, ...]:
    """The AnswerTreatmentDay key of one scored answer's values (same ``nulls`` bits)."""
    dept, treat, day = (values.get("department_id"), values.get("treatment_type"),
                        values.get("local_day"))
    nulls = (dept is None) | (treat is None) << 2 | (day is None) << 3
    return (day or "", dept or 0, treat or "", values["question_id"], nulls)


def week_start(local_day: str) -> str:
    """The week rollup's key of a day rollup's day: the Monday of its ISO week ('' stays '')."""
    if not local_day:
        return ""
    d = date.fromisoformat(local_day)
    return (d - timedelta(days=d.weekday())).isoformat()


def month_start(local_day: str) -> str:
    """The month rollups' key of a day rollup's day: YYYY-MM-01 ('' stays '')."""
    return f"{local_day[:7]}-01" if local_day else ""


# the five-count rollups of one key: (table, columns, the key's day to the table's unit)
_CLINICIAN_ROLLUPS: tuple[tuple[str, tuple[str, ...], Callable[[str], str]], ...] = (
    ("answer_clinician_day", _CLINICIAN_DAY_COLS, str),
    ("answer_clinician_month", _CLINICIAN_MONTH_COLS, month_start),
    ("answer_clinician_week", _CLINICIAN_WEEK_COLS, week_start))
_TREATMENT_ROLLUPS: tuple[tuple[str, tuple[str, ...], Callable[[str], str]], ...] = (
    ("answer_treatment_day", _TREATMENT_DAY_COLS, str),
    ("answer_treatment_month", _TREATMENT_MONTH_COLS, month_start))


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of verifying one chain."""

    table: str
    rows: int
    first_bad_id: int | None
    problem: str
    unkeyed: int = 0  # rows linked without a key (written before a chain key was set)
    last_unkeyed_id: int | None = None
    by_key: dict[str, int] = field(default_factory=dict)  # key fingerprint -> rows it signed
    head_id: int | None = None
    head_hash: str = GENESIS

    @property
    def ok(self) -> bool:
        """True when every row fits."""
        return self.first_bad_id is None


UNKEYED = "unkeyed"


async def verify(model: type[R], batch: int = 5000, ring: KeyRing | None = None) -> ChainReport:
    """Walk the chain in id order; report the first row whose link or content does not fit.

    A row fits when its link is the HMAC under one of the ring's keys, or plain SHA-256, of
    the previous hash and its content, and it uses no older key than a row before it did
    (newest key first, unkeyed oldest).
    """
    ring = ring or _ring
    keys = ring.keys
    names = [KeyRing.fingerprint(k) for k in keys]
    table = model._meta.db_table
    prev = GENESIS
    count = unkeyed = 0
    last_id = 0
    last_unkeyed: int | None = None
    floor = len(keys)  # index of the oldest link still allowed; len(keys) means unkeyed
    by_key: dict[str, int] = {}
    chain: tuple[str, ...] = _chain_fields(model)
    fields = ["id", "prev_hash", "hash", *chain]

    def bad(row_id: int, problem: str) -> ChainReport:
        return ChainReport(table, count, row_id, problem, unkeyed, last_unkeyed, by_key,
                           last_id or None, prev)

    while True:
        rows = await model.filter(id__gt=last_id).order_by("id").limit(batch).values(*fields)
        if not rows:
            break
        for row in rows:
            count += 1
            if row["prev_hash"] != prev:
                return bad(row["id"], "prev_hash does not match the previous row (row removed "
                                      "or reordered)")
            data = _payload(prev, chain_content(model, row))
            found = None
            # The key of the row before is the likeliest; then the others, then no key.
            for i in sorted(range(len(keys) + 1), key=lambda i: i != floor):
                mac = (hmac.new(keys[i], data, hashlib.sha256).hexdigest() if i < len(keys)
                       else hashlib.sha256(data).hexdigest())
                if hmac.compare_digest(mac, row["hash"]):
                    found = i
                    break
            if found is None:
                hint = "" if keys else (" (if the chain is keyed, set [ledger] chain_key: "
                                        "SURVEYBOT_LEDGER__CHAIN_KEY)")
                return bad(row["id"], f"content does not match its hash (row edited){hint}")
            if found > floor:
                return bad(row["id"], "linked without a key, or with a retired key, after a "
                                      "newer key signed a row (chain re-hashed)")
            floor = found
            if found == len(keys):
                unkeyed += 1
                last_unkeyed = row["id"]
            else:
                by_key[names[found]] = by_key.get(names[found], 0) + 1
            prev = row["hash"]
            last_id = row["id"]
    return ChainReport(table, count, None, "", unkeyed, last_unkeyed, by_key, last_id or None,
                       prev)


async def verify_all(ring: KeyRing | None = None) -> list[ChainReport]:
    """Verify every chained table."""
    return [await verify(Answer, ring=ring), await verify(AuditEvent, ring=ring)]


# --------------------------------------------------------------------------- anchors

CHAINED: dict[str, type[Answer] | type[AuditEvent]] = {"answer": Answer,
                                                       "audit_event": AuditEvent}


def _sign(body: dict[str, Any], key: bytes) -> str:
    data = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, b"survey-bot anchor\n" + data, hashlib.sha256).hexdigest()


def checkpoint(reports: list[ChainReport], now: datetime,
               ring: KeyRing | None = None) -> dict[str, Any]:
    """A checkpoint of the chain heads, signed with the current key (unsigned without one)."""
    ring = ring or _ring
    body: dict[str, Any] = {
        "v": 1, "at": now.astimezone(UTC).isoformat(timespec="seconds"),
        "chains": {r.table: {"id": r.head_id, "hash": r.head_hash, "rows": r.rows}
                   for r in reports},
    }
    if ring.current:
        body["key"] = KeyRing.fingerprint(ring.current)
        body["sig"] = _sign({k: v for k, v in body.items() if k != "sig"}, ring.current)
    return body


@dataclass
class AnchorCheck:
    """What the anchor file says about the chains."""

    checkpoints: int = 0
    unsigned: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every checkpoint is authentic and the chains still hold its heads."""
        return not self.problems


def read_anchors(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The checkpoints of an anchor file (JSON lines), and lines that cannot be read."""
    if not path.exists():
        return [], []
    out: list[dict[str, Any]] = []
    problems: list[str] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            cp = json.loads(line)
            if not isinstance(cp, dict) or not isinstance(cp.get("chains"), dict):
                raise ValueError("not a checkpoint")
        except ValueError:
            problems.append(f"{path}:{n}: not a checkpoint line")
            continue
        cp["_line"] = n
        out.append(cp)
    return out, problems


async def check_anchors(path: Path, ring: KeyRing | None = None) -> AnchorCheck:
    """Check every checkpoint in ``path``: its signature, and that each chain still has the
    anchored row with the anchored hash (a rewritten or truncated chain does not)."""
    ring = ring or _ring
    result = AnchorCheck()
    checkpoints, result.problems = read_anchors(path)
    for cp in checkpoints:
        result.checkpoints += 1
        where = f"{path}:{cp['_line']}"
        body = {k: v for k, v in cp.items() if k not in ("sig", "_line")}
        sig = cp.get("sig")
        if sig is None:
            result.unsigned += 1
        elif not any(hmac.compare_digest(_sign(body, k), str(sig)) for k in ring.keys):
            result.problems.append(f"{where}: checkpoint signature does not match (file edited, "
                                   "or signed with a key this verify does not have)")
            continue
        for table, head in cp["chains"].items():
            model = CHAINED.get(table)
            if model is None or not isinstance(head, dict):
                result.problems.append(f"{where}: unknown chain {table!r}")
                continue
            if head.get("id") is None:
                continue  # the chain was empty then
            row = await model.filter(id=int(head["id"])).first().values("hash")
            if row is None:
                result.problems.append(f"{where}: {table} row id {head['id']} was anchored "
                                       "and is gone (rows removed)")
            elif not hmac.compare_digest(row["hash"], str(head.get("hash"))):
                result.problems.append(f"{where}: {table} row id {head['id']} no longer has "
                                       "its anchored hash (chain rewritten)")
            else:
                rows = await model.filter(id__lte=int(head["id"])).count()
                if rows != head.get("rows"):
                    result.problems.append(
                        f"{where}: {table} has {rows} rows up to id {head['id']}, "
                        f"{head.get('rows')} when anchored (rows removed or inserted)")
    return result


def write_anchor(path: Path, body: dict[str, Any]) -> None:
    """Append a checkpoint line to the anchor file (created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(body, sort_keys=True) + "\n")

async def head_hash(model: type[R], until: datetime | None = None) -> str:
    """The chain's head at ``until``: the hash of the last row recorded before it (GENESIS
    when there is none). Reports print it, so a later `survey-bot verify` shows the records
    they were computed from are still there, unchanged."""
    q = model.all()
    if until is not None:
        q = q.filter(recorded_at__lt=until)
    last = await q.order_by("-id").first().values("hash")
    return str(last["hash"]) if last else GENESIS
