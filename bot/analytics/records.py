"""The answers behind shown figures: the drill-down and the records export.

Rows carry the group, the period, the question, the score and the comment of the same
conversation (names and numbers masked) — never who answered, never an id, a day or a
channel finer than the page's grouping: a hidden group's answers could otherwise be picked out
of a shown group's rows (by clinician, by day) and its figures worked out. Only groups the
page shows are listed, ordered by score, so order says nothing about who answered when.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from bot.analytics import exports, themes
from bot.analytics.tallies import (
    RECOVERY,
    Tally,
    _orm_scope,
    _period_bounds,
    bucket,
    clinician_key,
    filter_group,
)
from bot.analytics.views import TallyView
from models import Answer, Conversation

LIMIT = 200_000


def _group_of(view: TallyView, r: dict[str, Any]) -> Any:
    by = view.by
    if by == "department":
        return r["department_id"]
    if by == "clinician":
        return (r["department_id"], clinician_key(r["clinician_code"], r["clinician"]))
    if by == "treatment":
        return r["treatment_type"]
    if by == "channel":
        return r["channel"]
    return ""


async def _scored(view: TallyView, extra: dict[str, Any] | None = None,
                  cell: Tally | None = None) -> list[dict[str, Any]]:
    q = _orm_scope(Answer.filter(score__isnull=False), view.scope)
    if view.scope.question_id:
        q = q.filter(question_id=view.scope.question_id)
    if extra:
        q = q.filter(**extra)
    if cell is not None:  # one group (and period): narrowed in SQL
        q = filter_group(q, view.by, cell.key_id)
        if cell.period and view.period not in ("all",):
            first, last = _period_bounds(view.period, cell.period)
            q = q.filter(local_day__gte=first.isoformat(), local_day__lte=last.isoformat())
    return list(await q.exclude(question_id=RECOVERY).order_by("score", "id").limit(
        LIMIT).values("department_id", "clinician", "clinician_code", "treatment_type",
                      "channel", "question_id", "score", "local_day", "conversation_id"))


async def _comments(conversation_ids: list[int]) -> dict[int, str]:
    """Each conversation's comments, joined, with names and numbers masked."""
    texts: dict[int, list[str]] = defaultdict(list)
    names: dict[int, set[str]] = defaultdict(set)
    for i in range(0, len(conversation_ids), 500):
        part = conversation_ids[i:i + 500]
        for c in await Answer.filter(conversation_id__in=part, score__isnull=True).exclude(
                text="").order_by("id").values("conversation_id", "text"):
            texts[c["conversation_id"]].append(c["text"])
        for c in await Conversation.filter(id__in=part).values(
                "id", "contact__name", "checkin__episode__person__name"):
            names[c["id"]] |= {n for n in (c["contact__name"],
                                           c["checkin__episode__person__name"]) if n}
    return {cid: themes.mask_text(" / ".join(ts), names.get(cid, set()))
            for cid, ts in texts.items()}


async def behind(view: TallyView, cell: Tally) -> list[dict[str, Any]]:
    """Score and comment of each answer behind one shown row of the view."""
    extra: dict[str, Any] = {"question_id": cell.question_id}
    rows = [r for r in await _scored(view, extra, cell)
            if _group_of(view, r) == cell.key_id
            and (not cell.period or bucket(r["local_day"] or "", view.period) == cell.period)]
    comments = await _comments(sorted({r["conversation_id"] for r in rows}))
    return [{"score": r["score"], "comment": comments.get(r["conversation_id"], "")}
            for r in rows]


RECORD_HEADER = ["department", "group", "period", "question", "question_title", "score",
                 "comment"]


async def sheet(view: TallyView) -> exports.Sheet:
    """Every answer behind a shown row of the view, as an export sheet."""
    shown = {(t.key_id, t.period, t.question_id): t for t in view.rows if t.shown}
    rows: list[tuple[Tally, dict[str, Any]]] = []
    for r in await _scored(view):
        per = "" if view.period == "all" else (
            bucket(r["local_day"], view.period) if r["local_day"] else "None")
        t = shown.get((_group_of(view, r), per, r["question_id"]))
        if t is not None:
            rows.append((t, r))
    comments = await _comments(sorted({r["conversation_id"] for _, r in rows}))
    rows.sort(key=lambda tr: (tr[0].parent, tr[0].key, tr[0].period, tr[0].question_id,
                              tr[1]["score"]))
    return exports.Sheet("记录 Records", RECORD_HEADER, [
        [t.parent if view.by == "clinician" else (t.key if view.by == "department" else ""),
         t.key, t.period, t.question_id, view.title(t.question_id), r["score"],
         comments.get(r["conversation_id"], "")]
        for t, r in rows])
