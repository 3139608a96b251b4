"""The planner: episodes become check-ins on a schedule; due check-ins open conversations."""

from __future__ import annotations

import logging
from datetime import timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bot import ledger, links, outbox
from bot.leases import lease
from bot.runtime import Runtime
from models import (
    AuditEvent,
    CheckIn,
    CheckinStatus,
    Contact,
    Conversation,
    ConversationStatus,
    Episode,
    EpisodeStatus,
    Relation,
)
from surveys import engine
from surveys.schedule import due_at, parse_offset

log = logging.getLogger(__name__)


def choose_survey(rt: Runtime, department_code: str, treatment_type: str, kind: str) -> str:
    """The first survey route matching the episode."""
    for r in rt.settings.survey_routes:
        if r.matches(department_code, treatment_type, kind):
            return r.survey
    return rt.settings.survey_routes[-1].survey


def schedule_for(rt: Runtime, treatment_type: str) -> list[str]:
    """Offsets for a treatment type, or the default schedule."""
    s = rt.settings.schedules
    return s.get(treatment_type) or s["default"]


async def plan_episode(rt: Runtime, episode: Episode, conn: BaseDBAsyncClient) -> int:
    """Create the episode's check-ins (idempotent); re-date or cancel pending ones.

    Returns the number of check-ins created. Sent or answered check-ins are history and are
    never touched; planned ones follow the episode's current date and status.
    """
    await episode.fetch_related("department", using_db=conn)
    existing = {c.offset: c for c in await CheckIn.filter(episode_id=episode.id).using_db(conn)}
    if episode.status == EpisodeStatus.CANCELLED:
        await CheckIn.filter(episode_id=episode.id, status=CheckinStatus.PLANNED).using_db(
            conn
        ).update(status=CheckinStatus.CANCELLED)
        return 0
    survey_id = choose_survey(rt, episode.department.code, episode.treatment_type,
                              episode.kind.value)
    wanted = [parse_offset(o) for o in schedule_for(rt, episode.treatment_type)]
    created = 0
    tz, send_time = rt.settings.tz, rt.settings.checkin.send_time
    for off in wanted:
        when = due_at(episode.occurred_at, off, tz, send_time, rt.is_workday)
        row = existing.pop(off.label, None)
        if row is None:
            await CheckIn.create(
                using_db=conn, episode_id=episode.id, contact_id=episode.contact_id,
                offset=off.label, survey_id=survey_id, due_at=when,
            )
            created += 1
        elif row.status in (CheckinStatus.PLANNED, CheckinStatus.CANCELLED):
            row.status, row.due_at = CheckinStatus.PLANNED, when
            row.contact_id, row.survey_id = episode.contact_id, survey_id
            await row.save(using_db=conn)
    # Offsets no longer in the schedule: drop the pending ones (never a ghost).
    for row in existing.values():
        if row.status == CheckinStatus.PLANNED:
            row.status = CheckinStatus.CANCELLED
            await row.save(using_db=conn)
    return created


async def engine_context(rt: Runtime, checkin: CheckIn,
                         conn: BaseDBAsyncClient | None = None) -> tuple[engine.Context, str]:
    """Wording facts for a check-in's conversation, and which greeting fits."""
    ep = await Episode.get(id=checkin.episode_id, using_db=conn).prefetch_related(
        "person", "contact", "department"
    )
    link = await ep.person.contact_links.filter(contact_id=ep.contact_id).using_db(conn).first()
    guardian = link is not None and link.relation != Relation.SELF
    local = rt.local(ep.occurred_at)
    values = {
        "contact_name": ep.contact.name,
        "person_name": ep.person.name,
        "subject": ep.person.name if guardian else "您",
        "org_name": rt.settings.org.name,
        "org_phone": rt.settings.org.phone,
        "department": ep.department.name,
        "clinician": ep.clinician_name,
        "treatment": ep.treatment_type,
        "visit_date": f"{local.month}月{local.day}日",
    }
    care = rt.settings.care.get(ep.treatment_type)
    values["care"] = care.guidance if care else ""
    values["revisit"] = care.revisit if care else ""
    ctx = engine.Context(
        values=values,
        low_score_threshold=rt.settings.escalation.low_score_threshold,
        max_failed_attempts=rt.settings.escalation.max_failed_attempts,
    )
    return ctx, ("greeting_guardian" if guardian else "greeting_self")


def pick_channel(rt: Runtime, contact: Contact) -> str | None:
    """The contact's preferred channel if it can reach them, else the default, else None."""
    for name in (contact.preferred_channel, rt.settings.channels.default):
        if (name and name in rt.channels and name not in (contact.unreachable or {})
                and rt.channels[name].can_reach(contact.phone, contact.wechat_openid)):
            return name
    return None


