"""Who is asking: the staff member behind a request, and role checks.

Skeleton version: with ``[web] staff_token`` empty every page is open (the embedded demo) and
no staff member is known; with a token set, the token is required. The staff workspace
replaces this with accounts, sessions and roles, keeping these two functions' contracts.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable

from aiohttp import web

from bot.keys import RUNTIME
from models import Role, Staff


async def current_staff(request: web.Request) -> Staff | None:
    """The signed-in staff member, or None."""
    return None


async def require_staff(request: web.Request, roles: Iterable[Role] | None = None) -> Staff | None:
    """Allow the request or raise 401/403.

    Returns the staff member (None only while the demo is open to everyone). Callers scope
    what they show by the member's role and departments.
    """
    staff = await current_staff(request)
    if staff is not None:
        if roles is not None and staff.role not in set(roles):
            raise web.HTTPForbidden(text="your role may not open this page")
        return staff
    token = request.app[RUNTIME].settings.web.staff_token
    if not token:
        return None
    given = request.query.get("token") or request.cookies.get("staff_token") or ""
    if not hmac.compare_digest(given.encode(), token.encode()):
        raise web.HTTPUnauthorized(text="staff token required: add ?token=… to the URL")
    return None
