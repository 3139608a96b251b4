"""Tamper evidence that survives a re-hash: keyed chain links and anchored checkpoints.

The attacker in these tests has the code and write access to the database, but not the
application's environment (where the chain key lives): they edit a score and re-hash every
later row the way ``bot.ledger`` would without a key. ``survey-bot verify`` runs as a real
process against the same database.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise import connections

from bot import ledger
from bot.clock import FrozenClock
from models import Answer, AuditEvent

ROOT = Path(__file__).resolve().parent.parent
KEY = "k" * 16 + "0123456789abcdef0123"
NEW_KEY = "n" * 16 + "fedcba9876543210fedc"


@pytest.fixture(autouse=True)
def _unkeyed_after() -> Iterator[None]:
    """The chain keys are process-wide: leave none behind for other tests."""
    yield
    ledger.configure()


def verify_cli(db_url: str, *args: str, key: str = "", previous: str = "") -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYBOT_")}
    env["SURVEYBOT_DATABASE__URL"] = db_url
    if key:
        env["SURVEYBOT_LEDGER__CHAIN_KEY"] = key
    if previous:
        env["SURVEYBOT_LEDGER__PREVIOUS_CHAIN_KEYS"] = previous
    return subprocess.run([sys.executable, "-m", "bot.cli", "verify", *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120,
                          check=False)


async def answers(clock: FrozenClock, scores: list[int]) -> list[Answer]:
    out = []
    for s in scores:
        clock.advance(timedelta(seconds=1))
        out.append(await ledger.append(
            Answer, checkin_id=1, conversation_id=1, episode_id=1, department_id=1,
            channel="sms", survey_id="general", question_id="overall", score=s, text="",
            message_id=None, recorded_at=clock.now(), clinician="王医生",
            treatment_type="拔牙", local_day="2026-11-16"))
    return out


async def rehash_from(first_id: int, key: bytes | None = None,
                      until: int | None = None) -> None:
    """What someone with database access does after editing a row: recompute every link
    from there on (without the chain key, or with a guessed one); with ``until``, only the
    rows before that id, and that row's ``prev_hash`` (its own link needs the key)."""
    fields = ["id", "prev_hash", "hash", *Answer.CHAIN_FIELDS]
    rows = await Answer.all().order_by("id").values(*fields)
    prev = ledger.GENESIS
    conn = connections.get("default")
    pg = conn.capabilities.dialect == "postgres"
    mark = ("$1", "$2", "$3") if pg else ("?", "?", "?")
    for row in rows:
        if row["id"] < first_id:
            prev = row["hash"]
            continue
        if until is not None and row["id"] >= until:
            await conn.execute_query(f"UPDATE answer SET prev_hash = {mark[0]} "
                                     f"WHERE id = {mark[1]}", [prev, row["id"]])
            return
        h = ledger.row_hash(prev, ledger.chain_content(Answer, row), key)
        await conn.execute_query(f"UPDATE answer SET prev_hash = {mark[0]}, hash = {mark[1]} "
                                 f"WHERE id = {mark[2]}", [prev, h, row["id"]])
        prev = h


async def edit_score(answer_id: int, score: int) -> None:
    await connections.get("default").execute_query(
        f"UPDATE answer SET score = {score} WHERE id = {answer_id}")


async def test_a_rehashed_edit_is_caught_with_a_chain_key(orm: None, clock: FrozenClock,
                                                          db_url: str) -> None:
    ledger.configure(KEY)
    rows = await answers(clock, [5, 2, 4, 1, 3])
    assert verify_cli(db_url, key=KEY).returncode == 0
    await edit_score(rows[1].id, 5)
    await rehash_from(rows[1].id)  # plain SHA-256, as the unkeyed chain was
    out = verify_cli(db_url, key=KEY)
    assert out.returncode == 1, out.stdout
    assert f"answer: row id {rows[1].id} does not fit" in out.stdout
    # With a guessed key the links do not match either.
    await rehash_from(rows[1].id, b"guessed-guessed-guessed-guessed-!")
    out = verify_cli(db_url, key=KEY)
    assert out.returncode == 1 and f"row id {rows[1].id} does not fit: content" in out.stdout


async def test_without_a_key_a_rehash_passes_which_is_why_the_key_exists(
        orm: None, clock: FrozenClock, db_url: str) -> None:
    rows = await answers(clock, [5, 2, 4])
    await edit_score(rows[0].id, 1)
    await rehash_from(rows[0].id)
    out = verify_cli(db_url)
    assert out.returncode == 0 and "no chain key is set" in out.stdout


async def test_old_unkeyed_rows_verify_and_are_sealed_by_the_first_keyed_row(
        orm: None, clock: FrozenClock, db_url: str) -> None:
    old = await answers(clock, [5, 4, 3])  # written before the key was set
    ledger.configure(KEY)
    new = await answers(clock, [2, 1])
    out = verify_cli(db_url, key=KEY)
    assert out.returncode == 0, out.stdout
    assert "5 rows, chain intact" in out.stdout
    assert f"3 rows up to id {old[-1].id} are linked without a key" in out.stdout
    # Editing an old row and re-hashing the old rows breaks the first keyed row's link.
    await edit_score(old[0].id, 1)
    await rehash_from(old[0].id, until=new[0].id)
    out = verify_cli(db_url, key=KEY)
    assert out.returncode == 1
    assert f"answer: row id {new[0].id} does not fit: content does not match" in out.stdout
    # Re-linking every row without a key makes an all-unkeyed chain: links alone accept it
    # (verify warns), an anchor does not (test_anchor_catches_a_whole_chain_rewrite...).
    await rehash_from(old[0].id)
    out = verify_cli(db_url, key=KEY)
    assert out.returncode == 0 and f"5 rows up to id {new[-1].id}" in out.stdout


