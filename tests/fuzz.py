"""Hostile HTTP input for every endpoint: hypothesis strategies, the issue's regression cases,
and a harness that sends them to the real application and judges each answer.

Used by tests/test_fuzz.py (a few hundred cases in ``make test``) and bench/fuzz.py (tens of
thousands). The application runs as in production (``create_app``, real database, WeChat in
compatible mode so plain and encrypted messages both reach the parser, SMS callbacks on) in a
thread of its own, listening on 127.0.0.1; requests go over real HTTP. A request is judged
by three rules:

- no 5xx: every answer is a page, a redirect or a 4xx with a short reason;
- no hang: every answer arrives within ``TIMEOUT`` seconds;
- no rows from invalid input: a request built to be invalid (``Req.valid is False``: a bad
  signature, a hostile number, an unreadable body, any GET...) leaves every table's row count
  as it was (login throttle counters in ``key_value`` excepted: counting attempts is their
  job).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any, TypeVar
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import aiohttp
from aiohttp import web
from hypothesis import strategies as st

from bot import links
from bot.app import create_app
from bot.clock import FrozenClock
from bot.keys import RUNTIME
from tests.fake_aliyun import CALLBACK_TOKEN, sms_section
from tests.fake_aliyun_vms import VOICE_TOKEN, voice_section
from tests.fake_wechat import OFFICIAL_ID, signed_request, wechat_section

T = TypeVar("T")
TIMEOUT = 15.0
BROKEN = 599  # the status recorded for an answer that cannot be read: a failure like a 5xx
SHANGHAI = ZoneInfo("Asia/Shanghai")
API_KEY = "fuzz-api-key"
# Tables whose row counts an invalid request must leave alone.
WATCHED = ("message", "contact", "person", "episode", "department", "checkin", "conversation",
           "answer", "audit_event", "escalation", "survey_link", "staff", "staff_session",
           "notification", "call", "call_task")
_COUNT_SQL = "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {t}) AS {t}" for t in WATCHED)

# Characters that look like digits to str.isdigit() or int(), and numbers past every column.
LOOKALIKES = ["²", "①", "٣", "１", "߃", "𝟘", "¹", "٣٣", "１２３", "1²", "①②③"]
HOSTILE = [
    "", " ", "0", "-1", "+1", "1e9", "0x1f", "1_000", " 12 ", "NaN", "inf", "-0",
    "9" * 19, "9" * 20, "9" * 40, "1" * 5000, *LOOKALIKES,
    "<!DOCTYPE x>", '=HYPERLINK("http://x.example","点我")', "+cmd|' /C calc'!A0", "@SUM(1)",
    "%00", "../../etc/passwd", "'; DROP TABLE answer;--", "\x00", "a\x00b", "\x1b[31m", "\r\n",
    "\u202e", "😀" * 40, "张" * 300, "ＮａＮ", "true", "null", "[]", "{}",
]


@dataclass(frozen=True, repr=False)
class Req:
    """One request: what to send, as whom, and whether it is invalid by construction."""

    endpoint: str
    method: str
    path: str  # already percent-encoded
    query: str = ""  # already encoded
    body: bytes = b""
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    who: str = "anon"  # anon | head | admin | agent
    valid: bool | None = None  # False: must write nothing
    csrf: bool = False  # add the session's CSRF token to the form body

    def __repr__(self) -> str:
        def cut(v: object, n: int = 160) -> str:
            r = repr(v)
            return r if len(r) <= n else f"{r[:n]}...({len(r)} chars)"

        return (f"Req({self.endpoint} {self.method} {cut(self.path)} query={cut(self.query)} "
                f"body={cut(self.body)} type={self.content_type!r} who={self.who} "
                f"valid={self.valid} csrf={self.csrf})")


@dataclass
class Outcome:
    """What came back."""

    status: int | None  # None: no answer within TIMEOUT
    rows_changed: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def hung(self) -> bool:
        """True when no answer came in time."""
        return self.status is None


# --------------------------------------------------------------------------- the harness


class Harness:
    """The real application on 127.0.0.1, in its own thread and event loop, with seed data."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.clock = FrozenClock(datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="fuzz-server")
        self.base = ""
        self.sessions: dict[str, aiohttp.ClientSession] = {}
        self.csrf: dict[str, str] = {}
        self.tokens: list[str] = []
        self.escalations: list[int] = []
        self.contacts: list[int] = []
        self.staff_ids: list[int] = []
        self.departments: dict[str, int] = {}
        self._runner: web.AppRunner | None = None

    # --- lifecycle

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120.0) -> T:
        """Run ``coro`` on the server's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> Harness:
        """Start the app and seed it (staff, episodes, links, escalations, sessions)."""
        from tests.conftest import make_settings

        fake = SimpleNamespace(access_key_id="fuzz-ak", access_key_secret="fuzz-secret",
                               url="http://127.0.0.1:9")
        settings = make_settings(
            self.db_url, api={"keys": [API_KEY]},
            wechat=wechat_section("http://127.0.0.1:9", mode="compatible"),
            sms=sms_section(fake),  # type: ignore[arg-type]
            voice=voice_section(fake),  # type: ignore[arg-type]
        )
        self.settings = settings
        self.thread.start()
        self.run(self._start(settings))
        return self

    async def _start(self, settings: Any) -> None:
        app = create_app(settings, clock=self.clock, migrate=False, run_loops=False)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"
        self.rt = app[RUNTIME]
        for who in ("anon", "head", "admin", "agent"):
            self.sessions[who] = aiohttp.ClientSession(
                cookie_jar=aiohttp.CookieJar(unsafe=True),
                timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        await self._seed()

    async def _seed(self) -> None:
        from tests import staff_helpers as sh

        depts = await sh.departments()
        self.departments = {code: d.id for code, d in depts.items()}
        for name, role, dept in (("head", "head", ["dental"]), ("admin", "admin", []),
                                 ("agent", "agent", ["ortho"])):
            s = await sh.make_staff(name, role, dept)
            self.staff_ids.append(s.id)
        episodes = [{"external_id": f"F{i}", "person_name": f"病人{i}",
                     "contact_phone": f"1390000{i:04d}", "occurred_at": "2026-11-15 10:00",
                     "department": "dental" if i % 2 else "ortho"} for i in range(20)]
        async with self.sessions["anon"].post(
                self.base + "/api/episodes", json={"source": "his", "episodes": episodes},
                headers={"Authorization": f"Bearer {API_KEY}"}) as r:
            assert r.status == 200, await r.text()
        for i in range(60):
            conv = await sh.conversation(self.rt, "dental" if i % 2 else "ortho",
                                         phone=f"1370000{i:04d}")
            self.contacts.append(conv.contact_id)
            from tortoise.transactions import in_transaction

            async with in_transaction() as conn:
                token, _ = await links.create_link(self.rt, conn, conv.checkin_id,
                                                   self.clock.now().replace(year=2027))
            self.tokens.append(token)
            if i % 3 == 0:
                esc = await sh.escalate(self.rt, conv)
                self.escalations.append(esc.id)
        from models import Contact

        self.contacts = sorted(await Contact.all().values_list("id", flat=True))
        for who in ("head", "admin", "agent"):
            await self._sign_in(who)

    async def _sign_in(self, who: str) -> None:
        s = self.sessions[who]
        async with s.get(self.base + "/staff/login") as r:
            page = await r.text()
        token = re.search(r'name="csrf" value="([^"]+)"', page)
        assert token
        async with s.post(self.base + "/staff/login",
                          data={"username": who, "password": "correct-horse-1",
                                "csrf": token.group(1), "next": "/staff/queue"}) as r:
            page = await r.text()
            assert r.status == 200, page
        m = re.search(r'name="csrf" value="([^"]+)"', page)
        assert m
        self.csrf[who] = m.group(1)

    def stop(self) -> None:
        """Close the sessions and the app, stop the loop."""
        async def close() -> None:
            for s in self.sessions.values():
                await s.close()
            if self._runner is not None:
                await self._runner.cleanup()

        try:
            self.run(close(), timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    # --- requests

    def counts(self) -> dict[str, int]:
        """Rows per watched table (one statement)."""
        from tortoise import connections

        async def count() -> dict[str, int]:
            rows = await connections.get("default").execute_query_dict(_COUNT_SQL)
            return {k: int(v) for k, v in rows[0].items()}

        return self.run(count())

    def send(self, req: Req, *, check_rows: bool = True) -> Outcome:
        """Send one request; with ``check_rows``, count rows around an invalid one."""
        before = self.counts() if check_rows and req.valid is False else None
        started = time.perf_counter()
        try:
            status = self.run(self._send(req), timeout=TIMEOUT + 5)
        except TimeoutError:
            status = None
        out = Outcome(status, seconds=time.perf_counter() - started)
        if before is not None:
            after = self.counts()
            out.rows_changed = {t: after[t] - before[t] for t in WATCHED
                                if after[t] != before[t]}
        return out

    async def _send(self, req: Req) -> int | None:
        from yarl import URL

        body = req.body
        if req.csrf and req.who in self.csrf:
            sep = b"&" if body else b""
            body = body + sep + b"csrf=" + self.csrf[req.who].encode()
        url = URL(self.base + req.path + (f"?{req.query}" if req.query else ""), encoded=True)
        headers = dict(req.headers)
        if req.content_type is not None:
            headers["Content-Type"] = req.content_type
        try:
            async with self.sessions[req.who].request(
                    req.method, url, data=body if req.method == "POST" else None,
                    headers=headers, allow_redirects=False) as r:
                await r.read()
                return r.status
        except TimeoutError:
            return None
        except aiohttp.ClientError:
            return BROKEN  # an answer the client cannot read (e.g. an endless header)


# --------------------------------------------------------------------------- building blocks


def enc(s: str) -> str:
    """Percent-encode a path segment or value (any text, surrogates passed through)."""
    return quote(s.encode("utf-8", "surrogatepass"), safe="")


def form(fields: list[tuple[str, str]]) -> bytes:
    """An urlencoded form body."""
    return urlencode([(k, v.encode("utf-8", "surrogatepass")) for k, v in fields]).encode()


def hostile_text(max_size: int = 200) -> st.SearchStrategy[str]:
    """Anything a person or an attacker might type, and the classic troublemakers."""
    return st.one_of(st.sampled_from(HOSTILE), st.text(max_size=max_size),
                     st.text(alphabet=st.characters(codec="utf-8"), min_size=1,
                             max_size=8).map(lambda s: s * 300))


def numberish(max_digits: int = 25) -> st.SearchStrategy[str]:
    """Numbers as text: good ones, too long ones, look-alikes and mixtures."""
    return st.one_of(
        st.integers(0, 2**31 - 1).map(str), st.integers(0, 10**40).map(str),
        st.sampled_from(LOOKALIKES + HOSTILE[:20]),
        st.text(alphabet="0123456789²①٣１ -+.e", max_size=max_digits))


def _ascii_int(s: str, max_digits: int) -> bool:
    return re.fullmatch(rf"[0-9]{{1,{max_digits}}}", s) is not None


# --------------------------------------------------------------------------- WeChat


def _xml(fields: list[tuple[str, str]]) -> str:
    parts = []
    for k, v in fields:
        parts.append(f"<{k}>{v}</{k}>" if re.fullmatch(r"[0-9]+", v) else
                     f"<{k}><![CDATA[{v}]]></{k}>")
    return "<xml>" + "".join(parts) + "</xml>"


@st.composite
def wechat_message(draw: st.DrawFn, h: Harness) -> Req:
    """A signed WeChat POST (plain with signature, or encrypted) with fuzzed fields."""
    now = int(h.clock.now().timestamp())
    good = True
    mtype = draw(st.sampled_from(["text", "text", "image", "voice", "location", "link",
                                  "event", "video", "shortvideo"]) | hostile_text(20))
    openid = draw(st.sampled_from([f"oFUZZ{i:023d}" for i in range(5)]) | hostile_text(80))
    if not re.fullmatch(r"[!-~]{1,64}", openid):
        good = False if openid == "" or len(openid) > 64 else good
    create = draw(st.just(str(now)) | numberish(14))
    if not _ascii_int(create.strip(), 12):  # element text is read stripped, as XML parsers do
        good = False
    fields = [("ToUserName", OFFICIAL_ID), ("FromUserName", openid), ("CreateTime", create),
              ("MsgType", mtype)]
    if mtype == "event":
        event = draw(st.sampled_from(["subscribe", "unsubscribe", "SCAN", "CLICK", "VIEW",
                                      "TEMPLATESENDJOBFINISH", "LOCATION"]) | hostile_text(20))
        key = draw(st.sampled_from(["qrscene_ep", "ep", "survey", "staff"]).flatmap(
            lambda p: numberish(12).map(lambda n: p + n)) | hostile_text(60))
        fields += [("Event", event), ("EventKey", key)]
        if draw(st.booleans()):
            mid = draw(numberish(40))
            fields.append(("MsgID", mid))
            if mid.strip() and not (_ascii_int(mid.strip(), 20) and int(mid) < 2**64):
                good = False
    else:
        mid = draw(st.integers(1, 10**19).map(str) | numberish(40))
        if not _ascii_int(mid.strip(), 20) or int(mid) >= 2**64:
            good = False
        content = draw(hostile_text(300))
        fields += [("Content", content), ("MsgId", mid)]
        if mtype == "voice":
            fields.append(("Recognition", draw(hostile_text(50))))
    xml = _xml(fields)
    if draw(st.integers(0, 9)) == 0:  # a DTD anywhere, after any amount of padding
        pad = " " * draw(st.integers(0, 9000))
        xml = xml.replace("<xml>", f"<xml>{pad}", 1).replace(
            "</xml>", "<!DOCTYPE x [<!ENTITY e 'x'>]></xml>")
        good = False
    mode = draw(st.sampled_from(["safe", "plain"]))
    ts = now
    if draw(st.integers(0, 9)) == 0:
        ts = now - 10_000  # outside the clock skew: a replay
        good = False
    signed = signed_request(xml, timestamp=ts, mode=mode)
    params = dict(signed.params)
    if draw(st.integers(0, 9)) == 0:
        params["timestamp"] = draw(numberish(14))
        good = False
    if draw(st.integers(0, 14)) == 0:
        params["signature"] = "0" * 40
        good = False
    return Req("wechat_post", "POST", "/wechat", urlencode(params), signed.body,
               "text/xml", valid=False if not good else None)


@st.composite
def wechat_raw(draw: st.DrawFn, h: Harness) -> Req:
    """A WeChat POST whose body is hostile bytes (signed query, so the body is read)."""
    now = int(h.clock.now().timestamp())
    body = draw(st.one_of(
        st.binary(max_size=2000),
        st.just(b"<xml>" + b"<a>" * 50_000 + b"</xml>"),
        st.just(b"<xml>" + b" " * 5000 + b"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]>"
                + b"<Content>&e;</Content></xml>"),
        st.just(b"\xff\xfe<xml></xml>"),
        st.just(b"x" * 70_000),
        hostile_text(500).map(lambda s: s.encode("utf-8", "surrogatepass"))))
    signed = signed_request("<xml/>", timestamp=now, mode="plain")
    return Req("wechat_raw", "POST", "/wechat", urlencode(signed.params), body, "text/xml",
               valid=False)


@st.composite
def wechat_get(draw: st.DrawFn, h: Harness) -> Req:
    """The URL check with hostile parameters."""
    params = [(k, draw(hostile_text(30) | numberish()))
              for k in draw(st.lists(st.sampled_from(["signature", "timestamp", "nonce",
                                                      "echostr", "encrypt_type"]),
                                     max_size=5, unique=True))]
    return Req("wechat_get", "GET", "/wechat", form(params).decode(), valid=False)


# --------------------------------------------------------------------------- SMS


def _report_item(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    out_id = draw(st.integers(1, 10**6).map(str) | numberish(40))
    item: dict[str, Any] = {"phone_number": draw(st.just("13700000001") | hostile_text(40)),
                            "success": draw(st.sampled_from([True, False, "true", "x", None,
                                                             1])),
                            "out_id": out_id,
                            "biz_id": draw(st.just("123^456") | hostile_text(200)),
                            "err_code": draw(st.just("DELIVERED") | hostile_text(80)),
                            "err_msg": draw(hostile_text(80))}
    return item, False


def _up_item(draw: st.DrawFn, h: Harness) -> tuple[dict[str, Any], bool]:
    seq = draw(st.integers(1, 10**17) | numberish(40).map(str) | st.none())
    phone = draw(st.sampled_from(["13700000001", "+86 137 0000 0002", "1370000000٣"])
                 | hostile_text(40))
    content = draw(hostile_text(300))
    item: dict[str, Any] = {"phone_number": phone, "content": content,
                            "send_time": draw(st.just("2026-11-16 09:00:00") | hostile_text(30)),
                            "dest_code": "1", "sequence_id": seq}
    bad = (isinstance(seq, str) and seq.strip() != "" and not _ascii_int(seq.strip(), 18)) \
        or not content.strip() or not phone.strip()
    return item, bad


@st.composite
def sms_push(draw: st.DrawFn, h: Harness) -> Req:
    """A receipt or reply push: a JSON array mixing good and hostile items, or a hostile body."""
    kind = draw(st.sampled_from(["report", "up"]))
    token = draw(st.just(CALLBACK_TOKEN) | hostile_text(40))
    valid: bool | None = None if token == CALLBACK_TOKEN else False
    choice = draw(st.integers(0, 9))
    if choice < 7:
        items, bads = [], []
        for _ in range(draw(st.integers(0, 6))):
            item, bad = _report_item(draw) if kind == "report" else _up_item(draw, h)
            items.append(item)
            bads.append(bad)
        body = json.dumps(items, ensure_ascii=draw(st.booleans())).encode(
            "utf-8", "surrogatepass")
        if kind == "up" and all(bads):
            valid = False
    else:
        body = draw(st.sampled_from([
            b"[" * 100_000, b'{"a":' * 5000, b"\xff\xfe[]", b'[{"content":"\\ud800",'
            b'"phone_number":"13700000001","sequence_id":1}]', b"[1e999999]",
            b'[{"sequence_id":' + b"9" * 5000 + b"}]", b"NaN", b"", b"null"]) | st.binary(
            max_size=300))
        valid = False
    return Req(f"sms_{kind}", "POST", f"/sms/aliyun/{kind}/{enc(token)}", body=body,
               content_type="application/json", valid=valid)


# --------------------------------------------------------------------------- voice


def _voice_item(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = {
        "call_id": draw(st.just("100001^100002") | hostile_text(200)),
        "out_id": draw(st.integers(1, 10**6).map(str) | numberish(40)),
        "status_code": draw(st.sampled_from(["200000", "300000", "200003", "200201"])
                            | numberish(20)),
        "dtmf": draw(st.sampled_from(["4", "0", "9", ""]) | hostile_text(40)),
        "duration": draw(st.integers(0, 99).map(str) | numberish(20) | st.none())}
    if draw(st.booleans()):
        item["end_time"] = draw(st.just("2026-11-16 14:02:00") | hostile_text(30))
    else:
        item["status_time"] = draw(st.just("2026-11-16 14:02:00") | hostile_text(30))
    return item


@st.composite
def voice_push(draw: st.DrawFn, h: Harness) -> Req:
    """Call receipts (VoiceCallReport, VoiceReport): hostile items and bodies. No call was
    ever placed here, so none of them may write anything."""
    token = draw(st.just(VOICE_TOKEN) | hostile_text(40))
    if draw(st.integers(0, 9)) < 7:
        body = json.dumps([_voice_item(draw) for _ in range(draw(st.integers(0, 6)))],
                          ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    else:
        body = draw(st.sampled_from([b"[" * 100_000, b'{"a":' * 5000, b"\xff\xfe[]",
                                     b'[{"out_id":"\\ud800","status_code":"1"}]',
                                     b"[1e999999]", b"NaN", b"", b"null"])
                    | st.binary(max_size=300))
    return Req("voice_report", "POST", f"/voice/aliyun/report/{enc(token)}", body=body,
               content_type="application/json", valid=False)


@st.composite
def call_list(draw: st.DrawFn, h: Harness) -> Req:
    """The staff call list: pages and actions with hostile ids, views, dates and forms."""
    who = draw(st.sampled_from(["head", "admin", "agent", "anon"]))
    if draw(st.booleans()):
        q = [(k, draw(hostile_text(60) | numberish())) for k in draw(st.lists(
            st.sampled_from(["view", "department", "from", "to", "done", "lang"]),
            max_size=4, unique=True))]
        page = draw(st.sampled_from(["/staff/calls", "/staff/calls/coverage"]))
        if draw(st.booleans()):
            page = f"/staff/calls/{enc(draw(numberish(40) | hostile_text(20)))}"
        return Req("calls_page", "GET", page, form(q).decode(), who=who, valid=False)
    action = draw(st.sampled_from(["claim", "release", "record"]))
    fields = [("outcome", draw(st.sampled_from(["completed", "no_answer", "reschedule"])
                               | hostile_text(40))),
              ("when", draw(st.just("2026-11-17T15:00") | hostile_text(40))),
              ("q_overall", draw(st.sampled_from(["4", "9"]) | hostile_text(20))),
              ("note", draw(hostile_text(300))), ("comment", draw(hostile_text(300)))]
    seg = enc(draw(numberish(40) | hostile_text(20)))
    return Req(f"calls_{action}", "POST", f"/staff/calls/{seg}/{action}", body=form(fields),
               content_type="application/x-www-form-urlencoded", who=who,
               csrf=draw(st.integers(0, 9)) > 0, valid=False)


# --------------------------------------------------------------------------- H5 page


@st.composite
def h5(draw: st.DrawFn, h: Harness) -> Req:
    """The survey page: hostile tokens, hostile answers, unreadable bodies."""
    token = draw(st.sampled_from(h.tokens) | hostile_text(40))
    path = f"/s/{enc(token)}"
    if draw(st.integers(0, 3)) == 0:
        return Req("h5_get", "GET", path, valid=False)
    kind = draw(st.integers(0, 9))
    if kind < 7:
        score = draw(st.sampled_from(["1", "2", "3", "4", "5"]) | numberish())
        comment = draw(st.just("") | hostile_text(600))
        fields = [("q_overall", score), ("comment", comment)]
        if draw(st.booleans()):
            fields.append((draw(hostile_text(20)), draw(hostile_text(50))))
        # A score the page does not show (already answered) is ignored, so only unreadable
        # or over-long fields make the whole form invalid.
        bad = any(len(v.strip()) > 500 or re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]",
                                                        v.strip()) for v in (score, comment))
        return Req("h5_post", "POST", path, body=form(fields),
                   content_type="application/x-www-form-urlencoded",
                   valid=False if bad else None)
    body, ctype = draw(st.sampled_from([
        (b"q_overall=%ff%fe&comment=%c3%28", "application/x-www-form-urlencoded"),
        (b"q_overall=5", "multipart/form-data"),
        (b"--b\r\nContent-Disposition: form-data; name=\"q_overall\"; filename=\"a.txt\"\r\n"
         b"\r\n5\r\n--b--\r\n", "multipart/form-data; boundary=b"),
        (b"--b\r\n\r\n--b--", "multipart/form-data; boundary=b"),
        (b"q_overall=5", "application/x-www-form-urlencoded; charset=klingon"),
        (b"\xff" * 100, "application/x-www-form-urlencoded")]))
    return Req("h5_post", "POST", path, body=body, content_type=ctype, valid=False)


# --------------------------------------------------------------------------- staff


@st.composite
def login(draw: st.DrawFn, h: Harness) -> Req:
    """The sign-in form: hostile names, passwords, next= and tokens."""
    fields = [("username", draw(st.sampled_from(["head", "admin", "nobody"])
                                | hostile_text(6000))),
              ("password", draw(hostile_text(100))),
              ("next", draw(st.sampled_from(["/staff/queue", "//evil.example", "/\\evil",
                                             "/staff/queue\r\nX: y"]) | hostile_text(100)))]
    who = draw(st.sampled_from(["anon", "anon", "head"]))
    if who == "anon" and draw(st.booleans()):
        return Req("login_raw", "POST", "/staff/login", body=draw(st.binary(max_size=200)),
                   content_type="application/x-www-form-urlencoded", who=who, valid=False)
    return Req("login", "POST", "/staff/login", body=form(fields),
               content_type="application/x-www-form-urlencoded", who=who, valid=False,
               csrf=False)


def _id_segment(draw: st.DrawFn, known: list[int]) -> tuple[str, bool]:
    seg = draw(st.sampled_from([str(i) for i in known] or ["1"]) | numberish(40)
               | hostile_text(20))
    return enc(seg), seg in {str(i) for i in known}


@st.composite
def staff_action(draw: st.DrawFn, h: Harness) -> Req:
    """Escalation actions, staff admin, with hostile ids and fields (correct CSRF mostly)."""
    who = draw(st.sampled_from(["head", "admin", "agent"]))
    kind = draw(st.integers(0, 9))
    if kind < 6:
        seg, known = _id_segment(draw, h.escalations)
        action = draw(st.sampled_from(["claim", "release", "reassign", "reply", "resolve",
                                       "reveal"]))
        fields = {
            "reassign": [("to", draw(st.sampled_from([str(i) for i in h.staff_ids])
                                     | numberish(40)))],
            "reply": [("text", draw(hostile_text(1200)))],
            "resolve": [("outcome", draw(st.sampled_from(["已沟通解决", "其他"])
                                         | hostile_text(80))),
                        ("note", draw(hostile_text(300))),
                        ("after", draw(st.sampled_from(["close", "resume"])
                                       | hostile_text(20)))],
            "reveal": [("why", draw(hostile_text(600)))],
        }.get(action, [])
        return Req(f"staff_{action}", "POST", f"/staff/escalations/{seg}/{action}",
                   body=form(fields), content_type="application/x-www-form-urlencoded",
                   who=who, csrf=draw(st.integers(0, 9)) > 0,
                   valid=None if known else False)
    if kind < 8:
        target = draw(st.sampled_from(["create", "update"]))
        fields = [("username", draw(hostile_text(80))), ("display_name", draw(hostile_text(200))),
                  ("role", draw(st.sampled_from(["agent", "head"]) | hostile_text(20))),
                  ("password", draw(hostile_text(100))),
                  *[("departments", draw(st.sampled_from(["dental", "ortho"])
                                         | hostile_text(80))) for _ in range(draw(
                                             st.integers(0, 3)))]]
        if target == "create":
            path, valid = "/staff/admin/staff", None
        else:
            # the seeded staff are left alone: updating them could end the fuzz's sessions
            seg = draw((numberish(40) | hostile_text(20)).filter(
                lambda s: not re.fullmatch(r"[0-9]{1,3}", s)))
            path, valid = f"/staff/admin/staff/{enc(seg)}", False
        return Req(f"staff_admin_{target}", "POST", path, body=form(fields),
                   content_type="application/x-www-form-urlencoded", who="admin",
                   csrf=True, valid=valid)
    body, ctype = draw(st.sampled_from([
        (b"text=%ff%fe", "application/x-www-form-urlencoded"),
        (b"text=1", "multipart/form-data"),
        (b"\xff\xfe", "application/x-www-form-urlencoded; charset=utf-16")]))
    seg, _ = _id_segment(draw, h.escalations)
    return Req("staff_raw", "POST", f"/staff/escalations/{seg}/reply", body=body,
               content_type=ctype, who=who, valid=False)


@st.composite
def staff_pages(draw: st.DrawFn, h: Harness) -> Req:
    """Staff GET pages with hostile ids and query strings: a GET never writes."""
    who = draw(st.sampled_from(["head", "admin", "agent", "anon"]))
    page = draw(st.sampled_from(["queue", "rows", "esc", "conv", "audit", "admin", "qr"]))
    q = [(k, draw(hostile_text(60) | numberish())) for k in draw(st.lists(
        st.sampled_from(["view", "kind", "priority", "department", "done", "actor", "lang",
                         "next", "source"]), max_size=4, unique=True))]
    path = {"queue": "/staff/queue", "rows": "/staff/queue/rows", "audit": "/staff/audit",
            "admin": "/staff/admin"}.get(page)
    if path is None:
        seg, _ = _id_segment(draw, h.escalations if page == "esc" else h.contacts)
        path = {"esc": f"/staff/escalations/{seg}", "conv": f"/staff/conversations/{seg}",
                "qr": f"/staff/wechat-qr/{seg}"}[page]
    if page == "qr":  # would ask WeChat (nothing listens here): keep to ids that do not exist
        path = f"/staff/wechat-qr/{enc(draw(hostile_text(30)))}X"
    return Req(f"staff_{page}", "GET", path, form(q).decode(), who=who, valid=False)


# --------------------------------------------------------------------------- API, dashboard


@st.composite
def api_episodes(draw: st.DrawFn, h: Harness) -> Req:
    """The JSON import API: hostile episodes among good ones, and hostile bodies."""
    auth = draw(st.sampled_from([f"Bearer {API_KEY}"] * 4 + ["Bearer nope", "", "Basic x"]))
    valid: bool | None = None if auth == f"Bearer {API_KEY}" else False
    if draw(st.integers(0, 4)) > 0:
        cols = ["external_id", "person_name", "contact_phone", "occurred_at", "department",
                "clinician", "birth_date", "kind", "contact_openid", "treatment_type"]
        episodes = []
        for i in range(draw(st.integers(0, 4))):
            ep: dict[str, Any] = {"external_id": f"Z{draw(st.integers(0, 50))}",
                                  "person_name": "某某", "contact_phone": "13900001111",
                                  "occurred_at": "2026-11-15", "department": "dental"}
            for col in draw(st.lists(st.sampled_from(cols), max_size=3, unique=True)):
                ep[col] = draw(hostile_text(200) | numberish() | st.integers(-10**18, 10**18)
                               | st.lists(st.integers(), max_size=2) | st.none())
            if draw(st.integers(0, 9)) == 0:
                ep[draw(hostile_text(20))] = "x"
            episodes.append(ep if i or draw(st.integers(0, 9)) else draw(hostile_text(10)))
        payload: Any = {"source": draw(st.just("his") | hostile_text(80)),
                        "episodes": episodes}
        body = json.dumps(payload, ensure_ascii=draw(st.booleans())).encode(
            "utf-8", "surrogatepass")
    else:
        body = draw(st.sampled_from([
            b"[" * 100_000, b'{"episodes":' + b"[" * 50 + b"]" * 50 + b"}", b"\xff{}",
            b'{"episodes":[{"external_id":"\\ud800","person_name":"x","contact_phone":'
            b'"13900001111","occurred_at":"2026-11-15","department":"d"}]}',
            b'{"episodes":[{"external_id":' + b"1" * 5000 + b"}]}", b'{"episodes":NaN}',
            b'{"episodes":[{"external_id":"A","person_name":"x","contact_phone":"13900001111",'
            b'"occurred_at":"9999-12-31 23:59","department":"d"}]}', b""]) | st.binary(
            max_size=200))
        valid = False
    return Req("api_episodes", "POST", "/api/episodes", body=body,
               content_type="application/json", headers=(("Authorization", auth),),
               valid=valid)


@st.composite
def dashboard(draw: st.DrawFn, h: Harness) -> Req:
    """Tallies, drill-down, exports and the monthly report with hostile query strings."""
    path = draw(st.sampled_from(["/tallies", "/tallies/answers", "/tallies/export.csv",
                                 "/tallies/export.xlsx", "/tallies/records.csv",
                                 "/reports/monthly", "/reports/monthly.json",
                                 "/reports/monthly.csv"]))
    keys = ["by", "period", "from", "to", "range", "department", "clinician", "treatment",
            "channel", "question", "key", "q", "pkey", "lang"]
    q = []
    for k in draw(st.lists(st.sampled_from(keys), max_size=5, unique=True)):
        v = draw(st.sampled_from(["department", "clinician", "month", "week", "day", "all",
                                  "2026-11", "2026-Q4", "0001-01", "9999-12", "2026-11-16",
                                  "9999-12-31", "0001-01-01", "2026-11-01..2026-11-30",
                                  "overall", str(h.departments.get("ortho", 1))])
                 | hostile_text(60) | numberish())
        q.append((k, v))
    return Req("dashboard", "GET", path, form(q).decode(),
               who=draw(st.sampled_from(["head", "admin", "agent"])), valid=False)


@st.composite
def simulator(draw: st.DrawFn, h: Harness) -> Req:
    """The patient-phone simulator: hostile contact ids, texts, nonces, polling numbers."""
    seg, known = _id_segment(draw, h.contacts)
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return Req("sim_chat", "GET", f"/simulator/contacts/{seg}", valid=False)
    if kind == 1:
        # A wait asks the server to hold the request (up to 30 s, by design): numbers stay
        # short so a held request is not mistaken for a hang.
        wait = draw(st.sampled_from(["0", "0.05", "0.2", "nan", "inf", "-1", "1e9", "1e-9"])
                    | numberish().filter(lambda s: not re.fullmatch(r"[0-9.]+", s)))
        q = [("after", draw(numberish())), ("wait", wait)]
        return Req("sim_poll", "GET", f"/simulator/api/contacts/{seg}/messages",
                   form(q).decode(), valid=False)
    text = draw(hostile_text(2100))
    nonce = draw(st.text(alphabet="0123456789abcdef", min_size=16, max_size=16)
                 | hostile_text(200))
    # The text is read stripped (str.strip() also takes the separators \x1c-\x1f).
    bad = not known or not text.strip() or bool(
        re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text.strip() + nonce)) \
        or len(nonce) > 64
    return Req("sim_send", "POST", f"/simulator/contacts/{seg}/send",
               body=form([("text", text), ("nonce", nonce)]),
               content_type="application/x-www-form-urlencoded",
               headers=(("Accept", "application/json"),), valid=False if bad else None)


STRATEGIES: dict[str, Callable[[Harness], st.SearchStrategy[Req]]] = {
    "wechat_message": wechat_message, "wechat_raw": wechat_raw, "wechat_get": wechat_get,
    "sms_push": sms_push, "h5": h5, "login": login, "staff_action": staff_action,
    "staff_pages": staff_pages, "api_episodes": api_episodes, "dashboard": dashboard,
    "simulator": simulator, "voice_push": voice_push, "call_list": call_list,
}


def any_request(h: Harness) -> st.SearchStrategy[Req]:
    """One request to any endpoint."""
    return st.one_of(*(make(h) for make in STRATEGIES.values()))


# --------------------------------------------------------------------------- the cases


def regression_cases(h: Harness) -> list[tuple[str, Req, set[int]]]:
    """The classes the issue found, each with the statuses it may get (and no rows)."""
    now = int(h.clock.now().timestamp())
    cases: list[tuple[str, Req, set[int]]] = []
    for ts in ("²", "①", "٣", "１", "9" * 40):
        params = dict(signed_request(_xml([("ToUserName", OFFICIAL_ID)]), timestamp=now,
                                     mode="plain").params, timestamp=ts)
        cases.append((f"wechat timestamp {ts[:5]!r}", Req("wechat_post", "POST", "/wechat",
                     urlencode(params), b"<xml/>", "text/xml", valid=False), {403}))
    for mid in ("①", "٣", "１", "9" * 40, "²", "18446744073709551616"):
        xml = _xml([("ToUserName", OFFICIAL_ID), ("FromUserName", "oFUZZ0"),
                    ("CreateTime", str(now)), ("MsgType", "text"), ("Content", "5"),
                    ("MsgId", mid)])
        for mode in ("safe", "plain"):
            s = signed_request(xml, timestamp=now, mode=mode)
            cases.append((f"wechat MsgId {mid[:6]!r} {mode}", Req(
                "wechat_post", "POST", "/wechat", urlencode(s.params), s.body, "text/xml",
                valid=False), {400}))
    xml = _xml([("ToUserName", OFFICIAL_ID), ("FromUserName", "oFUZZ0"),
                ("CreateTime", str(now)), ("MsgType", "text"), ("Content", "5"),
                ("MsgId", "123")])
    late_dtd = xml.replace("<xml>", "<xml>" + " " * 5000, 1).replace(
        "</xml>", "<!DOCTYPE x [<!ENTITY e 'boom'>]></xml>")
    s = signed_request(late_dtd, timestamp=now, mode="plain")
    cases.append(("wechat DOCTYPE after 4 KB", Req("wechat_post", "POST", "/wechat",
                  urlencode(s.params), s.body, "text/xml", valid=False), {400}))
    sms = f"/sms/aliyun/{{}}/{CALLBACK_TOKEN}"
    for out_id in ("²", "9" * 40):
        body = json.dumps([{"phone_number": "13700000001", "success": True,
                            "out_id": out_id}]).encode()
        cases.append((f"sms receipt out_id {out_id[:5]!r}", Req(
            "sms_report", "POST", sms.format("report"), body=body,
            content_type="application/json", valid=False), {200}))
    body = json.dumps([{"phone_number": "13700000001", "success": True,
                        "biz_id": "b" * 129}]).encode()
    cases.append(("sms receipt biz_id of 129", Req("sms_report", "POST", sms.format("report"),
                  body=body, content_type="application/json", valid=False), {200}))
    body = json.dumps([{"phone_number": "13700000001", "content": "5", "sequence_id": "²"}],
                      ensure_ascii=False).encode()
    cases.append(("sms reply sequence_id '²'", Req("sms_up", "POST", sms.format("up"),
                  body=body, content_type="application/json", valid=False), {200}))
    for kind, path in (("api", "/api/episodes"), ("sms up", sms.format("up")),
                       ("sms report", sms.format("report"))):
        cases.append((f"{kind}: 100,000 nested [", Req(
            "deep", "POST", path, body=b"[" * 100_000, content_type="application/json",
            headers=(("Authorization", f"Bearer {API_KEY}"),), valid=False), {400, 413}))
    voice = f"/voice/aliyun/report/{VOICE_TOKEN}"
    cases.append(("voice: 100,000 nested [", Req(
        "deep", "POST", voice, body=b"[" * 100_000, content_type="application/json",
        valid=False), {400, 413}))
    for out_id in ("²", "9" * 40, "１２"):
        body = json.dumps([{"out_id": out_id, "status_code": "200000", "dtmf": "4",
                            "duration": "3"}], ensure_ascii=False).encode()
        cases.append((f"voice receipt out_id {out_id[:5]!r}", Req(
            "voice_report", "POST", voice, body=body, content_type="application/json",
            valid=False), {200}))
    # a bad form for a call or an escalation that is not there: 404, not the page's 500
    for path, body in (("/staff/calls/1396834305/record", b"outcome=&when=true&note="),
                       ("/staff/escalations/1396834305/labels", b"score=9")):
        cases.append((f"POST {path}", Req("ids", "POST", path, body=body,
                      content_type="application/x-www-form-urlencoded", who="agent",
                      csrf=True, valid=False), {404, 422}))
    for path in ("/staff/calls/" + "9" * 20, "/staff/calls/99999999999", "/staff/calls/٣"):
        cases.append((f"GET {path[:40]}", Req("ids", "GET", enc(path).replace("%2F", "/"),
                      who="admin", valid=False), {404}))
    token = h.tokens[-1]
    cases.append(("h5 invalid UTF-8", Req("h5_post", "POST", f"/s/{token}",
                  body=b"q_overall=%ff%fe&comment=%c3%28",
                  content_type="application/x-www-form-urlencoded", valid=False), {400}))
    cases.append(("h5 multipart without boundary", Req(
        "h5_post", "POST", f"/s/{token}", body=b"q_overall=5",
        content_type="multipart/form-data", valid=False), {400}))
    cases.append(("login: invalid form body", Req(
        "login", "POST", "/staff/login", body=b"\xff\xfe=%ff",
        content_type="application/x-www-form-urlencoded", valid=False), {400, 403}))
    cases.append(("login: multipart without boundary", Req(
        "login", "POST", "/staff/login", body=b"x", content_type="multipart/form-data",
        valid=False), {400}))
    cases.append(("login: 5,000-character username", Req(
        "login", "POST", "/staff/login", body=form([("username", "u" * 5000),
                                                    ("password", "x" * 10)]),
        content_type="application/x-www-form-urlencoded", who="head", valid=False),
        {403, 422}))
    for path in ("/staff/escalations/" + "9" * 20, "/staff/conversations/" + "9" * 20,
                 "/staff/escalations/99999999999", "/staff/escalations/٣",
                 "/simulator/contacts/" + "9" * 20, "/simulator/contacts/99999999999"):
        cases.append((f"GET {path[:40]}", Req("ids", "GET", enc(path).replace("%2F", "/"),
                      who="admin", valid=False), {404}))
    cases.append(("POST /staff/escalations/<20 digits>/claim", Req(
        "ids", "POST", "/staff/escalations/" + "9" * 20 + "/claim", body=b"",
        content_type="application/x-www-form-urlencoded", who="admin", csrf=True,
        valid=False), {404}))
    if h.escalations:
        cases.append(("agent reassigns another department's escalation", Req(
            "reassign", "POST", f"/staff/escalations/{h.escalations[1]}/reassign",
            body=form([("to", str(h.staff_ids[0]))]),
            content_type="application/x-www-form-urlencoded", who="agent", csrf=True,
            valid=False), {403, 404}))
    return cases
