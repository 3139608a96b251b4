"""JSON API for hospital information systems: episodes in batches."""

from __future__ import annotations

import hmac
import json

from aiohttp import web

from bot.importer import RowError, import_rows
from bot.keys import RUNTIME
from handlers import validate

MAX_BATCH = 5000
MAX_BODY = 2 * 1024 * 1024  # the application's client_max_size


def _authorised(request: web.Request) -> bool:
    keys = request.app[RUNTIME].settings.api.keys
    auth = request.headers.get("Authorization", "")
    if not keys or not auth.startswith("Bearer "):
        return False
    given = auth.removeprefix("Bearer ").strip().encode()
    return any(hmac.compare_digest(given, k.encode()) for k in keys)


async def post_episodes(request: web.Request) -> web.Response:
    """``{"source": "his", "episodes": [{...CSV columns...}]}`` → per-row outcome.

    Keys and values follow the same rules as an imported file (Chinese or English column
    names, 门诊/住院/母亲…); every problem of an episode is listed, in English (``message``)
    and Chinese (``message_zh``), and keys that name no column in ``ignored_columns``.
    """
    if not _authorised(request):
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "send 'Authorization: Bearer <key>' with a key from "
                                      "[api] keys"}),
            content_type="application/json",
        )
    # {"episodes": [{...}]} is depth 3; a nested value refuses its row, not the batch.
    body = await validate.read_json(request, limit=MAX_BODY, max_depth=8)
    if not isinstance(body, dict) or not isinstance(body.get("episodes"), list):
        raise web.HTTPBadRequest(
            text=json.dumps({"error": 'expected {"source": "...", "episodes": [ {...}, ... ]}'}),
            content_type="application/json",
        )
    episodes = body["episodes"]
    if len(episodes) > MAX_BATCH:
        raise web.HTTPRequestEntityTooLarge(MAX_BATCH, len(episodes))
    source = body.get("source") or "api"
    if not isinstance(source, str) or validate.text_problem(source, max_len=64,
                                                            single_line=True):
        raise web.HTTPUnprocessableEntity(
            text=json.dumps({"error": "source must be text of at most 64 characters"}),
            content_type="application/json")
    rows: list[tuple[int, dict[str, object]]] = []
    bad: list[RowError] = []
    for i, item in enumerate(episodes, start=1):
        if isinstance(item, dict):
            rows.append((i, item))
        else:
            bad.append(RowError.of(i, "", "not_object"))
    result = await import_rows(request.app[RUNTIME], rows, source, bad)
    status = 200 if not result.errors else 207
    return web.json_response(result.as_dict(), status=status)
