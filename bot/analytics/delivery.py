"""Delivering the monthly and quarterly reports to the managers' WeCom group robot.

On the 1st of each month at ``[reports] send_time`` (local), the last month's report goes out
as a short markdown summary with a link to the full report (and on the 1st of January, April,
July and October the last quarter's too). The summary carries figures and department names
only: no patient, no clinician, no comment. Each report is delivered once, whatever the number
of workers: a worker first claims ``report_delivered:<period>`` in the shared key-value table
(an insert only one process can win), and gives the claim back if the robot refuses, so a
later tick tries again. A worker that was down on the 1st delivers when it comes back.
"""

from __future__ import annotations

import logging
from datetime import datetime

import aiohttp
from tortoise.exceptions import IntegrityError

from bot.analytics import reports
from bot.escalations import notify
from bot.runtime import Runtime
from models import KeyValue

log = logging.getLogger(__name__)
_done: set[str] = set()  # periods this process knows are delivered (saves a query per tick)


def due_periods(now_local: datetime, send_time: object, kinds: list[str]) -> list[str]:
    """The report periods that are due at this local time (delivered or not)."""
    today = now_local.date()
    # before the send time on the 1st nothing is due yet; later days catch up
    if today.day == 1 and now_local.time() < send_time:  # type: ignore[operator]
        return []
    out = []
    if "monthly" in kinds:
        out.append(reports.default_period(today))
    if "quarterly" in kinds and today.month in (1, 4, 7, 10):
        out.append(reports.default_quarter(today))
    return out


async def deliver_due(rt: Runtime, *, http: aiohttp.ClientSession | None = None,
                      kinds: list[str] | None = None) -> int:
    """Send every due report not yet delivered; returns how many went out."""
    cfg = rt.settings.reports
    if not cfg.robot_key:
        return 0
    now = rt.now()
    db = rt.settings.database.url
    wanted: list[str] = list(kinds or cfg.schedule)
    periods = [p for p in due_periods(rt.local(now), cfg.send_time, wanted)
               if f"{db}|{p}" not in _done]
    if not periods:
        return 0
    own = http is None
    session = http or aiohttp.ClientSession()
    sent = 0
    try:
        for period in periods:
            key = f"report_delivered:{period}"
            try:
                await KeyValue.create(key=key, value=now.isoformat())
            except IntegrityError:
                _done.add(f"{db}|{period}")
                continue  # another process has it (or had it)
            try:
                rep = await reports.build_report(rt.settings, now,
                                                 reports.ReportRequest(period), rt)
                link = f"{rt.settings.server.base_url()}/reports/monthly?period={period}"
                await notify.post_markdown(rt, session, cfg.robot_key,
                                           reports.summary_markdown(rep, link))
            except Exception as e:
                await KeyValue.filter(key=key).delete()  # give the claim back: retry later
                log.warning("report %s not delivered (%s); will try again", period,
                            type(e).__name__)
                continue
            _done.add(f"{db}|{period}")
            sent += 1
    finally:
        if own:
            await session.close()
    return sent

