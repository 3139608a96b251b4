"""A symptom's character inside another word, and signs told in words the rules lacked.

The recall-first layer reads any word of the body as a warning; some of those characters
belong to other words: the anaesthetic (全麻, 局麻), a blood test (抽血), "so-so" said in
Cantonese (麻麻), worn out (人都麻了), the emergency department named in a story about its bill,
its staff or its waiting, an ache of annoyance ("吵得头疼").  Those are no warning -- but
numbness after the anaesthetic, a child who "又抽了", a patient on the way to the emergency
department stay one.

Signs the rules lacked: seizures back, a shunt or a plate showing through the skin, words
lost, a face still crooked after surgery (in English too), a baby that hardly feeds, jaundice
down to the knees, pain that bends a person double with a recovery only hoped for, and
despair and self-harm in new words (pills hoarded, affairs put in order, a wish to be hit, the
word by voice input).  A death that nearly happened, or only would have, is no opt-out.  Each
runs through the rules alone and the whole parser.

Disputes in words the rules lacked: a bureau of another sector, compensation demanded, a
refusal to pay with "give" or in English, a diagnosis or a bill to be written as something
else.  Asking whether a treatment is covered (能走医保吗) is none.
"""

from __future__ import annotations

import pytest

from surveys.parser import ReplyParser

PARSERS = {"rules": ReplyParser(recall=False), "whole": ReplyParser()}

RED_FLAGS = [
    # numbness, convulsions, the emergency department now: not hidden by the other words
    "全麻醒来以后手脚一直发麻",
    "嘴唇还是麻麻的，都一天了",
    "孩子又抽了一次，眼睛往上翻",
    "孩子烧到40度了，要不要去急诊",
    "刚从急诊回来，还在吐",
    # signs the rules lacked
    "停药以后这两天又发作了两次",
    "分流管那块皮破了，都能看到管子了",
    "手术的钢板露出来了",
    "这几天说话老是找不到词",
    "面瘫还没好，嘴还是歪的，眼睛也闭不上",
    "my face droops on one side since the operation",
    "宝宝黄到小腿了",
    "宝宝这两天不太吃奶",
    "肚子疼得直不起腰，过两天应该就好了吧",
    # despair
    "有时候觉得活着有什么意思",
    "真想消失算了",
    # self-harm planned or wished for, in new words
    "那些药我都没吃，一直攒着，攒了大半瓶了",
    "我准备把剩下的药一次都吃了",
    "狗已经托付给邻居了",
    "真希望哪天被车撞死就好了",
    "有时候想一觉睡不醒就好",
    "我老是想自沙",
    "I gave away my stuff to my sister last week",
    # signs by voice input or in Cantonese, a device wearing through, urine dark and scant
    "眼前有一块黑营",
    "穿不上气，晚上只能坐着睡",
    "伤口仲系好痛",
    "起搏器那里的皮变薄了，都能看到底下的东西",
    "一天就尿了一点点，颜色像浓茶",
    "体温从38升到39了",
    "还是一直没退烧",
]

NOT_RED_FLAGS = [
    "全麻的费用能报销吗",
    "孩子下次拔牙还要全麻吗",
    "麻麻哋啦",
    "麻麻",
    "带娃一整天，人都麻了",
    "抽血排队排了一个小时，3分",
    "上次急诊的费用怎么报销",
    "急诊那位护士特别好，5分",
    "九点到的急诊，十点就看完了",
    "被孩子吵得头疼哈哈，孩子恢复得很好",
    "牙还是歪的，矫正还要多久",
    "医生说肿几天正常，现在第二天还肿着，应该没事",
]


# A death nearly happened or only imagined is no death: the messages go on.
NOT_OPT_OUTS = [
    "我爸上个月差点没挺过来，现在好多了",
    "要不是你们抢救及时，我妈就没了",
    "幸亏送得早，不然人就没了，谢谢你们",
    # a later time, or a text instead of a call
    "这周在外地，别打电话，下周再联系",
    "能不能以后只发短信别打电话",
]

OPT_OUTS = [
    "我爸上个月没挺过来，别再发了",
    "幸好走得很安详，我妈上周走了，以后别发了",
    "老伴走了，不用再发了",
]


DISPUTES = [
    "再不退钱我就去交通局投诉",
    "我已经去体育局反映了",
    "以后留了疤你们得赔",
    "多住的这几天，钱该你们出",
    "帮我把病历写成意外受伤的吧，保险那边好报",
    "复查的钱也不会给，你们自己看着办",
    "I refuse to pay for lessons he never had",
    "We're not paying the bill until someone explains this",
]

NOT_DISPUTES = [
    "康复治疗能走医保吗",
    "请问这个药可以走医保吗",
    "费用都结清了，谢谢",
]


# (text, label, whether it is one); an opt-out counts when unsure too (it is confirmed)
CASES = [*((t, "red_flag", True) for t in RED_FLAGS),
         *((t, "red_flag", False) for t in NOT_RED_FLAGS),
         *((t, "opt_out", True) for t in OPT_OUTS),
         *((t, "opt_out", False) for t in NOT_OPT_OUTS),
         *((t, "dispute", True) for t in DISPUTES),
         *((t, "dispute", False) for t in NOT_DISPUTES)]


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize(("text", "label", "want"), CASES)
def test_reading(kind: str, text: str, label: str, want: bool) -> None:
    r = PARSERS[kind].parse(text)
    got = r.opt_out or r.opt_out_unsure if label == "opt_out" else getattr(r, label)
    assert bool(got) == want, r.explain()
    assert r.complaint or not r.dispute, r.explain()
