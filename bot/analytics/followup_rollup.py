"""The follow-up figures' rollups: exact per local day, kept current at every read.

The follow-up page counts check-ins (sent, answered, on time) and episodes (due, followed up,
lost by reason) per group and local day. Counting them from the raw tables reads every
check-in and episode of the range (seconds at a million check-ins). Here they are counted
once into rollups (``GRAINS``): by department alone, and by department with channel (a
check-in's own; an episode's first check-in's that has one), with treatment, or with
clinician (name and id), each per local day, ISO week and month. Each row holds the counts as
columns (``COUNTS``): lost episodes by the nine known reasons, and, for a reason a check-in
records that is not one of them, a row of its own keyed by that reason (``reason``, else '')
counted in ``lost_other``. A read takes whole months (whole weeks when grouping by week) from
the coarse tables and the days at either end of its range from the day table
(:func:`segments`): at a million check-ins a year of clinicians by week is ~8 k rows, not the
~58 k of their days.

Nothing can go stale. Check-ins, episodes and contacts change through many code paths
(planner, outbox, reach, staff actions, bulk updates, imports), so the application does not
tell the rollups anything: database triggers (migration 0010_followup_rollup; statement
triggers on PostgreSQL, row triggers on SQLite) record the id of every episode whose counted
inputs changed in ``followup_dirty``. Each read first *folds* those episodes (:func:`fold`,
one transaction, a fixed number of statements however many changed): their new contributions
are counted from the raw tables into ``followup_fresh`` in one INSERT ... SELECT, each rollup
gets new less old (``followup_episode``) per cell in one upsert and loses the cells that
emptied, and the new contributions replace the old. The worker folds too, at most every
``BACKGROUND_FOLD_SECONDS``, so that a read finds little left.

Local days depend on the organisation's zone: the rollups record the zone they were counted
in (``key_value`` ``followup_rollup``) and are recounted in full (:func:`rebuild`) at the first
read in another zone, and by ``survey-bot rebuild-tallies``.

PostgreSQL: folds queue on an advisory transaction lock (two folds must not subtract the same
contribution twice); the dirty rows are claimed (deleted) *before* the raw tables are read, so
a change committed meanwhile either is seen or leaves its mark for the next fold. SQLite runs
one write transaction at a time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.transactions import in_transaction

from bot.analytics.followup_counts import Params, fetch, local_day_sql

# Bump when what the rollups count changes: a stamp that differs makes the next read recount.
VERSION = "1"
STAMP_KEY = "followup_rollup"
_LOCK = 0x5342_0010  # pg_advisory_xact_lock key (bot.ledger uses 0x5342_0001 and _0002)
# The worker's staff loop folds at most this often (a read folds what is left itself).
BACKGROUND_FOLD_SECONDS = 30.0

KNOWN_REASONS = ("no_answer", "refused", "opted_out", "wrong_number", "deceased",
                 "unreachable", "fatigue", "skipped", "cancelled")
COUNTS = ("sent", "answered", "on_time", "eligible", "covered",
          *(f"lost_{r}" for r in KNOWN_REASONS), "lost_other")

# The grains: what each groups by (besides the period and an unknown lost reason), and what
# it can therefore group or filter by; each is kept per local day, ISO week and month
# (``local_day`` holds the day, the week's Monday or the month's first day).
DIMS: dict[str, tuple[str, ...]] = {
    "department": ("department_id",),
    "channel": ("department_id", "channel", "chan_null"),
    "treatment": ("department_id", "treatment_type"),
    "clinician": ("department_id", "clinician", "clinician_code"),
}
_SERVES = {"department": {"department"}, "channel": {"department", "channel"},
           "treatment": {"department", "treatment"},
           "clinician": {"department", "clinician"}}
_NEEDS = {"department": {"department"}, "clinician": {"department", "clinician"},
          "treatment": {"treatment"}, "channel": {"channel"}, "question": set()}
UNITS = ("day", "week", "month")
GRAINS: dict[str, tuple[str, ...]] = {
    f"followup_{d}_{u}": cols for d, cols in DIMS.items() for u in UNITS}


def _unit_sql(unit: str, pg: bool) -> str:
    """The first day of the unit a contribution's local day falls in (YYYY-MM-DD)."""
    if unit == "day":
        return "local_day"
    if unit == "month":
        return "substr(local_day, 1, 7) || '-01'"
    if pg:
        return "to_char(date_trunc('week', CAST(local_day AS date)), 'YYYY-MM-DD')"
    return "date(local_day, '-6 days', 'weekday 1')"


