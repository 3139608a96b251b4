"""Where the rules stay exact, where the learned model decides, and where it is unsure.

The rules (``surveys.understanding.rules``) read a reply first; their evidence becomes
features of the model (:func:`features_of`), and :func:`combine` then settles each label:

* **score** -- an explicit number, a star count or a corrected score is exact: the rules keep
  it (units, ranges, "4.5" and out-of-range numbers are theirs too).  Otherwise (words,
  dialect, sarcasm, litotes, emoji) the model's 6-way class decides when it is confident;
  when it is not, and it or the rules see a score, the engine confirms the lower one.
* **red_flag** -- recall first: a red flag the rules raise always stands (only their own
  denial and resolution logic -- "没有发烧", "已经不发烧了" -- keeps a symptom from being one;
  a greeting, a score or a question form around it must not, and the model's n-grams of
  those could); the model adds one where its probability reaches the threshold, never over a
  symptom the rules found denied, resolved or hypothetical (negation scope is exact).
* **opt_out** -- a stop keyword of the rules stands; the model adds *unsure* opt-outs (the
  engine asks before stopping) and may drop the rules' unsure ones; a denied stop ("不是要
  退订") stays denied.
* **complaint**, **question** -- the model decides, the rules' evidence among its features;
  money owed back and late (a deposit, a refund: "押金退得特别慢") is a complaint that stands.
* **dispute** -- the rules' cue or the model; a dispute is always also a complaint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final, Protocol

from surveys.understanding.model import FLAGS, SCORE_VALUES

# score evidence that is exact: the rules' number, not a model's guess
EXACT_SCORE_RULES: Final = frozenset({
    "digit", "chinese_numeral", "fullwidth_digit", "star_emoji", "fraction", "corrected",
    "ambiguous", "out_of_range", "per_item", "scaled", "likert_sarcasm", "likert_denied",
    "acceptance"})
_NOTE_OK: Final = re.compile(r"[^0-9]{1,40}")
MILD_BAR: Final = 0.9
_NOTE_SKIP: Final = ("learned tier",)


class _Ev(Protocol):
    @property
    def rule(self) -> str: ...
    @property
    def note(self) -> str: ...


class _Interp(Protocol):
    """What :func:`features_of` reads of a ``surveys.understanding.evidence.Interpretation``."""

    @property
    def score(self) -> int | None: ...
    @property
    def opt_out(self) -> bool: ...
    @property
    def complaint(self) -> bool: ...
    @property
    def dispute(self) -> bool: ...
    @property
    def red_flag(self) -> bool: ...
    @property
    def question(self) -> bool: ...
    @property
    def needs_confirmation(self) -> bool: ...
    @property
    def candidate(self) -> int | None: ...
    @property
    def out_of_range(self) -> int | None: ...
    @property
    def wrong_number(self) -> bool: ...
    @property
    def deceased(self) -> bool: ...
    @property
    def opt_out_unsure(self) -> bool: ...
    @property
    def evidence(self) -> Iterable[_Ev]: ...


def features_of(interp: _Interp) -> list[str]:
    """The rules' reading of a reply as model features (see ``model.rule_features``)."""
    rules: set[str] = set()
    for e in interp.evidence:
        # (the same string object every time: its hash is kept for Model._rows' lookup)
        feature = _RULE_FEATURE.get(e.rule)
        if feature is None:
            feature = "R:" + e.rule
            if len(_RULE_FEATURE) < 4096:
                _RULE_FEATURE[e.rule] = feature
        rules.add(feature)
        note = e.note
        if note:
            ok = _NOTE_CACHE.get(note)
            if ok is None:
                ok = _NOTE_OK.fullmatch(note) is not None and not note.startswith(_NOTE_SKIP)
                if len(_NOTE_CACHE) < 4096:
                    _NOTE_CACHE[note] = ok
            if ok:
                rules.add(f"R:{e.rule}:{note}")
    out = sorted(rules)
    # (attributes read directly, one test each: the order is FLAGS', then the other labels')
    if interp.opt_out:
        out.append("O:opt_out")
    if interp.complaint:
        out.append("O:complaint")
    if interp.dispute:
        out.append("O:dispute")
    if interp.red_flag:
        out.append("O:red_flag")
    if interp.question:
        out.append("O:question")
    if interp.needs_confirmation:
        out.append("O:needs_confirmation")
    if interp.wrong_number:
        out.append("O:wrong_number")
    if interp.deceased:
        out.append("O:deceased")
    if interp.opt_out_unsure:
        out.append("O:opt_out_unsure")
    if interp.out_of_range is not None:
        out.append("O:out_of_range")
    score = interp.score
    out.append("O:score=none" if score is None else
               _SCORE_FEATURE[score] if 1 <= score <= 5 else f"O:score={score}")
    return out


_NOTE_CACHE: dict[str, bool] = {}
_RULE_FEATURE: dict[str, str] = {}
_SCORE_FEATURE: Final = ("", "O:score=1", "O:score=2", "O:score=3", "O:score=4", "O:score=5")
assert FLAGS == ("opt_out", "complaint", "dispute", "red_flag", "question")
# below this the model may clear a question the rules read
QUESTION_DROP: Final = 0.3


