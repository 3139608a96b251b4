"""Throughput and p99 latency of the WeChat webhook in safe mode, beside a bare aiohttp handler.

    python bench/webhook.py [--messages 3000] [--concurrency 32] [--db sqlite|URL]

Each server runs in its own process on 127.0.0.1; this process is the client (WeChat). The
webhook does the whole job for every message: check the signature, the timestamp and
msg_signature, decrypt (AES), parse, store the raw message (deduplicated) and answer
``success``. The baseline is a bare aiohttp handler that reads the body and answers
``success``, measured in the same run with the same client. Requests are signed and encrypted
before the clock starts, so only the server's work is timed. The server's own CPU time is read
from /proc too, so "messages per server CPU-second" stays meaningful on a busy machine (the
client shares it). Afterwards the stored rows are counted: nothing may be lost. Figures are
printed, nothing is asserted; the goal is at least 40 % of the bare rate.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_wechat import (  # noqa: E402
    AES_KEY,
    APP_ID,
    APP_SECRET,
    TOKEN,
    Signed,
    signed_request,
    text_xml,
)

OPENID = "oBENCH000000000000000000001"


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(db_url: str, port: int) -> Any:
    from bot.config import settings_from_dict

    return settings_from_dict({
        "database": {"url": db_url},
        "server": {"host": "127.0.0.1", "port": port},
        "wechat": {"app_id": APP_ID, "app_secret": APP_SECRET, "token": TOKEN,
                   "encoding_aes_key": AES_KEY, "mode": "safe",
                   # Never called here: nothing is sent during the benchmark.
                   "api_base_url": "http://127.0.0.1:9"},
    })


def serve_bot(db_url: str, port: int) -> None:
    """The real application (no background loops: only the webhook is measured)."""
    import logging

    from aiohttp import web

    from bot.app import create_app

    logging.basicConfig(level=logging.WARNING)
    app = create_app(settings_for(db_url, port), run_loops=False, migrate=False)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def serve_bare(port: int) -> None:
    """The baseline: read the body, answer success."""
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="success")

    app = web.Application()
    app.router.add_post("/wechat", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def prepare(db_url: str) -> None:
    """Migrate the database and add the contact the messages come from."""
    from bot import db
    from models import Contact

    async with db.database(db_url, apply_migrations=True):
        await Contact.create(name="基准", phone="13900000000", wechat_openid=OPENID)


async def count_rows(db_url: str) -> int:
    from bot import db
    from models import Message

    async with db.database(db_url):
        return await Message.filter(direction="in", channel="wechat").count()


async def wait_listening(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


async def drive(port: int, requests: list[Signed], concurrency: int) -> dict[str, Any]:
    """Post every request with ``concurrency`` in flight; rate, latencies, failures."""
    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[Signed] = asyncio.Queue()
    for r in requests:
        queue.put_nowait(r)
    url = f"http://127.0.0.1:{port}/wechat"
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal failures
            while True:
                try:
                    req = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t0 = time.perf_counter()
                async with session.post(url, params=req.params, data=req.body) as resp:
                    text = await resp.text()
                latencies.append(time.perf_counter() - t0)
                if resp.status != 200 or text != "success":
                    failures += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "rate": len(requests) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "failures": failures,
    }


def make_requests(n: int, first_id: int) -> list[Signed]:
    now = int(time.time())
    return [signed_request(text_xml(OPENID, str(1 + i % 5), first_id + i, now),
                           timestamp=now) for i in range(n)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def measure(pid: int, port: int, n: int, concurrency: int, first_id: int,
                  warmup: int) -> dict[str, Any]:
    await wait_listening(port)
    await drive(port, make_requests(warmup, first_id), concurrency)  # connections, caches
    reqs = make_requests(n, first_id + warmup)
    cpu0 = cpu_seconds(pid)
    result = await drive(port, reqs, concurrency)
    # Server CPU per message: what one core can do, whatever else the machine is running.
    result["cpu_rate"] = n / max(cpu_seconds(pid) - cpu0, 1e-9)
    return result


def main() -> int:
    """Run both servers in turn and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--db", default="sqlite", help="sqlite (a temporary file) or a database URL")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    db_url = (f"sqlite://{tmp.name}/bench.sqlite3" if args.db == "sqlite" else args.db)
    asyncio.run(prepare(db_url))
    ctx = mp.get_context("spawn")
    results: dict[str, dict[str, Any]] = {}
    for name in ("bare aiohttp handler", "survey-bot webhook"):
        port = free_port()
        proc = (ctx.Process(target=serve_bare, args=(port,)) if name.startswith("bare")
                else ctx.Process(target=serve_bot, args=(db_url, port)))
        proc.start()
        try:
            assert proc.pid is not None
            results[name] = asyncio.run(measure(proc.pid, port, args.messages,
                                                args.concurrency,
                                                10_000_000 if name.startswith("bare") else 1,
                                                args.warmup))
        finally:
            proc.terminate()
            proc.join(10)
    stored = asyncio.run(count_rows(db_url))
    expected = args.messages + args.warmup
    print(f"safe-mode (AES) text messages, {args.messages} per server, "
          f"{args.concurrency} in flight, database {db_url.split(':')[0]}")
    print(f"{'server':<24}{'msg/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'failed':>8}"
          f"{'msg/CPU-s':>12}")
    for name, r in results.items():
        print(f"{name:<24}{r['rate']:>10.0f}{r['p50']:>10.1f}{r['p99']:>10.1f}"
              f"{r['failures']:>8}{r['cpu_rate']:>12.0f}")
    bare, bot = results["bare aiohttp handler"], results["survey-bot webhook"]
    print(f"webhook / bare, wall-clock rate: {bot['rate'] / bare['rate']:.0%}; per server "
          f"CPU-second: {bot['cpu_rate'] / bare['cpu_rate']:.0%} (goal: at least 40 %)")
    print(f"stored {stored} of {expected} messages sent to the webhook"
          f"{' (nothing lost)' if stored == expected else ' (LOST SOME)'}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
