"""What the bot does with what WeChat posts: store first (deduplicated: ``MsgId``, events by
FromUserName + CreateTime + Event), act in the database only, and answer well within WeChat's
5 seconds. Binding an account to a contact: by QR code scene, or by phone number and an SMS
code. Nothing here calls the WeChat API; replies and codes go through the outbox.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from bot import bulk, dispatcher, escalations, ledger, links, outbox
from bot.channels.wechat.channel import WechatChannel, fill
from bot.channels.wechat.codes import (
    CHANNEL,
    MEDIA_LABELS,
    OTP_MAX_TRIES,
    OTP_RESEND_SECONDS,
    SCENE_PREFIX,
    WAITING_MAX_AGE,
    WINDOW_EVENTS,
)
from bot.channels.wechat.webhook import Inbound, _same
from bot.escalations import notify
from bot.privacy import normalise_phone
from bot.runtime import Runtime
from models import (
    AuditEvent,
    CheckIn,
    CheckinStatus,
    Contact,
    Conversation,
    ConversationStatus,
    Department,
    Direction,
    Episode,
    KeyValue,
    Message,
    MessageStatus,
)

Action = Callable[[BaseDBAsyncClient, Message], Awaitable[tuple[str | None, int | None]]]


async def _store_then(rt: Runtime, *, contact_id: int | None, body: str, provider_id: str,
                      raw: str, sender: str, action: Action) -> str | None:
    """Store the raw inbound first, then act; a WeChat retry of a handled one does nothing.

    The row is written as failed ("not handled yet") so the dispatcher never takes it; the
    action and the switch to processed commit together. A retry finds it and acts again only
    if the first try did not finish.
    """
    now = rt.now()
    key = f"in:{CHANNEL}:{provider_id}"[:160]
    try:
        row = await Message.create(
            direction=Direction.IN, channel=CHANNEL, contact_id=contact_id, dedupe_key=key,
            provider_msg_id=provider_id[:128], sender=sender, body=body, raw_payload=raw,
            status=MessageStatus.FAILED, error="not handled yet", created_at=now,
        )
        rt.metrics.received(CHANNEL, "other")
    except IntegrityError:
        row = await Message.get(dedupe_key=key)
        if row.status != MessageStatus.FAILED:
            return None
    async with in_transaction() as conn:
        reply, conv_id = await action(conn, row)
        await Message.filter(id=row.id).using_db(conn).update(
            status=MessageStatus.PROCESSED, processed_at=now, error=None,
            conversation_id=conv_id,
        )
    if contact_id is not None and sender == "person":
        await Contact.filter(id=contact_id).update(last_inbound_at=now,
                                                   last_inbound_channel=CHANNEL)
        await _requeue_waiting(rt, {contact_id})
    return reply


# Outbound WeChat messages of contact ``m.contact_id`` that wait for the person to write.
_WAITING = ("m.direction = 'out' AND m.channel = 'wechat' AND m.status IN ('failed', 'queued') "
            "AND m.error LIKE '450%'")


async def _requeue_waiting(rt: Runtime, contact_ids: set[int]) -> None:
    """These people wrote (or scanned, clicked): messages that waited for it may go now.

    Those are 45047 (deferred) and 45015 with nowhere else to go. One cheap read in the
    common case where nothing waits.
    """
    waiting = {int(r["contact_id"]) for r in await bulk.execute_in(
        connections.get("default"),
        f"SELECT DISTINCT contact_id FROM message m WHERE {_WAITING} AND contact_id IN",
        [], sorted(contact_ids))}
    if waiting:
        await _requeue(rt, waiting)


async def _requeue(rt: Runtime, waiting: set[int]) -> None:
    """Send now what waited for these people to write (see :func:`_requeue_waiting`)."""
    now = rt.now()
    since = now - WAITING_MAX_AGE
    n = await Message.filter(
        direction=Direction.OUT, channel=CHANNEL, contact_id__in=list(waiting),
        status=MessageStatus.QUEUED, error__startswith="45047", next_attempt_at__gt=now,
    ).update(next_attempt_at=now)
    n += await Message.filter(
        direction=Direction.OUT, channel=CHANNEL, contact_id__in=list(waiting),
        status=MessageStatus.FAILED, created_at__gte=since, error__startswith="45015",
    ).exclude(error__contains="sent via").update(
        status=MessageStatus.QUEUED, next_attempt_at=now, attempts=0)
    if n:
        rt.outbox_waker.wake()


class _Inbox:
    """Group commit for text messages: requests that arrive together are stored together.

    Each request still waits until its own message is committed before WeChat hears
    ``success`` (store first); one INSERT per burst instead of one transaction per message
    is what lets a single process keep up with a busy account.
    """

    MAX_BATCH = 256

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.pending: list[tuple[str, str, str, str, asyncio.Future[Any]]] = []
        self.task: asyncio.Task[None] | None = None

    async def store(self, openid: str, text: str, provider_id: str,
                    raw: str) -> tuple[dispatcher.Received, int | None]:
        """Store one text message; returns how it went and the sender's contact id."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending.append((openid, text, provider_id, raw, fut))
        if self.task is None:
            self.task = asyncio.create_task(self._run())
        result: tuple[dispatcher.Received, int | None] = await fut
        return result

    async def _run(self) -> None:
        try:
            # Let the requests that arrived together join: one loop turn at a time, for as
            # long as each turn brings more (a burst being read), never idling for a timer.
            seen = 0
            while seen < len(self.pending) < self.MAX_BATCH:
                seen = len(self.pending)
                await asyncio.sleep(0)
            while self.pending:
                batch, self.pending = (self.pending[: self.MAX_BATCH],
                                       self.pending[self.MAX_BATCH:])
                try:
                    results = await self._flush(batch)
                except Exception as e:  # each waiting request answers 500: WeChat retries
                    for *_, fut in batch:
                        if not fut.done():
                            fut.set_exception(e)
                else:
                    for (*_, fut), result in zip(batch, results, strict=True):
                        if not fut.done():
                            fut.set_result(result)
        finally:
            self.task = None

    async def _flush(self, batch: list[tuple[str, str, str, str, asyncio.Future[Any]]]
                     ) -> list[tuple[dispatcher.Received, int | None]]:
        # Two round trips a batch: one statement finds the senders, records that they wrote
        # and says whether messages wait for it; one INSERT stores the batch.
        senders = await _senders_wrote(self.rt.now(), sorted({b[0] for b in batch}))
        items = [dispatcher.InboundItem(CHANNEL, senders.get(o, (None, False))[0], t, p, r)
                 for o, t, p, r, _ in batch]
        received = await dispatcher.receive_many(self.rt, items, contacts_done=True)
        waiting = {i.contact_id for (o, *_), i, r in zip(batch, items, received, strict=True)
                   if not r.duplicate and i.contact_id is not None and senders[o][1]}
        if waiting:
            await _requeue(self.rt, waiting)
        return [(r, i.contact_id) for i, r in zip(items, received, strict=True)]


