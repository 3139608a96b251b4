"""Reply parser: free text from a patient or parent -> score, flags and the evidence for them.

Pure, I/O-free and context-free: it does not know which question was asked; the conversation
engine decides what to do with the fields.  :class:`ReplyParser` precompiles everything
once; use the module-level :func:`parse` for the default lexicon.

A parse reads, in order: numbers (``numbers``), the rules of each concern found by the
lexicon and the composed tables (``redflag``, ``optout``, ``contact``, ``complaint``,
``questions``, ``dispute``) with their exclusions (``safety`` and each module's own),
rating words and the score (``scores``).  Every rule that fires leaves evidence.  Then the
learned model (``model``, ``decide``: docs/understanding.md) settles every label from the
rules' evidence and the reply's n-grams, within what the rules hold exact; the meaning of
each label is docs/labels.md.  Very long replies are cut to a head and a tail before matching
(``normalize``), so the cost per reply is bounded.
"""

from __future__ import annotations

import contextlib
import re
from typing import Final

from surveys.lexicon import Lexicon
from surveys.understanding.complaint import (
    CMP_PARTS,
    VERDICT_MILD,
    VERDICT_NONE,
    complaint_hits,
    complaint_verdict,
    money_owed,
)
from surveys.understanding.compose import factor, pattern_regex, trie_regex
from surveys.understanding.contact import (
    contact_hits,
    death_averted,
    switch_stands,
    wrong_number_why,
)
from surveys.understanding.decide import combine, features_of
from surveys.understanding.dispute import DisputeRules
from surveys.understanding.evidence import (
    SPAN,
    Evidence,
    Interpretation,
    make_ev,
    new_interpretation,
)
from surveys.understanding.explain import explain_model, with_decision
from surveys.understanding.model import Model
from surveys.understanding.normalize import normalize
from surveys.understanding.numbers import FULLWIDTH_RE, Cand, read_numbers
from surveys.understanding.optout import (
    OPB_STOP_RE,
    OPT_COMPOSED_RE,
    OPT_EN_END_RE,
    OPT_EN_RE,
    RAW_OPT_OUT,
    UNSURE_STOP_RE,
    keyword_why,
    optout_hits,
    settle_opt_out,
)
from surveys.understanding.questions import (
    EN_Q_START_RE,
    Q_COMPOSED_RE,
    not_asked,
    question_hits,
    settle_question,
)
from surveys.understanding.redflag import (
    FAREWELL_GATE_RE,
    RF_PARTS,
    RFB_RE,
    SELF_HARM_RE,
    precise_why,
    read_broad,
    redflag_hits,
)
from surveys.understanding.safety import cues_of
from surveys.understanding.scores import (
    answers,
    comment_of,
    likert_words,
    read_acceptance,
    read_likert,
    settle_score,
)
from surveys.understanding.text import NONWORD_RE, PARTICLES, Gates, Scan, first_matches, word_chars

# bit i of Gates.bits(): the i-th search of ReplyParser._gates may match
_MAY_PATTERNS: Final = 1
_MAY_RF_A: Final = 2
_MAY_RF_B: Final = 4
_MAY_RF_C: Final = 8
_MAY_OPT: Final = 16
_MAY_Q: Final = 32
_MAY_CMP_A: Final = 64
_MAY_CMP_B: Final = 128
_MAY_RFB: Final = 256
_MAY_OPB: Final = 512
_MAY_UNSURE: Final = 1024
_MAY_FAREWELL: Final = 2048
_MAY_SELF_HARM: Final = 4096


def _joins(neighbour: str, edge: str) -> bool:
    """Whether ``neighbour`` continues the word whose first or last character is ``edge``
    (an ASCII entry's edge: a letter joins only ASCII letters and digits)."""
    if not edge.isalnum():
        return False
    if edge.isalpha():
        return neighbour.isascii() and neighbour.isalnum()
    return neighbour.isalnum()


