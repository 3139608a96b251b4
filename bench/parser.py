"""Accuracy and throughput of the reply parser against the peer baseline.

    python bench/parser.py [--data tests/data/replies.jsonl] [--seconds 2]

The baseline is what peers do today: take the first ASCII digit 1-5 in the text as the
score, and detect nothing else.  Figures are printed, nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from surveys.parser import ReplyParser  # noqa: E402

FLAGS = ("opt_out", "complaint", "red_flag", "question")
Labels = dict[str, object]


def baseline(text: str) -> Labels:
    """First ASCII digit 1-5, else no score; never any flag."""
    score = next((int(c) for c in text if "1" <= c <= "5"), None)
    return {"score": score, **{f: False for f in FLAGS}}


def load(path: Path) -> list[Labels]:
    """Read the JSONL evaluation set."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def evaluate(rows: list[Labels], predict: Callable[[str], Labels]) -> dict[str, str]:
    """Accuracy per label; precision/recall for the booleans."""
    preds = [predict(str(r["text"])) for r in rows]
    hits = sum(p["score"] == r["score"] for p, r in zip(preds, rows, strict=True))
    out = {"score": f"{hits / len(rows):7.1%}"}
    for flag in FLAGS:
        tp = sum(bool(p[flag]) and bool(r[flag]) for p, r in zip(preds, rows, strict=True))
        fp = sum(bool(p[flag]) and not r[flag] for p, r in zip(preds, rows, strict=True))
        fn = sum(not p[flag] and bool(r[flag]) for p, r in zip(preds, rows, strict=True))
        acc = sum(bool(p[flag]) == bool(r[flag]) for p, r in zip(preds, rows, strict=True))
        prec = f"{tp / (tp + fp):.0%}" if tp + fp else "  n/a"
        rec = f"{tp / (tp + fn):.0%}" if tp + fn else "n/a"
        out[flag] = f"{acc / len(rows):6.1%} P{prec:>5} R{rec:>5}"
    return out


def throughput(texts: list[str], fn: Callable[[str], object], seconds: float) -> float:
    """Replies per second on one core, running the whole set repeatedly."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for t in texts:
            fn(t)
        done += len(texts)
        now = time.perf_counter()
        if now >= deadline:
            return done / (now - start)


def main() -> None:
    """Print the comparison table and the throughput figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "tests/data/replies.jsonl")
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    rows = load(args.data)
    parser = ReplyParser()

    def ours(text: str) -> Labels:
        r = parser.parse(text)
        return {"score": r.score, **{f: getattr(r, f) for f in FLAGS}}

    mine, base = evaluate(rows, ours), evaluate(rows, baseline)
    print(f"{len(rows)} replies from {args.data}")
    print(f"{'label':<10} {'parser':<26} {'baseline (first digit 1-5)':<26}")
    for label in ("score", *FLAGS):
        print(f"{label:<10} {mine[label]:<26} {base[label]:<26}")

    texts = [str(r["text"]) for r in rows]
    # Distinct texts that miss the fast path of common replies: the honest worst case.
    uncommon = [t for t in texts if t not in parser._canned]
    print()
    print(f"throughput (one core, ~{args.seconds:g} s each):")
    for name, fn, data in (
        ("parser, whole set", parser.parse, texts),
        ("parser, uncommon replies only", parser.parse, uncommon),
        ("baseline, whole set", baseline, texts),
    ):
        rate = throughput(data, fn, args.seconds)
        print(f"  {name:<32} {rate:>12,.0f} replies/s")


if __name__ == "__main__":
    main()
