"""Clinician ids: chained on the answer when set (older rows verify as before), and the head of
the chain at a moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise import connections

from bot import ledger
from models import Answer


def _answer(i: int, **extra: object) -> dict[str, object]:
    return {"checkin_id": None, "conversation_id": i, "episode_id": None, "department_id": 1,
            "channel": "h5", "survey_id": "general", "question_id": "overall", "score": 4,
            "text": "", "message_id": None, "clinician": "张伟", "treatment_type": "",
            "local_day": "2026-10-06",
            "recorded_at": datetime(2026, 10, 6, 2, tzinfo=UTC) + timedelta(minutes=i),
            **extra}


async def test_clinician_id_is_chained_when_set(orm: None) -> None:
    old = await ledger.append(Answer, **_answer(1))  # written as before the field existed
    assert old.clinician_code is None
    assert old.hash == ledger.row_hash(old.prev_hash, {
        f: getattr(old, f) for f in Answer.CHAIN_FIELDS if f != "clinician_code"})
    await ledger.append(Answer, **_answer(2, clinician_code="D001"))
    third = await ledger.append(Answer, **_answer(3, clinician_code=""))
    assert (await ledger.verify(Answer)).ok
    # moving an answer to another namesake is caught
    conn = connections.get("default")
    pg = conn.capabilities.dialect == "postgres"
    await conn.execute_query(
        f"UPDATE answer SET clinician_code = {'$1' if pg else '?'} WHERE id = "
        f"{'$2' if pg else '?'}", ["D002", third.id - 1])
    report = await ledger.verify(Answer)
    assert not report.ok and report.first_bad_id == third.id - 1


async def test_head_hash_at_a_moment(orm: None) -> None:
    assert await ledger.head_hash(Answer) == ledger.GENESIS
    a = await ledger.append(Answer, **_answer(1))
    b = await ledger.append(Answer, **_answer(2))
    assert await ledger.head_hash(Answer) == b.hash
    assert await ledger.head_hash(Answer, b.recorded_at) == a.hash
    assert await ledger.head_hash(Answer, a.recorded_at) == ledger.GENESIS
