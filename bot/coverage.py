"""Cover: which departments have work waiting but nobody to do it (or no head to supervise).

Every open escalation must reach a person: one in a department nobody works goes to the
managers and admins (and the default WeCom robot), see ``bot.escalations.notify.audience``.
This lists those departments for ``survey-bot doctor`` and the staff admin page, so that
someone fixes the roster rather than the managers carrying it for ever.
"""

from __future__ import annotations

from dataclasses import dataclass

from models import CheckIn, CheckinStatus, Department, Escalation, EscalationStatus, Role, Staff


@dataclass(frozen=True, slots=True)
class Uncovered:
    """A department with work waiting and someone missing."""

    department: Department
    open_escalations: int
    active_episodes: int


@dataclass(frozen=True, slots=True)
class Coverage:
    """Departments with open escalations or episodes still being followed up, but nobody
    working them (their escalations go to the managers and admins), or no head (nobody hears
    about their breaches before the managers)."""

    no_staff: list[Uncovered]
    no_head: list[Uncovered]


async def uncovered_departments() -> Coverage:
    """Which departments lack cover (``survey-bot doctor`` and the staff admin page)."""
    escalations: dict[int, int] = {}
    for row in await Escalation.filter(
            status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED],
            department_id__isnull=False).values("department_id"):
        dept_id = int(row["department_id"])
        escalations[dept_id] = escalations.get(dept_id, 0) + 1
    episodes: dict[int, set[int]] = {}
    for dept_id, episode_id in await CheckIn.filter(
            status__in=[CheckinStatus.PLANNED, CheckinStatus.OPENED]).values_list(
            "episode__department_id", "episode_id"):
        episodes.setdefault(int(dept_id), set()).add(int(episode_id))
    busy = sorted(set(escalations) | set(episodes))
    if not busy:
        return Coverage([], [])
    staffed: set[int] = set()
    headed: set[int] = set()
    for role, dept_id in await Staff.filter(
            is_active=True, role__in=[Role.AGENT, Role.HEAD],
            departments__id__in=busy).values_list("role", "departments__id"):
        staffed.add(int(dept_id))
        if role == Role.HEAD:
            headed.add(int(dept_id))
    rows = [Uncovered(d, escalations.get(d.id, 0), len(episodes.get(d.id, ())))
            for d in await Department.filter(id__in=busy).order_by("code")]
    return Coverage(no_staff=[r for r in rows if r.department.id not in staffed],
                    no_head=[r for r in rows if r.department.id not in headed])