class ReplyParser:
    """Parses replies with a fixed lexicon; build once, call :meth:`parse` many times."""

    __slots__ = ("_anchored", "_body_re", "_canned", "_change_ac", "_dispute", "_gates",
                 "_lex_ac",
                 "_lex_kind", "_likert", "_likert_ac", "_pat_by_head", "_pat_gate_re",
                 "_pat_head_re", "_recall")

    def __init__(self, lexicon: Lexicon | None = None,
                 recall: Model | bool | None = True) -> None:
        """``recall``: the learned model (True: the shipped one; False/None: the rules alone;
        or a :class:`surveys.understanding.model.Model`, e.g. an organisation's retrained
        one; see surveys/understanding/decide.py for how it settles each label)."""
        self._recall: Model | None = Model.load() if recall is True else recall or None
        lex = lexicon or Lexicon.default()
        self._dispute = DisputeRules(lex.dispute)
        # literal entries -> one trie regex; "A*B" entries -> one regex with a group each;
        # "^x$" entries -> a set compared with the whole reply.
        self._lex_kind: dict[str, list[tuple[str, bool]]] = {}
        self._anchored: dict[str, list[tuple[str, bool]]] = {}
        patterns: list[tuple[str, re.Pattern[str], str, bool]] = []
        for kind in ("opt_out", "deceased", "wrong_number", "red_flag", "complaint", "question"):
            for raw in getattr(lex, kind):
                mild = kind == "complaint" and raw.startswith("~")
                entry = normalize(raw[1:] if mild else raw)
                if not entry:
                    continue
                if entry.startswith("^") and entry.endswith("$") and len(entry) > 2:
                    key = NONWORD_RE.sub("", entry[1:-1])
                    self._anchored.setdefault(key, []).append((kind, mild))
                elif "*" in entry.strip("*"):
                    entry = entry.strip("*")
                    patterns.append((entry.split("*", 1)[0], re.compile(pattern_regex(entry)),
                                     kind, mild))
                else:
                    entry = entry.strip("*")
                    self._lex_kind.setdefault(entry, []).append((kind, mild))
        # literal entries: one Aho-Corasick pass (see Scan)
        self._lex_ac = Scan({w: (w, tuple(k)) for w, k in self._lex_kind.items()})
        # "A*B" patterns: a trie over their first literal parts finds the few places worth
        # trying; one alternation of all patterns would be tried at every position (slow).
        heads = {h for h, _, _, _ in patterns}
        # a lookahead, so that heads may overlap: "我不是*病人" must not hide "不是*的家长"
        self._pat_head_re = re.compile("(?=(" + trie_regex(heads) + "))")
        # One search over every pattern first: most replies match none, and one failed search
        # is far cheaper than visiting each head ("不", "医生", "人" ...) in Python.
        gate = "|".join(rx.pattern for _, rx, _, _ in patterns) or "(?!)"
        with contextlib.suppress(ValueError):  # an entry starting with a metacharacter:
            gate = factor(gate)                # keep it unfactored
        self._pat_gate_re = re.compile(gate)
        # the searches _rules makes on every reply: bit i of _gates.bits() is the i-th here
        # (the _MAY_* bits below)
        self._gates = Gates((self._pat_gate_re, *RF_PARTS, OPT_COMPOSED_RE, Q_COMPOSED_RE,
                              *CMP_PARTS, RFB_RE, OPB_STOP_RE, UNSURE_STOP_RE,
                              FAREWELL_GATE_RE, SELF_HARM_RE))
        self._pat_by_head: dict[str, list[tuple[re.Pattern[str], str, bool]]] = {
            h: [(rx, k, mild) for ph, rx, k, mild in patterns if h.startswith(ph)]
            for h in heads
        }
        # composed red flags: a change word found first, then a body word just before it
        self._change_ac = Scan(
            {w: w for w in (normalize(x) for x in lex.red_flag_change) if w})
        self._body_re = re.compile(trie_regex(
            w for w in (normalize(x) for x in lex.red_flag_body) if w))

        self._likert = likert_words()
        self._likert_ac = Scan({w: (w, *v) for w, v in self._likert.items()})
        # Fast path: the replies people send most often, parsed once by the full path.
        self._canned: dict[str, Interpretation] = {}
        common = [str(i) for i in range(1, 6)] + [f"{i}分" for i in range(1, 6)]
        common += [f"{c}分" for c in "一二两三四五"] + list("一二三四五")
        common += [
            "满意", "非常满意", "很满意", "比较满意", "挺满意的", "挺满意", "一般", "还行",
            "还可以", "不满意", "不太满意", "非常不满意", "很差", "很好", "挺好的", "不错", "好",
            "好的", "是", "是的", "嗯", "嗯嗯", "对", "对的", "不是", "谢谢", "收到", "td",
            "退订", "👍", "[强]", "⭐⭐⭐⭐⭐", "满分", "五星好评", "5星", "五星", "谢谢医生",
            "满意。", "5。", "非常满意。", "ok", "好的谢谢", "满意谢谢", "非常满意谢谢",
        ]
        for text in common:
            interp = self._parse(text, text)
            self._canned[interp.normalized] = interp

    def parse(self, text: str) -> Interpretation:
        """Interpret one reply.  Never raises for any ``str`` input."""
        hit = self._canned.get(text)
        if hit is not None:
            return hit
        norm = normalize(text)
        hit = self._canned.get(norm)
        # full-width digits take the full path so their evidence says "fullwidth_digit"
        if hit is not None and (text.isascii() or FULLWIDTH_RE.search(text) is None):
            return hit
        return self._parse(text, norm)

    # -- the full path ---------------------------------------------------------------------


    # -- the full path ---------------------------------------------------------------------

    def _parse(self, raw: str, norm: str) -> Interpretation:
        """The rules, then the learned model settles each label (surveys.understanding)."""
        interp = self._rules(raw, norm)
        model = self._recall
        if model is None:
            return interp
        d = combine(interp, model, interp.normalized, features_of(interp))
        if not d.changed:
            return interp
        return with_decision(interp, d)

    def explain(self, text: str) -> str:
        """:meth:`Interpretation.explain` of ``text`` with the model's view of every label."""
        interp = self.parse(text)
        model = self._recall
        if model is None:
            return explain_model(interp, None, None)
        return explain_model(interp, self._rules(text, normalize(text)), model)

    def _hits(self, raw: str, norm: str, core: str, core_stripped: str,
              may: int) -> list[tuple[str, bool, int, int]]:
        """Every rule's hit, as (kind, mild, start, end): the lexicon's words and patterns,
        then each concern's composed rules (the order is the evidence's on equal spans)."""
        n = len(norm)
        lex_hits: list[tuple[str, bool, int, int]] = []
        lex_values = self._lex_ac.values
        for i, s, e in self._lex_ac.scan(norm):
            word, kinds = lex_values[i]
            # ASCII entries ("stop", "12345") must not match inside longer words or numbers;
            # a letter ends a word where Chinese begins ("chu xue怎么办": no space is typed
            # between pinyin and characters), a digit does not ("打12345": a number's edge
            # stays as it was)
            if word.isascii() and ((s > 0 and _joins(norm[s - 1], word[0])) or
                                   (e < n and _joins(norm[e], word[-1]))):
                continue
            for kind, mild in kinds:
                lex_hits.append((kind, mild, s, e))
        for hm in (first_matches(self._pat_head_re, norm) if may & _MAY_PATTERNS and
                   self._pat_gate_re.search(norm) is not None else ()):
            hs = hm.start()
            for rx, kind, mild in self._pat_by_head[hm.group(1)]:
                pm = rx.match(norm, hs)
                if pm is not None:
                    lex_hits.append((kind, mild, hs, pm.end()))
        redflag_hits(norm, bool(may & _MAY_RF_A), bool(may & _MAY_RF_B),
                         bool(may & _MAY_RF_C), lex_hits, bool(may & _MAY_SELF_HARM))
        if may & _MAY_OPT:
            optout_hits(norm, lex_hits)
        if may & _MAY_Q:
            question_hits(norm, lex_hits)
        complaint_hits(norm, bool(may & _MAY_CMP_A), bool(may & _MAY_CMP_B), lex_hits)
        contact_hits(norm, lex_hits)
        if raw in RAW_OPT_OUT or (n <= 3 and raw.strip() in RAW_OPT_OUT):
            lex_hits.append(("opt_out", False, 0, n))
        if n and "a" <= norm[0] <= "z":
            em = OPT_EN_RE.match(norm)
            if em is not None:
                lex_hits.append(("opt_out", False, 0, em.end()))
            em = EN_Q_START_RE.match(norm)
            if em is not None:
                lex_hits.append(("question", False, 0, em.end()))
        elif norm.endswith(("stop", "stop.", "stop!")) and (
                em := OPT_EN_END_RE.fullmatch(norm)) is not None:
            lex_hits.append(("opt_out", False, em.start(1), em.end(1)))  # "4分 stop"
        if core_stripped in self._anchored or core in self._anchored:
            for kind, mild in self._anchored.get(core_stripped) or self._anchored[core]:
                lex_hits.append((kind, mild, 0, n))
        return lex_hits

    def _rules(self, raw: str, norm: str) -> Interpretation:
        ev: list[Evidence] = []
        cands: list[Cand] = []
        ambiguous: list[int] = []        # candidates of unsure forms ("4.5", "3-4")
        core = word_chars(norm)
        core_stripped = core.rstrip(PARTICLES) or core
        may = self._gates.bits(norm)  # which of the usual searches can match at all

        # 1. numbers, stars, thumbs, emoji codes (surveys.understanding.numbers)
        out_of_range = read_numbers(raw, norm, core_stripped, ev, cands, ambiguous)

        # 2. the rules of each concern, then their exclusions
        flags_hit: dict[str, bool] = {}
        mild_complaint = False
        opt_spans: list[tuple[int, int]] = []
        cues: str | None = None  # context cues, found on the first red-flag mention
        for kind, mild, s, e in self._hits(raw, norm, core, core_stripped, may):
            text = norm[s:e]
            if kind == "red_flag":
                if "red_flag" not in flags_hit:
                    # (once one mention counts, the others need no checking)
                    if cues is None:
                        cues = cues_of(norm)
                    why = precise_why(norm, s, e, text, cues)
                    if why:
                        ev.append(make_ev("red_flag_denied", (s, e), text, None, why))
                        continue
            elif kind == "complaint":
                verdict = complaint_verdict(norm, s, text, mild)
                if verdict == VERDICT_NONE:
                    continue
                if verdict == VERDICT_MILD:
                    mild_complaint = True
                    ev.append(make_ev("complaint_mild", (s, e), text))
                    continue
            elif kind == "question":
                if not_asked(norm, s, e, text):
                    continue
            elif kind == "wrong_number":
                why_not = wrong_number_why(norm, s, e, text)
                if why_not is not None:
                    if why_not:
                        ev.append(make_ev("wrong_number_denied", (s, e), text, None, why_not))
                    continue
            elif kind == "deceased":
                if death_averted(norm, s, e):
                    ev.append(make_ev("opt_out_denied", (s, e), text, None, "nearly, or not"))
                    continue
            elif kind == "switch":
                if not switch_stands(norm, s, e):
                    continue  # advised, wished or asked: "要不要换医院", "早知道去别家看了"
                kind = "opt_out"
                opt_spans.append((s, e))
                flags_hit[kind] = True
                ev.append(make_ev(kind, (s, e), text, None, "went elsewhere"))
                continue
            elif kind == "opt_out":
                why_not = keyword_why(norm, s, e, text)
                if why_not is not None:
                    if why_not:
                        ev.append(make_ev("opt_out_denied", (s, e), text, None, why_not))
                    continue
                opt_spans.append((s, e))
            flags_hit[kind] = True
            ev.append(make_ev(kind, (s, e), text))

        # 2b. recall first for the safety labels (surveys.understanding.redflag, .optout)
        if "red_flag" not in flags_hit and read_broad(
                norm, bool(may & _MAY_RFB), bool(may & _MAY_FAREWELL), self._change_ac,
                self._body_re, ev, cues):
            flags_hit["red_flag"] = True
        ev, opt_spans, opt_out_unsure = settle_opt_out(
            raw, norm, bool(may & _MAY_OPB), bool(may & _MAY_UNSURE), ev, flags_hit, opt_spans)

        # 3. Likert words (after the flags: "态度不好" is a complaint, not a rating of 2)
        read_likert(self._likert_ac, norm, ev, cands)
        read_acceptance(norm, core_stripped, ev, cands)
        question, ev = settle_question(norm, ev, flags_hit.get("question", False), opt_spans)

        # 4. decide the score
        deceased = flags_hit.get("deceased", False)
        wrong_number = flags_hit.get("wrong_number", False)
        score, candidate, confidence, needs_confirmation, out_of_range = settle_score(
            norm, ev, cands, ambiguous, out_of_range, deceased or wrong_number)

        # 5. affirmative / negative (whole reply or its first clause)
        affirmative, negative = answers(norm, core, core_stripped)

        complaint = flags_hit.get("complaint", False) or (
            mild_complaint and not (score is not None and score >= 4))
        owed = money_owed(norm)
        if owed is not None:
            # money owed back and late: a complaint the model may not clear (decide.py)
            complaint = True
            ev.append(make_ev("complaint_owed", owed, norm[owed[0]:owed[1]], None,
                              "money owed back, late"))
        dispute = False
        hit_d, denied_d = self._dispute.read(norm)
        if hit_d is not None:
            (ds, de), dkind = hit_d
            dispute = complaint = True  # a dispute is always also a complaint
            ev.append(make_ev("dispute", (ds, de), norm[ds:de], None, dkind))
        elif denied_d is not None:
            (ds, de), why_d = denied_d
            ev.append(make_ev("dispute_denied", (ds, de), norm[ds:de], None, why_d))
        comment = comment_of(norm, core, ev)
        if len(ev) > 1:
            ev.sort(key=SPAN)
        # positional, in the field order of Interpretation (checked at import)
        return new_interpretation(
            score, flags_hit.get("opt_out", False) or deceased or wrong_number, complaint,
            dispute, flags_hit.get("red_flag", False),
            question, round(confidence, 2), needs_confirmation, candidate, out_of_range,
            wrong_number, deceased, opt_out_unsure and not (deceased or wrong_number),
            affirmative, negative, comment, tuple(ev), norm,
        )


_DEFAULT: ReplyParser | None = None


def parse(text: str, lexicon: Lexicon | None = None) -> Interpretation:
    """Parse one reply; the default-lexicon parser is built once and cached."""
    global _DEFAULT
    if lexicon is not None:
        return ReplyParser(lexicon).parse(text)
    if _DEFAULT is None:
        _DEFAULT = ReplyParser()
    return _DEFAULT.parse(text)
