"""The answer_tally rollup always equals counting the answer table (both databases).

Month-grain tallies (period all/month/quarter over whole months) read the rollup; these tests
count the answer rows in Python for every dimension, period and a range of scopes and compare,
on the fixed data set of tests/test_tallies.py and after random appends (including answers
with missing department, clinician, treatment or day, and unscored comments).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot import ledger, tallies
from bot.tallies import DIMENSIONS, Scope
from models import Answer, AnswerTally
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
        col = COLUMN[by]
        g = r[col] if col else ""
        per = "" if period == "all" else (tallies.bucket(day, period) if day else "None")
        out[(g, per, r["question_id"], r["score"])] += 1
    return out


async def check_all() -> None:
    rows = await Answer.filter(score__isnull=False).values(
        "department_id", "clinician", "treatment_type", "channel", "question_id", "score",
        "local_day")
    for by in DIMENSIONS:
        for period in ("all", "month", "quarter"):
            for scope in SCOPES:
                got = Counter({(g, p, q, s): n
                               for g, p, q, s, n in await tallies.score_rows(by, period, scope)})
                assert got == expected(rows, by, period, scope), (by, period, scope)
    # and the incrementally kept rollup equals one rebuilt from scratch
    kept = sorted(await AnswerTally.all().values_list(
        "department_id", "clinician", "treatment_type", "channel", "question_id", "score",
        "local_month", "nulls", "n"))
    await tallies.rebuild_rollup()
    rebuilt = sorted(await AnswerTally.all().values_list(
        "department_id", "clinician", "treatment_type", "channel", "question_id", "score",
        "local_month", "nulls", "n"))
    assert kept == rebuilt


async def test_rollup_matches_answers_on_fixed_data(orm: None) -> None:
    await seed()
    assert await AnswerTally.all().count() > 0
    await check_all()


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
