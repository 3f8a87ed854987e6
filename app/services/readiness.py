"""Whether the service's dependencies answer: the database (at the expected schema) and Redis."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, text

from app.container import Container
from app.db.migrate import SchemaNewer, SchemaNotCurrent, require_current


class SchemaBehind(Exception):
    """The database was never migrated, or is at an older revision of this code: `pimsync migrate` brings it on."""


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

    async def require_schema_not_behind(self) -> None:
        """SchemaBehind unless the database has every migration this code knows.

        A revision this code does not know is a newer release's (its `pimsync migrate` ran first, as a deploy
        does): the tables this code uses are still there, so the API stays ready and keeps serving until the
        new release replaces it, rather than every instance going unready at once mid-deploy.
        """
        try:
            require_current(await self.schema_revision())
        except SchemaNewer:
            return
        except SchemaNotCurrent as exc:
            raise SchemaBehind(str(exc)) from None

    async def report(self) -> dict[str, Any]:
        revision = await self.schema_revision()
        redis_ok = bool(await self.container.redis.ping())
        return {"database": "ok", "schema_revision": revision, "redis": "ok" if redis_ok else "error"}