async def _senders_wrote(now: datetime, openids: list[str]) -> dict[str, tuple[int, bool]]:
    """Bound senders among ``openids`` → (contact id, whether messages wait for them to write),
    their last inbound time set to ``now`` on the way.

    Set before their messages are stored, and for WeChat's retries too: they did write (a
    signed message arrived), and a retry comes seconds later. The send side reads this time
    only to skip its window query, which reads the stored messages themselves.
    """
    conn = connections.get("default")
    pg = conn.capabilities.dialect == "postgres"
    marks = [f"${i}" if pg else "?" for i in range(1, len(openids) + 3)]
    when = Contact._meta.fields_map["last_inbound_at"].to_db_value(now, Contact)
    rows = await conn.execute_query_dict(
        f"UPDATE contact SET last_inbound_at = {marks[0]}, last_inbound_channel = {marks[1]} "
        f"WHERE wechat_openid IN ({','.join(marks[2:])}) RETURNING wechat_openid, id, "
        f"EXISTS (SELECT 1 FROM message m WHERE m.contact_id = contact.id AND {_WAITING}) "
        "AS waiting", [when, CHANNEL, *openids])
    return {str(r["wechat_openid"]): (int(r["id"]), bool(r["waiting"])) for r in rows}


def _values(rt: Runtime, **extra: Any) -> dict[str, Any]:
    return {"org_name": rt.settings.org.name, "org_phone": rt.settings.org.phone,
            "department": "", **extra}


