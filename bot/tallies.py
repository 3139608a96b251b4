"""Satisfaction tallies: answers, distribution and mean per department and question."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tortoise.functions import Count

from models import Answer, Department, Escalation, EscalationStatus

MIN_ANSWERS_FOR_MEAN = 5  # fewer answers would single people out and mislead


@dataclass
class Tally:
    """Scores for one department and question."""

    department: str
    question_id: str
    distribution: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))

    @property
    def answers(self) -> int:
        """How many scored answers."""
        return sum(self.distribution.values())

    @property
    def mean(self) -> float | None:
        """Mean score, or None when too few answers to show one."""
        n = self.answers
        if n < MIN_ANSWERS_FOR_MEAN:
            return None
        return sum(k * v for k, v in self.distribution.items()) / n

    @property
    def top_two_box(self) -> float | None:
        """Share of 4s and 5s, or None when too few answers."""
        n = self.answers
        if n < MIN_ANSWERS_FOR_MEAN:
            return None
        return (self.distribution[4] + self.distribution[5]) / n


async def score_tallies(since: datetime | None = None,
                        until: datetime | None = None) -> list[Tally]:
    """Tallies per department and question over ``[since, until)`` (one GROUP BY query)."""
    q = Answer.filter(score__isnull=False)
    if since is not None:
        q = q.filter(recorded_at__gte=since)
    if until is not None:
        q = q.filter(recorded_at__lt=until)
    rows = await (
        q.annotate(n=Count("id"))
        .group_by("department_id", "question_id", "score")
        .values("department_id", "question_id", "score", "n")
    )
    names = {d.id: d.name for d in await Department.all()}
    out: dict[tuple[int | None, str], Tally] = {}
    for r in rows:
        key = (r["department_id"], r["question_id"])
        t = out.get(key)
        if t is None:
            dept = names.get(r["department_id"], "—") if r["department_id"] else "—"
            t = out[key] = Tally(dept, r["question_id"])
        t.distribution[int(r["score"])] += int(r["n"])
    return sorted(out.values(), key=lambda t: (t.department, t.question_id))


async def open_escalations_by_kind() -> dict[str, int]:
    """How many escalations wait in the queues, per kind."""
    rows = await (
        Escalation.filter(status__in=[EscalationStatus.OPEN, EscalationStatus.CLAIMED])
        .annotate(n=Count("id")).group_by("kind").values("kind", "n")
    )
    return {str(r["kind"].value if hasattr(r["kind"], "value") else r["kind"]): int(r["n"])
            for r in rows}
