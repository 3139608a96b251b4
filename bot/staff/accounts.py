"""Staff accounts, sessions, sign-in throttling, and which escalations a member may see.

Passwords are argon2id hashes; a session is a random token whose SHA-256 alone is stored, so
every process knows it. Sign-in attempts are counted in the database before the password is
checked (one statement that also reads the count), so parallel guesses are counted one by one.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise import connections
from tortoise.expressions import Q

from bot import ledger
from bot.runtime import Runtime
from models import AuditEvent, Department, Escalation, KeyValue, Role, Staff, StaffSession

# argon2id with the library's current defaults (RFC 9106 low-memory profile).
_hasher = PasswordHasher()
# Verified against when the username is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
USERNAME = re.compile(r"[A-Za-z0-9_.\-]{2,64}")
MIN_PASSWORD = 8
LEADS = {Role.HEAD, Role.MANAGER, Role.ADMIN}  # may reassign
EVERYWHERE = {Role.MANAGER, Role.ADMIN}  # see every department's queue


class StaffError(Exception):
    """A request the rules refuse; the message says why and what to do."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# --- accounts ---


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


def check_password_rules(password: str) -> None:
    """Refuse passwords too short to be worth hashing."""
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"the password needs at least {MIN_PASSWORD} characters")


async def _departments(codes: list[str]) -> list[Department]:
    found = {d.code: d for d in await Department.filter(code__in=codes)}
    missing = [c for c in codes if c not in found]
    if missing:
        known = ", ".join(sorted(str(r["code"]) for r in await Department.all().values("code")))
        known = known or "none"
        raise StaffError(f"unknown department code(s): {', '.join(missing)} (known: {known})")
    return [found[c] for c in codes]


async def create_staff(*, username: str, display_name: str, role: Role | str, password: str,
                       departments: list[str] | None = None) -> Staff:
    """Create a staff account (argon2 hash); department codes must exist."""
    if not USERNAME.fullmatch(username):
        raise StaffError("a username is 2–64 letters, digits, '.', '_' or '-'")
    check_password_rules(password)
    try:
        role = Role(role)
    except ValueError as e:
        raise StaffError(f"unknown role {role!r}: use agent, head, manager or admin") from e
    if await Staff.filter(username=username).exists():
        raise StaffError(f"the username {username!r} is taken", status=409)
    depts = await _departments(departments or [])
    staff = await Staff.create(username=username, display_name=display_name or username,
                               role=role,
                               password_hash=await asyncio.to_thread(hash_password, password))
    if depts:
        await staff.departments.add(*depts)
    return staff


async def update_staff(staff: Staff, *, role: Role | str | None = None,
                       departments: list[str] | None = None, active: bool | None = None,
                       password: str | None = None, display_name: str | None = None) -> None:
    """Change a staff account; a new password signs the member out everywhere."""
    if role is not None:
        try:
            staff.role = Role(role)
        except ValueError as e:
            raise StaffError(f"unknown role {role!r}") from e
    if display_name:
        staff.display_name = display_name
    if active is not None:
        staff.is_active = active
    if password:
        check_password_rules(password)
        staff.password_hash = await asyncio.to_thread(hash_password, password)
    await staff.save()
    if departments is not None:
        depts = await _departments(departments)
        await staff.departments.clear()
        if depts:
            await staff.departments.add(*depts)
    if password or active is False:
        await StaffSession.filter(staff_id=staff.id).delete()


