"""One validation layer at the HTTP edge: every external input becomes a typed, bounded value.

Webhooks, callbacks, forms, the JSON API, query strings and route ids pass through these
helpers before any service sees them. Each helper either returns the clean value or raises
an ``HTTPException`` with a short reason: 400 (not parseable: bad encoding, not a form, not
JSON), 404 (an id that names nothing, including one too large for its column), 413 (too
large, too deep) or 422 (parseable but out of bounds). Numbers are ASCII digits only:
``str.isdigit`` and ``int`` also accept ``²``, ``①``, ``٣`` and ``１``.

:func:`edge_middleware` is the last resort: whatever a handler still raises is logged once
with its traceback and answered with a plain 500 that names nothing.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, NoReturn
from urllib.parse import unquote_to_bytes

from aiohttp import web
from multidict import MultiDict, MultiDictProxy

log = logging.getLogger(__name__)

# Route ids: ASCII digits, at most 18 (aiohttp's ``\d`` would match any Unicode digit and
# any length). Values past the column's range are answered 404 by :func:`route_id`.
ID = "[0-9]{1,18}"
ID_PART = "{id:" + ID + "}"  # a route's ``{id}`` segment: "/staff/escalations/" + ID_PART
INT32_MAX = 2**31 - 1  # IntField primary keys
INT64_MAX = 2**63 - 1  # BigIntField primary keys
_DIGITS = re.compile(r"[0-9]+")
# C0 controls other than tab, newline and carriage return, DEL, and UTF-16 surrogates (a JSON
# "\ud800" escape decodes to one; no database can store it).
_BAD_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_BAD_LINE_CHARS = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
JSON_MAX_DEPTH = 16
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)

STATUS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest, 403: web.HTTPForbidden, 404: web.HTTPNotFound,
    409: web.HTTPConflict, 413: web.HTTPRequestEntityTooLarge,
    415: web.HTTPUnsupportedMediaType, 422: web.HTTPUnprocessableEntity,
}


def refuse(status: int, reason: str, *, as_json: dict[str, Any] | None = None) -> NoReturn:
    """Raise the 4xx ``status`` with a short reason (plain text, or ``as_json``)."""
    cls = STATUS[status]
    if as_json is not None:
        body = json.dumps(as_json, ensure_ascii=False)
        if cls is web.HTTPRequestEntityTooLarge:
            raise web.HTTPRequestEntityTooLarge(0, 0, text=body, content_type="application/json")
        raise cls(text=body, content_type="application/json")
    if cls is web.HTTPRequestEntityTooLarge:
        raise web.HTTPRequestEntityTooLarge(0, 0, text=reason)
    raise cls(text=reason)


# --------------------------------------------------------------------------- scalars


def ascii_int(value: object, name: str, *, max_digits: int = 18, lo: int = 0,
              hi: int = INT64_MAX) -> int:
    """``value`` as a whole number written in 1 to ``max_digits`` ASCII digits (else 422)."""
    text = value if isinstance(value, str) else ""
    if not (0 < len(text) <= max_digits and _DIGITS.fullmatch(text)):
        refuse(422, f"{name} must be 1 to {max_digits} digits 0-9")
    n = int(text)
    if not lo <= n <= hi:
        refuse(422, f"{name} must be between {lo} and {hi}")
    return n


def is_ascii_digits(value: str, max_digits: int) -> bool:
    """True for 1 to ``max_digits`` ASCII digits (nothing else: no ``²``, ``٣``, ``１``)."""
    return 0 < len(value) <= max_digits and _DIGITS.fullmatch(value) is not None


def route_id(request: web.Request, name: str = "id", *, hi: int = INT32_MAX) -> int:
    """A numeric route segment (matched by :data:`ID`); past the column's range it is 404."""
    raw = request.match_info.get(name, "")
    if not is_ascii_digits(raw, 18) or int(raw) > hi:
        refuse(404, f"no such {name}")
    return int(raw)


def text_problem(value: str, *, max_len: int, single_line: bool = False) -> str | None:
    """Why ``value`` cannot be stored as text (None when it can)."""
    if len(value) > max_len:
        return f"longer than {max_len} characters"
    if (_BAD_LINE_CHARS if single_line else _BAD_CHARS).search(value):
        return "contains control characters or invalid Unicode"
    return None


def clean_text(value: object, name: str, *, max_len: int, single_line: bool = False,
               required: bool = False) -> str:
    """``value`` as storable text of at most ``max_len`` characters (else 422)."""
    if not isinstance(value, str):
        refuse(422, f"{name} must be text")
    problem = text_problem(value, max_len=max_len, single_line=single_line)
    if problem:
        refuse(422, f"{name} is {problem}" if problem.startswith("longer") else
               f"{name} {problem}")
    if required and not value.strip():
        refuse(422, f"{name} is required")
    return value


