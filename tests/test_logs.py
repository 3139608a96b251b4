"""Logs: JSON lines that parse, carry who and when, and never a phone number or a name.

A real ``survey-bot serve`` with ``[logging] format = "json"`` at DEBUG goes through a full
flow over HTTP (import → check-in → reply → escalation): every line of its standard error is
one JSON object, none holds the person's name, the contact's name or phone, a link token or
an SQL statement; polling requests are DEBUG, the others INFO.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.observability import logs
from tests.serve_process import Server, free_port, get, poll, post, write_config

PERSON, CONTACT, PHONE = "欧阳娜娜", "欧阳建国", "13912345678"
VISIT = {"external_id": "LOG-1", "person_name": PERSON, "contact_name": CONTACT,
         "relation": "parent", "contact_phone": "+86 139-1234-5678",
         "department": "peds", "department_name": "儿科"}
LINK_TOKEN = "Zq8LinkTokenZq8x"


def metric(base: str, name: str, **labels: str) -> float:
    status, text = get(f"{base}/metrics")
    assert status == 200, text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return 0.0


def test_json_logs_of_a_full_flow_parse_and_name_nobody(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cfg = write_config(tmp_path / "c.toml", db_url, server={"port": port},
                       logging={"format": "json", "level": "debug"})
    server = Server("--config", str(cfg), "serve", "--role", "all", cwd=tmp_path)
    try:
        server.wait_for(lambda lines: [x for x in lines if '"ready: ' in x])
        now = datetime.now(ZoneInfo("Asia/Shanghai"))
        visit = {**VISIT, "occurred_at": now.strftime("%Y-%m-%d %H:%M")}
        status, text = post(f"{base}/api/episodes",
                            json.dumps({"source": "his", "episodes": [visit]}).encode(),
                            "application/json", {"Authorization": "Bearer test-key-0123456789"})
        assert status == 200, text
        assert poll(lambda: metric(base, "surveybot_messages_sent_total", channel="simulator",
                                   kind="checkin") == 1)
        contact_id = re.findall(r"/simulator/contacts/(\d+)", get(f"{base}/simulator")[1])[0]
        status, text = post(f"{base}/simulator/contacts/{contact_id}/send",
                            urlencode({"text": "2 护士态度不好", "nonce": "n1"}).encode(),
                            "application/x-www-form-urlencoded", {"Accept": "application/json"})
        assert status == 200, text
        assert poll(lambda: metric(base, "surveybot_escalations_open", kind="complaint",
                                   status="open", sla="in_time") == 1)
        # The requests a browser repeats, a static file, a survey link with its secret.
        get(f"{base}/simulator/api/contacts/{contact_id}/messages?after=0")
        get(f"{base}/staff/queue/rows")
        get(f"{base}/static/staff.js")
        get(f"{base}/s/{LINK_TOKEN}")
    finally:
        code = server.stop()
    assert code == 0, "\n".join(server.err)

    records = [json.loads(line) for line in server.err]  # every line is one JSON object
    assert records and all(isinstance(r, dict) for r in records)
    ready = [r for r in records if r["message"].startswith("ready: ")]
    assert len(ready) == 1 and ready[0]["role"] == "all" and ready[0]["port"] == port
    worker = ready[0]["worker"]
    for r in records:
        assert {"time", "level", "logger", "message", "worker"} <= set(r), r
        when = datetime.fromisoformat(r["time"])
        assert when.utcoffset() is not None, r  # aware
        assert r["level"] in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
        assert r["worker"] in (worker, None), r  # None: before the runtime existed

    text = "\n".join(server.err)
    for secret in (PERSON, CONTACT, "欧阳", PHONE, "139-1234-5678", "1234-5678",
                   LINK_TOKEN, "SELECT ", "INSERT "):
        assert secret not in text, secret
    assert not [r for r in records if "Tortoise-ORM" in r["message"]]
    assert len([r for r in records if r["message"] == "database closed"]) == 1
    assert records[0]["message"].startswith("survey-bot serve: database ")

    access = {(r["method"], r["path"]): r for r in records if r["logger"] == "aiohttp.access"}
    assert access[("POST", "/api/episodes")]["level"] == "INFO"
    assert access[("POST", f"/simulator/contacts/{contact_id}/send")]["level"] == "INFO"
    assert access[("GET", "/s/{token}")]["level"] == "INFO"
    for path in ("/metrics", "/staff/queue/rows", "/static/staff.js",
                 f"/simulator/api/contacts/{contact_id}/messages"):
        assert access[("GET", path)]["level"] == "DEBUG", path
    assert all("?" not in path for _, path in access)  # query strings are not logged
    assert access[("POST", "/api/episodes")]["status"] == 200


def test_an_exception_is_inside_its_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("json", "info", tz=ZoneInfo("Asia/Shanghai"))
    try:
        try:
            {}["missing"]
        except KeyError:
            logging.getLogger("bot.test").exception("lookup failed for %s", 13912345678,
                                                    extra={"message_id": 7})
        logging.getLogger("bot.test").debug("below the level")
    finally:
        logs.configure()
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    record: dict[str, Any] = json.loads(lines[0])
    assert record["level"] == "ERROR" and record["logger"] == "bot.test"
    assert record["message"] == "lookup failed for 139****5678"  # a slipped phone is masked
    assert record["message_id"] == 7
    assert "Traceback" in record["exception"] and "KeyError: 'missing'" in record["exception"]
    assert record["time"].endswith("+08:00")


@pytest.mark.parametrize(("text", "masked"), [
    ("from 13912345678.", "from 139****5678."),
    ("+86 139 1234 5678", "139****5678"),
    ("8613912345678", "139****5678"),
    ("139-1234-5678", "139****5678"),
    ("message 2013912345678999", "message 2013912345678999"),  # part of a longer number
    ("id 12345678901", "id 12345678901"),  # not a mobile number
])
def test_mobile_numbers_are_masked(text: str, masked: str) -> None:
    assert logs.scrub(text) == masked


def test_logging_settings() -> None:
    from bot.config import ConfigError, settings_from_dict

    # From the environment people write DEBUG as often as debug.
    assert settings_from_dict({"logging": {"level": "DEBUG", "format": "JSON"}}).logging == (
        settings_from_dict({"logging": {"level": "debug", "format": "json"}}).logging)
    with pytest.raises(ConfigError, match=r"logging\.format"):
        settings_from_dict({"logging": {"format": "xml"}})
