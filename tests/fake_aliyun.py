"""A local fake of Aliyun's SMS API (dysmsapi 2017-05-25) speaking its real wire protocol.

RPC requests are checked the way Aliyun documents them: the parameters (query and form body)
minus ``Signature`` are sorted, percent-encoded (RFC 3986: space → %20, ``*`` → %2A, ``~``
kept), joined with ``&``; StringToSign = ``METHOD&%2F&`` + percentEncode(that string); the
signature is base64(HMAC-SHA1(secret + "&", StringToSign)). Nonces cannot be reused.

Tests steer it: ``codes`` (Codes to answer next, e.g. ``isv.AMOUNT_NOT_ENOUGH``), ``refuse``
(a Code answered to every request until cleared: an account fault that lasts until fixed),
``sign_names`` / ``template_codes`` (when set, only these are approved: others get
``isv.SMS_SIGNATURE_ILLEGAL`` / ``isv.SMS_TEMPLATE_ILLEGAL``), ``number_codes`` (a number
refused with a Code, the whole request with it), ``stall`` (next sends hang;
``accept_then_stall`` records the SMS first, as when Aliyun took it but the answer was lost),
and ``push_report`` / ``push_up`` to send receipts and replies back. Gateway codes (a wrong
AccessKey, signature or permission) come with the HTTP status the gateway uses.

``SendBatchSms`` (one template to up to 100 numbers, ``PhoneNumberJson``, ``SignNameJson``,
``TemplateParamJson``, one ``OutId`` and one ``BizId`` for the call) is recorded per recipient
in ``sent``; every fault and steering above applies to it as to a SendSms, to the call whole.

``latency`` delays every answer (a provider answering in 50 ms). ``chaos`` (a :class:`Chaos`)
draws a fault for every SendSms or SendBatchSms from a seeded schedule — random faults and
storms in time — and pushes receipts to ``report_url``: see :class:`Chaos` for what each fault does.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import socket
import time
import unicodedata
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web

VERSION = "2017-05-25"
_ids = itertools.count(1)
# Codes the API gateway answers before the SMS service sees the request, with their status.
GATEWAY_STATUS = {"InvalidAccessKeyId.NotFound": 404, "InvalidAccessKeyId.Inactive": 400,
                  "SignatureDoesNotMatch": 400, "IncompleteSignature": 400,
                  "InvalidTimeStamp.Expired": 400, "Forbidden.RAM": 403,
                  "Forbidden.NoPermission": 403}


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Aliyun's signature uses it."""
    return quote(value, safe="~")


