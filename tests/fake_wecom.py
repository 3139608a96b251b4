"""A local WeCom group-robot webhook: POST /cgi-bin/webhook/send?key=KEY with
``{"msgtype": "markdown", "markdown": {"content": ...}}`` → ``{"errcode": 0, "errmsg": "ok"}``.

Scriptable like the real one misbehaves: ``script`` is a list of what the next requests get
("ok", "rate" → errcode 45009, "5xx" → HTTP 502, "stall" → no answer for ``stall_seconds``,
"badkey" → errcode 93000); when it runs out, requests succeed. Unknown keys get 93000 too.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class FakeWecom:
    """The fake robot server and what it received."""

    keys: set[str] = field(default_factory=lambda: {"robot-key"})
    script: list[str] = field(default_factory=list)
    stall_seconds: float = 3.0
    received: list[dict[str, Any]] = field(default_factory=list)  # accepted messages
    requests: int = 0
    server: TestServer | None = None

    async def _send(self, request: web.Request) -> web.Response:
        self.requests += 1
        key = request.query.get("key", "")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.json_response({"errcode": 40016, "errmsg": "invalid json"})
        step = self.script.pop(0) if self.script else "ok"
        if step == "stall":
            await asyncio.sleep(self.stall_seconds)
            return web.json_response({"errcode": 0, "errmsg": "ok"})
        if step == "5xx":
            return web.Response(status=502, text="bad gateway")
        if step == "rate":
            return web.json_response({"errcode": 45009, "errmsg": "api freq out of limit"})
        if step == "badkey" or key not in self.keys:
            return web.json_response({"errcode": 93000, "errmsg": "invalid webhook url"})
        if body.get("msgtype") != "markdown" or not isinstance(
            body.get("markdown", {}).get("content"), str
        ):
            return web.json_response({"errcode": 40008, "errmsg": "invalid message type"})
        if len(body["markdown"]["content"].encode()) > 4096:
            return web.json_response({"errcode": 40058, "errmsg": "content exceed max length"})
        self.received.append({"key": key, **body})
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def start(self) -> str:
        """Serve on a free loopback port; returns the base URL."""
        app = web.Application()
        app.router.add_post("/cgi-bin/webhook/send", self._send)
        self.server = TestServer(app, host="127.0.0.1")
        # a test double need not drain for a minute (aiohttp's default) when it closes
        await self.server.start_server(shutdown_timeout=0.5)
        return str(self.server.make_url("")).rstrip("/")

    async def close(self) -> None:
        """Stop serving."""
        if self.server is not None:
            await self.server.close()
