"""Checking one row: every problem it has, each naming its column as the file names it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.importer.columns import (
    LABELS_ZH,
    REQUIRED,
    ContactChannel,
    allowed_values,
    choice,
    map_keys,
)
from bot.importer.messages import RowError
from bot.privacy import normalise_phone
from models import EpisodeKind, EpisodeStatus, PersonKind, Relation

# Longest value each text column holds (the database's column sizes).
LIMITS = {"external_id": 128, "person_name": 128, "department": 64, "department_name": 128,
          "treatment_type": 64, "clinician": 128, "contact_name": 128,
          "person_external_id": 128, "contact_openid": 64, "clinician_id": 64}
# Controls other than tab, newline and carriage return, and lone surrogates (a JSON
# "\ud800"): no database stores them as text.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
YEARS = (1900, 2100)  # plausible dates; schedules add up to a year or two to them


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
    preferred_channel: str | None = None  # ContactChannel; None: leave as it is
    clinician_code: str = ""  # the import column clinician_id


def text(value: object) -> str:
    """A cell or JSON value as trimmed text (spreadsheets give 13800001111.0 for a phone)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("\ufeff", "").replace("\u200b", "").strip()


# Dates as Chinese exports write them: 2026-11-03, 2026/11/3 9:05, 2026.11.03 09:05:07.000,
# 2026年11月3日 下午3点半, 20261103 090500, ISO 8601 with an offset from an API.
_WHEN = re.compile(r"""
    (?: (?P<y>\d{4}) \s* (?:[-/.]|年) \s* (?P<mo>\d{1,2}) \s* (?:[-/.]|月) \s* (?P<d>\d{1,2})
        \s* [日号]?
      | (?P<cy>\d{4}) (?P<cmo>\d{2}) (?P<cd>\d{2}) )
    (?: \s* (?:t\s*)?
        (?P<ap>上午|下午|中午|晚上|早上|凌晨|am|pm)? \s*
        (?: (?P<h>\d{1,2}) \s* (?:[:]|时|点) \s* (?: (?P<half>半) | (?P<mi>\d{1,2}) \s* 分? )?
            (?: \s* : \s* (?P<s>\d{1,2}) (?:[.,]\d+)? | \s* (?P<s2>\d{1,2}) \s* 秒 )?
          | (?P<ch>\d{2}) (?P<cmi>\d{2}) (?P<cs>\d{2})? )
        \s* (?P<ap2>am|pm)?
        \s* (?P<tz>z|[+-]\d{2}:?\d{2})?
    )?
""", re.VERBOSE)
_AFTERNOON = {"下午", "晚上", "pm"}
_MORNING = {"上午", "早上", "凌晨", "am"}


