"""Table tests for the opt-out classes found wrong in heldout11.jsonl.

A wrong opt-out silences a patient, so negated intent ("我没说要退订") is tested as hard as
a missed one.  Positives are worded differently from the lines that revealed each class, and
look-alikes must not fire.
"""

from __future__ import annotations

import pytest

from surveys.parser import parse

OPT_OUTS: dict[str, list[str]] = {
    "pinyin stop forms": [
        "buyao zai lianxi wo le", "bie zai fa le", "bu yao da dian hua le",
        "qing bu yao zai gei wo fa duan xin", "bu yong hui fang le", "bie da rao wo",
        "buyaozailianxi",
    ],
    "not this person's number (English)": [
        "this isn't li na's number anymore", "that's not his number", "not wang's number, sorry",
        "wrong #", "the number is wrong", "this number is no longer her number",
    ],
    "a wrong number left by the patient": [
        "我是他同事 电话应该是他填错了", "号码估计她登记的时候写错了",
        "这个手机号是他留错了吧我不认识",
    ],
    "the sender blocked": ["这个号我已经设置拦截了", "已拦截", "我把你们设置拦截了"],
    "a death told with 走的": [
        "我妈前天夜里在医院走的", "老人昨天晚上在家走的，别再发了", "我爸凌晨走的",
    ],
    "quit or refunded, and the messages go on": [
        "孩子早就退费了，你们这样一直发有意思吗", "已经退课了，还天天发消息",
        "孩子不学了，怎么还老发",
    ],
}
NOT_OPT_OUTS: list[str] = [
    # negated intent: the stop word is denied
    "我没说要退订啊 只是这两天忙", "我不是不想回访，是刚才信号不好没收到",
    "并不是要取消提醒，只是问问",
    "我没有要你们别联系", "谁说不要回访了", "我没说不用回访",
    # pinyin look-alikes: a treatment, not a message
    "bu yao da zhen ma", "bu yao fa shao",
    # asking whose number it is
    "isn't this the clinic's number?", "what number should i call",
    # the number is right; a spam filter, not the patient, blocked us
    "号码没留错吧", "你们的短信被拦截了，今天才看到",
    # 走的 of travel or walking
    "我妈昨天下午走的，今天到家了", "他是走着来的", "他在家走的时候摔了一下",
    # no quit, or a fever that went down
    "退费了吗？你们一直发消息也不说", "烧已经退了，你们一直问我也不知道",
]


@pytest.mark.parametrize(("cls", "text"), [(c, t) for c, ts in OPT_OUTS.items() for t in ts])
def test_opt_out_classes(cls: str, text: str) -> None:
    assert parse(text).opt_out, f"{cls}: {text}"


@pytest.mark.parametrize("text", NOT_OPT_OUTS)
def test_opt_out_lookalikes(text: str) -> None:
    assert not parse(text).opt_out, text


def test_rhetorical_denial_still_opts_out() -> None:
    """"这不是骚扰吗" means it is: only a denial of the intent lifts the stop."""
    assert parse("你们这不是骚扰吗").opt_out
    assert parse("不是不想回访 是真的别再发了").opt_out


@pytest.mark.parametrize("text", ["不是不满意哈，就是想问下复查时间定了没",
                                  "谈不上不满意，再观察观察", "并不是不满意"])
def test_double_negation_rates_nothing(text: str) -> None:
    assert parse(text).score is None
    assert parse(text).needs_confirmation is False


def test_double_negation_keeps_the_question() -> None:
    assert parse("不是不满意哈，就是想问下复查时间定了没").question
