"""Learned recall tier: a character n-gram logistic regression for red flags and opt-outs.

The hand rules in ``surveys.parser`` fix each set they are tuned on and miss a few percent of
the next one.  This tier only *adds* labels where the rules said no (:func:`open_fields`):
it reads the normalised reply as character n-grams and scores each label with the log-odds of
a logistic regression that ``bench/train_recall.py`` trains offline and writes to
``recall_model.json`` (nothing trains at run time).  An opt-out it adds is an *unsure* one
(the engine asks before stopping); a red flag it adds is escalated like any other.

Why plain Python rather than scikit-learn/numpy: scoring is a sum of a few dozen precomputed
weights, which one Aho-Corasick pass (ahocorasick-rs, already a dependency) finds; a numeric
library would add tens of megabytes for no gain at this size.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import ahocorasick_rs

from surveys.native import PACKAGE_DIR

# (beside the source, also when this module runs compiled from build/native: surveys.native)
MODEL_PATH: Final = PACKAGE_DIR / "recall_model.json"
LABELS: Final = ("red_flag", "opt_out")
FORMAT: Final = 2  # bump when the file layout changes; older files are refused clearly
_RETRAIN: Final = ("retrain it with `python bench/train_recall.py --out PATH`, point "
                   "[lexicon] recall_model at a good file, or set recall_tier = false")


class RecallModelError(ValueError):
    """The model file is missing, unreadable or not a model of this format."""


def ngrams(norm: str, lo: int = 1, hi: int = 3) -> list[str]:
    """Every character ``lo``-``hi`` gram occurrence of a normalised reply (spaces kept)."""
    n = len(norm)
    return [norm[i:i + k] for k in range(lo, hi + 1) for i in range(n - k + 1)]


# Replies the tier never reads: nothing but thanks, particles and punctuation carry no content.
# (one fullmatch: it stops at the first character of content, where a substitution would
# rewrite the whole reply)
_PLEASANTRY_RE: Final = re.compile(
    r"(?:[\W_]|谢谢|感谢|多谢|你们|您们|医生|护士|老师|大夫|关心|提醒|收到|好的|知道了|辛苦了?|了|啦|哈|呀"
    r"|啊|的)*")
_EXCLUDED: Final = frozenset({"red_flag_denied", "opt_out_denied"})


def open_fields(norm: str, score: int | None, comment: str, red_flag: bool, opt_out: bool,
                rules: Iterable[str]) -> tuple[bool, bool]:
    """Whether the tier may add (red_flag, opt_out) to what the rules decided.

    Only where the rules said no, never over an explicit exclusion (a denied or resolved
    symptom, a denied stop: ``red_flag_denied`` / ``opt_out_denied`` evidence), never on
    replies of two characters or fewer, on ASCII (too few English replies to learn from), on
    pleasantries, or on a reply the rules scored with nothing left beside the rating.  No
    opt-out on a red flag: a worrying symptom told in stop-like words ("不认识我了") is not a
    stop, and the engine would put the red flag first anyway.
    """
    if len(norm) <= 2 or (score is not None and not comment) or norm.isascii() or \
            _PLEASANTRY_RE.fullmatch(comment or norm):
        return False, False
    excluded = _EXCLUDED.intersection(rules)
    return (not red_flag and "red_flag_denied" not in excluded,
            not opt_out and not red_flag and "opt_out_denied" not in excluded)


def _automaton(grams: Iterable[str], overlapping: bool) -> ahocorasick_rs.AhoCorasick | None:
    """An automaton over the n-grams (None for none); ``overlapping`` to find every occurrence.

    (The library's own choice of implementation: a forced DFA scans faster alone but slows
    the whole parse, its tables crowding the rules out of the cache.)
    """
    words = [g for g in grams if g]  # an empty gram would match everywhere
    if not words:
        return None
    return ahocorasick_rs.AhoCorasick(
        words, matchkind=ahocorasick_rs.MatchKind.Standard, store_patterns=overlapping)


class RecallModel:
    """Per-n-gram log-odds weights for both labels, thresholds and the gate.

    :meth:`gate` says which labels are worth scoring (the reply holds an n-gram strongly
    weighted for it); :meth:`scores` gives the log-odds, compared with ``thresholds``.
    """

    __slots__ = ("_ac", "_gate_oo", "_gate_rf", "_weight", "bias", "thresholds")

    def __init__(self, data: dict[str, Any]) -> None:
        try:
            if data.get("format") != FORMAT or data.get("labels") != list(LABELS):
                raise RecallModelError(
                    f"format {data.get('format')!r} labels {data.get('labels')!r}, expected "
                    f"format {FORMAT} labels {list(LABELS)!r}")
            self.bias: tuple[float, float] = (float(data["bias"][0]), float(data["bias"][1]))
            # log-odds (a probability p is log(p / (1 - p))): the sum is compared directly
            self.thresholds: tuple[float, float] = (
                float(data["thresholds"][0]), float(data["thresholds"][1]))
            cut_rf, cut_oo = (float(x) for x in data["gate"])
            weights = {str(g): (float(w[0]), float(w[1])) for g, w in data["weights"].items()}
        except RecallModelError:
            raise
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
            raise RecallModelError(f"not a recall model ({type(e).__name__}: {e})") from e
        if not all(math.isfinite(x) for x in (*self.bias, cut_rf, cut_oo)):
            raise RecallModelError("bias and gate must be finite numbers")
        # each weight pair as one complex number (red flag real, opt-out imaginary): the sum
        # over the matches then runs in C (sum(map(dict.__getitem__, ...))), not a Python
        # loop.  The matches come by end position, longest first, as pyahocorasick gave them
        # (the float sum is the same to the last bit).
        self._weight = {g: complex(w_rf, w_oo) for g, (w_rf, w_oo) in weights.items() if g}
        self._ac = _automaton(self._weight, overlapping=True)
        # the gate: n-grams of at least two characters whose weight for a label reaches the
        # cut; a reply with none of them is never scored for that label.  It keeps the tier
        # off replies whose only evidence is many weakly-weighted common characters and saves
        # the scoring pass on most replies.  One automaton per label: a label the rules
        # already decided needs no gate scan.
        self._gate_rf = _automaton(
            (g for g, (w_rf, _) in weights.items() if len(g) >= 2 and w_rf >= cut_rf), False)
        self._gate_oo = _automaton(
            (g for g, (_, w_oo) in weights.items() if len(g) >= 2 and w_oo >= cut_oo), False)

    @classmethod
    def load(cls, path: Path | str = MODEL_PATH) -> RecallModel:
        """Read the shipped (or an organisation's retrained) model file.

        Raises :class:`RecallModelError` saying what is wrong and what to do.
        """
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("the top level is not an object")
            return cls(data)
        except (OSError, ValueError) as e:
            raise RecallModelError(f"cannot use the recall model {path}: {e}; {_RETRAIN}") from e

    def gate(self, norm: str) -> tuple[bool, bool]:
        """Whether the reply holds a strongly weighted n-gram for (red_flag, opt_out)."""
        # (a non-overlapping scan finds a match wherever any gram occurs)
        return (self._gate_rf is not None and bool(self._gate_rf.find_matches_as_indexes(norm)),
                self._gate_oo is not None and bool(self._gate_oo.find_matches_as_indexes(norm)))

    def scores(self, norm: str) -> tuple[float, float]:
        """Log-odds of (red_flag, opt_out) for a normalised reply.

        Every occurrence of a model n-gram counts, as in training; n-grams the model does not
        know contribute nothing, so the cost is one C pass plus one addition per known n-gram.
        """
        if self._ac is None:
            return self.bias
        z = sum(map(self._weight.__getitem__,
                    self._ac.find_matches_as_strings(norm, overlapping=True)),
                complex(*self.bias))
        return z.real, z.imag

    def adds(self, norm: str, may_rf: bool, may_oo: bool) -> tuple[float | None, float | None]:
        """The log-odds of each label the tier adds (None: not added), gate first.

        A label is added where it is open (``may_*``), its gate passes and its log-odds reach
        the threshold; each check is made only when the others leave it deciding anything
        (a scored reply whose opt-out log-odds fall short needs no opt-out gate scan).
        """
        gate_rf, gate_oo = self._gate_rf, self._gate_oo
        if may_rf and gate_rf is not None and gate_rf.find_matches_as_indexes(norm):
            rf, oo = self.scores(norm)
            t_rf, t_oo = self.thresholds
            return (rf if rf >= t_rf else None,
                    oo if may_oo and oo >= t_oo and gate_oo is not None
                    and gate_oo.find_matches_as_indexes(norm) else None)
        if may_oo and gate_oo is not None and gate_oo.find_matches_as_indexes(norm):
            oo = self.scores(norm)[1]
            return None, (oo if oo >= self.thresholds[1] else None)
        return None, None
