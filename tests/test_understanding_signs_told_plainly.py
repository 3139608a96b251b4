"""Warning signs told plainly, without a symptom word, and ratings in forms the rules lacked.

An older person who no longer knows their own people (唔認得人, 认不得我们), sees people who are
not there, lost a skill overnight (突然不会自己穿衣服) or leans to one side when walking; a
drain or a wound giving more each day (越流越多, 脓更多了) whatever was said before it; a wound
burst open (爆开咗); eyes turned yellow (Teochew 目); little urine the colour of soy sauce; an
ulcer growing; "can't keep water down"; a child's "不想活了" asked about as a joke ("是开玩笑
的吧？" is a worry, not a joke); a life felt as a burden.  Each is a red flag, beside a score
too; and their look-alikes are not: a face not known in the mirror after braces came off,
eyes no longer yellow, pain said *not* to grow, a project that fell through (项目都黄了), coming
back "from your place" (你们那回来) that frames no past episode.

Ratings: a lead word and an article before the number ("Overall a 3", "that's a 5"); two
rating words below satisfied read as the lower in either order ("不太满意，效果一般" is a 2);
"neither satisfied nor dissatisfied" is a 3; Korean ratings and stops.  Each runs through the
rules alone and the whole parser.
"""

from __future__ import annotations

import pytest

from surveys.parser import ReplyParser

PARSERS = {"rules": ReplyParser(recall=False), "whole": ReplyParser()}

RED_FLAGS = [
    "我爸这两天走路老往右边倒，之前好好的",
    "4分。就是外公这几天坐着身子老往一边歪",
    "外婆呢几日唔認得人，之前冇咁嘅",
    "我妈这两天认不得我了，老问我是谁",
    "奶奶昨晚老说看见有人站在床边，家里明明没人",
    "爷爷突然不会自己吃饭了，上周还好好的",
    "引流管里的液体越流越多，颜色也深了",
    "伤口渗液越渗越多，纱布一天换三次",
    "你们说没事，可今天脓更多了",
    "个刀口爆开咗，点算",
    "阿公目都黄去了，面也黄",
    "医生很好5分，就是我爸小便很少，颜色像酱油",
    "嘴里那个溃疡越来越大，吃不了东西",
    "mum can't keep anything down since yesterday",
    "孩子最近总说不想活了，是开玩笑的吧？",
    "老师挺好，4分。就是我觉得自己活着就是个负担",
    "我妈从你们那回来以后就有点糊涂，叫她都不认人了",
]

NOT_RED_FLAGS = [
    ("牙套戴了一年半终于拆了，照镜子都不认识自己了，五星", "a face not known in the mirror"),
    ("黄疸退了，眼睛都不黄了，谢谢王主任，五分", "eyes no longer yellow"),
    ("疼痛没有加重，比前两天轻", "pain said not to grow"),
    ("装修的项目都黄了，不过看牙很顺利，5分", "a project that fell through"),
    ("从你们那回来一切都好，谢谢", "coming back frames no past episode"),
]

SCORES = [
    ("Overall a 3.", 3),
    ("Dad's carer here. Overall 4. Dr Chen was very kind to him.", 4),
    ("I guess that's a 5", 5),
    ("不太满意，效果一般", 2),
    ("效果一般，不太满意", 2),
    ("满意，很好", 5),
    ("谈不上满意不满意", 3),
    ("좋아요", 4),
    ("괜찮아요", 3),
    ("별로예요", 2),
    ("안 좋아요", 2),
    ("최고예요!", 5),
]

OPT_OUTS = ["이제 문자 보내지 마세요", "5점. 그만 보내세요", "수신거부"]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("text", RED_FLAGS)
def test_signs_told_plainly_are_red_flags(parser: str, text: str) -> None:
    assert PARSERS[parser].parse(text).red_flag, text


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(("text", "why"), NOT_RED_FLAGS)
def test_their_look_alikes_are_not(parser: str, text: str, why: str) -> None:
    assert not PARSERS[parser].parse(text).red_flag, why


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize(("text", "score"), SCORES)
def test_ratings_in_these_forms(parser: str, text: str, score: int) -> None:
    assert PARSERS[parser].parse(text).score == score


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("text", OPT_OUTS)
def test_korean_stops(parser: str, text: str) -> None:
    assert PARSERS[parser].parse(text).opt_out, text


def test_a_korean_stop_keeps_the_score_beside_it() -> None:
    intent = PARSERS["whole"].parse("5점. 그만 보내세요")
    assert intent.opt_out and intent.score == 5
