"""Self-harm told outright or obliquely: when a hit is none.

The words of a self-harm hit (the lexicon's, the composed rules' and redflag.toml's
``self_harm``) take these exclusions, not the symptom layer's ("药我已经攒好了": 好了 resolves
nothing; "想死，已经好几天了" goes on): denied, missing someone, someone else's words or a
story, a joke, past and over, a question about the service, an ordinary roof or kitchen
(:func:`self_harm_why`).  Brooding on a way out ("控制不住地想，要是跳下去是不是就解脱了") is
the thought itself, not a supposition.
"""

from __future__ import annotations

import re
from typing import Final

from surveys.understanding.circumstance import (
    DEATH_IDIOM_RE,
    IDIOM_GRIEVANCE_RE,
    JEST_BEFORE_RE,
    JEST_DEATH_RE,
    LAUGH_RE,
    SERIOUS_RE,
)
from surveys.understanding.compose import strings, table
from surveys.understanding.resolution import (
    RF_DENY_BEFORE_RE,
    hypothetical,
)
from surveys.understanding.text import bounds

# The words of a self-harm hit (the lexicon's, the composed rules' and redflag.toml's
# self_harm): these take self_harm_why's exclusions, not the symptom layer's ("药我已经攒好了":
# 好了 resolves nothing; "想死，已经好几天了" goes on).
SELF_HARM_WORD_RE: Final = re.compile(
    r"想死|去死|寻死|不如死|死了算|一起死|怎么死|怎样死|如何死|[掐捂摔弄闷]死|活(?:着|不下|够)"
    r"|不想再活|自杀|轻生|自残|割腕|又(?:划|割)|[划割]伤?了?自己|手腕|新的伤口|新[划割]的|一了百了"
    r"|想不开|撑不下去|解脱|结束"
    r"|了结|遗书|遗言|绝笔|后事|永别|下辈子|跳(?:楼|河|江|湖|桥|崖|轨)|^从|负担|累赘|拖累|包袱"
    r"|作伴|做伴|团聚|攒|刀(?![口疤])|刀片|遗|留了?(?:一封|几封)?信|写好了?信|信\S{0,3}写好"
    r"|告别|道别|再见"
    r"|东西\S{0,4}[送分]|楼顶|天台|顶楼|站在|想(?:再)?醒|再醒|一睡不醒|永远|消失|不在了|没有我|没了我"
    r"|离开这个世界|一起(?:走|去)|早点走|活够|够了|跳下去|醒过来|划手|割手|刀痕|划痕|割痕|做出|干出"
    r"|托付给|想做的事|车撞|不用再面对|[瞓睡]不醒|自[沙刹煞]|轻声|不用(?:再)?麻烦你们"
    r"|药(?:一次性?)?(?:都|全)?(?<=[次性都全])(?:吃|吞)|gave away|giving away"
    r"|kill|end my life|suicid|want to die|live|can't go on|point|goodbye|all to"
    r"|everything to|without me|gone|wake up|note for|away my things|roof|bridge|harm|cut")
_SH_ORDINARY_RE: Final = re.compile(
    "|".join(re.escape(w) for w in strings(table("redflag"), "self_harm_ordinary")))
# hits that hold their own condition or plan ("要是我不在了大家都轻松", "没有药攒着")
_SH_OWN_IF_RE: Final = re.compile(r"攒|不在了|消失|没有我|没了我|醒过来|做出|干出|撞过来|撞死")
# a worry about a side effect: "会不会吃了这个药以后想不开啊"
_SH_WORRY_RE: Final = re.compile(r"副作用|会不会(?!是|好一点|好些|轻松|更好)|side effect")
# "想死你们了", "想死我了": missing someone, not dying
# a thought that keeps coming, of a way out: "控制不住地想，要是从阳台跳下去是不是就解脱了"
_SH_BROODING_RE: Final = re.compile(
    r"控制不住|忍不住|[老总]是?想|一直想|一直在想|经常想|常常想|反复想|脑子里|念头"
    r"|can't stop thinking")
_SH_RELEASE_RE: Final = re.compile(
    r"解脱|一了百了|轻松了|就好了|就结束了|不用再|就不用|不再受|be free|be over")
_SH_MISS_RE: Final = re.compile(r"想死(?:你|您|大家|我了|我啦|他|她|宝宝|孩子|了你)")
# someone else's words, a story, a joke: "电影里主角写好了遗书", "我朋友说他不想活了是开玩笑的"
_SH_STORY_RE: Final = re.compile(
    r"电影|电视剧|剧里|剧中|书里|书上|小说|主角|主人公|新闻|歌词|台词|故事|综艺|短视频|抖音上"
    r"|口头禅|动画片|学来的"
    r"|(?<!不是)(?<!没)(?<!没有)(?<!没在)(?<!是不是)(?:开玩笑|说着玩)(?![^,，。!?；;]{0,2}[吧吗么嘛?？])"
    r"|帮(?:朋友|别人|同学|同事)问|替(?:朋友|别人)问|in the (?:film|movie|book|show)"
    r"|a (?:film|movie|book|show)|joking|kidding")
