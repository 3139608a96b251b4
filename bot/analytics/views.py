"""One computation per /tallies page: the tallies, their totals, what is hidden, the charts'
points. The page, its CSV, XLSX and JSON exports, the drill-down and the records export all
read the same :class:`TallyView`, so a figure is the same wherever it appears.

A view reads one grouped count (``tallies.score_rows``: one query) and folds it into

- ``rows``: group × period × question (period "" when the period is the whole range),
- ``group_totals``: each group over the whole range (the comparison chart),
- ``period_totals``: all groups per period (the 全部 rows), ``grand``: the whole range,
- for clinicians, ``departments``: each department per period and in total (a clinician is
  grouped within their department, and the department adds its clinicians up),

then decides what is hidden over all of them at once (``suppression.suppress``), every
total with the groups that add up to it as one line.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.analytics import suppression, tallies
from bot.analytics.tallies import RECOVERY, Scope, Tally
from bot.config import Settings

ALL = "全部"


def question_titles(settings: Settings) -> dict[str, str]:
    """Score question id → the title managers read (the first survey that asks it wins)."""
    out: dict[str, str] = {}
    for survey in settings.surveys.values():
        for q in survey.questions:
            if q.kind == "score" and q.id != RECOVERY:
                out.setdefault(q.id, q.label)
    return out


@dataclass
class TallyView:
    """Everything a /tallies page and its exports publish."""

    by: str
    period: str
    scope: Scope
    min_answers: int
    titles: dict[str, str]
    rows: list[Tally] = field(default_factory=list)
    group_totals: dict[tuple[Any, str], Tally] = field(default_factory=dict)
    period_totals: dict[tuple[str, str], Tally] = field(default_factory=dict)
    grand: dict[str, Tally] = field(default_factory=dict)
    departments: dict[tuple[Any, str, str], Tally] = field(default_factory=dict)

    @property
    def questions(self) -> list[str]:
        """Question ids present, in title order."""
        return sorted(self.grand, key=lambda q: (q != "overall", self.title(q), q))

    @property
    def periods(self) -> list[str]:
        """Period labels present (empty for the whole range)."""
        return sorted({p for p, _ in self.period_totals if p})

    def title(self, qid: str) -> str:
        """A question's title (its id when no survey defines it any more)."""
        return self.titles.get(qid, qid)

    def every_cell(self) -> list[Tally]:
        """Every published tally (rows and all totals), each once."""
        seen: dict[int, Tally] = {}
        for t in [*self.rows, *self.group_totals.values(), *self.period_totals.values(),
                  *self.grand.values(), *self.departments.values()]:
            seen.setdefault(id(t), t)
        return list(seen.values())

    def table(self) -> list[Tally]:
        """The rows in reading order, each group followed by its total over the range
        (when the range has several periods), then the 全部 rows (all groups)."""
        out: list[Tally] = []
        by_group: dict[Any, list[Tally]] = defaultdict(list)
        for t in self.rows:
            by_group[t.key_id].append(t)
        dept_done: set[Any] = set()
        for gid, ts in by_group.items():
            if self.by == "clinician" and gid[0] not in dept_done:
                dept_done.add(gid[0])
                out.extend(sorted((d for (dept, _p, _q), d in self.departments.items()
                                   if dept == gid[0]), key=lambda d: (d.period == "", d.period,
                                                                      d.question_id)))
            out.extend(ts)
            if self.period != "all":
                out.extend(self.group_totals[(gid, q)] for q in self.questions
                           if (gid, q) in self.group_totals)
        if self.by != "question":
            out.extend(sorted(self.period_totals.values(),
                              key=lambda t: (t.period == "", t.period, t.question_id)))
        return out

    def trend(self, qid: str, limit: int = 8) -> dict[str, list[Tally]]:
        """Per group, its tallies over the periods (the groups with most answers first)."""
        if self.period == "all":
            return {}
        series: dict[Any, list[Tally]] = defaultdict(list)
        for t in self.rows:
            if t.question_id == qid:
                series[t.key_id].append(t)
        ranked = sorted(series.items(), key=lambda kv: -sum(t.answers for t in kv[1]))
        return {self._name(v[0]): v for _, v in ranked[:limit]}

    def bars(self, qid: str, limit: int = 30) -> list[Tally]:
        """Each group over the whole range (most answers first, at most ``limit``)."""
        ts = [t for (_, q), t in self.group_totals.items() if q == qid]
        return sorted(ts, key=lambda t: -t.answers)[:limit]

    def _name(self, t: Tally) -> str:
        if self.by == "clinician":
            return f"{t.key}（{t.parent}）"
        return t.key or ALL

    def cell(self, key_id: Any, question: str, period: str) -> Tally | None:
        """The published tally of one group (a department total too), or None."""
        for t in self.rows:
            if t.key_id == key_id and t.question_id == question and t.period == period:
                return t
        if period == "":
            return self.group_totals.get((key_id, question))
        return None


