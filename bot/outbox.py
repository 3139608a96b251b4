"""The outbox: outbound messages are rows written with the state change; a sender delivers them.

Persist, then send: :func:`queue` runs inside the caller's transaction; :func:`send_due`
leases queued rows after commit and hands them to their channel with an idempotency key.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from bot.bulk import execute_in, update_each
from bot.channels import pause
from bot.channels.base import (
    DEADLINE,
    ChannelError,
    Outgoing,
    PreparingChannel,
    call_seconds,
)
from bot.leases import lease, release_held, renew
from bot.phone.reach import phone_only, text_allowed
from bot.runtime import Runtime
from models import Contact, Conversation, Direction, Message, MessageStatus

log = logging.getLogger(__name__)


async def queue(
    conn: BaseDBAsyncClient,
    *,
    key: str,
    channel: str,
    contact_id: int,
    conversation_id: int | None,
    body: str,
    now: datetime,
    sender: str = "bot",
    kind: str = "reply",
    params: dict[str, Any] | None = None,
) -> Message:
    """Write one outbound message to the outbox (inside the caller's transaction)."""
    msg = new_message(key=key, channel=channel, contact_id=contact_id,
                      conversation_id=conversation_id, body=body, now=now, sender=sender,
                      kind=kind, params=params)
    await msg.save(using_db=conn)
    return msg


def new_message(*, key: str, channel: str, contact_id: int, conversation_id: int | None,
                body: str, now: datetime, sender: str = "bot", kind: str = "reply",
                params: dict[str, Any] | None = None) -> Message:
    """An unsaved outbox row."""
    return Message(**new_row(key=key, channel=channel, contact_id=contact_id,
                             conversation_id=conversation_id, body=body, now=now,
                             sender=sender, kind=kind, params=params))


def new_row(*, key: str, channel: str, contact_id: int, conversation_id: int | None,
            body: str, now: datetime, sender: str = "bot", kind: str = "reply",
            params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The fields of a new outbox row (for :func:`bot.bulk.insert`)."""
    return {
        "kind": kind, "params": params or {}, "direction": Direction.OUT, "channel": channel,
        "contact_id": contact_id, "conversation_id": conversation_id, "dedupe_key": key,
        "sender": sender, "body": body, "status": MessageStatus.QUEUED,
        "next_attempt_at": now, "created_at": now,
    }


@dataclass(frozen=True, slots=True)
class Queued:
    """A leased outbound message, as much of it as sending needs."""

    id: int
    contact_id: int | None
    channel: str
    dedupe_key: str
    sender: str
    kind: str
    params: dict[str, Any]
    body: str
    attempts: int
    conversation_id: int | None
    # The lease this process holds on it: every write it makes is fenced by the owner token,
    # and no provider call starts unless the lease outlasts the call (see _Fence).
    lease_owner: str | None = None
    lease_until: datetime | None = None
    # An earlier attempt's outcome is unknown since then: settled before any resend.
    unsure_since: datetime | None = None
    # Read only for people who opted out or were stopped (see _withdrawn): parsing it for
    # every leased message cost more than the rare second query.
    created_at: datetime | None = None

    FIELDS: ClassVar[tuple[str, ...]] = (
        "id", "contact_id", "channel", "dedupe_key", "sender", "kind", "params", "body",
        "attempts", "conversation_id", "lease_owner", "lease_until", "unsure_since")


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """A contact as the planner and the sender read it (no model instance: building one
    and parsing its every datetime cost more than the read)."""

    id: int
    name: str
    phone: str | None
    wechat_openid: str | None
    preferred_channel: str | None
    opted_out_at: datetime | None
    stopped_reason: str | None
    stopped_at: datetime | None
    unreachable: dict[str, Any]
    last_inbound_at: datetime | None
    last_inbound_channel: str | None


_CONTACT_FIELDS: tuple[str, ...] = tuple(ContactFacts.__slots__)


async def load_contacts(conn: BaseDBAsyncClient, ids: Collection[int],
                        lock: bool = False) -> dict[int, ContactFacts]:
    """Contacts by id in one query; with ``lock``, their rows locked in id order (PostgreSQL)."""
    if not ids:
        return {}
    meta = Contact._meta
    fmap = meta.fields_map
    cols = ",".join(f'"{meta.fields_db_projection[f]}"' for f in _CONTACT_FIELDS)
    if lock and conn.capabilities.dialect == "postgres":
        # Same lock order everywhere (by id), so two workers never wait on each other in a
        # cycle. SQLite runs one writer at a time and needs no row lock.
        rows = await conn.execute_query_dict(
            f'SELECT {cols} FROM "{meta.db_table}" WHERE "id" = ANY($1::int[]) '
            'ORDER BY "id" FOR UPDATE', [sorted(ids)])
    else:
        rows = await execute_in(conn, f'SELECT {cols} FROM "{meta.db_table}" WHERE "id" IN',
                               (), sorted(ids))
    conv = [(f, meta.fields_db_projection[f], fmap[f].to_python_value) for f in _CONTACT_FIELDS]
    out: dict[int, ContactFacts] = {}
    for r in rows:
        vals: dict[str, Any] = {f: None if r[col] is None else to_py(r[col])
                                for f, col, to_py in conv}
        out[vals["id"]] = ContactFacts(**vals)
    return out


def hand_off(rt: Runtime, msgs: list[Queued], lease_until: datetime) -> None:
    """Give messages this process has just written, already leased to it, to its sender.

    The planner writes a check-in's first message with this worker's lease on it, so the
    sender takes it from memory instead of leasing it again (one statement and a row version
    fewer per check-in). If this process dies first, the lease expires and any worker sends
    it, as after a crash between lease and send.
    """
    rt.outbox_handoff.extend((m, lease_until) for m in msgs)
    rt.outbox_waker.wake_local()  # leased to this process: no use waking the others


async def release_handoff(rt: Runtime) -> int:
    """Give back the leases of handed-off messages not yet taken (a worker shutting down).

    Another worker then sends them at once instead of after the lease expires.
    """
    msgs = [m for m, _ in rt.outbox_handoff]
    rt.outbox_handoff.clear()
    await _let_go(msgs)
    return len(msgs)


async def _let_go(msgs: Collection[Queued], **changes: Any) -> None:
    """Give back this process's leases on ``msgs`` (only those it still holds: fenced by the
    owner token, and only while they are queued), applying ``changes``."""
    by_owner: dict[str | None, list[int]] = {}
    for m in msgs:
        by_owner.setdefault(m.lease_owner, []).append(m.id)
    for owner, ids in by_owner.items():
        await Message.filter(id__in=ids, lease_owner=owner, status=MessageStatus.QUEUED
                             ).update(lease_owner=None, lease_until=None, **changes)


async def _settle_row(msg: Queued, **changes: Any) -> bool:
    """Record what happened to one leased message and give its lease back, only while this
    process still holds it and it is still queued (a receipt may have settled it first)."""
    return bool(await release_held(Message, msg.id, msg.lease_owner or "",
                                   where=Q(status=MessageStatus.QUEUED), **changes))


async def _take_handed(rt: Runtime, now: datetime, limit: int,
                       pauses: list[pause.Pause]) -> list[Queued]:
    """Up to ``limit`` handed-off messages whose lease still has at least half its time.

    A message whose lease is running out is released instead, so that it waits for no
    expiry: sending it now could overlap another worker's lease of it. So is a message on a
    paused channel: it waits in the table like every other paused message.
    """
    queue = rt.outbox_handoff
    margin = timedelta(seconds=rt.settings.worker.lease_seconds / 2)
    out: list[Queued] = []
    stale: list[Queued] = []
    while queue and len(out) < limit:
        msg, until = queue.popleft()
        if until - now >= margin and pause.covered(pauses, msg.channel, msg.kind) is None:
            out.append(msg)
        else:
            stale.append(msg)
    await _let_go(stale)
    return out


async def send_due(rt: Runtime) -> int:
    """Send one batch of due outbound messages; returns how many were handled.

    The batch is what the planner handed off (see :func:`hand_off`), else a leased batch.
    It costs a handful of queries, not a handful per message: channels load what they
    check (caps, windows) for the whole batch first, and successful sends are recorded in
    groups while later ones are under way.
    """
    now = rt.now()
    w = rt.settings.worker
    # Paused channels (our own set-up is wrong): their messages stay queued, unleased.
    pauses = await pause.active(now)
    batch = await _take_handed(rt, now, w.batch_size, pauses)
    if not batch:
        due = Q(direction=Direction.OUT, status=MessageStatus.QUEUED, next_attempt_at__lte=now)
        held = pause.exclusion(pauses)
        if held is not None:
            due &= held
        batch = await _lease_batch(rt, due, now)
    if not batch:
        return 0
    # A person's messages go out from one lane at a time: one another lane of this process
    # is sending to now are given back (still due) and taken again when that lane is done,
    # instead of waiting behind it as behind another worker's.
    serving = rt.outbox_serving
    elsewhere = [m for m in batch if m.contact_id in serving]
    if elsewhere:
        await _let_go(elsewhere)
        given = {m.contact_id for m in elsewhere}
        rt.outbox_waiting.update(given)
        if given - serving:
            # Their lane finished while they were given back and found no one waiting.
            rt.outbox_waker.wake_local()
        batch = [m for m in batch if m.contact_id not in serving]
        if not batch:
            return 0
    claimed = {m.contact_id for m in batch}
    serving |= claimed
    try:
        loaded = await load_contacts(
            Contact._meta.db, {m.contact_id for m in batch if m.contact_id is not None})
        contacts: dict[int | None, ContactFacts] = {k: v for k, v in loaded.items()}
        halted = [m.id for m in batch if (c := contacts.get(m.contact_id)) is not None
                  and (c.opted_out_at is not None or c.stopped_at is not None)]
        if halted:
            written = dict(await Message.filter(id__in=halted).values_list("id", "created_at"))
            batch = [replace(m, created_at=written[m.id]) if m.id in written else m
                     for m in batch]
        # Keep each person's messages in order: a message waits while an earlier one of the
        # same person is still queued outside this batch (another worker, a retry, a pause).
        first: dict[int | None, int] = {}
        for m in batch:
            first.setdefault(m.contact_id, m.id)
        waiting: dict[int | None, datetime] = {}
        for r in await Message.filter(
            direction=Direction.OUT, status=MessageStatus.QUEUED, contact_id__in=list(first),
            id__lt=max(first.values()),
        ).exclude(id__in=[m.id for m in batch]).values(
                "contact_id", "id", "channel", "kind", "next_attempt_at"):
            if r["id"] < first[r["contact_id"]]:
                until = _wait_behind(rt, now, r, pauses)
                waiting[r["contact_id"]] = max(waiting.get(r["contact_id"], until), until)
        groups: dict[int | None, list[Queued]] = {}
        for m in batch:
            if m.contact_id not in waiting:
                groups.setdefault(m.contact_id, []).append(m)
        for cid, until in waiting.items():
            # Not before the earlier message can go: leasing them again at once would spin.
            await _let_go([m for m in batch if m.contact_id == cid], next_attempt_at=until)
        outgoing = await _prepare(rt, [m for msgs in groups.values() for m in msgs], contacts)
        # People are served concurrently (providers answer in milliseconds, not microseconds);
        # one person's messages go one after the other, and stop at the first failure. How many
        # sends of a channel run at once is bounded for the process, across lanes (send_slot).
        sent = _SentLog()
        fence = _Fence(rt, [m for msgs in groups.values() for m in msgs])

        async def serve(msgs: list[Queued]) -> None:
            async with send_slot(rt, msgs[0].channel):
                for i, m in enumerate(msgs):
                    if not await _send_one(rt, m, contacts[m.contact_id], outgoing[m.id], sent,
                                           pauses, fence):
                        await _let_go(msgs[i + 1:])
                        return

        try:
            await asyncio.gather(*(serve(msgs) for msgs in groups.values()))
        finally:
            await sent.flush()
            for name in {m.channel for m in batch}:
                finish = getattr(rt.channels.get(name), "finish_batch", None)
                if finish is not None:
                    try:
                        # e.g. give back what this batch reserved from a cap and did not use
                        await finish([o for m in batch if m.channel == name
                                      and (o := outgoing.get(m.id)) is not None])
                    except Exception:
                        log.exception("channel %s could not finish a batch", name)
    finally:
        serving -= claimed
        if claimed & rt.outbox_waiting:
            rt.outbox_waiting -= claimed
            rt.outbox_waker.wake_local()  # the lane that gave some of them back
    return len(batch)


def send_slot(rt: Runtime, channel: str) -> asyncio.Semaphore:
    """The process-wide bound on ``channel``'s sends at once (its ``max_concurrency``, e.g.
    ``[sms] threads``; else ``[worker] send_concurrency``), shared by every outbox lane."""
    slot = rt.send_slots.get(channel)
    if slot is None:
        ch = rt.channels.get(channel)
        n = getattr(ch, "max_concurrency", rt.settings.worker.send_concurrency) if ch else 1
        slot = rt.send_slots[channel] = asyncio.Semaphore(n)
    return slot


async def _lease_batch(rt: Runtime, due: Q, now: datetime) -> list[Queued]:
    """Lease a batch of due messages. A message whose previous lease ran out instead of being
    given back was held by a worker that died (or stalled) meanwhile: whether that worker's
    attempt reached the provider is unknown, so it is marked unsure (from now) and settled
    before anything is sent again."""
    w = rt.settings.worker
    batch: list[Queued] = []
    abandoned: list[Queued] = []
    for r in await lease(Message, due, now=now, owner=rt.worker_id, seconds=w.lease_seconds,
                         limit=w.batch_size, fields=Queued.FIELDS, previous=True):
        prev_owner = r.pop("prev_owner")
        r.pop("prev_until")
        msg = Queued(**r)
        if prev_owner is not None:
            # Whatever an earlier unsure mark said, that worker may have sent it again since.
            msg = replace(msg, unsure_since=now)
            abandoned.append(msg)
        batch.append(msg)
    for msg in abandoned:
        await Message.filter(id=msg.id, lease_owner=msg.lease_owner).update(
            unsure_since=msg.unsure_since)
    if abandoned:
        log.warning("%d messages were left leased by a worker that stopped (or stalled) "
                    "without giving them back; each is settled before it is sent again",
                    len(abandoned))
    return batch


class _Fence:
    """No provider call starts unless this process's lease on the message outlasts it.

    A batch can take longer than its lease (a provider stalling, timeouts in a row). Before
    each call the lease must still have the channel's longest call plus a margin ahead of it;
    otherwise the leases of the batch's unsent messages are renewed in one fenced statement
    (only those still held under the same token come back). A message whose lease another
    worker has taken meanwhile is dropped from this batch, never sent: so one message is
    never in two attempts at once, and a batch is never re-sent as a whole after a timeout.
    """

    def __init__(self, rt: Runtime, msgs: list[Queued]) -> None:
        self.rt = rt
        self.until: dict[int, datetime | None] = {m.id: m.lease_until for m in msgs}
        self.owner: dict[int, str | None] = {m.id: m.lease_owner for m in msgs}
        self.waiting: set[int] = set(self.until)
        self.renewals = 0
        self._lock = asyncio.Lock()
        lease = rt.settings.worker.lease_seconds
        self.margin = timedelta(seconds=min(2.0, lease / 10))

    def _enough(self, msg_id: int, budget: timedelta) -> bool:
        until = self.until.get(msg_id)
        return until is not None and until - self.rt.now() >= budget + self.margin

    def deadline(self, msg_id: int) -> datetime | None:
        """By when every request of this message's send must be over (the lease, less the
        margin); None when it is not leased through the table."""
        until = self.until.get(msg_id)
        return None if until is None else until - self.margin

    async def hold(self, msg: Queued, budget: float) -> bool:
        """True when ``msg`` may be sent now (its lease covers the call)."""
        need = timedelta(seconds=budget)
        self.waiting.discard(msg.id)
        if self.until.get(msg.id) is None and msg.lease_until is None:
            return True  # not leased through the table (a direct send)
        if self._enough(msg.id, need):
            return True
        async with self._lock:
            if self._enough(msg.id, need):
                return True
            owner = self.owner.get(msg.id)
            ids = [i for i in (self.waiting | {msg.id}) if self.owner.get(i) == owner
                   and self.until.get(i) is not None]
            until = self.rt.now() + timedelta(seconds=self.rt.settings.worker.lease_seconds)
            kept = await renew(Message, owner or "", ids, until)
            self.renewals += 1
            for i in ids:
                self.until[i] = until if i in kept else None
        if msg.id not in kept:
            log.warning("message %s: this worker's lease ran out and another worker holds "
                        "it now; not sending it here", msg.id)
            return False
        return True


# How long a message waits behind an earlier one of the same person that is on a paused
# channel (re-checked this often; a resume lets the earlier one go at once).
PAUSED_RECHECK = timedelta(seconds=30)
# ... and behind one that is due but not sent yet (in flight at another worker).
IN_FLIGHT_RECHECK = timedelta(seconds=1)


def _wait_behind(rt: Runtime, now: datetime, earlier: dict[str, Any],
                 pauses: list[pause.Pause]) -> datetime:
    """When a message queued behind ``earlier`` (a row of the same person) may look again."""
    if pause.covered(pauses, earlier["channel"], earlier["kind"]) is not None:
        return now + PAUSED_RECHECK
    at = earlier["next_attempt_at"]
    return at if at is not None and at > now else now + IN_FLIGHT_RECHECK


def _outgoing(msg: Queued, contact: ContactFacts) -> Outgoing:
    return Outgoing(
        message_id=msg.id, idempotency_key=msg.dedupe_key, contact_id=contact.id,
        phone=contact.phone, openid=contact.wechat_openid, text=msg.body,
        kind=msg.kind, params=dict(msg.params or {}),
        conversation_id=msg.conversation_id,
        last_inbound_at=contact.last_inbound_at,
        last_inbound_channel=contact.last_inbound_channel,
        unsure_since=msg.unsure_since,
    )


async def _prepare(rt: Runtime, msgs: list[Queued],
                   contacts: dict[int | None, ContactFacts]) -> dict[int, Outgoing]:
    """Each message as its channel sees it, with what the channel's ``prepare`` loaded."""
    out = {m.id: _outgoing(m, contacts[m.contact_id]) for m in msgs}
    by_channel: dict[str, list[Outgoing]] = {}
    for m in msgs:
        by_channel.setdefault(m.channel, []).append(out[m.id])
    for name, items in by_channel.items():
        ch = rt.channels.get(name)
        if not isinstance(ch, PreparingChannel):
            continue
        try:
            facts = await ch.prepare(items)
        except Exception:
            # Not fatal: without them the channel looks each message up itself.
            log.exception("channel %s could not prepare a batch of %d", name, len(items))
            continue
        for o in items:
            if o.message_id in facts:
                out[o.message_id] = replace(o, prepared=facts[o.message_id])
    return out


