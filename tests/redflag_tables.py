"""The checks every red-flag table file runs (tests/test_parser_redflag_*.py).

A table file lists replies that are not red flags (an exclusion) and look-alikes that must
stay red flags; :func:`table_tests` makes the same four tests of both: on the rules alone and
the whole parser, with politeness, emoji and a trailing score added to every red flag, and
end to end through ``survey-bot parse --jsonl``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from surveys.parser import ReplyParser

RULES = ReplyParser(recall=False)
WHOLE = ReplyParser()
# What people add around a sign that must not take it away.
DECORATIONS = ["", "，谢谢", "😊", " 5分", "！！", " 1分"]


def parse_through_cli(texts: list[str]) -> list[dict[str, Any]]:
    """What ``survey-bot parse --jsonl`` answers for ``texts``, one object per text."""
    out = subprocess.run(
        [sys.executable, "-m", "bot.cli", "parse", "--jsonl"],
        input="".join(json.dumps({"text": t}) + "\n" for t in texts),
        capture_output=True, text=True, check=True, timeout=120)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def table_tests(not_red: list[str], still_red: list[str]) -> tuple[Callable[..., Any], ...]:
    """The four tests of one table; assign them to module-level ``test_`` names."""

    @pytest.mark.parametrize("parser", [RULES, WHOLE], ids=["rules", "whole"])
    @pytest.mark.parametrize("text", not_red)
    def test_not_a_red_flag(parser: ReplyParser, text: str) -> None:
        assert not parser.parse(text).red_flag, text

    @pytest.mark.parametrize("parser", [RULES, WHOLE], ids=["rules", "whole"])
    @pytest.mark.parametrize("text", still_red)
    def test_still_a_red_flag(parser: ReplyParser, text: str) -> None:
        assert parser.parse(text).red_flag, text

    @pytest.mark.parametrize("suffix", DECORATIONS)
    @pytest.mark.parametrize("text", still_red)
    def test_decorations_keep_them(suffix: str, text: str) -> None:
        assert RULES.parse(text + suffix).red_flag, text + suffix
        assert WHOLE.parse(text + suffix).red_flag, text + suffix

    def test_end_to_end_through_the_cli() -> None:
        """``survey-bot parse --jsonl`` gives the labels the table promises."""
        cases = [(t, False) for t in not_red] + [(t, True) for t in still_red]
        rows = parse_through_cli([t for t, _ in cases])
        assert [r["red_flag"] for r in rows] == [want for _, want in cases]

    return (test_not_a_red_flag, test_still_a_red_flag, test_decorations_keep_them,
            test_end_to_end_through_the_cli)
