"""Throughput and p99 latency of the WeChat webhook in safe mode, beside a bare aiohttp handler.

    python bench/webhook.py [--messages 3000] [--rounds 5] [--concurrency 32]
                            [--senders 500] [--db sqlite,postgres]

Each server runs in its own process on 127.0.0.1; this process is the client (WeChat). The
webhook does the whole job for every message: check the signature, the timestamp and
msg_signature, decrypt (AES), parse, store the raw message (deduplicated) and answer
``success`` once the row is committed. The baseline is a bare aiohttp handler that reads the
body and answers ``success``.

Fairness: the servers start once and are measured in turn in every round (the order rotates
from round to round), by the same client with the same concurrency and the same kind of
request (signed, encrypted, same sizes); requests are built before the clock starts, so only
the servers' work is timed. Medians over the rounds are printed, and the ratio is the median
of the per-round ratios, so a burst of load from elsewhere on the machine touches one round,
not the result. The servers' own CPU time is read from /proc too, so "messages per server
CPU-second" stays meaningful on a busy machine (the client shares it); for PostgreSQL, the
database server's processes count as the server's.

Messages come from ``--senders`` different people (a real account's traffic; one person
sending thousands of messages would make every per-person lookup grow with the run).
``postgres`` runs a throwaway PostgreSQL cluster (tests/pgcluster.py; fsync off, like
SQLite's synchronous=NORMAL, so commits cost round trips and CPU, not the disk).

Afterwards the stored rows are counted (nothing may be lost), and a sample of messages is
posted again, as WeChat's retries would be: each must be answered ``success`` and stored no
second time. Figures are printed, nothing is asserted; the goal is at least 40 % of the bare
rate.
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
from contextlib import ExitStack
from dataclasses import dataclass, field
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

BARE = "bare aiohttp handler"


def openid(i: int) -> str:
    """The openid of bench sender ``i`` (28 characters, like WeChat's)."""
    return f"oBENCH{i:022d}"


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

    logging.basicConfig(level=logging.ERROR)
    app = create_app(settings_for(db_url, port), run_loops=False, migrate=False)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def serve_bare(port: int) -> None:
    """The baseline: a minimal aiohttp handler that reads the body and answers success."""
    from aiohttp import web

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="success")

    app = web.Application()
    app.router.add_post("/wechat", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def prepare(db_url: str, senders: int) -> None:
    """Migrate the database and add the contacts the messages come from."""
    from tortoise.transactions import in_transaction

    from bot import db
    from models import Contact

    async with db.database(db_url, apply_migrations=True), in_transaction() as conn:
        for i in range(senders):
            await Contact.create(name="基准", phone=f"139{i:08d}", wechat_openid=openid(i),
                                 using_db=conn)


async def count_rows(db_url: str) -> int:
    from bot import db
    from models import Message

    async with db.database(db_url):
        return await Message.filter(direction="in", channel="wechat").count()


def in_child(what: str, *args: Any) -> Any:
    """Run ``prepare`` or ``count_rows`` in a fresh process: the ORM keeps per-process state
    (one database, one dialect), and two databases are used here."""
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(_run, (what, *args))


def _run(what: str, *args: Any) -> Any:
    return asyncio.run({"prepare": prepare, "count_rows": count_rows}[what](*args))


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


def make_requests(n: int, first_id: int, senders: int) -> list[Signed]:
    """``n`` signed, encrypted text messages (MsgId from ``first_id``), senders in turn."""
    now = int(time.time())
    return [signed_request(text_xml(openid(i % senders), str(1 + i % 5), first_id + i, now),
                           timestamp=now) for i in range(n)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # gone (a database backend that ended)
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """CPU time of ``root`` and its children (PostgreSQL: the postmaster and its backends)."""
    total = cpu_seconds(root)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == root:
            total += cpu_seconds(int(stat.parent.name))
    return total


@dataclass
class Server:
    """One server under test and what was measured of it."""

    name: str
    proc: Any
    port: int
    db_url: str | None = None
    db_pid: int | None = None  # a database server whose CPU time counts as the server's
    next_id: int = 1
    sent: list[Signed] = field(default_factory=list)  # for the retry check
    rounds: list[dict[str, Any]] = field(default_factory=list)
    cpu: float = 0.0
    measured: int = 0

    def cpu_seconds(self) -> float:
        """The server's CPU time so far, its database server's included."""
        own = cpu_seconds(self.proc.pid)
        return own + (tree_cpu_seconds(self.db_pid) if self.db_pid is not None else 0.0)

    def requests(self, n: int, senders: int) -> list[Signed]:
        reqs = make_requests(n, self.next_id, senders)
        self.next_id += n
        return reqs


async def run_rounds(servers: list[Server], args: argparse.Namespace) -> None:
    for s in servers:
        await wait_listening(s.port)
        s.sent += (w := s.requests(args.warmup, args.senders))
        await drive(s.port, w, args.concurrency)  # connections, caches, first statements
    for r in range(args.rounds):
        # The order rotates so that no server is always measured first (or last).
        for s in servers[r % len(servers):] + servers[: r % len(servers)]:
            reqs = s.requests(args.messages, args.senders)
            s.sent += reqs[:: max(1, len(reqs) // 50)]
            cpu0 = s.cpu_seconds()
            result = await drive(s.port, reqs, args.concurrency)
            cpu = s.cpu_seconds() - cpu0
            result["cpu_rate"] = args.messages / max(cpu, 1e-9)
            s.rounds.append(result)
            s.cpu += cpu
            s.measured += args.messages


async def retry_check(s: Server, concurrency: int) -> dict[str, Any]:
    """Post a sample of delivered messages again (fresh query, same MsgId): WeChat's retries."""
    from tests.fake_wechat import sign

    now = str(int(time.time()))
    again = []
    for req in s.sent[:100]:
        params = dict(req.params, timestamp=now)
        params["signature"] = sign(TOKEN, now, params["nonce"])
        body = req.body.decode()
        enc = body.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
        params["msg_signature"] = sign(TOKEN, now, params["nonce"], enc)
        again.append(Signed(params, req.body))
    return await drive(s.port, again, concurrency)


def start_postgres(stack: ExitStack) -> tuple[str, int]:
    """A throwaway cluster with database ``bench``: its URL and the postmaster's pid."""
    from tests import pgcluster

    cluster = pgcluster.start()
    stack.callback(cluster.stop)
    cluster.psql("CREATE DATABASE bench")
    pid = int((cluster.root / "data" / "postmaster.pid").read_text().split()[0])
    return cluster.url("bench"), pid


def main() -> int:
    """Start the servers, measure them in rounds and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=3000, help="per server per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--senders", type=int, default=500, help="different people writing")
    ap.add_argument("--db", default="sqlite,postgres",
                    help="comma-separated: sqlite (a temporary file), postgres (a throwaway "
                         "cluster; skipped when PostgreSQL is not installed) or database URLs")
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    servers: list[Server] = []
    with ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        for kind in args.db.split(","):
            db_pid = None
            if kind == "sqlite":
                url = f"sqlite://{tmp}/bench.sqlite3"
            elif kind == "postgres":
                try:
                    url, db_pid = start_postgres(stack)
                except RuntimeError as e:
                    print(f"postgres skipped: {e}")
                    continue
            else:
                url = kind
            in_child("prepare", url, args.senders)
            servers.append(Server(f"webhook, {url.split(':')[0]}", None, free_port(), url,
                                  db_pid))
        servers.insert(0, Server(BARE, None, free_port()))
        for s in servers:
            s.proc = (ctx.Process(target=serve_bare, args=(s.port,)) if s.db_url is None
                      else ctx.Process(target=serve_bot, args=(s.db_url, s.port)))
            s.proc.start()
            stack.callback(s.proc.join, 10)
            stack.callback(s.proc.terminate)
        asyncio.run(run_rounds(servers, args))
        retries = {s.name: asyncio.run(retry_check(s, args.concurrency))
                   for s in servers if s.db_url is not None}
        for s in servers:
            s.proc.terminate()
            s.proc.join(10)
        print(f"safe-mode (AES) text messages: {args.rounds} rounds of {args.messages} per "
              f"server, {args.concurrency} in flight, {args.senders} senders; medians")
        print(f"{'server':<24}{'msg/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'failed':>8}"
              f"{'msg/CPU-s':>11}{'wall/bare':>11}{'CPU/bare':>10}")
        bare = servers[0]

        def med(s: Server, key: str) -> float:
            return statistics.median(r[key] for r in s.rounds)

        for s in servers:
            cpu_rate = s.measured / max(s.cpu, 1e-9)
            wall = statistics.median(r["rate"] / b["rate"]
                                     for r, b in zip(s.rounds, bare.rounds, strict=True))
            print(f"{s.name:<24}{med(s, 'rate'):>9.0f}{med(s, 'p50'):>9.1f}"
                  f"{med(s, 'p99'):>9.1f}{sum(r['failures'] for r in s.rounds):>8}"
                  f"{cpu_rate:>11.0f}{wall:>11.0%}"
                  f"{cpu_rate / (bare.measured / max(bare.cpu, 1e-9)):>10.0%}")
        for s in servers:
            ratios = ", ".join(f"{r['rate'] / b['rate']:.0%}"
                               for r, b in zip(s.rounds, bare.rounds, strict=True))
            if s is not bare:
                print(f"  {s.name}: wall/bare by round {ratios}")
        for s in servers[1:]:
            assert s.db_url is not None
            stored = in_child("count_rows", s.db_url)
            expected = args.warmup + args.rounds * args.messages
            r = retries[s.name]
            print(f"{s.name}: stored {stored} of {expected} messages"
                  f"{' (nothing lost)' if stored == expected else ' (LOST OR DOUBLED SOME)'}; "
                  f"{len(s.sent[:100])} retries answered, {r['failures']} failed")
        print("goal: webhook at least 40 % of the bare wall-clock rate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
