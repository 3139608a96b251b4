"""Which survey and schedule an episode gets, from configuration."""

from __future__ import annotations

import pytest

from bot.clock import SystemClock
from bot.config import settings_from_dict
from bot.planner import choose_survey, schedule_for
from bot.runtime import Runtime


@pytest.fixture
def rt() -> Runtime:
    return Runtime(settings=settings_from_dict({}), clock=SystemClock(), channels={})


@pytest.mark.parametrize(("department", "treatment", "kind", "survey"), [
    ("dental", "拔牙", "treatment", "dental"),
    ("dental", "洁牙", "visit", "dental"),
    ("ortho", "", "visit", "general"),
    ("surgery", "", "discharge", "hospital"),
    ("surgery", "出院", "visit", "hospital"),
    ("piano", "", "lesson_term", "music"),
])
def test_default_routes(rt: Runtime, department: str, treatment: str, kind: str,
                        survey: str) -> None:
    assert choose_survey(rt, department, treatment, kind) == survey


def test_routes_by_department_first_match_wins() -> None:
    rt = Runtime(settings=settings_from_dict({"survey_routes": [
        {"survey": "music", "departments": ["piano", "violin"]},
        {"survey": "general"},
    ]}), clock=SystemClock(), channels={})
    assert choose_survey(rt, "violin", "", "visit") == "music"
    assert choose_survey(rt, "dental", "拔牙", "treatment") == "general"


@pytest.mark.parametrize(("treatment", "offsets"), [
    ("拔牙", ["3h", "1d", "90d"]), ("补牙", ["0d", "1d", "90d", "180d", "360d"]),
    ("根管", ["0d", "1d", "15d"]), ("镶牙", ["1d", "7d", "30d", "90d", "180d", "360d"]),
    ("洁牙", ["1d", "180d"]), ("牙周", ["1d", "30d", "90d"]),
    ("种植", ["1d", "30d", "90d", "180d", "270d", "360d"]), ("正畸", ["7d", "90d", "180d", "360d"]),
    ("出院", ["3wd", "10d"]), ("感冒", ["1d"]), ("", ["1d"]),
])
def test_default_schedules_follow_the_domain_tables(rt: Runtime, treatment: str,
                                                    offsets: list[str]) -> None:
    assert schedule_for(rt, treatment) == offsets
