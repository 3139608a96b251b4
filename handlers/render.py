"""Rendering autoescaped Jinja2 templates with the page language."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from bot.keys import RUNTIME
from handlers.i18n import language, reason_text, translator

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=jinja2.select_autoescape(["html"]),
    undefined=jinja2.StrictUndefined,
)


def render(request: web.Request, template: str, **context: Any) -> web.Response:
    """Render ``template`` in the request's language; remember an explicit ?lang= choice."""
    default = request.app[RUNTIME].settings.web.default_language
    lang = language(request, default)
    html = _env.get_template(template).render(
        lang=lang, t=translator(lang), reason_text=lambda r: reason_text(r or "", lang),
        **context)
    resp = web.Response(text=html, content_type="text/html")
    if "lang" in request.query and request.query["lang"] == lang:
        resp.set_cookie("lang", lang, max_age=365 * 86400, samesite="Lax")
    return resp
