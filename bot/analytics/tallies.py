"""Manager analytics: score tallies, operational rates, fairness rules.

Score tallies read one of three tables; ``rollup_source`` picks which:

- ``answer_day``, scored answers counted per department, channel, question, score and local
  day: tallies by department, channel or question with no clinician or treatment filter, for
  every period and any day range (days sum to weeks, months, quarters and custom ranges).
- ``answer_tally``, the same counted per local month with clinician and treatment too: the
  other tallies over whole months (PostgreSQL; SQLite for clinicians by period).
- ``answer`` itself otherwise. It carries everything the tallies group by (department,
  clinician, treatment type, channel, question, local day; denormalised at recording time)
  and each grouping has a covering index that starts with the grouping column and ends with
  ``local_day``. On SQLite the database streams that index in order to count per day without
  sorting, and an outer query folds the day rows into weeks, months or quarters; PostgreSQL
  hash-aggregates the period expression directly (JIT off).

Both rollups are kept by ``bot.ledger.append`` in the same transaction as each scored answer
and equal counting answers (tests/test_tallies_rollup.py); ``rebuild_rollup`` recounts them.
One query per tally.

Operational rates (response, coverage, on-time, lost to follow-up, escalations, SLA, praise)
read check-ins, episodes and escalations of the chosen range; they are far fewer rows.

Fairness: a group with fewer than ``[tallies] min_answers`` answers shows no mean or rate
("—"); every shown mean and rate carries a 95 % confidence interval. Nothing here returns who
answered: drill-down rows carry the day, channel, score and text only.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.transactions import in_transaction

from bot.analytics.stats import MIN_ANSWERS_FOR_MEAN, Rate, rnd, t95
from bot.config import TalliesConfig
from models import (
    Answer,
    CheckIn,
    CheckinStatus,
    Contact,
    Department,
    Episode,
    EpisodeStatus,
    Escalation,
    EscalationStatus,
    Staff,
)

PERIODS = ("all", "day", "week", "month", "quarter")
DIMENSIONS = ("department", "clinician", "treatment", "channel", "question")
# dimension → answer column ("question" groups by question only)
_COLUMN = {"department": "department_id", "clinician": "clinician",
           "treatment": "treatment_type", "channel": "channel", "question": None}


class TallyError(ValueError):
    """A tally request that cannot be answered; the message says what to change."""


def _r(x: float | None, nd: int = 4) -> float | None:
    return rnd(x, nd)


@dataclass
class Tally:
    """Scores of one group (e.g. a department) for one question and period."""

    dimension: str
    key: str  # what the group is called on screen (department name, clinician, "wechat")
    question_id: str
    period: str = ""  # "" for the whole range, else "2026-10", "2026-Q4", "2026-11-16", ...
    key_id: Any = None  # department id for the department dimension
    distribution: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))
    min_answers: int = MIN_ANSWERS_FOR_MEAN

    @property
    def department(self) -> str:
        """The group's name (kept for templates written against department tallies)."""
        return self.key

    @property
    def answers(self) -> int:
        """How many scored answers."""
        return sum(self.distribution.values())

    @property
    def shown(self) -> bool:
        """Enough answers to show means and rates."""
        return self.answers >= self.min_answers

    @property
    def mean(self) -> float | None:
        """Mean score, or None when too few answers to show one."""
        n = self.answers
        if not self.shown or n == 0:
            return None
        return sum(k * v for k, v in self.distribution.items()) / n

    @property
    def sd(self) -> float | None:
        """Sample standard deviation (None when hidden)."""
        m, n = self.mean, self.answers
        if m is None or n < 2:
            return None
        ss = sum(v * (k - m) ** 2 for k, v in self.distribution.items())
        return math.sqrt(ss / (n - 1))

    @property
    def mean_ci(self) -> tuple[float, float] | None:
        """95 % t interval of the mean, clipped to 1–5 (None when hidden)."""
        m, s, n = self.mean, self.sd, self.answers
        if m is None or s is None:
            return None
        half = t95(n - 1) * s / math.sqrt(n)
        return max(1.0, m - half), min(5.0, m + half)

    @property
    def top_box(self) -> float | None:
        """Share of 5s, or None when too few answers."""
        return self.top_box_rate.value

    @property
    def top_two_box(self) -> float | None:
        """Share of 4s and 5s, or None when too few answers."""
        return self.top_two_rate.value

    @property
    def top_box_rate(self) -> Rate:
        """Share of 5s with its interval."""
        return Rate(self.distribution[5], self.answers, self.min_answers)

    @property
    def top_two_rate(self) -> Rate:
        """Share of 4s and 5s with its interval."""
        return Rate(self.distribution[4] + self.distribution[5], self.answers, self.min_answers)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form; hidden figures are null."""
        ci = self.mean_ci
        return {
            "dimension": self.dimension, "key": self.key, "question": self.question_id,
            "period": self.period, "answers": self.answers,
            "distribution": {str(k): v for k, v in self.distribution.items()},
            "mean": _r(self.mean), "mean_ci": [_r(ci[0]), _r(ci[1])] if ci else None,
            "top_box": self.top_box_rate.as_dict(), "top_two_box": self.top_two_rate.as_dict(),
            "shown": self.shown,
        }


# ---------------------------------------------------------------------------------------------
# periods and scope

def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def bucket(day: str, period: str) -> str:
    """The period a local day (YYYY-MM-DD) falls in."""
    if period == "all":
        return ""
    if period == "day":
        return day
    if period == "month":
        return day[:7]
    if period == "quarter":
        return f"{day[:4]}-Q{(int(day[5:7]) + 2) // 3}"
    if period == "week":
        return week_start(date.fromisoformat(day)).isoformat()
    raise TallyError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")


def parse_range(text: str) -> tuple[date, date]:
    """A period as typed by a manager → first and last local day (inclusive).

    Accepts ``2026-10`` (a month), ``2026-Q4``, ``2026`` (a year), ``2026-11-16`` (a day) and
    ``2026-10-01..2026-10-31`` (a custom range).
    """
    s = text.strip()
    try:
        if ".." in s:
            a, b = (x.strip() for x in s.split("..", 1))
            first, last = date.fromisoformat(a), date.fromisoformat(b)
            if last < first:
                raise TallyError(f"range {text!r} ends before it starts")
            return first, last
        if m := re.fullmatch(r"(\d{4})-[Qq]([1-4])", s):
            y, q = int(m.group(1)), int(m.group(2))
            first = date(y, 3 * q - 2, 1)
            return first, _month_end(date(y, 3 * q, 1))
        if re.fullmatch(r"\d{4}-\d{2}", s):
            first = date.fromisoformat(s + "-01")
            return first, _month_end(first)
        if re.fullmatch(r"\d{4}", s):
            return date(int(s), 1, 1), date(int(s), 12, 31)
        d = date.fromisoformat(s)
        return d, d
    except ValueError as e:
        if isinstance(e, TallyError):
            raise
        raise TallyError(
            f"cannot read period {text!r}: use 2026-10 (month), 2026-Q4, 2026, 2026-11-16 or "
            "2026-10-01..2026-10-31"
        ) from None


def _month_end(first: date) -> date:
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


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


async def department_names() -> dict[int, str]:
    """Department id → name."""
    return {d["id"]: d["name"] for d in await Department.all().values("id", "name")}


# ---------------------------------------------------------------------------------------------
# score tallies

async def score_rows(by: str = "department", period: str = "all",
                     scope: Scope | None = None) -> list[tuple[Any, str, str, int, int]]:
    """Raw grouped counts: (group value, period, question, score, n). One query."""
    if by not in _COLUMN:
        raise TallyError(f"unknown dimension {by!r}; use one of {', '.join(DIMENSIONS)}")
    if period not in PERIODS:
        raise TallyError(f"unknown period {period!r}; use one of {', '.join(PERIODS)}")
    scope = scope or Scope()
    conn = _conn()
    pg = conn.capabilities.dialect == "postgres"
    source = rollup_source(by, period, scope, pg)
    if source == "answer_day":
        return await _day_rows(conn, pg, by, period, scope)
    if source == "answer_tally":
        return await _rollup_rows(conn, pg, by, period, scope)
    sql = _Sql(pg)
    where = _answer_where(sql, scope)
    col = _COLUMN[by]
    lead = [col] if col else []
    keys = [*lead, "question_id", "score"]
    cols = ", ".join(keys)
    if period == "all":
        q = f"SELECT {cols}, COUNT(*) FROM answer WHERE {where} GROUP BY {cols}"
    elif pg or by == "clinician":
        # PostgreSQL hashes groups in parallel: one GROUP BY over the period expression is
        # fastest there. Clinicians are too many for per-day rows to pay off on SQLite too.
        pos = ", ".join(str(i + 1) for i in range(len(keys) + 1))
        q = (f"SELECT {cols}, {_period_sql(period, pg)}, COUNT(*) FROM answer "
             f"WHERE {where} GROUP BY {pos}")
    else:
        # SQLite: the covering index (col, question_id, score, local_day) streams day groups
        # in index order without sorting; the outer query folds the (far fewer) day rows into
        # weeks, months or quarters. One GROUP BY over the period expression would sort every
        # answer.
        pos = ", ".join(str(i + 1) for i in range(len(keys) + 1))
        q = (f"SELECT {cols}, {_period_sql(period, pg, 'd')}, SUM(n) FROM "
             f"(SELECT {cols}, local_day AS d, COUNT(*) AS n FROM answer WHERE {where} "
             f"GROUP BY {cols}, local_day) t GROUP BY {pos}")
    rows = await _fetch(conn, pg, q, sql.values)
    off = len(lead)
    out: list[tuple[Any, str, str, int, int]] = []
    for r in rows:
        if period == "all":
            out.append((r[0] if lead else "", "", r[off], int(r[off + 1]), int(r[off + 2])))
        else:
            out.append((r[0] if lead else "", _period_label(r[off + 2]), r[off],
                        int(r[off + 1]), int(r[off + 3])))
    return out


async def _fetch(conn: Any, pg: bool, q: str, values: list[Any]) -> list[Any]:
    if pg:
        # JIT compilation costs more than it saves on these short aggregate queries.
        async with in_transaction() as tx:
            await tx.execute_script("SET LOCAL jit = off")
            _, rows = await tx.execute_query(q, values)
    else:
        _, rows = await conn.execute_query(q, values)
    return list(rows)


def rollup_source(by: str, period: str, scope: Scope, pg: bool) -> str:
    """The table a score tally reads: ``answer_day``, ``answer_tally`` or ``answer``.

    The day rollup answers any period and day range for department, channel and question
    tallies that filter on nothing it lacks (clinician, treatment). The month rollup answers
    the rest over whole months where it beats the answer table's covering indexes: always on
    PostgreSQL (hash aggregation over every answer otherwise), and on SQLite for clinicians by
    period (too many groups for per-day rows to pay off). Otherwise the answer table.
    """
    if (by in ("department", "channel", "question") and scope.clinician is None
            and scope.treatment is None):
        return "answer_day"
    if _month_grain(period, scope) and (pg or (by == "clinician" and period != "all")):
        return "answer_tally"
    return "answer"


def _month_grain(period: str, scope: Scope) -> bool:
    """Whether whole local months answer the request (then the rollup table can)."""
    return (period in ("all", "month", "quarter")
            and (scope.start is None or scope.start.day == 1)
            and (scope.end is None or scope.end == _month_end(scope.end)))


# AnswerTally.nulls bits (see models.records.AnswerTally)
_NULL_BIT = {"department_id": 1, "clinician": 2, "treatment_type": 4, "local_day": 8}


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
                      ("channel", scope.channel), ("question_id", scope.question_id)):
        if val is not None:
            bit = _NULL_BIT.get(name)
            conds.append(f"{name} = {sql.p(val)}" + (f" AND (nulls & {bit}) = 0" if bit else ""))
    col = _COLUMN[by]
    mask = (_NULL_BIT.get(col or "", 0)) | (8 if period != "all" else 0)
    keys = [*([col] if col else []), *(["local_month"] if period != "all" else []),
            "question_id", "score", "nulls"]  # raw nulls: lets SQLite stream the index
    pos = ", ".join(str(i + 1) for i in range(len(keys)))
    q = (f"SELECT {', '.join(keys)}, SUM(n) FROM answer_tally WHERE {' AND '.join(conds)} "
         f"GROUP BY {pos}")
    raw = await _fetch(conn, pg, q, sql.values)
    folded: dict[tuple[Any, str, str, int], int] = defaultdict(int)
    lead_bit = _NULL_BIT.get(col or "", 0)
    for r in raw:
        v = list(r.values()) if isinstance(r, dict) else list(r)
        g = v.pop(0) if col else ""
        month = v.pop(0) if period != "all" else ""
        qid, score, bits, n = v
        bits = int(bits) & mask
        if lead_bit and bits & lead_bit:
            g = None
        if period == "all":
            per = ""
        elif bits & 8:
            per = "None"  # as the answer-table query labels a missing day
        else:
            per = month if period == "month" else bucket(f"{month}-01", "quarter")
        folded[(g if col else "", per, qid, int(score))] += int(n)
    return [(*k, n) for k, n in folded.items()]


async def _day_rows(conn: Any, pg: bool, by: str, period: str,
                   scope: Scope) -> list[tuple[Any, str, str, int, int]]:
    """score_rows from the answer_day rollup (same figures, any period and day range)."""
    sql = _Sql(pg)
    conds = ["1 = 1"]
    # A missing day is stored as '', before every date: a start bound leaves it out by itself,
    # an end bound needs "> ''" (a range condition the planners estimate well, unlike a bit).
    dated = scope.start is not None or scope.end is not None
    if scope.start is not None:
        conds.append(f"local_day >= {sql.p(scope.start.isoformat())}")
    if scope.end is not None:
        conds.append(f"local_day <= {sql.p(scope.end.isoformat())}")
        if scope.start is None:
            conds.append("local_day > ''")
    ids = scope.dept_ids()
    if ids is not None:
        conds.append(f"{sql.in_('department_id', ids)} AND (nulls & 1) = 0")
    for name, val in (("channel", scope.channel), ("question_id", scope.question_id)):
        if val is not None:
            conds.append(f"{name} = {sql.p(val)}")
    col = _COLUMN[by]
    where = " AND ".join(conds)
    lead = [col] if col else []
    keys = [*lead, "question_id", "score", "nulls"]  # raw nulls: lets SQLite stream the index
    cols = ", ".join(keys)
    if period == "all":
        q = f"SELECT {cols}, SUM(n) FROM answer_day WHERE {where} GROUP BY {cols}"
    elif period == "day":
        q = (f"SELECT {cols}, local_day, SUM(n) FROM answer_day WHERE {where} "
             f"GROUP BY {cols}, local_day")
    else:
        # a missing day ('', bit 8; only without a range) gets no period: PostgreSQL cannot
        # cast ''
        per = _period_sql(period, pg, "d")
        if not dated:
            per = f"CASE WHEN (nulls & 8) = 0 THEN {per} END"
        pos = ", ".join(str(i + 1) for i in range(len(keys) + 1))
        if pg:
            q = (f"SELECT {cols}, {per}, SUM(n) FROM "
                 f"(SELECT {cols}, local_day AS d, n FROM answer_day WHERE {where}) t "
                 f"GROUP BY {pos}")
        else:
            # SQLite streams the covering index in (group, day) order, summing channels per
            # day without sorting; the outer query folds the days into periods.
            q = (f"SELECT {cols}, {per}, SUM(n) FROM "
                 f"(SELECT {cols}, local_day AS d, SUM(n) AS n FROM answer_day WHERE {where} "
                 f"GROUP BY {cols}, local_day) t GROUP BY {pos}")
    raw = await _fetch(conn, pg, q, sql.values)
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


async def rebuild_rollup() -> dict[str, int]:
    """Recount both rollups (answer_tally per month, answer_day per day) from the answer table,
    after bulk loads or restores. Returns how many rows each now holds.
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
        out = {}
        for table in ("answer_tally", "answer_day"):
            _, rows = await tx.execute_query(f"SELECT COUNT(*) FROM {table}")
            out[table] = int(rows[0][0])
    for table in out:
        # fresh statistics: the planners pick index or scan by the rollups' sizes
        await _conn().execute_script(f"ANALYZE {table}")
    return out


