"""One tally's figures: the 1–5 distribution, mean and its t interval, the 100-point score,
top box and top-two box with Wilson intervals, and what a group too small to show hides.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.analytics.stats import MIN_ANSWERS_FOR_MEAN, Rate, rnd, t95

HUNDRED_POINT = {
    # 非常满意 100, 满意 80, 一般 60, 不满意 40, 非常不满意 20: the mean × 20
    "times20": (20.0, 0.0),
    # 5 → 100, 1 → 0: (mean − 1) × 25
    "linear": (25.0, -25.0),
}


class TallyError(ValueError):
    """A tally request that cannot be answered; the message says what to change."""


def _r(x: float | None, nd: int = 4) -> float | None:
    return rnd(x, nd)


def to_hundred(x: float | None, scale: str = "times20") -> float | None:
    """A 1–5 mean on the 100-point scale (``[tallies] hundred_point``)."""
    if x is None:
        return None
    mul, add = HUNDRED_POINT[scale]
    return x * mul + add


@dataclass(eq=False)
class Tally:
    """Scores of one group (e.g. a department) for one question and period.

    ``hidden`` is decided by :func:`bot.analytics.suppression.suppress` (a small group, or one
    hidden with it so that it cannot be worked out from a total); before that, a group is
    shown from ``min_answers`` answers on. A hidden group shows its answer count only.
    """

    dimension: str
    key: str  # what the group is called on screen (department name, clinician, "wechat")
    question_id: str
    period: str = ""  # "" for the whole range, else "2026-10", "2026-Q4", "2026-11-16", ...
    key_id: Any = None  # department id (department), (department id, clinician key) (clinician)
    distribution: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))
    min_answers: int = MIN_ANSWERS_FOR_MEAN
    hidden: bool | None = None
    reason: str = ""  # why hidden: "small" (under min_answers) or "complement"
    scale: str = "times20"
    parent: str = ""  # the department a clinician belongs to (its name)

    @property
    def department(self) -> str:
        """The group's name (kept for templates written against department tallies)."""
        return self.key

    @property
    def answers(self) -> int:
        """How many scored answers."""
        return sum(self.distribution.values())

    @property
    def shown(self) -> bool:
        """Whether its figures are published (suppression decides; else min_answers)."""
        n = self.answers
        if self.hidden is not None:
            return not self.hidden and n > 0
        return n >= self.min_answers and n > 0

    @property
    def shown_distribution(self) -> list[int] | None:
        """The 1–5 counts, or None when hidden."""
        return [self.distribution[s] for s in range(1, 6)] if self.shown else None

    @property
    def mean(self) -> float | None:
        """Mean score, or None when hidden."""
        if not self.shown:
            return None
        return sum(k * v for k, v in self.distribution.items()) / self.answers

    @property
    def sd(self) -> float | None:
        """Sample standard deviation (None when hidden)."""
        m, n = self.mean, self.answers
        if m is None or n < 2:
            return None
        ss = sum(v * (k - m) ** 2 for k, v in self.distribution.items())
        return math.sqrt(ss / (n - 1))

    @property
    def mean_ci(self) -> tuple[float, float] | None:
        """95 % t interval of the mean, clipped to 1–5 (None when hidden)."""
        m, s, n = self.mean, self.sd, self.answers
        if m is None or s is None:
            return None
        half = t95(n - 1) * s / math.sqrt(n)
        return max(1.0, m - half), min(5.0, m + half)

    @property
    def score100(self) -> float | None:
        """The mean on the 100-point scale (None when hidden)."""
        return to_hundred(self.mean, self.scale)

    @property
    def score100_ci(self) -> tuple[float, float] | None:
        """The mean's interval on the 100-point scale."""
        ci = self.mean_ci
        if ci is None:
            return None
        lo, hi = to_hundred(ci[0], self.scale), to_hundred(ci[1], self.scale)
        return (lo, hi) if lo is not None and hi is not None else None

    @property
    def top_box(self) -> float | None:
        """Share of 5s, or None when hidden."""
        return self.top_box_rate.value

    @property
    def top_two_box(self) -> float | None:
        """Share of 4s and 5s, or None when hidden."""
        return self.top_two_rate.value

    @property
    def top_box_rate(self) -> Rate:
        """Share of 5s with its interval."""
        return Rate(self.distribution[5], self.answers, self.min_answers, not self.shown)

    @property
    def top_two_rate(self) -> Rate:
        """Share of 4s and 5s with its interval."""
        return Rate(self.distribution[4] + self.distribution[5], self.answers, self.min_answers,
                    not self.shown)

    def figures(self) -> dict[str, Any]:
        """Every published figure, rounded once for every format (None when hidden)."""
        ci, sci = self.mean_ci, self.score100_ci
        tb, t2 = self.top_box_rate, self.top_two_rate
        tbc, t2c = tb.ci, t2.ci
        return {
            "answers": self.answers, "distribution": self.shown_distribution,
            "mean": _r(self.mean, 2), "mean_lo": _r(ci[0], 2) if ci else None,
            "mean_hi": _r(ci[1], 2) if ci else None,
            "score100": _r(self.score100, 1), "score100_lo": _r(sci[0], 1) if sci else None,
            "score100_hi": _r(sci[1], 1) if sci else None,
            "top_box": _r(tb.value, 3), "top_box_lo": _r(tbc[0], 3) if tbc else None,
            "top_box_hi": _r(tbc[1], 3) if tbc else None,
            "top_two_box": _r(t2.value, 3), "top_two_lo": _r(t2c[0], 3) if t2c else None,
            "top_two_hi": _r(t2c[1], 3) if t2c else None,
            "hidden": not self.shown, "reason": self.reason if not self.shown else "",
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form; hidden figures are null."""
        return {"dimension": self.dimension, "key": self.key, "department": self.parent,
                "question": self.question_id, "period": self.period, **self.figures()}


def combine(tallies: Iterable[Tally], *, dimension: str = "", key: str = "",
            question_id: str = "", period: str = "",
            min_answers: int = MIN_ANSWERS_FOR_MEAN) -> Tally:
    """One tally over several (e.g. all departments)."""
    t = Tally(dimension, key, question_id, period, min_answers=min_answers)
    for x in tallies:
        for s, n in x.distribution.items():
            t.distribution[s] += n
    return t
