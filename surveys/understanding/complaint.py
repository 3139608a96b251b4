"""Complaints: something specific went wrong (docs/labels.md).

Composed from word tables (``complaint.toml``): a grievance target with a negative word
("收费太乱", "护士很凶"), or an event that only goes wrong ("收了两次", "没人来", "拖了一个多
月").  Waiting, parking and the surroundings make a *mild* grievance, which is no complaint
beside a good score ("满意是满意就是排队太久").  A bare low rating is not a complaint: the
engine escalates low scores itself.  Threats to take it further are
``surveys.understanding.dispute``.
"""

from __future__ import annotations

import re
from typing import Final

from surveys.understanding.compose import (
    IN,
    alt,
    each,
    factor,
    finditer_parts,
    rx_each,
    split_parts,
    strings,
    table,
)

# the word tables (complaint.toml)
_WORDS: Final = table("complaint")

# Complaint = a grievance target + a negative evaluation, or an event that only goes wrong
# ("收了两次", "没人来", "拖了一个多月").  Targets about waiting, parking or the surroundings
# make a mild grievance (see the lexicon's "~" entries).
_CMP_TARGETS: Final = strings(_WORDS, "targets")
# mild targets with their own negative words (first characters in _CMP_MILD_HEADS)
_CMP_MILD: Final = (
    ("排队 等的时间", "长 久 慢(?!慢)"), ("停车", "难 贵(?!姓) 麻烦 不方便"),
    ("环境", "差(?!不多|点|一点) 脏 吵 乱 不好"),
)
_CMP_MILD_HEADS: Final = strings(_WORDS, "mild_heads")
_CMP_NEGATIVE: Final = strings(_WORDS, "negative")
_CMP_EVENTS: Final = strings(_WORDS, "events")
_CMP_GRAMMAR: Final = "|".join((
    rx_each(_CMP_TARGETS, r"[^,，。.!?；;~\s不没说讲让叫]{0,4}"
             r"(?:太|很|真|特别|非常|超|好|也太|得太|得很|得特别)?" + alt(_CMP_NEGATIVE)),
    *(each(heads, r"[^,，。.!?；;~\s不没]{0,4}(?:太|很|真|特别|非常|超|好|也太|得太|得很)?"
            + alt(neg.split())) for heads, neg in _CMP_MILD),
    rx_each(_CMP_EVENTS, ""),
    each("拖了", IN + "{0,4}(?:月|天|周|礼拜|星期|年)"),
    each("到现在", "[都还]?[没不](?:补|退|回|给|处理|解决|联系|修|出|来|通知)"),
    each("跑了", "[两三四五几好\\d]+趟"),
    each("说好", r"(?!好)[^。.!?；;]{0,10}(?:又要|结果|却|到现在|也没|还没|没有|没补|不给|变卦)"),
    each("一边 边 上课 看病 看牙 治疗 换药 查房",
          IN + "{0,6}(?:接电话|看手机|玩手机|聊天|打电话)"),
    each("也 都 从来 根本 事先", r"[不没](?:提前)?(?:通知|商量|告知|打招呼|说一声|跟"
          + IN + "{0,4}商量)"),
    each("手", "(?:特别|很|太|好|真|也太)重(?!要)"),
    each("不顾", IN + "{0,4}感受"),
    each("问什么都", "说?不知道"),
    each("几 一 两 三 四 五 十", r"分钟就(?:走|完|打发|结束|出来)"),
    each("看病 就看了 看了", r"[一两三几\d]分钟"),
    each("讲 说 教 看 检查 问诊",
          r"得?(?:(?:太|也太)(?:快|急)|(?:太|特别|很|好)?(?:匆忙|草率|敷衍))"),
    each("排了一 等了一", "(?:上午|下午|整天|天)"),
    each("预约 约", IN + "{0,4}还[要得]等"),
    each("等了", IN + r"{0,6}(?:礼拜|星期|周|天|月)" + IN + "{0,3}(?:还|都|才)"),
    each("空调 热水 马桶 电梯 网络 wifi 水龙头 呼叫铃 电视",
          IN + "{0,4}(?:坏了|不能用|没法用|用不了|不制冷|不热|没修)"),
))
_CMP_COMPOSED_RE: Final = re.compile(factor(_CMP_GRAMMAR))
CMP_PARTS: Final = split_parts(_CMP_COMPOSED_RE, 2)
_CMP_PART_A, _CMP_PART_B = CMP_PARTS
_SOFTENER_RE: Final = re.compile(r"有点|有些|稍微|稍|略|一点")
# A refund asked about -- when, how long, how -- says nothing went wrong by itself.
_REFUND_WORDS: Final = frozenset(("退款", "退钱"))
_OWED_WORDS: Final = ("退款", "退钱", "退费", "押金")
_REFUND_ASKED_RE: Final = re.compile(
    r"[^,，。.!?；;~]{0,4}?(?:什么时候|啥时候|多久|几天|多长时间|怎么(?!还|都|这么)|如何"
    r"|(?:流程|手续)(?![^,，。.!?；;~]{0,3}(?:复杂|麻烦|繁琐|太|很))"
    r"|要带|需要|进度|能到|到了吗|到账了吗|是不是)")
