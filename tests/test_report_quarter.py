"""A quarter's report hides what subtracting the published months would give away."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot import ledger
from bot.analytics import reports
from bot.config import Settings
from models import Answer, Department

NOW = datetime(2027, 1, 5, 2, tzinfo=UTC)


async def answers(dept: Department, day: str, scores: list[int], start: int) -> None:
    for i, s in enumerate(scores):
        await ledger.append(
            Answer, checkin_id=None, conversation_id=start + i, episode_id=None,
            department_id=dept.id, channel="h5", survey_id="general", question_id="overall",
            score=s, text="", message_id=None, clinician="", clinician_code="",
            treatment_type="", local_day=day,
            recorded_at=datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(hours=i))


def fig(rep: Any, dept: str) -> dict[str, Any]:
    return next(r for r in rep.as_dict()["satisfaction"] if r["department"] == dept)


async def test_a_quarter_does_not_undo_a_hidden_month(orm: None, settings: Settings) -> None:
    a = await Department.create(code="a", name="甲科")
    b = await Department.create(code="b", name="乙科")
    c = await Department.create(code="c", name="丙科")
    # October: 甲科 has 3 answers (hidden in October's report); November: 8
    await answers(a, "2026-10-10", [5, 4, 2], 0)
    await answers(a, "2026-11-10", [5, 5, 4, 4, 3, 5, 4, 5], 10)
    await answers(b, "2026-10-11", [4, 4, 5, 5, 3, 2], 20)
    await answers(b, "2026-11-11", [5, 4, 4, 5, 3, 5], 30)
    await answers(c, "2026-10-12", [5, 5, 4, 3, 4, 2, 5], 40)
    await answers(c, "2026-11-12", [4, 4, 5, 5, 3, 5, 5], 50)
    octo = await reports.build_report(settings, NOW, reports.ReportRequest("2026-10"))
    nov = await reports.build_report(settings, NOW, reports.ReportRequest("2026-11"))
    q4 = await reports.build_report(settings, NOW, reports.ReportRequest("2026-Q4"))
    assert fig(octo, "甲科")["hidden"] and fig(octo, "甲科")["reason"] == "small"
    assert not fig(nov, "甲科")["hidden"]
    # 甲科's quarter minus its November would be its October: the quarter hides it too, and
    # another department with it (else the organisation minus the others gives it back)
    assert fig(q4, "甲科")["hidden"] and fig(q4, "甲科")["answers"] == 11
    assert sum(1 for d in ("甲科", "乙科", "丙科") if fig(q4, d)["hidden"]) >= 2
    assert not fig(q4, "全院")["hidden"]

