"""Set-at-a-time SQL for the hot paths (opening check-ins, recording sends).

The ORM writes one row per statement, and building each statement costs more than the
database running it. These helpers write many rows in one statement or one prepared
statement run many times, on SQLite and PostgreSQL alike, converting values with the
models' own fields (UTC datetimes, JSON, enums) so rows read back exactly as the ORM wrote
them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tortoise import timezone
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.fields.base import Field
from tortoise.models import Model
from tortoise.validators import MaxLengthValidator

# Both databases allow 32,766 parameters or more per statement; stay well below.
MAX_PARAMS = 16_000


def _pg(conn: BaseDBAsyncClient) -> bool:
    return conn.capabilities.dialect == "postgres"


def marks(conn: BaseDBAsyncClient, n: int, start: int = 1) -> list[str]:
    """``n`` parameter placeholders numbered from ``start`` ($1… or ?)."""
    return [f"${i}" for i in range(start, start + n)] if _pg(conn) else ["?"] * n


def column_converter(model: type[Model], field: str) -> Callable[[Any], Any]:
    """A function converting values of one column as the ORM writes them, chosen once per column.

    Converting field by field through the ORM was the largest cost of a bulk write. Plain
    columns (ints, strings, booleans with the ORM's own conversion) take a value of their
    exact type as it is, after the same length check; every other value, and every other
    field type, goes through the field itself, once per distinct object in a statement
    (the same ``now``, enum or JSON document shared by many rows is converted once).
    """
    f = model._meta.fields_map[field]
    to_db = f.to_db_value
    if type(f).to_db_value is Field.to_db_value and all(
            isinstance(v, MaxLengthValidator) for v in f.validators):
        kind = f.field_type
        limit = min((v.max_length for v in f.validators  # type: ignore[union-attr]
                     ), default=None)
        null = f.null

        def plain(value: Any) -> Any:
            if value is None and null:
                return None
            if type(value) is kind and (limit is None or len(value) <= limit):
                return value
            return to_db(value, model)  # converts, or raises the ORM's own error

        return plain
    seen: dict[int, tuple[Any, Any]] = {}

    def memo(value: Any) -> Any:
        # Keyed by identity and holding the object, so an id is never reused meanwhile.
        hit = seen.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        out = to_db(value, model)
        seen[id(value)] = (value, out)
        return out

    return memo


def _default(field: Any) -> Any:
    """A function giving the value the ORM writes for a field left out of a new row."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return timezone.now
    default = field.default
    return default if callable(default) else (lambda: default)


async def insert(conn: BaseDBAsyncClient, model: type[Model], rows: Sequence[Mapping[str, Any]],
                 returning: Sequence[str] = (), *,
                 skip_conflicts_on: str | None = None) -> list[dict[str, Any]]:
    """INSERT rows (field name → value, the same fields in each) in as few statements as fit.

    Fields left out get their defaults, as the ORM would write them. Returns the
    ``returning`` columns as the database lists them: callers match them by a unique
    column, not by position. ``skip_conflicts_on``: a unique column; rows whose value is
    already stored are skipped (``ON CONFLICT … DO NOTHING``, SQLite and PostgreSQL alike)
    and return nothing, while any other unique constraint still raises.
    """
    if not rows:
        return []
    meta = model._meta
    given = list(rows[0])
    missing = [(f, _default(meta.fields_map[f])) for f in meta.fields_db_projection
               if f not in rows[0] and not meta.fields_map[f].generated]
    fields = given + [f for f, _ in missing]
    columns = ",".join(f'"{meta.fields_db_projection[f]}"' for f in fields)
    tail = (f' ON CONFLICT ("{meta.fields_db_projection[skip_conflicts_on]}") DO NOTHING'
            if skip_conflicts_on else "")
    if returning:
        tail += " RETURNING " + ",".join(f'"{c}"' for c in returning)
    if _pg(conn):
        return await _insert_unnest(conn, model, rows, given, missing, columns, tail, returning)
    per = max(1, MAX_PARAMS // len(fields))
    out: list[dict[str, Any]] = []
    for start in range(0, len(rows), per):
        chunk = rows[start:start + per]
        cols = _columns(model, chunk, given, missing)
        values = [v for row in zip(*cols, strict=True) for v in row]
        width = len(fields)
        groups = [f"({','.join(marks(conn, width, i * width + 1))})" for i in range(len(chunk))]
        sql = f'INSERT INTO "{meta.db_table}" ({columns}) VALUES {",".join(groups)}{tail}'
        if returning:
            # execute_query_dict: tortoise's execute_query drops what an INSERT returns on
            # PostgreSQL.
            out.extend(await conn.execute_query_dict(sql, values))
        else:
            await conn.execute_query(sql, values)
    return out


def _columns(model: type[Model], rows: Sequence[Mapping[str, Any]], given: list[str],
             missing: list[tuple[str, Callable[[], Any]]]) -> list[list[Any]]:
    """The rows' values column by column, converted as the ORM writes them."""
    # A fresh converter per statement, so its memo stays small.
    cols = [[conv(row[f]) for row in rows]
            for conv, f in ((column_converter(model, f), f) for f in given)]
    cols += [[conv(make()) for _ in rows]
             for conv, make in ((column_converter(model, f), make) for f, make in missing)]
    return cols


def _array_type(field: Field) -> str:
    """The PostgreSQL array type of a column's values: its type without a length.

    Without the length, a value too long for its column fails the INSERT as it would in a
    plain one (an explicit cast to ``varchar(n)`` would silently cut it).
    """
    sql_type = str(field.get_for_dialect("postgres", "SQL_TYPE"))
    return sql_type.split("(", 1)[0] + "[]"


async def _insert_unnest(conn: BaseDBAsyncClient, model: type[Model],
                         rows: Sequence[Mapping[str, Any]], given: list[str],
                         missing: list[tuple[str, Callable[[], Any]]], columns: str, tail: str,
                         returning: Sequence[str]) -> list[dict[str, Any]]:
    """PostgreSQL: ``INSERT … SELECT * FROM unnest($1::type[], …)``, one array per column.

    One statement text whatever the number of rows, so it is prepared once per process, and
    a handful of array parameters bind far faster than thousands of scalars.
    """
    fmap = model._meta.fields_map
    fields = given + [f for f, _ in missing]
    arrays = ",".join(f"${i}::{_array_type(fmap[f])}" for i, f in enumerate(fields, 1))
    sql = f'INSERT INTO "{model._meta.db_table}" ({columns}) SELECT * FROM unnest({arrays}){tail}'
    values = _columns(model, rows, given, missing)
    if returning:
        return list(await conn.execute_query_dict(sql, values))
    await conn.execute_query(sql, values)
    return []


async def update_each(conn: BaseDBAsyncClient, model: type[Model], fields: Sequence[str],
                      rows: Iterable[Sequence[Any]], where: str = "") -> None:
    """``UPDATE model SET fields… WHERE id = …`` once per row, as one prepared statement.

    Each row gives the new values of ``fields`` (as Python values) and then the id;
    ``where`` (literal SQL) narrows each update further. Outside a transaction the whole set
    commits at once.
    """
    meta = model._meta
    m = marks(conn, len(fields) + 1)
    sets = ", ".join(f'"{meta.fields_db_projection[f]}" = {p}' for f, p in zip(fields, m,
                                                                              strict=False))
    conv = [column_converter(model, f) for f in fields]
    values = [[c(v) for c, v in zip(conv, row, strict=False)] + [row[-1]] for row in rows]
    if values:
        extra = f" AND {where}" if where else ""
        await conn.execute_many(
            f'UPDATE "{meta.db_table}" SET {sets} WHERE "id" = {m[-1]}{extra}', values)


async def execute_in(conn: BaseDBAsyncClient, sql: str, head: Sequence[Any],
                     values: Sequence[Any]) -> list[dict[str, Any]]:
    """``sql`` (``{0}``, ``{1}``… mark the ``head`` parameters) followed by ``IN (values)``;
    the rows it returns.

    Plain SQL for hot paths: the ORM spends more building a long ``IN (...)`` than the
    database running it. On PostgreSQL the list is one array parameter (``= ANY($n)``): one
    statement text for any length, prepared once.
    """
    if not sql.endswith(" IN"):
        raise ValueError("execute_in: the SQL must end with ' IN'")
    if _pg(conn):
        m = marks(conn, len(head) + 1)
        text = sql.format(*m[:-1])[:-3] + f" = ANY({m[-1]})"
        _, rows = await conn.execute_query(text, [*head, list(values)])
        return [dict(r) for r in rows]
    m = marks(conn, len(head) + len(values))
    text = sql.format(*m[: len(head)]) + f" ({','.join(m[len(head):])})"
    _, rows = await conn.execute_query(text, [*head, *values])
    return [dict(r) for r in rows]
