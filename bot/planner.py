"""The planner: episodes become check-ins on a schedule; due check-ins open conversations."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bot import ledger, links, outbox
from bot.leases import lease
from bot.outbox import pick_channel
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
    SurveyLink,
)
from surveys import engine
from surveys.schedule import due_at, parse_offset
from surveys.window import next_send_time

log = logging.getLogger(__name__)


def choose_survey(rt: Runtime, department_code: str, treatment_type: str, kind: str) -> str:
    """The first survey route matching the episode."""
    for r in rt.settings.survey_routes:
        if r.matches(department_code, treatment_type, kind):
            return r.survey
    return rt.settings.survey_routes[-1].survey


def schedule_for(rt: Runtime, treatment_type: str, kind: str = "") -> list[str]:
    """Offsets for a treatment type, else for the episode kind, else the default schedule."""
    s = rt.settings.schedules
    return s.get(treatment_type) or s.get(kind) or s["default"]


def _spread_key(episode_id: int, offset: str) -> int:
    return episode_id * 1009 + sum(ord(c) for c in offset)


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
    wanted = [parse_offset(o) for o in schedule_for(rt, episode.treatment_type,
                                                     episode.kind.value)]
    created = 0
    cfg = rt.settings.checkin
    tz, window = rt.settings.tz, rt.send_window(episode.department.code)
    importance = cfg.importance.get(episode.kind.value, 1)  # type: ignore[call-overload]
    for off in wanted:
        when = due_at(episode.occurred_at, off, tz, cfg.send_time, rt.is_workday)
        plan = {
            "due_at": when,
            "send_at": next_send_time(when, tz, window, _spread_key(episode.id, off.label)),
            "window_end_at": when + timedelta(hours=cfg.on_time_hours),
            "importance": importance, "contact_id": episode.contact_id,
            "survey_id": survey_id,
        }
        row = existing.pop(off.label, None)
        if row is None:
            await CheckIn.create(using_db=conn, episode_id=episode.id, offset=off.label, **plan)
            created += 1
        elif row.status in (CheckinStatus.PLANNED, CheckinStatus.CANCELLED):
            row.update_from_dict({**plan, "status": CheckinStatus.PLANNED, "lost_reason": None})
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


async def open_due(rt: Runtime) -> int:
    """Open every due check-in: a conversation, its first message in the outbox.

    The most important check-ins are leased first, so that when two episodes want the same
    person on the same day, the more important one wins the fatigue rule.
    """
    now = rt.now()
    w = rt.settings.worker
    due = Q(status=CheckinStatus.PLANNED, send_at__lte=now)
    batch: list[CheckIn] = await lease(
        CheckIn, due, now=now, owner=rt.worker_id, seconds=w.lease_seconds,
        limit=w.batch_size, order_by=("-importance", "send_at", "id"),
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


async def _skip_reason(rt: Runtime, conn: BaseDBAsyncClient, checkin: CheckIn,
                       episode: Episode, contact: Contact, now: datetime) -> str | None:
    """Why this check-in must not go out at all (it is then lost or skipped for that reason)."""
    if contact.opted_out_at:
        return "opted_out"
    if contact.stopped_reason:
        return contact.stopped_reason
    days = rt.settings.checkin.fatigue_days
    # Fatigue counts surveys about the same person: a parent is still asked about each child
    # (every message names the child), and one episode's own schedule is never cut short.
    if days and await CheckIn.filter(
        contact_id=contact.id, opened_at__gte=now - timedelta(days=days),
        importance__gte=checkin.importance, episode__person_id=episode.person_id,
    ).exclude(episode_id=episode.id).using_db(conn).exists():
        return "fatigue"
    if pick_channel(rt, contact) is None:
        return "unreachable"
    return None


async def _open_one(rt: Runtime, checkin: CheckIn) -> int:
    now = rt.now()
    async with in_transaction() as conn:
        # Same lock order as the dispatcher: the contact row first (PostgreSQL), then state.
        contact = await Contact.filter(id=checkin.contact_id).using_db(conn).select_for_update(
        ).get()
        fresh = await CheckIn.get(id=checkin.id, using_db=conn)
        if fresh.status != CheckinStatus.PLANNED or fresh.lease_owner != checkin.lease_owner:
            return 0  # re-planned, or taken by another worker after our lease expired
        episode = await Episode.get(id=checkin.episode_id, using_db=conn).prefetch_related(
            "department")
        release = {"lease_owner": None, "lease_until": None}
        if episode.status != EpisodeStatus.ACTIVE:
            await CheckIn.filter(id=checkin.id).using_db(conn).update(
                status=CheckinStatus.CANCELLED, **release)
            return 0
        reason = await _skip_reason(rt, conn, checkin, episode, contact, now)
        if reason is not None:
            await CheckIn.filter(id=checkin.id).using_db(conn).update(
                status=CheckinStatus.SKIPPED, lost_reason=reason, **release)
            return 0
        window = rt.send_window(episode.department.code)
        allowed = next_send_time(now, rt.settings.tz, window, checkin.id)
        if allowed > now:
            # Quiet hours or a no-send day (settings may have changed since planning).
            await CheckIn.filter(id=checkin.id).using_db(conn).update(send_at=allowed, **release)
            return 0
        if await Conversation.filter(
            contact_id=contact.id, status=ConversationStatus.OPEN
        ).using_db(conn).exists():
            # One survey at a time per person (a guardian with two children gets them one
            # after the other): keep the lease as a snooze and look again later.
            await CheckIn.filter(id=checkin.id).using_db(conn).update(
                lease_until=now + timedelta(minutes=rt.settings.checkin.busy_defer_minutes)
            )
            return 0
        channel = pick_channel(rt, contact)
        assert channel is not None  # _skip_reason checked
        survey = rt.settings.surveys[checkin.survey_id]
        ctx, greeting = await engine_context(rt, checkin, conn)
        step = engine.start(checkin.survey_id, survey, rt.texts, ctx, greeting)
        conv = await Conversation.create(
            using_db=conn, contact_id=contact.id, checkin_id=checkin.id, channel=channel,
            state=step.state, last_activity_at=now, status=ConversationStatus.OPEN,
        )
        cfg = rt.settings.checkin
        expires = now + timedelta(hours=cfg.reply_window_hours)
        # The link stays valid through every attempt and the last reply window.
        link_until = now + timedelta(hours=cfg.reply_window_hours * (cfg.max_attempts + 1))
        token, url = await links.create_link(rt, conn, checkin.id, link_until)
        # Template-only channels (SMS, WeChat templates) build their message from these.
        params = {**ctx.values, "link": url, "link_token": token, "survey": survey.title}
        for i, text in enumerate(step.outbound):
            await outbox.queue(
                conn, key=f"checkin:{checkin.id}:open:{i}", channel=channel,
                contact_id=contact.id, conversation_id=conv.id, body=text, now=now,
                kind="checkin", params=params,
            )
        await CheckIn.filter(id=checkin.id).using_db(conn).update(
            status=CheckinStatus.OPENED, channel=channel, opened_at=now, last_attempt_at=now,
            attempts=1, expires_at=expires, **release,
        )
        await ledger.append(
            AuditEvent, kind="checkin_opened", actor="bot", subject_type="checkin",
            subject_id=str(checkin.id),
            data={"channel": channel, "conversation": conv.id, "worker": rt.worker_id},
            recorded_at=now,
        )
    return 1


async def follow_up_unanswered(rt: Runtime) -> int:
    """Check-ins nobody answered: try again (next day, next allowed time) or mark them lost.

    Conversations that went quiet mid-survey are closed after the reply window, keeping the
    answers already given, so that the person's next survey can start.
    """
    now = rt.now()
    cfg = rt.settings.checkin
    handled = 0
    for checkin in await CheckIn.filter(
        status=CheckinStatus.OPENED, expires_at__lte=now
    ).order_by("expires_at").limit(rt.settings.worker.batch_size):
        handled += await _retry_or_lose(rt, checkin)
    stale = now - timedelta(hours=cfg.reply_window_hours)
    quiet = await Conversation.filter(
        status=ConversationStatus.OPEN, last_activity_at__lte=stale
    ).limit(500).values_list("id", "checkin_id")
    waiting = set(await CheckIn.filter(
        id__in=[c for _, c in quiet if c is not None], status=CheckinStatus.OPENED
    ).values_list("id", flat=True)) if quiet else set()
    ids = [i for i, c in quiet if c not in waiting]  # unanswered ones get reminders instead
    if ids:
        handled += await Conversation.filter(id__in=ids, status=ConversationStatus.OPEN).update(
            status=ConversationStatus.CLOSED)
    if handled:
        rt.outbox_waker.wake()
    return handled


async def _retry_or_lose(rt: Runtime, checkin: CheckIn) -> int:
    now = rt.now()
    cfg = rt.settings.checkin
    async with in_transaction() as conn:
        contact = await Contact.filter(id=checkin.contact_id).using_db(conn).select_for_update(
        ).get()
        fresh = await CheckIn.get(id=checkin.id, using_db=conn).prefetch_related(
            "episode__department")
        if fresh.status != CheckinStatus.OPENED or fresh.expires_at is None \
                or fresh.expires_at > now:
            return 0  # answered meanwhile, or another worker did it
        conv = await Conversation.filter(checkin_id=checkin.id).using_db(conn).order_by(
            "-id").first()
        stopped = contact.opted_out_at or contact.stopped_reason
        channel = pick_channel(rt, contact)
        if fresh.attempts >= cfg.max_attempts or stopped or channel is None or conv is None \
                or conv.status != ConversationStatus.OPEN:
            reason = ("opted_out" if contact.opted_out_at else contact.stopped_reason
                      or ("unreachable" if channel is None else "no_answer"))
            await CheckIn.filter(id=checkin.id).using_db(conn).update(
                status=CheckinStatus.EXPIRED, lost_reason=reason)
            if conv is not None and conv.status == ConversationStatus.OPEN:
                conv.status = ConversationStatus.CLOSED
                await conv.save(using_db=conn, update_fields=["status"])
            await ledger.append(
                AuditEvent, kind="lost_to_follow_up", actor="bot", subject_type="checkin",
                subject_id=str(checkin.id), data={"reason": reason}, recorded_at=now)
            return 1
        window = rt.send_window(fresh.episode.department.code)
        allowed = next_send_time(now, rt.settings.tz, window, checkin.id)
        if allowed > now:
            await CheckIn.filter(id=checkin.id).using_db(conn).update(expires_at=allowed)
            return 0
        survey = rt.settings.surveys[fresh.survey_id]
        ctx, _ = await engine_context(rt, fresh, conn)
        step = engine.remind(survey, rt.texts, ctx, conv.state)
        attempt = fresh.attempts + 1
        link = await SurveyLink.filter(checkin_id=checkin.id).using_db(conn).first()
        params = {**ctx.values, "survey": survey.title, "attempt": attempt}
        if link is not None:
            params.update(link=links.link_url(rt, link.token), link_token=link.token)
        for i, text in enumerate(step.outbound):
            await outbox.queue(
                conn, key=f"checkin:{checkin.id}:attempt{attempt}:{i}", channel=channel,
                contact_id=contact.id, conversation_id=conv.id, body=text, now=now,
                kind="checkin", params=params,
            )
        conv.channel = channel
        await conv.save(using_db=conn, update_fields=["channel"])
        await CheckIn.filter(id=checkin.id).using_db(conn).update(
            attempts=attempt, last_attempt_at=now, channel=channel,
            expires_at=now + timedelta(hours=cfg.reply_window_hours))
    return 1
