"""Which groups' figures are published: small groups, and the groups hidden with them.

A group with fewer than ``min_answers`` answers is hidden (primary suppression): it shows its
answer count, never its distribution, mean, rates or intervals. That alone hides nothing
when a total is published beside it: the total minus the shown groups *is* the hidden group.
So in every **line** (a total and the groups that add up to it: departments to the hospital,
clinicians to their department, periods to the range, 门诊/住院 to the department…) the hidden
groups must be such that subtracting the shown ones from the total gives only their union, and
that the union says nothing about any one of them:

- at least two groups are hidden in the line,
- their union holds at least ``min_answers`` answers, and
- their union is not unanimous (all one score): otherwise each hidden group's answers would
  be known to be that score.

While a line breaks a rule, the smallest shown group of the line is hidden too (complementary
suppression), preferring one whose answers differ from a unanimous union. Each line is
checked whether or not its total is itself shown, so a hidden total does not open a path
either. With at least two hidden groups and a union of two or more scores, every hidden
group's distribution can be traded with another's without changing anything published, so
none of them (nor any mean) can be derived; tests/test_suppression_derivation.py tries every
subtraction and every linear combination of what a page and its exports show.

Lines never hide their total, so a department is hidden or shown alike whichever of its
breakdowns a page shows (clinicians, 门诊/住院, periods): pages over the same range agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol


class Cell(Protocol):
    """What suppression needs of a tally."""

    distribution: dict[int, int]
    hidden: bool | None
    reason: str

    @property
    def answers(self) -> int: ...


Line = tuple[object, Sequence[Cell]]  # (the total, whatever it is; the groups adding up to it)


def _union(cells: Iterable[Cell]) -> dict[int, int]:
    out = dict.fromkeys(range(1, 6), 0)
    for c in cells:
        for s, n in c.distribution.items():
            out[s] += n
    return out


def line_is_safe(hidden: Sequence[Cell], min_answers: int) -> bool:
    """Whether the hidden groups of one line can stay hidden beside a published total."""
    if not hidden:
        return True
    u = _union(hidden)
    return (len(hidden) >= 2 and sum(u.values()) >= min_answers
            and sum(1 for n in u.values() if n) >= 2)


def suppress(cells: Iterable[Cell], lines: Iterable[Line], min_answers: int, *,
             forced: Iterable[Cell] = ()) -> int:
    """Decide ``hidden`` (and ``reason``) for every cell; returns how many are hidden.

    ``cells`` are every group a page publishes (totals included); ``lines`` the totals and
    the groups that add up to them; ``forced`` groups are hidden from the start (figures
    published elsewhere would give them away). Deterministic: the same data gives the same
    choice (ties go to the group listed first). A worklist: a line is looked at again only
    when one of its groups was hidden since.
    """
    cells = list(cells)
    order = {id(c): i for i, c in enumerate(cells)}
    # a cell's answers, summed once (a clinician × week page has thousands of cells)
    size = {id(c): c.answers for c in cells}

    def n_of(c: Cell) -> int:
        n = size.get(id(c))
        if n is None:
            n = size[id(c)] = c.answers
        return n

    for c in cells:
        small = 0 < size[id(c)] < min_answers
        c.hidden, c.reason = small, ("small" if small else "")
    for c in forced:
        if not c.hidden and n_of(c) > 0:
            c.hidden, c.reason = True, "complement"
    todo = [[m for m in members if (size.get(id(m)) if id(m) in size else n_of(m))]
            for _total, members in lines]
    todo = [ms for ms in todo if len(ms) > 1]
    lines_of: dict[int, list[int]] = {}
    for i, ms in enumerate(todo):
        for m in ms:
            lines_of.setdefault(id(m), []).append(i)
    queue = list(range(len(todo) - 1, -1, -1))  # popped from the end: first line first
    queued = set(queue)
    while queue:
        i = queue.pop()
        queued.discard(i)
        members = todo[i]
        hidden = [m for m in members if m.hidden]
        if not hidden or line_is_safe(hidden, min_answers):
            continue
        shown = [m for m in members if not m.hidden]
        if not shown:
            continue  # the union is the total itself: nothing is subtracted
        only = [s for s, n in _union(hidden).items() if n]
        pool = shown
        if len(only) == 1:
            # a unanimous union: a group with another score makes it say less
            differ = [m for m in shown if any(n for s, n in m.distribution.items()
                                              if s != only[0])]
            pool = differ or shown
        pick = min(pool, key=lambda m: (n_of(m), order.get(id(m), 0)))
        pick.hidden, pick.reason = True, "complement"
        for j in [i, *lines_of.get(id(pick), [])]:
            if j not in queued:
                queued.add(j)
                queue.append(j)
    return sum(1 for c in cells if c.hidden)
