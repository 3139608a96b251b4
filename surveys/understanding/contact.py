"""Whether we are writing to the right, living person who is still in our care.

A reported death ("我爸上个月没了", not "他的药没了"), a wrong number or the wrong person
("号码留错了", "this isn't his number"), and a move to other care ("换医院了", "转到别的琴行
了") end the follow-up (an opt-out), unless advised, wished or asked ("要不要换医院").  A new
number given, or a family member answering for the patient, is no wrong number.
"""

from __future__ import annotations

import re
from typing import Final

from surveys.understanding.compose import each, factor, strings, table
from surveys.understanding.optout import OPB_QUESTION_RE
from surveys.understanding.text import CLAUSE_TAIL_RE, SEP_RE, clause_start, last_separator

# Deceased = a person, then only time words and adverbs, then 走了/没了/不在了/死了 closing the
# clause: "我爸上个月没了", "老人家已经走了，别发了"; not "他的药没了", "老人走了两步就喘",
# "他走了吗".  (A free gap of any four characters read those as deaths.)
_DEC_PERSONS: Final = " ".join(strings(table("optout"), "deceased_persons"))
_DEC_GAP: Final = (r"(?:家|子|亲|儿)?[已经早就都也在于去今前上下个月份周礼拜星期天日号初底中旬年"
                   r"\d零一二三四五六七八九十两几半刚才\s]{0,8}")
_DEC_END: Final = (r"(?:走了|没了|不在了|死了)"
                   r"(?=$|[\s,，。.!！?？;；~…、]|[啊呀哦呢吧啦嘛了的哈还]"
                   # "他走了三个月了" (months or years: "走了三天" may be a journey)
                   r"|[快有都]?[\d一二两三四五六七八九十几半]+个?多?(?:月|年))")
# "我爸前天夜里在家走的": 走的 is a death only after a time of day or a place of dying (not
# "他是走着来的"), and not in a reply about travel (see _DEC_TRAVEL_RE).
_DEC_WHEN: Final = (
    r"(?:(?:夜里|夜间|凌晨|半夜|早上|早晨|上午|中午|下午|傍晚|晚上|昨天|昨晚|前天|前晚|今早|今天|今晨)"
    r"(?:在(?:家|家里|医院|病房|ICU|icu|重症|养老院|老家))?|在(?:家|家里|医院|病房|ICU|icu|重症"
    r"|养老院|老家))")
_DEC_WENT: Final = _DEC_WHEN + r"{1,2}走的(?=$|[\s,，。.!！?？;；~…、]|[啊呀哦呢吧嘛])"
_DEC_TRAVEL_RE: Final = re.compile(r"出院|到家|回家|坐|开车|车|飞机|高铁|航班|动车|火车|旅游|出差")
_DEC_COMPOSED_RE: Final = re.compile(factor(
    each(_DEC_PERSONS, _DEC_GAP + _DEC_END) + "|" + each(_DEC_PERSONS, _DEC_GAP + _DEC_WENT)
    # "(化疗…)上个星期还是走了": in the end, at a clause end
    # (not "我们还是走了": we left)
    + r"|还(?<!我们还)(?<!我还)(?<!咱们还)是走了(?=$|[\s,，。.!！?？;；~…、]|[啊呀哦呢吧啦嘛嗯])"))
# A death told in English without "away": "she passed", "dad passed last week" (not "passed
# the exam", "passed by the clinic", "the pain has passed").
_DEC_EN_RE: Final = re.compile(
    r"\b(?:he|she|mom|mum|mother|dad|father|grandma|grandpa|granny|husband|wife"
    r"|grandmother|grandfather|my (?:mom|mum|mother|dad|father|husband|wife|son|daughter"
    r"|grandma|grandpa|grandmother|grandfather|patient))(?: has| had|'s)? (?:just |sadly "
    r"|recently |peacefully )?passed(?= away| on\b|[\s,.!;]*$|[ ,]+(?:last|yesterday|this"
    r"|on|in|at|recently|peacefully|earlier|a (?:week|month|few)|two|three|\d))")
