"""A threat given up, a channel or time preferred, a quoted footer or a question is no opt-out.

"算了" that takes back a plan ("本来想投诉的，算了"), WeChat or a later call asked for, the
carriers' "回T退订" quoted and turned down, what unsubscribing would do, or how often we
write, asked: none of these stops our messages, and none is even an unsure opt-out.  A real
stop ("算了，别再发了", "TD", "别打了") still stops.  Every case runs on the rules alone and
on the whole parser.
"""

from __future__ import annotations

import pytest

from surveys.parser import ReplyParser

RULES = ReplyParser(recall=False)
WHOLE = ReplyParser()
PARSERS = {"rules": RULES, "whole": WHOLE}

WITHDRAWN = [
    '本来想发微博曝光的，后来想想算了',
    '本来要打12345的，就算了',
    '找律师就算了',
    '原本打算投诉的，想想还是算了',
    '本想给差评，算了，医生也不容易',
    '想过要去卫健委反映，后来算了',
    '本来要找院长理论的，算了',
    '本来想发朋友圈吐槽，算了',
    '起诉就算了，太麻烦',
    '本来想去12345投诉，后来想了想算了，4分',
    '原本要找记者的，算了，态度还行',
    '我本打算举报的，后来算了',
    '退钱就算了，下次注意',
    '赔偿就算了，只要道个歉',
    '本来想闹的，看医生挺辛苦就算了',
]
PREFERENCE = [
    '能不能发微信别打电话了',
    'Please don\'t call me during work hours, WeChat is better',
    '别打了，在开会，下午三点以后再打',
    '别打了，在开车，晚点再打',
    '现在别打电话，等会儿再打',
    '能不能发微信，不要打电话',
    '请用微信联系，别打电话',
    '可以发微信吗，别打电话了，上班接不了',
    '不要打电话了，发微信就行',
    '别打电话，微信更方便',
    '在上课，别打了，下课以后再打',
    'please don\'t call me while I\'m driving, text me instead',
    'don\'t call me at work, wechat is fine',
    '别打了，明天上午再打给我',
    '能不能只发短信不要打电话',
]
QUOTED_OR_ASKED = [
    '短信后面写着回T退订 我不退 就想问问复查时间',
    '回复退订的话，复诊提醒是不是也收不到了？',
    '这个回访是每次都会发吗？能少发点吗',
    '后面写的回T退订，我不退哈，就问下怎么预约',
    '看到短信里写回T退订，但我不退，挺有用的',
    '退订的话以后复查还会通知我吗？',
    '取消订阅的话是不是就收不到提醒了',
    '能少发点吗？一周一条就够',
    '回TD退订的话还会有复诊提醒吗',
    '你们这个短信能不能少发点呀',
    '退订的话会影响孩子的课吗？',
    '短信结尾有个回T退订，我可不退',
    '上面写回T退订，我没退，就想说医生很好',
    '每个月都会发吗？能少发点吗',
    '取消的话复查提醒还有吗？',
]
GENUINE_STOPS = [
    # a later time offered narrows a stop of calls only: these stop the messages
    '别再发了，先不回了在上班 晚上再说',
    '别再发了，晚上再说',
    '退订，改天再说',
    '你们别再发短信了，有事微信说',
    '算了，别再发了',
    'TD',
    '退订',
    '不要再打电话了',
    '别打了',
    '别再发短信了',
    '请不要再联系我',
    '本来想投诉，算了，以后别再发了',
    '别发微信了，也别打电话',
    '以后也别再打了',
    '不要再给我发消息了',
    'stop texting me',
    '退订，谢谢',
    '别再打电话了，烦',
    "don't call me again",
]

NOT_STOPS = WITHDRAWN + PREFERENCE + QUOTED_OR_ASKED


def test_each_class_has_enough_cases() -> None:
    for table in (WITHDRAWN, PREFERENCE, QUOTED_OR_ASKED, GENUINE_STOPS):
        assert len(table) >= 15


@pytest.mark.parametrize("who", sorted(PARSERS))
@pytest.mark.parametrize("text", NOT_STOPS)
def test_a_plan_given_up_a_preference_or_a_question_is_no_opt_out(text: str, who: str) -> None:
    r = PARSERS[who].parse(text)
    assert not r.opt_out, r.explain()
    assert not r.opt_out_unsure, r.explain()


@pytest.mark.parametrize("who", sorted(PARSERS))
@pytest.mark.parametrize("text", GENUINE_STOPS)
def test_a_stop_still_stops(text: str, who: str) -> None:
    r = PARSERS[who].parse(text)
    assert r.opt_out, r.explain()
    assert not r.opt_out_unsure, r.explain()
