"""Typed, validated configuration loaded from TOML.

Every setting has a default, so running without a file gives the built-in demo. A file only
names what it changes. Unknown keys and bad values stop start-up with a message that names the
key, the file and what is allowed. Any scalar may be overridden from the environment as
``SURVEYBOT_<SECTION>__<KEY>`` (for secrets: ``SURVEYBOT_WECHAT__APP_SECRET``).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from surveys.definition import RECOVERY, SurveyDef, default_surveys, recovery_survey
from surveys.parser import Lexicon, ReplyParser
from surveys.schedule import parse_offset
from surveys.understanding.model import Model, ModelError

ENV_PREFIX = "SURVEYBOT_"
CONFIG_ENV = "SURVEYBOT_CONFIG"
# Without a configuration file every command (demo, serve, import, report, staff…) uses the
# built-in demo settings and this database, so what is imported shows in the running demo.
DEMO_DATABASE_URL = "sqlite://survey-bot-demo.sqlite3"


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
    # A worker's own small HTTP server (/healthz, /metrics) on ``host``; 0: any free port,
    # named in its "ready" log line (set one per worker to scrape or probe it).
    metrics_port: int = Field(0, ge=0, le=65535)

    def base_url(self) -> str:
        """The public base URL without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


class LoggingConfig(_Section):
    """What the server logs, and how: human lines or one JSON object per line."""

    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("format", "level", mode="before")
    @classmethod
    def _lower(cls, v: Any) -> Any:
        return v.lower() if isinstance(v, str) else v  # SURVEYBOT_LOGGING__LEVEL=DEBUG


