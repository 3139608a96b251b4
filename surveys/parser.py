"""Reply parser: free text from a patient or parent -> score, flags and the evidence for them.

Pure, I/O-free and context-free: it does not know which question was asked; the conversation
engine decides what to do with the fields.  ``ReplyParser`` precompiles everything once; use
the module-level :func:`parse` for the default lexicon.

How a score is decided (highest tier wins; lower tiers only raise doubts):

1. explicit numbers -- "5", "5分", "给4分", "五分", "打个四分吧", "伍", "⭐⭐⭐⭐", "4/5", "wu fen";
   numbers with a unit are *not* scores ("3岁", "等了2个小时", "一天3次", "下午3点", "36牙",
   "[语音] 5\"", phone numbers, "考了90分");
2. Likert words -- 非常满意 5, 满意/挺满意/比较满意 4, 一般/还行/还可以 3, 不太满意/不满意 2,
   非常不满意/很差 1; a negator before a positive word ("没有很满意", "谈不上满意") gives 2;
3. thumbs and WeChat emoji codes -- 👍/[强]//:strong 5, 👎/[弱] 1.

``needs_confirmation`` is set (and ``score`` is None) for decimals ("4.5"), ranges and
alternatives ("3-4", "3或4"), several different scores ("医生5 护士3") and a number that
contradicts the words by 2 or more ("非常满意 1分": some people think 1 is best).
``candidate`` is then the *lower* value -- we never inflate satisfaction; the engine asks
"您是打4分吗?" and the respondent corrects us if needed.  A number clearly given as a score
but outside 1-5 ("6分", "99") is reported in ``out_of_range`` and ``score`` is None; the top of
a larger scale ("10分", "100分") is a 5, a stated 10-point rating is halved.

Flags: see ``surveys.lexicon`` for the lists and their pattern syntax.  Decisions:

* a bare rating, however low ("很差", "1"), is not a complaint: the engine escalates low
  scores itself.  A complaint names what went wrong or says 投诉.  Mild grievances
  (排队太久, 停车难) count only when the reply does not also give 4 or 5
  ("满意是满意就是排队太久" -> score 4, complaint False, the grievance kept in ``comment``);
* a denied, resolved or hypothetical symptom ("没有发烧", "烧已经退了", "万一发烧怎么办")
  is recorded as ``red_flag_denied`` evidence and does not set ``red_flag``;
* red flags and opt-outs are recall first: besides the precise rules, any other mention of a
  symptom or sign is a red flag and any stop word near something message-like an opt-out,
  unless a small grammar of exclusions explains it away (see ``_RFB_WORDS`` and ``_opb_hit``);
* a reply saying the patient died, or that we wrote to the wrong person, has no score.

Very long replies are cut to a head and a tail before matching (see ``surveys.normalize``),
so the cost per reply is bounded.

Then the learned model (``surveys.understanding``: docs/understanding.md) settles every label
from the rules' evidence and the reply's n-grams, within what the rules hold exact; the
meaning of each label is docs/labels.md.
"""

from __future__ import annotations

import contextlib
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields, replace
from itertools import islice
from operator import attrgetter
from typing import Any, Final, Generic, TypeVar

import ahocorasick_rs

from surveys.lexicon import Lexicon
from surveys.native import PACKAGE_DIR
from surveys.normalize import normalize
from surveys.understanding.decide import combine, features_of
from surveys.understanding.dispute import DisputeRules
from surveys.understanding.model import Model
from surveys.understanding.safety import NEG_RESOLUTION_RE

try:  # the regex parser re itself uses (private): only to size search windows below
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - a Python without it searches whole clauses
    sre_parse = None

__all__ = ["Evidence", "Interpretation", "Lexicon", "ReplyParser", "parse"]


