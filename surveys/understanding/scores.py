"""Rating words and the score decision.

Likert words (``scores.toml`` with dialect, slang and English in ``ratings.toml``): 非常满意
5, 满意/挺满意/比较满意 4, 一般/还行/还可以 3, 不太满意/不满意 2, 非常不满意/很差 1; a negator
before a positive word ("没有很满意", "谈不上满意") gives 2; thumbs and WeChat emoji codes
count below words.  :func:`settle_score` then decides (highest tier wins; lower tiers only
raise doubts): several different scores, or a number contradicting the words by 2 or more
("非常满意 1分": some think 1 is best), are asked about with the *lower* candidate -- we never
inflate satisfaction; ratings of several things take the overall one, else the lowest; the
top of a larger scale ("10分", "100分") is a 5 and a stated 10-point rating is halved.  Also
the comment (the reply less its score) and yes/no answers to "您是打4分吗?".
"""

from __future__ import annotations

import re
import tomllib
from typing import Final

from surveys.native import PACKAGE_DIR
from surveys.understanding.compose import strings, table, tail_window
from surveys.understanding.evidence import Evidence, make_ev
from surveys.understanding.normalize import normalize
from surveys.understanding.numbers import Cand
from surveys.understanding.text import (
    CLAUSE_TAIL_RE,
    LEAD_RE,
    PARTICLES,
    Scan,
    last_separator,
    quoted,
    word_chars,
)

_WEAK: Final = 1      # only counts outside health talk ("恢复得很好" is not a rating)
_NUMERIC: Final = 2   # as strong as a number ("满分", "wu fen", "five stars")
_POSITIVE_NEG: Final = 4  # a negator in front flips it to 2

# the word tables (scores.toml)
_WORDS: Final = table("scores")

# A negator right before a positive word makes it a 2: "没有很满意", "谈不上满意".
_NEGATOR_RE: Final = re.compile(
    r"(?:不|没|没有|并不|并没有|谈不上|算不上|说不上|称不上|说不出(?:哪里|哪儿|有什么)?|不算|不够|不怎么"
    r"|not|not\s+very)"
    r"\s?(?:是|太|很|那么|怎么|特别|非常|算|感到|觉得)?\s?$"
)
# A negative Likert word denied: "不是不满意", "也没有不满意的地方" rate nothing.
_DOUBLE_NEG_RE: Final = re.compile(
    r"(?:不是|没有|并非|谈不上|说不上|说不出(?:哪里|什么|有什么|哪儿)?)(?:说|很|太|特别|有)?$")
# What before a Likert word makes it something else: "现在来要好评" asks for praise.
_LIKERT_SKIP_BEFORE: Final = {"好评": re.compile(r"(?:要|求|刷|讨|骗)$"),
                               # "点赞好几千了": likes on a platform, not a rating
                               "赞": re.compile(r"(?:点|求|集|被|的)$"),
                               "讚": re.compile(r"(?:點|点|求|集|被|的)$")}
_LIKERT_SKIP_AFTER: Final = {
    "一般": re.compile(r"来说|来讲|情况|都|是|会|要|需要|的话|人|不会|不"),
    # "还差三节课": short of, not bad
    "差": re.compile(r"不多|点|一点|距|价|额|别|不离|\s?[一二两三四五六七八九十几半\d]"),
    "不好": re.compile(r"意思|说|讲|弄|办|找|用|睡|吃|约|挂|停"),
    # "医生不满意我的恢复": someone else rates the speaker, who rates nothing
    # "满意是谈不上": satisfaction denied after the word; no rating either way
    "满意": re.compile(r"度|我|是?(?:谈不上|说不上|算不上|称不上)"),
    # "不满意是不可能的": a denied complaint
    "不满意": re.compile(
        r"(?:的地方|之处)[^,，。!?]{0,4}(?:没有|没|无)|我|[那这]?是?不(?:可能|存在)"),
    "满分": re.compile(r"\s?(?:\d|是|为|十|一百|的话|制|\d?分制)"),
    # "还好意思发…": the nerve of it; "还好扶住了", "还好没事": luckily
    "还好": re.compile(r"吗|吧\?|有|意思|扶|没(?!什么)|及时|来得及|赶上|发现|只是|不是|当时"),
    # "还可以在你们那建档吗": still allowed to, not a rating
    "还可以": re.compile(r"\s?(?:在|去|用|再|报|办|挂|约|继续|选|换|退|吗|么|不可以)"),
    "good": re.compile(r"bye|\s?morning|\s?night|\s?afternoon"),
    # "普通感冒", "普通门诊": ordinary (a kind of thing), not a rating
    "普通": re.compile(r"感冒|发烧|人|病|门诊|号|病房|话|科|药|家庭|老百姓|职工|班|课|的?[病药号]"),
}
# Talk about the patient's health: "恢复得很好", "还好，不疼了" are not ratings of the service.
_HEALTH_RE: Final = re.compile(r"恢复|愈合|伤口|身体|精神|睡|胃口|牙龈|血压|血糖|病情|状况|状态|"
                               r"症状|舒服|吃饭|疼|痛|肿|烧|出血|流血|咳|麻(?<!麻麻)(?![麻烦])|眼睛|视力|长得|"
                               r"fever|bleed|pain|sore|swell|wound|heal")