async def score_tallies(since: datetime | None = None, until: datetime | None = None, *,
                        by: str = "department", period: str = "all",
                        scope: Scope | None = None,
                        min_answers: int = MIN_ANSWERS_FOR_MEAN,
                        tz: ZoneInfo | None = None) -> list[Tally]:
    """Tallies per group (``by``), question and period, sorted by group, period, question.

    ``since``/``until`` (aware datetimes) are turned into local days in ``tz``; prefer
    ``scope.start``/``scope.end``.
    """
    scope = scope or Scope()
    if since is not None or until is not None:
        zone = tz or ZoneInfo("Asia/Shanghai")
        scope = Scope(
            start=since.astimezone(zone).date() if since else scope.start,
            end=(until - timedelta(microseconds=1)).astimezone(zone).date() if until
            else scope.end,
            departments=scope.departments, department_id=scope.department_id,
            clinician=scope.clinician, treatment=scope.treatment, channel=scope.channel,
            question_id=scope.question_id,
        )
    rows = await score_rows(by, period, scope)
    names = await department_names() if by == "department" else {}
    out: dict[tuple[Any, str, str], Tally] = {}
    for g, per, qid, score, n in rows:
        if not 1 <= score <= 5:
            continue
        k = (g, per, qid)
        t = out.get(k)
        if t is None:
            label = _label(by, g, names)
            t = out[k] = Tally(by, label, qid, per, key_id=g, min_answers=min_answers)
        t.distribution[score] += n
    return sorted(out.values(), key=lambda t: (t.key, t.period, t.question_id))