EPISODE_COLS = ("episode_id", "local_day", "department_id", "clinician", "clinician_code",
                "treatment_type", "channel", "chan_null", "reason", *COUNTS)


def _pg(conn: Any) -> bool:
    return bool(conn.capabilities.dialect == "postgres")


def grain_for(by: str, *, departments: bool, clinician: bool, treatment: bool,
              channel: bool) -> str | None:
    """The smallest grain (``DIMS``) that answers a grouping and its filters (None: none)."""
    need = set(_NEEDS[by])
    for flag, dim in ((departments, "department"), (clinician, "clinician"),
                      (treatment, "treatment"), (channel, "channel")):
        if flag:
            need.add(dim)
    for grain, serves in _SERVES.items():
        if need <= serves:
            return grain
    return None


# ---------------------------------------------------------------------------------------------
# counting episodes' contributions from the raw tables


def _ids_cond(p: Params, pg: bool, col: str, ids: Sequence[int] | None) -> str:
    if ids is None:
        return "1 = 1"
    if pg:
        return f"{col} = ANY({p(list(ids))}::int[])"
    return f"{col} IN (SELECT value FROM json_each({p(json.dumps(list(ids)))}))"


async def _span(conn: Any, ids: Sequence[int] | None) -> tuple[datetime, datetime] | None:
    """Earliest and latest due and occurred instants of the episodes (SQLite's offsets)."""
    p = Params(False)
    c1 = _ids_cond(p, False, "episode_id", ids)
    c2 = _ids_cond(p, False, "id", ids)
    _, rows = await conn.execute_query(
        f"SELECT MIN(due_at), MAX(due_at) FROM checkin WHERE {c1} UNION ALL "
        f"SELECT MIN(occurred_at), MAX(occurred_at) FROM episode WHERE {c2}", p.values)
    vals = [_as_utc(v) for r in rows for v in (r[0], r[1]) if v is not None]
    return (min(vals), max(vals)) if vals else None


def _as_utc(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(v)).astimezone(UTC)


