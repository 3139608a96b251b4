"""Fingerprint of what the reply parser says about every labelled reply.

    python scripts/parser_fingerprint.py [--out FILE]

Parses every reply of ``tests/data/**/*.jsonl`` and ``tests/corpus/*.jsonl`` (and a few
hostile ones) with the shipped model and with the rules alone, and prints one SHA-256 over
the JSON of every :class:`Interpretation` (evidence and all) and every ``explain()``.  Run it
before and after a change that must not change a single answer (a refactoring, a speed-up):
the two lines must be equal.  ``--out`` also writes the JSON lines, to diff when they differ.
Set ``SURVEYBOT_NATIVE=0`` to fingerprint the source instead of the compiled build.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from surveys import native  # noqa: E402
from surveys.parser import ReplyParser  # noqa: E402

HOSTILE = [
    "", " ", "\u200b5\u200b", "\u202e5分\u202c", "<b>五星</b>&nbsp;好评", "５分", "⭐" * 40,
    "满意，" * 500, "拔牙后一直出血，" * 50, "TD", "[强][强]", "/:strong", "3-4", "4.5分",
    "\x00\x01\x7f", "🀄" * 10, "a" * 5000, "T", "N", "n", "5分 TD",
]


def texts() -> list[str]:
    """Every labelled reply, in a fixed order, then the hostile ones."""
    out: list[str] = []
    paths = sorted((ROOT / "tests/data").rglob("*.jsonl")) + \
        sorted((ROOT / "tests/corpus").glob("*.jsonl"))
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                out.append(str(json.loads(line)["text"]))
    return out + HOSTILE


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--out", type=Path, help="also write every answer, one JSON line each")
    args = ap.parse_args()
    digest = hashlib.sha256()
    sink = args.out.open("w", encoding="utf-8") if args.out else None
    every = texts()
    for name, parser in (("model", ReplyParser()), ("rules", ReplyParser(recall=False))):
        for t in every:
            line = json.dumps({"p": name, "text": t, "got": parser.parse(t).to_dict(),
                               "explain": parser.explain(t)},
                              ensure_ascii=False, sort_keys=True)
            digest.update(line.encode("utf-8") + b"\n")
            if sink is not None:
                sink.write(line + "\n")
    if sink is not None:
        sink.close()
    how = "compiled" if native.compiled() else "source"
    print(f"{digest.hexdigest()}  {len(every)} replies x 2 parsers ({how})")


if __name__ == "__main__":
    main()
