"""Safety: when a symptom mentioned is *not* a red flag now, and what is held exact.

A resolution said not to have happened ("没止住", "还没消下去", "一点没好转", "烧到现在也没
退", "止不住", "退不下去", "流个不停") is no resolution: the symptom goes on, which is itself
the warning.  The rules read it so, and the learned model may never clear a red flag in a
reply that says it (``surveys.understanding.decide``).

Otherwise a mention is explained away (recorded as ``red_flag_denied`` evidence) when it is
denied ("没有发烧", also over a list: "发烧、出血都没有"), resolved or improving ("烧已经退
了"), hypothetical or asked in general ("万一发烧怎么办", "多少度算发烧"), mild and expected
("有点肿"), during the treatment ("打针的时候有点疼"), the anaesthetic ("麻药还没过"), long
ago or long-standing, said in jest, about a staff member or someone else, or has another
cause.  The rules that find mentions are ``surveys.understanding.redflag``; this module puts
the exclusions in order, from :mod:`.resolution` (denied, resolved, mild, supposed) and
:mod:`.circumstance` (past, someone else's, told for another purpose); self-harm takes its own
(:mod:`.selfharm`).
"""

from __future__ import annotations

import re
from typing import Final

from surveys.understanding.circumstance import (
    BODY_STAFF_RE,
    LAUGH_RE,
    SERIOUS_RE,
    grievance_circumstance,
    not_now,
    other_cause,
)
from surveys.understanding.compose import factor
from surveys.understanding.resolution import (
    ASKED_NORMAL_RE,
    CHRONIC_RE,
    ECHO_DENIED_RE,
    FEELING_RE,
    JOKE_RE,
    NEG_RESOLUTION_RE,
    NO_RESOLVE_RE,
    NOW_RE,
    PAST_RE,
    RF_RESOLVED_AFTER_RE,
    RFB_ANAESTHESIA_RE,
    RFB_CONTEXT_EXTRA,
    RFB_CONTEXT_RE,
    RFB_DENY_AFTER_RE,
    RFB_DENY_BEFORE_RE,
    RFB_HYPO_AFTER_RE,
    RFB_HYPO_CLAUSE_RE,
    RFB_HYPO_SENT_RE,
    RFB_MINOR,
    RFB_NEEDS_CONTEXT,
    RFB_PROCEDURE_RE,
    RFB_SOFT_AFTER_RE,
    RFB_SOFT_BEFORE_RE,
    SOFTENABLE,
    better_after,
    fainted,
    hypothetical,
)
from surveys.understanding.text import SEP_RE, bounds

# Words between a staff member and the sign that make the sign the patient's again:
# "护士说我一直出血" (told by the nurse), "医生让他…".
_STAFF_TO_PATIENT_RE: Final = re.compile(r"说|讲|告诉|让|叫|给|帮|问|我|孩子|他|她|病人|老人|宝宝")
# A turn to another subject after praise of the staff: "医生都很好 5分 但是今天右眼突然看不清了"
_TURN_RE: Final = re.compile(r"但是|但|不过|可是|\d分|起来|早上|晚上|今天|昨天|现在")


def staff_subject(norm: str, cs: int, s: int) -> bool:
    """A staff member is the subject of what follows: "值班的护士一直在睡觉"."""
    last = None
    for m in BODY_STAFF_RE.finditer(norm, cs, s):
        last = m
    return last is not None and _STAFF_TO_PATIENT_RE.search(norm, last.end(), s) is None \
        and _TURN_RE.search(norm, last.end(), s) is None


# Every context cue the exclusions look for: h hypothetical, p treatment, j joke,
# c long-standing, t long ago, s staff, n stroke-like, a anaesthetic.
_CUES: Final = (
    ("h", RFB_HYPO_SENT_RE), ("p", RFB_PROCEDURE_RE), ("j", JOKE_RE), ("c", CHRONIC_RE),
    ("t", PAST_RE), ("s", BODY_STAFF_RE), ("n", NO_RESOLVE_RE), ("a", RFB_ANAESTHESIA_RE))
# factored by first character: a plain alternation of these patterns loses re's prefilter
_CUE_RE: Final = re.compile(factor("|".join(rx.pattern for _, rx in _CUES)))


def cues_of(norm: str) -> str:
    """Letters of the context cues present anywhere in the reply (see ``_CUE_RE``).

    One search settles the usual reply, which has none; otherwise each cue is looked for on
    its own (cues overlap: "麻药要几个小时" is both the anaesthetic and a treatment time).
    """
    if _CUE_RE.search(norm) is None:
        return ""
    return "".join(k for k, rx in _CUES if rx.search(norm) is not None)


