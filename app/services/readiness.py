"""Whether the service's dependencies answer: the database (at the expected schema) and Redis."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, text

from app.container import Container


class ReadinessService:
    def __init__(self, container: Container) -> None:
        self.container = container

    async def schema_revision(self) -> str | None:
        """The database's migration revision; None when no migration was ever applied (no alembic_version)."""
        async with self.container.db.reader() as session:
            connection = await session.connection()
            if not await connection.run_sync(lambda sync: inspect(sync).has_table("alembic_version")):
                return None
            revision = await session.scalar(text("SELECT version_num FROM alembic_version"))
        return None if revision is None else str(revision)

    async def report(self) -> dict[str, Any]:
        revision = await self.schema_revision()
        redis_ok = bool(await self.container.redis.ping())
        return {"database": "ok", "schema_revision": revision, "redis": "ok" if redis_ok else "error"}
