"""Importing episodes (visits, discharges, treatments, lesson terms) from CSV or the JSON API.

Rows are validated one by one: bad rows are reported with their line number and reason, good
rows are kept. Importing is idempotent by (source, external_id): a later import of the same
episode edits it and re-plans its pending check-ins.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from bot import bulk, planner
from bot.privacy import normalise_phone
from bot.runtime import Runtime
from models import (
    CheckIn,
    Contact,
    Department,
    Episode,
    EpisodeKind,
    EpisodeStatus,
    Person,
    PersonContact,
    PersonKind,
    Relation,
)

COLUMNS: dict[str, str] = {
    "external_id": "required: the episode's id in your system (visit number, discharge id)",
    "person_name": "required: patient or student name",
    "contact_phone": "required unless contact_openid: mobile number of whoever answers",
    "occurred_at": "required: YYYY-MM-DD or YYYY-MM-DD HH:MM (local time)",
    "department": "required: department code (created if new)",
    "department_name": "optional: department display name (default: the code)",
    "treatment_type": "optional: e.g. 拔牙, 补牙, 出院; picks the schedule and survey",
    "kind": "optional: visit | discharge | treatment | lesson_term (default visit)",
    "clinician": "optional: doctor or teacher name",
    "clinician_id": "optional: the clinician's id in your system (tells apart namesakes)",
    "person_external_id": "optional: the person's id in your system",
    "person_kind": "optional: patient | student (default patient)",
    "birth_date": "optional: YYYY-MM-DD",
    "contact_name": "optional: who answers (default: person_name)",
    "relation": "optional: self | parent | guardian | spouse | child | other (default self)",
    "contact_openid": "optional: WeChat openid of whoever answers",
    "status": "optional: active | cancelled (default active)",
}
log = logging.getLogger(__name__)

REQUIRED = ("external_id", "person_name", "occurred_at", "department")


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one input row was refused."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        col = f" [{self.column}]" if self.column else ""
        return f"line {self.line}{col}: {self.message}"


@dataclass(frozen=True, slots=True)
class EpisodeRow:
    """One validated input row."""

    line: int
    external_id: str
    person_name: str
    contact_phone: str | None
    contact_openid: str | None
    occurred_at: datetime
    department: str
    department_name: str
    treatment_type: str
    kind: EpisodeKind
    clinician: str
    person_external_id: str
    person_kind: PersonKind
    birth_date: date | None
    contact_name: str
    relation: Relation
    status: EpisodeStatus
    clinician_code: str = ""


@dataclass
class ImportResult:
    """What an import did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    checkins_planned: int = 0
    sampled_out: int = 0
    errors: list[RowError] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready summary."""
        return {
            "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
            "checkins_planned": self.checkins_planned, "sampled_out": self.sampled_out,
            "errors": [{"line": e.line, "column": e.column, "message": e.message}
                       for e in self.errors],
        }


def _enum(value: str, enum: type, default: object, column: str) -> object:
    if not value:
        return default
    try:
        return enum(value.strip().lower())
    except ValueError:
        allowed = " | ".join(m.value for m in enum)  # type: ignore[attr-defined]
        raise ValueError(f"{value!r} is not one of {allowed}") from None


def _parse_when(value: str, tz: ZoneInfo) -> datetime:
    v = value.strip().replace("/", "-").replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            dt = datetime.strptime(v, fmt)  # noqa: DTZ007 - local wall time, zone added below
        except ValueError:
            continue
        if fmt == "%Y-%m-%d":
            dt = datetime.combine(dt.date(), time(12, 0))  # a date alone: midday local
        return dt.replace(tzinfo=tz)
    raise ValueError(f"{value!r} is not a date: use YYYY-MM-DD or YYYY-MM-DD HH:MM")


def validate_row(line: int, raw: Mapping[str, object], tz: ZoneInfo) -> EpisodeRow | RowError:
    """Check one row; return the clean row or the first problem found."""
    r = {str(k).strip().lower(): ("" if v is None else str(v).strip()) for k, v in raw.items()
         if k is not None}
    unknown = sorted(set(r) - set(COLUMNS))
    if unknown:
        return RowError(line, unknown[0], f"unknown column (known: {', '.join(COLUMNS)})")
    for col in REQUIRED:
        if not r.get(col):
            return RowError(line, col, f"missing value ({COLUMNS[col]})")
    phone = None
    if r.get("contact_phone"):
        phone = normalise_phone(r["contact_phone"])
        if phone is None:
            return RowError(line, "contact_phone",
                            f"{r['contact_phone']!r} is not a mainland mobile or landline number")
    if phone is None and not r.get("contact_openid"):
        return RowError(line, "contact_phone",
                        "missing value: give contact_phone or contact_openid")
    try:
        col = "occurred_at"
        occurred = _parse_when(r["occurred_at"], tz)
        col = "birth_date"
        birth = date.fromisoformat(r["birth_date"]) if r.get("birth_date") else None
        col = "kind"
        kind = _enum(r.get("kind", ""), EpisodeKind, EpisodeKind.VISIT, col)
        col = "person_kind"
        pkind = _enum(r.get("person_kind", ""), PersonKind, PersonKind.PATIENT, col)
        col = "relation"
        rel = _enum(r.get("relation", ""), Relation, Relation.SELF, col)
        col = "status"
        status = _enum(r.get("status", ""), EpisodeStatus, EpisodeStatus.ACTIVE, col)
    except ValueError as e:
        return RowError(line, col, str(e))
    for col, limit in (("external_id", 128), ("person_name", 128), ("department", 64),
                       ("treatment_type", 64), ("clinician", 128), ("contact_name", 128),
                       ("clinician_id", 64)):
        if len(r.get(col, "")) > limit:
            return RowError(line, col, f"longer than {limit} characters")
    return EpisodeRow(
        line=line, external_id=r["external_id"], person_name=r["person_name"],
        contact_phone=phone, contact_openid=r.get("contact_openid") or None,
        occurred_at=occurred, department=r["department"],
        department_name=r.get("department_name") or r["department"],
        treatment_type=r.get("treatment_type", ""), kind=kind,  # type: ignore[arg-type]
        clinician=r.get("clinician", ""), person_external_id=r.get("person_external_id", ""),
        person_kind=pkind, birth_date=birth,  # type: ignore[arg-type]
        contact_name=r.get("contact_name") or r["person_name"],
        relation=rel, status=status,  # type: ignore[arg-type]
        clinician_code=r.get("clinician_id", ""),
    )


def read_csv(text: str) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """Rows of a CSV text with their line numbers (the header is line 1)."""
    text = text.lstrip("\ufeff")  # Excel writes a BOM
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        return [], [RowError(1, "", "the file is empty: expected a header row")]
    missing = [c for c in REQUIRED if c not in [f.strip().lower() for f in reader.fieldnames]]
    if missing:
        return [], [RowError(1, missing[0],
                             f"header lacks required column(s) {', '.join(missing)}")]
    rows: list[tuple[int, dict[str, str]]] = []
    errors: list[RowError] = []
    for rec in reader:
        line = reader.line_num
        if None in rec:
            errors.append(RowError(line, "", "more fields than the header has columns"))
            continue
        if not any((v or "").strip() for v in rec.values()):
            continue  # blank line
        rows.append((line, rec))
    return rows, errors


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

    Good rows are stored ``chunk_size`` at a time, each chunk in one transaction; when a
    chunk cannot be stored whole, each of its rows commits on its own, so that one row's
    trouble loses no other. ``progress`` is called with the number of rows handled so far.
    """
    result = ImportResult(errors=list(errors or []))
    chunk: list[EpisodeRow] = []
    n = 0
    for n, (line, raw) in enumerate(rows, start=1):
        row = validate_row(line, raw, rt.settings.tz)
        if isinstance(row, RowError):
            result.errors.append(row)
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
    result.errors.sort(key=lambda e: e.line)
    rt.planner_waker.wake()
    return result