_COMPLAINT_DENY_BEFORE_RE: Final = re.compile(
    r"(?:没有?|不是|不想|无|不用|不会|并不|也不|都不|不)$")


def complaint_hits(norm: str, may_a: bool, may_b: bool,
                  hits: list[tuple[str, bool, int, int]]) -> None:
    """The composed complaint rules' matches, as (kind, mild, start, end) in ``hits``."""
    # (the parts first: see compose.parts)
    if (may_a and _CMP_PART_A.search(norm) is not None) or \
            (may_b and _CMP_PART_B.search(norm) is not None):
        for tm in finditer_parts(CMP_PARTS, norm):
            hits.append(("complaint", norm[tm.start()] in _CMP_MILD_HEADS,
                         tm.start(), tm.end()))


# what a complaint rule's hit is (see complaint_verdict)
VERDICT_NONE: Final = 0
VERDICT_MILD: Final = 1
_VERDICT_FULL: Final = 2


def complaint_verdict(norm: str, s: int, text: str, mild: bool) -> int:
    """A complaint rule's hit at ``norm[s:]`` (``text``): denied, mild or a complaint."""
    if _COMPLAINT_DENY_BEFORE_RE.search(norm, max(0, s - 2), s):
        return VERDICT_NONE
    if text.startswith(_OWED_WORDS):
        e = s + len(text)
        if text in _REFUND_WORDS and _REFUND_ASKED_RE.match(norm, e) is not None:
            return VERDICT_NONE  # "退款什么时候到？": asked when or how, nothing gone wrong
        if _OWED_BACK_RE.search(norm, e) is not None:
            return VERDICT_NONE  # "之前退款很慢，现在已经到账了": solved and said so
    if mild or _SOFTENER_RE.search(text):
        # "收费有点贵" is as mild as "有点贵": a softener inside the match
        return VERDICT_MILD
    return _VERDICT_FULL


# Money owed back to the person -- a deposit, a refund -- that is slow, late or not yet
# returned is a complaint (docs/labels.md: "a refund"), whatever else the reply says: "押金退得
# 特别慢", "退款到现在还没到账", "迟迟不退押金".  Not: money already back ("押金已经退了，很
# 快"), a plain question ("退款什么时候到？"), 退订 (a stop, no money), "退得不慢".
_OWED_MONEY = r"(?:押金|退款|退费|退钱|退的钱|保证金|定金|订金|deposit|refund)"
_OWED_LATE = (
    # slow, with or without an adverb, not denied ("不慢", "不太慢", "没那么慢"), not "慢慢来"
    r"(?:(?<![不没])(?<!不算)(?<!没那么)(?<!并不)"
    r"(?:特别|很|太|好|真|超|非常|老|贼|(?<![太很别好真超常老贼慢]))慢(?!慢)"
    r"|拖|迟迟|推脱|推来推去|石沉大海|遥遥无期|没动静|没消息|没下文|没影"
    r"|(?:还|都|也|一直|到现在|至今|始终)(?:都|还)?(?:没有?|未)(?:见|给|把钱)?"
    r"(?:到|退|收到|回来|返|下来|打|处理|动静|消息)"
    r"|没(?:有)?(?:到账|退回|退还|返还)|未到账|不给(?:我)?退|(?<!退)不退(?!订)"
    r"|slow|late\b|delayed|still\s(?:not|hasn't|haven't|waiting)|not\s(?:yet\s)?(?:received|back|returned))")
_OWED_RE: Final = re.compile(
    _OWED_MONEY + r"[^,，。.!?；;~]{0,10}?" + _OWED_LATE
    # the other order: "迟迟不退押金", "拖着不给退费", "还没退押金"
    + r"|(?:迟迟|一直|拖着|到现在|至今|还|都)(?:都|还)?(?:没有?|不)(?:给我?|把)?"
      r"(?:退|返还|退还)(?:给我)?" + r"(?:押金|款|费|钱|的钱)")
_OWED_DENY_BEFORE_RE: Final = re.compile(r"(?:没有?|不是|并不|也不|不)(?:说|觉得|嫌)?$")
# said to be back now: "之前退款很慢，现在已经到账了"
_OWED_BACK_RE: Final = re.compile(
    r"已经?(?:到账|到了|退了|退回|收到|处理好|解决)|(?:现在|后来|今天|昨天)(?:已经)?(?:到账|到了|收到)"
    r"|到账了|收到了|退回来了|received|came through")


def money_owed(norm: str) -> tuple[int, int] | None:
    """Where a reply says money owed back to the person is slow or not yet returned, if it does.

    ``norm`` is the normalised reply; a complaint denied just before ("不是说押金退得慢") or
    money said to be back afterwards is none.
    """
    if not any(w in norm for w in _OWED_HEADS):
        return None
    for m in _OWED_RE.finditer(norm):
        s, e = m.span()
        if _OWED_DENY_BEFORE_RE.search(norm, max(0, s - 4), s):
            continue
        if _OWED_BACK_RE.search(norm, e) is not None:
            continue
        return s, e
    return None


# (a cheap gate: most replies name no money owed back)
_OWED_HEADS: Final = ("押金", "退", "保证金", "定金", "订金", "deposit", "refund")
