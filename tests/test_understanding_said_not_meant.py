"""Stop words said and not meant, and ratings in forms the rules lacked.

A stop word of ours sits in many sentences that stop nothing: a call put off until the
person calls back ("别打了 我在开车 晚点回你"), another number or way offered ("打我家座机",
"有事发微信"), a heart that stopped for a moment (心跳骤停), a class or a medicine stopped, a
black stool (拉黑便), the slang of embarrassment (原地去世), a grievance let go before a
rating ("……算了，给个3分"), a wish to face nothing any more, someone who does not know whom to
tell, a relative who writes "I am not the patient" about their father, a meeting with WeChat
offered instead, messages asked for on the writer's own phone, how to leave the notices asked
about, a name typed wrongly on a certificate, a photo that needs no blurring (不用打码).  Each
is no opt-out, while the plain stop beside it still is one -- and so are a stop in traditional
usage (請不要再傳簡訊), in Japanese, "stop" after a score, 不用再麻烦你们打电话, a name denied
(我不叫王建国).

Red flags that are none: a call not heard by someone hard of hearing (耳背，电话听不见), a
friend's or a sister's sign, pain during a procedure told as a grievance (复位的时候疼得嗷嗷叫),
the writer's own ache beside a child who is doing well, a mild swelling a nurse said is the
expected course.  An ear named, a sudden loss, pain growing after the procedure, a swelling
growing whatever a nurse said stay red flags.

Ratings: a stated 10- or 100-point scale is halved or divided by 20 when it falls on a score
("按十分打8分" is a 4, "我给80分" a 4), and is confirmed with the lower score when it falls
between two (docs/labels.md); a star after a count and its punctuation decorates it
("五星！！🌟" is a 5); a value after a measurement ("视力1.2") rates nothing; a rating word in
a question about the scale ("3分是什么意思？中等吗") is asked, not given; dialect ratings
(伐错, 歹得很, 杠赛, 瞎得很) and 五分 heard as 武分 by voice input; a numeral or an acceptance
word after a label (评分：五, 娃帮俺回：中, not 床号：三); a joke taken back (开玩笑的); a
match's score, minutes and more, millimetres, a cent (一分一分攒的) are no ratings, while
"一分都不想给" is a 1; Japanese ratings.  Each runs through the rules alone and the whole
parser.
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
    "会议中勿扰，有事微信留言",
    "你们发的消息我妈看到了，以后发我自己手机就行，别发她那了",
    "请问怎么退出这个通知？",
    "出生证明上名字打错了一个字，改一次要跑好几趟",
    "照片你们可以用，不用打码，效果好我乐意😂 满意",
    "我不叫他来了，他自己会来",
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
    "請不要再傳簡訊給我，謝謝",
    "もう連絡しないでください",
    "4分 stop",
    "我妈说她挺好的，不用再麻烦你们打电话回访了",
    "我不叫王建国",
    "以后这类信息请不要发到我手机上",
    "以后有事我自己会联系你们的",
]

NOT_RED_FLAGS = [
    "耳背，电话听不见，请以后发文字。满意",
    "请打我老婆电话，她比较清楚，我在工地听不见",
    "我闺蜜在你们这做鼻子发炎了，我有点怕",
    "我姐也在你们这做的，她现在出血了在家躺着，我的一切都好，给你们5分",
    "复位的时候孩子疼得嗷嗷叫，你们没给打麻药吗？",
    "我是外婆，我自己这阵子胸口老疼，不过孩子上课挺好的，满意",
    "额头肿了，有点到眼皮上了，护士说第三天都这样",
]

RED_FLAGS = [
    "做完手术耳朵听不见了，打电话都听不见",
    "孩子突然听不见了",
    "复位以后一直疼得厉害，越来越肿",
    "肿得越来越厉害，护士说都这样",
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
    ("回复：五", 5),
    ("双胞胎都出院了！评分：五", 5),
    ("床号：三", None),
    ("俺不识字，娃帮俺回：中", 3),
    ("管", 3),
    ("嗯嗯可以", 3),
    ("差评！哈哈开玩笑的，五星好评", 5),
    ("今天比赛我们3比1赢了！！！", None),
    ("孩子说他3000米跑了11分多", None),
    ("我同事也有一颗结石，5毫米", None),
    ("学费是我自己打工攒的，一分一分攒的", None),
    ("一分都不想给", 1),
    ("3分是什么意思？1分是最好的吗", None),
    ("まあまあです", 3),
    ("最高でした！ありがとうございました", 5),
    ("现在能自己从床上挪到轮椅上了，满意得很", 5),
]

CASES = [*((t, False) for t in NOT_OPT_OUTS), *((t, True) for t in OPT_OUTS)]
RED_FLAG_CASES = [*((t, False) for t in NOT_RED_FLAGS), *((t, True) for t in RED_FLAGS)]


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
@pytest.mark.parametrize(("text", "want"), RED_FLAG_CASES)
def test_signs(kind: str, text: str, want: bool) -> None:
    r = PARSERS[kind].parse(text)
    assert r.red_flag == want, r.explain()


@pytest.mark.parametrize("kind", PARSERS)
def test_a_black_stool_stays_a_red_flag(kind: str) -> None:
    r = PARSERS[kind].parse("做完胃镜第二天拉黑便，今天又拉了一次，还是黑的，人没劲")
    assert r.red_flag and not r.opt_out, r.explain()