async def _store_chunk(rt: Runtime, rows: list[EpisodeRow], source: str,
                       result: ImportResult) -> None:
    try:
        outcomes = await _store_many(rt, rows, source)
    except Exception as e:
        log.info("%d rows stored one by one (%s: %s)", len(rows), type(e).__name__, e)
        outcomes = []
        for row in rows:
            try:
                outcomes.append(await _store(rt, row, source))
            except Exception as e:  # one row's trouble must not lose the others
                result.errors.append(RowError(row.line, "", f"could not be stored: {e}"))
    for outcome, planned in outcomes:
        setattr(result, outcome, getattr(result, outcome) + 1)
        result.checkins_planned += planned


def read_xlsx(path: Path) -> tuple[list[tuple[int, dict[str, object]]], list[RowError]]:
    """Rows of the first sheet of an XLSX workbook (header in row 1), with row numbers."""
    import openpyxl  # only needed for spreadsheets

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises several kinds for a damaged file
        return [], [RowError(0, "", f"not a readable .xlsx workbook: {e}")]
    try:
        sheet = wb.worksheets[0]
        it = sheet.iter_rows(values_only=True)
        header = next(it, None)
        if not header or not any(header):
            return [], [RowError(1, "", "the sheet is empty: expected a header row")]
        names = [str(h).strip().lower() if h is not None else "" for h in header]
        missing = [c for c in REQUIRED if c not in names]
        if missing:
            return [], [RowError(1, missing[0],
                                 f"header lacks required column(s) {', '.join(missing)}")]
        rows: list[tuple[int, dict[str, object]]] = []
        for n, values in enumerate(it, start=2):
            if values is None or not any(v not in (None, "") for v in values):
                continue
            rec = {}
            for name, v in zip(names, values, strict=False):
                if not name:
                    continue
                # Spreadsheets hand us dates and numbers: write them the way CSV would.
                if isinstance(v, datetime):
                    v = v.strftime("%Y-%m-%d %H:%M") if (v.hour or v.minute) else \
                        v.strftime("%Y-%m-%d")
                elif isinstance(v, date):
                    v = v.isoformat()
                elif isinstance(v, float) and v.is_integer():
                    v = str(int(v))
                rec[name] = v
            rows.append((n, rec))
        return rows, []
    finally:
        wb.close()


