"""A hospital's own export imports as it is: Excel's Chinese CSV (GBK), a title row, Chinese
headers and values, through the command line (a real process) and the JSON API, on SQLite
and PostgreSQL. Every problem of a row is reported; a file that cannot be read stores nothing.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.clock import FrozenClock
from bot.config import Settings
from models import CheckIn, Contact, Department, Episode, Person, PersonContact
from tests.conftest import SHANGHAI


def at(*parts: int) -> datetime:
    """A Shanghai wall time."""
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]

ROOT = Path(__file__).resolve().parent.parent

HEADER = ["门诊号", "患者姓名", "性别", "联系电话", "科室", "就诊日期", "就诊类型", "主治医生",
          "联系人", "与患者关系"]
ROWS = [
    ["M1001", "张伟", "男", "138 0000 1111", "口腔科", "2026/11/3 9:05", "门诊", "李医生", "",
     "本人"],
    ["Z2001", "小明", "男", "１３８００００４４４４", "儿科", "2026年11月3日", "住院", "周医生",
     "赵丽", "母亲"],
    ["T3001", "王芳", "女", "13800002222", "口腔科", "2026-11-03", "治疗", "李医生", "", ""],
]


def export(path: Path, rows: list[list[str]], encoding: str = "gbk",
           title: str | None = "2026年11月 门诊、住院回访名单", sep: str = ",") -> Path:
    """Write a file as Excel on a Chinese Windows does (CRLF line ends, a title row)."""
    lines = ([title] if title else []) + [sep.join(r) for r in [HEADER, *rows]]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def survey_bot(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``survey-bot`` as a user would, on this test's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SURVEYBOT_")}
    env["SURVEYBOT_DATABASE__URL"] = db_url
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120, check=False)


async def cli(db_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(survey_bot, db_url, *args)


async def stored() -> dict[str, tuple[Any, ...]]:
    """Each episode as (kind, department code, local time, clinician, person, contact, phone,
    relation)."""
    out = {}
    for ep in await Episode.all().prefetch_related("department", "person", "contact"):
        link = await PersonContact.get(person_id=ep.person.id, contact_id=ep.contact.id)
        out[ep.external_id] = (
            ep.kind.value, ep.department.code, ep.occurred_at.astimezone(SHANGHAI),
            ep.clinician_name, ep.person.name, ep.contact.name,
            ep.contact.phone, link.relation.value)
    return out


async def test_a_gbk_export_with_chinese_headers_imports(orm: None, db_url: str,
                                                         tmp_path: Path) -> None:
    await Department.create(code="dental", name="口腔科")
    path = export(tmp_path / "名单.csv", ROWS)
    out = await cli(db_url, "import", str(path), "--lang", "en")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines() == [
        f"{path}, read as GBK: 3 created, 0 updated, 0 unchanged, 3 check-ins planned, "
        "0 rows refused",
        "header on line 2; the line above it was skipped",
        "1 column not recognised and ignored: 性别",
    ]
    assert await stored() == {
        # 口腔科 is the name of the department coded dental: the visits land there.
        "M1001": ("visit", "dental", at(2026, 11, 3, 9, 5), "李医生", "张伟", "张伟",
                  "13800001111", "self"),
        "Z2001": ("discharge", "儿科", at(2026, 11, 3, 12, 0), "周医生", "小明", "赵丽",
                  "13800004444", "parent"),
        "T3001": ("treatment", "dental", at(2026, 11, 3, 12, 0), "李医生", "王芳", "王芳",
                  "13800002222", "self"),
    }
    assert await Department.filter(code="儿科", name="儿科").exists()
    assert await CheckIn.all().count() == 3  # one each (the default schedule)

    again = await cli(db_url, "import", str(path), "--lang", "zh")
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines() == [
        f"{path}（按 GBK 读取）：新建 0 条，更新 0 条，无变化 3 条，安排回访 0 次，0 行有误未导入",
        "表头在第 2 行，上方 1 行已跳过",
        "有 1 列无法识别，已忽略：性别",
    ]


async def test_names_beyond_gbk_survive_a_gb18030_file(orm: None, db_url: str,
                                                       tmp_path: Path) -> None:
    rows = [["R1", "𠮷䶮", "女", "13800005555", "儿科", "2026-11-03", "门诊", "周医生", "㐀丽",
             "妈妈"]]
    path = export(tmp_path / "rare.csv", rows, encoding="gb18030", title=None)
    out = await cli(db_url, "import", str(path), "--lang", "en")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith(f"{path}, read as GB18030: 1 created")
    assert (await stored())["R1"][4:6] == ("𠮷䶮", "㐀丽")
    assert await Person.get(name="𠮷䶮") and await Contact.get(name="㐀丽")


async def test_every_error_of_a_row_is_listed_and_good_rows_kept(orm: None, db_url: str,
                                                                 tmp_path: Path) -> None:
    bad = ["B2", "李四", "男", "12345", "口腔科", "2026/11/31", "急救", "", "", ""]
    path = export(tmp_path / "errors.csv", [ROWS[0], bad], title=None)
    out = await cli(db_url, "import", str(path), "--lang", "en")
    assert out.returncode == 1
    assert "1 created" in out.stdout and "1 row refused" in out.stdout
    assert [line.strip() for line in out.stderr.splitlines() if "line 3" in line] == [
        f"{path}:line 3 [联系电话]: '12345' is not a mainland mobile or landline number",
        f"{path}:line 3 [就诊日期]: '2026/11/31': there is no such date or time",
        f"{path}:line 3 [就诊类型]: '急救' is not one of visit (门诊, 就诊) | "
        "discharge (住院, 出院) | treatment (治疗, 手术) | lesson_term (课程, 学期)",
    ]
    zh = await cli(db_url, "import", str(path), "--lang", "zh")
    assert "1 行有误未导入" in zh.stdout
    assert sum(f"{path}:第 3 行 [" in line for line in zh.stderr.splitlines()) == 3
    assert "请修正有误的行" in zh.stderr
    assert list(await stored()) == ["M1001"]


async def test_an_unreadable_file_is_refused_and_nothing_stored(orm: None, db_url: str,
                                                                tmp_path: Path) -> None:
    good = export(tmp_path / "x.csv", ROWS[:1], title=None).read_bytes()
    path = tmp_path / "broken.csv"
    path.write_bytes(good + b"B2,\xff\xfe\xff,13800009999,\r\n")
    out = await cli(db_url, "import", str(path), "--lang", "en")
    assert out.returncode == 1
    assert out.stdout.strip() == f"{path}: file refused, nothing stored"
    assert (f"{path}:line 3: byte {len(good) + 4} of the file (ff fe ff 2c) cannot be read as "
            "UTF-8, GB18030/GBK or UTF-16") in out.stderr
    zh = await cli(db_url, "import", str(path), "--lang", "zh")
    assert "文件未导入，没有保存任何记录" in zh.stdout
    assert f"第 3 行：文件第 {len(good) + 4} 字节" in zh.stderr
    assert await Episode.all().count() == 0


async def test_a_header_naming_one_column_twice_refuses_the_file(orm: None, db_url: str,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "twice.csv"
    path.write_bytes("门诊号,姓名,电话,手机,科室,就诊日期\r\nV1,张三,13800001111,13900001111,"
                     "口腔科,2026-11-03\r\n".encode("gbk"))
    out = await cli(db_url, "import", str(path), "--lang", "en")
    assert out.returncode == 1
    assert (f"{path}:line 1 [电话 / 手机]: columns 电话 / 手机 all mean contact_phone: keep "
            "one of them") in out.stderr
    assert await Episode.all().count() == 0


async def test_excel_unicode_text_and_xlsx_import_the_same(orm: None, db_url: str,
                                                           tmp_path: Path) -> None:
    import openpyxl

    # Excel's "Unicode 文本": UTF-16 with a BOM, tab-separated, saved as .txt.
    txt = export(tmp_path / "名单.txt", ROWS[:1], encoding="utf-16", sep="\t")
    out = await cli(db_url, "import", str(txt), "--lang", "en")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith(f"{txt}, read as UTF-16: 1 created")

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "出院名单"
    ws.append(["2026年11月 出院回访名单"])
    ws.append(HEADER)
    serial = (date(2026, 11, 4) - date(1899, 12, 30)).days  # a date column formatted as number
    ws.append(["Z9001", "小红", "女", 13800006666, "儿科", serial, "出院", "周医生", "赵丽",
               "母亲"])
    ws.append(["Z9002", "小刚", "男", 13800007777, "儿科", datetime(2026, 11, 4, 16, 30),  # noqa: DTZ001
               "住院", "周医生", "", "爷爷"])
    xlsx = tmp_path / "名单.xlsx"
    wb.save(xlsx)
    out = await cli(db_url, "import", str(xlsx), "--lang", "en")
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.splitlines()[:2] == [
        f"{xlsx}, sheet '出院名单': 2 created, 0 updated, 0 unchanged, 2 check-ins planned, "
        "0 rows refused", "header on line 2; the line above it was skipped"]
    rows = await stored()
    assert rows["M1001"][:2] == ("visit", "口腔科")  # no department called 口腔科 yet: new
    assert rows["Z9001"] == ("discharge", "儿科", at(2026, 11, 4, 12, 0), "周医生", "小红",
                             "赵丽", "13800006666", "parent")
    assert rows["Z9002"][2] == at(2026, 11, 4, 16, 30)
    assert rows["Z9002"][7] == "guardian"


async def test_the_api_takes_the_same_chinese_keys_and_values(settings: Settings,
                                                              clock: FrozenClock,
                                                              client_factory: Any) -> None:
    client = await client_factory(settings, clock)
    await Department.create(code="peds", name="儿科")
    good = {"住院号": "Z1", "姓名": "小明", "手机": "13800004444", "科室": "儿科",
            "出院日期": "2026-11-15T16:30:00+08:00", "类型": "出院", "联系人": "赵丽",
            "关系": "妈妈", "医生": "周医生", "床号": "12"}
    three = {"住院号": "Z2", "姓名": "小红", "手机": "123", "科室": "儿科",
             "出院日期": "2026-11-31", "类型": "急救"}
    r = await client.post("/api/episodes", json={"source": "his", "episodes": [good, three]},
                          headers={"Authorization": "Bearer test-key"})
    assert r.status == 207
    body = await r.json()
    assert (body["created"], body["rows_refused"], body["ignored_columns"]) == (1, 1, ["床号"])
    assert [(e["line"], e["column"], e["field"], e["code"]) for e in body["errors"]] == [
        (2, "手机", "contact_phone", "bad_phone"), (2, "出院日期", "occurred_at", "no_such_day"),
        (2, "类型", "kind", "bad_choice")]
    assert body["errors"][0]["message"] == "'123' is not a mainland mobile or landline number"
    assert body["errors"][0]["message_zh"] == "“123”不是有效的大陆手机号或座机号"
    assert await stored() == {"Z1": ("discharge", "peds", at(2026, 11, 15, 16, 30),
                                     "周医生", "小明", "赵丽", "13800004444", "parent")}
