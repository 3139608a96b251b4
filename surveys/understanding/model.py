"""The learned model: one linear model per label over character n-grams and the rules' evidence.

Why a model on top of the rules: the rules are exact where language is regular (numbers and
their units, negation scope, stop keywords) and brittle everywhere else -- each set of fresh
replies brought wording they had never seen.  The model reads the whole reply (its character
1-3 grams) *and* what the rules found (each evidence rule, each label they gave, as a feature
of its own), so it learns both how much to trust a rule and the wording no rule names.  It is
trained offline (``survey-bot train``, :mod:`surveys.understanding.learn`, on the shipped
labelled replies plus an organisation's corrections) and written to ``model.json``; nothing
trains or downloads at run time.

Labels: ``score`` as a 6-way class (1-5, or none) and one binary model for each of
``opt_out``, ``complaint``, ``dispute``, ``red_flag``, ``question``.  How a model's
probability is combined with the rules (where the rules stay exact, where the model decides,
where it is unsure and the engine confirms) is :mod:`surveys.understanding.decide`.

Scoring without a numeric library: every n-gram and feature carries its weights for the 11
outputs packed into one Python integer (a fixed-point field per output), so one Aho-Corasick
pass finds the reply's n-grams and one C-level ``sum`` adds all their weight vectors at once;
unpacking the 11 sums is a few shifts.  That keeps the whole model at a few microseconds per
reply.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import ahocorasick_rs

from surveys.native import PACKAGE_DIR

# (beside the source, also when this module runs compiled from build/native: surveys.native)
MODEL_PATH: Final = PACKAGE_DIR / "understanding" / "model.json"
FORMAT: Final = 1
FLAGS: Final = ("opt_out", "complaint", "dispute", "red_flag", "question")
SCORE_CLASSES: Final = ("none", "1", "2", "3", "4", "5")
OUTPUTS: Final = (*FLAGS, *(f"score={c}" for c in SCORE_CLASSES))
NGRAM: Final = (1, 3)
_RETRAIN: Final = ("retrain it with `survey-bot train --out PATH`, point [lexicon] recall_model "
                   "at a good file, or set recall_tier = false")

# fixed point: each output's weight in a 48-bit field, scaled by 2**16, offset so that every
# stored field is positive (a sum of up to 2**16 terms cannot carry into the next field)
_SCALE: Final = 1 << 16
_OFFSET: Final = 1 << 30
_WIDTH: Final = 48
_MASK: Final = (1 << _WIDTH) - 1
_MAX_WEIGHT: Final = (_OFFSET - 1) / _SCALE


class ModelError(ValueError):
    """The model file is missing, unreadable or not a model of this format."""


def ngrams(norm: str, lo: int = NGRAM[0], hi: int = NGRAM[1]) -> dict[str, int]:
    """Every character ``lo``-``hi`` gram of a normalised reply (spaces kept), with its count
    (as the model counts them: one Aho-Corasick match per occurrence)."""
    n = len(norm)
    out: dict[str, int] = {}
    for k in range(lo, hi + 1):
        for i in range(n - k + 1):
            g = norm[i:i + k]
            out[g] = out.get(g, 0) + 1
    return out


def rule_features(rules: Iterable[str], labels: Iterable[str]) -> list[str]:
    """The rules' evidence as feature names: ``R:<rule>[:<note>]`` and ``O:<label>``.

    ``rules`` are the evidence entries as ``rule`` or ``rule:note``; ``labels`` what the rules
    decided (``red_flag``, ``score=4``, ``needs_confirmation`` ...).
    """
    out = [f"R:{r}" for r in rules]
    out += [f"O:{x}" for x in labels]
    return out


def pack(weights: Sequence[float]) -> int:
    """One integer holding the weight of every output (see the module docstring)."""
    packed = 0
    for i, w in enumerate(weights):
        if not -_MAX_WEIGHT < w < _MAX_WEIGHT:
            raise ModelError(f"weight {w} out of range")
        packed |= (round(w * _SCALE) + _OFFSET) << (_WIDTH * i)
    return packed


def unpack(total: int, terms: int, k: int = len(OUTPUTS)) -> list[float]:
    """The ``k`` sums held in ``total``, a sum of ``terms`` packed integers."""
    base = terms * _OFFSET
    return [(((total >> (_WIDTH * i)) & _MASK) - base) / _SCALE for i in range(k)]


def sigmoid(z: float) -> float:
    """The logistic function, safe for any z."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


_LOADED: dict[tuple[str, int, int], Model] = {}