class _SentLog:
    """Successful sends, written to the outbox in groups while later sends are under way.

    Each send is recorded within about one database round trip of the provider's answer:
    while one write runs, the answers arriving meanwhile gather for the next (group commit).
    Until a row is written its lease stands, so no other worker takes it; a crash in that
    moment leaves it to the lease expiry and the idempotency key, as a crash during the send
    itself would.
    """

    FIELDS = ("status", "attempts", "provider_msg_id", "sent_at", "error", "lease_owner",
              "lease_until", "unsure_since")

    def __init__(self) -> None:
        self._rows: list[tuple[Any, ...]] = []
        self._task: asyncio.Task[None] | None = None

    def add(self, msg_id: int, status: MessageStatus, attempts: int, provider_msg_id: str,
            sent_at: datetime, note: str | None = None) -> None:
        """Record one successful send (soon)."""
        self._rows.append((status, attempts, provider_msg_id, sent_at, note, None, None, None,
                           msg_id))
        if self._task is None:
            self._task = asyncio.create_task(self._write())

    async def _write(self) -> None:
        try:
            while self._rows:
                rows, self._rows = self._rows, []
                try:
                    # Only while queued: a receipt that came first (delivered) stands.
                    await update_each(Message._meta.db, Message, self.FIELDS, rows,
                                      where='"status" = \'queued\'')
                except Exception:
                    log.exception("%d sent messages could not be recorded; their leases "
                                  "expire and the idempotency key covers the resend",
                                  len(rows))
        finally:
            self._task = None

    async def flush(self) -> None:
        """Wait until every recorded send is written."""
        while self._task is not None:
            await asyncio.shield(self._task)


