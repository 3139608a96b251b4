"""Reach by telephone: who is called rather than written to, when, and what follows silence.

A check-in is followed up in **stages**. The text stage (WeChat, SMS: ``[channels] order`` as
before) carries up to ``[checkin] max_attempts`` attempts; the voice stage (the keypad survey,
``voice`` in ``[channels] order``) up to ``[voice] attempts`` calls. Text comes first, so by
default the bot calls only after WeChat and SMS went unanswered; voice comes first when
``voice`` stands before every channel that can reach the person in ``[channels] order``, for
people at least ``[reach] voice_first_age`` years old (from the visit's ``birth_date``), for
contacts who prefer ``voice``, and for contacts marked **phone only**
(``preferred_channel = "phone"``), who are never written to at all. When every stage is spent
(or none can reach the person but a member of staff could phone them), the check-in goes to the
staff call list (``[calls] enabled``), and is lost to follow-up only when that is off or the
number is known to be wrong.

Calls keep the call hours (``[voice] call_hours``, default 09:00–12:00 and 14:00–20:00 local)
inside the send window's days, and a voice retry waits ``[voice] retry_minutes`` after the
previous call. Everything here reads the database only through the caller's connection; the
time arithmetic is pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tortoise.backends.base.client import BaseDBAsyncClient

from bot.config import Settings
from bot.runtime import ALWAYS_OPEN, Runtime, send_window_for
from models import Call, Direction, Message
from surveys.window import SendWindow, next_send_time

if TYPE_CHECKING:
    from models import CheckIn

VOICE = "voice"  # the keypad survey call (a channel adapter)
PHONE = "phone"  # a member of staff on the phone (not a channel: the call list)
PHONE_ONLY = PHONE  # Contact.preferred_channel meaning "reach by telephone only"
NOT_FOR_TEXT = frozenset({VOICE, PHONE})
# Calls whose outcome is known without a receipt (never rang, or no receipt is coming).
SETTLED = ("refused", "no_receipt")
# Reasons recorded in Contact.unreachable that say the number itself is wrong: nobody calls it.
_WRONG_NUMBER_MARKS = ("MOBILE_NUMBER_ILLEGAL", "invalid_number", "wrong_number")


class ContactLike(Protocol):
    """What reach needs of a contact (a Contact or the outbox's ContactFacts)."""

    @property
    def phone(self) -> str | None: ...
    @property
    def wechat_openid(self) -> str | None: ...
    @property
    def preferred_channel(self) -> str | None: ...
    @property
    def unreachable(self) -> Any: ...


def phone_only(contact: ContactLike) -> bool:
    """Marked "phone only": called (keypad survey, then staff), never written to."""
    return contact.preferred_channel == PHONE_ONLY


def text_allowed(contact: ContactLike, channel: str) -> bool:
    """Whether a written message may go to ``contact`` on ``channel``."""
    return channel not in NOT_FOR_TEXT and not phone_only(contact)


def number_wrong(contact: ContactLike) -> bool:
    """A provider or a member of staff found that the number does not exist."""
    return any(mark in str(why) for why in (contact.unreachable or {}).values()
               for mark in _WRONG_NUMBER_MARKS)


def age(birth: date | None, today: date) -> int | None:
    """Whole years since ``birth`` (None when unknown)."""
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _writes(rt: Runtime, contact: ContactLike, name: str) -> bool:
    return (name in rt.channels and name not in NOT_FOR_TEXT
            and name not in (contact.unreachable or {})
            and rt.channels[name].can_reach(contact.phone, contact.wechat_openid))


def text_channel(rt: Runtime, contact: ContactLike, exclude: tuple[str, ...] = ()) -> str | None:
    """The first channel a written message reaches ``contact`` by (their preference, then
    ``[channels] order``), or None (phone only, or nothing reaches them)."""
    if phone_only(contact):
        return None
    for name in (contact.preferred_channel, *rt.settings.channels.order):
        if name and name not in exclude and _writes(rt, contact, name):
            return name
    return None


def voice_usable(rt: Runtime, contact: ContactLike) -> bool:
    """The keypad survey may call ``contact``: configured, chosen, their number callable."""
    ch = rt.channels.get(VOICE)
    if ch is None or VOICE in (contact.unreachable or {}) or number_wrong(contact):
        return False
    if not ch.can_reach(contact.phone, None):
        return False
    return phone_only(contact) or contact.preferred_channel == VOICE \
        or VOICE in rt.settings.channels.order


def calls_possible(rt: Runtime, contact: ContactLike) -> bool:
    """A member of staff could phone ``contact`` (the call list is on, the number is sound)."""
    return rt.settings.calls.enabled and bool(contact.phone) and not number_wrong(contact)


def stages(rt: Runtime, contact: ContactLike, birth: date | None, today: date,
           can_call: bool = True) -> list[str]:
    """The stages that can reach ``contact``, in the order they are used (``can_call``: the
    survey still has a question a call can ask)."""
    voice = can_call and voice_usable(rt, contact)
    text = text_channel(rt, contact) is not None
    if not voice:
        return ["text"] if text else []
    if not text:
        return [VOICE]
    years = age(birth, today)
    first_age = rt.settings.reach.voice_first_age
    reachable = [n for n in rt.settings.channels.order
                 if n == VOICE or (not phone_only(contact) and _writes(rt, contact, n))]
    voice_first = (contact.preferred_channel == VOICE
                   or (first_age > 0 and years is not None and years >= first_age)
                   or (bool(reachable) and reachable[0] == VOICE))
    return [VOICE, "text"] if voice_first else ["text", VOICE]


@dataclass(frozen=True, slots=True)
class Route:
    """What the next attempt of a check-in is.

    ``stage``: ``text`` or ``voice`` (send on ``channel``), ``calls`` (the staff call list,
    ``reason`` why) or ``lost`` (lost to follow-up, ``reason`` as recorded).
    """

    stage: str
    channel: str | None = None
    reason: str = ""


def _stage_route(rt: Runtime, contact: ContactLike, stage: str) -> Route:
    return Route(VOICE, VOICE) if stage == VOICE else Route("text", text_channel(rt, contact))


def _nowhere(rt: Runtime, contact: ContactLike, why: str) -> Route:
    if calls_possible(rt, contact):
        return Route("calls", reason=why)
    # (a provider's "no such number" makes the contact unreachable, as it always did;
    # "wrong_number" is what the person or a member of staff said)
    return Route("lost", reason="unreachable" if number_wrong(contact) else why)


def first_route(rt: Runtime, contact: ContactLike, birth: date | None, today: date,
                can_call: bool = True) -> Route:
    """How a due check-in is opened."""
    found = stages(rt, contact, birth, today, can_call)
    if found:
        return _stage_route(rt, contact, found[0])
    return _nowhere(rt, contact, "phone_only" if phone_only(contact) else "unreachable")


def next_route(rt: Runtime, contact: ContactLike, birth: date | None, today: date,
               done: dict[str, int], can_call: bool = True) -> Route:
    """The attempt after an unanswered one, given the attempts ``done`` per stage."""
    budget = {"text": rt.settings.checkin.max_attempts, VOICE: rt.settings.voice.attempts}
    found = stages(rt, contact, birth, today, can_call)
    for stage in found:
        if done.get(stage, 0) < budget[stage]:
            return _stage_route(rt, contact, stage)
    # every way that still reaches them went unanswered; none left: they are unreachable
    return _nowhere(rt, contact, "no_answer" if found else "unreachable")


async def attempts_by_stage(conn: BaseDBAsyncClient | None, checkin_id: int,
                            contact_id: int) -> dict[str, int]:
    """How many attempts of this check-in went by text and by voice (an attempt counts on the
    channel it was written for, also when it fell back to another)."""
    rows = await Message.filter(
        contact_id=contact_id, direction=Direction.OUT,
        dedupe_key__startswith=f"checkin:{checkin_id}:").using_db(conn).values_list(
        "dedupe_key", "channel")
    first: dict[str, str] = {}
    for key, channel in rows:
        parts = str(key).split(":")
        if len(parts) == 4:  # checkin:<id>:<open|attemptN>:<i>; fallback copies add :via:
            first.setdefault(parts[2], str(channel))
    counts = {"text": 0, VOICE: 0}
    for channel in first.values():
        counts[VOICE if channel == VOICE else "text"] += 1
    return counts


async def call_round_ends(rt: Runtime, conn: BaseDBAsyncClient | None, message_ids: list[int],
                          now: datetime) -> datetime | None:
    """When an attempt made by call is over, if not yet (None: over).

    Over once every call of it has its final receipt (or was refused, or its receipt never
    came); else ``[voice] answer_wait_minutes`` after it was placed. A call not yet placed
    (waiting for the call hours or a limit) keeps the attempt open.
    """
    wait = timedelta(minutes=rt.settings.voice.answer_wait_minutes)
    queued = await Message.filter(id__in=message_ids, status="queued").using_db(conn).exists()
    if queued:
        return now + wait
    rows = await Call.filter(message_id__in=message_ids).using_db(conn).values_list(
        "status", "ended_at", "placed_at")
    open_until = [placed + wait for status, ended, placed in rows
                  if ended is None and status not in SETTLED]
    later = max(open_until, default=None)
    return later if later is not None and later > now else None


async def last_voice_call(conn: BaseDBAsyncClient | None, checkin_id: int) -> datetime | None:
    """When this check-in's latest keypad survey call was placed."""
    row = await Call.filter(checkin_id=checkin_id, channel=VOICE).using_db(conn).order_by(
        "-placed_at").first()
    return row.placed_at if row is not None else None


# --- call hours (pure) -----------------------------------------------------------------------


def next_call_time(at: datetime, tz: Any, hours: list[tuple[time, time]],
                   window: SendWindow) -> datetime:
    """The first moment at or after ``at`` when a call may be made.

    Inside one of the call ``hours`` (local, earliest first; empty: any time the send window
    allows), on a day the send window does not block, and outside its quiet hours.
    """
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    if window is ALWAYS_OPEN:
        return at
    if not hours:
        return next_send_time(at, tz, window)
    local = at.astimezone(tz)
    for _ in range(400):
        if not window.day_blocked(local.date()):
            for start, end in hours:
                begin = datetime.combine(local.date(), start, tz)
                stop = datetime.combine(local.date(), end, tz)
                candidate = max(local, begin)
                # the send window's quiet hours still hold (a department may rest earlier)
                while candidate < stop and window.is_quiet(candidate.timetz().replace(
                        tzinfo=None)):
                    candidate = (candidate + timedelta(minutes=5)).replace(second=0,
                                                                           microsecond=0)
                if candidate < stop:
                    return candidate
        local = datetime.combine(local.date() + timedelta(days=1), time(0), tz)
    raise ValueError("no allowed call time within a year: check call_hours and no-send days")


def call_time_for(settings: Settings, at: datetime, department_code: str | None) -> datetime:
    """:func:`next_call_time` with these settings and the department's send window."""
    window = send_window_for(settings, department_code)
    return next_call_time(at, settings.tz, settings.voice.hours(), window)


def call_time(rt: Runtime, at: datetime, department_code: str | None) -> datetime:
    """:func:`next_call_time` with this organisation's settings and the department's window."""
    return call_time_for(rt.settings, at, department_code)


def in_call_hours(rt: Runtime, at: datetime, department_code: str | None) -> bool:
    """Whether a call may be made at ``at``."""
    return call_time(rt, at, department_code) <= at


async def voice_retry_time(rt: Runtime, conn: BaseDBAsyncClient | None, checkin: CheckIn,
                           department_code: str | None) -> datetime:
    """When the next keypad survey call of this check-in may go: not before ``retry_minutes``
    after the previous one, inside the call hours."""
    now = rt.now()
    last = await last_voice_call(conn, checkin.id)
    earliest = now if last is None else max(
        now, last + timedelta(minutes=rt.settings.voice.retry_minutes))
    return call_time(rt, earliest, department_code)