def _label(by: str, g: Any, names: dict[int, str]) -> str:
    if by == "department":
        return names.get(g, "—") if g is not None else "—"
    if by == "question":
        return ""
    return str(g) if g else "—"


def combine(tallies: Iterable[Tally], *, dimension: str = "", key: str = "",
            question_id: str = "", period: str = "",
            min_answers: int = MIN_ANSWERS_FOR_MEAN) -> Tally:
    """One tally over several (e.g. all departments)."""
    t = Tally(dimension, key, question_id, period, min_answers=min_answers)
    for x in tallies:
        for s, n in x.distribution.items():
            t.distribution[s] += n
    return t


async def drill_down(scope: Scope, *, by: str, key: Any, question_id: str,
                     period: str = "all", period_key: str = "",
                     min_answers: int = MIN_ANSWERS_FOR_MEAN,
                     limit: int = 500) -> list[dict[str, Any]] | None:
    """The answers behind one number, without who gave them (None: group too small to show).

    Rows carry the local day, channel, score and any comment of the same conversation. They
    are ordered by score and day, never by id, so order does not hint at the person either.
    """
    col = _COLUMN.get(by, "x")
    if col == "x":
        raise TallyError(f"unknown dimension {by!r}")
    q = Answer.filter(score__isnull=False, question_id=question_id)
    q = _orm_scope(q, scope)
    if col:
        q = q.filter(**{col: key})
    if period != "all" and period_key:
        first, last = _period_bounds(period, period_key)
        q = q.filter(local_day__gte=first.isoformat(), local_day__lte=last.isoformat())
    n = await q.count()
    if n < min_answers:
        return None
    rows = await q.order_by("score", "local_day").limit(limit).values(
        "conversation_id", "local_day", "channel", "score")
    comments: dict[int, list[str]] = defaultdict(list)
    conv_ids = list({r["conversation_id"] for r in rows})
    for i in range(0, len(conv_ids), 500):
        for c in await Answer.filter(conversation_id__in=conv_ids[i:i + 500],
                                     score__isnull=True).exclude(text="").values(
                "conversation_id", "text"):
            comments[c["conversation_id"]].append(c["text"])
    return [{"day": r["local_day"] or "", "channel": r["channel"], "score": r["score"],
             "comment": " / ".join(comments.get(r["conversation_id"], []))} for r in rows]


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
    return q


