"""`survey-bot doctor` finds each planted problem, says what to do, and exits 1 for it.

Run as an operator runs it: the console script in a subprocess, with a configuration file,
against this test's real database; the public URL is a real local server.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.conftest import BACKEND

ROOT = Path(__file__).resolve().parent.parent
# chinesecalendar knows the years up to 2026; the doctor looks at this year and the next.
CALENDAR = """
[calendar]
holidays = [2027-01-01, 2028-01-01, 2029-01-01]
"""


async def cli(*args: str, config: Path, db_url: str, stdin: str = "") -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYBOT_")}
    env["SURVEYBOT_DATABASE__URL"] = db_url
    env["PYTHONPATH"] = str(ROOT)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "--config", str(config), *args, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout=120)
    assert b"Traceback" not in err, err.decode()
    return int(proc.returncode or 0), out.decode(), err.decode()


@pytest.fixture
async def public_url() -> AsyncIterator[str]:
    """Where the server would be reached from outside: a local server answering /healthz."""
    app = web.Application()

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/healthz", healthz)
    server = TestServer(app)
    await server.start_server()
    yield str(server.make_url("")).rstrip("/")
    await server.close()


def write_config(tmp_path: Path, public_url: str, extra: str = "") -> Path:
    path = tmp_path / "survey-bot.toml"
    path.write_text(f"""
[server]
public_url = "{public_url}"
[simulator]
enabled = true
[wecom]
robot_key = "robot-key-for-tests"
{CALENDAR}
{extra}
""", encoding="utf-8")
    return path


async def healthy(tmp_path: Path, db_url: str, public_url: str) -> Path:
    """A set-up with nothing wrong: one department, its head, an agent and a manager."""
    config = write_config(tmp_path, public_url)
    csv = tmp_path / "visits.csv"
    csv.write_text("external_id,person_name,contact_phone,occurred_at,department\n"
                   "D1,周八,13800008888,2026-11-16 09:00,dental\n", encoding="utf-8")
    assert (await cli("import", str(csv), config=config, db_url=db_url))[0] == 0
    for name, role in (("boss", "manager"), ("dr-li", "head"), ("nurse-wu", "agent")):
        code, _, err = await cli("staff", "add", name, "--role", role, "--departments",
                                 "dental", "--password-stdin", config=config, db_url=db_url,
                                 stdin="a-long-password-1\n")
        assert code == 0, err
    return config


def findings(stdout: str) -> dict[str, dict[str, str]]:
    return {f["check"]: f for f in json.loads(stdout)["findings"]}


async def test_a_healthy_set_up_passes(tmp_path: Path, db_url: str, public_url: str) -> None:
    config = await healthy(tmp_path, db_url, public_url)
    code, out, err = await cli("doctor", config=config, db_url=db_url)
    assert code == 0, out + err
    assert "nothing would lose or delay a message" in out
    assert err.splitlines()[0].startswith("survey-bot doctor: database ")
    code, out, _ = await cli("doctor", "--json", config=config, db_url=db_url)
    found = findings(out)
    assert code == 0 and json.loads(out)["ok"] is True
    assert {f["status"] for f in found.values()} == {"ok"}
    assert {"database", "channels", "departments", "public url"} <= set(found)


async def test_each_planted_problem_is_found(tmp_path: Path, db_url: str,
                                             public_url: str) -> None:
    await healthy(tmp_path, db_url, public_url)
    # Plant: an unknown calendar year, no channel, a dead public URL, and a new department
    # (created by an import) that nobody works in, and one with staff but no head.
    config = tmp_path / "broken.toml"
    config.write_text("""
