"""What an import reads: encodings, header names, values, dates; what it says (both languages).

Table-driven and property-based (hypothesis): the forms hospital exports write must all read
back to the same episode.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from bot import importer
from bot.importer import columns
from bot.importer.messages import language, summary_lines
from bot.importer.values import DateProblem, parse_phone, parse_when
from models import EpisodeKind, EpisodeStatus, PersonKind, Relation
from tests.conftest import SHANGHAI


def at(*parts: int) -> datetime:
    """A Shanghai wall time."""
    return datetime(*parts, tzinfo=SHANGHAI)  # type: ignore[misc]

PROPERTY = hsettings(max_examples=200, deadline=None, database=None)

# ---------------------------------------------------------------- encodings

HEADER = "就诊号,姓名,电话,就诊日期,科室\n"
# Names as people are called: common characters, rare ones beyond GBK (䶮, 𠮷, 㐀), the
# middle dot of minority names.
NAME = st.text(alphabet=st.sampled_from("张王李赵欧阳娜丽明红伟芳静䶮𠮷㐀·买提"),
               min_size=1, max_size=6)
ROWS = st.lists(st.tuples(NAME, st.integers(13000000000, 19999999999)), max_size=20)


def rows_text(rows: list[tuple[str, int]]) -> str:
    return HEADER + "".join(f"V{i},{n},{p},2026-11-03,口腔科\n"
                            for i, (n, p) in enumerate(rows))


@PROPERTY
@given(ROWS)
def test_gb18030_files_read_back_exactly_and_say_gbk_when_they_are(
        rows: list[tuple[str, int]]) -> None:
    text = rows_text(rows)
    decoded = importer.decode(text.encode("gb18030"))
    assert not isinstance(decoded, importer.RowError)
    assert decoded[0] == text
    try:
        text.encode("gbk")
    except UnicodeEncodeError:
        assert decoded[1] == "GB18030"
    else:
        assert decoded[1] == "GBK"


@PROPERTY
@given(ROWS, st.sampled_from([("utf-8", "UTF-8"), ("utf-8-sig", "UTF-8"),
                              ("utf-16", "UTF-16"), ("utf-16-le", "UTF-16"),
                              ("utf-16-be", "UTF-16")]))
def test_unicode_files_read_back_exactly(rows: list[tuple[str, int]],
                                         codec: tuple[str, str]) -> None:
    text = rows_text(rows)
    assert importer.decode(text.encode(codec[0])) == (text, codec[1])


@pytest.mark.parametrize(("data", "line", "offset", "shown"), [
    (b"abc,\xff\xfd\n", 1, 5, "ff fd 0a"),
    (HEADER.encode("gbk") + b"V1,\xff\xff,1,2,3\n", 2, len(HEADER.encode("gbk")) + 4,
     "ff ff 2c 31"),
    (HEADER.encode("utf-8") + "V1,张三,".encode() + b"\xe5\xbc,1\n", 2,
     len(HEADER.encode("utf-8")) + 11, "e5 bc 2c 31"),
])
def test_undecodable_bytes_are_named(data: bytes, line: int, offset: int, shown: str) -> None:
    err = importer.decode(data)
    assert isinstance(err, importer.RowError) and err.whole_file
    assert err.line == line
    assert f"byte {offset} of the file ({shown})" in err.text("en")
    assert f"文件第 {offset} 字节" in err.text("zh")


def test_tabs_or_commas_and_a_title_row_above_the_header() -> None:
    table = importer.read_csv("2026年11月 门诊回访名单\n\n姓名\t电话\t科室\t就诊日期\t门诊号\n"
                              "张三\t13800001111\t口腔科\t2026/11/3\tV1\n")
    assert table.header_line == 3 and not table.errors
    assert table.rows == [(4, {"姓名": "张三", "电话": "13800001111", "科室": "口腔科",
                               "就诊日期": "2026/11/3", "门诊号": "V1"})]


def test_rows_start_lines_count_quoted_line_breaks() -> None:
    table = importer.read_csv('门诊号,姓名,电话,就诊日期,科室,治疗项目\n'
                              'V1,张三,1,2,3,"拔牙\n补牙"\n'
                              'V2,李四,1,2,3,\n'
                              'V3,王五,1,2,3,,,\n'       # Excel's trailing empty fields
                              'V4,赵六,1,2,3,,x\n')      # a value beyond the header
    assert [line for line, _ in table.rows] == [2, 4, 5]
    assert [(e.line, e.code) for e in table.errors] == [(6, "extra_fields")]


@pytest.mark.parametrize(("header", "codes"), [
    ("姓名,电话,手机,就诊日期,科室,门诊号", [("电话 / 手机", "duplicate_column")]),
    ("姓名,姓名,电话,就诊日期,科室,门诊号", [("姓名 / 姓名", "duplicate_column")]),
    ("姓名,电话,科室", [("external_id", "missing_column"), ("occurred_at", "missing_column")]),
    ("门诊号,姓名,电话,就诊日期,科室名称", []),  # the department's name is enough
])
def test_header_problems_refuse_the_file(header: str, codes: list[tuple[str, str]]) -> None:
    table = importer.read_csv(header + "\n")
    assert [(e.column, e.code) for e in table.errors] == codes
    assert all(e.whole_file for e in table.errors)


# ---------------------------------------------------------------- headers

ALIASES = sorted((name, col) for col, (_, zh, others) in columns.COLUMN_TABLE.items()
                 for name in (col, zh, *others))
SPACE = st.sampled_from([" ", "\u3000", "\u00a0", "\t", ""])


def full_width(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


@PROPERTY
@given(st.sampled_from(ALIASES), SPACE, SPACE, st.booleans(), st.booleans())
def test_every_header_name_maps_whatever_the_spacing_case_or_width(
        alias: tuple[str, str], before: str, after: str, upper: bool, wide: bool) -> None:
    name, col = alias
    written = name.upper() if upper else name
    written = full_width(written) if wide else written
    assert columns.canonical(before + written + after) == col


@pytest.mark.parametrize(("header", "column"), [
    ("*姓名", "person_name"), ("电话（必填）", "contact_phone"),
    ("就诊日期(yyyy-mm-dd)", "occurred_at"), ("Person Name", "person_name"),
    ("联系人电话", "contact_phone"), ("联系人", "contact_name"), ("病历号", "person_external_id"),
    ("住院号", "external_id"), ("科室名称", "department_name"), ("性别", None), ("序号", None),
])
def test_header_examples(header: str, column: str | None) -> None:
    assert columns.canonical(header) == column


# ---------------------------------------------------------------- values

@pytest.mark.parametrize(("enum", "written", "value"), [
    (EpisodeKind, "门诊", "visit"),
    (EpisodeKind, "住院", "discharge"),
    (EpisodeKind, "出院", "discharge"),
    (EpisodeKind, "治疗", "treatment"),
    (EpisodeKind, "学期", "lesson_term"),
    (EpisodeKind, "Lesson Term", "lesson_term"),
    (Relation, "本人", "self"),
    (Relation, "母亲", "parent"),
    (Relation, "爸爸", "parent"),
    (Relation, "监护人", "guardian"),
    (Relation, "外婆", "guardian"),
    (Relation, "妻子", "spouse"),
    (Relation, "女儿", "child"),
    (Relation, "其他", "other"),
    (PersonKind, "学生", "student"),
    (EpisodeStatus, "已取消", "cancelled"),
    (EpisodeStatus, "　正常　", "active"),
    (Relation, "叔叔", None),
])
def test_choice_values(enum: type, written: str, value: str | None) -> None:
    assert columns.choice(written, enum) == value


@pytest.mark.parametrize(("written", "phone"), [
    ("１３８００００１１１１", "13800001111"), ("138-0000-1111", "13800001111"),
    ("+86 138 0000 1111", "13800001111"), ("13800001111/13900002222", "13800001111"),
    ("12345，13900002222", "13900002222"), ("010-62345678", "01062345678"),
    ("12345", None), ("1.38E+10", None),
])
def test_phones(written: str, phone: str | None) -> None:
    assert parse_phone(written)[0] == phone


# The ways exports write a time: each must read back to the same minute.
FORMATS = [
    lambda d: f"{d:%Y-%m-%d %H:%M}", lambda d: f"{d.year}/{d.month}/{d.day} {d.hour}:{d:%M}",
    lambda d: f"{d:%Y-%m-%d %H:%M:%S}.000", lambda d: f"{d:%Y-%m-%dT%H:%M:%S}+08:00",
    lambda d: f"{d - timedelta(hours=8):%Y-%m-%dT%H:%M:%S}Z",
    lambda d: f"{d.year}年{d.month}月{d.day}日 {d.hour}:{d:%M}",
    lambda d: f"{d.year}年{d.month}月{d.day}日{d.hour}时{d.minute}分",
    lambda d: f"{d:%Y%m%d%H%M%S}", lambda d: f"{d:%Y.%m.%d %H:%M}",
    lambda d: (f"{d.year}年{d.month}月{d.day}日 {'下午' if d.hour >= 12 else '上午'}"
               f"{(d.hour - 1) % 12 + 1}:{d:%M}"),
]


@PROPERTY  # from 1992: Shanghai kept summer time until 1991, and +08:00 would not be local
@given(st.datetimes(min_value=datetime(1992, 1, 1), max_value=datetime(2099, 12, 31)),  # noqa: DTZ001
       st.sampled_from(range(len(FORMATS))), st.booleans())
def test_dates_in_every_export_form_read_back(when: datetime, form: int, wide: bool) -> None:
    when = when.replace(second=0, microsecond=0)
    written = FORMATS[form](when)
    if wide:  # full-width digits and punctuation, as some Chinese input methods write them
        written = full_width(written)
    assert parse_when(written, SHANGHAI) == (when.replace(tzinfo=SHANGHAI), True)


@pytest.mark.parametrize(("written", "when"), [
    ("2026/11/3", at(2026, 11, 3, 12, 0)),  # a date alone: midday
    ("2026年11月3日", at(2026, 11, 3, 12, 0)), ("20261103", at(2026, 11, 3, 12, 0)),
    ("2026-11-03 下午3点半", at(2026, 11, 3, 15, 30)),
    ("2026-11-03 中午12点", at(2026, 11, 3, 12, 0)),
])
def test_date_examples(written: str, when: datetime) -> None:
    row = importer.validate_row(2, {"门诊号": "V1", "姓名": "张三", "电话": "13800001111",
                                    "就诊日期": written, "科室": "口腔科"}, SHANGHAI)
    assert isinstance(row, importer.EpisodeRow)
    assert row.occurred_at == when


@pytest.mark.parametrize(("written", "code"), [
    ("3/11/2026", "bad_date"), ("yesterday", "bad_date"), ("2026-11", "bad_date"),
    ("2026-02-29", "no_such_day"), ("2026-11-03 25:00", "no_such_day"),
])
def test_not_dates(written: str, code: str) -> None:
    with pytest.raises(DateProblem) as e:
        parse_when(written, SHANGHAI)
    assert e.value.code == code


# ---------------------------------------------------------------- words

@pytest.mark.parametrize(("env", "lang"), [
    ({}, "zh"), ({"LANG": "C.UTF-8"}, "zh"), ({"LANG": "zh_CN.UTF-8"}, "zh"),
    ({"LANG": "en_US.UTF-8"}, "en"), ({"LANG": "de_DE.UTF-8"}, "en"),
    ({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_GB.UTF-8"}, "en"),
    ({"LANGUAGE": "zh_CN:en", "LANG": "en_US.UTF-8"}, "zh"),
])
def test_language_follows_the_locale(env: dict[str, str], lang: str) -> None:
    assert language(env) == lang


@pytest.mark.parametrize(("counts", "en", "zh"), [
    ((1, 1), "1 check-in planned, 1 row refused", "安排回访 1 次，1 行有误未导入"),
    ((2, 0), "2 check-ins planned, 0 rows refused", "安排回访 2 次，0 行有误未导入"),
    ((0, 3), "0 check-ins planned, 3 rows refused", "安排回访 0 次，3 行有误未导入"),
])
def test_summary_counts_are_grammatical(counts: tuple[int, int], en: str, zh: str) -> None:
    def lines(lang: importer.Lang, ignored: list[str], header: int) -> list[str]:
        return summary_lines(name="v.csv", encoding="GBK", sheet="", created=1, updated=0,
                             unchanged=0, planned=counts[0], refused=counts[1],
                             sampled_out=None, file_refused=False, header_line=header,
                             ignored=ignored, lang=lang)

    assert lines("en", [], 1) == [f"v.csv, read as GBK: 1 created, 0 updated, 0 unchanged, {en}"]
    assert lines("zh", [], 1) == [f"v.csv（按 GBK 读取）：新建 1 条，更新 0 条，无变化 0 条，{zh}"]
    assert lines("en", ["性别"], 2)[1:] == ["header on line 2; the line above it was skipped",
                                          "1 column not recognised and ignored: 性别"]
    assert lines("en", ["性别", "年龄"], 3)[1:] == [
        "header on line 3; the 2 lines above it were skipped",
        "2 columns not recognised and ignored: 性别, 年龄"]
    assert lines("zh", ["性别", "年龄"], 3)[1:] == ["表头在第 3 行，上方 2 行已跳过",
                                                  "有 2 列无法识别，已忽略：性别、年龄"]


def test_every_message_has_both_languages_with_the_same_fields() -> None:
    import string

    from bot.importer.messages import MESSAGES

    for code, (en, zh) in MESSAGES.items():
        def fields(s: str) -> set[str]:
            return {f for _, f, _, _ in string.Formatter().parse(s) if f}
        assert fields(en) - {"field"} <= fields(zh) | {"field"}, code
        assert any(unicodedata.name(c, "").startswith("CJK") for c in zh), code


def test_the_import_doc_names_only_headers_and_values_the_importer_knows() -> None:
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parent.parent / "docs" / "importing.md"
    section = doc.read_text(encoding="utf-8")
    rows = [r.split("|")[1:4] for r in section.splitlines() if r.startswith("| `")]
    assert len(rows) >= 12
    for cols, names, values in rows:
        cols_ = re.findall(r"`(\w+)`", cols)
        if len(cols_) == 1:
            assert all(columns.canonical(n) == cols_[0] for n in names.split()), cols_
        enums = {"kind": EpisodeKind, "relation": Relation}
        if cols_[0] in enums:  # `value` (中文 中文…)
            for value, written in re.findall(r"`(\w+)` \(([^)]*)\)", values):
                for w in written.replace("…", "").split():
                    assert columns.choice(w, enums[cols_[0]]) == value, w