# A threshold asked about, no sign told: "黄疸多少需要复查", "黄疸值到多少要照蓝光".
_VALUE_ASKED_RE: Final = re.compile(
    r"(?:值|指数|指标)?(?:多少|到多少|超过多少|高于多少|多高|几)(?:[^,，。!?；;]{0,8}"
    r"(?:复查|医院|住院|照蓝光|治疗|算高|算正常|正常|要紧|需要|[吗呢?]))")


def rf_precise_exclusion(norm: str, cs: int, s: int, e: int, cues: str) -> str:
    """The broad layer's exclusions for the precise rules' hits ("" if none applies).

    ``cs`` is the clause start.  Denied, over and done with ("晕倒后来查了是低血糖，现在已经
    没事了"), hypothetical, during the treatment, or a joke.
    """
    if (RFB_DENY_BEFORE_RE.search(norm, max(cs, s - 10), s) is not None and
            not growing(norm, cs, s, e)) or \
            RFB_DENY_AFTER_RE.match(norm, e) is not None or \
            ECHO_DENIED_RE.match(norm, e) is not None:
        return "denied"
    if _VALUE_ASKED_RE.match(norm, e) is not None:
        return "a value asked about"
    _, ss, se = bounds(norm, s, e)
    if "死" in norm[s:e] and LAUGH_RE.search(norm, ss, len(norm)) is not None and \
            SERIOUS_RE.search(norm, ss, se) is None:
        return "said in jest"
    if better_after(norm, e, se, strict=True) and (
            "n" not in cues or NO_RESOLVE_RE.search(norm, ss, se) is None) and \
            not fainted(norm, s, e):
        return "resolved or improving"
    if "h" in cues and hypothetical(norm, ss, se, s):
        return "hypothetical or asked in general"
    if _LOW_FEVER_WORD_RE.search(norm, s, e) is not None:
        why = _mild_asked(norm, ss, se, s, e, norm[s:e])
        if why:
            return why
    return _rf_context_exclusion(norm, cs, ss, s, e, cues)


def _rf_context_exclusion(norm: str, cs: int, ss: int, s: int, e: int, cues: str) -> str:
    """During the treatment (and not later), long ago, long-standing, said in jest, or
    another cause (:func:`other_cause`).

    ``cues`` (from :func:`cues`) says which of the first ones the reply mentions at all, so
    most mentions are cleared without a single search.
    """
    why = other_cause(norm, cs, ss, s, e)
    if why:
        return why
    if "p" in cues:
        pm = RFB_PROCEDURE_RE.search(norm, ss, s)
        if pm is not None and NOW_RE.search(norm, pm.end(), s) is None:
            return "during the treatment"
    if "j" in cues:
        return "said in jest"
    if "s" in cues and staff_subject(norm, cs, s):
        return "about a staff member"
    if "c" in cues or "t" in cues:
        m = SEP_RE.search(norm, e)
        ce = m.start() if m else len(norm)
        if "c" in cues and CHRONIC_RE.search(norm, ss, ce) is not None:
            return "long-standing"
        if "t" in cues and PAST_RE.search(norm, cs, ce) is not None and \
                NOW_RE.search(norm, e, ce) is None:
            return "long ago"
    if "n" not in cues or NO_RESOLVE_RE.search(norm, ss, len(norm)) is None:
        se = bounds(norm, s, e)[2]
        return not_now(norm, ss, se, s, e, norm[s:e]) or \
            grievance_circumstance(norm, cs, ss, se, norm[s:e])
    return ""


# A low-grade fever: "低烧37.6", "37度5" (not "烧到38"), which counts when it goes on.
_LOW_FEVER_RE: Final = re.compile(r"低烧|低热|微热|3(?<![\d.]3)7(?:\.\d|度\d?)(?![\d.])")
_LOW_FEVER_WORD_RE: Final = re.compile(r"低烧|低热|微热")
_HIGH_FEVER_RE: Final = re.compile(r"(?:3[89]|4[0-2])(?:\.\d)?(?![\d.])|三十[八九]|四十|高烧|高热")
_GOES_ON_RE: Final = re.compile(
    r"还在|还是|一直|不退|没退|退不|反复|持续|总是|老是|天了|好几天|[两三四五六七八九十几\d]天|第[^,，。!?；;]{1,2}天"
    r"|越来越|又烧|still|days")
# Minor signs that, asked about as normal with nothing severe beside them, are a question
# about an expected course, not a warning: "有点口臭，正常吗", "吃点油的就拉肚子，这个正常吗".
_ASKABLE_RE: Final = re.compile(r"疼|痛|肿|胀|酸|痒|麻|咳|红|烫|臭|味|拉肚子|拉稀|泻|恶心|不舒服"
                                r"|难受|疹"
                                r"|低烧|低热|发炎|光晕")
