"""Composing the rules' regular expressions: word tables into alternations that stay fast.

Python's ``re`` skips ahead by a first-character filter only when every top-level
alternative starts with a literal, and tries every alternative in turn at each position it
lets through.  The rules are therefore written as tables of heads and tails
(:func:`each`, :func:`rx_each`), their alternations grouped by first character
(:func:`factor`) and split into parts searched one after another (:func:`parts`,
:func:`finditer_parts`); literal word lists become tries (:func:`trie_regex`) and the
literal starts of a regex gate its search (:func:`literal_starts`, ``text.Gates``).
Word tables live in TOML files beside the modules (:func:`table`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from typing import Any, Final

from surveys.native import PACKAGE_DIR

try:  # the regex parser re itself uses (private): only to size search windows
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - a Python without it searches whole clauses
    sre_parse = None


def each(heads: str, tail: str) -> str:
    """``h1tail|h2tail|...`` for literal heads ``"h1 h2 ..."``.

    Python's ``re`` skips ahead by a first-character filter only when every top-level
    alternative starts with a literal, so composed rules are spelled out rather than written
    as ``(?:h1|h2)tail``: several times faster on replies that match nothing.
    """
    return "|".join(re.escape(h) + tail for h in heads.split())


IN = r"[^,，。.!?；;~\s]"        # one character inside the clause
IN_POS = r"[^,，。.!?；;~\s不没无]"  # ... that does not negate what follows


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


def factor(pattern: str) -> str:
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


def split_parts(rx: re.Pattern[str], k: int) -> tuple[re.Pattern[str], ...]:
    """``rx``'s top-level branches compiled as ``k`` regexes of about equal size.

    At every position whose character may start a match, ``re`` walks the heads of all the
    branches in turn (one per first character of a factored rule: 150 for the red flags), so
    a search of each part costs less than a search of the whole.  ``rx`` matches iff a part
    does: the parts decide the usual reply, that matches nothing.
    """
    parts = _top_level(rx.pattern)
    size = -(-len(parts) // k)
    out = tuple(re.compile("|".join(parts[i:i + size])) for i in range(0, len(parts), size))
    # (finditer_parts relies on it: a match never empty, so the next starts at its end)
    assert sre_parse is None or all(
        sre_parse.parse(p.pattern).getwidth()[0] > 0 for p in out), rx.pattern[:40]
    return out


def finditer_parts(parts: tuple[re.Pattern[str], ...], norm: str) -> list[re.Match[str]]:
    """The first ``MAX_HITS`` matches of the whole rule split by :func:`split_parts`, as its
    ``finditer`` gives them, found with the parts (the whole costs ten times more per
    character on a long reply).

    At each step the earliest start of any part wins, the earlier part on a tie (the whole
    tries its branches in order); a part's next match is searched again only once the scan
    has passed its start (a match does not depend on where the search began).
    """
    nxt = [rx.search(norm) for rx in parts]
    out: list[re.Match[str]] = []
    pos = 0
    while len(out) < MAX_HITS:
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


def rx_each(heads: Iterable[str], tail: str) -> str:
    """``h1tail|h2tail|...`` for heads that are regex fragments starting with a literal."""
    return "|".join(h + tail for h in heads)


def alt(fragments: Iterable[str]) -> str:
    """One non-capturing alternation of regex fragments."""
    return "(?:" + "|".join(fragments) + ")"


def tail_window(rx: re.Pattern[str]) -> int:
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


# Bound the evidence per rule family: a reply repeating "很好" 150 times says nothing more
# after the first few, and the cost per reply must stay bounded.
MAX_HITS: Final = 24


_Trie = dict[str, "_Trie"]


def literal_starts(rx: re.Pattern[str]) -> frozenset[str] | None:
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


def trie_regex(words: Iterable[str]) -> str:
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


def pattern_regex(entry: str) -> str:
    """Regex for one lexicon entry in the ``A*B`` syntax."""
    return r"[^,，。.!?！？；;\s]{0,4}".join(re.escape(p) for p in entry.split("*"))


def table(name: str) -> dict[str, Any]:
    """The word tables of ``surveys/understanding/<name>.toml`` (read beside the sources,
    also when the modules run compiled: see surveys.native)."""
    with (PACKAGE_DIR / "understanding" / f"{name}.toml").open("rb") as f:
        return tomllib.load(f)


def strings(data: dict[str, Any], key: str) -> tuple[str, ...]:
    """``data[key]``, a list of non-empty strings, as a tuple (an error says which table)."""
    value = data.get(key)
    if not isinstance(value, list) or not all(isinstance(w, str) and w for w in value):
        raise ValueError(f"word table {key!r}: a list of non-empty strings expected")
    return tuple(value)
