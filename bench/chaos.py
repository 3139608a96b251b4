"""Chaos drill, longer: worker processes on PostgreSQL send check-ins by SMS through a fake Aliyun
answering with a seeded schedule of faults (5xx, stalls past the timeout, connections closed
mid-response, answers after the timeout, receipts pushed twice, storms of each) while one worker
is SIGKILLed mid-send and started again.

    python bench/chaos.py [--runs 20] [--n 600] [--workers 3] [--batch-size 100] [--seed S ...]

Prints, per run, the seed and the counts (accepted at the fake, lost, doubled, records that
disagree with the fake, requests per fault, receipts, when the worker was killed), then a
summary. Each run uses a fresh database on a throwaway PostgreSQL cluster. Exit status 1 when
any run lost, doubled or disagreed. tests/test_chaos.py runs one drill at a smaller size.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.chaos import run_with_cluster  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--n", type=int, default=600, help="check-ins per run")
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=1,
                    help="[sms] batch_size of the workers (>1: SendBatchSms)")
    ap.add_argument("--seed", type=int, action="append",
                    help="run these seeds (repeatable) instead of --runs random ones")
    args = ap.parse_args()
    seeds = args.seed or random.Random().sample(range(1, 10**6), args.runs)
    print(f"chaos drill: {len(seeds)} runs, {args.n} check-ins, {args.workers} workers, "
          f"one SIGKILL each, [sms] batch_size {args.batch_size}; "
          f"seeds {', '.join(map(str, seeds))}", flush=True)
    outcomes = run_with_cluster(seeds, args.n, args.workers, args.batch_size)
    bad = [o for o in outcomes if not o.ok]
    total = sum(o.checkins for o in outcomes)
    print(f"\n{len(outcomes) - len(bad)} of {len(outcomes)} runs clean; {total} check-ins, "
          f"{sum(o.accepted for o in outcomes)} accepted, {sum(o.lost for o in outcomes)} lost, "
          f"{sum(o.doubled for o in outcomes)} doubled, "
          f"{sum(o.disagree for o in outcomes)} disagreeing; "
          f"{sum(o.requests for o in outcomes)} send requests, "
          f"{sum(sum(v for k, v in o.faults.items() if k != 'ok') for o in outcomes)} faulted")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
