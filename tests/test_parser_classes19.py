"""Table tests for the classes found wrong in heldout19.jsonl and heldout20.jsonl.

Both sets were measured once untuned (see bench/parser.py); these are the general classes
behind their misses, each with controls that must keep their label.
"""

from __future__ import annotations

import pytest

from surveys.normalize import normalize
from surveys.parser import ReplyParser

P = ReplyParser()
RULES = ReplyParser(recall=False)


@pytest.mark.parametrize(("text", "red_flag"), [
    # asked whether it is normal: still the sign
    ("医生挺好的4分，就是我现在喘不上气是正常的吗", True),
    ("有点喘，医生说是正常的", False),                 # control: said to be normal
    # an overdose told as a count
    ("上次开的安眠药一次吃了十几粒", True),
    ("一次吃了两粒，按医嘱吃的", False),
    # heartache, feelings, a medicine's or a measurement's name
    ("护士扎了四次才扎进去，孩子哭成那样，心疼死了", False),
    ("伤口疼死了", True),
    ("他走了三个月了，你们还在发，看一次难受一次", False),
    ("湿疹的药膏用完了，能不能直接开", False),
    ("孩子起了一身湿疹，还发烧", True),
    ("血压早上量130/80左右，心率65", False),
    ("牙龈一直出血", True),
    # treated already, over, the weather, fine again
    ("昨天出血有点多，去急诊处理了，现在不出了", False),
    ("出血止不住，我们在去急诊的路上", True),
    ("今天38度高温 下地干活热死了", False),
    ("孩子烧到38度5了", True),
    ("宝宝吐奶 吐完又好好的 吃得也香", False),
    ("之前想过伤害自己，咨询以后好很多了，谢谢医生", False),
    ("最近又想伤害自己", True),
    # a friend's relative is someone else; a little friend is the child
    ("我朋友她妈摔倒了，我们家还好", False),
    ("小朋友说肚子疼，右下边，碰都不让碰", True),
])
def test_red_flags(text: str, red_flag: bool) -> None:
    r = RULES.parse(text)
    assert r.red_flag is red_flag, (text, [(e.rule, e.text, e.note) for e in r.evidence])


@pytest.mark.parametrize(("text", "opt_out", "deceased"), [
    ("他走了三个月了，你们还在发", True, True),
    ("老伴走了半年了", True, True),
    ("我爸走了三天了还没到家", False, False),      # a journey
    ("宝宝没了", True, True),
    ("孩子没了兴趣，不想学了", False, False),
    ("宝宝没保住", True, True),
    ("牙没保住，拔了", False, False),
])
def test_deaths(text: str, opt_out: bool, deceased: bool) -> None:
    r = RULES.parse(text)
    assert (r.opt_out, r.deceased) == (opt_out, deceased), \
        (text, [(e.rule, e.text) for e in r.evidence])


@pytest.mark.parametrize(("text", "opt_out"), [
    ("给5分 就是以后回访别太早发 早上六点就收到了", False),   # when, not whether
    ("产后第五天 头特别疼 眼睛发花", False),                 # 特别, 发花: the body
    ("不要再发短信了，加我微信吧", False),                   # another channel
    ("五分 别给我退订啊 还要继续看牙的", False),
    ("我不要退订，以后还要预约的", False),
    ("不要再玩手机了，快去写作业！", False),                 # said to a child
    ("别再发了", True),                                     # controls
    ("退订", True),
    ("你们发错了，我不是病人", True),
    ("你们找的人不是我", True),                             # a wrong number
])
def test_opt_out_look_alikes(text: str, opt_out: bool) -> None:
    r = RULES.parse(text)
    assert r.opt_out is opt_out, (text, [(e.rule, e.text, e.note) for e in r.evidence])


@pytest.mark.parametrize(("text", "score", "confirm"), [
    # the numbers of a list are not scores
    ("1.满意 2.满意 3.无", 4, None),
    ("1.非常满意 2.没有不适 3.没有建议", 5, None),
    ("1、能下地走了 2、5分 3、没有", 5, None),
    ("①5分 ②没有", 5, None),
    ("1.还行 2.还行 3.没啥", 3, None),
    # ... and items that differ are confirmed, as any multi-item answer
    ("1.满意 2.还行 3.不太好", None, 2),
    # controls: a decimal, a range, a lone circled digit
    ("4.5分", None, 4),
    ("3-4分", None, 3),
    ("⑤", 5, None),
    # sparkles decorate
    ("超级棒！！水光做完皮肤嫩嫩的✨", 5, None),
    ("⭐⭐⭐", 3, None),
])
def test_list_answers(text: str, score: int | None, confirm: int | None) -> None:
    r = P.parse(text)
    assert r.score == score, (text, [(e.rule, e.text, e.value) for e in r.evidence])
    if confirm is not None:
        assert r.needs_confirmation and r.candidate == confirm


def test_the_senders_own_slip_is_no_wrong_number() -> None:
    """"发错群了": the sender posted in the wrong group; the rules stop nothing.

    (Kept out of the tables: the learned tier reads it as an unsure stop, which the engine
    asks about before stopping anything.)
    """
    text = "不要再给孩子买零食了（发错群了不好意思）"
    r = RULES.parse(text)
    assert not r.opt_out and not r.wrong_number, [(e.rule, e.text) for e in r.evidence]
    assert RULES.parse("你们发错了，我不是病人").wrong_number  # control


def test_circled_numbers_number_a_list_only_when_there_are_two() -> None:
    assert normalize("①5分 ②没有") == "1、 5分 2、 没有"
    assert normalize("⑤") == "5"


@pytest.mark.parametrize(("text", "question"), [
    ("拔完牙一路流血 止唔到 点算好", True),           # Cantonese: what to do
    ("啲药食完未好 使唔使再嚟睇", True),               # need or not
    ("侬好，复诊要预约伐", True),                     # Shanghainese 伐
    ("一般般伐 3分", False),
    ("侬覅再发了好伐", False),                        # a reproach beside a stop
    ("不用再来复查了是吧", True),                     # a tag asking for yes
    ("嗯那个打分是吧打五分就行了", False),
    ("孩子一节课没学到啥", False),
    ("学到啥了", True),
    ("这也叫服务？打电话没人接", False),
    ("月嫂教我们怎么给宝宝洗澡 学会了", False),
    ("怎么给宝宝洗澡", True),
    ("很满意，咨询了三次感觉整个人轻松多了", False),
])
def test_questions(text: str, question: bool) -> None:
    assert P.parse(text).question is question, text


@pytest.mark.parametrize(("text", "complaint"), [
    ("种个牙收了我两万多 比说好的多了五千", True),
    ("收费项目一个都没解释，莫名其妙多了好几百", True),
    ("主任一次都没来查房", True),
    ("挂的专家号 结果是个实习的给看的", True),
    ("护工收红包 你们管不管", True),
    ("戴牙套磨得满嘴溃疡 医生说正常 正常个屁", True),
    ("啲医生好冇耐性 问多两句就黑面", True),
    ("能不能注意点隐私！", True),
    ("退费申请交了一个月了还没退[发怒]", True),
    ("一分都不想给", True),
    ("上课时间老是临时调 家长都要上班的", True),
    # controls
    ("不咋地", False),                                # a rating of 2, not a complaint word
    ("伤口流脓了 恼火得很", False),
    ("医生说正常", False),
])
def test_complaints(text: str, complaint: bool) -> None:
    r = RULES.parse(text)
    assert r.complaint is complaint, (text, [(e.rule, e.text) for e in r.evidence])
