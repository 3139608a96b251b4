"""Typed, validated configuration loaded from TOML.

Every setting has a default, so running without a file gives the built-in demo. A file only
names what it changes. Unknown keys and bad values stop start-up with a message that names the
key, the file and what is allowed. Any scalar may be overridden from the environment as
``SURVEYBOT_<SECTION>__<KEY>`` (for secrets: ``SURVEYBOT_WECHAT__APP_SECRET``).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from surveys.definition import SurveyDef, default_surveys
from surveys.schedule import parse_offset

ENV_PREFIX = "SURVEYBOT_"
CONFIG_ENV = "SURVEYBOT_CONFIG"


class ConfigError(Exception):
    """The configuration cannot be used; the message says what and where."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Section):
    """HTTP server and process role."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    public_url: str = Field("", description="Base URL people and staff reach; default http://host:port")
    role: Literal["web", "worker", "all"] = "all"

    def base_url(self) -> str:
        """The public base URL without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


class DatabaseConfig(_Section):
    """Where records live: SQLite (embedded default) or PostgreSQL."""

    url: str = "sqlite://survey-bot.sqlite3"

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("sqlite://", "postgres://", "postgresql://", "asyncpg://")):
            raise ValueError("must start with sqlite://, postgres:// or postgresql://")
        return v


class OrgConfig(_Section):
    """Who is writing to patients, and the local time zone."""

    name: str = "示例医院"
    phone: str = "0571-88888888"
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(
                f"unknown time zone {v!r} (use an IANA name such as Asia/Shanghai)"
            ) from e
        return v


class WorkerConfig(_Section):
    """Background loops: planner, outbox sender, dispatcher."""

    poll_interval_seconds: float = Field(1.0, gt=0, le=3600)
    lease_seconds: int = Field(60, ge=5, le=3600)
    batch_size: int = Field(100, ge=1, le=10_000)
    max_send_attempts: int = Field(5, ge=1, le=100)
    retry_backoff_seconds: float = Field(30.0, ge=0, le=86_400)


class EscalationConfig(_Section):
    """When a reply goes to staff."""

    low_score_threshold: int = Field(2, ge=1, le=5)
    max_failed_attempts: int = Field(3, ge=1, le=10)


class CheckinConfig(_Section):
    """How long a sent check-in stays open for replies."""

    expiry_hours: int = Field(72, ge=1, le=24 * 60)
    send_time: time = time(10, 0)
    busy_defer_minutes: int = Field(30, ge=1, le=24 * 60)

    @field_validator("send_time", mode="before")
    @classmethod
    def _time(cls, v: Any) -> Any:
        if isinstance(v, str) and not re.fullmatch(r"\d{1,2}:\d{2}", v):
            raise ValueError("use HH:MM, e.g. \"10:00\"")
        return v


class ApiConfig(_Section):
    """Keys accepted by the import API (``Authorization: Bearer <key>``)."""

    keys: list[str] = Field(default_factory=list)


class WebConfig(_Section):
    """Staff and manager pages."""

    staff_token: str = Field(
        "", description="If set, staff and manager pages require ?token= or the cookie"
    )
    default_language: Literal["zh", "en"] = "zh"


class SimulatorConfig(_Section):
    """The built-in patient-phone simulator channel."""

    enabled: bool = True


class ChannelsConfig(_Section):
    """Which channel a check-in goes out on when the contact has no preference."""

    default: Literal["simulator", "wechat", "sms"] = "simulator"


class TextsConfig(_Section):
    """Everything a patient reads besides the survey questions. Placeholders in braces."""

    greeting_guardian: str = (
        "{contact_name}您好，这里是{org_name}{department}，想了解{person_name}的情况。"
    )
    greeting_self: str = "{contact_name}您好，这里是{org_name}{department}。"
    reask_score: str = (
        "抱歉，我没有看懂。请回复1到5之间的数字（5分表示非常满意，1分表示非常不满意）。"
    )
    out_of_range: str = "评分是1到5分哦，请回复1到5之间的一个数字。"
    confirm_score: str = "您是打{score}分吗？请回复“是”或“不是”。"
    opt_out_confirmed: str = "好的，以后不再给您发送回访消息。祝您健康！"
    red_flag_advice: str = (
        "您说的情况需要尽快处理：请尽快回院就诊，或拨打{org_name}电话{org_phone}；"
        "情况紧急请立即拨打120。我们已通知医生尽快联系您。"
    )
    complaint_ack: str = (
        "非常抱歉给您带来不好的体验。您的意见已转交{department}负责人，"
        "我们会在24小时内与您联系。"
    )
    question_ack: str = "您的问题已转给工作人员，我们会尽快回复您。"
    handed_to_staff: str = "我们已请工作人员与您联系，请稍候。"
    no_open_survey: str = "感谢您的留言，工作人员看到后会尽快回复您。"
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


