"""Connector, mapping, channel type and export preview types of the contract.

Credentials are write-only: no type here has a field that returns them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import strawberry

from app.channels.base import ChannelInfo as ChannelInfoData
from app.channels.factory import CONNECTABLE
from app.db.models import Connector, FieldMapping, Listing, SyncJob
from app.domain.catalog import CatalogSpec
from app.domain.channels import ChannelField, ChannelTypeSpec
from app.domain.channels import ChannelType as ChannelTypeValue
from app.domain.connectors import ConnectorStatus as ConnectorStatusValue
from app.domain.connectors import LocalePair as LocalePairValue
from app.domain.mappings import EmptyValuePolicy as EmptyValuePolicyValue
from app.domain.mappings import MappingDirection as MappingDirectionValue
from app.domain.scopes import Scope
from app.domain.sync import SyncJobStatus as SyncJobStatusValue
from app.services.connector_webhooks import webhook_path
from app.services.connectors import TestOutcome, settings_of
from app.services.mappings import Preview, broken_reasons
from graphql_schema.conflicts.queries import status_value
from graphql_schema.conflicts.types import ConflictConnection, ConflictType
from graphql_schema.context import Info
from graphql_schema.enums import (
    ChannelType,
    ConflictStrategy,
    ConnectorStatus,
    EmptyValuePolicy,
    FallbackPolicy,
    MappingDirection,
    ResolutionStatus,
    SyncJobStatus,
    SyncType,
)
from graphql_schema.errors import UserError, user_errors
from graphql_schema.loaders import owned_page
from graphql_schema.relay import Connection, Node, global_id
from graphql_schema.scalars import JSON
from graphql_schema.sync.types import SyncJobConnection, SyncJobType

TAX_CONFIG_DESCRIPTION = (
    "e.g. {applyTax: true, taxRate: 0.15, pricesIncludeTax: false}. With applyTax: true, every PRICE attribute "
    "a mapping sends to a decimal (price) field is taxed as an applyTax step would tax it, unless the mapping "
    "says applyTax itself: its own options, or {applyTax: false} to send the price untaxed. Such a price cannot "
    "be taken back from the channel (BOTH, IMPORT) tax included: those mappings need {applyTax: false}. Options "
    "an applyTax step of a mapping leaves out come from here."
)


@strawberry.type
class ChannelFieldSpec:
    name: str = strawberry.field(description="Field name on the channel, e.g. title, body_html, price, vendor.")
    type: str
    required: bool
    localizable: bool
    max_length: int | None
    choices: list[str] = strawberry.field(description="The values an enum field takes; empty for other types.")
    description: str

    @classmethod
    def from_spec(cls, spec: ChannelField) -> ChannelFieldSpec:
        return cls(
            name=spec.name,
            type=spec.type.value,
            required=spec.required,
            localizable=spec.localizable,
            max_length=spec.max_length,
            choices=list(spec.choices),
            description=spec.description,
        )


@strawberry.type
class ChannelTypeInfo:
    type: ChannelType  # type: ignore[valid-type]
    display_name: str
    capabilities: list[str] = strawberry.field(
        description=(
            "What the connector can do: PRODUCTS_EXPORT, PRODUCTS_IMPORT, TRANSLATIONS, INVENTORY, PRICES, "
            "ORDERS, FULFILLMENT, WEBHOOKS."
        )
    )
    credentials_schema: JSON = strawberry.field(
        description="JSON Schema of the credentials object, for building a form."
    )
    fields: list[ChannelFieldSpec]
    supported_locales: list[str] | None = strawberry.field(
        description="Channel locales the channel type takes; null when each store reports its own."
    )
    currencies: list[str] | None = strawberry.field(description="Currencies the channel takes; null: any.")
    batch_size: int = strawberry.field(description="Most products one write request carries.")
    available: bool = strawberry.field(
        description="Whether this version can connect to the channel type: a connector of one it cannot is created "
        "DISCONNECTED, saying so in statusReason, and never syncs. A form offers the available ones."
    )

    @classmethod
    def from_spec(cls, spec: ChannelTypeSpec) -> ChannelTypeInfo:
        return cls(
            type=spec.type,
            display_name=spec.display_name,
            capabilities=[capability.value for capability in spec.capabilities],
            credentials_schema=JSON(dict(spec.credentials_schema)),
            fields=[ChannelFieldSpec.from_spec(item) for item in spec.fields],
            supported_locales=None if spec.supported_locales is None else list(spec.supported_locales),
            currencies=None if spec.currencies is None else list(spec.currencies),
            batch_size=spec.batch_size,
            available=spec.type in CONNECTABLE,
        )


@strawberry.type
class LocalePair:
    pim_locale: str
    channel_locale: str

    @classmethod
    def from_value(cls, pair: LocalePairValue) -> LocalePair:
        return cls(pim_locale=pair.pim_locale, channel_locale=pair.channel_locale)


@strawberry.type
class ConnectorSettings:
    scope: str | None = strawberry.field(
        description="The PIM scope this connector reads scopable values from (e.g. ecommerce)."
    )
    locale_mapping: list[LocalePair]
    default_sync_type: SyncType  # type: ignore[valid-type]
    conflict_strategy: ConflictStrategy  # type: ignore[valid-type]
    tax_config: JSON | None = strawberry.field(description=TAX_CONFIG_DESCRIPTION)
    currency: str | None
    sync_interval_minutes: int | None = strawberry.field(
        description="Minutes between scheduled incremental syncs; null: no schedule."
    )
    fallback_policy: FallbackPolicy = strawberry.field(  # type: ignore[valid-type]
        description=(
            "SEND: fallback text goes out as that locale's value; OMIT: the channel's translation is left untouched."
        )
    )
    hold_incomplete_locales: bool = strawberry.field(
        description=(
            "Send a channel locale of a product only once every required channel field has an authored value in it."
        )
    )
    requests_per_second: float | None = strawberry.field(
        description=(
            "This connector's own cap on requests per second; null: the channel type's default pace. On Shopify, "
            "which meters query cost points, it caps requests on top of the shop's points bucket."
        )
    )

    @classmethod
    def from_row(cls, row: Connector) -> ConnectorSettings:
        settings = settings_of(row)
        return cls(
            scope=settings.scope,
            locale_mapping=[LocalePair.from_value(pair) for pair in settings.locale_mapping],
            default_sync_type=settings.default_sync_type,
            conflict_strategy=settings.conflict_strategy,
            tax_config=JSON(dict(settings.tax_config)) if settings.tax_config is not None else None,
            currency=settings.currency,
            sync_interval_minutes=settings.sync_interval_minutes,
            fallback_policy=settings.fallback_policy,
            hold_incomplete_locales=settings.hold_incomplete_locales,
            requests_per_second=settings.requests_per_second,
        )


@strawberry.type
class LocaleSyncStatus:
    pim_locale: str
    channel_locale: str
    status: str = strawberry.field(description="synced | pending | error | never")
    last_synced_at: datetime | None

    @classmethod
    def of(
        cls, pair: LocalePairValue, job: SyncJob | None, failed: set[str], last_synced_at: datetime | None
    ) -> LocaleSyncStatus:
        if job is None:
            status = "never"
        elif not SyncJobStatusValue(job.status).finished:
            status = "pending"
        elif pair.channel_locale in failed or job.status == SyncJobStatusValue.FAILED:
            status = "error"
        else:
            status = "synced" if last_synced_at else "never"
        return cls(
            pim_locale=pair.pim_locale, channel_locale=pair.channel_locale, status=status, last_synced_at=last_synced_at
        )


@strawberry.type(name="FieldMapping")
class FieldMappingType:
    id: strawberry.ID
    attribute_code: str
    channel_field: str
    direction: MappingDirection  # type: ignore[valid-type]
    transformation: JSON | None = strawberry.field(
        description=(
            'e.g. {applyTax: true, taxRate: 0.15}, {maxLength: 255}, {valueMap: {...}}, {template: "{brand} {name}"}'
        )
    )
    locale_mapping: list[LocalePair] | None = strawberry.field(
        description="Overrides the connector's locale mapping for this field."
    )
    when_empty: EmptyValuePolicy  # type: ignore[valid-type]
    broken: str | None = strawberry.field(
        description=(
            "Why this mapping is broken (CHN-061: its attribute, or one its template names, was deleted, or it no "
            "longer checks out); exports skip it. Null when sound."
        )
    )

    @classmethod
    def from_rows(
        cls, rows: Sequence[FieldMapping], catalog: CatalogSpec, connector: Connector
    ) -> list[FieldMappingType]:
        """A connector's whole saved set, in order: whether one is broken may lie in the others."""
        reasons = broken_reasons(connector, rows, catalog)
        return [cls.from_row(row, broken) for row, broken in zip(rows, reasons, strict=True)]

    @classmethod
    def from_row(cls, row: FieldMapping, broken: str | None) -> FieldMappingType:
        pairs = row.locale_mapping
        return cls(
            id=global_id("FieldMapping", row.id),
            attribute_code=row.attribute_code,
            channel_field=row.channel_field,
            direction=MappingDirectionValue(row.direction),
            transformation=row.transformation,
            locale_mapping=None
            if pairs is None
            else [LocalePair.from_value(LocalePairValue.from_json(p)) for p in pairs],
            when_empty=EmptyValuePolicyValue(row.when_empty),
            broken=broken,
        )


