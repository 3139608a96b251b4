"""The conversation engine: pure functions from (state, reply) to (new state, texts, events).

No I/O and no clock: the runtime loads the state under a per-conversation lock, calls
:func:`start` or :func:`reply`, then persists the new state, the events and the outbound texts
in one transaction. Events are past-tense facts that become records and the audit trail.

State is a small JSON-ready dict::

    {"survey": "general", "index": 0, "answers": {"overall": 4}, "failed": 0,
     "confirm": null | {"question": "overall", "score": 4} | {"opt_out": true},
     "status": "asking"}

An unsure opt-out (``opt_out_unsure``: the parser's recall-first tier) is asked about once
with ``confirm_opt_out``; only "yes" or a second stop reply opts out, anything else carries on
(a red flag in the same reply is handled first).  A precise opt-out acts at once.

``status`` is ``asking`` while questions remain, ``done`` after the thanks, ``staff`` when
a person has taken over (the bot stays silent), ``stopped`` after an opt-out, a wrong number
or a death.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from surveys.definition import QuestionDef, SurveyDef

Kind = Literal[
    "red_flag", "dispute", "complaint", "low_score", "question", "deceased", "wrong_number",
    "other",
]
Priority = Literal["urgent", "high", "normal"]

ASKING, DONE, STAFF, STOPPED = "asking", "done", "staff", "stopped"
# The answer row of a comment that came with a score and answered no question of its own
# ("5 李医生很耐心", or the comment box of the H5 page): staff, exports and praise read it.
COMMENT = "comment"


class Reply(Protocol):
    """What the engine needs from a parsed reply (see ``surveys.parser.Interpretation``)."""

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
    def affirmative(self) -> bool: ...
    @property
    def negative(self) -> bool: ...
    @property
    def comment(self) -> str: ...


@dataclass(frozen=True, slots=True)
class Tapped:
    """A score tapped on the H5 page, with the page's comment: a :class:`Reply`.

    The score is what the person chose, never in doubt; the flags (red flag, complaint,
    question, stop) are what the parser read in the comment (``about``, its parse).
    """

    score: int | None
    comment: str
    about: Reply

    @property
    def opt_out(self) -> bool:
        return self.about.opt_out

    @property
    def opt_out_unsure(self) -> bool:
        return self.about.opt_out_unsure

    @property
    def complaint(self) -> bool:
        return self.about.complaint

    @property
    def red_flag(self) -> bool:
        return self.about.red_flag

    @property
    def question(self) -> bool:
        return self.about.question

    @property
    def wrong_number(self) -> bool:
        return self.about.wrong_number

    @property
    def deceased(self) -> bool:
        return self.about.deceased

    @property
    def needs_confirmation(self) -> bool:
        return False  # a tap is never in doubt

    @property
    def candidate(self) -> int | None:
        return None

    @property
    def out_of_range(self) -> int | None:
        return None

    @property
    def affirmative(self) -> bool:
        return False

    @property
    def negative(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        # labels a newer parser adds (e.g. "dispute") are read in the comment
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(object.__getattribute__(self, "about"), name)


# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AnswerRecorded:
    """A question was answered."""

    question_id: str
    score: int | None
    text: str
    name: str = "answer_recorded"


@dataclass(frozen=True, slots=True)
class EscalationRaised:
    """A person must look at this conversation."""

    kind: Kind
    priority: Priority
    reason: str
    name: str = "escalation_raised"


@dataclass(frozen=True, slots=True)
class OptedOut:
    """The contact asked for no more messages, on every channel."""

    name: str = "opted_out"


@dataclass(frozen=True, slots=True)
class ContactStopped:
    """Never message this contact again (wrong number, patient deceased)."""

    reason: Literal["wrong_number", "deceased"]
    name: str = "contact_stopped"


@dataclass(frozen=True, slots=True)
class SurveyCompleted:
    """Every applicable question has been answered."""

    name: str = "survey_completed"


@dataclass(frozen=True, slots=True)
class LateReply:
    """A reply arrived after the survey had ended."""

    text: str
    name: str = "late_reply"


Event = AnswerRecorded | EscalationRaised | OptedOut | ContactStopped | SurveyCompleted | LateReply


@dataclass(frozen=True, slots=True)
class Context:
    """Facts the wording needs, and the organisation's thresholds."""

    values: Mapping[str, str] = field(default_factory=dict)
    low_score_threshold: int = 2
    max_failed_attempts: int = 3


@dataclass(frozen=True, slots=True)
class Step:
    """The outcome of one engine call."""

    state: dict[str, Any]
    outbound: tuple[str, ...]
    events: tuple[Event, ...]


