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

Scoring without a numeric library: one Aho-Corasick pass (Rust) finds every occurrence of the
model's n-grams in the reply, and each occurrence adds its row of a flat table of weights into
local floating-point sums (native doubles once compiled); the score's six outputs are summed
only when the rules have not already read the score exactly.  Every weight is held on a grid
of 2**-16, so the sums are exact whatever their order, the same to the last bit on every
machine.  That keeps the whole model at a few microseconds per reply.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
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
# the score each class stands for
SCORE_VALUES: Final[tuple[int | None, ...]] = (None, 1, 2, 3, 4, 5)
NGRAM: Final = (1, 3)
_RETRAIN: Final = ("retrain it with `survey-bot train --out PATH`, point [lexicon] recall_model "
                   "at a good file, or set recall_tier = false")

# weights on a grid of 2**-16 (as the fixed-point format before them had it): a sum of up to
# 2**16 terms of at most 2**14 is exact in a double, so the order of the terms cannot matter
_SCALE: Final = 1 << 16
_MAX_WEIGHT: Final = float(1 << 14)
_K: Final = 11
assert len(OUTPUTS) == _K


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


def on_grid(w: float) -> float:
    """``w`` rounded to the weights' grid (2**-16); refused beyond the weights' range."""
    if not -_MAX_WEIGHT < w < _MAX_WEIGHT:
        raise ModelError(f"weight {w} out of range")
    return round(w * _SCALE) / _SCALE


def sigmoid(z: float) -> float:
    """The logistic function, safe for any z."""
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


# a code point in _BITS bits: a gram of up to three characters as one int (Model._rows)
_BITS: Final = 21
_MASK: Final = (1 << _BITS) - 1
assert _MASK >= 0x10FFFF


def _key(gram: str) -> int:
    """``gram``'s code points packed in one int, the first character highest."""
    k = 0
    for ch in gram:
        k = (k << _BITS) | ord(ch)
    return k


# Compiled, the weights are also held as one string, a weight a character: its code point
# minus _OFFSET is the weight in units of the grid (2**-16).  Reading a character of a string
# (ord(s[i]), native code once compiled) touches 4 contiguous bytes; reading a float of a
# list touches a pointer and a boxed float elsewhere, and writes both reference counts: over
# a whole parse the model's 12 MB of boxed floats were cache misses, most of the sums' time.
# The source keeps the list (there ord(s[i]) makes a new one-character string first).
_COMPILED: Final = not __file__.endswith(".py")
_OFFSET: Final = 0x88000  # half of 0x110000, the code points: weights within +-8.5 fit
_UNIT: Final = 1.0 / _SCALE


def _pack(flat: list[float]) -> str | None:
    """``flat`` as one string, a weight a character (see _OFFSET); None unless every weight
    fits (a retrained model's larger weights are summed from ``flat`` instead)."""
    chars: list[str] = []
    for w in flat:
        v = w * _SCALE
        k = int(v)
        if k != v or not -_OFFSET <= k < _OFFSET:
            return None
        chars.append(chr(k + _OFFSET))
    return "".join(chars)


# Compiled, Model._rows finds each position's grams in open-addressing tables held as strings,
# four characters a slot: the gram's three code points (0 before a shorter gram's) and its
# row + 2 (0: an empty slot).  A probe reads one cache line of contiguous characters; a
# dict's lookup of an int key reads its index, its entry, the key object and the value
# object, scattered over the dicts' megabytes: those misses were most of the model's time.
_SLOT: Final = 4
_H: Final = 40503  # (odd, < 2**16; a, b, c < 2**21: the hash stays below 2**54, a short int)


def _hash(a: int, b: int, c: int) -> int:
    """The first slot of the gram with code points a, b, c (before masking)."""
    return (a * _H + b) * _H + c


def _table(grams: dict[tuple[int, int, int], int]) -> tuple[str, int]:
    """``grams`` (code points -> row, or -1) as a string of slots, and its mask."""
    size = 8
    while size < 2 * len(grams):
        size *= 2
    mask = size - 1
    slots = [0] * (size * _SLOT)
    for (a, b, c), row in grams.items():
        i = _hash(a, b, c) & mask
        while slots[i * _SLOT + 3]:
            i = (i + 1) & mask
        slots[i * _SLOT:i * _SLOT + _SLOT] = [a, b, c, row + 2]
    table = "".join(map(chr, slots))
    for (a, b, c), row in grams.items():
        assert _probe(table, mask, a, b, c) == row
    return table, mask