[server]
public_url = "http://127.0.0.1:9/nowhere"
[channels]
order = ["wechat"]
[wecom]
robot_key = "robot-key-for-tests"
""", encoding="utf-8")
    csv = tmp_path / "more.csv"
    csv.write_text("external_id,person_name,contact_phone,occurred_at,department\n"
                   "E1,吴九,13800009999,2026-11-16 09:00,ent\n"
                   "E2,郑十,13800001010,2026-11-16 09:00,eye\n", encoding="utf-8")
    assert (await cli("import", str(csv), config=config, db_url=db_url))[0] == 0
    code, _, err = await cli("staff", "add", "nurse-eye", "--role", "agent", "--departments",
                             "eye", "--password-stdin", config=config, db_url=db_url,
                             stdin="a-long-password-1\n")
    assert code == 0, err

    code, out, err = await cli("doctor", "--json", config=config, db_url=db_url)
    assert code == 1, out + err
    found = findings(out)
    bad = {name for name, f in found.items() if f["status"] == "FAIL"}
    assert bad == {"calendar 2027", "channels", "department ent", "department eye",
                   "public url"}, found
    assert "department dental" not in found  # it has its staff and its head
    assert "[calendar]" in found["calendar 2027"]["todo"]
    assert "no active staff member" in found["department ent"]["detail"]
    assert "no head" in found["department eye"]["detail"]
    assert "unreachable" in found["public url"]["detail"]
    for f in found.values():
        assert f["status"] == "ok" or f["todo"], f  # every problem says what to do

    # The table for people says the same, with the count.
    code, out, _ = await cli("doctor", config=config, db_url=db_url)
    assert code == 1 and "5 problem(s) would lose or delay messages" in out


async def test_no_manager_is_a_problem(tmp_path: Path, db_url: str, public_url: str) -> None:
    config = write_config(tmp_path, public_url)
    code, out, _ = await cli("doctor", "--json", config=config, db_url=db_url)
    assert code == 1
    assert findings(out)["managers"]["status"] == "FAIL"


async def test_an_unreachable_database_is_one_clear_finding(tmp_path: Path,
                                                            public_url: str) -> None:
    config = write_config(tmp_path, public_url)
    url = ("postgres://u:pw@127.0.0.1:9/none" if BACKEND == "postgres"
           else f"sqlite://{tmp_path}/no/such/dir/x.sqlite3")
    code, out, _ = await cli("doctor", "--json", config=config, db_url=url)
    assert code == 1
    found = findings(out)
    assert list(found) == ["database"] and found["database"]["status"] == "FAIL"


@pytest.mark.skipif(BACKEND != "postgres", reason="SQLite is migrated when opened")
async def test_an_unmigrated_postgres_is_found(tmp_path: Path, _template: Any,  # noqa: PT019
                                               public_url: str) -> None:
    name = f"sb_doctor_{os.getpid()}"
    _template.psql(f"CREATE DATABASE {name}")
    try:
        config = write_config(tmp_path, public_url)
        code, out, _ = await cli("doctor", "--json", config=config, db_url=_template.url(name))
        assert code == 1
        f = findings(out)["database"]
        assert "not migrated" in f["detail"] and "survey-bot migrate" in f["detail"]
    finally:
        _template.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --- the providers: credentials, templates, signatures, pauses --------------------------------


def _toml_value(v: Any) -> str:
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)


def _section(name: str, values: dict[str, Any]) -> str:
    return f"[{name}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in values.items())


@pytest.fixture
async def providers() -> AsyncIterator[tuple[Any, Any]]:
    from tests.fake_aliyun import FakeAliyunSms
    from tests.fake_wechat import FakeWechat

    wechat, sms = FakeWechat(template_ids={"TPL_CHECKIN"}), FakeAliyunSms(
        sign_names={"示例医院"}, template_codes={"SMS_1001", "SMS_1002", "SMS_1003",
                                                "SMS_1004", "SMS_1005"})
    await wechat.start()
    await sms.start()
    yield wechat, sms
    await sms.close()
    await wechat.close()


def provider_config(tmp_path: Path, public_url: str, fake_wechat: Any, fake_sms: Any,
                    **changes: Any) -> Path:
    from tests.fake_aliyun import TEMPLATES, sms_section
    from tests.fake_wechat import wechat_section

    templates = {**TEMPLATES, "notice": {"code": "SMS_1004", "params": {"content": "{text}"}}}
    sms_values = {**sms_section(fake_sms, templates=templates), **changes.get("sms", {})}
    wechat_values = {**wechat_section(fake_wechat.base_url, template_id="TPL_CHECKIN"),
                     **changes.get("wechat", {})}
    return write_config(tmp_path, public_url, "[channels]\norder = [\"wechat\", \"sms\"]\n"
                        + _section("wechat", wechat_values) + _section("sms", sms_values))


async def test_healthy_providers_pass(tmp_path: Path, db_url: str, public_url: str,
                                      providers: tuple[Any, Any]) -> None:
    await healthy(tmp_path, db_url, public_url)
    config = provider_config(tmp_path, public_url, *providers)
    code, out, _ = await cli("doctor", "--json", config=config, db_url=db_url)
    found = findings(out)
    assert code == 0, found
    for name in ("wechat token", "wechat template", "sms credentials", "sms signature",
                 "sms template checkin", "sms template otp", "sms batch", "pauses"):
        assert found[name]["status"] == "ok", found[name]
    wechat, sms = providers
    # Read-only questions: nothing was sent, no template message, no SMS.
    assert not wechat.sent and not sms.sent
    # (SendBatchSms was asked to no number: a refusal or a parameter error, never a send.)
    assert [json.loads(r["PhoneNumberJson"]) for r in sms.batch_sends()] == [[]]


async def test_a_ram_user_without_send_batch_sms_is_found(tmp_path: Path, db_url: str,
                                                         public_url: str,
                                                         providers: tuple[Any, Any]) -> None:
    await healthy(tmp_path, db_url, public_url)
    wechat, sms = providers
    sms.forbidden_actions.add("SendBatchSms")  # a policy allowing SendSms only
    code, out, _ = await cli("doctor", "--json",
                             config=provider_config(tmp_path, public_url, wechat, sms),
                             db_url=db_url)
    found = findings(out)
    assert code == 0, found  # a warning: SMS still go, one by one
    assert found["sms batch"]["status"] == "warn"
    assert "Forbidden.RAM" in found["sms batch"]["detail"]
    assert "SendBatchSms" in found["sms batch"]["todo"]
    assert found["sms credentials"]["status"] == "ok" and not sms.sent

    # batch_size = 1 says single sends are meant: nothing to ask.
    single = provider_config(tmp_path, public_url, wechat, sms, sms={"batch_size": 1})
    code, out, _ = await cli("doctor", "--json", config=single, db_url=db_url)
    assert code == 0 and "sms batch" not in findings(out)


async def test_wrong_secrets_and_templates_are_found(tmp_path: Path, db_url: str,
                                                     public_url: str,
                                                     providers: tuple[Any, Any]) -> None:
    await healthy(tmp_path, db_url, public_url)
    wechat, sms = providers
    sms.template_states["SMS_1002"] = "AUDIT_STATE_INIT"  # submitted, not yet approved
    config = provider_config(
        tmp_path, public_url, wechat, sms,
        wechat={"template_id": "TPL_TYPO"},
        sms={"sign_name": "别的医院",
             "templates": {"checkin": {"code": "SMS_1001", "params": {"code": "{link_token}"}},
                           "reply": {"code": "SMS_1002", "params": {}},
                           "staff": {"code": "SMS_9999", "params": {}}}})
    code, out, _ = await cli("doctor", "--json", config=config, db_url=db_url)
    found = findings(out)
    assert code == 1
    assert found["wechat template"]["status"] == "FAIL"
    assert "TPL_TYPO" in found["wechat template"]["detail"]
    assert found["sms template checkin"]["status"] == "ok"
    assert "AUDIT_STATE_INIT" in found["sms template reply"]["detail"]
    assert "not a template of this account" in found["sms template staff"]["detail"]
    assert "no template code" in found["sms template notice"]["detail"]
    assert "no template code" in found["sms template otp"]["detail"]  # WeChat binding
    assert found["sms signature"]["status"] == "FAIL"

    wrong = provider_config(tmp_path, public_url, wechat, sms,
                            wechat={"app_secret": "not-the-secret"},
                            sms={"access_key_secret": "not-the-secret"})
    code, out, _ = await cli("doctor", "--json", config=wrong, db_url=db_url)
    found = findings(out)
    assert code == 1
    assert "AppSecret is wrong (40125)" in found["wechat token"]["detail"]
    assert "SignatureDoesNotMatch" in found["sms credentials"]["detail"]
    assert "wechat template" not in found  # nothing more can be asked without a token
    assert not [n for n in found if n.startswith("sms template")]


async def test_a_paused_channel_is_found(tmp_path: Path, db_url: str, public_url: str,
                                         providers: tuple[Any, Any]) -> None:
    from datetime import UTC, datetime

    from bot import db
    from bot.channels import pause
    from bot.channels.base import Fault

    await healthy(tmp_path, db_url, public_url)
    config = provider_config(tmp_path, public_url, *providers)
    await db.init_db(db_url)
    try:
        await pause.pause("sms", Fault(code="isv.AMOUNT_NOT_ENOUGH", zh="账户余额不足",
                                       en="the account balance is too low"),
                          datetime.now(UTC))
    finally:
        await db.close_db()
    code, out, _ = await cli("doctor", "--json", config=config, db_url=db_url)
    found = findings(out)
    assert code == 1
    assert "balance is too low" in found["sms paused"]["detail"]
    assert "channels resume sms" in found["sms paused"]["todo"]
    code, _, err = await cli("channels", "resume", "sms", config=config, db_url=db_url)
    assert code == 0, err
    code, out, _ = await cli("doctor", "--json", config=config, db_url=db_url)
    assert code == 0 and findings(out)["pauses"]["status"] == "ok"
