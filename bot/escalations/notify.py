"""Staff notifications: in-app rows and WeCom (企业微信) group-robot messages.

Written in the same transaction as the change they announce (persist, then send). In-app:
an unassigned escalation notifies every eligible member (its department's staff), an assigned
one only its assignee, an SLA breach the next rung of the ladder. WeCom robots accept at most
20 messages a minute each, so robot rows are queued, and each send merges everything waiting
for that robot into one markdown message. Robot text carries an id, kinds, a department and a
link, never a name, a phone or what the person wrote.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from bot.leases import lease
from bot.runtime import Runtime
from models import (
    Department,
    Escalation,
    EscalationStatus,
    Notification,
    NotificationChannel,
    Role,
    Staff,
)

log = logging.getLogger(__name__)

KIND_ZH = {"red_flag": "临床警示", "dispute": "纠纷", "complaint": "投诉", "low_score": "低分",
           "question": "咨询", "deceased": "患者去世", "wrong_number": "号码错误", "other": "其他"}
PRIORITY_ZH = {"urgent": "紧急", "high": "高", "normal": "普通"}
EVENT_ZH = {"opened": "新的待处理", "updated": "有新情况", "assigned": "已分派",
            "released": "重新待认领", "breach1": "超时，已通知科室负责人",
            "breach2": "严重超时，已通知管理层", "replied": "患者发来新消息"}
# Events a group robot hears about; claims, releases and the person's messages stay in the app.
ROBOT_EVENTS = {"opened", "updated", "breach1", "breach2"}
MARKDOWN_LIMIT = 4000  # WeCom allows 4096 bytes of markdown; leave room for the heading
WORKERS = (Role.AGENT, Role.HEAD)
LEADERS = (Role.MANAGER, Role.ADMIN)


async def _ids(conn: BaseDBAsyncClient | None, q: Q) -> set[int]:
    return {int(r["id"]) for r in await Staff.filter(q).using_db(conn).values("id")}


async def department_staff(conn: BaseDBAsyncClient | None, department_id: int | None) -> set[int]:
    """Active agents and heads working a department (any department when it has none)."""
    q = Q(is_active=True, role__in=list(WORKERS))
    if department_id is not None:
        q &= Q(departments__id=department_id)
    return await _ids(conn, q)


async def heads(conn: BaseDBAsyncClient | None, department_id: int | None) -> set[int]:
    """The department's active heads (every head when the escalation has no department)."""
    q = Q(is_active=True, role=Role.HEAD)
    if department_id is not None:
        q &= Q(departments__id=department_id)
    return await _ids(conn, q)


async def leaders(conn: BaseDBAsyncClient | None) -> set[int]:
    """Active managers and admins: they see every department."""
    return await _ids(conn, Q(is_active=True, role__in=list(LEADERS)))


async def audience(conn: BaseDBAsyncClient | None, esc: Escalation) -> set[int]:
    """Who hears about an unassigned escalation: everyone working its department; managers
    and admins when nobody does (an uncovered department); everyone active as a last resort."""
    ids = await department_staff(conn, esc.department_id)
    if not ids:
        ids = await leaders(conn)
    if not ids:
        ids = await _ids(conn, Q(is_active=True))
    return ids


async def _ladder(conn: BaseDBAsyncClient, esc: Escalation, level: int) -> set[int]:
    """Who hears about a breach: the assignee, the department's heads, then managers."""
    ids: set[int] = {esc.assignee_id} if esc.assignee_id else set()
    ids |= await heads(conn, esc.department_id)
    if level >= 2 or not ids:
        ids |= await leaders(conn)
    if not ids:
        ids = await audience(conn, esc)
    return ids


async def robot_line(conn: BaseDBAsyncClient | None, esc: Escalation, event: str) -> str:
    """One markdown line for a robot: no name, phone or symptom text (an id and a link)."""
    dept = ""
    if esc.department_id is not None:
        d = await Department.get_or_none(id=esc.department_id, using_db=conn)
        dept = d.name if d else ""
    kinds = "、".join(KIND_ZH.get(k, k) for k in (esc.kinds or [esc.kind.value]))
    prio = PRIORITY_ZH.get(esc.priority.value, esc.priority.value)
    color = "warning" if esc.priority.value == "urgent" else "comment"
    return (f'<font color="{color}">{prio}</font> #{esc.id} {kinds}'
            f'{" · " + dept if dept else ""} · {EVENT_ZH.get(event, event)}')


