"""``survey-bot doctor``: the configuration checked against reality, with what to do.

Each check is a small coroutine that returns findings; a check that raises becomes a failed
finding naming the exception, never a traceback. A *failure* is anything that would lose or
delay a message or leave an escalation unseen (the exit status is 1 then); a *warning* is
worth fixing but loses nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import aiohttp

from bot import db
from bot.runtime import Runtime

if TYPE_CHECKING:
    from bot.channels.sms_aliyun import AliyunSmsChannel


class Status(StrEnum):
    """How a check came out."""

    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of the doctor's table."""

    check: str
    status: Status
    detail: str
    todo: str = ""

    def as_dict(self) -> dict[str, str]:
        """For ``--json``."""
        return {k: str(v) for k, v in asdict(self).items()}


Check = Callable[[Runtime], Awaitable[list[Finding]]]


def ok(check: str, detail: str) -> Finding:
    """A passed check."""
    return Finding(check, Status.OK, detail)


def warn(check: str, detail: str, todo: str) -> Finding:
    """Worth fixing; loses nothing."""
    return Finding(check, Status.WARN, detail, todo)


def fail(check: str, detail: str, todo: str) -> Finding:
    """Would lose or delay a message, or leave an escalation unseen."""
    return Finding(check, Status.FAIL, detail, todo)


# --- the checks --------------------------------------------------------------------------


async def check_database(rt: Runtime) -> list[Finding]:
    """Reachable, and every migration applied (SQLite was migrated when it was opened)."""
    url = rt.settings.database.url
    pending = await db.pending_migrations(url)
    if pending:
        return [fail("database", f"{db.describe_url(url)}: {len(pending)} migrations pending "
                     f"({', '.join(pending)})", "run `survey-bot migrate`")]
    return [ok("database", f"{db.describe_url(url)}: reachable, migrated")]


async def check_channels(rt: Runtime) -> list[Finding]:
    """Some channel of ``[channels] order`` is configured (else no check-in can leave)."""
    order = rt.settings.channels.order
    usable = [name for name in order if name in rt.channels]
    if not usable:
        return [fail("channels", f"none of [channels] order ({', '.join(order)}) is configured",
                     "configure [wechat] or [sms] (or [simulator] for a demo)")]
    return [ok("channels", f"sending by {', '.join(usable)}")]


async def check_calendar(rt: Runtime) -> list[Finding]:
    """Working days are known for this year and the next (schedules reach into both)."""
    today = rt.local(rt.now()).date()
    out = []
    for year in (today.year, today.year + 1):
        if rt.calendar.knows(year):
            out.append(ok(f"calendar {year}", "holidays and make-up working days known"))
        else:
            out.append(fail(
                f"calendar {year}", "holidays unknown: working-day schedules and deadlines "
                "would count Monday–Friday", f"add {year}'s holidays and make-up working days "
                "to [calendar] holidays / workdays (the State Council's notice)"))
    return out


async def check_cover(rt: Runtime) -> list[Finding]:
    """Every department with work waiting has an active staff member and a head; someone
    leads (the same rule as the staff admin page: :func:`bot.coverage.uncovered_departments`)."""
    from bot.coverage import uncovered_departments
    from models import Role, Staff

    out = []
    if not await Staff.filter(is_active=True, role__in=[Role.MANAGER, Role.ADMIN]).exists():
        out.append(fail("managers", "no active manager or admin: escalations of departments "
                        "without staff reach nobody", "`survey-bot staff add NAME --role "
                        "manager` (or admin)"))
    cover = await uncovered_departments()
    for row in cover.no_staff:
        code = row.department.code
        out.append(fail(f"department {code}", f"{row.active_episodes} visits being followed "
                        f"up and {row.open_escalations} open escalations, but no active staff "
                        "member: they wait for the managers",
                        f"/staff/admin: give someone department {code}"))
    staffless = {r.department.id for r in cover.no_staff}
    for row in cover.no_head:
        if row.department.id in staffless:
            continue
        code = row.department.code
        out.append(fail(f"department {code}", "staff but no head: red flags must reach a "
                        "department head at once", f"/staff/admin: make someone head of {code}"))
    if not cover.no_staff and not cover.no_head:
        out.append(ok("departments", "every department with work waiting has staff and a head"))
    return out


