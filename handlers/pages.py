"""Health and index (staff workspace: handlers/staff.py; dashboard: handlers/dashboard.py)."""

from __future__ import annotations

from aiohttp import web
from tortoise import connections

from bot.keys import RUNTIME
from handlers.render import render


async def healthz(request: web.Request) -> web.Response:
    """Liveness and database reachability."""
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception as e:
        return web.json_response({"status": "error", "database": type(e).__name__}, status=503)
    rt = request.app[RUNTIME]
    return web.json_response({"status": "ok", "database": "ok", **rt.describe()})


async def index(request: web.Request) -> web.Response:
    """Links to the three pages."""
    return render(request, "index.html", org=request.app[RUNTIME].settings.org.name)
