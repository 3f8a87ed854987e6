"""arq WorkerSettings: the worker's task list and the resources it opens at start-up."""

from __future__ import annotations

from typing import Any, ClassVar

from app.container import arq_redis_settings, open_container
from app.db.migrate import head_revision
from app.logging import configure_logging
from app.services.readiness import ReadinessService
from app.settings import load_settings
from workers.context import WorkerContext
from workers.tasks.check_readiness import check_readiness

SETTINGS = load_settings()


class SchemaOutdated(RuntimeError):
    """The database is not at the migrations' head: run `pimsync migrate` first."""


async def startup(ctx: WorkerContext) -> None:
    configure_logging(SETTINGS)
    container = await open_container(SETTINGS)
    current = await ReadinessService(container).schema_revision()
    expected = head_revision(SETTINGS.resolved_database_url)
    if current != expected:
        await container.close()
        found = f"at {current}" if current else "not migrated"
        raise SchemaOutdated(f"database schema is {found}, the code expects {expected}: run `pimsync migrate`")
    ctx["container"] = container


async def shutdown(ctx: WorkerContext) -> None:
    container = ctx.get("container")
    if container is not None:
        await container.close()


class WorkerSettings:
    functions: ClassVar[list[Any]] = [check_readiness]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = arq_redis_settings(SETTINGS)
    job_timeout = 300
    max_tries = 5
    health_check_interval = 30
