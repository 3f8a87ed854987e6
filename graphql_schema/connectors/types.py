"""Connector and ChannelListing types (what the catalog shows of a product's place on each channel)."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from app.db.models import Connector, Listing
from graphql_schema.context import Info
from graphql_schema.relay import Node, global_id


@strawberry.enum
class ChannelType(Enum):
    SHOPIFY = "SHOPIFY"
    WOOCOMMERCE = "WOOCOMMERCE"
    AMAZON = "AMAZON"
    EBAY = "EBAY"
    SALLA = "SALLA"
    EASY_ORDERS = "EASY_ORDERS"
    CUSTOM_HTTP = "CUSTOM_HTTP"


@strawberry.enum
class ConnectorStatus(Enum):
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"
    ERROR = "ERROR"
    PAUSED = "PAUSED"


@strawberry.type(name="Connector")
class ConnectorType(Node):
    row: strawberry.Private[Connector]
    code: str
    name: str
    channel_type: ChannelType
    status: ConnectorStatus
    status_reason: str | None = strawberry.field(description="Why the connector is in ERROR or PAUSED, when it is.")
    last_synced_at: datetime | None

    @strawberry.field(description="Public URL path that the channel posts its webhooks to.")
    def webhook_path(self) -> str | None:
        return f"/webhooks/{self.row.public_id}"

    @classmethod
    def from_row(cls, row: Connector) -> ConnectorType:
        return cls(
            id=global_id("Connector", row.id),
            row=row,
            code=row.code,
            name=row.name,
            channel_type=ChannelType(row.channel_type),
            status=ConnectorStatus(row.status),
            status_reason=row.status_reason,
            last_synced_at=row.last_synced_at,
        )


@strawberry.type(name="ChannelListing")
class ChannelListingType:
    row: strawberry.Private[Listing]
    external_id: str | None = strawberry.field(description="The product's id on the channel, once created there.")
    status: str = strawberry.field(description="synced | pending | error | conflict | never")
    last_synced_at: datetime | None

    @strawberry.field
    async def connector(self, info: Info) -> ConnectorType:
        row = await info.context.loaders.connector_by_id.load(self.row.connector_id)
        if row is None:
            raise LookupError(f"listing {self.row.id} names a connector that does not exist")
        return ConnectorType.from_row(row)

    @classmethod
    def from_row(cls, row: Listing) -> ChannelListingType:
        return cls(row=row, external_id=row.external_id, status=row.status, last_synced_at=row.last_synced_at)
