"""The survey-bot command line, run as a real process against this test's database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BACKEND

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, db_url: str | None = None, stdin: str = "",
        config: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYBOT_")}
    if db_url:
        env["SURVEYBOT_DATABASE__URL"] = db_url
    cmd = [sys.executable, "-m", "bot.cli"]
    if config:
        cmd += ["--config", str(config)]
    return subprocess.run([*cmd, *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120, check=False)


def test_parse_jsonl_contract() -> None:
    lines = [{"text": "5"}, {"text": "2 护士态度不好"}, {"text": "TD"}, {"text": "拔牙后一直出血"},
             {"text": "你们是哪个医院?"}, {"text": "不给个说法我就去12345投诉你们"}]
    stdin = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n{broken\n"
    out = cli("parse", "--jsonl", stdin=stdin)
    assert out.returncode == 0, out.stderr
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(rows) == 7
    for row in rows:
        assert {"score", "opt_out", "complaint", "dispute", "red_flag", "question"} <= set(row)
    assert [r["score"] for r in rows[:2]] == [5, 2]
    assert rows[1]["complaint"] and rows[2]["opt_out"] and rows[3]["red_flag"]
    assert rows[4]["question"]
    assert rows[5]["dispute"] and rows[5]["complaint"]
    assert not any(r["dispute"] for r in rows[:5])
    assert "line 7" in rows[6]["error"] and rows[6]["score"] is None


def test_parse_text_explains() -> None:
    out = cli("parse", "2", "护士态度不好")
    assert out.returncode == 0, out.stderr
    data, _, explanation = out.stdout.partition("\n}\n")
    assert json.loads(data + "}")["score"] == 2
    assert "护士态度不好" in explanation or "态度" in explanation


def test_unknown_config_key_stops_with_a_clear_message(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[server]\nprot = 1\n", encoding="utf-8")
    out = cli("parse", "5", config=cfg)
    assert out.returncode == 2
    assert "unknown key 'server.prot'" in out.stderr and str(cfg) in out.stderr


def test_import_verify_and_tamper(db_url: str, tmp_path: Path) -> None:
    csv = tmp_path / "visits.csv"
    csv.write_text(
        "external_id,person_name,contact_phone,occurred_at,department\n"
        "A1,张三,13800001111,2026-11-16 09:00,dental\n"
        "A2,李四,123,2026-11-16,dental\n"
        "A3,王五,13800003333,2026-11-16,dental\n",
        encoding="utf-8",
    )
    out = cli("import", str(csv), "--lang", "en", db_url=db_url)
    assert out.returncode == 1, out.stderr  # some rows refused: say so in the exit code
    assert "2 created" in out.stdout and "1 row refused" in out.stdout
    assert "visits.csv:line 3 [contact_phone]" in out.stderr
    again = cli("import", str(csv), "--lang", "en", db_url=db_url)
    assert "0 created" in again.stdout and "2 unchanged" in again.stdout

    out = cli("verify", db_url=db_url)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "audit_event" in out.stdout and "chain intact" in out.stdout


@pytest.mark.skipif(BACKEND != "sqlite", reason="tampering via the sqlite3 module")
def test_verify_names_the_tampered_row(db_url: str) -> None:
    import sqlite3
    from datetime import UTC, datetime

    from bot.ledger import GENESIS, row_hash

    con = sqlite3.connect(db_url.removeprefix("sqlite://"))
    prev = GENESIS
    when = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)
    for i in range(1, 4):
        content = {"kind": "k", "actor": "a", "subject_type": "s", "subject_id": str(i),
                   "data": {}, "recorded_at": when}
        h = row_hash(prev, content)
        con.execute("INSERT INTO audit_event (id, kind, actor, subject_type, subject_id, data, "
                    "recorded_at, prev_hash, hash) VALUES (?, 'k','a','s',?,'{}',?,?,?)",
                    (i, str(i), when.isoformat(sep=" "), prev, h))
        prev = h
    con.commit()
    assert cli("verify", db_url=db_url).returncode == 0
    con.execute("UPDATE audit_event SET actor = 'someone else' WHERE id = 2")
    con.commit()
    con.close()
    out = cli("verify", db_url=db_url)
    assert out.returncode == 1
    assert "audit_event: row id 2 does not fit: content does not match its hash" in out.stdout


def test_migrate_is_idempotent(db_url: str) -> None:
    out = cli("migrate", db_url=db_url)
    assert out.returncode == 0, out.stderr
    assert "migrations applied" in out.stdout