async def open_due(rt: Runtime) -> int:
    """Open every due check-in: a conversation, its first message in the outbox."""
    now = rt.now()
    w = rt.settings.worker
    due = Q(status=CheckinStatus.PLANNED, due_at__lte=now)
    batch: list[CheckIn] = await lease(
        CheckIn, due, now=now, owner=rt.worker_id, seconds=w.lease_seconds,
        limit=w.batch_size, order_by=("due_at", "id"),
    )
    opened = 0
    for checkin in batch:
        try:
            opened += await _open_one(rt, checkin)
        except Exception:
            log.exception("check-in %s could not be opened; will retry after the lease", checkin.id)
    if opened:
        rt.outbox_waker.wake()
    return opened


async def _open_one(rt: Runtime, checkin: CheckIn) -> int:
    now = rt.now()
    async with in_transaction() as conn:
        # Same lock order as the dispatcher: the contact row first (PostgreSQL), then state.
        contact = await Contact.filter(id=checkin.contact_id).using_db(conn).select_for_update(
        ).get()
        fresh = await CheckIn.get(id=checkin.id, using_db=conn)
        if fresh.status != CheckinStatus.PLANNED or fresh.lease_owner != checkin.lease_owner:
            return 0  # re-planned, or taken by another worker after our lease expired
        episode = await Episode.get(id=checkin.episode_id, using_db=conn)
        skip = None
        if episode.status != EpisodeStatus.ACTIVE:
            skip = CheckinStatus.CANCELLED
        elif contact.opted_out_at or contact.stopped_reason:
            skip = CheckinStatus.SKIPPED
        channel = pick_channel(rt, contact)
        if skip is None and channel is None:
            skip = CheckinStatus.SKIPPED
        if skip is not None or channel is None:
            await CheckIn.filter(id=checkin.id).using_db(conn).update(
                status=skip, lease_owner=None, lease_until=None
            )
            return 0
        busy = await Conversation.filter(
            contact_id=contact.id, status=ConversationStatus.OPEN
        ).using_db(conn).exists()
        if busy:
            # One survey at a time per person (a guardian with two children gets them one
            # after the other): keep the lease as a snooze and look again later.
            await CheckIn.filter(id=checkin.id).using_db(conn).update(
                lease_until=now + timedelta(minutes=rt.settings.checkin.busy_defer_minutes)
            )
            return 0
        survey = rt.settings.surveys[checkin.survey_id]
        ctx, greeting = await engine_context(rt, checkin, conn)
        step = engine.start(checkin.survey_id, survey, rt.texts, ctx, greeting)
        conv = await Conversation.create(
            using_db=conn, contact_id=contact.id, checkin_id=checkin.id, channel=channel,
            state=step.state, last_activity_at=now, status=ConversationStatus.OPEN,
        )
        expires = now + timedelta(hours=rt.settings.checkin.expiry_hours)
        token, url = await links.create_link(rt, conn, checkin.id, expires)
        # Template-only channels (SMS, WeChat templates) build their message from these.
        params = {**ctx.values, "link": url, "link_token": token, "survey": survey.title}
        for i, text in enumerate(step.outbound):
            await outbox.queue(
                conn, key=f"checkin:{checkin.id}:open:{i}", channel=channel,
                contact_id=contact.id, conversation_id=conv.id, body=text, now=now,
                kind="checkin", params=params,
            )
        await CheckIn.filter(id=checkin.id).using_db(conn).update(
            status=CheckinStatus.OPENED, channel=channel, opened_at=now, expires_at=expires,
            lease_owner=None, lease_until=None,
        )
        await ledger.append(
            AuditEvent, kind="checkin_opened", actor="bot", subject_type="checkin",
            subject_id=str(checkin.id), data={"channel": channel, "conversation": conv.id},
            recorded_at=now,
        )
    return 1


async def expire_overdue(rt: Runtime) -> int:
    """Close bot conversations whose check-in expired; an unanswered check-in becomes expired."""
    now = rt.now()
    convs = await Conversation.filter(
        status=ConversationStatus.OPEN, checkin__expires_at__lte=now
    ).limit(500)
    for conv in convs:
        async with in_transaction() as conn:
            await Conversation.filter(id=conv.id, status=ConversationStatus.OPEN).using_db(
                conn
            ).update(status=ConversationStatus.CLOSED)
            await CheckIn.filter(id=conv.checkin_id, status=CheckinStatus.OPENED).using_db(
                conn
            ).update(status=CheckinStatus.EXPIRED)
    return len(convs)
