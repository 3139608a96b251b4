"""Settings of the channels: SMS (Aliyun) and its templates, voice (Aliyun VMS), the H5
survey page, WeChat, the order of channels.
"""

from __future__ import annotations

import itertools
import re
from datetime import time
from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from bot.config.base import _Section


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
    # Messages sharing a template go in one SendBatchSms call, up to this many numbers
    # (Aliyun's limit is 100); 1: each by itself with SendSms, as before.
    batch_size: int = Field(100, ge=1, le=100)
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


_RESERVED_VARS = {"email", "mobile", "id", "nick", "site"}


class VoicePrompt(_Section):
    """An approved Aliyun text-to-speech template (文本转语音模板) and how to fill it.

    ``params`` maps the template's variable names to text with ``{placeholders}`` (as for SMS:
    ``{org_name}``, ``{department}``, ``{subject}`` = 您 or the child's name, ``{text}``).
    Values are cut to ``[voice] var_limit`` characters; links and the characters Aliyun forbids
    in a voice variable are dropped.
    """

    code: str = ""
    params: dict[str, str] = Field(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _names(cls, v: dict[str, str]) -> dict[str, str]:
        for name in v:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", name):
                raise ValueError(f"template variable {name!r}: use letters, digits and _")
            if name.lower() in _RESERVED_VARS:
                raise ValueError(f"template variable {name!r}: Aliyun reserves it "
                                 f"({', '.join(sorted(_RESERVED_VARS))})")
        return v


# Keys of the keypad survey: 1-5 answer, 0 asks for a person, 9 opts out.
VOICE_KEYS = ("1", "2", "3", "4", "5", "0", "9")


def _default_voice_menu() -> dict[str, str]:
    return {k: "" for k in VOICE_KEYS}


def _default_voice_questions() -> dict[str, VoicePrompt]:
    return {"overall": VoicePrompt(params={"org": "{org_name}", "dept": "{department}",
                                           "name": "{subject}"})}


def _hours_range(text: str) -> tuple[time, time]:
    m = re.fullmatch(r"([0-9]{1,2}):([0-9]{2}) *- *([0-9]{1,2}):([0-9]{2})", text.strip())
    if not m:
        raise ValueError(f"call hours {text!r}: use \"HH:MM-HH:MM\", e.g. \"09:00-12:00\"")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"call hours {text!r}: not a time of day")
    start, end = time(h1, m1), time(23, 59, 59) if h2 == 24 else time(h2, m2)
    if start >= end:
        raise ValueError(f"call hours {text!r}: the start must come before the end")
    return start, end


class VoiceConfig(_Section):
    """Aliyun Voice Service (dyvmsapi): keypad surveys by phone (IvrCall) and the receipts.

    Off while ``access_key_id`` is empty. Calls go only to the check-ins the reach rules give
    to ``voice`` (``[channels] order``, ``[reach]``, contacts marked phone only).
    """

    access_key_id: str = Field("", description="Empty: the voice channel is off")
    access_key_secret: str = ""
    endpoint: str = "https://dyvmsapi.aliyuncs.com"
    region_id: str = "cn-hangzhou"
    called_show_number: str = ""
    callback_token: str = ""
    timeout_seconds: float = Field(10.0, gt=0, le=120)
    connect_timeout_seconds: float = Field(5.0, gt=0, le=60)
    threads: int = Field(2, ge=1, le=32)  # requests at once per process (HTTP connections)
    play_times: int = Field(2, ge=1, le=3)
    key_timeout_seconds: int = Field(10, ge=1, le=60)
    attempts: int = Field(2, ge=1, le=5)
    retry_minutes: int = Field(120, ge=1, le=24 * 60)
    answer_wait_minutes: int = Field(30, ge=1, le=24 * 60)
    receipt_wait_seconds: float = Field(1800.0, ge=1, le=86_400)
    limit_backoff_seconds: float = Field(3600.0, ge=1, le=86_400)
    max_questions: int = Field(1, ge=1, le=10)
    per_minute: int = Field(1, ge=1, le=100)
    per_hour: int = Field(5, ge=1, le=1000)
    per_day: int = Field(20, ge=1, le=10_000)
    call_hours: list[str] = Field(default_factory=lambda: ["09:00-12:00", "14:00-20:00"])
    var_limit: int = Field(20, ge=1, le=100)
    key_hint: str = ("请按1到5键评分，5分非常满意，1分非常不满意；按0转人工服务；"
                     "按9不再接听回访电话。")
    menu: dict[str, str] = Field(default_factory=_default_voice_menu)
    bye_code: str = ""
    questions: dict[str, VoicePrompt] = Field(default_factory=_default_voice_questions)
    notice: VoicePrompt = VoicePrompt(params={"content": "{text}"})

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        if not re.fullmatch(r"https?://[^/\s]+/?", v):
            raise ValueError("use scheme://host[:port], e.g. https://dyvmsapi.aliyuncs.com")
        return v.rstrip("/")

    @field_validator("call_hours")
    @classmethod
    def _hours(cls, v: list[str]) -> list[str]:
        ranges = sorted(_hours_range(r) for r in v)
        for (_, end), (start, _) in itertools.pairwise(ranges):
            if start < end:
                raise ValueError("call hours overlap")
        return v

    @field_validator("menu")
    @classmethod
    def _menu(cls, v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(VOICE_KEYS))
        if unknown:
            raise ValueError(f"keys {unknown}: the keypad survey uses 1-5 (answers), 0 (a "
                             "person calls back) and 9 (no more follow-up calls)")
        return {**_default_voice_menu(), **v}

    @model_validator(mode="after")
    def _complete(self) -> VoiceConfig:
        if self.access_key_id:
            missing = [k for k in ("access_key_secret", "called_show_number")
                       if not getattr(self, k)]
            if missing:
                raise ValueError(f"access_key_id is set, so set {', '.join(missing)} too")
            if len(self.callback_token) < 16:
                raise ValueError("callback_token must be a random string of at least 16 "
                                 "characters (it guards the call receipt callback)")
            keys = [k for k in VOICE_KEYS if not self.menu.get(k)]
            if keys:
                raise ValueError(f"access_key_id is set, so give [voice.menu] a template code "
                                 f"for keys {', '.join(keys)} (played after the key)")
            if not any(p.code for p in self.questions.values()):
                raise ValueError("access_key_id is set, so give [voice.questions] an approved "
                                 "template code for at least one score question")
        return self

    def hours(self) -> list[tuple[time, time]]:
        """The call hours as (start, end) local times, earliest first; empty: any time."""
        return sorted(_hours_range(r) for r in self.call_hours)


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


ChannelName = Literal["simulator", "wechat", "sms", "voice"]


class ChannelsConfig(_Section):
    """Channels to try, in order, when a contact has no preference (configured ones only)."""

    order: list[ChannelName] = Field(
        default_factory=lambda: list[ChannelName](["wechat", "sms", "simulator"]))
