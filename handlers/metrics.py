"""``/metrics``: Prometheus text format, for loopback or a bearer token (``[metrics]``).

The figures identify nobody, but volumes and queues are a hospital's business: by default only
a direct request from a loopback address is served (a request relayed by a reverse proxy on
the same host is not direct), and ``[metrics] token`` opens it to a scraper elsewhere.
"""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import web

from bot.config import MetricsConfig
from bot.keys import RUNTIME

# Headers a reverse proxy adds: such a request came from somewhere else, whatever its peer.
FORWARDED = ("Forwarded", "X-Forwarded-For", "X-Real-IP")


def _direct_from_allowed(request: web.Request, cfg: MetricsConfig) -> bool:
    if any(h in request.headers for h in FORWARDED):
        return False
    try:
        ip = ipaddress.ip_address(request.remote or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in cfg.networks())


def _check_access(request: web.Request, cfg: MetricsConfig) -> None:
    auth = request.headers.get("Authorization")
    if cfg.token and auth is not None:
        if hmac.compare_digest(auth.encode(), f"Bearer {cfg.token}".encode()):
            return
        raise web.HTTPUnauthorized(text="wrong token for /metrics ([metrics] token)",
                                   headers={"WWW-Authenticate": "Bearer"})
    if _direct_from_allowed(request, cfg):
        return
    if cfg.token:
        raise web.HTTPUnauthorized(
            text="/metrics needs Authorization: Bearer <[metrics] token>",
            headers={"WWW-Authenticate": "Bearer"})
    raise web.HTTPForbidden(
        text="/metrics is served to direct requests from [metrics] allow (loopback by "
             "default); set [metrics] token to scrape it from elsewhere")


async def metrics(request: web.Request) -> web.Response:
    """This process's counters and the database's queue gauges."""
    rt = request.app[RUNTIME]
    _check_access(request, rt.settings.metrics)
    body, content_type = await rt.metrics.exposition(rt, request.headers.get("Accept", ""))
    return web.Response(body=body, headers={"Content-Type": content_type})
