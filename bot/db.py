"""Database set-up: Tortoise configuration, initialisation and migrations."""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate as _migrate
from tortoise.migrations.executor import MigrationExecutor

log = logging.getLogger(__name__)

APP_LABEL = "models"


def normalise_url(url: str) -> str:
    """Tortoise spells PostgreSQL ``postgres://``; accept the other common spellings too.

    SQLite runs in WAL mode (tortoise's default) with ``synchronous=NORMAL`` unless the URL
    says otherwise: every commit survives a crash of the process, and only a power cut can
    lose the last moments; ``?synchronous=FULL`` also survives that, at several times the
    cost of each commit.
    """
    for prefix in ("postgresql://", "asyncpg://"):
        if url.startswith(prefix):
            return "postgres://" + url[len(prefix):]
    if url.startswith("sqlite://") and "synchronous=" not in url:
        url += ("&" if "?" in url else "?") + "synchronous=NORMAL"
    return url


class DatabaseNotReady(Exception):
    """The database cannot be used as it is; the message says why and what to do."""


def describe_url(url: str) -> str:
    """The URL as it may be printed: the password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        netloc = f"{parts.username or ''}:***@{host}"
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def is_sqlite_url(url: str) -> bool:
    """True for the embedded database (migrated by every command before use)."""
    return url.startswith("sqlite://")


def check_sqlite_folder(url: str) -> None:
    """Refuse an SQLite file whose folder does not exist or cannot be written.

    aiosqlite never completes the connection in that case (the command would hang), so the
    folder is looked at before anything connects.
    """
    if not is_sqlite_url(url):
        return
    path = url.removeprefix("sqlite://").split("?", 1)[0]
    if not path or path == ":memory:":
        return
    folder = Path(path).expanduser().resolve().parent
    if not folder.is_dir():
        raise DatabaseNotReady(f"cannot open the database {url}: the folder {folder} does not "
                               "exist (create it, or fix [database] url)")
    if not os.access(folder, os.W_OK):
        raise DatabaseNotReady(f"cannot open the database {url}: the folder {folder} is not "
                               "writable by this user")


def tortoise_config(url: str) -> dict[str, Any]:
    """Tortoise config for our one app: models in ``models``, migrations in ``migrations``."""
    return {
        "connections": {"default": normalise_url(url)},
        "apps": {
            APP_LABEL: {
                "models": ["models"],
                "migrations": "migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def is_postgres() -> bool:
    """True when the default connection is PostgreSQL (row locks and SKIP LOCKED work)."""
    return connections.get("default").capabilities.dialect == "postgres"


async def init_db(url: str) -> None:
    """Initialise the ORM for this process (no schema changes: see :func:`migrate`)."""
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)


async def close_db() -> None:
    """Close every connection and forget the global context so a later init starts clean."""
    await Tortoise.close_connections()
    from tortoise import context as _ctx

    _ctx._global_context = None  # tortoise keeps a process-wide fallback; tests re-init


async def migrate(url: str) -> None:
    """Apply every pending versioned migration (idempotent)."""
    await _migrate(config=tortoise_config(url))


async def ping() -> None:
    """One round trip on the default connection (tortoise connects lazily)."""
    await connections.get("default").execute_query("SELECT 1")


async def pending_migrations(url: str) -> list[str]:
    """Names of the migrations not yet applied to the open default connection."""
    executor = MigrationExecutor(connections.get("default"), tortoise_config(url)["apps"])
    return [step.migration.name for step in await executor.plan(None) if not step.backward]


@asynccontextmanager
async def database(url: str, *, apply_migrations: bool | None = None) -> AsyncIterator[None]:
    """Open the ORM for a CLI command, ready to use or not at all.

    SQLite (embedded, one process) is migrated first, as the server does at start.
    PostgreSQL is migrated only by ``survey-bot migrate`` (several processes share it, and an
    upgrade is an operator's decision): a database it cannot reach, or one with migrations
    pending, raises :class:`DatabaseNotReady` saying what to do, before any query fails.
    """
    if apply_migrations is None:
        apply_migrations = is_sqlite_url(url)
    shown = describe_url(url)
    check_sqlite_folder(url)
    try:
        if apply_migrations:
            await migrate(url)
            await close_db()
        await init_db(url)
        await ping()
    except DatabaseNotReady:
        raise
    except Exception as e:  # the drivers raise many kinds; all mean "cannot open it"
        await close_db()
        raise DatabaseNotReady(f"cannot open the database {shown}: {e}") from e
    try:
        if not apply_migrations:
            try:
                pending = await pending_migrations(url)
            except Exception as e:
                raise DatabaseNotReady(f"cannot reach the database {shown}: {e}") from e
            if pending:
                raise DatabaseNotReady(
                    f"the database {shown} is not migrated ({len(pending)} pending: "
                    f"{', '.join(pending)}): run `survey-bot migrate` first")
        yield
    finally:
        await close_db()


# For `tortoise makemigrations` (see the Makefile); never used to connect.
MIGRATION_CONFIG = tortoise_config("sqlite://:memory:")
