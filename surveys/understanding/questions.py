"""Questions: something staff should answer (docs/labels.md).

A-not-A ("在不在", "满不满意" only when asked), a clause ending in 不 ("可以刷牙不"), 啥,
"X还是Y" after a modal, question words with their guards (怎么, 多少, 什么 after a verb),
English yes/no openers, and a question mark or particle -- unless it is an echo answered at
once ("满意？当然满意啦"), a reproach beside a stop ("别再发了好吗"), scorn ("这也叫服务？")
or a quote ("你问我满不满意").
"""

from __future__ import annotations

import re
from itertools import islice
from typing import Final

from surveys.understanding.compose import IN, MAX_HITS, each, factor
from surveys.understanding.evidence import Evidence, make_ev
from surveys.understanding.text import clause_start

# Questions: A-not-A ("在不在"), a clause ending in 不 ("可以刷牙不"), 啥, "X还是Y" after a
# modal, and English yes/no openers.
_Q_GRAMMAR: Final = "|".join((
    r"不(?<!不[\u4e00-\u9fff]不)(?<=(?P<anb>[\u4e00-\u9fff])不)(?<![动烦]不)(?P=anb)",
    # (not 有完没完: fed up; not 没事没事: said twice)
    r"没(?<=(?P<anm>[\u4e00-\u9fff])没)(?<!有完没)(?<!没[\u4e00-\u9fff]没)(?P=anm)",
    r"不(?=$|[\s,.!?~。，、…])(?<=[\u4e00-\u9fff]{2}不)(?<![也都并我还就才可要他她你绝决本点从]不)",
    each("来 完 好 到 过 出", r"没有?(?<!从来没)(?<!从来没有)(?=$|[\s,.!?~。，、…])"),
    "真的假的",
    # (not 满意个啥: scorn; not 吃啥吐啥: whatever)
    r"啥(?<!没啥)(?<!个啥)(?<!啥[\u4e00-\u9fff])(?<!啥[\u4e00-\u9fff]{2})"
    r"(?<!没[\u4e00-\u9fff]啥)(?<!没[\u4e00-\u9fff]{2}啥)(?!都|也"
    r"|[\u4e00-\u9fff]{1,2}啥)",
    each("需要 要 该 应该 用 选 买 去 挂 交 带",
          IN + "{0,8}还是(?![很挺有不没太那比会是要得都也])"),
))
EN_Q_START_RE: Final = re.compile(
    r"(?:is|are|does|can|could|should|may|did) (?:the|it|there|this|that|my|your|he|she|they"
    r"|we|you|i|a|an)\b|do (?:you|i|we|they) "
    r"|will (?:i|you|it|the|my|there) |would (?:you|it) |has (?:the|my) |have (?:you|i) ")
# A question mark or particle: 吗 always, 么 unless it ends 什么/怎么..., 呢 at a clause end
# unless 说呢 or 着呢 (记着呢, 好着呢: an assurance).  One character class first, then
# conditions (first-character filter).
_RHETORICAL_RE: Final = re.compile(r"(?:好|行|可以|成|有意思|有用|懂|明白|听懂)[吗伐]$")
# "这也叫服务？": scorn, not a question
_SCORN_Q_RE: Final = re.compile(r"这也叫|这就叫|这也算|也配叫")
# A question mark answered at once: "满意？当然满意啦", "不满意？没有的事" echo us.
_ECHO_ANSWER_RE: Final = re.compile(r"\s?(?:当然|没有|那倒|不至于|哪有|是啊|对啊|没的事|才不)")
# "在小区里散步呢", "我在家按时吃药呢": 在 ... 呢 says what is going on, asking nothing
_PROGRESSIVE_RE: Final = re.compile(r"在(?![哪那这])[^,，。!?；;哪谁啥么]{1,10}$")
_QUESTION_TAIL_RE: Final = re.compile(
    r"[?吗么呢](?<![什怎那这多]么)(?<!说呢)(?<!着呢)(?:(?<!呢)|(?=$|[\s,.!~。，、…]))"
    # Shanghainese 伐 ("要预约伐"), and a tag asking to be told yes: "不用再来了是吧"
    r"|伐(?<![步采征讨砍杀般]伐)(?=$|[\s,.!~。，、…])|是吧(?=$|[\s,.!~。，、…?])"
)
# Built-in question cues that need a guard a plain lexicon entry cannot express.
_Q_PHRASES: Final = (
    # 怎么开 (not 不怎么, 怎么也, and not 怎么按都按不住: no matter how)
    # (and not 怎么还发: a reproach to us for writing)
    r"怎(?<![不没]怎)么(?!说呢|说吧|也|都|着|样都|[\u4e00-\u9fff]{1,3}[都也][\u4e00-\u9fff]{0,3}[不没]"
    r"|还在?(?:发|打|问))"
    r"|多(?<!或多)少(?!有点|有些|会|还是|也)"              # 电话多少 (not 多少有点疼)
    r"|咋(?<!不咋)样|"                                    # 咋样 (not 不咋样)
    + "|".join(re.escape(v[0]) + f"(?<![没不]{v[0]})" + re.escape(v[1:])
               # 挂什么号 (not 没什么, 什么问题, 吃什么吐什么)
               + "什么(?!都|也|似的|问题|[\u4e00-\u9fff]什么)"
               for v in ("挂", "带", "吃", "喝", "用", "拿", "买", "做", "准备", "注意", "需要",
                         "要", "是", "有"))
    + r"|了没有?(?=$|[\s,.!?~。，])"                          # 报告出来了没
    # 想咨询一下 (not 心理咨询师, 咨询还行: the service)
    r"|咨(?<!心理咨)询(?!师|室|中心|费|服务|效果|过程|[还挺很也都就了完]|的|以后|之后)"
    # 是饭前还是饭后啊: two options, then a question particle
    r"|是(?![不没])[\u4e00-\u9fff]{1,4}?还是[\u4e00-\u9fff]{1,5}?(?=[啊呀呢吗?])"
    # 保修期是几年 (not 都是几年前的事了)
    r"|是几(?:年|天|个|次|周|月|岁|级|遍|颗|片|粒)(?!前|后|了)"
    # 饭前吃还是饭后吃: the same verb on both sides of 还是
    r"|还(?<=([\u4e00-\u9fff])还)是[\u4e00-\u9fff]{1,4}?\1(?![\u4e00-\u9fff]?了)"
)
Q_COMPOSED_RE: Final = re.compile(factor(_Q_PHRASES + "|" + _Q_GRAMMAR))


