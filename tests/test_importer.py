"""Importing visits: row-by-row validation, idempotence, re-planning."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bot import importer
from bot.runtime import Runtime
from models import CheckIn, CheckinStatus, Contact, Episode, Person, PersonContact
from tests.conftest import SHANGHAI

HEADER = ("external_id,person_name,contact_phone,occurred_at,department,department_name,"
          "treatment_type,clinician,contact_name,relation")


def csv_file(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    p = tmp_path / "visits.csv"
    p.write_text("\ufeff" + "\n".join([header, *rows]) + "\n", encoding="utf-8")
    return p


BASE = {"external_id": "1", "person_name": "张三", "contact_phone": "13800001111",
        "occurred_at": "2026-11-16", "department": "d"}


@pytest.mark.parametrize(("row", "errors"), [
    ({**BASE, "external_id": ""}, [("external_id", "missing_value")]),
    ({k: v for k, v in BASE.items() if k != "external_id"}, [("external_id", "missing_value")]),
    ({**BASE, "contact_phone": "12345"}, [("contact_phone", "bad_phone")]),
    ({**BASE, "contact_phone": "1.38E+10"}, [("contact_phone", "phone_shortened")]),
    ({**BASE, "occurred_at": "16/11/2026"}, [("occurred_at", "bad_date")]),
    ({**BASE, "occurred_at": "2026-02-30"}, [("occurred_at", "no_such_day")]),
    ({**BASE, "kind": "急救"}, [("kind", "bad_choice")]),
    ({**BASE, "relation": "邻居"}, [("relation", "bad_choice")]),
    ({**BASE, "status": "maybe"}, [("status", "bad_choice")]),
    ({**BASE, "birth_date": "2026-13-01"}, [("birth_date", "no_such_day")]),
    ({**BASE, "department": "x" * 65}, [("department", "too_long")]),
    ({k: v for k, v in BASE.items() if k != "contact_phone"},
     [("contact_phone", "missing_contact")]),
    # Every problem of a row, in column order, each naming the column as the row names it.
    ({"门诊号": "", "姓名": "张三", "电话": "123", "就诊日期": "2026/11/31", "科室": "口腔科",
      "类型": "急救"},
     [("门诊号", "missing_value"), ("电话", "bad_phone"), ("就诊日期", "no_such_day"),
      ("类型", "bad_choice")]),
    ({**BASE, "电话": "13800001111", "手机": "13900001111"},
     [("contact_phone / 电话 / 手机", "duplicate_column")]),
])
def test_validate_row_lists_every_problem(row: dict[str, str],
                                          errors: list[tuple[str, str]]) -> None:
    found = importer.validate_row(7, row, SHANGHAI)
    assert isinstance(found, list)
    assert [(e.line, e.column, e.code) for e in found] == [(7, c, k) for c, k in errors]
    for e in found:  # words in both languages, nothing left unfilled
        assert "{" not in e.text("en") and "{" not in e.text("zh")
        assert e.describe("zh").startswith("第 7 行")


def test_unknown_columns_are_ignored_not_refused() -> None:
    row = importer.validate_row(7, {**BASE, "colour": "red", "性别": "男"}, SHANGHAI)
    assert isinstance(row, importer.EpisodeRow)


@pytest.mark.parametrize(("raw", "phone"), [
    ("+86 138-0000-1111", "13800001111"), ("0086 13800001111", "13800001111"),
    ("138 0000 1111", "13800001111"), ("8613800001111", "13800001111"),
])
def test_phone_numbers_are_normalised(raw: str, phone: str) -> None:
    row = importer.validate_row(2, {"external_id": "1", "person_name": "张三",
                                    "contact_phone": raw, "occurred_at": "2026-11-16 08:30",
                                    "department": "d"}, SHANGHAI)
    assert isinstance(row, importer.EpisodeRow)
    assert row.contact_phone == phone
    assert row.occurred_at == datetime(2026, 11, 16, 8, 30, tzinfo=SHANGHAI)


async def test_bad_rows_reported_good_rows_kept(orm: None, runtime: Runtime,
                                                tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "V1,张三,13800001111,2026-11-16 09:00,dental,口腔科,拔牙,李医生,,",
        "V2,李四,not-a-phone,2026-11-16,dental,口腔科,,,,",
        "",
        "V3,小明,13800004444,2026-11-16,peds,儿科,,,赵丽,parent",
        "V4,小红,13800004444,2026-11-17,peds,儿科,,,赵丽,parent",
        "V5,王五,13800005555,yesterday,dental,口腔科,,,,",
    )
    result = await importer.import_csv_file(runtime, path)
    assert (result.created, result.updated) == (3, 0)
    assert [(e.line, e.column) for e in result.errors] == [(3, "contact_phone"),
                                                           (7, "occurred_at")]
    assert await Episode.all().count() == 3
    # One guardian, two children.
    guardian = await Contact.get(phone="13800004444")
    assert guardian.name == "赵丽"
    links = await PersonContact.filter(contact_id=guardian.id).prefetch_related("person")
    assert sorted(pc.person.name for pc in links) == ["小明", "小红"]
    assert {pc.relation for pc in links} == {"parent"}
    # 拔牙 follows the dental schedule; the others the default.
    ep = await Episode.get(external_id="V1")
    offsets = sorted(await CheckIn.filter(episode_id=ep.id).values_list("offset", flat=True))
    assert offsets == ["1d", "3h", "90d"]
    assert result.checkins_planned == 3 + 1 + 1


async def test_reimport_is_idempotent_and_replans(orm: None, runtime: Runtime,
                                                  tmp_path: Path) -> None:
    row = "V1,张三,13800001111,{when},dental,口腔科,{treat},李医生,,"
    await importer.import_csv_file(runtime, csv_file(tmp_path, row.format(
        when="2026-11-16 09:00", treat="")))
    again = await importer.import_csv_file(runtime, csv_file(tmp_path, row.format(
        when="2026-11-16 09:00", treat="")))
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)
    assert await CheckIn.all().count() == 1 and await Person.all().count() == 1

    redated = await importer.import_csv_file(runtime, csv_file(tmp_path, row.format(
        when="2026-11-18 09:00", treat="")))
    assert redated.updated == 1
    c = await CheckIn.get()
    assert c.due_at == datetime(2026, 11, 19, 10, 0, tzinfo=SHANGHAI)
    assert await CheckIn.all().count() == 1  # re-dated, never duplicated

    # A new treatment type changes the schedule: offsets no longer wanted are cancelled.
    await importer.import_csv_file(runtime, csv_file(tmp_path, row.format(
        when="2026-11-18 09:00", treat="洁牙")))
    statuses = dict(await CheckIn.all().values_list("offset", "status"))
    assert statuses == {"1d": CheckinStatus.PLANNED, "180d": CheckinStatus.PLANNED}

    cancelled = (HEADER + ",status", "V1,张三,13800001111,2026-11-18 09:00,dental,口腔科,洁牙,"
                 "李医生,,,cancelled")
    await importer.import_csv_file(runtime, csv_file(tmp_path, cancelled[1],
                                                     header=cancelled[0]))
    assert set(await CheckIn.all().values_list("status", flat=True)) == {CheckinStatus.CANCELLED}


async def test_header_problems_are_explained(orm: None, runtime: Runtime,
                                             tmp_path: Path) -> None:
    result = await importer.import_csv_file(runtime, csv_file(tmp_path, "x", header="name"))
    assert [str(e) for e in result.errors] == [
        "line 1 [external_id]: the header has no external_id column "
        "(e.g. 就诊编号/就诊号/门诊号/住院号/external_id)",
        "line 1 [occurred_at]: the header has no occurred_at column "
        "(e.g. 就诊日期/就诊时间/出院日期/出院时间/occurred_at)",
        "line 1 [department]: the header has no department column "
        "(e.g. 科室/科室代码/科室编码/科别/department)"]
    assert result.file_refused and result.rows_refused == 0


async def test_xlsx_import_with_dates_numbers_and_bad_rows(orm: None, runtime: Runtime,
                                                           tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["external_id", "person_name", "contact_phone", "occurred_at", "department",
               "treatment_type"])
    # Spreadsheets hold naive local wall times, as Excel writes them.
    ws.append([1001, "张三", 13800001111, datetime(2026, 11, 16, 9, 30),  # noqa: DTZ001
               "dental", "拔牙"])
    ws.append(["1002", "李四", "bad", datetime(2026, 11, 16), "dental", ""])  # noqa: DTZ001
    ws.append([None, None, None, None, None, None])
    ws.append(["1003", "王五", "13800003333", "2026-11-16", "dental", ""])
    path = tmp_path / "visits.xlsx"
    wb.save(path)
    seen: list[tuple[int, int]] = []
    result = await importer.import_file(runtime, path, "xl",
                                        progress=lambda n, t: seen.append((n, t)))
    assert result.created == 2
    assert [(e.line, e.column) for e in result.errors] == [(3, "contact_phone")]
    ep = await Episode.get(external_id="1001")
    assert ep.occurred_at == datetime(2026, 11, 16, 9, 30, tzinfo=SHANGHAI)
    assert seen[-1] == (3, 3)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    result = await importer.import_file(runtime, broken)
    assert "not a readable .xlsx" in result.errors[0].message
    assert result.file_refused


async def test_sampling_is_stable_and_limited_to_a_kind(orm: None, runtime: Runtime) -> None:
    rows = [(i, {"external_id": f"Z{i}", "person_name": f"病人{i}",
                 "contact_phone": f"138{i:08d}", "occurred_at": "2026-11-16",
                 "department": "surgery", "kind": "discharge" if i % 2 else "visit"})
            for i in range(1, 401)]
    sampling = importer.Sampling(0.10, frozenset({"discharge"}), seed="002")
    first = await importer.import_rows(runtime, rows, "his", sampling=sampling)
    visits = sum(1 for _, r in rows if r["kind"] == "visit")
    kept_discharges = first.created - visits
    assert 8 <= kept_discharges <= 35  # about 10 % of 200
    assert first.sampled_out == 200 - kept_discharges
    again = await importer.import_rows(runtime, rows, "his", sampling=sampling)
    assert (again.created, again.unchanged, again.sampled_out) == (
        0, first.created, first.sampled_out)


@pytest.mark.parametrize("twice", [False, True])  # chunked, and row by row (an episode twice)
async def test_a_department_named_not_coded_lands_in_that_department(
        orm: None, runtime: Runtime, twice: bool) -> None:
    from models import Department

    dental = await Department.create(code="dental", name="口腔科")
    await Department.create(code="ent1", name="耳鼻喉科")
    await Department.create(code="ent2", name="耳鼻喉科")  # ambiguous: a name, not a match
    rows = [{"external_id": f"N{i}", "person_name": "张三", "contact_phone": "13800001111",
             "occurred_at": "2026-11-16", "department": dept}
            for i, dept in enumerate(["口腔科", "dental", "耳鼻喉科", "新科室"])]
    if twice:
        rows.append(rows[0])
    result = await importer.import_rows(runtime, list(enumerate(rows, start=2)), "t")
    assert not result.errors and result.created == 4
    depts = dict(await Episode.all().values_list("external_id", "department__code"))
    assert depts == {"N0": "dental", "N1": "dental", "N2": "耳鼻喉科", "N3": "新科室"}
    assert (await Department.get(code="dental")).id == dental.id
