"""Who is asking: the signed-in staff member behind a request, role checks and CSRF.

Sessions live in the database (``StaffSession``: the cookie holds a random token, the table
its SHA-256), so any process can answer. Every POST under ``/staff/`` must carry the session's
CSRF token in a hidden ``csrf`` field (:func:`csrf_middleware`); the sign-in form, which has no
session yet, uses a double-submit cookie instead.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import quote

from aiohttp import web

from bot import staff as staff_service
from bot.keys import RUNTIME
from handlers.validate import read_form
from models import Role, Staff, StaffSession

SESSION_COOKIE = "sb_session"
LOGIN_CSRF_COOKIE = "sb_login_csrf"
_SESSION_KEY: web.RequestKey[StaffSession | None] = web.RequestKey(
    "staff_session", StaffSession | None  # type: ignore[arg-type]
)


async def current_session(request: web.Request) -> StaffSession | None:
    """The request's live session (looked up once per request), or None."""
    if _SESSION_KEY not in request:
        token = request.cookies.get(SESSION_COOKIE, "")
        request[_SESSION_KEY] = await staff_service.session_for(request.app[RUNTIME], token)
    sess: StaffSession | None = request[_SESSION_KEY]
    return sess


async def current_staff(request: web.Request) -> Staff | None:
    """The signed-in staff member, or None."""
    sess = await current_session(request)
    return sess.staff if sess is not None else None


async def require_staff(request: web.Request, roles: Iterable[Role] | None = None) -> Staff | None:
    """The signed-in member, or raise: a page view goes to the sign-in page, anything else 401.

    With ``roles``, a member whose role is not among them gets 403. Callers scope what they
    show by the member's role and departments (``bot.staff.department_ids``). The return type
    keeps its ``| None`` for callers written against the earlier contract; it is never None.
    """
    staff = await current_staff(request)
    if staff is None:
        if request.method == "GET" and "json" not in request.headers.get("Accept", ""):
            # Back here after signing in; a very long address (a hostile query string) is
            # not carried along: the redirect's header would outgrow what clients read.
            back = request.path_qs if len(request.path_qs) <= 1000 else request.path
            nxt = quote(back, safe="") if len(back) <= 1000 else ""
            raise web.HTTPSeeOther(f"/staff/login?next={nxt}" if nxt else "/staff/login")
        raise web.HTTPUnauthorized(text="sign in first: /staff/login")
    if roles is not None and staff.role not in set(roles):
        raise web.HTTPForbidden(text="your role may not open this page; ask an admin")
    return staff


async def signed_in(request: web.Request, roles: Iterable[Role] | None = None) -> Staff:
    """Like :func:`require_staff`, typed as never None (for this package's own pages)."""
    staff = await require_staff(request, roles)
    assert staff is not None
    return staff


async def csrf_token(request: web.Request) -> str:
    """The token forms on this page must carry."""
    sess = await current_session(request)
    return sess.csrf_token if sess is not None else ""


def login_csrf(request: web.Request) -> str:
    """The sign-in form's token (double-submit cookie): the cookie's, or a new one."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)


def set_login_csrf(request: web.Request, response: web.StreamResponse, token: str) -> None:
    """Remember the sign-in form's token in its cookie when it is new."""
    if request.cookies.get(LOGIN_CSRF_COOKIE) != token:
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict",
                            path="/staff/login")


def _same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a POST under /staff/ whose form lacks the session's CSRF token."""
    if request.method == "POST" and request.path.startswith("/staff/"):
        form = await read_form(request)
        given = form.get("csrf", "")
        if request.path == "/staff/login":
            expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        else:
            expected = await csrf_token(request)
            if not expected:
                raise web.HTTPUnauthorized(text="your session has ended: sign in again")
        if not _same(given, expected):
            raise web.HTTPForbidden(
                text="this form has expired or came from another site: reload the page and "
                     "try again"
            )
    return await handler(request)
