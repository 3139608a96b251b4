"""Wake-ups between processes on PostgreSQL (LISTEN/NOTIFY).

Each process's loops sleep until something in the same process wakes them or their poll
interval passes. With several processes (a web process and workers, or many workers), work
stored by one -- a patient's reply taken by the webhook, a staff answer, a new outbox row --
waited for another's next poll. On PostgreSQL every process here also LISTENs on one channel
and turns each local wake into a NOTIFY naming the loop, so the others run it at once. The
poll stays as the safety net (a notification sent while a process was reconnecting is lost);
with NOTIFY in place it can be longer, which saves each idle process its polling queries.

SQLite runs in one process (its writers are serialised anyway): nothing to do there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from tortoise import connections

from bot.runtime import Broadcast, Runtime, Waker

log = logging.getLogger(__name__)

CHANNEL = "survey_bot_wake"


class Wakeups:
    """One dedicated connection that LISTENs, and NOTIFYs for this process's wakers."""

    def __init__(self, rt: Runtime) -> None:
        self._wakers: dict[str, Waker | Broadcast] = {
            "inbox": rt.inbox_waker, "outbox": rt.outbox_waker,
            "planner": rt.planner_waker, "staff": rt.staff_waker, "live": rt.live}
        self._conn: Any = None
        self._pid = 0
        self._pending: set[str] = set()
        self._flushing: asyncio.Task[None] | None = None

    async def start(self) -> bool:
        """Connect and listen (PostgreSQL only); False where there is nothing to do."""
        client: Any = connections.get("default")
        if client.capabilities.dialect != "postgres":
            return False
        import asyncpg  # the PostgreSQL driver tortoise itself uses

        # The ORM's own connection settings; a connection of its own, since a pooled one
        # would be handed to other queries between notifications.
        extra = {k: v for k, v in (client.extra or {}).items()
                 if k in ("ssl", "direct_tls", "timeout")}  # the URL's ?ssl=… and the like
        self._conn = await asyncpg.connect(
            host=client.host, port=client.port, user=client.user, password=client.password,
            database=client.database, server_settings=dict(client.server_settings or {}),
            **extra)
        self._pid = self._conn.get_server_pid()
        await self._conn.add_listener(CHANNEL, self._heard)
        for name, waker in self._wakers.items():
            waker.on_wake = lambda name=name: self._announce(name)
        return True

    async def close(self) -> None:
        """Stop announcing and listening."""
        for waker in self._wakers.values():
            waker.on_wake = None
        if self._flushing is not None:
            with contextlib.suppress(Exception):
                await self._flushing
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    def _announce(self, name: str) -> None:
        # Coalesced: a burst of wakes in one turn of the event loop is one NOTIFY per loop,
        # sent after the code that woke it has finished its turn (its transaction is
        # committed by then: every wake here follows the commit of what it announces).
        self._pending.add(name)
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self._pending and self._conn is not None:
                names, self._pending = sorted(self._pending), set()
                for name in names:
                    await self._conn.execute("SELECT pg_notify($1, $2)", CHANNEL, name)
        except Exception:
            # Not fatal: the other processes still find the work on their next poll.
            log.warning("could not notify other processes; they pick the work up on their "
                        "next poll", exc_info=True)
        finally:
            self._flushing = None

    def _heard(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        if pid == self._pid:
            return  # our own announcement, already acted on here
        waker = self._wakers.get(payload)
        if waker is not None:
            waker.wake_local()