def _period_bounds(period: str, key: str) -> tuple[date, date]:
    if period == "day":
        d = date.fromisoformat(key)
        return d, d
    if period == "week":
        d = date.fromisoformat(key)
        return d, d + timedelta(days=6)
    return parse_range(key)


# ---------------------------------------------------------------------------------------------
# operations: response, coverage, on-time, lost to follow-up, escalations, SLA, praise

SENT = (CheckinStatus.OPENED, CheckinStatus.ANSWERED, CheckinStatus.EXPIRED)
# CheckIn.lost_reason as the reach work records it, plus what is inferred for older rows
LOST_REASONS = ("no_answer", "refused", "opted_out", "wrong_number", "deceased", "unreachable",
                "fatigue", "skipped", "cancelled")


@dataclass
class Operations:
    """Operational figures of one group and period."""

    key: str
    period: str = ""
    key_id: Any = None
    min_n: int = MIN_ANSWERS_FOR_MEAN
    sent: int = 0
    answered: int = 0
    on_time: int = 0
    eligible: int = 0
    covered: int = 0
    lost: dict[str, int] = field(default_factory=dict)
    escalations: dict[str, int] = field(default_factory=dict)
    sla_met: int = 0
    sla_due: int = 0
    praise: dict[str, int] = field(default_factory=dict)

    @property
    def response(self) -> Rate:
        """Answered / sent check-ins."""
        return Rate(self.answered, self.sent, self.min_n)

    @property
    def coverage(self) -> Rate:
        """Eligible episodes with at least one completed follow-up."""
        return Rate(self.covered, self.eligible, self.min_n)

    @property
    def on_time_rate(self) -> Rate:
        """Check-ins sent inside the on-time window."""
        return Rate(self.on_time, self.sent, self.min_n)

    @property
    def sla(self) -> Rate:
        """Escalations claimed within their priority's target (decided ones only)."""
        return Rate(self.sla_met, self.sla_due, self.min_n)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "key": self.key, "period": self.period, "sent": self.sent,
            "answered": self.answered, "response_rate": self.response.as_dict(),
            "eligible": self.eligible, "covered": self.covered,
            "coverage": self.coverage.as_dict(), "on_time": self.on_time_rate.as_dict(),
            "lost": dict(self.lost), "escalations": dict(self.escalations),
            "sla": self.sla.as_dict(), "praise": dict(self.praise),
        }