async def handle(rt: Runtime, ch: WechatChannel, inbound: Inbound) -> str | None:
    """Act on one verified message; returns the text of a passive reply, or None."""
    f = inbound.fields
    openid = f["FromUserName"]
    mtype = f["MsgType"].lower()
    if mtype == "text" or (mtype == "voice" and f.get("Recognition", "").strip()):
        text = (f.get("Content") if mtype == "text" else f.get("Recognition")) or ""
        if ch.inbox is None or ch.inbox.rt is not rt:
            ch.inbox = _Inbox(rt)
        received, contact_id = await ch.inbox.store(openid, text, f["MsgId"], inbound.raw)
        if received.duplicate or contact_id is not None:
            return None
        return await _bind_by_text(rt, openid, text.strip())
    contact = await Contact.get_or_none(wechat_openid=openid)
    if mtype == "event":
        return await _on_event(rt, ch, inbound, contact)
    return await _on_media(rt, inbound, contact, mtype, f["MsgId"])


def _media_body(f: Mapping[str, str], mtype: str) -> str:
    label = MEDIA_LABELS.get(mtype, f"[{mtype[:16]}]")
    if mtype == "location":
        return f"{label} {f.get('Label', '')}".strip()[:500]
    if mtype == "link":
        return f"{label} {f.get('Title', '')} {f.get('Url', '')}".strip()[:500]
    return label


async def _current_conversation(conn: BaseDBAsyncClient, contact_id: int,
                                statuses: list[ConversationStatus]) -> Conversation | None:
    return await Conversation.filter(contact_id=contact_id, status__in=statuses).using_db(
        conn).order_by("-last_activity_at", "-id").first()


async def _department_of(conn: BaseDBAsyncClient, conv: Conversation) -> int | None:
    if conv.checkin_id is None:
        return None
    checkin = await CheckIn.get(id=conv.checkin_id, using_db=conn)
    episode = await Episode.get(id=checkin.episode_id, using_db=conn)
    return episode.department_id


async def _hand_to_staff(rt: Runtime, conn: BaseDBAsyncClient, contact_id: int,
                         reason: str) -> Conversation:
    """Put the person's current (or last, or a new) conversation in the staff queue."""
    now = rt.now()
    conv = await _current_conversation(
        conn, contact_id, [ConversationStatus.OPEN, ConversationStatus.STAFF]
    ) or await Conversation.filter(contact_id=contact_id).using_db(conn).order_by("-id").first()
    if conv is None:
        conv = await Conversation.create(
            using_db=conn, contact_id=contact_id, channel=CHANNEL, last_activity_at=now,
            state={"status": "done"}, status=ConversationStatus.CLOSED,
        )
    await escalations.raise_for(conn, conversation=conv,
                                department_id=await _department_of(conn, conv),
                                kind="other", priority="normal", reason=reason, now=now)
    rt.metrics.escalation_raised("other")
    return conv


async def _held(rt: Runtime, conn: BaseDBAsyncClient, contact_id: int) -> int | None:
    """While staff hold one of this person's conversations the bot sends nothing, passive
    replies included: what the person sent is stored there and the assignee hears of it."""
    esc = await escalations.claimed_for(conn, contact_id)
    if esc is None:
        return None
    await notify.for_escalation(conn, esc, "replied", rt.now())
    return esc.conversation_id


