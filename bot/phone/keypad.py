"""The keypad survey: a key pressed in a call, as a structured answer for the survey engine.

A keypad survey call asks one score question (the greeting names the organisation, the
department and, for a child, the child). The key the person presses is an answer:

- ``1``–``5``: the score of that question, recorded like a tap on the H5 page (never read as
  text: the reply parser is not involved);
- ``0``: the person wants a person — a ``callback`` escalation (a call-back task in the staff
  queue); the bot then stays out of the conversation;
- ``9``: no more follow-up — an opt-out, confirmed once on the next channel that can carry
  text (the loop's invariant (d)); a contact marked phone only hears the call's own prompt.

The call asks score questions only: free-text questions are skipped (a low score already
reaches staff, who can call back). After an answer the next score question, if any and
within ``[voice] max_questions``, is asked by another call; otherwise the survey is complete
(the call's own prompt thanked the person). Pure: no I/O, no clock.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from surveys import engine
from surveys.definition import QuestionDef, SurveyDef

VOICE = "voice"
ANSWER_KEYS = frozenset("12345")
PERSON_KEY = "0"
OPT_OUT_KEY = "9"
KEYS = ANSWER_KEYS | {PERSON_KEY, OPT_OUT_KEY}
CALLBACK = cast(engine.Kind, "callback")  # models.EscalationKind.CALLBACK
CALLBACK_REASON = "pressed 0 in a follow-up call: wants a person to call back"


@dataclass(frozen=True, slots=True)
class Pressed:
    """A key as the engine's :class:`~surveys.engine.Reply`: a score or a stop, nothing read."""

    score: int | None = None
    opt_out: bool = False
    complaint: bool = False
    red_flag: bool = False
    question: bool = False
    needs_confirmation: bool = False
    candidate: int | None = None
    out_of_range: int | None = None
    wrong_number: bool = False
    deceased: bool = False
    opt_out_unsure: bool = False
    affirmative: bool = False
    negative: bool = False
    comment: str = ""

    def __getattr__(self, name: str) -> Any:
        # labels a newer parser adds (e.g. "dispute") are never set by a key
        if name.startswith("__"):
            raise AttributeError(name)
        return False


@dataclass(frozen=True, slots=True)
class KeyAnswer:
    """The key pressed in one call, and the question that call asked."""

    key: str
    question: str
    call_id: int

    def reply(self) -> Pressed:
        """The key as an engine reply."""
        if self.key in ANSWER_KEYS:
            return Pressed(score=int(self.key))
        return Pressed(opt_out=self.key == OPT_OUT_KEY)

    def raw(self) -> str:
        """How it is stored with the inbound message (``Message.raw_payload``)."""
        return json.dumps({"key": self.key, "question": self.question, "call": self.call_id})

    @property
    def text(self) -> str:
        """What staff read in the conversation for this key."""
        return f"[按键 {self.key}]"


def first_key(dtmf: str) -> str | None:
    """The first key of the survey's keypad in what was pressed ("4", "40" → "4")."""
    return next((k for k in dtmf if k in KEYS), None)


def key_of(channel: str, raw: str | None) -> KeyAnswer | None:
    """The keypad answer an inbound message carries (channel ``voice``), else None."""
    if channel != VOICE or not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    key, question, call = data.get("key"), data.get("question"), data.get("call")
    if not (isinstance(key, str) and key in KEYS and isinstance(question, str)
            and isinstance(call, int)):
        return None
    return KeyAnswer(key, question, call)


def _applies(q: QuestionDef, answers: dict[str, Any]) -> bool:
    cond = q.condition
    return cond is None or cond.holds(answers.get(cond.question))


def voice_question(survey: SurveyDef, state: dict[str, Any]) -> QuestionDef | None:
    """The score question a call asks now: the first unanswered one that applies, at or after
    the conversation's current question (free text is skipped); None when nothing is asked."""
    if state.get("status", engine.ASKING) != engine.ASKING:
        return None
    answers = dict(state.get("answers") or {})
    for q in survey.questions[int(state.get("index", 0)):]:
        if q.kind == "score" and q.id not in answers and _applies(q, answers):
            return q
    return None


def call_text(survey: SurveyDef, texts: dict[str, str], ctx: engine.Context, question: QuestionDef,
              hint: str, greeting: str | None = None) -> str:
    """What a call says, as staff read it in the history: (greeting, intro,) question, keys."""
    parts = [engine.render(texts[greeting], ctx), engine.render(survey.intro, ctx)] \
        if greeting else []
    parts += [engine.render(question.text, ctx), hint]
    return "".join(p for p in parts if p)


@dataclass(frozen=True, slots=True)
class KeyStep:
    """The engine's step for a key, and the question to ask next by another call (if any)."""

    step: engine.Step
    ask: str | None = None


def _scored(state: dict[str, Any]) -> int:
    return sum(1 for v in (state.get("answers") or {}).values()
               if isinstance(v, int) and not isinstance(v, bool))


def step(survey: SurveyDef, texts: dict[str, str], ctx: engine.Context, state: dict[str, Any],
         answer: KeyAnswer, *, max_questions: int, hint: str) -> KeyStep:
    """Apply one key to the conversation state (see the module docstring)."""
    status = state.get("status", engine.ASKING)
    if answer.key == OPT_OUT_KEY:
        return KeyStep(engine.reply(survey, texts, ctx, state, answer.reply(), answer.text))
    if answer.key == PERSON_KEY:
        new = dict(state)
        if status == engine.ASKING:
            new["status"] = engine.STAFF  # a person takes it from here; the bot stays quiet
        return KeyStep(engine.Step(new, (), (
            engine.EscalationRaised(CALLBACK, "high", CALLBACK_REASON),)))
    answers = dict(state.get("answers") or {})
    q = next((x for x in survey.questions if x.id == answer.question), None)
    if (status != engine.ASKING or q is None or q.kind != "score" or q.id in answers
            or not _applies(q, answers)):
        # A key for a question no longer asked (answered meanwhile, survey over): kept, no record.
        return KeyStep(engine.Step(dict(state), (), (engine.LateReply(answer.text),)))
    positioned = {**state, "index": survey.questions.index(q), "confirm": None}
    s = engine.reply(survey, texts, ctx, positioned, answer.reply(), answer.text)
    new = dict(s.state)
    if new.get("status") != engine.ASKING:
        return KeyStep(engine.Step(new, (), s.events))  # done: the call's prompt thanked them
    nxt = voice_question(survey, new)
    if nxt is not None and _scored(new) < max_questions:
        new["index"] = survey.questions.index(nxt)
        return KeyStep(engine.Step(new, (call_text(survey, texts, ctx, nxt, hint),), s.events),
                       ask=nxt.id)
    # Nothing more a call can ask (free text, or enough asked): the survey is complete.
    new["status"] = engine.DONE
    return KeyStep(engine.Step(new, (), (*s.events, engine.SurveyCompleted())))
