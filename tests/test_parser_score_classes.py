"""Table tests: classes of ratings the rules read wrongly, and look-alikes that must not change.

docs/labels.md: a stated number is the rating; praise of one aspect beside it is its reason,
not a contradiction ("2分 医生挺好的 但是收费处态度太差"); litotes and dialect words rate
("没让我失望" 4, "袂歹" 4, "不咸不淡" 3, "锤子满意" 1); the top of a larger scale is a 5
("10分满意"); star emoji after a stated count decorate it ("给个4星吧⭐" is 4); numbers that
are not ratings are not scores ("一分都不会交": money; "普通感冒": a kind of cold, no rating).
Checked on the rules alone, the whole parser and ``survey-bot parse --jsonl``.
"""

from __future__ import annotations

import pytest

from surveys.parser import ReplyParser
from tests.redflag_tables import parse_through_cli

RULES = ReplyParser(recall=False)
WHOLE = ReplyParser()

CASES: list[tuple[str, int | None]] = [
    # a stated number beside praise of one aspect and a turn: the number
    ("2分 医生挺好的 但是收费处态度太差了", 2),
    ("3分，手术医生很好，但是等了一个多小时", 3),
    ("1分 护士很好 就是医生误诊了", 1),
    # an ellipsis before the number
    ("嗯……3分吧", 3),
    ("嗯...4分", 4),
    # 点 is a clock only after a number
    ("不满意到极点 1分", 1),
    ("8点 5分", None),
    # star emoji after a stated count, with a particle between, decorate it
    ("给个4星吧⭐", 4),
    ("三星吧⭐", 3),
    # 仨 is three
    ("给仨分", 3),
    # litotes, dialect and slang
    ("果然没让我失望，5分走起", 5),
    ("没让我失望", 4),
    ("袂歹啦", 4),
    ("良好", 4),
    ("不咸不淡的吧", 3),
    ("锤子满意 排了一上午队", 1),
    ("满意个锤子", 1),
    ("讚！", 5),
    ("好到冇得彈", 5),
    # the top of a larger scale with the word agreeing
    ("10分满意！", 5),
    ("100分满意", 5),
    # ordinary, money and likes: no rating
    ("医生说是普通感冒", None),
    ("这个钱我们一分都不会交", None),
    ("快手上俺都发了 点赞好几千了", None),
    # a double negation that rates nothing, beside a number
    ("3分吧，说不出哪里不好，也说不出哪里好", 3),
]

# Look-alikes whose reading must not change.
UNCHANGED: list[tuple[str, int | None]] = [
    ("非常满意 1分", None),        # a number contradicting overall words: asked
    ("医生5分，护士3分", 3),       # ratings of several things: the lower
    ("一分都不想给", 1),           # not even one point: the lowest
    ("挺普通的", 3),               # ordinary as a verdict
    ("失望", 2),
    ("很失望", 1),
    ("恢复良好", None),           # health, not a rating
    ("满意", 4),
    ("4.5分吧", None),             # unsure: asked
    ("点赞", None),
    ("⭐⭐⭐", 3),
    ("下午3点来的，4分", 4),
]


@pytest.mark.parametrize("parser", [RULES, WHOLE], ids=["rules", "whole"])
@pytest.mark.parametrize(("text", "score"), CASES + UNCHANGED)
def test_score_classes(parser: ReplyParser, text: str, score: int | None) -> None:
    assert parser.parse(text).score == score, text


@pytest.mark.parametrize("suffix", ["，谢谢", "😊", "！！"])
@pytest.mark.parametrize(("text", "score"), [c for c in CASES if c[1] is not None])
def test_politeness_keeps_the_score(suffix: str, text: str, score: int) -> None:
    assert RULES.parse(text + suffix).score == score, text + suffix


def test_unsure_forms_still_ask_with_the_lower() -> None:
    """The aspect change leaves a contradiction with overall words asked about."""
    r = RULES.parse("非常满意 1分")
    assert r.score is None and r.needs_confirmation and r.candidate == 1


def test_end_to_end_through_the_cli() -> None:
    """``survey-bot parse --jsonl`` gives the scores the table promises."""
    cases = CASES + UNCHANGED
    rows = parse_through_cli([t for t, _ in cases])
    assert [r["score"] for r in rows] == [want for _, want in cases]
