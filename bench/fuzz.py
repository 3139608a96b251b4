"""Tens of thousands of hostile requests against the real application: 5xx, hangs, bad rows.

    python bench/fuzz.py [--n 20000] [--db sqlite|postgres] [--seed 1]

The strategies and the harness are the test suite's (tests/fuzz.py): every endpoint (WeChat
webhook, Aliyun SMS callbacks, the H5 page, staff sign-in, pages and actions, the JSON API,
the dashboard and exports, the simulator), hostile numbers, text, ids, encodings and bodies.
The application runs as in production on 127.0.0.1 with a real database (``postgres``
starts a throwaway cluster, tests/pgcluster.py). Each request is judged: a 5xx, no answer
within the timeout (a hang), or rows written by a request built to be invalid (a bad row).
The issue's fixed cases run first. Figures are printed, nothing is asserted; the goal is
"0 5xx, 0 hangs, 0 bad rows". The baseline, measured in the same run, is the rate of a
plain ``GET /healthz`` through the same harness.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402
from hypothesis.errors import HypothesisDeprecationWarning  # noqa: E402

from tests.fuzz import Harness, Outcome, Req, any_request, regression_cases  # noqa: E402


def database(kind: str, stack: list) -> str:  # type: ignore[type-arg]
    """A freshly migrated database URL of this kind."""
    from bot import db

    if kind == "postgres":
        from tests import pgcluster

        cluster = pgcluster.start()
        stack.append(cluster.stop)
        cluster.psql("CREATE DATABASE fuzz")
        url = cluster.url("fuzz")
    else:
        url = f"sqlite://{tempfile.mkdtemp(prefix='fuzz-')}/fuzz.sqlite3"

    async def migrate() -> None:
        await db.migrate(url)
        await db.close_db()

    asyncio.run(migrate())
    return url


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=20000, help="generated requests (default 20000)")
    p.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--show", type=int, default=5, help="failures to print per kind")
    p.add_argument("--dump", help="write the failing requests to this file (JSON lines)")
    args = p.parse_args()
    warnings.simplefilter("ignore", HypothesisDeprecationWarning)
    # The application logs each refused webhook and each 5xx; the summary below counts them.
    logging.basicConfig(level=logging.CRITICAL)

    stack: list = []  # type: ignore[type-arg]
    url = database(args.db, stack)
    h = Harness(url).start()
    try:
        # Baseline: the same harness, the cheapest endpoint.
        t0 = time.perf_counter()
        base_n = 300
        for _ in range(base_n):
            h.send(Req("healthz", "GET", "/healthz"), check_rows=False)
        base_rate = base_n / (time.perf_counter() - t0)

        fixed = regression_cases(h)
        fixed_bad = []
        for name, req, allowed in fixed:
            out = h.send(req)
            if out.status not in allowed or out.rows_changed:
                fixed_bad.append(f"{name}: {out.status} rows {out.rows_changed}")

        stats: dict[str, Counter[str]] = defaultdict(Counter)
        failures: dict[str, list[str]] = defaultdict(list)
        times: list[float] = []

        failed: list[Req] = []

        def record(req: Req, out: Outcome) -> None:
            if out.hung or (out.status or 0) >= 500 or out.rows_changed:
                failed.append(req)
            c = stats[req.endpoint]
            c["requests"] += 1
            times.append(out.seconds)
            if out.hung:
                c["hangs"] += 1
                failures["hang"].append(repr(req))
                return
            assert out.status is not None
            c[f"{out.status // 100}xx"] += 1
            if out.status >= 500:
                c["5xx"] += 0  # counted above as "5xx"
                failures["5xx"].append(f"{out.status} {req!r}")
            if out.rows_changed:
                c["bad rows"] += 1
                failures["bad rows"].append(f"{out.rows_changed} {req!r}")

        @seed(args.seed)
        @settings(max_examples=args.n, deadline=None, database=None,
                  phases=[Phase.generate], suppress_health_check=list(HealthCheck))
        @given(req=any_request(h))
        def run(req: Req) -> None:
            record(req, h.send(req))

        t0 = time.perf_counter()
        run()
        elapsed = time.perf_counter() - t0
    finally:
        h.stop()
        for stop in reversed(stack):
            stop()

    if args.dump:
        with open(args.dump, "w", encoding="utf-8") as fh:
            for req in failed:
                fh.write(json.dumps({**{k: v for k, v in vars(req).items() if k != "body"},
                                     "body": base64.b64encode(req.body).decode()}) + "\n")
    total = Counter[str]()
    for c in stats.values():
        total.update(c)
    print(f"\nbench/fuzz.py on {args.db}: {total['requests']} generated requests in "
          f"{elapsed:.0f} s ({total['requests'] / elapsed:.0f}/s; baseline GET /healthz "
          f"through the same harness {base_rate:.0f}/s), median "
          f"{statistics.median(times) * 1000:.1f} ms")
    print(f"{'endpoint':<22}{'requests':>9}{'2xx':>7}{'3xx':>7}{'4xx':>7}{'5xx':>6}"
          f"{'hangs':>7}{'bad rows':>9}")
    for name in sorted(stats):
        c = stats[name]
        print(f"{name:<22}{c['requests']:>9}{c['2xx']:>7}{c['3xx']:>7}{c['4xx']:>7}"
              f"{c['5xx']:>6}{c['hangs']:>7}{c['bad rows']:>9}")
    print(f"\nthe issue's fixed cases: {len(fixed) - len(fixed_bad)} of {len(fixed)} answered "
          "as required")
    for line in fixed_bad:
        print(f"  {line}")
    for kind, lines in failures.items():
        print(f"\n{kind}: {len(lines)}")
        for line in lines[: args.show]:
            print(f"  {line[:400]}")
    print(f"\n{total['5xx']} 5xx, {total['hangs']} hangs, {total['bad rows']} bad rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
