"""Conflict queries: a tenant's conflicts across connectors or of one, and one by id."""

from __future__ import annotations

from functools import partial

import strawberry

from app.domain.conflicts import ResolutionStatus as ResolutionStatusValue
from app.domain.errors import NotFound
from app.domain.scopes import Scope
from app.domain.storable import echoed
from app.repositories.conflicts import ConflictFilter
from app.services.conflicts.service import ConflictService
from app.services.connectors import ConnectorService
from graphql_schema.conflicts.types import ConflictConnection, ConflictType
from graphql_schema.context import Info
from graphql_schema.enums import ResolutionStatus
from graphql_schema.relay import BadArgument, Page, after_key, connection, page_size, parse_global_id


def conflict_pk(text: str) -> int:
    kind, pk = parse_global_id(text)
    if kind != "Conflict":
        raise BadArgument(f"'{echoed(text)}' is not a conflict id")
    return pk


def status_value(status: ResolutionStatus | None) -> str | None:  # type: ignore[valid-type]
    return None if status is None else ResolutionStatusValue(status).value


async def conflicts_page(info: Info, where: ConflictFilter, first: int | None, after: str | None) -> ConflictConnection:
    """Newest first; `after` continues towards older conflicts."""
    limit, before_id = page_size(first), after_key("Conflict", after)
    service = ConflictService(info.context.container, info.context.tenant_id)
    rows = await service.page(where, before_id=before_id, limit=limit + 1)
    items = [(row.id, ConflictType.from_row(row)) for row in rows]
    return connection("Conflict", Page(items=items, limit=limit, after=before_id), partial(service.count, where))


async def _connector_id(info: Info, code: str | None) -> int | None:
    """The connector's id; an unknown code (or another tenant's) filters down to nothing."""
    if code is None:
        return None
    try:
        return (await ConnectorService(info.context.container, info.context.tenant_id).get(code)).id
    except NotFound:
        return -1


@strawberry.type
class ConflictQuery:
    @strawberry.field(description="Conflicts of every connector, or of one, newest first.")
    async def conflicts(
        self,
        info: Info,
        connector_code: str | None = None,
        first: int | None = None,
        after: str | None = None,
        resolution_status: ResolutionStatus | None = None,  # type: ignore[valid-type]
        product_sku: str | None = None,
    ) -> ConflictConnection:
        info.context.require(Scope.CONFLICTS_VIEW)
        where = ConflictFilter(
            connector_id=await _connector_id(info, connector_code),
            resolution_status=status_value(resolution_status),
            product_sku=product_sku,
        )
        return await conflicts_page(info, where, first, after)

    @strawberry.field
    async def conflict(self, info: Info, id: strawberry.ID) -> ConflictType | None:
        info.context.require(Scope.CONFLICTS_VIEW)
        try:
            row = await ConflictService(info.context.container, info.context.tenant_id).get(conflict_pk(str(id)))
        except NotFound:
            return None
        return ConflictType.from_row(row)