class Decision:
    """The combined labels and what the model said, for the explanation.

    (A plain class: compiled, a dataclass keeps an interpreted ``__init__`` that cost a
    twentieth of a whole parse.)
    """

    __slots__ = ("candidate", "changed", "complaint", "dispute", "needs_confirmation",
                 "opt_out", "opt_out_unsure", "p_flag_list", "p_score_list", "question",
                 "red_flag", "score")

    def __init__(self, score: int | None, needs_confirmation: bool, candidate: int | None,
                 opt_out: bool, opt_out_unsure: bool, complaint: bool, dispute: bool,
                 red_flag: bool, question: bool, p_flag_list: list[float],
                 p_score_list: list[float] | None, changed: tuple[str, ...]) -> None:
        self.score = score
        self.needs_confirmation = needs_confirmation
        self.candidate = candidate
        self.opt_out = opt_out
        self.opt_out_unsure = opt_out_unsure
        self.complaint = complaint
        self.dispute = dispute
        self.red_flag = red_flag
        self.question = question
        self.p_flag_list = p_flag_list      # in the order of FLAGS
        self.p_score_list = p_score_list    # of SCORE_VALUES; None when the rules' score held
        self.changed = changed  # labels the model set or cleared, against the rules

    @property
    def p_flags(self) -> dict[str, float]:
        """P(flag) of each flag."""
        return dict(zip(FLAGS, self.p_flag_list, strict=True))

    @property
    def p_score(self) -> dict[int | None, float]:
        """P(score class) of each score (1-5, None), or {} when the model was not asked."""
        if self.p_score_list is None:
            return {}
        return dict(zip(SCORE_VALUES, self.p_score_list, strict=True))


class Scorer(Protocol):
    """What :func:`combine` needs of a model (a :class:`Model`, or a stand-in in training)."""

    thresholds: dict[str, float]

    def outputs(self, norm: str, features: Iterable[str], score: bool = True
                ) -> tuple[list[float], list[float] | None]: ...


def combine(interp: _Interp, model: Scorer, norm: str, features: list[str] | None = None,
            all_outputs: bool = False) -> Decision:
    """Settle every label from the rules' reading and the model's probabilities.

    ``all_outputs``: ask the model for the score's probabilities even when the rules read
    the score exactly (for the explanation; they cannot change the decision then).
    """
    feats = features if features is not None else features_of(interp)
    rules = {e.rule for e in interp.evidence}
    # exact: a number the rules read (or judged no rating: "等了2个小时", "iphone 5"), a
    # correction, a scale, an unsure form they will confirm, a death or a wrong number
    exact = bool(rules & EXACT_SCORE_RULES) or interp.needs_confirmation or \
        interp.wrong_number or interp.deceased or \
        any(r.startswith("not_a_score") for r in rules)
    pf, pss = model.outputs(norm, feats, all_outputs or not exact)
    p_opt, p_complaint, p_dispute, p_red, p_question = pf
    t = model.thresholds
    changed: list[str] = []

    # score
    score, confirm = interp.score, interp.needs_confirmation
    candidate = interp.candidate
    if not exact and pss is not None:
        # (the first of the most probable classes, as max() over SCORE_VALUES would give)
        best_i = pss.index(max(pss))
        best = SCORE_VALUES[best_i]
        if pss[best_i] >= t.get("score", 0.5):
            if best != score or confirm:
                changed.append("score")
            score, confirm, candidate = best, False, best
        elif best is not None or score is not None:
            # unsure: confirm the lower of the two readings (never inflate satisfaction)
            seen = [x for x in (best, score) if x is not None]
            if score is None or (best is not None and best != score):
                changed.append("score")
                score, confirm, candidate = None, True, min(seen)

    # red flag (recall first): the model may add one, never clear one the rules raised (a
    # missed warning costs far more than a read one; and the n-grams of a greeting, a score
    # or traditional characters around a symptom once outweighed it: "發燒了怎麼辦，5分")
    red_flag = interp.red_flag
    if not red_flag and "red_flag_denied" not in rules and p_red >= t.get("red_flag", 0.5):
        red_flag = True
        changed.append("red_flag")

    # opt-out: keywords exact, the model's own additions unsure
    opt_out, unsure = interp.opt_out, interp.opt_out_unsure
    if opt_out and unsure and p_opt < t.get("opt_out_drop", 0.0):
        opt_out = unsure = False
        changed.append("opt_out")
    elif not opt_out and "opt_out_denied" not in rules and not red_flag and \
            p_opt >= t.get("opt_out", 0.5):
        opt_out = unsure = True
        changed.append("opt_out")

    # (a cue the rules explained away -- denied, taken back, praise -- stays away)
    dispute = interp.dispute or ("dispute_denied" not in rules and
                                 p_dispute >= t.get("dispute", 0.5))
    # a mild remark beside a good score is no complaint (docs/labels.md): only a model very
    # sure of one overrides that
    mild_only = "complaint_mild" in rules and "complaint" not in rules
    bar = max(t.get("complaint", 0.5), MILD_BAR) if mild_only and score is not None and \
        score >= 4 else t.get("complaint", 0.5)
    # money owed back to the person and late ("押金退得特别慢") is a complaint the rules hold
    # exact, as a red flag: the model's n-grams of a short reply once outweighed it
    complaint = dispute or "complaint_owed" in rules or p_complaint >= bar
    # A question the rules read ("…吗", "怎么办", "几点") stays one unless the model is fairly
    # sure it is not (as with an opt-out): a question nobody answers is the costlier mistake.
    question = p_question >= (min(t.get("question", 0.5), t.get("question_drop", QUESTION_DROP))
                              if interp.question else t.get("question", 0.5))
    if dispute != interp.dispute:
        changed.append("dispute")
    if complaint != interp.complaint:
        changed.append("complaint")
    if question != interp.question:
        changed.append("question")
    return Decision(score, confirm, candidate if confirm or score is not None else None,
                    opt_out, unsure, complaint, dispute, red_flag, question, pf, pss,
                    tuple(changed))
