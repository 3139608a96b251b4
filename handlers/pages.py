"""Health and index (staff workspace: handlers/staff.py; dashboard: handlers/dashboard.py)."""

from __future__ import annotations

from aiohttp import web
from tortoise import connections

from bot.channels import pause
from bot.keys import RUNTIME
from handlers.render import render


async def healthz(request: web.Request) -> web.Response:
    """Liveness, database reachability and paused channels.

    A paused channel (our own credentials or set-up are wrong; messages wait) makes the status
    ``degraded`` with HTTP 200: this process is healthy and must keep taking webhooks and
    staff requests, so a load balancer must not drop it. ``?strict=1`` answers 503 while any
    channel is paused, for a monitor that reads only status codes.
    """
    rt = request.app[RUNTIME]
    try:
        await connections.get("default").execute_query("SELECT 1")
        pauses = await pause.active(rt.now())
    except Exception as e:
        return web.json_response({"status": "error", "database": type(e).__name__}, status=503)
    body = {"status": "degraded" if pauses else "ok", "database": "ok", **rt.describe(),
            "paused": [p.describe() for p in pauses]}
    strict = request.query.get("strict", "") not in ("", "0", "false")
    return web.json_response(body, status=503 if pauses and strict else 200)


async def index(request: web.Request) -> web.Response:
    """Links to the three pages."""
    return render(request, "index.html", org=request.app[RUNTIME].settings.org.name)
