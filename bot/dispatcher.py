"""The dispatcher: one path for every inbound message, from every channel.

Store first (:func:`receive`, deduplicated by the provider's id), answer the provider fast,
then :func:`process_pending` takes messages in order, one conversation at a time: lock the
contact, *then* load the state, run the pure engine, and persist answers, escalations, state
and outbound messages in one transaction. Sending happens after commit (the outbox).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakValueDictionary

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bot import bulk, escalations, ledger, outbox
from bot.escalations import notify
from bot.leases import lease, release
from bot.planner import engine_context
from bot.runtime import Runtime
from models import (
    Answer,
    AuditEvent,
    CheckIn,
    CheckinStatus,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Episode,
    Escalation,
    Message,
    MessageStatus,
)
from surveys import engine

log = logging.getLogger(__name__)

MAX_PROCESS_ATTEMPTS = 5
# Channels whose answers are read on the page that was submitted (the H5 survey page): the
# conversation keeps its own channel, so later messages still reach the person.
PAGE_CHANNELS = frozenset({"h5"})


@dataclass(frozen=True, slots=True)
class Received:
    """The outcome of storing one inbound message."""

    message_id: int
    duplicate: bool


async def receive(rt: Runtime, *, channel: str, contact_id: int | None, text: str,
                  provider_id: str, raw: str | None = None,
                  conversation_id: int | None = None) -> Received:
    """Store an inbound message once (dedupe on channel + provider id) and wake the dispatcher.

    ``conversation_id`` pins the message to one conversation (the H5 page's link belongs to
    one check-in); otherwise the contact's current conversation takes it.
    """
    now = rt.now()
    key = f"in:{channel}:{provider_id}"
    try:
        msg = await Message.create(
            direction=Direction.IN, channel=channel, contact_id=contact_id, dedupe_key=key,
            conversation_id=conversation_id,
            provider_msg_id=provider_id, sender="person", body=text, raw_payload=raw,
            status=MessageStatus.RECEIVED, next_attempt_at=now, created_at=now,
        )
    except IntegrityError:
        existing = await Message.get(dedupe_key=key)
        return Received(existing.id, duplicate=True)
    if contact_id is not None:
        await Contact.filter(id=contact_id).update(last_inbound_at=now,
                                                   last_inbound_channel=channel)
    rt.metrics.received(channel)
    rt.inbox_waker.wake()
    return Received(msg.id, duplicate=False)


@dataclass(frozen=True, slots=True)
class InboundItem:
    """One inbound message for :func:`receive_many` (the arguments of :func:`receive`)."""

    channel: str
    contact_id: int | None
    text: str
    provider_id: str
    raw: str | None = None


async def _insert_new(conn: BaseDBAsyncClient, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert message rows in one statement, skipping any whose ``dedupe_key`` is stored.

    Returns the ids of the rows inserted by their ``dedupe_key``: deduplication and insertion
    are one round trip; another unique constraint still raises ``IntegrityError``.
    """
    out = await bulk.insert(conn, Message, rows, ("dedupe_key", "id"),
                            skip_conflicts_on="dedupe_key")
    return {str(r["dedupe_key"]): int(r["id"]) for r in out}


async def _ids_by_key(conn: BaseDBAsyncClient, keys: list[str]) -> dict[str, int]:
    rows = await bulk.execute_in(conn, "SELECT dedupe_key, id FROM message WHERE dedupe_key IN",
                                [], keys)
    return {str(r["dedupe_key"]): int(r["id"]) for r in rows}


