"""Connector, channel type and export preview queries."""

from __future__ import annotations

from functools import partial

import strawberry

from app.channels.registry import all_channel_types
from app.domain.channels import ChannelType as ChannelTypeValue
from app.domain.connectors import ConnectorStatus as ConnectorStatusValue
from app.domain.errors import NotFound
from app.domain.scopes import Scope
from app.repositories.connectors import ConnectorFilter
from app.services.connectors import ConnectorService
from app.services.mappings import MappingService
from graphql_schema.connectors.types import ChannelTypeInfo, ConnectorConnection, ConnectorType, ExportPreview
from graphql_schema.context import Info
from graphql_schema.enums import ChannelType, ConnectorStatus
from graphql_schema.relay import Page, after_key, connection, page_size


@strawberry.type
class ConnectorQuery:
    @strawberry.field(description="Every channel type with its fields and credentials schema, to build forms from.")
    def channel_types(self, info: Info) -> list[ChannelTypeInfo]:
        info.context.require(Scope.CONNECTORS_VIEW)
        return [ChannelTypeInfo.from_spec(spec) for spec in all_channel_types()]

    @strawberry.field
    async def connectors(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        channel_type: ChannelType | None = None,  # type: ignore[valid-type]
        status: ConnectorStatus | None = None,  # type: ignore[valid-type]
    ) -> ConnectorConnection:
        info.context.require(Scope.CONNECTORS_VIEW)
        limit, after_id = page_size(first), after_key("Connector", after)
        where = ConnectorFilter(
            channel_type=ChannelTypeValue(channel_type).value if channel_type else None,
            status=ConnectorStatusValue(status).value if status else None,
        )
        service = ConnectorService(info.context.container, info.context.tenant_id)
        rows = await service.page(where, after_id=after_id, limit=limit + 1)
        items = [(row.id, ConnectorType.from_row(row)) for row in rows]
        return connection("Connector", Page(items=items, limit=limit, after=after_id), partial(service.count, where))

    @strawberry.field
    async def connector(self, info: Info, code: str) -> ConnectorType | None:
        info.context.require(Scope.CONNECTORS_VIEW)
        try:
            row = await ConnectorService(info.context.container, info.context.tenant_id).get(code)
        except NotFound:
            return None
        return ConnectorType.from_row(row)

    @strawberry.field(description="What an export would send for one product, per channel locale, sending nothing.")
    async def export_preview(
        self, info: Info, connector_code: str, sku: str, locales: list[str] | None = None
    ) -> list[ExportPreview]:
        info.context.require(Scope.MAPPINGS_VIEW)
        info.context.require(Scope.CATALOG_VIEW)  # it shows the product's values
        previews = await MappingService(info.context.container, info.context.tenant_id).preview(
            connector_code, sku, locales
        )
        return [ExportPreview.from_preview(preview) for preview in previews]