# --- sessions and sign-in throttling ---


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A fresh session: the cookie value and the member."""

    token: str
    staff: Staff
    csrf: str


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def throttle_keys(username: str, ip: str) -> dict[str, str]:
    """The three sign-in counters of an attempt, as ``key_value`` keys of a fixed length.

    The pair (username + address) locks after ``login_max_failures``; the account from any
    address and the address over any username after their own, larger limits. Digests keep
    any username or address within the key column.
    """
    account = username.strip().lower()
    return {"pair": f"login:pair:{_digest(account + chr(10) + ip)}",
            "account": f"login:account:{_digest(account)}",
            "address": f"login:address:{_digest(ip)}"}


def _limits(rt: Runtime) -> dict[str, int]:
    cfg = rt.settings.staff
    return {"pair": cfg.login_max_failures, "account": cfg.login_max_failures_per_account,
            "address": cfg.login_max_failures_per_address}


# One statement counts an attempt and reads the count: the decision cannot be raced. The
# count restarts once the previous window has expired; every attempt moves the window's end
# to now + the lockout (a lockout ends that long after the last try).
_COUNT = ("INSERT INTO key_value (key, value, expires_at) VALUES ({k}, '1', {until}) "
          "ON CONFLICT (key) DO UPDATE SET value = CASE "
          "WHEN key_value.expires_at IS NULL OR key_value.expires_at <= {now} THEN '1' "
          "ELSE CAST(CAST(key_value.value AS INTEGER) + 1 AS TEXT) END, expires_at = {until} "
          "RETURNING value")
_UNCOUNT = ("UPDATE key_value SET value = CAST(CAST(value AS INTEGER) - 1 AS TEXT) "
            "WHERE key = {k} AND CAST(value AS INTEGER) > 0")


async def _count_attempt(key: str, now: datetime, until: datetime) -> int:
    conn = connections.get("default")
    pg = conn.capabilities.dialect == "postgres"
    field = KeyValue._meta.fields_map["expires_at"]
    # Numbered placeholders: ``until`` appears twice in the statement.
    marks = ("$1", "$2", "$3") if pg else ("?1", "?2", "?3")
    sql = _COUNT.format(k=marks[0], until=marks[1], now=marks[2])
    rows = await conn.execute_query_dict(
        sql, [key, field.to_db_value(until, KeyValue), field.to_db_value(now, KeyValue)])
    return int(rows[0]["value"])


async def _uncount(key: str) -> None:
    conn = connections.get("default")
    mark = "$1" if conn.capabilities.dialect == "postgres" else "?"
    await conn.execute_query(_UNCOUNT.format(k=mark), [key])


async def login(rt: Runtime, username: str, password: str, ip: str) -> SignedIn:
    """Check a password and open a session.

    Every attempt is counted before the password is checked, atomically, in the database
    (so every process and every parallel request sees the same count): per username +
    address, per username and per address (see :func:`throttle_keys`). An attempt over a
    limit is refused (429) without checking the password, even the right one, until the
    window (``login_lockout_minutes`` after the last attempt) has passed. A successful
    sign-in clears the pair's count and takes itself off the other two.
    """
    now = rt.now()
    cfg = rt.settings.staff
    until = now + timedelta(minutes=cfg.login_lockout_minutes)
    keys = throttle_keys(username, ip)
    limits = _limits(rt)
    counts = {name: await _count_attempt(key, now, until) for name, key in keys.items()}
    if any(counts[name] > limits[name] for name in keys):
        raise StaffError(f"too many failed sign-ins: try again in "
                         f"{cfg.login_lockout_minutes} min", 429)
    name = username.strip()
    # A name no account can have (see USERNAME) is not looked up, but costs the same time.
    staff = await Staff.get_or_none(username=name, is_active=True) \
        if USERNAME.fullmatch(name) else None
    # argon2 takes tens of milliseconds of CPU: in a thread, so the event loop keeps serving.
    ok = await asyncio.to_thread(_verify, staff.password_hash if staff and staff.password_hash
                                 else _DUMMY_HASH, password)
    if not ok or staff is None:
        raise StaffError("wrong username or password", 401)
    await KeyValue.filter(key=keys["pair"]).delete()
    for name in ("account", "address"):
        await _uncount(keys[name])
    if staff.password_hash and _hasher.check_needs_rehash(staff.password_hash):
        staff.password_hash = await asyncio.to_thread(hash_password, password)
        await staff.save(update_fields=["password_hash"])
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    await StaffSession.create(
        token_hash=_token_hash(token), csrf_token=csrf, staff_id=staff.id, created_at=now,
        expires_at=now + timedelta(hours=cfg.session_hours), ip=ip[:64],
    )
    await StaffSession.filter(expires_at__lt=now).delete()  # tidy old sessions as we go
    await ledger.append(AuditEvent, kind="staff_signed_in", actor=staff.username,
                        subject_type="staff", subject_id=str(staff.id), data={"ip": ip},
                        recorded_at=now)
    return SignedIn(token, staff, csrf)


async def session_for(rt: Runtime, token: str) -> StaffSession | None:
    """The live session behind a cookie value (with its active member), or None."""
    if not token:
        return None
    sess = await StaffSession.get_or_none(token_hash=_token_hash(token)).prefetch_related("staff")
    if sess is None or sess.expires_at <= rt.now() or not sess.staff.is_active:
        return None
    return sess


async def logout(token: str) -> None:
    """End the session behind a cookie value."""
    await StaffSession.filter(token_hash=_token_hash(token)).delete()


# --- who sees what ---


async def department_ids(staff: Staff) -> set[int] | None:
    """The departments whose queue ``staff`` sees; None means every department."""
    if staff.role in EVERYWHERE:
        return None
    return {int(r["id"]) for r in await staff.departments.all().values("id")}


def visible(depts: set[int] | None) -> Q:
    """Escalations in these departments; ones without a department are everyone's to triage."""
    if depts is None:
        return Q()
    return Q(department_id__in=list(depts)) | Q(department_id__isnull=True)


async def can_see(staff: Staff, esc: Escalation) -> bool:
    """Whether ``staff`` may open this escalation."""
    depts = await department_ids(staff)
    return depts is None or esc.department_id is None or esc.department_id in depts


async def get_visible(staff: Staff, esc_id: int) -> Escalation:
    """The escalation, or StaffError 404 when it does not exist or is not this member's."""
    esc = await Escalation.get_or_none(id=esc_id).prefetch_related(
        "assignee", "department", "conversation__contact"
    )
    if esc is None or not await can_see(staff, esc):
        raise StaffError("no such escalation in your departments' queues", 404)
    return esc
