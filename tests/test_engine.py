"""The conversation engine, table-driven: (state, reply) → (state, texts, events)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bot.config import TextsConfig
from surveys import engine
from surveys.definition import default_surveys

SURVEY = default_surveys()["general"]
TEXTS = TextsConfig().model_dump()
CTX = engine.Context(values={"contact_name": "张三", "org_name": "示例医院", "department": "口腔科",
                             "org_phone": "110", "visit_date": "11月20日"})


@dataclass
class R:
    """A parsed reply, written out by hand so the engine is tested on its own."""

    score: int | None = None
    opt_out: bool = False
    complaint: bool = False
    red_flag: bool = False
    question: bool = False
    needs_confirmation: bool = False
    candidate: int | None = None
    out_of_range: int | None = None
    wrong_number: bool = False
    deceased: bool = False
    affirmative: bool = False
    negative: bool = False
    comment: str = ""


def asking(**kw: Any) -> dict[str, Any]:
    base = {"survey": "general", "index": 0, "answers": {}, "failed": 0, "confirm": None,
            "status": "asking"}
    return {**base, **kw}


def names(step: engine.Step) -> list[str]:
    return [e.name for e in step.events]


def kinds(step: engine.Step) -> list[str]:
    return [e.kind for e in step.events if isinstance(e, engine.EscalationRaised)]


def test_start_greets_and_asks_first_question() -> None:
    step = engine.start("general", SURVEY, TEXTS, CTX)
    assert len(step.outbound) == 1
    text = step.outbound[0]
    assert text.startswith("张三您好，这里是示例医院口腔科。")
    assert "11月20日" in text and "1到5" in text
    assert step.state["status"] == "asking" and step.state["index"] == 0
    guardian = engine.start("general", SURVEY, TEXTS,
                            engine.Context(values={**CTX.values, "person_name": "小明"}),
                            "greeting_guardian")
    assert "小明" in guardian.outbound[0]


CASES = [
    # id, state, reply, text, expected status, events, escalation kinds, first outbound contains
    ("high score ends with thanks", asking(), R(score=5), "5", "done",
     ["answer_recorded", "survey_completed"], [], "感谢"),
    ("low score asks why", asking(), R(score=2), "2", "asking",
     ["answer_recorded", "escalation_raised"], ["low_score"], "哪里可以做得更好"),
    ("low score with reason skips the follow-up", asking(),
     R(score=2, complaint=True, comment="护士态度不好"), "2 护士态度不好", "done",
     ["escalation_raised", "answer_recorded", "escalation_raised", "answer_recorded",
      "survey_completed"], ["complaint", "low_score"], "非常抱歉"),
    ("follow-up answer is free text", asking(index=1, answers={"overall": 1}),
     R(), "排队太久", "done", ["answer_recorded", "survey_completed"], [], "感谢"),
    ("unreadable reply asks again", asking(), R(), "嗯嗯", "asking", [], [], "没有看懂"),
    ("third unreadable reply goes to staff", asking(failed=2), R(), "??", "staff",
     ["escalation_raised"], ["other"], "工作人员"),
    ("out of range is re-asked with the scale", asking(), R(out_of_range=10), "10", "asking",
     [], [], "1到5"),
    ("unsure asks to confirm", asking(), R(needs_confirmation=True, candidate=4), "4.5",
     "asking", [], [], "您是打4分吗"),
    ("confirmation yes records", asking(confirm={"question": "overall", "score": 4}),
     R(affirmative=True), "是的", "done", ["answer_recorded", "survey_completed"], [], "感谢"),
    ("confirmation no re-asks", asking(confirm={"question": "overall", "score": 4}),
     R(negative=True), "不是", "asking", [], [], "总体满意"),
    ("opt-out stops everything", asking(), R(opt_out=True), "TD", "stopped", ["opted_out"], [],
     "不再给您发送"),
    ("red flag: urgent, advice now, staff takes over", asking(), R(red_flag=True),
     "拔牙后一直出血", "staff", ["escalation_raised"], ["red_flag"], "120"),
    ("question keeps the survey going", asking(), R(question=True), "复诊要预约吗", "asking",
     ["escalation_raised"], ["question"], "转给工作人员"),
    ("wrong number stops", asking(), R(wrong_number=True), "打错了", "stopped",
     ["contact_stopped", "escalation_raised"], ["wrong_number"], "抱歉打扰"),
    ("deceased stops with care", asking(), R(deceased=True), "老人已经去世了", "stopped",
     ["contact_stopped", "escalation_raised"], ["deceased"], "节哀"),
    ("late reply after thanks is stored only", asking(status="done"), R(score=3), "3", "done",
     ["late_reply"], [], None),
    ("late complaint escalates", asking(status="done"), R(complaint=True), "收费太乱", "done",
     ["late_reply", "escalation_raised"], ["complaint"], "非常抱歉"),
    ("bot is silent while staff handle it", asking(status="staff"), R(score=5), "5", "staff",
     ["late_reply"], [], None),
    ("second opt-out is not confirmed twice", asking(status="stopped"), R(opt_out=True), "TD",
     "stopped", [], [], None),
]


@pytest.mark.parametrize(("state", "parsed", "text", "status", "events", "esc", "says"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reply(state: dict[str, Any], parsed: R, text: str, status: str, events: list[str],
               esc: list[str], says: str | None) -> None:
    step = engine.reply(SURVEY, TEXTS, CTX, state, parsed, text)
    assert step.state["status"] == status
    assert names(step) == events
    assert kinds(step) == esc
    if says is None:
        assert step.outbound == ()
    else:
        assert says in step.outbound[0], step.outbound


def test_engine_does_not_mutate_input_state() -> None:
    state = asking()
    engine.reply(SURVEY, TEXTS, CTX, state, R(score=1), "1")
    assert state == asking()


def test_answers_and_comment_are_recorded() -> None:
    step = engine.reply(SURVEY, TEXTS, CTX, asking(), R(score=2, comment="排队太久"), "2 排队太久")
    answers = [e for e in step.events if isinstance(e, engine.AnswerRecorded)]
    assert [(a.question_id, a.score, a.text) for a in answers] == [
        ("overall", 2, "2 排队太久"), ("improve", None, "排队太久")]
    assert step.state["answers"] == {"overall": 2, "improve": "排队太久"}


def test_unknown_placeholder_is_left_visible_not_crashing() -> None:
    assert engine.render("您好{nobody}", CTX) == "您好{nobody}"
