"""The learned model's sums: one row per position adds exactly what one row per n-gram
occurrence adds (surveys/understanding/model.py, ``Model._rows``).

The reference is the definition: every occurrence of every n-gram of the model in the reply
(``grams_of``, the automaton) and every rule feature, each adding its weights on the grid,
then the bias.  Sums on the grid are exact, so the two must agree to the last bit -- for the
shipped model and for a small one whose n-grams overlap in every way (a 3-gram without its
2-gram suffix, a 2-gram only inside 3-grams, ...).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.understanding.model import FORMAT, OUTPUTS, Model, on_grid


def reference(model: Model, norm: str, features: list[str]) -> list[float]:
    """The 11 logits by the definition: each n-gram occurrence and rule feature, then bias."""
    z = [0.0] * len(OUTPUTS)
    for g in [*model.grams_of(norm), *(f for f in features if f in model.weights)]:
        for j, w in enumerate(model.weights[g]):
            z[j] += on_grid(w)
    return [v + b for v, b in zip(z, model.bias, strict=True)]


def _small() -> Model:
    grams = ["a", "b", "ab", "bc", "abc", "cab", "xyz", "yz", "q", "满意", "不满意", "意"]
    weights = {g: [((i * 7 + j * 3) % 11 - 5) * 0.37 for j in range(len(OUTPUTS))]
               for i, g in enumerate(grams)}
    weights["R:digit"] = [0.5] * len(OUTPUTS)
    return Model({"format": FORMAT, "outputs": list(OUTPUTS), "bias": [0.1] * len(OUTPUTS),
                  "thresholds": {}, "weights": weights})


SMALL = _small()
SHIPPED = Model.load()
ALPHABET = "abcxyzq满意不 ，5"


@pytest.mark.parametrize("text", [
    "", "a", "abc", "cabc", "xyz", "zyz", "abcab", "不满意", "满意不满意", "q q", "ccc"])
def test_small_model_table(text: str) -> None:
    assert SMALL.logits(text, ["R:digit", "R:none"]) == reference(SMALL, text, ["R:digit"])


@given(st.text(alphabet=ALPHABET, max_size=40))
@settings(max_examples=400, deadline=None)
def test_small_model_any_text(text: str) -> None:
    assert SMALL.logits(text, []) == reference(SMALL, text, [])


@given(st.lists(st.sampled_from(sorted(g for g in SHIPPED.weights
                                       if not g.startswith(("R:", "O:")))), max_size=12),
       st.text(max_size=6))
@settings(max_examples=300, deadline=None)
def test_shipped_model_grams_and_any_text(grams: list[str], noise: str) -> None:
    text = noise.join(grams)
    feats = ["O:score=none", "R:digit", "O:complaint"]
    got = SHIPPED.logits(text, feats)
    assert got == reference(SHIPPED, text, feats)
    assert all(math.isfinite(x) for x in got)


def test_longer_grams_take_the_automaton() -> None:
    """A model with n-grams beyond 3 characters (not what `survey-bot train` writes) is
    scored occurrence by occurrence, as before."""
    data = {"format": FORMAT, "outputs": list(OUTPUTS), "bias": [0.0] * len(OUTPUTS),
            "thresholds": {}, "weights": {g: [0.25 * (i + 1)] * len(OUTPUTS)
                                          for i, g in enumerate(["abca", "ab", "a"])}}
    model = Model(data)
    for text in ("abcabca", "", "xx", "aaaa"):
        assert model.logits(text, []) == reference(model, text, [])


# grams looked up by their packed code points (Model._rows): a NUL before a character (whose
# 2-gram key is the character's own), the top of Unicode (a 3-gram key past 63 bits) and
# characters on either side of the BMP
_EDGE = ["\x00", "a", "\x00a", "a\x00", "\U0010ffff", "\U0010ffffa", "\U0010ffff\U0010ffffa",
         "😀", "😀😀", "a😀\x00", "\uffff", "\uffffa"]
EDGE = Model({"format": FORMAT, "outputs": list(OUTPUTS), "bias": [0.0] * len(OUTPUTS),
              "thresholds": {}, "weights": {g: [(i % 5 - 2) * 0.75 + 0.125 * j
                                                for j in range(len(OUTPUTS))]
                                            for i, g in enumerate(_EDGE)}})


@given(st.text(alphabet="\x00a\U0010ffff😀\uffffb", max_size=30))
@settings(max_examples=300, deadline=None)
def test_code_point_edges(text: str) -> None:
    assert EDGE.logits(text, []) == reference(EDGE, text, [])