# Before a question word, what makes it no question: "没多久就…" (soon after), "也没跟我说为什么"
# (reported), "你问我满不满意" (quoted).
_NOT_ASKED_BEFORE_RE: Final = re.compile(
    r"(?:没(?:跟我|和我|给我)?(?:说|讲|告诉我?|解释)|问我?|说不上|说不好|教(?:我们|我|他|她)?)$")
# after it: "满不满意无所谓"
_NOT_ASKED_AFTER_RE: Final = re.compile(r"[\u4e00-\u9fff]{0,2}(?:无所谓|都行|都可以|都一样|不重要)")


def not_asked(norm: str, s: int, e: int, text: str) -> bool:
    """A lexicon question cue at ``norm[s:e]`` that asks nothing (see _NOT_ASKED_BEFORE_RE).

    Also "一天拉了十几次" (十几: a dozen-odd, not "how many") and "不会不会" (a denial
    said twice, not "会不会").
    """
    # (an A-not-A match starts at its 不: "满不满意" is found as "不满")
    start = s - 1 if len(text) == 2 and text[0] in "不没" and s else s
    if _NOT_ASKED_BEFORE_RE.search(norm, max(0, start - 4), start) is not None or \
            _NOT_ASKED_AFTER_RE.match(norm, e) is not None:
        return True
    if text.startswith("多") and norm[s - 1:s] == "没":
        return True  # "没多久就…": soon after
    i = text.find("几")
    if i >= 0 and ((i and text[i - 1] in "十百千") or (not i and s and norm[s - 1] in "十百千")):
        return True
    return len(text) == 3 and text[1] in "不没" and text[0] == text[2] and s > 0 and \
        norm[s - 1] == text[1]


def _tail_asks(norm: str, qm: re.Match[str], stop: bool) -> bool:
    """Whether the question mark or particle ``qm`` asks anything.

    Not an echo answered at once ("满意？当然满意啦"), a reproach beside a stop ("别再发了
    好吗", "有意思吗"), scorn ("这也叫服务？"), nor 在…呢 saying what is going on.
    """
    q = qm.start()
    if _ECHO_ANSWER_RE.match(norm, qm.end()) is not None:
        return False
    if stop and _RHETORICAL_RE.search(norm, 0, qm.end()) is not None:
        return False
    cs = clause_start(norm, q)
    if _SCORN_Q_RE.search(norm, cs, q) is not None:
        return False
    return not (qm.group() == "呢" and _PROGRESSIVE_RE.search(norm, cs, q) is not None)


def settle_question(norm: str, ev: list[Evidence], asked: bool, opt_spans: list[tuple[int, int]]
            ) -> tuple[bool, list[Evidence]]:
    """Whether the reply asks something (``asked``: a question rule's hit stands), and the
    evidence (a new list when a demand's question form is dropped: "能不能别再发了")."""
    question = asked
    if opt_spans and question:
        # "能不能别再发了" is a demand, not a question.
        question = any(x.rule == "question" and
                       not any(os - 3 <= x.span[1] <= os + 1 for os, _ in opt_spans)
                       for x in ev)
        if not question:
            ev = [x for x in ev if x.rule != "question"]
    if not question:
        qm = _QUESTION_TAIL_RE.search(norm)
        if qm is not None and _tail_asks(norm, qm, bool(opt_spans)):
            question = True
            ev.append(make_ev("question", qm.span(), qm.group(), None, "question mark/particle"))
    return question, ev


def question_hits(norm: str, hits: list[tuple[str, bool, int, int]]) -> None:
    """The composed question rules' matches, as (kind, mild, start, end) in ``hits``."""
    first = Q_COMPOSED_RE.search(norm)
    if first is not None:
        for tm in islice(Q_COMPOSED_RE.finditer(norm, first.start()), MAX_HITS):
            hits.append(("question", False, tm.start(), tm.end()))