def _group_value(by: str, dept: int | None, clinician: str | None, treatment: str | None,
                 channel: str | None) -> Any:
    if by == "department":
        return dept
    if by == "clinician":
        return clinician or ""
    if by == "treatment":
        return treatment or ""
    if by == "channel":
        return channel or ""
    return ""


def lost_reason(status: str, contact: dict[str, Any], recorded: str | None = None) -> str:
    """Why an episode was lost to follow-up: the check-in's recorded ``lost_reason``, else
    what the contact row records, else no answer (expired) or skipped."""
    if recorded:
        return recorded
    if contact.get("opted_out_at") is not None:
        return "opted_out"
    stopped = contact.get("stopped_reason")
    if stopped:
        return str(stopped) if stopped in LOST_REASONS else "skipped"
    if contact.get("unreachable"):
        return "unreachable"
    if status == CheckinStatus.EXPIRED:
        return "no_answer"
    if status == CheckinStatus.CANCELLED:
        return "cancelled"
    return "skipped"


def _inside(day: date, scope: Scope) -> bool:
    return ((scope.start is None or day >= scope.start)
            and (scope.end is None or day <= scope.end))


async def operations(cfg: TalliesConfig, tz: ZoneInfo, now: datetime, *,
                     by: str = "department", period: str = "all",
                     scope: Scope | None = None, on_time_hours: int = 24) -> list[Operations]:
    """Operational figures per group and period (see the module docstring for definitions).

    - response: check-ins sent (opened, answered or expired) whose due day is in range;
      answered ones over them.
    - on time: sent check-ins first sent (``opened_at``) by ``window_end_at`` (the schedule's
      due time + [checkin] on_time_hours, as the planner records it; rows without one use
      due_at + ``on_time_hours``).
    - coverage: active episodes that occurred in range and have at least one check-in;
      covered when one is answered.
    - lost: eligible episodes with no answer and nothing planned or open any more, by the
      last check-in's ``lost_reason`` (else the contact's opt-out / stop / unreachable record,
      else no answer).
    - escalations by kind and SLA: escalations opened in range; met when claimed within the
      priority's target; unclaimed ones count once their deadline has passed.
    - praise: comments in range that name a clinician or staff member and hold a praise word.
    """
    if by not in _COLUMN:
        raise TallyError(f"unknown dimension {by!r}; use one of {', '.join(DIMENSIONS)}")
    scope = scope or Scope()
    lo, hi = scope.utc_bounds(tz)
    # The range is widened by a day each side in SQL and cut exactly on local days here.
    lo_q = lo - timedelta(days=1) if lo else None
    hi_q = hi + timedelta(days=1) if hi else None
    ids = scope.dept_ids()
    names = await department_names() if by == "department" else {}
    groups: dict[tuple[Any, str], Operations] = {}

    def grp(g: Any, day: date) -> Operations:
        per = bucket(day.isoformat(), period)
        k = (g, per)
        o = groups.get(k)
        if o is None:
            o = groups[k] = Operations(_label(by, g, names), per, g, cfg.min_answers)
        return o

    def ep_ok(dept: int | None, clin: str, treat: str) -> bool:
        return ((ids is None or dept in ids)
                and (scope.clinician is None or clin == scope.clinician)
                and (scope.treatment is None or treat == scope.treatment))

    # check-ins → response and on-time
    cq = CheckIn.filter(status__in=list(SENT))
    if lo_q:
        cq = cq.filter(due_at__gte=lo_q)
    if hi_q:
        cq = cq.filter(due_at__lt=hi_q)
    if scope.channel is not None:
        cq = cq.filter(channel=scope.channel)
    window = timedelta(hours=on_time_hours)
    for c in await cq.values("status", "due_at", "opened_at", "channel", "window_end_at",
                             "episode__department_id", "episode__clinician_name",
                             "episode__treatment_type"):
        day = c["due_at"].astimezone(tz).date()
        dept, clin, treat = (c["episode__department_id"], c["episode__clinician_name"],
                             c["episode__treatment_type"])
        if not _inside(day, scope) or not ep_ok(dept, clin, treat):
            continue
        o = grp(_group_value(by, dept, clin, treat, c["channel"]), day)
        o.sent += 1
        o.answered += c["status"] == CheckinStatus.ANSWERED
        opened = c["opened_at"]
        end = c["window_end_at"] or c["due_at"] + window
        if opened is not None and opened <= end:
            o.on_time += 1

    # episodes → coverage and lost to follow-up (channel: the first sent check-in's)
    eq = Episode.filter(status=EpisodeStatus.ACTIVE)
    if lo_q:
        eq = eq.filter(occurred_at__gte=lo_q)
    if hi_q:
        eq = eq.filter(occurred_at__lt=hi_q)
    if ids is not None:
        eq = eq.filter(department_id__in=ids)
    eps = await eq.values("id", "department_id", "clinician_name", "treatment_type",
                          "occurred_at", "contact_id")
    by_ep: dict[int, list[dict[str, Any]]] = defaultdict(list)
    ep_ids = [e["id"] for e in eps]
    for i in range(0, len(ep_ids), 1000):
        for c in await CheckIn.filter(episode_id__in=ep_ids[i:i + 1000]).order_by("id").values(
                "episode_id", "status", "channel", "lost_reason"):
            by_ep[c["episode_id"]].append(c)
    contact_ids = list({e["contact_id"] for e in eps})
    contacts: dict[int, dict[str, Any]] = {}
    for i in range(0, len(contact_ids), 1000):
        for ct in await Contact.filter(id__in=contact_ids[i:i + 1000]).values(
                "id", "opted_out_at", "stopped_reason", "unreachable"):
            contacts[ct["id"]] = ct
    for e in eps:
        day = e["occurred_at"].astimezone(tz).date()
        cis = by_ep.get(e["id"], [])
        if not cis or not _inside(day, scope):
            continue
        if not ep_ok(e["department_id"], e["clinician_name"], e["treatment_type"]):
            continue
        chan = next((c["channel"] for c in cis if c["channel"]), None)
        if scope.channel is not None and chan != scope.channel:
            continue
        o = grp(_group_value(by, e["department_id"], e["clinician_name"],
                             e["treatment_type"], chan), day)
        o.eligible += 1
        statuses = [c["status"] for c in cis]
        if CheckinStatus.ANSWERED in statuses:
            o.covered += 1
        elif not any(s in (CheckinStatus.PLANNED, CheckinStatus.OPENED) for s in statuses):
            last = next((c for c in reversed(cis)
                         if c["status"] in (CheckinStatus.EXPIRED, CheckinStatus.SKIPPED)),
                        cis[-1])
            reason = lost_reason(last["status"], contacts.get(e["contact_id"], {}),
                                 last["lost_reason"])
            o.lost[reason] = o.lost.get(reason, 0) + 1

    # escalations → counts by kind and SLA
    targets = {"urgent": cfg.sla_urgent_minutes, "high": cfg.sla_high_minutes,
               "normal": cfg.sla_normal_minutes}
    xq = Escalation.all()
    if lo_q:
        xq = xq.filter(opened_at__gte=lo_q)
    if hi_q:
        xq = xq.filter(opened_at__lt=hi_q)
    if ids is not None:
        xq = xq.filter(department_id__in=ids)
    for x in await xq.values("kind", "priority", "status", "opened_at", "claimed_at",
                             "resolved_at", "department_id",
                             "conversation__channel",
                             "conversation__checkin__episode__clinician_name",
                             "conversation__checkin__episode__treatment_type"):
        day = x["opened_at"].astimezone(tz).date()
        clin = x["conversation__checkin__episode__clinician_name"] or ""
        treat = x["conversation__checkin__episode__treatment_type"] or ""
        chan = x["conversation__channel"]
        if not _inside(day, scope) or not ep_ok(x["department_id"], clin, treat):
            continue
        if scope.channel is not None and chan != scope.channel:
            continue
        o = grp(_group_value(by, x["department_id"], clin, treat, chan), day)
        kind = str(getattr(x["kind"], "value", x["kind"]))
        o.escalations[kind] = o.escalations.get(kind, 0) + 1
        deadline = x["opened_at"] + timedelta(
            minutes=targets.get(str(getattr(x["priority"], "value", x["priority"])),
                                cfg.sla_normal_minutes))
        # first response = claimed, or resolved without a claim
        first = x["claimed_at"] or x["resolved_at"]
        if first is not None:
            o.sla_due += 1
            o.sla_met += first <= deadline
        elif now > deadline:
            o.sla_due += 1

    # praise of named staff
    for (g, day), who in await _praise(cfg, scope, by):
        o = grp(g, day)
        o.praise[who] = o.praise.get(who, 0) + 1

    return sorted(groups.values(), key=lambda o: (o.key, o.period))


