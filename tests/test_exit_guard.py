"""A test run ends after its summary even when a test leaves a thread behind.

Each case runs pytest in its own process on a small test file that leaks: an aiosqlite
connection kept open in a module global (its worker thread is not a daemon), or a plain thread
blocked for good.  Without the guard (tests/exit_guard.py) the process never exits; with it,
the process ends promptly with the tests' own status and names what it stopped.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LEAKS = {
    "aiosqlite": ("""
        import aiosqlite
        KEPT = []

        async def test_leaves_a_connection_open(tmp_path):
            KEPT.append(await aiosqlite.connect(tmp_path / "x.sqlite3"))
        """, "still open at the end; stopped. Opened by: test_leak.py::"
             "test_leaves_a_connection_open"),
    "thread": ("""
        import threading
        FOREVER = threading.Event()

        def test_leaves_a_thread_waiting():
            threading.Thread(target=FOREVER.wait, name="waits-forever").start()
        """, "thread 'waits-forever' still running at exit"),
}


@pytest.mark.parametrize("kind", LEAKS)
@pytest.mark.parametrize("passing", [True, False])
def test_a_leaked_thread_does_not_hold_the_run_open(tmp_path: Path, kind: str,
                                                     passing: bool) -> None:
    body, named = LEAKS[kind]
    code = textwrap.dedent(body) + ("" if passing else "\n\ndef test_fails():\n    assert 0\n")
    (tmp_path / "test_leak.py").write_text(code, encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.exit_guard", "-p", "no:cacheprovider",
         "-o", "asyncio_mode=auto", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == (0 if passing else 1), out.stdout + out.stderr
    assert named in out.stderr, out.stderr
