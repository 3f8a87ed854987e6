"""The migrations build exactly the schema the models describe, on every backend the tests run on."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.db.base import Base
from app.db.engine import Database


async def test_the_migrated_schema_matches_the_models(db: Database) -> None:
    def differences(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with db.write_engine.connect() as connection:
        found = await connection.run_sync(differences)
    assert found == [], f"models and migrations disagree; write a migration: {found}"
