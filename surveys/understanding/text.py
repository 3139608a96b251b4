"""Clauses, sentences and scans over a normalised reply, shared by every concern.

Where a clause or a sentence starts and ends (:func:`bounds`, :func:`clause_start`), the
word characters of a reply (:func:`word_chars`), the first matches of a rule
(:func:`first_matches`), and the two Aho-Corasick helpers every rule family uses:
:class:`Scan` (literal words, leftmost-longest) and :class:`Gates` (which regexes can match
a reply at all, from one pass over their literal starts).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from itertools import islice
from typing import Final, Generic, TypeVar

import ahocorasick_rs

from surveys.understanding.compose import MAX_HITS, literal_starts

PARTICLES: Final = "吧啊呀哈啦嘛哦了的呢噢喔嗯"
# The last clause separator before a position: search(norm, 0, pos) -> its index.
CLAUSE_TAIL_RE: Final = re.compile(r"[,，。.!?;][^,，。.!?;]*$")
NONWORD_RE: Final = re.compile(r"[\W_]+")
# Separators at the ends of a reply (all non-word: see word_chars).
_EDGE_NONWORD: Final = " ,.!?~:;'\"。、…"
assert not any(c.isalnum() for c in _EDGE_NONWORD)


def word_chars(text: str) -> str:
    """``NONWORD_RE.sub("", text)``: the word characters of ``text``.

    str.isalnum is re's \\w less "_", so when the text is alphanumeric once its commas,
    spaces and end punctuation (none of them word characters) are gone, that is the answer
    without a regex substitution, several times dearer (most replies: "5分,护士很好!").
    """
    if text.isalnum():
        return text
    core = text.replace(",", "").replace(" ", "").strip(_EDGE_NONWORD)
    return core if core.isalnum() else NONWORD_RE.sub("", text)


LEAD_RE: Final = re.compile(r"[^\s,.!?;~。，、…:]+")


SEP_RE: Final = re.compile(r"[,，。.!?！？；;~\n]")


_CLAUSE_START_RE: Final = re.compile(r"[,，。.!?！？；;~\n][^,，。.!?！？；;~\n]*$")
_SENT_START_RE: Final = re.compile(r"[。!?！？；;\n][^。!?！？；;\n]*$")
_SENT_STOP_RE: Final = re.compile(r"[。!?！？；;\n]")


_LOOKBACK: Final = 48


def last_separator(rx: re.Pattern[str], norm: str, pos: int) -> re.Match[str] | None:
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


def bounds(norm: str, s: int, e: int) -> tuple[int, int, int]:
    """(clause start, sentence start, sentence end) around ``norm[s:e]``."""
    m = last_separator(_CLAUSE_START_RE, norm, s)
    if m is None:
        return 0, 0, sent_end(norm, e)
    cs = m.start() + 1
    m = last_separator(_SENT_START_RE, norm, cs)
    return cs, (m.start() + 1 if m else 0), sent_end(norm, e)


def sent_end(norm: str, e: int) -> int:
    """Index of the sentence end at or after ``e``."""
    m = _SENT_STOP_RE.search(norm, e)
    return m.start() if m else len(norm)


def first_matches(rx: re.Pattern[str], norm: str) -> Iterable[re.Match[str]]:
    """``rx``'s first ``MAX_HITS`` matches in ``norm``.

    A plain ``search`` first: most rules match nothing in most replies, and a failed search
    is several times cheaper than building the ``finditer`` iterator.
    """
    m = rx.search(norm)
    if m is None:
        return ()
    return islice(rx.finditer(norm, m.start()), MAX_HITS)


def clause_start(norm: str, pos: int) -> int:
    """Index where the clause holding ``pos`` starts."""
    cm = last_separator(CLAUSE_TAIL_RE, norm, pos)
    return cm.start() + 1 if cm else 0


_QUOTES: Final = "'\"“”‘’「」『』"


def quoted(norm: str, s: int, e: int) -> bool:
    """The word at ``s:e`` stands in quotes (within a character of each side)."""
    return any(c in _QUOTES for c in norm[max(0, s - 2):s]) and \
        any(c in _QUOTES for c in norm[e:e + 2])


_V = TypeVar("_V")


class Scan(Generic[_V]):
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
        """(word index into ``values``, start, end) of the first ``MAX_HITS`` words."""
        if self._rs is None:
            return []
        return self._rs.find_matches_as_indexes(norm)[:MAX_HITS]


class Gates:
    """Which of several regexes could match a text, from one Aho-Corasick pass.

    A regex whose every match starts with one of a few literals (:func:`literal_starts`)
    cannot match a text holding none of them, so its search is skipped: most replies hold
    the first characters of few rules.  ``bits(norm)`` sets bit ``i`` for regex ``i`` when
    it must be searched.
    """

    __slots__ = ("_always", "_masks", "_rs")

    def __init__(self, rxs: Iterable[re.Pattern[str]]) -> None:
        masks: dict[str, int] = {}
        self._always = 0
        for i, rx in enumerate(rxs):
            found = literal_starts(rx)
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