# The patient's state right before the word: "脸色很差", "睡眠不太好" describe health.
_HEALTH_SUBJECT_RE: Final = re.compile(
    r"(?:脸色|面色|气色|精神|胃口|食欲|睡眠|身体|视力|听力|记性|记忆力|体力|血色|嘴唇|大便|小便|"
    r"伤口|刀口|牙龈|心情|情绪|睡得|睡觉|耳朵|眼睛|腿脚|膝盖|关节|肠胃|腰)\s?(?:也|都|还|就|一直|有点|有些|越来越)?\s?$")
# A staff member or one aspect named before the word: praise of one nurse ranks below an
# overall verdict, and "医生5 护士3"-style mixed verdicts are asked about.
_ASPECT_RE: Final = re.compile(r"医生|大夫|护士|老师|前台|客服|环境|停车|设备|主任|助理|工作人员|"
                               r"教练|收费|药房|挂号|[他她]")
# Weak words ("很好", "不好", "差") count only after nothing, an adverb or a rating subject.
_RATING_CONTEXT_RE: Final = re.compile(
    r"(?:^|服务|态度|感觉|体验|总体|整体|总的来说|觉得|都|也|真|还是|就是|效果|质量|各方面|一切|技术|"
    r"医生|大夫|护士|老师|前台|环境|的)\s?(?:都|也|还|真|就|是)?\s?$")


# (see tail_window; their only ``^`` needs a text shorter than the window)
_RATING_CONTEXT_TAIL: Final = tail_window(_RATING_CONTEXT_RE)
_HEALTH_SUBJECT_TAIL: Final = tail_window(_HEALTH_SUBJECT_RE)
_DOUBLE_NEG_TAIL: Final = tail_window(_DOUBLE_NEG_RE)
_AFFIRMATIVE: Final = frozenset(strings(_WORDS["answers"], "yes"))
_NEGATIVE: Final = frozenset(strings(_WORDS["answers"], "no"))
_SCORE_RULES: Final = frozenset(
    {"not_a_score:scale", "digit", "fullwidth_digit", "chinese_numeral", "star_emoji", "thumbs",
     "wechat_emoji", "voice", "media", "emoji", "ambiguous", "out_of_range", "fraction",
     "acceptance"}
)


_BLOCKING_RULES: Final = frozenset({"complaint", "red_flag", "red_flag_denied"})


# A correction, then the score meant: "四分不对五分", "4.5吧 算了就给4", "说错了，是3分".
_CORRECTION_RE: Final = re.compile(
    r"不对|说错了|写错了|算了|就给|改成|改为|还是给|更正一下|开玩笑的|开个玩笑|逗你[的呢]")
_NUMBER_RULES: Final = frozenset(("digit", "fullwidth_digit", "chinese_numeral"))


def _settled(norm: str, ev: list[Evidence]) -> int | None:
    """The one score given after the last correction cue, if the reply corrects itself."""
    cue = -1
    for m in _CORRECTION_RE.finditer(norm):
        cue = m.end()
    if cue < 0:
        return None
    values = {x.value for x in ev if x.rule in _NUMBER_RULES and x.span[1] > cue}
    if len(values) != 1:
        return None
    value = values.pop()
    return value if value is not None and 1 <= value <= 5 else None


