"""The typed dependencies object handed to every service: settings, clock, parser, channels."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from bot.channels.base import Channel
from bot.clock import Clock
from bot.config import Settings
from bot.observability.metrics import Metrics
from bot.workdays import WorkCalendar
from surveys import native
from surveys.parser import ReplyParser
from surveys.window import SendWindow


class Waker:
    """Lets one part of the process nudge a background loop instead of waiting for its poll."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        # Also tell other processes (bot.wakeups sets it on PostgreSQL).
        self.on_wake: Callable[[], None] | None = None

    def wake(self) -> None:
        """Ask the loop to run soon (in this process, and in the others where they listen)."""
        self._event.set()
        if self.on_wake is not None:
            self.on_wake()

    def wake_local(self) -> None:
        """Ask this process's loop to run soon (another process announced work)."""
        self._event.set()

    async def wait(self, timeout: float) -> None:
        """Sleep until woken or ``timeout`` seconds pass."""
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancellation that
        # arrives as its timeout fires, and a loop told to stop would run on forever.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._event.wait()
        self._event.clear()


# ``[send_window] enabled = false``: no quiet hours, no blocked days, no spreading.
ALWAYS_OPEN = SendWindow(quiet_start=time(0), quiet_end=time(0), spread_minutes=0)


class Broadcast:
    """Like :class:`Waker`, but every waiter wakes (open staff pages, not one loop).

    Woken after something staff see has changed (a message stored, an escalation raised or
    claimed); on PostgreSQL the other processes hear it too (bot.wakeups).
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.on_wake: Callable[[], None] | None = None

    def wake(self) -> None:
        """Wake everyone waiting here, and in the other processes where they listen."""
        self.wake_local()
        if self.on_wake is not None:
            self.on_wake()

    def wake_local(self) -> None:
        """Wake everyone waiting in this process."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Sleep until woken or ``timeout`` seconds pass."""
        event = self._event
        # asyncio.timeout, as in Waker.wait: wait_for can swallow a cancellation (3.11).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await event.wait()


def send_window_for(settings: Settings, department_code: str | None = None) -> SendWindow:
    """The send window for a department (its own quiet hours, if configured)."""
    w = settings.send_window
    if not w.enabled:
        return ALWAYS_OPEN
    own = w.departments.get(department_code or "")
    return SendWindow(
        quiet_start=own.quiet_start if own else w.quiet_start,
        quiet_end=own.quiet_end if own else w.quiet_end,
        no_send_weekdays=frozenset(w.no_send_weekdays),
        no_send_dates=frozenset(w.no_send_dates), spread_minutes=w.spread_minutes,
    )


def _worker_id() -> str:
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Runtime:
    """Everything a service needs, built once per process (tests build their own)."""

    settings: Settings
    clock: Clock
    channels: dict[str, Channel]
    parser: ReplyParser = field(init=False)
    worker_id: str = field(default_factory=_worker_id)
    outbox_waker: Waker = field(default_factory=Waker)
    inbox_waker: Waker = field(default_factory=Waker)
    planner_waker: Waker = field(default_factory=Waker)
    staff_waker: Waker = field(default_factory=Waker)  # SLA checks and notifications
    live: Broadcast = field(default_factory=Broadcast)  # open staff pages (server-sent events)
    # Messages the planner wrote already leased to this process: (outbox.Queued, lease end).
    outbox_handoff: deque[tuple[Any, datetime]] = field(default_factory=deque)
    # Sends at once per channel in this process, whichever outbox lane sends them
    # (``[sms] threads``, one call at a time for voice): see bot.outbox.send_slot.
    send_slots: dict[str, asyncio.Semaphore] = field(default_factory=dict)
    # Contacts an outbox lane of this process is sending to now, and those another lane gave
    # back meanwhile (woken when the first lane is done): see bot.outbox.send_due.
    outbox_serving: set[int | None] = field(default_factory=set)
    outbox_waiting: set[int | None] = field(default_factory=set)

    calendar: WorkCalendar = field(init=False)
    metrics: Metrics = field(init=False)  # this process's counters (bot.observability)

    def __post_init__(self) -> None:
        from bot import ledger  # the chain keys are process-wide: ledger.append has no runtime

        ledger.configure(self.settings.ledger.chain_key, self.settings.ledger.previous_chain_keys)
        self.parser = self.settings.lexicon.parser()
        self.metrics = Metrics(self.channels, self.settings.server.role)
        cal = self.settings.calendar
        self.calendar = WorkCalendar(cal.holidays, cal.workdays)

    @property
    def texts(self) -> dict[str, str]:
        """Patient-facing texts from configuration."""
        return self.settings.texts.model_dump()

    def now(self) -> datetime:
        """The injected clock's now."""
        return self.clock.now()

    def local(self, when: datetime) -> datetime:
        """``when`` in the organisation's time zone."""
        return when.astimezone(self.settings.tz)

    def is_workday(self, day: date) -> bool:
        """China's working days (official calendar plus ``[calendar]`` overrides)."""
        return self.calendar.is_workday(day)

    def send_window(self, department_code: str | None = None) -> SendWindow:
        """The send window for a department (its own quiet hours, if configured)."""
        return send_window_for(self.settings, department_code)

    def channel(self, name: str) -> Channel:
        """The channel adapter called ``name`` (KeyError when not configured)."""
        return self.channels[name]

    def describe(self) -> dict[str, Any]:
        """Safe summary for /healthz (nothing secret)."""
        return {"worker": self.worker_id, "role": self.settings.server.role,
                "channels": sorted(self.channels),
                "parser": "compiled" if native.compiled() else "source"}
