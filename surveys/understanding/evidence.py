"""What a reply means (:class:`Interpretation`) and why (:class:`Evidence`).

Both are frozen: the parser returns the same object for the same common reply.  They are
built through their slots (:func:`make_ev`, :func:`new_interpretation`), which costs half
of what the generated ``__init__`` does and is a measurable share of a parse.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Final


@dataclass(frozen=True, slots=True)
class Evidence:
    """One rule that matched a span of the normalised reply."""

    rule: str
    span: tuple[int, int]
    text: str
    value: int | None = None
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "rule": self.rule,
            "span": [self.span[0], self.span[1]],
            "text": self.text,
            "value": self.value,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Interpretation:
    """What a reply means, with the evidence for every decision."""

    score: int | None
    opt_out: bool
    complaint: bool
    dispute: bool  # threatens to take it further (surveys.understanding.dispute); a complaint
    red_flag: bool
    question: bool
    confidence: float
    needs_confirmation: bool
    candidate: int | None
    out_of_range: int | None
    wrong_number: bool
    deceased: bool
    opt_out_unsure: bool  # a stop only the unsure rules or the model see: the engine asks first
    affirmative: bool
    negative: bool
    comment: str
    evidence: tuple[Evidence, ...]
    normalized: str

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict; the six contract keys come first."""
        return {
            "score": self.score,
            "opt_out": self.opt_out,
            "complaint": self.complaint,
            "dispute": self.dispute,
            "red_flag": self.red_flag,
            "question": self.question,
            "confidence": self.confidence,
            "needs_confirmation": self.needs_confirmation,
            "candidate": self.candidate,
            "out_of_range": self.out_of_range,
            "wrong_number": self.wrong_number,
            "deceased": self.deceased,
            "opt_out_unsure": self.opt_out_unsure,
            "affirmative": self.affirmative,
            "negative": self.negative,
            "comment": self.comment,
            "evidence": [e.to_dict() for e in self.evidence],
            "normalized": self.normalized,
        }

    def explain(self) -> str:
        """Multi-line, human-readable account of the decision (for ``survey-bot parse``)."""
        from surveys.understanding.explain import describe  # (it imports this module)

        return describe(self)


SPAN: Final = attrgetter("span")
# A frozen dataclass's generated __init__ sets each of the 18 fields through
# object.__setattr__, which is a tenth of the cost of a whole parse.  Setting the slots
# through their descriptors gives the same immutable object about twice as fast.
_INTERPRETATION_SETTERS: Final = tuple(
    getattr(Interpretation, f.name).__set__ for f in fields(Interpretation))
_INTERPRETATION_FIELDS: Final = (
    "score", "opt_out", "complaint", "dispute", "red_flag", "question", "confidence",
    "needs_confirmation", "candidate", "out_of_range", "wrong_number", "deceased",
    "opt_out_unsure",
    "affirmative", "negative", "comment", "evidence", "normalized")
assert tuple(f.name for f in fields(Interpretation)) == _INTERPRETATION_FIELDS


# Compiled by mypyc (surveys/native.py), the dataclasses are native classes that refuse
# object.__new__, and their generated __init__ stays interpreted (ten times dearer than a
# native one); compiled code instead writes the native fields directly, which bypasses the
# frozen __setattr__ exactly as the setters below do.
_COMPILED: Final = not __file__.endswith(".py")


def new_interpretation(
        score: int | None,
        opt_out: bool,
        complaint: bool,
        dispute: bool,
        red_flag: bool,
        question: bool,
        confidence: float,
        needs_confirmation: bool,
        candidate: int | None,
        out_of_range: int | None,
        wrong_number: bool,
        deceased: bool,
        opt_out_unsure: bool,
        affirmative: bool,
        negative: bool,
        comment: str,
        evidence: tuple[Evidence, ...],
        normalized: str) -> Interpretation:
    """``Interpretation(...)`` without its per-field ``object.__setattr__`` calls."""
    if _COMPILED:
        obj = Interpretation.__new__(Interpretation)
        obj.score = score  # type: ignore[misc]
        obj.opt_out = opt_out  # type: ignore[misc]
        obj.complaint = complaint  # type: ignore[misc]
        obj.dispute = dispute  # type: ignore[misc]
        obj.red_flag = red_flag  # type: ignore[misc]
        obj.question = question  # type: ignore[misc]
        obj.confidence = confidence  # type: ignore[misc]
        obj.needs_confirmation = needs_confirmation  # type: ignore[misc]
        obj.candidate = candidate  # type: ignore[misc]
        obj.out_of_range = out_of_range  # type: ignore[misc]
        obj.wrong_number = wrong_number  # type: ignore[misc]
        obj.deceased = deceased  # type: ignore[misc]
        obj.opt_out_unsure = opt_out_unsure  # type: ignore[misc]
        obj.affirmative = affirmative  # type: ignore[misc]
        obj.negative = negative  # type: ignore[misc]
        obj.comment = comment  # type: ignore[misc]
        obj.evidence = evidence  # type: ignore[misc]
        obj.normalized = normalized  # type: ignore[misc]
        return obj
    obj = object.__new__(Interpretation)
    (s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14,
     s15, s16, s17) = _INTERPRETATION_SETTERS
    # unrolled: a zip loop over 18 fields costs a measurable share of a whole parse
    s0(obj, score)
    s1(obj, opt_out)
    s2(obj, complaint)
    s3(obj, dispute)
    s4(obj, red_flag)
    s5(obj, question)
    s6(obj, confidence)
    s7(obj, needs_confirmation)
    s8(obj, candidate)
    s9(obj, out_of_range)
    s10(obj, wrong_number)
    s11(obj, deceased)
    s12(obj, opt_out_unsure)
    s13(obj, affirmative)
    s14(obj, negative)
    s15(obj, comment)
    s16(obj, evidence)
    s17(obj, normalized)
    return obj


_EVIDENCE_SETTERS: Final = tuple(getattr(Evidence, f.name).__set__ for f in fields(Evidence))
assert tuple(f.name for f in fields(Evidence)) == ("rule", "span", "text", "value", "note")


def make_ev(rule: str, span: tuple[int, int], text: str, value: int | None = None,
        note: str = "") -> Evidence:
    """``Evidence(...)`` built through the slot descriptors (see new_interpretation)."""
    if _COMPILED:
        ev = Evidence.__new__(Evidence)
        ev.rule = rule  # type: ignore[misc]
        ev.span = span  # type: ignore[misc]
        ev.text = text  # type: ignore[misc]
        ev.value = value  # type: ignore[misc]
        ev.note = note  # type: ignore[misc]
        return ev
    obj: Evidence = object.__new__(Evidence)
    s_rule, s_span, s_text, s_value, s_note = _EVIDENCE_SETTERS
    s_rule(obj, rule)
    s_span(obj, span)
    s_text(obj, text)
    s_value(obj, value)
    s_note(obj, note)
    return obj
