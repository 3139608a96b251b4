"""The follow-up figures counted in SQL equal counting the rows one by one (both databases).

``operations.operations`` counts check-ins and episodes in the database, per group and local
day (bot.analytics.followup_counts). The reference here reads every row and applies the
definitions of bot.analytics.operations in Python, as the page did before. Random check-ins,
episodes and contacts in every state — channels missing or empty, reasons recorded or
inferred, contacts opted out, stopped (for known and unknown reasons) or unreachable — are
compared for every dimension, several periods and scopes, in Shanghai time and in two zones
with daylight saving (whose local days the SQLite query must get right across the change).
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.analytics import operations
from bot.analytics.operations import SENT, lost_reason
from bot.analytics.periods import bucket
from bot.analytics.tallies import DIMENSIONS, Scope, clinician_key
from bot.config import TalliesConfig
from models import (
    CheckIn,
    CheckinStatus,
    Contact,
    Department,
    Episode,
    EpisodeStatus,
    Person,
)

NOW = datetime(2027, 6, 1, 9, tzinfo=UTC)
FIRST = datetime(2026, 9, 1, tzinfo=UTC)  # the data spans two daylight-saving changes
ZONES = [ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York"), ZoneInfo("Europe/London")]
STATUSES = list(CheckinStatus)


async def seed(rnd: random.Random) -> list[int]:
    depts = [(await Department.create(code=f"d{i}", name=f"科{i}")).id for i in range(3)]
    person = await Person.create(name="张三")
    for n in range(90):
        contact = await Contact.create(
            name=f"c{n}", phone=f"1390000{n:04d}",
            opted_out_at=rnd.choice([None, None, None, FIRST]),
            stopped_reason=rnd.choice([None, None, "", "wrong_number", "deceased", "moved"]),
            unreachable=rnd.choice([{}, {}, {"sms": "invalid"}]))
        # occurred near midnight (local or UTC) and near the daylight-saving changes, so a
        # wrong offset puts it on another day
        occurred = FIRST + timedelta(days=rnd.randrange(240), hours=rnd.choice([0, 3, 4, 5, 16,
                                                                                 23]),
                                     minutes=rnd.choice([0, 30, 59]))
        ep = await Episode.create(
            external_id=f"E{n}", person=person, contact=contact,
            department_id=rnd.choice(depts), clinician_name=rnd.choice(["李医生", "王医生", ""]),
            clinician_code=rnd.choice(["", "D1", "D2"]),
            treatment_type=rnd.choice(["拔牙", "补牙", ""]), occurred_at=occurred,
            status=rnd.choice([EpisodeStatus.ACTIVE] * 4 + [EpisodeStatus.CANCELLED]))
        for k in range(rnd.choice([0, 1, 1, 2, 3])):
            due = occurred + timedelta(days=rnd.choice([1, 3, 7]), hours=rnd.randrange(24))
            window_end = due + timedelta(hours=24)
            opened = rnd.choice([None, due + timedelta(hours=rnd.choice([1, 24, 30]))])
            await CheckIn.create(
                episode=ep, contact=contact, offset=f"{k}d", survey_id="general",
                channel=rnd.choice([None, "", "wechat", "sms"]), status=rnd.choice(STATUSES),
                due_at=due, send_at=due, window_end_at=window_end,
                opened_at=opened if opened and rnd.random() < 0.8 else (
                    window_end if opened else None),
                lost_reason=rnd.choice([None, None, "", "refused", "fatigue"]))
    return depts


def group(by: str, dept: Any, clin: str, treat: str, chan: Any, code: str) -> Any:
    """The key a row counts under (a clinician: within the department, by id else name)."""
    return {"department": dept, "clinician": (dept, clinician_key(code, clin)),
            "treatment": treat or "", "channel": chan or "", "question": ""}[by]


async def rows() -> tuple[dict[int, Episode], dict[int, Contact], list[CheckIn]]:
    """Every episode, contact and check-in."""
    return ({e.id: e for e in await Episode.all()}, {c.id: c for c in await Contact.all()},
            await CheckIn.all().order_by("id"))


def reference(data: tuple[dict[int, Episode], dict[int, Contact], list[CheckIn]],
              tz: ZoneInfo, by: str, period: str, scope: Scope) -> dict[Any, Any]:
    """Every row counted in Python: (group, period) → figures."""
    out: dict[Any, dict[str, Any]] = defaultdict(lambda: {
        "sent": 0, "answered": 0, "on_time": 0, "eligible": 0, "covered": 0, "lost": {}})
    ids = scope.dept_ids()

    def inside(day: date) -> bool:
        return ((scope.start is None or day >= scope.start)
                and (scope.end is None or day <= scope.end))

    def ep_ok(ep: Episode) -> bool:
        return ((ids is None or ep.department_id in ids)
                and (scope.clinician is None or ep.clinician_name == scope.clinician)
                and (scope.treatment is None or ep.treatment_type == scope.treatment))

    eps, contacts, cis = data
    for c in cis:
        ep = eps[c.episode_id]
        day = c.due_at.astimezone(tz).date()
        if c.status not in SENT or not inside(day) or not ep_ok(ep):
            continue
        if scope.channel is not None and c.channel != scope.channel:
            continue
        g = group(by, ep.department_id, ep.clinician_name, ep.treatment_type, c.channel,
                  ep.clinician_code)
        o = out[(g, bucket(day.isoformat(), period))]
        o["sent"] += 1
        o["answered"] += c.status == CheckinStatus.ANSWERED
        o["on_time"] += c.opened_at is not None and c.opened_at <= c.window_end_at
    for ep in eps.values():
        mine = [c for c in cis if c.episode_id == ep.id]
        day = ep.occurred_at.astimezone(tz).date()
        if ep.status != EpisodeStatus.ACTIVE or not mine or not inside(day) or not ep_ok(ep):
            continue
        chan = next((c.channel for c in mine if c.channel), None)
        if scope.channel is not None and chan != scope.channel:
            continue
        o = out[(group(by, ep.department_id, ep.clinician_name, ep.treatment_type, chan,
                       ep.clinician_code), bucket(day.isoformat(), period))]
        o["eligible"] += 1
        statuses = [c.status for c in mine]
        if CheckinStatus.ANSWERED in statuses:
            o["covered"] += 1
        elif not any(s in (CheckinStatus.PLANNED, CheckinStatus.OPENED) for s in statuses):
            last = next((c for c in reversed(mine)
                         if c.status in (CheckinStatus.EXPIRED, CheckinStatus.SKIPPED)),
                        mine[-1])
            ct = contacts[ep.contact_id]
            reason = lost_reason(last.status, {"opted_out_at": ct.opted_out_at,
                                               "stopped_reason": ct.stopped_reason,
                                               "unreachable": ct.unreachable},
                                 last.lost_reason)
            o["lost"][reason] = o["lost"].get(reason, 0) + 1
    return dict(out)


def figures(ops: list[operations.Operations]) -> dict[Any, Any]:
    out = {}
    for o in ops:
        f = {"sent": o.sent, "answered": o.answered, "on_time": o.on_time,
             "eligible": o.eligible, "covered": o.covered, "lost": dict(o.lost)}
        if any(f.values()):
            out[(o.key_id, o.period)] = f
    return out


@pytest.mark.parametrize("seed_value", [1, 2])
async def test_sql_counts_equal_counting_every_row(orm: None, seed_value: int) -> None:
    rnd = random.Random(seed_value)
    depts = await seed(rnd)
    scopes = [Scope(), Scope(start=date(2026, 10, 1), end=date(2026, 12, 31)),
              Scope(start=date(2026, 11, 1)), Scope(end=date(2027, 3, 27)),
              Scope(departments=frozenset(depts[:2])), Scope(clinician="李医生"),
              Scope(treatment=""), Scope(channel="sms"),
              Scope(start=date(2027, 3, 1), end=date(2027, 3, 31), channel="wechat"),
              # ends inside weeks and months (the rollups' day rows at either end)
              Scope(start=date(2026, 10, 14), end=date(2027, 2, 9)),
              Scope(start=date(2026, 11, 3), end=date(2026, 11, 5)),
              Scope(start=date(2026, 11, 2), end=date(2026, 11, 29),
                    departments=frozenset(depts[1:]))]
    compared = 0
    data = await rows()
    for tz in ZONES:
        for by in DIMENSIONS:
            for period in ("all", "day", "week", "month", "quarter"):
                for scope in scopes:
                    got = figures(await operations.operations(
                        TalliesConfig(min_answers=1), tz, NOW, by=by, period=period,
                        scope=scope))
                    want = reference(data, tz, by, period, scope)
                    want = {k: v for k, v in want.items()
                            if any(v.values())}
                    assert got == want, (tz.key, by, period, scope)
                    compared += sum(v["sent"] + v["eligible"] for v in want.values())
    assert compared > 1000  # the data reached every comparison
