"""Several worker processes share one PostgreSQL database: every check-in exactly once,
and a worker killed with SIGKILL between lease and send loses and doubles nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot import importer
from bot.clock import SystemClock
from bot.runtime import Runtime
from models import AuditEvent, CheckIn, CheckinStatus, Conversation, Message, MessageStatus
from tests.conftest import BACKEND, make_settings

pytestmark = pytest.mark.skipif(BACKEND != "postgres",
                                reason="several processes share PostgreSQL (SQLite: one)")
ROOT = Path(__file__).resolve().parent.parent
N = 60


def worker_config(tmp_path: Path, db_url: str, latency_ms: int = 0, lease: int = 5,
                  batch: int = 10) -> Path:
    cfg = tmp_path / f"worker-{latency_ms}.toml"
    cfg.write_text(
        f'[database]\nurl = "{db_url}"\n'
        f"[worker]\npoll_interval_seconds = 0.1\nlease_seconds = {lease}\nbatch_size = {batch}\n"
        f"[simulator]\nenabled = true\nlatency_ms = {latency_ms}\n"
        # Real time here: never let the time of day (quiet hours) decide the test.
        '[send_window]\nquiet_start = "00:00"\nquiet_end = "00:00"\n'
        "[checkin]\nfatigue_days = 0\n",
        encoding="utf-8",
    )
    return cfg


def start_worker(cfg: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYBOT_")}
    # Logs go to a file: an unread pipe would fill up and block the worker.
    log = (cfg.parent / f"{cfg.stem}-{len(list(cfg.parent.glob('*.log')))}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(cfg), "serve", "--role", "worker"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )


async def seed(db_url: str) -> None:
    settings = make_settings(db_url, send_window={"quiet_start": "00:00", "quiet_end": "00:00"})
    rt = Runtime(settings=settings, clock=SystemClock(), channels={})
    when = rt.local(rt.now() - timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    rows = [(i, {"external_id": f"W{i}", "person_name": f"病人{i}",
                 "contact_phone": f"139{i:08d}", "occurred_at": when, "department": "dental"})
            for i in range(N)]
    result = await importer.import_rows(rt, rows, "his")
    assert result.created == N and result.checkins_planned == N


async def wait_all_delivered(timeout: float = 60) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        opened = await CheckIn.filter(status=CheckinStatus.OPENED).count()
        delivered = await Message.filter(direction="out", status=MessageStatus.DELIVERED).count()
        if opened == N and delivered >= N:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"not done in {timeout}s: {opened} opened, {delivered} delivered")


async def assert_exactly_once() -> None:
    assert await CheckIn.filter(status=CheckinStatus.OPENED).count() == N
    assert await Conversation.all().count() == N
    rows = await Message.filter(direction="out").values_list("dedupe_key", "status")
    assert len(rows) == N
    assert {k for k, _ in rows} == {f"checkin:{c}:open:0"
                                    for c in await CheckIn.all().values_list("id", flat=True)}
    assert {s for _, s in rows} == {MessageStatus.DELIVERED}


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


async def test_three_workers_send_every_checkin_exactly_once(db_url: str, tmp_path: Path,
                                                             orm: None) -> None:
    # Small batches: one worker opens a batch in milliseconds and would otherwise take
    # them all before the others' next poll (0.1 s), leaving nothing to share.
    cfg = worker_config(tmp_path, db_url, latency_ms=5, batch=2)
    procs = [start_worker(cfg) for _ in range(3)]
    try:
        # All three are up and polling before the work arrives, so they compete for it.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while sum("worker running" in p.read_text()
                  for p in tmp_path.glob("*.log")) < 3:  # noqa: ASYNC240
            assert loop.time() < deadline, "workers did not start"
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)
        await seed(db_url)
        await wait_all_delivered()
    finally:
        stop(procs)
    await assert_exactly_once()
    workers = {e["data"]["worker"] for e in
               await AuditEvent.filter(kind="checkins_opened").values("data")}
    assert len(workers) >= 2, "the work was not shared"


async def test_sigkilled_worker_loses_and_doubles_nothing(db_url: str, tmp_path: Path,
                                                          orm: None) -> None:
    await seed(db_url)
    slow = start_worker(worker_config(tmp_path, db_url, latency_ms=2000, lease=5))
    try:
        # Wait until the slow worker holds leases on messages it has not sent yet.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while loop.time() < deadline:
            if await Message.filter(direction="out", status=MessageStatus.QUEUED,
                                    lease_owner__isnull=False).exists():
                break
            await asyncio.sleep(0.05)
        else:
            logs = "\n".join(p.read_text() for p in tmp_path.glob("*.log"))  # noqa: ASYNC240  # noqa: ASYNC240
            raise AssertionError(f"the slow worker never leased a message:\n{logs[-3000:]}")
        slow.send_signal(signal.SIGKILL)
        slow.wait(timeout=10)
    finally:
        if slow.poll() is None:
            slow.kill()
    stranded = await Message.filter(direction="out", status=MessageStatus.QUEUED,
                                    lease_owner__isnull=False).count()
    assert stranded >= 1
    procs = [start_worker(worker_config(tmp_path, db_url, latency_ms=0, lease=5))
             for _ in range(2)]
    try:
        await wait_all_delivered()
    finally:
        stop(procs)
    await assert_exactly_once()
