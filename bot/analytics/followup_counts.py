"""The follow-up figures' counting, in SQL: check-ins and episodes grouped per local day.

``operations.operations`` used to read every check-in and episode of the range into Python; at
a million check-ins that took seconds. Here the database counts them, grouped by what the
chosen dimension needs and by *local* day (the organisation's zone), and Python only folds
the day rows into periods (weeks, months, quarters: ``bucket``) and cuts the range exactly
on local days. Definitions are in ``bot.analytics.operations``.

The local day of a UTC timestamp: PostgreSQL converts with the zone itself (``AT TIME
ZONE``). SQLite has no zones: the zone's UTC offsets over the data's span are looked up here
and written into the query as one offset, or as a CASE over the instants it changes (daylight
saving), so the day is exact in any zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections

from bot.analytics.tallies import _fetch, _Sql

# The lost-to-follow-up reasons a contact or check-in may record (bot.analytics.operations)
_LOST = ("no_answer", "refused", "opted_out", "wrong_number", "deceased", "unreachable",
         "fatigue", "skipped", "cancelled")


class Params(_Sql):
    """The tallies' placeholders (``$n`` on PostgreSQL), numbered on SQLite too (``?n``): these
    queries are not written in the order their values are added. Called as ``p(value)``."""

    def p(self, v: Any) -> str:
        self.values.append(v)
        return f"${len(self.values)}" if self.pg else f"?{len(self.values)}"

    __call__ = p


def _offset_changes(tz: ZoneInfo, lo: datetime, hi: datetime) -> list[tuple[datetime, int]]:
    """The zone's UTC offset (minutes) at ``lo`` and each instant it changes before ``hi``."""
    def off(t: datetime) -> int:
        delta = t.astimezone(tz).utcoffset() or timedelta(0)
        return int(delta.total_seconds() // 60)

    out = [(lo, off(lo))]
    t = lo
    step = timedelta(days=1)
    while t < hi:  # daily steps, then the second of a change by bisection
        nxt = min(t + step, hi)
        if off(nxt) != out[-1][1]:
            a, b = t, nxt
            while b - a > timedelta(seconds=1):
                mid = a + (b - a) / 2
                a, b = (mid, b) if off(mid) == out[-1][1] else (a, mid)
            out.append((b.replace(microsecond=0), off(b)))
        t = nxt
    return out


def local_day_sql(col: str, tz: ZoneInfo, pg: bool, p: Params,
                  span: tuple[datetime, datetime] | None) -> str:
    """SQL for the local calendar day (YYYY-MM-DD text) of the UTC timestamp column ``col``.

    ``span``: the earliest and latest value the query can meet (SQLite needs them to know
    which offsets apply; None when the table is empty).
    """
    if pg:
        return f"to_char({col} AT TIME ZONE {p(tz.key)}, 'YYYY-MM-DD')"
    lo, hi = span or (datetime(2000, 1, 1, tzinfo=UTC), datetime(2000, 1, 2, tzinfo=UTC))
    changes = _offset_changes(tz, lo - timedelta(days=1), hi + timedelta(days=1))
    expr = f"date({col}, '{changes[-1][1]:+d} minutes')"
    for i in range(len(changes) - 2, -1, -1):
        # stored as UTC text (models.fields.UTCDatetimeField): compares as text
        bound = p(changes[i + 1][0].astimezone(UTC).isoformat(sep=" "))
        expr = (f"CASE WHEN {col} < {bound} THEN date({col}, '{changes[i][1]:+d} minutes') "
                f"ELSE {expr} END")
    return expr


async def fetch(q: str, values: list[Any]) -> list[Any]:
    """Rows of one query, as the tallies fetch theirs (JIT off on PostgreSQL)."""
    conn: Any = connections.get("default")
    return await _fetch(conn, conn.capabilities.dialect == "postgres", q, values)


def _as_utc(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(v)).astimezone(UTC)


async def span(table: str, col: str, lo: datetime | None,
               hi: datetime | None) -> tuple[datetime, datetime] | None:
    """The earliest and latest ``col`` of ``table`` within [lo, hi) (SQLite's zone offsets)."""
    p = Params(False)
    conds = [f"{col} IS NOT NULL"]
    if lo is not None:
        conds.append(f"{col} >= {p(lo.astimezone(UTC).isoformat(sep=' '))}")
    if hi is not None:
        conds.append(f"{col} < {p(hi.astimezone(UTC).isoformat(sep=' '))}")
    rows = await fetch(f"SELECT MIN({col}), MAX({col}) FROM {table} WHERE "
                       + " AND ".join(conds), p.values)
    if not rows or rows[0][0] is None:
        return None
    return _as_utc(rows[0][0]), _as_utc(rows[0][1])


# Columns each dimension groups by: (episode department, clinician name, clinician id,
# treatment, channel); the rest come back as NULL.
_DIMS = {"department": ("e.department_id",),
         "clinician": ("e.department_id", "e.clinician_name", "e.clinician_code"),
         "treatment": ("e.treatment_type",), "channel": ("{chan}",), "question": ()}
_ORDER = ("e.department_id", "e.clinician_name", "e.clinician_code", "e.treatment_type",
          "{chan}")


def _select_group(by: str, chan: str) -> tuple[list[str], list[str]]:
    """The five group columns in a fixed order (NULL where the dimension needs none), and
    those grouped by."""
    wanted = set(_DIMS[by])
    sel = [c.format(chan=chan) if c in wanted else "NULL" for c in _ORDER]
    return sel, [c.format(chan=chan) for c in _ORDER if c in wanted]


def _bound(p: Params, pg: bool, v: datetime) -> str:
    return p(v if pg else v.astimezone(UTC).isoformat(sep=" "))


async def checkin_days(*, by: str, tz: ZoneInfo, pg: bool, lo: datetime | None,
                       hi: datetime | None, dept_ids: list[int] | None,
                       clinician: str | None, treatment: str | None, channel: str | None,
                       sent: Sequence[str], answered: str,
                       on_time_hours: int) -> list[tuple[Any, ...]]:
    """Sent check-ins per group and local due day: rows of (department id, clinician name,
    clinician id, treatment, channel, day, sent, answered, on time)."""
    p = Params(pg)
    dates = None if pg else await span("checkin", "due_at", lo, hi)
    day = local_day_sql("c.due_at", tz, pg, p, dates)
    sel, grouped = _select_group(by, "c.channel")
    conds = [p.in_("c.status", list(sent))]
    if lo is not None:
        conds.append(f"c.due_at >= {_bound(p, pg, lo)}")
    if hi is not None:
        conds.append(f"c.due_at < {_bound(p, pg, hi)}")
    if channel is not None:
        conds.append(f"c.channel = {p(channel)}")
    if dept_ids is not None:
        conds.append(p.in_("e.department_id", dept_ids))
    if clinician is not None:
        conds.append(f"e.clinician_name = {p(clinician)}")
    if treatment is not None:
        conds.append(f"e.treatment_type = {p(treatment)}")
    if pg:
        end = f"COALESCE(c.window_end_at, c.due_at + make_interval(hours => {int(on_time_hours)}))"
        on_time = f"c.opened_at IS NOT NULL AND c.opened_at <= {end}"
    else:
        end = f"COALESCE(c.window_end_at, datetime(c.due_at, '+{int(on_time_hours)} hours'))"
        on_time = f"c.opened_at IS NOT NULL AND julianday(c.opened_at) <= julianday({end})"
    q = (f"SELECT {', '.join(sel)}, {day}, COUNT(*), "
         f"SUM(CASE WHEN c.status = {p(answered)} THEN 1 ELSE 0 END), "
         f"SUM(CASE WHEN {on_time} THEN 1 ELSE 0 END) "
         f"FROM checkin c JOIN episode e ON e.id = c.episode_id "
         f"WHERE {' AND '.join(conds)} GROUP BY {', '.join([*grouped, '6'])}")
    return await fetch(q, p.values)


async def episode_days(*, by: str, tz: ZoneInfo, pg: bool, lo: datetime | None,
                       hi: datetime | None, dept_ids: list[int] | None,
                       clinician: str | None, treatment: str | None, channel: str | None,
                       active: str, statuses: dict[str, str]) -> list[tuple[Any, ...]]:
    """Due episodes (active, with at least one check-in) per group and local day: rows of
    (department id, clinician name, clinician id, treatment, channel, day, covered (0/1),
    lost reason or NULL, episodes).

    An episode's channel is its first check-in's that has one; it is covered when a
    check-in is answered; lost when none is, and none is planned or open any more, for the
    reason its last expired or skipped check-in (else its last check-in) records, else what
    its contact records, else by that check-in's status (operations.lost_reason).
    """
    p = Params(pg)
    dates = None if pg else await span("episode", "occurred_at", lo, hi)
    day = local_day_sql("e.occurred_at", tz, pg, p, dates)
    s = {k: p(v) for k, v in statuses.items()}
    econds = [f"e.status = {p(active)}"]
    if lo is not None:
        econds.append(f"e.occurred_at >= {_bound(p, pg, lo)}")
    if hi is not None:
        econds.append(f"e.occurred_at < {_bound(p, pg, hi)}")
    if dept_ids is not None:
        econds.append(p.in_("e.department_id", dept_ids))
    if clinician is not None:
        econds.append(f"e.clinician_name = {p(clinician)}")
    if treatment is not None:
        econds.append(f"e.treatment_type = {p(treatment)}")
    where = " AND ".join(econds)
    sel, grouped = _select_group(by, "ch.channel")
    ch_cond = f" AND ch.channel = {p(channel)}" if channel is not None else ""
    empty_json = "'{}', 'null'"
    unreachable = (f"COALESCE(ct.unreachable::text, '{{}}') NOT IN ({empty_json})" if pg
                   else f"COALESCE(ct.unreachable, '{{}}') NOT IN ({empty_json})")
    known = ", ".join(p(r) for r in _LOST)
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
    q = (
        "WITH a AS (SELECT c.episode_id, "
        f"MAX(CASE WHEN c.status = {s['answered']} THEN 1 ELSE 0 END) AS answered, "
        f"MAX(CASE WHEN c.status IN ({s['planned']}, {s['opened']}) THEN 1 ELSE 0 END) "
        "AS pending, "
        "MIN(CASE WHEN c.channel IS NOT NULL AND c.channel <> '' THEN c.id END) AS first_ch, "
        f"MAX(CASE WHEN c.status IN ({s['expired']}, {s['skipped']}) THEN c.id END) AS last_x, "
        "MAX(c.id) AS last_id "
        f"FROM checkin c JOIN episode e ON e.id = c.episode_id WHERE {where} "
        "GROUP BY c.episode_id) "
        f"SELECT {', '.join(sel)}, {day}, a.answered, {reason}, COUNT(*) "
        "FROM a JOIN episode e ON e.id = a.episode_id "
        "JOIN contact ct ON ct.id = e.contact_id "
        "LEFT JOIN checkin ch ON ch.id = a.first_ch "
        "LEFT JOIN checkin lc ON lc.id = COALESCE(a.last_x, a.last_id) "
        f"WHERE 1 = 1{ch_cond} "
        f"GROUP BY {', '.join([*grouped, '6', '7', '8'])}")
    return await fetch(q, p.values)


def as_day(v: Any) -> date:
    """A day column as a date (text on both databases here)."""
    return v if isinstance(v, date) else date.fromisoformat(str(v))