async def receive_many(rt: Runtime, items: list[InboundItem], *,
                       contacts_done: bool = False) -> list[Received]:
    """Store several inbound messages with one commit (a busy webhook's group commit).

    Same rules as :func:`receive`: deduplicated by channel + provider id, the contact's last
    inbound time updated. If another process stores one of them at the same moment, the
    batch falls back to :func:`receive` one by one, which sorts out who was first.

    ``contacts_done``: the caller has already recorded these people's last inbound time
    (the WeChat webhook does it in the statement that finds them by openid). The batch is
    then a single INSERT, atomic by itself: no transaction, one round trip.
    """
    now = rt.now()
    keys = [f"in:{i.channel}:{i.provider_id}" for i in items]
    fresh: dict[str, dict[str, Any]] = {}
    for item, key in zip(items, keys, strict=True):
        if key not in fresh:
            fresh[key] = dict(
                direction=Direction.IN, channel=item.channel, contact_id=item.contact_id,
                dedupe_key=key, provider_msg_id=item.provider_id, sender="person",
                body=item.text, raw_payload=item.raw, status=MessageStatus.RECEIVED,
                next_attempt_at=now, created_at=now,
            )
    try:
        if contacts_done:
            ids, known = await _store_new(connections.get("default"), fresh)
        else:
            async with in_transaction() as conn:
                ids, known = await _store_new(conn, fresh)
                by_channel: dict[str, set[int]] = {}
                for m in fresh.values():
                    if m["contact_id"] is not None:
                        by_channel.setdefault(m["channel"], set()).add(m["contact_id"])
                when = Contact._meta.fields_map["last_inbound_at"].to_db_value(now, Contact)
                for channel, cids in by_channel.items():
                    await bulk.execute_in(
                        conn, "UPDATE contact SET last_inbound_at = {0}, "
                        "last_inbound_channel = {1} WHERE id IN", [when, channel], sorted(cids))
    except IntegrityError:
        return [await receive(rt, channel=i.channel, contact_id=i.contact_id, text=i.text,
                              provider_id=i.provider_id, raw=i.raw) for i in items]
    if fresh:
        rt.inbox_waker.wake()
    rt.metrics.received_many(m["channel"] for m in fresh.values())
    out: list[Received] = []
    first: set[str] = set()
    for key in keys:
        if key in fresh and key not in first:
            first.add(key)
            out.append(Received(ids[key], duplicate=False))
        else:
            out.append(Received(known.get(key) or ids[key], duplicate=True))
    return out


async def _store_new(conn: BaseDBAsyncClient, fresh: dict[str, dict[str, Any]]
                     ) -> tuple[dict[str, int], dict[str, int]]:
    """Insert the rows of ``fresh`` not stored yet and drop the others from it.

    Returns the new rows' ids and the stored ones', by ``dedupe_key``. Deduplicated by the
    database itself: only when some were stored already does a second query fetch their ids.
    """
    ids = await _insert_new(conn, list(fresh.values()))
    stored = [k for k in fresh if k not in ids]
    known = await _ids_by_key(conn, stored) if stored else {}
    for k in stored:
        del fresh[k]
    return ids, known


# Per-contact locks inside this process; PostgreSQL row locks cover other processes.
_locks: WeakValueDictionary[int, asyncio.Lock] = WeakValueDictionary()


def _contact_lock(contact_id: int) -> asyncio.Lock:
    lock = _locks.get(contact_id)
    if lock is None:
        lock = asyncio.Lock()
        _locks[contact_id] = lock
    return lock


async def process_pending(rt: Runtime) -> int:
    """Process one leased batch of received messages, in order per contact."""
    now = rt.now()
    w = rt.settings.worker
    due = Q(direction=Direction.IN, status=MessageStatus.RECEIVED, next_attempt_at__lte=now)
    batch: list[Message] = await lease(
        Message, due, now=now, owner=rt.worker_id, seconds=w.lease_seconds, limit=w.batch_size
    )
    held: set[int] = set()
    queued = False
    for msg in batch:
        cid = msg.contact_id
        if cid is None:
            await release(Message, msg.id, status=MessageStatus.PROCESSED, processed_at=now)
            continue
        if cid in held or await Message.filter(
            direction=Direction.IN, status=MessageStatus.RECEIVED, contact_id=cid, id__lt=msg.id
        ).exists():
            held.add(cid)  # an earlier reply from this person goes first
            await release(Message, msg.id)
            continue
        try:
            async with _contact_lock(cid):
                queued |= await _process_one(rt, msg)
        except Exception as e:
            held.add(cid)
            attempts = msg.attempts + 1
            give_up = attempts >= MAX_PROCESS_ATTEMPTS
            log.exception("inbound message %s failed (attempt %d)", msg.id, attempts)
            await release(
                Message, msg.id, attempts=attempts, error=type(e).__name__,
                status=MessageStatus.FAILED if give_up else MessageStatus.RECEIVED,
                next_attempt_at=now + timedelta(seconds=2 ** attempts),
            )
    if queued:
        rt.outbox_waker.wake()
    return len(batch)


