"""CSV, XLSX and JSON writers for every export, and the one cell-escaping rule they share.

**Inert cells.** A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and
some read a leading tab or carriage return the same way; full-width ``＝ ＋ － ＠`` are turned
into those by input methods and some spreadsheet versions). A patient's comment or a name from
an import is text, so :func:`inert` puts an apostrophe before such text, in CSV and XLSX alike,
and XLSX cells are written as explicit strings (data type ``s``) with the quote-prefix style,
so that editing the cell keeps it text. Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.analytics.tallies import Tally

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
DASH = "—"  # a hidden or missing figure


def inert(value: Any) -> Any:
    """``value`` as a cell that cannot run: text that would start a formula gets a leading
    apostrophe; None becomes "—"; numbers and booleans are left alone."""
    if value is None:
        return DASH
    if isinstance(value, bool | int | float):
        return value
    text = str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


@dataclass
class Sheet:
    """One table: a title (the XLSX sheet name), optional lines above the header, rows."""

    title: str
    header: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    preamble: list[str] = field(default_factory=list)
    widths: dict[int, int] = field(default_factory=dict)  # column index (0-based) → width


def csv_text(sheets: Sequence[Sheet]) -> str:
    """Sheets as one CSV (UTF-8 with a BOM so Excel reads the Chinese): a single sheet is
    its header and rows; several are blocks, each under a 【title】 line, a blank line apart."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    for i, sh in enumerate(sheets):
        if len(sheets) > 1:
            if i:
                w.writerow([])
            w.writerow([inert(f"【{sh.title}】")])
            for line in sh.preamble:
                w.writerow([inert(line)])
        w.writerow([inert(h) for h in sh.header])
        w.writerows([inert(v) for v in row] for row in sh.rows)
    return buf.getvalue()


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """Sheets as a workbook, one worksheet each; every text cell an explicit string."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for sh in sheets:
        title = _sheet_title(sh.title, used)
        ws = wb.create_sheet(title)
        r = 1
        for line in sh.preamble:
            _put(ws, r, 1, line)
            r += 1
        for c, h in enumerate(sh.header, start=1):
            _put(ws, r, c, h).font = Font(bold=True)
        ws.freeze_panes = ws.cell(row=r + 1, column=1)
        for row in sh.rows:
            r += 1
            for c, v in enumerate(row, start=1):
                _put(ws, r, c, v)
        for col, width in sh.widths.items():
            ws.column_dimensions[_letter(col + 1)].width = width
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _put(ws: Any, row: int, col: int, value: Any) -> Any:
    cell = ws.cell(row=row, column=col)
    v = inert(value)
    if isinstance(v, str):
        # never let openpyxl guess (it takes a leading "=" for a formula)
        cell._value = v
        cell.data_type = "s"
        cell.quotePrefix = True
    else:
        cell.value = v
    return cell


def _letter(n: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(n))


def _sheet_title(title: str, used: set[str]) -> str:
    # XLSX sheet names: at most 31 characters, none of []:*?/\
    clean = "".join(ch for ch in title if ch not in "[]:*?/\\")[:31] or "Sheet"
    name, i = clean, 2
    while name in used:
        suffix = f" ({i})"
        name = clean[:31 - len(suffix)] + suffix
        i += 1
    used.add(name)
    return name


def json_text(data: Any) -> str:
    """JSON as the exports write it (Chinese kept readable)."""
    return json.dumps(data, ensure_ascii=False, indent=1)


# ---------------------------------------------------------------------------------------------
# tallies as a table

TALLY_HEADER = [
    "dimension", "department", "group", "period", "question", "question_title", "answers",
    "1", "2", "3", "4", "5", "mean", "mean_lo", "mean_hi", "score100", "score100_lo",
    "score100_hi", "top_box", "top_box_lo", "top_box_hi", "top_two_box", "top_two_lo",
    "top_two_hi", "hidden",
]
HIDDEN_WORDS = {"small": "回答太少 too few", "complement": "随之隐藏 hidden with a small group"}


def tally_row(t: Tally, title: str) -> list[Any]:
    """One tally's published figures as a table row (hidden figures as "—")."""
    f = t.figures()
    dist = f["distribution"] or [None] * 5
    return [t.dimension, t.parent, t.key, t.period, t.question_id, title, f["answers"], *dist,
            f["mean"], f["mean_lo"], f["mean_hi"], f["score100"], f["score100_lo"],
            f["score100_hi"], f["top_box"], f["top_box_lo"], f["top_box_hi"],
            f["top_two_box"], f["top_two_lo"], f["top_two_hi"],
            HIDDEN_WORDS.get(f["reason"], "") if f["hidden"] else ""]


def tally_sheet(tallies: Iterable[Tally], titles: dict[str, str], title: str) -> Sheet:
    """Tallies as one sheet."""
    return Sheet(title, TALLY_HEADER,
                 [tally_row(t, titles.get(t.question_id, t.question_id)) for t in tallies])
