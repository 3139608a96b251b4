"""Test fixtures: a fresh real database per test (SQLite, or PostgreSQL started here).

The backend is chosen per pytest process by ``SURVEYBOT_TEST_DB`` (``sqlite`` or
``postgres``): tortoise must not switch dialects inside one process, so ``make test`` runs the
suite once per backend. Both start from a template migrated once with our real migrations.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import settings as hypothesis_settings

from bot import db
from bot.app import build_channels, create_app
from bot.clock import FrozenClock
from bot.config import Settings, settings_from_dict
from bot.runtime import Runtime

# the `browser` fixture; an exit that no stray thread can hold open
pytest_plugins = ["tests.browser", "tests.exit_guard"]

# Property tests generate the same cases on every run of the suite (a CI run must not pass or
# fail by luck); HYPOTHESIS_PROFILE=explore draws new ones, as bench/fuzz.py does at scale.
# No deadline: a case's time is a wall-clock assert, and a loaded machine (a shared CI box)
# failed a database-backed property test on it, not on its answer.
hypothesis_settings.register_profile("suite", derandomize=True, print_blob=True, deadline=None)
hypothesis_settings.register_profile("explore", derandomize=False, print_blob=True,
                                     deadline=None)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

BACKEND = os.environ.get("SURVEYBOT_TEST_DB", "sqlite")
SHANGHAI = ZoneInfo("Asia/Shanghai")
_counter = itertools.count()


def pytest_report_header(config: pytest.Config) -> str:
    """Say which database this run uses."""
    return f"survey-bot test database: {BACKEND}"


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Migrate a template database once per run."""
    if BACKEND == "postgres":
        from tests import pgcluster

        cluster = pgcluster.start()
        try:
            cluster.psql("CREATE DATABASE sb_template")
            asyncio.run(_migrate(cluster.url("sb_template")))
            yield cluster
        finally:
            cluster.stop()
    elif BACKEND == "sqlite":
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        asyncio.run(_migrate(f"sqlite://{path}"))
        yield path
    else:
        raise pytest.UsageError(f"SURVEYBOT_TEST_DB={BACKEND!r}: use sqlite or postgres")


async def _migrate(url: str) -> None:
    await db.migrate(url)
    await db.close_db()


@pytest.fixture
def db_url(_template: Any, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, migrated database for this test."""
    if BACKEND == "postgres":
        name = f"sb_test_{os.getpid()}_{next(_counter)}"
        _template.psql(f"CREATE DATABASE {name} TEMPLATE sb_template")
        yield _template.url(name)
        _template.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    else:
        path = tmp_path / "test.sqlite3"
        shutil.copy(_template, path)
        yield f"sqlite://{path}"


@pytest.fixture
def clock() -> FrozenClock:
    """A clock frozen at a Monday morning in Shanghai."""
    return FrozenClock(datetime(2026, 11, 16, 9, 0, tzinfo=SHANGHAI))


def make_settings(db_url: str, **overrides: Any) -> Settings:
    """Test settings: the demo defaults on the given database, fast polling."""
    data: dict[str, Any] = {
        "database": {"url": db_url},
        "worker": {"poll_interval_seconds": 0.05, "retry_backoff_seconds": 1},
        "api": {"keys": ["test-key"]},
        "simulator": {"enabled": True},
    }
    for section, values in overrides.items():
        if isinstance(values, dict):
            data.setdefault(section, {}).update(values)
        else:
            data[section] = values
    return settings_from_dict(data)


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Default test settings."""
    return make_settings(db_url)


@pytest.fixture
async def orm(settings: Settings) -> AsyncIterator[None]:
    """The ORM open on this test's database (for service-level tests)."""
    await db.init_db(settings.database.url)
    yield
    await db.close_db()


@pytest.fixture
def runtime(settings: Settings, clock: FrozenClock) -> Runtime:
    """A runtime for calling services directly."""
    return Runtime(settings=settings, clock=clock, channels=build_channels(settings))


@pytest.fixture
async def client_factory(db_url: str) -> AsyncIterator[
        Callable[..., Awaitable[TestClient[Any, Any]]]]:
    """Start the real app (same factory as production) on a local port.

    (It depends on ``db_url`` so that the apps it starts are closed before the test's
    database is dropped: dropped first, a PostgreSQL app spent ten seconds shutting down on
    dead connections at every test's teardown.)
    """
    clients: list[TestClient[Any, Any]] = []

    async def make(settings: Settings, clock: FrozenClock, **kw: Any) -> TestClient[Any, Any]:
        app = create_app(settings, clock=clock, migrate=False, **kw)
        server = TestServer(app)
        # At teardown the assertions are done: no minute-long drain of in-flight requests
        # (aiohttp's default), which under load could run into the test timeout.
        await server.start_server(shutdown_timeout=5)
        client = TestClient(server)
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.close()


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy (background loops are asynchronous)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check.__name__}")
        await asyncio.sleep(0.05)
