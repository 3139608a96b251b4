"""Aliyun RPC calls (SMS dysmsapi, Voice dyvmsapi): signed by the SDK, sent with aiohttp.

Shared by :mod:`bot.channels.sms_aliyun` and :mod:`bot.channels.voice_aliyun`: the same
signing (:func:`signed_request`: the SDK's HMAC-SHA1 signer, nonce and timestamp from
``aliyunsdkcore``, over the canonical query its composer builds), timeouts, pacing and
reading of answers. Nothing is retried behind our back: sending an SMS or placing a call is not
idempotent. Every call first checks that it can end within this worker's lease on the message
(:func:`bot.channels.base.check_deadline`).

Outcomes: a :class:`Reply` (business errors come back as HTTP 200 with ``Code != "OK"``, the
gateway's own refusals with their HTTP status); :class:`NotSent` when the request provably
never left (no connection: safe to send again); :class:`Unsure` when it may have reached
Aliyun without an answer (each channel settles that before it sends again).
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
from aliyunsdkcore.auth.algorithm import sha_hmac1
from aliyunsdkcore.utils import parameter_helper
from yarl import URL

from bot.channels.base import check_deadline
from bot.clock import Clock

API_VERSION = "2017-05-25"  # dysmsapi and dyvmsapi alike

# Gateway and account answers that mean our credentials, clock or account are wrong, whatever
# the product: the channel pauses. code → (scope, what is wrong in Chinese, in English).
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
    # the account itself, whatever the product
    "isv.AMOUNT_NOT_ENOUGH": ("channel", "账户余额不足", "the account balance is too low"),
    "isv.ACCOUNT_NOT_EXISTS": ("channel", "阿里云账户不存在", "the Aliyun account does not exist"),
    "isv.ACCOUNT_ABNORMAL": ("channel", "阿里云账户异常", "the Aliyun account is abnormal"),
}

# Gateway refusals named by family (Forbidden.RAM, Forbidden.AccessKeyDisabled, NoPermission...):
# the RAM user may not call the action, whatever the product.
DENIED_FAMILIES: Final = ("Forbidden", "NoPermission")


def denied(code: str) -> bool:
    """Aliyun's gateway refused the RAM user the action (a code of :data:`DENIED_FAMILIES`)."""
    return any(code == f or code.startswith(f + ".") for f in DENIED_FAMILIES)


_FORM: Final = {"Content-Type": "application/x-www-form-urlencoded"}

# Bytes outside RFC 3986's unreserved set, in runs: Aliyun's percent-encoding is UTF-8 with
# everything else escaped ("%20" for a space, "~" kept).
_RESERVED_RUN = re.compile(rb"[^A-Za-z0-9_.~-]+")
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def percent_encode(value: str) -> str:
    """Aliyun's percent-encoding of one value, as the SDK's composer writes it (``urlencode``,
    then ``+`` → ``%20``, ``*`` → ``%2A``, ``%7E`` → ``~``) in one pass over runs of bytes:
    urllib's per-byte quoting of a Chinese template value cost a quarter of an SMS send's CPU
    (bench/dispatch.py under py-spy)."""
    if _UNRESERVED.fullmatch(value):  # most keys and values: nothing to escape
        return value
    return _RESERVED_RUN.sub(lambda m: b"%" + m.group().hex("%").upper().encode(),
                             value.encode()).decode()


@functools.lru_cache(maxsize=256)
def _key(name: str) -> str:
    """A parameter name, encoded (the same few names on every call)."""
    return percent_encode(name)


def _pairs(params: dict[str, str]) -> dict[str, str]:
    """Each parameter as its encoded ``name=value``."""
    return {k: f"{_key(k)}={percent_encode(v)}" for k, v in params.items()}


