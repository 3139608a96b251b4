"""Commands that run the product: serve (web, worker or both), migrate, demo.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from bot import db
from bot import serve as serving
from bot.app import create_app
from bot.cli.common import configure_logging_for, log, runtime_for, settings_for
from bot.config import (
    DEMO_DATABASE_URL,
    Settings,
)


def _print_urls(settings: Settings, demo: bool) -> None:
    base = settings.server.base_url()
    lines = [
        "",
        f"  回访机器人 is running on {base}",
        f"    patient phone simulator  {base}/simulator",
        f"    staff queue              {base}/staff/queue",
        f"    satisfaction tallies     {base}/tallies",
        f"    health                   {base}/healthz",
    ]
    if demo:
        lines.append("  Open the simulator, pick a contact, answer the check-in (e.g. "
                     "\"2 护士态度不好\"), then sign in to the staff queue (agent / "
                     "demo-agent-1) and claim it.")
    lines.append("  Press Ctrl+C to stop.\n")
    print("\n".join(lines), flush=True)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the web server and/or the background workers."""
    settings = settings_for(args)
    server = {k: v for k, v in (("role", args.role), ("metrics_port", args.metrics_port))
              if v is not None}
    if server:
        settings = settings.model_copy(
            update={"server": settings.server.model_copy(update=server)})
    configure_logging_for(settings, args)
    if args.metrics_port is not None and settings.server.role != "worker":
        log.warning("--metrics-port is for workers: role %s serves /healthz and /metrics on "
                    "port %d", settings.server.role, settings.server.port)
    app = create_app(settings)
    if settings.server.role == "worker":
        def ready(port: int) -> None:
            print(f"survey-bot worker running (planner, dispatcher, outbox); health and "
                  f"metrics on http://{settings.server.host}:{port}/healthz and /metrics; "
                  "Ctrl+C to stop", flush=True)

        return _run(app, settings, ready)
    return _run(app, settings, lambda port: _print_urls(settings, demo=False))


def _run(app: web.Application, settings: Settings, on_ready: Callable[[int], None]) -> int:
    try:
        serving.run(app, settings, on_ready)
    except serving.ListenError as e:
        print(str(e), file=sys.stderr)
        return 2
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply pending migrations."""
    settings = settings_for(args)

    async def run() -> None:
        await db.migrate(settings.database.url)
        await db.close_db()

    asyncio.run(run())
    print("migrations applied")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Seed sample data into the demo database and serve it with the simulator."""
    from bot import demo

    settings = settings_for(args)
    if not settings.simulator.enabled:  # the demo is answered in the simulator
        settings = settings.model_copy(
            update={"simulator": settings.simulator.model_copy(update={"enabled": True})})
    if args.fresh and settings.database.url == DEMO_DATABASE_URL:
        # Only ever the demo's own file: a configured database is never deleted.
        demo_file = DEMO_DATABASE_URL.removeprefix("sqlite://")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{demo_file}{suffix}").unlink(missing_ok=True)

    async def seed() -> None:
        async with db.database(settings.database.url):
            result = await demo.seed(runtime_for(settings))
            print(f"demo data: {result.created} visits created, {result.checkins_planned} "
                  "check-ins planned", flush=True)
            accounts = await demo.seed_staff()
            print("demo staff (sign in at /staff/login):", flush=True)
            for username, role, password in accounts:
                print(f"    {role:<8} {username:<6} password {password}", flush=True)

    asyncio.run(seed())
    configure_logging_for(settings, args)
    app = create_app(settings)
    return _run(app, settings, lambda port: _print_urls(settings, demo=True))