class _Fill:
    """format_map's mapping: ``extra``, then the context's values (read, not copied: a
    batch of check-ins renders thousands of texts); unknown placeholders stay as written."""

    __slots__ = ("_extra", "_values")

    def __init__(self, values: Mapping[str, str], extra: dict[str, str]) -> None:
        self._values = values
        self._extra = extra

    def __getitem__(self, key: str) -> str:
        if key in self._extra:
            return self._extra[key]
        try:
            return self._values[key]
        except KeyError:
            return "{" + key + "}"


def render(template: str, ctx: Context, **extra: object) -> str:
    """Fill ``{placeholders}`` from the context (and ``extra``)."""
    if "{" not in template and "}" not in template:
        return template  # nothing to fill (and no "{{"/"}}" to unescape)
    return template.format_map(_Fill(ctx.values, {k: str(v) for k, v in extra.items()}))


# --- helpers --------------------------------------------------------------------------------


def _applies(q: QuestionDef, answers: Mapping[str, Any]) -> bool:
    cond = q.condition
    return cond is None or cond.holds(answers.get(cond.question))


def _next_index(survey: SurveyDef, start: int, answers: Mapping[str, Any]) -> int | None:
    for i in range(start, len(survey.questions)):
        q = survey.questions[i]
        if q.id not in answers and _applies(q, answers):
            return i
    return None


class _Builder:
    """Collects the outbound texts and events of one step."""

    def __init__(self, survey: SurveyDef, texts: Mapping[str, str], ctx: Context,
                 state: Mapping[str, Any]) -> None:
        self.survey, self.texts, self.ctx = survey, texts, ctx
        self.state: dict[str, Any] = {
            "survey": state.get("survey", ""),
            "index": state.get("index", 0),
            "answers": dict(state.get("answers", {})),
            "failed": state.get("failed", 0),
            "confirm": state.get("confirm"),
            "status": state.get("status", ASKING),
        }
        if "stop_reason" in state:
            self.state["stop_reason"] = state["stop_reason"]
        self.out: list[str] = []
        self.events: list[Event] = []

    def say(self, key: str, **extra: object) -> None:
        self.out.append(render(self.texts[key], self.ctx, scale=self.scale(), **extra))

    def scale(self) -> str:
        """The current question's scale in words, e.g. "5分非常满意，1分非常不满意"."""
        labels = self.survey.questions[self.state["index"]].labels
        if 5 in labels and 1 in labels:
            return f"5分{labels[5]}，1分{labels[1]}"
        return "5分最好，1分最差"

    def escalate(self, kind: Kind, priority: Priority, reason: str) -> None:
        self.events.append(EscalationRaised(kind, priority, reason))

    def record(self, q: QuestionDef, score: int | None, text: str) -> None:
        self.state["answers"][q.id] = score if q.kind == "score" else text
        self.state["failed"] = 0
        self.state["confirm"] = None
        self.events.append(AnswerRecorded(q.id, score, text))
        if q.kind == "score" and score is not None and score <= self.ctx.low_score_threshold:
            self.escalate("low_score", "high", f"{q.id}={score}")

    def absorb_comment(self, scored: QuestionDef, comment: str) -> None:
        """The person already said why ("2 护士态度不好"): that answers the follow-up.

        Only a free-text question whose ``ask_if`` depends on the score just given counts,
        never a recovery question or a general comment question. A comment that answers no
        such question is recorded as the score's :data:`COMMENT`, so that it stays with the
        answer (staff, exports and praise read it).
        """
        comment = comment.strip()
        if not comment:
            return
        answers = self.state["answers"]
        for q in self.survey.questions:
            cond = q.condition
            if (q.kind == "text" and q.id not in answers and cond is not None
                    and cond.question == scored.id and cond.holds(answers.get(scored.id))):
                self.record(q, None, comment)
                return
        self.events.append(AnswerRecorded(COMMENT, None, comment))

    def advance(self) -> None:
        """Move to the next applicable question, or thank and finish."""
        answers = self.state["answers"]
        idx = _next_index(self.survey, self.state["index"], answers)
        if idx is None:
            self.state["status"] = DONE
            self.out.append(render(self.survey.thanks, self.ctx))
            self.events.append(SurveyCompleted())
        else:
            self.state["index"] = idx
            self.out.append(render(self.survey.questions[idx].text, self.ctx))

    def ask_current(self) -> None:
        self.out.append(render(self.survey.questions[self.state["index"]].text, self.ctx))

    def fail(self, key: str, **extra: object) -> None:
        self.state["failed"] += 1
        if self.state["failed"] >= self.ctx.max_failed_attempts:
            self.state["status"] = STAFF
            self.escalate("other", "normal",
                          f"no usable answer after {self.state['failed']} attempts")
            self.say("handed_to_staff")
        else:
            self.say(key, **extra)

    def step(self) -> Step:
        return Step(self.state, tuple(self.out), tuple(self.events))


