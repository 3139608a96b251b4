"""What each score tally reads, and the rollups' own queries.

``rollup_source`` picks the table (see :mod:`bot.analytics.tallies`); the readers here return
the same rows as counting the answer table would (tests/test_tallies_rollup.py), and
``rebuild_rollup`` recounts every rollup from the answers.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from bot.analytics.periods import _month_end, bucket
from bot.analytics.tally_sql import (
    _NULL_BIT,
    GROUP_COLUMNS,
    Counts,
    Scope,
    _conn,
    _fetch,
    _group_value,
    _period_label,
    _period_sql,
    _Sql,
)


def rollup_source(by: str, period: str, scope: Scope, pg: bool) -> str:
    """The table a score tally reads: ``answer_day``, ``answer_clinician_day``,
    ``answer_tally`` or ``answer``.

    The day rollup answers any period and day range for department, channel and question
    tallies that filter on nothing it lacks (clinician, treatment). The clinician day rollup
    answers clinician tallies (and department or question ones filtered to a clinician) the
    same way, unless they filter on treatment or channel; the treatment day rollup treatment
    tallies (and department or question ones of a treatment) unless they filter on clinician
    or channel. The month rollup answers
    the rest over whole months where it beats the answer table's covering indexes: always on
    PostgreSQL (hash aggregation over every answer otherwise), and on SQLite for clinicians by
    period (too many groups for per-day rows to pay off). Otherwise the answer table.
    """
    if (by in ("department", "channel", "question") and scope.clinician is None
            and scope.clinician_code is None and scope.treatment is None):
        return "answer_day"
    if by in ("department", "clinician", "question") and scope.treatment is None and (
            scope.channel is None):
        return "answer_clinician_day"
    if by in ("department", "treatment", "question") and scope.clinician is None and (
            scope.clinician_code is None and scope.channel is None):
        return "answer_treatment_day"
    if _month_grain(period, scope) and (pg or (by == "clinician" and period != "all")):
        return "answer_tally"
    return "answer"


def _month_grain(period: str, scope: Scope) -> bool:
    """Whether whole local months answer the request (then the rollup table can)."""
    return (period in ("all", "month", "quarter")
            and (scope.start is None or scope.start.day == 1)
            and (scope.end is None or scope.end == _month_end(scope.end)))


async def _rollup_rows(conn: Any, pg: bool, by: str, period: str,
                       scope: Scope) -> list[tuple[Any, str, str, int, int]]:
    """score_rows over whole months, from the answer_tally rollup (same figures)."""
    sql = _Sql(pg)
    conds = ["1 = 1"]
    if scope.start is not None:
        conds.append(f"local_month >= {sql.p(scope.start.isoformat()[:7])} AND (nulls & 8) = 0")
    if scope.end is not None:
        conds.append(f"local_month <= {sql.p(scope.end.isoformat()[:7])} AND (nulls & 8) = 0")
    ids = scope.dept_ids()
    if ids is not None:
        conds.append(f"{sql.in_('department_id', ids)} AND (nulls & 1) = 0")
    for name, val in (("clinician", scope.clinician), ("treatment_type", scope.treatment),
                      ("channel", scope.channel), ("question_id", scope.question_id),
                      ("clinician_code", scope.clinician_code)):
        if val is not None:
            bit = _NULL_BIT.get(name)
            conds.append(f"{name} = {sql.p(val)}" + (f" AND (nulls & {bit}) = 0" if bit else ""))
    lead = list(GROUP_COLUMNS[by])
    mask = 8 if period != "all" else 0
    for c in lead:
        mask |= _NULL_BIT.get(c, 0)
    keys = [*lead, *(["local_month"] if period != "all" else []),
            "question_id", "score", "nulls"]  # raw nulls: lets SQLite stream the index
    pos = ", ".join(str(i + 1) for i in range(len(keys)))
    q = (f"SELECT {', '.join(keys)}, SUM(n) FROM answer_tally WHERE {' AND '.join(conds)} "
         f"GROUP BY {pos}")
    raw = await _fetch(conn, pg, q, sql.values)
    folded: dict[tuple[Any, str, str, int], int] = defaultdict(int)
    for r in raw:
        v = list(r.values()) if isinstance(r, dict) else list(r)
        gvals = v[:len(lead)]
        v = v[len(lead):]
        month = v.pop(0) if period != "all" else ""
        qid, score, bits, n = v
        bits = int(bits) & mask
        # a NULL stored as 0 / '' with its bit: give back the NULL
        gvals = [None if bits & _NULL_BIT.get(c, 0) else g for c, g in zip(lead, gvals,
                                                                             strict=True)]
        if period == "all":
            per = ""
        elif bits & 8:
            per = "None"  # as the answer-table query labels a missing day
        else:
            per = month if period == "month" else bucket(f"{month}-01", "quarter")
        folded[(_group_value(gvals, by), per, qid, int(score))] += int(n)
    return [(*k, n) for k, n in folded.items()]


async def _day_rows(conn: Any, pg: bool, by: str, period: str,
                   scope: Scope) -> list[tuple[Any, str, str, int, int]]:
    """score_rows from the answer_day rollup (same figures, any period and day range)."""
    sql = _Sql(pg)
    q = await _day_query(conn, sql, by, period, scope, pivot=False)
    return _fold_day_rows(await _fetch(conn, pg, q, sql.values), by, period, pg)


async def _day_counts(conn: Any, pg: bool, by: str, period: str,
                      scope: Scope) -> list[tuple[Any, str, str, Counts]]:
    """score_counts from the answer_day rollup: the five scores summed in SQL, one row per
    group, period and question (a fifth of the rows to hand back and fold)."""
    sql = _Sql(pg)
    q = await _day_query(conn, sql, by, period, scope, pivot=True)
    lead = list(GROUP_COLUMNS[by])
    col = lead[0] if lead else None
    lead_bit = _NULL_BIT.get(col or "", 0)
    off = 1 if col else 0
    # rows: [group], question, nulls, [period], n1..n5; rows that differ only in a nulls bit
    # this tally ignores fold together
    raw = await _fetch(conn, pg, q, sql.values)
    if col:
        keyed = [(None if r[2] & lead_bit else r[0], r[2], r[1], r) for r in raw]
    else:
        keyed = [("", r[1], r[0], r) for r in raw]
    return _fold_counts(keyed, period, pg, off + 2)


def _fold_counts(keyed: list[tuple[Any, int, str, Any]], period: str, pg: bool,
                 per_at: int) -> list[tuple[Any, str, str, Counts]]:
    """Five-count rows (n1..n5 last), given as (group, nulls bits, question, row) with the
    period value at ``per_at``, summed per group, period label and question. One loop with
    as little work per row as possible: a quarter's clinician weeks are tens of thousands of
    rows (each period value is labelled once, counts stay as the driver gives them until two
    rows meet)."""
    label = _period_label if pg and period == "week" else str
    labels: dict[Any, str] = {}
    out: dict[tuple[Any, str, str], Any] = {}
    whole = period == "all"
    for g, bits, qid, r in keyed:
        if whole:
            per = ""
        elif bits & 8:
            per = "None"  # as the answer-table query labels a missing day
        else:
            v = r[per_at]
            per = labels.get(v) or labels.setdefault(v, label(v))
        key = (g, per, qid)
        c = out.get(key)
        if c is None:
            out[key] = (r[-5], r[-4], r[-3], r[-2], r[-1])
        else:
            out[key] = (c[0] + r[-5], c[1] + r[-4], c[2] + r[-3], c[3] + r[-2], c[4] + r[-1])
    return [(g, per, qid, (int(c[0]), int(c[1]), int(c[2]), int(c[3]), int(c[4])))
            for (g, per, qid), c in out.items()]


async def _day_query(conn: Any, sql: _Sql, by: str, period: str, scope: Scope,
                     pivot: bool) -> str:
    """The day (and month) rollups' query of a tally: one row per group, question, score,
    nulls and period with its count; with ``pivot``, per group, question, nulls and period
    with the five scores' counts."""
    pg = sql.pg
    lead = list(GROUP_COLUMNS[by])
    keys = [*lead, "question_id", "score", "nulls"]  # raw nulls: lets SQLite stream the index
    cols = ", ".join(keys)
    # what the outer query groups by and sums
    outer = ", ".join([*lead, "question_id", "nulls"]) if pivot else cols
    sums = (", ".join(_sum_score(s, pg) for s in range(1, 6)) if pivot else "SUM(n)")
    width = len(keys) - pivot
    dated = scope.start is not None or scope.end is not None
    per = _period_sql(period, pg, "d")
    if not dated:
        # a missing day ('', bit 8; only without a range) gets no period: PostgreSQL cannot
        # cast ''
        per = f"CASE WHEN (nulls & 8) = 0 THEN {per} END"
    pos = ", ".join(str(i + 1) for i in range(width + 1))
    split = _month_split(period, scope)
    if split is not None:
        # whole months from the month rollup, the days at either end from the day rollup
        src = " UNION ALL ".join(
            f"SELECT {cols}, {d} AS d, n FROM {table} WHERE {' AND '.join(conds)}"
            for table, d, conds in _split_parts(sql, split, "answer_month", "answer_day",
                                                lambda: _day_filters(sql, scope)))
        if period == "all":
            return f"SELECT {outer}, {sums} FROM ({src}) t GROUP BY {outer}"
        return f"SELECT {outer}, {per}, {sums} FROM ({src}) t GROUP BY {pos}"
    conds = ["1 = 1"]
    # A missing day is stored as '', before every date: a start bound leaves it out by itself,
    # an end bound needs "> ''" (a range condition the planners estimate well, unlike a bit).
    # SQLite takes any day range for a narrow one and seeks the (local_day, …) unique index,
    # looking each row up for its count; over most of the days, scanning the covering group
    # index in order is faster (a year at a million answers: 160 instead of 240 ms). "+"
    # keeps the range off the index.
    day = "+local_day" if dated and not pg and await _most_days(conn, "answer_day", scope) \
        else "local_day"
    if scope.start is not None:
        conds.append(f"{day} >= {sql.p(scope.start.isoformat())}")
    if scope.end is not None:
        conds.append(f"{day} <= {sql.p(scope.end.isoformat())}")
        if scope.start is None:
            conds.append(f"{day} > ''")
    conds += _day_filters(sql, scope)
    where = " AND ".join(conds)
    if period in ("all", "day"):
        day_col = ", local_day" if period == "day" else ""
        return (f"SELECT {outer}{day_col}, {sums} FROM answer_day "
                f"WHERE {where} GROUP BY {outer}{day_col}")
    if pg:
        return (f"SELECT {outer}, {per}, {sums} FROM "
                f"(SELECT {cols}, local_day AS d, n FROM answer_day WHERE {where}) t "
                f"GROUP BY {pos}")
    # SQLite streams the covering index in (group, day) order, summing channels per day
    # without sorting; the outer query folds the days into periods.
    return (f"SELECT {outer}, {per}, {sums} FROM "
            f"(SELECT {cols}, local_day AS d, SUM(n) AS n FROM answer_day WHERE {where} "
            f"GROUP BY {cols}, local_day) t GROUP BY {pos}")