async def _on_media(rt: Runtime, inbound: Inbound, contact: Contact | None, mtype: str,
                    pid: str) -> str | None:
    """Image, location, link, video, unrecognised voice: stored; staff look during a survey.

    They are not passed to the survey engine (it reads text): a photo of a wound or a
    location is for a person. An unrecognised voice message during a survey is first
    answered with a request to type the digit; the second one goes to staff.
    """
    wc = rt.settings.wechat
    body = _media_body(inbound.fields, mtype)
    texts = rt.texts

    async def act(conn: BaseDBAsyncClient, row: Message) -> tuple[str | None, int | None]:
        if contact is None:
            return fill(wc.text_bind_prompt, _values(rt)), None
        held = await _held(rt, conn, contact.id)
        if held is not None:
            return None, held  # staff hold the conversation: theirs to read, no bot reply
        conv = await _current_conversation(conn, contact.id, [ConversationStatus.OPEN])
        if mtype == "voice" and conv is not None:
            earlier = await Message.filter(  # contact_id: the indexed way to the rows
                contact_id=contact.id, conversation_id=conv.id, direction=Direction.IN,
                body=MEDIA_LABELS["voice"],
            ).using_db(conn).count()
            if earlier == 0:
                return fill(wc.text_voice_unclear, _values(rt)), conv.id
        staff_conv = await _hand_to_staff(rt, conn, contact.id,
                                          f"{body[:40]} received on WeChat")
        reply = wc.text_media_received if conv is not None else texts["handed_to_staff"]
        return fill(reply, _values(rt)), staff_conv.id

    return await _store_then(rt, contact_id=contact.id if contact else None, body=body,
                             provider_id=pid, raw=inbound.raw, sender="person", action=act)


async def _on_event(rt: Runtime, ch: WechatChannel, inbound: Inbound,
                    contact: Contact | None) -> str | None:
    f = inbound.fields
    event = f["Event"].lower()
    key = f.get("EventKey", "") or ""
    openid = f["FromUserName"]
    pid = f"{openid}:{f['CreateTime']}:{event}"
    if event == "templatesendjobfinish":
        pid += f":{f.get('MsgID') or f.get('MsgId', '')}"
    wc = rt.settings.wechat
    sender = "person" if event in WINDOW_EVENTS else "wechat"
    body = f"[事件 {event}] {key}".strip()[:200]

    async def act(conn: BaseDBAsyncClient, row: Message) -> tuple[str | None, int | None]:
        if event in ("subscribe", "scan"):
            scene = key.removeprefix("qrscene_")
            if scene.startswith(SCENE_PREFIX):
                return await _bind_by_scene(rt, conn, openid, scene, row), None
            if contact is not None:
                await _clear_unreachable(conn, contact)
                return None, None
            return fill(wc.text_welcome if event == "subscribe" else wc.text_bind_prompt,
                        _values(rt)), None
        if event == "unsubscribe":
            if contact is not None:
                await _unsubscribed(rt, conn, contact)
            return None, None
        if event == "templatesendjobfinish":
            await _template_finished(conn, f.get("MsgID") or f.get("MsgId", ""),
                                     f.get("Status", ""))
            return None, None
        if event == "click":
            if contact is None:
                return fill(wc.text_bind_prompt, _values(rt)), None
            held = await _held(rt, conn, contact.id)
            if held is not None:
                return None, held  # staff hold the conversation: no bot reply
            return await _menu_click(rt, conn, contact, key)
        return None, None

    return await _store_then(rt, contact_id=contact.id if contact else None, body=body,
                             provider_id=pid, raw=inbound.raw, sender=sender, action=act)


async def _clear_unreachable(conn: BaseDBAsyncClient, contact: Contact) -> None:
    fresh = await Contact.get(id=contact.id, using_db=conn)
    if CHANNEL in (fresh.unreachable or {}):
        unreachable = {k: v for k, v in fresh.unreachable.items() if k != CHANNEL}
        await Contact.filter(id=contact.id).using_db(conn).update(unreachable=unreachable)


