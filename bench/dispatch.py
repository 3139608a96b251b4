"""Benchmark: plan and send N check-ins through a local fake WeChat API.

    python bench/dispatch.py [--n 3000]

Prints, measured in the same run on the same machine:
  - the fake provider's raw rate (customer-service sends straight from an aiohttp client);
  - planning (import → check-ins) per second;
  - check-ins opened and sent per second on SQLite (1 worker) and on PostgreSQL (1 and 3
    worker processes, `survey-bot serve --role worker`), from the first check-in opened to
    the last message accepted by the fake, read from the database's own timestamps.
Goals (issue [reach]): ≥ 1,000/s on SQLite, ≥ 3,000/s with 3 workers on PostgreSQL.
Nothing is asserted: figures are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_wechat import AES_KEY, APP_ID, APP_SECRET, TOKEN  # noqa: E402

FAST = {"send_window": {"quiet_start": "00:00", "quiet_end": "00:00"},
        "checkin": {"fatigue_days": 0}, "channels": {"order": ["wechat"]},
        "worker": {"batch_size": 200, "poll_interval_seconds": 0.05}}


def _toml(url: str, fake: str) -> str:
    return (f'[database]\nurl = "{url}"\n'
            "[worker]\nbatch_size = 200\npoll_interval_seconds = 0.05\n"
            '[send_window]\nquiet_start = "00:00"\nquiet_end = "00:00"\n'
            "[checkin]\nfatigue_days = 0\n"
            '[channels]\norder = ["wechat"]\n'
            "[simulator]\nenabled = false\n"
            f'[wechat]\napp_id = "{APP_ID}"\napp_secret = "{APP_SECRET}"\ntoken = "{TOKEN}"\n'
            f'encoding_aes_key = "{AES_KEY}"\napi_base_url = "{fake}"\n'
            # Check-ins open conversations, which WeChat allows only by template message.
            'template_id = "TEMPLATE-CHECKIN"\n')


# --- the fake provider, in its own process ------------------------------------------------

async def _serve_fake(port_file: Path) -> None:
    from tests.fake_wechat import FakeWechat

    fake = await FakeWechat().start()
    port_file.write_text(fake.base_url, encoding="utf-8")  # noqa: ASYNC240 - once, tiny
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    while not stop.is_set():
        fake.sent.clear()  # keep memory flat: the bench counts in the database
        await asyncio.sleep(1)
    await fake.close()


async def _raw_rate(base: str, n: int, concurrency: int = 32) -> float:
    import aiohttp

    async with aiohttp.ClientSession() as s:
        async with s.post(f"{base}/cgi-bin/stable_token",
                          json={"grant_type": "client_credential", "appid": APP_ID,
                                "secret": APP_SECRET}) as r:
            token = (await r.json())["access_token"]
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            async with sem, s.post(f"{base}/cgi-bin/message/custom/send",
                                   params={"access_token": token},
                                   json={"touser": f"o{i}", "msgtype": "text",
                                         "text": {"content": "您好"}}) as r:
                await r.read()

        t = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - t)


# --- seeding and measuring, each database in its own process -------------------------------

async def _seed(url: str, fake: str, n: int) -> dict[str, float]:
    from bot import db, importer
    from bot.app import build_channels
    from bot.clock import SystemClock
    from bot.config import settings_from_dict
    from bot.runtime import Runtime

    await db.migrate(url)
    await db.close_db()
    await db.init_db(url)
    settings = settings_from_dict({"database": {"url": url}, **FAST,
                                   "simulator": {"enabled": False}})
    rt = Runtime(settings=settings, clock=SystemClock(), channels=build_channels(settings))
    when = rt.local(rt.now() - timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    rows = [(i, {"external_id": f"B{i}", "person_name": f"病人{i}",
                 "contact_phone": f"139{i:08d}", "contact_openid": f"o{i:08d}",
                 "occurred_at": when, "department": "dental"}) for i in range(n)]
    t = time.perf_counter()
    result = await importer.import_rows(rt, rows, "bench")
    plan_rate = n / (time.perf_counter() - t)
    assert result.checkins_planned == n, result.as_dict()
    await db.close_db()
    return {"plan_per_s": plan_rate}


def _query(url: str, sql: str, pg: Any) -> list[tuple[Any, ...]]:
    if url.startswith("sqlite://"):
        con = sqlite3.connect(url.removeprefix("sqlite://"))
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()
    out = pg.psql(sql, dbname=url.rsplit("/", 1)[1])
    return [tuple(line.split("|")) for line in out.strip().splitlines()]


def _run_workers(url: str, fake: str, n: int, workers: int, tmp: Path, pg: Any) -> float:
    cfg = tmp / f"w{workers}.toml"
    cfg.write_text(_toml(url, fake), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYBOT_")}
    logs = [(tmp / f"w{workers}-{i}.log").open("wb") for i in range(workers)]
    procs = [subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(cfg), "serve",
                               "--role", "worker"], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT) for log in logs]
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            done = int(_query(url, "SELECT count(*) FROM message WHERE direction = 'out' "
                                   "AND status IN ('sent', 'delivered')", pg)[0][0])
            failed = int(_query(url, "SELECT count(*) FROM message WHERE direction = 'out' "
                                     "AND status = 'failed'", pg)[0][0])
            if failed:
                raise RuntimeError(f"{failed} messages failed; see the logs in {tmp}")
            if done >= n:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"only {done} of {n} sent in time; see {tmp}")
    finally:
        for p in procs:
            p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    if url.startswith("sqlite://"):
        sql = ("SELECT (julianday(max(m.sent_at)) - julianday(min(c.opened_at))) * 86400 "
               "FROM message m, checkin c WHERE m.direction = 'out'")
    else:
        sql = ("SELECT extract(epoch FROM (SELECT max(sent_at) FROM message) - "
               "(SELECT min(opened_at) FROM checkin))")
    seconds = float(_query(url, sql, pg)[0][0])
    dup = _query(url, "SELECT count(*) - count(DISTINCT conversation_id) FROM message "
                      "WHERE direction = 'out'", pg)[0][0]
    if int(dup):
        raise RuntimeError(f"{dup} check-ins were sent twice")
    return n / seconds


def _scenario(kind: str, fake: str, n: int, workers: list[int], pg: Any,
              tmp: Path) -> list[tuple[str, float, float]]:
    out = []
    for w in workers:
        if kind == "sqlite":
            url = f"sqlite://{tmp}/bench-{w}.sqlite3"
        else:
            name = f"bench_{w}_{os.getpid()}"
            pg.psql(f"CREATE DATABASE {name}")
            url = pg.url(name)
        seeded = subprocess.run([sys.executable, __file__, "--seed", url, "--fake", fake,
                                 "--n", str(n)], cwd=ROOT, capture_output=True, text=True,
                                check=True)
        plan = json.loads(seeded.stdout.strip().splitlines()[-1])["plan_per_s"]
        rate = _run_workers(url, fake, n, w, tmp, pg)
        out.append((f"{kind}, {w} worker{'s' if w > 1 else ''}", plan, rate))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", help=argparse.SUPPRESS)
    ap.add_argument("--fake", help=argparse.SUPPRESS)
    ap.add_argument("--serve-fake", help=argparse.SUPPRESS)
    ap.add_argument("--skip-postgres", action="store_true")
    args = ap.parse_args()
    if args.serve_fake:
        asyncio.run(_serve_fake(Path(args.serve_fake)))
        return
    if args.seed:
        print(json.dumps(asyncio.run(_seed(args.seed, args.fake, args.n))))
        return

    tmp = Path(tempfile.mkdtemp(prefix="survey-bench-"))
    port_file = tmp / "fake-url"
    fake_proc = subprocess.Popen([sys.executable, __file__, "--serve-fake", str(port_file)],
                                 cwd=ROOT)
    pg = None
    try:
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.05)
        fake = port_file.read_text()
        raw = asyncio.run(_raw_rate(fake, args.n))
        rows = _scenario("sqlite", fake, args.n, [1], None, tmp)
        if not args.skip_postgres:
            from tests import pgcluster

            pg = pgcluster.start()
            rows += _scenario("postgres", fake, args.n, [1, 3], pg, tmp)
    finally:
        fake_proc.send_signal(signal.SIGTERM)
        fake_proc.wait(timeout=10)
        if pg is not None:
            pg.stop()
    print(f"\nsurvey-bot dispatch benchmark: {args.n} check-ins, {os.cpu_count()} cores")
    print(f"{'fake WeChat API, raw custom sends':40} {raw:10,.0f} /s   (the ceiling)")
    print(f"{'scenario':40} {'planned/s':>10} {'sent/s':>10} {'of raw':>8}")
    for name, plan, rate in rows:
        print(f"{name:40} {plan:10,.0f} {rate:10,.0f} {rate / raw:8.0%}")
    print("goals: ≥ 1,000/s on SQLite; ≥ 3,000/s with 3 workers on PostgreSQL")


if __name__ == "__main__":
    main()