# past and over: "去年有过这种想法，现在好多了" (but "最近又开始了" is ongoing)
_SH_PAST_RE: Final = re.compile(
    r"以前|之前|去年|前年|前几年|[一两三四五六七八九十几\d]+年前|上一次|上次|那段时间|那时候|那阵子|曾经|过去|有段时间|有一段时间|当时|小时候"
    r"|used to|last year|years ago|in the past")
_SH_OVER_RE: Final = re.compile(
    r"已经没有了|早就没有了|现在没有了|再也没有|已经不想了|现在好多了|现在好了|已经好了|好多了|走出来了|都过去了|已经过去|过去了|现在很好|现在挺好|现在没事"
    r"|没有这种想法了|没这种想法了|不再想|很稳定|稳定了|控制住了|不会再想|早就不想|现在不想了|恢复了|康复了"
    r"|much better now|better now|i'?m fine now|i'?m ok now|over it|not anymore")
_SH_RECENT_RE: Final = re.compile(
    r"最近|这几天|这两天|这阵子|这段时间|又(?!好)|还是|还在|还会|还有|现在还|今天|昨天|昨晚|今晚|刚才|刚刚|每天"
    r"|天天|还一直|一直想|一直有|一直在想|again|lately|recently|still|these days")
# said outright (dying, killing oneself, not wanting to live): no setting makes it ordinary
_SH_EXPLICIT_RE: Final = re.compile(
    r"死|自杀|轻生|自残|割腕|活(?:着|不下|够)|不想再?活|一了百了|了结|遗书|遗言|绝笔"
    r"|kill|suicid|want to die|end my life")
# a question about the service: "请问心理咨询热线是多少", "自杀干预怎么收费"
_SH_SERVICE_RE: Final = re.compile(
    r"热线|心理科|心理咨询|咨询师|门诊|挂号|收费|预约|讲座|干预|科普|宣传|hotline|helpline")
_SH_ASKED_RE: Final = re.compile(r"请问|吗|多少|怎么(?:收|挂|约|联系|预约)|几点|周几|哪天|[?？]")
_SH_FIRST_PERSON_NOW_RE: Final = re.compile(r"我(?:现在|真的|一直|最近|又|还)")


def self_harm_why(norm: str, s: int, e: int) -> str:
    """Why a self-harm hit at ``norm[s:e]`` is none ("" if it stands): denied, missing
    someone, someone else's words or a story, a joke, past and over, a question about the
    service, an ordinary roof, move, kitchen or letter."""
    cs, ss, se = bounds(norm, s, e)
    # brooding on it: the supposition is the thought itself, no denial or question in general
    brooding = _SH_BROODING_RE.search(norm, ss, s) is not None and \
        _SH_RELEASE_RE.search(norm, s, se) is not None
    # ("不知道活着还有什么意思": a hedge, no denial)
    if RF_DENY_BEFORE_RE.search(norm, max(cs, s - 8), s) is not None and not brooding and \
            not norm.startswith("不想", s) and _SH_OWN_IF_RE.search(norm, s, e) is None and \
            not norm.startswith("不知道", s - 3):
        return "denied"
    if _SH_OWN_IF_RE.search(norm, s, e) is None and not brooding and (
            hypothetical(norm, ss, se, s) or _SH_WORRY_RE.search(norm, ss, se) is not None):
        return "hypothetical or asked in general"
    if _SH_MISS_RE.match(norm, s) is not None:
        return "missing someone"
    if JEST_DEATH_RE.search(norm, s, e) is not None and (
            JEST_BEFORE_RE.search(norm, max(cs, s - 3), s) is not None
            or LAUGH_RE.search(norm, ss, se) is not None) and \
            SERIOUS_RE.search(norm, ss, se) is None:
        return "said in jest"
    if DEATH_IDIOM_RE.match(norm, s) is not None and IDIOM_GRIEVANCE_RE.search(norm) is not None \
            and SERIOUS_RE.search(norm) is None:
        return "an idiom about a grievance"  # "等了三个小时，想死的心都有了"
    if _SH_STORY_RE.search(norm) is not None and _SH_FIRST_PERSON_NOW_RE.search(norm) is None:
        return "someone else's words or a story"
    if _SH_PAST_RE.search(norm) is not None and _SH_OVER_RE.search(norm) is not None and \
            _SH_RECENT_RE.search(norm) is None:
        return "past and over"
    if _SH_SERVICE_RE.search(norm) is not None and _SH_ASKED_RE.search(norm) is not None and \
            _SH_FIRST_PERSON_NOW_RE.search(norm) is None:
        return "a question about the service"
    if _SH_ORDINARY_RE.search(norm, ss, se) is not None and \
            _SH_RECENT_RE.search(norm, ss, se) is None and \
            _SH_EXPLICIT_RE.search(norm, s, e) is None:
        return "ordinary here"
    return ""
