"""The rollups (answer_day and answer_clinician_day per day, answer_tally, answer_month and
answer_clinician_month per month) always equal counting the answer table (both databases).

Tallies read a rollup where one can answer them (``tallies.rollup_source``); these tests count
the answer rows in Python for every dimension, every period and a range of scopes (whole
months and ranges that cut weeks and months) and compare, on the fixed data set of
tests/test_tallies.py and after random appends (including answers with missing department,
clinician, treatment or day, and unscored comments). A database made by migration 0001 with
answers in it is upgraded by ``survey-bot migrate``, whose migrations 0002, 0009 and 0011
back-fill the day and month rollups.
"""

from __future__ import annotations

import os
import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from tortoise import connections
from tortoise.migrations.api import migrate as migrate_api

from bot import db, ledger
from bot.analytics import tallies
from bot.analytics.periods import PERIODS
from bot.analytics.tallies import DIMENSIONS, Scope
from models import (
    Answer,
    AnswerClinicianDay,
    AnswerClinicianMonth,
    AnswerClinicianWeek,
    AnswerDay,
    AnswerMonth,
    AnswerTally,
    AnswerTreatmentDay,
    AnswerTreatmentMonth,
)
from tests.conftest import BACKEND
from tests.test_cli import cli
from tests.test_tallies import seed

SCOPES = [
    Scope(),
    Scope(start=date(2026, 10, 1), end=date(2026, 10, 31)),
    Scope(start=date(2026, 11, 1)),
    Scope(end=date(2026, 10, 31)),
    Scope(department_id=1),
    Scope(departments=frozenset({1, 2})),
    Scope(clinician="李医生"),
    Scope(clinician=""),
    Scope(treatment="补牙"),
    Scope(treatment=""),
    Scope(channel="sms"),
    Scope(question_id="overall"),
    # ranges that cut weeks and months: only the day rollup or the answers can serve them
    Scope(start=date(2026, 10, 6), end=date(2026, 11, 17)),
    Scope(start=date(2026, 10, 13)),
    Scope(end=date(2026, 10, 20)),
    Scope(start=date(2026, 10, 5), end=date(2026, 10, 5)),
    Scope(start=date(2026, 10, 1), end=date(2026, 12, 31), channel="wechat",
          departments=frozenset({1})),
    Scope(start=date(2026, 10, 12), end=date(2026, 11, 1), clinician="李医生"),
    Scope(channel="wechat", question_id="attitude"),
    # one clinician told apart by the hospital's id (or by having none)
    Scope(clinician="李医生", clinician_code="D1"),
    Scope(clinician_code=""),
    Scope(start=date(2026, 10, 6), end=date(2026, 11, 17), clinician_code="D1",
          question_id="overall"),
    # whole months inside with days left at one or both ends: months from the month rollups,
    # the ends from the day rollups
    Scope(start=date(2026, 9, 25), end=date(2026, 12, 3)),
    Scope(start=date(2026, 9, 25), end=date(2026, 11, 30), clinician="李医生"),
    Scope(start=date(2026, 10, 1), end=date(2026, 11, 17), departments=frozenset({1})),
    Scope(start=date(2026, 9, 21)),
    Scope(end=date(2026, 11, 17), question_id="overall"),
    Scope(start=date(2026, 9, 25), end=date(2026, 12, 3), clinician_code="D1"),
    # whole ISO weeks inside, days left at either end (2026-10-07 is a Wednesday, 10-25 a
    # Sunday, 11-03 a Tuesday): the clinician week rollup and the day rollup together
    Scope(start=date(2026, 10, 7), end=date(2026, 11, 3)),
    Scope(start=date(2026, 10, 5), end=date(2026, 10, 25), clinician="李医生"),
    Scope(start=date(2026, 10, 7)),
    Scope(end=date(2026, 11, 3), question_id="attitude"),
]
COLUMN = {"department": "department_id", "clinician": "clinician",
          "treatment": "treatment_type", "channel": "channel", "question": None}


