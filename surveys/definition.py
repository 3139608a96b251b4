"""Survey definitions: data loaded from configuration, validated once at start-up."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_CONDITION = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*(<=|>=|==|<|>)\s*([1-5])\s*$")


class Condition(BaseModel):
    """``<question id> <op> <score>``: ask a question only after a matching earlier score."""

    model_config = ConfigDict(frozen=True)
    question: str
    op: str
    value: int

    @classmethod
    def parse(cls, text: str) -> Condition:
        """Parse ``overall<=2``; ValueError says the accepted form."""
        m = _CONDITION.match(text)
        if not m:
            raise ValueError(
                f"condition {text!r} is not of the form '<question id> <op> <1-5>', "
                "e.g. 'overall <= 2' (ops: <=, >=, ==, <, >)"
            )
        return cls(question=m.group(1), op=m.group(2), value=int(m.group(3)))

    def holds(self, score: int | None) -> bool:
        """True when ``score`` satisfies the condition (never for a missing score)."""
        if score is None:
            return False
        return {
            "<=": score <= self.value,
            ">=": score >= self.value,
            "==": score == self.value,
            "<": score < self.value,
            ">": score > self.value,
        }[self.op]


class QuestionDef(BaseModel):
    """One question: a 1–5 score, or free text."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["score", "text"] = "score"
    text: str = Field(min_length=1)
    ask_if: str = ""
    labels: dict[int, str] = Field(default_factory=dict)

    @field_validator("ask_if")
    @classmethod
    def _cond(cls, v: str) -> str:
        if v:
            Condition.parse(v)
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[int, str]) -> dict[int, str]:
        bad = [k for k in v if not 1 <= k <= 5]
        if bad:
            raise ValueError(f"label keys must be scores 1-5, got {bad}")
        return v

    @property
    def condition(self) -> Condition | None:
        """The parsed ``ask_if`` or None."""
        return Condition.parse(self.ask_if) if self.ask_if else None


class SurveyDef(BaseModel):
    """A survey: intro, ordered questions, thanks."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    title: str = Field(min_length=1)
    intro: str = ""
    questions: list[QuestionDef] = Field(min_length=1)
    thanks: str = Field(min_length=1)

    @model_validator(mode="after")
    def _refs(self) -> SurveyDef:
        seen: dict[str, QuestionDef] = {}
        for q in self.questions:
            if q.id in seen:
                raise ValueError(f"question id {q.id!r} appears twice")
            cond = q.condition
            if cond is not None:
                ref = seen.get(cond.question)
                if ref is None or ref.kind != "score":
                    raise ValueError(
                        f"question {q.id!r}: ask_if refers to {cond.question!r}, which must be "
                        "an earlier score question"
                    )
            seen[q.id] = q
        return self

    def question(self, qid: str) -> QuestionDef:
        """The question with this id (KeyError if none)."""
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(qid)


def default_surveys() -> dict[str, SurveyDef]:
    """The built-in survey: overall score, a follow-up after a low score, thanks."""
    return {
        "general": SurveyDef(
            title="就诊满意度回访",
            intro="{subject}{visit_date}在我院{department}就诊，想了解一下您的感受。",
            questions=[
                QuestionDef(
                    id="overall",
                    kind="score",
                    text="请问您对这次就诊总体满意吗？请回复1到5的数字：5分非常满意，1分非常不满意。",
                    labels={1: "非常不满意", 2: "不满意", 3: "一般", 4: "满意", 5: "非常满意"},
                ),
                QuestionDef(
                    id="improve",
                    kind="text",
                    text="很抱歉让您不满意。请问我们哪里可以做得更好？",
                    ask_if="overall <= 2",
                ),
            ],
            thanks="感谢您的反馈！祝您早日康复。如有不适请及时就诊。",
        )
    }