async def import_file(rt: Runtime, path: Path, source: str = "csv", *,
                      sampling: Sampling | None = None,
                      progress: Callable[[int, int], None] | None = None) -> ImportResult:
    """Import a CSV (UTF-8, with or without BOM) or XLSX file.

    ``progress`` is called with (rows handled, rows in the file).
    """
    rows: list[tuple[int, dict[str, object]]]
    if path.suffix.lower() == ".xlsx":
        rows, errors = await asyncio.to_thread(read_xlsx, path)
    else:
        try:
            text = await asyncio.to_thread(path.read_text, encoding="utf-8")
        except UnicodeDecodeError:
            return ImportResult(errors=[RowError(
                0, "", "the file is not UTF-8: save it as CSV UTF-8 (or as .xlsx)")])
        csv_rows, errors = read_csv(text)
        rows = [(n, dict(r)) for n, r in csv_rows]
    total = len(rows)
    return await import_rows(
        rt, rows, source, errors, sampling=sampling,
        progress=(lambda n: progress(n, total)) if progress is not None else None)


async def import_csv_file(rt: Runtime, path: Path, source: str = "csv") -> ImportResult:
    """Import a CSV file (kept for callers that only ever pass CSV)."""
    return await import_file(rt, path, source)


async def _store(rt: Runtime, row: EpisodeRow, source: str) -> tuple[str, int]:
    async with in_transaction() as conn:
        dept, _ = await Department.get_or_create(
            code=row.department, defaults={"name": row.department_name}, using_db=conn
        )
        contact = None
        if row.contact_phone:
            contact = await Contact.filter(phone=row.contact_phone).using_db(conn).first()
        if contact is None and row.contact_openid:
            contact = await Contact.filter(wechat_openid=row.contact_openid).using_db(conn).first()
        if contact is None:
            contact = await Contact.create(
                using_db=conn, name=row.contact_name, phone=row.contact_phone,
                wechat_openid=row.contact_openid,
            )
        person_key = row.person_external_id or f"{contact.id}:{row.person_name}"
        person, _ = await Person.get_or_create(
            source=source, external_id=person_key,
            defaults={"name": row.person_name, "kind": row.person_kind,
                      "birth_date": row.birth_date},
            using_db=conn,
        )
        await PersonContact.get_or_create(
            person_id=person.id, contact_id=contact.id, defaults={"relation": row.relation},
            using_db=conn,
        )
        fields = {
            "kind": row.kind, "status": row.status, "person_id": person.id,
            "contact_id": contact.id, "department_id": dept.id,
            "clinician_name": row.clinician, "clinician_code": row.clinician_code,
            "treatment_type": row.treatment_type,
            "occurred_at": row.occurred_at,
        }
        ep = await Episode.filter(source=source, external_id=row.external_id).using_db(
            conn
        ).first()
        if ep is None:
            ep = await Episode.create(using_db=conn, source=source,
                                      external_id=row.external_id, **fields)
            outcome = "created"
        else:
            changed = {k: v for k, v in fields.items() if getattr(ep, k) != v}
            if not changed:
                return "unchanged", 0
            for k, v in changed.items():
                setattr(ep, k, v)
            await ep.save(using_db=conn)
            outcome = "updated"
        planned = await planner.plan_episode(rt, ep, conn)
    return outcome, planned