def _sum_score(s: int, pg: bool) -> str:
    """The sum of one score's counts (PostgreSQL sums bigints as numeric: cast back, or the
    driver builds a Decimal per count)."""
    total = f"SUM(CASE WHEN score = {s} THEN n ELSE 0 END)"
    return f"CAST({total} AS BIGINT)" if pg else total


def _day_filters(sql: _Sql, scope: Scope) -> list[str]:
    """The day and month rollups' conditions for a scope, but its days."""
    conds = []
    ids = scope.dept_ids()
    if ids is not None:
        conds.append(f"{sql.in_('department_id', ids)} AND (nulls & 1) = 0")
    for name, val in (("channel", scope.channel), ("question_id", scope.question_id)):
        if val is not None:
            conds.append(f"{name} = {sql.p(val)}")
    return conds


def _fold_day_rows(raw: list[Any], by: str, period: str,
                   pg: bool) -> list[tuple[Any, str, str, int, int]]:
    """score_rows from the day (or month) rollup's grouped rows."""
    lead = list(GROUP_COLUMNS[by])
    col = lead[0] if lead else None
    # Rows (sqlite3.Row / asyncpg Record) by position: [group], question, score, nulls,
    # [period], n. Rows that differ only in a nulls bit this tally ignores fold together.
    lead_bit = _NULL_BIT.get(col or "", 0)
    off = 1 if col else 0
    label = _period_label if pg and period == "week" else str
    folded: dict[tuple[Any, str, str, int], int] = defaultdict(int)
    for r in raw:
        bits = r[off + 2]
        g = (None if bits & lead_bit else r[0]) if col else ""
        if period == "all":
            per_label = ""
        elif bits & 8:
            per_label = "None"  # as the answer-table query labels a missing day
        else:
            per_label = label(r[off + 3])
        folded[(g, per_label, r[off], r[off + 1])] += r[-1]
    return [(*k, int(n)) for k, n in folded.items()]


