"""A small async client of the WeChat API: the shared access token (``stable_token``, kept in
the ``key_value`` table for every process), retries, and what each answer means.

Called with aiohttp: wechatpy has no async client, its token URL is fixed and its auto-retry
can loop.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from yarl import URL

from bot.channels.base import check_deadline
from bot.channels.wechat.codes import TOKEN_ERRORS, TOKEN_MARGIN
from bot.clock import Clock
from bot.config import WechatConfig
from models import (
    KeyValue,
)


class WechatApiError(Exception):
    """WeChat answered with a non-zero errcode (or not at all: errcode -1, ``transient``)."""

    def __init__(self, errcode: int, errmsg: str, *, transient: bool = False,
                 token: bool = False, unsure: bool = False) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.transient = transient
        self.token = token  # the token endpoint refused our AppID/AppSecret
        # The request may have been carried out (a timeout after it left, a dropped line):
        # repeating it is safe only for an idempotent call.
        self.unsure = unsure


# One header mapping for every API call (built per request, it was a measurable cost).
_JSON_HEADERS = {"Content-Type": "application/json; charset=utf-8"}


class WechatApi:
    """The few WeChat HTTP APIs we use, with a shared stable token, timeouts and retries."""

    def __init__(self, cfg: WechatConfig, clock: Clock) -> None:
        self.cfg = cfg
        self.clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._token: tuple[str, datetime] | None = None
        self._token_lock = asyncio.Lock()
        # API URLs with the token's query already encoded, per token: encoding ``params=``
        # on every send was a fifth of a sending worker's CPU.
        self._urls: tuple[str, dict[str, URL]] = ("", {})

    @property
    def _kv_key(self) -> str:
        return f"wechat:token:{self.cfg.app_id}"

    async def start(self) -> None:
        """Open the HTTP session."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.cfg.timeout_seconds)
            )

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _url(self, path: str, token: str) -> URL:
        """``path`` with ``access_token`` in its query, encoded once per token."""
        cached_for, urls = self._urls
        if cached_for != token:
            urls = {}
            self._urls = (token, urls)
        url = urls.get(path)
        if url is None:
            url = urls[path] = URL(f"{self.cfg.api_base_url}{path}").with_query(
                access_token=token)
        return url

    async def _post_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One POST of ``payload`` to ``path`` (no token)."""
        return await self._post(f"{self.cfg.api_base_url}{path}",
                                json.dumps(payload, ensure_ascii=False).encode())

    async def _post(self, url: str | URL, body: bytes) -> dict[str, Any]:
        """One POST of a JSON ``body``; transport trouble and 5xx become transient errors."""
        await self.start()
        assert self._session is not None
        check_deadline(self.clock.now(), self.cfg.timeout_seconds)  # right before it leaves
        try:
            async with self._session.post(url, data=body, headers=_JSON_HEADERS) as resp:
                if resp.status >= 500:
                    # 500/502/503: not carried out; 504: a gateway gave up waiting for it.
                    raise WechatApiError(-1, f"HTTP {resp.status}", transient=True,
                                         unsure=resp.status == 504)
                if resp.status != 200:
                    raise WechatApiError(-2, f"HTTP {resp.status}")
                raw = await resp.read()
            data = json.loads(raw)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as e:
            # No connection was made: the request never left.
            raise WechatApiError(-1, f"no connection ({type(e).__name__})",
                                 transient=True) from e
        except (TimeoutError, aiohttp.ClientError) as e:
            raise WechatApiError(-1, f"no answer ({type(e).__name__})", transient=True,
                                 unsure=True) from e
        except ValueError as e:
            raise WechatApiError(-1, "answer was not JSON", transient=True, unsure=True) from e
        if not isinstance(data, dict):
            raise WechatApiError(-1, "answer was not a JSON object", transient=True)
        return data

    async def _fetch_token(self, force: bool) -> tuple[str, int]:
        data = await self._post_json("/cgi-bin/stable_token", {
            "grant_type": "client_credential", "appid": self.cfg.app_id,
            "secret": self.cfg.app_secret, "force_refresh": force,
        })
        code = int(data.get("errcode") or 0)
        if code or not data.get("access_token"):
            raise WechatApiError(code or -1, str(data.get("errmsg", "no access_token")),
                                 transient=code == -1, token=code not in (0, -1, 45009))
        return str(data["access_token"]), int(data.get("expires_in") or 7200)

    async def check_credentials(self) -> None:
        """Ask ``stable_token`` itself, never a stored token (``survey-bot doctor``).

        Raises :class:`WechatApiError` with WeChat's errcode when it refuses.
        """
        await self._fetch_token(force=False)

    async def private_templates(self) -> set[str]:
        """The template ids the account has (``get_all_private_template``)."""
        await self.start()
        assert self._session is not None
        url = self._url("/cgi-bin/template/get_all_private_template", await self.access_token())
        try:
            async with self._session.get(url) as resp:
                data = json.loads(await resp.read())
        except (TimeoutError, aiohttp.ClientError, ValueError) as e:
            raise WechatApiError(-1, f"no usable answer ({type(e).__name__})",
                                 transient=True) from e
        code = int(data.get("errcode") or 0) if isinstance(data, dict) else -1
        if code:
            raise WechatApiError(code, str(data.get("errmsg", "")))
        return {str(t.get("template_id")) for t in data.get("template_list") or []}

    async def access_token(self, *, stale: str | None = None) -> str:
        """A valid token: from memory, the shared table, or ``stable_token``.

        ``stale`` is a token WeChat just refused: it is never returned again, and if
        ``stable_token`` hands it back, a forced refresh is asked for (sparingly: WeChat limits
        forced refreshes per day).
        """
        now = self.clock.now()
        if self._token and self._token[1] > now and self._token[0] != stale:
            return self._token[0]
        async with self._token_lock:
            now = self.clock.now()
            if self._token and self._token[1] > now and self._token[0] != stale:
                return self._token[0]
            row = await KeyValue.get_or_none(key=self._kv_key)
            if (row is not None and row.expires_at is not None and row.expires_at > now
                    and row.value != stale):
                self._token = (row.value, row.expires_at)
                return row.value
            token, expires_in = await self._fetch_token(force=False)
            if token == stale:
                token, expires_in = await self._fetch_token(force=True)
            expires = now + timedelta(seconds=expires_in) - TOKEN_MARGIN
            await KeyValue.update_or_create(
                defaults={"value": token, "expires_at": expires}, key=self._kv_key
            )
            self._token = (token, expires)
            return token

    async def call(self, path: str, payload: dict[str, Any], *,
                   idempotent: bool = True) -> dict[str, Any]:
        """Call an API with the token: refresh once on 40001/42001, back off on -1 and 5xx.

        A call that is not ``idempotent`` (a customer-service or subscribe message: WeChat
        takes no key for them) is never repeated after an answer that leaves its outcome
        unknown (a timeout, a dropped line): the caller settles that instead.
        """
        refreshed = False
        stale: str | None = None
        attempt = 0
        body = json.dumps(payload, ensure_ascii=False).encode()
        while True:
            try:
                token = await self.access_token(stale=stale)
                data = await self._post(self._url(path, token), body)
                code = int(data.get("errcode") or 0)
                if code in TOKEN_ERRORS and not refreshed:
                    refreshed, stale = True, token
                    continue
                if code:
                    raise WechatApiError(code, str(data.get("errmsg", "")), transient=code == -1)
                return data
            except WechatApiError as e:
                if (not e.transient or attempt >= self.cfg.max_retries
                        or (e.unsure and not idempotent)):
                    raise
                attempt += 1
                await asyncio.sleep(self.cfg.retry_backoff_seconds * 2 ** (attempt - 1))

    async def send_text(self, openid: str, text: str) -> None:
        """A customer-service text message (inside the 48-hour window)."""
        await self.call("/cgi-bin/message/custom/send", {
            "touser": openid, "msgtype": "text", "text": {"content": text},
        }, idempotent=False)

    async def send_template(self, openid: str, template_id: str, data: dict[str, Any],
                            url: str | None, client_msg_id: str) -> str:
        """A template message; returns WeChat's msgid (TEMPLATESENDJOBFINISH names it)."""
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data,
                                   "client_msg_id": client_msg_id}
        if url:
            payload["url"] = url
        result = await self.call("/cgi-bin/message/template/send", payload)
        return str(result.get("msgid", ""))

    async def send_subscribe(self, openid: str, template_id: str, data: dict[str, Any],
                             page: str | None) -> None:
        """A subscribe message (``bizsend``), for people who accepted that template."""
        payload: dict[str, Any] = {"touser": openid, "template_id": template_id, "data": data}
        if page:
            payload["page"] = page
        await self.call("/cgi-bin/message/subscribe/bizsend", payload, idempotent=False)

    async def create_qr(self, scene: str, expire_seconds: int) -> dict[str, Any]:
        """A temporary parametric QR code (``QR_STR_SCENE``): ticket, url, expire_seconds."""
        return await self.call("/cgi-bin/qrcode/create", {
            "expire_seconds": expire_seconds, "action_name": "QR_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene}},
        })
