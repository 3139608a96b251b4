"""The chaos drill: worker processes on one PostgreSQL database send check-ins by SMS to a fake
Aliyun that answers with a seeded schedule of faults, while one worker is SIGKILLed mid-send.

Used by tests/test_chaos.py (a size that fits ``make test``) and bench/chaos.py (longer, with
its counts printed). Everything is real but the provider: ``survey-bot serve --role worker``
processes, a ``--role web`` process taking the fake's receipts (some pushed twice), the
database, the signed HTTP requests. Per recipient, at the fake: 0 lost, 0 doubled; and the
database agrees with the fake (each message recorded sent once, with the fake's BizId).
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.fake_aliyun import CALLBACK_TOKEN, TEMPLATES, Chaos, FakeAliyunSms

ROOT = Path(__file__).resolve().parent.parent
HOLD = "chaos-hold"


@dataclass
class Outcome:
    """What one drill found."""

    seed: int
    checkins: int
    accepted: int  # SMS the fake accepted
    lost: int  # recipients who got nothing
    doubled: int  # recipients who got more than one
    disagree: int  # messages whose database record does not match the fake
    faults: dict[str, int] = field(default_factory=dict)
    killed_at: float = 0.0
    seconds: float = 0.0
    requests: int = 0
    batched: int = 0  # SMS accepted in SendBatchSms calls
    receipts: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing doubled, the database agrees."""
        return not (self.lost or self.doubled or self.disagree or self.problems)

    def line(self) -> str:
        """One line of counts."""
        faults = " ".join(f"{k}={v}" for k, v in sorted(self.faults.items()))
        return (f"seed {self.seed}: {self.checkins} check-ins, {self.accepted} accepted, "
                f"lost {self.lost}, doubled {self.doubled}, disagree {self.disagree}; "
                f"{self.requests} send requests ({faults}), {self.batched} SMS in batches, "
                f"{self.receipts} receipts pushed, "
                f"SIGKILL at {self.killed_at:.1f} s, {self.seconds:.1f} s"
                + "".join(f"\n  {p}" for p in self.problems))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(path: Path, db_url: str, fake: str, port: int, batch_size: int = 1) -> Path:
    templates = "\n".join(
        f'{kind} = {{ code = "{t["code"]}", params = {{ '
        + ", ".join(f'{k} = "{v}"' for k, v in t["params"].items()) + " } }"
        for kind, t in TEMPLATES.items())
    path.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\n'
        f'[database]\nurl = "{db_url}"\n'
        # Short leases and timeouts so that a few seconds of faults exercise every path.
        "[worker]\npoll_interval_seconds = 0.1\nlease_seconds = 5\nbatch_size = 50\n"
        "max_send_attempts = 50\nretry_backoff_seconds = 0.2\n"
        '[send_window]\nquiet_start = "00:00"\nquiet_end = "00:00"\n'
        "[checkin]\nfatigue_days = 0\n"
        '[channels]\norder = ["sms"]\n'
        "[simulator]\nenabled = false\n"
        f'[sms]\naccess_key_id = "test-ak"\naccess_key_secret = "test-secret"\n'
        f'endpoint = "{fake}"\nsign_name = "示例医院"\ncallback_token = "{CALLBACK_TOKEN}"\n'
        "timeout_seconds = 0.5\nconnect_timeout_seconds = 0.5\nthreads = 16\n"
        "receipt_wait_seconds = 1.5\nlimit_backoff_seconds = 1\n"
        f"batch_size = {batch_size}\n"
        f"[sms.templates]\n{templates}\n",
        encoding="utf-8")
    return path


def _start(cfg: Path, role: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYBOT_")}
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(cfg), "serve", "--role", role],
        cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