def expected(rows: list[dict[str, Any]], by: str, period: str,
             scope: Scope) -> Counter[tuple[Any, str, str, int]]:
    """What counting the answer rows gives, in score_rows' shape."""
    out: Counter[tuple[Any, str, str, int]] = Counter()
    ids = scope.dept_ids()
    for r in rows:
        day = r["local_day"]
        if scope.start and (day is None or day < scope.start.isoformat()):
            continue
        if scope.end and (day is None or day > scope.end.isoformat()):
            continue
        if ids is not None and r["department_id"] not in ids:
            continue
        if any(v is not None and r[c] != v for c, v in (
                ("clinician", scope.clinician), ("treatment_type", scope.treatment),
                ("channel", scope.channel), ("question_id", scope.question_id))):
            continue
        if scope.clinician_code is not None and (r["clinician_code"] or "") != (
                scope.clinician_code):
            continue
        col = COLUMN[by]
        if by == "clinician":  # within the department, with the clinician's id
            g: Any = (r["department_id"], r["clinician_code"] or "", r["clinician"])
        else:
            g = r[col] if col else ""
        per = "" if period == "all" else (tallies.bucket(day, period) if day else "None")
        out[(g, per, r["question_id"], r["score"])] += 1
    return out


TALLY_COLS = ("department_id", "clinician", "treatment_type", "channel", "question_id", "score",
              "local_month", "nulls", "n")
DAY_COLS = ("department_id", "question_id", "score", "nulls", "local_day", "channel", "n")
CLINICIAN_DAY_COLS = ("department_id", "clinician", "clinician_code", "question_id", "nulls",
                      "local_day", "n1", "n2", "n3", "n4", "n5")
MONTH_COLS = ("month_start", *DAY_COLS[:4], *DAY_COLS[5:])
CLINICIAN_MONTH_COLS = ("month_start", *CLINICIAN_DAY_COLS[:5], *CLINICIAN_DAY_COLS[6:])
CLINICIAN_WEEK_COLS = ("week_start", *CLINICIAN_DAY_COLS[:5], *CLINICIAN_DAY_COLS[6:])
TREATMENT_DAY_COLS = ("department_id", "treatment_type", "question_id", "nulls", "local_day",
                      "n1", "n2", "n3", "n4", "n5")
TREATMENT_MONTH_COLS = ("month_start", *TREATMENT_DAY_COLS[:4], *TREATMENT_DAY_COLS[5:])


async def rollups() -> tuple[list[tuple[Any, ...]], ...]:
    """The rollup tables' rows, sorted."""
    return (sorted(await AnswerTally.all().values_list(*TALLY_COLS)),
            sorted(await AnswerDay.all().values_list(*DAY_COLS)),
            sorted(await AnswerClinicianDay.all().values_list(*CLINICIAN_DAY_COLS)),
            sorted(await AnswerMonth.all().values_list(*MONTH_COLS)),
            sorted(await AnswerClinicianMonth.all().values_list(*CLINICIAN_MONTH_COLS)),
            sorted(await AnswerTreatmentDay.all().values_list(*TREATMENT_DAY_COLS)),
            sorted(await AnswerTreatmentMonth.all().values_list(*TREATMENT_MONTH_COLS)),
            sorted(await AnswerClinicianWeek.all().values_list(*CLINICIAN_WEEK_COLS)))