class SurveyRoute(_Section):
    """Which survey a check-in uses: first matching rule wins; empty fields match anything."""

    survey: str
    department: str = ""
    treatment_type: str = ""


def _default_schedules() -> dict[str, list[str]]:
    # ../shared/DOMAIN.md (dental table, inpatient discharge); "default" covers anything else.
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
    }


class Settings(_Section):
    """The whole configuration."""

    server: ServerConfig = ServerConfig()
    database: DatabaseConfig = DatabaseConfig()
    org: OrgConfig = OrgConfig()
    worker: WorkerConfig = WorkerConfig()
    escalation: EscalationConfig = EscalationConfig()
    checkin: CheckinConfig = CheckinConfig()
    api: ApiConfig = ApiConfig()
    web: WebConfig = WebConfig()
    simulator: SimulatorConfig = SimulatorConfig()
    channels: ChannelsConfig = ChannelsConfig()
    texts: TextsConfig = TextsConfig()
    lexicon: LexiconConfig = LexiconConfig()
    schedules: dict[str, list[str]] = Field(default_factory=_default_schedules)
    surveys: dict[str, SurveyDef] = Field(default_factory=default_surveys)
    survey_routes: list[SurveyRoute] = Field(
        default_factory=lambda: [SurveyRoute(survey="general")]
    )

    @field_validator("schedules")
    @classmethod
    def _schedules(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, offsets in v.items():
            if not offsets:
                raise ValueError(f"schedule {name!r} has no offsets")
            for off in offsets:
                parse_offset(off)  # raises ValueError with the allowed forms
        if "default" not in v:
            raise ValueError(
                'a schedule named "default" is required (used for any other treatment)'
            )
        return v

    @model_validator(mode="after")
    def _routes_name_surveys(self) -> Settings:
        for i, route in enumerate(self.survey_routes):
            if route.survey not in self.surveys:
                known = ", ".join(sorted(self.surveys))
                raise ValueError(
                    f"survey_routes[{i}] names survey {route.survey!r}, which is not defined "
                    f"(defined: {known})"
                )
        if not self.survey_routes or any(
            r.department or r.treatment_type for r in self.survey_routes[-1:]
        ):
            raise ValueError("the last entry of survey_routes must match everything (no filters)")
        return self

    @property
    def tz(self) -> ZoneInfo:
        """The organisation's time zone."""
        return ZoneInfo(self.org.timezone)


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    """Nested overrides from ``SURVEYBOT_SECTION__KEY`` variables."""
    out: dict[str, Any] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name or name == CONFIG_ENV:
            continue
        path = name[len(ENV_PREFIX) :].lower().split("__")
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def _allowed_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys a section accepts, found by walking the model along ``loc``."""
    model: Any = Settings
    for part in loc[:-1]:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        model = field.annotation
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _describe(err: ValidationError, source: str) -> str:
    lines = [f"configuration error in {source}:"]
    for e in err.errors():
        loc = tuple(p for p in e["loc"])
        key = ".".join(str(p) for p in loc) or "(top level)"
        if e["type"] == "extra_forbidden":
            allowed = _allowed_keys(loc)
            hint = f"; allowed here: {', '.join(allowed)}" if allowed else ""
            lines.append(f"  unknown key '{key}'{hint}")
        else:
            msg = e["msg"].removeprefix("Value error, ")
            lines.append(f"  bad value for '{key}': {msg} (got {e.get('input')!r})")
    lines.append("  See config.example.toml for every setting and its allowed values.")
    return "\n".join(lines)


def load_settings(path: str | os.PathLike[str] | None = None,
                  env: Mapping[str, str] | None = None) -> Settings:
    """Load settings from ``path`` (or ``$SURVEYBOT_CONFIG``), else the built-in demo ones."""
    env = os.environ if env is None else env
    if path is None:
        path = env.get(CONFIG_ENV) or None
    data: dict[str, Any] = {}
    source = "built-in defaults"
    if path is not None:
        p = Path(path)
        source = str(p)
        try:
            with p.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError as e:
            raise ConfigError(f"configuration file {p} does not exist") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"configuration file {p} is not valid TOML: {e}") from e
    overrides = _env_overrides(env)
    if overrides:
        source += " + SURVEYBOT_* environment variables"
        _merge(data, overrides)
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_describe(e, source)) from None


def settings_from_dict(data: Mapping[str, Any]) -> Settings:
    """Build settings from a mapping (tests and embedding)."""
    try:
        return Settings.model_validate(dict(data))
    except ValidationError as e:
        raise ConfigError(_describe(e, "settings")) from None
