"""A worker process as an operator runs it: ``survey-bot serve --role worker --metrics-port N``.

It says once that it is ready (its id, role and port), answers /healthz and /metrics on its
own port (and nothing else anywhere), counts the check-in it sends, logs probes and scrapes
only at DEBUG, and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.runtime import Waker
from tests.serve_process import Server, cli, free_port, get, poll, visits_csv, write_config

VISIT = {"external_id": "W-1", "person_name": "司马光", "contact_phone": "13711112222",
         "department": "ent", "department_name": "耳鼻喉科"}


def sent_checkins(port: int) -> float:
    status, text = get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if (s.name == "surveybot_messages_sent_total"
                    and s.labels == {"channel": "simulator", "kind": "checkin"}):
                return s.value
    return 0.0


def test_worker_is_ready_healthy_counted_and_stops_cleanly(db_url: str, tmp_path: Path) -> None:
    web_port, port = free_port(), free_port()
    cfg = write_config(tmp_path / "c.toml", db_url, server={"port": web_port})
    worker = Server("--config", str(cfg), "serve", "--role", "worker", "--metrics-port",
                    str(port), cwd=tmp_path)
    try:
        ready = worker.wait_for(lambda lines: [x for x in lines if " ready: " in x])
        m = re.search(r"ready: worker (\S+), role worker, health and metrics on "
                      rf"http://127\.0\.0\.1:{port}$", ready[0])
        assert m, ready
        worker_id = m.group(1)
        assert any(f"127.0.0.1:{port}/healthz" in x for x in worker.out)

        status, body = get(f"http://127.0.0.1:{port}/healthz")
        health = json.loads(body)
        assert status == 200 and health["status"] == "ok" and health["database"] == "ok"
        assert health["worker"] == worker_id and health["role"] == "worker"
        assert sent_checkins(port) == 0
        # A worker serves no pages: the web port is not listening, the health server has
        # only its two routes.
        try:
            get(f"http://127.0.0.1:{web_port}/healthz")
            raise AssertionError("a worker must not listen on the web port")
        except OSError:
            pass
        assert get(f"http://127.0.0.1:{port}/simulator")[0] == 404

        # A visit imported now: the worker opens its check-in and sends it.
        out = cli("--config", str(cfg), "import",
                  str(visits_csv(tmp_path / "v.csv", [VISIT])), cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert poll(lambda: sent_checkins(port) == 1)

        # A second worker on the same port says why it cannot start.
        other = cli("--config", str(cfg), "serve", "--role", "worker", "--metrics-port",
                    str(port), cwd=tmp_path)
        assert other.returncode == 2, other.stderr
        assert f"cannot listen on 127.0.0.1:{port}" in other.stderr
        assert "Traceback" not in other.stderr
    finally:
        code = worker.stop()
    assert code == 0, "\n".join(worker.err)
    err = worker.err
    assert len([x for x in err if " ready: " in x]) == 1
    assert len([x for x in err if x.endswith(" open") and "database" in x]) == 1
    assert len([x for x in err if x.endswith("database closed")]) == 1
    assert not [x for x in err if "Tortoise-ORM" in x]
    # Probes and scrapes are DEBUG (not shown at INFO); other requests are INFO.
    access = [x for x in err if "aiohttp.access" in x]
    assert not [x for x in access if "/healthz" in x or "/metrics" in x], access
    assert [x for x in access if "GET /simulator 404" in x], access
    assert "13711112222" not in "\n".join(err) and "司马光" not in "\n".join(err)


def test_metrics_port_zero_picks_a_free_one(db_url: str, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.toml", db_url, server={"metrics_port": 0})
    worker = Server("--config", str(cfg), "serve", "--role", "worker", cwd=tmp_path)
    try:
        ready = worker.wait_for(lambda lines: [x for x in lines if " ready: " in x])
        port = int(ready[0].rsplit(":", 1)[1])
        assert port > 0
        assert json.loads(get(f"http://127.0.0.1:{port}/healthz")[1])["role"] == "worker"
    finally:
        assert worker.stop() == 0


async def test_a_loop_woken_as_it_is_stopped_stops() -> None:
    # A stop (task.cancel) and a wake in the same turn of the event loop: the sleeping loop
    # must end cancelled. asyncio.wait_for on Python 3.11 returned normally here, and a
    # worker told to stop ran on forever.
    waker = Waker()
    task = asyncio.create_task(waker.wait(10))
    await asyncio.sleep(0)
    waker.wake_local()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_a_bad_metrics_port_is_refused_plainly(tmp_path: Path) -> None:
    out = cli("serve", "--role", "worker", "--metrics-port", "70000", cwd=tmp_path)
    assert out.returncode == 2
    assert "'70000' is not a port number (0-65535)" in out.stderr
    assert "Traceback" not in out.stderr