def signed_request(common: dict[str, str], access_key_id: str, secret: str,
                   body: dict[str, str], *, nonce: str | None = None,
                   timestamp: str | None = None) -> tuple[str, bytes]:
    """The signed request path ``/?...`` of an RPC call (signature version 1.0, HMAC-SHA1)
    and its form body: the path ``aliyunsdkcore``'s ``get_signed_url`` returns for ``body``
    (tests/test_aliyun_signing.py compares the two), with its signer, nonce and timestamp.
    """
    url = {**common,
           "Timestamp": timestamp or parameter_helper.get_iso_8061_date(),
           "SignatureMethod": sha_hmac1.get_signer_name(),
           "SignatureType": sha_hmac1.get_signer_type(),
           "SignatureVersion": sha_hmac1.get_signer_version(),
           "SignatureNonce": nonce or parameter_helper.get_uuid(),
           "AccessKeyId": access_key_id, "Format": "JSON"}
    pairs = _pairs(url)
    body_pairs = _pairs(body)
    signed = {**pairs, **body_pairs}
    canonical = "&".join(signed[k] for k in sorted(signed))
    # Encoded a second time, as the signature wants: after the first pass only "%", "&" and
    # "=" are left to escape ("%" first), without a regex match per earlier escape.
    twice = canonical.replace("%", "%25").replace("&", "%26").replace("=", "%3D")
    signature = sha_hmac1.get_sign_string(f"POST&%2F&{twice}", secret + "&")
    return ("/?" + "&".join(pairs.values()) + f"&Signature={percent_encode(signature)}",
            "&".join(body_pairs.values()).encode())


class Unsure(Exception):
    """The request may or may not have reached Aliyun (timeout, dropped connection)."""


class NotSent(Exception):
    """The request never left (no connection): safe to send again."""


@dataclass(frozen=True, slots=True)
class Reply:
    """Aliyun's answer: the HTTP status and the JSON body."""

    status: int
    body: dict[str, Any]


class AliyunRpc:
    """One AccessKey's RPC client for one product endpoint, with its HTTP session.

    ``connections`` bounds the requests at once in this process; ``max_per_second`` (0: no
    bound) paces them (Aliyun's API rate for the account, shared out between processes).
    """

    def __init__(self, *, access_key_id: str, access_key_secret: str, region_id: str,
                 endpoint: str, timeout: float, connect_timeout: float, connections: int,
                 clock: Clock, max_per_second: float = 0.0) -> None:
        self._ak, self._secret, self._region = access_key_id, access_key_secret, region_id
        self._endpoint = endpoint.rstrip("/")
        self.timeout, self.connect_timeout = timeout, connect_timeout
        self.connections, self.max_per_second = connections, max_per_second
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._next_slot = 0.0

    @property
    def call_seconds(self) -> float:
        """The longest one request can take."""
        return self.timeout + self.connect_timeout

    def start(self) -> aiohttp.ClientSession:
        """Open the HTTP session (once)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections),
                # Loopback fakes and private endpoints: no proxy from the environment.
                trust_env=False)
        return self._session

    async def close(self) -> None:
        """Close the HTTP session (running requests end by their timeouts)."""
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def _pace(self) -> None:
        """At most ``max_per_second`` calls a second from this process."""
        rate = self.max_per_second
        if not rate:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        slot = max(now, self._next_slot)
        self._next_slot = slot + 1.0 / rate
        if slot > now:
            await asyncio.sleep(slot - now)

    async def call(self, action: str, params: dict[str, str]) -> Reply:
        """Call ``action`` with ``params`` (see the module docstring for the outcomes)."""
        await self._pace()
        check_deadline(self.clock.now(), self.timeout)  # right before it leaves
        common = {"Action": action, "Version": API_VERSION, "RegionId": self._region}
        path, form = signed_request(common, self._ak, self._secret, params)
        session = self.start()
        timeout = aiohttp.ClientTimeout(total=self.timeout, sock_connect=self.connect_timeout)
        try:
            # The form encoded here, once: aiohttp's FormData for a dict cost a tenth of an
            # SMS send's CPU (bench/dispatch.py under py-spy) for the same bytes.
            # Already percent-encoded as signed: yarl must not parse and encode it again.
            async with session.post(URL(self._endpoint + path, encoded=True),
                                    data=form,
                                    headers=_FORM, timeout=timeout) as resp:
                raw = await resp.read()
                status = resp.status
        except aiohttp.ClientConnectorError as e:
            raise NotSent(f"{type(e).__name__}") from None  # no connection: never left
        except aiohttp.ConnectionTimeoutError as e:
            raise NotSent(f"{type(e).__name__}") from None
        except (TimeoutError, aiohttp.ClientError) as e:
            raise Unsure(f"{type(e).__name__}") from None  # it may have left
        try:
            data = json.loads(raw)
        except ValueError:
            if status in (500, 502, 503):
                return Reply(status, {"Code": "ServiceUnavailable", "Message": f"HTTP {status}"})
            raise Unsure(f"HTTP {status}, not JSON") from None
        if status == 504:
            raise Unsure("HTTP 504 from a gateway")
        return Reply(status, data if isinstance(data, dict) else {})
