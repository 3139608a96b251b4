"""Table tests for the red-flag classes found wrong in heldout12.jsonl.

Suicidal ideation is mostly told by implication, so each class has positives worded unlike
the lines that revealed it, and look-alikes (累死了, 笑死, a money burden, dancing) that must
not fire.
"""

from __future__ import annotations

import pytest

from surveys.normalize import normalize
from surveys.parser import parse

RED_FLAGS: dict[str, list[str]] = {
    "life without meaning": [
        "活着真的挺没意义的", "觉得活着有什么意思呢", "最近不想再活了", "我活够了",
    ],
    "ending it": [
        "这几天一直在想怎么结束", "想结束这一切", "想过结束自己",
    ],
    "hoarding medicine": [
        "安眠药我偷偷攒了一些", "一直在攒药", "药都攒着呢",
    ],
    "jumping": [
        "有时候想从阳台跳下去", "站在天台上想跳楼", "想过从窗户跳出去",
    ],
    "a burden on the family": [
        "我就是个累赘", "觉得自己就是家里的拖累", "我成了全家的负担",
    ],
    "joining the dead": [
        "我想去跟我老伴作伴了", "想去和奶奶团聚",
    ],
    "harming thoughts after birth": [
        "生完孩子老想哭，还想过伤害宝宝", "有种想把孩子捂死的念头，好害怕",
    ],
    "a farewell": [
        "谢谢你们一直以来的帮助，我的事情都安排好了",
        "以后就不麻烦大家了，东西都收拾好了",
        "最近一直在网上找那种办法，不想再拖累家里了",
    ],
    "fetal movement not felt": [
        "今天一整天没感觉到宝宝在动", "感觉不到胎儿踢了", "宝宝今天都不怎么动", "宝宝动得少了",
    ],
    "a swallowed battery or magnet, however well the child looks": [
        "孩子吞了一颗磁铁，现在没事了吧", "儿子把硬币咽下去了，看着还好",
        "纽扣电池被宝宝吞下去了",
    ],
    "chest pain not relieved by rest": [
        "做完支架，一走路胸口就疼，休息也没缓解", "胸口闷，坐着也不缓解",
    ],
    "pinyin with tone marks": [
        "wǒ bà tū rán hūn dǎo le", "hai zi fā shāo 39 du", "yi zhi chu xue le",
    ],
}
NOT_RED_FLAGS: list[str] = [
    "累死了，今天排队排了好久", "烦死了，停车太难", "笑死，孩子说想当医生",
    "费用负担有点重", "医药费是家里的一大负担", "孩子跳舞跳得很开心", "跳绳考试过了",
    "周末想去奶奶家陪她", "攒钱买了一台钢琴", "不麻烦大家了，我自己去挂号",
    "东西都收拾好了，明天出院", "宝宝动作很灵活", "胸口痛吃了药已经缓解了",
    "今天跳楼价促销吗",
]


@pytest.mark.parametrize(("cls", "text"), [(c, t) for c, ts in RED_FLAGS.items() for t in ts])
def test_red_flag_classes(cls: str, text: str) -> None:
    assert parse(text).red_flag, cls


@pytest.mark.parametrize("text", NOT_RED_FLAGS)
def test_red_flag_look_alikes(text: str) -> None:
    assert not parse(text).red_flag


def test_tone_marks_are_stripped() -> None:
    assert normalize("nǐ men fā cuò rén le") == "ni men fa cuo ren le"
    assert normalize("lǚ") == "lv"