class DateProblem(ValueError):
    """A value that is not a date (``code`` says how: bad_date or no_such_day)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def parse_when(value: object, tz: ZoneInfo) -> tuple[datetime, bool]:
    """A local time and whether the value gave a time of day (a date alone does not).

    Raises :class:`DateProblem`. Spreadsheet cells arrive as datetime or date objects.
    """
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(tz), True
        return value.replace(tzinfo=tz), bool(value.time() != time(0))
    if isinstance(value, date):
        return datetime.combine(value, time(0), tz), False
    v = unicodedata.normalize("NFKC", text(value)).casefold()
    m = _WHEN.fullmatch(v)
    if m is None:
        raise DateProblem("bad_date")
    g = m.groupdict()
    y, mo, d = (int(g["y"] or g["cy"]), int(g["mo"] or g["cmo"]), int(g["d"] or g["cd"]))
    timed = g["h"] is not None or g["ch"] is not None
    h = int(g["h"] or g["ch"] or 0)
    mi = 30 if g["half"] else int(g["mi"] or g["cmi"] or 0)
    s = int(g["s"] or g["s2"] or g["cs"] or 0)
    ap = g["ap"] or g["ap2"]
    if (ap in _AFTERNOON and h < 12) or (ap == "中午" and h < 6):
        h += 12
    elif ap in _MORNING and h == 12:
        h = 0
    try:
        when = datetime(y, mo, d, h, mi, s)  # noqa: DTZ001 - zone added below
    except ValueError:
        raise DateProblem("no_such_day") from None
    if g["tz"]:
        if g["tz"] == "z":
            zone = UTC
        else:
            sign = -1 if g["tz"][0] == "-" else 1
            digits = g["tz"][1:].replace(":", "")
            zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        return when.replace(tzinfo=zone).astimezone(tz), True
    return when.replace(tzinfo=tz), timed


_PHONE_SPLIT = re.compile(r"[/,;、|]|或")
_SHORTENED = re.compile(r"\d(?:\.\d+)?e\+?\d+")


def parse_phone(value: str) -> tuple[str | None, str]:
    """A mainland number (the first one when a cell holds several: "138…/139…") or None and
    the error code. Full-width digits are fine."""
    v = unicodedata.normalize("NFKC", value)
    if _SHORTENED.fullmatch(v.casefold().replace(" ", "")):
        return None, "phone_shortened"
    for part in _PHONE_SPLIT.split(v):
        phone = normalise_phone(part)
        if phone is not None:
            return phone, ""
    return None, "bad_phone"


def validate_row(line: int, raw: Mapping[str, object], tz: ZoneInfo) -> EpisodeRow | list[RowError]:
    """Check one row: the clean row, or every problem found in it."""
    items = {str(k): v for k, v in raw.items() if k is not None}
    km = map_keys(tuple(items))
    errors: list[RowError] = [
        RowError.of(line, " / ".join(n.strip() for n in names), "duplicate_column", field=col,
                    names=" / ".join(n.strip() for n in names), field_zh=LABELS_ZH[col])
        for col, names in km.duplicates.items()]
    cells = {col: items[name] for col, name in km.names.items()}
    unusable = set()  # cells already refused: not reported again as missing or malformed
    for col, v in list(cells.items()):
        if v is not None and not isinstance(v, str | int | float | date):
            errors.append(RowError.of(line, km.names[col].strip(), "not_scalar", field=col))
            unusable.add(col)
            del cells[col]
    t = {col: text(v) for col, v in cells.items()}
    for col, value in list(t.items()):
        if _UNSTORABLE.search(value):
            errors.append(RowError.of(line, km.names[col].strip(), "unstorable", field=col))
            unusable.add(col)
            del t[col]
    if not t.get("department") and t.get("department_name"):
        t["department"] = t["department_name"]  # a file with the department's name only

    def err(col: str, code: str, **params: object) -> None:
        errors.append(RowError(line, km.names.get(col, col).strip(), code,
                               tuple((k, str(v)) for k, v in params.items()), col))

    for col in REQUIRED:
        if not t.get(col) and col not in unusable:
            err(col, "missing_value")
    phone = None
    if t.get("contact_phone"):
        phone, code = parse_phone(t["contact_phone"])
        if phone is None:
            err("contact_phone", code, value=t["contact_phone"])
    elif not t.get("contact_openid") and not unusable & {"contact_phone", "contact_openid"}:
        err("contact_phone", "missing_contact")

    occurred = birth = None
    for col in ("occurred_at", "birth_date"):
        if not t.get(col):
            continue
        try:
            when, timed = parse_when(cells[col], tz)
        except DateProblem as e:
            err(col, e.code, value=t[col])
            continue
        if not YEARS[0] <= when.year <= YEARS[1]:
            err(col, "bad_year", low=YEARS[0], high=YEARS[1])
            continue
        if col == "birth_date":
            birth = when.date()
        else:  # a date alone: midday local, clear of both ends of the day
            occurred = when if timed else datetime.combine(when.date(), time(12, 0), tz)

    def pick(col: str, enum: type, default: str) -> str:
        if not t.get(col):
            return default
        value = choice(t[col], enum)
        if value is None:
            err(col, "bad_choice", value=t[col], allowed=allowed_values(enum))
            return default
        return value

    kind = pick("kind", EpisodeKind, "visit")
    pkind = pick("person_kind", PersonKind, "patient")
    relation = pick("relation", Relation, "self")
    status = pick("status", EpisodeStatus, "active")
    preferred = pick("preferred_channel", ContactChannel, "") or None
    for col, limit in LIMITS.items():
        if len(t.get(col, "")) > limit:
            err(col, "too_long", limit=limit)
    if errors:
        return errors
    assert occurred is not None  # required, so checked above
    return EpisodeRow(
        line=line, external_id=t["external_id"], person_name=t["person_name"],
        contact_phone=phone, contact_openid=t.get("contact_openid") or None,
        occurred_at=occurred, department=t["department"],
        department_name=t.get("department_name") or t["department"],
        treatment_type=t.get("treatment_type", ""), kind=EpisodeKind(kind),
        clinician=t.get("clinician", ""), clinician_code=t.get("clinician_id", ""),
        person_external_id=t.get("person_external_id", ""),
        person_kind=PersonKind(pkind), birth_date=birth,
        contact_name=t.get("contact_name") or t["person_name"],
        relation=Relation(relation), status=EpisodeStatus(status),
        preferred_channel=preferred,
    )
