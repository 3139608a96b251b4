"""Speed of the manager tallies over a million answers, beside hand-written GROUP BYs.

    python bench/tallies.py [--answers 1000000] [--runs 5] [--backend sqlite|postgres|both]
                            [--pages-only | --followup-only]

Fills a fresh database (SQLite file; PostgreSQL started with tests/pgcluster.py) with synthetic
answers by bulk insert / COPY (not through the ledger: hashes are placeholders; the rollups
answer_day, answer_clinician_day and answer_tally are then rebuilt from them, as the ledger
would have kept them), and with as many check-ins (two per episode, one contact each) for the
follow-up page; then times ``bot.analytics.tallies.score_tallies`` for several shapes over the
same connection, and the /tallies pages over HTTP. Columns:

- reads: the table the tally read (``tallies.rollup_source``): answer_day and
  answer_clinician_day (day rollups), answer_tally (month rollup) or answer.
- tally: the tally, end to end (query and building the Tally objects).
- raw GB, ratio: the GROUP BY a person would write over the raw answers for the same figures,
  and tally / raw GB. This is the issue's ratio ("at most 1.5 × a hand-written SQL GROUP BY
  over the same database").
- rollup GB, ratio: a hand-written GROUP BY over the rollup the tally read, and tally / that
  (the cost of the tally code over the cheapest hand query on the same table; "—" when the
  tally read the answers).

The pages are printed with the CPU time of this process (the app and, on SQLite, the
database) and the fastest and slowest run, to show how noisy the machine was;
``--pages-only`` times the satisfaction pages alone (no shapes, no follow-up page);
``--followup-only`` the follow-up pages alone (after recounting their rollups, timed).

Each figure is the median of ``--runs`` runs after one warm-up run. On PostgreSQL both the
tallies and the hand queries run with JIT off (SET LOCAL in a transaction). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tortoise import connections  # noqa: E402
from tortoise.transactions import in_transaction  # noqa: E402

from bot import db  # noqa: E402
from bot.analytics import followup_rollup, tallies  # noqa: E402
from bot.analytics.tallies import Scope  # noqa: E402

DEPARTMENTS = 20
CLINICIANS_PER_DEPT = 8
TREATMENTS = ["拔牙", "补牙", "根管", "洁牙", "出院", ""]
CHANNELS = ["wechat", "sms", "h5"]
FIRST_DAY = date(2025, 11, 1)
DAYS = 365
COLUMNS = ("conversation_id", "department_id", "clinician", "treatment_type", "channel",
           "survey_id", "question_id", "score", "text", "recorded_at", "local_day",
           "prev_hash", "hash")

WHERE_ALL = "WHERE score IS NOT NULL"
WHERE_Q1 = "WHERE score IS NOT NULL AND local_day >= '2026-01-01' AND local_day <= '2026-03-31'"
Q1_DAYS = "WHERE local_day >= '2026-01-01' AND local_day <= '2026-03-31'"
WEEK_LITE = "date(local_day, '-6 days', 'weekday 1')"
WEEK_PG = "date_trunc('week', CAST(local_day AS date))"
SUMS = "SUM(n1), SUM(n2), SUM(n3), SUM(n4), SUM(n5)"
QUARTER = ("substr({c}, 1, 4) || '-Q' || CAST((CAST(substr({c}, 6, 2) AS INTEGER) + 2) / 3 "
           "AS TEXT)")


@dataclass(frozen=True)
class Shape:
    """One tally request and the SQL a person would write by hand for the same figures.

    ``raw``: a GROUP BY over the answers themselves (SQLite; PostgreSQL when it differs) — the
    baseline of the issue's ratio. ``rollup``: a GROUP BY over each rollup table that can give
    the same figures (SQLite and PostgreSQL spelling), a second baseline printed beside it for
    the table the tally actually reads.
    """

    label: str
    by: str
    period: str
    scope: Scope
    raw: tuple[str, str]
    rollup: dict[str, tuple[str, str]] = field(default_factory=dict)


def _same(sql: str) -> tuple[str, str]:
    return sql, sql


SHAPES: list[Shape] = [
    Shape("department × question", "department", "all", Scope(),
          _same(f"SELECT department_id, question_id, score, COUNT(*) FROM answer {WHERE_ALL} "
                "GROUP BY department_id, question_id, score"),
          {"answer_day": _same("SELECT department_id, question_id, score, SUM(n) "
                               "FROM answer_day GROUP BY 1, 2, 3")}),
    Shape("department × month", "department", "month", Scope(),
          _same(f"SELECT department_id, substr(local_day, 1, 7), question_id, score, COUNT(*) "
                f"FROM answer {WHERE_ALL} GROUP BY 1, 2, 3, 4"),
          {"answer_day": _same("SELECT department_id, substr(local_day, 1, 7), question_id, "
                               "score, SUM(n) FROM answer_day GROUP BY 1, 2, 3, 4")}),
    Shape("department × week, one quarter", "department", "week",
          Scope(start=date(2026, 1, 1), end=date(2026, 3, 31)),
          (f"SELECT department_id, {WEEK_LITE}, question_id, score, COUNT(*) FROM answer "
           f"{WHERE_Q1} GROUP BY 1, 2, 3, 4",
           f"SELECT department_id, {WEEK_PG}, question_id, score, COUNT(*) FROM answer "
           f"{WHERE_Q1} GROUP BY 1, 2, 3, 4"),
          {"answer_day": (f"SELECT department_id, {WEEK_LITE}, question_id, score, SUM(n) "
                          f"FROM answer_day {Q1_DAYS} GROUP BY 1, 2, 3, 4",
                          f"SELECT department_id, {WEEK_PG}, question_id, score, SUM(n) "
                          f"FROM answer_day {Q1_DAYS} GROUP BY 1, 2, 3, 4")}),
    Shape("department × day, 2026-02-10..03-17", "department", "day",
          Scope(start=date(2026, 2, 10), end=date(2026, 3, 17)),
          _same("SELECT department_id, local_day, question_id, score, COUNT(*) FROM answer "
                "WHERE score IS NOT NULL AND local_day >= '2026-02-10' "
                "AND local_day <= '2026-03-17' GROUP BY 1, 2, 3, 4"),
          {"answer_day": _same("SELECT department_id, local_day, question_id, score, SUM(n) "
                               "FROM answer_day WHERE local_day >= '2026-02-10' "
                               "AND local_day <= '2026-03-17' GROUP BY 1, 2, 3, 4")}),
    Shape("clinician × question", "clinician", "all", Scope(),
          _same(f"SELECT clinician, question_id, score, COUNT(*) FROM answer {WHERE_ALL} "
                "GROUP BY clinician, question_id, score"),
          {"answer_tally": _same("SELECT clinician, question_id, score, SUM(n) "
                                 "FROM answer_tally GROUP BY 1, 2, 3"),
           "answer_clinician_day": _same(f"SELECT department_id, clinician_code, clinician, "
                                         f"question_id, {SUMS} FROM answer_clinician_day "
                                         "GROUP BY 1, 2, 3, 4")}),
    Shape("clinician × quarter", "clinician", "quarter", Scope(),
          _same(f"SELECT clinician, {QUARTER.format(c='local_day')}, question_id, score, "
                f"COUNT(*) FROM answer {WHERE_ALL} GROUP BY 1, 2, 3, 4"),
          {"answer_tally": _same(f"SELECT clinician, {QUARTER.format(c='local_month')}, "
                                 "question_id, score, SUM(n) FROM answer_tally "
                                 "GROUP BY 1, 2, 3, 4"),
           "answer_clinician_day": _same(
               f"SELECT department_id, clinician_code, clinician, "
               f"{QUARTER.format(c='local_day')}, question_id, {SUMS} "
               "FROM answer_clinician_day GROUP BY 1, 2, 3, 4, 5")}),
    Shape("clinician × week, one quarter", "clinician", "week",
          Scope(start=date(2026, 1, 1), end=date(2026, 3, 31)),
          (f"SELECT department_id, clinician_code, clinician, {WEEK_LITE}, question_id, score, "
           f"COUNT(*) FROM answer {WHERE_Q1} GROUP BY 1, 2, 3, 4, 5, 6",
           f"SELECT department_id, clinician_code, clinician, {WEEK_PG}, question_id, score, "
           f"COUNT(*) FROM answer {WHERE_Q1} GROUP BY 1, 2, 3, 4, 5, 6"),
          {"answer_clinician_day": (
              f"SELECT department_id, clinician_code, clinician, {WEEK_LITE}, question_id, "
              f"{SUMS} FROM answer_clinician_day {Q1_DAYS} GROUP BY 1, 2, 3, 4, 5",
              f"SELECT department_id, clinician_code, clinician, {WEEK_PG}, question_id, "
              f"{SUMS} FROM answer_clinician_day {Q1_DAYS} GROUP BY 1, 2, 3, 4, 5")}),
    Shape("channel × month", "channel", "month", Scope(),
          _same(f"SELECT channel, substr(local_day, 1, 7), question_id, score, COUNT(*) "
                f"FROM answer {WHERE_ALL} GROUP BY 1, 2, 3, 4"),
          {"answer_day": _same("SELECT channel, substr(local_day, 1, 7), question_id, score, "
                               "SUM(n) FROM answer_day GROUP BY 1, 2, 3, 4")}),
    Shape("treatment × month", "treatment", "month", Scope(),
          _same(f"SELECT treatment_type, substr(local_day, 1, 7), question_id, score, COUNT(*) "
                f"FROM answer {WHERE_ALL} GROUP BY 1, 2, 3, 4"),
          {"answer_treatment_day": _same(
              "SELECT treatment_type, substr(local_day, 1, 7), question_id, SUM(n1), SUM(n2), "
              "SUM(n3), SUM(n4), SUM(n5) FROM answer_treatment_day GROUP BY 1, 2, 3")}),
    Shape("treatment × week, one quarter", "treatment", "week",
          Scope(start=date(2026, 1, 1), end=date(2026, 3, 31)),
          (f"SELECT treatment_type, {WEEK_LITE}, question_id, score, COUNT(*) FROM answer "
           f"{WHERE_Q1} GROUP BY 1, 2, 3, 4",
           f"SELECT treatment_type, {WEEK_PG}, question_id, score, COUNT(*) FROM answer "
           f"{WHERE_Q1} GROUP BY 1, 2, 3, 4"),
          {"answer_treatment_day": (
              f"SELECT treatment_type, {WEEK_LITE}, question_id, SUM(n1), SUM(n2), SUM(n3), "
              f"SUM(n4), SUM(n5) FROM answer_treatment_day {Q1_DAYS} GROUP BY 1, 2, 3",
              f"SELECT treatment_type, {WEEK_PG}, question_id, SUM(n1), SUM(n2), SUM(n3), "
              f"SUM(n4), SUM(n5) FROM answer_treatment_day {Q1_DAYS} GROUP BY 1, 2, 3")}),
    Shape("question, one department, month", "question", "month", Scope(department_id=3),
          _same(f"SELECT substr(local_day, 1, 7), question_id, score, COUNT(*) FROM answer "
                f"{WHERE_ALL} AND department_id = 3 GROUP BY 1, 2, 3"),
          {"answer_day": _same("SELECT substr(local_day, 1, 7), question_id, score, SUM(n) "
                               "FROM answer_day WHERE department_id = 3 GROUP BY 1, 2, 3")}),
]


def synthetic(n: int, seed: int = 7) -> list[tuple[Any, ...]]:
    """``n`` answer rows: skewed scores, two score questions, a year of local days."""
    rnd = random.Random(seed)
    scores = [1, 2, 3, 3, 4, 4, 4, 5, 5, 5, 5, 5]
    rows = []
    base = datetime(2025, 11, 1, 2, 0, tzinfo=UTC)
    for i in range(n):
        dept = rnd.randrange(DEPARTMENTS) + 1
        clin = f"医生{dept:02d}{rnd.randrange(CLINICIANS_PER_DEPT)}"
        day = rnd.randrange(DAYS)
        rows.append((i // 2 + 1, dept, clin, rnd.choice(TREATMENTS), rnd.choice(CHANNELS),
                     "general", "overall" if i % 2 == 0 else "attitude", rnd.choice(scores),
                     "", base + timedelta(days=day), (FIRST_DAY + timedelta(days=day)).isoformat(),
                     "0" * 64, f"{i:064x}"))
    return rows


# The follow-up page reads check-ins, episodes and contacts, not answers: as many check-ins as
# answers, two per episode, one contact per episode.
CHECKIN_STATUSES = (["answered"] * 12 + ["expired"] * 5 + ["skipped", "opened", "planned"])
CONTACT_COLS = ("id", "name", "phone", "unreachable", "created_at", "opted_out_at",
                "stopped_reason")
EPISODE_COLS = ("id", "source", "external_id", "kind", "status", "person_id", "contact_id",
                "department_id", "clinician_name", "clinician_code", "treatment_type",
                "occurred_at", "created_at", "updated_at")
CHECKIN_COLS = ("episode_id", "contact_id", "offset", "survey_id", "channel", "status",
                "due_at", "send_at", "window_end_at", "importance", "attempts", "opened_at",
                "lost_reason", "created_at")


def followup_rows(n_checkins: int, seed: int = 11) -> dict[str, list[tuple[Any, ...]]]:
    """Contacts, episodes and check-ins (``n_checkins``, two per episode) over the year."""
    rnd = random.Random(seed)
    base = datetime(2025, 11, 1, 1, 0, tzinfo=UTC)
    contacts, episodes, checkins = [], [], []
    for i in range(1, n_checkins // 2 + 1):
        contacts.append((i, f"c{i}", f"139{i:08d}", "{}", base,
                         base if rnd.random() < 0.02 else None,
                         "wrong_number" if rnd.random() < 0.01 else None))
        dept = rnd.randrange(DEPARTMENTS) + 1
        occurred = base + timedelta(days=rnd.randrange(DAYS), minutes=rnd.randrange(900))
        episodes.append((i, "bench", f"E{i}", "visit", "active", 1, i, dept,
                         f"医生{dept:02d}{rnd.randrange(CLINICIANS_PER_DEPT)}", "",
                         rnd.choice(TREATMENTS), occurred, occurred, occurred))
        for days in (1, 7):
            due = occurred + timedelta(days=days)
            status = rnd.choice(CHECKIN_STATUSES)
            opened = (due + timedelta(hours=rnd.choice([0, 1, 2, 30]))
                      if status != "planned" else None)
            checkins.append((i, i, f"{days}d", "general", rnd.choice(CHANNELS), status, due,
                             due, due + timedelta(hours=24), 1, 1, opened,
                             "refused" if status == "expired" and rnd.random() < 0.1 else None,
                             due))
    return {"contact": contacts, "episode": episodes, "checkin": checkins}


def _lite(v: Any) -> Any:
    return v.isoformat(sep=" ") if isinstance(v, datetime) else v


def fill_followup_sqlite(con: sqlite3.Connection, data: dict[str, list[tuple[Any, ...]]]) -> None:
    con.execute("INSERT INTO person (id, source, kind, name, created_at) "
                "VALUES (1, 'bench', 'patient', '张三', '2025-01-01 00:00:00+00:00')")
    for table, cols in (("contact", CONTACT_COLS), ("episode", EPISODE_COLS),
                        ("checkin", CHECKIN_COLS)):
        marks = ", ".join("?" for _ in cols)
        names = ", ".join(f'"{c}"' for c in cols)  # "offset" is an SQL keyword
        con.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                        ([_lite(v) for v in r] for r in data[table]))


def fill_sqlite(path: Path, rows: list[tuple[Any, ...]],
                followup: dict[str, list[tuple[Any, ...]]]) -> None:
    con = sqlite3.connect(path)
    con.executemany("INSERT INTO department (code, name, created_at) VALUES (?, ?, ?)",
                    [(f"d{i}", f"科室{i}", "2025-01-01 00:00:00+00:00")
                     for i in range(1, DEPARTMENTS + 1)])
    marks = ", ".join("?" for _ in COLUMNS)
    con.executemany(f"INSERT INTO answer ({', '.join(COLUMNS)}) VALUES ({marks})",
                    [(*r[:9], r[9].isoformat(), *r[10:]) for r in rows])
    fill_followup_sqlite(con, followup)
    con.commit()
    con.execute("ANALYZE")
    con.close()


async def fill_postgres(url: str, rows: list[tuple[Any, ...]],
                        followup: dict[str, list[tuple[Any, ...]]]) -> None:
    import asyncpg

    con = await asyncpg.connect(url)
    try:
        await con.executemany(
            "INSERT INTO department (code, name, created_at) VALUES ($1, $2, now())",
            [(f"d{i}", f"科室{i}") for i in range(1, DEPARTMENTS + 1)])
        await con.copy_records_to_table("answer", records=rows, columns=list(COLUMNS))
        await con.execute("INSERT INTO person (id, source, kind, name, created_at) "
                          "VALUES (1, 'bench', 'patient', '张三', now())")
        for table, cols in (("contact", CONTACT_COLS), ("episode", EPISODE_COLS),
                            ("checkin", CHECKIN_COLS)):
            await con.copy_records_to_table(table, records=followup[table], columns=list(cols))
        for table in ("contact", "episode", "checkin"):
            await con.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT MAX(id) FROM {table}))")
            await con.execute(f"VACUUM ANALYZE {table}")
        await con.execute("VACUUM ANALYZE answer")  # index-only scans need the visibility map
    finally:
        await con.close()


async def median_ms(fn: Callable[[], Awaitable[Any]], runs: int) -> float:
    await fn()  # warm the cache: both sides get the same warm start
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        await fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


async def timed(fn: Callable[[], Awaitable[Any]], runs: int) -> tuple[float, float, float,
                                                                        float]:
    """Like :func:`median_ms`: (median wall ms, median CPU ms of this process, fastest and
    slowest wall ms: how noisy the machine was)."""
    await fn()
    walls, cpus = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        await fn()
        walls.append((time.perf_counter() - t) * 1000)
        cpus.append((time.process_time() - c) * 1000)
    return statistics.median(walls), statistics.median(cpus), min(walls), max(walls)


@dataclass
class Result:
    """The timings of one shape."""

    shape: Shape
    source: str  # the table the tally read
    groups: int
    ours: float
    raw: float
    rolled: float | None  # hand GROUP BY over the same rollup (None: the tally read answers)


async def measure(url: str, runs: int, backend: str) -> list[Result]:
    await db.init_db(url)
    out = []
    pg = backend == "postgres"
    try:
        # the rows were bulk-loaded past the ledger: count the rollups as the ledger would
        t = time.perf_counter()
        kept = await tallies.rebuild_rollup()
        # and the follow-up rollups (the triggers marked every check-in loaded: recount all)
        kept.update(await followup_rollup.rebuild(ZoneInfo("Asia/Shanghai")))
        print(f"  ({backend}: rollups rebuilt in {time.perf_counter() - t:.1f} s: "
              + ", ".join(f"{k} {v:,} rows" for k, v in kept.items()) + ")")
        conn = connections.get("default")
        for shape in SHAPES:
            source = tallies.rollup_source(shape.by, shape.period, shape.scope, pg)

            async def ours(shape: Shape = shape) -> Any:
                return await tallies.score_tallies(by=shape.by, period=shape.period,
                                                   scope=shape.scope)

            async def hand(sql: str) -> Any:
                if not pg:
                    return await conn.execute_query(sql)
                # the same footing as the tallies: JIT off, one transaction
                async with in_transaction() as tx:
                    await tx.execute_script("SET LOCAL jit = off")
                    return await tx.execute_query(sql)

            groups = len(await ours())
            t_ours = await median_ms(ours, runs)
            raw_sql = shape.raw[pg]
            t_raw = await median_ms(functools.partial(hand, raw_sql), runs)
            t_rolled = None
            if source in shape.rollup:
                rolled_sql = shape.rollup[source][pg]
                t_rolled = await median_ms(functools.partial(hand, rolled_sql), runs)
            out.append(Result(shape, source, groups, t_ours, t_raw, t_rolled))
    finally:
        await db.close_db()
    return out


# The pages the issue names, over HTTP (signed in as a manager), beside a hand-written GROUP BY
# of the same figures in the same run.
LOCAL_MONTH = ("substr(date({c}, '+480 minutes'), 1, 7)",
               "to_char({c} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')")
YEAR_DUE = ("c.due_at >= '2025-10-31 16:00:00+00:00' AND c.due_at < '2026-10-31 16:00:00+00:00'",
            "c.due_at >= '2025-10-31 16:00:00+00' AND c.due_at < '2026-10-31 16:00:00+00'")
YEAR_OCC = ("e.occurred_at >= '2025-10-31 16:00:00+00:00' "
            "AND e.occurred_at < '2026-10-31 16:00:00+00:00'",
            "e.occurred_at >= '2025-10-31 16:00:00+00' "
            "AND e.occurred_at < '2026-10-31 16:00:00+00'")


LOCAL_DAY = ("date({c}, '+480 minutes')",
             "to_char({c} AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD')")
LOCAL_WEEK = ("date({c}, '+480 minutes', '-6 days', 'weekday 1')",
              "date_trunc('week', {c} AT TIME ZONE 'Asia/Shanghai')")
# the follow-up page's groupings: (check-in column, episode column)
FOLLOWUP_GROUP = {"department": ("e.department_id", "e.department_id"),
                  "clinician": ("e.department_id, e.clinician_code, e.clinician_name",
                                "e.department_id, e.clinician_code, e.clinician_name"),
                  "treatment": ("e.treatment_type", "e.treatment_type"),
                  "channel": ("c.channel", "a.channel")}


def _followup_sql(pg: int, by: str = "department", period: tuple[str, str] = LOCAL_MONTH) -> str:
    """The follow-up page's figures by hand: check-ins sent, answered and on time, and
    episodes followed up, per group and local period (two GROUP BYs, run one after the
    other; an episode's channel: its check-ins' least)."""
    per_c, per_e = period[pg].format(c="c.due_at"), period[pg].format(c="e.occurred_at")
    g_c, g_e = FOLLOWUP_GROUP[by]
    n = g_c.count(",") + 2
    groups = ", ".join(str(i) for i in range(1, n + 1))
    return (
        f"SELECT {g_c}, {per_c}, COUNT(*), "
        "SUM(CASE WHEN c.status = 'answered' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN c.opened_at <= c.window_end_at THEN 1 ELSE 0 END) "
        "FROM checkin c JOIN episode e ON e.id = c.episode_id "
        f"WHERE c.status IN ('opened', 'answered', 'expired') AND {YEAR_DUE[pg]} "
        f"GROUP BY {groups};"
        f"SELECT {g_e}, {per_e}, a.answered, COUNT(*) FROM episode e JOIN "
        "(SELECT episode_id, MAX(CASE WHEN status = 'answered' THEN 1 ELSE 0 END) AS answered, "
        "MIN(channel) AS channel FROM checkin GROUP BY episode_id) a ON a.episode_id = e.id "
        f"WHERE e.status = 'active' AND {YEAR_OCC[pg]} GROUP BY {groups}, {n + 1}")


def _followup(by: str, period: str, local: tuple[str, str]) -> tuple[str, str, tuple[str, str]]:
    return (f"followup, {by} × {period}", f"/tallies/followup?by={by}&period={period}"
            "&from=2025-11-01&to=2026-10-31", (_followup_sql(0, by, local),
                                               _followup_sql(1, by, local)))


PAGES: list[tuple[str, str, tuple[str, str]]] = [
    _followup("department", "month", LOCAL_MONTH),
    _followup("department", "day", LOCAL_DAY),
    _followup("clinician", "week", LOCAL_WEEK),
    _followup("treatment", "month", LOCAL_MONTH),
    _followup("channel", "week", LOCAL_WEEK),
    ("dept × month (12 months)", "by=department&period=month&from=2025-11-01&to=2026-10-31",
     _same("SELECT department_id, substr(local_day, 1, 7), question_id, score, COUNT(*) "
           "FROM answer WHERE score IS NOT NULL AND local_day >= '2025-11-01' "
           "AND local_day <= '2026-10-31' GROUP BY 1, 2, 3, 4")),
    ("clinician × week (a quarter)", "by=clinician&period=week&from=2026-01-01&to=2026-03-31",
     (f"SELECT department_id, clinician_code, clinician, {WEEK_LITE}, question_id, score, "
      f"COUNT(*) FROM answer {WHERE_Q1} GROUP BY 1, 2, 3, 4, 5, 6",
      f"SELECT department_id, clinician_code, clinician, {WEEK_PG}, question_id, score, "
      f"COUNT(*) FROM answer {WHERE_Q1} GROUP BY 1, 2, 3, 4, 5, 6")),
    ("treatment × month (12 months)",
     "by=treatment&period=month&from=2025-11-01&to=2026-10-31",
     _same("SELECT treatment_type, substr(local_day, 1, 7), question_id, score, COUNT(*) "
           "FROM answer WHERE score IS NOT NULL AND local_day >= '2025-11-01' "
           "AND local_day <= '2026-10-31' GROUP BY 1, 2, 3, 4")),
    ("question × quarter (all)", "by=question&period=quarter&from=2025-11-01&to=2026-10-31",
     _same(f"SELECT {QUARTER.format(c='local_day')}, question_id, score, COUNT(*) FROM answer "
           "WHERE score IS NOT NULL AND local_day >= '2025-11-01' "
           "AND local_day <= '2026-10-31' GROUP BY 1, 2, 3")),
]


PageTimes = tuple[str, tuple[float, float, float, float], tuple[float, float, float, float],
                  int]


async def measure_pages(url: str, runs: int, pg: bool, skip: str = "",
                        only: str = "") -> list[PageTimes]:
    """Each page's times (see :func:`timed`), the hand GROUP BY's, and the page's bytes.
    Pages whose label starts with ``skip`` are left out, and with ``only``, those whose label
    does not start with it."""
    from aiohttp.test_utils import TestClient, TestServer

    from bot import staff as staff_svc
    from bot.app import create_app
    from bot.clock import FrozenClock
    from bot.config import settings_from_dict
    from bot.keys import RUNTIME

    settings = settings_from_dict({"database": {"url": url}, "server": {"role": "web"}})
    app = create_app(settings, clock=FrozenClock(datetime(2026, 11, 2, 9, tzinfo=UTC)),
                     migrate=False, run_loops=False)
    client = TestClient(TestServer(app))
    await client.start_server()
    out = []
    try:
        await staff_svc.create_staff(username="bench", display_name="bench", role="manager",
                                     password="bench-password-1", departments=[])
        page = await (await client.get("/staff/login")).text()
        import re as _re

        csrf = _re.search(r'name="csrf" value="([^"]+)"', page)
        await client.post("/staff/login", data={"username": "bench",
                                                "password": "bench-password-1",
                                                "csrf": csrf.group(1) if csrf else "",
                                                "next": "/tallies"})
        conn = connections.get("default")
        assert app[RUNTIME] is not None
        for label, qs, raw in PAGES:
            if (skip and label.startswith(skip)) or (only and not label.startswith(only)):
                continue
            size = 0

            async def fetch(qs: str = qs) -> None:
                nonlocal size
                r = await client.get(qs if qs.startswith("/") else f"/tallies?{qs}")
                body = await r.read()
                assert r.status == 200, body[:300]
                size = len(body)

            async def hand(sql: str = raw[pg]) -> Any:
                for one in sql.split(";"):  # a page of several figures: every query
                    if not pg:
                        await conn.execute_query(one)
                        continue
                    async with in_transaction() as tx:
                        await tx.execute_script("SET LOCAL jit = off")
                        await tx.execute_query(one)

            t_page = await timed(fetch, runs)
            t_raw = await timed(hand, runs)
            out.append((label, t_page, t_raw, size))
    finally:
        await client.close()
    return out


def report_pages(backend: str, rows: list[PageTimes]) -> None:
    print(f"\n{backend}: /tallies pages over HTTP (server and client on this machine), "
          "median ms; CPU: this process's (the app, the client and SQLite; not PostgreSQL's "
          "server); min-max: the fastest and slowest run")
    print(f"  {'page':30} {'page':>7} {'CPU':>6} {'min-max':>13} {'raw GB':>7} {'CPU':>6} "
          f"{'min-max':>13} {'ratio':>6} {'HTML':>8}")
    for label, (page, cpu, lo, hi), (raw, rcpu, rlo, rhi), size in rows:
        print(f"  {label:30} {page:7.1f} {cpu:6.1f} {f'{lo:.0f}-{hi:.0f}':>13} {raw:7.1f} "
              f"{rcpu:6.1f} {f'{rlo:.0f}-{rhi:.0f}':>13} {page / raw:6.2f} {size / 1024:7.0f}K")
    print("  targets: page < 300 ms and ≤ 1.5 × the raw GROUP BY")


def report(backend: str, n: int, fill_s: float, rows: list[Result]) -> None:
    print(f"\n{backend}: {n:,} answers (filled in {fill_s:.1f} s); median of the runs, ms")
    print(f"  {'shape':36} {'groups':>6} {'reads':>12} {'tally':>7} {'raw GB':>7} "
          f"{'ratio':>6} {'rollup GB':>9} {'ratio':>6}")
    for r in rows:
        rolled = (f"{r.rolled:9.1f} {r.ours / r.rolled:6.2f}" if r.rolled is not None
                  else f"{'—':>9} {'—':>6}")
        print(f"  {r.shape.label:36} {r.groups:6d} {r.source:>12} {r.ours:7.1f} {r.raw:7.1f} "
              f"{r.ours / r.raw:6.2f} {rolled}")
    worst = max(rows, key=lambda r: r.ours)
    ratio = max(rows, key=lambda r: r.ours / r.raw)
    print(f"  slowest tally {worst.ours:.0f} ms ({worst.shape.label}; target < 300 ms); "
          f"worst ratio to the raw GROUP BY {ratio.ours / ratio.raw:.2f} "
          f"({ratio.shape.label}; target ≤ 1.5)")


async def rebuilt(url: str) -> None:
    """The rollups counted from the bulk-loaded answers (as :func:`measure` does first)."""
    await db.init_db(url)
    try:
        await tallies.rebuild_rollup()
    finally:
        await db.close_db()


async def rebuilt_followup(url: str, backend: str) -> None:
    """The follow-up rollups counted from the bulk-loaded check-ins (the triggers marked
    every one: recount all, as :func:`measure` does first)."""
    await db.init_db(url)
    try:
        t, c = time.perf_counter(), time.process_time()
        kept = await followup_rollup.rebuild(ZoneInfo("Asia/Shanghai"))
        print(f"  ({backend}: follow-up rollups recounted in {time.perf_counter() - t:.1f} s, "
              f"{time.process_time() - c:.1f} s CPU here: "
              + ", ".join(f"{k} {v:,} rows" for k, v in kept.items()) + ")")
    finally:
        await db.close_db()


async def run_postgres(rows: list[tuple[Any, ...]], runs: int,
                     followup: dict[str, list[tuple[Any, ...]]], pages_only: bool,
                     followup_only: bool = False) -> None:
    from tests import pgcluster

    cluster = pgcluster.start()
    try:
        cluster.psql("CREATE DATABASE bench")
        url = cluster.url("bench")
        await db.migrate(url)
        await db.close_db()
        t = time.perf_counter()
        await fill_postgres(url, rows, followup)
        fill_s = time.perf_counter() - t
        if followup_only:
            await rebuilt_followup(url, "postgres")
            report_pages("PostgreSQL", await measure_pages(url, runs, True, only="followup"))
            return
        if pages_only:
            await rebuilt(url)
        else:
            report("PostgreSQL", len(rows), fill_s, await measure(url, runs, "postgres"))
        report_pages("PostgreSQL", await measure_pages(url, runs, True,
                                                       "followup" if pages_only else ""))
    finally:
        cluster.stop()


async def run_sqlite(rows: list[tuple[Any, ...]], runs: int,
                     followup: dict[str, list[tuple[Any, ...]]], pages_only: bool,
                     followup_only: bool = False) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.sqlite3"
        url = f"sqlite://{path}"
        await db.migrate(url)
        await db.close_db()
        t = time.perf_counter()
        fill_sqlite(path, rows, followup)
        fill_s = time.perf_counter() - t
        if followup_only:
            await rebuilt_followup(url, "sqlite")
            report_pages("SQLite", await measure_pages(url, runs, False, only="followup"))
            return
        if pages_only:
            await rebuilt(url)
        else:
            report("SQLite", len(rows), fill_s, await measure(url, runs, "sqlite"))
        report_pages("SQLite", await measure_pages(url, runs, False,
                                                   "followup" if pages_only else ""))


def main() -> None:
    """Fill, time, print."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--answers", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    ap.add_argument("--pages-only", action="store_true",
                    help="only the satisfaction pages (no tally shapes, no follow-up page)")
    ap.add_argument("--followup-only", action="store_true",
                    help="only the follow-up pages (no tally shapes, no satisfaction pages)")
    args = ap.parse_args()
    t = time.perf_counter()
    rows = synthetic(args.answers)
    followup = ({"contact": [], "episode": [], "checkin": []} if args.pages_only
                else followup_rows(args.answers))
    print(f"generated {len(rows):,} synthetic answers and {len(followup['checkin']):,} "
          f"check-ins in {time.perf_counter() - t:.1f} s")
    if args.backend in ("sqlite", "both"):
        asyncio.run(run_sqlite(rows, args.runs, followup, args.pages_only,
                               args.followup_only))
    if args.backend == "postgres":
        asyncio.run(run_postgres(rows, args.runs, followup, args.pages_only,
                                 args.followup_only))
    elif args.backend == "both":
        # tortoise keeps one SQL dialect per process (its insert queries are built once):
        # PostgreSQL runs in a process of its own
        import subprocess

        subprocess.run([sys.executable, __file__, "--backend", "postgres", "--answers",
                        str(args.answers), "--runs", str(args.runs),
                        *(["--pages-only"] if args.pages_only else []),
                        *(["--followup-only"] if args.followup_only else [])], check=True)


if __name__ == "__main__":
    main()
