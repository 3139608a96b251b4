"""Speed of the manager tallies over a million answers, beside a hand-written GROUP BY.

    python bench/tallies.py [--answers 1000000] [--runs 5] [--backend sqlite|postgres|both]

Fills a fresh database (SQLite file; PostgreSQL started with tests/pgcluster.py) with synthetic
answers by bulk insert / COPY (not through the ledger: hashes are placeholders; the month
rollup answer_tally is then rebuilt from them, as the ledger would have kept it), then times
``bot.tallies.score_tallies`` for several shapes beside the plain SQL a person would write for
the same figures, over the same connection. Prints the median of ``--runs`` runs of each and
the ratio. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tortoise import connections  # noqa: E402

from bot import db, tallies  # noqa: E402
from bot.tallies import Scope  # noqa: E402

DEPARTMENTS = 20
CLINICIANS_PER_DEPT = 8
TREATMENTS = ["拔牙", "补牙", "根管", "洁牙", "出院", ""]
CHANNELS = ["wechat", "sms", "h5"]
FIRST_DAY = date(2025, 11, 1)
DAYS = 365
COLUMNS = ("conversation_id", "department_id", "clinician", "treatment_type", "channel",
           "survey_id", "question_id", "score", "text", "recorded_at", "local_day",
           "prev_hash", "hash")

# (label, by, period, scope, hand-written SQL for the same figures: sqlite, postgres)
WHERE_ALL = "WHERE score IS NOT NULL"
WHERE_Q1 = "WHERE score IS NOT NULL AND local_day >= '2026-01-01' AND local_day <= '2026-03-31'"
SHAPES: list[tuple[str, str, str, Scope, str, str]] = [
    ("department × question", "department", "all", Scope(),
     f"SELECT department_id, question_id, score, COUNT(*) FROM answer {WHERE_ALL} "
     "GROUP BY department_id, question_id, score", ""),
    ("department × month", "department", "month", Scope(),
     f"SELECT department_id, substr(local_day, 1, 7), question_id, score, COUNT(*) FROM answer "
     f"{WHERE_ALL} GROUP BY 1, 2, 3, 4", ""),
    ("department × week, one quarter", "department", "week",
     Scope(start=date(2026, 1, 1), end=date(2026, 3, 31)),
     "SELECT department_id, date(local_day, '-6 days', 'weekday 1'), question_id, score, "
     f"COUNT(*) FROM answer {WHERE_Q1} GROUP BY 1, 2, 3, 4",
     "SELECT department_id, date_trunc('week', CAST(local_day AS date)), question_id, score, "
     f"COUNT(*) FROM answer {WHERE_Q1} GROUP BY 1, 2, 3, 4"),
    ("clinician × question", "clinician", "all", Scope(),
     f"SELECT clinician, question_id, score, COUNT(*) FROM answer {WHERE_ALL} "
     "GROUP BY clinician, question_id, score", ""),
    ("clinician × quarter", "clinician", "quarter", Scope(),
     "SELECT clinician, substr(local_day, 1, 4) || '-Q' || "
     "CAST((CAST(substr(local_day, 6, 2) AS INTEGER) + 2) / 3 AS TEXT), question_id, score, "
     f"COUNT(*) FROM answer {WHERE_ALL} GROUP BY 1, 2, 3, 4", ""),
    ("channel × month", "channel", "month", Scope(),
     f"SELECT channel, substr(local_day, 1, 7), question_id, score, COUNT(*) FROM answer "
     f"{WHERE_ALL} GROUP BY 1, 2, 3, 4", ""),
    ("question, one department, month", "question", "month",
     Scope(department_id=3),
     f"SELECT substr(local_day, 1, 7), question_id, score, COUNT(*) FROM answer {WHERE_ALL} "
     "AND department_id = 3 GROUP BY 1, 2, 3", ""),
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


def fill_sqlite(path: Path, rows: list[tuple[Any, ...]]) -> None:
    con = sqlite3.connect(path)
    con.executemany("INSERT INTO department (code, name, created_at) VALUES (?, ?, ?)",
                    [(f"d{i}", f"科室{i}", "2025-01-01 00:00:00+00:00")
                     for i in range(1, DEPARTMENTS + 1)])
    marks = ", ".join("?" for _ in COLUMNS)
    con.executemany(f"INSERT INTO answer ({', '.join(COLUMNS)}) VALUES ({marks})",
                    [(*r[:9], r[9].isoformat(), *r[10:]) for r in rows])
    con.commit()
    con.execute("ANALYZE")
    con.close()


async def fill_postgres(url: str, rows: list[tuple[Any, ...]]) -> None:
    import asyncpg

    con = await asyncpg.connect(url)
    try:
        await con.executemany(
            "INSERT INTO department (code, name, created_at) VALUES ($1, $2, now())",
            [(f"d{i}", f"科室{i}") for i in range(1, DEPARTMENTS + 1)])
        await con.copy_records_to_table("answer", records=rows, columns=list(COLUMNS))
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


async def measure(url: str, runs: int, backend: str) -> list[tuple[str, float, float, int]]:
    await db.init_db(url)
    out = []
    try:
        # the rows were bulk-loaded past the ledger: count the month rollup as the ledger would
        t = time.perf_counter()
        kept = await tallies.rebuild_rollup()
        print(f"  ({backend}: rollup rebuilt, {kept:,} rows, in {time.perf_counter() - t:.1f} s)")
        conn = connections.get("default")
        for label, by, period, scope, sql_lite, sql_pg in SHAPES:
            sql = (sql_pg or sql_lite) if backend == "postgres" else sql_lite

            async def ours(by: str = by, period: str = period, scope: Scope = scope) -> Any:
                return await tallies.score_tallies(by=by, period=period, scope=scope)

            async def hand(sql: str = sql) -> Any:
                return await conn.execute_query(sql)

            groups = len(await ours())
            t_ours = await median_ms(ours, runs)
            t_hand = await median_ms(hand, runs)
            out.append((label, t_ours, t_hand, groups))
    finally:
        await db.close_db()
    return out


def report(backend: str, n: int, fill_s: float, rows: list[tuple[str, float, float, int]]) -> None:
    print(f"\n{backend}: {n:,} answers (filled in {fill_s:.1f} s)")
    print(f"  {'shape':34} {'groups':>7} {'tallies ms':>11} {'GROUP BY ms':>12} {'ratio':>6}")
    for label, t_ours, t_hand, groups in rows:
        print(f"  {label:34} {groups:7d} {t_ours:11.1f} {t_hand:12.1f} {t_ours / t_hand:6.2f}")
    worst = max(r[1] for r in rows)
    print(f"  slowest tally {worst:.0f} ms (target < 300 ms); "
          f"worst ratio {max(r[1] / r[2] for r in rows):.2f} (target ≤ 1.5)")


async def run_postgres(rows: list[tuple[Any, ...]], runs: int) -> None:
    from tests import pgcluster

    cluster = pgcluster.start()
    try:
        cluster.psql("CREATE DATABASE bench")
        url = cluster.url("bench")
        await db.migrate(url)
        await db.close_db()
        t = time.perf_counter()
        await fill_postgres(url, rows)
        fill_s = time.perf_counter() - t
        report("PostgreSQL", len(rows), fill_s, await measure(url, runs, "postgres"))
    finally:
        cluster.stop()


async def run_sqlite(rows: list[tuple[Any, ...]], runs: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.sqlite3"
        url = f"sqlite://{path}"
        await db.migrate(url)
        await db.close_db()
        t = time.perf_counter()
        fill_sqlite(path, rows)
        fill_s = time.perf_counter() - t
        report("SQLite", len(rows), fill_s, await measure(url, runs, "sqlite"))


def main() -> None:
    """Fill, time, print."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--answers", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = ap.parse_args()
    t = time.perf_counter()
    rows = synthetic(args.answers)
    print(f"generated {len(rows):,} synthetic answers in {time.perf_counter() - t:.1f} s")
    if args.backend in ("sqlite", "both"):
        asyncio.run(run_sqlite(rows, args.runs))
    if args.backend in ("postgres", "both"):
        asyncio.run(run_postgres(rows, args.runs))


if __name__ == "__main__":
    main()
