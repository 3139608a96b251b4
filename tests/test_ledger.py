"""Hash-chained records: appends link up, tampering is found and named."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tortoise import connections

from bot import ledger
from bot.clock import FrozenClock
from models import Answer, AuditEvent


async def add_answer(clock: FrozenClock, score: int, text: str = "") -> Answer:
    clock.advance(timedelta(seconds=1))
    return await ledger.append(
        Answer, checkin_id=1, conversation_id=1, episode_id=1, department_id=1,
        channel="simulator", survey_id="general", question_id="overall", score=score,
        text=text, message_id=None, recorded_at=clock.now(),
    )


async def test_chain_links_rows_and_verifies(orm: None, clock: FrozenClock) -> None:
    a = await add_answer(clock, 5)
    b = await add_answer(clock, 2, "护士态度不好")
    assert a.prev_hash == ledger.GENESIS
    assert b.prev_hash == a.hash
    report = await ledger.verify(Answer)
    assert report.ok and report.rows == 2


async def test_edited_row_is_named(orm: None, clock: FrozenClock) -> None:
    for s in (5, 4, 3):
        await add_answer(clock, s)
    second = (await Answer.all().order_by("id"))[1]
    # Tamper behind the application's back, as someone with database access could.
    await connections.get("default").execute_query(
        f"UPDATE answer SET score = 5 WHERE id = {second.id}"
    )
    report = await ledger.verify(Answer)
    assert report.first_bad_id == second.id
    assert "edited" in report.problem


async def test_deleted_row_is_named(orm: None, clock: FrozenClock) -> None:
    rows = [await add_answer(clock, s) for s in (5, 4, 3)]
    await connections.get("default").execute_query(f"DELETE FROM answer WHERE id = {rows[1].id}")
    report = await ledger.verify(Answer)
    assert report.first_bad_id == rows[2].id
    assert "removed" in report.problem


async def test_concurrent_appends_keep_one_chain(orm: None, clock: FrozenClock) -> None:
    async def audit(i: int) -> None:
        await ledger.append(AuditEvent, kind="test", actor="t", subject_type="x",
                            subject_id=str(i), data={"i": i, "名": "张"},
                            recorded_at=clock.now())

    await asyncio.gather(*(audit(i) for i in range(40)))
    report = await ledger.verify(AuditEvent)
    assert report.ok and report.rows == 40
    hashes = await AuditEvent.all().values_list("prev_hash", flat=True)
    assert len(set(hashes)) == 40  # no two rows claim the same predecessor: no fork
