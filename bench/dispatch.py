"""Benchmark: plan and send N check-ins through a local fake WeChat API, and by SMS through a
fake Aliyun answering in 50 ms.

    python bench/dispatch.py [--n 3000] [--rounds 3] [--skip-postgres] [--skip-sms]
                             [--only-sms] [--sms-batch 100]

Prints, measured in the same run on the same machine:
  - the fake provider's raw rate (customer-service sends straight from an aiohttp client);
  - SMS: check-ins sent per second by one worker process on PostgreSQL through a fake Aliyun
    that answers every SendSms in 50 ms (``[sms] threads`` at once), beside that fake's raw
    rate with as many signed requests at once from a bare aiohttp client (the ceiling); then
    the outbox alone ("SMS queued"): the check-ins opened beforehand, their SMS waiting in
    the outbox, sent by one worker, timed from their release to the last one sent; then
    both again with ``[sms] batch_size`` (``--sms-batch``, "×100": SendBatchSms, one call
    per template for up to that many numbers, each call answered in 50 ms), by one and by
    three workers;
  - planning (import → check-ins) per second;
  - check-ins opened and sent per second on SQLite (1 worker) and on PostgreSQL (1 and 3
    worker processes, `survey-bot serve --role worker`, polling every 0.5 s), from the first
    check-in opened to the last message accepted by the fake, read from the database's own
    timestamps; the seeded check-ins are held back until every worker has started;
  - CPU seconds per 1,000 check-ins of the worker processes (and of the fake provider and the
    PostgreSQL server beside them) from the release of the check-ins to the last sent, read
    from /proc, so that a rate on a machine shared with the fake and the database can be
    read per core;
  - database statements per check-in (planning and sending in-process on SQLite, counted
    at the database client).
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
        "worker": {"batch_size": 200, "poll_interval_seconds": 0.5}}


def _toml(url: str, fake: str) -> str:
    return (f'[database]\nurl = "{url}"\n'
            # A poll interval a deployment would use (the default is 1 s): idle loops of
            # three workers polling 20 times a second cost PostgreSQL more than the work.
            "[worker]\nbatch_size = 200\npoll_interval_seconds = 0.5\n"
            '[send_window]\nquiet_start = "00:00"\nquiet_end = "00:00"\n'
            "[checkin]\nfatigue_days = 0\n"
            '[channels]\norder = ["wechat"]\n'
            "[simulator]\nenabled = false\n"
            f'[wechat]\napp_id = "{APP_ID}"\napp_secret = "{APP_SECRET}"\ntoken = "{TOKEN}"\n'
            f'encoding_aes_key = "{AES_KEY}"\napi_base_url = "{fake}"\n'
            # Check-ins open conversations, which WeChat allows only by template message.
            'template_id = "TEMPLATE-CHECKIN"\n')


FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SMS_LATENCY = 0.05  # the fake Aliyun answers every SendSms in 50 ms
SMS_THREADS = 128


def _sms_settings(fake: str) -> dict[str, Any]:
    """The SMS scenario's channel settings (as _sms_toml writes them), for in-process use."""
    from tests.fake_aliyun import TEMPLATES

    return {"channels": {"order": ["sms"]},
            "sms": {"access_key_id": "test-ak", "access_key_secret": "test-secret",
                    "endpoint": fake, "sign_name": "示例医院",
                    "callback_token": "bench-callback-token-0123", "threads": SMS_THREADS,
                    "max_per_second": 5000, "org_daily_cap": 1000000,
                    "templates": {k: {"code": t["code"], "params": t["params"]}
                                  for k, t in TEMPLATES.items()}}}


