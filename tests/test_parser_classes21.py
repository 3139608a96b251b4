"""Table tests for the classes found wrong in heldout21.jsonl (voice-to-text) and heldout22.jsonl.

Both sets were measured once untuned (see bench/parser.py); these are the general classes
behind their misses, each with controls that must keep their label.
"""

from __future__ import annotations

import pytest

from surveys.parser import ReplyParser

P = ReplyParser()
RULES = ReplyParser(recall=False)


@pytest.mark.parametrize(("text", "red_flag"), [
    # 小时 is no "when": not during the treatment
    ("孩子打完针半个小时嘴巴周围都肿起来了还起了好多红疙瘩喘气有点呼哧呼哧的怎么办", True),
    ("打针的时候有点疼", False),
    # a complement (睁不开, 止不住) and 是不是 deny nothing
    ("眼睛被那个烟花炸到了现在睁不开一直流血水", True),
    ("下面流水了 不知道是不是破水 才34周", True),
    ("已经不流血了", False),
    ("不是破水，医生看过了", False),
    # signs told in everyday words
    ("透析的那个手臂上的瘘今天摸不到震颤了就是那个呼呼的感觉没了", True),
    ("宝宝打完疫苗哭了三个多小时了哭声很尖怎么哄都不行", True),
    ("我把一个月的药全吃了", True),
    ("奶奶从床上掉下来了 后脑勺磕地上 叫她反应很慢", True),
    ("用了药膏后全身脱皮 起泡 嘴巴里也烂了", True),
    # the condition being treated, a smell, a known allergy, small print, the cold, English
    ("骨折以后的康复训练做了十次了膝盖能弯到九十度了", False),
    ("手腕骨折拆了石膏以后来做的康复 现在拧毛巾都可以了", False),
    ("康复的时候又摔了，怀疑又骨折了", True),
    ("孩子摔了一跤，手腕可能骨折了", True),
    ("游泳馆消毒水味道太重", False),
    ("孩子误喝了消毒水", True),
    ("病历写错了 上面写的是别人的过敏史", False),
    ("护士每次都记得我妈对哪个胶布过敏", False),
    ("吃了药过敏了，全身起疹子", True),
    ("我眼睛不好看不清字", False),
    ("突然看不清东西了", True),
    ("游泳馆的水有点凉孩子上完课冻得嘴唇发白", False),
    ("孩子嘴唇发紫，喘不上气", True),
    ("I'm fine now, no more pain. Thanks", False),
    ("the pain is getting worse", True),
])
def test_red_flags(text: str, red_flag: bool) -> None:
    r = RULES.parse(text)
    assert r.red_flag is red_flag, (text, [(e.rule, e.text, e.note) for e in r.evidence])


@pytest.mark.parametrize(("text", "opt_out", "deceased"), [
    ("我妈妈那个化疗那个上个星期还是走了嗯你们的医生护士都很好", True, True),
    ("等了半天我们还是走了，没看上", False, False),     # we left
    ("我们最后还是走了一趟急诊", False, False),
    ("前两天夜里走的很安详", True, True),
    ("退定", True, False),                              # a typed 退订
    ("退定金什么时候到账", False, False),               # a deposit
    ("qu xiao hui fang", True, False),
    ("这手机是我孙子的号你们说的那个病人是谁我们家没有", True, False),
    ("所以以后那个什么回访啊上课通知啊都不用发了", True, False),
    ("上课时间别打电话", False, False),                 # a preference of time
])
def test_stops(text: str, opt_out: bool, deceased: bool) -> None:
    r = RULES.parse(text)
    assert (r.opt_out, r.deceased) == (opt_out, deceased), \
        (text, [(e.rule, e.text, e.note) for e in r.evidence])


@pytest.mark.parametrize(("text", "score"), [
    ("满意满意", 4),              # every outside writer: said twice is still 满意
    ("满意满意满意", 5),
    ("嗯蛮好的 俾五粒星", 5),     # Cantonese 粒 for 颗
    ("俾5粒星啦", 5),             # ... after a digit too (not 5 pills)
    ("五粒星⭐", 5),              # ... and a star after it decorates
    ("食5粒药", None),            # control: pills
    ("透析中心还行吧 三星半", None),
    ("ok 5", 5),
    ("ＯＫ ４", 4),
    ("gei 5 fen", 5),
    ("wu分", 5),
    ("iphone 5 用着挺好", None),  # a model name, not a score
])
def test_scores(text: str, score: int | None) -> None:
    r = P.parse(text)
    assert r.score == score, (text, [(e.rule, e.text, e.value) for e in r.evidence])


@pytest.mark.parametrize(("text", "score", "confirm"), [
    # a reply that corrects itself: the number after the last correction
    ("给你们打个四分不对五分五分", 5, None),
    ("四星半吧哈哈 就给4", 4, None),
    ("4.5分吧，算了就给4分", 4, None),
    ("五分，说错了，四分", 4, None),
    ("本来想打1分的，后来想想还是给5分吧", 5, None),
    # controls: no correction, two aspects, an unsure score
    ("医生5分护士3分", 3, None),  # two aspects: the lower (docs/labels.md)
    ("4.5分", None, 4),
    ("三星半", None, 3),
])
def test_self_corrections(text: str, score: int | None, confirm: int | None) -> None:
    r = P.parse(text)
    assert r.score == score, (text, [(e.rule, e.text, e.value) for e in r.evidence])
    if confirm is not None:
        assert r.needs_confirmation and r.candidate == confirm
