"""The simulator channel: the patient's "phone" is a web page reading the message table.

Sending only marks the message delivered and wakes anyone watching that contact's page.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict

from bot.channels.base import Outgoing, SendResult


class SimulatorChannel:
    """A channel that delivers into the database, for demos and tests."""

    name = "simulator"

    def __init__(self, latency_ms: int = 0) -> None:
        self._watchers: dict[int, set[asyncio.Event]] = defaultdict(set)
        self.latency = latency_ms / 1000

    def can_reach(self, phone: str | None, openid: str | None) -> bool:
        """Every contact has a simulated phone."""
        return True

    async def send(self, msg: Outgoing) -> SendResult:
        """Deliver; the provider id derives from our key, so a resend is harmless."""
        if self.latency:
            await asyncio.sleep(self.latency)
        self.notify(msg.contact_id)
        return SendResult(provider_msg_id=f"sim:{msg.idempotency_key}", delivered=True)

    def notify(self, contact_id: int) -> None:
        """Wake the pages watching ``contact_id``."""
        for ev in self._watchers.get(contact_id, ()):
            ev.set()

    async def wait(self, contact_id: int, timeout: float) -> None:
        """Wait until something happens for ``contact_id`` or ``timeout`` seconds pass."""
        ev = asyncio.Event()
        self._watchers[contact_id].add(ev)
        try:
            await asyncio.wait_for(ev.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            self._watchers[contact_id].discard(ev)
            if not self._watchers[contact_id]:
                del self._watchers[contact_id]
