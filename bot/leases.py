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
    previous: bool = False,
) -> list[Any]:
    """Lease up to ``limit`` rows matching ``due`` whose lease is free or expired.

    Returns the leased rows in ``order_by`` order: model instances, or with ``fields``
    dicts of just those fields (hot paths: building a model costs more than reading it).
    Each call stamps a fresh token, so rows are told apart from earlier leases of the same
    worker. With ``previous`` (and ``fields``), each dict also has ``prev_owner`` and
    ``prev_until``: the lease this one replaced — not None when its holder let it expire
    (died, or was too slow) instead of releasing it.
    """
    token = f"{owner}#{next(_batch)}"
    until = now + timedelta(seconds=seconds)
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    async with in_transaction() as conn:
        if conn.capabilities.dialect == "postgres":
            return await _lease_pg(model, due & free, conn, token, until, limit, order_by,
                                   fields, previous, now)
        before: dict[Any, tuple[Any, Any]] = {}
        if previous:
            # SQLite runs one writer at a time: what this transaction reads, it then updates.
            found = await model.filter(due & free).using_db(conn).order_by(*order_by).limit(
                limit).values("id", "lease_owner", "lease_until")
            before = {r["id"]: (r["lease_owner"], r["lease_until"]) for r in found}
            if not before:
                return []
            updated = await model.filter(id__in=list(before)).using_db(conn).update(
                lease_owner=token, lease_until=until)
        else:
            sub = model.filter(due & free).order_by(*order_by).limit(limit).values("id")
            updated = await model.filter(id__in=Subquery(sub)).using_db(conn).update(
                lease_owner=token, lease_until=until
            )
        if not updated:
            return []
        leased = model.filter(lease_owner=token).using_db(conn).order_by(*order_by)
        if fields:
            rows = list(await leased.values(*fields, *(["id"] if "id" not in fields and
                                                       previous else [])))
            if previous:
                for r in rows:
                    r["prev_owner"], r["prev_until"] = before.get(r["id"], (None, None))
            return rows
        return list(await leased)


async def _lease_pg(model: type[Model], cond: Q, conn: BaseDBAsyncClient, token: str,
                    until: datetime, limit: int, order_by: tuple[str, ...],
                    fields: tuple[str, ...], previous: bool = False,
                    now: datetime | None = None) -> list[Any]:
    """The PostgreSQL lease as one statement; rows sorted here (RETURNING has no order).

    The candidate rows are locked with ``FOR UPDATE SKIP LOCKED`` (written here: tortoise's
    ``values_list()`` silently drops ``select_for_update()``, so the lock was never taken and
    two workers leasing at once both got the same rows — the second waited for the first's
    row locks, then overwrote its lease), and the UPDATE checks again that each row's lease
    is free, against the row as it is when locked.
    """
    meta = model._meta
    owner_col = meta.fields_db_projection["lease_owner"]
    until_col = meta.fields_db_projection["lease_until"]
    pick = ("id", "lease_owner", "lease_until") if previous else ("id",)
    sub = (model.filter(cond).using_db(conn).order_by(*order_by).limit(limit)
           .select_for_update(skip_locked=True).values_list(*pick))
    sub._choose_db_if_not_chosen()
    sub._make_query()
    sub_sql, params = sub.query.get_parameterized_sql()
    if "FOR UPDATE" not in sub_sql:
        sub_sql += " FOR UPDATE SKIP LOCKED"
    n = len(params)
    keys = [o.lstrip("-") for o in order_by]
    names = list(fields) + [k for k in keys if k not in fields] if fields else list(
        meta.db_fields)
    cols = [meta.fields_db_projection[f] if fields else f for f in names]
    dbu = meta.fields_map["lease_until"].to_db_value(until, model)
    pk = meta.db_pk_column
    dbnow = meta.fields_map["lease_until"].to_db_value(now or until, model)
    still_free = (f'AND (t."{until_col}" IS NULL OR t."{until_col}" < ${n + 3})' if now
                  else "")
    if previous:
        # The replaced lease comes back beside the new one: the CTE read it under the lock.
        returning = ",".join(f't."{c}"' for c in cols) + ', s."prev_owner", s."prev_until"'
        sql = (f'WITH s("id", "prev_owner", "prev_until") AS ({sub_sql}) '
               f'UPDATE "{meta.db_table}" AS t SET "{owner_col}"=${n + 1}, '
               f'"{until_col}"=${n + 2} FROM s WHERE t."{pk}" = s."id" {still_free} '
               f'RETURNING {returning}')
    else:
        returning = ",".join(f't."{c}"' for c in cols)
        sql = (f'UPDATE "{meta.db_table}" AS t SET "{owner_col}"=${n + 1}, '
               f'"{until_col}"=${n + 2} WHERE t."{pk}" IN ({sub_sql}) {still_free} '
               f'RETURNING {returning}')
    rows = await conn.execute_query_dict(sql, [*params, token, dbu, *([dbnow] if now else [])])
    if not rows:
        return []
    if fields:
        native = {f for _, f, _ in meta.db_native_fields}
        conv = [(f, c, meta.fields_map[f].to_python_value) for f, c in zip(names, cols, strict=True)
                if f not in native]
        until_py = meta.fields_map["lease_until"].to_python_value
        out: list[Any] = []
        for r in rows:
            d = {f: r[c] for f, c in zip(names, cols, strict=True)}
            for f, c, to_py in conv:
                d[f] = to_py(r[c])
            if previous:
                d["prev_owner"] = r["prev_owner"]
                d["prev_until"] = until_py(r["prev_until"]) if r["prev_until"] else None
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


async def release_held(model: type[Model], row_id: Any, owner: str, where: Q | None = None,
                       **changes: Any) -> int:
    """Drop a lease only while ``owner`` still holds it (and ``where`` holds), applying
    ``changes``; 0 when someone else took the row meanwhile (a fenced write)."""
    q = model.filter(id=row_id, lease_owner=owner)
    if where is not None:
        q = q.filter(where)
    return await q.update(lease_owner=None, lease_until=None, **changes)


async def renew(model: type[Model], owner: str, ids: list[Any], until: datetime) -> set[Any]:
    """Extend ``owner``'s lease on ``ids`` to ``until``; returns the ids it still held."""
    if not ids:
        return set()
    async with in_transaction() as conn:
        await model.filter(id__in=ids, lease_owner=owner).using_db(conn).update(
            lease_until=until)
        return set(await model.filter(id__in=ids, lease_owner=owner, lease_until=until
                                      ).using_db(conn).values_list("id", flat=True))


async def release_many(model: type[Model], row_ids: list[Any]) -> None:
    """Drop the leases on several rows (one statement)."""
    if row_ids:
        await model.filter(id__in=row_ids).update(lease_owner=None, lease_until=None)
