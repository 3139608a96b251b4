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
    """One question: a 1–5 score, free text, or how the person is recovering.

    ``recovery`` is free text too, asked as part of the check-in (pain, bleeding, fever,
    medication); a worrying answer is caught like any reply, by the red-flag rules.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: Literal["score", "text", "recovery"] = "score"
    text: str = Field(min_length=1)
    # what staff and managers read for this question in tallies and reports ("总体满意度");
    # default: the text's first sentence
    title: str = ""
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
    def label(self) -> str:
        """The question as staff and managers read it (pages, exports, reports): its title,
        else its first sentence, else its id."""
        if self.title:
            return self.title
        head = re.split(r"(?<=[？?。！!])", self.text, maxsplit=1)[0]
        return head.removeprefix("请问")[:40] or self.id

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


# Recovery satisfaction (closed-loop feedback): after staff resolved a complaint or a low
# score, one question about how it was handled. Its answers are tallied by this survey and
# question id (bot.escalations.recovery).
RECOVERY = "recovery"


def recovery_survey(question: str, thanks: str) -> SurveyDef:
    """The one-question recovery survey, worded by ``[texts]``."""
    return SurveyDef(title="处理结果满意度回访", questions=[
        QuestionDef(id=RECOVERY, title="处理结果满意度", text=question, labels=_LABELS)],
        thanks=thanks)


_LABELS = {1: "非常不满意", 2: "不满意", 3: "一般", 4: "满意", 5: "非常满意"}
_SCALE = "请回复1到5的数字：5分非常满意，1分非常不满意。"
_IMPROVE = QuestionDef(id="improve", title="改进建议", kind="text", ask_if="overall <= 2",
                       text="很抱歉让您不满意。请问我们哪里可以做得更好？")


def default_surveys() -> dict[str, SurveyDef]:
    """Built-in surveys: general visit, dental, inpatient discharge, music school.

    ``{care}`` and ``{revisit}`` in the thanks come from ``[care.<treatment type>]``.
    """
    return {
        "general": SurveyDef(
            title="就诊满意度回访",
            intro="{subject}{visit_date}在我院{department}就诊，想了解一下您的感受。",
            questions=[
                QuestionDef(id="overall", title="总体满意度",
                            text="请问您对这次就诊总体满意吗？" + _SCALE,
                            labels=_LABELS),
                _IMPROVE,
            ],
            thanks="感谢您的反馈！{care}{revisit}如{subject}有不适，请及时就诊。",
        ),
        "dental": SurveyDef(
            title="口腔治疗回访",
            intro="{subject}{visit_date}在我院做了{treatment}，我们来问问恢复情况。",
            questions=[
                QuestionDef(id="recovery", kind="recovery", title="恢复情况",
                            text="现在感觉怎么样？有没有持续出血、明显肿痛或发烧？"),
                QuestionDef(id="overall", title="总体满意度",
                            text="请问您对这次治疗和服务满意吗？" + _SCALE,
                            labels=_LABELS),
                _IMPROVE,
            ],
            thanks="感谢您的反馈！{care}{revisit}如有不适请随时联系我们。",
        ),
        "hospital": SurveyDef(
            title="出院回访",
            intro="{subject}{visit_date}从我院{department}出院，我们来了解一下恢复情况。",
            questions=[
                QuestionDef(id="recovery", kind="recovery", title="恢复情况",
                            text="出院后恢复得怎么样？伤口、疼痛、体温、饮食睡眠都还好吗？"),
                QuestionDef(id="medication", title="用药情况", kind="recovery",
                            text="出院带的药是否按医嘱在吃？用药和注意事项还有不清楚的地方吗？"),
                QuestionDef(id="overall", title="总体满意度",
                            text="您对这次住院总体满意吗？" + _SCALE,
                            labels=_LABELS),
                QuestionDef(id="doctor", title="医生诊疗与沟通",
                            text="对主管医生的诊疗和沟通打几分？1-5分。",
                            labels=_LABELS),
                QuestionDef(id="nurse", title="护理服务",
                            text="对护士的护理服务打几分？1-5分。", labels=_LABELS),
                QuestionDef(id="environment", title="病房环境与设施",
                            text="对病房环境和设施打几分？1-5分。",
                            labels=_LABELS),
                QuestionDef(id="fees", title="收费清楚合理",
                            text="对收费是否清楚合理打几分？1-5分。", labels=_LABELS),
                _IMPROVE,
                QuestionDef(id="comment", kind="text", title="意见与表扬",
                            text="还有什么意见或想表扬的医护人员吗？没有请回复“无”。"),
            ],
            thanks="感谢您的反馈！{revisit}祝{subject}早日康复。",
        ),
        "music": SurveyDef(
            title="课程满意度回访",
            intro="{subject}这学期在{department}跟{clinician}上课，想听听您的评价。",
            questions=[
                QuestionDef(id="attitude", title="教学态度",
                            text="老师的教学态度打几分？" + _SCALE,
                            labels=_LABELS),
                QuestionDef(id="method", title="教学方法",
                            text="老师的教学方法打几分？1-5分。", labels=_LABELS),
                QuestionDef(id="communication", title="沟通",
                            text="老师与您和孩子的沟通打几分？1-5分。",
                            labels=_LABELS),
                QuestionDef(id="mastery", title="课程掌握",
                            text="孩子对课程内容的掌握情况打几分？1-5分。",
                            labels=_LABELS),
                QuestionDef(id="comment", kind="text", title="建议",
                            text="还有什么建议吗？没有请回复“无”。"),
            ],
            thanks="谢谢您的评价，我们会转告老师并持续改进！",
        ),
    }