def string_to_sign(method: str, params: dict[str, str]) -> str:
    """The documented canonical string for RPC signatures."""
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}"
                         for k, v in sorted(params.items()) if k != "Signature")
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def sign(secret: str, method: str, params: dict[str, str]) -> str:
    """base64(HMAC-SHA1(secret + "&", StringToSign))."""
    mac = hmac.new(f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


@dataclass
class SentSms:
    """One SMS the fake accepted."""

    phone: str
    sign_name: str
    template: str
    params: dict[str, str]
    out_id: str
    biz_id: str
    stamp: str = ""  # the request's Timestamp: when the caller signed it (UTC, seconds)
    accepted: float = 0.0  # time.time() when the fake took it
    action: str = "SendSms"  # or SendBatchSms (then every number of the call has one BizId)
    batch: int = 1  # how many numbers the call carried


FAULTS = ("5xx", "stall", "close", "late", "twice")


@dataclass
class Chaos:
    """A seeded schedule of provider faults for SendSms and SendBatchSms (one draw a call).

    * ``5xx``: HTTP 503 ServiceUnavailable, nothing accepted;
    * ``stall``: no answer for ``stall_seconds`` (past the caller's timeout), nothing accepted,
      then the connection is closed;
    * ``close``: the SMS is accepted, then the connection is closed before any answer;
    * ``late``: the SMS is accepted, the answer comes ``late_seconds`` later (after the
      caller's timeout);
    * ``twice``: accepted and answered, and its receipt is pushed twice.

    ``rates`` give each fault's chance per request; ``storms`` are (start, seconds, fault)
    spans, in seconds after :meth:`arm`, during which every request gets that fault (the
    issue's "HTTP 500 for 12 s, then a stall past the timeout"). Accepted SMS get a receipt
    with chance ``receipt_rate``, ``receipt_delay`` seconds later, when ``report_url`` is set.
    """

    seed: int
    rates: dict[str, float] = field(default_factory=dict)
    storms: list[tuple[float, float, str]] = field(default_factory=list)
    stall_seconds: float = 2.0
    late_seconds: float = 1.5
    receipt_rate: float = 0.5
    receipt_delay: float = 0.3
    drawn: dict[str, int] = field(default_factory=dict)
    _rng: Any = None
    _t0: float | None = None

    def arm(self) -> None:
        """Start the clock of the storms."""
        import random

        self._rng = random.Random(self.seed)
        self._t0 = asyncio.get_running_loop().time()

    def draw(self) -> str:
        """The fault for the next request ("ok" for none)."""
        if self._t0 is None:
            return "ok"
        at = asyncio.get_running_loop().time() - self._t0
        fault = next((f for start, span, f in self.storms if start <= at < start + span), None)
        if fault is None:
            x = self._rng.random()
            for name in FAULTS:
                x -= self.rates.get(name, 0.0)
                if x < 0:
                    fault = name
                    break
        fault = fault or "ok"
        self.drawn[fault] = self.drawn.get(fault, 0) + 1
        return fault

    def receipt(self) -> bool:
        """Whether an accepted SMS gets a receipt pushed."""
        return self._rng is not None and self._rng.random() < self.receipt_rate


@dataclass
class FakeAliyunSms:
    """The fake server; ``url`` is its endpoint once started."""

    access_key_id: str = "test-ak"
    access_key_secret: str = "test-secret"
    codes: deque[str] = field(default_factory=deque)
    refuse: str | None = None
    sign_names: set[str] | None = None
    template_codes: set[str] | None = None
    # Review state of a template code in the account's list (QuerySmsTemplateList), default
    # AUDIT_STATE_PASS; e.g. {"SMS_1001": "AUDIT_STATE_INIT"} while it is under review.
    template_states: dict[str, str] = field(default_factory=dict)
    # Actions the RAM user may not call (a policy allowing SendSms only): Forbidden.RAM.
    forbidden_actions: set[str] = field(default_factory=set)
    # Numbers Aliyun refuses, with the Code: a request that carries one (SendSms, or a
    # SendBatchSms with it among others) is answered that Code, nothing accepted.
    number_codes: dict[str, str] = field(default_factory=dict)
    stall: int = 0
    accept_then_stall: int = 0
    latency: float = 0.0
    chaos: Chaos | None = None
    in_flight: int = 0  # SendSms requests being answered now, and the most ever at once
    peak_in_flight: int = 0
    report_url: str | None = None
    pushes: int = 0
    sent: list[SentSms] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    url: str = ""
    _nonces: set[str] = field(default_factory=set)
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> FakeAliyunSms:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_route("*", "/", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        """Release stalled requests and stop."""
        self._release.set()
        for t in list(self._tasks):
            t.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    def sends(self) -> list[dict[str, str]]:
        """Every SendSms request that passed the signature check, accepted or not."""
        return [r for r in self.requests if r.get("Action") == "SendSms"]

    def batch_sends(self) -> list[dict[str, str]]:
        """Every SendBatchSms request that passed the signature check, accepted or not."""
        return [r for r in self.requests if r.get("Action") == "SendBatchSms"]

    async def _answer_after_latency(self) -> None:
        """Wait ``latency`` before answering, counting the requests being answered at once."""
        if not self.latency:
            return
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.latency)
        finally:
            self.in_flight -= 1

    # --- the API ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        params = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            params.update({k: str(v) for k, v in (await request.post()).items()})
        err = self._verify(request.method, params)
        if err is not None:
            self.rejected.append(err[1])
            return web.json_response({"Code": err[1], "Message": err[2],
                                      "RequestId": _rid()}, status=err[0])
        if self.refuse is not None:
            self.rejected.append(self.refuse)
            text = f"fake account fault {self.refuse}"
            if self.refuse == "SignatureDoesNotMatch":  # the gateway's wording (SDKs parse it)
                text = ("Specified signature is not matched with our calculation. server "
                        f"string to sign is:{string_to_sign(request.method, params)}")
            return _code(self.refuse, text)
        self.requests.append(params)
        action = params.get("Action")
        if action in self.forbidden_actions:
            return _code("Forbidden.RAM", f"the RAM policy does not allow dysms:{action}")
        if action == "SendSms":
            return await self._send(params, request)
        if action == "SendBatchSms":
            return await self._send_batch(params, request)
        if action == "QuerySendDetails":
            return self._query(params)
        if action == "QuerySmsTemplateList":
            return web.json_response({"Code": "OK", "Message": "OK", "RequestId": _rid(),
                                      "SmsTemplateList": [
                {"TemplateCode": c, "TemplateName": c, "OuterTemplateType": 1,
                 "AuditStatus": self.template_states.get(c, "AUDIT_STATE_PASS")}
                for c in sorted(self.template_codes or ())]})
        if action == "QuerySmsSignList":
            return web.json_response({"Code": "OK", "Message": "OK", "RequestId": _rid(),
                                      "SmsSignList": [
                {"SignName": n, "AuditStatus": "AUDIT_STATE_PASS", "BusinessType": "验证码"}
                for n in sorted(self.sign_names or ())]})
        return web.json_response({"Code": "InvalidAction.NotFound",
                                  "Message": f"unknown action {action}"}, status=404)

    def _verify(self, method: str, params: dict[str, str]) -> tuple[int, str, str] | None:
        for key in ("AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion",
                    "SignatureNonce", "Timestamp", "Version", "Action", "Format"):
            if key not in params:
                return 400, "MissingParameter", f"{key} is mandatory for this action."
        if params["AccessKeyId"] != self.access_key_id:
            return 404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            return 400, "InvalidParameter", "SignatureMethod must be HMAC-SHA1 / 1.0"
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", params["Timestamp"]):
            return 400, "InvalidTimeStamp.Format", "Timestamp must be yyyy-MM-ddTHH:mm:ssZ"
        if params["Version"] != VERSION:
            return 400, "InvalidVersion", f"Specified version {params['Version']} is invalid."
        expected = sign(self.access_key_secret, method, params)
        if not hmac.compare_digest(expected, params["Signature"]):
            sts = string_to_sign(method, params)
            return 400, "SignatureDoesNotMatch", ("Specified signature is not matched with our "
                                                  f"calculation. server string to sign is:{sts}")
        if params["SignatureNonce"] in self._nonces:
            return 400, "SignatureNonceUsed", "Specified signature nonce was used already."
        self._nonces.add(params["SignatureNonce"])
        return None

    async def _send(self, p: dict[str, str], request: web.Request) -> web.Response:
        for key in ("PhoneNumbers", "SignName", "TemplateCode"):
            if not p.get(key):
                return _code("isv.MISSING_PARAMETER", f"{key} is required")
        try:
            values = json.loads(p.get("TemplateParam") or "{}")
        except ValueError:
            return _code("isv.INVALID_JSON_PARAM", "TemplateParam is not JSON")
        return await self._accept("SendSms", [(p["PhoneNumbers"], p["SignName"], values)],
                                  p, request)

    async def _send_batch(self, p: dict[str, str], request: web.Request) -> web.Response:
        """SendBatchSms: one template to up to 100 numbers, a signature and the template's
        values for each (JSON arrays of the same length); one BizId for the whole batch."""
        for key in ("PhoneNumberJson", "SignNameJson", "TemplateCode"):
            if not p.get(key):
                return _code("isv.MISSING_PARAMETER", f"{key} is required")
        try:
            phones = json.loads(p["PhoneNumberJson"])
            signs = json.loads(p["SignNameJson"])
            values = json.loads(p.get("TemplateParamJson") or "null")
        except ValueError:
            return _code("isv.INVALID_JSON_PARAM", "a *Json parameter is not JSON")
        if values is None:
            values = [{} for _ in phones]
        if not (isinstance(phones, list) and isinstance(signs, list)
                and isinstance(values, list)) or not (len(phones) == len(signs) == len(values)):
            return _code("isv.INVALID_PARAMETERS",
                         "PhoneNumberJson, SignNameJson and TemplateParamJson differ in length")
        if not 1 <= len(phones) <= 100:
            return _code("isv.INVALID_PARAMETERS", "1 to 100 numbers per call")
        if not all(isinstance(v, dict) for v in values):
            return _code("isv.INVALID_JSON_PARAM", "each template value must be an object")
        return await self._accept("SendBatchSms",
                                  [(str(n), str(s), v) for n, s, v in zip(phones, signs, values,
                                                                          strict=True)],
                                  p, request)

    async def _accept(self, action: str, items: list[tuple[str, str, dict[str, Any]]],
                      p: dict[str, str], request: web.Request) -> web.Response:
        """Check, then accept every recipient of one request (or none): the faults, steered
        codes and chaos apply to the request as a whole, as Aliyun refuses a batch whole."""
        for _phone, sign_name, _values in items:
            if self.sign_names is not None and sign_name not in self.sign_names:
                return _code("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        if self.template_codes is not None and p["TemplateCode"] not in self.template_codes:
            return _code("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        for _phone, _sign, values in items:
            for v in values.values():
                if len(str(v)) > 35:
                    return _code("isv.PARAM_LENGTH_LIMIT",
                                 "a variable is longer than 35 characters")
                if any(ord(c) > 0xFFFF or unicodedata.category(c) == "So" for c in str(v)):
                    return _code("isv.PARAM_NOT_SUPPORT_EMOJI", "variables cannot contain emoji")
        # A number Aliyun refuses (e.g. isv.MOBILE_NUMBER_ILLEGAL) refuses the whole request.
        blamed = next((self.number_codes[n] for n, _s, _v in items if n in self.number_codes),
                      None)
        if blamed is not None:
            return _code(blamed, f"fake answer {blamed}")
        await self._answer_after_latency()
        fault = self.chaos.draw() if self.chaos is not None else "ok"
        if fault == "5xx":
            return web.json_response({"Code": "ServiceUnavailable", "Message": "fake 503",
                                      "RequestId": _rid()}, status=503)
        if fault == "stall":
            assert self.chaos is not None
            await asyncio.sleep(self.chaos.stall_seconds)
            return _hang_up(request)  # stalled, then closed: nothing accepted
        if self.stall:
            self.stall -= 1
            await self._release.wait()  # the answer never comes in time (nothing accepted)
            return _code("OK", "OK")
        code = self.codes.popleft() if self.codes else "OK"
        if code != "OK":
            return _code(code, f"fake answer {code}")
        biz_id = f"{next(_ids):06d}^0"
        accepted = []
        for phone, sign_name, values in items:
            sms = SentSms(phone=phone, sign_name=sign_name, template=p["TemplateCode"],
                          params={k: str(v) for k, v in values.items()},
                          out_id=p.get("OutId", ""), biz_id=biz_id,
                          stamp=p.get("Timestamp", ""), accepted=time.time(), action=action,
                          batch=len(items))
            self.sent.append(sms)
            accepted.append(sms)
        if self.chaos is not None and self.report_url:
            for sms in accepted:
                pushes = 2 if fault == "twice" else 1 if self.chaos.receipt() else 0
                for _ in range(pushes):
                    self._spawn(self._push_later(sms, self.chaos.receipt_delay))
        if fault == "close":
            return _hang_up(request)  # accepted, then the connection closed mid-response
        if fault == "late":
            assert self.chaos is not None
            await asyncio.sleep(self.chaos.late_seconds)
        if self.accept_then_stall:
            self.accept_then_stall -= 1
            await self._release.wait()  # taken, but the answer is lost
        return web.json_response({"Code": "OK", "Message": "OK", "BizId": biz_id,
                                  "RequestId": _rid()})

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _push_later(self, sms: SentSms, delay: float) -> None:
        await asyncio.sleep(delay)
        assert self.report_url
        try:
            await self.push(self.report_url, [self.report_item(sms)])
            self.pushes += 1
        except aiohttp.ClientError:
            pass  # the web process is restarting: Aliyun would retry, the query settles it

    def _query(self, p: dict[str, str]) -> web.Response:
        rows = [s for s in self.sent if s.phone == p.get("PhoneNumber")]
        size, page = int(p.get("PageSize", "10")), int(p.get("CurrentPage", "1"))
        chunk = rows[(page - 1) * size: page * size]
        return web.json_response({
            "Code": "OK", "Message": "OK", "RequestId": _rid(), "TotalCount": len(rows),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": [
                {"PhoneNum": s.phone, "SendStatus": 3, "ErrCode": "DELIVERED",
                 "TemplateCode": s.template, "OutId": s.out_id, "Content": "",
                 "SendDate": "2026-11-17 10:00:00", "ReceiveDate": "2026-11-17 10:00:05"}
                for s in chunk]},
        })

    # --- pushes back to the bot ------------------------------------------------------------

    @staticmethod
    def report_item(sms: SentSms, *, success: bool = True, err_code: str = "DELIVERED",
                    variant: int = 1) -> dict[str, Any]:
        """A documented SmsReport item (variant 2 leaves out optional fields)."""
        item: dict[str, Any] = {
            "phone_number": sms.phone, "send_time": "2026-11-17 10:00:00",
            "report_time": "2026-11-17 10:00:05", "success": success, "err_code": err_code,
            "err_msg": "用户接收成功" if success else "失败", "sms_size": "1",
            "biz_id": sms.biz_id, "out_id": sms.out_id,
        }
        if variant == 2:
            item.pop("sms_size")
        return item

    @staticmethod
    def up_item(phone: str, content: str, *, sequence_id: int | str = 1,
                send_time: str = "2026-11-17 10:05:00", sign_name: str | None = "示例医院",
                ) -> dict[str, Any]:
        """A documented SmsUp item (``sequence_id`` a number or a string, sign optional)."""
        item: dict[str, Any] = {"phone_number": phone, "send_time": send_time,
                                "content": content, "dest_code": "1234",
                                "sequence_id": sequence_id}
        if sign_name is not None:
            item["sign_name"] = sign_name
        return item

    @staticmethod
    async def push(url: str, items: list[dict[str, Any]]) -> tuple[int, Any]:
        """POST a JSON array as Aliyun's push does; returns (status, parsed answer)."""
        async with aiohttp.ClientSession() as s, s.post(
                url, data=json.dumps(items, ensure_ascii=False),
                headers={"Content-Type": "application/json"}) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text)
            except ValueError:
                return r.status, text