Split = tuple[tuple[date | None, date | None], list[tuple[date, date]]]


def _month_split(period: str, scope: Scope) -> Split | None:
    """For a month, quarter or whole-range tally: the first days of the first and last whole
    local months of the scope's range (None: open-ended) and the day ranges left over at
    either end. None for finer periods, or when no whole month lies inside the range."""
    if period not in ("all", "month", "quarter"):
        return None
    s, e = scope.start, scope.end
    m0 = None if s is None else (s if s.day == 1 else _month_end(s) + timedelta(days=1))
    if e is None:
        m1 = None
    elif e == _month_end(e):
        m1 = e.replace(day=1)
    else:
        m1 = (e.replace(day=1) - timedelta(days=1)).replace(day=1)
    if m0 is not None and m1 is not None and m0 > m1:
        return None
    edges = []
    if s is not None and m0 is not None and s < m0:
        edges.append((s, m0 - timedelta(days=1)))
    if e is not None and m1 is not None and e > _month_end(m1):
        edges.append((_month_end(m1) + timedelta(days=1), e))
    return (m0, m1), edges


def _week_split(scope: Scope) -> Split | None:
    """For a week tally: the Mondays of the first and last whole ISO weeks of the scope's range
    (None: open-ended) and the day ranges left over at either end (None when no whole week
    lies inside)."""
    s, e = scope.start, scope.end
    w0 = None if s is None else s + timedelta(days=(7 - s.weekday()) % 7)
    w1 = None if e is None else e - timedelta(days=e.weekday() + (0 if e.weekday() == 6 else 7))
    if w0 is not None and w1 is not None and w0 > w1:
        return None
    edges = []
    if s is not None and w0 is not None and s < w0:
        edges.append((s, w0 - timedelta(days=1)))
    if e is not None and w1 is not None and e > w1 + timedelta(days=6):
        edges.append((w1 + timedelta(days=7), e))
    return (w0, w1), edges