@strawberry.type(name="Connector")
class ConnectorType(Node):
    row: strawberry.Private[Connector]
    code: str
    name: str
    channel_type: ChannelType  # type: ignore[valid-type]
    status: ConnectorStatus  # type: ignore[valid-type]
    status_reason: str | None = strawberry.field(description="Why the connector is in ERROR or PAUSED, when it is.")
    last_synced_at: datetime | None
    last_tested_at: datetime | None = strawberry.field(description="When the connection was last tested.")
    store_name: str | None = strawberry.field(description="The store's name, as its last connection test reported.")

    @strawberry.field
    def settings(self) -> ConnectorSettings:
        return ConnectorSettings.from_row(self.row)

    @strawberry.field(description="Channel locales the store reported at its last connection test.")
    def supported_locales(self) -> list[str]:
        return list(self.row.supported_locales or [])

    @strawberry.field
    async def mappings(self, info: Info) -> list[FieldMappingType]:
        info.context.require(Scope.MAPPINGS_VIEW)
        rows = await info.context.loaders.mappings_by_connector.load(self.row.id)
        catalog = await info.context.loaders.spec()
        return FieldMappingType.from_rows(rows, catalog, self.row)

    @strawberry.field(description="Public URL path that the channel posts its webhooks to.")
    def webhook_path(self) -> str | None:
        return webhook_path(self.row.public_id)

    @strawberry.field(description="The newest sync job that was not a dry run.")
    async def last_job(self, info: Info) -> SyncJobType | None:
        info.context.require(Scope.SYNC_VIEW)
        job = await info.context.loaders.last_job_by_connector.load(self.row.id)
        return None if job is None else SyncJobType.from_row(job)

    @strawberry.field(
        description=(
            "Per mapped locale, as of the newest sync: synced, error (it failed products in that locale), "
            "pending (a sync is under way) or never."
        )
    )
    async def locale_sync_status(self, info: Info) -> list[LocaleSyncStatus]:
        info.context.require(Scope.SYNC_VIEW)
        job = await info.context.loaders.last_job_by_connector.load(self.row.id)
        failed = set() if job is None else await info.context.loaders.error_locales_by_job.load(job.id)
        pairs = settings_of(self.row).locale_mapping
        return [LocaleSyncStatus.of(pair, job, failed, self.row.last_synced_at) for pair in pairs]

    @strawberry.field
    async def sync_jobs(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: SyncJobStatus | None = None,  # type: ignore[valid-type]
    ) -> SyncJobConnection:
        info.context.require(Scope.SYNC_VIEW)
        wanted = SyncJobStatusValue(status).value if status else None
        loader = info.context.loaders.jobs_of_connector
        return await owned_page(loader, "SyncJob", self.row.id, wanted, first, after, SyncJobType.from_row)

    @strawberry.field(description="This connector's conflicts, newest first.")
    async def conflicts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        resolution_status: ResolutionStatus | None = None,  # type: ignore[valid-type]
    ) -> ConflictConnection:
        info.context.require(Scope.CONFLICTS_VIEW)
        loader, wanted = info.context.loaders.conflicts_of_connector, status_value(resolution_status)
        return await owned_page(loader, "Conflict", self.row.id, wanted, first, after, ConflictType.from_row)

    @strawberry.field(description="Conflicts waiting for a person's decision.")
    async def pending_conflict_count(self, info: Info) -> int:
        info.context.require(Scope.CONFLICTS_VIEW)
        return await info.context.loaders.pending_conflicts_by_connector.load(self.row.id)

    @classmethod
    def from_row(cls, row: Connector) -> ConnectorType:
        return cls(
            id=global_id("Connector", row.id),
            row=row,
            code=row.code,
            name=row.name,
            channel_type=ChannelTypeValue(row.channel_type),
            status=ConnectorStatusValue(row.status),
            status_reason=row.status_reason,
            last_synced_at=row.last_synced_at,
            last_tested_at=row.last_tested_at,
            store_name=row.store_name,
        )