async def bind(rt: Runtime, conn: BaseDBAsyncClient, contact_id: int, openid: str,
               how: str, ref: str | None = None) -> None:
    """Bind ``openid`` to a contact (the latest binding wins) and prefer WeChat for them."""
    now = rt.now()
    others = await Contact.filter(wechat_openid=openid).exclude(id=contact_id).using_db(
        conn).values_list("id", flat=True)
    if others:
        await Contact.filter(id__in=list(others)).using_db(conn).update(wechat_openid=None)
    contact = await Contact.get(id=contact_id, using_db=conn)
    unreachable = {k: v for k, v in (contact.unreachable or {}).items() if k != CHANNEL}
    await Contact.filter(id=contact_id).using_db(conn).update(
        wechat_openid=openid, unreachable=unreachable, preferred_channel=CHANNEL,
        last_inbound_at=now, last_inbound_channel=CHANNEL,
    )
    # Inbound rows written before we knew who this was now belong to the contact.
    await Message.filter(direction=Direction.IN, channel=CHANNEL, contact_id=None,
                         raw_payload__contains=openid).using_db(conn).update(
        contact_id=contact_id)
    await ledger.append(
        AuditEvent, kind="wechat_bound", actor="person", subject_type="contact",
        subject_id=str(contact_id),
        data={"how": how, "ref": ref, "moved_from": sorted(others)}, recorded_at=now,
    )


async def _bind_by_scene(rt: Runtime, conn: BaseDBAsyncClient, openid: str, scene: str,
                         row: Message) -> str:
    wc = rt.settings.wechat
    ident = scene.removeprefix(SCENE_PREFIX)
    # ASCII digits within the id column's range; anything else is a code we never made.
    valid = re.fullmatch(r"[0-9]{1,10}", ident) is not None and int(ident) < 2**31
    episode = await Episode.get_or_none(id=int(ident), using_db=conn) if valid else None
    if episode is None:
        return fill(wc.text_qr_invalid, _values(rt))
    await bind(rt, conn, episode.contact_id, openid, "qr", ref=str(episode.id))
    await Message.filter(id=row.id).using_db(conn).update(contact_id=episode.contact_id)
    department = await Department.get(id=episode.department_id, using_db=conn)
    return fill(wc.text_bound, _values(rt, department=department.name))


async def _unsubscribed(rt: Runtime, conn: BaseDBAsyncClient, contact: Contact) -> None:
    now = rt.now()
    fresh = await Contact.get(id=contact.id, using_db=conn)
    unreachable = {**(fresh.unreachable or {}), CHANNEL: "unsubscribed: unfollowed the account"}
    updates: dict[str, Any] = {"unreachable": unreachable}
    if rt.settings.wechat.unsubscribe_opts_out and fresh.opted_out_at is None:
        updates["opted_out_at"] = now
        await CheckIn.filter(contact_id=contact.id, status=CheckinStatus.PLANNED).using_db(
            conn).update(status=CheckinStatus.SKIPPED)
    await Contact.filter(id=contact.id).using_db(conn).update(**updates)
    await ledger.append(
        AuditEvent, kind="wechat_unsubscribed", actor="person", subject_type="contact",
        subject_id=str(contact.id), data={"opted_out": "opted_out_at" in updates},
        recorded_at=now,
    )


async def _template_finished(conn: BaseDBAsyncClient, msgid: str, status: str) -> None:
    """TEMPLATESENDJOBFINISH: the template message's delivery outcome."""
    if not msgid:
        return
    msg = await Message.filter(direction=Direction.OUT, channel=CHANNEL,
                               provider_msg_id=f"tmpl:{msgid}").using_db(conn).first()
    if msg is None:
        return
    if status == "success":
        await Message.filter(id=msg.id).using_db(conn).update(status=MessageStatus.DELIVERED)
        return
    reason = f"template {status or 'failed'}"[:255]
    await Message.filter(id=msg.id).using_db(conn).update(status=MessageStatus.FAILED,
                                                          error=reason)
    if "block" in status and msg.contact_id is not None:
        contact = await Contact.get(id=msg.contact_id, using_db=conn)
        unreachable = {**(contact.unreachable or {}), CHANNEL: "blocked template messages"}
        await Contact.filter(id=contact.id).using_db(conn).update(unreachable=unreachable)