class MetricsConfig(_Section):
    """Who may read /metrics (Prometheus text format; counts only, nothing identifying).

    Without a token, only direct requests from ``allow`` networks (loopback by default) are
    served: a request that came through a reverse proxy (``X-Forwarded-For``, ``Forwarded``,
    ``X-Real-IP``) is not direct, even from 127.0.0.1. With a token, ``Authorization:
    Bearer <token>`` opens it from anywhere.
    """

    token: str = ""
    allow: list[str] = Field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])

    @field_validator("token")
    @classmethod
    def _token(cls, v: str) -> str:
        if v and len(v) < 16:
            raise ValueError("use a random string of at least 16 characters, or \"\" for none")
        return v

    @field_validator("allow")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for net in v:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError as e:
                raise ValueError(f"{net!r} is not an address or network such as "
                                 "\"10.0.0.0/8\"") from e
        return v

    def networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The ``allow`` networks, parsed."""
        return [ipaddress.ip_network(n, strict=False) for n in self.allow]


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
    send_concurrency: int = Field(32, ge=1, le=1000)
    retry_backoff_seconds: float = Field(30.0, ge=0, le=86_400)


class EscalationConfig(_Section):
    """When a reply goes to staff."""

    low_score_threshold: int = Field(2, ge=1, le=5)
    max_failed_attempts: int = Field(3, ge=1, le=10)


def _hhmm(v: Any) -> Any:
    if isinstance(v, str) and not re.fullmatch(r"\d{1,2}:\d{2}", v):
        raise ValueError("use HH:MM, e.g. \"10:00\"")
    return v


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


class ApiConfig(_Section):
    """Keys accepted by the import API (``Authorization: Bearer <key>``)."""

    keys: list[str] = Field(default_factory=list)


class WebConfig(_Section):
    """Staff and manager pages."""

    default_language: Literal["zh", "en"] = "zh"


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


class LedgerConfig(_Section):
    """Keys of the hash chains (answers, audit events): secrets, from the environment.

    With ``chain_key`` set each new row is linked by HMAC-SHA256 under it, so someone who can
    write the database but not read the application's environment cannot re-hash an edited
    chain into one that verifies. ``previous_chain_keys`` (newest first; comma-separated from
    the environment) only verify rows written before a rotation.
    """

    chain_key: str = Field("", description="HMAC key for new chain links; empty: unkeyed")
    previous_chain_keys: list[str] = Field(default_factory=list)

    @field_validator("previous_chain_keys", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):  # SURVEYBOT_LEDGER__PREVIOUS_CHAIN_KEYS=new-old,older
            return [k.strip() for k in v.split(",") if k.strip()]
        return v

    @field_validator("previous_chain_keys")
    @classmethod
    def _long_enough(cls, v: list[str]) -> list[str]:
        for k in v:
            _check_chain_key(k)
        return v

    @field_validator("chain_key")
    @classmethod
    def _key(cls, v: str) -> str:
        if v:
            _check_chain_key(v)
        return v


def _check_chain_key(key: str) -> None:
    if len(key) < 32 or "," in key:
        raise ValueError("a chain key is at least 32 characters without commas, e.g. the "
                         "output of `python -c 'import secrets; print(secrets.token_hex(32))'`")


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


class SimulatorConfig(_Section):
    """The built-in patient-phone simulator channel.

    Off unless asked for: its page lets anyone write as any contact and read their messages,
    which is what a demo wants and a hospital must not expose. The built-in demo settings
    (no configuration file) turn it on.
    """

    enabled: bool = False
    latency_ms: int = Field(0, ge=0, le=60_000)


class SmsTemplate(_Section):
    """One approved Aliyun template: its code and how to fill each ``${variable}``.

    ``params`` maps the template's variable names to text with ``{placeholders}`` from the
    message (``{contact_name}``, ``{department}``, ``{link_token}``, ``{text}`` = the bot's
    sentence, ``{code}`` for one-time codes). Values are cut to 35 characters, emoji removed.
    """

    code: str = ""
    params: dict[str, str] = Field(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _names(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", name):
                raise ValueError(f"template variable {name!r}: use letters, digits and _")
        return v


def _default_sms_templates() -> dict[str, SmsTemplate]:
    # Codes are what Aliyun approved for your account (SMS_123456789); empty: not configured.
    return {
        "checkin": SmsTemplate(params={"name": "{contact_name}", "dept": "{department}",
                                       "code": "{link_token}"}),
        "reply": SmsTemplate(params={"content": "{text}"}),
        "staff": SmsTemplate(params={"content": "{text}"}),
        "notice": SmsTemplate(params={"content": "{text}"}),
        "otp": SmsTemplate(params={"code": "{code}"}),
    }


class SmsConfig(_Section):
    """Aliyun SMS (dysmsapi): sending, caps, and the receipt/reply push callbacks."""

    access_key_id: str = Field("", description="Empty: the SMS channel is off")
    access_key_secret: str = ""
    endpoint: str = "https://dysmsapi.aliyuncs.com"
    region_id: str = "cn-hangzhou"
    sign_name: str = ""
    callback_token: str = ""
    timeout_seconds: float = Field(10.0, gt=0, le=120)
    connect_timeout_seconds: float = Field(5.0, gt=0, le=60)
    threads: int = Field(32, ge=1, le=512)  # sends at once per process (async, no threads)
    max_per_second: float = Field(1000.0, gt=0, le=10_000)  # API calls a second per process
    per_number_template_cap: int = Field(50, ge=1, le=1000)
    org_daily_cap: int = Field(10_000, ge=1)
    limit_backoff_seconds: float = Field(3600.0, ge=1, le=86_400)
    receipt_wait_seconds: float = Field(300.0, ge=1, le=86_400)
    # No longer used (paused messages wait unleased until resumed); accepted so that older
    # configuration files still load.
    pause_recheck_seconds: float = Field(300.0, ge=1, le=86_400)
    templates: dict[str, SmsTemplate] = Field(default_factory=_default_sms_templates)

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        if not re.fullmatch(r"https?://[^/\s]+/?", v):
            raise ValueError("use scheme://host[:port], e.g. https://dysmsapi.aliyuncs.com")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _complete(self) -> SmsConfig:
        if self.access_key_id:
            missing = [k for k in ("access_key_secret", "sign_name") if not getattr(self, k)]
            if missing:
                raise ValueError(f"access_key_id is set, so set {', '.join(missing)} too")
            if len(self.callback_token) < 16:
                raise ValueError("callback_token must be a random string of at least 16 "
                                 "characters (it guards the receipt and reply callbacks)")
        return self


class H5Config(_Section):
    """Wording of the mobile survey page at /s/{token} (patients read it)."""

    submit: str = "提交"
    comment_label: str = "还有什么想对我们说的吗？（选填）"
    comment_placeholder: str = "例如：哪里做得好，哪里需要改进"
    choose_all: str = "请为每个问题选择一个分数后再提交。"
    comment_too_long: str = "补充说明最多500字，请精简后再提交。"
    invalid_text: str = "内容中有无法识别的字符，请修改后再提交。"
    used: str = "您已经完成了这次评价，感谢您的反馈！"
    expired: str = "这个链接已过期。感谢您的关注，如有需要请致电{org_phone}。"
    closed: str = "这次回访已经结束，感谢您的反馈！如有需要请致电{org_phone}。"
    not_found: str = "没有找到这个链接，请检查短信中的链接是否完整。"
    score_hint: str = "1分非常不满意，5分非常满意"


class WechatConfig(_Section):
    """WeChat Official Account: webhook, API client, binding and conversation reopening.

    The channel is on when ``app_id`` is set. ``text_*`` keys are what people read in the chat.
    """

    app_id: str = Field("", description="Empty: the WeChat channel is off")
    app_secret: str = ""
    token: str = ""
    encoding_aes_key: str = ""
    api_base_url: str = "https://api.weixin.qq.com"
    webhook_path: str = "/wechat"
    mode: Literal["safe", "compatible", "plain"] = "safe"
    max_clock_skew_seconds: int = Field(300, ge=10, le=86_400)
    max_body_bytes: int = Field(65_536, ge=1024, le=1_048_576)
    timeout_seconds: float = Field(5.0, gt=0, le=60)
    max_retries: int = Field(2, ge=0, le=10)
    retry_backoff_seconds: float = Field(0.5, ge=0, le=60)
    reopen_with: Literal["template", "subscribe"] = "template"
    template_id: str = ""
    template_fields: dict[str, str] = Field(default_factory=lambda: {
        "thing1": "{org_name}{department}回访",
        "thing2": "请在公众号内回复1-5分",
        "time3": "{visit_date}",
    })
    fallback_channel: str = "sms"
    qr_expire_days: int = Field(30, ge=1, le=30)
    unsubscribe_opts_out: bool = False
    menu_survey_key: str = "SURVEY"
    menu_staff_key: str = "CONTACT_STAFF"
    otp_ttl_minutes: int = Field(10, ge=1, le=60)
    text_bound: str = (
        "您好，您已绑定{org_name}{department}的回访服务，之后的回访消息会在这里发给您。"
        "如有不适，可以随时在这里留言。"
    )
    text_welcome: str = (
        "感谢关注{org_name}！如需接收就诊回访，请扫描出院/就诊材料上的二维码，"
        "或直接回复您登记的手机号码。"
    )
    text_bind_prompt: str = (
        "您好，我们还不知道您是哪位。请扫描就诊材料上的二维码，或回复您登记的手机号码，"
        "我们会发送验证码。"
    )
    text_otp_sent: str = (
        "如果这个号码已在{org_name}登记，您会收到一条验证码短信，请把验证码回复到这里。"
    )
    text_otp_sms: str = "您的验证码是{code}，{minutes}分钟内有效。"
    text_otp_wrong: str = "验证码不正确或已过期，请重新回复您的手机号码获取新的验证码。"
    text_otp_unavailable: str = "暂时无法通过短信验证，请扫描就诊材料上的二维码完成绑定。"
    text_qr_invalid: str = "这个二维码已失效，请联系{org_name}工作人员，或回复您登记的手机号码。"
    text_voice_unclear: str = "抱歉，暂时无法识别语音，请直接输入数字1到5回复。"
    text_media_received: str = "已收到，我们会转给工作人员查看。"
    text_survey_link: str = "请点击链接完成评价：{link}"
    text_no_survey: str = "目前没有需要您评价的回访，感谢您的关注！"

    @field_validator("webhook_path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not re.fullmatch(r"/[A-Za-z0-9_\-/]*", v):
            raise ValueError("use a URL path such as /wechat")
        return v

    @field_validator("api_base_url")
    @classmethod
    def _base(cls, v: str) -> str:
        if not re.fullmatch(r"https?://[^\s]+", v):
            raise ValueError("use scheme://host[:port][/path], e.g. https://api.weixin.qq.com")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _complete(self) -> WechatConfig:
        if self.app_id:
            missing = [k for k in ("app_secret", "token") if not getattr(self, k)]
            if missing:
                raise ValueError(f"app_id is set, so set {', '.join(missing)} too")
            if self.mode != "plain" and not re.fullmatch(r"[A-Za-z0-9]{43}",
                                                         self.encoding_aes_key):
                raise ValueError(f"mode {self.mode!r} needs encoding_aes_key: the 43 letters "
                                 "and digits shown in the WeChat admin console")
        return self


ChannelName = Literal["simulator", "wechat", "sms"]


class ChannelsConfig(_Section):
    """Channels to try, in order, when a contact has no preference (configured ones only)."""

    order: list[ChannelName] = Field(
        default_factory=lambda: list[ChannelName](["wechat", "sms", "simulator"]))


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
