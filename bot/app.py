"""The application factory: ``create_app(settings)`` builds the web app and its resources."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bot import db, outbox
from bot.channels.base import Channel, ManagedChannel
from bot.channels.h5 import H5PageChannel
from bot.channels.simulator import SimulatorChannel
from bot.channels.sms_aliyun import AliyunSmsChannel
from bot.channels.voice_aliyun import AliyunVoiceChannel
from bot.channels.wechat import WechatChannel
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.keys import RUNTIME
from bot.loops import start_loops, stop_loops
from bot.observability import logs
from bot.runtime import Runtime
from bot.wakeups import Wakeups
from surveys import native

log = logging.getLogger(__name__)


def build_channels(settings: Settings, clock: Clock | None = None) -> dict[str, Channel]:
    """The channel adapters this configuration enables."""
    channels: dict[str, Channel] = {}
    if settings.simulator.enabled:
        channels["simulator"] = SimulatorChannel(settings.simulator.latency_ms)
    if settings.sms.access_key_id:
        channels["sms"] = AliyunSmsChannel(settings, clock)
    if settings.voice.access_key_id:
        channels["voice"] = AliyunVoiceChannel(settings, clock)
    # Answers given on the H5 survey page are read on that page: always available.
    channels["h5"] = H5PageChannel()
    if settings.wechat.app_id:
        wechat = WechatChannel(settings, clock)
        channels["wechat"] = wechat
        wechat.peers = set(channels)  # fallbacks it may name (SMS)
    return channels


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    channels: dict[str, Channel] | None = None,
    run_loops: bool | None = None,
    migrate: bool | None = None,
) -> web.Application:
    """Build the application. ORM, client sessions and loops start in ``cleanup_ctx``.

    ``run_loops`` defaults to the configured role (worker or all); ``migrate`` defaults to
    true on SQLite (embedded, one process) and false on PostgreSQL (run ``survey-bot migrate``).
    """
    from handlers import setup_routes  # the HTTP edge depends on bot, not the other way

    clock = clock or SystemClock()
    rt = Runtime(settings=settings, clock=clock,
                 channels=channels if channels is not None else build_channels(settings, clock))
    logs.set_worker(rt.worker_id)  # every log line of this process names it
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app[RUNTIME] = rt
    url = settings.database.url
    do_migrate = url.startswith("sqlite://") if migrate is None else migrate
    loops = settings.server.role in ("worker", "all") if run_loops is None else run_loops

    async def orm_ctx(app: web.Application) -> AsyncIterator[None]:
        db.check_sqlite_folder(url)
        if do_migrate:
            await db.migrate(url)
            await db.close_db()
        await db.init_db(url)
        if not do_migrate:
            pending = await db.pending_migrations(url)
            if pending:
                await db.close_db()
                raise db.DatabaseNotReady(
                    f"the database {db.describe_url(url)} is not migrated ({len(pending)} "
                    f"pending: {', '.join(pending)}): run `survey-bot migrate` first")
        # Said once each way (tortoise's own lines come at every open and close: dropped).
        log.info("database %s open", db.describe_url(url))
        yield
        await db.close_db()
        log.info("database closed")

    async def channels_ctx(app: web.Application) -> AsyncIterator[None]:
        # Channels with resources (HTTP sessions, thread pools) open and close with the app.
        managed = [c for c in rt.channels.values() if isinstance(c, ManagedChannel)]
        for c in managed:
            await c.start()
        yield
        for c in reversed(managed):
            await c.close()

    async def wakeups_ctx(app: web.Application) -> AsyncIterator[None]:
        # PostgreSQL: wakes travel between processes (web -> workers, worker -> worker).
        wakeups = Wakeups(rt)
        try:
            await wakeups.start()
        except Exception:
            log.warning("LISTEN/NOTIFY unavailable; processes find each other's work by "
                        "polling every %.1f s", settings.worker.poll_interval_seconds,
                        exc_info=True)
        yield
        await wakeups.close()

    async def loops_ctx(app: web.Application) -> AsyncIterator[None]:
        running = start_loops(rt) if loops else None
        yield
        if running is not None:
            await stop_loops(running)
        try:
            await outbox.release_handoff(rt)
        except Exception:
            log.warning("could not release this worker's untaken messages; their leases "
                        "expire and another worker sends them", exc_info=True)

    if not native.compiled():
        log.info("reply parser: running from source (%s); `make native` compiles it, about "
                 "1.5 times as fast", native.toolchain_missing() or "not compiled")
    for warning in rt.calendar.warnings(rt.local(rt.now()).date()):
        log.warning("%s", warning)
    if not any(name in rt.channels for name in settings.channels.order):
        log.warning("no channel in [channels] order is configured (%s): check-ins cannot be "
                    "sent; configure [wechat], [sms] or [voice], or enable [simulator] for a demo",
                    ", ".join(settings.channels.order))

    app.cleanup_ctx.append(orm_ctx)
    app.cleanup_ctx.append(channels_ctx)
    app.cleanup_ctx.append(wakeups_ctx)
    app.cleanup_ctx.append(loops_ctx)
    app.cleanup_ctx.append(_frozen_heap)
    setup_routes(app)
    return app


async def _frozen_heap(app: web.Application) -> AsyncIterator[None]:
    """Once started, leave what start-up built (modules, settings, the ORM, templates: some
    hundred thousand objects) out of the garbage collector's full passes. A request that
    builds thousands of objects (a clinician × week tally page) otherwise triggers full passes
    over all of them: 45 of its 150 ms of CPU at a million answers (bench/tallies.py)."""
    gc.freeze()
    yield
    gc.unfreeze()


def create_health_app(rt: Runtime) -> web.Application:
    """A worker's own small server: ``/healthz`` and ``/metrics`` about this process.

    Its resources (ORM, loops) belong to the worker's main application, which runs beside it
    without listening (see :mod:`bot.serve`).
    """
    from handlers import setup_health_routes

    app = web.Application()
    app[RUNTIME] = rt
    setup_health_routes(app)
    return app
