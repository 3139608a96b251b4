"""When check-ins go out and to whom: schedules, send windows, calendar, reach, survey
routes, care texts.
"""

from __future__ import annotations

from datetime import date, time
from typing import Literal

from pydantic import (
    Field,
    field_validator,
)

from bot.config.base import _hhmm, _Section


def _default_importance() -> dict[str, int]:
    return {"discharge": 3, "treatment": 2, "visit": 1, "lesson_term": 1}


class CheckinConfig(_Section):
    """When check-ins go out, how often we try, and when a person is lost to follow-up."""

    send_time: time = time(10, 0)
    busy_defer_minutes: int = Field(30, ge=1, le=24 * 60)
    reply_window_hours: int = Field(24, ge=1, le=24 * 30)
    max_attempts: int = Field(3, ge=1, le=10)
    on_time_hours: int = Field(24, ge=1, le=24 * 30)
    fatigue_days: int = Field(7, ge=0, le=365)
    importance: dict[Literal["visit", "discharge", "treatment", "lesson_term"], int] = Field(
        default_factory=_default_importance  # type: ignore[arg-type]
    )

    _send_time = field_validator("send_time", mode="before")(_hhmm)


class QuietHours(_Section):
    """A department's own quiet hours."""

    quiet_start: time
    quiet_end: time

    _times = field_validator("quiet_start", "quiet_end", mode="before")(_hhmm)


class SendWindowConfig(_Section):
    """When messages may reach people: never in their rest hours."""

    enabled: bool = True  # false: any time, any day (a drill or a test of the set-up)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 30)
    spread_minutes: int = Field(60, ge=0, le=24 * 60)
    no_send_weekdays: list[int] = Field(default_factory=list)
    no_send_dates: list[date] = Field(default_factory=list)
    departments: dict[str, QuietHours] = Field(default_factory=dict)

    _times = field_validator("quiet_start", "quiet_end", mode="before")(_hhmm)

    @field_validator("no_send_weekdays")
    @classmethod
    def _weekdays(cls, v: list[int]) -> list[int]:
        bad = [d for d in v if not 1 <= d <= 7]
        if bad:
            raise ValueError(f"weekdays are 1 (Monday) to 7 (Sunday), got {bad}")
        return v


class CalendarConfig(_Section):
    """Holiday and make-up working-day overrides (years chinesecalendar does not know)."""

    holidays: list[date] = Field(default_factory=list)
    workdays: list[date] = Field(default_factory=list)


class ReachConfig(_Section):
    """Who is called rather than written to (with ``voice`` in ``[channels] order``)."""

    # People at least this old (from the visit's birth_date) are called before anything is
    # written to them; 0: off.
    voice_first_age: int = Field(0, ge=0, le=130)


class SurveyRoute(_Section):
    """Which survey a check-in uses: the first rule whose lists all match wins.

    An empty list matches anything; the last rule must match everything.
    """

    survey: str
    departments: list[str] = Field(default_factory=list)
    treatment_types: list[str] = Field(default_factory=list)
    kinds: list[Literal["visit", "discharge", "treatment", "lesson_term"]] = Field(
        default_factory=list
    )

    def matches(self, department: str, treatment_type: str, kind: str) -> bool:
        """True when every non-empty list contains the episode's value."""
        return ((not self.departments or department in self.departments)
                and (not self.treatment_types or treatment_type in self.treatment_types)
                and (not self.kinds or kind in self.kinds))


class CareText(_Section):
    """Per-treatment care guidance and re-visit reminder, appended where surveys say."""

    guidance: str = ""
    revisit: str = ""


DENTAL = ["拔牙", "补牙", "根管", "镶牙", "洁牙", "牙周", "种植", "正畸"]


def _default_routes() -> list[SurveyRoute]:
    return [
        SurveyRoute(survey="music", kinds=["lesson_term"]),
        SurveyRoute(survey="hospital", kinds=["discharge"]),
        SurveyRoute(survey="hospital", treatment_types=["出院"]),
        SurveyRoute(survey="dental", treatment_types=DENTAL),
        SurveyRoute(survey="general"),
    ]


def _default_care() -> dict[str, CareText]:
    # Distilled from a dental clinic's written follow-up notes (docs/domain.md).
    return {
        "拔牙": CareText(
            guidance="拔牙后24小时内不要漱口、刷牙，不要用舌头舔伤口；当天吃温凉软食，"
                     "少量渗血属正常，持续出血请及时就诊。",
            revisit="如需镶牙，拔牙后约3个月可来院复诊。"),
        "补牙": CareText(
            guidance="补牙后2小时内不要进食，避免用患牙咬硬物；短期冷热敏感一般会逐渐缓解。",
            revisit="建议每半年来院做一次口腔检查。"),
        "根管": CareText(
            guidance="根管治疗期间避免用患牙咀嚼，按时服药；治疗后建议做牙冠保护。",
            revisit="请按医生约定的时间来院完成后续治疗。"),
        "洁牙": CareText(
            guidance="洁牙后两三天内牙齿可能对冷热敏感，属正常现象，刷牙尽量用温水。",
            revisit="建议每半年到一年洁牙一次。"),
        "牙周": CareText(
            guidance="术后手术部位可能轻微肿痛、口内有淡血丝，3-4天会缓解；饮食清淡，"
                     "勿食辛辣刺激食物，遵医嘱服药。",
            revisit="请按约定时间来院复查牙周情况。"),
        "种植": CareText(
            guidance="种植术后遵医嘱服药，避免用术区咀嚼，保持口腔清洁，戒烟戒酒。",
            revisit="请按约定时间来院复查，等待戴牙期间我们每月会联系您。"),
        "出院": CareText(revisit="请按出院小结上的时间来院复查，如有不适请及时就诊。"),
    }


def _default_schedules() -> dict[str, list[str]]:
    # docs/domain.md (dental table, inpatient discharge); "default" covers anything else.
    return {
        "default": ["1d"],
        "拔牙": ["3h", "1d", "90d"],
        "补牙": ["0d", "1d", "90d", "180d", "360d"],
        "根管": ["0d", "1d", "15d"],
        "镶牙": ["1d", "7d", "30d", "90d", "180d", "360d"],
        "洁牙": ["1d", "180d"],
        "牙周": ["1d", "30d", "90d"],
        "种植": ["1d", "30d", "90d", "180d", "270d", "360d"],
        "正畸": ["7d", "90d", "180d", "360d"],
        "出院": ["3wd", "10d"],
        # A term of lessons: once at half term and once at the end (about 16 weeks).
        "lesson_term": ["8w", "16w"],
    }
