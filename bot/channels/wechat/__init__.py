"""WeChat Official Account: a small async API client (api), the channel (channel), reading
the webhook (webhook), what is done with what arrives (inbound), binding QR codes (qr).

wechatpy does the crypto (WeChatCrypto) and passive replies; signatures and the flat XML of
messages are read in webhook; the HTTP API is called in api with aiohttp
(wechatpy has no async client, its token URL is fixed and its auto-retry can loop). The
access token comes from ``/cgi-bin/stable_token`` and is kept in the ``key_value`` table, so
every process shares one token.

Inbound rule: store first (deduplicated: ``MsgId``, events by FromUserName + CreateTime +
Event), act in the database only, answer WeChat well within its 5 seconds. Nothing here calls
the WeChat API from the webhook; replies and codes go through the outbox.
"""

from __future__ import annotations

from bot.channels.wechat.api import WechatApi, WechatApiError
from bot.channels.wechat.channel import WechatChannel, fit_field
from bot.channels.wechat.codes import CHANNEL
from bot.channels.wechat.inbound import handle
from bot.channels.wechat.qr import QrCode, episode_qr, find_episode
from bot.channels.wechat.webhook import WebhookRejected, check_query, read_message, render_reply

__all__ = [
    "CHANNEL",
    "QrCode",
    "WebhookRejected",
    "WechatApi",
    "WechatApiError",
    "WechatChannel",
    "check_query",
    "episode_qr",
    "find_episode",
    "fit_field",
    "handle",
    "read_message",
    "render_reply",
]