async def process_contact_now(rt: Runtime, contact_id: int) -> None:
    """Process this contact's received messages now, in order, under the same lock.

    For the H5 page, which shows the bot's answer in its response. The same rules as the
    background loop: contact lock, then state; a message already taken elsewhere is skipped.
    """
    pending = await Message.filter(
        direction=Direction.IN, status=MessageStatus.RECEIVED, contact_id=contact_id
    ).order_by("id")
    queued = False
    async with _contact_lock(contact_id):
        for msg in pending:
            queued |= await _process_one(rt, msg)
    if queued:
        rt.outbox_waker.wake()


async def _current_conversation(contact_id: int, conn: BaseDBAsyncClient) -> Conversation | None:
    """The conversation a reply belongs to: the newest one still open or with staff."""
    return (
        await Conversation.filter(
            contact_id=contact_id, status__in=[ConversationStatus.OPEN, ConversationStatus.STAFF]
        )
        .using_db(conn)
        .order_by("-last_activity_at", "-id")
        .first()
    )


async def _process_one(rt: Runtime, msg: Message) -> bool:
    now = rt.now()
    cid = msg.contact_id
    assert cid is not None
    async with in_transaction() as conn:
        # Lock the contact row before loading any state (holds across processes on PostgreSQL).
        contact = await Contact.filter(id=cid).using_db(conn).select_for_update().get()
        fresh = await Message.get(id=msg.id, using_db=conn)
        if fresh.status != MessageStatus.RECEIVED:
            return False  # another worker got here first
        conv = await _current_conversation(cid, conn)
        # A member of staff holds this person's conversation: whatever they write goes there
        # (the assignee reads it), and the bot says nothing on any path.
        held = await escalations.claimed_for(conn, cid)
        if held is not None:
            conv = await Conversation.get(id=held.conversation_id, using_db=conn)
        if fresh.conversation_id is not None:
            pinned = await Conversation.get_or_none(id=fresh.conversation_id, contact_id=cid,
                                                    using_db=conn)
            if pinned is not None and pinned.status != ConversationStatus.CLOSED:
                conv = pinned
        had_conversation = conv is not None
        if conv is None:
            conv = await (
                Conversation.filter(contact_id=cid).using_db(conn).order_by("-id").first()
            )
        parsed = _understand(rt, fresh)
        if conv is None:
            conv = await Conversation.create(
                using_db=conn, contact_id=cid, channel=msg.channel, last_activity_at=now,
                state={"status": engine.DONE}, status=ConversationStatus.CLOSED,
            )
        survey_id = conv.state.get("survey") or rt.settings.survey_routes[-1].survey
        survey = rt.settings.surveys.get(survey_id) or rt.settings.surveys[
            rt.settings.survey_routes[-1].survey
        ]
        late_answer = (not had_conversation and conv.state.get("status") == engine.ASKING
                       and parsed.score is not None)
        # A score for a check-in that expired unanswered is still a valid answer: take it.
        # Anything else after a survey closed is a late reply (stored, escalated if needed).
        state = conv.state if had_conversation or late_answer else {
            **conv.state, "status": engine.DONE}
        if conv.status == ConversationStatus.STAFF:
            state = {**state, "status": engine.STAFF}
        stopped_before = bool(contact.opted_out_at or contact.stopped_reason)
        if stopped_before:
            # The contact said stop (in this or another conversation): never re-open.
            state = {**state, "status": engine.STOPPED,
                     "stop_reason": contact.stopped_reason or "opted_out"}
        ctx = await _context(rt, conv, conn)
        if parsed.red_flag:
            ctx = await _with_told(rt, conn, conv, ctx)
        step = engine.reply(survey, rt.texts, ctx, state, parsed, fresh.body)
        outbound = list(step.outbound)
        kinds = {e.kind for e in step.events if isinstance(e, engine.EscalationRaised)}
        stops = any(isinstance(e, engine.OptedOut | engine.ContactStopped) for e in step.events)
        window = timedelta(hours=rt.settings.checkin.reply_window_hours)
        recent = conv.last_activity_at >= now - window
        if not had_conversation and not recent and not late_answer and not kinds \
                and not stops:
            # Nobody asked this person anything: a person should read it, and they hear so.
            step = engine.Step(step.state, step.outbound, (
                *step.events,
                engine.EscalationRaised("other", "normal", "message outside a survey"),
            ))
            outbound.append(engine.render(rt.texts["no_open_survey"], ctx))
        if held is not None or stopped_before:
            # Silent: staff own the conversation, or the person has already been told that
            # nothing more comes (the one confirmation went with the stop).
            outbound = []

        await _apply_events(rt, conn, contact, conv, fresh, survey_id, step.events, now)
        if held is not None:
            if kinds <= set(held.kinds or []):
                # (a new kind already told the assignee: one notification per event)
                await notify.for_escalation(conn, held, "replied", now)
            await Escalation.filter(id=held.id).using_db(conn).update(updated_at=now)
        conv.state = step.state
        conv.last_activity_at = now
        conv.version += 1
        before = conv.status
        conv.status = _conversation_status(conv.status, step.state)
        if before == ConversationStatus.OPEN and conv.status != ConversationStatus.OPEN:
            # A survey deferred because this one was running may go now.
            await CheckIn.filter(
                contact_id=cid, status=CheckinStatus.PLANNED, lease_until__gt=now
            ).using_db(conn).update(lease_owner=None, lease_until=None)
            rt.planner_waker.wake()
        if msg.channel not in PAGE_CHANNELS:
            conv.channel = msg.channel  # answer on the channel the person used
        await conv.save(using_db=conn)
        # The confirmation of a stop is the last message this person gets: marked, so the
        # outbox sends it although the stop is stamped before it goes (bot.outbox._withdrawn).
        params = {"final": True} if stops else None
        for i, text in enumerate(outbound):
            await outbox.queue(
                conn, key=f"reply:{msg.id}:{i}", channel=msg.channel, contact_id=cid,
                conversation_id=conv.id, body=text, now=now, params=params,
            )
        await Message.filter(id=msg.id).using_db(conn).update(
            status=MessageStatus.PROCESSED, processed_at=now, conversation_id=conv.id,
            lease_owner=None, lease_until=None,
        )
    rt.live.wake()  # open staff pages show it (server-sent events)
    return bool(outbound)


