"""Words: what the bot says (``[texts]``) and how it reads replies (``[lexicon]``).
"""

from __future__ import annotations

from pydantic import (
    Field,
    PrivateAttr,
    model_validator,
)

from bot.config.base import _Section
from surveys.parser import Lexicon, ReplyParser
from surveys.understanding.model import Model, ModelError


class TextsConfig(_Section):
    """Everything a patient reads besides the survey questions. Placeholders in braces."""

    greeting_guardian: str = (
        "{contact_name}您好，这里是{org_name}{department}，想了解{person_name}的情况。"
    )
    greeting_self: str = "{contact_name}您好，这里是{org_name}{department}。"
    reask_score: str = (
        "抱歉，我没有看懂。请回复1到5之间的一个数字（{scale}）。"
    )
    out_of_range: str = "评分是1到5分哦，请回复1到5之间的一个数字（{scale}）。"
    confirm_score: str = "您是打{score}分吗？请回复“是”或“不是”。"
    opt_out_confirmed: str = "好的，以后不再给您发送回访消息。祝您健康！"
    # asked once when a reply only may mean "stop" (the parser's unsure opt-out)
    confirm_opt_out: str = "您是希望以后不再收到我们的回访消息吗？回复“是”停止接收，回复“否”继续。"
    red_flag_advice: str = (
        "您说的情况需要尽快处理：请尽快回院就诊，或拨打{org_name}电话{org_phone}；"
        "情况紧急请立即拨打120。我们已通知{told}尽快联系您。"
    )
    # {told} in red_flag_advice: who really heard (the department's staff, or, when nobody
    # works that department, the hospital's managers)
    told_department: str = "{department}的工作人员"
    told_hospital: str = "医院的值班管理人员"
    complaint_ack: str = (
        "非常抱歉给您带来不好的体验。您的意见已转交{department}负责人，"
        "我们会在24小时内与您联系。"
    )
    question_ack: str = "您的问题已转给工作人员，我们会尽快回复您。"
    handed_to_staff: str = "我们已请工作人员与您联系，请稍候。"
    reminder: str = "{contact_name}您好，打扰一下，之前的回访消息您可能还没看到。"
    no_open_survey: str = "感谢您的留言，工作人员看到后会尽快回复您。"
    # the bot picks a survey up again after staff resolved its escalation
    resume: str = "接着刚才关于{subject}{visit_date}在{department}就诊的回访："
    # recovery satisfaction: one question after a complaint or low score was resolved
    recovery_question: str = "您对我们的处理结果满意吗？请回复1-5（5分非常满意，1分非常不满意）。"
    recovery_thanks: str = "感谢您的反馈，祝您健康！"
    wrong_number: str = "抱歉打扰了，我们不会再给这个号码发送消息。"
    deceased: str = "非常抱歉打扰您，请节哀。我们不会再发送回访消息，工作人员会与您联系。"


class LexiconConfig(_Section):
    """Words added to the built-in lexicons (the built-in lists stay)."""

    complaint: list[str] = Field(default_factory=list)
    red_flag: list[str] = Field(default_factory=list)
    opt_out: list[str] = Field(default_factory=list)
    question: list[str] = Field(default_factory=list)
    wrong_number: list[str] = Field(default_factory=list)
    deceased: list[str] = Field(default_factory=list)
    # composed red flags: a change after a body part in one clause ("半边脸没知觉")
    red_flag_body: list[str] = Field(default_factory=list)
    red_flag_change: list[str] = Field(default_factory=list)
    # threats to take it further, added to surveys/understanding/dispute.toml's cues
    dispute: list[str] = Field(default_factory=list)
    # the learned model (surveys/understanding/model.py) that settles every label with the
    # rules' evidence; "" is the shipped model, else a file from `survey-bot train`
    recall_tier: bool = True
    recall_model: str = ""
    # the file's model, read once by the check below and handed to every parser
    _loaded: Model | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _recall_model_loads(self) -> LexiconConfig:
        # a broken file must stop start-up with what to do, not the first reply's parse
        if self.recall_tier and self.recall_model:
            try:
                self._loaded = Model.load(self.recall_model)
            except ModelError as e:
                raise ValueError(str(e)) from e
        return self

    def words(self) -> dict[str, list[str]]:
        """The word lists, as ``Lexicon.extended`` takes them."""
        return self.model_dump(exclude={"recall_tier", "recall_model"})

    def recall(self) -> Model | bool:
        """The ``recall=`` argument of ``ReplyParser``: off, the shipped model or the file's."""
        if not self.recall_tier:
            return False
        if not self.recall_model:
            return True
        if self._loaded is None:
            self._loaded = Model.load(self.recall_model)
        return self._loaded

    def parser(self) -> ReplyParser:
        """The reply parser these settings describe: extended lexicon, learned model or not."""
        return ReplyParser(Lexicon.default().extended(**self.words()), recall=self.recall())
