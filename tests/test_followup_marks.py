"""What the follow-up rollups cost the rest of the product, and folds that others write during.

The database marks an episode for the next fold (``followup_dirty``) only when something the
follow-up counts read changes: sending a check-in (lease, open, message sent) marks it once,
at the open; leases, attempts and expiry times mark nothing. On PostgreSQL one UPDATE of many
check-ins marks them all in one statement trigger, and the page still counts exactly. A fold
claims only the marks it folds: check-ins changed while a fold is under way (committed in the
middle of it, or still uncommitted when it ends) stay marked, and the next read counts them.
"""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tortoise import connections

from bot.analytics import followup_rollup, operations
from bot.analytics.tallies import Scope
from bot.clock import FrozenClock
from bot.config import TalliesConfig
from bot.keys import RUNTIME
from bot.runtime import Runtime
from models import CheckIn
from tests.conftest import BACKEND, make_settings
from tests.loop_helpers import import_visits
from tests.test_followup_counts import NOW, figures, reference, rows, seed
from tests.test_followup_rollup import _drain, _visit

TZ = ZoneInfo("Asia/Shanghai")


async def _marks() -> list[int]:
    conn: Any = connections.get("default")
    _, r = await conn.execute_query("SELECT episode_id FROM followup_dirty")
    return sorted(int(x[0]) for x in r)


async def _exact(by: str = "clinician", period: str = "week") -> None:
    """The figures read now (after the fold the read does) equal counting every row."""
    got = figures(await operations.operations(TalliesConfig(min_answers=1), TZ, NOW, by=by,
                                              period=period, scope=Scope()))
    want = reference(await rows(), TZ, by, period, Scope())
    assert got == {k: v for k, v in want.items() if any(v.values())}


async def test_sending_marks_each_checkin_once_and_bookkeeping_marks_nothing(
        db_url: str, clock: FrozenClock, client_factory: Any) -> None:
    settings = make_settings(db_url)
    client = await client_factory(settings, clock, run_loops=False)
    rt: Runtime = client.server.app[RUNTIME]
    rnd = random.Random(7)
    await import_visits(client, *(_visit(n, rnd, clock.now() - timedelta(hours=30))
                                  for n in range(12)))
    assert await _marks()  # new check-ins: their episodes are due now
    await followup_rollup.fold(TZ)
    assert await _marks() == []
    planned = await CheckIn.filter(status="planned").count()
    assert planned > 0
    # the planner leases and opens them, the outbox sends their messages
    clock.advance(timedelta(days=2))
    await _drain(rt)
    opened = await CheckIn.filter(status__in=["opened", "answered", "expired"]).values_list(
        "episode_id", flat=True)
    assert opened
    # the open marks (it changes status, channel and opened_at), at most once per check-in;
    # leasing it and sending its message add none
    marks = await _marks()
    assert set(marks) == set(opened) and len(marks) <= len(opened)
    await followup_rollup.fold(TZ)
    # bookkeeping the counts do not read: leases, attempts, expiry, answer time, contact and
    # episode columns outside the counts
    conn: Any = connections.get("default")
    for sql in (
            "UPDATE checkin SET lease_owner = 'w1', lease_until = expires_at, "
            "attempts = attempts + 1, last_attempt_at = expires_at, importance = 2",
            "UPDATE checkin SET expires_at = NULL, answered_at = NULL",
            "UPDATE contact SET last_inbound_channel = 'sms', name = name || '.'",
            "UPDATE episode SET kind = kind, external_id = external_id || '.'"):
        await conn.execute_query(sql)
        assert await _marks() == [], sql
    # a counted column does mark
    await conn.execute_query("UPDATE checkin SET window_end_at = due_at WHERE status = 'opened'")
    assert await _marks()
    await _exact()


async def test_one_update_of_many_checkins_moves_the_counts(orm: None) -> None:
    """A bulk UPDATE of hundreds of check-ins in one statement (on PostgreSQL one statement
    trigger marks them all): the next read counts every change."""
    await seed(random.Random(11))
    await followup_rollup.fold(TZ)
    await _exact()
    conn: Any = connections.get("default")
    _, r = await conn.execute_query(
        "SELECT COUNT(*), COUNT(DISTINCT episode_id) FROM checkin "
        "WHERE status IN ('planned', 'opened')")
    n, episodes = int(r[0][0]), int(r[0][1])
    assert n >= 20
    await conn.execute_query("UPDATE checkin SET status = 'expired', lost_reason = 'refused' "
                             "WHERE status IN ('planned', 'opened')")
    assert len(set(await _marks())) == episodes
    await conn.execute_query("UPDATE checkin SET status = 'answered' WHERE id % 3 = 0")
    await conn.execute_query("UPDATE contact SET opted_out_at = NULL, stopped_reason = NULL")
    for by in ("department", "clinician", "treatment", "channel"):
        await _exact(by, "month")
    assert await _marks() == []


@pytest.mark.skipif(BACKEND != "postgres",
                    reason="SQLite writes one transaction at a time: nothing commits during "
                           "a fold there")
async def test_marks_made_while_a_fold_runs_stay_for_the_next(orm: None, db_url: str) -> None:
    import asyncpg

    await seed(random.Random(13))
    await followup_rollup.fold(TZ)
    conn: Any = connections.get("default")
    # a change for the fold to fold: answered check-ins move cells that exist
    await conn.execute_query("UPDATE checkin SET status = 'answered' "
                             "WHERE status IN ('opened', 'expired') AND id % 2 = 0")
    folding = set(await _marks())
    assert folding
    locker = await asyncpg.connect(db_url)
    writer = await asyncpg.connect(db_url)
    late = await asyncpg.connect(db_url)
    try:
        # hold every department-day cell so that the fold stops in the middle: after it
        # claimed its marks and counted the raw rows, at its first upsert
        lock = locker.transaction()
        await lock.start()
        await locker.execute("SELECT 1 FROM followup_department_day FOR UPDATE")
        task = asyncio.create_task(followup_rollup.fold(TZ))
        for _ in range(200):
            waiting = await writer.fetchval(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND query LIKE 'INSERT INTO followup_department_day%'")
            if waiting:
                break
            await asyncio.sleep(0.05)
        assert waiting, "the fold did not reach its upserts"
        # meanwhile: one change committed while the fold runs, one still open when it ends
        _, r = await conn.execute_query(
            "SELECT id, episode_id FROM checkin WHERE status = 'expired' ORDER BY id LIMIT 2")
        (c1, e1), (c2, e2) = r[0], r[1]
        await writer.execute("UPDATE checkin SET status = 'skipped', lost_reason = 'fatigue' "
                             "WHERE id = $1", c1)
        tx = late.transaction()
        await tx.start()
        await late.execute("UPDATE checkin SET status = 'cancelled' WHERE id = $1", c2)
        await lock.rollback()
        assert await task == len(folding)
        await tx.commit()
        # both changes are still marked (the fold claimed only what it folded)
        assert {e1, e2} <= set(await _marks())
    finally:
        for c in (locker, writer, late):
            await c.close()
    # and the next read counts them: exact, and the rollups equal a recount
    for by in ("department", "clinician", "channel"):
        await _exact(by, "month")
    assert await _marks() == []
    kept = await _tables()
    await followup_rollup.rebuild(TZ)
    assert await _tables() == kept


async def _tables() -> dict[str, list[tuple[Any, ...]]]:
    conn: Any = connections.get("default")
    out = {}
    for table in followup_rollup.GRAINS:
        _, r = await conn.execute_query(f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5, 6")
        out[table] = [tuple(x) for x in r]
    return out