def _understand(rt: Runtime, msg: Message) -> engine.Reply:
    """The parsed reply; a score tapped on the H5 page comes with its comment, read apart."""
    page = h5_answer(msg)
    if page is None:
        return rt.metrics.parse(rt.parser, msg.body)
    score, comment = page
    return engine.Tapped(score, comment, rt.metrics.parse(rt.parser, comment))


def h5_answer(msg: Message) -> tuple[int, str] | None:
    """The (score, comment) of an H5 page answer stored by ``handlers.h5``, else None."""
    if msg.channel not in PAGE_CHANNELS or not msg.raw_payload:
        return None
    try:
        data = json.loads(msg.raw_payload)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("score"), int):
        return None
    return int(data["score"]), str(data.get("comment") or "")


async def _with_told(rt: Runtime, conn: BaseDBAsyncClient, conv: Conversation,
                     ctx: engine.Context) -> engine.Context:
    """``{told}`` for the red-flag advice: who was really told (bot.escalations.notify.audience)."""
    dept_id = None
    if conv.checkin_id is not None:
        checkin = await CheckIn.get(id=conv.checkin_id, using_db=conn)
        dept_id = (await Episode.get(id=checkin.episode_id, using_db=conn)).department_id
    texts = rt.texts
    covered = dept_id is not None and bool(await notify.department_staff(conn, dept_id))
    told = texts["told_department"] if covered else texts["told_hospital"]
    return replace(ctx, values={**ctx.values, "told": engine.render(told, ctx)})


