"""The explanation of a decision: the rules' evidence, what the model changed and why.

:func:`describe` is ``Interpretation.explain()``; :func:`with_decision` records each label
the learned model changed as ``model`` evidence with its probability; :func:`explain_model`
adds, for ``survey-bot parse``, every label's probability, threshold and the n-grams or
rule features that weigh most.
"""

from __future__ import annotations

from surveys.understanding.decide import Decision, combine, features_of
from surveys.understanding.evidence import Interpretation, make_ev, new_interpretation
from surveys.understanding.model import Model


def describe(interp: Interpretation) -> str:
    """Multi-line, human-readable account of the rules' and the model's decision."""
    lines = [f"normalized: {interp.normalized!r}"]
    if interp.score is not None:
        lines.append(f"score: {interp.score} (confidence {interp.confidence:.2f})")
    elif interp.needs_confirmation:
        lines.append(f"score: unsure, confirm {interp.candidate} (confidence "
                     f"{interp.confidence:.2f})")
    elif interp.out_of_range is not None:
        lines.append(f"score: none; {interp.out_of_range} is outside 1-5")
    else:
        lines.append("score: none")
    flags = [name for name in ("opt_out", "complaint", "dispute", "red_flag", "question",
                               "wrong_number", "deceased", "opt_out_unsure", "affirmative",
                               "negative")
             if getattr(interp, name)]
    lines.append("flags: " + (", ".join(flags) if flags else "none"))
    if interp.comment:
        lines.append(f"comment: {interp.comment!r}")
    if not interp.evidence:
        lines.append("evidence: nothing matched")
    else:
        lines.append("evidence:")
        for e in interp.evidence:
            vote = f" -> {e.value}" if e.value is not None else ""
            note = f"  ({e.note})" if e.note else ""
            lines.append(f"  [{e.span[0]}:{e.span[1]}] {e.rule} {e.text!r}{vote}{note}")
    return "\n".join(lines)


def with_decision(interp: Interpretation, d: Decision) -> Interpretation:
    """The rules' reading with the labels the model changed, each with ``model`` evidence
    saying what it changed and its probability."""
    ev = list(interp.evidence)
    span = (0, len(interp.normalized))
    for label in d.changed:
        if label == "score":
            p = d.p_score.get(d.score if d.score is not None else d.candidate, 0.0)
            shown = d.score if d.score is not None else d.candidate
            ev.append(make_ev("model", span, label, shown,
                          f"score {'unsure, confirm' if d.needs_confirmation else 'is'} "
                          f"{shown}: p {p:.2f}"))
        else:
            now = getattr(d, label)
            ev.append(make_ev("model", span, label, None,
                          f"{label} {'set' if now else 'cleared'}: p {d.p_flags[label]:.2f}"
                          + ("; confirm before stopping" if label == "opt_out" and now
                             else "")))
    i = interp
    return new_interpretation(
        d.score, d.opt_out or i.deceased or i.wrong_number, d.complaint, d.dispute, d.red_flag,
        d.question, i.confidence if "score" not in d.changed else 0.5, d.needs_confirmation,
        d.candidate, i.out_of_range, i.wrong_number, i.deceased, d.opt_out_unsure,
        i.affirmative, i.negative, i.comment, tuple(ev), i.normalized)


def explain_model(interp: Interpretation, rules: Interpretation | None,
                   model: Model | None) -> str:
    """``interp.explain()`` and, for every label, the model's probability, its threshold
    and what weighs most (``rules``: the rules' own reading, before the model)."""
    lines = [interp.explain()]
    if model is None or rules is None:
        lines.append("model: off (the rules alone)")
        return "\n".join(lines)
    feats = features_of(rules)
    d = combine(rules, model, rules.normalized, feats, all_outputs=True)
    t = model.thresholds
    lines.append("model (probabilities; threshold; what weighs most):")
    for label in ("opt_out", "complaint", "dispute", "red_flag", "question"):
        top = ", ".join(f"{g!r} {w:+.1f}" for g, w in
                        model.contributions(rules.normalized, feats, label, 4))
        lines.append(f"  {label:<9} p {d.p_flags[label]:.2f} (>= {t.get(label, 0.5):.2f}; "
                     f"rules: {'yes' if getattr(rules, label) else 'no'})  {top}")
    best = max(d.p_score, key=d.p_score.__getitem__)
    lines.append(f"  score     {best if best is not None else 'none'} p "
                 f"{d.p_score[best]:.2f} (>= {t.get('score', 0.5):.2f}; kept from the rules "
                 "when they read an explicit number)")
    return "\n".join(lines)
