"""A bare acceptance word: a 3 answering the score question, a yes when a yes is awaited.

docs/labels.md: "可以", "行", "中", "ok" as the whole reply rate the service so-so (3); a bare
"好" rates nothing.  Each is also a yes: to "您是打4分吗？" it confirms the 4 (never records
the 3), and to "确定不再接收吗？" it stops.  Real parser and engine; the parser's reading is
checked through ``survey-bot parse --jsonl`` too.
"""

from __future__ import annotations

from typing import Any

import pytest

from surveys import engine
from surveys.parser import ReplyParser
from tests.engine_talk import SURVEY, UNSURE_STOP, talk
from tests.redflag_tables import parse_through_cli

SCORE_Q = SURVEY.questions[0]

SO_SO = ["可以", "可以吧", "行", "中", "ok", "OK!", "okay"]
NO_RATING = ["好", "好的", "可以吗？", "行不行", "中不中", "[OK]"]


def recorded(step: engine.Step) -> list[Any]:
    return [e.score for e in step.events
            if isinstance(e, engine.AnswerRecorded) and e.question_id == SCORE_Q.id]


@pytest.mark.parametrize("parser", [ReplyParser(recall=False), ReplyParser()],
                         ids=["rules", "whole"])
@pytest.mark.parametrize("text", SO_SO)
def test_parser_reads_a_three_and_a_yes(parser: ReplyParser, text: str) -> None:
    r = parser.parse(text)
    assert (r.score, r.affirmative, r.comment) == (3, True, ""), text


@pytest.mark.parametrize("parser", [ReplyParser(recall=False), ReplyParser()],
                         ids=["rules", "whole"])
@pytest.mark.parametrize("text", NO_RATING)
def test_parser_reads_no_rating(parser: ReplyParser, text: str) -> None:
    assert parser.parse(text).score is None, text


@pytest.mark.parametrize("text", SO_SO)
def test_answering_the_score_question_records_a_three(text: str) -> None:
    (step,) = talk(text)
    assert recorded(step) == [3]


@pytest.mark.parametrize("text", ["好", "好的"])
def test_a_bare_hao_records_nothing_and_asks_again(text: str) -> None:
    (step,) = talk(text)
    assert recorded(step) == [] and step.state["index"] == 0 and step.outbound


@pytest.mark.parametrize("text", [*SO_SO, "好", "好的"])
def test_a_bare_yes_confirms_the_pending_score(text: str) -> None:
    first, second = talk("4.5分", text)
    assert first.state["confirm"] == {"question": SCORE_Q.id, "score": 4}
    assert recorded(second) == [4], text


def test_a_number_still_answers_the_pending_score() -> None:
    """A stated score is no bare yes: "是的，5分" records the 5 said."""
    _, second = talk("4.5分", "5分")
    assert recorded(second) == [5]


@pytest.mark.parametrize("text", [*SO_SO, "好"])
def test_a_bare_yes_confirms_a_stop(text: str) -> None:
    first, second = talk(UNSURE_STOP, text)
    assert first.state["confirm"] == {"opt_out": True}
    assert second.state["status"] == "stopped", text
    assert "opted_out" in [e.name for e in second.events]


def test_end_to_end_through_the_cli() -> None:
    rows = parse_through_cli(SO_SO + NO_RATING)
    assert [r["score"] for r in rows] == [3] * len(SO_SO) + [None] * len(NO_RATING)
    assert all(r["affirmative"] for r in rows[:len(SO_SO)])