class Model:
    """Weights for every output, the thresholds of :mod:`surveys.understanding.decide`."""

    __slots__ = ("_ac", "_gram", "_rule", "bias", "meta", "thresholds", "weights")

    def __init__(self, data: dict[str, Any]) -> None:
        try:
            if data.get("format") != FORMAT or data.get("outputs") != list(OUTPUTS):
                raise ModelError(
                    f"format {data.get('format')!r} outputs {data.get('outputs')!r}, expected "
                    f"format {FORMAT} outputs {list(OUTPUTS)!r}")
            k = len(OUTPUTS)
            bias = [float(x) for x in data["bias"]]
            if len(bias) != k:
                raise ModelError(f"{len(bias)} biases for {k} outputs")
            self.bias: tuple[float, ...] = tuple(bias)
            self.thresholds: dict[str, float] = {
                str(a): float(b) for a, b in data["thresholds"].items()}
            # (kept as floats too, for the explanation; the hot path reads the packed form)
            self.weights: dict[str, list[float]] = {}
            for name, w in data["weights"].items():
                ws = [float(x) for x in w]
                if len(ws) != k or not all(math.isfinite(x) for x in ws):
                    raise ModelError(f"weights of {name!r}: {k} finite numbers expected")
                self.weights[str(name)] = ws
            self.meta: dict[str, Any] = dict(data.get("meta") or {})
        except ModelError:
            raise
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as e:
            raise ModelError(f"not a reply model ({type(e).__name__}: {e})") from e
        if not all(math.isfinite(x) for x in (*self.bias, *self.thresholds.values())):
            raise ModelError("bias and thresholds must be finite numbers")
        self._gram: dict[str, int] = {
            g: pack(w) for g, w in self.weights.items() if g and not g.startswith(("R:", "O:"))}
        self._rule: dict[str, int] = {
            g: pack(w) for g, w in self.weights.items() if g.startswith(("R:", "O:"))}
        grams = sorted(self._gram)
        self._ac: ahocorasick_rs.AhoCorasick | None = ahocorasick_rs.AhoCorasick(
            grams, matchkind=ahocorasick_rs.MatchKind.Standard,
            store_patterns=True) if grams else None

    @classmethod
    def load(cls, path: Path | str = MODEL_PATH) -> Model:
        """Read the shipped (or an organisation's retrained) model file.

        A model is immutable once built, so each file is read once per process (again only
        when it changes).  Raises :class:`ModelError` saying what is wrong and what to do.
        """
        try:
            st = Path(path).stat()
            key = (str(Path(path).resolve()), st.st_mtime_ns, st.st_size)
            cached = _LOADED.get(key)
            if cached is not None:
                return cached
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("the top level is not an object")
            model = cls(data)
        except (OSError, ValueError) as e:
            raise ModelError(f"cannot use the reply model {path}: {e}; {_RETRAIN}") from e
        _LOADED[key] = model
        return model

    def grams_of(self, norm: str) -> list[str]:
        """The model's n-grams in ``norm``, once per occurrence."""
        if self._ac is None:
            return []
        return self._ac.find_matches_as_strings(norm, overlapping=True)

    def logits(self, norm: str, features: Iterable[str]) -> list[float]:
        """The 11 raw outputs (log-odds for the flags, class scores for the score).

        Every 1-3 gram of the reply is looked up (compiled, a slice and a dict probe each):
        no automaton whose tables would crowd the rules' out of the CPU cache.
        """
        gram = self._gram
        rule = self._rule
        total = 0
        terms = 0
        n = len(norm)
        for i in range(n):
            w = gram.get(norm[i])
            if w is not None:
                total += w
                terms += 1
            if i + 2 <= n:
                w = gram.get(norm[i:i + 2])
                if w is not None:
                    total += w
                    terms += 1
                if i + 3 <= n:
                    w = gram.get(norm[i:i + 3])
                    if w is not None:
                        total += w
                        terms += 1
        for f in features:
            w = rule.get(f)
            if w is not None:
                total += w
                terms += 1
        sums = unpack(total, terms)
        return [s + b for s, b in zip(sums, self.bias, strict=True)]

    def probabilities(self, norm: str, features: Iterable[str]
                      ) -> tuple[dict[str, float], dict[int | None, float]]:
        """P(flag) for each flag and P(score class) (softmax over 1-5 and none)."""
        z = self.logits(norm, features)
        nf = len(FLAGS)
        flags = {f: sigmoid(z[i]) for i, f in enumerate(FLAGS)}
        zs = z[nf:]
        top = max(zs)
        ex = [math.exp(v - top) for v in zs]
        total = sum(ex)
        scores: dict[int | None, float] = {
            (None if c == "none" else int(c)): e / total
            for c, e in zip(SCORE_CLASSES, ex, strict=True)}
        return flags, scores

    def contributions(self, norm: str, features: Iterable[str], output: str,
                      top: int = 5) -> list[tuple[str, float]]:
        """The n-grams and rule features that weigh most for one output (for explanations)."""
        i = OUTPUTS.index(output)
        items = [(g, self.weights[g][i]) for g in set(self.grams_of(norm))]
        items += [(f, self.weights[f][i]) for f in features if f in self.weights]
        # (ties by name: a set's order changes from one process to the next)
        items.sort(key=lambda x: (-abs(x[1]), x[0]))
        return items[:top]