async def check_all() -> None:
    rows = await Answer.filter(score__isnull=False).values(
        "department_id", "clinician", "treatment_type", "channel", "question_id", "score",
        "local_day", "clinician_code")
    pg = db.is_postgres()
    sources = set()
    for by in DIMENSIONS:
        for period in PERIODS:
            for scope in SCOPES:
                sources.add(tallies.rollup_source(by, period, scope, pg))
                raw = await tallies.score_rows(by, period, scope)
                got = Counter({(g, p, q, s): n for g, p, q, s, n in raw})
                assert got == expected(rows, by, period, scope), (by, period, scope)
                # the five-count form the pages read says the same
                counts = {(g, p, q): c for g, p, q, c in await tallies.score_counts(
                    by, period, scope)}
                assert counts == {(g, p, q): c for g, p, q, c in tallies.counts_of(raw)}, (
                    by, period, scope)
    # every path was compared
    assert sources == {"answer_day", "answer_clinician_day", "answer_treatment_day",
                       "answer_tally", "answer"}
    # and the incrementally kept rollups equal ones rebuilt from scratch
    kept = await rollups()
    counts = await tallies.rebuild_rollup()
    assert await rollups() == kept
    assert counts == {"answer_tally": len(kept[0]), "answer_day": len(kept[1]),
                      "answer_clinician_day": len(kept[2]), "answer_month": len(kept[3]),
                      "answer_clinician_month": len(kept[4]),
                      "answer_treatment_day": len(kept[5]),
                      "answer_treatment_month": len(kept[6]),
                      "answer_clinician_week": len(kept[7])}
    # each month row is its days summed
    months: Counter[tuple[Any, ...]] = Counter()
    for r in kept[1]:
        months[(f"{r[4][:7]}-01" if r[4] else "", *r[:4], r[5])] += r[6]
    assert Counter({r[:-1]: r[-1] for r in kept[3]}) == months


async def test_rollup_matches_answers_on_fixed_data(orm: None) -> None:
    await seed()
    assert await AnswerTally.all().count() > 0
    assert await AnswerDay.all().count() > 0
    assert await AnswerClinicianDay.all().count() > 0
    assert await AnswerMonth.all().count() > 0
    assert await AnswerClinicianMonth.all().count() > 0
    await check_all()


async def test_rebuild_tallies_command_restores_lost_rollups(orm: None, db_url: str) -> None:
    """A restore that brought back answers but not the rollups: the command recounts them."""
    await seed()
    kept = await rollups()
    await AnswerTally.all().delete()
    await AnswerDay.all().delete()
    await AnswerClinicianDay.all().delete()
    await AnswerMonth.all().delete()
    await AnswerClinicianMonth.all().delete()
    await AnswerTreatmentDay.all().delete()
    await AnswerTreatmentMonth.all().delete()
    await AnswerClinicianWeek.all().delete()
    out = cli("rebuild-tallies", db_url=db_url)
    assert out.returncode == 0, out.stderr
    assert f"answer_tally: {len(kept[0])} rows rebuilt" in out.stdout
    assert f"answer_day: {len(kept[1])} rows rebuilt" in out.stdout
    assert f"answer_clinician_day: {len(kept[2])} rows rebuilt" in out.stdout
    assert f"answer_month: {len(kept[3])} rows rebuilt" in out.stdout
    assert f"answer_clinician_month: {len(kept[4])} rows rebuilt" in out.stdout
    assert f"answer_treatment_day: {len(kept[5])} rows rebuilt" in out.stdout
    assert await rollups() == kept


@pytest.mark.parametrize("seed_value", [1, 2])
async def test_rollup_matches_answers_after_random_appends(orm: None, seed_value: int) -> None:
    await seed()
    rnd = random.Random(seed_value)
    base = datetime(2026, 9, 20, 2, tzinfo=UTC)
    for i in range(120):
        day = (date(2026, 9, 20) + timedelta(days=rnd.randrange(90))).isoformat()
        await ledger.append(
            Answer, checkin_id=None, conversation_id=1000 + i, episode_id=None,
            department_id=rnd.choice([1, 2, None]),
            channel=rnd.choice(["wechat", "sms", "h5"]), survey_id="general",
            question_id=rnd.choice(["overall", "attitude"]),
            score=rnd.choice([1, 2, 3, 4, 5, None]), text="",
            clinician=rnd.choice(["李医生", "王医生", "", None]),
            clinician_code=rnd.choice(["D1", "", None]),
            treatment_type=rnd.choice(["拔牙", "补牙", "", None]),
            local_day=rnd.choice([day, day, day, None]),
            recorded_at=base + timedelta(hours=i))
    await check_all()
    # a tally over whole months (rollup) agrees with the same range read from the answers
    # (a range that ends mid-month is served by the answer table)
    whole = await tallies.score_tallies(by="clinician", period="month",
                                        scope=Scope(start=date(2026, 10, 1),
                                                    end=date(2026, 10, 31)))
    split = await tallies.score_tallies(by="clinician", period="month",
                                        scope=Scope(start=date(2026, 10, 1),
                                                    end=date(2026, 10, 30)))
    late = await tallies.score_tallies(by="clinician", period="month",
                                       scope=Scope(start=date(2026, 10, 31),
                                                   end=date(2026, 10, 31)))
    def total(ts: list[tallies.Tally]) -> Counter[tuple[Any, str, int]]:
        out: Counter[tuple[Any, str, int]] = Counter()
        for t in ts:
            for s, n in t.distribution.items():
                out[(t.key_id, t.question_id, s)] += n
        return out

    assert total(split) + total(late) == total(whole)
    assert sum(total(whole).values()) > 0


