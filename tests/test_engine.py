"""The conversation engine, table-driven: (state, reply) → (state, texts, events)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bot.config import TextsConfig
from surveys import engine
from surveys.definition import default_surveys

SURVEY = default_surveys()["general"]
TEXTS = TextsConfig().model_dump()
CTX = engine.Context(values={"contact_name": "张三", "org_name": "示例医院", "department": "口腔科",
                             "org_phone": "110", "visit_date": "11月20日"})


@dataclass
class R:
    """A parsed reply, written out by hand so the engine is tested on its own."""

    score: int | None = None
    opt_out: bool = False
    complaint: bool = False
    dispute: bool = False
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


def asking(**kw: Any) -> dict[str, Any]:
    base = {"survey": "general", "index": 0, "answers": {}, "failed": 0, "confirm": None,
            "status": "asking"}
    return {**base, **kw}


def names(step: engine.Step) -> list[str]:
    return [e.name for e in step.events]


def kinds(step: engine.Step) -> list[str]:
    return [e.kind for e in step.events if isinstance(e, engine.EscalationRaised)]


def test_start_greets_and_asks_first_question() -> None:
    step = engine.start("general", SURVEY, TEXTS, CTX)
    assert len(step.outbound) == 1
    text = step.outbound[0]
    assert text.startswith("张三您好，这里是示例医院口腔科。")
    assert "11月20日" in text and "1到5" in text
    assert step.state["status"] == "asking" and step.state["index"] == 0
    guardian = engine.start("general", SURVEY, TEXTS,
                            engine.Context(values={**CTX.values, "person_name": "小明"}),
                            "greeting_guardian")
    assert "小明" in guardian.outbound[0]


CASES = [
    # id, state, reply, text, expected status, events, escalation kinds, first outbound contains
    ("high score ends with thanks", asking(), R(score=5), "5", "done",
     ["answer_recorded", "survey_completed"], [], "感谢"),
    ("low score asks why", asking(), R(score=2), "2", "asking",
     ["answer_recorded", "escalation_raised"], ["low_score"], "哪里可以做得更好"),
    ("low score with reason skips the follow-up", asking(),
     R(score=2, complaint=True, comment="护士态度不好"), "2 护士态度不好", "done",
     ["escalation_raised", "answer_recorded", "escalation_raised", "answer_recorded",
      "survey_completed"], ["complaint", "low_score"], "非常抱歉"),
    ("follow-up answer is free text", asking(index=1, answers={"overall": 1}),
     R(), "排队太久", "done", ["answer_recorded", "survey_completed"], [], "感谢"),
    ("unreadable reply asks again", asking(), R(), "嗯嗯", "asking", [], [], "没有看懂"),
    ("third unreadable reply goes to staff", asking(failed=2), R(), "??", "staff",
     ["escalation_raised"], ["other"], "工作人员"),
    ("out of range is re-asked with the scale", asking(), R(out_of_range=10), "10", "asking",
     [], [], "1到5"),
    ("unsure asks to confirm", asking(), R(needs_confirmation=True, candidate=4), "4.5",
     "asking", [], [], "您是打4分吗"),
    ("confirmation yes records", asking(confirm={"question": "overall", "score": 4}),
     R(affirmative=True), "是的", "done", ["answer_recorded", "survey_completed"], [], "感谢"),
    ("confirmation no re-asks", asking(confirm={"question": "overall", "score": 4}),
     R(negative=True), "不是", "asking", [], [], "总体满意"),
    ("opt-out stops everything", asking(), R(opt_out=True), "TD", "stopped", ["opted_out"], [],
     "不再给您发送"),
    ("bare 'N' answers a pending confirmation",
     asking(confirm={"question": "overall", "score": 4}), R(opt_out=True, negative=True), 'N',
     "asking", [], [], "总体满意"),
    ("bare 'n' answers a pending confirmation",
     asking(confirm={"question": "overall", "score": 4}), R(opt_out=False, negative=True), 'n',
     "asking", [], [], "总体满意"),
    ("bare 'no' answers a pending confirmation",
     asking(confirm={"question": "overall", "score": 4}), R(opt_out=False, negative=True), 'no',
     "asking", [], [], "总体满意"),
    ("bare '不是' answers a pending confirmation",
     asking(confirm={"question": "overall", "score": 4}), R(opt_out=False, negative=True), '不是',
     "asking", [], [], "总体满意"),
    ("bare '不对' answers a pending confirmation",
     asking(confirm={"question": "overall", "score": 4}), R(opt_out=False, negative=True), '不对',
     "asking", [], [], "总体满意"),
    ("bare 'No.' answers a pending confirmation",
     asking(confirm={"question": "overall", "score": 4}), R(opt_out=False, negative=True), 'No.',
     "asking", [], [], "总体满意"),
    ("bare N without a pending confirmation opts out", asking(), R(opt_out=True, negative=True),
     "N", "stopped", ["opted_out"], [], "不再给您发送"),
    ("a real opt-out during a confirmation still stops",
     asking(confirm={"question": "overall", "score": 4}), R(opt_out=True, negative=True),
     "不是，别再发了", "stopped", ["opted_out"], [], "不再给您发送"),

    ("red flag: urgent, advice now, staff takes over", asking(), R(red_flag=True),
     "拔牙后一直出血", "staff", ["escalation_raised"], ["red_flag"], "120"),
    ("question keeps the survey going", asking(), R(question=True), "复诊要预约吗", "asking",
     ["escalation_raised"], ["question"], "转给工作人员"),
    ("wrong number stops", asking(), R(wrong_number=True), "打错了", "stopped",
     ["contact_stopped", "escalation_raised"], ["wrong_number"], "抱歉打扰"),
    ("deceased stops with care", asking(), R(deceased=True), "老人已经去世了", "stopped",
     ["contact_stopped", "escalation_raised"], ["deceased"], "节哀"),
    ("late reply after thanks is stored only", asking(status="done"), R(score=3), "3", "done",
     ["late_reply"], [], None),
    ("late complaint escalates, kept as a comment", asking(status="done"), R(complaint=True),
     "收费太乱", "done", ["late_reply", "answer_recorded", "escalation_raised"], ["complaint"],
     "非常抱歉"),
    ("late remark kept as a comment", asking(status="done"), R(), "谢谢李医生，很耐心", "done",
     ["late_reply", "answer_recorded"], [], None),
    ("late acknowledgement is no comment", asking(status="done"), R(), "好的。", "done",
     ["late_reply"], [], None),
    ("late yes is no comment", asking(status="done"), R(affirmative=True), "是的", "done",
     ["late_reply"], [], None),
    ("a dispute is urgent before it is a complaint", asking(), R(complaint=True, dispute=True),
     "再乱收费我就打12345", "asking", ["escalation_raised", "escalation_raised"],
     ["dispute", "complaint"], "非常抱歉"),
    ("a dispute with a stop still escalates", asking(), R(opt_out=True, complaint=True,
     dispute=True), "已经投诉到卫健委了，别再发了", "stopped",
     ["escalation_raised", "opted_out"], ["dispute"], "不再给您发送"),
    ("bot is silent while staff handle it", asking(status="staff"), R(score=5), "5", "staff",
     ["late_reply"], [], None),
    ("second opt-out is not confirmed twice", asking(status="stopped"), R(opt_out=True), "TD",
     "stopped", [], [], None),
    ("repeated wrong number is silent", asking(status="stopped", stop_reason="wrong_number"),
     R(wrong_number=True), "打错了", "stopped", [], [], None),
    ("a death reported after an opt-out is still heard",
     asking(status="stopped", stop_reason="opted_out"), R(deceased=True), "他已经走了",
     "stopped", ["contact_stopped", "escalation_raised"], ["deceased"], "节哀"),
    ("a red flag beside a death is raised with it", asking(), R(deceased=True, red_flag=True),
     "老伴走了以后我也不想活了", "stopped",
     ["escalation_raised", "contact_stopped", "escalation_raised"], ["red_flag", "deceased"],
     "节哀"),
    ("a dispute beside a death is raised with it", asking(),
     R(deceased=True, dispute=True, complaint=True), "人走了，临终前的事我已经找医调委了",
     "stopped", ["escalation_raised", "escalation_raised", "contact_stopped",
                 "escalation_raised"], ["dispute", "complaint", "deceased"], "节哀"),
    ("a red flag after a death was told is still raised",
     asking(status="stopped", stop_reason="deceased"), R(deceased=True, red_flag=True),
     "他走了，我也撑不下去了", "stopped", ["escalation_raised"], ["red_flag"], "120"),
    ("a complaint beside a wrong number is raised", asking(),
     R(wrong_number=True, complaint=True), "打错了，你们乱发短信太烦了", "stopped",
     ["escalation_raised", "contact_stopped", "escalation_raised"],
     ["complaint", "wrong_number"], "抱歉打扰"),
    ("a red flag after an opt-out still gets advice", asking(status="stopped"),
     R(red_flag=True), "发烧39度", "stopped", ["escalation_raised"], ["red_flag"], "120"),
]


@pytest.mark.parametrize(("state", "parsed", "text", "status", "events", "esc", "says"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reply(state: dict[str, Any], parsed: R, text: str, status: str, events: list[str],
               esc: list[str], says: str | None) -> None:
    step = engine.reply(SURVEY, TEXTS, CTX, state, parsed, text)
    assert step.state["status"] == status
    assert names(step) == events
    assert kinds(step) == esc
    if says is None:
        assert step.outbound == ()
    else:
        assert says in step.outbound[0], step.outbound


def test_engine_does_not_mutate_input_state() -> None:
    state = asking()
    engine.reply(SURVEY, TEXTS, CTX, state, R(score=1), "1")
    assert state == asking()


def test_answers_and_comment_are_recorded() -> None:
    step = engine.reply(SURVEY, TEXTS, CTX, asking(), R(score=2, comment="排队太久"), "2 排队太久")
    answers = [e for e in step.events if isinstance(e, engine.AnswerRecorded)]
    assert [(a.question_id, a.score, a.text) for a in answers] == [
        ("overall", 2, "2 排队太久"), ("improve", None, "排队太久")]
    assert step.state["answers"] == {"overall": 2, "improve": "排队太久"}


def test_unknown_placeholder_is_left_visible_not_crashing() -> None:
    assert engine.render("您好{nobody}", CTX) == "您好{nobody}"


# --- multi-question surveys ---------------------------------------------------------------

SURVEYS = default_surveys()


def run(survey_id: str, replies: list[R]) -> tuple[engine.Step, list[engine.Step]]:
    """Start a survey and feed it replies; return the last step and every step."""
    survey = SURVEYS[survey_id]
    step = engine.start(survey_id, survey, TEXTS, CTX)
    steps = [step]
    for r in replies:
        step = engine.reply(survey, TEXTS, CTX, step.state, r, r.comment or str(r.score))
        steps.append(step)
    return step, steps


def test_hospital_discharge_survey_asks_every_element_in_order() -> None:
    last, steps = run("hospital", [
        R(comment="恢复得不错，伤口不疼了"), R(comment="按时吃药，都清楚"),
        R(score=4), R(score=5), R(score=5), R(score=3), R(score=4), R(comment="无"),
    ])
    asked = [s.outbound[-1] for s in steps[:-1]]
    assert "恢复" in asked[0] and "药" in asked[1] and "总体满意" in asked[2]
    assert "医生" in asked[3] and "护士" in asked[4] and "环境" in asked[5]
    assert "收费" in asked[6] and "意见" in asked[7]
    assert last.state["status"] == "done"
    assert last.state["answers"] == {
        "recovery": "恢复得不错，伤口不疼了", "medication": "按时吃药，都清楚", "overall": 4,
        "doctor": 5, "nurse": 5, "environment": 3, "fees": 4, "comment": "无"}
    assert "improve" not in last.state["answers"]  # overall was not low


def test_low_overall_with_reason_answers_its_own_follow_up_not_the_next_question() -> None:
    _, steps = run("hospital", [R(comment="还好"), R(comment="清楚"),
                                R(score=2, comment="病房太吵")])
    step = steps[-1]
    assert step.state["answers"]["improve"] == "病房太吵"
    assert "医生" in step.outbound[-1]  # carries on with the doctor's score


def test_music_school_rates_the_teacher_on_four_criteria() -> None:
    last, _ = run("music", [R(score=5), R(score=4), R(score=5), R(score=3), R(comment="无")])
    assert [k for k, v in last.state["answers"].items() if isinstance(v, int)] == [
        "attitude", "method", "communication", "mastery"]
    assert last.state["status"] == "done"


def test_recovery_answer_is_not_taken_as_the_low_score_reason() -> None:
    _, steps = run("dental", [R(comment="还有点疼")])
    assert steps[-1].state["answers"] == {"recovery": "还有点疼"}
    assert "满意" in steps[-1].outbound[-1]


def test_reask_shows_the_scale_in_words() -> None:
    step = engine.reply(SURVEY, TEXTS, CTX, asking(), R(), "嗯")
    assert "5分非常满意，1分非常不满意" in step.outbound[0]
    step = engine.reply(SURVEY, TEXTS, CTX, asking(), R(out_of_range=8), "8分")
    assert "1到5" in step.outbound[0] and "5分非常满意" in step.outbound[0]


def test_care_guidance_and_revisit_reminder_are_in_the_thanks() -> None:
    ctx = engine.Context(values={**CTX.values, "care": "24小时内不要漱口。",
                                 "revisit": "3个月后可来镶牙。"})
    survey = SURVEYS["dental"]
    s1 = engine.start("dental", survey, TEXTS, ctx)
    s2 = engine.reply(survey, TEXTS, ctx, s1.state, R(comment="不怎么出血了"), "不怎么出血了")
    s3 = engine.reply(survey, TEXTS, ctx, s2.state, R(score=5), "5")
    assert "24小时内不要漱口。3个月后可来镶牙。" in s3.outbound[-1]


@pytest.mark.parametrize("text", ["N", "n", "no", "NO", "不是", "不对", "不是。"])
def test_bare_no_to_a_confirmation_with_the_real_parser(text: str) -> None:
    """The parser reads a bare "N" as an opt-out; with "您是打4分吗?" pending it means no."""
    from surveys.parser import parse

    state = asking(confirm={"question": "overall", "score": 4})
    step = engine.reply(SURVEY, TEXTS, CTX, state, parse(text), text)
    assert step.state["status"] == "asking" and step.state["confirm"] is None
    assert names(step) == []
    assert "总体满意" in step.outbound[0]
