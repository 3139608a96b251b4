"""Table tests for the scope of a red flag: when a symptom is told, and whose it is.

A symptom is a red flag when it is the patient's and happening now (docs/labels.md).  These
rules keep the rules' red flags precise without giving up one: a past episode framing the
sentence ("上次……") with nothing still going on, a finished duration ("肿了一个星期") with
nothing ongoing, a resolution told later ("后来就止住了"), a conditional ("……的话") or a
question after a hypothetical sentence, a comparison or a lessening that says better, a
worsening denied, mild discomfort softened or asked about as normal, fright or hyperbole, and
someone else's symptom while the writer is fine.  Each pattern has look-alikes beside it that
must stay red flags: something still ongoing, a resolution negated, a sign that is no mild
one, the patient's own symptom.  Both the rules alone and the whole parser are checked.
"""

from __future__ import annotations

import pytest

from surveys.parser import ReplyParser

RULES = ReplyParser(recall=False)
WHOLE = ReplyParser()

NOT_NOW = [
    # a past episode framing the sentence, nothing ongoing after it
    "上回补牙的时候疼得我直冒冷汗，医生也不停一下",
    "上次在你们那里疼得直哭也没人管",
    "那次住院伤口感染了，拖了好久才出院，这回顺利多了",
    "当时抽完血晕了一下，护士扶我坐了会儿",
    "之前在外面诊所拔牙流了好多血，这边处理得好多了",
    "孩子肺炎那次烧得厉害，多亏你们医生",
    # a finished duration of a minor symptom, no final 了, nothing ongoing
    "做完种植牙脸肿了五天，也没人告诉我要冰敷",
    "打完针胳膊疼了两个星期，护士手法太差",
    "牙龈出了三天血，医生都没交代一声",
    # resolved later in the reply
    "昨晚伤口渗血吓了一跳，后来按着纱布就止住了",
    "下午突然肚子疼，然后吃了点东西就不疼了",
    # a conditional, and a question after a hypothetical sentence
    "伤口裂开的话要马上回医院吗",
    "要是夜里伤口出血怎么办？要去急诊吗",
    # better, compared or lessened; a worsening denied
    "腿肿比上周轻多了",
    "还是有点渗血，不过比昨天少很多",
    "疼痛没有再加重，能睡着",
    # mild discomfort, softened or asked about as normal
    "吃了药胃有点不舒服，下午就好些",
    "做完有点恶心，这个正常吗",
    "坐车有点晕，要紧吗",
    # fright or hyperbole
    "看到收费单差点吓晕",
    "挂号排队排到吐",
    # someone else's, while the writer is fine
    "我自己挺好，倒是我老婆这两天咳得厉害",
    "我同病房的阿姨半夜一直吐，我没事",
    "听说有个老太太拔牙后出血不止，我倒是好好的",
    "哥哥也在咳嗽，不过他是在别的医院看的",
    # a hypothetical question, whatever it supposes ("又")
    "万一夜里又吐起来怎么办？需要去急诊吗",
    # over since, or a thing of the past
    "心口疼是前年的事了，做了手术以后再没疼过",
    # dried or healed; occasional; a minor sign and the patient well
    "刀口前两天有点渗液，现在已经干了",
    "偶尔咳两声，别的都好",
    "手臂上起了几个小红疹，不痒，精神挺好",
]

STILL_RED = [
    # a past frame, but something goes on now
    "上回拔的那颗牙，现在还在出血",
    "上次手术以后一直发烧，到现在也没退",
    "之前就有点肿，现在肿得更厉害了",
    "那天回来以后又开始吐，怎么办",
    "上次开的安眠药一次吃了十几粒",
    "上次拔的牙出血不止，怎么办",
    # a duration still running: final 了, 还, 已经
    "脸肿了五天了，一点没消",
    "疼了两个星期，还是疼得睡不着",
    "已经烧了三天，39度多",
    # a resolution negated, or undone later
    "血一直没止住，后来也没止住",
    "后来好了一会儿又开始出血",
    "烧到现在也没退",
    # the same words happening now
    "伤口裂开了，要马上回医院吗",
    "现在烧到39度怎么办？要去急诊吗",
    "腿肿得比上周还厉害",
    "渗血比昨天多",
    "疼痛越来越重，没有好转",
    # no mild sign: severe, fainting, breathing
    "头晕得站不住，刚才还晕倒了",
    "有点喘不上气，正常吗",
    "胃疼得受不了，这个正常吗",
    # the patient's own symptom, with another person named
    "我老婆说我一直在咳血",
    "同学把孩子眼睛戳到了，现在眼睛通红睁不开",
    "我挺好的，就是伤口一直流脓",
    "哥哥在别的医院看的，我家宝宝一直发烧",
    "万一又吐起来怎么办？现在已经吐了三次了",
    "心口疼，做了手术以后还疼",
    "刀口一直渗液，现在还没干",
    "偶尔咳血",
    "身上起了红疹子，一直发烧，精神挺好",
    "宝宝吐了三次，精神还好",
]


@pytest.mark.parametrize("parser", [RULES, WHOLE], ids=["rules", "whole"])
@pytest.mark.parametrize("text", NOT_NOW)
def test_not_a_red_flag_now(parser: ReplyParser, text: str) -> None:
    assert not parser.parse(text).red_flag, parser.explain(text)


@pytest.mark.parametrize("parser", [RULES, WHOLE], ids=["rules", "whole"])
@pytest.mark.parametrize("text", STILL_RED)
def test_look_alikes_stay_red_flags(parser: ReplyParser, text: str) -> None:
    assert parser.parse(text).red_flag, parser.explain(text)


@pytest.mark.parametrize(("text", "why"), [
    ("上次在你们那里疼得直哭也没人管", "a past episode"),
    ("做完种植牙脸肿了五天，也没人告诉我要冰敷", "a finished episode"),
    ("昨晚孩子吐得很厉害，我们半夜抱着去了你们的急诊，排了很久的队，医生看了开了药，后来就好了",
     "resolved later in the reply"),
    ("看到收费单差点吓晕", "fright or hyperbole"),
    ("我自己挺好，倒是我老婆这两天咳得厉害", "about someone else"),
])
def test_the_explanation_names_the_reason(text: str, why: str) -> None:
    notes = [e.note for e in RULES.parse(text).evidence if e.rule == "red_flag_denied"]
    assert why in notes, RULES.explain(text)