async def _mark_unreachable(contact: ContactFacts, channel: str, reason: str) -> None:
    """Remember that ``channel`` cannot reach this contact (never retried that way)."""
    unreachable = dict(contact.unreachable or {})
    unreachable[channel] = reason
    await Contact.filter(id=contact.id).update(unreachable=unreachable)


def _withdrawn(msg: Queued, contact: ContactFacts) -> str | None:
    """Why a queued message must no longer go out, if it must not.

    A person who opted out (or whose number is wrong, or who has died) gets exactly one more
    message: the confirmation written in the step that stopped them, marked ``final`` by the
    dispatcher. Everything else still queued for them is withdrawn, whenever it was written:
    the stop is stamped in the same transaction as the confirmation, and a timestamp race
    must never cost the person their goodbye, nor send them anything after it.
    """
    for stop, why in ((contact.opted_out_at, "contact opted out"),
                      (contact.stopped_at, f"contact stopped: {contact.stopped_reason}")):
        if stop is not None:
            return None if (msg.params or {}).get("final") else why
    return None


def pick_channel(rt: Runtime, contact: Contact | ContactFacts,
                 exclude: Collection[str] = ()) -> str | None:
    """The first channel that can reach the contact: their preference, then ``[channels] order``.

    Channels not configured here, recorded as unreachable for this contact, or in ``exclude``
    (already tried) are passed over. Only channels that carry text count: calls and a contact
    marked phone only are for ``bot.phone.reach`` to decide.
    """
    if phone_only(contact):
        return None
    for name in (contact.preferred_channel, *rt.settings.channels.order):
        if (name and name in rt.channels and name not in exclude and text_allowed(contact, name)
                and name not in (contact.unreachable or {})
                and rt.channels[name].can_reach(contact.phone, contact.wechat_openid)):
            return name
    return None


