"""Word lists for the reply parser, and the tiny pattern syntax organisations may use.

The built-in lists are ``surveys/understanding/lexicon.toml``; an organisation adds its own
words from configuration (:meth:`Lexicon.extended`).

Every entry is matched against the *normalised* reply (NFKC, lower case, simplified
characters; see ``surveys.understanding.normalize``), so write entries in simplified Chinese
and lower case.

Pattern syntax (plain substrings always work; these marks are optional):

* ``A*B`` -- ``A`` followed by ``B`` with at most 4 characters in between, none of them
  punctuation: ``态度*差`` matches 态度差, 态度太差, 态度非常差.
* ``^word$`` -- the whole reply (ignoring spaces, punctuation and emoji) must be ``word``:
  ``^t$`` opts out on a bare "T" without firing on every "t" inside English text.
* ``~entry`` -- complaint list only: a *mild* grievance (waiting, parking, crowding). It
  counts as a complaint unless the same reply gives a good score (4 or 5), because
  "满意是满意就是排队太久" is feedback, not a complaint that staff must answer within 24 h.

Two lists compose rather than match: a ``red_flag_change`` word (没知觉, 看不见, 发软, 发紫,
鼓得老高 ...) is a red flag when a ``red_flag_body`` word (脸, 嘴唇, 眼睛, 腿, 伤口, 我妈, 孩子 ...)
comes before it in the same clause ("半边脸没知觉了", "走路腿发软"), or a sudden-onset cue
(突然, 一下子 ...) does ("突然看不见了").  Add a body part or a change and every combination
counts; write whole phrases in ``red_flag`` only for signs that are alarming on their own.

Negation is handled by the parser, not by the lists: a red flag preceded by 没有/不/已经不
or followed by 退了/止住了/好多了 is recorded as ``red_flag_denied``; a complaint preceded by
没有/不是 is ignored.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from functools import cache
from typing import Final

from surveys.native import PACKAGE_DIR

_LISTS = ("complaint", "red_flag", "opt_out", "question", "wrong_number", "deceased",
          "red_flag_body", "red_flag_change", "dispute")

# the built-in lists (lexicon.toml beside the parser's other word tables)
_TABLE: Final = PACKAGE_DIR / "understanding" / "lexicon.toml"


@cache
def _default_lists() -> dict[str, tuple[str, ...]]:
    """The built-in lists, read once per process."""
    with _TABLE.open("rb") as f:
        data = tomllib.load(f)
    out: dict[str, tuple[str, ...]] = {}
    for name in _LISTS:
        if name == "dispute":
            continue  # (the built-in dispute cues are surveys/understanding/dispute.toml)
        words = data.get(name)
        if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
            raise ValueError(f"{_TABLE}: {name!r} must be a list of non-empty strings")
        out[name] = tuple(words)
    return out


@dataclass(frozen=True, slots=True)
class Lexicon:
    """The word lists the parser matches; organisations extend them from configuration."""

    complaint: tuple[str, ...]
    red_flag: tuple[str, ...]
    opt_out: tuple[str, ...]
    question: tuple[str, ...]
    wrong_number: tuple[str, ...]
    deceased: tuple[str, ...]
    red_flag_body: tuple[str, ...]
    red_flag_change: tuple[str, ...]
    # added to the built-in dispute cues of surveys/understanding/dispute.toml
    dispute: tuple[str, ...] = ()

    @classmethod
    def default(cls) -> Lexicon:
        """The built-in Chinese (plus some English and pinyin) lists."""
        return cls(**_default_lists())

    def extended(self, **extra: Iterable[str]) -> Lexicon:
        """Return a copy with ``extra`` words added to the named lists.

        >>> Lexicon.default().extended(complaint=["乱收费啊"]).complaint[-1]
        '乱收费啊'
        """
        changes: dict[str, tuple[str, ...]] = {}
        for name, words in extra.items():
            if name not in _LISTS:
                raise ValueError(
                    f"unknown lexicon list {name!r}; allowed lists: {', '.join(_LISTS)}"
                )
            if isinstance(words, str):
                # A bare string would be split into characters: almost certainly a mistake.
                raise ValueError(f"lexicon list {name!r} must be a list of strings, not a string")
            current: tuple[str, ...] = getattr(self, name)
            added = tuple(w.strip() for w in words if w and w.strip())
            changes[name] = current + tuple(w for w in added if w not in current)
        return replace(self, **changes)


assert tuple(f.name for f in fields(Lexicon)) == _LISTS
