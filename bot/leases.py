"""Short database leases so one process or ten share background work safely.

PostgreSQL: ``SELECT … FOR UPDATE SKIP LOCKED`` then stamp the lease, in one transaction.
SQLite: one conditional ``UPDATE … WHERE id IN (SELECT … LIMIT n)``; SQLite runs one writer
at a time, so the statement is atomic. (tortoise silently ignores SKIP LOCKED on SQLite.)
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from tortoise.expressions import Q, Subquery
from tortoise.models import Model
from tortoise.transactions import in_transaction

_batch = itertools.count(1)


async def lease(
    model: type[Model],
    due: Q,
    *,
    now: datetime,
    owner: str,
    seconds: int,
    limit: int,
    order_by: tuple[str, ...] = ("id",),
    fields: tuple[str, ...] = (),
) -> list[Any]:
    """Lease up to ``limit`` rows matching ``due`` whose lease is free or expired.

    Returns the leased rows in ``order_by`` order: model instances, or with ``fields``
    dicts of just those fields (hot paths: building a model costs more than reading it).
    Each call stamps a fresh token, so rows are told apart from earlier leases of the same
    worker.
    """
    token = f"{owner}#{next(_batch)}"
    until = now + timedelta(seconds=seconds)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    async with in_transaction() as conn:
        if conn.capabilities.dialect == "postgres":
            ids = await (
                model.filter(due & free)
                .using_db(conn)
                .order_by(*order_by)
                .limit(limit)
                .select_for_update(skip_locked=True)
                .values_list("id", flat=True)
            )
            if not ids:
                return []
            await model.filter(id__in=list(ids)).using_db(conn).update(
                lease_owner=token, lease_until=until
            )
        else:
            sub = model.filter(due & free).order_by(*order_by).limit(limit).values("id")
            updated = await model.filter(id__in=Subquery(sub)).using_db(conn).update(
                lease_owner=token, lease_until=until
            )
            if not updated:
                return []
        leased = model.filter(lease_owner=token).using_db(conn).order_by(*order_by)
        if fields:
            return list(await leased.values(*fields))
        return list(await leased)


async def release(model: type[Model], row_id: Any, **changes: Any) -> None:
    """Drop the lease on one row, applying ``changes`` in the same statement."""
    await model.filter(id=row_id).update(lease_owner=None, lease_until=None, **changes)


async def release_many(model: type[Model], row_ids: list[Any]) -> None:
    """Drop the leases on several rows (one statement)."""
    if row_ids:
        await model.filter(id__in=row_ids).update(lease_owner=None, lease_until=None)