def _tried(msg: Queued) -> set[str]:
    """Channels this message already went through (its own and those it fell back from)."""
    return {msg.channel, *re.findall(r":via:(\w+)", msg.dedupe_key)} | {
        p for p in (msg.params or {}).get("tried", [])}


async def _fall_back(rt: Runtime, msg: Queued, contact: ContactFacts, name: str) -> int | None:
    """Queue a copy of ``msg`` on channel ``name`` when that one can reach the contact."""
    ch = rt.channels.get(name)
    if (ch is None or name == msg.channel or name in (contact.unreachable or {})
            or not ch.can_reach(contact.phone, contact.wechat_openid)):
        return None
    try:
        copy = await Message.create(
            kind=msg.kind, params=msg.params, direction=Direction.OUT, channel=name,
            contact_id=msg.contact_id, conversation_id=msg.conversation_id,
            dedupe_key=f"{msg.dedupe_key}:via:{name}"[:160], sender=msg.sender, body=msg.body,
            status=MessageStatus.QUEUED, next_attempt_at=rt.now(), created_at=rt.now(),
        )
    except IntegrityError:
        return None  # already handed over once
    if msg.conversation_id is not None:
        # Replies to the person now go the way that works.
        await Conversation.filter(id=msg.conversation_id).update(channel=name)
    rt.outbox_waker.wake()
    return copy.id