def _conversation_status(current: ConversationStatus, state: dict[str, Any]) -> ConversationStatus:
    status = state.get("status")
    if current == ConversationStatus.STAFF or status == engine.STAFF:
        return ConversationStatus.STAFF
    if status == engine.ASKING:
        return ConversationStatus.OPEN
    return ConversationStatus.CLOSED


async def _context(rt: Runtime, conv: Conversation, conn: BaseDBAsyncClient) -> engine.Context:
    if conv.checkin_id is not None:
        checkin = await CheckIn.get(id=conv.checkin_id, using_db=conn)
        ctx, _ = await engine_context(rt, checkin, conn)
        return ctx
    return engine.Context(
        values={"org_name": rt.settings.org.name, "org_phone": rt.settings.org.phone,
                "department": ""},
        low_score_threshold=rt.settings.escalation.low_score_threshold,
        max_failed_attempts=rt.settings.escalation.max_failed_attempts,
    )


async def _apply_events(rt: Runtime, conn: BaseDBAsyncClient, contact: Contact,
                        conv: Conversation, msg: Message, survey_id: str,
                        events: tuple[engine.Event, ...], now: datetime) -> None:
    checkin = (
        await CheckIn.get(id=conv.checkin_id, using_db=conn) if conv.checkin_id else None
    )
    episode = (
        await Episode.get(id=checkin.episode_id, using_db=conn) if checkin is not None else None
    )
    raised = [escalations.Raised(e.kind, e.priority, e.reason) for e in events
              if isinstance(e, engine.EscalationRaised)]
    if raised:
        # everything one reply raised is one event (one notification per person)
        await escalations.raise_many(
            conn, conversation=conv, department_id=episode.department_id if episode else None,
            raised=raised, now=now)
        for r in raised:
            rt.metrics.escalation_raised(r.kind)
    for ev in events:
        if isinstance(ev, engine.AnswerRecorded):
            await ledger.append(
                Answer, checkin_id=conv.checkin_id, conversation_id=conv.id,
                episode_id=episode.id if episode else None,
                department_id=episode.department_id if episode else None,
                channel=msg.channel, survey_id=survey_id, question_id=ev.question_id,
                score=ev.score, text=ev.text, message_id=msg.id, recorded_at=now,
                # denormalised for the manager tallies (bot/tallies.py)
                clinician=episode.clinician_name if episode else "",
                clinician_code=episode.clinician_code if episode else "",
                treatment_type=episode.treatment_type if episode else "",
                local_day=rt.local(now).date().isoformat(),
            )
            if checkin is not None and checkin.status in (CheckinStatus.OPENED,
                                                          CheckinStatus.EXPIRED):
                checkin.status, checkin.answered_at = CheckinStatus.ANSWERED, now
                await checkin.save(using_db=conn, update_fields=["status", "answered_at"])
        elif isinstance(ev, engine.OptedOut | engine.ContactStopped):
            reason = "opted_out" if isinstance(ev, engine.OptedOut) else ev.reason
            if isinstance(ev, engine.OptedOut):
                contact.opted_out_at = now
            else:
                contact.stopped_reason, contact.stopped_at = ev.reason, now
            await contact.save(using_db=conn,
                               update_fields=["opted_out_at", "stopped_reason", "stopped_at"])
            # Never contact them again: every pending check-in of this contact is dropped.
            await CheckIn.filter(contact_id=contact.id, status=CheckinStatus.PLANNED).using_db(
                conn
            ).update(status=CheckinStatus.SKIPPED)
            await ledger.append(
                AuditEvent, kind=reason, actor="bot", subject_type="contact",
                subject_id=str(contact.id), data={"message": msg.id}, recorded_at=now,
            )
