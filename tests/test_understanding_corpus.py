"""Reply understanding, concern by concern: examples as data (tests/corpus/<concern>.jsonl).

Each line is a reply and what must be read from it, positive examples and their look-alikes
side by side::

    {"text": "血一直没止住", "expect": {"red_flag": true}, "why": "a resolution negated"}

``expect`` names fields of the parser's reading (``score``, ``opt_out``, ``complaint``,
``dispute``, ``red_flag``, ``question``, ``deceased``, ``wrong_number``, ``candidate``,
``needs_confirmation``, ``negative`` ...), plus ``evidence`` (a rule that must have matched)
and ``denied_because`` (the note of a symptom explained away).  ``"parser": "rules"`` tests
the rules alone, where a line is about what they hold exact.  Add a line to add a case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from surveys.parser import ReplyParser

CORPUS = Path(__file__).resolve().parent / "corpus"
PARSERS = {"full": ReplyParser(), "rules": ReplyParser(recall=False)}


def _cases() -> list[Any]:
    out = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                row = json.loads(line)
                out.append(pytest.param(row, id=f"{path.stem}:{no}"))
    return out


def test_every_concern_has_examples_both_ways() -> None:
    """A concern with only positives (or only look-alikes) tests half of what it must."""
    for path in sorted(CORPUS.glob("*.jsonl")):
        rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
        values = {json.dumps(r["expect"].get(path.stem)) for r in rows}
        assert len(values) >= 2, path.name


@pytest.mark.parametrize("row", _cases())
def test_example(row: dict[str, Any]) -> None:
    r = PARSERS[row.get("parser", "full")].parse(row["text"])
    got: dict[str, Any] = {}
    for key, want in row["expect"].items():
        if key == "evidence":
            got[key] = want if any(e.rule == want for e in r.evidence) else None
        elif key == "denied_because":
            got[key] = want if any(e.rule == "red_flag_denied" and e.note == want
                                   for e in r.evidence) else None
        else:
            got[key] = getattr(r, key)
    assert got == row["expect"], (row.get("why", ""), r.explain())
