"""Settings of the people side: escalation, the staff workspace and its deadlines, WeCom
robots, tallies, themes, reports, the call list.
"""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import (
    Field,
    field_validator,
)

from bot.config.base import _hhmm, _Section


class EscalationConfig(_Section):
    """When a reply goes to staff."""

    low_score_threshold: int = Field(2, ge=1, le=5)
    max_failed_attempts: int = Field(3, ge=1, le=10)


class StaffConfig(_Section):
    """The staff workspace: sessions, sign-in throttling, SLA, canned replies and outcomes."""

    session_hours: int = Field(12, ge=1, le=24 * 30)
    login_max_failures: int = Field(5, ge=1, le=100)
    login_max_failures_per_account: int = Field(50, ge=1, le=10_000)
    login_max_failures_per_address: int = Field(50, ge=1, le=10_000)
    login_lockout_minutes: int = Field(15, ge=1, le=24 * 60)
    red_flag_response_minutes: int = Field(30, ge=1, le=24 * 60)
    complaint_response_hours: int = Field(24, ge=1, le=24 * 30)
    complaint_close_working_days: int = Field(5, ge=1, le=60)
    complaint_answer_days: int = Field(7, ge=1, le=60)
    other_response_hours: int = Field(48, ge=1, le=24 * 30)
    canned_replies: list[str] = Field(default_factory=lambda: [
        "您好，我是{org_name}的{staff_name}，已收到您的反馈，正在为您核实处理。",
        "您好，我是{staff_name}。关于您提到的情况，方便的话请回复一个可以联系您的时间。",
        "感谢您的耐心，您反映的问题已处理完毕。如还有其他需要，请随时联系我们。",
    ])
    outcomes: list[str] = Field(default_factory=lambda: [
        "已沟通解决", "已转科室处理", "已安排复诊", "患者无需进一步处理", "无法联系", "其他",
    ])
    # after a complaint or a low score is resolved: one question, "satisfied with how we
    # handled it? 1-5" ([texts] recovery_question), this many hours later; 0: never
    recovery_survey_hours: int = Field(24, ge=0, le=24 * 30)
    # "follow up later" when resolving (the default after a red flag is to close): the bot
    # asks again, from the start of the survey, this many hours later
    follow_up_later_hours: int = Field(24, ge=1, le=24 * 30)


class WecomConfig(_Section):
    """WeCom (企业微信) group robots that hear about escalations: an id and a link only."""

    base_url: str = "https://qyapi.weixin.qq.com"
    robot_key: str = Field("", description="Webhook key of the default group robot; empty: off")
    department_robots: dict[str, str] = Field(default_factory=dict)
    per_minute: int = Field(20, ge=1, le=20)
    timeout_seconds: float = Field(5.0, gt=0, le=60)


class TalliesConfig(_Section):
    """Manager analytics: fairness threshold, coverage target, SLA targets, praise words."""

    min_answers: int = Field(5, ge=1, le=1000)
    coverage_target: float = Field(0.9, ge=0, le=1)
    sla_urgent_minutes: int = Field(30, ge=1)
    sla_high_minutes: int = Field(24 * 60, ge=1)
    sla_normal_minutes: int = Field(3 * 24 * 60, ge=1)
    praise_words: list[str] = Field(default_factory=lambda: [
        "谢谢", "感谢", "表扬", "耐心", "细心", "认真", "负责", "专业", "热情", "辛苦",
        "温柔", "好医生", "好老师",
    ])
    # the 100-point score: "times20" = mean × 20 (非常满意 100 … 非常不满意 20, as the national
    # satisfaction surveys weight the five answers), "linear" = (mean − 1) × 25 (5 → 100, 1 → 0)
    hundred_point: Literal["times20", "linear"] = "times20"
    page_rows: int = Field(200, ge=10, le=5000)  # table rows per /tallies page (exports: all)


class ThemeConfig(_Section):
    """A comment theme: words added to a built-in one (or replacing them), or a new theme."""

    zh: str = ""
    en: str = ""
    words: list[str] = Field(default_factory=list)
    replace: bool = False  # true: these words instead of the built-in ones
    disabled: bool = False  # true: leave a built-in theme out


class ReportsConfig(_Section):
    """Delivering the monthly and quarterly reports to the managers' WeCom group robot."""

    # webhook key of the managers' group robot (secret: SURVEYBOT_REPORTS__ROBOT_KEY); empty:
    # reports are not delivered (they are still on /reports/monthly)
    robot_key: str = ""
    schedule: list[Literal["monthly", "quarterly"]] = Field(
        default_factory=lambda: ["monthly", "quarterly"])  # type: ignore[arg-type]
    send_time: time = time(9, 0)  # local time on the 1st when the report goes out

    _send_time = field_validator("send_time", mode="before")(_hhmm)


class CallsConfig(_Section):
    """The staff call list (电话回访): check-ins the bot could not complete."""

    enabled: bool = True
    max_attempts: int = Field(3, ge=1, le=10)
    retry_hours: int = Field(4, ge=1, le=24 * 7)
    give_up_days: int = Field(7, ge=1, le=90)
    call_within_hours: int = Field(24, ge=1, le=24 * 14)
    tel_links: bool = True
