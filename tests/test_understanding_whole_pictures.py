"""Warning signs told as a whole picture, not by a symptom word the rules knew, and the stops
that go with them.

A faint is a warning however soon the person came round; a resolution said not to have
happened in English is none; a fever the medicine does not touch or that keeps climbing; a
glucose that will not come down; breathless lying flat, or pounds put on in days; no stool
and no wind; a small object or another child's medicine swallowed, told after a pause; sight
lost suddenly (also by a voice-input homophone), a part of the field gone, a shower of
floaters; speech gone confused; the other side being fine is not this side's recovery;
brooding on a way out. Each case runs through the rules alone and the whole parser (the model
may add a red flag, never clear one). Their look-alikes -- a faint long past, floaters for
years, a pain pump not used, medicine mixed up by the pharmacy, a
weight gained over months -- stay off.

Disputes: a family coming to make a scene, 卫健委 by voice input or pinyin, Hong Kong's 卫生署,
threats in English, a record to be falsified for insurance, a refusal to pay. Opt-outs: a
death told calmly by the family stops the messages; a quoted unsubscribe footer
asked about (whose it is, what it costs, what TD means) and a footer declined in English do
not.
"""

from __future__ import annotations

import pytest

from surveys.parser import ReplyParser

PARSERS = {"rules": ReplyParser(recall=False), "whole": ReplyParser()}

RED_FLAGS = [
    # consciousness lost, however soon they came round
    "我老伴昨天下午突然晕过去了 十几秒就醒了 现在说没事",
    "我妈刚才在厕所晕倒了，一会儿就醒了，说没事了",
    "老人在家晕倒了一次 刚才的事 现在醒了",
    "he fainted this morning but he's fine now",
    # a resolution said not to have happened, in English
    "the bleeding hasn't stopped since the extraction",
    "Her fever won't come down, still 39.4",
    "the swelling is not going down at all",
    # a fever the medicine does not touch, or climbing
    "退烧药吃了也没用，一直烧",
    "喂了退烧药也不管用，孩子还是烧",
    "体温一直往上走，38.5到39.6了",
    "孩子越烧越高，怎么办",
    # glucose that will not come down
    "血糖一直十六七 降不下来",
    "血糖高 打了胰岛素也没用 口渴得厉害",
    # breathless lying flat, weight put on in days
    "晚上躺不平，得坐着才能睡",
    "这两天要垫三个枕头才能睡着",
    "出院才四天体重长了五斤，脚也肿",
    # no stool and no wind
    "五天没大便了，肚子胀，也不放屁",
    "术后便秘，到现在都没排气",
    # swallowed, told after a pause
    "遥控器里的纽扣电池不见了，孩子说他吃了",
    "发现磁铁少了两颗，宝宝说她吞了",
    "孩子书包里有别的小朋友的药，他说吃了三颗",
    # sight
    "眼睛突然看不剑了",
    "看东西左边少了一块，像被挡住",
    "眼前突然好多黑点，像下雨",
    # speech gone confused
    "我爸今天说话有点乱，叫错人",
    "阿妈讲嘢好乱，唔认得人",
    # this side, the other side fine
    "右腿突然肿得厉害，又胀又疼，左边没事",
    # brooding on a way out
    "我总是想，要是从楼上跳下去是不是就解脱了",
    "控制不住地想，要是吃了那一瓶药是不是就一了百了",
    # a sign beside an unanswered phone is the need, not a grievance's circumstance
    "孩子术后吐血，打你们电话都没人接！",
    # the other leg fine, someone saying it is nothing, what is gone
    "出院后右小腿肿了，走路就疼，左腿没事",
    "我爸今天拉的大便是黑的，他自己说没事",
    "吃了这个药一个礼拜，眼睛发黄，胃口也没了",
    # a saturation low, a missed dialysis, a fistula gone quiet, a bedsore to the bone
    "血氧只有88，吸着氧也上不去",
    "这周透析没去成，下一次要等到周五",
    "内瘘那里不震了，摸不到跳动",
    "褥疮烂得看见骨头了",
    # a neck tight after thyroid surgery, a scrotum swollen, little urine, none in English
    "甲状腺手术后脖子发紧，呼吸声音很响",
    "阴囊肿得比鸡蛋还大，有点疼",
    "一整天只解了一点尿，颜色很深",
    "She hasn't passed any urine since this morning",
    # self-harm in words no table held
    "孩子走了以后，我觉得不如跟他一起走算了",
    "有时候想，要是明天不用醒过来就好了",
    "我又开始划胳膊了",
    "女儿手腕上好多划痕，问她她说没事",
    "刚刚把安眠药吃了一整板",
    "活了九十岁够了，不想拖累孩子，想早点走",
    "站在阳台上想，跳下去是不是就不用上学了",
    "我三天没睡了，怕我会对她做出什么事来",
]