async def test_anchor_catches_a_whole_chain_rewrite_and_a_cut(orm: None, clock: FrozenClock,
                                                              db_url: str,
                                                              tmp_path: Path) -> None:
    ledger.configure(KEY)
    rows = await answers(clock, [5, 4, 3, 2])
    anchors = tmp_path / "anchors.jsonl"
    out = verify_cli(db_url, "--anchor", str(anchors), key=KEY)
    assert out.returncode == 0, out.stdout
    assert f"signed with key {ledger.KeyRing.fingerprint(KEY.encode())}" in out.stdout
    line = json.loads(anchors.read_text().splitlines()[0])
    assert line["chains"]["answer"] == {"id": rows[-1].id, "hash": rows[-1].hash, "rows": 4}
    # A second run checks the first checkpoint and appends another.
    out = verify_cli(db_url, "--anchor", str(anchors), key=KEY)
    assert out.returncode == 0 and "1 checkpoints" in out.stdout
    assert len(anchors.read_text().splitlines()) == 2

    # The whole chain rewritten in the old, unkeyed form: links alone accept it ...
    await edit_score(rows[0].id, 1)
    await rehash_from(rows[0].id)
    plain = verify_cli(db_url, key=KEY)
    assert plain.returncode == 0 and "linked without a key" in plain.stdout
    # ... the anchored head does not.
    out = verify_cli(db_url, "--anchor", str(anchors), key=KEY)
    assert out.returncode == 1
    assert f"answer row id {rows[-1].id} no longer has its anchored hash" in out.stdout
    assert len(anchors.read_text().splitlines()) == 2  # nothing appended over a failure


async def test_anchor_catches_rows_cut_from_the_end(orm: None, clock: FrozenClock,
                                                   db_url: str, tmp_path: Path) -> None:
    ledger.configure(KEY)
    rows = await answers(clock, [5, 4, 3])
    anchors = tmp_path / "anchors.jsonl"
    assert verify_cli(db_url, "--anchor", str(anchors), key=KEY).returncode == 0
    await connections.get("default").execute_query(f"DELETE FROM answer WHERE id = {rows[-1].id}")
    assert verify_cli(db_url, key=KEY).returncode == 0  # a shorter chain still links up
    out = verify_cli(db_url, "--anchor", str(anchors), key=KEY)
    assert out.returncode == 1 and "was anchored and is gone" in out.stdout


async def test_an_edited_checkpoint_is_refused(orm: None, clock: FrozenClock, db_url: str,
                                               tmp_path: Path) -> None:
    ledger.configure(KEY)
    await answers(clock, [5, 4])
    anchors = tmp_path / "anchors.jsonl"
    assert verify_cli(db_url, "--anchor", str(anchors), key=KEY).returncode == 0
    cp = json.loads(anchors.read_text())
    cp["chains"]["answer"]["rows"] = 1
    anchors.write_text(json.dumps(cp) + "\n")
    out = verify_cli(db_url, "--anchor", str(anchors), key=KEY)
    assert out.returncode == 1 and "checkpoint signature does not match" in out.stdout


async def test_rotation_old_rows_verify_with_the_retired_key(orm: None, clock: FrozenClock,
                                                            db_url: str) -> None:
    ledger.configure(KEY)
    await answers(clock, [5, 4])
    ledger.configure(NEW_KEY, [KEY])
    await answers(clock, [3])
    out = verify_cli(db_url, key=NEW_KEY, previous=KEY)
    assert out.returncode == 0, out.stdout
    assert "3 rows, chain intact" in out.stdout
    # Without the retired key the rows it signed cannot be checked: verify says so.
    out = verify_cli(db_url, key=NEW_KEY)
    assert out.returncode == 1 and "does not fit" in out.stdout
    # A row signed with the retired key after the new one is refused (a leaked old key
    # cannot be used to add rows).
    ledger.configure(KEY)
    late = await answers(clock, [1])
    report = await ledger.verify(Answer, ring=ledger.KeyRing(NEW_KEY.encode(),
                                                             (KEY.encode(),)))
    assert report.first_bad_id == late[0].id and "retired key" in report.problem


async def test_audit_events_are_keyed_too(orm: None, clock: FrozenClock) -> None:
    ledger.configure(KEY)
    ev = await ledger.append(AuditEvent, kind="t", actor="a", subject_type="s", subject_id="1",
                             data={"x": 1}, recorded_at=clock.now())
    content = {f: getattr(ev, f) for f in AuditEvent.CHAIN_FIELDS}
    assert ev.hash == ledger.row_hash(ledger.GENESIS, content, KEY.encode())
    assert ev.hash != ledger.row_hash(ledger.GENESIS, content)
    report = await ledger.verify(AuditEvent)
    assert report.ok and report.by_key == {ledger.KeyRing.fingerprint(KEY.encode()): 1}