def _name_forms(name: str) -> set[str]:
    """A staff name and its bare form ("李明医生" → also "李明"); one-character stems are too
    ambiguous to count."""
    forms = {name} if len(name) >= 2 else set()
    bare = re.sub(r"(医生|大夫|老师|护士|主任|院长)$", "", name)
    if len(bare) >= 2:
        forms.add(bare)
    return forms


async def _praise(cfg: TalliesConfig, scope: Scope,
                  by: str) -> list[tuple[tuple[Any, date], str]]:
    q = _orm_scope(Answer.filter(score__isnull=True).exclude(text=""), scope)
    rows = await q.values("text", "department_id", "clinician", "treatment_type", "channel",
                          "local_day")
    if not rows:
        return []
    known: set[str] = {str(n) for n in await Episode.all().distinct().values_list(
        "clinician_name", flat=True) if n}
    known |= {str(n) for n in await Staff.all().values_list("display_name", flat=True) if n}
    forms = sorted(((f, n) for n in known for f in _name_forms(n)), key=lambda x: -len(x[0]))
    words = [w for w in cfg.praise_words if w]
    out: list[tuple[tuple[Any, date], str]] = []
    for r in rows:
        text = r["text"]
        if not r["local_day"] or not any(w in text for w in words):
            continue
        named = {n for f, n in forms if f in text}
        g = _group_value(by, r["department_id"], r["clinician"], r["treatment_type"],
                         r["channel"])
        day = date.fromisoformat(r["local_day"])
        out.extend(((g, day), n) for n in sorted(named))
    return out


async def open_escalations_by_kind(departments: Sequence[int] | None = None) -> dict[str, int]:
    """How many escalations wait in the queues, per kind."""
    q = Escalation.filter(status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED])
    if departments is not None:
        q = q.filter(department_id__in=list(departments))
    counts: dict[str, int] = {}
    for k in await q.values_list("kind", flat=True):
        key = str(getattr(k, "value", k))
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