_EXCRETA_RE: Final = re.compile(r"尿|便|血|痰")
_ASKED_EXPECTED_RE: Final = re.compile(
    r"正常[吗吧么嘛]|正常的[吗吧么嘛]|正不正常|算正常|是正常的吧|要紧[吗不么]|要不要紧|没事吧|没问题吧"
    r"|不用担心吧|不要紧吧|is (?:this|that|it) normal|normal\?"
    # how long until it passes: asked as an expected course
    r"|多久(?:能|会|才能|才会)?好|几天(?:能|会|才能)?好")
_ASKED_SEVERE_RE: Final = re.compile(
    r"一直|不停|不断|厉害|严重|受不了|越来越|加重|更[疼痛肿多大红]|睡不着|[两三四五六七八九十几\d]天了"
    r"|(?:3[89]|4[0-2])(?:\.\d)?(?![\d.])|高烧|血|脓|喘|憋|抽|昏|晕倒|看不[见清]|不吃|不喝|尿少|没尿"
    r"|还是|还在|还[疼痛肿红烧]|比[^,，。!?；;]{0,4}(?:还|更)|没好|不好|没消|不消|不退"
    # not relieved, sudden, colicky, spreading, deformed, more than before (Cantonese 过之前,
    # 晒 "all over"), excreta and sputum
    r"|缓解|突然|一阵一阵|绞|像鼓|红线|变形|整[个块张]|成[块个张]|晒|[疼痛肿]过|又红又|白色的东西"
    r"|痰|尿|便|红色的丝|红丝"
    # spreading towards the neck or the eye: "有一点点肿，不过好像往脖子那边走了，要紧吗"
    r"|往[^,，。!?；;]{0,4}(?:走|跑|蔓延|扩|窜)|蔓延|扩散|扩大|到脖子|到眼")
# ... and only when the writer softens it themselves ("有点", "稍微"): an unsoftened sign asked
# about ("肚子一阵一阵绞着疼，要紧吗") is reported, and asking cannot take a red flag away.
_SOFTENER_RE: Final = re.compile(
    r"有点|一点|有些|稍微|稍稍|轻微|微微|略微|略有|些许|[吃喝]点|一丢丢|小小|一小[块片点]|几个小"
    # early in a course, where soreness is expected: "矫正第一周牙齿酸痛"
    r"|第[一二1-2](?:周|天|个星期|个礼拜)|刚(?:戴|装|做完|矫正|换|调)|头(?:几|两)天|酸痛|酸胀")


def _mild_asked(norm: str, ss: int, se: int, s: int, e: int, word: str) -> str:
    """A low-grade fever not said to go on, or a minor sign asked about as normal ("" if
    neither): the label convention's "mild and expected" (docs/labels.md)."""
    sentence = norm[ss:se]
    if ("烧" in word or "热" in word) and _LOW_FEVER_RE.search(sentence) is not None and \
            _HIGH_FEVER_RE.search(sentence) is None and _GOES_ON_RE.search(norm, ss) is None:
        return "a low-grade fever"
    if _VALUE_ASKED_RE.match(norm, e) is not None:
        return "a value asked about"
    if norm.startswith("死", e) and LAUGH_RE.search(norm, ss) is not None and \
            SERIOUS_RE.search(norm, ss, se) is None:
        return "said in jest"  # "疼死我了哈哈哈"
    if _ASKABLE_RE.search(word) is not None and _EXCRETA_RE.search(word) is None and \
            _SOFTENER_RE.search(norm, ss, e) is not None and \
            _ASKED_EXPECTED_RE.search(norm, e, min(len(norm), se + 12)) is not None and \
            _ASKED_SEVERE_RE.search(norm, ss, min(len(norm), se + 12)) is None:
        return "mild, asked about as expected"
    return ""


# A symptom's character inside another word: the anaesthetic (全麻, 局麻, 麻醉), a blood test
# (抽个血), "so-so" (麻麻, Cantonese: a rating on its own), worn out (人都麻了).
_ANAESTHETIC_BEFORE: Final = frozenset("全局半腰")
_ANAESTHETIC_AFTER_RE: Final = re.compile(r"[醉药]")
_BLOOD_TEST_AFTER_RE: Final = re.compile(r"(?:了|完|个|一?管|次)?血(?![丝块尿便])|烟|奖|签|屉|空")
_ALONE_RE: Final = re.compile(r"[\s,，。.!！~～]*(?:哋|地|啦|吧|嘅)?[\s,，。.!！~～]*$")
_WORN_OUT_RE: Final = re.compile(r"人都?麻了")