# --- public API -------------------------------------------------------------------------------


def start(survey_id: str, survey: SurveyDef, texts: Mapping[str, str], ctx: Context,
          greeting_key: str = "greeting_self") -> Step:
    """Open a survey: greeting, intro and the first question, sent as one message."""
    b = _Builder(survey, texts, ctx, {"survey": survey_id})
    idx = _next_index(survey, 0, {})
    assert idx is not None  # a survey has at least one unconditional question (validated)
    b.state["index"] = idx
    parts = [render(texts[greeting_key], ctx), render(survey.intro, ctx),
             render(survey.questions[idx].text, ctx)]
    b.out.append("".join(p for p in parts if p))
    return b.step()


# Escalations raised from more than one step: (kind, priority, the reason staff read).
RED_FLAG: Final[tuple[Kind, Priority, str]] = ("red_flag", "urgent", "reported a worrying symptom")
COMPLAINT: Final[tuple[Kind, Priority, str]] = ("complaint", "high", "complaint words in the reply")


def reply(survey: SurveyDef, texts: Mapping[str, str], ctx: Context,
          state: Mapping[str, Any], parsed: Reply, text: str) -> Step:
    """Apply one inbound reply to the conversation state."""
    b = _Builder(survey, texts, ctx, state)
    status = b.state["status"]

    # Rules that hold at any step, even after the survey ended.
    # Stopping rules: said once; repeating them changes nothing and sends nothing.
    if parsed.dispute:
        # a budding dispute (a lawyer, 12345, the media...) reaches the department head and
        # the managers at once, whatever else the reply does (a stop, a red flag)
        b.escalate("dispute", "urgent", "threatens to take it further")
    stop: Literal["deceased", "wrong_number"] | None = (
        "deceased" if parsed.deceased else "wrong_number" if parsed.wrong_number else None)
    if stop is not None:
        # The stop ends the messages, never what a person must see in the same reply: a
        # bereaved spouse who no longer wants to live, a family blaming the care for the
        # death. Those are raised beside it, even when the stop itself was said before.
        if parsed.red_flag:
            b.escalate(*RED_FLAG)
        if parsed.complaint:
            b.escalate(*COMPLAINT)
        if b.state.get("stop_reason") != stop:
            b.state["status"], b.state["stop_reason"] = STOPPED, stop
            b.events.append(ContactStopped(stop))
            if stop == "deceased":
                b.escalate("deceased", "high", "reported the patient has died")
            else:
                b.escalate("wrong_number", "normal", "says this is a wrong number")
            b.say(stop)
        elif parsed.red_flag:
            b.say("red_flag_advice")  # the stop was said before; the worry is new
        return b.step()
    confirm = b.state["confirm"]
    asked_stop = bool(confirm) and bool(confirm.get("opt_out"))
    if asked_stop:
        b.state["confirm"] = None
        if parsed.affirmative and (parsed.score is None or _bare_yes(text)) and \
                not parsed.negative:
            parsed_stop = True
        else:
            parsed_stop = parsed.opt_out and not _bare_no(text)
        if parsed_stop:
            if status != STOPPED:
                b.state["status"], b.state["stop_reason"] = STOPPED, "opted_out"
                b.events.append(OptedOut())
                b.say("opt_out_confirmed")
            return b.step()
        if (parsed.negative or _bare_no(text)) and status == ASKING:
            b.ask_current()  # "no": carry on where we were
            return b.step()
    elif parsed.opt_out and parsed.opt_out_unsure and not parsed.red_flag:
        if status in (ASKING, DONE):
            if parsed.complaint:
                b.escalate(*COMPLAINT)
            b.state["confirm"] = {"opt_out": True}
            b.say("confirm_opt_out")
        elif status == STAFF:
            b.events.append(LateReply(text))
        return b.step()
    if parsed.opt_out and not parsed.opt_out_unsure and \
            not _declines_confirmation(b.state, status, parsed, text):
        if status != STOPPED:
            b.state["status"], b.state["stop_reason"] = STOPPED, "opted_out"
            b.events.append(OptedOut())
            b.say("opt_out_confirmed")
        return b.step()
    if parsed.red_flag:
        b.escalate(*RED_FLAG)
        b.say("red_flag_advice")
        if status == ASKING:
            q = survey.questions[b.state["index"]]
            if q.kind == "score" and parsed.score is not None:
                b.record(q, parsed.score, text)
                if parsed.comment.strip():
                    b.events.append(AnswerRecorded(COMMENT, None, parsed.comment.strip()))
            # A clinical worry outranks the survey: a person takes over from here.
            b.state["status"] = STAFF
        return b.step()

    if status != ASKING:
        # Stored by the caller; staff see it. Only what needs a person is escalated.
        b.events.append(LateReply(text))
        if status == STAFF:
            return b.step()
        if status == DONE and _is_remark(parsed, text):
            # Written after the last question ("谢谢李医生，就是排队太久"): a comment on the
            # survey it follows, so that themes, praise and the records read it too.
            b.events.append(AnswerRecorded(COMMENT, None, text.strip()))
        if parsed.complaint:
            b.escalate("complaint", "high", "complaint after the survey ended")
            b.say("complaint_ack")
        elif parsed.question:
            b.escalate("question", "normal", "question after the survey ended")
            b.say("question_ack")
        return b.step()

    q = survey.questions[b.state["index"]]
    if parsed.complaint:
        b.escalate(*COMPLAINT)

    if q.kind in ("text", "recovery"):
        b.record(q, None, text.strip())
        if parsed.complaint:
            b.say("complaint_ack")
        b.advance()
        return b.step()

    confirm = b.state["confirm"]
    score: int | None = parsed.score
    # (a bare yes -- "可以", "ok" -- answers the pending "您是打4分吗？" before it rates: 3)
    if confirm and confirm.get("question") == q.id and (score is None or _bare_yes(text)):
        if parsed.affirmative:
            score = int(confirm["score"])
        elif parsed.negative or _declines_confirmation(b.state, status, parsed, text):
            b.state["confirm"] = None
            b.ask_current()
            return b.step()

    if score is not None:
        b.record(q, score, text)
        if parsed.complaint:
            b.say("complaint_ack")
        b.absorb_comment(q, parsed.comment)
        b.advance()
    elif parsed.needs_confirmation and parsed.candidate is not None:
        b.state["confirm"] = {"question": q.id, "score": parsed.candidate}
        b.say("confirm_score", score=parsed.candidate)
    elif parsed.complaint:
        b.say("complaint_ack")
        b.ask_current()
    elif parsed.question:
        b.escalate("question", "normal", "asked a question during the survey")
        b.say("question_ack")
        b.ask_current()
    elif parsed.out_of_range is not None:
        b.fail("out_of_range", value=parsed.out_of_range)
    else:
        b.fail("reask_score")
    return b.step()