def _split_parts(sql: _Sql, split: Split, months: str, days: str, filters: Any,
                 col: str = "month_start") -> list[tuple[str, str, list[str]]]:
    """(table, day column, conditions) of each part of a split range: the whole months (or
    weeks: ``col`` is then ``week_start``), then the edge days. ``filters()`` adds the
    scope's other conditions (called once per part, so that the placeholders come in the
    order of the SQL)."""
    (m0, m1), edges = split
    conds = []
    if m0 is not None:
        conds.append(f"{col} >= {sql.p(m0.isoformat())}")
    if m1 is not None:
        conds.append(f"{col} <= {sql.p(m1.isoformat())}")
        if m0 is None:
            conds.append(f"{col} > ''")  # a missing day's month (or week) is ''
    parts = [(months, col, [*conds, *filters()] or ["1 = 1"])]
    for a, b in edges:
        parts.append((days, "local_day", [f"local_day >= {sql.p(a.isoformat())}",
                                          f"local_day <= {sql.p(b.isoformat())}", *filters()]))
    return parts


async def _most_days(conn: Any, table: str, scope: Scope, share: float = 0.25) -> bool:
    """Whether the scope's days cover at least ``share`` of the days a day rollup holds
    (measured on the bench: below a quarter the range seek wins, above it the scan)."""
    # two subqueries: SQLite finds a lone MIN or MAX with one index seek, both at once by a scan
    _, rows = await conn.execute_query(
        f"SELECT (SELECT MIN(local_day) FROM {table} WHERE local_day > ''), "
        f"(SELECT MAX(local_day) FROM {table})")
    lo, hi = (rows[0][0], rows[0][1]) if rows else (None, None)
    try:
        first, last = date.fromisoformat(str(lo)), date.fromisoformat(str(hi))
    except ValueError:  # no days (or none the planner could reason about): leave it be
        return False
    a, b = max(first, scope.start or first), min(last, scope.end or last)
    return b >= a and (b - a).days + 1 >= share * ((last - first).days + 1)