@strawberry.type(name="ChannelListing")
class ChannelListingType:
    row: strawberry.Private[Listing]
    external_id: str | None = strawberry.field(description="The product's id on the channel, once created there.")
    status: str = strawberry.field(description="synced | pending | error | conflict | never")
    last_synced_at: datetime | None

    @strawberry.field
    async def connector(self, info: Info) -> ConnectorType:
        return await connector_of(info, self.row.connector_id, f"listing {self.row.id}")

    @classmethod
    def from_row(cls, row: Listing) -> ChannelListingType:
        return cls(row=row, external_id=row.external_id, status=row.status, last_synced_at=row.last_synced_at)


@strawberry.type
class ChannelInfo:
    store_name: str | None
    supported_locales: list[str]
    product_count: int | None

    @classmethod
    def from_data(cls, info: ChannelInfoData) -> ChannelInfo:
        return cls(
            store_name=info.store_name, supported_locales=list(info.supported_locales), product_count=info.product_count
        )


@strawberry.type
class TestResult:
    success: bool
    message: str
    channel_info: ChannelInfo | None
    code: str | None = strawberry.field(
        default=None,
        description="Why the test failed, as a CHN code (CHN-003 refused, CHN-021 unavailable, CHN-023 timeout ...): "
        "the one the message starts with. null when it succeeded.",
    )

    @classmethod
    def from_outcome(cls, outcome: TestOutcome) -> TestResult:
        info = None if outcome.info is None else ChannelInfo.from_data(outcome.info)
        code = None if outcome.code is None else outcome.code.value
        return cls(success=outcome.success, message=outcome.message, channel_info=info, code=code)


