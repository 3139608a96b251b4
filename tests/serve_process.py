"""``survey-bot serve`` as a real process: start it, read its log as it runs, stop it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
# Straight to the local server, whatever proxy the environment names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """A port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, db_url: str, **sections: dict[str, Any]) -> Path:
    """A TOML file: the test database, the simulator, check-ins due at once at any hour."""
    data: dict[str, dict[str, Any]] = {
        "database": {"url": db_url},
        "simulator": {"enabled": True},
        "schedules": {"default": ["0h"]},
        "send_window": {"enabled": False},
        "worker": {"poll_interval_seconds": 0.2},
        "api": {"keys": ["test-key-0123456789"]},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    lines = []
    for name, values in data.items():
        lines.append(f"[{name}]")
        for key, value in values.items():
            lines.append(f"{key} = {_toml(value)}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def env() -> dict[str, str]:
    """The environment a user has: no SURVEYBOT_* settings, the repository importable."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYBOT_")}
    return {**base, "PYTHONPATH": str(ROOT)}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A ``survey-bot`` command run to its end."""
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env(),
                          capture_output=True, text=True, timeout=120, check=False)


def visits_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    """An import file with ``rows``, each occurring now (Shanghai time)."""
    now = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    cols = ["external_id", "person_name", "contact_name", "relation", "contact_phone",
            "occurred_at", "department", "department_name"]
    lines = [",".join(cols)] + [",".join({**r, "occurred_at": now}.get(c, "") for c in cols)
                                for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Server:
    """A running ``survey-bot serve``; its standard error collected line by line."""

    def __init__(self, *args: str, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *args], cwd=cwd, env=env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.err: list[str] = []
        self.out: list[str] = []
        self._threads = [threading.Thread(target=self._read, args=(s, lines), daemon=True)
                         for s, lines in ((self.proc.stderr, self.err),
                                          (self.proc.stdout, self.out))]
        for t in self._threads:
            t.start()

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def wait_for(self, check: Callable[[list[str]], Any], timeout: float = 60) -> Any:
        """Until ``check(stderr lines)`` is truthy (the process must keep running)."""
        deadline = time.monotonic() + timeout
        while True:
            found = check(list(self.err))
            if found:
                return found
            assert self.proc.poll() is None, "\n".join(self.err)
            assert time.monotonic() < deadline, "\n".join(self.err)
            time.sleep(0.1)

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; its exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise
        for t in self._threads:
            t.join(timeout=10)
        return code


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """Status and text of a GET (an HTTP error status is returned, not raised)."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with _OPENER.open(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def post(url: str, body: bytes, content_type: str,
         headers: dict[str, str] | None = None) -> tuple[int, str]:
    """Status and text of a POST."""
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": content_type, **(headers or {})})
    try:
        with _OPENER.open(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def poll(check: Callable[[], Any], timeout: float = 60) -> Any:
    """Until ``check()`` is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, f"condition not met within {timeout}s"
        time.sleep(0.2)
