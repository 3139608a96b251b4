"""Words that look like ratings and are not: "还可以在…吗" (still allowed), "还好意思" (the
nerve), "3Q" (thanks), "满不满意" (the question itself), "不满意是不可能的" (a denied
complaint), "满意是谈不上" (denied satisfaction), "还差三节课" (short of), and the patient's
state ("脸色很差", "胃口不太好") -- beside the real ratings they must not swallow."""

from __future__ import annotations

import pytest

from surveys.parser import parse

CASES: list[tuple[str, int | None]] = [
    # still allowed to / can still
    ("二胎的孕检还可以在你们那建档吗", None),
    ("下个月还可以去你们那复查吗", None),
    ("这个药还可以继续吃吗", None),
    ("医保卡还可以用吗", None),
    ("还可以", 3),
    ("还可以吧，排队有点久", 3),
    ("整体还可以", 3),
    # the nerve of it
    ("收了我三千块还好意思问满不满意", None),
    ("让我等了三个小时，还好意思说服务好", None),
    ("还好", 3),
    ("还好吧，医生挺耐心", 3),
    # thanks written with a digit
    ("3Q", None),
    ("3q 医生辛苦了", None),
    ("3ks", None),
    ("3", 3),
    ("3分", 3),
    # the A-not-A question
    ("别再问我满不满意了", None),
    ("你们天天问好不好，烦不烦", None),
    ("不满意", 2),
    ("有点不满意", 2),
    # a denied complaint / denied satisfaction
    ("不满意是不可能的", None),
    ("不满意那是不可能的", None),
    ("不满意那是不可能的，老师太好了", 5),  # the praise still rates
    ("满意是谈不上", None),
    ("满意说不上，就是来看个病", None),
    ("满意", 4),
    ("很满意", 5),
    # short of
    ("还差三节课没上", None),
    ("课还差两节，怎么补", None),
    ("差", 2),
    ("太差了", 1),
    # the patient's state, not our service
    ("我妈今天脸色很差，一直出冷汗", None),
    ("这两天胃口不太好", None),
    ("孩子精神不好，睡眠也很差", None),
    ("很差", 1),
    ("服务也就一般", 3),
]


@pytest.mark.parametrize(("text", "score"), CASES, ids=[t for t, _ in CASES])
def test_rating_lookalikes(text: str, score: int | None) -> None:
    got = parse(text)
    assert got.score == score, got.explain()


def test_a_stated_score_survives_a_symptom_in_the_same_reply() -> None:
    got = parse("打5分，不过孩子今天又烧起来了，39度多，精神也不好")
    assert got.score == 5 and got.red_flag