@pytest.fixture
def empty_db_url(_template: Any, tmp_path: Any) -> Any:
    """A database with no tables at all (the template cluster on PostgreSQL)."""
    if BACKEND == "postgres":
        name = f"sb_upgrade_{os.getpid()}"
        _template.psql(f"CREATE DATABASE {name}")
        yield _template.url(name)
        _template.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    else:
        yield f"sqlite://{tmp_path / 'upgrade.sqlite3'}"


async def test_migrate_upgrades_a_0001_database_with_answers(empty_db_url: str) -> None:
    """`survey-bot migrate` on a database made by the released 0001 back-fills the day rollup."""
    await migrate_api(config=db.tortoise_config(empty_db_url), target="models.0001_initial")
    await db.close_db()
    await db.init_db(empty_db_url)
    try:
        # answers as the 0001 code wrote them (answer_day does not exist yet)
        rnd = random.Random(3)
        base = datetime(2026, 9, 20, 2, tzinfo=UTC)
        # (raw SQL: the model has columns 0001 did not)
        cols = ("conversation_id", "department_id", "channel", "survey_id", "question_id",
                "score", "text", "clinician", "treatment_type", "local_day", "recorded_at",
                "prev_hash", "hash")
        pg = db.is_postgres()
        marks = ", ".join(f"${i + 1}" if pg else "?" for i in range(len(cols)))
        conn = connections.get("default")
        for i in range(300):
            when = base + timedelta(hours=i)
            await conn.execute_query(
                f"INSERT INTO answer ({', '.join(cols)}) VALUES ({marks})",
                [i, rnd.choice([1, 2, None]), rnd.choice(["wechat", "sms"]), "general",
                 rnd.choice(["overall", "attitude"]), rnd.choice([1, 2, 3, 4, 5, None]), "",
                 rnd.choice(["李医生", None]), "拔牙",
                 rnd.choice([(date(2026, 9, 20) + timedelta(days=i % 70)).isoformat(), None]),
                 when if pg else when.isoformat(sep=" "), "0" * 64, f"{i:064x}"])
    finally:
        await db.close_db()

    for _ in range(2):  # a second run changes nothing
        out = cli("migrate", db_url=empty_db_url)
        assert out.returncode == 0, out.stderr

    await db.init_db(empty_db_url)
    try:
        day_rows = sorted(await AnswerDay.all().values_list(*DAY_COLS))
        scored = await Answer.filter(score__isnull=False).count()
        assert sum(r[-1] for r in day_rows) == scored
        clinician_rows = sorted(await AnswerClinicianDay.all().values_list(*CLINICIAN_DAY_COLS))
        assert sum(sum(r[-5:]) for r in clinician_rows) == scored
        month_rows = sorted(await AnswerMonth.all().values_list(*MONTH_COLS))
        assert sum(r[-1] for r in month_rows) == scored
        clinician_months = sorted(await AnswerClinicianMonth.all().values_list(
            *CLINICIAN_MONTH_COLS))
        assert sum(sum(r[-5:]) for r in clinician_months) == scored
        await tallies.rebuild_rollup()
        assert sorted(await AnswerMonth.all().values_list(*MONTH_COLS)) == month_rows
        assert sorted(await AnswerClinicianMonth.all().values_list(
            *CLINICIAN_MONTH_COLS)) == clinician_months
        clinician_weeks = sorted(await AnswerClinicianWeek.all().values_list(
            *CLINICIAN_WEEK_COLS))
        assert sum(sum(r[-5:]) for r in clinician_weeks) == scored
        treatment_rows = sorted(await AnswerTreatmentDay.all().values_list(
            *TREATMENT_DAY_COLS))
        assert sum(sum(r[-5:]) for r in treatment_rows) == scored
        assert sorted(await AnswerDay.all().values_list(*DAY_COLS)) == day_rows
        assert sorted(await AnswerClinicianDay.all().values_list(
            *CLINICIAN_DAY_COLS)) == clinician_rows
        # from here on the ledger keeps it
        await ledger.append(
            Answer, checkin_id=None, conversation_id=999, episode_id=None, department_id=1,
            channel="sms", survey_id="general", question_id="overall", score=4, text="",
            clinician=None, treatment_type=None, local_day="2026-10-07",
            recorded_at=base + timedelta(days=40))
        rows = await Answer.filter(score__isnull=False).values(
            "department_id", "clinician", "treatment_type", "channel", "question_id", "score",
            "local_day", "clinician_code")
        for by in ("department", "clinician", "treatment", "channel", "question"):
            for period in PERIODS:
                for scope in SCOPES:
                    if tallies.rollup_source(by, period, scope, db.is_postgres()) not in (
                            "answer_day", "answer_clinician_day", "answer_treatment_day"):
                        continue
                    got = Counter({(g, p, q, s): n for g, p, q, s, n
                                   in await tallies.score_rows(by, period, scope)})
                    assert got == expected(rows, by, period, scope), (by, period, scope)
    finally:
        await db.close_db()