# A bare "no" while "您是打4分吗?" waits answers the question: carriers' "reply N to
# unsubscribe" makes a bare "N" an opt-out everywhere else.
_BARE_NO: Final = frozenset(("n", "no", "nope", "不是", "不对", "不", "否", "不是的", "不对的",
                             "错了", "没有"))


def _is_remark(parsed: Reply, text: str) -> bool:
    """Words worth keeping as a comment: not a number, a yes or no, or a bare acknowledgement."""
    words = text.strip().strip("。.!！~～ ")
    return (len(words) >= 2 and parsed.score is None and not parsed.affirmative
            and not parsed.negative and words not in _ACKNOWLEDGEMENTS)


# what people write to close a conversation, which says nothing about the service
_ACKNOWLEDGEMENTS: Final = frozenset({
    "好的", "好", "嗯", "嗯嗯", "收到", "知道了", "明白", "ok", "OK", "好滴", "行", "可以",
    "谢谢", "谢谢你", "谢谢您", "多谢", "感谢",
})


# A bare yes, which also rates as so-so when nothing waits for a yes (docs/labels.md: "可以",
# "行", "中", "ok" are a 3 answering the score question; scores.toml [acceptance]).
_BARE_YES: Final = frozenset(("可以", "行", "中", "ok", "okay", "好", "好的", "是", "是的", "对",
                              "嗯", "确认", "没问题", "可以的", "行的"))


def _bare_yes(text: str) -> bool:
    """The whole reply is a bare yes ("可以", "OK!")."""
    return re.sub(r"[\W_]+", "", text.lower()).rstrip("吧啊呀哈啦嘛哦了的呢噢喔") in _BARE_YES


def _bare_no(text: str) -> bool:
    """The whole reply is a bare "no" ("N", "不是", "否")."""
    return re.sub(r"[\W_]+", "", text.lower()) in _BARE_NO


def _declines_confirmation(state: Mapping[str, Any], status: str, parsed: Reply,
                           text: str) -> bool:
    """A bare negative answering a pending score confirmation (not an opt-out)."""
    return (status == ASKING and bool(state.get("confirm")) and not parsed.deceased
            and not parsed.wrong_number and _bare_no(text))


def remind(survey: SurveyDef, texts: Mapping[str, str], ctx: Context,
           state: Mapping[str, Any]) -> Step:
    """No reply yet: say so kindly and ask the current question again (state unchanged)."""
    b = _Builder(survey, texts, ctx, state)
    question = render(survey.questions[b.state["index"]].text, ctx)
    b.out.append(render(texts["reminder"], ctx) + question)
    return b.step()
