"""Aliyun RPC calls (SMS dysmsapi, Voice dyvmsapi) through the SDK's ``CommonRequest``.

Shared by :mod:`bot.channels.sms_aliyun` and :mod:`bot.channels.voice_aliyun`: the same
signing (the SDK's HMAC-SHA1), timeouts and reading of answers. The SDK is synchronous, so
every call runs in a small bounded thread pool and never blocks the event loop. The SDK's own
retries are off: sending an SMS or placing a call is not idempotent, so after a timeout we
do not know whether it happened. Such a call raises :class:`Unsure`; each channel settles it
(by the receipt, or a query) before it sends again.

Business errors come back as HTTP 200 with ``Code != "OK"``; the API gateway's own refusals
(a wrong AccessKey or signature, a missing permission) with their HTTP status. Both become a
:class:`Reply`. Only a transport error that proves the request never left is a plain
:class:`~bot.channels.base.ChannelError` (safe to retry at once).
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bot.channels.base import ChannelError

API_VERSION = "2017-05-25"  # dysmsapi and dyvmsapi alike

# Transport errors that prove the request never reached Aliyun (safe to send again).
NOT_SENT = ("NewConnectionError", "ConnectTimeout", "Connection refused",
            "Name or service not known", "Failed to resolve", "No route to host")

# Gateway answers that mean our credentials or clock are wrong, whatever the product: the
# channel pauses. code → (scope, what is wrong in Chinese, in English).
GATEWAY_FAULTS: dict[str, tuple[str, str, str]] = {
    "InvalidAccessKeyId.NotFound": ("channel", "AccessKey ID 不存在",
                                    "the AccessKey ID does not exist"),
    "InvalidAccessKeyId.Inactive": ("channel", "AccessKey 已停用", "the AccessKey is disabled"),
    "SignatureDoesNotMatch": ("channel", "AccessKey Secret 不正确（请求签名不匹配）",
                              "the AccessKey secret is wrong (request signature mismatch)"),
    "IncompleteSignature": ("channel", "AccessKey Secret 不正确（请求签名不完整）",
                            "the AccessKey secret is wrong (incomplete signature)"),
    "InvalidTimeStamp.Expired": ("channel", "服务器时钟与阿里云相差过大",
                                 "this server's clock is too far from Aliyun's"),
}


class Unsure(Exception):
    """The request may or may not have reached Aliyun (timeout, dropped connection)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """Aliyun's answer: the HTTP status and the JSON body."""

    status: int
    body: dict[str, Any]


class AliyunRpc:
    """One AccessKey's RPC client for one product endpoint, with its thread pool.

    ``label`` names the product in errors ("SMS", "voice"); ``code_prefix`` starts the codes of
    our own errors ("sms.connect").
    """

    def __init__(self, *, access_key_id: str, access_key_secret: str, region_id: str,
                 endpoint: str, timeout: float, connect_timeout: float, threads: int,
                 label: str, code_prefix: str) -> None:
        self._ak, self._secret, self._region = access_key_id, access_key_secret, region_id
        scheme, _, host = endpoint.partition("://")
        self._scheme, self._host = scheme, host
        self.timeout, self.connect_timeout, self.threads = timeout, connect_timeout, threads
        self.label, self.code_prefix = label, code_prefix
        self._pool: ThreadPoolExecutor | None = None
        self._client: Any = None

    def start(self) -> ThreadPoolExecutor:
        """Create the thread pool and the SDK client (once)."""
        if self._pool is None:
            from aliyunsdkcore.client import AcsClient

            self._pool = ThreadPoolExecutor(self.threads,
                                            thread_name_prefix=f"aliyun-{self.code_prefix}")
            # auto_retry off: a send must never be repeated behind our back.
            self._client = AcsClient(
                self._ak, self._secret, self._region, auto_retry=False,
                connect_timeout=self.connect_timeout, timeout=self.timeout,
                pool_size=self.threads,
                # Loopback fakes and private endpoints must not go through a proxy from the
                # environment; a key that matches nothing makes requests use none.
                proxy={"no_proxy": "*"},
            )
        return self._pool

    async def close(self) -> None:
        """Stop the thread pool (running calls finish first: they have timeouts)."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)

    async def call(self, action: str, params: dict[str, str]) -> Reply:
        """Call ``action`` with ``params``; :class:`Unsure` when the answer did not come."""
        pool = self.start()
        loop = asyncio.get_running_loop()
        guard = self.timeout + self.connect_timeout + 5
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(pool, self._call_sync, action, params), guard)
        except TimeoutError:
            raise Unsure("no answer in time") from None

    def _call_sync(self, action: str, params: dict[str, str]) -> Reply:
        from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
        from aliyunsdkcore.request import CommonRequest

        req = CommonRequest()
        req.set_domain(self._host)
        req.set_protocol_type(self._scheme)
        req.set_method("POST")
        req.set_version(API_VERSION)
        req.set_action_name(action)
        req.set_accept_format("json")
        for k, v in params.items():
            req.add_query_param(k, v)
        try:
            try:
                body = self._client.do_action_with_exception(req)
            except (ServerException, ClientException):
                raise
            except Exception as e:
                # The SDK choked on an answer it did not expect: the request did go out.
                raise Unsure(f"the SDK could not read the answer ({type(e).__name__})") from e
        except ServerException as e:
            return Reply(e.get_http_status() or 400,
                         {"Code": e.get_error_code(), "Message": e.get_error_msg()})
        except ClientException as e:
            text = str(e.get_error_msg())
            if any(marker in text for marker in NOT_SENT):
                raise ChannelError(f"cannot reach the {self.label} endpoint: {text[:160]}",
                                   code=f"{self.code_prefix}.connect") from None
            raise Unsure(text[:160]) from None
        try:
            data = json.loads(body)
        except ValueError:
            raise Unsure("the answer was not JSON") from None
        return Reply(200, data if isinstance(data, dict) else {})
