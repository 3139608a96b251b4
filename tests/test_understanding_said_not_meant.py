"""Stop words said and not meant, and ratings in forms the rules lacked.

A stop word of ours sits in many sentences that stop nothing: a call put off until the
person calls back ("别打了 我在开车 晚点回你"), another number or way offered ("打我家座机",
"有事发微信"), a heart that stopped for a moment (心跳骤停), a class or a medicine stopped, a
black stool (拉黑便), the slang of embarrassment (原地去世), a grievance let go before a
rating ("……算了，给个3分"), a wish to face nothing any more, someone who does not know whom to
tell, a relative who writes "I am not the patient" about their father.  Each is no opt-out,
while the plain stop beside it still is one.

Ratings: a stated 10- or 100-point scale is halved or divided by 20 when it falls on a score
("按十分打8分" is a 4, "我给80分" a 4), and is confirmed with the lower score when it falls
between two (docs/labels.md); a star after a count and its punctuation decorates it
("五星！！🌟" is a 5); a value after a measurement ("视力1.2") rates nothing; a rating word in
a question about the scale ("3分是什么意思？中等吗") is asked, not given; dialect ratings
(伐错, 歹得很, 杠赛, 瞎得很) and 五分 heard as 武分 by voice input.  Each runs through the rules
alone and the whole parser.
"""

from __future__ import annotations

import pytest

from surveys.parser import ReplyParser

PARSERS = {"rules": ReplyParser(recall=False), "whole": ReplyParser()}

NOT_OPT_OUTS = [
    "别打了 我在开车 晚点回你",
    "先别打了 宝宝刚哄睡 晚点我打回去",
    "别打我手机了，打我家座机，白天都有人",
    "别打电话了 我听不见 有事发微信",
    "我爸做肠镜的时候心跳骤停，幸好你们医生抢救得快，真的谢谢你们",
    "让你们校长出来说清楚，凭什么把书法班停了",
    "湿疹反反复复，药停了就复发，有点灰心。3分",
    "做完胃镜第二天拉黑便，今天又拉了一次",
    "科二再挂我就原地去世了哈哈哈",
    "甭跟我来这套，明儿我直接找你们院长去",
    "孩子眼睛治好了但你们那个收费处的态度……算了，给个3分",
    "放心我不会去消协的，只是希望你们的咨询师别那么能吹",
    "I keep thinking about it all the time. I don't know who to tell.",
    "我自己有点头晕，不过我不是病人哈，我爸恢复得挺好",
]

OPT_OUTS = [
    "别打了",
    "别再打了，晚点也别打",
    "再发我就拉黑了",
    "停了吧",
    "甭发了 烦",
    "算了",
    "算了，别发了",
    "I don't know who you are",
    "我不是病人，你打错了",
]

SCORES = [
    ("按十分打8分", 4),
    ("10分制：6", 3),
    ("课程挺好，我给80分", 4),
    ("六十分吧，及格", 3),
    ("零蛋", 1),
    ("五星！！🌟 焦虑少了一大半", 5),
    ("5星！！⭐", 5),
    ("视力1.2，散光0.5，挺满意", 4),
    ("伐错额", 4),
    ("歹得很！大夫看得好", 5),
    ("杠赛 大夫杠好", 5),
    ("瞎得很，再也不来了", 1),
    ("眼睛好多了，给你们打武分", 5),
    ("3分是什么意思？中等吗", None),
    ("小朋友视力查了0.8和1.0，医生说可以减少遮盖时间了", None),
    ("孩子数学考了80分，老师教得好", None),
]

CASES = [*((t, False) for t in NOT_OPT_OUTS), *((t, True) for t in OPT_OUTS)]


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize(("text", "want"), CASES)
def test_stop_words(kind: str, text: str, want: bool) -> None:
    r = PARSERS[kind].parse(text)
    assert bool(r.opt_out or r.opt_out_unsure) == want, r.explain()


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize(("text", "score"), SCORES)
def test_ratings(kind: str, text: str, score: int | None) -> None:
    r = PARSERS[kind].parse(text)
    assert r.score == score, r.explain()


@pytest.mark.parametrize("kind", PARSERS)
def test_a_black_stool_stays_a_red_flag(kind: str) -> None:
    r = PARSERS[kind].parse("做完胃镜第二天拉黑便，今天又拉了一次，还是黑的，人没劲")
    assert r.red_flag and not r.opt_out, r.explain()
