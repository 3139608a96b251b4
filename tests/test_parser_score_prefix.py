"""Table tests: a number after a prefix or before a remark is the score.

docs/labels.md: a rating can be a digit with words around it.  A label and a colon before it
("外婆代回：3", "答：4", "先说结论：3分", "回复：5"), an English or typed lead word ("Overall
4.", "emmm 3吧"), a copula ("我的评价是 4") or a remark after a space ("3 牙有点肿…", "4 万一
晚上又疼起来怎么办") leave the number a score.  Look-alikes stay no score: a clock ("3点到",
"8:30"), a count ("3颗牙", "3 颗牙"), a duration ("4天了"), a dose ("吃了2片"), a date, a
phone number, a label that names something else ("床号：3", "年龄：4"), a question about a
score ("3分是什么意思？") and a number inside a symptom ("38.5度").  Checked on the rules
alone, the whole parser and ``survey-bot parse --jsonl``.
"""

from __future__ import annotations

import pytest

from surveys.parser import ReplyParser
from tests.redflag_tables import parse_through_cli

RULES = ReplyParser(recall=False)
WHOLE = ReplyParser()

SCORES: list[tuple[str, int]] = [
    # a label and a colon
    ("外婆代回：3", 3),
    ("答：4", 4),
    ("回复：5", 5),
    ("回复:5", 5),
    ("先说结论：3分", 3),
    ("先说结论：3分。医生的水平没意见，但沟通方式需要改进", 3),
    ("我替我妈回：4分，谢谢医生", 4),
    ("评分：2", 2),
    # an English or typed lead word
    ("Overall 4.", 4),
    ("Overall 4. The nurses were kind, parking was a nightmare", 4),
    ("overall 3", 3),
    ("emmm 3吧", 3),
    ("hmm 4", 4),
    # a copula
    ("我的评价是 4，护士态度好", 4),
    ("我的评价是4", 4),
    # a remark after a space
    ("3 牙有点肿 医生说正常的 冰敷一下", 3),
    ("4 万一晚上又疼起来怎么办", 4),
    ("5 医生很耐心", 5),
]

NO_SCORE: list[str] = [
    "3点到",
    "下午3:30到的",
    "8:30",
    "3颗牙",
    "3 颗牙还有点疼",
    "拔了36牙",
    "4天了",
    "吃了2片",
    "3月4日复查",
    "13812345678",
    "电话：13812345678",
    "床号：3",
    "年龄：4",
    "时间：3点",
    "3分是什么意思？",
    "1分是最好还是最差？",
    "三分是什么意思",
    "38.5度",
    "体温：38.5",
    "花了4万",
]


@pytest.mark.parametrize("parser", [RULES, WHOLE], ids=["rules", "whole"])
@pytest.mark.parametrize(("text", "score"), SCORES)
def test_a_number_after_a_prefix_is_the_score(parser: ReplyParser, text: str,
                                              score: int) -> None:
    r = parser.parse(text)
    assert (r.score, r.needs_confirmation) == (score, False), text


@pytest.mark.parametrize("parser", [RULES, WHOLE], ids=["rules", "whole"])
@pytest.mark.parametrize("text", NO_SCORE)
def test_look_alikes_are_no_score(parser: ReplyParser, text: str) -> None:
    r = parser.parse(text)
    assert r.score is None and r.candidate is None, text


@pytest.mark.parametrize("suffix", ["，谢谢", "😊", "！！"])
@pytest.mark.parametrize(("text", "score"), SCORES)
def test_politeness_keeps_the_score(suffix: str, text: str, score: int) -> None:
    assert RULES.parse(text + suffix).score == score, text + suffix


def test_end_to_end_through_the_cli() -> None:
    """``survey-bot parse --jsonl`` gives the scores the table promises."""
    cases = SCORES + [(t, None) for t in NO_SCORE]
    rows = parse_through_cli([t for t, _ in cases])
    assert [r["score"] for r in rows] == [want for _, want in cases]
