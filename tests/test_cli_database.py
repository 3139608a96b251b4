"""Every command uses one database, says which, and works on a fresh one.

Driven as a user drives it: the ``survey-bot`` console script in a subprocess, in a working
folder of its own, with no configuration file unless the test writes one.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BACKEND

ROOT = Path(__file__).resolve().parent.parent
_fresh = itertools.count()


def run(*args: str, cwd: Path, env: dict[str, str] | None = None,
        stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``survey-bot ARGS`` as a user types it: only the environment given, no SURVEYBOT_*."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYBOT_")}
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, input=stdin,
                          env={**base, **(env or {})}, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture
def fresh_db_url(_template: Any, tmp_path: Path) -> Iterator[str]:
    """A database nothing has ever touched: not migrated, no tables."""
    if BACKEND == "postgres":
        name = f"sb_fresh_{os.getpid()}_{next(_fresh)}"
        _template.psql(f"CREATE DATABASE {name}")
        yield _template.url(name)
        _template.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    else:
        yield f"sqlite://{tmp_path / 'fresh.sqlite3'}"


VISITS = ("external_id,person_name,contact_phone,occurred_at,department\n"
          "CLI-1,钱七,13800007777,2026-11-16 09:00,ent\n")

# Every command that reads or writes records, with what it needs.
COMMANDS: list[tuple[str, ...]] = [
    ("report", "--period", "2026-12"),
    ("sms-resume",),
    ("verify",),
    ("rebuild-tallies",),
    ("staff", "add", "root", "--password-stdin"),
    ("import", "visits.csv"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_a_fresh_database_never_ends_in_a_traceback(command: tuple[str, ...], fresh_db_url: str,
                                                    tmp_path: Path) -> None:
    (tmp_path / "visits.csv").write_text(VISITS, encoding="utf-8")
    env = {"SURVEYBOT_DATABASE__URL": fresh_db_url}
    out = run(*command, cwd=tmp_path, env=env, stdin="a-long-password-1\n")
    assert "Traceback" not in out.stderr, out.stderr
    first = out.stderr.splitlines()[0]
    assert first.startswith(f"survey-bot {command[0]}: database "), out.stderr
    if BACKEND == "sqlite":
        # The embedded database is migrated by whichever command comes first.
        assert out.returncode == 0, out.stdout + out.stderr
    else:
        # PostgreSQL is migrated by the operator: the command says so and changes nothing.
        assert out.returncode == 2, out.stdout + out.stderr
        assert "not migrated" in out.stderr and "survey-bot migrate" in out.stderr
        assert run("migrate", cwd=tmp_path, env=env).returncode == 0
        again = run(*command, cwd=tmp_path, env=env, stdin="a-long-password-1\n")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "Traceback" not in again.stderr


def test_the_database_line_hides_the_password(tmp_path: Path) -> None:
    url = "postgres://surveybot:s3cret-pw@127.0.0.1:1/nowhere"
    out = run("verify", cwd=tmp_path, env={"SURVEYBOT_DATABASE__URL": url})
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "s3cret-pw" not in out.stderr + out.stdout
    assert out.stderr.splitlines()[0] == (
        "survey-bot verify: database postgres://surveybot:***@127.0.0.1:1/nowhere "
        "(built-in demo settings + SURVEYBOT_* environment variables)")
    assert "cannot open the database" in out.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return str(r.read().decode())


@pytest.mark.skipif(BACKEND != "sqlite", reason="the demo always runs on SQLite")
def test_an_import_while_the_demo_runs_lands_in_the_demo(tmp_path: Path) -> None:
    port = _free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYBOT_")}
    env = {**base, "PYTHONPATH": str(ROOT), "SURVEYBOT_SERVER__PORT": str(port)}
    demo = subprocess.Popen([sys.executable, "-m", "bot.cli", "demo", "--fresh"], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                assert demo.poll() is None, demo.communicate()[1]
                assert time.monotonic() < deadline, "the demo did not start"
                time.sleep(0.2)
        assert "钱七" not in _get(f"http://127.0.0.1:{port}/simulator")
        (tmp_path / "visits.csv").write_text(VISITS, encoding="utf-8")
        out = run("import", "visits.csv", cwd=tmp_path)
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stderr.splitlines()[0] == (
            "survey-bot import: database sqlite://survey-bot-demo.sqlite3 "
            "(built-in demo settings)")
        assert "钱七" in _get(f"http://127.0.0.1:{port}/simulator")
    finally:
        demo.terminate()
        demo.wait(timeout=30)
    assert not (tmp_path / "survey-bot.sqlite3").exists()
