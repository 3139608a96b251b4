"""WeChat's own rules and answer codes, as the channel and the webhook read them.
"""

from __future__ import annotations

from datetime import timedelta

CHANNEL = "wechat"
WINDOW = timedelta(hours=48)  # customer-service messages only this long after the last message
# A template message repeated with the same client_msg_id within this is sent once (WeChat's
# rule is ten minutes; a minute is kept in hand).
DEDUP_WINDOW = timedelta(minutes=9)
CS_PER_INBOUND = 5  # and at most this many per message received
TOKEN_MARGIN = timedelta(minutes=5)  # refresh a little before WeChat says the token expires
TOKEN_ERRORS = {40001, 42001, 40014}  # invalid / expired / malformed access token
UNREACHABLE = {
    43004: "the person does not follow the account",
    43101: "the person has not accepted this kind of message",
    40003: "the openid is not valid for this account",
}
# Answers that mean our own set-up is wrong: WeChat pauses instead of failing the message.
# errcode → (scope, what is wrong in Chinese, in English). "template": check-ins (and the kind
# of message that met it) wait, customer-service texts inside the 48-hour window still go.
FAULTS: dict[int, tuple[str, str, str]] = {
    40013: ("channel", "AppID 不正确", "the AppID is wrong"),
    40125: ("channel", "AppSecret 不正确", "the AppSecret is wrong"),
    41002: ("channel", "未配置 AppID", "the AppID is missing"),
    41004: ("channel", "未配置 AppSecret", "the AppSecret is missing"),
    40164: ("channel", "本服务器的IP不在公众号的IP白名单中",
            "this server's IP address is not in the account's IP whitelist"),
    48001: ("channel", "公众号没有该接口的权限（未认证或未开通）",
            "the account is not authorised for this API"),
    48004: ("channel", "接口已被微信封禁", "WeChat has banned this API for the account"),
    40037: ("template", "模板ID不正确（template_id）", "the template id is wrong"),
    40036: ("template", "模板ID长度不正确（template_id）", "the template id has a wrong length"),
}
# Template and subscribe message keyword types → WeChat's length limits (characters).
FIELD_LIMITS = {
    "thing": 20, "character_string": 32, "number": 32, "letter": 32, "symbol": 5,
    "phrase": 5, "name": 10, "phone_number": 17, "car_number": 8, "amount": 11, "time": 32,
    "date": 32, "const": 20,
}
# Events that open the 48-hour window (WeChat's list: message, subscribe, scan, menu click).
WINDOW_EVENTS = {"subscribe", "scan", "click", "scancode_push", "scancode_waitmsg"}
MEDIA_LABELS = {"image": "[图片]", "location": "[位置]", "link": "[链接]", "video": "[视频]",
                "shortvideo": "[视频]", "voice": "[语音]", "file": "[文件]"}
SCENE_PREFIX = "ep:"
OTP_RESEND_SECONDS = 60
WAITING_MAX_AGE = timedelta(days=3)  # older messages that waited for a reply are not sent late
OTP_MAX_TRIES = 5