def contributions_sql(pg: bool, tz: ZoneInfo, ids: Sequence[int] | None,
                      span: tuple[datetime, datetime] | None,
                      into: str = "followup_episode") -> tuple[str, list[Any]]:
    """INSERT INTO ``into`` what the episodes (all when ``ids`` is None) contribute,
    by the definitions of bot.analytics.operations (the same expressions as
    bot.analytics.followup_counts).

    Per episode: one row per local due day and channel of its sent check-ins (sent, answered,
    on time: first sent by ``window_end_at``, a column that is never NULL), and, when it is
    active with at least one check-in, one row for the episode on its local day and first
    channel (due, covered, lost by reason).
    """
    p = Params(pg)
    due_day = local_day_sql("c.due_at", tz, pg, p, span)
    occ_day = local_day_sql("e.occurred_at", tz, pg, p, span)
    s = {k: p(v) for k, v in (("planned", "planned"), ("opened", "opened"),
                              ("answered", "answered"), ("expired", "expired"),
                              ("skipped", "skipped"), ("cancelled", "cancelled"))}
    sent = f"c.status IN ({s['opened']}, {s['answered']}, {s['expired']})"
    if pg:
        on_time = "c.opened_at IS NOT NULL AND c.opened_at <= c.window_end_at"
        unreachable = "COALESCE(ct.unreachable::text, '{}') NOT IN ('{}', 'null')"
    else:
        on_time = ("c.opened_at IS NOT NULL "
                   "AND julianday(c.opened_at) <= julianday(c.window_end_at)")
        unreachable = "COALESCE(ct.unreachable, '{}') NOT IN ('{}', 'null')"
    known = ", ".join(p(r) for r in KNOWN_REASONS)
    reason = (
        "CASE WHEN a.answered = 1 OR a.pending = 1 THEN NULL "
        "WHEN lc.lost_reason IS NOT NULL AND lc.lost_reason <> '' THEN lc.lost_reason "
        f"WHEN ct.opted_out_at IS NOT NULL THEN {p('opted_out')} "
        "WHEN ct.stopped_reason IS NOT NULL AND ct.stopped_reason <> '' THEN "
        f"CASE WHEN ct.stopped_reason IN ({known}) THEN ct.stopped_reason "
        f"ELSE {p('skipped')} END "
        f"WHEN {unreachable} THEN {p('unreachable')} "
        f"WHEN lc.status = {s['expired']} THEN {p('no_answer')} "
        f"WHEN lc.status = {s['cancelled']} THEN {p('cancelled')} "
        f"ELSE {p('skipped')} END")
    zeros_lost = ", ".join("0" for _ in KNOWN_REASONS)
    lost_cols = ", ".join(f"CASE WHEN x.reason = '{r}' THEN 1 ELSE 0 END"
                          for r in KNOWN_REASONS)
    cond_c = _ids_cond(p, pg, "c.episode_id", ids)
    cond_a = _ids_cond(p, pg, "c.episode_id", ids)
    q = (
        f"INSERT INTO {into} ({', '.join(EPISODE_COLS)}) "
        # sent check-ins, per episode, local due day and channel
        f"SELECT c.episode_id, {due_day}, e.department_id, e.clinician_name, "
        "e.clinician_code, e.treatment_type, COALESCE(c.channel, ''), "
        "CASE WHEN c.channel IS NULL THEN 1 ELSE 0 END, '', COUNT(*), "
        f"SUM(CASE WHEN c.status = {s['answered']} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {on_time} THEN 1 ELSE 0 END), 0, 0, {zeros_lost}, 0 "
        "FROM checkin c JOIN episode e ON e.id = c.episode_id "
        f"WHERE {sent} AND {cond_c} "
        "GROUP BY c.episode_id, 2, e.department_id, e.clinician_name, e.clinician_code, "
        "e.treatment_type, 7, 8 "
        "UNION ALL "
        # active episodes with a check-in: due, covered, lost (reason known or other)
        "SELECT x.episode_id, x.local_day, x.department_id, x.clinician_name, "
        "x.clinician_code, x.treatment_type, COALESCE(x.channel, ''), "
        "CASE WHEN x.channel IS NULL THEN 1 ELSE 0 END, "
        f"CASE WHEN x.reason IS NULL OR x.reason IN ({known}) THEN '' ELSE x.reason END, "
        f"0, 0, 0, 1, x.answered, {lost_cols}, "
        f"CASE WHEN x.reason IS NULL OR x.reason IN ({known}) THEN 0 ELSE 1 END "
        "FROM (SELECT e.id AS episode_id, "
        f"{occ_day} AS local_day, e.department_id, e.clinician_name, e.clinician_code, "
        f"e.treatment_type, ch.channel, a.answered, {reason} AS reason "
        "FROM (SELECT c.episode_id, "
        f"MAX(CASE WHEN c.status = {s['answered']} THEN 1 ELSE 0 END) AS answered, "
        f"MAX(CASE WHEN c.status IN ({s['planned']}, {s['opened']}) THEN 1 ELSE 0 END) "
        "AS pending, "
        "MIN(CASE WHEN c.channel IS NOT NULL AND c.channel <> '' THEN c.id END) AS first_ch, "
        f"MAX(CASE WHEN c.status IN ({s['expired']}, {s['skipped']}) THEN c.id END) "
        "AS last_x, MAX(c.id) AS last_id "
        f"FROM checkin c WHERE {cond_a} GROUP BY c.episode_id) a "
        "JOIN episode e ON e.id = a.episode_id "
        "JOIN contact ct ON ct.id = e.contact_id "
        "LEFT JOIN checkin ch ON ch.id = a.first_ch "
        "LEFT JOIN checkin lc ON lc.id = COALESCE(a.last_x, a.last_id) "
        f"WHERE e.status = {p('active')}) x")
    return q, p.values


