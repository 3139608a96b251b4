"""Manager analytics: score tallies, operational rates, fairness rules.

Score tallies read one of four tables; ``rollup_source`` picks which:

- ``answer_day``, scored answers counted per department, channel, question, score and local
  day: tallies by department, channel or question with no clinician or treatment filter, for
  every period and any day range (days sum to weeks, months, quarters and custom ranges).
- ``answer_clinician_day``, the five scores' counts per department, clinician, question and
  local day: clinician tallies (and department or question tallies of one clinician) with no
  treatment or channel filter, for every period and day range.
- ``answer_treatment_day``, the same per department, treatment type, question and day:
  treatment tallies (and department or question tallies of one treatment) with no clinician
  or channel filter.
- ``answer_clinician_week``, the clinician day rollup summed per ISO week: clinician week
  tallies read their whole weeks there and the days at either end from the day rollup.
- ``answer_month``, ``answer_clinician_month`` and ``answer_treatment_month``, those three
  summed per local month: month,
  quarter and whole-range tallies of either read the whole months of their range there and
  only the days left at either end from the day rollup (one UNION ALL query).
- ``answer_tally``, the same counted per local month with clinician and treatment too: the
  other tallies over whole months (PostgreSQL; SQLite for clinicians by period).
- ``answer`` itself otherwise. It carries everything the tallies group by (department,
  clinician, treatment type, channel, question, local day; denormalised at recording time)
  and each grouping has a covering index that starts with the grouping column and ends with
  ``local_day``. On SQLite the database streams that index in order to count per day without
  sorting, and an outer query folds the day rows into weeks, months or quarters; PostgreSQL
  hash-aggregates the period expression directly (JIT off).

The rollups are kept by ``bot.ledger.append`` in the same transaction as each scored answer
and equal counting answers (tests/test_tallies_rollup.py); ``rebuild_rollup`` recounts them.
One query per tally.

Operational rates (response, coverage, on-time, lost to follow-up, escalations, SLA, praise)
read check-ins, episodes and escalations of the chosen range; they are far fewer rows.

Fairness: a group with fewer than ``[tallies] min_answers`` answers shows no mean or rate
("—"); every shown mean and rate carries a 95 % confidence interval. Nothing here returns who
answered: drill-down rows carry the day, channel, score and text only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.expressions import Q

from bot.analytics.figures import (  # noqa: F401 (re-exported: the tallies' figures)
    HUNDRED_POINT,
    Tally,
    TallyError,
    combine,
    to_hundred,
)
from bot.analytics.periods import (  # noqa: F401 (re-exported: the tallies' periods)
    PERIODS,
    _month_end,
    _period_bounds,
    bucket,
    parse_range,
    week_start,
)
from bot.analytics.rollups import (  # noqa: F401 (re-exported: what each tally reads)
    ROLLUP_TABLES,
    _day_counts,
    _day_rows,
    _five_counts,
    _rollup_rows,
    rebuild_rollup,
    rollup_source,
)
from bot.analytics.stats import MIN_ANSWERS_FOR_MEAN
from bot.analytics.tally_sql import (
    _COLUMN,
    DIMENSIONS,
    GROUP_COLUMNS,
    RECOVERY,
    Counts,
    Scope,
    _answer_where,
    _conn,
    _fetch,
    _group_value,
    _period_label,
    _period_sql,
    _Sql,
)
from models import (
    Department,
)


async def department_names(departments: Collection[int] | None = None) -> dict[int, str]:
    """Department id → name, of ``departments`` only when given (a head's scope: the names
    of other departments are theirs too, not only their rows)."""
    q = Department.all() if departments is None else Department.filter(
        id__in=list(departments))
    return {d["id"]: d["name"] for d in await q.values("id", "name")}


# ---------------------------------------------------------------------------------------------
# score tallies


async def score_rows(by: str = "department", period: str = "all",
                     scope: Scope | None = None) -> list[tuple[Any, str, str, int, int]]:
    """Raw grouped counts: (group value, period, question, score, n). One query."""
    if by not in GROUP_COLUMNS:
        raise TallyError(f"unknown dimension {by!r}; use one of {', '.join(DIMENSIONS)}")
    if period not in PERIODS:
        raise TallyError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    scope = scope or Scope()
    conn = _conn()
    pg = conn.capabilities.dialect == "postgres"
    source = rollup_source(by, period, scope, pg)
    if source == "answer_day":
        return await _day_rows(conn, pg, by, period, scope)
    if source in ("answer_clinician_day", "answer_treatment_day"):
        return [(g, per, qid, score, n)
                for g, per, qid, counts in await _five_counts(conn, pg, by, period,
                                                                       scope, source)
                for score, n in enumerate(counts, start=1) if n]
    if source == "answer_tally":
        return await _rollup_rows(conn, pg, by, period, scope)
    sql = _Sql(pg)
    where = _answer_where(sql, scope)
    lead = list(GROUP_COLUMNS[by])
    keys = [*lead, "question_id", "score"]
    cols = ", ".join(keys)
    pos = ", ".join(str(i + 1) for i in range(len(keys) + 1))
    if period == "all":
        q = f"SELECT {cols}, COUNT(*) FROM answer WHERE {where} GROUP BY {cols}"
    elif pg or by == "clinician":
        # PostgreSQL hashes groups in parallel: one GROUP BY over the period expression is
        # fastest there. Clinicians are too many for per-day rows to pay off on SQLite too.
        q = (f"SELECT {cols}, {_period_sql(period, pg)}, COUNT(*) FROM answer "
             f"WHERE {where} GROUP BY {pos}")
    else:
        # SQLite: the covering index (col, question_id, score, local_day) streams day groups
        # in index order without sorting; the outer query folds the (far fewer) day rows into
        # weeks, months or quarters. One GROUP BY over the period expression would sort every
        # answer.
        q = (f"SELECT {cols}, {_period_sql(period, pg, 'd')}, SUM(n) FROM "
             f"(SELECT {cols}, local_day AS d, COUNT(*) AS n FROM answer WHERE {where} "
             f"GROUP BY {cols}, local_day) t GROUP BY {pos}")
    rows = await _fetch(conn, pg, q, sql.values)
    off = len(lead)
    # a missing clinician id (NULL, older rows) and an empty one are the same group
    out: dict[tuple[Any, str, str, int], int] = defaultdict(int)
    for r in rows:
        g = _group_value(r[:off], by)
        if period == "all":
            out[(g, "", r[off], int(r[off + 1]))] += int(r[off + 2])
        else:
            out[(g, _period_label(r[off + 2]), r[off], int(r[off + 1]))] += int(r[off + 3])
    return [(*k, n) for k, n in out.items()]


def clinician_key(code: str | None, name: str | None) -> str:
    """How a clinician is told apart within their department: the system's id, else the name."""
    return f"id:{code}" if code else f"name:{name or ''}"