async def _send_one(rt: Runtime, msg: Queued, contact: ContactFacts, out: Outgoing,
                    sent: _SentLog, pauses: list[pause.Pause], fence: _Fence) -> bool:
    """Send one message and record the outcome; True when it went out.

    ``pauses`` are those in force; a fault met here adds its pause, so that the rest of the
    batch waits without asking the provider again. Every write is fenced by this process's
    lease token (a worker that lost the message to another writes nothing).
    """
    now = rt.now()
    attempts = msg.attempts + 1
    withdrawn = _withdrawn(msg, contact)
    if withdrawn:
        await _settle_row(msg, status=MessageStatus.FAILED, error=withdrawn)
        rt.metrics.failed(msg.channel, msg.kind, "withdrawn")
        return False
    if pause.covered(pauses, msg.channel, msg.kind) is not None:
        await _settle_row(msg)  # paused meanwhile: waits, unattempted
        return False
    channel = rt.channels.get(msg.channel)
    if channel is None:
        await _settle_row(msg, status=MessageStatus.FAILED, attempts=attempts,
                          error=f"channel {msg.channel!r} is not configured")
        log.error("message %s: channel %s is not configured", msg.id, msg.channel)
        rt.metrics.failed(msg.channel, msg.kind, "not_configured")
        return False
    if not await fence.hold(msg, call_seconds(channel)):
        return False  # another worker holds it now
    token = DEADLINE.set(fence.deadline(msg.id))
    try:
        result = await channel.send(out)
    except ChannelError as e:
        now = rt.now()
        if e.fault is not None:
            # Our own set-up is wrong: pause (once, for every process), keep the message
            # queued as it was (no attempt used, no fallback), and let the admins know.
            fault = e.fault
            pauses.append(pause.Pause(
                key=pause.key_for(msg.channel, fault.kinds), channel=msg.channel,
                kinds=fault.kinds, code=fault.code, zh=fault.zh, en=fault.en, since=now,
                until=fault.until))
            try:
                await pause.pause(msg.channel, fault, now)
            finally:
                await _settle_row(msg, error=f"paused: {fault.code} {fault.en}"[:255])
            return False
        if e.unsure:
            # It may have gone: since now it is settled before any resend. Not a failed
            # attempt, and never a fallback (the person could get both).
            await _settle_row(msg, unsure_since=now, error=f"{e.code}: {e}"[:255],
                              next_attempt_at=now + timedelta(seconds=e.retry_after or 60))
            log.warning("message %s via %s: outcome unknown (%s); settled before any resend",
                        msg.id, msg.channel, e.code or "unsure")
            return False
        if e.defer:
            # Not an attempt (cap full, waiting for a receipt): wait, keep every attempt.
            await _settle_row(msg, next_attempt_at=now + timedelta(seconds=e.retry_after or 60),
                              error=f"{e.code}: {e}"[:255])
            log.info("message %s via %s deferred (%s)", msg.id, msg.channel, e.code or "wait")
            return False
        final = not e.retryable or attempts >= rt.settings.worker.max_send_attempts
        backoff = rt.settings.worker.retry_backoff_seconds * (2 ** (attempts - 1))
        if e.retry_after is not None:
            backoff = max(backoff, e.retry_after)
        if e.unreachable:
            await _mark_unreachable(contact, msg.channel, f"{e.code}: {e}"[:200])
        error = f"{e.code}: {e}"
        if final:
            # The channel's own suggestion first (WeChat 45015 → SMS), else the next channel
            # in the contact's order that can still reach them.
            target = e.fallback or pick_channel(rt, contact, exclude=_tried(msg))
            via = await _fall_back(rt, msg, contact, target) if target else None
            if via is not None:
                error = f"{error} (sent via {target} as message {via})"
        await _settle_row(
            msg, status=MessageStatus.FAILED if final else MessageStatus.QUEUED,
            attempts=attempts, next_attempt_at=None if final else now + timedelta(seconds=backoff),
            error=error[-255:] if "sent via" in error else error[:255],
            **({"unsure_since": None} if final else {}),
        )
        log.warning("message %s via %s failed (%s), attempt %d%s", msg.id, msg.channel,
                    e.code or "error", attempts, ", giving up" if final else "")
        rt.metrics.send_failed(msg.channel, msg.kind, e, final=final)
        return False
    finally:
        DEADLINE.reset(token)
    note = ("outcome unknown, taken as sent: the provider has no way to ask and no "
            "idempotency key" if result.unconfirmed else None)
    sent.add(msg.id, MessageStatus.DELIVERED if result.delivered else MessageStatus.SENT,
             attempts, result.provider_msg_id, rt.now() if result.unconfirmed else now, note)
    rt.metrics.sent(msg.channel, msg.kind)
    return True
