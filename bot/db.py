"""Database set-up: Tortoise configuration, initialisation and migrations."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate as _migrate

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


@asynccontextmanager
async def database(url: str, *, apply_migrations: bool = False) -> AsyncIterator[None]:
    """Open the ORM for a CLI command; optionally migrate first."""
    if apply_migrations:
        await migrate(url)
        await close_db()
    await init_db(url)
    try:
        yield
    finally:
        await close_db()


# For `tortoise makemigrations` (see the Makefile); never used to connect.
MIGRATION_CONFIG = tortoise_config("sqlite://:memory:")