async def _menu_click(rt: Runtime, conn: BaseDBAsyncClient, contact: Contact,
                      key: str) -> tuple[str | None, int | None]:
    wc = rt.settings.wechat
    if key == wc.menu_survey_key:
        conv = await _current_conversation(conn, contact.id, [ConversationStatus.OPEN])
        checkin = (await CheckIn.get_or_none(id=conv.checkin_id, using_db=conn)
                   if conv is not None and conv.checkin_id else None)
        if conv is None or checkin is None or checkin.expires_at is None:
            return fill(wc.text_no_survey, _values(rt)), None
        _, url = await links.create_link(rt, conn, checkin.id, checkin.expires_at)
        return fill(wc.text_survey_link, _values(rt, link=url)), conv.id
    if key == wc.menu_staff_key:
        conv = await _hand_to_staff(rt, conn, contact.id, "asked for staff (WeChat menu)")
        return fill(rt.texts["handed_to_staff"], _values(rt)), conv.id
    return None, None


# --------------------------------------------------------------------------- binding by SMS


def _otp_key(openid: str) -> str:
    return f"wechat:otp:{openid}"


def _otp_hash(openid: str, code: str) -> str:
    return hashlib.sha256(f"{openid}:{code}".encode()).hexdigest()


async def _bind_by_text(rt: Runtime, openid: str, text: str) -> str:
    """An unknown person wrote: a phone number starts SMS binding, a code finishes it."""
    wc = rt.settings.wechat
    if re.fullmatch(r"\d{6}", text):
        return await _check_code(rt, openid, text)
    phone = normalise_phone(text) if re.fullmatch(r"[\d\s+\-()]{11,24}", text) else None
    if phone is None:
        return fill(wc.text_bind_prompt, _values(rt))
    if "sms" not in rt.channels:
        return fill(wc.text_otp_unavailable, _values(rt))
    now = rt.now()
    sent = fill(wc.text_otp_sent, _values(rt))
    contact = await Contact.get_or_none(phone=phone)
    # Same answer whether or not the number is known: nobody learns who is registered.
    if contact is None or contact.opted_out_at is not None:
        return sent
    row = await KeyValue.get_or_none(key=_otp_key(openid))
    if row is not None and row.expires_at and row.expires_at > now:
        state = json.loads(row.value)
        if now.timestamp() - float(state.get("sent_at", 0)) < OTP_RESEND_SECONDS:
            return sent
    code = f"{secrets.randbelow(10**6):06d}"
    state = {"contact_id": contact.id, "hash": _otp_hash(openid, code), "tries": 0,
             "sent_at": now.timestamp()}
    body = fill(wc.text_otp_sms, _values(rt, code=code, minutes=wc.otp_ttl_minutes))
    async with in_transaction() as conn:
        await KeyValue.update_or_create(
            defaults={"value": json.dumps(state),
                      "expires_at": now + timedelta(minutes=wc.otp_ttl_minutes)},
            key=_otp_key(openid), using_db=conn,
        )
        await outbox.queue(conn, key=f"wechat-otp:{contact.id}:{int(now.timestamp())}",
                           channel="sms", contact_id=contact.id, conversation_id=None,
                           body=body, now=now, kind="otp", params={"code": code, "text": body})
    rt.outbox_waker.wake()
    return sent


async def _check_code(rt: Runtime, openid: str, code: str) -> str:
    wc = rt.settings.wechat
    now = rt.now()
    async with in_transaction() as conn:
        row = await KeyValue.filter(key=_otp_key(openid)).using_db(conn).first()
        if row is None or row.expires_at is None or row.expires_at <= now:
            return fill(wc.text_otp_wrong, _values(rt))
        state = json.loads(row.value)
        if not _same(state["hash"], _otp_hash(openid, code)):
            state["tries"] = int(state.get("tries", 0)) + 1
            if state["tries"] >= OTP_MAX_TRIES:
                await KeyValue.filter(key=row.key).using_db(conn).delete()
            else:
                await KeyValue.filter(key=row.key).using_db(conn).update(
                    value=json.dumps(state))
            return fill(wc.text_otp_wrong, _values(rt))
        await KeyValue.filter(key=row.key).using_db(conn).delete()
        contact_id = int(state["contact_id"])
        await bind(rt, conn, contact_id, openid, "sms")
        episode = await Episode.filter(contact_id=contact_id).using_db(conn).order_by(
            "-occurred_at").prefetch_related("department").first()
    department = episode.department.name if episode is not None else ""
    return fill(wc.text_bound, _values(rt, department=department))
