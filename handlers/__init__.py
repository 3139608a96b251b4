"""The HTTP edge: verify, translate to domain calls, translate domain errors to HTTP."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from handlers import (
    api,
    dashboard,
    h5,
    metrics,
    pages,
    simulator,
    sms,
    staff,
    staff_live,
    validate,
    wechat,
)

STATIC = Path(__file__).parent / "static"


def setup_routes(app: web.Application) -> None:
    """Register every route of the application (and the last-resort error middleware)."""
    app.middlewares.insert(0, validate.edge_middleware)
    setup_health_routes(app)
    app.router.add_get("/", pages.index)
    dashboard.setup(app)  # /tallies, drill-down, exports, monthly report
    app.router.add_post("/api/episodes", api.post_episodes)
    simulator.setup(app)
    staff_live.setup(app)  # before staff: its error pages wrap the CSRF check too
    staff.setup(app)
    wechat.setup(app)
    sms.setup(app)
    h5.setup(app)
    app.router.add_static("/static", STATIC, append_version=False)


def setup_health_routes(app: web.Application) -> None:
    """``/healthz`` and ``/metrics``: on the web app, and alone on a worker's health server."""
    app.router.add_get("/healthz", pages.healthz)
    app.router.add_get("/metrics", metrics.metrics)
