"""Disputes: the reply threatens to take the matter further (docs/labels.md).

A lawyer or a lawsuit, a complaint to the authorities (12345, 卫健委, 医调委, 消协, 教育局),
exposure in the media or on social media, a demand to meet the leadership, refusing to pay,
suspected insurance fraud.  The cue words are data (``dispute.toml``); this module finds them
in one Aho-Corasick pass and explains each away only when it is negated ("不会去找律师"),
taken back ("找律师就算了"), praise ("找领导表扬你们") or, for a platform, no posting is near
("在抖音上看到的").  A dispute is always also a complaint (the parser sets both).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import ahocorasick_rs

from surveys.native import PACKAGE_DIR
from surveys.understanding.normalize import normalize

TABLE_PATH: Final = PACKAGE_DIR / "understanding" / "dispute.toml"  # (see surveys.native)
_CLAUSE_END: Final = "，,。.!！?？;；~\n"
_WINDOW: Final = 8  # characters before a cue searched for a negation or a demand verb
_NOT_SUING: Final = "报广忠公预警通转劝宣"
# Refusing to pay: a pay verb refused, money near it ("尾款我是不会交的", "这钱我不付了").
# (the pay verbs, one character each, also gate the search: DisputeRules.read)
_PAY_VERBS: Final = "付交结"
_REFUSE_PAY_RE: Final = re.compile(
    r"(?:不|不会|先不|暂时不|不再|拒绝|打死也不|坚决不|一分都不|一分也不)"
    f"(?:{'|'.join(_PAY_VERBS)})"
    r"(?![号流通往代际心朋])")
_MONEY_RE: Final = re.compile(r"钱|费|款|账|单|元|块")
# A leader demanded after the title: "你们院长电话多少", "让院长出来"
_DEMAND_AFTER_RE: Final = re.compile(r"电话|出来|来见|跟我|给我|信箱|办公室")
# Asked about, not threatened: "12345是什么电话", "有人说你们被卫健委查过，是真的吗"
_ASKED_AFTER_RE: Final = re.compile(
    r"[^,，。!！]{0,3}?(?:是什么|哪天|怎么联系)|[^,，。!！]{0,10}?(?:是真的吗|查过)")
# Reported, remembered or given up: "本来想打12345的，后来想想算了", "上次说要去教育局是气话"
_REPORTED_BEFORE_RE: Final = re.compile(
    r"(?:本来想|原本想|本想|上次说|之前说|有朋友说|朋友说|有人说|听说|差点)[^,，。!！]{0,8}$")
_GIVEN_UP_AFTER_RE: Final = re.compile(r"[^。!！]{0,20}?(?:是气话|想想算了|还是算了|就算了|算了吧)")
# A person's job, not a threat: "我是记者", "律师爸爸表示满意", "我老公是律师"
_JOB_RE: Final = re.compile(r"是$|是个$|是一名$")
_JOB_AFTER_RE: Final = re.compile(r"爸爸|妈妈|朋友|老公|老婆|采访|朋友")
_PRAISE_ANYWHERE_RE: Final = re.compile(r"满意|很好|规范|表扬|感谢|采访|好评|[45]分")
# Words another sense of which is common: a machine's alarm, digits of a phone number, a
# question whether a treatment is covered ("言语治疗能走医保吗")
_OTHER_SENSE: Final = {"报警": re.compile(r"(?:机|器|仪|表|灯|老|一直|又|在)$"),
                       "走医保": re.compile(r"(?:能|可以|能不能|可不可以)$")}
_CN_DIGIT: Final = "零〇一二三四五六七八九幺两"


def _load_table(path: Path = TABLE_PATH) -> dict[str, list[str]]:
    with path.open("rb") as f:
        data = tomllib.load(f)
    return {k: [normalize(w) for w in v if normalize(w)] for k, v in data.items()}


def _ac(words: Iterable[str]) -> ahocorasick_rs.AhoCorasick:
    return ahocorasick_rs.AhoCorasick(
        sorted(set(words)), matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)


class DisputeRules:
    """The dispute cues of ``dispute.toml`` plus an organisation's own strong cues."""

    __slots__ = ("_ac", "_demand_re", "_kind", "_neg_re", "_posting_re", "_praise_re",
                 "_retract_re", "_words")

    def __init__(self, extra: Iterable[str] = ()) -> None:
        table = _load_table()
        kinds: dict[str, str] = {}
        for w in table["platform"]:
            kinds[w] = "platform"
        for w in table["leader"]:
            kinds[w] = "leader"
        for w in [*table["strong"], *(normalize(x) for x in extra)]:
            if w:
                kinds[w] = "strong"
        self._words = sorted(kinds)
        self._kind = [kinds[w] for w in self._words]
        self._ac = ahocorasick_rs.AhoCorasick(
            self._words, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)

        def alt(words: list[str]) -> str:
            return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))

        # a negation, then at most a few verb-like characters up to the cue
        self._neg_re = re.compile(
            f"(?:{alt(table['negation'])})[去要找打向到给跟请会想再上把]{{0,3}}$")
        self._retract_re = re.compile(alt(table["retract"]))
        self._praise_re = re.compile(alt(table["praise"]))
        self._posting_re = re.compile(f"(?:{alt(table['posting'])})(?!号)")
        self._demand_re = re.compile(alt(table["demand"]))

    def find(self, norm: str) -> tuple[tuple[int, int], str] | None:
        """The first dispute cue that stands, with its category, or None."""
        hit, _ = self.read(norm)
        return hit

    def read(self, norm: str) -> tuple[tuple[tuple[int, int], str] | None,
                                       tuple[tuple[int, int], str] | None]:
        """(the first cue that stands, the first cue explained away), each with why."""
        denied: tuple[tuple[int, int], str] | None = None
        for i, s, e in self._ac.find_matches_as_indexes(norm):
            word, kind = self._words[i], self._kind[i]
            if word.isascii() and ((s > 0 and norm[s - 1].isascii() and norm[s - 1].isalnum())
                                   or (e < len(norm) and norm[e].isascii() and
                                       norm[e].isalnum())):
                continue  # "12345" inside a phone number, "court" inside "courtesy"
            if word[0] == "告" and s and norm[s - 1] in _NOT_SUING:
                continue  # 报告, 广告, 公告: a report or an advert, no lawsuit
            cs = max((norm.rfind(c, 0, s) for c in _CLAUSE_END), default=-1) + 1
            ce = min((j for j in (norm.find(c, e) for c in _CLAUSE_END) if j >= 0),
                     default=len(norm))
            before = norm[max(cs, s - _WINDOW):s]
            clause = norm[cs:ce]
            other = _OTHER_SENSE.get(word)
            if other is not None and other.search(norm, max(cs, s - 3), s) is not None:
                continue
            if word[0] in _CN_DIGIT and ((s and norm[s - 1] in _CN_DIGIT) or
                                         (e < len(norm) and norm[e] in _CN_DIGIT)):
                continue  # spoken digits inside a phone number
            why = ""
            if self._neg_re.search(before):
                why = "denied"
            elif _REPORTED_BEFORE_RE.search(norm, cs, s) or \
                    _GIVEN_UP_AFTER_RE.match(norm, e) is not None:
                why = "reported or given up"
            elif _ASKED_AFTER_RE.match(norm, e) is not None:
                why = "asked about"
            elif kind == "strong" and (_JOB_RE.search(norm, max(0, s - 3), s) or
                                       _JOB_AFTER_RE.match(norm, e) is not None) and \
                    _PRAISE_ANYWHERE_RE.search(norm) is not None:
                why = "a person's job"
            elif self._retract_re.search(norm, e, ce):
                why = "taken back"
            elif self._praise_re.search(clause):
                why = "praise"
            elif kind == "platform":
                near = norm[max(cs, s - 6):min(ce, e + 8)]
                if "看到" in near or "刷到" in near or \
                        self._posting_re.search(near) is None:
                    why = "seen there, not posted"
            elif kind == "leader" and self._demand_re.search(before) is None and \
                    _DEMAND_AFTER_RE.match(norm, e) is None:
                continue  # a leader named, nothing demanded: nothing to deny either
            if why:
                if denied is None:
                    denied = (s, e), why
                continue
            return ((s, e), kind), denied
        # (every refusal ends in a pay verb: without one, skip the search made on every reply)
        if not any(v in norm for v in _PAY_VERBS):
            return None, denied
        for m in _REFUSE_PAY_RE.finditer(norm):
            s, e = m.span()
            near = norm[max(0, s - 14):e + 14]
            tail = norm[e:e + 10]
            if _MONEY_RE.search(near) is not None and "吗" not in tail and "?" not in tail:
                return ((s, e), "refuses to pay"), denied
        return None, denied