async def for_escalation(conn: BaseDBAsyncClient, esc: Escalation, event: str, now: datetime,
                         *, level: int = 0, new_kinds: list[str] | None = None) -> int:
    """Queue the notifications one escalation event deserves; returns how many rows.

    One row per person per event. An unassigned escalation: its department's staff (managers
    and admins when nobody works it); an assigned one: its assignee. A dispute also reaches
    the department's heads and the managers at once, an urgent kind the heads; a breach climbs
    the ladder.
    """
    claimed = esc.status == EscalationStatus.CLAIMED and esc.assignee_id
    recipients: set[int] = set()
    if event in ("opened", "updated", "released"):
        recipients = {esc.assignee_id} if claimed and esc.assignee_id \
            else await audience(conn, esc)
        fresh = set(esc.kinds or [esc.kind.value]) if event == "opened" else set(new_kinds or ())
        if fresh & {"red_flag", "dispute"}:
            recipients |= await heads(conn, esc.department_id)
        if "dispute" in fresh:
            recipients |= await leaders(conn)
    elif event == "assigned":
        recipients = {esc.assignee_id} if esc.assignee_id else set()
    elif event.startswith("breach"):
        recipients = await _ladder(conn, esc, level)
    elif event == "replied":
        recipients = {esc.assignee_id} if esc.assignee_id else set()
        if recipients and await Notification.filter(
                channel=NotificationChannel.APP, staff_id=esc.assignee_id,
                escalation_id=esc.id, event="replied", read_at__isnull=True,
        ).using_db(conn).exists():
            return 0  # one unread "the person wrote" per conversation is enough
    text = await robot_line(conn, esc, event)
    rows = [
        Notification(channel=NotificationChannel.APP, staff_id=sid, escalation_id=esc.id,
                     event=event, text=text, created_at=now)
        for sid in sorted(r for r in recipients if r)
    ]
    if event in ROBOT_EVENTS:
        code = ""
        if esc.department_id is not None:
            d = await Department.get_or_none(id=esc.department_id, using_db=conn)
            code = d.code if d else ""
        rows.append(Notification(channel=NotificationChannel.WECOM, escalation_id=esc.id,
                                 robot=code, event=event, text=text, created_at=now,
                                 next_attempt_at=now))
    if rows:
        await Notification.bulk_create(rows, using_db=conn)
    return len(rows)


async def unread_count(staff_id: int) -> int:
    """How many in-app notifications this member has not read."""
    return await Notification.filter(channel=NotificationChannel.APP, staff_id=staff_id,
                                     read_at__isnull=True).count()


# --- the WeCom robot sender ---


def _robot_key(rt: Runtime, department_code: str) -> str:
    cfg = rt.settings.wecom
    return cfg.department_robots.get(department_code, "") or cfg.robot_key


def _key_tag(key: str) -> str:
    # Rows remember which robot sent them by a digest, never the secret key itself.
    return hashlib.sha256(key.encode()).hexdigest()[:12]


async def _sent_last_minute(tag: str, now: datetime) -> tuple[int, datetime | None]:
    rows = await Notification.filter(
        channel=NotificationChannel.WECOM, status="sent", batch__startswith=f"{tag}:",
        sent_at__gt=now - timedelta(seconds=60),
    ).order_by("sent_at").values_list("batch", "sent_at")
    batches: dict[str, datetime] = {}
    for batch, sent_at in rows:
        batches.setdefault(batch, sent_at)
    oldest = min(batches.values()) if batches else None
    return len(batches), oldest


class RobotError(Exception):
    """A robot send failed; ``retry_after`` seconds when the robot asked us to slow down."""

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


