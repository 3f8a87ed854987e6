"""The migrations build exactly the schema the models describe, on every backend the tests run on, and carry
existing rows over."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.db.base import Base
from app.db.engine import Database
from app.db.migrate import alembic_config


async def test_the_migrated_schema_matches_the_models(db: Database) -> None:
    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with db.write_engine.connect() as connection:
        found = await connection.run_sync(differences)
    assert found == [], f"models and migrations disagree; write a migration: {found}"


def test_jobs_queued_before_0005_keep_the_stamp_of_their_planning_message(tmp_path: Path) -> None:
    """Recovery finds a job's queued message by the stamp in its id; jobs from before 0005 were stamped at creation."""
    path = tmp_path / "old.sqlite3"
    config = alembic_config(f"sqlite+aiosqlite:///{path}")
    command.upgrade(config, "0004")
    created = "2026-11-30 10:15:42.123456"
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute(
            "INSERT INTO tenants (id, code, name, product_revision, created_at) VALUES (1, 't', 'T', 0, ?)", (created,)
        )
        connection.execute(
            "INSERT INTO connectors (id, public_id, tenant_id, code, name, channel_type, status, created_at, updated_at)"
            " VALUES (1, 'p', 1, 'shop', 'Shop', 'CUSTOM_HTTP', 'CONNECTED', ?, ?)",
            (created, created),
        )
        connection.execute(
            "INSERT INTO sync_jobs (id, tenant_id, connector_id, sync_type, status, priority, dry_run, force_resync,"
            " select_all, revision_from, mappings_version, total_products, synced_products, failed_products,"
            " skipped_products, conflicted_products, cancel_requested, created_at)"
            " VALUES (1, 1, 1, 'FULL', 'PENDING', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ?)",
            (created,),
        )
    command.upgrade(config, "head")
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT enqueued_at FROM sync_jobs WHERE id = 1").fetchone() == (created,)
