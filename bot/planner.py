"""The planner: episodes become check-ins on a schedule; due check-ins open conversations."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bot import bulk, escalations, ledger, links, outbox
from bot.escalations import recovery
from bot.leases import lease
from bot.outbox import ContactFacts, pick_channel
from bot.runtime import Runtime
from models import (
    AuditEvent,
    CheckIn,
    CheckinStatus,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Episode,
    EpisodeKind,
    EpisodeStatus,
    Escalation,
    EscalationStatus,
    Message,
    MessageStatus,
    PersonContact,
    Relation,
    SurveyLink,
)
from surveys import engine
from surveys.definition import RECOVERY
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


def checkin_plans(rt: Runtime, *, episode_id: int, department_code: str, treatment_type: str,
                  kind: EpisodeKind, occurred_at: datetime,
                  contact_id: int) -> dict[str, dict[str, Any]]:
    """The check-ins an episode wants: offset label → the check-in's planned fields."""
    survey_id = choose_survey(rt, department_code, treatment_type, kind.value)
    cfg = rt.settings.checkin
    tz, window = rt.settings.tz, rt.send_window(department_code)
    importance = cfg.importance.get(kind.value, 1)
    plans = {}
    for off in (parse_offset(o) for o in schedule_for(rt, treatment_type, kind.value)):
        when = due_at(occurred_at, off, tz, cfg.send_time, rt.is_workday)
        plans[off.label] = {
            "due_at": when,
            "send_at": next_send_time(when, tz, window, _spread_key(episode_id, off.label)),
            "window_end_at": when + timedelta(hours=cfg.on_time_hours),
            "importance": importance, "contact_id": contact_id,
            "survey_id": survey_id,
        }
    return plans


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
    created = 0
    for label, plan in checkin_plans(
            rt, episode_id=episode.id, department_code=episode.department.code,
            treatment_type=episode.treatment_type, kind=episode.kind,
            occurred_at=episode.occurred_at, contact_id=episode.contact_id).items():
        row = existing.pop(label, None)
        if row is None:
            await CheckIn.create(using_db=conn, episode_id=episode.id, offset=label, **plan)
            created += 1
        elif row.status in (CheckinStatus.PLANNED, CheckinStatus.CANCELLED):
            row.update_from_dict({**plan, "status": CheckinStatus.PLANNED, "lost_reason": None})
            await row.save(using_db=conn)
    # Offsets no longer in the schedule: drop the pending ones (never a ghost). Check-ins
    # staff planned (recovery question, follow up later) are not the schedule's to drop.
    for row in existing.values():
        if row.status == CheckinStatus.PLANNED and not recovery.is_special(row.offset):
            row.status = CheckinStatus.CANCELLED
            await row.save(using_db=conn)
    return created


@dataclass(frozen=True, slots=True)
class EpisodeFacts:
    """What a check-in's wording says about its episode."""

    occurred_at: datetime
    person_name: str
    department_name: str
    clinician_name: str
    treatment_type: str

    @classmethod
    def of(cls, ep: Episode) -> EpisodeFacts:
        """From an episode loaded with its person and department."""
        return cls(ep.occurred_at, ep.person.name, ep.department.name, ep.clinician_name,
                   ep.treatment_type)


async def engine_context(rt: Runtime, checkin: CheckIn,
                         conn: BaseDBAsyncClient | None = None) -> tuple[engine.Context, str]:
    """Wording facts for a check-in's conversation, and which greeting fits."""
    ep = await Episode.get(id=checkin.episode_id, using_db=conn).prefetch_related(
        "person", "contact", "department"
    )
    link = await ep.person.contact_links.filter(contact_id=ep.contact_id).using_db(conn).first()
    return build_context(rt, EpisodeFacts.of(ep), ep.contact.name,
                         link is not None and link.relation != Relation.SELF)