async def check_public_url(rt: Runtime) -> list[Finding]:
    """``[server] public_url`` answers its own /healthz (SMS links and templates point there)."""
    server = rt.settings.server
    if not server.public_url:
        return [warn("public url", f"not set: links in messages use {server.base_url()}",
                     "set [server] public_url to the address patients and staff reach")]
    url = f"{server.base_url()}/healthz"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http, \
                http.get(url) as resp:
            if resp.status == 200:
                return [ok("public url", f"{url} answers")]
            detail = f"{url} answered HTTP {resp.status}"
    except (aiohttp.ClientError, TimeoutError) as e:
        detail = f"{url} unreachable ({type(e).__name__})"
    return [fail("public url", detail + ": survey links and WeChat pushes would not arrive",
                 "start the server, or fix [server] public_url / the proxy in front of it")]


async def check_robot(rt: Runtime) -> list[Finding]:
    """A WeCom group robot hears about escalations (else only the in-app notifications)."""
    if rt.settings.wecom.robot_key:
        return [ok("wecom robot", "default robot configured")]
    return [warn("wecom robot", "no robot: staff hear of escalations only in the app",
                 "set [wecom] robot_key (the group robot's webhook key)")]


async def check_pauses(rt: Runtime) -> list[Finding]:
    """No channel is paused (our credentials or set-up were wrong; messages wait)."""
    from bot.channels import pause

    out = []
    for p in await pause.active(rt.now()):
        scope = f" ({', '.join(sorted(p.kinds))})" if p.kinds else ""
        since = f" since {rt.local(p.since):%Y-%m-%d %H:%M}" if p.since else ""
        until = f", until {rt.local(p.until):%Y-%m-%d %H:%M}" if p.until else ""
        out.append(fail(f"{p.channel} paused", f"{p.en} ({p.code}){scope}{since}{until}: "
                        "its messages wait", f"fix it, then `survey-bot channels resume "
                        f"{p.channel}`"))
    return out or [ok("pauses", "no channel is paused")]


async def check_wechat(rt: Runtime) -> list[Finding]:
    """WeChat gives us a token, and the check-in template exists in the account."""
    from bot.channels.wechat import WechatApiError, WechatChannel

    ch = rt.channels.get("wechat")
    if not isinstance(ch, WechatChannel):
        return []
    try:
        await ch.api.check_credentials()
    except WechatApiError as e:
        fault = ch.fault(e, "checkin")
        what = f"{fault.en} ({e.errcode})" if fault else f"stable_token answered {e}"
        return [fail("wechat token", what + ": nothing can be sent by WeChat",
                     "fix [wechat] app_id / SURVEYBOT_WECHAT__APP_SECRET, or add this "
                     "server's IP to the account's whitelist (公众号 → 基本配置)")]
    out = [ok("wechat token", "stable_token gives a token")]
    cfg = rt.settings.wechat
    if cfg.reopen_with != "template":
        return out
    if not cfg.template_id:
        return [*out, fail("wechat template", "no [wechat] template_id: check-ins outside "
                           "the 48-hour window cannot be sent", "add the template (模板消息) "
                           "and set [wechat] template_id")]
    try:
        known = await ch.api.private_templates()
    except WechatApiError as e:
        return [*out, warn("wechat template", f"could not list the templates ({e})",
                           "check [wechat] template_id in the WeChat console")]
    if cfg.template_id in known:
        return [*out, ok("wechat template", f"{cfg.template_id} exists")]
    return [*out, fail("wechat template", f"{cfg.template_id} is not among the account's "
                       f"{len(known)} templates: check-ins outside 48 hours would wait",
                       "fix [wechat] template_id (公众号 → 模板消息 → 我的模板)")]


def _sms_kinds(rt: Runtime) -> list[str]:
    """The kinds of message this set-up may send by SMS."""
    kinds = ["checkin", "reply", "staff", "notice"]
    if "wechat" in rt.channels:
        kinds.append("otp")  # binding a WeChat account by a code sent to the phone
    return kinds


