"""Instructions per reply of the reply parser, counted by valgrind (repeatable on a busy machine).

    python bench/parser_instructions.py [DATA ...] [--every N] [--root DIR] [--calibrate DIR]

CPU time on a shared machine moves with the load (other processes take the caches); the
number of instructions a parse executes does not.  Each figure is counted by ``valgrind
--tool=callgrind`` in a child process that parses the replies once and then twice: the
difference is one pass, start-up and warm-up excluded.  Measured: the whole parser, the rules
alone, and the first-digit baseline, compiled when the build is up to date.

To turn instructions into replies/s a calibration is needed: a parser whose throughput was
measured on a quiet machine.  ``--calibrate DIR`` counts the rules alone of another checkout
(``git archive <commit> | tar -x -C DIR`` then ``python DIR/scripts/build_native.py``) on its
own labelled replies; with ``--calibrated-rate`` (its replies/s then) this prints what the
same machine would do with the parser measured here, assuming the same instructions per
second.  The calibration used in docs/understanding.md: commit 1fae2d8, whose compiled rules
alone read 66-68k replies/s on its 7,550 labelled replies (README at 67ebfcc).

``--root``: measure another checkout instead of this one (e.g. before a change).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, sys
root, kind, passes, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, root)
texts = json.load(open(path, encoding="utf-8"))
if kind == "baseline":
    def fn(text):
        return next((int(c) for c in text if "1" <= c <= "5"), None)
else:
    from surveys.parser import ReplyParser
    from surveys import native
    fn = ReplyParser(recall=kind == "parser").parse
    fn("5")
    sys.stderr.write("compiled=%s\n" % native.compiled())
for _ in range(passes):
    for t in texts:
        fn(t)
"""


def load_texts(paths: list[Path], every: int) -> list[str]:
    """The ``text`` of every reply of the JSONL files (every ``every``-th one)."""
    texts: list[str] = []
    for p in paths:
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.strip():
                texts.append(str(json.loads(line)["text"]))
    return texts[::every]


def count(root: Path, kind: str, passes: int, data: Path) -> tuple[int, str]:
    """Instructions executed by a child parsing the replies ``passes`` times."""
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
           sys.executable, "-c", _CHILD, str(root), kind, str(passes), str(data)]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=True)
    m = re.search(r"Collected : (\d+)", done.stderr)
    if m is None:
        raise SystemExit(f"no instruction count from valgrind:\n{done.stderr[-2000:]}")
    compiled = re.search(r"compiled=(\w+)", done.stderr)
    return int(m.group(1)), compiled.group(1) if compiled else "-"


def per_reply(root: Path, kind: str, texts: list[str]) -> tuple[float, str]:
    """Instructions per reply of one pass (two passes less one)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8",
                                     delete=False) as f:
        json.dump(texts, f, ensure_ascii=False)
    try:
        one, how = count(root, kind, 1, Path(f.name))
        two, _ = count(root, kind, 2, Path(f.name))
    finally:
        os.unlink(f.name)
    return (two - one) / len(texts), how


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("data", nargs="*", type=Path,
                    help="JSONL files or directories (default: every tests/data/**/*.jsonl)")
    ap.add_argument("--every", type=int, default=1, help="measure every N-th reply only")
    ap.add_argument("--root", type=Path, default=ROOT, help="the checkout to measure")
    ap.add_argument("--calibrate", type=Path, help="a checkout whose rate is known")
    ap.add_argument("--calibrated-rate", type=float, default=67_000.0,
                    help="replies/s of the calibration checkout's rules alone (default 67000)")
    ap.add_argument("--kinds", nargs="*", default=["parser", "rules", "baseline"])
    args = ap.parse_args()
    root = args.root.resolve()

    def files(paths: list[Path], base: Path) -> list[Path]:
        out: list[Path] = []
        for p in paths or [base / "tests/data"]:
            out += sorted(p.rglob("*.jsonl")) if p.is_dir() else [p]
        return out

    texts = load_texts(files(args.data, root), args.every)
    print(f"{root}: {len(texts)} replies, instructions per reply (valgrind callgrind):")
    figures: dict[str, float] = {}
    for kind in args.kinds:
        ir, how = per_reply(root, kind, texts)
        figures[kind] = ir
        print(f"  {kind:<9} {ir:>12,.0f}  (compiled: {how})", flush=True)
    if args.calibrate is not None:
        cal = args.calibrate.resolve()
        ctexts = load_texts(files([], cal), args.every)
        ir, how = per_reply(cal, "rules", ctexts)
        ips = ir * args.calibrated_rate
        print(f"calibration: {cal} rules alone on its own {len(ctexts)} replies: {ir:,.0f} "
              f"instructions per reply (compiled: {how}), measured at "
              f"{args.calibrated_rate:,.0f} replies/s -> {ips / 1e9:.2f} G instructions/s")
        for kind, v in figures.items():
            print(f"  {kind:<9} ~{ips / v:>10,.0f} replies/s at the calibration's speed")


if __name__ == "__main__":
    main()
