"""Staff corrections are data: stored and audited, exported as JSONL, trained on.

The chain from outside: a reply escalates, a member of staff corrects its labels
(``bot.corrections.record``, what the escalation page calls), ``survey-bot corrections
export`` writes them in the labelled-reply format, ``survey-bot train`` retrains with them
and prints before/after figures, and ``survey-bot parse`` uses the model the config points to.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import corrections, importer, ledger
from bot.clock import FrozenClock
from bot.runtime import Runtime
from bot.staff import StaffError
from models import AuditEvent, Contact, Escalation, LabelCorrection
from tests.staff_helpers import make_staff
from tests.test_flow import drain, say, visit

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, db_url: str | None = None, config: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SURVEYBOT_") or k == "SURVEYBOT_NATIVE"}
    if db_url:
        env["SURVEYBOT_DATABASE__URL"] = db_url
    cmd = [sys.executable, "-m", "bot.cli"] + (["--config", str(config)] if config else [])
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=600, check=False)


async def _escalated(rt: Runtime, clock: FrozenClock, text: str) -> Escalation:
    await importer.import_rows(rt, [visit("C1", "周杰", "13800007777")], "t")
    clock.advance(timedelta(days=1, hours=2))
    await drain(rt)
    contact = await Contact.get(phone="13800007777")
    await say(rt, contact, text, 1)
    return await Escalation.get()


async def test_a_correction_is_stored_audited_and_exported(
        orm: None, runtime: Runtime, clock: FrozenClock, db_url: str) -> None:
    esc = await _escalated(runtime, clock, "2分，前台收费多收了我50，电话13812345678")
    agent = await make_staff("agent1", depts=["dental"])
    row = await corrections.record(runtime, agent, esc.id, {"dispute": True},
                                   "threatened to go to the papers on the phone")
    # the whole reading is kept: the bot's, and the corrected one (a dispute is a complaint)
    assert row.parsed["score"] == 2 and row.labels["score"] == 2
    assert row.labels["dispute"] is True and row.labels["complaint"] is True
    assert row.text.startswith("2分")
    event = await AuditEvent.get(kind="labels_corrected")
    assert event.actor == "agent1"
    assert event.data["changed"] in (["dispute"], ["complaint", "dispute"])
    assert all(r.ok for r in await ledger.verify_all())
    # a later correction of the same reply supersedes the earlier one in the export
    await corrections.record(runtime, agent, esc.id, {"score": 1, "dispute": False})
    assert await LabelCorrection.all().count() == 2

    out = cli("corrections", "export", db_url=db_url)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(rows) == 1
    exported = rows[0]
    assert {k: exported[k] for k in ("score", "dispute", "complaint")} == {
        "score": 1, "dispute": False, "complaint": True}
    assert "13812345678" not in exported["text"]  # phone numbers masked
    assert set(corrections.LABELS) <= set(exported)


@pytest.mark.parametrize(("labels", "message"), [
    ({}, "which labels"),
    ({"mood": True}, "unknown label"),
    ({"score": 6}, "1-5"),
    ({"score": True}, "1-5"),
    ({"red_flag": "yes"}, "true or false"),
])
async def test_bad_corrections_are_refused_and_nothing_is_stored(
        orm: None, runtime: Runtime, clock: FrozenClock, labels: dict[str, object],
        message: str) -> None:
    esc = await _escalated(runtime, clock, "护士态度很差")
    agent = await make_staff("agent2", depts=["dental"])
    with pytest.raises(StaffError, match=message) as err:
        await corrections.record(runtime, agent, esc.id, labels)
    assert err.value.status == 400
    assert await LabelCorrection.all().count() == 0


async def test_staff_of_another_department_cannot_correct(
        orm: None, runtime: Runtime, clock: FrozenClock) -> None:
    esc = await _escalated(runtime, clock, "护士态度很差")
    other = await make_staff("ortho1", depts=["ortho"])
    with pytest.raises(StaffError) as err:
        await corrections.record(runtime, other, esc.id, {"complaint": False})
    assert err.value.status == 404
    assert await LabelCorrection.all().count() == 0


def test_train_uses_corrections_and_parse_uses_the_new_model(tmp_path: Path) -> None:
    """A small organisation corpus, so the whole train command runs in seconds."""
    data = tmp_path / "data"
    data.mkdir()
    base = {"score": None, "opt_out": False, "complaint": False, "dispute": False,
            "red_flag": False, "question": False}
    rows = []
    for i in range(40):
        rows.append({**base, "text": f"{i % 5 + 1}分"})
        rows.append({**base, "text": f"第{i}次了，前台又乱收费", "complaint": True})
        rows.append({**base, "text": f"拔牙后第{i % 7 + 1}天一直出血止不住", "red_flag": True})
        rows.append({**base, "text": f"请问第{i % 9 + 1}次复诊要预约吗", "question": True})
    for n in range(3):
        (data / f"w{n}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows[n::3]),
            encoding="utf-8")
    # the organisation's staff say this local word is a complaint
    fixes = [{**base, "text": f"又被宰了{i}回", "complaint": True} for i in range(20)]
    fixes_file = tmp_path / "fixes.jsonl"
    fixes_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in fixes),
                          encoding="utf-8")
    model = tmp_path / "model.json"
    out = cli("train", "--data", str(data), "--corrections-file", str(fixes_file),
              "--folds", "3", "--out", str(model))
    assert out.returncode == 0, out.stderr
    assert "held out: 4 replies" in out.stdout
    assert "before" in out.stdout and "after" in out.stdout
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[lexicon]\nrecall_model = "{model}"\n', encoding="utf-8")
    parsed = cli("parse", "又被宰了一回", config=cfg)
    assert parsed.returncode == 0, parsed.stderr
    reading = json.loads(parsed.stdout.split("\n\n")[0])
    assert reading["complaint"] is True
    assert "model (probabilities" in parsed.stdout


def test_a_broken_model_file_stops_start_up(tmp_path: Path) -> None:
    bad = tmp_path / "m.json"
    bad.write_text('{"format": 99}', encoding="utf-8")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[lexicon]\nrecall_model = "{bad}"\n', encoding="utf-8")
    out = cli("parse", "5", config=cfg)
    assert out.returncode != 0
    assert "survey-bot train" in out.stderr


async def test_staff_correct_a_reading_on_the_escalation_page(
        db_url: str, clock: FrozenClock, client_factory: Any) -> None:
    """Through the page as staff use it: the bot's reading is shown (masked), the form
    corrects it, the page then shows the correction, and the export carries it."""
    from tests.conftest import eventually, make_settings
    from tests.staff_helpers import csrf_of, sign_in

    client = await client_factory(make_settings(db_url), clock)
    visit_row = {"external_id": "C9", "person_name": "周杰", "contact_phone": "13800007777",
                 "occurred_at": "2026-11-16 09:00", "department": "dental",
                 "department_name": "口腔科"}
    r = await client.post("/api/episodes", json={"episodes": [visit_row]},
                          headers={"Authorization": "Bearer test-key"})
    assert r.status == 200
    clock.advance(timedelta(days=1, hours=2))
    contact = await eventually(lambda: Contact.get_or_none(phone="13800007777"))
    await eventually(lambda: _has_checkin_message(contact.id))
    r = await client.post(f"/simulator/contacts/{contact.id}/send",
                          data={"text": "2分，前台周杰的家属电话13812345678被多收了50",
                                "nonce": "c9"}, allow_redirects=False)
    assert r.status == 303
    esc = await eventually(lambda: Escalation.first())
    await make_staff("agent1", depts=["dental"])
    await make_staff("ortho1", depts=["ortho"])
    await sign_in(client, "agent1")

    html = await (await client.get(f"/staff/escalations/{esc.id}")).text()
    form = html.split('id="labels"', 1)[1].split("</details>", 1)[0]
    assert "周*" in form and "周杰" not in form and "13812345678" not in form  # masked
    assert '<option value="2" selected>' in form
    assert 'name="complaint" checked' in form and 'name="dispute" checked' not in form

    # the agent says it was a dispute (the person threatened the papers on the phone)
    r = await client.post(f"/staff/escalations/{esc.id}/labels", allow_redirects=False, data={
        "csrf": csrf_of(html), "score": "2", "complaint": "on", "dispute": "on",
        "why": "电话里说要找媒体"})
    assert r.status == 303 and r.headers["Location"].endswith("?done=labels")
    html = await (await client.get(r.headers["Location"])).text()
    form = html.split('id="labels"', 1)[1].split("</details>", 1)[0]
    assert 'id="labels-corrected"' in form and 'name="dispute" checked' in form
    assert "识别结果已更正" in html
    row = await LabelCorrection.get()
    assert row.labels["dispute"] is True and row.parsed["dispute"] is False
    event = await AuditEvent.get(kind="labels_corrected")
    assert event.actor == "agent1" and event.data["changed"] == ["dispute"]

    # a score out of range is refused, and nothing more is stored
    r = await client.post(f"/staff/escalations/{esc.id}/labels", allow_redirects=False,
                          data={"csrf": csrf_of(html), "score": "9"})
    assert r.status == 422
    # staff of another department cannot see it, let alone correct it
    await client.post("/staff/logout", data={"csrf": csrf_of(html)})
    other = await sign_in(client, "ortho1")
    r = await client.post(f"/staff/escalations/{esc.id}/labels", allow_redirects=False,
                          data={"csrf": other, "score": "5"})
    assert r.status in (403, 404)
    assert await LabelCorrection.all().count() == 1

    out = cli("corrections", "export", db_url=db_url)
    assert out.returncode == 0, out.stderr
    exported = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(exported) == 1 and exported[0]["dispute"] is True
    assert "13812345678" not in exported[0]["text"]


async def _has_checkin_message(contact_id: int) -> bool:
    from models import Message

    return await Message.filter(contact_id=contact_id, direction="out").exists()