def _extra_ratings() -> dict[int, list[str]]:
    """The rating words of ``surveys/understanding/ratings.toml`` (dialect, slang, English)."""
    with (PACKAGE_DIR / "understanding" / "ratings.toml").open("rb") as f:
        data = tomllib.load(f)
    return {int(k): [normalize(w).replace("_", " ") for w in v if normalize(w)]
            for k, v in data.items()}


_OVERALL_RE: Final = re.compile(
    r"(?:总体|整体|总的|综合|总分|总评|总的来说|整体来说|总体来说|总体上|整体上|总之|overall"
    r"|all in all|in total)[^,，。;；!?！？]{0,6}$")


def _overall_or_lowest(norm: str, ev: list[Evidence]) -> tuple[int, tuple[int, int], str] | None:
    """Of several item ratings: the one said to be overall, else the lowest (with its span)."""
    items = [x for x in ev if x.rule in _NUMBER_RULES or x.rule == "star_emoji"
             if x.value is not None and 1 <= x.value <= 5]
    if len(items) < 2:
        return None
    for x in items:
        if _OVERALL_RE.search(norm, max(0, x.span[0] - 10), x.span[0]) is not None:
            return x.value or 0, x.span, "the overall rating"
    low = min(items, key=lambda x: x.value or 0)
    return low.value or 0, low.span, "ratings of several things: the lowest"


# The top of a common larger scale ("10分", "100分！！"), or a score on a stated 10-point
# scale ("10分制的话我打8分") or a 100-point one ("我给80分"): read on the 1-5 scale by
# halving (docs/labels.md), and a rating that does not halve exactly ("10分制打9分", "90分" --
# a 4.5) is an unsure form, confirmed with the lower score.
_TEN_SCALE_RE: Final = re.compile(
    r"10分制|十分制|满分10|满分是10|满分十|10分满分|(?:按|以)(?:10|十)分|(?:10|十)分的话"
    r"|out of 10|/10")
_HUNDRED_SCALE_RE: Final = re.compile(r"百分制|100分制|满分100|满分一百|满分是100|100分满分")
# the rating given right after the scale is named: "10分制：6", "十分制，7"
_AFTER_TEN_SCALE_RE: Final = re.compile(r"(?:10|十)分制\s?[:：,，]?\s?(\d)(?![\d.])")


def _on_larger_scale(norm: str, value: int) -> tuple[int, bool] | None:
    """``(score, exact)`` of a rating outside 1-5 read on its scale, or None if it is none."""
    if value == 0:  # "0分", "零分": the worst there is
        return 1, True
    hundred = _HUNDRED_SCALE_RE.search(norm) is not None
    if value == 100 or (value == 10 and not hundred):
        return 5, True
    if 6 <= value <= 9 and _TEN_SCALE_RE.search(norm) is not None:
        return value // 2, value % 2 == 0
    if 20 <= value < 100 and (hundred or value % 10 == 0):
        return value // 20, value % 20 == 0
    return None


_TAKEN_OFF_RE: Final = re.compile(r"[扣减]")  # before a number: points taken off


def _out_of_range_values(norm: str, ev: list[Evidence]) -> list[int]:
    """Every rating outside 1-5 the numbers recorded ("100 is outside 1-5"), in order; not
    points taken off ("扣的20分")."""
    return [int(x.note.split(" ", 1)[0]) for x in ev
            if x.rule == "out_of_range" and x.note[:1].isdigit()
            and _TAKEN_OFF_RE.search(norm, max(0, x.span[0] - 3), x.span[0]) is None]


def _after_ten_scale(norm: str) -> int | None:
    """The bare rating right after a named 10-point scale ("10分制：6"), if any."""
    m = _AFTER_TEN_SCALE_RE.search(norm)
    return int(m.group(1)) if m is not None and int(m.group(1)) > 5 else None