async def _seed(db_url: str, n: int) -> None:
    """``n`` episodes whose check-ins are due now, held until the workers are up."""
    from bot import importer
    from bot.clock import SystemClock
    from bot.config import settings_from_dict
    from bot.runtime import Runtime
    from models import CheckIn

    settings = settings_from_dict({
        "database": {"url": db_url}, "send_window": {"quiet_start": "00:00",
                                                     "quiet_end": "00:00"},
        "checkin": {"fatigue_days": 0}, "simulator": {"enabled": False}})
    rt = Runtime(settings=settings, clock=SystemClock(), channels={})
    when = rt.local(rt.now() - timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    rows = [(i, {"external_id": f"X{i}", "person_name": f"病人{i}",
                 "contact_phone": f"137{i:08d}", "occurred_at": when, "department": "dental"})
            for i in range(n)]
    result = await importer.import_rows(rt, rows, "his")
    assert result.checkins_planned == n, result.as_dict()
    await CheckIn.all().update(lease_owner=HOLD, lease_until=rt.now() + timedelta(days=1))


async def _release(n: int, waves: int) -> None:
    """Let the held check-ins go: at once, or in ``waves`` half a second apart (batched sends
    would otherwise all go in the first few calls, before any storm)."""
    from models import CheckIn

    ids = sorted(await CheckIn.filter(lease_owner=HOLD).values_list("id", flat=True))
    size = -(-len(ids) // waves)
    for i in range(0, len(ids), size):
        if i:
            await asyncio.sleep(0.5)
        await CheckIn.filter(id__in=ids[i:i + size]).update(lease_owner=None, lease_until=None)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


async def drill(db_url: str, tmp: Path, seed: int, n: int = 300, workers: int = 3,
                timeout: float = 240.0, batch_size: int = 1) -> Outcome:
    """Run one drill on the (migrated, empty) database at ``db_url``; the ORM must be open.

    ``batch_size`` > 1: the workers send with SendBatchSms (``[sms] batch_size``), and every
    fault hits a whole call."""
    from models import CheckIn, Message

    rng = random.Random(seed)
    # Storms like the (HTTP 5xx, then stalls past the timeout) at seeded moments,
    # and single faults on every kind of request in between.
    storms: list[tuple[float, float, str]] = []
    at = rng.uniform(0.2, 1.0)
    for _ in range(2):
        span = rng.uniform(0.5, 1.5)
        storms.append((at, span, "5xx"))
        at += span
        span = rng.uniform(1.0, 2.5)
        storms.append((at, span, "stall"))
        at += span + rng.uniform(1.0, 3.0)
    rates = {"5xx": 0.04, "stall": 0.02, "close": 0.03, "late": 0.03, "twice": 0.03}
    if batch_size > 1:
        # Batches make a few calls where single sends make hundreds: the storms come from the
        # start and each call is likelier to meet a fault, so every kind still hits calls.
        first = storms[0][0] - 0.1
        storms = [(start - first, span, f) for start, span, f in storms]
        rates = {k: v * 4 for k, v in rates.items()}
    chaos = Chaos(seed=seed, storms=storms, rates=rates,
                  stall_seconds=rng.uniform(1.0, 2.0), late_seconds=rng.uniform(0.8, 1.6))
    fake = await FakeAliyunSms(latency=0.005, chaos=chaos).start()
    web_port = _free_port()
    cfg = _config(tmp / f"chaos-{seed}.toml", db_url, fake.url, web_port, batch_size)
    fake.report_url = f"http://127.0.0.1:{web_port}/sms/aliyun/report/{CALLBACK_TOKEN}"
    procs: list[subprocess.Popen[bytes]] = []
    out = Outcome(seed=seed, checkins=n, accepted=0, lost=0, doubled=0, disagree=0)
    loop = asyncio.get_running_loop()
    try:
        await _seed(db_url, n)
        logs = [tmp / f"chaos-{seed}-{i}.log" for i in range(workers + 1)]
        procs = [_start(cfg, "web", logs[0])]
        procs += [_start(cfg, "worker", log) for log in logs[1:]]
        deadline = loop.time() + 120
        while sum(b"running" in log.read_bytes() for log in logs) < workers + 1:
            if loop.time() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("processes did not start:\n" + "\n".join(
                    log.read_text(errors="replace")[-1500:] for log in logs))
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        t0 = loop.time()
        chaos.arm()
        release = asyncio.create_task(_release(n, 8 if batch_size > 1 else 1))
        # One worker is killed while it is sending, and started again a moment later.
        kill_at = rng.uniform(0.5, 4.0)
        victim = procs[1 + rng.randrange(workers)]
        await asyncio.sleep(kill_at)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        out.killed_at = loop.time() - t0
        await asyncio.sleep(rng.uniform(0.2, 1.0))
        procs.append(_start(cfg, "worker", tmp / f"chaos-{seed}-restarted.log"))
        await release
        # Until every message is settled, then a little longer: a double send would show.
        while loop.time() - t0 < timeout:
            opened = await CheckIn.filter(status="opened").count()
            settled = await Message.filter(direction="out",
                                           status__in=["sent", "delivered"]).count()
            failed = await Message.filter(direction="out", status="failed").count()
            if failed:
                out.problems.append(f"{failed} messages failed")
                break
            if opened == n and settled >= n:
                break
            await asyncio.sleep(0.25)
        else:
            out.problems.append(f"not settled in {timeout:.0f} s: {opened} opened, "
                                f"{settled} sent")
        out.seconds = loop.time() - t0
        await asyncio.sleep(max(chaos.late_seconds, chaos.stall_seconds) + 0.5)
    finally:
        _stop(procs)
        await fake.close()
    per_phone = Counter(s.phone for s in fake.sent)
    for phone, count in per_phone.items():
        if count > 1 and len(out.problems) < 8:
            sends = [s for s in fake.sent if s.phone == phone]
            out.problems.append("doubled " + " / ".join(
                f"OutId {s.out_id} signed {s.stamp} taken "
                f"{time.strftime('%H:%M:%S', time.gmtime(s.accepted))}"
                f".{int(s.accepted * 1000) % 1000:03d}" for s in sends))
    phones = {f"137{i:08d}" for i in range(n)}
    out.accepted = len(fake.sent)
    out.lost = len(phones - set(per_phone))
    out.doubled = sum(1 for c in per_phone.values() if c > 1)
    out.faults = dict(chaos.drawn)
    out.requests = sum(chaos.drawn.values())
    out.receipts = fake.pushes
    out.batched = sum(1 for s in fake.sent if s.action == "SendBatchSms")
    # A message is matched at the fake by (OutId, number): its own id as OutId by itself,
    # its call's OutId (recorded on the row) in a SendBatchSms.
    by_out_id = {(s.out_id, s.phone): s for s in fake.sent}
    rows = await Message.filter(direction="out").values("id", "status", "provider_msg_id",
                                                        "error", "out_id", "contact__phone")
    if len(rows) != n:
        out.problems.append(f"{len(rows)} outbound messages for {n} check-ins")
    for r in rows:
        phone = r["contact__phone"]
        sms = by_out_id.get((str(r["id"]), phone)) or by_out_id.get((r["out_id"], phone))
        # Settled by QuerySendDetails (whose rows carry no BizId): recorded by our OutId.
        if (sms is None or r["status"] not in ("sent", "delivered")
                or r["provider_msg_id"] not in (sms.biz_id, f"out:{r['id']}")):
            out.disagree += 1
            if len(out.problems) < 5:
                out.problems.append(f"message {r['id']}: {r['status']} "
                                    f"{r['provider_msg_id']!r}, fake: "
                                    f"{sms.biz_id if sms else None!r}")
    return out


def run_with_cluster(seeds: list[int], n: int, workers: int = 3,
                     batch_size: int = 1) -> list[Outcome]:
    """Each seed on a fresh database of a throwaway cluster (bench/chaos.py)."""
    import tempfile

    from bot import db
    from tests import pgcluster

    cluster = pgcluster.start()
    outcomes = []
    try:
        cluster.psql("CREATE DATABASE chaos_template")
        asyncio.run(_migrate(cluster.url("chaos_template")))
        for seed in seeds:
            name = f"chaos_{seed}_{os.getpid()}"
            cluster.psql(f"CREATE DATABASE {name} TEMPLATE chaos_template")
            url = cluster.url(name)

            async def one(url: str = url, seed: int = seed) -> Outcome:
                await db.init_db(url)
                tmp = Path(tempfile.mkdtemp(prefix=f"chaos-{seed}-"))
                try:
                    outcome = await drill(url, tmp, seed, n, workers,
                                          batch_size=batch_size)
                finally:
                    await db.close_db()
                if outcome.ok:
                    shutil.rmtree(tmp, ignore_errors=True)
                else:
                    outcome.problems.append(f"the processes' logs are in {tmp}")
                return outcome

            started = time.monotonic()
            outcome = asyncio.run(one())
            outcome.seconds = outcome.seconds or time.monotonic() - started
            outcomes.append(outcome)
            print(outcome.line(), flush=True)
            cluster.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        cluster.stop()
    return outcomes


async def _migrate(url: str) -> None:
    from bot import db

    await db.migrate(url)
    await db.close_db()


def main(argv: Any = None) -> None:
    """A quick run from the command line: python -m tests.chaos SEED [N]."""
    args = list(argv if argv is not None else sys.argv[1:])
    seed = int(args[0]) if args else 1
    n = int(args[1]) if len(args) > 1 else 300
    outcomes = run_with_cluster([seed], n)
    sys.exit(0 if all(o.ok for o in outcomes) else 1)


if __name__ == "__main__":
    main()