def _hang_up(request: web.Request) -> web.Response:
    """Close the connection without an answer (what the caller sees as a dropped line)."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=204)  # never reaches the caller


def _code(code: str, message: str) -> web.Response:
    # Business errors are HTTP 200 with Code != "OK", as Aliyun answers them; the gateway's
    # own refusals come with their HTTP status.
    return web.json_response({"Code": code, "Message": message, "RequestId": _rid()},
                             status=GATEWAY_STATUS.get(code, 200))


def _rid() -> str:
    return f"FAKE-{next(_ids):08d}"


# --- test helpers ------------------------------------------------------------------------------

async def sent_message_ids(sent: list[SentSms]) -> list[int]:
    """The outbound message each accepted SMS was, as the bot records it: by its OutId (the
    message id of a SendSms; a SendBatchSms call's OutId, on each of its messages, and the
    number). -1 for an SMS no message claims."""
    from models import Message

    out = []
    for s in sent:
        if len(s.out_id) < 18:
            out.append(int(s.out_id))
            continue
        rows = await Message.filter(out_id=s.out_id, contact__phone=s.phone).values("id")
        out.append(int(rows[0]["id"]) if len(rows) == 1 else -1)
    return out


CALLBACK_TOKEN = "cb-token-0123456789abcdef"
TEMPLATES = {
    "checkin": {"code": "SMS_1001", "params": {"name": "{contact_name}", "dept": "{department}",
                                               "code": "{link_token}"}},
    "reply": {"code": "SMS_1002", "params": {"content": "{text}"}},
    "staff": {"code": "SMS_1003", "params": {"content": "{text}"}},
    "otp": {"code": "SMS_1005", "params": {"code": "{code}"}},
}


# How long a send waits for Aliyun: the product's own timeouts by default (sms_section and
# voice_section set none), since a loaded machine (a long garbage collection, a busy CI runner)
# can hold the event loop for most of a second, and a fake that answered in time must not look
# like a timeout. Tests whose fake stalls or answers late on purpose pass HASTY, so that the
# caller gives up before the fault ends.
HASTY: dict[str, Any] = {"timeout_seconds": 0.5, "connect_timeout_seconds": 0.5}


def sms_section(fake: FakeAliyunSms, **extra: Any) -> dict[str, Any]:
    """The ``[sms]`` settings that point at ``fake``."""
    return {"access_key_id": fake.access_key_id, "access_key_secret": fake.access_key_secret,
            "endpoint": fake.url, "sign_name": "示例医院", "callback_token": CALLBACK_TOKEN,
            "templates": TEMPLATES, **extra}