NOT_RED_FLAGS = [
    # a faint long past
    "晕倒过一次那是住院前的事，现在好多了",
    "上个月我妈在家晕倒过一次后来住院查了没什么事现在挺好的",
    # floaters for years, a chronic little
    "眼前有一两个小黑点飘来飘去，好多年了，做手术之前就有",
    # 没用: not used, not useless
    "我们根本没用那个镇痛泵也收了八百",
    # medicine mixed up by the pharmacy (a complaint)
    "药房把药发错了，我拿回家才发现是别人的药，已经吃了一顿",
    # weight over months, a baby thriving
    "宝宝三个月体重长了五斤，医生说很好",
    # the fever medicine asked about, no fever
    "退烧药家里还有，要不要再备一盒",
    # an ordinary lying-flat question
    "做完眼睛手术能平躺吗",
    # a saturation that is normal, dialysis done, sides compared and fine
    "血氧98，挺好的",
    "今天透析做完了，一切顺利",
    "跟他一起去复查了，医生说恢复得不错",
]

DISPUTES = [
    "再不处理，我们全家都到医院来闹",
    "不给个说法我们就不走了",
    "我要去卫键委投速你们",
    "wo yao tou su dao wei jian wei",
    "我會向衛生署投訴",
    "Refund me or I'm posting this on Xiaohongshu",
    "I want to speak to the hospital director today.",
    "住院天数能不能多写两天，保险按天赔",
    "能不能把理疗开成治疗项目，这样医保能报",
    "这钱我一分都不会再交",
]

OPT_OUTS = [
    "谢谢你们 我老公上个月在安宁病房走了 走得很平静",
    "我婆婆上周走的 寿终正寝 是喜丧 谢谢你们",
    "这个号不是我的 我没在你们那报过名",
    "甭再打咧",
]

NOT_OPT_OUTS = [
    "你们短信结尾那个'回TD退订'，回了会扣话费吗？",
    "收到一条写着回T退订的短信，是你们发的吗",
    "后面写着回T退订 会不会是骗子",
    "TD是啥意思？回了会不会把孩子的课取消掉",
    "The text says reply STOP to unsubscribe - I don't want to, just asking about my appointment.",
]


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize("text", RED_FLAGS)
def test_whole_picture_is_a_red_flag(kind: str, text: str) -> None:
    assert PARSERS[kind].parse(text).red_flag, text


@pytest.mark.parametrize("text", NOT_RED_FLAGS)
def test_look_alike_is_not_a_red_flag(text: str) -> None:
    assert not PARSERS["rules"].parse(text).red_flag, text


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize("text", DISPUTES)
def test_threat_to_take_it_further_is_a_dispute(kind: str, text: str) -> None:
    r = PARSERS[kind].parse(text)
    assert r.dispute and r.complaint, text


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize("text", OPT_OUTS)
def test_stop_is_an_opt_out(kind: str, text: str) -> None:
    r = PARSERS[kind].parse(text)
    assert r.opt_out and not r.opt_out_unsure, text


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize("text", NOT_OPT_OUTS)
def test_footer_asked_about_is_no_opt_out(kind: str, text: str) -> None:
    r = PARSERS[kind].parse(text)
    assert not r.opt_out and not r.opt_out_unsure, text


def test_a_recent_faint_outlasts_its_recovery_but_not_its_past() -> None:
    """The same words, with the faint told as recent or as past."""
    rules = PARSERS["rules"]
    assert rules.parse("昨天晕倒了一次，现在没事了").red_flag
    assert not rules.parse("去年晕倒过一次，现在没事了").red_flag
