"""Whether the service's dependencies answer: the database (at the expected schema) and Redis."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect, text

from app.container import Container
from app.db.migrate import SchemaNewer, SchemaNotCurrent, require_current


class SchemaBehind(Exception):
    """The database was never migrated, or is at an older revision of this code: `pimsync migrate` brings it on."""


class ServedSchema:
    """What a serving process remembers from one readiness probe to the next: whether it has seen the database at
    this code's head.

    A revision this code does not know reads two ways, and only this tells them apart. Seen after serving at the
    head, it is a newer release's that migrated first, as a deploy does: the tables this code uses are still
    there, so the instance stays ready and keeps serving until that release replaces it, rather than every
    instance going unready at once mid-deploy. Seen first, the code was rolled back but not the database (or this
    older instance started after the migration): as a worker refuses to start there, the instance is not ready.
    """

    def __init__(self) -> None:
        self.at_head = False


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

    async def require_servable_schema(self, served: ServedSchema) -> None:
        """SchemaBehind unless the database has every migration this code knows; SchemaNewer when it is at a
        revision this code does not know and `served` never saw it at this code's head (ServedSchema says why)."""
        try:
            require_current(await self.schema_revision())
        except SchemaNewer:
            if not served.at_head:
                raise
        except SchemaNotCurrent as exc:
            raise SchemaBehind(str(exc)) from None
        else:
            served.at_head = True

    async def report(self) -> dict[str, Any]:
        revision = await self.schema_revision()
        redis_ok = bool(await self.container.redis.ping())
        return {"database": "ok", "schema_revision": revision, "redis": "ok" if redis_ok else "error"}
