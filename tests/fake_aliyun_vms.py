"""A local fake of Aliyun's Voice Service API (dyvmsapi 2017-05-25) and its receipt pushes.

Requests are signed and checked exactly as the SMS fake checks them (tests/fake_aliyun.py:
the documented RPC signature, unique nonces). Tests steer it like the SMS fake: ``codes``
(Codes to answer next, e.g. ``isv.BUSINESS_LIMIT_CONTROL``), ``refuse`` (a Code answered to
every request until cleared), ``show_numbers`` / ``tts_codes`` (when set, only these are
bought / approved: others get ``isv.DISPLAY_NUMBER_ILLEGAL`` / ``isv.TTS_TEMPLATE_ILLEGAL``),
``stall`` (next calls hang, nothing placed) and ``accept_then_stall`` (placed, answer lost).

With a ``clock`` it also applies Aliyun's own per-number flow control (1 call a minute, 5 an
hour, 20 a day, counted from the first call) and answers ``isv.BUSINESS_LIMIT_CONTROL`` over
it, so a test can show that the bot's own limits keep it from ever hitting them.

Receipts go back as Aliyun pushes them (``push``): ``call_report`` builds a VoiceCallReport
item (a state during the call; ``300000`` with the key pressed), ``voice_report`` a
VoiceReport item (the record once the call ended: status code, duration, dtmf).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from bot.clock import FrozenClock
from tests.fake_aliyun import FakeAliyunSms, _code, _rid

CHINA = ZoneInfo("Asia/Shanghai")
_call_ids = itertools.count(100001)
LIMITS = ((timedelta(minutes=1), 1), (timedelta(hours=1), 5), (timedelta(hours=24), 20))


@dataclass
class PlacedCall:
    """One call the fake accepted."""

    action: str
    phone: str
    show_number: str
    code: str  # StartCode (IvrCall) or TtsCode (SingleCallByTts)
    params: dict[str, str]
    menu: dict[str, str]  # key → the template played after it
    play_times: str
    timeout_ms: str
    bye_code: str
    out_id: str
    call_id: str
    at: datetime | None


@dataclass
class FakeAliyunVms(FakeAliyunSms):
    """The fake voice server; ``url`` is its endpoint once started."""

    show_numbers: set[str] | None = None
    tts_codes: set[str] | None = None
    clock: FrozenClock | None = None
    calls: list[PlacedCall] = field(default_factory=list)
    limited: list[str] = field(default_factory=list)  # numbers its own flow control refused

    def ivr_calls(self) -> list[PlacedCall]:
        """The IvrCall requests it accepted, oldest first."""
        return [c for c in self.calls if c.action == "IvrCall"]

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
            return _code(self.refuse, f"fake account fault {self.refuse}")
        self.requests.append(params)
        action = params.get("Action")
        if action in ("IvrCall", "SingleCallByTts"):
            return await self._call(action, params)
        if action == "QueryCallDetailByCallId":  # read-only: nothing for an unknown call
            return web.json_response({"Code": "OK", "Message": "OK", "Data": "",
                                      "RequestId": _rid()})
        return web.json_response({"Code": "InvalidAction.NotFound",
                                  "Message": f"unknown action {action}"}, status=404)

    async def _call(self, action: str, p: dict[str, str]) -> web.Response:
        code_key = "StartCode" if action == "IvrCall" else "TtsCode"
        for key in ("CalledShowNumber", "CalledNumber", code_key):
            if not p.get(key):
                return _code("isv.INVALID_PARAMETERS", f"{key} is required")
        if self.show_numbers is not None and p["CalledShowNumber"] not in self.show_numbers:
            return _code("isv.DISPLAY_NUMBER_ILLEGAL", "号显不合法")
        menu: dict[str, str] = {}
        i = 1
        while f"MenuKeyMap.{i}.Key" in p:
            menu[p[f"MenuKeyMap.{i}.Key"]] = p.get(f"MenuKeyMap.{i}.Code", "")
            i += 1
        if action == "IvrCall" and not menu:
            return _code("isv.INVALID_PARAMETERS", "MenuKeyMap is required")
        used = [p[code_key], *menu.values(), *([p["ByeCode"]] if p.get("ByeCode") else [])]
        if self.tts_codes is not None and any(c not in self.tts_codes for c in used):
            return _code("isv.TTS_TEMPLATE_ILLEGAL", "TTS模板不合法")
        play = p.get("PlayTimes", "1")
        if not play.isdigit() or not 1 <= int(play) <= 3:
            return _code("isv.INVALID_PARAMETERS", "PlayTimes must be 1-3")
        out_id = p.get("OutId", "")
        if len(out_id.encode()) > 15:
            return _code("isv.INVALID_PARAMETERS", "OutId is 1-15 bytes")
        raw = p.get("StartTtsParams" if action == "IvrCall" else "TtsParam") or "{}"
        try:
            values = json.loads(raw)
        except ValueError:
            return _code("isv.INVALID_JSON_PARAM", "template params are not JSON")
        for v in values.values():
            if "http" in str(v) or any(ch in str(v) for ch in "#/:%¥【】$"):
                return _code("isv.TEMPLATE_PARAMS_ILLEGAL", "模板变量非法")
        if self.stall:
            self.stall -= 1
            await self._release.wait()  # no answer in time, nothing placed
            return _code("OK", "OK")
        await self._answer_after_latency()  # calls being placed at once, and the most ever
        code = self.codes.popleft() if self.codes else "OK"
        if code != "OK":
            return _code(code, f"fake answer {code}")
        now = self.clock.now() if self.clock is not None else None
        if now is not None and self._over_limit(p["CalledNumber"], now):
            self.limited.append(p["CalledNumber"])
            return _code("isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控")
        call = PlacedCall(action=action, phone=p["CalledNumber"],
                          show_number=p["CalledShowNumber"], code=p[code_key],
                          params={k: str(v) for k, v in values.items()}, menu=menu,
                          play_times=play, timeout_ms=p.get("Timeout", ""),
                          bye_code=p.get("ByeCode", ""), out_id=out_id,
                          call_id=f"{next(_call_ids)}^{next(_call_ids)}", at=now)
        self.calls.append(call)
        if self.accept_then_stall:
            self.accept_then_stall -= 1
            await self._release.wait()  # placed, but the answer is lost
        return web.json_response({"Code": "OK", "Message": "OK", "CallId": call.call_id,
                                  "RequestId": _rid()})

    def _over_limit(self, phone: str, now: datetime) -> bool:
        placed = [c.at for c in self.calls if c.phone == phone and c.at is not None]
        return any(sum(1 for t in placed if t > now - window) >= cap for window, cap in LIMITS)

    # --- receipts, as Aliyun pushes them --------------------------------------------------------

    def _stamp(self) -> str:
        now = self.clock.now() if self.clock is not None else datetime.now(CHINA)
        return now.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")

    def call_report(self, call: PlacedCall, status_code: str, *, dtmf: str = "",
                    smart: str | None = None) -> dict[str, Any]:
        """A VoiceCallReport item: a state during the call (300000: a key, in ``dtmf``)."""
        item: dict[str, Any] = {"call_id": call.call_id, "status_code": status_code,
                                "status_time": self._stamp(), "out_id": call.out_id}
        if dtmf:
            item["dtmf"] = dtmf
        if smart:
            item["smart_status_code"] = smart
        return item

    def voice_report(self, call: PlacedCall, status_code: str, *, dtmf: str = "",
                     duration: int = 0, smart: str | None = None) -> dict[str, Any]:
        """A VoiceReport item: the record of the call once it ended."""
        stamp = self._stamp()
        answered = duration > 0
        item: dict[str, Any] = {
            "call_id": call.call_id, "out_id": call.out_id, "status_code": status_code,
            "status_msg": "执行完成", "caller": call.show_number, "callee": call.phone,
            "originate_time": stamp, "ring_time": stamp,
            "start_time": stamp if answered else "", "end_time": stamp,
            "duration": str(duration), "dtmf": dtmf, "voice_type": "voice",
            "toll_type": "LOCAL", "hangup_direction": "用户",
        }
        if smart:
            item["smart_status_code"] = smart
        return item


# --- test helpers ------------------------------------------------------------------------------

VOICE_TOKEN = "voice-token-0123456789abcdef"
SHOW_NUMBER = "057188880000"
MENU = {"1": "TTS_THANKS", "2": "TTS_THANKS", "3": "TTS_THANKS", "4": "TTS_THANKS",
        "5": "TTS_THANKS", "0": "TTS_PERSON", "9": "TTS_STOP"}
QUESTIONS = {"overall": {"code": "TTS_OVERALL",
                         "params": {"org": "{org_name}", "dept": "{department}",
                                    "name": "{subject}"}}}
APPROVED = {"TTS_OVERALL", "TTS_THANKS", "TTS_PERSON", "TTS_STOP", "TTS_NOTICE"}


def voice_section(fake: FakeAliyunVms, **extra: Any) -> dict[str, Any]:
    """The ``[voice]`` settings that point at ``fake``."""
    return {"access_key_id": fake.access_key_id, "access_key_secret": fake.access_key_secret,
            "endpoint": fake.url, "called_show_number": SHOW_NUMBER,
            "callback_token": VOICE_TOKEN, "menu": MENU, "questions": QUESTIONS, **extra}
