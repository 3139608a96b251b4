"""Typed, validated configuration loaded from TOML.

Every setting has a default, so running without a file gives the built-in demo. A file only
names what it changes. Unknown keys and bad values stop start-up with a message that names the
key, the file and what is allowed. Any scalar may be overridden from the environment as
``SURVEYBOT_<SECTION>__<KEY>`` (for secrets: ``SURVEYBOT_WECHAT__APP_SECRET``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bot.config.base import CONFIG_ENV, DEMO_DATABASE_URL, ENV_PREFIX, ConfigError, _Section
from bot.config.channels import (  # noqa: F401 (re-exported)
    VOICE_KEYS,
    ChannelsConfig,
    H5Config,
    SmsConfig,
    SmsTemplate,
    VoiceConfig,
    VoicePrompt,
    WechatConfig,
)
from bot.config.process import (
    ApiConfig,
    DatabaseConfig,
    LedgerConfig,
    LoggingConfig,
    MetricsConfig,
    OrgConfig,
    ServerConfig,
    SimulatorConfig,
    WebConfig,
    WorkerConfig,
)
from bot.config.schedule import (
    CalendarConfig,
    CareText,
    CheckinConfig,
    ReachConfig,
    SendWindowConfig,
    SurveyRoute,
    _default_care,
    _default_routes,
    _default_schedules,
)
from bot.config.staff import (
    CallsConfig,
    EscalationConfig,
    ReportsConfig,
    StaffConfig,
    TalliesConfig,
    ThemeConfig,
    WecomConfig,
)
from bot.config.words import LexiconConfig, TextsConfig
from surveys.definition import RECOVERY, SurveyDef, default_surveys, recovery_survey
from surveys.schedule import parse_offset
from surveys.window import SendWindow


class Settings(_Section):
    """The whole configuration."""

    server: ServerConfig = ServerConfig()
    database: DatabaseConfig = DatabaseConfig()
    logging: LoggingConfig = LoggingConfig()
    metrics: MetricsConfig = MetricsConfig()
    org: OrgConfig = OrgConfig()
    worker: WorkerConfig = WorkerConfig()
    escalation: EscalationConfig = EscalationConfig()
    checkin: CheckinConfig = CheckinConfig()
    send_window: SendWindowConfig = SendWindowConfig()
    calendar: CalendarConfig = CalendarConfig()
    api: ApiConfig = ApiConfig()
    web: WebConfig = WebConfig()
    staff: StaffConfig = StaffConfig()
    ledger: LedgerConfig = LedgerConfig()
    wecom: WecomConfig = WecomConfig()
    simulator: SimulatorConfig = SimulatorConfig()
    sms: SmsConfig = SmsConfig()
    voice: VoiceConfig = VoiceConfig()
    reach: ReachConfig = ReachConfig()
    calls: CallsConfig = CallsConfig()
    wechat: WechatConfig = WechatConfig()
    h5: H5Config = H5Config()
    tallies: TalliesConfig = TalliesConfig()
    reports: ReportsConfig = ReportsConfig()
    themes: dict[str, ThemeConfig] = Field(default_factory=dict)
    channels: ChannelsConfig = ChannelsConfig()
    texts: TextsConfig = TextsConfig()
    lexicon: LexiconConfig = LexiconConfig()
    schedules: dict[str, list[str]] = Field(default_factory=_default_schedules)
    surveys: dict[str, SurveyDef] = Field(default_factory=default_surveys)
    survey_routes: list[SurveyRoute] = Field(default_factory=_default_routes)
    care: dict[str, CareText] = Field(default_factory=_default_care)

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
            r.departments or r.treatment_types or r.kinds for r in self.survey_routes[-1:]
        ):
            raise ValueError("the last entry of survey_routes must match everything (no filters)")
        return self

    @model_validator(mode="after")
    def _recovery_survey(self) -> Settings:
        # The one-question recovery survey (bot.escalations.recovery) exists unless
        # configured by hand.
        own = self.surveys.get(RECOVERY)
        if own is None:
            self.surveys[RECOVERY] = recovery_survey(self.texts.recovery_question,
                                                     self.texts.recovery_thanks)
        elif not any(q.id == RECOVERY and q.kind == "score" for q in own.questions):
            raise ValueError(f"surveys.{RECOVERY} must have a score question with id "
                             f"{RECOVERY!r} (recovery satisfaction is tallied by it)")
        return self

    @model_validator(mode="after")
    def _call_hours_outside_quiet_hours(self) -> Settings:
        # A call waits for the call hours outside the quiet hours: if they never meet, no
        # call (and no staff call) could ever be placed.
        w = self.send_window
        if not w.enabled or not self.voice.call_hours:
            return self
        windows = [("[send_window]", w.quiet_start, w.quiet_end)] + [
            (f"[send_window.departments.{code}]", q.quiet_start, q.quiet_end)
            for code, q in w.departments.items()]
        for name, start, end in windows:
            quiet = SendWindow(quiet_start=start, quiet_end=end)
            if not any(not quiet.is_quiet(time(h, m)) and a <= time(h, m) < b
                       for a, b in self.voice.hours() for h in range(24) for m in range(0, 60, 5)):
                raise ValueError(f"[voice] call_hours lie entirely in the quiet hours of {name}: "
                                 "no call could ever be made")
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
    return resolve_settings(path, env)[0]


def resolve_settings(path: str | os.PathLike[str] | None = None,
                     env: Mapping[str, str] | None = None) -> tuple[Settings, str]:
    """:func:`load_settings`, and where the settings came from (for messages)."""
    env = os.environ if env is None else env
    if path is None:
        path = env.get(CONFIG_ENV) or None
    # The built-in demo settings: every default, plus the patient-phone simulator and the demo
    # database.
    data: dict[str, Any] = {"simulator": {"enabled": True},
                            "database": {"url": DEMO_DATABASE_URL}}
    source = "built-in demo settings"
    if path is not None:
        p = Path(path)
        source = str(p)
        try:
            with p.open("rb") as fh:
                data = tomllib.load(fh)  # a file replaces the demo settings
        except FileNotFoundError as e:
            raise ConfigError(f"configuration file {p} does not exist") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"configuration file {p} is not valid TOML: {e}") from e
    overrides = _env_overrides(env)
    if overrides:
        source += " + SURVEYBOT_* environment variables"
        _merge(data, overrides)
    try:
        return Settings.model_validate(data), source
    except ValidationError as e:
        raise ConfigError(_describe(e, source)) from None


def settings_from_dict(data: Mapping[str, Any]) -> Settings:
    """Build settings from a mapping (tests and embedding)."""
    try:
        return Settings.model_validate(dict(data))
    except ValidationError as e:
        raise ConfigError(_describe(e, "settings")) from None
