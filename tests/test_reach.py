"""Scheduling and reach: the dental table, working days, send windows, fatigue, fallback."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import pytest

from bot import dispatcher, importer, outbox, planner
from bot.channels.base import ChannelError, Outgoing, SendResult
from bot.clock import FrozenClock
from bot.config import settings_from_dict
from bot.runtime import Runtime
from bot.workdays import WorkCalendar
from models import CheckIn, CheckinStatus, Contact, Episode, Message, MessageStatus
from surveys.schedule import due_at, parse_offset
from surveys.window import SendWindow
from tests.conftest import SHANGHAI, make_settings

TEN = time(10, 0)
CAL = WorkCalendar()


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


# The dental clinic's table (docs/domain.md), row by row, for a treatment on
# Monday 2026-03-02 at 15:00.
T0 = at(2026, 3, 2, 15)
DENTAL = [
    ("拔牙", [at(2026, 3, 2, 18), at(2026, 3, 3), at(2026, 5, 31)]),
    ("补牙", [at(2026, 3, 2, 15), at(2026, 3, 3), at(2026, 5, 31), at(2026, 8, 29),
             at(2027, 2, 25)]),
    ("根管", [at(2026, 3, 2, 15), at(2026, 3, 3), at(2026, 3, 17)]),
    ("镶牙", [at(2026, 3, 3), at(2026, 3, 9), at(2026, 4, 1), at(2026, 5, 31), at(2026, 8, 29),
             at(2027, 2, 25)]),
    ("洁牙", [at(2026, 3, 3), at(2026, 8, 29)]),
    ("牙周", [at(2026, 3, 3), at(2026, 4, 1), at(2026, 5, 31)]),
    ("种植", [at(2026, 3, 3), at(2026, 4, 1), at(2026, 5, 31), at(2026, 8, 29),
             at(2026, 11, 27), at(2027, 2, 25)]),
    ("正畸", [at(2026, 3, 9), at(2026, 5, 31), at(2026, 8, 29), at(2027, 2, 25)]),
    ("其他", [at(2026, 3, 3)]),
]


@pytest.mark.parametrize(("treatment", "expected"), DENTAL, ids=[t for t, _ in DENTAL])
def test_dental_schedule_row_by_row(treatment: str, expected: list[datetime]) -> None:
    rt = Runtime(settings=settings_from_dict({}), clock=FrozenClock(T0), channels={})
    offsets = planner.schedule_for(rt, treatment)
    got = [due_at(T0, parse_offset(o), SHANGHAI, TEN, rt.is_workday) for o in offsets]
    assert got == expected


@pytest.mark.parametrize(("discharged", "offset", "expected"), [
    # Spring Festival 2026: Feb 15-23 off, Saturday Feb 14 a make-up working day.
    (at(2026, 2, 13, 9), "3wd", at(2026, 2, 25)),
    (at(2026, 2, 14, 9), "1wd", at(2026, 2, 24)),
    (at(2026, 2, 12, 9), "1wd", at(2026, 2, 13)),
    (at(2026, 2, 13, 9), "1wd", at(2026, 2, 14)),   # the make-up Saturday counts
    # National Day 2026: Oct 1-7 off.
    (at(2026, 9, 30, 9), "1wd", at(2026, 10, 8)),
    (at(2026, 11, 20, 9), "3wd", at(2026, 11, 25)),  # an ordinary weekend
    (at(2026, 2, 13, 9), "10d", at(2026, 2, 23)),    # calendar days ignore holidays
])
def test_working_days_follow_the_official_calendar(discharged: datetime, offset: str,
                                                   expected: datetime) -> None:
    assert due_at(discharged, parse_offset(offset), SHANGHAI, TEN, CAL.is_workday) == expected


def test_2027_needs_overrides_and_uses_them() -> None:
    assert CAL.warnings(date(2026, 11, 22)) and "2027" in CAL.warnings(date(2026, 11, 22))[0]
    assert CAL.warnings(date(2025, 6, 1)) == []
    cal = WorkCalendar(holidays=[date(2027, 2, 5), date(2027, 2, 8)],
                       workdays=[date(2027, 2, 20)])
    assert cal.warnings(date(2026, 11, 22)) == []
    assert not cal.is_workday(date(2027, 2, 5))     # a Friday holiday
    assert cal.is_workday(date(2027, 2, 20))        # a make-up Saturday
    assert cal.is_workday(date(2027, 2, 9))         # an ordinary Tuesday
    assert due_at(at(2027, 2, 4, 9), parse_offset("1wd"), SHANGHAI, TEN,
                  cal.is_workday) == at(2027, 2, 9)


def visit(ext: str, phone: str, when: str, **extra: str) -> tuple[int, dict[str, str]]:
    return (1, {"external_id": ext, "person_name": "张三", "contact_phone": phone,
                "occurred_at": when, "department": "dental", **extra})


async def test_due_in_quiet_hours_goes_out_when_the_window_opens(
        orm: None, runtime: Runtime, clock: FrozenClock) -> None:
    # An extraction at 19:30: the 3-hour check-in falls at 22:30, in the quiet hours.
    await importer.import_rows(runtime, [visit("Q1", "13800001111", "2026-11-16 19:30",
                                               treatment_type="拔牙")], "t")
    c = await CheckIn.get(offset="3h")
    assert c.due_at == at(2026, 11, 16, 22, 30)
    assert at(2026, 11, 17, 8, 30) <= c.send_at < at(2026, 11, 17, 9, 30)
    clock.set(at(2026, 11, 16, 23))
    assert await planner.open_due(runtime) == 0
    clock.set(c.send_at)
    assert await planner.open_due(runtime) == 1


async def test_department_quiet_hours_and_blocked_days(db_url: str, clock: FrozenClock,
                                                       orm: None) -> None:
    settings = make_settings(db_url, send_window={
        "departments": {"peds": {"quiet_start": "20:00", "quiet_end": "09:30"}},
        "no_send_weekdays": [7], "spread_minutes": 0})
    rt = Runtime(settings=settings, clock=clock, channels={})
    assert rt.send_window("peds") == SendWindow(
        quiet_start=time(20, 0), quiet_end=time(9, 30),
        no_send_weekdays=frozenset({7}), no_send_dates=frozenset(), spread_minutes=0)
    # Visit Saturday 2026-11-21: the next-day check-in falls on a Sunday → Monday 09:30 (peds).
    await importer.import_rows(rt, [visit("B1", "13800001111", "2026-11-21 11:00",
                                          department="peds")], "t")
    c = await CheckIn.get()
    assert (c.due_at, c.send_at) == (at(2026, 11, 22), at(2026, 11, 23, 9, 30))


async def test_fatigue_the_more_important_episode_wins(
        orm: None, runtime: Runtime, clock: FrozenClock) -> None:
    await importer.import_rows(runtime, [
        visit("V1", "13800001111", "2026-11-16 08:00"),
        visit("D1", "13800001111", "2026-11-16 08:00", kind="discharge", person_external_id="p",
              treatment_type="心内"),
        visit("V2", "13800001111", "2026-11-16 08:00", person_external_id="p"),
    ], "t")
    # Same person for D1 and V2 (person_external_id), V1 is a different person record.
    clock.set(at(2026, 11, 17, 11))
    while await planner.open_due(runtime):
        pass
    d1 = await CheckIn.get(episode__external_id="D1")
    v2 = await CheckIn.get(episode__external_id="V2")
    assert d1.status == CheckinStatus.OPENED
    assert (v2.status, v2.lost_reason) == (CheckinStatus.SKIPPED, "fatigue")


@dataclass
class FlakyChannel:
    """A provider at the boundary that cannot reach anyone (e.g. a number that bounces)."""

    name: str
    calls: list[Outgoing] = field(default_factory=list)

    def can_reach(self, phone: str | None, openid: str | None) -> bool:
        return phone is not None

    async def send(self, msg: Outgoing) -> SendResult:
        self.calls.append(msg)
        raise ChannelError("number does not exist", code="isv.MOBILE_NUMBER_ILLEGAL",
                           unreachable=True)


async def test_failed_channel_falls_back_to_the_next_and_replies_follow(
        db_url: str, clock: FrozenClock, orm: None) -> None:
    from bot.channels.simulator import SimulatorChannel

    sms = FlakyChannel("sms")
    rt = Runtime(settings=make_settings(db_url), clock=clock,
                 channels={"sms": sms, "simulator": SimulatorChannel()})
    await importer.import_rows(rt, [visit("F1", "13800001111", "2026-11-16 08:00")], "t")
    clock.set(at(2026, 11, 17, 11))
    await planner.open_due(rt)
    await outbox.send_due(rt)
    await outbox.send_due(rt)
    contact = await Contact.get()
    assert "sms" in contact.unreachable and "MOBILE_NUMBER_ILLEGAL" in contact.unreachable["sms"]
    rows = await Message.filter(direction="out").order_by("id")
    assert [(m.channel, m.status) for m in rows] == [
        ("sms", MessageStatus.FAILED), ("simulator", MessageStatus.DELIVERED)]
    assert len(sms.calls) == 1
    await dispatcher.receive(rt, channel="simulator", contact_id=contact.id, text="5",
                             provider_id="x1")
    await dispatcher.process_pending(rt)
    await outbox.send_due(rt)
    last = await Message.filter(direction="out").order_by("-id").first()
    assert last is not None and last.channel == "simulator" and "感谢" in last.body


async def test_nothing_goes_to_an_unreachable_contact(db_url: str, clock: FrozenClock,
                                                      orm: None) -> None:
    rt = Runtime(settings=make_settings(db_url), clock=clock,
                 channels={"sms": FlakyChannel("sms")})
    await importer.import_rows(rt, [visit("U1", "13800001111", "2026-11-16 08:00")], "t")
    clock.set(at(2026, 11, 17, 11))
    await planner.open_due(rt)
    await outbox.send_due(rt)
    # The retry loop finds no channel left: lost to follow-up, reason recorded.
    clock.advance(timedelta(days=1, hours=1))
    await planner.follow_up_unanswered(rt)
    c = await CheckIn.get()
    assert (c.status, c.lost_reason) == (CheckinStatus.EXPIRED, "unreachable")
    assert await Episode.all().count() == 1