@strawberry.type
class ConnectorPayload:
    connector: ConnectorType | None
    test_result: TestResult | None
    user_errors: list[UserError]


@strawberry.type
class DeletePayload:
    deleted_id: strawberry.ID | None
    user_errors: list[UserError]


@strawberry.type
class TestConnectionPayload:
    test_result: TestResult | None
    user_errors: list[UserError]


@strawberry.type
class SaveMappingsPayload:
    mappings: list[FieldMappingType] = strawberry.field(
        description="The set saved; when the save is refused (userErrors), the set still stored, unchanged."
    )
    user_errors: list[UserError]


@strawberry.type(description="A field a pending conflict holds: a sync leaves it as the channel has it.")
class HeldField:
    field: str
    conflict_id: strawberry.ID = strawberry.field(
        description="The pending conflict that holds it (resolve it to send)."
    )


@strawberry.type(description="What would be sent for one product, per channel locale, without sending it.")
class ExportPreview:
    sku: str
    channel_locale: str
    pim_locale: str
    fields: JSON = strawberry.field(description="Channel field -> value, after locale fallback and transformations.")
    sources: JSON = strawberry.field(
        description=(
            'Channel field -> where its value came from: "authored", "fallback:<pim locale>", "default", '
            'or "empty" (sent as an explicit clear).'
        )
    )
    will_send: bool = strawberry.field(
        description=(
            "false when the sync sends nothing of this locale: holdIncompleteLocales keeps it back, a problem of its "
            "own does, a problem of the product's fields fails the whole product, or pending conflicts hold all of it."
        )
    )
    problems: list[UserError] = strawberry.field(
        description="Fields left empty or invalid for this channel, with CHN codes."
    )
    held: list[HeldField] = strawberry.field(
        description="Fields a pending conflict holds until it is resolved: not in `fields`, not sent."
    )

    @classmethod
    def from_preview(cls, preview: Preview) -> ExportPreview:
        return cls(
            sku=preview.sku,
            channel_locale=preview.channel_locale,
            pim_locale=preview.pim_locale,
            fields=JSON(dict(preview.fields)),
            sources=JSON(dict(preview.sources)),
            will_send=preview.will_send,
            problems=user_errors(preview.problems),
            held=[
                HeldField(field=item.field, conflict_id=global_id("Conflict", item.conflict_id))
                for item in preview.held
            ],
        )


ConnectorConnection = Connection[ConnectorType]


async def connector_of(info: Info, connector_id: int, owner: str) -> ConnectorType:
    """The connector a row (`owner`, e.g. "job 7") belongs to, through the request's loader.

    Reached from a job, a conflict or a listing, it needs the connectors-view
    scope all the same: the nested field shows what `connector(code:)` shows.
    """
    info.context.require(Scope.CONNECTORS_VIEW)
    row = await info.context.loaders.connector_by_id.load(connector_id)
    if row is None:
        raise LookupError(f"{owner} names a connector that does not exist")
    return ConnectorType.from_row(row)