async def score_tallies(since: datetime | None = None, until: datetime | None = None, *,
                        by: str = "department", period: str = "all",
                        scope: Scope | None = None,
                        min_answers: int = MIN_ANSWERS_FOR_MEAN,
                        tz: ZoneInfo | None = None, scale: str = "times20") -> list[Tally]:
    """Tallies per group (``by``), question and period, sorted by group, period, question.

    Clinicians are grouped per department (``key_id`` = (department id, clinician key), the
    department's name in ``parent``). Recovery satisfaction is left out (complaint handling
    reports it). ``since``/``until`` (aware datetimes) are turned into local days in ``tz``;
    prefer ``scope.start``/``scope.end``.
    """
    scope = scope or Scope()
    if since is not None or until is not None:
        zone = tz or ZoneInfo("Asia/Shanghai")
        scope = replace(
            scope, start=since.astimezone(zone).date() if since else scope.start,
            end=(until - timedelta(microseconds=1)).astimezone(zone).date() if until
            else scope.end)
    rows = await score_counts(by, period, scope)
    names = (await department_names(scope.departments) if by in ("department", "clinician")
             else {})
    return build_tallies(rows, by, names, min_answers=min_answers, scale=scale)


def counts_of(rows: Iterable[tuple[Any, str, str, int, int]]) -> list[tuple[Any, str, str,
                                                                        Counts]]:
    """score_rows' rows (one per score) folded into one row per group, period and question."""
    out: dict[tuple[Any, str, str], list[int]] = {}
    for g, per, qid, score, n in rows:
        if 1 <= score <= 5:
            c = out.get((g, per, qid))
            if c is None:
                c = out[(g, per, qid)] = [0, 0, 0, 0, 0]
            c[score - 1] += n
    return [(g, per, q, (c[0], c[1], c[2], c[3], c[4])) for (g, per, q), c in out.items()]


