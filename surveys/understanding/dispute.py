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

from surveys.normalize import normalize

TABLE_PATH: Final = Path(__file__).resolve().parent / "dispute.toml"
_CLAUSE_END: Final = "，,。.!！?？;；~\n"
_WINDOW: Final = 8  # characters before a cue searched for a negation or a demand verb


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
        for i, s, e in self._ac.find_matches_as_indexes(norm):
            word, kind = self._words[i], self._kind[i]
            if word.isascii() and ((s > 0 and norm[s - 1].isascii() and norm[s - 1].isalnum())
                                   or (e < len(norm) and norm[e].isascii() and
                                       norm[e].isalnum())):
                continue  # "12345" inside a phone number, "court" inside "courtesy"
            cs = max((norm.rfind(c, 0, s) for c in _CLAUSE_END), default=-1) + 1
            ce = min((j for j in (norm.find(c, e) for c in _CLAUSE_END) if j >= 0),
                     default=len(norm))
            before = norm[max(cs, s - _WINDOW):s]
            clause = norm[cs:ce]
            if self._neg_re.search(before) or self._retract_re.search(norm, e, ce) or \
                    self._praise_re.search(clause):
                continue
            if kind == "platform":
                near = norm[max(cs, s - 6):min(ce, e + 8)]
                if "看到" in near or "刷到" in near or \
                        self._posting_re.search(near) is None:
                    continue
            elif kind == "leader" and self._demand_re.search(before) is None:
                continue
            return (s, e), kind
        return None