def choice(value: str, name: str, allowed: Iterable[str]) -> str:
    """``value`` if it is one of ``allowed`` (else 422)."""
    options = list(allowed)
    if value not in options:
        refuse(422, f"{name} must be one of {', '.join(options)}")
    return value


def query_text(request: web.Request, name: str, *, max_len: int = 200,
               default: str = "") -> str:
    """A query-string parameter as bounded, single-line text."""
    value = request.query.get(name, default)
    return clean_text(value, name, max_len=max_len, single_line=True)


def query_int(request: web.Request, name: str, *, hi: int = INT32_MAX,
              default: int | None = None) -> int | None:
    """An optional numeric query-string parameter (ASCII digits, bounded)."""
    value = request.query.get(name, "")
    if value == "":
        return default
    return ascii_int(value, name, hi=hi)


# --------------------------------------------------------------------------- bodies


async def read_body(request: web.Request, limit: int, *,
                    as_json: dict[str, Any] | None = None) -> bytes:
    """The whole body, refused with 413 past ``limit`` bytes (checked before and after reading)."""
    if request.content_length is not None and request.content_length > limit:
        refuse(413, f"body over {limit} bytes", as_json=as_json)
    body = await request.read()
    if len(body) > limit:
        refuse(413, f"body over {limit} bytes", as_json=as_json)
    return body


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text (strings skipped), iteratively."""
    depth = deepest = 0
    for m in _JSON_TOKENS.finditer(text):
        tok = m.group()
        if tok in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif tok in "]}":
            depth -= 1
    return deepest


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 18:
        raise ValueError("a number of more than 18 digits")
    return int(text)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads_json(raw: bytes, *, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """Strict, depth-limited JSON: UTF-8, integers of at most 18 digits, no NaN/Infinity.

    Raises ValueError (with a short reason) for anything else.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("body is not UTF-8") from None
    if json_depth(text) > max_depth:
        raise ValueError(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(text, parse_int=_bounded_int, parse_constant=_no_constants)
    except RecursionError:  # unreachable after the depth check; kept as a guard
        raise ValueError(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError as e:
        raise ValueError(f"body is not JSON: {str(e)[:120]}") from None


async def read_json(request: web.Request, *, limit: int, max_depth: int = JSON_MAX_DEPTH,
                    error: Callable[[str], dict[str, Any]] | None = None) -> Any:
    """The body as depth-limited JSON (413 past ``limit`` bytes, 400 when it is not JSON).

    ``error`` shapes the JSON error body (default ``{"error": reason}``).
    """
    shape = error or (lambda reason: {"error": reason})
    body = await read_body(request, limit, as_json=shape(f"body over {limit} bytes"))
    try:
        return loads_json(body, max_depth=max_depth)
    except ValueError as e:
        status = 413 if "deeper" in str(e) else 400
        refuse(status, str(e), as_json=shape(str(e)))


async def read_form(request: web.Request) -> MultiDictProxy[str]:
    """The form fields as text (urlencoded or multipart), or 400 when they cannot be read.

    Invalid UTF-8, a multipart body without a boundary, an unknown charset: each is a short
    400, never a traceback. File parts are refused where text is expected (422).
    """
    try:
        if request.content_type == "application/x-www-form-urlencoded":
            # aiohttp decodes invalid UTF-8 in percent-escapes to U+FFFD: refuse it instead.
            raw = await request.read()
            unquote_to_bytes(raw.replace(b"+", b" ")).decode(request.charset or "utf-8")
        form = await request.post()
    except web.HTTPException:
        raise
    except Exception as e:  # the multipart and urlencoded readers raise many kinds
        refuse(400, f"the form cannot be read ({type(e).__name__})")
    out: MultiDict[str] = MultiDict()
    for key, value in form.items():
        if not isinstance(value, str):
            refuse(422, f"field {key[:40]!r} must be text, not a file")
        out.add(key, value)
    return MultiDictProxy(out)


def form_text(form: Mapping[str, str], name: str, *, max_len: int, default: str = "",
              single_line: bool = False) -> str:
    """One form field as bounded text (missing: ``default``)."""
    return clean_text(form.get(name, default), name, max_len=max_len, single_line=single_line)


# --------------------------------------------------------------------------- last resort

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _route_name(request: web.Request) -> str:
    """The route's pattern, not the path: paths carry secrets (callback tokens, link tokens)."""
    try:
        info = request.match_info.route.resource
        return info.canonical if info is not None else "?"
    except Exception:
        return "?"


@web.middleware
async def edge_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer whatever escapes a handler with a plain 500, after logging the traceback once."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, _route_name(request))
        return web.Response(status=500, text="internal error", content_type="text/plain")