# Change of care: "换医院了", "我已经去别的医院治了", "转到别的琴行了" -- they will not be
# back, so the follow-up stops (unless asked, advised or wished: see _SWITCH_GUARD_RE).
_CARE_PLACES: Final = r"(?:医院|诊所|机构|琴行|学校|地方|科室|家医院|家诊所|家)"
# the move is done ("了") or ongoing ("在别家治"), not a visit once ("在别的医院做了CT",
# "之前在别的医院看过", "去别的地方看看")
_SWITCH_DONE: Final = r"(?:(?:看|治|就诊|上课|学琴?|报名)?了|(?:看|治|就诊)(?=$|[\s,，。!！~]))"
_SWITCH_RE: Final = re.compile(factor("|".join((
    each("换 转", r"了?(?:一家|一个|个|到|去)?(?:别的|其他的?|另一家|另外一?家的?)?"
          + _CARE_PLACES + _SWITCH_DONE),
    "转院了", "转学了",
    each("去 在 到", r"(?:别的|其他的?|别家|另一家|另外一?家的?)" + _CARE_PLACES
          + "?" + _SWITCH_DONE),
))))
# Not this person's number, told in English: "this isn't zhang wei's number anymore", "not his
# number", "wrong #".  A subject comes first so that "isn't this the clinic's number?" asks.
_EN_WRONG_RE: Final = re.compile(
    r"(?:^not|\b(?:this|that|it|the number|this number|that number|this phone)(?:'s| is| was)? "
    r"(?:not|is ?n'?t|is not|was ?n'?t|no longer|not even)) (?:the )?"
    r"(?:(?:[a-z]+ ){0,2}?[a-z]+'s|his|her|their|my) (?:phone |mobile |cell )?number"
    r"|\bwrong (?:phone |mobile |cell |contact )?(?:number|no\b|#|person)"
    r"|\b(?:number|no\.?) (?:is )?wrong\b")
# The contact left or wrote down a wrong number, whoever says so: "号码估计他留错了"
# (not "号码没留错吧").
_WRONG_NUM_RE: Final = re.compile(
    r"(?:号|电话|手机)[^,，。!?；;]{0,10}?(?<![没不])(?:留错|写错|填错|记错|登记错)")
_OWN_SLIP_RE: Final = re.compile(
    r"了?(?:群|地方|窗口|对话)|了?[,，。.!！\s]*(?:不好意思|抱歉|sorry|这条不是)")
# 发错 of a medicine: "护士把我妈的药发错了", "发错药" (a mistake in the care, not our message)
_MEDICINE_SLIP_RE: Final = re.compile(r"药[^,，。!?；;]{0,2}$")
_NEW_CONTACT_RE: Final = re.compile(
    r"(?:联系|打|发|新号|号码是|号是|换成|改成|改为)[^。!?；;]{0,8}1[3-9]\d{9}(?!\d)")
_SWITCH_GUARD_RE: Final = re.compile(
    r"早知道|不如|应该|想|打算|准备|要不|还是|建议|让我|叫我|如果|要是|考虑|下次|万一|之前|以前"
    r"|上次|原来|先前")
_FAMILY_RE: Final = re.compile(
    r"我是(?:(?:他|她)(?!的?(?:同事|朋友|邻居|同学|室友))|病人|患者|孩子|学生)|家属|家长|儿子|女儿|妈妈|爸爸|老婆|老公|爱人|母亲|父亲"
    r"|我(?:爸|妈|家老|老伴|奶奶|爷爷|外婆|外公|姥姥|姥爷)"
    r"|替他|替她|帮他|帮她|代他|代她"
)


# After "X走了": where they went or when they come back, so a leaving ("他已经走了，去上学
# 了", "孩子走了，去奶奶家了", "人走了，下次再来"), not a death.
_DEC_LEFT_FOR_RE: Final = re.compile(
    r"[\s,，。.!！~]*(?:去(?!世)|回|到(?!现在)|上学|上班|出差|下次|明天|改天|晚点|晚些|等会"
    r"|过两天|过几天)")


# A death nearly or only imagined: "上个月差点没挺过来", "要不是你们抢救及时，我老头子就没了",
# "幸亏送得早，不然人就没了" (not 幸亏 alone: "幸好走得安详" is a death told)
_DEC_AVERTED_RE: Final = re.compile(r"差点|差一点|险些|要不是|要不然|不然")
# "我不叫王建国", "我不姓王": a name denied (not "我不叫他来了": a pronoun follows)
_NOT_MY_NAME_RE: Final = re.compile(
    r"我不[叫姓](?![他她你它])[\u4e00-\u9fff]{1,4}(?:$|[\s,，。.!！~])")


