"""The versioned migrations describe exactly the current models."""

from __future__ import annotations

import pytest

from tests.conftest import BACKEND


@pytest.mark.skipif(BACKEND != "sqlite",
                    reason="one dialect per process; checked in the sqlite run")
async def test_models_have_no_unmigrated_changes() -> None:
    from tortoise.cli.cli import tortoise_cli_context
    from tortoise.migrations.autodetector import MigrationAutodetector

    from bot.db import MIGRATION_CONFIG, close_db

    async with tortoise_cli_context(MIGRATION_CONFIG) as ctx:
        detector = MigrationAutodetector(ctx.apps, MIGRATION_CONFIG["apps"])
        writers = await detector.changes()
    await close_db()
    assert writers == [], "models changed: run `make makemigrations` and commit the file"