def _another_word(norm: str, s: int, e: int, word: str) -> str:
    """Why the symptom's character at ``norm[s:e]`` is part of another word ("" if not)."""
    if word[0] == "麻":
        if norm[s - 1:s] in _ANAESTHETIC_BEFORE or \
                _ANAESTHETIC_AFTER_RE.match(norm, e) is not None:
            return "the anaesthetic"
        if norm.startswith("麻麻", s) and (s == 0 or not norm[s - 1].isalnum()) and \
                _ALONE_RE.match(norm, s + 2) is not None:
            return "a rating (so-so)"
        if _WORN_OUT_RE.search(norm, max(0, s - 2), e + 1) is not None:
            return "a figure of speech"
    elif word == "抽" and _BLOOD_TEST_AFTER_RE.match(norm, e) is not None:
        return "a blood test"
    return ""


# A sign said to be growing: "说没事，今天脓更多了", "脓比昨天更厉害了" -- whatever was said
# before it (a denial, a reassurance), it is worse now; unless the growth itself is denied
# right before it ("没有越来越疼", "疼痛没有加重").
_GROWTH: Final = r"更多|加重|更厉害|更严重|变大|更大|变多|更[疼痛肿红]"
_WORSE_RE: Final = re.compile(r"越[^,，。!?；;]{0,3}越|" + _GROWTH)
_WORSE_AFTER_RE: Final = re.compile(
    r"[^,，。!?；;没不未无]{0,2}?(?:越来越|" + _GROWTH + ")"
    r"|[^,，。!?；;没不未无]{0,2}?比[^,，。!?；;没不未无]{0,5}(?:还|更)"
    r"(?:大|肿|疼|痛|厉害|严重|高|多|红|深|重)")
_NEG_JUST_BEFORE_RE: Final = re.compile(r"(?:没有?|不|未|无)[^,，。!?；;]?$")


def growing(norm: str, cs: int, s: int, e: int) -> bool:
    """The sign at ``norm[s:e]`` is said to grow: right after its words, or in them when that
    growth is not denied right before it."""
    return _WORSE_AFTER_RE.match(norm, e) is not None or (
        _WORSE_RE.search(norm, s, e) is not None and
        _NEG_JUST_BEFORE_RE.search(norm, max(cs, s - 3), s) is None)


def rfb_exclusion(norm: str, s: int, e: int, word: str, cues: str) -> str:
    """Why a broad symptom mention at ``norm[s:e]`` is not a red flag ("" if it is one)."""
    why = _another_word(norm, s, e, word)
    if why:
        return why
    cs, ss, se = bounds(norm, s, e)
    before = norm[max(cs, s - 10):s]
    sentence = norm[ss:se]
    if word in RFB_NEEDS_CONTEXT:
        extra = RFB_CONTEXT_EXTRA.get(word)
        if extra is not None:
            if extra.search(sentence) is None:
                return "no sign"
        elif RFB_CONTEXT_RE.search(sentence.replace(word, " ")) is None:
            return "no body context"
    worse = growing(norm, cs, s, e)
    if not worse and (RFB_DENY_BEFORE_RE.search(before) or (
            RFB_DENY_AFTER_RE.match(norm, e, se) and not word.startswith("一滴"))
            or ECHO_DENIED_RE.match(norm, e) is not None):
        return "denied"
    if word in ("不舒服", "难受"):
        if "没" in norm[cs:s] or "无" in norm[cs:s]:
            return "denied"
        if FEELING_RE.search(norm, cs, s) is not None:
            return "a feeling, not the body"
    if not worse and (better_after(norm, e, se) or (
            RF_RESOLVED_AFTER_RE.match(norm, e, se) and
            NEG_RESOLUTION_RE.search(norm, e, se) is None)) \
            and ("n" not in cues or NO_RESOLVE_RE.search(norm, ss, se) is None) \
            and not fainted(norm, s, e):
        return "resolved or improving"
    if ("h" in cues and hypothetical(norm, ss, se, s)) or \
            RFB_HYPO_CLAUSE_RE.search(norm, cs, s) or \
            RFB_HYPO_AFTER_RE.match(norm, e, se):
        return "hypothetical or asked in general"
    if (word[0] in RFB_MINOR or word in SOFTENABLE) and (RFB_SOFT_BEFORE_RE.search(before) or
                                  RFB_SOFT_AFTER_RE.match(norm, e, se)) and \
            NEG_RESOLUTION_RE.search(norm, e, se) is None:  # "疼一点没减轻" is not mild
        return "mild"
    if word in ("晕", "头晕") and RFB_SOFT_BEFORE_RE.search(before) and \
            ASKED_NORMAL_RE.search(norm, e) is not None:
        return "mild"
    why = _mild_asked(norm, ss, se, s, e, word)
    if why:
        return why
    why = _rf_context_exclusion(norm, cs, ss, s, e, cues)
    if why:
        return why
    if word[0] == "麻" and "a" in cues and RFB_ANAESTHESIA_RE.search(sentence):
        return "the anaesthetic"
    return ""