# The five-count rollups: (day table, month table, key columns but the day)
_FIVE_COUNT = {
    "answer_clinician_day": ("answer_clinician_day", "answer_clinician_month",
                             "department_id, clinician, clinician_code, question_id, nulls"),
    "answer_treatment_day": ("answer_treatment_day", "answer_treatment_month",
                             "department_id, treatment_type, question_id, nulls"),
}


async def _five_counts(conn: Any, pg: bool, by: str, period: str, scope: Scope,
                       source: str = "answer_clinician_day") -> list[tuple[Any, str, str, Counts]]:
    """score_counts from a five-count rollup, ``answer_clinician_day`` or
    ``answer_treatment_day`` (same figures, any period and range).

    One row per clinician (or treatment), question and day holds the five scores' counts; the
    sums come back as five columns, score_counts' shape.
    """
    sql = _Sql(pg)
    days, months, keys_cols = _FIVE_COUNT[source]
    col = "month_start"
    split = _month_split(period, scope)
    if period == "week" and source == "answer_clinician_day":
        # a quarter of clinician weeks: whole weeks from the week rollup
        split, months, col = _week_split(scope), "answer_clinician_week", "week_start"
    if split is not None:
        # whole months (weeks) from their rollup, the days at either end from the day rollup
        cols = f"{keys_cols}, n1, n2, n3, n4, n5"
        src = " UNION ALL ".join(
            f"SELECT {d} AS local_day, {cols} FROM {table} WHERE {' AND '.join(conds)}"
            for table, d, conds in _split_parts(sql, split, months, days,
                                                lambda: _five_count_filters(sql, scope), col))
        table_sql, conds = f"({src}) t", ["1 = 1"]
    else:
        table_sql, conds = days, ["1 = 1"]
        if scope.start is not None:
            conds.append(f"local_day >= {sql.p(scope.start.isoformat())}")
        if scope.end is not None:
            conds.append(f"local_day <= {sql.p(scope.end.isoformat())}")
            if scope.start is None:
                conds.append("local_day > ''")  # a missing day is stored as ''
        conds += _five_count_filters(sql, scope)
    lead = list(GROUP_COLUMNS[by])
    # the nulls bits of the grouped columns (and of the day, for a period) keep a missing
    # value apart from a stored '' or 0; other bits fold together
    mask = (8 if period != "all" else 0) | sum(_NULL_BIT.get(c, 0) for c in lead)
    keys = [*lead, "question_id", f"nulls & {mask}"]
    per = "" if period == "all" else _period_sql(period, pg)
    if per and not (scope.start is not None or scope.end is not None):
        per = f"CASE WHEN (nulls & 8) = 0 THEN {per} END"  # PostgreSQL cannot cast ''
    sel = [*keys, *([per] if per else [])]
    pos = ", ".join(str(i + 1) for i in range(len(sel)))
    # PostgreSQL sums bigints as numeric: cast back, or the driver builds a Decimal per count
    sums = ", ".join((f"CAST(SUM(n{s}) AS BIGINT)" if pg else f"SUM(n{s})") for s in range(1, 6))
    q = (f"SELECT {', '.join(sel)}, {sums} "
         f"FROM {table_sql} WHERE {' AND '.join(conds)} GROUP BY {pos}")
    raw = await _fetch(conn, pg, q, sql.values)
    k = len(lead)
    bits_of = [_NULL_BIT.get(c, 0) for c in lead]
    clin = by == "clinician"
    keyed = []
    for r in raw:
        bits = int(r[k + 1])
        if clin:
            dept, code, name = r[0], r[1], r[2]
            if bits & 3:
                dept = None if bits & 1 else dept
                name = None if bits & 2 else name
            g: Any = (dept, code or "", name)
        elif k:
            g = None if bits & bits_of[0] else r[0]
        else:
            g = ""
        # rows that differ only in a clinician id spelled NULL or '' fold together
        keyed.append((g, bits, r[k], r))
    return _fold_counts(keyed, period, pg, k + 2)