@dataclass(frozen=True, slots=True)
class Evidence:
    """One rule that matched a span of the normalised reply."""

    rule: str
    span: tuple[int, int]
    text: str
    value: int | None = None
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "rule": self.rule,
            "span": [self.span[0], self.span[1]],
            "text": self.text,
            "value": self.value,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Interpretation:
    """What a reply means, with the evidence for every decision."""

    score: int | None
    opt_out: bool
    complaint: bool
    dispute: bool  # threatens to take it further (surveys.understanding.dispute); a complaint
    red_flag: bool
    question: bool
    confidence: float
    needs_confirmation: bool
    candidate: int | None
    out_of_range: int | None
    wrong_number: bool
    deceased: bool
    opt_out_unsure: bool  # a stop only the unsure rules or the model see: the engine asks first
    affirmative: bool
    negative: bool
    comment: str
    evidence: tuple[Evidence, ...]
    normalized: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict; the six contract keys come first."""
        return {
            "score": self.score,
            "opt_out": self.opt_out,
            "complaint": self.complaint,
            "dispute": self.dispute,
            "red_flag": self.red_flag,
            "question": self.question,
            "confidence": self.confidence,
            "needs_confirmation": self.needs_confirmation,
            "candidate": self.candidate,
            "out_of_range": self.out_of_range,
            "wrong_number": self.wrong_number,
            "deceased": self.deceased,
            "opt_out_unsure": self.opt_out_unsure,
            "affirmative": self.affirmative,
            "negative": self.negative,
            "comment": self.comment,
            "evidence": [e.to_dict() for e in self.evidence],
            "normalized": self.normalized,
        }

    def explain(self) -> str:
        """Multi-line, human-readable account of the decision (for ``survey-bot parse``)."""
        lines = [f"normalized: {self.normalized!r}"]
        if self.score is not None:
            lines.append(f"score: {self.score} (confidence {self.confidence:.2f})")
        elif self.needs_confirmation:
            lines.append(f"score: unsure, confirm {self.candidate} (confidence "
                         f"{self.confidence:.2f})")
        elif self.out_of_range is not None:
            lines.append(f"score: none; {self.out_of_range} is outside 1-5")
        else:
            lines.append("score: none")
        flags = [name for name in ("opt_out", "complaint", "dispute", "red_flag", "question",
                                   "wrong_number", "deceased", "opt_out_unsure", "affirmative",
                                   "negative")
                 if getattr(self, name)]
        lines.append("flags: " + (", ".join(flags) if flags else "none"))
        if self.comment:
            lines.append(f"comment: {self.comment!r}")
        if not self.evidence:
            lines.append("evidence: nothing matched")
        else:
            lines.append("evidence:")
            for e in self.evidence:
                vote = f" -> {e.value}" if e.value is not None else ""
                note = f"  ({e.note})" if e.note else ""
                lines.append(f"  [{e.span[0]}:{e.span[1]}] {e.rule} {e.text!r}{vote}{note}")
        return "\n".join(lines)


# --- numbers -----------------------------------------------------------------------------

_CN_DIGITS: Final = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
    "八": 8, "九": 9, "壹": 1, "贰": 2, "叁": 3, "肆": 4, "伍": 5, "陆": 6, "柒": 7, "捌": 8,
    "玖": 9,
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
_FEN = r"分(?!钟|之|析|泌|开|别|享|配|娩|院|期|钱|数线|店|支|机|队|类|手|散|布|段|成)"
# A count of stars in words: "五颗星", Cantonese "五粒星", "5星" (not 星期).
_STAR_UNIT: Final = r"颗星|粒星|个星(?!期)|星(?!期)|[颗粒个](?=[⭐★🌟])"
_TOKEN_RE: Final = re.compile(
    r"(?P<num>\d+(?:\.\d+)?)"
    r"|(?P<cn>[零〇一二两三四五六七八九十百壹贰叁肆伍陆柒捌玖]{1,3})(?=\s?(?:"
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
    r"|(?P<dose>mg|ml|毫升|毫克|克|g\b|片|粒|针|支|瓶|盒|袋|包)"
    r"|(?P<count>次|遍|回|趟|下|个|位|人|颗|条|张|本|节|首|期|届|组|排|门|科)"
    r"|(?P<money>元|块|毛|角|w\b|万|千|百)"
    r"|(?P<temperature>度|℃|°)"
    r"|(?P<tooth>号?牙)"
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
    r"|(?P<exam>考了?|得了|拿了|成绩)|(?P<time>[:点]|上午|下午|晚上|早上|凌晨|中午)"
    r"|(?P<scale>满分|总分|满分是|满分为)|(?P<temperature>(?<!意)度|体温)"
    r"|(?P<tooth>左上|左下|右上|右下)|(?P<code>[a-z]))\s?$"
)
_ASCII_LEAD_RE: Final = re.compile(r"(?:^|\s)(?:ok|okay|gei|da|ping|pingfen|fen)\s$")
_LIST_MARK_RE: Final = re.compile(r"(?:^|[\s,;])\d{1,2}(?:\.(?!\d)|[、)])")
# Text just before a number that makes it a score ("给5分", "打4", "评分5").
_PRE_SCORE_RE: Final = re.compile(
    r"(?:我?(?:就|还是)?(?:给|打|评|选)(?:个|了|您|你们|你)?|评分|打分|分数|得分|满意度|评价"
    r"|(?:give|gave|rate|rated|rating|score)(?: it| you| them| this)?(?: a| an)?)\s?:?\s?$")
_HARD_BLOCKS: Final = frozenset({"exam", "time", "ordinal", "scale", "temperature"})
# checked before the unit: "第3次" is an ordinal, "周5来" a weekday, "¥5" money
_FIRST_BLOCKS: Final = frozenset({"ordinal", "weekday", "money", "exam", "deduct"})
_STAR_AFTER_COUNT_RE: Final = re.compile(r"\s?(?:" + _STAR_UNIT + r")?\s?[⭐★🌟]+")
_STARS_RE: Final = re.compile(r"[⭐★🌟]+")
_FRAME_SUFFIX_RE: Final = re.compile(r"[吧啊呀哈啦嘛哦了]*")
_ADVERB_AFTER_FEN_RE: Final = re.compile(r"分\s?[\u4e00-\u9fff]")
_PARTICLES: Final = "吧啊呀哈啦嘛哦了的呢噢喔嗯"

_WECHAT: Final[dict[str, tuple[str, int | None]]] = {
    "[强]": ("wechat_emoji", 5), "[赞]": ("wechat_emoji", 5), "[good]": ("wechat_emoji", 5),
    "/:strong": ("wechat_emoji", 5), "[弱]": ("wechat_emoji", 1), "/:weak": ("wechat_emoji", 1),
    "[差劲]": ("wechat_emoji", 1), "[语音]": ("voice", None), "[voice]": ("voice", None),
    "[图片]": ("media", None), "[视频]": ("media", None), "[动画表情]": ("media", None),
    "[表情]": ("media", None), "[文件]": ("media", None), "[链接]": ("media", None),
}

# --- Likert words ------------------------------------------------------------------------

_WEAK: Final = 1      # only counts outside health talk ("恢复得很好" is not a rating)
_NUMERIC: Final = 2   # as strong as a number ("满分", "wu fen", "five stars")
_POSITIVE_NEG: Final = 4  # a negator in front flips it to 2

_LIKERT_TABLE: Final[tuple[tuple[int, float, int, str], ...]] = (
    (5, 0.92, _POSITIVE_NEG, "非常满意 很满意 特别满意 十分满意 超级满意 超满意 相当满意 太满意 "
     "极其满意 非常非常满意 百分百满意 100%满意 完全满意 万分满意 无比满意 满意满意满意 好满意 "
     "非常非常好 非常好 特别好 太好了 好极了 超好 很棒 太棒 真棒 超棒 棒棒 棒极了 非常棒 "
     "完美 优秀 极好 特别棒 好棒 很不错 非常不错 特别不错 好评 very_satisfied extremely_satisfied "
     "excellent perfect great awesome very_good fantastic amazing feichangmanyi "
     "feichang_manyi fei_chang_man_yi fei_chang_manyi feichang_man_yi hen_manyi henmanyi "
     "hen_man_yi 老满意 贼满意 巨满意 嘎嘎满意 倍儿满意 老好了 老好啦 "
     "老棒了 贼好 贼棒 巨好 巨棒 嘎嘎好 嘎嘎棒 倍儿好 倍儿棒 杠杠的 杠杠滴 顶呱呱 呱呱叫 没得说 "
     "没话说 无可挑剔 挑不出毛病 好得很 一级棒 超级棒 超赞 贼拉好 贼拉满意 very_happy 💯"),
    (5, 0.85, _POSITIVE_NEG | _WEAK, "很好 真好 henhao hen_hao 棒"),
    (5, 0.97, _NUMERIC, "满分 五星好评 5星好评 wu_fen wufen five_stars 5_stars five_points "
     "wu_xing wuxing wu_xing_hao_ping wuxinghaoping wu分"),
    (4, 0.97, _NUMERIC, "si_fen sifen four_stars 4_stars si_xing sixing"),
    (3, 0.97, _NUMERIC, "san_fen sanfen three_stars 3_stars"),
    (2, 0.97, _NUMERIC, "er_fen liang_fen liangfen two_stars 2_stars"),
    (1, 0.97, _NUMERIC, "yi_fen yifen one_star 1_star"),
    (4, 0.88, _POSITIVE_NEG, "满意 挺满意 比较满意 还算满意 蛮满意 基本满意 还比较满意 较满意 "
     "挺棒 蛮棒 还满意 算满意 还挺满意 satisfied manyi man_yi 还不错 挺不错 蛮不错 不错 "
     "pretty_good quite_good not_bad good bucuo bu_cuo 几好 几满意 没什么不满意 没啥不满意 "
     "没有不满意 没有什么不满意 挺中意 算是满意 总体满意 整体满意"),
    (4, 0.8, _POSITIVE_NEG | _WEAK, "挺好 蛮好 都挺好 都很好 还挺好 挺好的"),
    (3, 0.85, 0, "差强人意 还阔以 阔以 一般 一般般 还行 "
     "还可以 凑合 马马虎虎 过得去 中等 还凑合 将就 普通 中规中矩 "
     "说得过去 就那样 average so-so so_so yiban yi_ban haixing hai_xing 还算可以 算可以 还算行 "
     "凑活 还凑活 凑乎 麻麻地 麻麻哋 一般吧 中不溜 还可以吧 okay_ish hai_ke_yi haikeyi "
     "mediocre"),
    (3, 0.7, _WEAK, "还好"),
    (2, 0.88, 0, "不满意 不太满意 不是很满意 不怎么满意 不大满意 不是太满意 不够满意 有点不满意 "
     "有些不满意 不太行 不怎么行 不太好 不怎么好 不是很好 不咋地 不咋滴 不咋的 不咋样 不怎么样 "
     "不理想 失望 "
     "有点失望 比较差 有点差 dissatisfied unsatisfied not_satisfied not_good bad poor bu_manyi "
     "bumanyi bu_man_yi bu_tai_manyi not_happy unhappy"),
    (2, 0.75, _WEAK, "不好 差"),
    (1, 0.92, 0, "非常不满意 很不满意 特别不满意 极不满意 十分不满意 太不满意 极其不满意 "
     "一点都不满意 一点也不满意 完全不满意 超级不满意 很差 非常差 太差 极差 特别差 超差 真差 "
     "好差 差劲 太烂 很烂 垃圾 糟糕 很糟糕 非常糟糕 太糟糕 非常失望 很失望 太失望 差评 "
     "very_dissatisfied terrible awful horrible very_bad worst very_poor feichang_bu_manyi "
     "hen_bu_manyi 贼差 巨差 老差了 差到家 差得要命"),
)

# A negator right before a positive word makes it a 2: "没有很满意", "谈不上满意".
_NEGATOR_RE: Final = re.compile(
    r"(?:不|没|没有|并不|并没有|谈不上|算不上|说不上|称不上|不算|不够|不怎么|not|not\s+very)"
    r"\s?(?:是|太|很|那么|怎么|特别|非常|算|感到|觉得)?\s?$"
)
# A negative Likert word denied: "不是不满意", "也没有不满意的地方" rate nothing.
_DOUBLE_NEG_RE: Final = re.compile(r"(?:不是|没有|并非|谈不上|说不上)(?:说|很|太|特别|有)?$")
# A word that a deduction names: "扣的那一分给停车场", "少一分是因为" (not 至少, 多少).
_DEDUCT_RE: Final = re.compile(r"(?:扣|减|(?<![至多不])少|差)(?:了|的|掉)?(?:那|这)?$")
# What before a Likert word makes it something else: "现在来要好评" asks for praise.
_LIKERT_SKIP_BEFORE: Final = {"好评": re.compile(r"(?:要|求|刷|讨|骗)$")}
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


def _tail_window(rx: re.Pattern[str]) -> int:
    """How far from the end of a text a match of ``rx`` (anchored at ``$``) can start.

    ``rx.search(text, len(text) - window)`` then finds a match iff ``rx.search(text)`` does,
    without walking a long clause from its start ("医生很好" x 200 paid that 24 times).  One
    more than the longest match: ``$`` also matches before a final newline.
    """
    if sre_parse is None:  # pragma: no cover
        return 1 << 30  # the whole text: correct, only slower
    parsed = sre_parse.parse(rx.pattern)  # one sequence (no top-level |) that ends in $
    assert parsed.data[-1] == (sre_parse.AT, sre_parse.AT_END), rx.pattern
    longest = parsed.getwidth()[1]
    assert longest < 100, rx.pattern
    return longest + 1


# (see _tail_window; their only ``^`` needs a text shorter than the window)
_RATING_CONTEXT_TAIL: Final = _tail_window(_RATING_CONTEXT_RE)
_HEALTH_SUBJECT_TAIL: Final = _tail_window(_HEALTH_SUBJECT_RE)
_DOUBLE_NEG_TAIL: Final = _tail_window(_DOUBLE_NEG_RE)

# --- flags -------------------------------------------------------------------------------

# Farewell cues (see _farewell): each group is one cue.
_FAREWELL_RE: Final = re.compile(
    r"(?P<trouble>不(?:再|会|想再)?(?:麻烦|打扰|拖累)(?:大家|你们|各位|家里|家人|孩子)(?:了|啦))"
    r"|(?P<tidy>(?:东西|后事|事情|身后事)[^,，。!?；;]{0,3}(?:整理|收拾|安排|交代)好了)"
    r"|(?P<thanks>谢谢(?:大家|你们|各位)一直以来|一直以来的(?:照顾|关照|帮助))"
    r"|(?P<method>(?:查|搜|找)[^,，。!?；;]{0,6}(?:那种|那个)(?:方法|办法))"
    r"|(?P<alone>躲在房间|不想见人|想哭|活着累|撑不住了|(?:别|不用)(?:再)?(?:联系|找)我了)"
    r"|(?P<gone>(?:去年|前年|上个月|走了|不在了|去世|过世)[^。!?]{0,20}(?:作伴|陪他|陪她)"
    r"|(?:作伴|陪他|陪她)[^。!?]{0,20}(?:走的|走了|去世|过世|不在了))")
_FAREWELL_GATE_RE: Final = re.compile(r"麻烦|打扰|拖累|好了|一直以来|方法|办法|躲在|见人|想哭"
                                      r"|撑不住|联系我|找我|作伴|陪他|陪她")
_CLAUSE_END: Final = ",，。.!?！？；;~\n"
_RF_DENY_BEFORE_RE: Final = re.compile(
    r"(?:没有?|不(?![过管仅但开住起动清下来上是])|未|无|不再|不怎么|没那么|不太|(?<!是)不是|并没有?|也没有?"
    r"|都没有?|已经不|已不|"
    r"如果|要是|万一|假如|会不会|是否|怕|担心|预防|防止|避免|以免|注意|有没有|如有|若|会)"
    r"[^,，。.!?；;]{0,3}$"
)
_RF_RESOLVED_AFTER_RE: Final = re.compile(
    r"[^。.!?；;]{0,12}?(?:退了|退烧了|已退|止住|好了|好多了|好很多|消了|消肿了|"
    r"减轻(?<!不减轻)(?<!没减轻)(?<!没有减轻)(?<!未减轻)(?<!无法减轻)|缓解(?<!不缓解)(?<!没缓解)(?<!没有缓解)(?<!未缓解)(?<!无法缓解)|没有了|没了|"
    r"不疼了|不痛了|正常了|没事了|已经好|恢复了|不出血了|降下来了|退下去了|消下去|消退|(?<![栽倒摔跌掉滑跪躺吞咽])下去了|不厉害|不严重|没那么|"
    r"没再|没有再|没出现|好转|稳定了|控制住|压下去|风险|几率|概率|可能性|"
    r"能忍|可以忍)"
)
def _each(heads: str, tail: str) -> str:
    """``h1tail|h2tail|...`` for literal heads ``"h1 h2 ..."``.

    Python's ``re`` skips ahead by a first-character filter only when every top-level
    alternative starts with a literal, so composed rules are spelled out rather than written
    as ``(?:h1|h2)tail``: several times faster on replies that match nothing.
    """
    return "|".join(re.escape(h) + tail for h in heads.split())


_SYMPTOMS = ("疼 痛 肿 红 出血 流血 渗血 有血 鼻血 发烧 发热 烧 晕 吐 呕 咳 喘 麻 痒 拉肚子 腹泻 "
             "疹 脓 发炎 感染")
_SYMPTOM = "(?:" + "|".join(_SYMPTOMS.split()) + ")"
_FEVER = r"(?:3[89]|4[0-2])"
# Built-in red flags composed from a symptom and its persistence or severity, plus fevers
# written as numbers; they go through the same denial checks as the lexicon entries.
_RF_PHRASES: Final = (
    _each("38 39 40 41 42", r"(?:\.\d)?\s?(?:度|℃|°c?)\d?") + "|三十[八九]度|四十度|"
    + _each("体温 烧到 烧了 温度 发烧 发热 高烧", r"\D{0,3}" + _FEVER) + "|"
    + _each("一直 不停 不断 老是 总是 反复 持续", r"[^,，。.!?；;有点微不没]{0,3}" + _SYMPTOM) + "|"
    + _each("严重 剧烈", "的?" + _SYMPTOM) + "|"
    + _each(_SYMPTOMS, r"[^,，。.!?；;]{0,5}(?:厉害|严重|受不了|忍不了|睡不着|没睡|要命|不行了|"
            r"停不下来|不停)") + "|"
    + _each("还在 仍在 仍然在", r"[^,，。.!?；;]{0,2}(?:出血|流血|渗血|发烧|烧)") + "|"
    + _each("很 好 太 特别 非常 超 巨 钻心 钻心地", "(?:疼|痛)") + "|"
    + r"吐了(?:[两三四五六七八九十几多]{1,2}|好几|\d+)次|"
    + _each("胸口 胸 心口", r"[^,，。.!?；;]{0,6}(?:疼|痛|闷)")
)
# --- structural rules: tables composed into regexes ------------------------------------------
# Each rule family is a table of heads, a short in-clause window and a table of tails, so a
# new symptom, cue or grievance is one word added to a table, not a new phrase list.  Every
# alternative starts with a literal character (see _each) to keep the regex prefilter.

_IN = r"[^,，。.!?；;~\s]"        # one character inside the clause
_IN_POS = r"[^,，。.!?；;~\s不没无]"  # ... that does not negate what follows


def _top_level(pattern: str) -> list[str]:
    """Split a regex at its top-level ``|`` (outside groups and classes)."""
    parts: list[str] = []
    depth, start, i, in_class = 0, 0, 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            in_class = c != "]"
        elif c == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "]" or pattern[i + 1:i + 3] == "^]":
                i += 2 if pattern[i + 1] == "]" else 3
                continue
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
        i += 1
    parts.append(pattern[start:])
    return parts


def _expand(parts: list[str]) -> list[str]:
    """Distribute a leading group over its branches: ``(?:a|b)c`` -> ``ac``, ``bc``."""
    out: list[str] = []
    for part in parts:
        if not part.startswith("(?:"):
            out.append(part)
            continue
        depth, i = 0, 0
        while True:  # find the group's closing parenthesis
            c = part[i]
            if c == "\\":
                i += 2
                continue
            depth += c == "("
            depth -= c == ")"
            if depth == 0:
                break
            i += 1
        rest = part[i + 1:]
        if rest[:1] in ("?", "*", "+", "{"):
            out.append(part)  # an optional or repeated group cannot be distributed
            continue
        out += _expand([branch + rest for branch in _top_level(part[3:i])])
    return out


def _factor(pattern: str) -> str:
    """The same alternation with branches grouped by their first literal character.

    ``re`` tries every branch in turn at each position its prefilter lets through; grouping
    ``一直..|一晚上..|一整天..`` as ``一(?:直..|晚上..|整天..)`` tries one branch per first
    character instead, which keeps hundreds of composed rules cheap.  Branch order within a
    group is kept, so the same text matches as before.
    """
    groups: dict[str, list[str]] = {}
    for part in _expand(_top_level(pattern)):
        head = part[:1]
        literal = head not in "\\([.^$|?*+{" and part[1:2] not in ("?", "*", "+", "{")
        if not literal:
            raise ValueError(f"composed rule must start with a literal character: {part!r}")
        groups.setdefault(head, []).append(part[1:])
    return "|".join(
        head + (rests[0] if len(rests) == 1 else "(?:" + "|".join(rests) + ")")
        for head, rests in groups.items())


def _parts(rx: re.Pattern[str], k: int) -> tuple[re.Pattern[str], ...]:
    """``rx``'s top-level branches compiled as ``k`` regexes of about equal size.

    At every position whose character may start a match, ``re`` walks the heads of all the
    branches in turn (one per first character of a factored rule: 150 for the red flags), so
    a search of each part costs less than a search of the whole.  ``rx`` matches iff a part
    does: the parts decide the usual reply, that matches nothing.
    """
    parts = _top_level(rx.pattern)
    size = -(-len(parts) // k)
    out = tuple(re.compile("|".join(parts[i:i + size])) for i in range(0, len(parts), size))
    # (_finditer_parts relies on it: a match never empty, so the next starts at its end)
    assert sre_parse is None or all(
        sre_parse.parse(p.pattern).getwidth()[0] > 0 for p in out), rx.pattern[:40]
    return out


def _finditer_parts(parts: tuple[re.Pattern[str], ...], norm: str) -> list[re.Match[str]]:
    """The first ``_MAX_HITS`` matches of the whole rule split by :func:`_parts`, as its
    ``finditer`` gives them, found with the parts (the whole costs ten times more per
    character on a long reply).

    At each step the earliest start of any part wins, the earlier part on a tie (the whole
    tries its branches in order); a part's next match is searched again only once the scan
    has passed its start (a match does not depend on where the search began).
    """
    nxt = [rx.search(norm) for rx in parts]
    out: list[re.Match[str]] = []
    pos = 0
    while len(out) < _MAX_HITS:
        best: re.Match[str] | None = None
        for i, m in enumerate(nxt):
            if m is not None and m.start() < pos:
                m = nxt[i] = parts[i].search(norm, pos)
            if m is not None and (best is None or m.start() < best.start()):
                best = m
        if best is None:
            break
        out.append(best)
        pos = best.end()
    return out


def _rx_each(heads: Iterable[str], tail: str) -> str:
    """``h1tail|h2tail|...`` for heads that are regex fragments starting with a literal."""
    return "|".join(h + tail for h in heads)


def _alt(fragments: Iterable[str]) -> str:
    """One non-capturing alternation of regex fragments."""
    return "(?:" + "|".join(fragments) + ")"


# Red flag = (symptom) x (persistence | escalation | severity | inability), or a warning sign
# at a wound site, or a worrying sign in a child, or a sign that is alarming on its own.
_RF_SYMPTOM_HEADS: Final = (
    "出血", "流血", "渗血", "冒血", "血(?<![抽验献采]血)(?![压糖常型检脂管栓液色])",
    "疼(?<!心疼)", "痛", "肿", "烧(?![饭菜水香烤钱])", "发烧", "发热", "吐(?![槽字])", "呕",
    "拉肚子", "拉稀", "腹泻", "咳", "喘", "晕(?!车)", "麻(?![烦将])",
)
_RF_PERSIST_AFTER: Final = (
    "不退", "没退", "退不下", "没下来", "下不来", "降不下", "没止", "止不住", "不止", "没停",
    "不停", "停不下", "压不住", "不管用", "没用", "好几天", "好几次", "几天了",
    r"[两三四五六七八九十\d]+天了", r"一个?(?:礼拜|星期|周)了", "一整晚", "一整夜", "一晚上",
    "一夜", "一整天", "一宿", "到现在", "越来越", "加重", "更厉害", "更严重", "一天比一天",
    "没合眼", "老高", "很大", "好大", "发亮", "发紫", "发硬", "变大",
)
_RF_PERSIST_BEFORE: Final = (
    "一直", "还在", "还是", "仍然", "仍", "持续", "反复", "老是", "总是", "不停", "不断",
    "到现在还", "又开始", "一天比一天", "越来越",
)
_RF_DEGREE_HEADS: Final = ("肿", "吐", "喘", "晕", "咳", "烧(?<!饭烧)")  # 疼得/痛得: lexicon
_RF_SITES: Final = ("伤口", "刀口", "切口", "创口", "口子", "缝针", "缝线", "缝的", "针眼",
                    "拔牙", "牙洞", "牙窝", "种植", "种牙", "手术")
_RF_SITE_SIGNS: Final = ("裂", "崩", "绷开", "张开", "豁开", "发红", "红肿", "发烫", "流水",
                         "黄水", "渗液", "渗出", "流脓", "化脓", "有脓", "出脓", "臭", "发黑",
                         "乌青", "发紫", "青紫", "感染")
_RF_CHILDREN: Final = ("孩子", "宝宝", "小孩", "儿子", "女儿", "娃", "闺女", "宝贝", "小朋友",
                       "孙子", "孙女", "伢", "崽", "囡")
# "大宝", "二宝": 宝 first, so that 大/二/小 (common first characters) start no attempt
_RF_CHILD_RX: Final = (*(re.escape(c) for c in _RF_CHILDREN),
                       "宝(?:(?<=大宝)|(?<=二宝)|(?<=小宝)|(?<=三宝))")
_RF_CHILD_SIGNS: Final = (
    "高烧", "发烧", "烧到", "烧得", "抽(?![血空时奖签烟查不出])", "吐(?![槽字])", "拉肚子",
    "精神差", "精神很差", "精神不好", "精神特别差", "蔫", "昏睡", "叫不醒", "不吃不喝",
    "没怎么吃", "吃不下", "不喝水", "水都不喝", "哭闹不止", "烦躁", "一直哭", "哭个不停",
    "哭闹", "哄不好",
    # drowsy or floppy: "一直睡，喊他睁一下眼又睡过去", "抱在手里软趴趴的，逗他也不笑"
    "一直睡", "老是睡", "总是睡", "总在睡", "睡不醒", "又睡过去", "又睡着", "软趴趴", "软绵绵",
    "软软的", "没力气", "不笑", "不理人", "没反应",
)
_RF_SIGNS: Final = (
    "裂了", "裂开", "崩开", "绷开", "口子张开", "口子开了", "抽筋", "昏睡", "憋醒", "迷迷糊糊",
    "意识模糊", "叫不太醒", "含糊不清", "虚脱", "喝不进", "吃不进", "咽不下", "吞不下",
    "躺不下", "下不了床", "喉咙发紧", "嗓子发紧", "发冷发抖", "寒战", "打寒颤", "打寒战",
    "打冷战", "打摆子", "浑身发抖", "全身发抖", "发慌", "摔了一跤", "跌倒", "跌了一跤",
    "流黄水", "只能张开", "张不大", "黑便", "喉咙肿", "嗓子肿", "蔫了", "蔫蔫", "打蔫",
)
# someone else's medicine, eaten: "把他奶奶的降压药吃了两粒"
_OTHERS_MEDICINE: Final = (
    r"(?:降压|降糖|安眠|避孕|抗抑郁|精神|心脏|大人的?|[爷奶姥外公婆爸妈姨舅叔][^,，。!?；;]{0,2}的)"
    + _IN + "{0,4}药")
_OBJECTS: Final = "(?:电池|纽扣|磁铁|磁珠|硬币|图钉|别针|钉子)"
_SWALLOWED_RE: Final = re.compile(
    _OBJECTS + "|" + _OTHERS_MEDICINE
    # a dialysis fistula that has gone quiet: its "没了" is the sign, not a recovery
    + "|震颤|瘘")
# the unborn (or newborn) baby, for movements not felt
_FETUS_HEADS: Final = ("宝宝", "胎儿", "小家伙", "宝(?:(?<=大宝)|(?<=二宝)|(?<=小宝))")
_FETUS: Final = _alt(_FETUS_HEADS)
_INGESTED: Final = (r"(?:" + _OTHERS_MEDICINE + _IN + "{0,6}(?:吃|吞|喝|咽)|(?:吃|吞|喝)了?"
                    + _IN + "{0,3}" + _OTHERS_MEDICINE + "|(?:吃|吞|咽)(?:了|下|进去)?" + _IN
                    + "{0,3}" + _OBJECTS + ")")
_RF_EXCRETA: Final = ("尿", "大便", "小便", "便", "痰", "口水", "唾沫", "吐的", "呕吐物")
_RF_LIMBS: Final = ("胳膊", "手臂", "半边", "半身", "左手", "右手", "左腿", "右腿", "腿脚")
_RF_GRAMMAR: Final = "|".join((
    _rx_each(_RF_SYMPTOM_HEADS, _IN + "{0,5}" + _alt(_RF_PERSIST_AFTER)),
    _rx_each(_RF_PERSIST_BEFORE, r"[^,，。.!?；;~\s不没点微]{0,4}"
             + _alt(h for h in _RF_SYMPTOM_HEADS)),
    _rx_each(_RF_DEGREE_HEADS, "得(?![不没有点还挺轻])"),
    _each(" ".join(_RF_SITES), _IN_POS + "{0,6}" + _alt(_RF_SITE_SIGNS)),
    _rx_each(_RF_CHILD_RX, _IN_POS + "{0,6}" + _alt(_RF_CHILD_SIGNS)),
    _each(" ".join(_RF_SIGNS), ""),
    _each(" ".join(_RF_EXCRETA), "[里中]?" + _IN_POS + "{0,2}(?:有血|带血|是血|血丝|发黑)"),
    _each(" ".join(_RF_LIMBS), _IN_POS + "{0,3}(?:发麻|没力|没劲|无力|抬不起|动不了)"),
    r"拉了(?:一整晚|一晚上|一整夜|一夜|一整天|好几次|[两三四五六七八九十几\d]+次)(?![琴曲首遍])",
    _each("两 三 四 五 六 七 几 2 3 4 5 6 7", "天没(?:怎么)?(?:吃|喝|大便|小便|尿)"),
    _each("嘴角 嘴 口角 脸", "[也都有点]{0,2}歪"),
    _each("心跳", _IN_POS + "{0,3}(?:快|乱|不齐|加速)"),
    _each("胸口 胸 心口", _IN + "{0,6}(?:压|紧|憋)"),
    _each("磕 撞 摔", "[到了伤着]?(?:头|脑袋|后脑)"), "碰[到伤着](?:头|脑袋|后脑)",
    _each("出血量 血量", _IN_POS + "{0,6}(?:多|大)"),
    _each("血糖", _IN + r"{0,6}(?:[2-3]\d|二十|三十)"),
    _each("血糖", r"[^,，。!?；;\d]{0,6}[0-3]\.\d"),
    _each("血压", _IN + r"{0,4}(?:降到|掉到|只有|才)[4-8]\d(?!\d)"),
    _each("止痛 止疼 镇痛", r"[^。.!?；;]{0,8}(?:没用|不管用|压不住|没效果|不顶用|还是疼)"),
    _each("叫", _IN + "{0,3}(?:不怎么应|没反应|不应)"),
    # watery stool however it is told: "拉了一天的稀"
    _each("拉", _IN + "{0,5}稀"),
    # a child who swallowed an adult's medicine or a small object
    _rx_each(_RF_CHILD_RX, _IN + "{0,10}" + _INGESTED),
    "吞(?:了|下|进去)?" + _IN + "{0,3}" + _OBJECTS,
    # the object named first: "一颗纽扣电池吞下去了" (urgent however well the child looks)
    _OBJECTS + _IN + "{0,4}(?:吞|咽|吃下|吃进|误食|误吞)",
    # the baby's movements not felt: "一上午都没感觉到宝宝动" (胎动 words are in the lexicon)
    _each("没感觉到 感觉不到 没感觉 没怎么感觉到 没觉得", _IN + "{0,4}?" + _FETUS
          + "在?(?:动|踢)(?![手作画车筷过])"),
    _rx_each(_FETUS_HEADS, _IN + "{0,6}(?:没|不)(?:怎么|太|再)?(?:动|踢)(?![手作画车筷过])"),
    # suicidal ideation and self-harm told by implication (not 累死了, 烦死了, 笑死)
    _each("活着", _IN + "{0,4}(?:没意思|没意义|没有意义|没什么意思|没啥意思|没什么意义|没啥意义"
          "|有什么意思|有啥意思|有什么意义|有啥意义|没劲|太累|好累|真累|好难|太难)"),
    "结束(?:这一切|一切|自己|生命|这条命)", r"怎么结束(?=$|[,，。.!?…~\s])",
    "攒(?![钱分积])" + _IN + "{0,4}药", "药" + _IN + "{0,4}攒",
    "从(?:楼上|楼顶|顶楼|窗户|窗台|窗口|阳台|天台|桥上)" + _IN + "{0,4}跳",
    "跳(?:楼(?!价|梯|机)|河|江|湖|桥|崖|轨)",
    # a burden on the family: "我觉得自己就是家里的负担" (not "费用负担重")
    _each("我是 我就是 我成了 我只是 我真是 自己是 自己就是 自己成了 自己只是",
          _IN + "{0,4}(?:负担|累赘|拖累|包袱)(?!重|太重|很重|大|不小|不轻)"),
    # joining the dead: "想去跟他爷爷作伴"
    _each("想去 要去 也去", "(?:跟|和|找|陪)" + _IN + "{0,6}(?:作伴|做伴|团聚)"),
    # harming thoughts: "想过伤害孩子" (postpartum)
    _each("想过 想要 想把 忍不住想 有种想", _IN + "{0,8}(?:伤害|掐死|捂死|摔死|弄死|闷死)"),
    # persecution and danger: "说有人要害她", "拿着刀守着门" (the rarer character first)
    "害(?:(?<=有人害)|(?<=有人要害)|(?<=有人想害)|(?<=有人在害)|(?<=有人会害))(?![怕羞])",
    "监视(?:(?<=有人监视)|(?<=有人在监视))",
    "刀(?:(?<=拿刀)|(?<=拿着刀)|(?<=拿把刀)|(?<=拿菜刀)|(?<=拿着菜刀)|(?<=拿着把刀)|(?<=拿一把刀))"
    + _IN + "{0,4}(?:守|对着|站|比划|吓|追|挥|砍|乱)",
))

# Opt-out = a stop word + (再/给我/这类...) + a way of contacting; "取消预约", "不用再打针" and
# "别再发脾气" have no contact word after the stop word, so they never opt anyone out.
_OPT_STOPS: Final = ("别", "不要", "不用", "不必", "无需", "不需要", "请勿", "勿", "甭", "莫",
                     "停止", "停掉", "取消", "退订", "拒收", "拒绝接收", "拒绝", "关掉", "关闭",
                     "屏蔽", "不想再", "不希望", "不准", "禁止", "不再", "用不着")
# "要不要再联系", "用不用通知" ask; they do not refuse.
_OPT_STOP_GUARD: Final = {"不要": "(?<!要不要)", "不用": "(?<!用不用)", "不需要": "(?<!需不需要)"}
_OPT_BETWEEN: Final = r"(?:再|也|都|给|跟|和|向|对|找|往|我|们|妈|爸|家|老人|这个|这种|这类|此类|" \
                      r"这些|那些|此|类|任何|接收|收到|的|你们|以后|就){0,5}"
_OPT_CONTACTS: Final = (
    "打电话", "打来", "来电", "打给", "打扰", "骚扰", "联系", "联络", "回访", "随访", "推送",
    "推了", "推啦", "推给", "通知", "提醒", "短信", "消息", "信息", "微信", "服务", "订阅", "问卷",
    "调查", "电话", "发短信", "发信息", "发消息", "发微信", "发问卷", "发了", "发啦", "发过来",
    "send", "sms", "text", "msg", "讯息", "传讯息",
    "发来", "发给", "发这", "发那", "发任何", r"发(?=$|[,，。.!?！？；;~\s])", "打了", "打啦",
)
_OPT_GRAMMAR: Final = "|".join((
    _rx_each((re.escape(w) + _OPT_STOP_GUARD.get(w, "") for w in _OPT_STOPS),
             _OPT_BETWEEN + _alt(_OPT_CONTACTS)),
    _each("天天 每天 老是 总是 成天 整天 一天到晚 三天两头",
          r"(?:都|在|给我|追着)?(?:发|打电话|打来|骚扰|问|催)"
          r"(?=$|[,，。.!?！？；;~\s]|短信|消息|信息|这些)"),
    _each("手机号 号码 电话号码 联系方式 我的信息 我的资料",
          r"[^。.!?；;]{0,10}(?:删|去掉|移除|注销)"),
    # pinyin typed without the IME, any spacing: "buyao zai lianxi wo le", "bie zai da le";
    # 发/打 only with an object or 了 after them ("bu yao da zhen" is an injection)
    r"b(?<![a-z]b)(?:u ?yao|ie|u ?yong|u ?xu ?yao|u ?bi) ?(?:zai ?)?(?:gei ?wo ?)?"
    r"(?:lian ?xi|lian ?luo|da ?rao|sao ?rao|hui ?fang|fa ?(?:duan ?xin|xin ?xi|xiao ?xi)"
    r"|(?:fa|da)(?= ?(?:le|lai|wo|dian ?hua|guo ?lai)\b|$|[,.!~]))",
    # the sender blocked: "这个号码我已经设置拦截了" (not "短信被拦截了": a spam filter)
    "拦截(?:(?<=设置拦截)|(?<=设了拦截)|(?<=已经拦截)|(?<=已拦截)|(?<=加入拦截)|(?<=我拦截)"
    "|(?<=给拦截)|(?<=设拦截)|(?=了?(?:你们|这个号|此号|这号|该号|名单)))",
))
# English: "stop" opening the reply, whatever follows ("STOP please", "Stop it.").
_OPT_EN_RE: Final = re.compile(
    r"(?:please |pls |plz )?stop\b(?! (?:the )?(?:bleed|pain|hurt|by|at|in|over))")

# Complaint = a grievance target + a negative evaluation, or an event that only goes wrong
# ("收了两次", "没人来", "拖了一个多月").  Targets about waiting, parking or the surroundings
# make a mild grievance (see the lexicon's "~" entries).
_CMP_TARGETS: Final = (
    "收费", "收钱", "费用", "价格", "价钱", "要价", "挂号费", "检查费", "治疗费", "学费", "押金",
    "退费", "钱", "态度", "服务", "护士", "医生", "大夫", "护工", "前台", "老师", "机构", "客服",
    "保安", "保洁", "卫生", "厕所", "洗手间", "卫生间", "病房", "琴房", "教室", "隔音", "空调",
    "饭菜", "伙食", "设施", "设备", "管理", "质量", "技术", "水平", "脾气",
)
# mild targets with their own negative words (first characters in _CMP_MILD_HEADS)
_CMP_MILD: Final = (
    ("排队 等的时间", "长 久 慢(?!慢)"), ("停车", "难 贵(?!姓) 麻烦 不方便"),
    ("环境", "差(?!不多|点|一点) 脏 吵 乱 不好"),
)
_CMP_MILD_HEADS: Final = ("排", "等", "停", "环", "预", "约")
_CMP_NEGATIVE: Final = (
    "离谱", "过分", "黑(?!眼圈|色|发)", "乱", "差(?!不多|点|一点)", "烂", "脏", "臭", "冷漠",
    "冷(?!静|敷)", "凉", "凶", "敷衍", "傲慢", "马虎", "粗暴", "坑", "太慢", "特别慢", "真慢",
    "超慢",
    "狠", "贵(?!姓)",
    "不合理", "没法用", "不能用", "用不了", "坏了", "太快", "匆忙", "草率", "难吃", "吵", "恶劣",
    "不专业", "不负责", "不耐烦",
)
_CMP_EVENTS: Final = (
    "收了两次", "收两次", r"收了\d次", "重复收", "多收了", "没做过的", "又要收钱", "额外收",
    "另外收", "没人来", "没人修", "没人接", "没人应", "没人回", "没人处理", "没人打扫",
    "没人收拾", "没人过来", "叫不来", "叫都叫不", "喊不来", "喊都喊不", "打不通", "找不到人",
    "联系不上", "没解决", "解决不了", "没给解决", "白跑", "大呼小叫", "吼孩子", "凶孩子",
    "凶病人", "还凶", "骂孩子", "上一半", "上到一半", "提前下课", "迟到早退", "蟑螂", "老鼠",
    "虫子", "头发丝", "臭烘烘", "霉味", "地上全是水", "差点滑倒", "差点摔", "下手重",
    "一问三不知", "都说不知道", "太狠", "真狠", "宰客",
)
_CMP_GRAMMAR: Final = "|".join((
    _rx_each(_CMP_TARGETS, r"[^,，。.!?；;~\s不没说讲让叫]{0,4}"
             r"(?:太|很|真|特别|非常|超|好|也太|得太|得很|得特别)?" + _alt(_CMP_NEGATIVE)),
    *(_each(heads, r"[^,，。.!?；;~\s不没]{0,4}(?:太|很|真|特别|非常|超|好|也太|得太|得很)?"
            + _alt(neg.split())) for heads, neg in _CMP_MILD),
    _rx_each(_CMP_EVENTS, ""),
    _each("拖了", _IN + "{0,4}(?:月|天|周|礼拜|星期|年)"),
    _each("到现在", "[都还]?[没不](?:补|退|回|给|处理|解决|联系|修|出|来|通知)"),
    _each("跑了", "[两三四五几好\\d]+趟"),
    _each("说好", r"(?!好)[^。.!?；;]{0,10}(?:又要|结果|却|到现在|也没|还没|没有|没补|不给|变卦)"),
    _each("一边 边 上课 看病 看牙 治疗 换药 查房",
          _IN + "{0,6}(?:接电话|看手机|玩手机|聊天|打电话)"),
    _each("也 都 从来 根本 事先", r"[不没](?:提前)?(?:通知|商量|告知|打招呼|说一声|跟"
          + _IN + "{0,4}商量)"),
    _each("手", "(?:特别|很|太|好|真|也太)重(?!要)"),
    _each("不顾", _IN + "{0,4}感受"),
    _each("问什么都", "说?不知道"),
    _each("几 一 两 三 四 五 十", r"分钟就(?:走|完|打发|结束|出来)"),
    _each("看病 就看了 看了", r"[一两三几\d]分钟"),
    _each("讲 说 教 看 检查 问诊",
          r"得?(?:(?:太|也太)(?:快|急)|(?:太|特别|很|好)?(?:匆忙|草率|敷衍))"),
    _each("排了一 等了一", "(?:上午|下午|整天|天)"),
    _each("预约 约", _IN + "{0,4}还[要得]等"),
    _each("等了", _IN + r"{0,6}(?:礼拜|星期|周|天|月)" + _IN + "{0,3}(?:还|都|才)"),
    _each("空调 热水 马桶 电梯 网络 wifi 水龙头 呼叫铃 电视",
          _IN + "{0,4}(?:坏了|不能用|没法用|用不了|不制冷|不热|没修)"),
))
_CMP_COMPOSED_RE: Final = re.compile(_factor(_CMP_GRAMMAR))
_CMP_PARTS: Final = _parts(_CMP_COMPOSED_RE, 2)
_CMP_PART_A, _CMP_PART_B = _CMP_PARTS

# Questions: A-not-A ("在不在"), a clause ending in 不 ("可以刷牙不"), 啥, "X还是Y" after a
# modal, and English yes/no openers.
_Q_GRAMMAR: Final = "|".join((
    r"不(?<!不[\u4e00-\u9fff]不)(?<=(?P<anb>[\u4e00-\u9fff])不)(?<![动烦]不)(?P=anb)",
    # (not 有完没完: fed up; not 没事没事: said twice)
    r"没(?<=(?P<anm>[\u4e00-\u9fff])没)(?<!有完没)(?<!没[\u4e00-\u9fff]没)(?P=anm)",
    r"不(?=$|[\s,.!?~。，、…])(?<=[\u4e00-\u9fff]{2}不)(?<![也都并我还就才可要他她你绝决本点从]不)",
    _each("来 完 好 到 过 出", r"没有?(?<!从来没)(?<!从来没有)(?=$|[\s,.!?~。，、…])"),
    "真的假的",
    # (not 满意个啥: scorn; not 吃啥吐啥: whatever)
    r"啥(?<!没啥)(?<!个啥)(?<!啥[\u4e00-\u9fff])(?<!啥[\u4e00-\u9fff]{2})"
    r"(?<!没[\u4e00-\u9fff]啥)(?<!没[\u4e00-\u9fff]{2}啥)(?!都|也"
    r"|[\u4e00-\u9fff]{1,2}啥)",
    _each("需要 要 该 应该 用 选 买 去 挂 交 带",
          _IN + "{0,8}还是(?![很挺有不没太那比会是要得都也])"),
))
_EN_Q_START_RE: Final = re.compile(
    r"(?:is|are|does|can|could|should|may|did) (?:the|it|there|this|that|my|your|he|she|they"
    r"|we|you|i|a|an)\b|do (?:you|i|we|they) "
    r"|will (?:i|you|it|the|my|there) |would (?:you|it) |has (?:the|my) |have (?:you|i) ")
_RF_COMPOSED_RE: Final = re.compile(_factor(_RF_PHRASES + "|" + _RF_GRAMMAR))
_RF_PARTS: Final = _parts(_RF_COMPOSED_RE, 3)
_RF_PART_A, _RF_PART_B, _RF_PART_C = _RF_PARTS
_RF_INNER_DENY_RE: Final = re.compile(
    r"消肿|止血|退烧|不厉害|不严重|没那么|不是很|不太(?![认理应踢动])|没有很|不怎么(?![认理应踢动])|"
    r"^(?!尿|小便|大便)[^,，。!?；;]*没有?$|[不没](?:闷|疼|痛|肿|烧|吐|出血|流血)")
# What follows 发 (or a stop word) when it is the body or a treatment, not a message: "发烧",
# "发炎", "还发臭", "眼睛发花", "不要再发胖"; with 针 after a stop word ("不用再打针").
_BODY_AFTER: Final = "烧热炎脓抖冷麻胖育现生票表芽烫痒红紫黑白肿作病臭花脾火"
_OPT_FALSE_AFTER_RE: Final = re.compile(
    "[" + _BODY_AFTER + "针]" + r"|点滴|吊瓶|疫苗|石膏")
_SOFTENER_RE: Final = re.compile(r"有点|有些|稍微|稍|略|一点")
_COMPLAINT_DENY_BEFORE_RE: Final = re.compile(
    r"(?:没有?|不是|不想|无|不用|不会|并不|也不|都不|不)$")
_FAMILY_RE: Final = re.compile(
    r"我是(?:(?:他|她)(?!的?(?:同事|朋友|邻居|同学|室友))|病人|患者|孩子|学生)|家属|家长|儿子|女儿|妈妈|爸爸|老婆|老公|爱人|母亲|父亲"
    r"|替他|替她|帮他|帮她|代他|代她"
)
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
# Bound the evidence per rule family: a reply repeating "很好" 150 times says nothing more
# after the first few, and the cost per reply must stay bounded.
_MAX_HITS: Final = 24
# The last clause separator before a position: search(norm, 0, pos) -> its index.
_CLAUSE_TAIL_RE: Final = re.compile(r"[,，。.!?;][^,，。.!?;]*$")
# Characters that can start a _TOKEN_RE match: replies without any skip the number scan.
_TOKEN_GATE_RE: Final = re.compile(
    r"[\d零〇一二两三四五六七八九十百壹贰叁肆伍陆柒捌玖⭐★🌟✨👍👎\[/]")
_NONWORD_RE: Final = re.compile(r"[\W_]+")
# Separators at the ends of a reply (all non-word: see _word_chars).
_EDGE_NONWORD: Final = " ,.!?~:;'\"。、…"
assert not any(c.isalnum() for c in _EDGE_NONWORD)


def _word_chars(text: str) -> str:
    """``_NONWORD_RE.sub("", text)``: the word characters of ``text``.

    str.isalnum is re's \\w less "_", so when the text is alphanumeric once its commas,
    spaces and end punctuation (none of them word characters) are gone, that is the answer
    without a regex substitution, several times dearer (most replies: "5分,护士很好!").
    """
    if text.isalnum():
        return text
    core = text.replace(",", "").replace(" ", "").strip(_EDGE_NONWORD)
    return core if core.isalnum() else _NONWORD_RE.sub("", text)
_LEAD_RE: Final = re.compile(r"[^\s,.!?;~。，、…:]+")
# Built-in opt-out intent: a "don't" word, maybe 再, maybe "给我", then a contact verb
# ("请别再给我打电话", "以后不用再联系了", "不要再给我发这些").  Lexicon entries cover the
# fixed phrases; this covers the combinations.  打/发 need an object or 了 after them so
# that "不要再发烧" or "不用再打针" never opt anyone out.
_OPT_PHRASES: Final = (
    r"(?:别|不要|不用|不必|无需|不需要|请勿|勿|甭|莫|不想|不希望|不准|禁止)再?"
    r"(?:给我|跟我|和我|向我|对我|找我|往我这|往我)?(?:们)?"
    r"(?:打电话|打来|来电|打给我|打我电话|打扰|骚扰|联系|回访|推送|通知我|发短信|发信息|发消息|"
    r"发微信|发这|发那|发啦|发了|发过来|发来|发给我|打了|打啦|call|text)"
    # "不麻烦你们打电话了"; "说过多少遍了，怎么还发"
    r"|不(?:用|必)?麻烦(?:你们|您们|你|您)?再?(?:打电话|打来|回访|联系|发短信|发消息|发信息)"
    r"|说(?:过|了)(?:多少|好几|几|无数|很多|n)[遍次回]了?[^。!?]{0,8}?还(?:在|要|是)?(?:发|打)"
)
_OPT_COMPOSED_RE: Final = re.compile(_factor(_OPT_PHRASES + "|" + _OPT_GRAMMAR))
# Deceased = a person, then only time words and adverbs, then 走了/没了/不在了/死了 closing the
# clause: "我爸上个月没了", "老人家已经走了，别发了"; not "他的药没了", "老人走了两步就喘",
# "他走了吗".  (A free gap of any four characters read those as deaths.)
_DEC_PERSONS: Final = (
    "人 老人 他 她 爸 妈 父亲 母亲 爷爷 奶奶 外公 外婆 姥姥 姥爷 老伴 老公 老婆 丈夫 妻子 爱人 "
    "病人 患者 老太太 老爷子 老头 婆婆 公公 岳父 岳母 家父 家母 宝宝 孩子 儿子 女儿 胎儿")
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
_DEC_WENT: Final = _DEC_WHEN + r"走的(?=$|[\s,，。.!！?？;；~…、]|[啊呀哦呢吧嘛])"
_DEC_TRAVEL_RE: Final = re.compile(r"出院|到家|回家|坐|开车|车|飞机|高铁|航班|动车|火车|旅游|出差")
_DEC_COMPOSED_RE: Final = re.compile(_factor(
    _each(_DEC_PERSONS, _DEC_GAP + _DEC_END) + "|" + _each(_DEC_PERSONS, _DEC_GAP + _DEC_WENT)
    # "(化疗…)上个星期还是走了": in the end, at a clause end
    # (not "我们还是走了": we left)
    + r"|还(?<!我们还)(?<!我还)(?<!咱们还)是走了(?=$|[\s,，。.!！?？;；~…、]|[啊呀哦呢吧啦嘛嗯])"))
# Change of care: "换医院了", "我已经去别的医院治了", "转到别的琴行了" -- they will not be
# back, so the follow-up stops (unless asked, advised or wished: see _SWITCH_GUARD_RE).
_CARE_PLACES: Final = r"(?:医院|诊所|机构|琴行|学校|地方|科室|家医院|家诊所|家)"
# the move is done ("了") or ongoing ("在别家治"), not a visit once ("在别的医院做了CT",
# "之前在别的医院看过", "去别的地方看看")
_SWITCH_DONE: Final = r"(?:(?:看|治|就诊|上课|学琴?|报名)?了|(?:看|治|就诊)(?=$|[\s,，。!！~]))"
_SWITCH_RE: Final = re.compile(_factor("|".join((
    _each("换 转", r"了?(?:一家|一个|个|到|去)?(?:别的|其他的?|另一家|另外一?家的?)?"
          + _CARE_PLACES + _SWITCH_DONE),
    "转院了", "转学了",
    _each("去 在 到", r"(?:别的|其他的?|别家|另一家|另外一?家的?)" + _CARE_PLACES
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
# Quitting or a refund done, with a complaint about our messages: "孩子早就退费了，你们这样一直
# 发有意思吗" (not "烧已经退了": a fever).
_QUIT_DONE_RE: Final = re.compile(
    r"(?:退费|退款|退学|退课|退卡|退班)了|(?<![烧热肿温])(?:早就|已经|早)退了|不学了|不上了")
# Codes compared with the raw reply: carriers' "reply N to unsubscribe" is an upper-case N,
# while a lower-case "n" stays a plain "no" (to "您是打4分吗?").
_RAW_OPT_OUT: Final = frozenset(("N",))
# Someone other than us after a stop word: "不用再问医生了吧", "别再找那个护士".
_OPT_OBJECT_AFTER_RE: Final = re.compile(
    r"[再也都]{0,2}(?:问|找|麻烦|联系)?(?:一下)?(?:医生|大夫|护士|老师|别人|主任|药)")
_OWN_SLIP_RE: Final = re.compile(r"了?(?:群|地方|窗口|对话)")
_NEW_CONTACT_RE: Final = re.compile(
    r"(?:联系|打|发|新号|号码是|号是|换成|改成|改为)[^。!?；;]{0,8}1[3-9]\d{9}(?!\d)")
_SWITCH_GUARD_RE: Final = re.compile(
    r"早知道|不如|应该|想|打算|准备|要不|还是|建议|让我|叫我|如果|要是|考虑|下次|万一|之前|以前"
    r"|上次|原来|先前")
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
_Q_COMPOSED_RE: Final = re.compile(_factor(_Q_PHRASES + "|" + _Q_GRAMMAR))
# Whole-reply English number words.
_EN_NUMBERS: Final = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}

_CN_NUMERAL_STANDALONE: Final = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
                                  "壹": 1, "贰": 2, "叁": 3, "肆": 4, "伍": 5}
_AFFIRMATIVE: Final = frozenset(
    [
        "是", "是的", "对", "对的", "嗯", "嗯嗯", "嗯嗯嗯", "恩", "恩恩", "好", "好的", "行",
        "可以", "没错", "对对", "对对对", "是是", "是啊", "对啊", "yes", "y", "yeah", "yep", "ok",
        "okay", "确认", "确定", "没问题", "是滴", "对滴", "好滴", "嗯呢", "嗯好", "好嘞", "中",
        "就是", "是这样", "是我", "本人", "正确", "对头", "ok的", "嗯是的", "嗯对", "好好",
        "可以的", "行的",
    ]
)
_NEGATIVE: Final = frozenset(
    [
        "不是", "不对", "no", "n", "nope", "错了", "不是的", "否", "不", "没有", "不用", "不要",
        "不行", "不对的", "不正确", "没", "都不是",
        # said twice, as people do: "不用不用，继续吧"
        "不是不是", "不用不用", "不要不要", "没有没有", "不对不对", "不行不行",
    ]
)
_SCORE_RULES: Final = frozenset(
    {"not_a_score:scale", "digit", "fullwidth_digit", "chinese_numeral", "star_emoji", "thumbs",
     "wechat_emoji", "voice", "media", "emoji", "ambiguous", "out_of_range", "fraction"}
)
_FULLWIDTH_RE: Final = re.compile(r"[０-９]")


# --- recall first: the two safety labels ------------------------------------------------------
# A missed clinical warning or an ignored "stop" costs far more than a person reading a harmless
# reply, so after the precise rules above a second, broad layer runs for red flags and opt-outs
# (only when the precise rules found nothing).  Red flag: ANY mention of a bodily symptom, sign
# or clinical event counts unless a small grammar of exclusions explains it away -- negated
# (also over a list: "发烧、出血都没有"), resolved or improving, mild and expected ("有点肿"),
# hypothetical or asked in general ("万一出血", "多少度算发烧"), about the treatment itself
# ("打针的时候有点疼") or the anaesthetic ("麻药还没过").  Opt-out: a stop word near anything
# message-like, or a bare "stop" directive, unless its object is a treatment or it is asked.

# Symptom vocabulary.  Each entry starts with a literal character (see _factor).
_RFB_WORDS: Final = (
    # blood and blood-coloured things
    "血(?<![抽验献采查止]血)(?![压糖常型检脂管栓液])", "渗(?!透)", "冒红", "发红", "鲜红",
    "红红", "红块", "红点", "红斑", "红疹", "红肿", "又红又", "红的", "红了", "红色", "咖啡色",
    "酱油色", "茶色",
    # pain, swelling, heat, fever
    "疼(?<!心疼)(?!爱)", "痛(?!快)", "肿(?<!消肿)(?!瘤)", "胀", "烫(?!发|头)", "发热", "低热",
    "高热", "热度", "烧(?<![红燃]烧)(?![饭菜水香钱烤友])",
    "量" + r"[^,，。!?；;]{0,5}(?:3[89]|4[0-2])(?!\d)",
    "体温" + r"[^,，。!?；;]{0,5}(?:3[89]|4[0-2])(?!\d)",
    # gut, breathing, chest, heart
    "吐(?<![吞谈]吐)(?![槽字露])", "呕", "恶心", "拉肚子", "拉稀", "拉水", "拉的", "水样便",
    "拉了" + r"[^,，。!?；;]{0,3}[次回趟遍天]", "泻", "咳", "喘", "憋(?!屈)", "呛", "胸闷",
    "胸口", "心慌", "心跳", "突突", "心悸", "上不来气", "呼噜(?<!打呼噜)", "发紧",
    # head, consciousness, falls, fits
    "晕(?<![吵绕搞忙弄听说]晕)(?![车船])", "昏(?<!黄昏)(?!暗)", "眼前", "眼发黑", "两眼一黑",
    "眼冒金星", "天旋地转",
    "摔(?![东门碗杯手])", "栽倒", "跌倒", "倒在地", "倒地",
    "抽(?![血空时签烟奖查屉象出不])",
    "麻(?<!芝麻)(?<!麻麻)(?<![站坐蹲压跪]麻)(?!麻地|麻哋|醉|药|烦|将|辣|利|婆|油)",
    "没力气", "没劲", "无力", "乏力", "使不上劲", "不听使唤", "抬不起", "动不了", "站不住",
    "站不起", "站不稳", "走不了", "走不动",
    "说胡话", "胡话", "胡言乱语", "梦话", "认不出", "糊涂", "迷糊", "迷瞪", "意识", "叫不醒",
    "叫他半天", "叫她半天", "叫半天", "没反应", "反应慢",
    "一直哭", "哭个不停", "哭闹不止", "哄不好", "停不下来", "哭到现在",
    "脸色", "煞白", "惨白", "苍白", "发白", "发紫", "发青", "发绀", "发黄", "发黑", "发冷",
    "哆嗦", "打颤", "发抖(?!音)", "抖(?!音)", "寒战", "冷汗", "不舒服", "难受",
    # eating, drinking, passing water
    "尿不出", "尿不下", "解不出", "一滴尿", "没尿(?!血|痛|频)", "尿少", "黑便", "柏油",
    "尿" + r"[^,，。!?；;]{0,3}(?:红|血|茶|酱油|黑|浓)",
    "大便" + r"[^,，。!?；;]{0,3}(?:黑|血|红)",
    "吃不下", "喝不下", "咽不下", "吞不下", "吃不进", "喝不进", "没胃口", "胃口", "吃一口就",
    "不吃不喝", "不肯吃", "咽不", "吞不",
    # lumps, skin, wound
    "鼓起", "鼓了", "鼓包", "疙瘩", "肿块", "硬块", "硬硬的", "个包", "起包", "疹", "风团",
    "过敏", "一身红", "全身痒", "浑身痒", "越来越痒", "痒得", "痒死", "抓破", "绽开", "裂开",
    "崩", "开线", "又粗", "粗了", "肿成", "流东西", "往外冒", "往外流", "往外渗", "流水",
    "黄水", "脓", "臭", "难闻", "味道", "怪味", "异味",
    # eyes, speech
    "重影", "看不清", "模糊", "眼花", "嘴歪", "口歪", "舌头打结", "大舌头", "说话不清",
    "口齿不清", "吐字不清", "嘴角" + r"[^,，。!?；;]{0,4}[歪斜]",
    "血压" + r"[^,，。!?；;]{0,4}(?:1[6-9]\d|2\d\d)",
)
_RFB_RE: Final = re.compile(_factor("|".join(_RFB_WORDS)))
_RFB_EN_RE: Final = re.compile(
    r"\b(?:fever|temp(?:erature)?\b\D{0,12}(?:3[89]|4[0-2])|bleed|blood|pain|hurt|sore\b|swell"
    r"|swollen|vomit|throw(?:ing)? up|threw up|puk|diarrh|cough|breath|dizz|faint|passed out"
    r"|collapse|confus|numb\b|weak\b|rash|itch|hives|allerg|leak|pus\b|smell|seiz|chest"
    r"|can'?t (?:stand|walk|eat|drink|pee|swallow|wake)|headache|ache|fell\b|shaking|chills"
    # a newborn's danger signs
    r"|not feeding|won'?t feed|not eating|very sleepy|hard to wake|jaundice|yellow (?:skin|eyes))")
_ASCII_LETTER_RE: Final = re.compile(r"[a-z]")
# Entries that count only with a body, wound or excreta word in the same sentence.
_RFB_NEEDS_CONTEXT: Final = frozenset(
    ("红的", "红了", "红色", "咖啡色", "茶色", "酱油色", "臭", "难闻", "味道", "流水", "往外冒",
     "往外流", "流东西", "硬硬的", "怪味", "异味",
     "发白", "发黄", "发紧", "崩", "裂开", "眼前", "脸色",
     "胃口", "抖", "停不下来", "意识", "模糊", "看不清"))
_RFB_CONTEXT_RE: Final = re.compile(
    r"伤口|刀口|切口|口子|缝|线|纱布|棉|牙|嘴|口腔|吐|咳|痰|尿|便|拉|手术|腿|脸|身上|皮肤|孩子|"
    r"宝宝|嗓子|喉咙|眼|黑|包|肿|疼|痛|东西|手|脚|浑身|全身|嘴唇|舌|吃|喝|说话|"
    r"他|她|妈|爸|老人|老爷子|老太太")
# Still red flags when the context word is itself a non-body use ("一直哭" etc. need none).
_RFB_CONTEXT_EXTRA: Final = {
    "眼前": re.compile(r"眼前[^,，。!?；;]{0,2}(?:一?黑|发黑|发花)"),
    "脸色": re.compile(r"脸色[^,，。!?；;]{0,3}(?:白|青|黄|灰|紫|差|难看)"),
    "胃口": re.compile(r"(?:没|一点)[^,，。!?；;]{0,2}胃口|胃口[^,，。!?；;]{0,2}(?:没|差)"),
    "意识": re.compile(r"意识[^,，。!?；;]{0,3}(?:不清|模糊|不好|没|差)"),
    "停不下来": re.compile(r"(?:哭|吐|拉|咳|抖|抽)[^,，。!?；;]{0,4}停不下来"),
}
# Minor symptoms a softener makes expected ("有点肿", "稍微有点酸"); fever, blood, breathing
# and consciousness words are never softened away.
_RFB_MINOR: Final = frozenset("疼痛肿胀酸痒麻咳红烫")
_RFB_SOFT_BEFORE_RE: Final = re.compile(
    r"(?:有点儿?|有一点点?|一点点|一丁点|一点儿|稍微|稍稍|稍|微微|轻微|略微?|有些|些许|还有点)"
    r"[^,，。!?；;]{0,3}$")
_RFB_SOFT_AFTER_RE: Final = re.compile(
    r"[^,，。!?；;]{0,4}?(?:是有一点|还是有一点|有一点|有点|一点点|一点)(?![^,，。!?；;]{0,3}"
    r"(?:厉害|严重|大|多))|[^。!?；;]{0,14}?(?:正常(?!的?[吗吧么]|不)|能忍|可以忍|可以接受|"
    r"能接受|不要紧|没关系|没大碍|不碍事)")
_RFB_DENY_BEFORE_RE: Final = re.compile(
    r"(?:没有?|不(?![过停断止到行知了好见开住起动清下来上是])|(?<!是)不是|未|无(?![力法])|不再|并没有?"
    r"|从没有?|"
    r"从来没有?|毫无|no more|no|not|never|without|n't)[^,，。.!?；;]{0,4}$|(?:消|止|退)$"
    r"|(?:没有?|无|未|不)(?:[^,，。.!?；;]{1,4}[、和或及与跟/])+[^,，。.!?；;]{0,2}$")
_RFB_DENY_AFTER_RE: Final = re.compile(
    r"[^,，。!?；;]{0,6}?(?:这些|等)?(?:都|也)?(?:没有?|没出现过?|没出过?|没再出现|不再)"
    r"(?:了|过|呢)?(?=$|[,，。.!?！？；;~\s])"
    # a list closed by "这些(情况)都没有": "发热、红肿、出血这些情况都没有"
    r"|[^。!?；;]{0,20}?(?:这些|这几样|这几个|等)(?:情况|症状|问题|现象)?(?:都|也)?"
    r"(?:没有?|没出现|没发生|不存在)")
# Symptoms whose negation ("不怎么疼", "已经不肿") means better; "不怎么应", "已经不能动" do not.
_SYM: Final = r"(?:疼|痛|肿|烧|吐|晕|咳|痒|麻|胀|酸|出血|流血|渗|拉|闷|喘|难受|红)"
# Better, resolved or expected to pass, within 22 characters after a mention (same sentence).
# Every alternative starts with a literal so that re's first-character filter applies: a search
# over the window is several times cheaper than a lazy ".{0,22}?" before the alternation.
_RFB_BETTER_RE: Final = re.compile(_factor("|".join((
    "好多了", "好些了", "好点了", "好一些", "好很多", "又好好的",
    # "歇着也不缓解" is no relief
    "减轻(?<!不减轻)(?<!没减轻)(?<!没有减轻)(?<!未减轻)(?<!无法减轻)",
    "缓解(?<!不缓解)(?<!没缓解)(?<!没有缓解)(?<!未缓解)(?<!无法缓解)",
    "消了", "消下去", "消退", "退了",
    "退下去", "不怎么" + _SYM, "没事了", "没事啦", "好转", "变淡", "变小", "变浅",
    "一天比一天(?:轻|小|好|少)", "慢慢(?:好|消|退|小)", "能吃能睡", "基本好了", "就好了",
    "就停了", "就退了", "就止住", "就没了", "就没事", "长好", "好了", "没了", "没有了", "止住",
    "已经停", "停了",
    "止血了", "正常(?<!是不是正常)(?<!算不算正常)(?<!正不正常)(?!的?[吗吧么])",
    "没事(?![吗吧么])", "没什么事",
    "会(?:好|消|退|恢复)(?![吗么])", "能(?<!不能)(?<!不太能)(?:吃|喝|睡)", "吃饭了", "消得",
    "差不多好", "已经不" + _SYM, "已不" + _SYM, "不" + _SYM + r"[^,，。!?；;]?了",
    r"3(?<![\d.]3)[56](?:\.\d)?(?![\d.])", "降下来", "不疼了", "不痛了", "不肿了", "不烧了",
    "不吐了", "不出血了", "不流血了", "better", "gone", "stopped", "settled", "fine now",
    "all good", "went down", "improv", "easing", "eased"))))


# A negated resolution is none (surveys.understanding.safety)
_NEG_RESOLUTION_RE: Final = NEG_RESOLUTION_RE


def _better_after(norm: str, e: int, se: int) -> bool:
    """A sign of improvement within 22 characters after ``e``, before the sentence end ``se``
    (a negated one is none: see _NEG_RESOLUTION_RE)."""
    end = min(se, e + 30)
    return _RFB_BETTER_RE.search(norm, e, end) is not None and \
        _NEG_RESOLUTION_RE.search(norm, e, max(end, se)) is None
_RFB_HYPO_SENT_RE: Final = re.compile(
    r"如果|要是|万一|假如|假使|会不会|会否|是否|多少度|多少算|算不算|什么情况|哪些情况|啥情况|"
    r"什么时候需要|需不需要|if |in case|what if|what temperature|counts? as|when should"
    r"|is it normal")
_RFB_HYPO_CLAUSE_RE: Final = re.compile(
    r"怕|担心|预防|防止|避免|以免|注意|小心|提醒|交代|(?<!一)会(?!儿)")
_RFB_HYPO_AFTER_RE: Final = re.compile(r"[^,，。!?；;]{0,6}?的话")
_RFB_PROCEDURE_RE: Final = re.compile(
    r"(?:打针|扎针|麻药|拔牙?|抽血|拆线|缝针|缝合|洗牙|补牙|刮|钻|上药|换药|注射|做|治疗|检查|种|"
    r"打|扎|拆|拔完|做完|打完|弄)[^,，。!?；;]{0,4}(?:的时候|那会儿?|那一下|那阵子?|时候|当时"
    r"|时(?<!小时))"
    r"|当时|治疗中|术中|during")
_RFB_ANAESTHESIA_RE: Final = re.compile(r"麻药|麻醉|打麻|anaesthe|anesthe|numbing")
_RFB_NOT_ABOUT_ME_RE: Final = re.compile(r"不舒服|难受")
# A later time after the treatment cue: "拔完牙的时候还好，晚上疼得睡不着" is not "during".
_NOW_RE: Final = re.compile(
    r"现在|晚上|夜里|半夜|回家|回来|后来|到现在|今天|昨天|还在|一直|之后|以后")
# Long-standing, not new: "她年纪大了听不清", "本来就看不清".
_CHRONIC_RE: Final = re.compile(
    r"年纪大|岁数大|年龄大|老毛病|本来就|一直都这样|从小就|以前就|天生"
    # unchanged by the treatment, not new: "腰还是跟以前一样疼"
    r"|跟以前一样|和以前一样|跟之前一样|和之前一样|跟原来一样|和原来一样|老样子")
_PAST_RE: Final = re.compile(r"去年|前年|上个月|上上个月|几年前|很久以前|小时候|好几年|年前")
_JOKE_RE: Final = re.compile(r"开玩笑|开个玩笑|逗你|骗你的|just kidding|jk\b")
# Feelings rather than the body: "每次看到都难受", "心里不舒服".
_FEELING_RE: Final = re.compile(
    r"(?:心里|心情|看到|看着|听到|听着|听了|想到|想起|看见|看一次|一想到)[^,，。!?；;]{0,4}$")
# Stroke-like signs stay red flags even when they passed ("突然说不出话, 过了几分钟又好了"):
# a transient attack is a warning of the next one.
_NO_RESOLVE_RE: Final = re.compile(
    r"(?:突然|忽然|一下子)[^,，。!?；;]{0,6}(?:说不出|说不清|看不见|看不清|动不了|没知觉|"
    r"没感觉|使不上劲|抬不起|嘴歪|脸歪|口齿不清|半边)")
# Composed red flags (lexicon ``red_flag_body`` x ``red_flag_change``): the body word must be
# within this many characters before the change, in the same clause ("半边脸没知觉",
# "吞口水都费劲"); English words sit further apart ("my left arm is weak").
_BODY_GAP: Final = 6
_BODY_GAP_EN: Final = 16
# A sudden onset stands in for the body word: "突然看不见了", "一下子动不了".
_SUDDEN_RE: Final = re.compile(
    r"突然|忽然|一下子|猛地|猛然|冷不丁|毫无征兆|suddenly|all of a sudden")
# A negator between the body word and the change denies it: "腿没发软", "脸也不歪".
_BODY_DENY_RE: Final = re.compile(r"[不没无未]|not|n't|no ")
# Words the body list would misread: 手机 is not a hand, 头发/开头/头两天 not a head.
_BODY_FALSE_RE: Final = re.compile(
    r"手机|手续|手艺|手术费|手法|头发|开头|里头|头两|头几|头一|线上|在线|人员|别人|人家说|"
    r"眼镜|眼科|面部表情|口子上")
# A staff member before the body word: "医生脸色难看得吓人" is about the doctor.
_BODY_STAFF_RE: Final = re.compile(r"医生|大夫|护士|老师|前台|客服|工作人员|收费|院长|主任")
# Words between a staff member and the sign that make the sign the patient's again:
# "护士说我一直出血" (told by the nurse), "医生让他…".
_STAFF_TO_PATIENT_RE: Final = re.compile(r"说|讲|告诉|让|叫|给|帮|问|我|孩子|他|她|病人|老人|宝宝")


def _staff_subject(norm: str, cs: int, s: int) -> bool:
    """A staff member is the subject of what follows: "值班的护士一直在睡觉"."""
    last = None
    for m in _BODY_STAFF_RE.finditer(norm, cs, s):
        last = m
    return last is not None and _STAFF_TO_PATIENT_RE.search(norm, last.end(), s) is None


# Numbness words the anaesthetic explains unless it has lasted ("两天了还没知觉").
_NUMB_WORDS: Final = frozenset(("没知觉", "没有知觉", "没感觉", "没有感觉", "木木的", "发木",
                                "木了", "no feeling", "numb"))
_LASTED_RE: Final = re.compile(r"[两三四五六七八九十几\d]天|一整天|到现在|还没恢复|还是没|days")
_SENT_END: Final = "。!?！？；;\n"


_SEP_RE: Final = re.compile(r"[,，。.!?！？；;~\n]")
# Every context cue the exclusions look for: h hypothetical, p treatment, j joke,
# c long-standing, t long ago, s staff, n stroke-like, a anaesthetic.
_CUES: Final = (
    ("h", _RFB_HYPO_SENT_RE), ("p", _RFB_PROCEDURE_RE), ("j", _JOKE_RE), ("c", _CHRONIC_RE),
    ("t", _PAST_RE), ("s", _BODY_STAFF_RE), ("n", _NO_RESOLVE_RE), ("a", _RFB_ANAESTHESIA_RE))
# factored by first character: a plain alternation of these patterns loses re's prefilter
_CUE_RE: Final = re.compile(_factor("|".join(rx.pattern for _, rx in _CUES)))


_CLAUSE_START_RE: Final = re.compile(r"[,，。.!?！？；;~\n][^,，。.!?！？；;~\n]*$")
_SENT_START_RE: Final = re.compile(r"[。!?！？；;\n][^。!?！？；;\n]*$")
_SENT_STOP_RE: Final = re.compile(r"[。!?！？；;\n]")


_LOOKBACK: Final = 48


def _last(rx: re.Pattern[str], norm: str, pos: int) -> re.Match[str] | None:
    """``rx.search(norm, 0, pos)`` for an ``[sep][^sep]*$`` pattern: the last separator.

    The full search scans the whole prefix, so over the hits of a long reply it costs
    quadratic time; the last separator is usually close, so look just behind ``pos`` first
    (same answer: a separator found in the window is the last one before ``pos``).
    """
    if pos > _LOOKBACK:
        m = rx.search(norm, pos - _LOOKBACK, pos)
        if m is not None:
            return m
    return rx.search(norm, 0, pos)


def _bounds(norm: str, s: int, e: int) -> tuple[int, int, int]:
    """(clause start, sentence start, sentence end) around ``norm[s:e]``."""
    m = _last(_CLAUSE_START_RE, norm, s)
    if m is None:
        return 0, 0, _sent_end(norm, e)
    cs = m.start() + 1
    m = _last(_SENT_START_RE, norm, cs)
    return cs, (m.start() + 1 if m else 0), _sent_end(norm, e)


def _sent_end(norm: str, e: int) -> int:
    """Index of the sentence end at or after ``e``."""
    m = _SENT_STOP_RE.search(norm, e)
    return m.start() if m else len(norm)


def _scan(rx: re.Pattern[str], norm: str) -> Iterable[re.Match[str]]:
    """``rx``'s first ``_MAX_HITS`` matches in ``norm``.

    A plain ``search`` first: most rules match nothing in most replies, and a failed search
    is several times cheaper than building the ``finditer`` iterator.
    """
    m = rx.search(norm)
    if m is None:
        return ()
    return islice(rx.finditer(norm, m.start()), _MAX_HITS)


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


def _cues(norm: str) -> str:
    """Letters of the context cues present anywhere in the reply (see ``_CUE_RE``).

    One search settles the usual reply, which has none; otherwise each cue is looked for on
    its own (cues overlap: "麻药要几个小时" is both the anaesthetic and a treatment time).
    """
    if _CUE_RE.search(norm) is None:
        return ""
    return "".join(k for k, rx in _CUES if rx.search(norm) is not None)


def _rf_precise_exclusion(norm: str, cs: int, s: int, e: int, cues: str) -> str:
    """The broad layer's exclusions for the precise rules' hits ("" if none applies).

    ``cs`` is the clause start.  Denied, over and done with ("晕倒后来查了是低血糖，现在已经
    没事了"), hypothetical, during the treatment, or a joke.
    """
    if _RFB_DENY_BEFORE_RE.search(norm, max(cs, s - 10), s) is not None or \
            _RFB_DENY_AFTER_RE.match(norm, e) is not None:
        return "denied"
    _, ss, se = _bounds(norm, s, e)
    if _better_after(norm, e, se) and (
            "n" not in cues or _NO_RESOLVE_RE.search(norm, ss, se) is None):
        return "resolved or improving"
    if "h" in cues and _RFB_HYPO_SENT_RE.search(norm, ss, se) is not None:
        return "hypothetical or asked in general"
    return _rf_context_exclusion(norm, cs, ss, s, e, cues)


# Mentions that something else explains (see _other_cause).
_UNCHANGED_WORDS: Final = frozenset(("歪", "斜", "看不清", "看不到", "听不清", "模糊"))
_NEAR_MISS_RE: Final = re.compile(r"(?:差点|差一点|差点儿|险些|差些)(?:就|要)?[^,，。!?；;]{0,2}$")
_FALL_RE: Final = re.compile(r"摔|跌|滑倒|栽|掉下")
_CORRECTED_RE: Final = re.compile(
    r"(?:原来|其实|结果|后来发现|才发现|才知道|一看)(?:是|只是|就是|不是)")
_SOMEONE_ELSE_RE: Final = re.compile(r"邻居|隔壁|同事|别人家|(?<!小)朋友")
# a medicine or a measurement named after the word: "湿疹的药膏用完了", "血压130/80", "血糖7.2"
_NAMED_AFTER_RE: Final = re.compile(r"的?(?:药|药膏|药水|药片|软膏)|压|糖|脂|常规|小板|型|检|氧")
# already treated: "去急诊处理了", "急诊看过了"
_SEEN_AFTER_RE: Final = re.compile(r"[^,，。!?；;]{0,2}(?:处理|看|缝|包扎|止血|输液)(?:了|过|好)")
_WEATHER_RE: Final = re.compile(r"高温|气温|天气|室温|水温|热死了")
# a fracture in rehabilitation or healing: the condition treated, not a new one
_TREATED_RE: Final = re.compile(
    r"康复|恢复|拆了?石膏|钢板|长的|长得|长好|以后的|后的|做完手术|复位")
_AGAIN_RE: Final = re.compile(r"又|再次|新的?|怀疑")
_KNOWN_ALLERGY_RE: Final = re.compile(r"对[^,，。!?；;]{1,6}$")
_COLD_RE: Final = re.compile(r"冻得|冷得|冻的|冷的")
_NOISE_RE: Final = re.compile(r"吵|噪音|隔音|声音太大|太响|信号|电话里|听筒|麦克风")
_ONCE_BEFORE_RE: Final = re.compile(r"之前|以前|曾经|上次|先前|以往|早先")
_ONCE_RE: Final = re.compile(r"过(?:[一两几\d]次|一回|一阵)")
# A fever or bleeding said to be over later in the reply, however far after: "之前发烧到三十八度多
# ……现在已经好几天没烧了" (a new mention after it is judged on its own).
_FEVER_OVER_RE: Final = re.compile(
    r"(?:没|不|没再|没有再)(?:发)?烧了|退烧了|烧退了|烧已经退|烧早就退|烧也退|体温正常|没再烧|没有再烧")
_BLEED_OVER_RE: Final = re.compile(
    r"血[^,，。!?；;]{0,3}止住|不(?:出|流)血了|没再(?:出|流)血|没有再(?:出|流)血|血已经止|血早就止"
    r"|(?:现在|已经)不(?:出|流)了")


def _other_cause(norm: str, cs: int, ss: int, s: int, e: int) -> str:
    """Why the mention at ``norm[s:e]`` is not the patient's sign now ("" if nothing says so).

    A fall that nearly happened ("差点摔倒，还好扶住了"), a fear corrected ("还以为出血了，
    原来是吃了火龙果"), someone else ("我邻居拔牙后出血不止"), noise rather than hearing
    ("隔音太差…孩子根本听不清"), a single episode before ("之前晕过一次"), or a fever or
    bleeding said to be over later in the reply.
    """
    word = norm[s:e]
    if _FALL_RE.search(word) is not None and \
            _NEAR_MISS_RE.search(norm, max(cs, s - 6), s) is not None:
        return "a near miss"
    if "以为" in norm[cs:s] and _CORRECTED_RE.search(norm, e, e + 24) is not None:
        return "a fear corrected"
    if _SOMEONE_ELSE_RE.search(norm, cs, s) is not None:
        return "about someone else"
    if _NAMED_AFTER_RE.match(norm, e) is not None and word[-1] in "疹血烧热痛疼咳喘":
        return "a medicine or a measurement"
    if "急诊" in word and _SEEN_AFTER_RE.match(norm, e) is not None:
        return "already treated"
    if word[-1] == "度" and _WEATHER_RE.search(norm, cs, e + 6) is not None:
        return "the weather"
    if word[0] in "疼痛" and norm[s - 1:s] == "心":
        return "a feeling, not the body"  # 心疼: heartache for someone
    if "骨折" in word and _TREATED_RE.search(norm, ss, e + 24) is not None and \
            _AGAIN_RE.search(norm, max(ss, s - 4), s) is None:
        return "the condition being treated"  # "骨折以后的康复训练做了十次了"
    if word == "消毒水" and norm.startswith("味", e):
        return "a smell"
    if "过敏" in word and (norm.startswith("史", e) or (_KNOWN_ALLERGY_RE.search(
            norm, max(ss, s - 8), s) is not None and not norm.startswith("了", e))):
        return "a known allergy"  # "过敏史", "对哪个胶布过敏"
    if "看不清" in word and norm.startswith("字", e):
        return "small print"
    if _COLD_RE.search(norm, max(ss, s - 6), s) is not None and word[-1] in "白紫青":
        return "the cold"  # "冻得嘴唇发白"
    if "听不" in word and _NOISE_RE.search(norm, ss, e + 20) is not None:
        return "noise, not hearing"
    if _ONCE_RE.match(norm, e) is not None and _ONCE_BEFORE_RE.search(norm, cs, s) is not None:
        return "once, before"
    if ("烧" in word or "热" in word or "度" in word) and \
            _FEVER_OVER_RE.search(norm, e) is not None:
        return "resolved later in the reply"
    if "血" in word and _BLEED_OVER_RE.search(norm, e) is not None:
        return "resolved later in the reply"
    return ""


def _rf_context_exclusion(norm: str, cs: int, ss: int, s: int, e: int, cues: str) -> str:
    """During the treatment (and not later), long ago, long-standing, said in jest, or
    another cause (:func:`_other_cause`).

    ``cues`` (from :func:`_cues`) says which of the first ones the reply mentions at all, so
    most mentions are cleared without a single search.
    """
    why = _other_cause(norm, cs, ss, s, e)
    if why:
        return why
    if "p" in cues:
        pm = _RFB_PROCEDURE_RE.search(norm, ss, s)
        if pm is not None and _NOW_RE.search(norm, pm.end(), s) is None:
            return "during the treatment"
    if "j" in cues:
        return "said in jest"
    if "s" in cues and _staff_subject(norm, cs, s):
        return "about a staff member"
    if "c" in cues or "t" in cues:
        m = _SEP_RE.search(norm, e)
        ce = m.start() if m else len(norm)
        if "c" in cues and _CHRONIC_RE.search(norm, ss, ce) is not None:
            return "long-standing"
        if "t" in cues and _PAST_RE.search(norm, cs, ce) is not None and \
                _NOW_RE.search(norm, e, ce) is None:
            return "long ago"
    return ""


def _rfb_exclusion(norm: str, s: int, e: int, word: str, cues: str) -> str:
    """Why a broad symptom mention at ``norm[s:e]`` is not a red flag ("" if it is one)."""
    cs, ss, se = _bounds(norm, s, e)
    before = norm[max(cs, s - 10):s]
    sentence = norm[ss:se]
    if word in _RFB_NEEDS_CONTEXT:
        extra = _RFB_CONTEXT_EXTRA.get(word)
        if extra is not None:
            if extra.search(sentence) is None:
                return "no sign"
        elif _RFB_CONTEXT_RE.search(sentence.replace(word, " ")) is None:
            return "no body context"
    if _RFB_DENY_BEFORE_RE.search(before) or (
            _RFB_DENY_AFTER_RE.match(norm, e, se) and not word.startswith("一滴")):
        return "denied"
    if word in ("不舒服", "难受"):
        if "没" in norm[cs:s] or "无" in norm[cs:s]:
            return "denied"
        if _FEELING_RE.search(norm, cs, s) is not None:
            return "a feeling, not the body"
    if (_better_after(norm, e, se) or (_RF_RESOLVED_AFTER_RE.match(norm, e, se) and
                                        _NEG_RESOLUTION_RE.search(norm, e, se) is None)) \
            and ("n" not in cues or _NO_RESOLVE_RE.search(norm, ss, se) is None):
        return "resolved or improving"
    if ("h" in cues and _RFB_HYPO_SENT_RE.search(sentence)) or \
            _RFB_HYPO_CLAUSE_RE.search(norm, cs, s) or \
            _RFB_HYPO_AFTER_RE.match(norm, e, se):
        return "hypothetical or asked in general"
    if word[0] in _RFB_MINOR and (_RFB_SOFT_BEFORE_RE.search(before) or
                                  _RFB_SOFT_AFTER_RE.match(norm, e, se)) and \
            _NEG_RESOLUTION_RE.search(norm, e, se) is None:  # "疼一点没减轻" is not mild
        return "mild"
    why = _rf_context_exclusion(norm, cs, ss, s, e, cues)
    if why:
        return why
    if word[0] == "麻" and "a" in cues and _RFB_ANAESTHESIA_RE.search(sentence):
        return "the anaesthetic"
    return ""

# Opt-out: a stop word and a message-like word in one clause (either order), or a clause that
# is nothing but a stop directive ("取消掉吧", "停了吧").  Not when the stop word's object is a
# treatment or an appointment ("取消下周的复查", "不用再换药"), nor when it is asked
# ("要不要再联系", "不需要再来复诊了吧?").
_OPB_STOP_RE: Final = re.compile(_factor("|".join((
    "不需要", "不想要", "不想再", "不想收", "不想接", "不想答", "不想填", "不想参加", "不想被",
    "不要(?<!要不要)(?!紧)", "不用(?<!用不用)", "用不着", "不必", "无需",
    "别(?<![特区分级差告鉴识派性类辨]别)(?!人|的|处|说|客气|急|担心|忘)",
    "甭", "莫", "勿", "取消", "退订", "退掉", "移除", "移出", "删除", "删掉", "删了", "去掉",
    "撤掉", "撤了", "注销", "拉黑", "屏蔽", "停止", "停掉", "停了", "关了", "关掉", "关闭",
    "免了", "算了", "不参加", "不参与", "不填", "不答", "拒绝", "拒收", "不接受", "不再",
    "消停", "烦死", "好烦", "太烦", "很烦", "烦不烦",
    "烦(?<!麻烦)(?<!其烦)(?<!耐烦)(?![躁恼琐请你您劳])",
    "天天问", "天天发", "老是问", "每次都问", r"退(?=$|[,，。!?！？~\s吧啦])",
    "take me off", "no more", "don't want", "do not want", "don't text", "don't message",
    "don't call", "don't email", "don't contact", "do not text", "do not message",
    "do not call", "do not contact", "stop (?:text|messag|call|send|email|contact)",
    "leave me alone", "unsubscribe", "remove me", "opt out", "not interested", "rather not",
    "remove my", "take my", "quit", "免打扰", "do not send", "don't send", "don't bother",
    "do not bother", "stop", "never (?:text|messag|call|contact)",
))))
_OPB_MESSAGE_RE: Final = re.compile(
    r"再管|跟进|跟踪|关心|问候|消息|信息|短信|通知|推送|推了|推给|问卷|调查|回访|随访|电话|来电|(?<!玩)手机|提醒|订阅|服务|名单|"
    r"联络|营销|广告|优惠|推销|"
    r"机器人|满意度|打扰|联系|发(?![" + _BODY_AFTER + r"])|问我|问了|"
    r"再问|找我|烦我|骚扰|打来|打我|收到|接收|评价|打分|这种|这些|这类|此类|任何|list|text|"
    r"message|sms|call|email|these|this|survey|contact|number|send|texting|bother|管我")
_OPB_BARE_RE: Final = re.compile(
    r"(?:请|麻烦|帮我|给我|都|就)*(?:取消|退订|退掉|停了|停掉|停止|关了|关掉|删除|删掉|"
    r"不需要|不想要|不要了|不用了|免了|算了)(?:掉|一下|了|吧|啦|呗|哦|谢谢|关了|关了|停了)*"
    # quitting: "退", "我直接退了算了" (not "烧退了")
    r"|(?:我|那|就|直接|干脆)*退(?:了算了|出|吧|啦)?")
_OPB_OBJECT_RE: Final = re.compile(
    r"预约|复查|复诊|挂号|手术|换药|打针|吃药|药|治疗|检查|来医院|回来|拆线|订单|课|交费|缴费|"
    r"担心|紧张|害怕|客气|着急|麻烦你|谢|吃|喝|碰|沾水|刷牙|运动|抽烟|喝酒|熬夜|辛苦|惦记|挂念|牵挂"
    r"|玩|写作业|看电视|打游戏|给孩子买|买零食"
    r"|记挂|操心|费心")
_OPB_QUESTION_RE: Final = re.compile(
    r"吗|吧[?？]|么[?？]|[?？]|要不要|用不用|需不需要|能不能|可不可以")


_THIRD_PARTY_CALL_RE: Final = re.compile(r"推销|广告|诈骗|中介|快递|贷款|保险")
_OPB_SELF: Final = frozenset(("不想收", "不想接", "退订", "拉黑", "屏蔽", "unsubscribe", "免打扰",
                              "not interested",
                              "take me off", "remove me", "leave me alone", "opt out",
                              "天天问", "天天发", "每次都问", "老是问"))


# Annoyance counts anywhere in the reply when the reply also complains of how often we write:
# "怎么又发，烦死", "发这么多干嘛，烦" (not "每天都疼，烦死了": nothing is sent there).
_FREQ_SEND_RE: Final = re.compile(
    r"(?:又|老|总|一直|天天|每天|成天|整天|一天到晚|三天两头|这么多|那么多|频繁)"
    r"[^,，。!?]{0,3}(?:发(?![" + _BODY_AFTER + r"针])|问"
    r"|打电话|打来|推|短信|消息|信息)"
    r"|发(?:这么|那么)多|[一每]天[^,，。!?]{0,3}[条遍回]|发了?[两三四五六七八九十几好多\d]+[条遍次回]"
    r"|[两三四五六七八九十几好\d]+条")


# A preference about how or when we write, not a refusal: "晚上别打电话", "别发语音，打字就行",
# "上班时间不要打来".  A time or a medium narrows the stop word, or another way is offered.
_PREF_TIME_RE: Final = re.compile(
    r"(?:晚上|白天|早上|上午|中午|下午|夜里|半夜|周末|工作日|上班|上课(?!通知|提醒)|开会|睡觉"
    r"|[\d一二三四五六七八九十]+点)"
    r"[^,，。!?；;\s]{0,4}$")
# ... or right after it: "别太早发", "不要半夜打"
_PREF_WHEN_AFTER_RE: Final = re.compile(
    r"[再]?(?:太早|太晚|那么早|那么晚|这么早|这么晚|大清早|一大早|半夜|晚上|早上|上班时间)")
_PREF_MEDIUM_RE: Final = re.compile(r"[再给我]{0,3}(?:发|打)?(?:语音|视频|长语音)")
# a change of medium: "能不能帮我把回访改成微信，不要打电话"
_PREF_CHANGE_RE: Final = re.compile(
    r"(?:改成|换成|改用|改为|改到|换到|转到)(?:发|打)?(?:微信|短信|邮件|企业微信|文字|打字|电话)")
_PREF_OTHER_RE: Final = re.compile(
    r"加(?:我|一下)?(?:的)?(?:微信|企业微信|qq)|"
    r"(?:打字|发短信|发微信|发消息|发信息|短信|微信|文字|白天|晚上|上午|下午|周末|工作日)"
    r"[^,，。!?；;]{0,4}(?:就行|就可以|就好|都可以|都行|可以|行)(?!吗)")


# An unsubscribe asked not to be done: "别给我退订啊", "我不想取消", "不用帮我退订".
_STOP_ACTIONS: Final = frozenset(("退订", "取消", "拉黑", "屏蔽", "退掉", "取消订阅", "注销"))
_DONT_BEFORE_RE: Final = re.compile(r"(?:别|不要|不想|不用|不必|千万别)(?:给我|帮我|把我)?$")
# Negated intent: "我没说要退订啊", "我不是不想回访，是信号不好", "并不是要取消提醒".  A wrong
# opt-out silences a patient, so a stop word right after "I did not say / it is not that" is
# no stop.  The gap admits only words that keep the negation on the intent (要, 想, 说...);
# "这不是骚扰吗" is rhetorical and stays an opt-out.
_OPT_NEG_INTENT_RE: Final = re.compile(
    r"(?:没说|没有说|没讲|(?<![这那岂])不是说|并不是|(?<![这那岂要])不是|没有要|没要|并没有?"
    r"|谁说|哪有说|哪里说)"
    r"(?:过|我|们|你们|要|想|真的|是|说|就)*$")


# Before a question word, what makes it no question: "没多久就…" (soon after), "也没跟我说为什么"
# (reported), "你问我满不满意" (quoted).
_NOT_ASKED_BEFORE_RE: Final = re.compile(
    r"(?:没(?:跟我|和我|给我)?(?:说|讲|告诉我?|解释)|问我?|说不上|说不好|教(?:我们|我|他|她)?)$")
# after it: "满不满意无所谓"
_NOT_ASKED_AFTER_RE: Final = re.compile(r"[\u4e00-\u9fff]{0,2}(?:无所谓|都行|都可以|都一样|不重要)")


def _not_asked(norm: str, s: int, e: int, text: str) -> bool:
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
    cs = _clause_start(norm, q)
    if _SCORN_Q_RE.search(norm, cs, q) is not None:
        return False
    return not (qm.group() == "呢" and _PROGRESSIVE_RE.search(norm, cs, q) is not None)


def _negated_intent(norm: str, s: int, word: str = "") -> bool:
    """The stop word at ``s`` follows a denial of the intent: "我没说要退订", "不退订"."""
    if norm[s - 1] == "不" and not norm.startswith("要不", s - 2):
        return True  # "不退订，继续发吧", "流个不停" (but "要不退订算了": let's)
    if word in _STOP_ACTIONS and _DONT_BEFORE_RE.search(norm, max(0, s - 6), s) is not None:
        return True  # "别给我退订啊", "我不要退订"
    return _OPT_NEG_INTENT_RE.search(norm, max(0, s - 9), s) is not None


def _preference(norm: str, cs: int, s: int, e: int) -> bool:
    """The stop word at ``norm[s:e]`` (clause from ``cs``) narrows how or when we write."""
    return (_PREF_TIME_RE.search(norm, cs, s) is not None
            or _PREF_WHEN_AFTER_RE.match(norm, e) is not None
            or _PREF_MEDIUM_RE.match(norm, e) is not None
            or _PREF_OTHER_RE.search(norm) is not None
            or _PREF_CHANGE_RE.search(norm) is not None)


def _farewell(norm: str) -> tuple[int, int] | None:
    """Span of the second of two different farewell cues, or None.

    Each cue alone is ordinary ("不麻烦大家了", "东西都整理好了"); two together read as a
    goodbye, which a person must see: "谢谢大家一直以来的照顾，我的东西都整理好了".
    """
    found: dict[str, tuple[int, int]] = {}
    for m in islice(_FAREWELL_RE.finditer(norm), _MAX_HITS):
        found.setdefault(m.lastgroup or "", m.span())
        if len(found) >= 2:
            return m.span()
    return None


def _quit_and_pestered(norm: str) -> tuple[int, int] | None:
    """Span of a quit or refund done when the reply also complains of our messages."""
    qm = _QUIT_DONE_RE.search(norm)
    if qm is None:
        return None
    fm = _FREQ_SEND_RE.search(norm)
    if fm is None or _BODY_STAFF_RE.search(
            norm, _clause_start(norm, fm.start()), fm.start()) is not None:
        return None
    qe = _SEP_RE.search(norm, qm.end())
    if _OPB_QUESTION_RE.search(norm, _clause_start(norm, qm.start()),
                               qe.start() if qe else len(norm)) is not None:
        return None  # "退费了吗": asked, not done
    return qm.span()


def _clause_start(norm: str, pos: int) -> int:
    """Index where the clause holding ``pos`` starts."""
    cm = _last(_CLAUSE_TAIL_RE, norm, pos)
    return cm.start() + 1 if cm else 0


def _opb_hit(norm: str) -> tuple[int, int] | None:
    """Span of a broad opt-out in ``norm``, or None."""
    for m in islice(_OPB_STOP_RE.finditer(norm), _MAX_HITS):
        s, e = m.span()
        if "烦" in m.group():
            fm = _FREQ_SEND_RE.search(norm)
            if fm is not None and _BODY_STAFF_RE.search(
                    norm, _clause_start(norm, fm.start()), fm.start()) is None:
                return s, e  # (not "护士又问了一遍，烦": a staff member asked)
        if _OPT_OBJECT_AFTER_RE.match(norm, e) is not None:
            continue  # "不用再问医生了吧": someone else is asked, not us
        if s and _negated_intent(norm, s, m.group()):
            continue  # "我没说要退订": the intent is denied
        cm = _last(_CLAUSE_TAIL_RE, norm, s)
        cs = cm.start() + 1 if cm else 0
        cem = _SEP_RE.search(norm, e)
        ce = cem.start() if cem else len(norm)
        clause = norm[cs:ce]
        if m.group() in ("拉黑", "屏蔽") and _THIRD_PARTY_CALL_RE.search(norm, cs, s):
            continue  # "把那个推销电话拉黑了": someone else's calls
        if _OPB_BARE_RE.fullmatch(clause.strip(" ~")) or m.group() in _OPB_SELF:
            return s, e
        if m.group() == "退":
            continue  # only a bare "退" quits: "烧退了" does not
        if _preference(norm, cs, s, e):
            continue
        # English words are longer: "don't want to be contacted", "rather not get any more"
        reach = 28 if norm[s].isascii() else 10
        after = norm[e:min(ce, e + reach)]
        near = norm[max(cs, s - 12):min(ce, e + reach)]
        if _OPB_MESSAGE_RE.search(near) is None:
            continue
        om = _OPB_OBJECT_RE.search(after)
        mm = _OPB_MESSAGE_RE.search(after)
        if om is not None and (mm is None or om.start() < mm.start()) and \
                not (mm is not None and mm.start() - om.end() <= 1):
            # "取消下周的复查", "不用再换药": a treatment, not a message (but "不需要复查提醒":
            # the treatment names the message)
            continue
        if _OPB_QUESTION_RE.search(clause) and not _OPB_MESSAGE_RE.search(after[:4]):
            continue  # "我不需要再来复诊了吧?": asked, not refused
        return s, e
    return None


# Unsure opt-out (recall first, confirmed by the engine before anything stops): people say "stop
# contacting me" indirectly in endless ways ("一直发一直发，求放过", "还发什么钢琴课回访",
# "以后有事我自己会联系你们").  A reply that mentions our messages, calls or follow-up (or
# addresses us) together with any stop, annoyance or refusal cue, which the precise rules left
# undecided, is an opt-out that the engine asks about once.  Not when the cue is about a
# treatment, the body or someone else ("别担心", "不用打针", "不要再发烧"), a denied intent, or
# a preference of time or medium ("白天打就行", "能不能把回访改成微信，不要打电话").
# Every alternative starts with a literal character (look-behinds after it, no [不别] or \b
# first) so that re skips to the possible first characters instead of trying each position.
_UNSURE_STOP_RE: Final = re.compile(
    r"别(?<![特区分级差告鉴识派性类辨]别)(?!人|的|处|说|客气|急|担心|忘|家|院|提|扭|看|太|动)"
    r"|不要(?<![要用说]不要)(?!紧|钱|脸)|不用(?<![用说]不用)(?!谢|客气|担心|排|等|花|交|付)|甭"
    r"|莫(?<!阿莫)(?!名|西|非)|勿|停(?!车|药|留|电|水)|够了"
    r"|烦(?<!麻烦)(?<!其烦)(?<!耐烦)|消停|有完没完|没完没了|还发|还打|还在发|骚扰|拉黑|不麻烦|放过"
    r"|轰炸|太频繁|受不了|不参与|不参加|算了|少发|少打|饶了|不需要|无需|用不着|不想再|不想收"
    r"|不想接|不想回|不再|别再|群[^,，。!?]{0,2}退|有事[我再]?(?:自己)?会?(?:联系|找|打给)(?!我)"
    r"|no more\b(?<!\wno more)|stop\b(?<!\wstop)|enough\b(?<!\wenough)")
_UNSURE_MSG_RE: Final = re.compile(
    r"短信|消息|信息|电话|来电|回访|随访|推送|通知|问卷|调查|满意度|群|提醒|打扰|联系|(?<!玩)手机"
    r"|发(?![" + _BODY_AFTER + r"])|打(?:来|给|过来|我)|找我|你们|您们"
    r"|\b(?:msgs?|texts?|calls?|messages?|sms|survey|you)\b")
# what follows a cue that makes it about something other than our messages
_UNSURE_OTHER_AFTER_RE: Final = re.compile(
    r"[再也都了]{0,2}(?:[低高" + _BODY_AFTER + r"针]|点滴|吊瓶|疫苗"
    r"|石膏|吃|喝|碰|沾|刷|运动|抽烟|喝酒|熬夜|着急|紧张|害怕|哭|疼|痛|来医院|来复查|复查"
    r"|复诊|换药|拆线|手术|治疗|检查|挂号|排队|付|交钱|担心|怕|惦记|挂念|牵挂|记挂|操心|费心|玩"
    r"|给孩子|买)")
# a preference of time or medium, not a refusal ("白天打就行", "微信联系我")
_UNSURE_PREF_RE: Final = re.compile(
    r"(?:微信|短信|文字|打字)(?:联系|沟通|说|发|通知)"
    r"|(?:白天|晚上|上午|下午|周末|工作日|[\d一二三四五六七八九十]+点)[^,，。!?]{0,3}(?:打|发|联系)")


def _unsure_opt_out(norm: str) -> tuple[int, int] | None:
    """Span of the stop cue of an unsure opt-out (see ``_UNSURE_STOP_RE``), or None."""
    if _UNSURE_MSG_RE.search(norm) is None or _UNSURE_PREF_RE.search(norm) is not None:
        return None
    for m in islice(_UNSURE_STOP_RE.finditer(norm), _MAX_HITS):
        s, e = m.span()
        if _UNSURE_OTHER_AFTER_RE.match(norm, e) is not None or \
                _OPT_OBJECT_AFTER_RE.match(norm, e) is not None:
            continue
        cs = _clause_start(norm, s)
        if m.group() == "拉黑" and _THIRD_PARTY_CALL_RE.search(norm, cs, s) is not None:
            continue
        if s and _negated_intent(norm, s, m.group()):
            continue
        if _preference(norm, cs, s, e):
            continue
        return s, e
    return None


_BLOCKING_RULES: Final = frozenset({"complaint", "red_flag", "red_flag_denied"})
_SPAN: Final = attrgetter("span")
_RULE: Final = attrgetter("rule")
# A frozen dataclass's generated __init__ sets each of the 18 fields through
# object.__setattr__, which is a tenth of the cost of a whole parse.  Setting the slots
# through their descriptors gives the same immutable object about twice as fast.
_INTERPRETATION_SETTERS: Final = tuple(
    getattr(Interpretation, f.name).__set__ for f in fields(Interpretation))
_INTERPRETATION_FIELDS: Final = (
    "score", "opt_out", "complaint", "dispute", "red_flag", "question", "confidence",
    "needs_confirmation", "candidate", "out_of_range", "wrong_number", "deceased",
    "opt_out_unsure",
    "affirmative", "negative", "comment", "evidence", "normalized")
assert tuple(f.name for f in fields(Interpretation)) == _INTERPRETATION_FIELDS


# Compiled by mypyc (surveys/native.py), the dataclasses are native classes that refuse
# object.__new__, and their generated __init__ stays interpreted (ten times dearer than a
# native one); compiled code instead writes the native fields directly, which bypasses the
# frozen __setattr__ exactly as the setters below do.
_COMPILED: Final = not __file__.endswith(".py")


def _new_interpretation(
        score: int | None,
        opt_out: bool,
        complaint: bool,
        dispute: bool,
        red_flag: bool,
        question: bool,
        confidence: float,
        needs_confirmation: bool,
        candidate: int | None,
        out_of_range: int | None,
        wrong_number: bool,
        deceased: bool,
        opt_out_unsure: bool,
        affirmative: bool,
        negative: bool,
        comment: str,
        evidence: tuple[Evidence, ...],
        normalized: str) -> Interpretation:
    """``Interpretation(...)`` without its per-field ``object.__setattr__`` calls."""
    if _COMPILED:
        obj = Interpretation.__new__(Interpretation)
        obj.score = score  # type: ignore[misc]
        obj.opt_out = opt_out  # type: ignore[misc]
        obj.complaint = complaint  # type: ignore[misc]
        obj.dispute = dispute  # type: ignore[misc]
        obj.red_flag = red_flag  # type: ignore[misc]
        obj.question = question  # type: ignore[misc]
        obj.confidence = confidence  # type: ignore[misc]
        obj.needs_confirmation = needs_confirmation  # type: ignore[misc]
        obj.candidate = candidate  # type: ignore[misc]
        obj.out_of_range = out_of_range  # type: ignore[misc]
        obj.wrong_number = wrong_number  # type: ignore[misc]
        obj.deceased = deceased  # type: ignore[misc]
        obj.opt_out_unsure = opt_out_unsure  # type: ignore[misc]
        obj.affirmative = affirmative  # type: ignore[misc]
        obj.negative = negative  # type: ignore[misc]
        obj.comment = comment  # type: ignore[misc]
        obj.evidence = evidence  # type: ignore[misc]
        obj.normalized = normalized  # type: ignore[misc]
        return obj
    obj = object.__new__(Interpretation)
    (s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14,
     s15, s16, s17) = _INTERPRETATION_SETTERS
    # unrolled: a zip loop over 18 fields costs a measurable share of a whole parse
    s0(obj, score)
    s1(obj, opt_out)
    s2(obj, complaint)
    s3(obj, dispute)
    s4(obj, red_flag)
    s5(obj, question)
    s6(obj, confidence)
    s7(obj, needs_confirmation)
    s8(obj, candidate)
    s9(obj, out_of_range)
    s10(obj, wrong_number)
    s11(obj, deceased)
    s12(obj, opt_out_unsure)
    s13(obj, affirmative)
    s14(obj, negative)
    s15(obj, comment)
    s16(obj, evidence)
    s17(obj, normalized)
    return obj


_EVIDENCE_SETTERS: Final = tuple(getattr(Evidence, f.name).__set__ for f in fields(Evidence))
assert tuple(f.name for f in fields(Evidence)) == ("rule", "span", "text", "value", "note")


def _ev(rule: str, span: tuple[int, int], text: str, value: int | None = None,
        note: str = "") -> Evidence:
    """``Evidence(...)`` built through the slot descriptors (see _new_interpretation)."""
    if _COMPILED:
        ev = Evidence.__new__(Evidence)
        ev.rule = rule  # type: ignore[misc]
        ev.span = span  # type: ignore[misc]
        ev.text = text  # type: ignore[misc]
        ev.value = value  # type: ignore[misc]
        ev.note = note  # type: ignore[misc]
        return ev
    obj: Evidence = object.__new__(Evidence)
    s_rule, s_span, s_text, s_value, s_note = _EVIDENCE_SETTERS
    s_rule(obj, rule)
    s_span(obj, span)
    s_text(obj, text)
    s_value(obj, value)
    s_note(obj, note)
    return obj


_Trie = dict[str, "_Trie"]
_V = TypeVar("_V")


class _Scan(Generic[_V]):
    """Leftmost-longest, non-overlapping scan over literal words (Rust ``aho-corasick``).

    One pass in Rust finds the words as the trie regexes it replaced did, at a fraction of
    their cost (the lexicon scan was the dearest single step of a parse).  The library picks
    the implementation: forcing its DFA is faster for a scan alone but slower over a whole
    parse (bigger tables, fewer cache hits for the rest).
    """

    __slots__ = ("_rs", "values")

    def __init__(self, words: dict[str, _V]) -> None:
        self.values: tuple[_V, ...] = tuple(words.values())
        self._rs = ahocorasick_rs.AhoCorasick(
            list(words), matchkind=ahocorasick_rs.MatchKind.LeftmostLongest) if words else None

    def scan(self, norm: str) -> list[tuple[int, int, int]]:
        """(word index into ``values``, start, end) of the first ``_MAX_HITS`` words."""
        if self._rs is None:
            return []
        return self._rs.find_matches_as_indexes(norm)[:_MAX_HITS]


def _literal_starts(rx: re.Pattern[str]) -> frozenset[str] | None:
    """Literal strings one of which every match of ``rx`` starts with, or None if unknown.

    Read off ``rx``'s parse: the literal characters up to the first class, repeat or
    assertion, and across the groups of a factored alternation.  None when some match may
    start with no literal at all (the caller must then always search).
    """
    if sre_parse is None or rx.flags & re.IGNORECASE:  # pragma: no cover
        return None
    parsed = sre_parse.parse(rx.pattern)
    if parsed.state.flags & re.IGNORECASE:
        return None

    def starts(items: Iterable[tuple[Any, Any]]) -> set[str]:
        acc = ""
        for op, av in items:
            if op is sre_parse.LITERAL:
                acc += chr(av)
                continue
            if op is sre_parse.SUBPATTERN and not av[1] and not av[2]:
                sub = starts(av[3])
            elif op is sre_parse.BRANCH:
                sub = set().union(*(starts(b) for b in av[1]))
            else:
                return {acc}
            if "" in sub or len(sub) > 4096:
                return {acc}
            return {acc + x for x in sub}
        return {acc}

    out = starts(parsed)
    if "" in out:
        return None
    # a start containing a shorter start finds nothing more
    return frozenset(x for x in out if not any(y != x and y in x for y in out))


class _Gates:
    """Which of several regexes could match a text, from one Aho-Corasick pass.

    A regex whose every match starts with one of a few literals (:func:`_literal_starts`)
    cannot match a text holding none of them, so its search is skipped: most replies hold
    the first characters of few rules.  ``bits(norm)`` sets bit ``i`` for regex ``i`` when
    it must be searched.
    """

    __slots__ = ("_always", "_masks", "_rs")

    def __init__(self, rxs: Iterable[re.Pattern[str]]) -> None:
        masks: dict[str, int] = {}
        self._always = 0
        for i, rx in enumerate(rxs):
            found = _literal_starts(rx)
            if found is None:
                self._always |= 1 << i
                continue
            for x in found:
                masks[x] = masks.get(x, 0) | 1 << i
        self._masks = tuple(masks.values())
        # overlapping: a start hidden inside another one's match must still count
        self._rs = ahocorasick_rs.AhoCorasick(list(masks)) if masks else None

    def bits(self, norm: str) -> int:
        """Bit ``i`` set when regex ``i`` may match ``norm``."""
        out = self._always
        if self._rs is not None:
            masks = self._masks
            for i, _, _ in self._rs.find_matches_as_indexes(norm, overlapping=True):
                out |= masks[i]
        return out


def _trie_regex(words: Iterable[str]) -> str:
    """A regex matching any of ``words``, leftmost-longest, factored as a trie.

    Python's ``re`` tries alternatives one by one; a trie keeps one branch per first
    character, which is several times faster for a few hundred words.
    """
    trie: _Trie = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: _Trie) -> str:
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if "" in node:
            return ("(?:" + body + ")?") if len(alts) == 1 else body + "?"
        return body

    return build(trie) or "(?!)"


def _pattern_regex(entry: str) -> str:
    """Regex for one lexicon entry in the ``A*B`` syntax."""
    return r"[^,，。.!?！？；;\s]{0,4}".join(re.escape(p) for p in entry.split("*"))


class _Cand:
    """A score candidate collected while scanning (internal, mutable for speed)."""

    # (a plain class: compiled, a dataclass keeps an interpreted __init__ ten times dearer)
    __slots__ = ("conf", "explicit", "tier", "value")

    def __init__(self, value: int, conf: float, tier: int, explicit: bool) -> None:
        self.value = value
        self.conf = conf
        self.tier = tier  # 1 number, 2 Likert word, 3 word about one aspect, 4 emoji
        self.explicit = explicit


class ReplyParser:
    """Parses replies with a fixed lexicon; build once, call :meth:`parse` many times."""

    __slots__ = ("_anchored", "_body_re", "_canned", "_change_ac", "_dispute", "_gates",
                 "_lex_ac",
                 "_lex_kind", "_likert", "_likert_ac", "_pat_by_head", "_pat_gate_re",
                 "_pat_head_re", "_recall")

    def __init__(self, lexicon: Lexicon | None = None,
                 recall: Model | bool | None = True) -> None:
        """``recall``: the learned model (True: the shipped one; False/None: the rules alone;
        or a :class:`surveys.understanding.model.Model`, e.g. an organisation's retrained
        one; see surveys/understanding/decide.py for how it settles each label)."""
        self._recall: Model | None = Model.load() if recall is True else recall or None
        lex = lexicon or Lexicon.default()
        self._dispute = DisputeRules(lex.dispute)
        # literal entries -> one trie regex; "A*B" entries -> one regex with a group each;
        # "^x$" entries -> a set compared with the whole reply.
        self._lex_kind: dict[str, list[tuple[str, bool]]] = {}
        self._anchored: dict[str, list[tuple[str, bool]]] = {}
        patterns: list[tuple[str, re.Pattern[str], str, bool]] = []
        for kind in ("opt_out", "deceased", "wrong_number", "red_flag", "complaint", "question"):
            for raw in getattr(lex, kind):
                mild = kind == "complaint" and raw.startswith("~")
                entry = normalize(raw[1:] if mild else raw)
                if not entry:
                    continue
                if entry.startswith("^") and entry.endswith("$") and len(entry) > 2:
                    key = _NONWORD_RE.sub("", entry[1:-1])
                    self._anchored.setdefault(key, []).append((kind, mild))
                elif "*" in entry.strip("*"):
                    entry = entry.strip("*")
                    patterns.append((entry.split("*", 1)[0], re.compile(_pattern_regex(entry)),
                                     kind, mild))
                else:
                    entry = entry.strip("*")
                    self._lex_kind.setdefault(entry, []).append((kind, mild))
        # literal entries: one Aho-Corasick pass (see _Scan)
        self._lex_ac = _Scan({w: (w, tuple(k)) for w, k in self._lex_kind.items()})
        # "A*B" patterns: a trie over their first literal parts finds the few places worth
        # trying; one alternation of all patterns would be tried at every position (slow).
        heads = {h for h, _, _, _ in patterns}
        # a lookahead, so that heads may overlap: "我不是*病人" must not hide "不是*的家长"
        self._pat_head_re = re.compile("(?=(" + _trie_regex(heads) + "))")
        # One search over every pattern first: most replies match none, and one failed search
        # is far cheaper than visiting each head ("不", "医生", "人" ...) in Python.
        gate = "|".join(rx.pattern for _, rx, _, _ in patterns) or "(?!)"
        with contextlib.suppress(ValueError):  # an entry starting with a metacharacter:
            gate = _factor(gate)                # keep it unfactored
        self._pat_gate_re = re.compile(gate)
        # the searches _rules makes on every reply: bit i of _gates.bits() is the i-th here
        self._gates = _Gates((self._pat_gate_re, *_RF_PARTS, _OPT_COMPOSED_RE, _Q_COMPOSED_RE,
                              *_CMP_PARTS, _RFB_RE, _OPB_STOP_RE, _UNSURE_STOP_RE,
                              _FAREWELL_GATE_RE))
        self._pat_by_head: dict[str, list[tuple[re.Pattern[str], str, bool]]] = {
            h: [(rx, k, mild) for ph, rx, k, mild in patterns if h.startswith(ph)]
            for h in heads
        }
        # composed red flags: a change word found first, then a body word just before it
        self._change_ac = _Scan(
            {w: w for w in (normalize(x) for x in lex.red_flag_change) if w})
        self._body_re = re.compile(_trie_regex(
            w for w in (normalize(x) for x in lex.red_flag_body) if w))

        self._likert: dict[str, tuple[int, float, int]] = {}
        for value, conf, flags, words in _LIKERT_TABLE:
            for w in words.split():
                self._likert[w.replace("_", " ")] = (value, conf, flags)
        for value, extra in _extra_ratings().items():
            for w in extra:
                self._likert.setdefault(w, (value, 0.85, 0))
        self._likert_ac = _Scan({w: (w, *v) for w, v in self._likert.items()})
        # Fast path: the replies people send most often, parsed once by the full path.
        self._canned: dict[str, Interpretation] = {}
        common = [str(i) for i in range(1, 6)] + [f"{i}分" for i in range(1, 6)]
        common += [f"{c}分" for c in "一二两三四五"] + list("一二三四五")
        common += [
            "满意", "非常满意", "很满意", "比较满意", "挺满意的", "挺满意", "一般", "还行",
            "还可以", "不满意", "不太满意", "非常不满意", "很差", "很好", "挺好的", "不错", "好",
            "好的", "是", "是的", "嗯", "嗯嗯", "对", "对的", "不是", "谢谢", "收到", "td",
            "退订", "👍", "[强]", "⭐⭐⭐⭐⭐", "满分", "五星好评", "5星", "五星", "谢谢医生",
            "满意。", "5。", "非常满意。", "ok", "好的谢谢", "满意谢谢", "非常满意谢谢",
        ]
        for text in common:
            interp = self._parse(text, text)
            self._canned[interp.normalized] = interp

    def parse(self, text: str) -> Interpretation:
        """Interpret one reply.  Never raises for any ``str`` input."""
        hit = self._canned.get(text)
        if hit is not None:
            return hit
        norm = normalize(text)
        hit = self._canned.get(norm)
        # full-width digits take the full path so their evidence says "fullwidth_digit"
        if hit is not None and (text.isascii() or _FULLWIDTH_RE.search(text) is None):
            return hit
        return self._parse(text, norm)

    # -- the full path ---------------------------------------------------------------------

    def _parse(self, raw: str, norm: str) -> Interpretation:
        """The rules, then the learned model settles each label (surveys.understanding)."""
        interp = self._rules(raw, norm)
        model = self._recall
        if model is None:
            return interp
        d = combine(interp, model, interp.normalized, features_of(interp))
        if not d.changed:
            return interp
        ev = list(interp.evidence)
        span = (0, len(interp.normalized))
        for label in d.changed:
            if label == "score":
                p = d.p_score.get(d.score if d.score is not None else d.candidate, 0.0)
                shown = d.score if d.score is not None else d.candidate
                ev.append(_ev("model", span, label, shown,
                              f"score {'unsure, confirm' if d.needs_confirmation else 'is'} "
                              f"{shown}: p {p:.2f}"))
            else:
                now = getattr(d, label)
                ev.append(_ev("model", span, label, None,
                              f"{label} {'set' if now else 'cleared'}: p {d.p_flags[label]:.2f}"
                              + ("; confirm before stopping" if label == "opt_out" and now
                                 else "")))
        return replace(interp, score=d.score, needs_confirmation=d.needs_confirmation,
                       candidate=d.candidate,
                       confidence=interp.confidence if "score" not in d.changed else 0.5,
                       opt_out=d.opt_out or interp.deceased or interp.wrong_number,
                       opt_out_unsure=d.opt_out_unsure, complaint=d.complaint,
                       dispute=d.dispute, red_flag=d.red_flag, question=d.question,
                       evidence=tuple(ev))

    def explain(self, text: str) -> str:
        """:meth:`Interpretation.explain` of ``text`` with the model's view of every label."""
        interp = self.parse(text)
        lines = [interp.explain()]
        model = self._recall
        if model is None:
            lines.append("model: off (the rules alone)")
            return "\n".join(lines)
        rules = self._rules(text, normalize(text))
        feats = features_of(rules)
        d = combine(rules, model, rules.normalized, feats)
        t = model.thresholds
        lines.append("model (probabilities; threshold; what weighs most):")
        for label in ("opt_out", "complaint", "dispute", "red_flag", "question"):
            top = ", ".join(f"{g!r} {w:+.1f}" for g, w in
                            model.contributions(rules.normalized, feats, label, 4))
            lines.append(f"  {label:<9} p {d.p_flags[label]:.2f} (>= {t.get(label, 0.5):.2f}; "
                         f"rules: {'yes' if getattr(rules, label) else 'no'})  {top}")
        best = max(d.p_score, key=d.p_score.__getitem__)
        lines.append(f"  score     {best if best is not None else 'none'} p "
                     f"{d.p_score[best]:.2f} (>= {t.get('score', 0.5):.2f}; kept from the rules "
                     "when they read an explicit number)")
        return "\n".join(lines)

    def _rules(self, raw: str, norm: str) -> Interpretation:
        ev: list[Evidence] = []
        cands: list[_Cand] = []
        ambiguous: list[int] = []        # candidates of unsure forms ("4.5", "3-4")
        out_of_range: int | None = None
        core = _word_chars(norm)
        core_stripped = core.rstrip(_PARTICLES) or core
        n = len(norm)
        may = self._gates.bits(norm)  # which of the usual searches can match at all

        # 1. numbers, stars, thumbs, emoji codes
        fullwidth: bool | None = None  # looked up on the first number: most replies have none
        consumed = 0  # end of the last range ("3-4"): its second number is not a new token
        gate = _TOKEN_GATE_RE.search(norm)
        for m in islice(_tokens(norm, gate), _MAX_HITS) if gate is not None else ():
            kind = m.lastgroup
            s, e = m.span()
            tok = m.group()
            if s < consumed:
                continue
            if kind == "num":
                if fullwidth is None:
                    fullwidth = not raw.isascii() and _FULLWIDTH_RE.search(raw) is not None
                oor, consumed = self._number(norm, core_stripped, s, e, tok, fullwidth, ev,
                                             cands, ambiguous)
                if oor is not None and out_of_range is None:
                    out_of_range = oor
            elif kind == "cn":
                pair = _CN_PAIR_RE.fullmatch(tok) or _CN_RANGE_BACK_RE.search(
                    norm, max(0, s - 3), e)
                if pair is not None:
                    # "三四分", "三到四分": two adjacent scores -> confirm the lower
                    low = min(_CN_DIGITS[pair.group(1)], _CN_DIGITS[pair.group(2)])
                    ps, pe = self._frame(norm, pair.start(), e)
                    ambiguous.append(low)
                    ev.append(_ev("ambiguous", (ps, pe), norm[ps:pe], low,
                                       "two scores; confirm the lower"))
                    continue
                value = _cn_value(tok)
                if s and _DEDUCT_RE.search(norm, max(0, s - 4), s) is not None:
                    # "扣一分", "扣的那一分给停车场", "少一分是因为停车"
                    ev.append(_ev("not_a_score:deduct", (s, e), tok))
                    continue
                if value is not None and 1 <= value < 5 and norm.startswith(("分半", "星半"), e):
                    ambiguous.append(value)  # "四分半": confirm the lower
                    ev.append(_ev("ambiguous", (s, e + 2), norm[s:e + 2], value,
                                  "half score; confirm the lower"))
                    continue
                # "十分满意", "万分感谢": 十分 is an adverb when a word follows it.
                after = norm[e:e + 3]
                if value is None or (value >= 10 and _ADVERB_AFTER_FEN_RE.match(after) and
                                     after[1:2] not in _PARTICLES and
                                     not after[1:].startswith(("好评", "满分"))):
                    continue
                fs, fe = self._frame(norm, s, e)
                if 1 <= value <= 5:
                    cands.append(_Cand(value, 0.96, 1, True))
                    ev.append(_ev("chinese_numeral", (fs, fe), norm[fs:fe], value))
                    # star emoji right after the count ("五⭐", "五颗星⭐") decorate it
                    um = _STAR_AFTER_COUNT_RE.match(norm, e)
                    if um is not None:
                        consumed = um.end()
                else:
                    out_of_range = value if out_of_range is None else out_of_range
                    ev.append(_ev("out_of_range", (fs, fe), norm[fs:fe], None,
                                       f"{value} is outside 1-5"))
            elif kind == "star":
                if not tok.strip("✨"):
                    continue  # sparkles decorate ("皮肤嫩嫩的✨"); they rate nothing
                count = min(5, len(tok))
                cands.append(_Cand(count, 0.9, 1, True))
                ev.append(_ev("star_emoji", (s, e), tok, count, f"{len(tok)} stars"))
            elif kind == "up":
                cands.append(_Cand(5, 0.75, 4, False))
                ev.append(_ev("thumbs", (s, e), tok, 5, "thumbs up"))
            elif kind == "down":
                cands.append(_Cand(1, 0.75, 4, False))
                ev.append(_ev("thumbs", (s, e), tok, 1, "thumbs down"))
            else:
                rule, wvalue = _WECHAT.get(tok, ("emoji", None))
                if wvalue is not None:
                    cands.append(_Cand(wvalue, 0.75, 4, False))
                ev.append(_ev(rule, (s, e), tok, wvalue))

        # a lone Chinese numeral or its financial form: "五", "伍"
        if not cands and core_stripped and len(core_stripped) <= 3 and \
                core_stripped.count(core_stripped[0]) == len(core_stripped) and \
                core_stripped[0] in _CN_NUMERAL_STANDALONE:
            # "五" or the same numeral typed again ("五五五")
            numeral = core_stripped[0]
            value = _CN_NUMERAL_STANDALONE[numeral]
            i = norm.find(numeral)
            cands.append(_Cand(value, 0.93, 1, True))
            ev.append(_ev("chinese_numeral", (i, i + 1), numeral, value))
        elif not cands and core_stripped in _EN_NUMBERS:
            value = _EN_NUMBERS[core_stripped]
            i = norm.find(core_stripped)
            cands.append(_Cand(value, 0.93, 1, True))
            ev.append(_ev("digit", (i, i + len(core_stripped)), core_stripped, value,
                               "number word"))

        # 2. lexicon flags
        flags_hit: dict[str, bool] = {}
        mild_complaint = False
        lex_hits: list[tuple[str, bool, int, int]] = []
        lex_values = self._lex_ac.values
        for i, s, e in self._lex_ac.scan(norm):
            word, kinds = lex_values[i]
            # ASCII entries ("stop", "12345") must not match inside longer words or numbers
            if word.isascii() and ((s > 0 and norm[s - 1].isalnum() and word[0].isalnum()) or
                                   (e < n and norm[e].isalnum() and word[-1].isalnum())):
                continue
            for kind, mild in kinds:
                lex_hits.append((kind, mild, s, e))
        for hm in (_scan(self._pat_head_re, norm) if may & 1 and
                   self._pat_gate_re.search(norm) is not None else ()):
            hs = hm.start()
            for rx, kind, mild in self._pat_by_head[hm.group(1)]:
                pm = rx.match(norm, hs)
                if pm is not None:
                    lex_hits.append((kind, mild, hs, pm.end()))
        # (searched inline: most replies match none of these, and a call costs as much)
        # (the parts first: see _parts)
        if (may & 2 and _RF_PART_A.search(norm) is not None) or \
                (may & 4 and _RF_PART_B.search(norm) is not None) or \
                (may & 8 and _RF_PART_C.search(norm) is not None):
            for tm in _finditer_parts(_RF_PARTS, norm):
                lex_hits.append(("red_flag", False, tm.start(), tm.end()))
        first = _OPT_COMPOSED_RE.search(norm) if may & 16 else None
        if first is not None:
            for tm in islice(_OPT_COMPOSED_RE.finditer(norm, first.start()), _MAX_HITS):
                lex_hits.append(("opt_out", False, tm.start(), tm.end()))
        first = _Q_COMPOSED_RE.search(norm) if may & 32 else None
        if first is not None:
            for tm in islice(_Q_COMPOSED_RE.finditer(norm, first.start()), _MAX_HITS):
                lex_hits.append(("question", False, tm.start(), tm.end()))
        if (may & 64 and _CMP_PART_A.search(norm) is not None) or \
                (may & 128 and _CMP_PART_B.search(norm) is not None):
            for tm in _finditer_parts(_CMP_PARTS, norm):
                lex_hits.append(("complaint", norm[tm.start()] in _CMP_MILD_HEADS,
                                 tm.start(), tm.end()))
        # (substring gates: every death ends in 了 or 走的, every move names another place)
        first = _DEC_COMPOSED_RE.search(norm) if ("了" in norm or "走的" in norm) else None
        if first is not None and not (first.group().endswith("走的")
                                      and _DEC_TRAVEL_RE.search(norm) is not None):
            lex_hits.append(("deceased", False, first.start(), first.end()))
        first = _SWITCH_RE.search(norm) if ("别" in norm or "其他" in norm or "另" in norm or
                                            "换" in norm or "转" in norm) else None
        if first is not None:
            lex_hits.append(("switch", False, first.start(), first.end()))
        if "错" in norm:
            first = _WRONG_NUM_RE.search(norm)
            if first is not None:
                lex_hits.append(("wrong_number", False, first.start(), first.end()))
        if "number" in norm or "wrong" in norm:
            first = _EN_WRONG_RE.search(norm)
            if first is not None:
                lex_hits.append(("wrong_number", False, first.start(), first.end()))
        if raw in _RAW_OPT_OUT or (n <= 3 and raw.strip() in _RAW_OPT_OUT):
            lex_hits.append(("opt_out", False, 0, n))
        if n and "a" <= norm[0] <= "z":
            em = _OPT_EN_RE.match(norm)
            if em is not None:
                lex_hits.append(("opt_out", False, 0, em.end()))
            em = _EN_Q_START_RE.match(norm)
            if em is not None:
                lex_hits.append(("question", False, 0, em.end()))
        if core_stripped in self._anchored or core in self._anchored:
            for kind, mild in self._anchored.get(core_stripped) or self._anchored[core]:
                lex_hits.append((kind, mild, 0, n))
        opt_spans: list[tuple[int, int]] = []
        cues: str | None = None  # context cues, found on the first red-flag mention
        for kind, mild, s, e in lex_hits:
            text = norm[s:e]
            if kind == "red_flag" and "red_flag" not in flags_hit:
                # (once one mention counts, the others need no checking)
                cm = _last(_CLAUSE_TAIL_RE, norm, s)
                clause_start = cm.start() + 1 if cm else 0
                if cues is None:
                    cues = _cues(norm)
                why = "denied" if (
                    _RF_DENY_BEFORE_RE.search(norm, max(clause_start, s - 8), s) is not None
                    or _RF_INNER_DENY_RE.search(text) is not None) else "" if (
                    # a swallowed battery or magnet is urgent however well the child looks
                    _SWALLOWED_RE.search(text) is not None) else (
                    "resolved or improving" if _RF_RESOLVED_AFTER_RE.match(norm, e) is not None
                    and "n" not in cues and _NEG_RESOLUTION_RE.search(
                        norm, e, _sent_end(norm, e)) is None else
                    _rf_precise_exclusion(norm, clause_start, s, e, cues))
                if why:
                    ev.append(_ev("red_flag_denied", (s, e), text, None, why))
                    continue
            elif kind == "complaint":
                if _COMPLAINT_DENY_BEFORE_RE.search(norm, max(0, s - 2), s):
                    continue
                if mild or _SOFTENER_RE.search(text):
                    # "收费有点贵" is as mild as "有点贵": a softener inside the match
                    mild_complaint = True
                    ev.append(_ev("complaint_mild", (s, e), text))
                    continue
            elif kind == "question" and _not_asked(norm, s, e, text):
                continue
            elif kind == "wrong_number" and text == "发错" and \
                    _OWN_SLIP_RE.match(norm, e) is not None:
                continue  # "发错群了不好意思": the sender posted in the wrong place
            elif kind == "wrong_number" and "号" in text and \
                    _OPB_QUESTION_RE.search(norm, _clause_start(norm, s)) is not None:
                continue  # "他的号码不对吗": asked
            elif kind == "wrong_number" and _NEW_CONTACT_RE.search(norm, e) is not None:
                # "换号了，以后请联系 139...": a new number, not a stop
                ev.append(_ev("wrong_number_denied", (s, e), text, None, "a new number given"))
                continue
            elif kind == "wrong_number" and "不是" in text and \
                    _FAMILY_RE.search(norm[:s] + " " + norm[e:]):
                # (only "I am not the patient" is answered by family; "他没在你们那看病"
                # and "号码错了" say we have the wrong contact whoever is writing)
                ev.append(_ev("wrong_number_denied", (s, e), text, None,
                                   "a family member is answering"))
                continue
            elif kind == "switch":
                cm = _last(_CLAUSE_TAIL_RE, norm, s)
                cs = cm.start() + 1 if cm else 0
                cem = _SEP_RE.search(norm, e)
                if _SWITCH_GUARD_RE.search(norm, cs, s) is not None or \
                        _OPB_QUESTION_RE.search(norm, cs, cem.start() if cem else n):
                    continue  # advised, wished or asked: "要不要换医院", "早知道去别家看了"
                kind = "opt_out"
                opt_spans.append((s, e))
                flags_hit[kind] = True
                ev.append(_ev(kind, (s, e), text, None, "went elsewhere"))
                continue
            elif kind == "opt_out":
                if text in ("拉黑", "屏蔽") and _THIRD_PARTY_CALL_RE.search(
                        norm, _clause_start(norm, s), s) is not None:
                    continue  # "把那个推销电话拉黑了": someone else's calls
                if _OPT_OBJECT_AFTER_RE.match(norm, e) is not None:
                    continue  # "不用再问医生了吧": someone else is asked, not us
                if text[0] == "不" and s and norm[s - 1] == text[1:2]:
                    continue  # "要不要再联系", "用不用回访": asking, not refusing
                if text[-1] in "发打" and _OPT_FALSE_AFTER_RE.match(norm, e):
                    continue  # "不要再发烧", "不用再打针": a body or a treatment, not a message
                if _preference(norm, _clause_start(norm, s), s, e):
                    ev.append(_ev("opt_out_denied", (s, e), text, None, "a preference"))
                    continue
                if s and _negated_intent(norm, s, text):
                    ev.append(_ev("opt_out_denied", (s, e), text, None, "intent denied"))
                    continue
                opt_spans.append((s, e))
            flags_hit[kind] = True
            ev.append(_ev(kind, (s, e), text))

        # 2b. recall first for the safety labels (see _RFB_WORDS, _opb_hit)
        if "red_flag" not in flags_hit:
            # change words ("没知觉", "发软") count with a body part before them ("半边脸没知觉");
            # then any symptom word.  (Two scans: one alternation of both loses re's
            # first-character prefilter and costs several times more.)
            rf_hits: list[tuple[int, int, str | None]] = [
                (s, e, "c") for _, s, e in self._change_ac.scan(norm)]
            if may & 256:
                rf_hits += [(m.start(), m.end(), None) for m in _scan(_RFB_RE, norm)]
            if _ASCII_LETTER_RE.search(norm) is not None:  # the English scan has no prefilter
                rf_hits += [(m.start(), m.end(), None) for m in _scan(_RFB_EN_RE, norm)]
            for s, e, group in rf_hits:
                if cues is None:
                    cues = _cues(norm)
                if group is not None:
                    hit = self._body_change(norm, s, e, ev, cues)
                    if hit is not None:
                        flags_hit["red_flag"] = True
                        ev.append(_ev("red_flag", hit, norm[hit[0]:hit[1]], None,
                                      "body part + change"))
                        break
                    continue
                text = norm[s:e]
                why = _rfb_exclusion(norm, s, e, text, cues)
                if why:
                    ev.append(_ev("red_flag_denied", (s, e), text, None, why))
                    continue
                flags_hit["red_flag"] = True
                ev.append(_ev("red_flag", (s, e), text, None, "symptom mention"))
                break
        if "red_flag" not in flags_hit and may & 2048 and \
                _FAREWELL_GATE_RE.search(norm) is not None:
            span = _farewell(norm)
            if span is not None:
                flags_hit["red_flag"] = True
                ev.append(_ev("red_flag", span, norm[span[0]:span[1]], None, "farewell"))
        if "opt_out" not in flags_hit and may & 512 and _OPB_STOP_RE.search(norm) is not None:
            span = _opb_hit(norm)
            if span is not None:
                flags_hit["opt_out"] = True
                opt_spans.append(span)
                ev.append(_ev("opt_out", span, norm[span[0]:span[1]], None, "stop word"))
        if "opt_out" not in flags_hit and ("退" in norm or "不学" in norm or "不上" in norm):
            span = _quit_and_pestered(norm)
            if span is not None:
                flags_hit["opt_out"] = True
                opt_spans.append(span)
                ev.append(_ev("opt_out", span, norm[span[0]:span[1]], None,
                              "quit, and the messages go on"))
        if "opt_out" not in flags_hit and ("td" in norm or "T" in raw):
            # the carriers' stop keyword as a word of its own, anywhere: "5分 TD", "TD，谢谢"
            km = _TD_TOKEN_RE.search(norm)
            tspan = km.span() if km is not None else (
                (0, n) if _T_TOKEN_RE.search(raw) is not None else None)
            if tspan is not None:
                flags_hit["opt_out"] = True
                opt_spans.append(tspan)
                ev.append(_ev("opt_out", tspan, norm[tspan[0]:tspan[1]], None, "stop keyword"))
        if flags_hit.get("opt_out") and _ASKED_STOP_RE.search(norm) is not None:
            # "怎么退订", "回复TD是退订吗": asking how (or what it means) is no stop
            am = _ASKED_STOP_RE.search(norm)
            assert am is not None
            flags_hit["opt_out"] = False
            opt_spans = []
            ev = [x for x in ev if x.rule != "opt_out"]
            ev.append(_ev("opt_out_denied", am.span(), am.group(), None, "asked about"))
        opt_out_unsure = False
        # (an unsure stop beside a red flag is a reading of the emergency: "血一直没停过")
        if "opt_out" not in flags_hit and "red_flag" not in flags_hit and may & 1024 and \
                _UNSURE_STOP_RE.search(norm) is not None and \
                not any(x.rule == "opt_out_denied" for x in ev):
            span = _unsure_opt_out(norm)
            if span is not None:
                flags_hit["opt_out"] = opt_out_unsure = True
                ev.append(_ev("opt_out_unsure", span, norm[span[0]:span[1]], None,
                              "stop cue near our messages; confirm before stopping"))

        # 3. Likert words (after the flags: "态度不好" is a complaint, not a rating of 2)
        blocked: list[tuple[int, int]] | None = None  # computed on the first Likert hit
        health: bool | None = None  # computed on first need: most replies never ask
        likert_values = self._likert_ac.values
        for i, s, e in self._likert_ac.scan(norm):
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
            if blocked is None:
                blocked = [x.span for x in ev if x.rule in _BLOCKING_RULES]
            if blocked and any(bs <= s < be or bs < e <= be for bs, be in blocked):
                continue
            cm = _last(_CLAUSE_TAIL_RE, norm, s)
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
                ev.append(_ev("likert_denied", (s, e), word, None, "double negation"))
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
            elif value >= 4 and n > e - s + 6 and _quoted(norm, s, e):
                value, rule = 1, "likert_sarcasm"  # 真是太'满意'了: praise in scare quotes
            tier = 1 if flags & _NUMERIC else (3 if aspect else 2)
            cands.append(_Cand(value, conf, tier, bool(flags & _NUMERIC)))
            ev.append(_ev(rule, (s, e), word, value,
                               "about one aspect" if tier == 3 else ""))

        question = flags_hit.get("question", False)
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
                ev.append(_ev("question", qm.span(), qm.group(), None,
                                   "question mark/particle"))

        # 4. decide the score
        deceased = flags_hit.get("deceased", False)
        wrong_number = flags_hit.get("wrong_number", False)
        score: int | None = None
        candidate: int | None = None
        confidence = 0.0
        needs_confirmation = False
        if deceased or wrong_number:
            cands = []
            ambiguous = []
            out_of_range = None
        # a score corrected in the same reply: "四分不对五分", "四星半吧 就给4"
        settled = _settled(norm, ev) if (ambiguous or len(cands) > 1) else None
        if settled is not None:
            score = candidate = settled
            confidence = 0.85
            ev.append(_ev("corrected", (0, n), norm, settled, "the last number after a correction"))
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
                    ev.append(_ev("per_item", span, norm[span[0]:span[1]], value, why))
        if needs_confirmation:
            score = None
        elif score is not None:
            candidate = score
            out_of_range = None  # "10分制给5分"
        elif out_of_range is not None:
            top = _top_of_scale(norm, out_of_range)
            if top is not None:
                score = candidate = top
                confidence = 0.8
                ev.append(_ev("scaled", (0, n), norm, top, f"{out_of_range} on a larger scale"))
                out_of_range = None

        # 5. affirmative / negative (whole reply or its first clause)
        if core is norm:  # all word characters, no separator: the whole reply leads
            lead = norm
        else:
            lead_m = _LEAD_RE.search(norm)
            lead = lead_m.group() if lead_m else ""
        affirmative = core_stripped in _AFFIRMATIVE or core in _AFFIRMATIVE or \
            lead in _AFFIRMATIVE
        negative = not affirmative and (core in _NEGATIVE or core_stripped in _NEGATIVE or
                                        lead in _NEGATIVE)
        if (not affirmative and "[ok]" in norm) or "/:ok" in norm or "👌" in norm:
            affirmative = not negative

        complaint = flags_hit.get("complaint", False) or (
            mild_complaint and not (score is not None and score >= 4))
        dispute = False
        hit_d, denied_d = self._dispute.read(norm)
        if hit_d is not None:
            (ds, de), dkind = hit_d
            dispute = complaint = True  # a dispute is always also a complaint
            ev.append(_ev("dispute", (ds, de), norm[ds:de], None, dkind))
        elif denied_d is not None:
            (ds, de), why_d = denied_d
            ev.append(_ev("dispute_denied", (ds, de), norm[ds:de], None, why_d))
        comment = _comment(norm, core, ev)
        if len(ev) > 1:
            ev.sort(key=_SPAN)
        # positional, in the field order of Interpretation (checked at import)
        return _new_interpretation(
            score, flags_hit.get("opt_out", False) or deceased or wrong_number, complaint,
            dispute, flags_hit.get("red_flag", False),
            question, round(confidence, 2), needs_confirmation, candidate, out_of_range,
            wrong_number, deceased, opt_out_unsure and not (deceased or wrong_number),
            affirmative, negative, comment, tuple(ev), norm,
        )

    def _body_change(self, norm: str, s: int, e: int, ev: list[Evidence],
                     cues: str) -> tuple[int, int] | None:
        """Span of a composed red flag ending in the change word ``norm[s:e]``, or None.

        The change counts when a body word ends at most ``_BODY_GAP`` characters before it in
        the same clause, or a sudden-onset cue does; then the broad layer's exclusions apply
        (denied, resolved, hypothetical, mild, during the treatment, the anaesthetic).
        """
        word = norm[s:e]
        english = word.isascii()
        if english and ((s and norm[s - 1].isalpha()) or (e < len(norm) and norm[e].isalpha())):
            return None
        cs, ss, _ = _bounds(norm, s, e)
        gap = _BODY_GAP_EN if english else _BODY_GAP
        # the same clause, or the clause before in the same sentence ("眼睛红得厉害，看不见东西")
        ws = max(ss, s - 2 * gap - 4)
        bs = -1
        for bm in self._body_re.finditer(norm, ws, s):
            if s - bm.end() <= (gap if bm.start() >= cs else 2 * gap) and \
                    _BODY_FALSE_RE.match(norm, max(cs, bm.start() - 1)) is None and \
                    _BODY_FALSE_RE.match(norm, bm.start()) is None:
                bs = bm.start()
                between = norm[bm.end():s]
                break
        if bs < 0:
            sm = _SUDDEN_RE.search(norm, cs, s)
            if sm is None:
                return None
            bs, between = sm.start(), norm[sm.end():s]
        if _BODY_DENY_RE.search(between) is not None:
            ev.append(_ev("red_flag_denied", (bs, e), norm[bs:e], None, "denied"))
            return None
        # "牙还是歪的", "做完激光还是看不清": unchanged, not a change (but numbness that is
        # "还是木的" has not worn off: still a red flag)
        if "还是" in between and word in _UNCHANGED_WORDS:
            ev.append(_ev("red_flag_denied", (bs, e), norm[bs:e], None, "unchanged"))
            return None
        if word == "斜" and norm.startswith("视", e):
            return None  # 斜视: the squint being treated
        if "s" in cues and _staff_subject(norm, cs, bs):
            return None
        why = _rfb_exclusion(norm, bs, e, norm[bs:e], cues)
        if not why and word in _NUMB_WORDS and "a" in cues and _LASTED_RE.search(norm) is None:
            why = "the anaesthetic"
        if why:
            ev.append(_ev("red_flag_denied", (bs, e), norm[bs:e], None, why))
            return None
        return bs, e

    @staticmethod
    def _frame(norm: str, s: int, e: int) -> tuple[int, int]:
        """Widen a score token to its frame: "我给" before, "分吧" after (for the comment)."""
        pm = _PRE_SCORE_RE.search(norm, max(0, s - 6), s)
        fs = pm.start() if pm else s
        um = _UNIT_RE.match(norm, e)
        fe = um.end() if um and um.lastgroup == "score" else e
        fe = _FRAME_SUFFIX_RE.match(norm, fe).end()  # type: ignore[union-attr]
        return fs, fe

    def _number(self, norm: str, core: str, s: int, e: int, tok: str, fullwidth: bool,
                ev: list[Evidence], cands: list[_Cand],
                ambiguous: list[int]) -> tuple[int | None, int]:
        """Classify one run of digits -> (out-of-range score or None, end of what it used)."""
        rule = "fullwidth_digit" if fullwidth else "digit"
        # glued to letters or digits: model numbers, ids ("iphone5", "a3")
        if s > 0 and (norm[s - 1].isdigit() or norm[s - 1] == "."):
            return None, e
        # "1.满意 2.还行 3.无", "1、5分 2、没有": the numbers of a list, not scores
        if e < len(norm) and e - s <= 2 and (s == 0 or norm[s - 1] in " ,;") and \
                (norm[e] in "、)" or (norm[e] == "." and not norm[e + 1:e + 2].isdigit())) and \
                len(_LIST_MARK_RE.findall(norm)) >= 2:
            ev.append(_ev("not_a_score:list", (s, e + 1), norm[s:e + 1]))
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
        if block is not None and block.lastgroup in _FIRST_BLOCKS:
            ev.append(_ev(f"not_a_score:{block.lastgroup}", (s, e), tok))
            return None, e
        um = _UNIT_RE.match(norm, end)
        unit = um.lastgroup if um else None
        if um is not None and unit != "score" and (
                rng is None or unit != "date" or rng.group(1) != "/"):
            ev.append(_ev(f"not_a_score:{unit}", (s, um.end()), norm[s:um.end()]))
            return None, um.end()
        if other is not None and rng is not None:
            sep = rng.group(1)
            if sep == "/" and other == "5" and tok.isdigit() and 1 <= int(tok) <= 5:
                value = int(tok)
                cands.append(_Cand(value, 0.95, 1, True))
                ev.append(_ev("fraction", (s, end), norm[s:end], value, "x out of 5"))
                return None, end
            if sep == "/" and unit is None:
                ev.append(_ev("not_a_score:date", (s, end), norm[s:end]))
                return None, end
            try:
                a, b = float(tok), float(other)
            except ValueError:  # pragma: no cover - the regex only yields numbers
                return None, end
            if 1 <= a <= 5 and 1 <= b <= 5 and a != b:
                low = int(min(a, b))
                ambiguous.append(low)
                fs, fe = self._frame(norm, s, end)
                ev.append(_ev("ambiguous", (fs, fe), norm[fs:fe], low,
                                   "range or alternative; confirm the lower"))
                return None, end
            if sep in ("-", "~") and unit is None:
                ev.append(_ev("not_a_score:number", (s, end), norm[s:end]))
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
                _ASCII_LEAD_RE.search(norm, max(0, s - 8), s) is not None:
            block = None  # "ok 5", "gei 5 fen": a word, then the score
        if (block is not None and unit != "score") or (
                block is not None and block.lastgroup in _HARD_BLOCKS):
            kind = block.lastgroup if block is not None else "number"
            ev.append(_ev(f"not_a_score:{kind}", (s, e), tok))
            return None, end
        explicit = unit == "score" or prescore is not None or core == tok or \
            core == tok + "分"
        if unit == "score" and um is not None:
            if norm[um.end() - 1] in "⭐★🌟":
                end = um.end()  # "5⭐": the star belongs to the number, not a 1-star rating
            elif um.end() < len(norm) and norm[um.end()] in "⭐★🌟":
                end = _STARS_RE.match(norm, um.end()).end()  # type: ignore[union-attr]
            if norm.startswith("半", um.end()) and 1 <= float(tok) < 5:
                low = int(float(tok))  # "4分半": a half score, confirm the lower
                ambiguous.append(low)
                ev.append(_ev("ambiguous", (s, um.end() + 1), norm[s:um.end() + 1], low,
                              "half score; confirm the lower"))
                return None, um.end() + 1
        if "." in tok:
            value_f = float(tok)
            if value_f.is_integer():
                tok = str(int(value_f))
            elif 1 <= value_f <= 5:
                low = int(value_f)
                ambiguous.append(low)
                fs, fe = self._frame(norm, s, e)
                ev.append(_ev("ambiguous", (fs, fe), norm[fs:fe], low,
                                   "decimal; confirm the lower whole score"))
                return None, end
            else:
                return None, end
        if len(tok) >= 3 and tok != "100":
            same = tok.count(tok[0]) == len(tok)
            if same and "1" <= tok[0] <= "5" and len(tok) <= 5:
                # "555" is also internet slang for crying (呜呜呜): ask.
                ambiguous.append(int(tok[0]))
                ev.append(_ev("ambiguous", (s, e), tok, int(tok[0]), "repeated digit"))
                return None, end
            ev.append(_ev("not_a_score:phone" if len(tok) >= 7 else "not_a_score:number",
                               (s, e), tok))
            return None, end
        value = int(tok)
        if len(tok) == 2 and tok[0] == tok[1] and "1" <= tok[0] <= "5":
            value = int(tok[0])  # "55": the digit typed twice
        fs, fe = self._frame(norm, s, e)
        if 1 <= value <= 5:
            conf = 0.97 if explicit else (0.9 if len(core) <= 8 else 0.8)
            cands.append(_Cand(value, conf, 1, explicit))
            ev.append(_ev(rule, (fs, fe), norm[fs:fe], value))
            return None, end
        if explicit and value <= 100:
            ev.append(_ev("out_of_range", (fs, fe), norm[fs:fe], None,
                               f"{value} is outside 1-5"))
            return value, end
        return None, end


# A correction, then the score meant: "四分不对五分", "4.5吧 算了就给4", "说错了，是3分".
_CORRECTION_RE: Final = re.compile(r"不对|说错了|写错了|算了|就给|改成|改为|还是给|更正一下")
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


# The carriers' stop keyword standing alone: "TD" in any case, a capital "T" (raw text).
_TD_TOKEN_RE: Final = re.compile(r"(?<![a-z0-9])td(?![a-z0-9])")
_T_TOKEN_RE: Final = re.compile(r"(?:^|(?<=[\s,，。.!！~、]))T(?=$|[\s,，。.!！~、])")
# Asking about stopping rather than stopping: how, what it means, what follows.
_STOP_WORD: Final = r"(?:退订|td|回t|取消(?:订阅|推送|提醒|短信)?|不收|不再收|停止接收|unsubscribe)"
_ASKED_STOP_RE: Final = re.compile(
    r"(?:怎么|如何|怎样|咋|怎么样|要怎么|该怎么|怎么才能|how (?:do|can|to))[^,，。!！\n]{0,8}?"
    + _STOP_WORD +
    r"|" + _STOP_WORD + r"[^,，。!！\s]{0,8}?(?:怎么|如何|怎样|咋弄|回复什么|回什么|是什么|什么意思"
    r"|是不是|是吗|对吗|吗|要收费|收费|要钱|还能|以后还|的话回复|要回复|回复啥)")
_QUOTES: Final = "'\"“”‘’「」『』"


def _quoted(norm: str, s: int, e: int) -> bool:
    """The word at ``s:e`` stands in quotes (within a character of each side)."""
    return any(c in _QUOTES for c in norm[max(0, s - 2):s]) and \
        any(c in _QUOTES for c in norm[e:e + 2])


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
# scale ("10分制的话我打9分"): read on the 1-5 scale.
_TEN_SCALE_RE: Final = re.compile(r"10分制|十分制|满分10|满分是10|满分十|10分满分|out of 10|/10")


def _top_of_scale(norm: str, value: int) -> int | None:
    if value in (10, 100):
        return 5
    if value == 0:  # "0分", "零分": the worst there is
        return 1
    if 6 <= value <= 9 and _TEN_SCALE_RE.search(norm) is not None:
        return (value + 1) // 2
    return None


def _decide(cands: list[_Cand]) -> tuple[int | None, float, bool, int | None]:
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
            # stacked words: "满意，很好" -> 5; "一般，不太满意" -> the later one refines
            value = hi if lo >= 4 else top[-1].value
            return value, 0.7, False, value
        return None, 0.4, True, lo  # multi-item or contradictory: ask
    value = top[0].value
    conf = max(c.conf for c in top)
    # a number that contradicts the words ("非常满意 1分") -> ask
    if best_tier == 1:
        words = {c.value for c in cands if c.tier in (2, 3)}
        if words and max(abs(value - w) for w in words) >= 2:
            return None, 0.45, True, value
    if conf < 0.6:
        return None, conf, True, value
    return value, conf, False, value


def _comment(norm: str, core: str, ev: list[Evidence]) -> str:
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
    left = (_word_chars(rest) if rest is not None else core).strip(_PARTICLES)
    if not left:
        return ""
    text = " ".join(chars.split()) if chars is not None else norm
    return text.strip(" ,，。.!?！？;；~、…:")


_DEFAULT: ReplyParser | None = None


def parse(text: str, lexicon: Lexicon | None = None) -> Interpretation:
    """Parse one reply; the default-lexicon parser is built once and cached."""
    global _DEFAULT
    if lexicon is not None:
        return ReplyParser(lexicon).parse(text)
    if _DEFAULT is None:
        _DEFAULT = ReplyParser()
    return _DEFAULT.parse(text)
