"""The recall-first opt-out tier (confirmed by the engine) and the heldout13 leftovers."""

from __future__ import annotations

import pytest

from surveys.parser import parse

UNSURE = [
    "一直发一直发，手机都被你们轰炸了，求放过",
    "孩子都上大学了还发什么钢琴课回访",
    "以后有事我自己会联系你们的",
    "你们这满意度调查也太频繁了，一周一次谁受得了，我就不参与了",
    "小孩早就不学了，钱也退了，这群就退了吧",
    "不麻烦你们了，有事我再来",
    "消停点吧，短信一条接一条",
    "你们烦不烦",
    "no more msgs pls",
]


@pytest.mark.parametrize("text", UNSURE)
def test_unsure_opt_out(text: str) -> None:
    r = parse(text)
    assert r.opt_out and r.opt_out_unsure
    assert any(e.rule == "opt_out_unsure" for e in r.evidence)


PRECISE = [
    "以后别再给我发消息了",
    "不麻烦你们打电话了",
    "说过多少遍了还发",
    "我都说过多少遍了，怎么还发",
    "你们能不能消停点，天天发消息",
    "唔該唔好再搵我",
    "冇使再发了",
]


@pytest.mark.parametrize("text", PRECISE)
def test_precise_opt_out(text: str) -> None:
    r = parse(text)
    assert r.opt_out and not r.opt_out_unsure


STOPPED = [  # wrong number or deceased: a stop, never unsure
    "我不是病人，我是他同事，之前手机借他用过一次",
    "我老伴儿已经不在了，这个电话以后没人用了",
    "我没孩子，哪来的小提琴学生",
]


@pytest.mark.parametrize("text", STOPPED)
def test_wrong_number_or_deceased(text: str) -> None:
    r = parse(text)
    assert r.opt_out and (r.wrong_number or r.deceased) and not r.opt_out_unsure


LOOK_ALIKES = [
    "能不能帮我把回访改成微信，不要打电话",
    "白天打就行",
    "晚上别打电话，白天可以",
    "心里发慌，心跳特别快",
    "吃了你们开的阿莫西林，身上起了红疙瘩",
    "别的医院说要拔，你们说不用，到底听谁的",
    "医生不错给4分，但是我现在还在发低烧",
    "已经把那个推销电话拉黑了，你们的消息我还是看的",
    "谢谢你们，别担心，我挺好的",
    "不用谢，你们辛苦了",
    "我没说要退订",
    "让我消停几天",
    "我是他爸爸，他不是很满意",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_not_an_opt_out(text: str) -> None:
    assert not parse(text).opt_out


@pytest.mark.parametrize(("text", "score"), [
    ("不满意的地方暂时没有", None),
    ("医生不满意我的恢复情况", None),
    ("fei chang man yi", 5),
    ("满意个啥", None),
    ("不满意的地方是排队太久", 2),
    ("bu man yi", 2),
])
def test_scores(text: str, score: int | None) -> None:
    assert parse(text).score == score