async def score_counts(by: str = "department", period: str = "all",
                       scope: Scope | None = None) -> list[tuple[Any, str, str, Counts]]:
    """Like :func:`score_rows`, with the five scores' counts in one row: (group value,
    period, question, counts). Over the answer table the scores are counted in SQL (a fifth
    of the rows to hand back and fold); the rollups are folded here."""
    scope = scope or Scope()
    if by not in GROUP_COLUMNS:
        raise TallyError(f"unknown dimension {by!r}; use one of {', '.join(DIMENSIONS)}")
    if period not in PERIODS:
        raise TallyError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    conn = _conn()
    pg = conn.capabilities.dialect == "postgres"
    source = rollup_source(by, period, scope, pg)
    if source in ("answer_clinician_day", "answer_treatment_day"):  # five counts a row
        return await _five_counts(conn, pg, by, period, scope, source)
    if source == "answer_day":
        return await _day_counts(conn, pg, by, period, scope)
    if source != "answer":
        return counts_of(await score_rows(by, period, scope))
    sql = _Sql(pg)
    where = _answer_where(sql, scope)
    lead = list(GROUP_COLUMNS[by])
    k = len(lead)
    cols = ", ".join([*lead, "question_id"])

    def pivot(n: str) -> str:
        return ", ".join(f"SUM(CASE WHEN score = {s} THEN {n} ELSE 0 END)" for s in range(1, 6))

    pos = ", ".join(str(i + 1) for i in range(k + 2))
    if period == "all":
        q = (f"SELECT {cols}, '' AS p, {pivot('1')} FROM answer WHERE {where} "
             f"GROUP BY {cols}")
    elif pg or by == "clinician":
        q = (f"SELECT {cols}, {_period_sql(period, pg)}, {pivot('1')} FROM answer "
             f"WHERE {where} GROUP BY {pos}")
    else:
        # SQLite: stream the covering index per day (no sort), fold days into periods
        q = (f"SELECT {cols}, {_period_sql(period, pg, 'd')}, {pivot('n')} FROM "
             f"(SELECT {cols}, score, local_day AS d, COUNT(*) AS n FROM answer WHERE {where} "
             f"GROUP BY {cols}, score, local_day) t GROUP BY {pos}")
    rows = await _fetch(conn, pg, q, sql.values)
    out: dict[tuple[Any, str, str], list[int]] = {}
    clin = by == "clinician"
    for r in rows:
        r = tuple(r)
        if clin:
            g: Any = (r[0], r[1] or "", r[2])
        else:
            g = r[0] if k else ""
        key = (g, _period_label(r[k + 1]) if period != "all" else "", r[k])
        c = out.get(key)
        if c is None:
            out[key] = [int(x) for x in r[k + 2:k + 7]]
        else:  # a NULL and an empty clinician id are one group
            for i in range(5):
                c[i] += int(r[k + 2 + i])
    return [(g, per, q, (c[0], c[1], c[2], c[3], c[4])) for (g, per, q), c in out.items()]


