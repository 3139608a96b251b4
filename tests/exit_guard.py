"""The test process ends when its tests have: no thread left behind may hold it open.

Python joins every non-daemon thread before it exits.  aiosqlite (0.22 on) runs each
connection on such a thread, which ends only when the connection is closed or collected, and a
connection left in a reference cycle or a library's context is collected only when the
collector next runs -- so a suite that passed could sit after its summary until CI killed it (it
did once, after "4947 passed").  At the end of the session this plugin collects garbage, stops
the worker of any aiosqlite connection still open (naming each on stderr, so the leak can be
found), and waits a while for the other non-daemon threads.  If any is still alive it names them
with their stacks and ends the process with the session's own exit status, instead of hanging.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import traceback

import aiosqlite
import pytest

_JOIN_SECONDS = 10.0  # a thread finishing its last work (a subprocess with a timeout, say)
_status: list[int] = [0]
_test: list[str] = ["(outside any test)"]  # the test running now, to name a leak's maker
_ORIGINAL_INIT = aiosqlite.Connection.__init__


def _init_and_record(self: aiosqlite.Connection, *args: object, **kwargs: object) -> None:
    """aiosqlite's own ``__init__``, remembering which test opened the connection."""
    _ORIGINAL_INIT(self, *args, **kwargs)  # type: ignore[arg-type]
    self._exit_guard_opened_by = _test[0]  # type: ignore[attr-defined]


aiosqlite.Connection.__init__ = _init_and_record  # type: ignore[method-assign]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    """Note the running test (setup, call and teardown) for :func:`_stop_open_connections`."""
    _test[0] = item.nodeid
    yield
    _test[0] = "(between tests)"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remember how the session ended, for an exit that must not wait on stray threads."""
    _status[0] = int(exitstatus)


def _stop_open_connections() -> list[str]:
    """Stop every aiosqlite connection still open; the tests that opened them."""
    gc.collect()  # an unreachable connection stops its worker in __del__
    makers = []
    for obj in gc.get_objects():
        if isinstance(obj, aiosqlite.Connection) and \
                getattr(obj, "_connection", None) is not None:
            obj.stop()
            makers.append(getattr(obj, "_exit_guard_opened_by", "(unknown)"))
    return makers


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Release or name the threads that would keep the process from exiting."""
    makers = _stop_open_connections()
    if makers:
        print(f"\nexit guard: {len(makers)} aiosqlite connection(s) were still open at the "
              f"end; stopped. Opened by: {', '.join(sorted(set(makers)))}", file=sys.stderr)
    others = [t for t in threading.enumerate()
              if t is not threading.main_thread() and not t.daemon and t.is_alive()]
    for t in others:
        t.join(_JOIN_SECONDS / max(1, len(others)))
    stuck = [t for t in others if t.is_alive()]
    if not stuck:
        return
    frames = sys._current_frames()
    for t in stuck:
        stack = "".join(traceback.format_stack(frames[t.ident])) if t.ident in frames else ""
        print(f"\nexit guard: thread {t.name!r} still running at exit:\n{stack}",
              file=sys.stderr)
    sys.stderr.flush()
    sys.stdout.flush()
    os._exit(_status[0])