def _add_all_sql(pg: bool, table: str) -> str:
    """Count every stored contribution into an empty rollup."""
    keys = (*GRAINS[table], "reason")
    unit = _unit_sql(table.rsplit("_", 1)[1], pg)
    return (f"INSERT INTO {table} (local_day, {', '.join(keys)}, {', '.join(COUNTS)}) "
            f"SELECT {unit}, {', '.join(keys)}, {', '.join(f'SUM({c})' for c in COUNTS)} "
            f"FROM followup_episode GROUP BY {unit}, {', '.join(keys)}")


def _delta_sql(pg: bool, table: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
    """Add to a rollup, per cell, the episodes' new contributions (``followup_fresh``) less
    their old ones (``followup_episode``): one statement, and only cells whose counts move."""
    p = Params(pg)
    keys = (*GRAINS[table], "reason")
    unit = _unit_sql(table.rsplit("_", 1)[1], pg)
    cols = ", ".join((*keys, "local_day", *COUNTS))
    neg = ", ".join((*keys, "local_day", *(f"-{c}" for c in COUNTS)))
    moved = " OR ".join(f"SUM({c}) <> 0" for c in COUNTS)
    upd = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in COUNTS)
    q = (f"INSERT INTO {table} (local_day, {', '.join(keys)}, {', '.join(COUNTS)}) "
         f"SELECT {unit}, {', '.join(keys)}, {', '.join(f'SUM({c})' for c in COUNTS)} "
         f"FROM (SELECT {cols} FROM followup_fresh UNION ALL SELECT {neg} FROM followup_episode "
         f"WHERE {_ids_cond(p, pg, 'episode_id', ids)}) d "
         f"GROUP BY {unit}, {', '.join(keys)} HAVING {moved} "
         f"ON CONFLICT ({', '.join(keys[:-1])}, local_day, reason) DO UPDATE SET {upd}")
    return q, p.values


async def _lock(conn: Any) -> None:
    if _pg(conn):
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [_LOCK])


def _stamp(tz: ZoneInfo) -> str:
    return f"v{VERSION} {tz.key}"


async def _recount(conn: Any, tz: ZoneInfo, ids: Sequence[int] | None) -> None:
    """Replace the contributions of ``ids`` (None: every episode) and the rollups' share,
    set-based: the new contributions of all of them in one INSERT ... SELECT, then per rollup
    one upsert of new less old per cell and one DELETE of the cells that emptied."""
    pg = _pg(conn)
    span = None if pg else await _span(conn, ids)
    if ids is None:
        for table in ("followup_episode", "followup_fresh", *GRAINS):
            await conn.execute_query(f"DELETE FROM {table}")
        await conn.execute_query(*contributions_sql(pg, tz, None, span))
        for table in GRAINS:
            await conn.execute_query(_add_all_sql(pg, table))
        return
    await conn.execute_query(*contributions_sql(pg, tz, ids, span, into="followup_fresh"))
    for table in GRAINS:
        await conn.execute_query(*_delta_sql(pg, table, ids))
        # cells whose last contribution moved away (partial index: nothing to scan if none)
        await conn.execute_query(f"DELETE FROM {table} WHERE sent = 0 AND eligible = 0")
    p = Params(pg)
    await conn.execute_query(
        f"DELETE FROM followup_episode WHERE {_ids_cond(p, pg, 'episode_id', ids)}", p.values)
    await conn.execute_query(f"INSERT INTO followup_episode ({', '.join(EPISODE_COLS)}) "
                             f"SELECT {', '.join(EPISODE_COLS)} FROM followup_fresh")
    await conn.execute_query("DELETE FROM followup_fresh")


async def _claim_dirty(conn: Any) -> list[int]:
    rows = await conn.execute_query_dict("DELETE FROM followup_dirty RETURNING episode_id")
    return sorted({int(r["episode_id"]) for r in rows})


async def _set_stamp(conn: Any, pg: bool, tz: ZoneInfo) -> None:
    p = Params(pg)
    await conn.execute_query(
        f"INSERT INTO key_value (key, value) VALUES ({p(STAMP_KEY)}, {p(_stamp(tz))}) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", p.values)