def _probe(table: str, mask: int, a: int, b: int, c: int) -> int:
    """The row of the gram with code points a, b, c in ``table`` (_table); -2 if none."""
    i = _hash(a, b, c) & mask
    while True:
        at = i * _SLOT
        v = ord(table[at + 3])
        if v == 0:
            return -2
        if ord(table[at + 2]) == c and ord(table[at + 1]) == b and ord(table[at]) == a:
            return v - 2
        i = (i + 1) & mask


_LOADED: dict[tuple[str, int, int], Model] = {}


class Model:
    """Weights for every output, the thresholds of :mod:`surveys.understanding.decide`."""

    __slots__ = ("_ac", "_by_position", "_flat", "_masks", "_one", "_packed", "_rule",
                 "_tables", "_three", "_two", "bias", "meta", "thresholds", "weights")

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
            # (as read, for the explanation; the hot path reads them on the grid: _flat)
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
        grams = sorted(g for g in self.weights if g and not g.startswith(("R:", "O:")))
        rules = sorted(g for g in self.weights if g.startswith(("R:", "O:")))
        # one row of _K weights per n-gram (its index in the automaton), then per rule feature
        flat: list[float] = []
        for g in (*grams, *rules):
            flat.extend(on_grid(w) for w in self.weights[g])
        self._rule: dict[str, int] = {g: _K * (len(grams) + i) for i, g in enumerate(rules)}
        self._ac: ahocorasick_rs.AhoCorasick | None = ahocorasick_rs.AhoCorasick(
            grams, matchkind=ahocorasick_rs.MatchKind.Standard,
            store_patterns=True) if grams else None
        # The grams of 1-3 characters ending at one position are the suffixes of the longest
        # one there, so one row per position -- the sum of the rows of that gram's suffixes
        # that are grams -- adds what the automaton's one row per occurrence adds (sums on
        # the grid are exact in any order), with half the rows and no automaton call per
        # reply.  _one/_two/_three: a 1-, 2- or 3-gram -> its row in _flat (-1: none);
        # _two also holds the last two characters of every 3-gram, so that a 2-gram absent
        # there ends no 3-gram.  Keyed by the grams' code points packed in one int (21 bits
        # a character: _key): a slice of the reply would be a new string, hashed, per lookup.
        self._one: dict[int, int] = {}
        self._two: dict[int, int] = {}
        self._three: dict[int, int] = {}
        self._by_position = bool(grams) and all(len(g) <= 3 for g in grams)
        if self._by_position:
            row = {g: _K * i for i, g in enumerate(grams)}
            for tail in {g[1:] for g in grams if len(g) == 3}:
                row.setdefault(tail, -1)
            for g in sorted(row, key=len):
                parts = [row[g[i:]] for i in range(len(g)) if row.get(g[i:], -1) >= 0]
                if len(parts) > 1:  # a row of its own: the sum of its suffixes' rows
                    at = len(flat)
                    flat.extend([sum(flat[r + j] for r in parts) for j in range(_K)])
                    parts = [at]
                (self._one, self._two, self._three)[len(g) - 1][_key(g)] = \
                    parts[0] if parts else -1
        self._flat = flat
        self._packed = _pack(flat) if _COMPILED and self._by_position else None
        # compiled, the grams by position from tables of code points (_probe), not the dicts
        self._tables: tuple[str, str, str] | None = None
        self._masks = (0, 0, 0)
        # (a row + 2 must be a code point: a model of more than 100,000 rows keeps the dicts)
        if _COMPILED and self._by_position and len(flat) + 2 <= 0x10FFFF:
            t1, m1 = _table({(0, 0, k): v for k, v in self._one.items()})
            t2, m2 = _table({(0, k >> _BITS, k & _MASK): v for k, v in self._two.items()})
            t3, m3 = _table({(k >> 2 * _BITS, (k >> _BITS) & _MASK, k & _MASK): v
                             for k, v in self._three.items()})
            self._tables = (t1, t2, t3)
            self._masks = (m1, m2, m3)

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

    def _rows(self, norm: str, features: Iterable[str]) -> list[int]:
        """Where in ``_flat`` the row of each n-gram occurrence and rule feature starts."""
        tables = self._tables
        if tables is not None:
            return self._rows_tables(tables, norm, features)
        rows: list[int] = []
        if self._by_position:
            one, two, three = self._one, self._two, self._three
            k2 = 0  # the last two characters' code points (_key), as j moves on
            for j in range(len(norm)):
                c = ord(norm[j])
                k3 = (k2 << _BITS) | c
                k2 = ((k2 & _MASK) << _BITS) | c
                # the longest gram ending at j (see __init__)
                at = two.get(k2, -2) if j else -2
                if at == -2:
                    at = one.get(c, -1)
                elif j > 1:
                    at = three.get(k3, at)
                if at >= 0:
                    rows.append(at)
        elif self._ac is not None:
            found: list[tuple[int, int, int]] = self._ac.find_matches_as_indexes(
                norm, overlapping=True)
            for i, _, _ in found:
                rows.append(_K * i)
        rule = self._rule
        for f in features:
            r = rule.get(f)
            if r is not None:
                rows.append(r)
        return rows

    def _rows_tables(self, tables: tuple[str, str, str], norm: str,
                     features: Iterable[str]) -> list[int]:
        """:meth:`_rows` by position, each gram found in its table (:func:`_probe`)."""
        t1, t2, t3 = tables
        m1, m2, m3 = self._masks
        rows: list[int] = []
        p2 = p1 = 0  # the code points of the two characters before j
        for j in range(len(norm)):
            c = ord(norm[j])
            # the longest gram ending at j, as in _rows
            at = _probe(t2, m2, 0, p1, c) if j else -2
            if at == -2:
                at = _probe(t1, m1, 0, 0, c)
            elif j > 1:
                at3 = _probe(t3, m3, p2, p1, c)
                if at3 != -2:
                    at = at3
            if at >= 0:
                rows.append(at)
            p2 = p1
            p1 = c
        rule = self._rule
        for f in features:
            r = rule.get(f)
            if r is not None:
                rows.append(r)
        return rows

    def outputs(self, norm: str, features: Iterable[str], score: bool = True
                ) -> tuple[list[float], list[float] | None]:
        """P(flag) for each of :data:`FLAGS`, and P(score class) for each of
        :data:`SCORE_CLASSES` (softmax) unless ``score`` is false (then None: the rules read
        the score exactly and the model's is not needed)."""
        packed = self._packed
        tables = self._tables
        if packed is not None and tables is not None:
            return self._outputs_fused(packed, tables, norm, features, score)
        rows = self._rows(norm, features)
        flat = self._flat
        b = self.bias
        # (sums in locals, unrolled: native doubles once compiled, no list of boxed floats;
        # the weights first, exact, then the bias, as the packed integers had it)
        z0 = z1 = z2 = z3 = z4 = 0.0
        for r in rows:
            z0 += flat[r]
            z1 += flat[r + 1]
            z2 += flat[r + 2]
            z3 += flat[r + 3]
            z4 += flat[r + 4]
        flags = [sigmoid(z0 + b[0]), sigmoid(z1 + b[1]), sigmoid(z2 + b[2]),
                 sigmoid(z3 + b[3]), sigmoid(z4 + b[4])]
        if not score:
            return flags, None
        s0 = s1 = s2 = s3 = s4 = s5 = 0.0
        for r in rows:
            s0 += flat[r + 5]
            s1 += flat[r + 6]
            s2 += flat[r + 7]
            s3 += flat[r + 8]
            s4 += flat[r + 9]
            s5 += flat[r + 10]
        s0 += b[5]
        s1 += b[6]
        s2 += b[7]
        s3 += b[8]
        s4 += b[9]
        s5 += b[10]
        top = max(s0, s1, s2, s3, s4, s5)
        ex = [math.exp(s0 - top), math.exp(s1 - top), math.exp(s2 - top), math.exp(s3 - top),
              math.exp(s4 - top), math.exp(s5 - top)]
        total = sum(ex)
        return flags, [e / total for e in ex]

    def _outputs_fused(self, packed: str, tables: tuple[str, str, str], norm: str,
                       features: Iterable[str], score: bool
                       ) -> tuple[list[float], list[float] | None]:
        """:meth:`outputs` from ``_packed``, each row of :meth:`_rows_tables` added where it is
        found (no list of rows, no boxed int for each).  Whole units of the grid, added as
        ints and scaled once, are the very doubles the float sums give: both are exact."""
        t1, t2, t3 = tables
        m1, m2, m3 = self._masks
        i0 = i1 = i2 = i3 = i4 = 0
        j0 = j1 = j2 = j3 = j4 = j5 = 0
        n = 0  # rows added
        p2 = p1 = 0  # the code points of the two characters before j
        for j in range(len(norm)):
            c = ord(norm[j])
            # the longest gram ending at j, as in _rows_tables
            at = _probe(t2, m2, 0, p1, c) if j else -2
            if at == -2:
                at = _probe(t1, m1, 0, 0, c)
            elif j > 1:
                at3 = _probe(t3, m3, p2, p1, c)
                if at3 != -2:
                    at = at3
            p2 = p1
            p1 = c
            if at < 0:
                continue
            n += 1
            i0 += ord(packed[at])
            i1 += ord(packed[at + 1])
            i2 += ord(packed[at + 2])
            i3 += ord(packed[at + 3])
            i4 += ord(packed[at + 4])
            if score:
                j0 += ord(packed[at + 5])
                j1 += ord(packed[at + 6])
                j2 += ord(packed[at + 7])
                j3 += ord(packed[at + 8])
                j4 += ord(packed[at + 9])
                j5 += ord(packed[at + 10])
        rule = self._rule
        for f in features:
            r = rule.get(f)
            if r is None:
                continue
            # (the same additions as for a gram's row above, written out again: compiled, a
            # call per row would cost more than the row's sums)
            n += 1
            i0 += ord(packed[r])
            i1 += ord(packed[r + 1])
            i2 += ord(packed[r + 2])
            i3 += ord(packed[r + 3])
            i4 += ord(packed[r + 4])
            if score:
                j0 += ord(packed[r + 5])
                j1 += ord(packed[r + 6])
                j2 += ord(packed[r + 7])
                j3 += ord(packed[r + 8])
                j4 += ord(packed[r + 9])
                j5 += ord(packed[r + 10])
        return self._probabilities_of(n * _OFFSET, i0, i1, i2, i3, i4,
                                      (j0, j1, j2, j3, j4, j5) if score else None)

    def _probabilities_of(self, off: int, i0: int, i1: int, i2: int, i3: int, i4: int,
                          js: tuple[int, int, int, int, int, int] | None
                          ) -> tuple[list[float], list[float] | None]:
        """The outputs from the sums of the packed weights (``off``: _OFFSET times the rows)."""
        b = self.bias
        flags = [sigmoid(float(i0 - off) * _UNIT + b[0]),
                 sigmoid(float(i1 - off) * _UNIT + b[1]),
                 sigmoid(float(i2 - off) * _UNIT + b[2]),
                 sigmoid(float(i3 - off) * _UNIT + b[3]),
                 sigmoid(float(i4 - off) * _UNIT + b[4])]
        if js is None:
            return flags, None
        j0, j1, j2, j3, j4, j5 = js
        s0 = float(j0 - off) * _UNIT + b[5]
        s1 = float(j1 - off) * _UNIT + b[6]
        s2 = float(j2 - off) * _UNIT + b[7]
        s3 = float(j3 - off) * _UNIT + b[8]
        s4 = float(j4 - off) * _UNIT + b[9]
        s5 = float(j5 - off) * _UNIT + b[10]
        top = max(s0, s1, s2, s3, s4, s5)
        ex = [math.exp(s0 - top), math.exp(s1 - top), math.exp(s2 - top), math.exp(s3 - top),
              math.exp(s4 - top), math.exp(s5 - top)]
        total = sum(ex)
        return flags, [e / total for e in ex]

    def logits(self, norm: str, features: Iterable[str]) -> list[float]:
        """The 11 raw outputs (log-odds for the flags, class scores for the score)."""
        flat = self._flat
        z = [0.0] * _K
        for r in self._rows(norm, features):
            for j in range(_K):
                z[j] += flat[r + j]
        return [v + b for v, b in zip(z, self.bias, strict=True)]

    def probabilities(self, norm: str, features: Iterable[str]
                      ) -> tuple[dict[str, float], dict[int | None, float]]:
        """P(flag) for each flag and P(score class) (softmax over 1-5 and none)."""
        flags, scores = self.outputs(norm, features)
        assert scores is not None
        return dict(zip(FLAGS, flags, strict=True)), dict(zip(SCORE_VALUES, scores, strict=True))

    def contributions(self, norm: str, features: Iterable[str], output: str,
                      top: int = 5) -> list[tuple[str, float]]:
        """The n-grams and rule features that weigh most for one output (for explanations)."""
        i = OUTPUTS.index(output)
        items = [(g, self.weights[g][i]) for g in set(self.grams_of(norm))]
        items += [(f, self.weights[f][i]) for f in features if f in self.weights]
        # (ties by name: a set's order changes from one process to the next)
        items.sort(key=lambda x: (-abs(x[1]), x[0]))
        return items[:top]