ROLLUP_TABLES = ("answer_tally", "answer_day", "answer_clinician_day", "answer_month",
                 "answer_clinician_month", "answer_treatment_day", "answer_treatment_month",
                 "answer_clinician_week")


def _five_count_filters(sql: _Sql, scope: Scope) -> list[str]:
    """The clinician or treatment rollups' conditions for a scope, but its days (a scope
    reaches the clinician ones with no treatment, the treatment ones with no clinician)."""
    conds = []
    ids = scope.dept_ids()
    if ids is not None:
        conds.append(f"{sql.in_('department_id', ids)} AND (nulls & 1) = 0")
    if scope.clinician is not None:
        conds.append(f"clinician = {sql.p(scope.clinician)} AND (nulls & 2) = 0")
    if scope.clinician_code is not None:
        conds.append(f"clinician_code = {sql.p(scope.clinician_code)}")
    if scope.treatment is not None:
        conds.append(f"treatment_type = {sql.p(scope.treatment)} AND (nulls & 4) = 0")
    if scope.question_id is not None:
        conds.append(f"question_id = {sql.p(scope.question_id)}")
    return conds


def _week_start_sql(pg: bool) -> str:
    """The Monday of a day rollup's local_day, as text ('' stays '')."""
    monday = ("to_char(date_trunc('week', CAST(local_day AS date)), 'YYYY-MM-DD')" if pg
              else "date(local_day, '-6 days', 'weekday 1')")
    return f"CASE WHEN local_day = '' THEN '' ELSE {monday} END"


