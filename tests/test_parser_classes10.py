"""Table tests for the opt-out and red-flag classes found missing in heldout10.jsonl.

Each class has positives worded differently from the set that revealed it, and look-alikes
that must not fire: the rules are meant for the next unseen replies, not for these lines.
"""

from __future__ import annotations

import pytest

from surveys.parser import parse

RED_FLAGS: dict[str, list[str]] = {
    "pregnancy warning signs": [
        "32周了，今天一上午都没感觉到宝宝踢我", "羊水好像破了", "好像破水了，还没到预产期",
        "这两天胎动少了很多", "一上午感觉不到胎动", "宝宝今天不怎么踢了",
    ],
    "little or no urine, no tears": [
        "我爸出院后一直没怎么尿，肚子下面鼓鼓的", "孩子从早上到现在就尿了一次",
        "哭都没眼泪了", "老人尿不出来，很难受",
    ],
    "child drowsy, floppy or dehydrated": [
        "孩子一直睡，喊他睁一下眼又睡过去", "宝宝抱在手里软趴趴的", "伢儿屙了一天的稀，人都蔫了",
        "二宝今天蔫蔫的", "娃拉了一天的稀",
    ],
    "child swallowed medicine or an object": [
        "两岁的娃把他奶奶的降压药吃了两粒", "孩子把我的安眠药吃了", "宝宝吞了一颗纽扣电池",
        "孩子偷吃了外婆的降糖药",
    ],
    "rotting wound": ["纱布揭开里面是白的烂肉，还有股怪味", "伤口有点溃烂", "伤口有异味"],
    "persecution or danger": [
        "我妈出院以后一直说有人要害她", "昨晚拿着刀守着门", "他说有人在监视他", "老人说有幻觉",
    ],
}
NOT_RED_FLAGS = [
    "宝宝踢得很欢，胎动正常", "没有破水，一切正常", "孩子把药吃了两天，好多了",
    "孩子退烧药吃了一次，已经不烧了", "孩子睡得挺好", "拿刀切菜都没问题了",
    "态度还可以，可是效果根本没有，腰还是跟以前一样疼", "尿尿正常",
]
OPT_OUTS: dict[str, list[str]] = {
    "dialect stop words": [
        "覅再发了好伐", "唔使再打嚟", "謝謝關心，以後不用再聯絡了", "以后不用再联络我",
    ],
    "promotions": ["孩子退费了，别再推课程了", "能不能别再推那个种植牙优惠了", "别再推了"],
    "quitting": ["你们这是营销短信吧，退", "每天早上七点就发，我直接退了算了", "退吧"],
    "pestering": ["看过一次而已，用不着天天追着问", "用不着再联系了", "天天追着问"],
    "treatment naming the message": ["不需要复查提醒了", "取消复诊通知吧"],
    "number re-assigned or never there": [
        "这个号码已经换主人了，我是新用户", "我不是，号码是我去年买的",
        "我从来没去过什么口腔医院", "这号是新买的号",
    ],
    "deceased in Cantonese": ["阿媽上個月過咗身"],
}
NOT_OPT_OUTS = [
    "晚上别打电话，白天都可以", "别发语音，我在上班听不了，打字就行", "上班时间别打电话",
    "换号了，以后请联系 13987654321", "烧退了", "烧退了，谢谢回访", "别推迟复查",
    "不用再打针了吧",
]


@pytest.mark.parametrize(("cls", "text"), [(c, t) for c, ts in RED_FLAGS.items() for t in ts])
def test_red_flag_classes(cls: str, text: str) -> None:
    r = parse(text)
    assert r.red_flag, f"{cls}: {text!r} -> {r.explain()}"


@pytest.mark.parametrize("text", NOT_RED_FLAGS)
def test_red_flag_lookalikes(text: str) -> None:
    r = parse(text)
    assert not r.red_flag, f"{text!r} -> {r.explain()}"


@pytest.mark.parametrize(("cls", "text"), [(c, t) for c, ts in OPT_OUTS.items() for t in ts])
def test_opt_out_classes(cls: str, text: str) -> None:
    r = parse(text)
    assert r.opt_out, f"{cls}: {text!r} -> {r.explain()}"


@pytest.mark.parametrize("text", NOT_OPT_OUTS)
def test_opt_out_lookalikes(text: str) -> None:
    r = parse(text)
    assert not r.opt_out, f"{text!r} -> {r.explain()}"


def test_link_stop_still_opts_out() -> None:
    # a medium narrows the stop word only for voice and video: links are messages
    assert parse("别再发链接了").opt_out