def _decide(cands: list[Cand]) -> tuple[int | None, float, bool, int | None]:
    """(score, confidence, needs_confirmation, candidate) from the collected candidates."""
    if len(cands) == 1:  # the usual case: one number or one word
        c = cands[0]
        if c.conf < 0.6:
            return None, c.conf, True, c.value
        return c.value, c.conf, False, c.value
    best_tier = min(c.tier for c in cands)
    top = [c for c in cands if c.tier == best_tier]
    if best_tier == 1 and any(c.explicit for c in top):
        top = [c for c in top if c.explicit]  # "给5分" beats a stray bare digit
    values = {c.value for c in top}
    if len(values) > 1:
        lo, hi = min(values), max(values)
        if best_tier in (2, 3) and hi - lo == 1:
            # stacked words: "满意，很好" -> 5; below satisfied, the lower one, in either
            # order ("一般，不太满意", "不太满意，效果一般" -> 2): never inflate satisfaction
            value = hi if lo >= 4 else lo
            return value, 0.7, False, value
        return None, 0.4, True, lo  # multi-item or contradictory: ask
    value = top[0].value
    conf = max(c.conf for c in top)
    # a number that contradicts the words ("非常满意 1分") -> ask
    if best_tier == 1:
        # (praise of one aspect beside an explicit number -- "2分 医生挺好的 但是收费处态度太
        #差" -- is the number's reason, not a contradiction: only overall words count)
        words = {c.value for c in cands if c.tier == 2 or (
            c.tier == 3 and not any(t.explicit for t in top))}
        if words and max(abs(value - w) for w in words) >= 2:
            return None, 0.45, True, value
    if conf < 0.6:
        return None, conf, True, value
    return value, conf, False, value


def comment_of(norm: str, core: str, ev: list[Evidence]) -> str:
    """The reply minus score tokens; "" if only rating words and particles are left.

    ``core`` is ``norm`` without non-word characters (the caller has it already).
    """
    if not ev:
        return norm.strip(" ,，。.!?！？;；~、…") if core else ""
    # (blanked by slicing: cheaper than list(norm) and a join for the usual one or two spans)
    chars: str | None = None  # norm with the score tokens blanked
    rest: str | None = None   # and the Likert words too
    for x in ev:
        s, e = x.span
        rule = x.rule
        if rule in _SCORE_RULES or rule.startswith("not_a_score:voice"):
            blank = " " * (e - s)
            text = norm if chars is None else chars
            chars = text[:s] + blank + text[e:]
            text = norm if rest is None else rest
            rest = text[:s] + blank + text[e:]
        elif rule.startswith("likert"):
            text = norm if rest is None else rest
            rest = text[:s] + " " * (e - s) + text[e:]
    left = (word_chars(rest) if rest is not None else core).strip(PARTICLES)
    if not left:
        return ""
    text = " ".join(chars.split()) if chars is not None else norm
    return text.strip(" ,，。.!?！？;；~、…:")


