"""Tallies against hand-computed expectations on a fixed data set (both databases).

The data set (see ``seed``): nine "overall" scores and two "attitude" scores in two departments,
three clinicians, three treatment types, two channels, October and November 2026; seven
episodes with check-ins in every state; four escalations; two comments (one praise).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tortoise import fields

from bot import ledger
from bot.analytics import operations, tallies
from bot.analytics.tallies import Scope, Tally
from bot.config import TalliesConfig
from models import (
    Answer,
    CheckIn,
    Contact,
    Conversation,
    Department,
    Episode,
    EpisodeStatus,
    Escalation,
    Person,
)

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 16, 9, 0, tzinfo=SH)

# (department, clinician, treatment, channel, local day, question, score, comment)
ANSWERS = [
    ("dental", "李医生", "拔牙", "wechat", "2026-10-05", "overall", 5, "李医生很耐心，谢谢"),
    ("dental", "李医生", "拔牙", "wechat", "2026-10-05", "overall", 5, None),
    ("dental", "李医生", "拔牙", "sms", "2026-10-12", "overall", 4, None),
    ("dental", "李医生", "补牙", "wechat", "2026-10-12", "overall", 3, None),
    ("dental", "王医生", "补牙", "sms", "2026-11-02", "overall", 2, "王医生态度不好"),
    ("dental", "王医生", "补牙", "wechat", "2026-11-02", "overall", 5, None),
    ("ortho", "赵医生", "出院", "wechat", "2026-10-20", "overall", 4, None),
    ("ortho", "赵医生", "出院", "wechat", "2026-10-20", "overall", 4, None),
    ("ortho", "赵医生", "出院", "sms", "2026-10-21", "overall", 5, None),
    ("dental", "李医生", "拔牙", "wechat", "2026-10-05", "attitude", 4, None),
    ("dental", "李医生", "拔牙", "wechat", "2026-10-05", "attitude", 5, None),
]


def at(day: str, hour: int = 10) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), SH).replace(hour=hour)


async def seed() -> dict[str, Any]:
    depts = {"dental": await Department.create(code="dental", name="口腔科"),
             "ortho": await Department.create(code="ortho", name="骨科")}
    person = await Person.create(name="张三")
    contact = await Contact.create(name="张三", phone="13800000000")
    conv = await Conversation.create(contact=contact, channel="wechat", last_activity_at=NOW)
    for i, (d, clin, treat, chan, day, q, score, comment) in enumerate(ANSWERS):
        c = await Conversation.create(contact=contact, channel=chan, last_activity_at=NOW)
        common = {"checkin_id": None, "conversation_id": c.id, "episode_id": None,
                  "department_id": depts[d].id, "channel": chan, "survey_id": "general",
                  "clinician": clin, "treatment_type": treat, "local_day": day,
                  "recorded_at": at(day) + timedelta(minutes=i)}
        await ledger.append(Answer, question_id=q, score=score, text="", **common)
        if comment:
            await ledger.append(Answer, question_id="improve", score=None, text=comment,
                                **common)

    # Episodes and check-ins (operations).
    async def episode(n: int, dept: str, clin: str, *, status: str = "active",
                      contact_kw: dict[str, Any] | None = None) -> Episode:
        ct = await Contact.create(name=f"c{n}", phone=f"1390000000{n}", **(contact_kw or {}))
        return await Episode.create(external_id=f"E{n}", person=person, contact=ct,
                                    department=depts[dept], clinician_name=clin,
                                    treatment_type="拔牙", occurred_at=at("2026-10-05"),
                                    status=EpisodeStatus(status))

    async def checkin(ep: Episode, status: str, opened: datetime | None = None,
                      due: datetime | None = None, lost: str | None = None) -> None:
        due = due or at("2026-10-06")
        # Other required times (send_at, window ends: the reach work) default to the due time.
        extra = {name: due for name, f in CheckIn._meta.fields_map.items()
                 if isinstance(f, fields.DatetimeField) and not f.null and f.default is None
                 and not f.auto_now_add and not f.auto_now and name != "due_at"}
        extra["window_end_at"] = due + timedelta(hours=24)  # on time: sent within 24 h
        await CheckIn.create(episode=ep, contact_id=ep.contact_id, offset="1d",
                             survey_id="general", channel="wechat", status=status,
                             due_at=due, opened_at=opened, lost_reason=lost, **extra)

    e1 = await episode(1, "dental", "李医生")
    await checkin(e1, "answered", at("2026-10-06"))
    e2 = await episode(2, "dental", "李医生")
    await checkin(e2, "expired", at("2026-10-08"), lost="refused")  # 48 h late
    e3 = await episode(3, "dental", "王医生", contact_kw={"opted_out_at": at("2026-10-05", 12)})
    await checkin(e3, "skipped")
    e4 = await episode(4, "dental", "王医生")
    await checkin(e4, "planned", due=at("2026-12-01"))
    e5 = await episode(5, "dental", "李医生", status="cancelled")
    await checkin(e5, "cancelled")
    e6 = await episode(6, "ortho", "赵医生")
    await checkin(e6, "answered", at("2026-10-06", 11))
    e7 = await episode(7, "ortho", "赵医生", contact_kw={"stopped_reason": "wrong_number"})
    await checkin(e7, "expired", at("2026-10-06"))

    def esc(dept: str, kind: str, prio: str, opened: datetime,
            claimed: datetime | None = None) -> Any:
        return Escalation.create(conversation=conv, department=depts[dept], kind=kind,
                                 kinds=[kind], priority=prio, opened_at=opened,
                                 claimed_at=claimed, status="claimed" if claimed else "open")

    await esc("dental", "complaint", "high", at("2026-10-06", 11), at("2026-10-06", 12))
    await esc("dental", "low_score", "normal", at("2026-10-06", 11))  # never claimed: breach
    await esc("ortho", "red_flag", "urgent", at("2026-10-20", 10), at("2026-10-20", 11))
    await esc("dental", "question", "normal", NOW - timedelta(hours=1))  # not yet due
    return {k: v.id for k, v in depts.items()}


def by_key(rows: list[Tally], question: str = "overall") -> dict[tuple[str, str], Tally]:
    return {(t.key, t.period): t for t in rows if t.question_id == question}


def dist(t: Tally) -> list[int]:
    return [t.distribution[s] for s in range(1, 6)]


async def test_department_tallies_mean_boxes_and_intervals(orm: None) -> None:
    await seed()
    rows = by_key(await tallies.score_tallies())
    dental, ortho = rows[("口腔科", "")], rows[("骨科", "")]
    assert dist(dental) == [0, 1, 1, 1, 3] and dental.answers == 6
    assert dental.mean == pytest.approx(4.0)
    assert dental.top_box == pytest.approx(0.5)
    assert dental.top_two_box == pytest.approx(4 / 6)
    # sd = sqrt(8/5); t(5) = 2.571; half-width = 2.571 * 1.26491 / sqrt(6) = 1.3277
    assert dental.sd == pytest.approx(1.264911, abs=1e-5)
    lo, hi = dental.mean_ci or (0, 0)
    assert lo == pytest.approx(2.6723, abs=1e-3) and hi == 5.0  # clipped to the scale
    # Wilson 95 % for 3/6: 0.5 ± 0.3124
    blo, bhi = dental.top_box_rate.ci or (0, 0)
    assert blo == pytest.approx(0.1876, abs=1e-3) and bhi == pytest.approx(0.8124, abs=1e-3)
    # fewer than five answers: counts shown, mean and rates hidden
    assert dist(ortho) == [0, 0, 0, 2, 1]
    assert ortho.mean is None and ortho.top_two_box is None and ortho.mean_ci is None
    assert not ortho.shown and ortho.top_two_rate.ci is None


@pytest.mark.parametrize(("by", "period", "expected"), [
    ("clinician", "all", {("李医生", ""): [0, 0, 1, 1, 2], ("王医生", ""): [0, 1, 0, 0, 1],
                          ("赵医生", ""): [0, 0, 0, 2, 1]}),
    ("treatment", "all", {("拔牙", ""): [0, 0, 0, 1, 2], ("补牙", ""): [0, 1, 1, 0, 1],
                          ("出院", ""): [0, 0, 0, 2, 1]}),
    ("channel", "all", {("wechat", ""): [0, 0, 1, 2, 3], ("sms", ""): [0, 1, 0, 1, 1]}),
    ("question", "all", {("", ""): [0, 1, 1, 3, 4]}),
    ("department", "month", {("口腔科", "2026-10"): [0, 0, 1, 1, 2],
                             ("口腔科", "2026-11"): [0, 1, 0, 0, 1],
                             ("骨科", "2026-10"): [0, 0, 0, 2, 1]}),
    ("department", "week", {("口腔科", "2026-10-05"): [0, 0, 0, 0, 2],
                            ("口腔科", "2026-10-12"): [0, 0, 1, 1, 0],
                            ("口腔科", "2026-11-02"): [0, 1, 0, 0, 1],
                            ("骨科", "2026-10-19"): [0, 0, 0, 2, 1]}),
    ("department", "quarter", {("口腔科", "2026-Q4"): [0, 1, 1, 1, 3],
                               ("骨科", "2026-Q4"): [0, 0, 0, 2, 1]}),
    ("department", "day", {("口腔科", "2026-10-05"): [0, 0, 0, 0, 2],
                           ("口腔科", "2026-10-12"): [0, 0, 1, 1, 0],
                           ("口腔科", "2026-11-02"): [0, 1, 0, 0, 1],
                           ("骨科", "2026-10-20"): [0, 0, 0, 2, 0],
                           ("骨科", "2026-10-21"): [0, 0, 0, 0, 1]}),
    ("clinician", "month", {("李医生", "2026-10"): [0, 0, 1, 1, 2],
                            ("王医生", "2026-11"): [0, 1, 0, 0, 1],
                            ("赵医生", "2026-10"): [0, 0, 0, 2, 1]}),
    ("clinician", "week", {("李医生", "2026-10-05"): [0, 0, 0, 0, 2],
                           ("李医生", "2026-10-12"): [0, 0, 1, 1, 0],
                           ("王医生", "2026-11-02"): [0, 1, 0, 0, 1],
                           ("赵医生", "2026-10-19"): [0, 0, 0, 2, 1]}),
    ("clinician", "quarter", {("李医生", "2026-Q4"): [0, 0, 1, 1, 2],
                              ("王医生", "2026-Q4"): [0, 1, 0, 0, 1],
                              ("赵医生", "2026-Q4"): [0, 0, 0, 2, 1]}),
])
async def test_every_dimension_and_period(orm: None, by: str, period: str,
                                          expected: dict[tuple[str, str], list[int]]) -> None:
    await seed()
    rows = by_key(await tallies.score_tallies(by=by, period=period))
    assert {k: dist(t) for k, t in rows.items()} == expected


async def test_question_dimension_and_scopes(orm: None) -> None:
    ids = await seed()
    q = await tallies.score_tallies(by="question")
    assert {t.question_id: t.answers for t in q} == {"overall": 9, "attitude": 2}
    assert by_key(q)[("", "")].mean == pytest.approx(37 / 9)
    # custom range: the first half of October holds four dental answers
    r = by_key(await tallies.score_tallies(scope=Scope(start=date(2026, 10, 1),
                                                       end=date(2026, 10, 15))))
    assert {k: dist(t) for k, t in r.items()} == {("口腔科", ""): [0, 0, 1, 1, 2]}
    # a department head sees theirs only
    only = await tallies.score_tallies(scope=Scope(departments=frozenset({ids["ortho"]})))
    assert {t.key for t in only} == {"骨科"}
    # filters combine
    f = await tallies.score_tallies(by="channel", scope=Scope(clinician="李医生",
                                                              question_id="overall"))
    assert {t.key: dist(t) for t in f} == {"wechat": [0, 0, 1, 0, 2], "sms": [0, 0, 0, 1, 0]}


@pytest.mark.parametrize(("text", "first", "last"), [
    ("2026-10", date(2026, 10, 1), date(2026, 10, 31)),
    ("2026-02", date(2026, 2, 1), date(2026, 2, 28)),
    ("2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
    ("2026", date(2026, 1, 1), date(2026, 12, 31)),
    ("2026-11-16", date(2026, 11, 16), date(2026, 11, 16)),
    ("2026-10-01..2026-10-15", date(2026, 10, 1), date(2026, 10, 15)),
])
def test_parse_range(text: str, first: date, last: date) -> None:
    assert tallies.parse_range(text) == (first, last)


@pytest.mark.parametrize("text", ["2026-13", "October", "2026-10-15..2026-10-01", "2026-Q5"])
def test_parse_range_refuses_clearly(text: str) -> None:
    with pytest.raises(tallies.TallyError, match=r"2026|ends before"):
        tallies.parse_range(text)


async def test_operations_by_department(orm: None) -> None:
    await seed()
    cfg = TalliesConfig(min_answers=1)
    ops = {o.key: o for o in await operations.operations(cfg, SH, NOW)}
    d, o = ops["口腔科"], ops["骨科"]
    # response: sent = opened/answered/expired check-ins; E1 answered, E2 expired
    assert (d.sent, d.answered, d.on_time) == (2, 1, 1)
    assert d.response.value == pytest.approx(0.5)
    assert d.on_time_rate.value == pytest.approx(0.5)
    # coverage: E1..E4 eligible (E5 cancelled), E1 covered; E4 still planned (not lost)
    assert (d.eligible, d.covered) == (4, 1)
    assert d.lost == {"refused": 1, "opted_out": 1}  # recorded reason, then the contact's
    assert d.escalations == {"complaint": 1, "low_score": 1, "question": 1}
    # SLA: complaint claimed after 1 h (met), low score never claimed (breached), question
    # opened an hour ago (not yet due)
    assert (d.sla_met, d.sla_due) == (1, 2)
    assert d.praise == {"李医生": 1}
    assert (o.sent, o.answered, o.on_time, o.eligible, o.covered) == (2, 1, 2, 2, 1)
    assert o.lost == {"wrong_number": 1}
    assert o.escalations == {"red_flag": 1} and (o.sla_met, o.sla_due) == (0, 1)
    assert o.praise == {}


async def test_operations_hide_small_groups_and_scope(orm: None) -> None:
    ids = await seed()
    ops = await operations.operations(TalliesConfig(), SH, NOW,
                                   scope=Scope(departments=frozenset({ids["dental"]})))
    assert [o.key for o in ops] == ["口腔科"]
    # follow-up rates are shown at any size, with their interval (the counts are shown anyway)
    assert ops[0].response.value == pytest.approx(0.5) and ops[0].response.ci is not None
    by_clin = {o.key: o for o in await operations.operations(TalliesConfig(min_answers=1), SH,
                                                          NOW, by="clinician")}
    assert by_clin["李医生"].praise == {"李医生": 1}
    assert (by_clin["王医生"].eligible, by_clin["王医生"].lost) == (2, {"opted_out": 1})