async def check_sms(rt: Runtime) -> list[Finding]:
    """Aliyun accepts our AccessKey; every kind in use has an approved template; the signature."""
    from bot.channels.sms_aliyun import FAULTS, AliyunSmsChannel

    ch = rt.channels.get("sms")
    if not isinstance(ch, AliyunSmsChannel):
        return []
    cfg = rt.settings.sms
    answer = await ch.account_query("QuerySmsTemplateList",
                                    {"PageIndex": "1", "PageSize": "50"})
    code = str(answer.get("Code", ""))
    if code != "OK":
        known_fault = FAULTS.get(code)
        what = known_fault[2] if known_fault else str(answer.get("Message", ""))[:120]
        return [fail("sms credentials", f"Aliyun answered {code}: {what}",
                     "fix [sms] access_key_id / SURVEYBOT_SMS__ACCESS_KEY_SECRET (the RAM user "
                     "needs AliyunDysmsFullAccess or read access to templates)")]
    out = [ok("sms credentials", "Aliyun accepts the AccessKey")]
    states = {str(t.get("TemplateCode")): str(t.get("AuditStatus"))
              for t in answer.get("SmsTemplateList") or []}
    for kind in _sms_kinds(rt):
        tpl = cfg.templates.get(kind)
        name = f"sms template {kind}"
        if tpl is None or not tpl.code:
            out.append(fail(name, "no template code: these messages cannot go by SMS",
                            f"submit a template for approval, then set [sms.templates.{kind}] "
                            "code"))
        elif states.get(tpl.code) == "AUDIT_STATE_PASS":
            out.append(ok(name, f"{tpl.code} approved"))
        elif tpl.code in states:
            out.append(fail(name, f"{tpl.code} is {states[tpl.code]} (not approved)",
                            "wait for the review, or fix the template in the Aliyun console"))
        else:
            out.append(fail(name, f"{tpl.code} is not a template of this account",
                            f"fix [sms.templates.{kind}] code"))
    out.extend(await _check_sms_batch(ch))
    signs = await ch.account_query("QuerySmsSignList", {"PageIndex": "1", "PageSize": "50"})
    approved = {str(s.get("SignName")) for s in signs.get("SmsSignList") or []
                if s.get("AuditStatus") == "AUDIT_STATE_PASS"}
    if signs.get("Code") != "OK":
        out.append(warn("sms signature", f"could not list signatures ({signs.get('Code')})",
                        "check [sms] sign_name in the Aliyun console"))
    elif cfg.sign_name in approved:
        out.append(ok("sms signature", f"{cfg.sign_name} approved"))
    else:
        out.append(fail("sms signature", f"{cfg.sign_name} is not an approved signature",
                        "fix [sms] sign_name (短信服务 → 签名管理)"))
    return out


async def _check_sms_batch(ch: AliyunSmsChannel) -> list[Finding]:
    """The RAM user may call SendBatchSms (``[sms] batch_size`` > 1).

    Asked with a call to no number: Aliyun's gateway decides the RAM permission before the
    API looks at the numbers, so a user without it is refused (Forbidden.RAM,
    isp.RAM_PERMISSION_DENY) and one with it gets a parameter error. Nothing can be sent.
    """
    from bot.channels.sms_batch import not_permitted

    cfg = ch.cfg
    checkin = cfg.templates.get("checkin")
    if cfg.batch_size <= 1 or checkin is None or not checkin.code:
        return []
    answer = await ch.account_query("SendBatchSms", {
        "PhoneNumberJson": "[]", "SignNameJson": "[]", "TemplateCode": checkin.code,
        "TemplateParamJson": "[]"})
    code = str(answer.get("Code", ""))
    if not_permitted(code):
        return [warn("sms batch", f"the RAM user may not call SendBatchSms ({code}): every SMS "
                     "goes by itself (SendSms), several times slower in a large batch",
                     "grant the RAM user dysms:SendBatchSms (AliyunDysmsFullAccess), or set "
                     "[sms] batch_size = 1 to say single sends are meant")]
    if code == "sms.no_answer":
        return [warn("sms batch", f"could not ask whether SendBatchSms is allowed: "
                     f"{answer.get('Message', '')}", "run the doctor again")]
    return [ok("sms batch", f"SendBatchSms allowed: up to {cfg.batch_size} numbers a call")]