def death_averted(norm: str, s: int, e: int) -> bool:
    """Whether the death told at ``norm[s:e]`` nearly happened, is only imagined, or is the
    slang of embarrassment ("尴尬得想原地去世")."""
    return _DEC_AVERTED_RE.search(norm, max(0, s - 16), e) is not None or \
        norm.endswith("原地", 0, s)


def contact_hits(norm: str, hits: list[tuple[str, bool, int, int]]) -> None:
    """A death, a move elsewhere, a wrong number, as (kind, mild, start, end) in ``hits``."""
    # (substring gates: every death ends in 了 or 走的, every move names another place)
    first = _DEC_COMPOSED_RE.search(norm) if ("了" in norm or "走的" in norm) else None
    if first is None and "passed" in norm:
        first = _DEC_EN_RE.search(norm)
    if first is not None and not (first.group().endswith("走的")
                                  and _DEC_TRAVEL_RE.search(norm) is not None) and not (
            first.group().endswith("走了") and
            _DEC_LEFT_FOR_RE.match(norm, first.end()) is not None) and \
            not death_averted(norm, first.start(), first.end()):
        hits.append(("deceased", False, first.start(), first.end()))
    first = _SWITCH_RE.search(norm) if ("别" in norm or "其他" in norm or "另" in norm or
                                        "换" in norm or "转" in norm) else None
    if first is not None:
        hits.append(("switch", False, first.start(), first.end()))
    if norm.startswith(("我不叫", "我不姓")) and _NOT_MY_NAME_RE.match(norm) is not None:
        hits.append(("wrong_number", False, 0, 3))  # "我不叫王建国": not the person we wrote to
    if "错" in norm:
        first = _WRONG_NUM_RE.search(norm)
        if first is not None:
            hits.append(("wrong_number", False, first.start(), first.end()))
    if "number" in norm or "wrong" in norm:
        first = _EN_WRONG_RE.search(norm)
        if first is not None:
            hits.append(("wrong_number", False, first.start(), first.end()))


def wrong_number_why(norm: str, s: int, e: int, text: str) -> str | None:
    """Whether a wrong-number hit at ``norm[s:e]`` stands: None if it does, "" if it is
    none, else why it is denied (recorded as ``wrong_number_denied``)."""
    if text.startswith("打错") and (norm.endswith(("字", "名"), 0, s) or
                                   norm.startswith(("一个字", "字"), e)):
        return ""  # "名字打错了一个字": a typing slip in a document, not our number
    if text == "发错" and _OWN_SLIP_RE.match(norm, e) is not None:
        return ""  # "发错群了不好意思": the sender posted in the wrong place
    if text == "发错" and (norm.startswith("药", e) or
                          _MEDICINE_SLIP_RE.search(norm, max(0, s - 3), s) is not None):
        return ""  # "药发错了": a medicine handed out wrongly
    if "号" in text and OPB_QUESTION_RE.search(norm, clause_start(norm, s)) is not None:
        return ""  # "他的号码不对吗": asked
    if _NEW_CONTACT_RE.search(norm, e) is not None:
        # "换号了，以后请联系 139...": a new number, not a stop
        return "a new number given"
    if "不是" in text and _FAMILY_RE.search(norm[:s] + " " + norm[e:]):
        # (only "I am not the patient" is answered by family; "他没在你们那看病"
        # and "号码错了" say we have the wrong contact whoever is writing)
        return "a family member is answering"
    return None


def switch_stands(norm: str, s: int, e: int) -> bool:
    """A move to other care at ``norm[s:e]`` that is done, not advised, wished or asked
    ("要不要换医院", "早知道去别家看了")."""
    cm = last_separator(CLAUSE_TAIL_RE, norm, s)
    cs = cm.start() + 1 if cm else 0
    cem = SEP_RE.search(norm, e)
    return not (_SWITCH_GUARD_RE.search(norm, cs, s) is not None or
                OPB_QUESTION_RE.search(norm, cs, cem.start() if cem else len(norm)))
