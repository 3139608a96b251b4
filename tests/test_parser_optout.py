"""Table tests for opt-outs by class (surveys.parser, pure).

Each class is a way people tell us to stop writing: a stop word with a message-like object,
refusing the follow-up itself, having gone elsewhere for care, a wrong or re-assigned number,
annoyance at how often we write, one-letter codes, and deaths.  The look-alikes below each
table are replies that must *not* stop the follow-up: courtesy ("不用谢"), a treatment
stopped ("停药了吗"), advice ("别再吃辣"), questions about care ("不用再来复诊了吧?").
"""

from __future__ import annotations

import pytest

from surveys.parser import parse

OPT_OUTS: dict[str, list[str]] = {
    "stop word + contact": [
        "以后别给我发信息了", "请停止给我发送短信", "麻烦别再打我电话", "把我的手机号删了吧",
        "请将我移出回访名单", "把我从名单里去掉", "请删除我的联系方式", "麻烦以后不要再给我推送",
        "请移除我的号码",
    ],
    "pinyin": ["qing bu yao zai fa le xie xie", "bie zai fa le", "bu yong hui fang le"],
    "refusing the follow-up": [
        "不需要回访", "不用再问了", "别问了", "别再问了，我很好", "回访就免了",
        "你们这边不用再管了", "不用跟进了", "不需要再跟踪了", "以后不用再关心了，谢谢",
        "不必再回访了", "这种调查以后别找我了",
    ],
    "gone elsewhere": [
        "换医院了", "我已经去别的医院治了", "已经转到别的琴行了", "我现在在别的医院治",
        "孩子已经去别的琴行学了",
    ],
    "annoyed at how often": [
        "天天发烦不烦", "一天发好几条烦死了", "怎么又发，烦死", "发这么多干嘛，烦",
        "每天都发，太烦了",
    ],
    "codes": ["T", "TD", "td", "退", "N", "回复TD", "T退订", "取消"],
}
WRONG_NUMBERS = [
    "号码错了", "号码不对", "这个号码已经不用了", "这个号我不用了", "你们号码登记错了",
    "我不是病人家属 这号是上个月新办的", "这个号不是他的了", "我不认识这个病人",
    "这个手机是我儿子的 他没在你们那看病 麻烦核对一下号码",
]
DEATHS = [
    "老人已经走了", "我爸上个月没了", "他已经不在了", "人走了，别发了", "已经过世",
    "老爷子去年就没了", "她已经离开我们了", "老太太二月份就走了", "人都没了还回访什么",
]
NOT_OPT_OUTS = [
    "不用担心", "不用谢", "不需要复查了吗？", "停药了吗", "别再吃辣", "不用再来复诊了吧?",
    "不用客气", "别担心我", "不用换药了吗", "停了药还会疼吗", "别再熬夜了", "不要再喝酒",
    "不需要住院吧", "护士说不用再打针了", "取消预约可以吗", "不用再吃消炎药了吧",
    "不想再疼了", "信息收到了谢谢", "不再疼了", "不用再问医生了吧", "谢谢不用回复",
    "收到，不用回复", "n",
    # gone elsewhere, but only once, in the past, or as a thought
    "早知道去别的医院看了", "医生建议去别的医院看看", "要不要换医院", "换医院了还能报销吗",
    "在别的医院做了CT", "之前在别的医院看过，没看好", "去别的地方看看",
    # annoyed, but not at us
    "每天都疼，烦死了", "又发烧了，好烦", "孩子烦躁", "麻烦你们了", "护士又问了一遍，烦",
    # about a number, asked
    "他的号码不对吗", "挂号不对",
]
NOT_DEATHS = [
    "他的药没了", "她牙疼没了", "人精神没了", "她走了好几步就累", "他走了以后我才到",
    "老人走了两步就喘", "他走了吗", "医生走了", "麻药劲没了",
]


@pytest.mark.parametrize(
    ("cls", "text"), [(c, t) for c, texts in OPT_OUTS.items() for t in texts])
def test_opt_out_classes(cls: str, text: str) -> None:
    r = parse(text)
    assert r.opt_out, f"{cls}: {r.explain()}"


@pytest.mark.parametrize("text", WRONG_NUMBERS)
def test_wrong_or_reassigned_numbers(text: str) -> None:
    r = parse(text)
    assert r.wrong_number and r.opt_out, r.explain()


@pytest.mark.parametrize("text", DEATHS)
def test_deaths(text: str) -> None:
    r = parse(text)
    assert r.deceased and r.opt_out and r.score is None, r.explain()


@pytest.mark.parametrize("text", NOT_OPT_OUTS)
def test_look_alikes_do_not_opt_out(text: str) -> None:
    r = parse(text)
    assert not r.opt_out, r.explain()


@pytest.mark.parametrize("text", NOT_DEATHS)
def test_look_alikes_are_not_deaths(text: str) -> None:
    r = parse(text)
    assert not r.deceased, r.explain()


def test_went_elsewhere_is_explained() -> None:
    r = parse("我已经去别的医院治了")
    assert any(e.rule == "opt_out" and e.note == "went elsewhere" for e in r.evidence)


def test_upper_case_n_opts_out_but_lower_case_n_is_no() -> None:
    assert parse("N").opt_out and not parse("n").opt_out
    assert parse("n").negative