def build_context(rt: Runtime, ep: EpisodeFacts, contact_name: str,
                  guardian: bool) -> tuple[engine.Context, str]:
    """The engine context of a check-in about ``ep`` sent to ``contact_name``."""
    local = rt.local(ep.occurred_at)
    if guardian and contact_name == ep.person_name:
        # The visit named no parent, so the import took the child's name for the contact:
        # "小明您好，……想了解小明的情况" would greet the child. Greet the parent plainly.
        contact_name = ""
    values = {
        "contact_name": contact_name,
        "person_name": ep.person_name,
        "subject": ep.person_name if guardian else "您",
        "org_name": rt.settings.org.name,
        "org_phone": rt.settings.org.phone,
        "department": ep.department_name,
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


@dataclass(frozen=True, slots=True)
class _Due:
    """A leased check-in, as much of it as opening needs."""

    id: int
    contact_id: int
    episode_id: int
    importance: int
    survey_id: str
    lease_owner: str


@dataclass(frozen=True, slots=True)
class _Episode:
    """A due check-in's episode, read in one joined query."""

    id: int
    status: str
    person_id: int
    department_code: str
    facts: EpisodeFacts


_DUE_FIELDS = ("id", "contact_id", "episode_id", "importance", "survey_id", "lease_owner")


async def open_due(rt: Runtime) -> int:
    """Open due check-ins: a conversation each, its first message in the outbox.

    A leased batch is opened in one transaction with a handful of queries (not a handful per
    check-in). The most important check-ins are leased first, so that when two episodes want
    the same person on the same day, the more important one wins the fatigue rule.
    """
    now = rt.now()
    w = rt.settings.worker
    due = Q(status=CheckinStatus.PLANNED, send_at__lte=now)
    batch = [_Due(**r) for r in await lease(
        CheckIn, due, now=now, owner=rt.worker_id, seconds=w.lease_seconds,
        limit=w.batch_size, order_by=("-importance", "send_at", "id"), fields=_DUE_FIELDS,
    )]
    if not batch:
        return 0
    try:
        await _open_batch(rt, batch)
    except Exception:
        log.exception("a batch of %d check-ins could not be opened; the leases expire and "
                      "another try follows", len(batch))
        return 0
    return len(batch)  # the opened ones' messages were handed to this process's sender


async def _open_batch(rt: Runtime, batch: list[_Due]) -> int:
    now = rt.now()
    cfg = rt.settings.checkin
    async with in_transaction() as conn:
        # Same lock order as the dispatcher: contact rows first (PostgreSQL), ordered by id so
        # that two workers never wait on each other in a cycle; then the state.
        contact_ids = sorted({c.contact_id for c in batch})
        contacts = await outbox.load_contacts(conn, contact_ids, lock=True)
        fresh = {i: (status, owner) for i, status, owner in await CheckIn.filter(
            id__in=[c.id for c in batch]).using_db(conn).values_list(
            "id", "status", "lease_owner")}
        mine = [c for c in batch if fresh[c.id] == (CheckinStatus.PLANNED, c.lease_owner)]
        if not mine:
            return 0
        episodes = {r["id"]: _Episode(
            r["id"], r["status"], r["person_id"], r["department__code"], EpisodeFacts(
                r["occurred_at"], r["person__name"], r["department__name"],
                r["clinician_name"], r["treatment_type"]))
            for r in await Episode.filter(id__in={c.episode_id for c in mine}).using_db(
                conn).values("id", "status", "person_id", "occurred_at", "clinician_name",
                             "treatment_type", "department__code", "department__name",
                             "person__name")}
        guardians = {(pc.person_id, pc.contact_id) for pc in await PersonContact.filter(
            contact_id__in=contact_ids).exclude(relation=Relation.SELF).using_db(conn)}
        busy: set[int] = {int(r["contact_id"]) for r in await Conversation.filter(
            contact_id__in=contact_ids, status=ConversationStatus.OPEN
        ).using_db(conn).values("contact_id")}
        # Staff hold one of their conversations: the bot starts nothing meanwhile.
        busy |= {int(r["conversation__contact_id"]) for r in await Escalation.filter(
            status=EscalationStatus.CLAIMED, conversation__contact_id__in=contact_ids,
        ).using_db(conn).values("conversation__contact_id")}
        # Per contact: (importance, episode, person) of the surveys opened lately.
        recent: dict[int, list[tuple[int, int, int]]] = {}
        if cfg.fatigue_days:
            for r in await CheckIn.filter(
                contact_id__in=contact_ids,
                opened_at__gte=now - timedelta(days=cfg.fatigue_days),
            ).exclude(survey_id=RECOVERY).using_db(conn).values(
                    "contact_id", "importance", "episode_id", "episode__person_id"):
                recent.setdefault(r["contact_id"], []).append(
                    (r["importance"], r["episode_id"], r["episode__person_id"]))

        updates: dict[str, list[int]] = {}  # a status (or "defer:<iso>") → check-in ids
        opened: list[tuple[_Due, str]] = []
        for checkin in mine:
            ep, contact = episodes[checkin.episode_id], contacts[checkin.contact_id]
            decision = _decide(rt, checkin, ep, contact, now, busy, recent)
            if decision == "open":
                channel = pick_channel(rt, contact)
                assert channel is not None  # _decide checked
                opened.append((checkin, channel))
                busy.add(contact.id)
                recent.setdefault(contact.id, []).append(
                    (checkin.importance, ep.id, ep.person_id))
            else:
                updates.setdefault(decision, []).append(checkin.id)

        await _apply_decisions(conn, updates, now, cfg.busy_defer_minutes)
        handed: list[outbox.Queued] = []
        lease_until = now + timedelta(seconds=rt.settings.worker.lease_seconds)
        if opened:
            handed = await _open_many(rt, conn, opened, episodes, contacts, guardians, now,
                                      lease_until)
    # Committed: the first messages, leased to this process, go straight to its sender.
    if handed:
        outbox.hand_off(rt, handed, lease_until)
    rt.metrics.checkins_planned(opened, updates)
    return len(opened)


def _decide(rt: Runtime, checkin: _Due, ep: _Episode, contact: ContactFacts, now: datetime,
            busy: set[int], recent: dict[int, list[tuple[int, int, int]]]) -> str:
    """What to do with one due check-in: open, cancel, skip:<reason>, busy or quiet:<when>."""
    if ep.status != EpisodeStatus.ACTIVE:
        return "cancel"
    if contact.opted_out_at:
        return "skip:opted_out"
    if contact.stopped_reason:
        return f"skip:{contact.stopped_reason}"
    # Fatigue counts surveys about the same person: a parent is still asked about each child
    # (every message names the child), and one episode's own schedule is never cut short.
    # The recovery question answers what the person raised: fatigue never blocks it.
    if checkin.survey_id != RECOVERY and any(
            imp >= checkin.importance and eid != ep.id and pid == ep.person_id
            for imp, eid, pid in recent.get(contact.id, ())):
        return "skip:fatigue"
    if pick_channel(rt, contact) is None:
        return "skip:unreachable"
    window = rt.send_window(ep.department_code)
    allowed = next_send_time(now, rt.settings.tz, window, checkin.id)
    if allowed > now:
        # Quiet hours or a no-send day (settings may have changed since planning).
        return f"quiet:{allowed.isoformat()}"
    if contact.id in busy:
        # One survey at a time per person (a guardian with two children gets them one
        # after the other): look again later.
        return "busy"
    return "open"


async def _apply_decisions(conn: BaseDBAsyncClient, updates: dict[str, list[int]],
                           now: datetime, defer_minutes: int) -> None:
    free = {"lease_owner": None, "lease_until": None}
    for decision, ids in updates.items():
        q = CheckIn.filter(id__in=ids).using_db(conn)
        if decision == "cancel":
            await q.update(status=CheckinStatus.CANCELLED, **free)
        elif decision.startswith("skip:"):
            await q.update(status=CheckinStatus.SKIPPED, lost_reason=decision[5:], **free)
        elif decision.startswith("quiet:"):
            await q.update(send_at=datetime.fromisoformat(decision[6:]), **free)
        elif decision == "busy":
            # The lease doubles as a snooze; the dispatcher lifts it when the survey ends.
            await q.update(lease_until=now + timedelta(minutes=defer_minutes))


async def _open_many(rt: Runtime, conn: BaseDBAsyncClient, opened: list[tuple[_Due, str]],
                     episodes: dict[int, _Episode], contacts: dict[int, ContactFacts],
                     guardians: set[tuple[int, int]], now: datetime,
                     lease_until: datetime) -> list[outbox.Queued]:
    """Open the batch; returns its first messages, written already leased to this worker
    until ``lease_until``."""
    cfg = rt.settings.checkin
    lease = {"lease_owner": f"{rt.worker_id}#opened", "lease_until": lease_until}
    expires = now + timedelta(hours=cfg.reply_window_hours)
    # The link stays valid through every attempt and the last reply window.
    link_until = now + timedelta(hours=cfg.reply_window_hours * (cfg.max_attempts + 1))
    messages: list[dict[str, Any]] = []
    link_rows: list[dict[str, Any]] = []
    starts = []
    texts = rt.texts  # a copy of the settings' texts: made once, not per check-in
    for checkin, _ in opened:
        ep, contact = episodes[checkin.episode_id], contacts[checkin.contact_id]
        survey = rt.settings.surveys[checkin.survey_id]
        ctx, greeting = build_context(rt, ep.facts, contact.name,
                                      (ep.person_id, contact.id) in guardians)
        starts.append((ctx, engine.start(checkin.survey_id, survey, texts, ctx, greeting)))
    # The conversations in one statement; their ids come back by check-in.
    conv_ids = {int(r["checkin_id"]): int(r["id"]) for r in await bulk.insert(conn, Conversation, [
        {"contact_id": checkin.contact_id, "checkin_id": checkin.id, "channel": channel,
         "state": step.state, "last_activity_at": now, "status": ConversationStatus.OPEN}
        for (checkin, channel), (_, step) in zip(opened, starts, strict=True)
    ], returning=("id", "checkin_id"))}
    for (checkin, channel), (ctx, step) in zip(opened, starts, strict=True):
        survey = rt.settings.surveys[checkin.survey_id]
        token = links.new_token()
        link_rows.append({"token": token, "checkin_id": checkin.id, "created_at": now,
                          "expires_at": link_until})
        # Template-only channels (SMS, WeChat templates) build their message from these.
        params = {**ctx.values, "link": links.link_url(rt, token), "link_token": token,
                  "survey": survey.title}
        messages.extend(
            {**outbox.new_row(key=f"checkin:{checkin.id}:open:{i}", channel=channel,
                              contact_id=checkin.contact_id,
                              conversation_id=conv_ids[checkin.id], body=text, now=now,
                              kind="checkin", params=params), **lease}
            for i, text in enumerate(step.outbound))
    await bulk.insert(conn, SurveyLink, link_rows)
    msg_ids = {r["dedupe_key"]: int(r["id"]) for r in await bulk.insert(
        conn, Message, messages, returning=("id", "dedupe_key"))}
    by_channel: dict[str, list[int]] = {}
    for checkin, channel in opened:
        by_channel.setdefault(channel, []).append(checkin.id)
    at = bulk.column_converter(CheckIn, "opened_at")
    for channel, ids in by_channel.items():
        # Plain SQL: one statement text for any batch (the ORM rebuilt a long IN list).
        await bulk.execute_in(
            conn, 'UPDATE "checkin" SET "status" = {0}, "channel" = {1}, "opened_at" = {2}, '
            '"last_attempt_at" = {3}, "attempts" = 1, "expires_at" = {4}, "lease_owner" = NULL, '
            '"lease_until" = NULL WHERE "id" IN',
            [CheckinStatus.OPENED.value, channel, at(now), at(now), at(expires)], ids)
    # One audit record per batch: which check-ins this worker opened, on which channel.
    await ledger.append(
        AuditEvent, kind="checkins_opened", actor="bot", subject_type="checkin",
        subject_id=str(opened[0][0].id),
        data={"worker": rt.worker_id, "checkins": {str(c.id): ch for c, ch in opened}},
        recorded_at=now,
    )
    # In id order: one person's messages leave in the order they were written.
    copied = [f for f in outbox.Queued.FIELDS if f not in ("id", "attempts", "unsure_since")]
    return sorted((outbox.Queued(id=msg_ids[m["dedupe_key"]], attempts=0,
                                 **{f: m[f] for f in copied})
                   for m in messages), key=lambda q: q.id)


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


async def _round_not_over(conn: BaseDBAsyncClient, checkin: CheckIn, now: datetime,
                          window_hours: int) -> datetime | None:
    """When this attempt's reply window really ends, if not yet; None when it is over.

    The window counts from when the attempt's messages went out, not from when they were
    written: a message that waited (a paused channel, a cap, a retry) still gives the person
    the whole window, and one still waiting is never followed by a reminder or a "lost to
    follow-up" it never had a chance to answer.
    """
    name = "open" if checkin.attempts <= 1 else f"attempt{checkin.attempts}"
    rows = await Message.filter(
        contact_id=checkin.contact_id, direction=Direction.OUT,
        dedupe_key__startswith=f"checkin:{checkin.id}:{name}:",
    ).using_db(conn).values_list("status", "sent_at")
    window = timedelta(hours=window_hours)
    if any(status == MessageStatus.QUEUED for status, _ in rows):
        return now + window  # looked at again then; by then it is sent or failed
    last = max((at for _, at in rows if at is not None), default=None)
    return last + window if last is not None and last + window > now else None


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
        later = await _round_not_over(conn, fresh, now, cfg.reply_window_hours)
        if later is not None:
            await CheckIn.filter(id=checkin.id).using_db(conn).update(expires_at=later)
            return 0
        stopped = contact.opted_out_at or contact.stopped_reason
        channel = pick_channel(rt, contact)
        # The recovery question is asked once: no reminders.
        attempts = 1 if recovery.is_recovery(fresh.offset) else cfg.max_attempts
        if fresh.attempts >= attempts or stopped or channel is None or conv is None \
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
            rt.metrics.checkin_lost(reason)
            return 1
        window = rt.send_window(fresh.episode.department.code)
        allowed = next_send_time(now, rt.settings.tz, window, checkin.id)
        if allowed <= now and await escalations.claimed_for(conn, contact.id) is not None:
            # Staff hold one of this person's conversations: no reminder meanwhile.
            allowed = now + timedelta(minutes=cfg.busy_defer_minutes)
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
    rt.metrics.checkin_sent(channel, "reminder")
    return 1
