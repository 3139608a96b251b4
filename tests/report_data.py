"""A fixed data set for the report tests, made through the product: visits imported over the
API (with clinician ids), answered on the H5 page, complaints handled, recovery answers
recorded through the ledger. Every figure the tests expect was computed by hand from it.

Two departments; 张伟 works in both (id D001 in 内科, no id in 眼科); 李娜 has min_answers − 1
answers; all answers on 2026-10-06 on the H5 page, question "overall".

======  =======  ====  ========================  ==============================
dept    who      id    kinds                     overall scores
======  =======  ====  ========================  ==============================
内科    张伟     D001  visit×3, discharge×3      5 5 4 | 4 3 5
内科    李娜     —     visit×2, discharge×2      5 2 | 4 5
内科    赵强     D003  visit×3, discharge×2      4 4 5 | 3 5
眼科    张伟     —     visit×2                   3 5
眼科    王芳     W01   visit×6                   5 4 4 5 2 5
眼科    孙丽     W02   visit×5                   4 5 5 3 4
======  =======  ====  ========================  ==============================
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import ledger
from bot.clock import FrozenClock
from bot.config import Settings
from models import Answer, CheckIn, Escalation, SurveyLink
from tests.conftest import eventually, make_settings

SH = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 10, 5, 10, 0, tzinfo=SH)  # visits 09:30; answers the next day
NOW = datetime(2026, 11, 16, 9, 0, tzinfo=SH)

# (department code, name, clinician, clinician id, kind, score, comment)
PLAN: list[tuple[str, str, str, str, str, int, str]] = [
    ("im", "内科", "张伟", "D001", "visit", 5, "张伟医生很耐心，谢谢"),
    ("im", "内科", "张伟", "D001", "visit", 5, ""),
    ("im", "内科", "张伟", "D001", "visit", 4, "排队等了两个小时"),
    ("im", "内科", "张伟", "D001", "discharge", 4, ""),
    ("im", "内科", "张伟", "D001", "discharge", 3, "饭菜太凉"),
    ("im", "内科", "张伟", "D001", "discharge", 5, ""),
    ("im", "内科", "李娜", "", "visit", 5, ""),
    ("im", "内科", "李娜", "", "visit", 2, "护士态度不好"),
    ("im", "内科", "李娜", "", "discharge", 4, ""),
    ("im", "内科", "李娜", "", "discharge", 5, ""),
    ("im", "内科", "赵强", "D003", "visit", 4, ""),
    ("im", "内科", "赵强", "D003", "visit", 4, ""),
    ("im", "内科", "赵强", "D003", "visit", 5, ""),
    ("im", "内科", "赵强", "D003", "discharge", 3, "收费太贵"),
    ("im", "内科", "赵强", "D003", "discharge", 5, ""),
    ("eye", "眼科", "张伟", "", "visit", 3, ""),
    ("eye", "眼科", "张伟", "", "visit", 5, ""),
    ("eye", "眼科", "王芳", "W01", "visit", 5, ""),
    ("eye", "眼科", "王芳", "W01", "visit", 4, ""),
    ("eye", "眼科", "王芳", "W01", "visit", 4, ""),
    ("eye", "眼科", "王芳", "W01", "visit", 5, "王芳医生讲解很清楚，感谢"),
    ("eye", "眼科", "王芳", "W01", "visit", 2, "排队太久，态度冷漠"),
    # the person's own name and number in a comment: masked wherever staff read it
    ("eye", "眼科", "王芳", "W01", "visit", 5, "我是患者22，电话13900000022，很满意"),
    ("eye", "眼科", "孙丽", "W02", "visit", 4, ""),
    ("eye", "眼科", "孙丽", "W02", "visit", 5, ""),
    ("eye", "眼科", "孙丽", "W02", "visit", 5, ""),
    ("eye", "眼科", "孙丽", "W02", "visit", 3, ""),
    ("eye", "眼科", "孙丽", "W02", "visit", 4, ""),
]
# recovery satisfaction after the two complaints were handled (survey "recovery")
RECOVERY = {"im": [4, 5, 5], "eye": [2, 4, 5]}


SURVEY = {"general": {
    "title": "就诊满意度回访", "thanks": "感谢您的反馈！",
    "questions": [
        {"id": "overall", "title": "总体满意度",
         "text": "请问您对这次就诊总体满意吗？请回复1到5的数字。"},
        {"id": "comment", "kind": "text", "text": "还有什么意见或想表扬的医护人员吗？"},
    ]}}


def report_settings(db_url: str, **extra: Any) -> Settings:
    """Every visit gets one survey: overall satisfaction, then a comment."""
    return make_settings(db_url, surveys=SURVEY, survey_routes=[{"survey": "general"}],
                         **extra)


def visits() -> list[dict[str, str]]:
    out = []
    for i, (code, dname, who, cid, kind, _score, _c) in enumerate(PLAN):
        v = {"external_id": f"V{i:03d}", "person_name": f"患者{i:02d}",
             "contact_phone": f"1390000{i:04d}", "occurred_at": "2026-10-05 09:30",
             "department": code, "department_name": dname, "clinician": who, "kind": kind}
        if cid:
            v["clinician_id"] = cid
        out.append(v)
    return out


async def seed_through_the_product(client: Any, clock: FrozenClock) -> None:
    """Import, answer on the H5 page, handle the complaints, record recovery answers."""
    r = await client.post("/api/episodes", json={"source": "his", "episodes": visits()},
                          headers={"Authorization": "Bearer test-key"})
    assert r.status == 200, await r.text()
    clock.advance(timedelta(days=1, hours=1))  # 2026-10-06 11:00: the check-ins go out

    async def links() -> bool:
        return await SurveyLink.all().count() >= len(PLAN)

    await eventually(links, timeout=30)
    for i, (_code, _d, _who, _cid, _kind, score, comment) in enumerate(PLAN):
        link = await SurveyLink.get(checkin__episode__external_id=f"V{i:03d}")
        r = await client.post(f"/s/{link.token}", data={"q_overall": str(score),
                                                        "q_comment": comment or "无"})
        assert r.status == 200, await r.text()
    assert await Answer.filter(question_id="overall").count() == len(PLAN)
    # the two complaints: one answered within the hour and closed the next day, one answered
    # after 30 hours and still open
    now = clock.now()
    for esc in await Escalation.all().order_by("id"):
        if "complaint" not in esc.kinds:
            continue
        dept = await esc.department
        if dept is not None and dept.code == "im":
            esc.first_response_at = esc.opened_at + timedelta(hours=1)
            esc.resolved_at = esc.opened_at + timedelta(days=1)
            esc.outcome = "已沟通解决"
            esc.status = "resolved"  # type: ignore[assignment]
        else:
            esc.first_response_at = esc.opened_at + timedelta(hours=30)
        await esc.save()
    # recovery satisfaction, recorded as the loop records it: survey and question "recovery"
    for code, scores in RECOVERY.items():
        for j, s in enumerate(scores):
            ci = await CheckIn.filter(episode__department__code=code).order_by("id").offset(
                j).first()
            assert ci is not None
            ep = await ci.episode
            conv = await ci.conversations.all().first()  # type: ignore[attr-defined]
            await ledger.append(
                Answer, checkin_id=ci.id, conversation_id=conv.id if conv else 0,
                episode_id=ep.id, department_id=ep.department_id, channel="h5",
                survey_id="recovery", question_id="recovery", score=s, text="",
                message_id=None, recorded_at=now, clinician=ep.clinician_name,
                clinician_code=ep.clinician_code, treatment_type=ep.treatment_type,
                local_day=now.astimezone(SH).date().isoformat())


def numbers(text: str) -> list[str]:
    """The numbers in a piece of HTML, as printed."""
    return re.findall(r"-?\d+(?:\.\d+)?", text)
