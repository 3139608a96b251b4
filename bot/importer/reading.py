"""Reading a file into rows: the text encoding, the header row, CSV or the first XLSX sheet.

Hospital systems and Excel on a Chinese Windows write CSV in GBK ("CSV (逗号分隔)"), Excel's
"CSV UTF-8" writes UTF-8 with a BOM and its "Unicode 文本" tab-separated UTF-16. Which one a
file is needs no detector library: these encodings are told apart exactly by decoding
strictly. UTF-16 has a BOM or NUL bytes (a CSV has newlines and commas, which are ASCII);
text that is valid UTF-8 is taken as UTF-8 (GBK Chinese almost never is: a header such as 姓名
is not); else GB18030, the national standard that contains GBK and GB2312; else the file is
refused, naming the byte.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bot.importer.columns import DATE_COLUMNS, LABELS_ZH, REQUIRED, canonical, examples, map_keys
from bot.importer.messages import RowError
from bot.importer.values import text

# A title such as "2026年11月门诊患者名单" may stand above the header: the header is the first
# of the first rows that names at least two columns.
HEADER_SEARCH_ROWS = 10


@dataclass
class Table:
    """The rows of a file keyed by its own header names, or why the file cannot be read."""

    rows: list[tuple[int, dict[str, object]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    encoding: str = ""  # the text encoding a CSV was read with
    sheet: str = ""     # the sheet an XLSX was read from
    header_line: int = 1
    names: list[str] = field(default_factory=list)  # the header as written


def decode(data: bytes) -> tuple[str, str] | RowError:
    """The text of a file and the name of its encoding, or why it cannot be read."""
    if data.startswith(codecs.BOM_UTF8):
        return _strict(data, "utf-8-sig", "UTF-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _strict(data, "utf-16", "UTF-16")
    if b"\x00" in data:  # no ASCII text has NUL bytes: UTF-16 without a BOM
        le = data[1::2].count(0) >= data[0::2].count(0)
        return _strict(data, "utf-16-le" if le else "utf-16-be", "UTF-16")
    try:
        return data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError as e:
        utf8_error = e
    try:
        text_ = data.decode("gb18030")
    except UnicodeDecodeError as e:
        # Report where the likelier encoding failed: the one that read further.
        bad = e if e.start >= utf8_error.start else utf8_error
        return _undecodable(data, bad.start, "gb18030" if bad is e else "utf-8")
    try:
        data.decode("gbk")
    except UnicodeDecodeError:
        return text_, "GB18030"  # characters beyond GBK (rare names such as 䶮)
    return text_, "GBK"


def _strict(data: bytes, codec: str, name: str) -> tuple[str, str] | RowError:
    try:
        return data.decode(codec), name
    except UnicodeDecodeError as e:
        return _undecodable(data, e.start, codec)


def _undecodable(data: bytes, offset: int, codec: str) -> RowError:
    line = data[:offset].decode(codec, errors="replace").count("\n") + 1
    return RowError.of(line, "", "undecodable", whole_file=True, offset=offset + 1,
                       bytes=data[offset:offset + 4].hex(" "))


def _names_columns(cells: list[object]) -> int:
    return len({c for c in (canonical(text(v)) for v in cells if text(v)) if c})


def _table(records: Iterable[tuple[int, list[object]]]) -> Table:
    """Find the header, check it, and key every row after it by the header's names."""
    it = iter(records)
    candidates: list[tuple[int, list[object]]] = []
    for line, cells in it:
        if any(text(v) for v in cells):
            candidates.append((line, cells))
            if _names_columns(cells) >= 2 or len(candidates) == HEADER_SEARCH_ROWS:
                break
    if not candidates:
        return Table(errors=[RowError.of(1, "", "empty_file", whole_file=True)])
    at = next((i for i, (_, c) in enumerate(candidates) if _names_columns(c) >= 2), 0)
    header_line, header_cells = candidates[at]
    names = [text(v) for v in header_cells]
    table = Table(header_line=header_line, names=names)
    km = map_keys(tuple(names))
    for col, written in km.duplicates.items():
        table.errors.append(RowError.of(
            header_line, " / ".join(written), "duplicate_column", field=col, whole_file=True,
            names=" / ".join(written), field_zh=LABELS_ZH[col]))
    for col in REQUIRED:
        if col not in km.names and not (col == "department" and "department_name" in km.names):
            table.errors.append(RowError.of(header_line, col, "missing_column", whole_file=True,
                                            field_zh=LABELS_ZH[col], examples=examples(col)))
    if table.errors:
        return table
    rest: Iterator[tuple[int, list[object]]] = iter([*candidates[at + 1:], *it])
    for line, cells in rest:
        if not any(text(v) for v in cells):
            continue  # a blank line
        if len(cells) > len(names) and any(text(v) for v in cells[len(names):]):
            table.errors.append(RowError.of(line, "", "extra_fields"))
            continue
        table.rows.append((line, {n: v for n, v in zip(names, cells, strict=False) if n}))
    return table


def read_csv(text_: str) -> Table:
    """Rows of CSV text (comma- or tab-separated) with the line each starts on."""
    text_ = text_.lstrip("\ufeff")
    head = text_[:4096]
    delimiter = "\t" if head.count("\t") > head.count(",") else ","
    reader = csv.reader(io.StringIO(text_, newline=""), delimiter=delimiter)

    def records() -> Iterator[tuple[int, list[object]]]:
        start = 1
        for cells in reader:
            yield start, list(cells)
            start = reader.line_num + 1

    return _table(records())


def read_xlsx(path: Path) -> Table:
    """Rows of the first sheet of an XLSX workbook, with their row numbers.

    Cells keep their types (dates, numbers); a number in a date column is an Excel serial
    date (a column formatted as a number), read as the date Excel would show.
    """
    import openpyxl  # only needed for spreadsheets
    from openpyxl.utils.datetime import from_excel

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises several kinds for a damaged file
        return Table(errors=[RowError.of(0, "", "bad_xlsx", whole_file=True, detail=e)])
    try:
        sheet = wb.worksheets[0]
        rows = ((n, list(values)) for n, values in
                enumerate(sheet.iter_rows(values_only=True), start=1))
        table = _table(rows)
        table.sheet = sheet.title
        epoch = wb.epoch  # 1900, or 1904 for some workbooks made on a Mac
    finally:
        wb.close()
    dates = [name for name in table.names if canonical(name) in DATE_COLUMNS]
    for _, row in table.rows:
        for name in dates:
            v = row.get(name)
            if isinstance(v, int | float) and not isinstance(v, bool) and 0 < v < 2958466:
                row[name] = from_excel(v, epoch)
    return table
