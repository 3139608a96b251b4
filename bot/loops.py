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


async def _loop(name: str, tick: Callable[[], Awaitable[int]], waker: Waker,
                interval: float) -> None:
    while True:
        try:
            busy = True
            while busy:
                busy = bool(await tick())
                await asyncio.sleep(0)  # let handlers run between batches
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s loop tick failed; retrying after %.1fs", name, interval)
        await waker.wait(interval)


async def _planner_tick(rt: Runtime) -> int:
    await planner.follow_up_unanswered(rt)
    await calllist.tick(rt)  # the staff call list: answered elsewhere, or given up
    return await planner.open_due(rt)


async def _staff_loop(rt: Runtime, interval: float) -> None:
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

        await _loop("staff", tick, rt.staff_waker, interval)


def start_loops(rt: Runtime) -> list[asyncio.Task[None]]:
    """Start the loops (the outbox in :data:`OUTBOX_LANES` lanes); cancel the returned tasks
    to stop them."""
    interval = rt.settings.worker.poll_interval_seconds
    return [
        asyncio.create_task(_loop("planner", lambda: _planner_tick(rt), rt.planner_waker,
                                  interval), name="planner"),
        asyncio.create_task(_loop("dispatcher", lambda: dispatcher.process_pending(rt),
                                  rt.inbox_waker, interval), name="dispatcher"),
        *(asyncio.create_task(_loop("outbox", lambda: outbox.send_due(rt), rt.outbox_waker,
                                    interval), name=f"outbox-{lane}")
          for lane in range(OUTBOX_LANES)),
        asyncio.create_task(_staff_loop(rt, interval), name="staff"),
    ]


async def stop_loops(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the loops and wait for them to finish."""
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
