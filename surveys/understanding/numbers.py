"""Numbers, stars and emoji as score candidates (exact: units, ranges, scales).

"5", "5分", "给4分", "五分", "打个四分吧", "伍", "⭐⭐⭐⭐", "4/5", "wu fen" are scores; numbers
with a unit are *not* ("3岁", "等了2个小时", "一天3次", "下午3点", "36牙", "[语音] 5\"", phone
numbers, "考了90分").  Decimals ("4.5"), ranges and alternatives ("3-4", "3或4") are unsure:
the engine confirms the lower.  A number clearly given as a score but outside 1-5 ("6分",
"99") is reported as out of range.  :func:`read_numbers` reads them all;
``surveys.understanding.scores`` decides.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import islice
from typing import Final

from surveys.understanding.compose import MAX_HITS, table
from surveys.understanding.evidence import Evidence, make_ev
from surveys.understanding.text import PARTICLES

_CN_DIGITS: Final = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
    "八": 8, "九": 9, "壹": 1, "贰": 2, "叁": 3, "肆": 4, "伍": 5, "陆": 6, "柒": 7, "捌": 8,
    "玖": 9, "仨": 3,
}


def _cn_value(s: str) -> int | None:
    """Value of a small Chinese numeral (0-100), or None if it is not one."""
    if len(s) == 1:
        if s in _CN_DIGITS:
            return _CN_DIGITS[s]
        return 10 if s in "十拾" else (100 if s == "百" else None)
    if s in ("一百", "壹百"):
        return 100
    head, sep, tail = s.partition("十")
    if not sep or len(head) > 1 or len(tail) > 1:
        return None
    tens = _CN_DIGITS.get(head, -1) if head else 1
    ones = _CN_DIGITS.get(tail, -1) if tail else 0
    return None if tens < 0 or ones < 0 else tens * 10 + ones


# Score marks after a number.  分 is excluded when it starts another word (分钟, 三分之一,
# 一分钱, 分院 ...).
# "一分都不会交": not a cent.
_FEN = r"分(?!钟|之|析|泌|开|别|享|配|娩|院|期|钱|数线|店|支|机|队|类|手|散|布|段|成" \
    r"|[都也][不没别]?[会要用想]?[交付掏出花赔])"
# A count of stars in words: "五颗星", Cantonese "五粒星", "5星" (not 星期).
_STAR_UNIT: Final = r"颗星|粒星|个星(?!期)|星(?!期)|[颗粒个](?=[⭐★🌟])"
_TOKEN_RE: Final = re.compile(
    r"(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<cn>[零〇一二两三四五六七八九十百壹贰叁肆伍陆柒捌玖仨]{1,3})(?=\s?(?:"
    + _FEN + "|" + _STAR_UNIT + r"|[⭐★🌟](?![⭐★🌟])))"
    r"|(?P<star>[⭐★🌟✨]+)"
    r"|(?P<up>👍+)|(?P<down>👎+)"
    r"|(?P<wx>\[[^\[\]\s]{1,6}\]|/:[a-z]{2,8})"
)
_UNIT_RE: Final = re.compile(
    r"\s?(?:(?P<scale>分制|分的话|分满分|分为满分)|(?P<score>" + _FEN
    + "|" + _STAR_UNIT + r"|stars?\b|points?\b|[⭐★🌟](?![⭐★🌟]))"
    r"|(?P<age>周岁|岁)"
    r"|(?P<duration>个多?月|个?多?小时|个?钟头|个钟|分钟|min|秒|天|周(?!岁)|星期|礼拜|年|h\b)"
    r"|(?P<date>月|日|号)"
    r"|(?P<time>点|:\d)"
    r"|(?P<weight>公斤|千克|斤|kg\b|磅)"
    r"|(?P<length>毫米|厘米|公分|公里|mm\b|cm\b|km\b|米)"
    r"|(?P<dose>mg|ml|毫升|毫克|克|g\b|片|粒|针|支|瓶|盒|袋|包)"
    r"|(?P<count>次|遍|回|趟|下|个|位|人|颗|条|张|本|节|首|期|届|组|排|门|科)"
    r"|(?P<money>元|块|毛|角|w\b|万(?!一)|千|百)"  # (万一: in case)
    r"|(?P<temperature>度|℃|°)"
    r"|(?P<tooth>(?<!\s)号?牙)"  # (tooth numbers are glued: "3 牙有点肿" is a score)
    r"|(?P<place>楼|层|床|室|栋|单元|班|年级|级|路)"
    r"|(?P<percent>%)"
    r"|(?P<voice_length>\"|''|')"
    r"|(?P<approx>多|来)"
    r"|(?P<thanks>q(?![a-z])|ks\b)"  # "3Q", "3ks": thank you
    r")"
)
_RANGE_RE: Final = re.compile(r"\s?(?:(-|~|到|至|或者|或是|或|/|、)\s?)(\d+(?:\.\d+)?)")
_CN_PAIR_RE: Final = re.compile(r"([一二两三四五])([一二两三四五])")
_CN_RANGE_BACK_RE: Final = re.compile(r"([一二两三四五])(?:到|或|至|-|~)([一二两三四五])$")
# Text just before a number that makes it not a score.
_PRE_BLOCK_RE: Final = re.compile(
    r"(?:(?P<ordinal>第)|(?P<deduct>扣了?|减了?|扣掉)|(?P<weekday>周|星期|礼拜)|(?P<money>[¥$])"
    r"|(?P<exam>考了?|得了|拿了|成绩)"
    # a clock needs a number before 点 or a colon ("8点 5分", "8:30"; not "不满意到极点 1分",
    # "外婆代回：3", "答：4": a colon after words labels the score)
    r"|(?P<time>(?<=\d):|(?<=[\d〇零一二两三四五六七八九十几半])点|上午|下午|晚上|早上|凌晨|中午)"
    # ... unless the label names something else: "床号：3", "年龄：4"
    r"|(?P<label>(?:年龄|岁数|床号?|床位|编号|尾号|房间?号?|电话|手机号?|号码|卡号|工号|体温|血压"
    r"|血糖|心率|脉搏|时间|日期|次数|天数|数量|价格|费用|金额|体重|身高|视力|度数|牙位|楼层)\s?:)"
    r"|(?P<scale>满分|总分|满分是|满分为)|(?P<temperature>(?<!意)度|体温)"
    r"|(?P<tooth>左上|左下|右上|右下)|(?P<code>[a-z]))\s?$"
)
# a word, then the score: "ok 5", "gei 5 fen", "overall 4", "overall a 3", "that's a 5", "emmm 3吧"
_ASCII_LEAD_RE: Final = re.compile(
    r"(?:^|\s)(?:ok|okay|gei|da|ping|pingfen|fen|overall|answer|reply|total|verdict|final"
    r"|honestly|well|so|e?m{2,}|hm+|um+|uh+|er+m*|that'?s|it'?s|say|guess|call it|maybe"
    r"|probably|def|definitely)(?:\s(?:a|an|like))?\s$")
_LIST_MARK_RE: Final = re.compile(r"(?:^|[\s,;])\d{1,2}(?:\.(?!\d)|[、)])")
# Text just before a number that makes it a score ("给5分", "打4", "评分5").
_PRE_SCORE_RE: Final = re.compile(
    r"(?:我?(?:就|还是)?(?:给|打|评|选)(?:个|了|您|你们|你)?|评分|打分|分数|得分|满意度|评价"
    r"|(?:give|gave|rate|rated|rating|score)(?: it| you| them| this)?(?: a| an)?)\s?:?\s?$")
_HARD_BLOCKS: Final = frozenset({"exam", "time", "ordinal", "scale", "temperature", "label",
                                  "measure"})
# a measurement named right before its values: "视力1.2", "眼压18", "视力查了0.8和1.0"
_MEASURE_BEFORE_RE: Final = re.compile(
    r"(?P<measure>(?:视力|散光|眼压|血氧|血糖|血压|心率|脉搏|矫正)(?:查了?|测了?|是|到了?|有)?"
    r"(?:\d+(?:\.\d+)?\s?(?:和|到|、|,|，|/)\s?)?)$")
# A score asked about, not given: "3分是什么意思？", "1分是最好还是最差？"
_ASKED_SCALE_RE: Final = re.compile(
    r"\s?(?:(?:是|算|代表|指的是|指|表示)\s?(?:什么|啥)|什么意思|啥意思|(?:是|算)?\s?"
    r"(?:最好|最差|最高|最低|满分|好|差|满意|不满意)的?(?:还是|吗|么|\?|呢))")
# checked before the unit: "第3次" is an ordinal, "周5来" a weekday, "¥5" money
_FIRST_BLOCKS: Final = frozenset({"ordinal", "weekday", "money", "exam", "deduct"})
_STAR_AFTER_COUNT_RE: Final = re.compile(
    r"\s?(?:" + _STAR_UNIT + r")?\s?[吧啊呀哈啦嘛哦了]{0,2}\s?[⭐★🌟]+")
# star emoji after a rating and a particle decorate it: "给个4星吧⭐" is 4, not a 1-star rating
_STARS_AFTER_FRAME_RE: Final = re.compile(r"[吧啊呀哈啦嘛哦了]{1,2}\s?[⭐★🌟]+")
_STARS_RE: Final = re.compile(r"[⭐★🌟]+")
# after a number: a match's score ("3比1", "2:0赢了") or minutes and more ("11分多")
_NOT_RATING_AFTER_RE: Final = re.compile(r"\s?比\s?\d|:\d+\s?(?:赢|输|平|胜|负)|分多|分钟")
_MATCH_BEFORE_RE: Final = re.compile(r"\d\s?比\s?$")
_CENT_AFTER_RE: Final = re.compile(
    r"分(?:一分|钱|(?:都|也)?没(?:退|少|给我退|还)|(?:都|也)?不少)")
# a lone numeral after a label at the end of the reply: "评分：五", "回复：五"
_LABELLED_NUMERAL_RE: Final = re.compile(r":\s?([一二两三四五])[\s。.!~]*$")
# stars after a rating and its punctuation ("五星！！🌟", "5分。⭐"): one star, or as many as
# the rating, decorate it; any other count is a rating of its own
_STARS_AFTER_PUNCT_RE: Final = re.compile(r"[吧啊呀哈啦嘛哦了!！~～.。\s]{1,4}([⭐★🌟]+)")


def decorating_stars(norm: str, pos: int, value: int) -> int | None:
    """The end of star emoji after a rating at ``pos`` that only decorate it, or None."""
    m = _STARS_AFTER_PUNCT_RE.match(norm, pos)
    if m is None or len(m.group(1)) not in (1, value):
        return None
    return m.end()
_FRAME_SUFFIX_RE: Final = re.compile(r"[吧啊呀哈啦嘛哦了]*")
_ADVERB_AFTER_FEN_RE: Final = re.compile(r"分\s?[\u4e00-\u9fff]")

def _wechat() -> dict[str, tuple[str, int | None]]:
    """WeChat codes (scores.toml): (rule, rating) of each, the rating None for a placeholder."""
    codes = table("scores")["wechat"]
    out: dict[str, tuple[str, int | None]] = {
        str(code): ("wechat_emoji", int(v)) for code, v in codes["ratings"].items()}
    out.update({str(code): (str(kind), None) for code, kind in codes["kinds"].items()})
    return out


_WECHAT: Final = _wechat()
# A word that a deduction names: "扣的那一分给停车场", "少一分是因为" (not 至少, 多少).
_DEDUCT_RE: Final = re.compile(r"(?:扣|减|(?<![至多不])少|差)(?:了|的|掉)?(?:那|这)?$")
# Characters that can start a _TOKEN_RE match: replies without any skip the number scan.
_TOKEN_GATE_RE: Final = re.compile(
    r"[\d零〇一二两三四五六七八九十百壹贰叁肆伍陆柒捌玖仨⭐★🌟✨👍👎\[/]")
# Whole-reply English number words.
_EN_NUMBERS: Final = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}

_CN_NUMERAL_STANDALONE: Final = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
                                  "壹": 1, "贰": 2, "叁": 3, "肆": 4, "伍": 5}
FULLWIDTH_RE: Final = re.compile(r"[０-９]")


def _tokens(norm: str, gate: re.Match[str] | None) -> Iterator[re.Match[str]]:
    """``_TOKEN_RE.finditer(norm)``, tried only where ``_TOKEN_GATE_RE`` finds a first character.

    ``_TOKEN_RE``'s alternatives start with groups, so ``re`` has no first-character filter for
    it and tries every position, which made the number scan one of the dearest steps of a
    parse; every token starts with a gate character, so the matches are the same.  ``gate``:
    the caller's ``_TOKEN_GATE_RE.search(norm)`` (most replies have none: no generator then).
    """
    while gate is not None:
        m = _TOKEN_RE.match(norm, gate.start())
        if m is None:
            gate = _TOKEN_GATE_RE.search(norm, gate.start() + 1)
        else:
            yield m  # (never empty: finditer would go on from its end too)
            gate = _TOKEN_GATE_RE.search(norm, m.end())


class Cand:
    """A score candidate collected while scanning (internal, mutable for speed)."""

    # (a plain class: compiled, a dataclass keeps an interpreted __init__ ten times dearer)
    __slots__ = ("conf", "explicit", "tier", "value")

    def __init__(self, value: int, conf: float, tier: int, explicit: bool) -> None:
        self.value = value
        self.conf = conf
        self.tier = tier  # 1 number, 2 Likert word, 3 word about one aspect, 4 emoji
        self.explicit = explicit


def read_numbers(raw: str, norm: str, core_stripped: str, ev: list[Evidence],
                  cands: list[Cand], ambiguous: list[int]) -> int | None:
    """Numbers, stars, thumbs and emoji codes of a reply as score candidates (``cands``),
    unsure forms (``ambiguous``) and evidence; returns a number given as a score outside 1-5.
    """
    out_of_range: int | None = None
    fullwidth: bool | None = None  # looked up on the first number: most replies have none
    consumed = 0  # end of the last range ("3-4"): its second number is not a new token
    gate = _TOKEN_GATE_RE.search(norm)
    for m in islice(_tokens(norm, gate), MAX_HITS) if gate is not None else ():
        kind = m.lastgroup
        s, e = m.span()
        tok = m.group()
        if s < consumed:
            continue
        if kind == "num":
            if fullwidth is None:
                fullwidth = not raw.isascii() and FULLWIDTH_RE.search(raw) is not None
            oor, consumed = _number(norm, core_stripped, s, e, tok, fullwidth, ev,
                                         cands, ambiguous)
            if oor is not None and out_of_range is None:
                out_of_range = oor
        elif kind == "cn":
            pair = _CN_PAIR_RE.fullmatch(tok) or _CN_RANGE_BACK_RE.search(
                norm, max(0, s - 3), e)
            if pair is not None:
                # "三四分", "三到四分": two adjacent scores -> confirm the lower
                low = min(_CN_DIGITS[pair.group(1)], _CN_DIGITS[pair.group(2)])
                ps, pe = _frame(norm, pair.start(), e)
                ambiguous.append(low)
                ev.append(make_ev("ambiguous", (ps, pe), norm[ps:pe], low,
                                   "two scores; confirm the lower"))
                continue
            value = _cn_value(tok)
            if s and _DEDUCT_RE.search(norm, max(0, s - 4), s) is not None:
                # "扣一分", "扣的那一分给停车场", "少一分是因为停车"
                ev.append(make_ev("not_a_score:deduct", (s, e), tok))
                continue
            if value == 1 and (_CENT_AFTER_RE.match(norm, e) is not None or
                               norm.endswith("一分", 0, s)):
                # "一分一分攒的", "一分没退", "一分钱": a cent, not a rating
                ev.append(make_ev("not_a_score:money", (s, e + 1), norm[s:e + 1]))
                continue
            if value is not None and 1 <= value < 5 and norm.startswith(("分半", "星半"), e):
                ambiguous.append(value)  # "四分半": confirm the lower
                ev.append(make_ev("ambiguous", (s, e + 2), norm[s:e + 2], value,
                              "half score; confirm the lower"))
                continue
            # "十分满意", "万分感谢": 十分 is an adverb when a word follows it.
            after = norm[e:e + 3]
            if value is None or (value >= 10 and _ADVERB_AFTER_FEN_RE.match(after) and
                                 after[1:2] not in PARTICLES and
                                 not after[1:].startswith(("好评", "满分"))):
                continue
            fs, fe = _frame(norm, s, e)
            um = _UNIT_RE.match(norm, e)
            if um is not None and um.lastgroup == "score" and \
                    _ASKED_SCALE_RE.match(norm, um.end()) is not None:
                ev.append(make_ev("not_a_score:asked", (s, um.end()), norm[s:um.end()]))
                continue  # "三分是什么意思？": asked about, not given
            if 1 <= value <= 5:
                cands.append(Cand(value, 0.96, 1, True))
                ev.append(make_ev("chinese_numeral", (fs, fe), norm[fs:fe], value))
                # star emoji right after the count ("五⭐", "五颗星⭐") decorate it
                um = _STAR_AFTER_COUNT_RE.match(norm, e)
                if um is not None:
                    consumed = um.end()
                elif (um2 := _UNIT_RE.match(norm, e)) is not None and \
                        (dec := decorating_stars(norm, um2.end(), value)) is not None:
                    consumed = dec
            else:
                out_of_range = value if out_of_range is None else out_of_range
                ev.append(make_ev("out_of_range", (fs, fe), norm[fs:fe], None,
                                   f"{value} is outside 1-5"))
        elif kind == "star":
            if not tok.strip("✨"):
                continue  # sparkles decorate ("皮肤嫩嫩的✨"); they rate nothing
            count = min(5, len(tok))
            cands.append(Cand(count, 0.9, 1, True))
            ev.append(make_ev("star_emoji", (s, e), tok, count, f"{len(tok)} stars"))
        elif kind == "up":
            cands.append(Cand(5, 0.75, 4, False))
            ev.append(make_ev("thumbs", (s, e), tok, 5, "thumbs up"))
        elif kind == "down":
            cands.append(Cand(1, 0.75, 4, False))
            ev.append(make_ev("thumbs", (s, e), tok, 1, "thumbs down"))
        else:
            rule, wvalue = _WECHAT.get(tok, ("emoji", None))
            if wvalue is not None:
                cands.append(Cand(wvalue, 0.75, 4, False))
            ev.append(make_ev(rule, (s, e), tok, wvalue))

    # a lone Chinese numeral or its financial form: "五", "伍"
    if not cands and core_stripped and len(core_stripped) <= 3 and \
            core_stripped.count(core_stripped[0]) == len(core_stripped) and \
            core_stripped[0] in _CN_NUMERAL_STANDALONE:
        # "五" or the same numeral typed again ("五五五")
        numeral = core_stripped[0]
        value = _CN_NUMERAL_STANDALONE[numeral]
        i = norm.find(numeral)
        cands.append(Cand(value, 0.93, 1, True))
        ev.append(make_ev("chinese_numeral", (i, i + 1), numeral, value))
    elif not cands and (lm := _LABELLED_NUMERAL_RE.search(norm)) is not None and (
            (blk := _PRE_BLOCK_RE.search(norm, max(0, lm.start() - 8), lm.start(1))) is None
            or blk.lastgroup != "label"):
        value = _CN_NUMERAL_STANDALONE[lm.group(1)]
        cands.append(Cand(value, 0.93, 1, True))
        ev.append(make_ev("chinese_numeral", lm.span(1), lm.group(1), value, "after a label"))
    elif not cands and core_stripped in _EN_NUMBERS:
        value = _EN_NUMBERS[core_stripped]
        i = norm.find(core_stripped)
        cands.append(Cand(value, 0.93, 1, True))
        ev.append(make_ev("digit", (i, i + len(core_stripped)), core_stripped, value,
                           "number word"))

    return out_of_range


def _frame(norm: str, s: int, e: int) -> tuple[int, int]:
    """Widen a score token to its frame: "我给" before, "分吧" after (for the comment)."""
    pm = _PRE_SCORE_RE.search(norm, max(0, s - 6), s)
    fs = pm.start() if pm else s
    um = _UNIT_RE.match(norm, e)
    fe = um.end() if um and um.lastgroup == "score" else e
    fe = _FRAME_SUFFIX_RE.match(norm, fe).end()  # type: ignore[union-attr]
    return fs, fe


def _number(norm: str, core: str, s: int, e: int, tok: str, fullwidth: bool,
            ev: list[Evidence], cands: list[Cand],
            ambiguous: list[int]) -> tuple[int | None, int]:
    """Classify one run of digits -> (out-of-range score or None, end of what it used)."""
    rule = "fullwidth_digit" if fullwidth else "digit"
    # glued to letters or digits: model numbers, ids ("iphone5", "a3")
    # (not after an ellipsis: "嗯……3分吧")
    if s > 0 and (norm[s - 1].isdigit() or (norm[s - 1] == "." and norm[s - 2:s] != "..")):
        return None, e
    # "1.满意 2.还行 3.无", "1、5分 2、没有": the numbers of a list, not scores
    if e < len(norm) and e - s <= 2 and (s == 0 or norm[s - 1] in " ,;") and \
            (norm[e] in "、)" or (norm[e] == "." and not norm[e + 1:e + 2].isdigit())) and \
            len(_LIST_MARK_RE.findall(norm)) >= 2:
        ev.append(make_ev("not_a_score:list", (s, e + 1), norm[s:e + 1]))
        return None, e + 1
    # ranges and alternatives: "3-4", "3或4", "4/5"
    rng = _RANGE_RE.match(norm, e)
    end = e
    other: str | None = None
    if rng is not None:
        end = rng.end()
        other = rng.group(2)
    pre = norm[max(0, s - 5):s]
    block = _PRE_BLOCK_RE.search(pre) if pre else None
    if block is None and s and norm[s - 1] not in " ,，。!！?？":
        block = _MEASURE_BEFORE_RE.search(norm, max(0, s - 12), s)
    if block is not None and block.lastgroup in _FIRST_BLOCKS:
        ev.append(make_ev(f"not_a_score:{block.lastgroup}", (s, e), tok))
        return None, e
    um = _UNIT_RE.match(norm, end)
    unit = um.lastgroup if um else None
    if um is not None and unit != "score" and (
            rng is None or unit != "date" or rng.group(1) != "/"):
        ev.append(make_ev(f"not_a_score:{unit}", (s, um.end()), norm[s:um.end()]))
        return None, um.end()
    if other is not None and rng is not None:
        sep = rng.group(1)
        if sep == "/" and other == "5" and tok.isdigit() and 1 <= int(tok) <= 5:
            value = int(tok)
            cands.append(Cand(value, 0.95, 1, True))
            ev.append(make_ev("fraction", (s, end), norm[s:end], value, "x out of 5"))
            return None, end
        if sep == "/" and unit is None:
            ev.append(make_ev("not_a_score:date", (s, end), norm[s:end]))
            return None, end
        try:
            a, b = float(tok), float(other)
        except ValueError:  # pragma: no cover - the regex only yields numbers
            return None, end
        if 1 <= a <= 5 and 1 <= b <= 5 and a != b:
            low = int(min(a, b))
            ambiguous.append(low)
            fs, fe = _frame(norm, s, end)
            ev.append(make_ev("ambiguous", (fs, fe), norm[fs:fe], low,
                               "range or alternative; confirm the lower"))
            return None, end
        if sep in ("-", "~") and unit is None:
            ev.append(make_ev("not_a_score:number", (s, end), norm[s:end]))
            return None, end
        rng = None
        end = e
        um = _UNIT_RE.match(norm, e)
        unit = um.lastgroup if um else None
    # (``block`` is still the search of the five characters before the number, above)
    prescore = _PRE_SCORE_RE.search(norm, max(0, s - 14), s) if s else None
    if block is not None and prescore is not None and (
            block.lastgroup == "code" or block.group().strip() == ":"):
        block = None  # "评分:4", "i'd give it a 4": the label, not a clock or a code
    elif block is not None and block.lastgroup == "code" and \
            _ASCII_LEAD_RE.search(norm, max(0, s - 16), s) is not None:
        block = None  # "ok 5", "gei 5 fen": a word, then the score
    if (block is not None and unit != "score") or (
            block is not None and block.lastgroup in _HARD_BLOCKS):
        kind = block.lastgroup if block is not None else "number"
        ev.append(make_ev(f"not_a_score:{kind}", (s, e), tok))
        return None, end
    explicit = unit == "score" or prescore is not None or core == tok or \
        core == tok + "分"
    if unit == "score" and um is not None:
        if _ASKED_SCALE_RE.match(norm, um.end()) is not None:
            ev.append(make_ev("not_a_score:asked", (s, um.end()), norm[s:um.end()]))
            return None, um.end()
        if norm[um.end() - 1] in "⭐★🌟":
            end = um.end()  # "5⭐": the star belongs to the number, not a 1-star rating
        elif um.end() < len(norm) and norm[um.end()] in "⭐★🌟":
            end = _STARS_RE.match(norm, um.end()).end()  # type: ignore[union-attr]
        elif (sm := _STARS_AFTER_FRAME_RE.match(norm, um.end())) is not None:
            end = sm.end()
        elif tok.isdigit() and (dec := decorating_stars(norm, um.end(), int(tok))) is not None:
            end = dec
        if norm.startswith("半", um.end()) and 1 <= float(tok) < 5:
            low = int(float(tok))  # "4分半": a half score, confirm the lower
            ambiguous.append(low)
            ev.append(make_ev("ambiguous", (s, um.end() + 1), norm[s:um.end() + 1], low,
                          "half score; confirm the lower"))
            return None, um.end() + 1
    if "." in tok:
        value_f = float(tok)
        if value_f.is_integer():
            tok = str(int(value_f))
        elif 1 <= value_f <= 5:
            low = int(value_f)
            ambiguous.append(low)
            fs, fe = _frame(norm, s, e)
            ev.append(make_ev("ambiguous", (fs, fe), norm[fs:fe], low,
                               "decimal; confirm the lower whole score"))
            return None, end
        else:
            return None, end
    if len(tok) >= 3 and tok != "100":
        same = tok.count(tok[0]) == len(tok)
        if same and "1" <= tok[0] <= "5" and len(tok) <= 5:
            # "555" is also internet slang for crying (呜呜呜): ask.
            ambiguous.append(int(tok[0]))
            ev.append(make_ev("ambiguous", (s, e), tok, int(tok[0]), "repeated digit"))
            return None, end
        ev.append(make_ev("not_a_score:phone" if len(tok) >= 7 else "not_a_score:number",
                           (s, e), tok))
        return None, end
    if _NOT_RATING_AFTER_RE.match(norm, e) is not None or \
            _MATCH_BEFORE_RE.search(norm, max(0, s - 4), s) is not None:
        # "3比1赢了": a match's score; "11分多": minutes and more
        ev.append(make_ev("not_a_score:number", (s, e), tok))
        return None, end
    value = int(tok)
    if len(tok) == 2 and tok[0] == tok[1] and "1" <= tok[0] <= "5":
        value = int(tok[0])  # "55": the digit typed twice
    fs, fe = _frame(norm, s, e)
    if 1 <= value <= 5:
        conf = 0.97 if explicit else (0.9 if len(core) <= 8 else 0.8)
        cands.append(Cand(value, conf, 1, explicit))
        ev.append(make_ev(rule, (fs, fe), norm[fs:fe], value))
        return None, end
    if explicit and value <= 100:
        ev.append(make_ev("out_of_range", (fs, fe), norm[fs:fe], None,
                           f"{value} is outside 1-5"))
        return value, end
    return None, end