async def rebuild_rollup() -> dict[str, int]:
    """Recount the rollups (answer_tally per month, answer_day and answer_clinician_day per
    day, answer_month and answer_clinician_month per month) from the answer table, after bulk
    loads or restores. Returns how many rows each now holds.
    """
    month = "COALESCE(substr(local_day, 1, 7), '')"
    nulls = " + ".join(f"CASE WHEN {c} IS NULL THEN {b} ELSE 0 END"
                       for c, b in _NULL_BIT.items())
    day_nulls = " + ".join(f"CASE WHEN {c} IS NULL THEN {_NULL_BIT[c]} ELSE 0 END"
                           for c in ("department_id", "local_day"))
    async with in_transaction() as tx:
        await tx.execute_query("DELETE FROM answer_tally")
        await tx.execute_query(
            "INSERT INTO answer_tally (department_id, clinician, clinician_code, treatment_type, "
            "channel, question_id, score, local_month, nulls, n) "
            "SELECT COALESCE(department_id, 0), COALESCE(clinician, ''), "
            "COALESCE(clinician_code, ''), "
            f"COALESCE(treatment_type, ''), channel, question_id, score, {month}, {nulls}, "
            "COUNT(*) FROM answer WHERE score IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9")
        await tx.execute_query("DELETE FROM answer_day")
        await tx.execute_query(
            "INSERT INTO answer_day (department_id, question_id, score, nulls, local_day, "
            "channel, n) "
            f"SELECT COALESCE(department_id, 0), question_id, score, {day_nulls}, "
            "COALESCE(local_day, ''), channel, COUNT(*) FROM answer WHERE score IS NOT NULL "
            "GROUP BY 1, 2, 3, 4, 5, 6")
        await tx.execute_query("DELETE FROM answer_clinician_day")
        clin_nulls = " + ".join(f"CASE WHEN {c} IS NULL THEN {_NULL_BIT[c]} ELSE 0 END"
                                for c in ("department_id", "clinician", "local_day"))
        await tx.execute_query(
            "INSERT INTO answer_clinician_day (local_day, department_id, clinician, "
            "clinician_code, question_id, nulls, n1, n2, n3, n4, n5) "
            "SELECT COALESCE(local_day, ''), COALESCE(department_id, 0), "
            f"COALESCE(clinician, ''), COALESCE(clinician_code, ''), question_id, {clin_nulls}, "
            + ", ".join(f"SUM(CASE WHEN score = {s} THEN 1 ELSE 0 END)" for s in range(1, 6))
            + " FROM answer WHERE score BETWEEN 1 AND 5 GROUP BY 1, 2, 3, 4, 5, 6")
        await tx.execute_query("DELETE FROM answer_treatment_day")
        treat_nulls = " + ".join(f"CASE WHEN {c} IS NULL THEN {_NULL_BIT[c]} ELSE 0 END"
                                 for c in ("department_id", "treatment_type", "local_day"))
        await tx.execute_query(
            "INSERT INTO answer_treatment_day (local_day, department_id, treatment_type, "
            "question_id, nulls, n1, n2, n3, n4, n5) "
            "SELECT COALESCE(local_day, ''), COALESCE(department_id, 0), "
            f"COALESCE(treatment_type, ''), question_id, {treat_nulls}, "
            + ", ".join(f"SUM(CASE WHEN score = {s} THEN 1 ELSE 0 END)" for s in range(1, 6))
            + " FROM answer WHERE score BETWEEN 1 AND 5 GROUP BY 1, 2, 3, 4, 5")
        # the month (and week) rollups: the day rollups summed
        month = "CASE WHEN local_day = '' THEN '' ELSE substr(local_day, 1, 7) || '-01' END"
        week = _week_start_sql(_conn().capabilities.dialect == "postgres")
        five = "n1, n2, n3, n4, n5"
        clin = "department_id, clinician, clinician_code, question_id, nulls"
        for table, unit, unit_sql, days, keys, counts in (
                ("answer_month", "month_start", month, "answer_day",
                 "department_id, question_id, score, nulls, channel", "n"),
                ("answer_clinician_month", "month_start", month, "answer_clinician_day", clin,
                 five),
                ("answer_clinician_week", "week_start", week, "answer_clinician_day", clin,
                 five),
                ("answer_treatment_month", "month_start", month, "answer_treatment_day",
                 "department_id, treatment_type, question_id, nulls", five)):
            sums = ", ".join(f"SUM({c})" for c in counts.split(", "))
            groups = ", ".join(str(i + 1) for i in range(keys.count(",") + 2))
            await tx.execute_query(f"DELETE FROM {table}")
            await tx.execute_query(
                f"INSERT INTO {table} ({unit}, {keys}, {counts}) "
                f"SELECT {unit_sql}, {keys}, {sums} FROM {days} GROUP BY {groups}")
        out = {}
        for table in ROLLUP_TABLES:
            _, rows = await tx.execute_query(f"SELECT COUNT(*) FROM {table}")
            out[table] = int(rows[0][0])
    for table in out:
        # fresh statistics: the planners pick index or scan by the rollups' sizes
        await _conn().execute_script(f"ANALYZE {table}")
    return out
