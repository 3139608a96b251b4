"""Importing episodes (visits, discharges, treatments, lesson terms) from CSV, XLSX or the JSON
API.

Rows are validated one by one: every problem of a bad row is reported with its line number
and the column as the file names it, good rows are kept. Files may be UTF-8, GBK/GB18030 or
UTF-16, with English or Chinese headers and values (``columns``). Importing is idempotent by
(source, external_id): a later import of the same episode edits it and re-plans its pending
check-ins.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.importer.columns import COLUMNS, REQUIRED, map_keys
from bot.importer.messages import Lang, RowError, fix_hint, language, summary_lines
from bot.importer.reading import Table, decode, read_csv, read_xlsx
from bot.importer.store import store_many, store_one
from bot.importer.values import EpisodeRow, validate_row
from bot.runtime import Runtime

__all__ = [
    "CHUNK", "COLUMNS", "REQUIRED", "EpisodeRow", "ImportResult", "Lang", "RowError",
    "Sampling", "decode", "fix_hint", "import_csv_file", "import_file", "import_rows",
    "language", "read_csv", "read_xlsx", "validate_row",
]
log = logging.getLogger(__name__)


@dataclass
class ImportResult:
    """What an import did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    checkins_planned: int = 0
    sampled_out: int = 0
    errors: list[RowError] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)  # named no known column
    encoding: str = ""   # how a CSV file was read (UTF-8, GBK, GB18030, UTF-16)
    sheet: str = ""      # which sheet of an XLSX file was read
    header_line: int = 1

    @property
    def rows_refused(self) -> int:
        """Rows with at least one error (a row may have several)."""
        return len({e.line for e in self.errors if not e.whole_file})

    @property
    def file_refused(self) -> bool:
        """True when the file itself could not be read (encoding, header): nothing stored."""
        return any(e.whole_file for e in self.errors)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready summary; each error in English (``message``) and Chinese."""
        out: dict[str, object] = {
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "checkins_planned": self.checkins_planned, "sampled_out": self.sampled_out,
            "rows_refused": self.rows_refused, "ignored_columns": self.ignored_columns,
            "errors": [{"line": e.line, "column": e.column, "field": e.field, "code": e.code,
                        "message": e.text("en"), "message_zh": e.text("zh")}
                       for e in self.errors],
        }
        if self.encoding:
            out["encoding"] = self.encoding
        return out

    def summary(self, name: str, lang: Lang, *, sampled: bool = False) -> list[str]:
        """The summary for people: counts (grammatical in both languages), then notes."""
        return summary_lines(
            name=name, encoding=self.encoding, sheet=self.sheet, created=self.created,
            updated=self.updated, unchanged=self.unchanged, planned=self.checkins_planned,
            refused=self.rows_refused, sampled_out=self.sampled_out if sampled else None,
            file_refused=self.file_refused, header_line=self.header_line,
            ignored=self.ignored_columns, lang=lang)


@dataclass(frozen=True, slots=True)
class Sampling:
    """Follow up only a share of episodes (e.g. 10 % of discharges, as one hospital does).

    The choice is a hash of (seed, source, external id): the same episode is always in or
    always out, so re-importing a file never changes who is followed up.
    """

    rate: float
    kinds: frozenset[str] = frozenset()  # empty: every kind is sampled
    seed: str = ""

    def keeps(self, source: str, row: EpisodeRow) -> bool:
        """True when this row is followed up."""
        if self.kinds and row.kind.value not in self.kinds:
            return True
        digest = hashlib.sha256(f"{self.seed}:{source}:{row.external_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.rate


# Rows stored per transaction. A chunk that meets anything unusual (an episode twice, a
# clash with another import running at the same moment) is stored again row by row.
CHUNK = 200


async def import_rows(rt: Runtime, rows: Iterable[tuple[int, Mapping[str, object]]],
                      source: str, errors: list[RowError] | None = None, *,
                      sampling: Sampling | None = None,
                      progress: Callable[[int], None] | None = None,
                      chunk_size: int = CHUNK) -> ImportResult:
    """Validate and store rows; good rows are kept, bad rows are reported.

    A row's keys may be any name a file gives a column (``电话``, ``phone``…); keys that name
    no column are ignored and listed in ``ignored_columns``. Good rows are stored
    ``chunk_size`` at a time, each chunk in one transaction; when a chunk cannot be stored
    whole, each of its rows commits on its own, so that one row's trouble loses no other.
    ``progress`` is called with the number of rows handled so far.
    """
    result = ImportResult(errors=list(errors or []))
    ignored: dict[str, None] = {}
    chunk: list[EpisodeRow] = []
    n = 0
    for n, (line, raw) in enumerate(rows, start=1):
        ignored.update(dict.fromkeys(map_keys(tuple(str(k) for k in raw)).unknown))
        row = validate_row(line, raw, rt.settings.tz)
        if isinstance(row, list):
            result.errors.extend(row)
        elif sampling is not None and not sampling.keeps(source, row):
            result.sampled_out += 1
        else:
            chunk.append(row)
        if len(chunk) >= chunk_size:
            await _store_chunk(rt, chunk, source, result)
            chunk = []
        if progress is not None and not chunk:
            progress(n)
    if chunk:
        await _store_chunk(rt, chunk, source, result)
        if progress is not None:
            progress(n)
    result.errors.sort(key=lambda e: e.line)  # stable: a row's errors keep their order
    result.ignored_columns = list(ignored)
    rt.planner_waker.wake()
    return result


async def _store_chunk(rt: Runtime, rows: list[EpisodeRow], source: str,
                       result: ImportResult) -> None:
    try:
        outcomes = await store_many(rt, rows, source)
    except Exception as e:
        log.info("%d rows stored one by one (%s: %s)", len(rows), type(e).__name__, e)
        outcomes = []
        for row in rows:
            try:
                outcomes.append(await store_one(rt, row, source))
            except Exception as e:  # one row's trouble must not lose the others
                result.errors.append(RowError.of(row.line, "", "store_failed", detail=e))
    for outcome, planned in outcomes:
        setattr(result, outcome, getattr(result, outcome) + 1)
        result.checkins_planned += planned


def read_file(path: Path) -> Table:
    """The rows of a CSV (UTF-8, GBK/GB18030 or UTF-16; comma or tab) or XLSX file."""
    if path.suffix.lower() == ".xlsx":
        return read_xlsx(path)
    decoded = decode(path.read_bytes())
    if isinstance(decoded, RowError):
        return Table(errors=[decoded])
    text, encoding = decoded
    table = read_csv(text)
    table.encoding = encoding
    return table


async def import_file(rt: Runtime, path: Path, source: str = "csv", *,
                      sampling: Sampling | None = None,
                      progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Import a CSV or XLSX file; a file whose encoding or header is wrong stores nothing.

    ``progress`` is called with (rows handled, rows in the file).
    """
    table = await asyncio.to_thread(read_file, path)
    total = len(table.rows)
    result = await import_rows(
        rt, table.rows, source, table.errors, sampling=sampling,
        progress=(lambda n: progress(n, total)) if progress is not None else None)
    result.encoding, result.sheet, result.header_line = (
        table.encoding, table.sheet, table.header_line)
    return result


async def import_csv_file(rt: Runtime, path: Path, source: str = "csv") -> ImportResult:
    """Import a CSV file (kept for callers that only ever pass CSV)."""
    return await import_file(rt, path, source)