async def test_month_tallies_read_whole_months_from_the_month_rollups(orm: None) -> None:
    """A month tally over a range with whole months inside reads those months from the month
    rollups and only the days at the ends from the day rollups (what makes a year of
    department × month a few thousand rows, not a year of days); a clinician week tally reads
    its whole weeks from the clinician week rollup."""
    await seed()
    rows = await Answer.filter(score__isnull=False).values(
        "department_id", "clinician", "treatment_type", "channel", "question_id", "score",
        "local_day", "clinician_code")
    days = sorted({r["local_day"] for r in rows if r["local_day"]})
    first = date.fromisoformat(days[0]).replace(day=1)
    scope = Scope(start=first, end=date.fromisoformat(days[-1]))
    for by in ("department", "clinician"):
        want = expected(rows, by, "month", scope)
        got = Counter({(g, p, q, s): n for g, p, q, s, n
                       in await tallies.score_rows(by, "month", scope)})
        assert got == want and sum(want.values()) > 0
    # emptied clinician week rollup: the weeks it held are gone from clinician week tallies,
    # not from month or day ones
    week_scope = Scope(start=date.fromisoformat(days[0]), end=date.fromisoformat(days[-1]))
    assert Counter({(g, p, q, s): n for g, p, q, s, n in await tallies.score_rows(
        "clinician", "week", week_scope)}) == expected(rows, "clinician", "week", week_scope)
    await AnswerClinicianWeek.all().delete()
    got = await tallies.score_rows("clinician", "week", week_scope)
    assert sum(n for *_, n in got) < sum(expected(rows, "clinician", "week",
                                                  week_scope).values())
    for period in ("day", "month"):
        assert Counter({(g, p, q, s): n for g, p, q, s, n in await tallies.score_rows(
            "clinician", period, scope)}) == expected(rows, "clinician", period, scope)
    # emptied month rollups: the months they held are gone from month tallies, not from
    # day or week ones (which never read them)
    await AnswerMonth.all().delete()
    await AnswerClinicianMonth.all().delete()
    for by in ("department", "clinician"):
        got = Counter({(g, p, q, s): n for g, p, q, s, n
                       in await tallies.score_rows(by, "month", scope)})
        assert sum(got.values()) < sum(expected(rows, by, "month", scope).values())
        day = Counter({(g, p, q, s): n for g, p, q, s, n
                       in await tallies.score_rows(by, "day", scope)})
        assert day == expected(rows, by, "day", scope)
