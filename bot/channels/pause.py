"""Channel pauses: when a provider says our own set-up is wrong, stop and keep every message.

A wrong AppSecret, an AccessKey that does not exist, a signature or template Aliyun does not
know, an IP address outside WeChat's whitelist, a permission we lack, an empty SMS balance:
every further send would fail the same way, so failing the message (and with it a patient's
follow-up) would lose it for a fault that is ours and fixable. Such an answer pauses the
channel instead — or, for a template fault, only the kinds of message that use that template —
for every process (one ``key_value`` row each), and:

* the message that met the fault, and every message queued behind it, stays queued: the outbox
  does not lease paused messages, no attempt is used, nothing falls back to another channel
  (the person would be contacted twice once the channel resumes);
* the planner keeps opening check-ins; their messages wait, and their reply window starts when
  they are actually sent (``bot.planner``);
* the process that pauses first writes one audit event, one in-app notification per active
  admin and one WeCom robot message, in the same transaction as the pause row — so an alert is
  raised once per pause whatever the number of processes;
* ``/healthz`` and the staff header show it; ``survey-bot channels resume [CHANNEL]`` lifts it
  (after the fix), and waiting messages go out on the workers' next look.

A pause with ``until`` (Aliyun's daily or monthly limit set in its console) ends by itself.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from bot import ledger
from bot.channels.base import Fault
from models import AuditEvent, KeyValue, Notification, NotificationChannel, Role, Staff

log = logging.getLogger(__name__)

PREFIX = "paused:"
LEGACY_SMS_KEY = "sms:paused"  # the SMS-only pause of earlier versions, still honoured
CHANNEL_ZH = {"wechat": "微信", "sms": "短信", "simulator": "模拟器", "h5": "H5页面",
              "voice": "语音电话"}
PAUSED_EVENT = "channel_paused"
RESUMED_EVENT = "channel_resumed"


@dataclass(frozen=True, slots=True)
class Pause:
    """One pause in force: a whole channel (``kinds`` None) or some kinds of message on it."""

    key: str
    channel: str
    kinds: frozenset[str] | None
    code: str
    zh: str
    en: str
    since: datetime | None
    until: datetime | None

    def covers(self, channel: str, kind: str) -> bool:
        """True when a message of ``kind`` on ``channel`` must wait."""
        return channel == self.channel and (self.kinds is None or kind in self.kinds)

    def describe(self) -> dict[str, object]:
        """A JSON-friendly summary (for /healthz and ``channels status``)."""
        return {"channel": self.channel, "kinds": sorted(self.kinds) if self.kinds else None,
                "code": self.code, "reason": self.en, "reason_zh": self.zh,
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat() if self.until else None}


def key_for(channel: str, kinds: Iterable[str] | None) -> str:
    """The ``key_value`` key of a pause of ``channel`` (or of some kinds on it)."""
    return f"{PREFIX}{channel}" + (f":{','.join(sorted(kinds))}" if kinds else "")


def _parse(row: KeyValue) -> Pause:
    data = json.loads(row.value or "{}")
    if row.key == LEGACY_SMS_KEY:
        channel, kinds = "sms", None
    else:
        channel, _, rest = row.key.removeprefix(PREFIX).partition(":")
        kinds = frozenset(rest.split(",")) if rest else None
    since = data.get("since")
    return Pause(key=row.key, channel=channel, kinds=kinds, code=str(data.get("code", "")),
                 zh=str(data.get("zh") or data.get("reason", "")),
                 en=str(data.get("en") or data.get("reason", "")),
                 since=datetime.fromisoformat(since) if since else None, until=row.expires_at)


async def active(now: datetime) -> list[Pause]:
    """The pauses in force at ``now`` (one indexed range read of ``key_value``)."""
    rows = await KeyValue.filter(Q(key__startswith=PREFIX) | Q(key=LEGACY_SMS_KEY))
    return [_parse(r) for r in rows if r.expires_at is None or r.expires_at > now]


def covered(pauses: Iterable[Pause], channel: str, kind: str) -> Pause | None:
    """The pause that holds a message of ``kind`` on ``channel``, if one does."""
    return next((p for p in pauses if p.covers(channel, kind)), None)


def exclusion(pauses: Iterable[Pause]) -> Q | None:
    """A filter that leaves out paused messages (for the outbox's lease), or None."""
    q: Q | None = None
    for p in pauses:
        part = Q(channel=p.channel) if p.kinds is None else Q(channel=p.channel,
                                                               kind__in=sorted(p.kinds))
        q = part if q is None else q | part
    return None if q is None else ~q


def _what_to_do(channel: str) -> str:
    return f"survey-bot channels resume {channel}"


async def pause(channel: str, fault: Fault, now: datetime) -> bool:
    """Pause ``channel`` (or the fault's kinds on it) for every process and alert once.

    Returns False when that pause was already in force (another process, or another message
    of the same batch, got there first): nothing more is written then.
    """
    key = key_for(channel, fault.kinds)
    value = json.dumps({"code": fault.code, "zh": fault.zh, "en": fault.en,
                        "since": now.isoformat()}, ensure_ascii=False)
    name = CHANNEL_ZH.get(channel, channel)
    scope = "" if fault.kinds is None else f"（{'、'.join(sorted(fault.kinds))}类消息）"
    text = (f"{name}渠道{scope}已暂停：{fault.zh}（{fault.code}）。消息均保留待发，"
            f"修复后运行 `{_what_to_do(channel)}`。")
    try:
        async with in_transaction() as conn:
            stale = await KeyValue.filter(key=key, expires_at__lte=now).using_db(conn).delete()
            if stale:
                log.info("an earlier pause %s had ended by itself; pausing again", key)
            await KeyValue.create(key=key, value=value, expires_at=fault.until, using_db=conn)
            await ledger.append(
                AuditEvent, kind=PAUSED_EVENT, actor="bot", subject_type="channel",
                subject_id=channel,
                data={"code": fault.code, "reason": fault.en,
                      "kinds": sorted(fault.kinds) if fault.kinds else None,
                      "until": fault.until.isoformat() if fault.until else None},
                recorded_at=now)
            await _notify(conn, text, PAUSED_EVENT, now)
    except IntegrityError:
        return False
    log.error("%s PAUSED for every process%s: %s (%s). Messages wait. Fix it, then run `%s`.",
              channel, f" (kinds {', '.join(sorted(fault.kinds))})" if fault.kinds else "",
              fault.en, fault.code, _what_to_do(channel))
    return True


async def resume(channel: str | None, now: datetime, actor: str = "admin") -> list[Pause]:
    """Lift the pauses of ``channel`` (every channel when None); returns those lifted.

    Waiting messages are due already (a pause never pushed them back): the workers send them
    on their next look. An audit event and a robot message say so, once per resume.
    """
    lifted: list[Pause] = []
    found = [_parse(r) for r in await KeyValue.filter(
        Q(key__startswith=PREFIX) | Q(key=LEGACY_SMS_KEY))]
    # Writes first inside the transaction: on SQLite a transaction that read before writing
    # cannot take the write lock once another process has written ("database is locked").
    async with in_transaction() as conn:
        for p in found:
            if channel is not None and p.channel != channel:
                continue
            if await KeyValue.filter(key=p.key).using_db(conn).delete():
                lifted.append(p)
        for p in lifted:
            await ledger.append(
                AuditEvent, kind=RESUMED_EVENT, actor=actor, subject_type="channel",
                subject_id=p.channel,
                data={"code": p.code, "kinds": sorted(p.kinds) if p.kinds else None,
                      "since": p.since.isoformat() if p.since else None},
                recorded_at=now)
        for name in sorted({p.channel for p in lifted}):
            await _notify(conn, f"{CHANNEL_ZH.get(name, name)}渠道已恢复发送，暂停期间保留的消息"
                          "正在发出。", RESUMED_EVENT, now, admins=False)
    for p in lifted:
        log.warning("%s resumed by %s (was paused for %s)", p.channel, actor, p.code)
    return lifted


async def _notify(conn: BaseDBAsyncClient, text: str, event: str, now: datetime, *,
                  admins: bool = True) -> None:
    """One in-app notification per active admin (when ``admins``) and one robot message.

    The robot row goes to the default robot (``[wecom] robot_key``; off when empty) and is
    sent by the staff loop like any other, within WeCom's rate limit. No name, phone or
    provider text: provider messages can echo the request (phone numbers, template values).
    """
    rows = []
    if admins:
        ids = await Staff.filter(is_active=True, role=Role.ADMIN).using_db(conn).values_list(
            "id", flat=True)
        rows = [Notification(channel=NotificationChannel.APP, staff_id=sid, event=event,
                             text=text, created_at=now) for sid in ids]
    rows.append(Notification(channel=NotificationChannel.WECOM, robot="", event=event,
                             text=text, created_at=now, next_attempt_at=now))
    await Notification.bulk_create(rows, using_db=conn)