async def rebuild(tz: ZoneInfo, conn: Any = None) -> dict[str, int]:
    """Recount the follow-up rollups in full in zone ``tz``; returns each table's rows."""
    async with in_transaction() if conn is None else _Same(conn) as tx:
        await _lock(tx)
        await _claim_dirty(tx)
        await _recount(tx, tz, None)
        await _set_stamp(tx, _pg(tx), tz)
        out = {}
        for table in ("followup_episode", *GRAINS):
            _, rows = await tx.execute_query(f"SELECT COUNT(*) FROM {table}")
            out[table] = int(rows[0][0])
    if conn is None:
        for table in out:  # fresh statistics for the planners
            await connections.get("default").execute_script(f"ANALYZE {table}")
    return out


class _Same:
    """An async context giving back the connection it was given (a caller's transaction)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    async def __aenter__(self) -> Any:
        return self.conn

    async def __aexit__(self, *exc: object) -> None:
        return None


async def fold(tz: ZoneInfo) -> int:
    """Bring the rollups up to date: fold the episodes changed since the last read (or
    recount all when they were counted in another zone). Returns how many were folded (-1:
    all recounted)."""
    conn: Any = connections.get("default")
    _, rows = await conn.execute_query(
        "SELECT value, (SELECT COUNT(*) FROM (SELECT 1 FROM followup_dirty LIMIT 1) d) "
        f"FROM key_value WHERE key = {'$1' if _pg(conn) else '?'}", [STAMP_KEY])
    if rows and rows[0][0] == _stamp(tz) and not int(rows[0][1]):
        return 0  # nothing changed: no write transaction
    async with in_transaction() as tx:
        await _lock(tx)
        _, rows = await tx.execute_query(
            f"SELECT value FROM key_value WHERE key = {'$1' if _pg(tx) else '?'}", [STAMP_KEY])
        if not rows or rows[0][0] != _stamp(tz):
            await _claim_dirty(tx)
            await _recount(tx, tz, None)
            await _set_stamp(tx, _pg(tx), tz)
            return -1
        ids = await _claim_dirty(tx)
        if ids:
            await _recount(tx, tz, ids)
        return len(ids)


# ---------------------------------------------------------------------------------------------
# reading


# One row of :func:`counts`: department id, clinician name, clinician id, treatment, channel
# (None where the grouping needs none), the unit's first day (YYYY-MM-DD), sent, answered, on
# time, due, covered, and lost episodes by reason (None: none lost).
Row = tuple[Any, Any, Any, Any, Any, str, int, int, int, int, int, dict[str, int] | None]

_PICK: dict[str, Any] = {
    "department": lambda r: (r[0], None, None, None, None),
    "clinician": lambda r: (r[0], r[1], r[2], None, None),
    "treatment": lambda r: (None, None, None, r[0], None),
    "channel": lambda r: (None, None, None, None, None if r[1] else r[0]),
    "question": lambda r: (None, None, None, None, None),
}


def segments(period: str, start: date | None,
             end: date | None) -> list[tuple[str, date | None, date | None]]:
    """The range cut into what each unit answers: (unit, first, last bucket start), None
    unbounded. Whole months (whole weeks when the page groups by week) come from the month
    (week) rollups, the days at either end from the day rollups; by day, days."""
    if period == "day":
        return [("day", start, end)]
    if period == "week":
        first = start if start is None else start + timedelta(days=(7 - start.weekday()) % 7)
        last = end if end is None else end - timedelta(days=(end.weekday() + 1) % 7)
        if first is not None and last is not None and last < first:
            return [("day", start, end)]
        whole: tuple[str, date | None, date | None] = (
            "week", first, None if last is None else last - timedelta(days=6))
    else:
        first = start if start is None or start.day == 1 else _next_month(start)
        last = end if end is None or _next_day(end).day == 1 else end.replace(day=1) - \
            timedelta(days=1)
        if first is not None and last is not None and last < first:
            return [("day", start, end)]
        whole = ("month", first, None if last is None else last.replace(day=1))
    out: list[tuple[str, date | None, date | None]] = []
    if start is not None and first is not None and first > start:
        out.append(("day", start, first - timedelta(days=1)))
    out.append(whole)
    if end is not None and last is not None and last < end:
        out.append(("day", last + timedelta(days=1), end))
    return out


def _next_day(d: date) -> date:
    return d + timedelta(days=1)


def _next_month(d: date) -> date:
    return (d.replace(day=1) + timedelta(days=32)).replace(day=1)


async def counts(grain: str, by: str, period: str, *, start: date | None, end: date | None,
                 dept_ids: list[int] | None, clinician: str | None, treatment: str | None,
                 channel: str | None, only: tuple[str, list[Any]] | None = None) -> list[Row]:
    """The counts per group (what ``by`` needs) and the first day of each unit from the
    rollups of ``grain`` (``segments``), after :func:`fold`: one query. ``only``: a column
    and the values it may hold (a page's groups)."""
    conn: Any = connections.get("default")
    pg = _pg(conn)
    p = Params(pg)
    cols = {"department": ["department_id"],
            "clinician": ["department_id", "clinician", "clinician_code"],
            "treatment": ["treatment_type"], "channel": ["channel", "chan_null"],
            "question": []}[by]
    conds = _filters(p, dept_ids, clinician, treatment, channel)
    if only is not None:
        conds.append(p.in_(only[0], only[1]))
    keys = [*cols, "local_day", "reason"]
    parts = []
    for unit, lo, hi in segments(period, start, end):
        where = list(conds)
        if lo is not None:
            where.append(f"local_day >= {p(lo.isoformat())}")
        if hi is not None:
            where.append(f"local_day <= {p(hi.isoformat())}")
        if tuple(cols) == DIMS[grain]:  # one row per group and unit already
            parts.append(f"SELECT {', '.join(keys)}, {', '.join(COUNTS)} "
                         f"FROM followup_{grain}_{unit} WHERE {' AND '.join(where) or '1 = 1'}")
            continue
        # (as BIGINT: PostgreSQL's SUM of one is NUMERIC, which arrives as Decimal)
        parts.append(f"SELECT {', '.join(keys)}, "
                     f"{', '.join(f'CAST(SUM({c}) AS BIGINT)' for c in COUNTS)} "
                     f"FROM followup_{grain}_{unit} WHERE {' AND '.join(where) or '1 = 1'} "
                     f"GROUP BY {', '.join(keys)}")
    out: list[Row] = []
    n = len(cols)
    pick = _PICK[by]
    reasons = KNOWN_REASONS
    for r in await fetch(" UNION ALL ".join(parts), p.values):
        c = r[n + 2:]
        lost: dict[str, int] | None = None
        if any(c[5:]):
            lost = {reason: k for reason, k in zip(reasons, c[5:-1], strict=True) if k}
            if c[-1]:
                lost[r[n + 1]] = c[-1]
        out.append((*pick(r), r[n], c[0], c[1], c[2], c[3], c[4], lost))
    return out


# ---------------------------------------------------------------------------------------------
# one page of groups, ordered and counted by the database

# Per grouping: the group's identity (two text columns) and its label, as
# bot.analytics.operations names them (a clinician within their department by the system's id,
# else the name; a missing value is "—").
_GROUP_SQL: dict[str, tuple[str, str, str]] = {
    "department": ("CAST(r.department_id AS TEXT)", "''", "COALESCE(d.name, '—')"),
    "clinician": ("CAST(r.department_id AS TEXT)",
                  "CASE WHEN r.clinician_code <> '' THEN 'id:' || r.clinician_code "
                  "ELSE 'name:' || r.clinician END",
                  "CASE WHEN r.clinician = '' THEN '—' ELSE r.clinician END"),
    "treatment": ("r.treatment_type", "''",
                  "CASE WHEN r.treatment_type = '' THEN '—' ELSE r.treatment_type END"),
    "channel": ("CASE WHEN r.chan_null = 1 THEN '' ELSE r.channel END", "''",
                "CASE WHEN r.chan_null = 1 OR r.channel = '' THEN '—' ELSE r.channel END"),
}


def period_sql(period: str, pg: bool, col: str = "r.local_day") -> str:
    """The period label (bot.analytics.periods.bucket) of a unit's first day, in SQL."""
    if period == "all":
        return "''"
    if period == "day":
        return col
    if period == "month":
        return f"substr({col}, 1, 7)"
    if period == "quarter":
        return (f"substr({col}, 1, 4) || '-Q' || "
                f"CAST((CAST(substr({col}, 6, 2) AS INTEGER) + 2) / 3 AS TEXT)")
    if pg:
        return f"to_char(date_trunc('week', CAST({col} AS date)), 'YYYY-MM-DD')"
    return f"date({col}, '-6 days', 'weekday 1')"


def _filters(p: Params, dept_ids: list[int] | None, clinician: str | None,
             treatment: str | None, channel: str | None) -> list[str]:
    conds = []
    if dept_ids is not None:
        conds.append(p.in_("department_id", dept_ids))
    if clinician is not None:
        conds.append(f"clinician = {p(clinician)}")
    if treatment is not None:
        conds.append(f"treatment_type = {p(treatment)}")
    if channel is not None:
        conds.append(f"channel = {p(channel)} AND chan_null = 0")
    return conds


def _ranges(p: Params, period: str, start: date | None,
            end: date | None) -> list[tuple[str, list[str]]]:
    out = []
    for unit, lo, hi in segments(period, start, end):
        where = []
        if lo is not None:
            where.append(f"local_day >= {p(lo.isoformat())}")
        if hi is not None:
            where.append(f"local_day <= {p(hi.isoformat())}")
        out.append((unit, where))
    return out


# One key of :func:`page_keys`: group identity (two texts, None where the source had none),
# label, period.
PageKey = tuple[str | None, str | None, str, str]


async def page_keys(grain: str, by: str, period: str, *, start: date | None, end: date | None,
                    dept_ids: list[int] | None, clinician: str | None, treatment: str | None,
                    channel: str | None, extra: Sequence[PageKey], first: int,
                    size: int) -> tuple[list[PageKey], int]:
    """One page of the groups and periods the rollups of ``grain`` hold in the range, with
    ``extra`` ones (groups that only have escalations or praise), ordered as the page orders
    them (label, period, then identity), and how many there are in all: ORDER BY, LIMIT and
    OFFSET in the database, one query (after :func:`fold`)."""
    conn: Any = connections.get("default")
    pg = _pg(conn)
    p = Params(pg)
    g1, g2, label = _GROUP_SQL[by]
    per = period_sql(period, pg)
    join = "LEFT JOIN department d ON d.id = r.department_id " if by == "department" else ""
    conds = _filters(p, dept_ids, clinician, treatment, channel)
    parts = []
    for unit, where in _ranges(p, period, start, end):
        w = " AND ".join(conds + where) or "1 = 1"
        parts.append(f"SELECT DISTINCT {g1} AS g1, {g2} AS g2, {label} AS label, {per} AS per "
                     f"FROM (SELECT * FROM followup_{grain}_{unit} WHERE {w}) r {join}")
    if extra:
        blob = p(json.dumps([list(k) for k in extra], ensure_ascii=False))
        if pg:
            parts.append("SELECT x->>0, x->>1, x->>2, x->>3 "
                         f"FROM jsonb_array_elements(CAST({blob} AS jsonb)) x")
        else:
            parts.append("SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
                         f"json_extract(value, '$[2]'), json_extract(value, '$[3]') "
                         f"FROM json_each({blob})")
    collate = ' COLLATE "C"' if pg else ""
    keys = (f"SELECT g1, g2, MIN(label{collate}) AS label, per FROM "
            f"({' UNION ALL '.join(parts)}) u GROUP BY g1, g2, per")
    q = (f"SELECT g1, g2, label, per, COUNT(*) OVER () FROM ({keys}) k "
         f"ORDER BY label{collate}, per{collate}, COALESCE(g1, ''){collate}, "
         f"COALESCE(g2, ''){collate} "
         f"LIMIT {p(size)} OFFSET {p(first)}")
    rows = await fetch(q, p.values)
    if rows:
        return [(r[0], r[1], r[2], r[3]) for r in rows], int(rows[0][4])
    _, n = await conn.execute_query(f"SELECT COUNT(*) FROM ({keys}) k", p.values[:-2])
    return [], int(n[0][0])
