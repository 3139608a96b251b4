"""Rendering autoescaped Jinja2 templates with the page language."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from bot.keys import RUNTIME
from handlers.i18n import language, question_titles, reason_text, translator

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)
# What every page's layout shows for a signed-in member (name, unread notifications, the urgent
# alerts banner): filled before the handler by ``handlers.staff_live.layout_middleware``.
LAYOUT: web.RequestKey[dict[str, Any]] = web.RequestKey("layout", dict)
_NO_ONE: dict[str, Any] = {"me": None, "csrf": "", "unread": 0, "alerts": []}


def lang_switch(request: web.Request, lang: str) -> str:
    """This page in the other language: same path, view and filters (POST pages: the path)."""
    other = "en" if lang == "zh" else "zh"
    query = [(k, v) for k, v in request.query.items() if k != "lang"] \
        if request.method == "GET" else []
    return f"{request.path}?{urlencode([*query, ('lang', other)])}"


def _context(request: web.Request, context: dict[str, Any]) -> dict[str, Any]:
    rt = request.app[RUNTIME]
    lang = language(request, rt.settings.web.default_language)
    titles = question_titles(rt.settings)
    return {
        **_NO_ONE, **request.get(LAYOUT, {}), "lang": lang, "t": translator(lang),
        "reason_text": lambda r: reason_text(r or "", lang, titles),
        "qtitle": lambda q: titles.get(q, q),  # a question as staff and managers read it
        "lang_url": lang_switch(request, lang), **context,
    }


def render_string(request: web.Request, template: str, **context: Any) -> str:
    """A template (or a fragment of one) as text, in the request's language."""
    return _env.get_template(template).render(**_context(request, context))


def render(request: web.Request, template: str, **context: Any) -> web.Response:
    """Render ``template`` in the request's language; remember an explicit ?lang= choice."""
    ctx = _context(request, context)
    resp = web.Response(text=_env.get_template(template).render(**ctx),
                        content_type="text/html")
    lang = ctx["lang"]
    if "lang" in request.query and request.query["lang"] == lang:
        resp.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax")
    return resp
