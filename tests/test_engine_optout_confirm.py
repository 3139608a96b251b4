"""An unsure opt-out is asked about once; only yes or a second stop stops (real parser)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from surveys import engine
from surveys.parser import parse
from tests.engine_talk import CTX, SURVEY, TEXTS, talk
from tests.engine_talk import UNSURE_STOP as UNSURE

QUESTION = SURVEY.questions[0].text


def names(step: engine.Step) -> list[str]:
    return [e.name for e in step.events]


def test_unsure_opt_out_asks_once_and_stops_nothing() -> None:
    assert parse(UNSURE).opt_out_unsure
    (step,) = talk(UNSURE)
    assert step.outbound == (TEXTS["confirm_opt_out"],)
    assert step.state["status"] == "asking" and step.state["confirm"] == {"opt_out": True}
    assert "opted_out" not in names(step)


@pytest.mark.parametrize("answer", ["是", "是的", "对"])
def test_yes_opts_out(answer: str) -> None:
    step = talk(UNSURE, answer)[-1]
    assert names(step) == ["opted_out"]
    assert step.state["status"] == "stopped" and step.outbound == (TEXTS["opt_out_confirmed"],)


@pytest.mark.parametrize("again", ["别发了", "有完没完，还发"])
def test_another_stop_opts_out(again: str) -> None:
    step = talk(UNSURE, again)[-1]
    assert names(step) == ["opted_out"] and step.state["status"] == "stopped"


@pytest.mark.parametrize("answer", ["否", "不是", "N", "不用不用，继续吧"])
def test_no_carries_on_with_the_question(answer: str) -> None:
    step = talk(UNSURE, answer)[-1]
    assert "opted_out" not in names(step)
    assert step.state["status"] == "asking" and step.state["confirm"] is None
    assert step.outbound[-1] == QUESTION


def test_a_score_instead_is_recorded() -> None:
    step = talk(UNSURE, "5")[-1]
    assert names(step)[0] == "answer_recorded" and step.state["answers"]["overall"] == 5
    assert "opted_out" not in names(step) and step.state["confirm"] is None


def test_anything_else_carries_on() -> None:
    step = talk(UNSURE, "我在上班呢")[-1]
    assert "opted_out" not in names(step) and step.state["status"] == "asking"
    assert step.state["confirm"] is None


def test_precise_opt_out_acts_at_once() -> None:
    (step,) = talk("以后别再给我发消息了")
    assert names(step) == ["opted_out"] and step.state["status"] == "stopped"


def test_red_flag_outranks_an_unsure_opt_out() -> None:
    text = UNSURE + "，孩子抽搐了"
    # the parser keeps the emergency and drops the unsure stop cue beside it
    assert parse(text).red_flag and not parse(text).opt_out
    (step,) = talk(text)
    assert "escalation_raised" in names(step) and step.state["status"] == "staff"
    assert TEXTS["confirm_opt_out"] not in step.outbound
    # and the engine alone ranks them so, whatever a parser says
    both = replace(parse(text), opt_out=True, opt_out_unsure=True)
    state: dict[str, Any] = {"survey": "general", "index": 0, "answers": {}, "failed": 0,
                             "confirm": None, "status": "asking"}
    step = engine.reply(SURVEY, TEXTS, CTX, state, both, text)
    assert "escalation_raised" in names(step) and step.state["status"] == "staff"


def test_after_the_survey_the_question_is_asked_too() -> None:
    first, second = talk(UNSURE, "是", status="done")
    assert first.outbound == (TEXTS["confirm_opt_out"],)
    assert names(second) == ["opted_out"]
