"""Staff-facing wording: escalation reasons read in the page's language, with question titles
(what staff read), never question ids."""

from __future__ import annotations

import pytest

from bot.config import Settings
from handlers.i18n import question_title, question_titles, reason_text

TITLES = question_titles(Settings())


@pytest.mark.parametrize(("reason", "lang", "expected"), [
    ("complaint words in the reply; overall=2", "zh", "回复中有投诉内容；总体满意度 2分"),
    ("complaint words in the reply; overall=2", "en",
     "complaint words in the reply; 总体满意度: 2"),
    ("recovery=1", "zh", "处理结果满意度 1分"),  # the scored "recovery" is the recovery survey's
    ("nurse=2", "zh", "护理服务 2分"),
    ("unknown_question=2", "zh", "unknown_question 2分"),
    ("reported a worrying symptom", "zh", "描述了令人担心的症状"),
    ("no usable answer after 3 attempts", "zh", "连续3次无法识别回复"),
    ("something new", "zh", "something new"),
    ("", "zh", ""),
])
def test_reason_text(reason: str, lang: str, expected: str) -> None:
    assert reason_text(reason, lang, TITLES) == expected


@pytest.mark.parametrize(("survey", "question", "expected"), [
    ("dental", "recovery", "恢复情况"),
    ("recovery", "recovery", "处理结果满意度"),
    ("general", "overall", "总体满意度"),
    ("general", "comment", "补充意见"),  # a comment that came with a score
    ("nope", "overall", "总体满意度"),
])
def test_question_titles(survey: str, question: str, expected: str) -> None:
    assert question_title(Settings(), survey, question) == expected


def test_a_question_without_a_title_reads_as_its_first_sentence() -> None:
    from surveys.definition import QuestionDef

    q = QuestionDef(id="wait", text="请问您等候的时间长吗？请回复1到5的数字。")
    assert q.label == "您等候的时间长吗？"
