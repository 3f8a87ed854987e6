"""Sync job queries."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated

import strawberry

from app.domain.connectors import SyncType as SyncTypeValue
from app.domain.errors import NotFound
from app.domain.scopes import Scope
from app.domain.storable import echoed
from app.domain.sync import SyncJobStatus as SyncJobStatusValue
from app.repositories.sync_jobs import SyncJobFilter
from app.services.connectors import ConnectorService
from app.services.sync.jobs import SyncJobService
from graphql_schema.context import Info
from graphql_schema.enums import SyncJobStatus, SyncType
from graphql_schema.relay import BadArgument, Direction, Page, connection, parse_global_id
from graphql_schema.scalars import aware
from graphql_schema.sync.types import SyncJobConnection, SyncJobType


def job_pk(text: str) -> int:
    kind, pk = parse_global_id(text)
    if kind != "SyncJob":
        raise BadArgument(f"'{echoed(text)}' is not a sync job id")
    return pk


def _created_between(from_: datetime | None, to: datetime | None) -> tuple[datetime | None, datetime | None]:
    """The `from`/`to` window; BadArgument for a bound without offset, or a window no job can fall in."""
    start, end = aware("from", from_), aware("to", to)
    if start is not None and end is not None and start > end:
        raise BadArgument(f"from ({start.isoformat()}) is later than to ({end.isoformat()})")
    return start, end


async def jobs_page(info: Info, where: SyncJobFilter, way: Direction) -> SyncJobConnection:
    """Newest first; `after` continues towards older jobs, `before` (backwards) towards newer ones."""
    service = SyncJobService(info.context.container, info.context.tenant_id)
    if way.backwards:
        rows = await service.newer_page(where, after_id=way.cursor, limit=way.limit + 1)
    else:
        rows = await service.page(where, before_id=way.cursor, limit=way.limit + 1)
    items = [(row.id, SyncJobType.from_row(row)) for row in rows]
    page = Page(items=items, limit=way.limit, after=way.cursor, backwards=way.backwards)
    return connection("SyncJob", page, partial(service.count, where))


@strawberry.type
class SyncQuery:
    @strawberry.field(
        description="Sync jobs, newest first: first/after read on towards older jobs; last/before read backwards, "
        "towards newer ones (last alone: the oldest jobs), each page still newest first."
    )
    async def sync_jobs(
        self,
        info: Info,
        connector_code: str | None = None,
        first: int | None = None,
        after: str | None = None,
        status: SyncJobStatus | None = None,  # type: ignore[valid-type]
        sync_type: SyncType | None = None,  # type: ignore[valid-type]
        from_: Annotated[
            datetime | None,
            strawberry.argument(name="from", description="Jobs created at or after this instant (with its offset)."),
        ] = None,
        to: Annotated[
            datetime | None,
            strawberry.argument(description="Jobs created at or before this instant (with its offset)."),
        ] = None,
        last: Annotated[
            int | None, strawberry.argument(description="The page before `before` (or the list's end), backwards.")
        ] = None,
        before: str | None = None,
    ) -> SyncJobConnection:
        info.context.require(Scope.SYNC_VIEW)
        way = Direction.of("SyncJob", first=first, after=after, last=last, before=before)
        created_from, created_to = _created_between(from_, to)
        connector_id = None
        if connector_code is not None:
            try:
                connector_id = (
                    await ConnectorService(info.context.container, info.context.tenant_id).get(connector_code)
                ).id
            except NotFound:
                connector_id = -1
        where = SyncJobFilter(
            connector_id=connector_id,
            status=SyncJobStatusValue(status).value if status else None,
            sync_type=SyncTypeValue(sync_type).value if sync_type else None,
            created_from=created_from,
            created_to=created_to,
        )
        return await jobs_page(info, where, way)

    @strawberry.field
    async def sync_job(self, info: Info, id: strawberry.ID) -> SyncJobType | None:
        info.context.require(Scope.SYNC_VIEW)
        try:
            row = await SyncJobService(info.context.container, info.context.tenant_id).get(job_pk(str(id)))
        except NotFound:
            return None
        return SyncJobType.from_row(row)