def read_likert(likert_ac: Scan[tuple[str, int, float, int]], norm: str,
                 ev: list[Evidence], cands: list[Cand]) -> None:
    """Rating words ("满意", "一般", "很差", dialect and English) as score candidates; after the
    flags, whose spans they may not overlap ("态度不好" is a complaint, not a rating of 2)."""
    n = len(norm)
    blocked: list[tuple[int, int]] | None = None  # computed on the first Likert hit
    health: bool | None = None  # computed on first need: most replies never ask
    likert_values = likert_ac.values
    for i, s, e in likert_ac.scan(norm):
        word, value, conf, flags = likert_values[i]
        if word.isascii() and ((s > 0 and norm[s - 1].isalpha()) or
                               (e < n and norm[e].isalpha() and norm[e].isascii())):
            continue
        skip = _LIKERT_SKIP_AFTER.get(word)
        if skip is not None and skip.match(norm, e):
            continue
        skip = _LIKERT_SKIP_BEFORE.get(word)
        if skip is not None and skip.search(norm, max(0, s - 3), s):
            continue
        if word == "满分" and cands and any(
                x.rule == "not_a_score:scale" and x.span[0] <= s < x.span[1] for x in ev):
            continue  # "5分满分给3分": 满分 names the scale, 3 is the score
        if norm.startswith(("吗", "么"), e) and any(x.rule == "not_a_score:asked" for x in ev):
            continue  # "3分是什么意思？中等吗": the scale asked about, glossed in the question
        if blocked is None:
            blocked = [x.span for x in ev if x.rule in _BLOCKING_RULES]
        if blocked and any(bs <= s < be or bs < e <= be for bs, be in blocked):
            continue
        cm = last_separator(CLAUSE_TAIL_RE, norm, s)
        before = norm[cm.start() + 1 if cm else 0:s].strip()
        tail = len(before)
        if flags & _WEAK and not _RATING_CONTEXT_RE.search(
                before, max(0, tail - _RATING_CONTEXT_TAIL)):
            continue
        if word[0] == "不" and s > 0 and norm[s - 1] == word[1]:
            continue  # "满不满意", "好不好": the question, not an answer
        if _HEALTH_SUBJECT_RE.search(before, max(0, tail - _HEALTH_SUBJECT_TAIL)) and \
                not _ASPECT_RE.search(before):
            continue  # "脸色很差", "胃口不太好": the patient's state, not our service
        if word[0] in "不没" and _DOUBLE_NEG_RE.search(
                before, max(0, tail - _DOUBLE_NEG_TAIL)):
            # "不是不满意哈，就是想问…": a denied complaint, not a rating either way
            ev.append(make_ev("likert_denied", (s, e), word, None, "double negation"))
            continue
        aspect = _ASPECT_RE.search(before) is not None
        if health is None and value >= 3 and not aspect:
            health = _HEALTH_RE.search(norm) is not None
        if health and not aspect and value >= 3 and "满意" not in word and \
                not flags & _NUMERIC:
            continue  # "恢复得不错", "没什么不舒服，挺好的": health, not a rating
        rule = "likert"
        if flags & _POSITIVE_NEG and before and _NEGATOR_RE.search(before[-6:]):
            value, rule = 2, "likert_negated"
        elif value >= 4 and n > e - s + 6 and (
                quoted(norm, s, e) or _SARCASM_AFTER_RE.match(norm, e) is not None
                or _SARCASM_BEFORE_RE.search(before, max(0, tail - 6)) is not None):
            # 真是太'满意'了, 太满意了呢🙂, 呵呵 满意: praise in scare quotes or with a smirk
            value, rule = 1, "likert_sarcasm"
        tier = 1 if flags & _NUMERIC else (3 if aspect else 2)
        cands.append(Cand(value, conf, tier, bool(flags & _NUMERIC)))
        ev.append(make_ev(rule, (s, e), word, value, "about one aspect" if tier == 3 else ""))

# A smirk after praise ("太满意了呢🙂", "好得很呢~") or a 呵呵 before it: sarcasm (a longer reply
# only, where the grievance follows).
_SARCASM_AFTER_RE: Final = re.compile(
    r"[了啊]?(?:呢|哦)?[~～]*(?:🙂|🙃|呵呵)|(?<=很)呢|了呢[~～!！]")
_SARCASM_BEFORE_RE: Final = re.compile(r"呵呵|🙂|🙃")


def settle_score(norm: str, ev: list[Evidence], cands: list[Cand], ambiguous: list[int],
                  out_of_range: int | None, gone: bool
                  ) -> tuple[int | None, int | None, float, bool, int | None]:
    """(score, candidate, confidence, needs_confirmation, out_of_range) from the candidates.

    ``gone``: the reply says the patient died or we wrote to the wrong person (no score).
    """
    n = len(norm)
    score: int | None = None
    candidate: int | None = None
    confidence = 0.0
    needs_confirmation = False
    if gone:
        cands = []
        ambiguous = []
        out_of_range = None
    # a score corrected in the same reply: "四分不对五分", "四星半吧 就给4"
    settled = _settled(norm, ev) if (ambiguous or len(cands) > 1) else None
    if settled is not None:
        score = candidate = settled
        confidence = 0.85
        ev.append(make_ev("corrected", (0, n), norm, settled, "the last number after a correction"))
    elif ambiguous:
        needs_confirmation = True
        candidate = min(ambiguous)
        confidence = 0.4
    elif cands:
        score, confidence, needs_confirmation, candidate = _decide(cands)
        if len(cands) > 1 and (needs_confirmation or any(
                x.rule == "not_a_score:list" for x in ev)) and \
                len({c.value for c in cands if c.tier == 1}) > 1:
            # ratings of several things ("医生5分，护士4分", "1.满意 2.还行"): the overall
            # one if stated, else the lower (docs/labels.md; never inflate satisfaction)
            item = _overall_or_lowest(norm, ev)
            if item is not None:
                value, span, why = item
                score = candidate = value
                confidence, needs_confirmation = 0.8, False
                ev.append(make_ev("per_item", span, norm[span[0]:span[1]], value, why))
    if needs_confirmation:
        score = None
    elif score is not None:
        if out_of_range in (10, 100) and score >= 4 and all(c.tier > 1 for c in cands):
            # "10分满意！": full marks on a larger scale, which the word agrees with
            score = 5
            ev.append(make_ev("scaled", (0, n), norm, 5, f"{out_of_range} on a larger scale"))
        candidate = score
        out_of_range = None  # "10分制给5分"
    elif not cands and (out_of_range is not None or (
            not ambiguous and (out_of_range := _after_ten_scale(norm)) is not None)):
        scaled = _on_larger_scale(norm, out_of_range)
        values = _out_of_range_values(norm, ev)
        several = [_on_larger_scale(norm, v) for v in values]
        if len(several) > 1 and all(x is not None for x in several):
            # two things rated on a larger scale ("给老师打100分，前台60分"): the lower one
            scaled = min(x for x in several if x is not None)
            out_of_range = values[several.index(scaled)]
        if scaled is not None:
            value, exact = scaled
            candidate = value
            if exact:
                score, confidence = value, 0.8
            else:  # "10分制打9分": a 4.5, confirmed with the lower score
                needs_confirmation, confidence = True, 0.4
            ev.append(make_ev("scaled", (0, n), norm, value, f"{out_of_range} on a larger scale"
                              + ("" if exact else ", between two scores: confirm the lower")))
            out_of_range = None
    return score, candidate, confidence, needs_confirmation, out_of_range


