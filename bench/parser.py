"""Accuracy and throughput of the reply parser against the first-digit baseline.

    python bench/parser.py [DATA.jsonl | DIR ...] [--seconds 2] [--no-tier]

Without arguments every ``tests/data/**/*.jsonl`` set is measured, each on its own and then
all together; pass files or directories (searched for ``*.jsonl``) to measure other sets,
e.g. fresh evaluation sets.  A set is JSONL in the format of docs/labels.md (``text``,
``score``, ``opt_out``, ``complaint``, ``dispute``, ``red_flag``, ``question``; a set
without ``dispute`` has none, and a dispute is always also a complaint).

For each set: score accuracy, and per flag accuracy, precision and recall (the number of
positives in brackets), beside the baseline -- what peers do today: the first ASCII digit
1-5 is the score, nothing else is detected.  An unsure opt-out (``opt_out_unsure``, which
the engine confirms with the person) counts as an opt-out.  ``--no-tier``: the rules alone,
without the learned model.

Every ``tests/data`` set has been trained on (the shipped model, ``survey-bot train``), so
its figures here are in-sample; the honest estimate is leave-one-writer-out
(``python bench/lowo.py``; docs/understanding.md).  Throughput is CPU time of this process
(one core), for the whole input and for the replies that miss the fast path of common
replies; compiled (``make native``), the same parser from its source is measured too, in a
child process.  Figures are printed, nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from surveys import native  # noqa: E402
from surveys.parser import ReplyParser  # noqa: E402

FLAGS = ("opt_out", "complaint", "dispute", "red_flag", "question")
LABELS = ("score", *FLAGS)
# every set has these; ``dispute`` came later (docs/labels.md): a set without it has none
REQUIRED = ("text", "score", "opt_out", "complaint", "red_flag", "question")
Labels = dict[str, object]


def baseline(text: str) -> Labels:
    """First ASCII digit 1-5, else no score; never any flag."""
    score = next((int(c) for c in text if "1" <= c <= "5"), None)
    return {"score": score, **{f: False for f in FLAGS}}


def load(path: Path) -> list[Labels]:
    """Read one JSONL evaluation set; say which line is broken if one is."""
    rows = []
    with path.open(encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise SystemExit(f"{path}:{no}: not JSON ({e}); fix or remove the line") from e
            missing = [k for k in REQUIRED if k not in row]
            if missing:
                raise SystemExit(f"{path}:{no}: missing keys {missing}; every line needs "
                                 f"{', '.join(REQUIRED)} (and dispute, else false)")
            row.setdefault("dispute", False)
            if row["dispute"]:
                row["complaint"] = True  # a dispute is always also a complaint
            note = str(row.get("note") or "")
            if "wrong number" in note or "deceased" in note:
                row["opt_out"] = True  # see the label convention in the module docstring
            rows.append(row)
    return rows


def expand(paths: list[Path]) -> list[Path]:
    """JSONL files as given, and every ``*.jsonl`` under a directory given (sorted)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(p.rglob("*.jsonl"))
        elif p.is_file():
            out.append(p)
        else:
            raise SystemExit(f"{p}: no such file or directory")
    return out


def evaluate(rows: list[Labels], predict: Callable[[str], Labels]) -> dict[str, str]:
    """Accuracy per label; precision/recall for the booleans."""
    preds = [predict(str(r["text"])) for r in rows]
    pairs = list(zip(preds, rows, strict=True))
    hits = sum(p["score"] == r["score"] for p, r in pairs)
    out = {"score": f"{hits / len(rows):7.1%}"}
    for flag in FLAGS:
        tp = sum(bool(p[flag]) and bool(r[flag]) for p, r in pairs)
        fp = sum(bool(p[flag]) and not r[flag] for p, r in pairs)
        fn = sum(not p[flag] and bool(r[flag]) for p, r in pairs)
        acc = sum(bool(p[flag]) == bool(r[flag]) for p, r in pairs)
        prec = f"{tp / (tp + fp):.0%}" if tp + fp else "n/a"
        rec = f"{tp / (tp + fn):.0%}" if tp + fn else "n/a"
        out[flag] = f"{acc / len(rows):6.1%} P{prec:>5} R{rec:>5} ({tp + fn})"
    return out


