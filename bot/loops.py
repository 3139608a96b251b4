"""Background loops: the planner, the dispatcher, the outbox sender and the staff loop (SLA,
robot messages, reports, and folding changes into the follow-up rollups).

Each loop runs its tick until a tick finds nothing to do, then sleeps until woken (a handler
stored something) or until the poll interval passes (another process stored something).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp

from bot import dispatcher, outbox, planner
from bot.analytics import delivery, followup_rollup
from bot.escalations import notify, sla
from bot.phone import calllist
from bot.runtime import Runtime, Waker

log = logging.getLogger(__name__)

# Outbox batches sent at once by one process: while one batch waits on the provider's
# answers, the next is leased, checked and prepared (a batch's database work no longer sits
# between two batches' sends). Sends at once per channel stay bounded for the process
# (bot.outbox.send_slot); each batch leases its own messages, so they never overlap.
OUTBOX_LANES = 2


# A loop told to stop finishes the tick it is in (a send it started is recorded, a lease it
# took is given back) for up to this long; only then is it cancelled. Cancelling mid-tick is
# the last resort: a send cut off there stays "unsure" until it is settled, and tortoise's
# SQLite transaction leaks its connection lock when cancelled while it begins, after which
# every query of the process waits forever.
STOP_GRACE_SECONDS = 15.0
# After the cancellation, how long to wait before giving up on a loop (and saying so).
STOP_CANCEL_SECONDS = 5.0


async def _loop(name: str, tick: Callable[[], Awaitable[int]], waker: Waker,
                interval: float, stopping: asyncio.Event) -> None:
    while not stopping.is_set():
        try:
            busy = True
            while busy and not stopping.is_set():
                busy = bool(await tick())
                await asyncio.sleep(0)  # let handlers run between batches
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s loop tick failed; retrying after %.1fs", name, interval)
        if not stopping.is_set():
            await waker.wait(interval)


async def _planner_tick(rt: Runtime) -> int:
    await planner.follow_up_unanswered(rt)
    await calllist.tick(rt)  # the staff call list: answered elsewhere, or given up
    return await planner.open_due(rt)


async def _staff_loop(rt: Runtime, interval: float, stopping: asyncio.Event) -> None:
    # SLA deadlines and WeCom robot messages; the client session lives as long as the loop.
    next_fold = [0.0]  # when the follow-up rollups are next folded (time.monotonic())
    async with aiohttp.ClientSession() as http:

        async def tick() -> int:
            # reports: delivered once when due (their work is not counted as "busy")
            await delivery.deliver_due(rt, http=http)
            # the follow-up rollups: changes folded now and then, so that a page read (which
            # folds what is left, and so is exact) finds little to do; not at every tick, where
            # it would cost the sending work (nor is this counted as "busy")
            if time.monotonic() >= next_fold[0]:
                next_fold[0] = time.monotonic() + followup_rollup.BACKGROUND_FOLD_SECONDS
                await followup_rollup.fold(rt.settings.tz)
            return await sla.check(rt) + await notify.send_due(rt, http)

        await _loop("staff", tick, rt.staff_waker, interval, stopping)


@dataclass
class Loops:
    """The running loops of one process; :func:`stop_loops` stops them."""

    rt: Runtime
    stopping: asyncio.Event
    tasks: list[asyncio.Task[None]]


def start_loops(rt: Runtime) -> Loops:
    """Start the loops (the outbox in :data:`OUTBOX_LANES` lanes)."""
    interval = rt.settings.worker.poll_interval_seconds
    stopping = asyncio.Event()
    return Loops(rt, stopping, [
        asyncio.create_task(_loop("planner", lambda: _planner_tick(rt), rt.planner_waker,
                                  interval, stopping), name="planner"),
        asyncio.create_task(_loop("dispatcher", lambda: dispatcher.process_pending(rt),
                                  rt.inbox_waker, interval, stopping), name="dispatcher"),
        *(asyncio.create_task(_loop("outbox", lambda: outbox.send_due(rt), rt.outbox_waker,
                                    interval, stopping), name=f"outbox-{lane}")
          for lane in range(OUTBOX_LANES)),
        asyncio.create_task(_staff_loop(rt, interval, stopping), name="staff"),
    ])


async def stop_loops(loops: Loops, grace: float = STOP_GRACE_SECONDS) -> None:
    """Let every loop finish its tick and stop; cancel those still busy after ``grace``
    seconds (see :data:`STOP_GRACE_SECONDS`)."""
    if not loops.tasks:
        return
    loops.stopping.set()
    for waker in (loops.rt.planner_waker, loops.rt.inbox_waker, loops.rt.outbox_waker,
                  loops.rt.staff_waker):
        waker.wake_local()
    _, busy = await asyncio.wait(loops.tasks, timeout=grace)
    if busy:
        log.warning("%d loop(s) still busy %.0f s after the stop: cancelled (%s)", len(busy),
                    grace, ", ".join(sorted(t.get_name() for t in busy)))
        for t in busy:
            t.cancel()
        _, stuck = await asyncio.wait(busy, timeout=STOP_CANCEL_SECONDS)
        if stuck:
            log.error("%d loop(s) did not stop when cancelled: left behind (%s)", len(stuck),
                      ", ".join(sorted(t.get_name() for t in stuck)))
    for t in loops.tasks:  # an exception a loop died of was logged by the loop; not again
        if t.done() and not t.cancelled():
            t.exception()
