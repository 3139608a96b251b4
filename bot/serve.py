"""Running a server process: the application, a worker's health server, signals, "ready".

``web`` and ``all`` listen on ``[server] host:port`` (``/metrics`` included); a ``worker``
runs the same application without listening (its loops, ORM and channels) and a small server
with ``/healthz`` and ``/metrics`` on ``[server] metrics_port`` (0: any free port). Once
listening, the process logs one line, ``ready: …``, with its worker id, role and port.
SIGINT and SIGTERM stop it cleanly: loops stopped, handed-off messages released, database
closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from bot.app import create_health_app
from bot.config import Settings
from bot.keys import RUNTIME
from bot.observability import AccessLog

log = logging.getLogger("survey-bot")


class ListenError(Exception):
    """The server could not listen where configured; the message says where and why."""


def run(app: web.Application, settings: Settings,
        on_ready: Callable[[int], None] | None = None) -> None:
    """Serve ``app`` in its configured role until SIGINT or SIGTERM."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(app, settings, on_ready=on_ready))


async def serve(app: web.Application, settings: Settings, *,
                on_ready: Callable[[int], None] | None = None,
                stop: asyncio.Event | None = None) -> None:
    """Start, say ready, wait for ``stop`` (or a signal), clean up."""
    rt = app[RUNTIME]
    role = settings.server.role
    host = settings.server.host
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
    main = web.AppRunner(app, access_log_class=AccessLog, shutdown_timeout=10.0)
    runners = [main]
    try:
        await main.setup()  # database, channels, loops
        if role == "worker":
            health = web.AppRunner(create_health_app(rt), access_log_class=AccessLog,
                                   shutdown_timeout=5.0)
            runners.append(health)
            await health.setup()
            wanted = settings.server.metrics_port
            site = web.TCPSite(health, host, wanted)
        else:
            wanted = settings.server.port
            site = web.TCPSite(main, host, wanted)
        try:
            await site.start()
        except OSError as e:
            raise ListenError(f"cannot listen on {host}:{wanted}: {e.strerror or e}") from e
        port = int(runners[-1].addresses[0][1])
        what = "health and metrics" if role == "worker" else "HTTP"
        log.info("ready: worker %s, role %s, %s on http://%s:%d", rt.worker_id, role, what,
                 host, port, extra={"event": "ready", "role": role, "host": host,
                                    "port": port})
        if on_ready is not None:
            on_ready(port)
        await stop.wait()
        log.info("stopping: worker %s", rt.worker_id, extra={"event": "stopping"})
    finally:
        for runner in reversed(runners):
            await runner.cleanup()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)