def answers(norm: str, core: str, core_stripped: str) -> tuple[bool, bool]:
    """(affirmative, negative): a yes or a no, as the whole reply or its first clause."""
    if core is norm:  # all word characters, no separator: the whole reply leads
        lead = norm
    else:
        lead_m = LEAD_RE.search(norm)
        lead = lead_m.group() if lead_m else ""
    affirmative = core_stripped in _AFFIRMATIVE or core in _AFFIRMATIVE or \
        lead in _AFFIRMATIVE
    negative = not affirmative and (core in _NEGATIVE or core_stripped in _NEGATIVE or
                                    lead in _NEGATIVE)
    if (not affirmative and "[ok]" in norm) or "/:ok" in norm or "👌" in norm:
        affirmative = not negative
    return affirmative, negative


_ACCEPTANCE: Final = frozenset(strings(_WORDS["acceptance"], "words"))
_ACCEPTANCE_VALUE: Final = int(_WORDS["acceptance"]["value"])


def read_acceptance(norm: str, core_stripped: str, ev: list[Evidence],
                    cands: list[Cand]) -> None:
    """A bare acceptance word as the whole reply ("可以", "行", "中", "ok"): a 3, unless asked
    ("可以吗？") or anything else rates it; the engine reads it as a yes first when it waits
    for one (surveys/engine.py)."""
    if cands or "?" in norm:
        return
    if core_stripped in _ACCEPTANCE:
        if any(q in norm for q in "吗么不[/"):
            return  # (asked; or a WeChat code such as "[OK]", the emoji of a yes)
    elif ":" not in norm or norm.rsplit(":", 1)[1].strip(" 。.!~") not in _ACCEPTANCE:
        return  # (nor the answer after a label: "娃帮俺回：中")
    cands.append(Cand(_ACCEPTANCE_VALUE, 0.9, 2, False))
    ev.append(make_ev("acceptance", (0, len(norm)), norm, _ACCEPTANCE_VALUE,
                      "a bare acceptance word"))


def likert_words() -> dict[str, tuple[int, float, int]]:
    """Every rating word with (value, confidence, flags): ``[[likert]]`` of scores.toml, then
    the dialect, slang and English words of ``ratings.toml``."""
    likert: dict[str, tuple[int, float, int]] = {}
    for row in _WORDS["likert"]:
        flags = (_POSITIVE_NEG if row.get("negatable") else 0) | \
            (_WEAK if row.get("weak") else 0) | (_NUMERIC if row.get("numeric") else 0)
        for w in strings(row, "words"):
            likert[w] = (int(row["value"]), float(row["confidence"]), flags)
    for value, extra in _extra_ratings().items():
        for w in extra:
            likert.setdefault(w, (value, 0.85, 0))
    return likert