def _sms_toml(url: str, fake: str, batch: int = 1) -> str:
    from tests.fake_aliyun import TEMPLATES

    templates = "\n".join(
        f'{kind} = {{ code = "{t["code"]}", params = {{ '
        + ", ".join(f'{k} = "{v}"' for k, v in t["params"].items()) + " } }"
        for kind, t in TEMPLATES.items())
    return (f'[database]\nurl = "{url}"\n'
            "[worker]\nbatch_size = 200\npoll_interval_seconds = 0.5\n"
            '[send_window]\nquiet_start = "00:00"\nquiet_end = "00:00"\n'
            "[checkin]\nfatigue_days = 0\n"
            '[channels]\norder = ["sms"]\n'
            "[simulator]\nenabled = false\n"
            f'[sms]\naccess_key_id = "test-ak"\naccess_key_secret = "test-secret"\n'
            f'endpoint = "{fake}"\nsign_name = "示例医院"\n'
            'callback_token = "bench-callback-token-0123"\n'
            f"threads = {SMS_THREADS}\nmax_per_second = 5000\norg_daily_cap = 1000000\n"
            f"batch_size = {batch}\n"
            f"[sms.templates]\n{templates}\n")


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


async def _serve_fake_sms(port_file: Path) -> None:
    from tests.fake_aliyun import FakeAliyunSms

    fake = await FakeAliyunSms(latency=SMS_LATENCY).start()
    port_file.write_text(fake.url, encoding="utf-8")  # noqa: ASYNC240 - once, tiny
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    while not stop.is_set():
        # Keep memory flat: the bench counts in the database.
        fake.sent.clear()
        fake.requests.clear()
        fake._nonces.clear()
        await asyncio.sleep(1)
    await fake.close()


async def _raw_sms_rate(base: str, n: int, concurrency: int = SMS_THREADS) -> float:
    """Signed SendSms requests straight from aiohttp, ``concurrency`` at once: the ceiling."""
    import aiohttp

    from bot.channels.aliyun_rpc import signed_request

    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:

        async def one(i: int) -> None:
            params = {"PhoneNumbers": f"137{i:08d}", "SignName": "示例医院",
                      "TemplateCode": "SMS_1002", "TemplateParam": '{"content": "您好"}',
                      "OutId": str(i)}
            path, form = signed_request({"Action": "SendSms", "Version": "2017-05-25",
                                         "RegionId": "cn-hangzhou"}, "test-ak", "test-secret",
                                        params)
            async with sem, s.post(base + path, data=form, headers=FORM) as r:
                await r.read()

        t = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - t)


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