def build(rows: Iterable[tuple[Any, ...]], by: str, period: str,
          scope: Scope, names: dict[int, str], titles: dict[str, str], *, min_answers: int,
          scale: str = "times20") -> TallyView:
    """Fold score_rows' rows into a view and decide what it hides.

    A clinician × week page holds thousands of tallies: totals are summed as plain integers
    per total and written into their distributions once, not member by member.
    """
    view = TallyView(by, period, scope, min_answers, titles)
    view.rows = tallies.build_tallies(rows, by, names, min_answers=min_answers, scale=scale)

    def new(dim: str, key: str, q: str, per: str, key_id: Any = None,
            parent: str = "") -> Tally:
        return Tally(dim, key, q, per, key_id=key_id, min_answers=min_answers, scale=scale,
                     parent=parent)

    # each total with the groups that add up to it, one line per way of adding it up (in the
    # order the lines are first met: suppression breaks ties by it)
    parts: dict[tuple[int, str], tuple[Tally, list[Tally]]] = {}
    sums: dict[int, tuple[Tally, list[int]]] = {}  # id(total) → its counts being summed

    def line(total: Tally, members: Iterable[Tally], how: str, count: bool = True) -> None:
        k = (id(total), how)
        entry = parts.get(k)
        if entry is None:
            entry = parts[k] = (total, [])
        ms = entry[1]
        if not count:
            ms.extend(members)
            return
        acc = sums.get(id(total))
        if acc is None:
            acc = sums[id(total)] = (total, [0, 0, 0, 0, 0])
        c = acc[1]
        for m in members:
            ms.append(m)
            d = m.distribution
            c[0] += d[1]
            c[1] += d[2]
            c[2] += d[3]
            c[3] += d[4]
            c[4] += d[5]

    def settle() -> None:
        """Write the summed counts into the totals (before they are summed into others)."""
        for total, c in sums.values():
            d = total.distribution
            d[1] += c[0]
            d[2] += c[1]
            d[3] += c[2]
            d[4] += c[3]
            d[5] += c[4]
        sums.clear()

    def grouped(members: Iterable[Tally], key: Any, make: Any, into: dict[Any, Tally],
                how: str) -> None:
        """Add each member to the total ``key(member)`` of ``into`` (made when missing)."""
        batches: dict[Any, list[Tally]] = {}
        for t in members:
            k = key(t)
            b = batches.get(k)
            if b is None:
                b = batches[k] = []
                if k not in into:
                    into[k] = make(t)
            b.append(t)
        for k, b in batches.items():
            line(into[k], b, how)

    if period != "all":
        grouped(view.rows, lambda t: (t.key_id, t.question_id),
                lambda t: new(by, t.key, t.question_id, "", t.key_id, t.parent),
                view.group_totals, "periods")
        settle()
    else:  # the rows are the groups over the whole range
        for t in view.rows:
            view.group_totals[(t.key_id, t.question_id)] = t
    every_group = [*view.rows, *(view.group_totals.values() if period != "all" else [])]
    if by == "clinician":
        grouped(every_group, lambda t: (t.key_id[0], t.period, t.question_id),
                lambda t: new("department", t.parent, t.question_id, t.period, t.key_id[0]),
                view.departments, "clinicians")
        settle()
        if period != "all":
            for (dept, per, q), d in view.departments.items():
                if per:
                    line(view.departments[(dept, "", q)], (d,), "periods", count=False)
    if by == "question":
        for t in every_group:
            view.period_totals[(t.period, t.question_id)] = t
    else:
        tops = list(view.departments.values()) if by == "clinician" else every_group
        grouped(tops, lambda t: (t.period, t.question_id),
                lambda t: new(by, ALL, t.question_id, t.period, None),
                view.period_totals, "groups")
        settle()
        if period != "all":
            for (per, q), p in view.period_totals.items():
                if per:
                    line(view.period_totals[("", q)], (p,), "periods", count=False)
    for (per, q), p in view.period_totals.items():
        if per == "":
            view.grand[q] = p
    suppression.suppress(view.every_cell(), list(parts.values()), min_answers)
    return view


async def compute(settings: Settings, *, by: str, period: str, scope: Scope) -> TallyView:
    """The view for one /tallies request: one query, then everything in memory."""
    cfg = settings.tallies
    rows = await tallies.score_counts(by, period, scope)
    names = (await tallies.department_names(scope.departments)
             if by in ("department", "clinician") else {})
    return build(rows, by, period, scope, names, question_titles(settings),
                 min_answers=cfg.min_answers, scale=cfg.hundred_point)