def report(name: str, rows: list[Labels], ours: Callable[[str], Labels]) -> None:
    """Print the per-label table of one set, parser beside baseline."""
    mine, base = evaluate(rows, ours), evaluate(rows, baseline)
    print(f"{name}: {len(rows)} replies")
    print(f"  {'label':<10} {'parser':<30} {'baseline (first digit 1-5)':<30}")
    for label in LABELS:
        print(f"  {label:<10} {mine[label]:<30} {base[label]:<30}")
    print()


def throughput(texts: list[str], fn: Callable[[str], object], seconds: float) -> float:
    """Replies per CPU second on one core, running ``texts`` repeatedly (best of 3 runs)."""
    best = 0.0
    for _ in range(3):
        done = 0
        start = time.process_time()
        deadline = start + seconds / 3
        while True:
            for t in texts:
                fn(t)
            done += len(texts)
            now = time.process_time()
            if now >= deadline:
                break
        best = max(best, done / (now - start))
    return best


def main() -> None:
    """Print the comparison tables and the throughput figures."""
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("data", nargs="*", type=Path,
                    help="JSONL sets or directories of them (default: every "
                         "tests/data/**/*.jsonl)")
    ap.add_argument("--seconds", type=float, default=2.0,
                    help="CPU seconds per throughput figure (default 2)")
    ap.add_argument("--no-tier", action="store_true",
                    help="accuracy of the rules alone, without the learned recall tier")
    ap.add_argument("--rate-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    paths = expand(args.data) if args.data else sorted((ROOT / "tests/data").rglob("*.jsonl"))
    if not paths:
        raise SystemExit("no data files; pass JSONL paths or add tests/data/*.jsonl")
    parser = ReplyParser(recall=not args.no_tier)
    rules = ReplyParser(recall=False)
    if args.rate_only:  # (the source figure of a compiled run, measured in a child process)
        texts = [str(r["text"]) for path in paths for r in load(path)]
        print(json.dumps([throughput(texts, parser.parse, args.seconds),
                          throughput(texts, rules.parse, args.seconds)]))
        return

    def ours(text: str) -> Labels:
        r = parser.parse(text)
        return {"score": r.score, **{f: getattr(r, f) for f in FLAGS}}

    every: list[Labels] = []
    for path in paths:
        rows = load(path)
        every += rows
        report(path.name, rows, ours)
    if len(paths) > 1:
        report("all sets combined", every, ours)

    texts = [str(r["text"]) for r in every]
    # Replies that miss the fast path of common replies take the full path every time.
    uncommon = [t for t in texts if t not in parser._canned]
    how = "compiled with mypyc" if native.compiled() else (
        "source (SURVEYBOT_NATIVE=0)" if os.environ.get("SURVEYBOT_NATIVE") == "0" else
        f"source, not compiled: {native.toolchain_missing() or 'run `make native`'}")
    print(f"throughput (one core, CPU time, ~{args.seconds:g} s each; parser {how}):")
    for name, fn, data in (
        (f"parser, whole set ({len(texts)})", parser.parse, texts),
        (f"parser, missing the fast path ({len(uncommon)})", parser.parse, uncommon),
        ("rules alone (no tier), whole set", rules.parse, texts),
        ("rules alone, missing the fast path", rules.parse, uncommon),
        ("baseline, whole set", baseline, texts),
    ):
        rate = throughput(data, fn, args.seconds)
        print(f"  {name:<40} {rate:>12,.0f} replies/s")
    if native.compiled():
        # the same parser run from its source, in a child process, for comparison
        child = subprocess.run(
            [sys.executable, __file__, "--rate-only", "--seconds", str(args.seconds),
             *(["--no-tier"] if args.no_tier else []), *map(str, paths)],
            env={**os.environ, "SURVEYBOT_NATIVE": "0"}, capture_output=True, text=True,
            check=True)
        tier_rate, rules_rate = json.loads(child.stdout)
        print(f"  {'parser from source, whole set':<40} {tier_rate:>12,.0f} replies/s")
        print(f"  {'rules alone from source, whole set':<40} {rules_rate:>12,.0f} replies/s")


if __name__ == "__main__":
    main()