async def _seed(url: str, fake: str, n: int, queued_sms: bool = False) -> dict[str, float]:
    """Import ``n`` visits (their check-ins held); with ``queued_sms`` also open them here,
    so that their first messages wait in the outbox for SMS (held too)."""
    from bot import db, importer, planner
    from bot.app import build_channels
    from bot.clock import SystemClock
    from bot.config import settings_from_dict
    from bot.runtime import Runtime
    from models import CheckIn, Message

    await db.migrate(url)
    await db.close_db()
    await db.init_db(url)
    settings = settings_from_dict({"database": {"url": url}, **FAST,
                                   "simulator": {"enabled": False},
                                   **(_sms_settings(fake) if queued_sms else {})})
    rt = Runtime(settings=settings, clock=SystemClock(), channels=build_channels(settings))
    when = rt.local(rt.now() - timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    rows = [(i, {"external_id": f"B{i}", "person_name": f"病人{i}",
                 "contact_phone": f"139{i:08d}", "contact_openid": f"o{i:08d}",
                 "occurred_at": when, "department": "dental"}) for i in range(n)]
    t = time.perf_counter()
    result = await importer.import_rows(rt, rows, "bench")
    plan_rate = n / (time.perf_counter() - t)
    assert result.checkins_planned == n, result.as_dict()
    if queued_sms:
        while await planner.open_due(rt):
            pass
        rt.outbox_handoff.clear()
        assert await Message.filter(direction="out", status="queued", channel="sms"
                                    ).count() == n
        await Message.all().update(lease_owner=HOLD, lease_until=rt.now() + timedelta(days=1))
    # Held by a lease until every worker is up (see _run_workers).
    await CheckIn.all().update(lease_owner=HOLD, lease_until=rt.now() + timedelta(days=1))
    await db.close_db()
    return {"plan_per_s": plan_rate}


HOLD = "bench-hold"


def _query(url: str, sql: str, pg: Any) -> list[tuple[Any, ...]]:
    if url.startswith("sqlite://"):
        con = sqlite3.connect(url.removeprefix("sqlite://"))
        try:
            rows = con.execute(sql).fetchall()
            con.commit()
            return rows
        finally:
            con.close()
    out = pg.psql(sql, dbname=url.rsplit("/", 1)[1])
    return [tuple(line.split("|")) for line in out.strip().splitlines()]


class _Watch:
    """One open connection that counts the outbox while workers run.

    A fresh ``psql`` per look cost about 11 ms of CPU (the client, plus a server process
    forked for its connection), taken from the processes being measured; one long-lived
    ``psql`` reading queries from a pipe costs a fraction of a millisecond per look.
    """

    SQL = ("SELECT count(*) FILTER (WHERE status IN ('sent', 'delivered')), "
           "count(*) FILTER (WHERE status = 'failed') FROM message WHERE direction = 'out'")

    def __init__(self, url: str, pg: Any) -> None:
        self._con: sqlite3.Connection | None = None
        self._psql: subprocess.Popen[str] | None = None
        if url.startswith("sqlite://"):
            self._con = sqlite3.connect(url.removeprefix("sqlite://"))
        else:
            self._psql = subprocess.Popen(
                [str(pg.bindir / "psql"), "-h", "127.0.0.1", "-p", str(pg.port), "-U",
                 "postgres", "-d", url.rsplit("/", 1)[1], "-qAtX"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def counts(self) -> tuple[int, int]:
        """(sent or delivered, failed) outbound messages."""
        if self._con is not None:
            done, failed = self._con.execute(self.SQL).fetchone()
            self._con.commit()  # end the read transaction: the next look sees new rows
            return int(done), int(failed)
        assert self._psql is not None and self._psql.stdin and self._psql.stdout
        self._psql.stdin.write(self.SQL + ";\n")
        done, failed = self._psql.stdout.readline().strip().split("|")
        return int(done), int(failed)

    def close(self) -> None:
        """Close the connection (or end the psql process)."""
        if self._con is not None:
            self._con.close()
        if self._psql is not None and self._psql.stdin:
            self._psql.stdin.close()
            self._psql.wait(timeout=10)


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid``; 0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _pg_pids(pg: Any) -> list[int]:
    """The PostgreSQL server: the postmaster and every process it started."""
    if pg is None:
        return []
    try:
        master = int((pg.root / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return []
    pids = [master]
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text(encoding="ascii")
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(d.name))
    return pids


def _run_workers(url: str, fake: str, n: int, workers: int, tmp: Path, pg: Any,
                 fake_pid: int, sms: bool = False, queued: bool = False,
                 sms_batch: int = 1) -> tuple[float, dict[str, float]]:
    cfg = tmp / f"w{workers}{'-sms' if sms else ''}.toml"
    cfg.write_text(_sms_toml(url, fake, sms_batch) if sms else _toml(url, fake),
                   encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYBOT_")}
    logs = [(tmp / f"w{workers}-{i}.log") for i in range(workers)]
    procs = [subprocess.Popen([sys.executable, "-m", "bot.cli", "--config", str(cfg), "serve",
                               "--role", "worker"], cwd=ROOT, env=env,
                              stdout=log.open("wb"), stderr=subprocess.STDOUT) for log in logs]
    # The check-ins are held (leased by the seed) until every worker has started: start-up
    # (imports, ORM, migrations) of one worker is not the work measured, and it would
    # compete for the cores with the others' work. A worker is up when it has said so and
    # its CPU use has settled to idle polling.
    deadline = time.monotonic() + 120
    last = {p.pid: -1.0 for p in procs}
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.3)
        now = {p.pid: _cpu(p.pid) for p in procs}
        said = all(b"running" in log.read_bytes() for log in logs)
        if said and all(now[pid] - last[pid] < 0.03 for pid in now):
            break
        last = now
    start = {p.pid: _cpu(p.pid) for p in procs}
    others = {"fake": [fake_pid], "postgres": _pg_pids(pg)}
    before = {k: sum(_cpu(pid) for pid in pids) for k, pids in others.items()}
    released = time.time()
    if queued:
        _query(url, f"UPDATE message SET lease_owner = NULL, lease_until = NULL "
                    f"WHERE lease_owner = '{HOLD}'", pg)
    _query(url, f"UPDATE checkin SET lease_owner = NULL, lease_until = NULL "
                f"WHERE lease_owner = '{HOLD}'", pg)
    cpu: dict[str, float] = {}
    deadline = time.monotonic() + 600
    watch = _Watch(url, pg)
    try:
        while time.monotonic() < deadline:
            done, failed = watch.counts()
            if failed:
                raise RuntimeError(f"{failed} messages failed; see the logs in {tmp}")
            if all(p.poll() is not None for p in procs):
                tail = logs[0].read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the workers exited; the first one said:\n{tail}")
            if done >= n:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"only {done} of {n} sent in time; see {tmp}")
        cpu["workers"] = sum(_cpu(p.pid) - start[p.pid] for p in procs)
        cpu["fake"] = _cpu(fake_pid) - before["fake"]
        if pg is not None:
            cpu["postgres"] = sum(_cpu(pid) for pid in _pg_pids(pg)) - before["postgres"]
    finally:
        watch.close()
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
    if queued:  # from the release of the queued messages to the last one sent
        last = ("SELECT (julianday(max(sent_at)) - 2440587.5) * 86400 FROM message"
                if url.startswith(
            "sqlite://") else "SELECT extract(epoch FROM max(sent_at)) FROM message")
        seconds = float(_query(url, last, pg)[0][0]) - released
    dup = _query(url, "SELECT count(*) - count(DISTINCT conversation_id) FROM message "
                      "WHERE direction = 'out'", pg)[0][0]
    if int(dup):
        raise RuntimeError(f"{dup} check-ins were sent twice")
    return n / seconds, {k: v * 1000 / n for k, v in cpu.items()}


def _scenario(kind: str, fake: str, n: int, workers: list[int], pg: Any, tmp: Path,
              fake_pid: int, rounds: int = 1, sms: bool = False, queued: bool = False,
              sms_batch: int = 1,
              ) -> list[tuple[str, float, float, dict[str, float], list[float]]]:
    """Each worker count ``rounds`` times on a fresh database; the round of median rate."""
    out = []
    tag = ("-sms" if sms else "") + ("-queued" if queued else "") + (
        f"-b{sms_batch}" if sms_batch > 1 else "")
    for w in workers:
        runs = []
        for r in range(rounds):
            if kind == "sqlite":
                url = f"sqlite://{tmp}/bench-{w}-{r}{tag}.sqlite3"
            else:
                name = f"bench_{w}_{r}{tag.replace('-', '_')}_{os.getpid()}"
                pg.psql(f"CREATE DATABASE {name}")
                url = pg.url(name)
            seeded = subprocess.run([sys.executable, __file__, "--seed", url, "--fake", fake,
                                     "--n", str(n), *(["--queued-sms"] if queued else [])],
                                    cwd=ROOT, capture_output=True, text=True, check=True)
            plan = json.loads(seeded.stdout.strip().splitlines()[-1])["plan_per_s"]
            rate, cpu = _run_workers(url, fake, n, w, tmp, pg, fake_pid, sms=sms,
                                     queued=queued, sms_batch=sms_batch)
            runs.append((plan, rate, cpu))
        runs.sort(key=lambda x: x[1])
        plan, rate, cpu = runs[len(runs) // 2]
        what = "SMS queued, " if queued else "SMS, " if sms else ""
        if sms_batch > 1:
            what = f"{what[:-2]} ×{sms_batch}, "
        out.append((f"{what}{kind}, {w} worker{'s' if w > 1 else ''}", plan,
                    rate, cpu, [x[1] for x in runs]))
    return out


async def _count_queries(url: str, fake: str) -> dict[str, float]:
    """Plan and send every seeded check-in in this process, counting database statements."""
    from collections import Counter

    from tortoise.backends.sqlite.client import SqliteClient

    from bot import db, outbox, planner
    from bot.app import build_channels
    from bot.clock import SystemClock
    from bot.config import settings_from_dict
    from bot.runtime import Runtime
    from models import CheckIn, Message

    counts: Counter[str] = Counter()
    for name in ("execute_query", "execute_insert", "execute_many", "execute_query_dict"):
        orig = getattr(SqliteClient, name)

        def counted(orig: Any) -> Any:
            async def run(self: Any, sql: str, *args: Any, **kw: Any) -> Any:
                counts[sql.split(None, 1)[0].upper()] += 1
                return await orig(self, sql, *args, **kw)
            return run

        setattr(SqliteClient, name, counted(orig))
    await db.init_db(url)
    await CheckIn.filter(lease_owner=HOLD).update(lease_owner=None, lease_until=None)
    counts.clear()
    settings = settings_from_dict({"database": {"url": url}, **FAST,
                                   "simulator": {"enabled": False}, "wechat": {
                                       "app_id": APP_ID, "app_secret": APP_SECRET,
                                       "token": TOKEN, "encoding_aes_key": AES_KEY,
                                       "api_base_url": fake, "template_id": "TEMPLATE-CHECKIN"}})
    rt = Runtime(settings=settings, clock=SystemClock(), channels=build_channels(settings))
    wechat: Any = rt.channels["wechat"]
    await wechat.start()
    try:
        while await planner.open_due(rt) + await outbox.send_due(rt):
            pass
    finally:
        await wechat.close()
    n = await CheckIn.filter(status="opened").count()
    sent = await Message.filter(direction="out", status="sent").count()
    await db.close_db()
    assert n and sent == n, (n, sent)
    return {k: v / n for k, v in counts.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--seed", help=argparse.SUPPRESS)
    ap.add_argument("--fake", help=argparse.SUPPRESS)
    ap.add_argument("--queued-sms", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--serve-fake", help=argparse.SUPPRESS)
    ap.add_argument("--serve-fake-sms", help=argparse.SUPPRESS)
    ap.add_argument("--skip-sms", action="store_true")
    ap.add_argument("--only-sms", action="store_true", help="just the SMS scenario")
    ap.add_argument("--sms-batch", type=int, default=100,
                    help="[sms] batch_size of the SendBatchSms scenarios (1: none)")
    ap.add_argument("--skip-postgres", action="store_true")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run each scenario this many times; print the median (and each run)")
    ap.add_argument("--count-queries", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve_fake:
        asyncio.run(_serve_fake(Path(args.serve_fake)))
        return
    if args.serve_fake_sms:
        asyncio.run(_serve_fake_sms(Path(args.serve_fake_sms)))
        return
    if args.seed:
        print(json.dumps(asyncio.run(_seed(args.seed, args.fake, args.n, args.queued_sms))))
        return
    if args.count_queries:
        print(json.dumps(asyncio.run(_count_queries(args.count_queries, args.fake))))
        return

    tmp = Path(tempfile.mkdtemp(prefix="survey-bench-"))
    port_file = tmp / "fake-url"
    fake_proc = subprocess.Popen([sys.executable, __file__, "--serve-fake", str(port_file)],
                                 cwd=ROOT)
    sms_port_file = tmp / "fake-sms-url"
    sms_proc = None if args.skip_sms else subprocess.Popen(
        [sys.executable, __file__, "--serve-fake-sms", str(sms_port_file)], cwd=ROOT)
    pg = None
    sms_rows: list[tuple[str, float, float, dict[str, float], list[float]]] = []
    sms_raw = 0.0
    try:
        while not port_file.exists() or not port_file.read_text():
            time.sleep(0.05)
        fake = port_file.read_text()
        raw = asyncio.run(_raw_rate(fake, args.n))
        qurl = f"sqlite://{tmp}/queries.sqlite3"
        py = [sys.executable, __file__, "--fake", fake]
        subprocess.run([*py, "--seed", qurl, "--n", "1000"], cwd=ROOT, check=True,
                       capture_output=True)
        queries = json.loads(subprocess.run(
            [*py, "--count-queries", qurl], cwd=ROOT, check=True, capture_output=True,
            text=True).stdout.strip().splitlines()[-1])
        rows = [] if args.only_sms else _scenario("sqlite", fake, args.n, [1], None, tmp,
                                                   fake_proc.pid, args.rounds)
        if not args.skip_postgres:
            from tests import pgcluster

            pg = pgcluster.start()
            if not args.only_sms:
                rows += _scenario("postgres", fake, args.n, [1, 3], pg, tmp, fake_proc.pid,
                                  args.rounds)
            if sms_proc is not None:
                while not sms_port_file.exists() or not sms_port_file.read_text():
                    time.sleep(0.05)
                sms_fake = sms_port_file.read_text()
                sms_raw = asyncio.run(_raw_sms_rate(sms_fake, args.n))
                sms_rows = _scenario("postgres", sms_fake, args.n, [1], pg, tmp, sms_proc.pid,
                                     args.rounds, sms=True)
                # The outbox alone: the check-ins opened beforehand, their SMS queued.
                sms_rows += _scenario("postgres", sms_fake, args.n, [1], pg, tmp,
                                      sms_proc.pid, args.rounds, sms=True, queued=True)
                if args.sms_batch > 1:
                    # The same with SendBatchSms ([sms] batch_size), beside the single path
                    # above; one and three workers.
                    for queued in (False, True):
                        sms_rows += _scenario("postgres", sms_fake, args.n, [1, 3], pg, tmp,
                                              sms_proc.pid, args.rounds, sms=True,
                                              queued=queued, sms_batch=args.sms_batch)
    finally:
        for proc in (fake_proc, sms_proc):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=10)
        if pg is not None:
            pg.stop()
    print(f"\nsurvey-bot dispatch benchmark: {args.n} check-ins, {os.cpu_count()} cores")
    print(f"{'fake WeChat API, raw custom sends':40} {raw:10,.0f} /s   (the ceiling)")
    print(f"{'scenario':28} {'planned/s':>10} {'sent/s':>8} {'of raw':>7}   "
          "CPU s per 1,000 check-ins: workers (→ per worker-core/s), fake, PostgreSQL")
    for name, plan, rate, cpu, rates in rows:
        per_core = 1000 / cpu["workers"] if cpu.get("workers") else float("nan")
        pg_cpu = f"{cpu['postgres']:6.2f}" if "postgres" in cpu else "     -"
        each = f"   runs: {', '.join(f'{r:,.0f}' for r in rates)}" if len(rates) > 1 else ""
        print(f"{name:28} {plan:10,.0f} {rate:8,.0f} {rate / raw:7.0%}   "
              f"{cpu.get('workers', 0):6.2f} (→ {per_core:5,.0f}/s)  {cpu.get('fake', 0):6.2f}"
              f"  {pg_cpu}{each}")
    if sms_rows:
        print(f"{'fake Aliyun, raw signed SendSms':40} {sms_raw:10,.0f} /s   ({SMS_THREADS} at "
              f"once, each answered in {SMS_LATENCY * 1000:.0f} ms: the SMS ceiling)")
        for name, plan, rate, cpu, rates in sms_rows:
            per_core = 1000 / cpu["workers"] if cpu.get("workers") else float("nan")
            pg_cpu = f"{cpu['postgres']:6.2f}" if "postgres" in cpu else "     -"
            each = f"   runs: {', '.join(f'{r:,.0f}' for r in rates)}" if len(rates) > 1 else ""
            print(f"{name:36} {plan:10,.0f} {rate:8,.0f} {rate / sms_raw:7.0%}   "
                  f"{cpu.get('workers', 0):6.2f} (→ {per_core:5,.0f}/s)  "
                  f"{cpu.get('fake', 0):6.2f}  {pg_cpu}{each}")
    if args.rounds > 1:
        print(f"(each scenario run {args.rounds} times on a fresh database; the run of median "
              "rate is shown)")
    total = sum(queries.values())
    detail = ", ".join(f"{k} {v:.3f}" for k, v in sorted(queries.items()))
    print(f"database statements per check-in (open + send, SQLite, in-process): {total:.2f}"
          f" ({detail})")
    print("goals: ≥ 1,000/s on SQLite; ≥ 3,000/s with 3 workers on PostgreSQL, and 3 workers "
          "at least as fast as 1 with CPU per 1,000 within 1.2×; SMS ≥ 1,000/s per process "
          "with a 50 ms provider")


if __name__ == "__main__":
    main()
