"""Exactly once under provider faults: three worker processes on PostgreSQL send a few hundred
check-ins by SMS through a fake Aliyun that answers with a seeded schedule of faults (5xx,
stalls past the timeout, connections closed mid-response, answers after the timeout, receipts
twice) while one worker is SIGKILLed mid-send. Per recipient at the fake: nothing lost, nothing
doubled, and the database agrees with the fake. ``python bench/chaos.py`` runs it longer and
with many seeds; ``SURVEYBOT_CHAOS_SEED`` replays one.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.chaos import drill
from tests.conftest import BACKEND

pytestmark = pytest.mark.skipif(BACKEND != "postgres",
                                reason="several worker processes share PostgreSQL")


async def test_nothing_lost_nothing_doubled_under_provider_faults_and_a_sigkill(
        db_url: str, tmp_path: Path, orm: None) -> None:
    seed = int(os.environ.get("SURVEYBOT_CHAOS_SEED") or random.randrange(1, 10**6))
    outcome = await drill(db_url, tmp_path, seed, n=200, workers=3)
    print(outcome.line())
    assert outcome.ok, f"replay with SURVEYBOT_CHAOS_SEED={seed}: {outcome.line()}"
    assert outcome.accepted == outcome.checkins
    # The drill did what it says: faults of every kind were drawn and a worker was killed.
    assert outcome.killed_at > 0 and outcome.faults.get("5xx") and outcome.faults.get("stall")


async def test_nothing_lost_nothing_doubled_with_batches_under_provider_faults_and_a_sigkill(
        db_url: str, tmp_path: Path, orm: None) -> None:
    """The same with ``[sms] batch_size`` on: every fault hits a whole SendBatchSms call, each
    of its numbers settled by itself; per recipient still exactly one SMS."""
    seed = int(os.environ.get("SURVEYBOT_CHAOS_SEED") or random.randrange(1, 10**6))
    outcome = await drill(db_url, tmp_path, seed, n=200, workers=3, batch_size=20)
    print(outcome.line())
    assert outcome.ok, f"replay with SURVEYBOT_CHAOS_SEED={seed}: {outcome.line()}"
    assert outcome.accepted == outcome.checkins
    assert outcome.killed_at > 0 and outcome.faults.get("5xx") and outcome.faults.get("stall")
    assert outcome.batched > outcome.checkins // 2  # most went in SendBatchSms calls
