"""Wake-ups between processes on PostgreSQL: work stored by one process reaches a worker
process at once (NOTIFY), not after its poll interval; a burst of wakes is one notice."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from tortoise import connections

from bot import importer
from bot.clock import SystemClock
from bot.runtime import Runtime
from bot.wakeups import CHANNEL, Wakeups
from models import Message, MessageStatus
from tests.conftest import BACKEND, make_settings
from tests.test_workers import start_worker, stop, worker_config

pytestmark = pytest.mark.skipif(BACKEND != "postgres", reason="LISTEN/NOTIFY is PostgreSQL's")


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _listening_backends() -> int:
    # the wakeups connection's last statement is its LISTEN or a pg_notify
    _, rows = await connections.get("default").execute_query(
        "SELECT count(*) AS n FROM pg_stat_activity "
        "WHERE query ILIKE 'LISTEN%' OR query ILIKE '%pg_notify%'")
    return int(rows[0]["n"])


async def test_work_stored_elsewhere_wakes_a_sleeping_worker_at_once(
        db_url: str, tmp_path: Path, orm: None) -> None:
    cfg = worker_config(tmp_path, db_url)
    # Polling once a minute: only a notification can explain a send within seconds.
    cfg.write_text(cfg.read_text().replace("poll_interval_seconds = 0.1",
                                           "poll_interval_seconds = 60"), encoding="utf-8")
    proc = start_worker(cfg)
    rt = Runtime(settings=make_settings(db_url, send_window={
        "quiet_start": "00:00", "quiet_end": "00:00"}), clock=SystemClock(), channels={})
    wakeups = Wakeups(rt)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while await _listening_backends() < 1:
            assert proc.poll() is None, "the worker exited"
            assert loop.time() < deadline, "the worker never listened"
            await asyncio.sleep(0.1)
        # Its loops have run their first (empty) turn once its CPU use settles to idle.
        last = -1.0
        while (now := _cpu(proc.pid)) - last > 0.02:
            assert loop.time() < deadline, "the worker never settled"
            last = now
            await asyncio.sleep(0.5)
        assert await wakeups.start()
        when = rt.local(rt.now() - timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
        # The import wakes the planner: here, and by NOTIFY in the worker process.
        await importer.import_rows(rt, [(1, {
            "external_id": "N1", "person_name": "张三", "contact_phone": "13900000001",
            "occurred_at": when, "department": "dental"})], "his")
        started = loop.time()
        while not await Message.filter(direction="out", status=MessageStatus.DELIVERED).exists():
            assert loop.time() - started < 20, "the worker waited for its poll"
            await asyncio.sleep(0.1)
    finally:
        await wakeups.close()
        stop([proc])


async def test_a_burst_of_wakes_is_one_notice_and_local_wakes_none(
        db_url: str, orm: None) -> None:
    rt = Runtime(settings=make_settings(db_url), clock=SystemClock(), channels={})
    client: Any = connections.get("default")
    heard: list[str] = []
    listener = await asyncpg.connect(host=client.host, port=client.port, user=client.user,
                                     database=client.database)
    await listener.add_listener(CHANNEL, lambda *a: heard.append(a[3]))
    wakeups = Wakeups(rt)
    try:
        assert await wakeups.start()
        for _ in range(5):
            rt.outbox_waker.wake()
        rt.inbox_waker.wake()
        rt.planner_waker.wake_local()  # announced by someone else: not echoed
        loop = asyncio.get_running_loop()
        await asyncio.sleep(1)  # notices arrive within milliseconds; any extra would too
        assert sorted(heard) == ["inbox", "outbox"]
        # what another process announces wakes this one's loop, without an echo
        await listener.execute("SELECT pg_notify($1, 'staff')", CHANNEL)
        started = loop.time()
        await rt.staff_waker.wait(5)  # returns when woken, or after 5 s
        assert loop.time() - started < 4
        await asyncio.sleep(0.3)
        assert sorted(heard) == ["inbox", "outbox", "staff"]
    finally:
        await wakeups.close()
        await listener.close()