class _Twice(Exception):
    """The same episode appears twice in a chunk: its rows must be applied in order."""


@dataclass
class _NewContact:
    """A contact created by this chunk (its id comes back from the insert)."""

    fields: dict[str, object]
    id: int = 0


async def _store_many(rt: Runtime, rows: list[EpisodeRow], source: str) -> list[tuple[str, int]]:
    """Store a chunk of rows in one transaction with a few queries per table (not per row).

    Same outcome as :func:`_store` row after row: contacts found by phone, then openid,
    else created; people and their links to contacts created once; episodes created,
    updated or left alone, and their check-ins planned.
    """
    if len({r.external_id for r in rows}) < len(rows):
        raise _Twice("an episode appears twice")
    async with in_transaction() as conn:
        names: dict[str, str] = {}
        for r in rows:
            names.setdefault(r.department, r.department_name)
        depts = dict(await Department.filter(code__in=list(names)).using_db(conn).values_list(
            "code", "id"))
        new_depts = [{"code": c, "name": names[c]} for c in names if c not in depts]
        depts.update((d["code"], d["id"]) for d in await bulk.insert(
            conn, Department, new_depts, returning=("code", "id")))

        # Contacts: by phone, else by openid, else new (rows later in the chunk find it).
        phones = list({r.contact_phone for r in rows if r.contact_phone})
        openids = list({r.contact_openid for r in rows if r.contact_openid})
        by_phone: dict[str, int | _NewContact] = dict(await Contact.filter(
            phone__in=phones).using_db(conn).values_list("phone", "id")) if phones else {}
        by_openid: dict[str, int | _NewContact] = dict(await Contact.filter(
            wechat_openid__in=openids).using_db(conn).values_list(
            "wechat_openid", "id")) if openids else {}
        found: list[int | _NewContact] = []
        created: list[_NewContact] = []
        for r in rows:
            c = by_phone.get(r.contact_phone) if r.contact_phone else None
            if c is None and r.contact_openid:
                c = by_openid.get(r.contact_openid)
            if c is None:
                c = _NewContact({"name": r.contact_name, "phone": r.contact_phone,
                                 "wechat_openid": r.contact_openid})
                created.append(c)
                if r.contact_phone:
                    by_phone[r.contact_phone] = c
                if r.contact_openid:
                    by_openid[r.contact_openid] = c
            found.append(c)
        for back in await bulk.insert(conn, Contact, [c.fields for c in created],
                                      returning=("id", "phone", "wechat_openid")):
            c = by_phone[back["phone"]] if back["phone"] else by_openid[back["wechat_openid"]]
            assert isinstance(c, _NewContact)
            c.id = int(back["id"])
        contact_ids = [c if isinstance(c, int) else c.id for c in found]

        keys = [r.person_external_id or f"{cid}:{r.person_name}"
                for r, cid in zip(rows, contact_ids, strict=True)]
        people = dict(await Person.filter(source=source, external_id__in=list(set(keys))).using_db(
            conn).values_list("external_id", "id"))
        new_people: dict[str, dict[str, object]] = {}
        for r, key in zip(rows, keys, strict=True):
            if key not in people and key not in new_people:
                new_people[key] = {"source": source, "external_id": key, "name": r.person_name,
                                   "kind": r.person_kind, "birth_date": r.birth_date}
        people.update((p["external_id"], p["id"]) for p in await bulk.insert(
            conn, Person, list(new_people.values()), returning=("external_id", "id")))
        person_ids = [people[k] for k in keys]

        links = set(await PersonContact.filter(person_id__in=list(set(person_ids))).using_db(
            conn).values_list("person_id", "contact_id"))
        new_links = []
        for r, pid, cid in zip(rows, person_ids, contact_ids, strict=True):
            if (pid, cid) not in links:
                links.add((pid, cid))
                new_links.append({"person_id": pid, "contact_id": cid, "relation": r.relation})
        await bulk.insert(conn, PersonContact, new_links)

        existing = {e.external_id: e for e in await Episode.filter(
            source=source, external_id__in=[r.external_id for r in rows]).using_db(conn)}
        outcomes: list[tuple[str, int]] = []
        fresh: list[dict[str, object]] = []
        for r, pid, cid in zip(rows, person_ids, contact_ids, strict=True):
            fields: dict[str, object] = {
                "kind": r.kind, "status": r.status, "person_id": pid, "contact_id": cid,
                "department_id": depts[r.department], "clinician_name": r.clinician,
                "clinician_code": r.clinician_code,
                "treatment_type": r.treatment_type, "occurred_at": r.occurred_at,
            }
            ep = existing.get(r.external_id)
            if ep is None:
                fresh.append({"source": source, "external_id": r.external_id, **fields})
                outcomes.append(("created", 0))
                continue
            changed = {k: v for k, v in fields.items() if getattr(ep, k) != v}
            if not changed:
                outcomes.append(("unchanged", 0))
                continue
            for k, v in changed.items():
                setattr(ep, k, v)
            await ep.save(using_db=conn)
            outcomes.append(("updated", await planner.plan_episode(rt, ep, conn)))
        ids = {e["external_id"]: int(e["id"]) for e in await bulk.insert(
            conn, Episode, fresh, returning=("external_id", "id"))}
        # New episodes have no check-ins yet: all of theirs in one insert.
        checkins: list[dict[str, object]] = []
        planned: dict[str, int] = {}
        for r, cid in zip(rows, contact_ids, strict=True):
            if r.external_id not in ids or r.status == EpisodeStatus.CANCELLED:
                continue
            plans = planner.checkin_plans(
                rt, episode_id=ids[r.external_id], department_code=r.department,
                treatment_type=r.treatment_type, kind=r.kind, occurred_at=r.occurred_at,
                contact_id=cid)
            checkins.extend({"episode_id": ids[r.external_id], "offset": label, **plan}
                            for label, plan in plans.items())
            planned[r.external_id] = len(plans)
        await bulk.insert(conn, CheckIn, checkins)
    return [(o, planned.get(r.external_id, 0)) if o == "created" else (o, n)
            for r, (o, n) in zip(rows, outcomes, strict=True)]