def build_tallies(rows: Iterable[tuple[Any, ...]], by: str,
                  names: dict[int, str], *, min_answers: int = MIN_ANSWERS_FOR_MEAN,
                  scale: str = "times20") -> list[Tally]:
    """Tally objects from score_rows' rows (one per score) or score_counts' (five counts);
    recovery answers left out."""
    out: dict[tuple[Any, str, str], Tally] = {}
    # a clinician id may come with several spellings of the name: the commonest is shown
    spellings: dict[Any, dict[str, int]] = {}
    clin = by == "clinician"
    gids: dict[Any, Any] = {}  # group value → key_id (a clinician's is built once)
    for row in rows:
        if len(row) == 5:
            g, per, qid, score, n = row
            if not 1 <= score <= 5:
                continue
            counts: tuple[int, ...] = tuple(n if s == score else 0 for s in range(1, 6))
        else:
            g, per, qid, counts = row
        if qid == RECOVERY:
            continue
        if clin:
            gid = gids.get(g)
            if gid is None:
                gid = gids[g] = (g[0], clinician_key(g[1], g[2]))
            names_of = spellings.get(gid)
            if names_of is None:
                names_of = spellings[gid] = {}
            name = g[2] or ""
            names_of[name] = names_of.get(name, 0) + sum(counts)
        else:
            gid = g
        k = (gid, per, qid)
        t = out.get(k)
        if t is None:
            t = out[k] = Tally(by, _label(by, g, names), qid, per, key_id=gid,
                               min_answers=min_answers, scale=scale,
                               distribution={1: counts[0], 2: counts[1], 3: counts[2],
                                             4: counts[3], 5: counts[4]})
            if clin:
                t.parent = names.get(g[0], "—") if g[0] is not None else "—"
            continue
        d = t.distribution
        d[1] += counts[0]
        d[2] += counts[1]
        d[3] += counts[2]
        d[4] += counts[3]
        d[5] += counts[4]
    if clin:
        best = {gid: max(sp.items(), key=lambda kv: (kv[1], kv[0]))[0] or "—"
                for gid, sp in spellings.items()}
        for t in out.values():
            t.key = best[t.key_id]
    # str(key_id) once per group, not once per comparison's key
    order = {gid: str(gid) for gid in {t.key_id for t in out.values()}}
    return sorted(out.values(), key=lambda t: (t.parent, t.key, order[t.key_id], t.period,
                                               t.question_id))


def _label(by: str, g: Any, names: dict[int, str]) -> str:
    if by == "department":
        return names.get(g, "—") if g is not None else "—"
    if by == "question":
        return ""
    if by == "clinician":
        return str(g[2]) if g[2] else "—"
    return str(g) if g else "—"


def filter_group(q: Any, by: str, key: Any) -> Any:
    """An ORM query narrowed to one group (``key`` as ``Tally.key_id`` holds it)."""
    if by == "clinician":
        dept, ident = key
        q = q.filter(department_id=dept)
        kind, _, value = str(ident).partition(":")
        if kind == "id":
            return q.filter(clinician_code=value)
        return q.filter(clinician=value).filter(
            Q(clinician_code__isnull=True) | Q(clinician_code=""))
    col = _COLUMN[by]
    return q.filter(**{col: key}) if col else q


def _orm_scope(q: Any, scope: Scope) -> Any:
    if scope.start is not None:
        q = q.filter(local_day__gte=scope.start.isoformat())
    if scope.end is not None:
        q = q.filter(local_day__lte=scope.end.isoformat())
    ids = scope.dept_ids()
    if ids is not None:
        q = q.filter(department_id__in=ids)
    for col, val in (("clinician", scope.clinician), ("treatment_type", scope.treatment),
                     ("channel", scope.channel)):
        if val is not None:
            q = q.filter(**{col: val})
    if scope.clinician_code:
        q = q.filter(clinician_code=scope.clinician_code)
    return q


