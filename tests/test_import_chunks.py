"""Importing in chunks (one transaction and a few queries per chunk) stores exactly what
importing row by row stores: shared guardians, contacts found by openid, one person with
several episodes, cancellations, an episode edited later in the same file, re-imports."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot import importer
from bot.runtime import Runtime
from models import CheckIn, Contact, Department, Episode, Person, PersonContact

ROWS: list[dict[str, str]] = [
    {"external_id": "E1", "person_name": "张三", "contact_phone": "13800000001",
     "occurred_at": "2026-11-16 09:00", "department": "dental", "treatment_type": "拔牙"},
    {"external_id": "E2", "person_name": "小明", "contact_phone": "13800000002",
     "contact_name": "赵丽", "relation": "parent", "occurred_at": "2026-11-16",
     "department": "peds", "department_name": "儿科"},
    {"external_id": "E3", "person_name": "小红", "contact_phone": "138 0000 0002",
     "contact_name": "赵丽", "relation": "parent", "occurred_at": "2026-11-17",
     "department": "peds", "department_name": "另一个名字"},
    {"external_id": "E4", "person_name": "李四", "contact_openid": "oA",
     "occurred_at": "2026-11-16", "department": "ortho"},
    # Unknown phone, known openid (from the row above): the same contact.
    {"external_id": "E5", "person_name": "李四", "contact_phone": "13800000005",
     "contact_openid": "oA", "occurred_at": "2026-11-18", "department": "ortho"},
    {"external_id": "E6", "person_name": "坏", "contact_phone": "12345",
     "occurred_at": "2026-11-16", "department": "ortho"},
    {"external_id": "E7", "person_name": "王五", "contact_phone": "13800000007",
     "occurred_at": "2026-11-16", "department": "dental", "status": "cancelled"},
    {"external_id": "E8", "person_name": "周六", "person_external_id": "P8",
     "contact_phone": "13800000008", "occurred_at": "2026-11-16", "department": "ortho"},
    {"external_id": "E9", "person_name": "周六", "person_external_id": "P8",
     "contact_phone": "13800000008", "occurred_at": "2026-11-19", "department": "ortho",
     "kind": "discharge"},
    # E1 again, re-dated later in the same file: the later row wins.
    {"external_id": "E1", "person_name": "张三", "contact_phone": "13800000001",
     "occurred_at": "2026-11-17 10:00", "department": "dental", "treatment_type": "拔牙"},
]
AGAIN: list[dict[str, str]] = [
    {**ROWS[-1], "treatment_type": "洁牙"},  # new schedule: unwanted offsets cancelled
    {**ROWS[1], "status": "cancelled"},
    ROWS[3],  # unchanged
    {"external_id": "E10", "person_name": "小明", "contact_phone": "13800000002",
     "contact_name": "赵丽", "relation": "parent", "occurred_at": "2026-11-20",
     "department": "peds"},
]


async def snapshot() -> dict[str, Any]:
    """Everything an import stores, by natural keys (ids differ from run to run)."""
    contacts = {c.id: (c.name, c.phone, c.wechat_openid) for c in await Contact.all()}
    people = {p.id: (p.external_id if not p.external_id or ":" not in p.external_id
                     else p.external_id.split(":", 1)[1], p.name, p.kind.value)
              for p in await Person.all()}
    episodes = {e.id: e for e in await Episode.all().prefetch_related("department")}
    return {
        "departments": sorted(await Department.all().values_list("code", "name")),
        "contacts": sorted(contacts.values(), key=str),
        "people": sorted(people.values()),
        "links": sorted((people[pc.person_id], contacts[pc.contact_id], pc.relation.value)
                        for pc in await PersonContact.all()),
        "episodes": sorted((e.external_id, e.kind.value, e.status.value, people[e.person_id],
                            contacts[e.contact_id], e.department.code, e.occurred_at,
                            e.treatment_type) for e in episodes.values()),
        "checkins": sorted((episodes[c.episode_id].external_id, c.offset, c.status.value,
                            contacts[c.contact_id], c.due_at, c.send_at, c.window_end_at,
                            c.importance, c.survey_id) for c in await CheckIn.all()),
    }


async def clear() -> None:
    for model in (CheckIn, Episode, PersonContact, Person, Contact, Department):
        await model.all().delete()


def summary(r: importer.ImportResult) -> tuple[Any, ...]:
    return (r.created, r.updated, r.unchanged, r.checkins_planned,
            [(e.line, e.column) for e in r.errors])


async def test_chunks_store_what_row_by_row_stores(orm: None, runtime: Runtime,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    seen: dict[int, Any] = {}
    caplog.set_level(logging.INFO, logger="bot.importer")
    for size in (1, 2, 3, 200):
        await clear()
        caplog.clear()
        first = await importer.import_rows(runtime, list(enumerate(ROWS, start=2)), "his",
                                           chunk_size=size)
        after_first = await snapshot()
        second = await importer.import_rows(runtime, list(enumerate(AGAIN, start=2)), "his",
                                            chunk_size=size)
        seen[size] = (summary(first), after_first, summary(second), await snapshot())
        # Chunks of 2 and 3 never hold E1 twice: none needs the row-by-row way.
        by_row = [r.getMessage() for r in caplog.records if "one by one" in r.getMessage()]
        assert len(by_row) == {1: 0, 2: 0, 3: 0, 200: 1}[size], by_row
    assert seen[2] == seen[1] and seen[3] == seen[1] and seen[200] == seen[1]
    first, after, second, final = seen[1]
    # E1 twice: created then updated; E6 refused (line 7); E7 cancelled plans nothing.
    assert first[:3] == (8, 1, 0) and first[4] == [(7, "contact_phone")]
    assert second[:3] == (1, 2, 1)
    assert ("赵丽", "13800000002", None) in after["contacts"]
    assert ("李四", None, "oA") in after["contacts"] and len(after["contacts"]) == 5
    assert [e[0] for e in after["episodes"]].count("E1") == 1
    assert not [c for c in after["checkins"] if c[0] == "E7"]
    assert {c[2] for c in final["checkins"] if c[0] == "E2"} == {"cancelled"}


@pytest.mark.parametrize("size", [1, 200])
async def test_progress_reaches_every_row(orm: None, runtime: Runtime, size: int) -> None:
    calls: list[int] = []
    await importer.import_rows(runtime, list(enumerate(ROWS, start=2)), "his",
                               progress=calls.append, chunk_size=size)
    assert calls == sorted(calls) and calls[-1] == len(ROWS)
