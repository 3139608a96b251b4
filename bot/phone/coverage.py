"""Follow-up coverage by department and channel, the phone channels included.

For check-ins due in a period (``due_at`` in ``[since, until)``, cancelled ones and those
skipped for fatigue left out):

- **应随访** (due): how many;
- **已随访** (done): how many were answered; **随访率** = done / due;
- **失访** (lost) by reason: expired or skipped with a ``lost_reason``, never answered;

each under the channel that completed it (the channel of its first answer) or, when it was not
completed, the channel it was last tried on (``phone`` while it is on the staff call list).
For calls placed in the period (``call`` table: ``voice`` the keypad survey, ``phone`` staff):

- **接通率** (connect rate) = answered calls / calls placed (calls Aliyun refused never rang
  and are not counted);
- **完成率** (completion rate) = calls that completed a survey (a score key pressed; a staff
  call recorded as completed or partly completed) / answered calls.

The channel values are the contract with the reports: ``wechat``, ``sms``, ``h5``,
``simulator``, ``voice`` (keypad survey), ``phone`` (staff call).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.phone import keypad
from models import Answer, Call, CallStatus, CheckIn, CheckinStatus, Department

NOT_DUE = frozenset({CheckinStatus.CANCELLED.value})
NOT_COUNTED_LOST = frozenset({"fatigue"})  # a more important survey reached the person


@dataclass
class Figures:
    """One department and channel's figures (department None: all departments)."""

    department_id: int | None
    department: str
    channel: str
    due: int = 0
    done: int = 0
    lost: dict[str, int] = field(default_factory=dict)
    calls: int = 0
    connected: int = 0
    completed: int = 0

    @staticmethod
    def _rate(n: int, d: int) -> float | None:
        return round(n / d, 4) if d else None

    @property
    def follow_up_rate(self) -> float | None:
        """随访率: done / due."""
        return self._rate(self.done, self.due)

    @property
    def connect_rate(self) -> float | None:
        """接通率: answered calls / calls placed."""
        return self._rate(self.connected, self.calls)

    @property
    def completion_rate(self) -> float | None:
        """完成率: calls that completed a survey / answered calls."""
        return self._rate(self.completed, self.connected)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly form (for the reports)."""
        return {"department_id": self.department_id, "department": self.department,
                "channel": self.channel, "due": self.due, "done": self.done,
                "follow_up_rate": self.follow_up_rate, "lost": dict(self.lost),
                "lost_total": sum(self.lost.values()), "calls": self.calls,
                "connected": self.connected, "connect_rate": self.connect_rate,
                "completed": self.completed, "completion_rate": self.completion_rate}


async def figures(since: datetime, until: datetime,
                  departments: Collection[int] | None = None) -> list[Figures]:
    """The coverage figures of the period, one row per department and channel, then one total
    row per channel (``department_id`` None), sorted by department name and channel."""
    cq = CheckIn.filter(due_at__gte=since, due_at__lt=until).exclude(status__in=NOT_DUE)
    callq = Call.filter(placed_at__gte=since, placed_at__lt=until).exclude(
        status=CallStatus.REFUSED)
    if departments is not None:
        cq = cq.filter(episode__department_id__in=sorted(departments))
        callq = callq.filter(department_id__in=sorted(departments))
    checkins = await cq.values("id", "status", "channel", "lost_reason",
                               "episode__department_id")
    ids = [int(c["id"]) for c in checkins]
    first_channel: dict[int, str] = {}
    for cid, channel in await Answer.filter(checkin_id__in=ids).order_by("id").values_list(
            "checkin_id", "channel") if ids else []:
        first_channel.setdefault(int(cid), str(channel))
    rows: dict[tuple[int | None, str], Figures] = {}

    def row(dept: int | None, channel: str) -> Figures:
        return rows.setdefault((dept, channel), Figures(dept, "", channel))

    for c in checkins:
        if c["lost_reason"] in NOT_COUNTED_LOST:
            continue
        dept = c["episode__department_id"]
        answered = c["status"] == CheckinStatus.ANSWERED.value
        channel = first_channel.get(int(c["id"])) or c["channel"] or "—"
        r = row(dept, channel)
        r.due += 1
        if answered:
            r.done += 1
        elif c["lost_reason"] and c["status"] in (CheckinStatus.EXPIRED.value,
                                                  CheckinStatus.SKIPPED.value):
            r.lost[c["lost_reason"]] = r.lost.get(c["lost_reason"], 0) + 1
    for dept, channel, status, outcome, dtmf in await callq.values_list(
            "department_id", "channel", "status", "outcome", "dtmf"):
        r = row(dept, channel)
        r.calls += 1
        if status == CallStatus.ANSWERED.value:
            r.connected += 1
            key = keypad.first_key(dtmf or "")
            if (channel == keypad.VOICE and key in keypad.ANSWER_KEYS) or outcome in (
                    "completed", "partial"):
                r.completed += 1
    names = dict(await Department.filter(
        id__in=[d for d, _ in rows if d is not None]).values_list("id", "name"))
    totals: dict[str, Figures] = {}
    for (dept, channel), r in rows.items():
        r.department = names.get(dept, "—") if dept is not None else "—"
        t = totals.setdefault(channel, Figures(None, "", channel))
        t.due, t.done = t.due + r.due, t.done + r.done
        t.calls, t.connected, t.completed = (t.calls + r.calls, t.connected + r.connected,
                                             t.completed + r.completed)
        for reason, n in r.lost.items():
            t.lost[reason] = t.lost.get(reason, 0) + n
    ordered = sorted(rows.values(), key=lambda r: (r.department, r.channel))
    return ordered + sorted(totals.values(), key=lambda r: r.channel)