async def post_markdown(rt: Runtime, http: aiohttp.ClientSession, key: str, content: str) -> None:
    """POST one markdown message to a group robot; raise RobotError unless errcode is 0."""
    cfg = rt.settings.wecom
    url = f"{cfg.base_url.rstrip('/')}/cgi-bin/webhook/send"
    body = {"msgtype": "markdown", "markdown": {"content": content}}
    try:
        async with http.post(url, params={"key": key}, json=body,
                             timeout=aiohttp.ClientTimeout(total=cfg.timeout_seconds)) as resp:
            if resp.status >= 500:
                raise RobotError(f"HTTP {resp.status}", retryable=True)
            data: dict[str, Any] = await resp.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as e:
        raise RobotError(f"{type(e).__name__}: {e}"[:200], retryable=True) from e
    code = int(data.get("errcode", -1))
    if code == 0:
        return
    msg = f"errcode {code}: {data.get('errmsg', '')}"[:200]
    if code == 45009:  # api freq out of limit
        raise RobotError(msg, retryable=True, retry_after=60)
    # -1 system busy is worth another try; 93000 (bad key) and friends are not.
    raise RobotError(msg, retryable=code == -1)


async def send_due(rt: Runtime, http: aiohttp.ClientSession) -> int:
    """Send what waits for each robot as one merged message, within 20 a minute per robot."""
    now = rt.now()
    w = rt.settings.worker
    due = Q(channel=NotificationChannel.WECOM, status="queued", next_attempt_at__lte=now)
    batch: list[Notification] = await lease(Notification, due, now=now, owner=rt.worker_id,
                                            seconds=w.lease_seconds, limit=w.batch_size)
    if not batch:
        return 0
    groups: dict[str, list[Notification]] = defaultdict(list)
    for n in batch:
        groups[_robot_key(rt, n.robot)].append(n)
    sent = 0
    for key, rows in groups.items():
        ids = [r.id for r in rows]
        if not key:
            # No robot configured for this department: nothing to send, say so once.
            await Notification.filter(id__in=ids).update(status="off", lease_owner=None,
                                                         lease_until=None)
            continue
        tag = _key_tag(key)
        count, oldest = await _sent_last_minute(tag, now)
        if count >= rt.settings.wecom.per_minute:
            wait_until = (oldest or now) + timedelta(seconds=60)
            await Notification.filter(id__in=ids).update(next_attempt_at=wait_until,
                                                         lease_owner=None, lease_until=None)
            continue
        take: list[Notification] = []
        lines: list[str] = []
        size = 0
        for r in rows:
            # Escalations link to their page; operational notes (a paused channel) say it all.
            line = f"> {r.text}" + (
                f" [查看]({rt.settings.server.base_url()}/staff/escalations/{r.escalation_id})"
                if r.escalation_id is not None else "")
            if take and size + len(line.encode()) > MARKDOWN_LIMIT:
                break
            take.append(r)
            lines.append(line)
            size += len(line.encode()) + 1
        if any(r.escalation_id is None for r in take):
            heading = f"**回访机器人：{len(take)} 条通知**" if len(take) > 1 \
                else "**回访机器人：运行通知**"
        else:
            heading = f"**回访机器人：{len(take)} 条待处理事项需要关注**" if len(take) > 1 \
                else "**回访机器人：待处理事项需要关注**"
        content = "\n".join([heading, *lines])
        taken = [r.id for r in take]
        rest = [i for i in ids if i not in taken]
        if rest:
            await Notification.filter(id__in=rest).update(lease_owner=None, lease_until=None)
        attempts = max(r.attempts for r in take) + 1
        try:
            await post_markdown(rt, http, key, content)
        except RobotError as e:
            final = not e.retryable or attempts >= w.max_send_attempts
            backoff = e.retry_after or w.retry_backoff_seconds * (2 ** (attempts - 1))
            await Notification.filter(id__in=taken).update(
                status="failed" if final else "queued", attempts=attempts, error=str(e)[:255],
                next_attempt_at=None if final else now + timedelta(seconds=backoff),
                lease_owner=None, lease_until=None,
            )
            log.warning("WeCom robot %s: %s (attempt %d%s)", tag, e, attempts,
                        ", giving up" if final else "")
            continue
        await Notification.filter(id__in=taken).update(
            status="sent", sent_at=now, batch=f"{tag}:{uuid.uuid4().hex[:12]}",
            attempts=attempts, error=None, lease_owner=None, lease_until=None,
        )
        sent += len(take)
    await asyncio.sleep(0)
    return sent


async def mark_read(staff_id: int, now: datetime, ids: list[int] | None = None) -> None:
    """Mark a member's in-app notifications read (all, or ``ids``)."""
    q = Notification.filter(channel=NotificationChannel.APP, staff_id=staff_id,
                            read_at__isnull=True)
    if ids is not None:
        q = q.filter(id__in=ids)
    await q.update(read_at=now)