async def check_voice(rt: Runtime) -> list[Finding]:
    """Aliyun accepts the voice AccessKey (a read-only query) and every survey's first score
    question has a call template; voice in ``[channels] order`` is configured."""
    from bot.channels.voice_aliyun import AliyunVoiceChannel
    from bot.phone.keypad import voice_question

    ch = rt.channels.get("voice")
    order = rt.settings.channels.order
    if not isinstance(ch, AliyunVoiceChannel):
        if "voice" in order:
            return [warn("voice", "voice is in [channels] order but [voice] access_key_id is "
                         "empty: nobody is called by the bot (phone-only contacts go to the "
                         "staff call list)", "set up [voice], or take voice out of the order")]
        return []
    answer = await ch.account_query("QueryCallDetailByCallId", {
        "CallId": "0^0", "ProdId": "11000000300005",
        "QueryDate": str(int(rt.now().timestamp() * 1000))})
    code = str(answer.get("Code", ""))
    # (the channel's own reading: a code that would pause calls fails the doctor)
    fault = ch.fault(code)
    if fault is not None or code == "voice.no_answer":
        what = fault.en if fault is not None else str(answer.get("Message", ""))[:120]
        return [fail("voice credentials", f"Aliyun answered {code}: {what}",
                     "fix [voice] access_key_id / SURVEYBOT_VOICE__ACCESS_KEY_SECRET (the RAM "
                     "user needs AliyunDyvmsFullAccess)")]
    out = [ok("voice credentials", "Aliyun accepts the AccessKey")]
    if "voice" not in order:
        out.append(warn("voice order", "voice is not in [channels] order: only contacts marked "
                        "phone only are called", 'add "voice" to [channels] order'))
    for name in sorted({r.survey for r in rt.settings.survey_routes}):
        q = voice_question(rt.settings.surveys[name], {"status": "asking"})
        if q is None:
            continue
        prompt = rt.settings.voice.questions.get(q.id)
        if prompt is None or not prompt.code:
            out.append(warn(f"voice template {q.id}", f"survey {name}: no call template for "
                            f"{q.id}: it is asked in writing instead of by phone",
                            f"submit a TTS template, then set [voice.questions] {q.id}"))
        else:
            out.append(ok(f"voice template {q.id}", f"{prompt.code} (survey {name})"))
    return out


CHECKS: list[Check] = [check_database, check_channels, check_pauses, check_wechat, check_sms,
                       check_voice, check_calendar, check_cover, check_public_url, check_robot]


async def run(rt: Runtime, checks: list[Check] | None = None) -> list[Finding]:
    """Every check in turn (the ORM open); a check that raises is a failed finding."""
    findings: list[Finding] = []
    for check in checks or CHECKS:
        try:
            findings.extend(await asyncio.wait_for(check(rt), timeout=30))
        except Exception as e:  # a broken check must not hide the others
            findings.append(fail(check.__name__.removeprefix("check_"),
                                 f"could not check ({type(e).__name__}: {e})"[:300],
                                 "fix what the detail names, then run doctor again"))
    return findings


def table(findings: list[Finding]) -> str:
    """The findings as an aligned text table."""
    rows = [("CHECK", "STATUS", "DETAIL", "WHAT TO DO")] + [
        (f.check, f.status.value, f.detail, f.todo) for f in findings]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) if i < 3 else cell for i, cell in enumerate(r)).rstrip()
        for r in rows)


def failed(findings: list[Finding]) -> bool:
    """True when anything would lose or delay a message."""
    return any(f.status is Status.FAIL for f in findings)


def summary(findings: list[Finding], when: datetime) -> dict[str, Any]:
    """The machine-readable form (``--json``)."""
    return {"checked_at": when.isoformat(), "ok": not failed(findings),
            "findings": [f.as_dict() for f in findings]}
