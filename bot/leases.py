"""Short database leases so one process or ten share background work safely.

PostgreSQL: one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING …``
(the filter's SQL is tortoise's own), so a lease is one round trip, not three.
SQLite: one conditional ``UPDATE … WHERE id IN (SELECT … LIMIT n)``; SQLite runs one writer
at a time, so the statement is atomic. (tortoise silently ignores SKIP LOCKED on SQLite.)
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
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
            return await _lease_pg(model, due & free, conn, token, until, limit, order_by,
                                   fields)
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


async def _lease_pg(model: type[Model], cond: Q, conn: BaseDBAsyncClient, token: str,
                    until: datetime, limit: int, order_by: tuple[str, ...],
                    fields: tuple[str, ...]) -> list[Any]:
    """The PostgreSQL lease as one statement; rows sorted here (RETURNING has no order)."""
    meta = model._meta
    sub = (model.filter(cond).using_db(conn).order_by(*order_by).limit(limit)
           .select_for_update(skip_locked=True).values_list("id", flat=True))
    sub._choose_db_if_not_chosen()
    sub._make_query()
    sub_sql, params = sub.query.get_parameterized_sql()
    n = len(params)
    keys = [o.lstrip("-") for o in order_by]
    names = list(fields) + [k for k in keys if k not in fields] if fields else list(
        meta.db_fields)
    cols = [meta.fields_db_projection[f] if fields else f for f in names]
    dbu = meta.fields_map["lease_until"].to_db_value(until, model)
    returning = ",".join(f'"{c}"' for c in cols)
    rows = await conn.execute_query_dict(
        f'UPDATE "{meta.db_table}" SET "{meta.fields_db_projection["lease_owner"]}"=${n + 1},'
        f' "{meta.fields_db_projection["lease_until"]}"=${n + 2} WHERE "{meta.db_pk_column}" IN'
        f' ({sub_sql}) RETURNING {returning}',
        [*params, token, dbu])
    if not rows:
        return []
    if fields:
        native = {f for _, f, _ in meta.db_native_fields}
        conv = [(f, c, meta.fields_map[f].to_python_value) for f, c in zip(names, cols, strict=True)
                if f not in native]
        out: list[Any] = []
        for r in rows:
            d = {f: r[c] for f, c in zip(names, cols, strict=True)}
            for f, c, to_py in conv:
                d[f] = to_py(r[c])
            out.append(d)
    else:
        out = [model._init_from_db(**r) for r in rows]
    # Stable sorts from the last key to the first give the mixed-direction order; NULLs come
    # last ascending and first descending, as PostgreSQL orders them.
    for o in reversed(order_by):
        k = o.lstrip("-")
        if fields:
            out.sort(key=lambda d: (d[k] is None, d[k]), reverse=o.startswith("-"))
        else:
            out.sort(key=lambda m: (getattr(m, k) is None, getattr(m, k)),
                     reverse=o.startswith("-"))
    if fields:
        extra = [k for k in keys if k not in fields]
        for d in out:
            for k in extra:
                del d[k]
    return out


async def release(model: type[Model], row_id: Any, **changes: Any) -> None:
    """Drop the lease on one row, applying ``changes`` in the same statement."""
    await model.filter(id=row_id).update(lease_owner=None, lease_until=None, **changes)


async def release_many(model: type[Model], row_ids: list[Any]) -> None:
    """Drop the leases on several rows (one statement)."""
    if row_ids:
        await model.filter(id__in=row_ids).update(lease_owner=None, lease_until=None)
