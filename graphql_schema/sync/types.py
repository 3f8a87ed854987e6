"""SyncJob and its errors and changes, as the contract names them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from app.db.models import SyncJob, SyncJobChange, SyncJobError
from app.domain.connectors import SyncType as SyncTypeValue
from app.domain.scopes import VALUES_HIDDEN, Scope
from app.domain.sync import ChangeAction as ChangeActionValue
from app.domain.sync import SyncJobStatus as SyncJobStatusValue
from app.domain.sync import SyncPriority as SyncPriorityValue
from app.domain.sync import failure_without_values, progress
from graphql_schema.context import Info
from graphql_schema.enums import ChangeAction, SyncJobStatus, SyncPriority, SyncType
from graphql_schema.loaders import owned_page
from graphql_schema.relay import Connection, Node, global_id
from graphql_schema.scalars import JSON

if TYPE_CHECKING:
    from graphql_schema.connectors.types import ConnectorType


@strawberry.type(name="SyncError")
class SyncErrorType:
    product_sku: str
    locale: str | None = strawberry.field(description="Channel locale the error concerns, when it concerns one.")
    error_code: str
    text: strawberry.Private[str]

    @strawberry.field(
        description="Why, in words. It may quote the product's values, so without catalog.view it reads "
        "'hidden: ...' instead (the product, code and locale stay visible)."
    )
    def message(self, info: Info) -> str:
        return info.context.values_shown(self.text, lambda _: VALUES_HIDDEN)

    @classmethod
    def from_row(cls, row: SyncJobError) -> SyncErrorType:
        return cls(product_sku=row.product_sku, locale=row.locale, error_code=row.error_code, text=row.message)


@strawberry.type
class FieldChange:
    field: str
    channel_locale: str | None
    before_data: strawberry.Private[JSON | None]
    after_data: strawberry.Private[JSON | None]
    held: bool = strawberry.field(
        default=False,
        description="Held in a conflict, not written: `after` is the PIM's value waiting for a decision, `before` "
        "the channel's. A CONFLICT change lists what was written alongside what was held.",
    )

    @strawberry.field(description="The channel's value before the job; a product value, so it needs catalog.view.")
    def before(self, info: Info) -> JSON | None:
        info.context.require(Scope.CATALOG_VIEW)
        return self.before_data

    @strawberry.field(description="The value the job sent (or held); a product value, so it needs catalog.view.")
    def after(self, info: Info) -> JSON | None:
        info.context.require(Scope.CATALOG_VIEW)
        return self.after_data


@strawberry.type(description="What a job did (or, dry run, would do) to one product.")
class ProductChange:
    product_sku: str
    action: ChangeAction  # type: ignore[valid-type]
    fields: list[FieldChange]

    @classmethod
    def from_row(cls, row: SyncJobChange) -> ProductChange:
        return cls(
            product_sku=row.product_sku,
            action=ChangeActionValue(row.action),
            fields=[
                FieldChange(
                    field=item["field"],
                    channel_locale=item.get("channelLocale"),
                    before_data=JSON(item.get("before")),
                    after_data=JSON(item.get("after")),
                    held=bool(item.get("held", False)),
                )
                for item in row.fields
            ],
        )


SyncErrorConnection = Connection[SyncErrorType]
ProductChangeConnection = Connection[ProductChange]


@strawberry.type(name="SyncJob")
class SyncJobType(Node):
    row: strawberry.Private[SyncJob]
    sync_type: SyncType  # type: ignore[valid-type]
    status: SyncJobStatus  # type: ignore[valid-type]
    priority: SyncPriority  # type: ignore[valid-type]
    total_products: int
    synced_products: int
    failed_products: int
    skipped_products: int = strawberry.field(description="Unchanged since the last sync, so nothing was sent.")
    conflicted_products: int = strawberry.field(
        description="Held in a pending conflict for a person to resolve (some fields, or the product whole); a "
        "conflict the connector's strategy decided counts as what it led to: synced, or skipped when nothing was sent."
    )
    locales: list[str] | None
    retry_of: strawberry.ID | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    dry_run: bool
    reason: strawberry.Private[str | None]
    cancel_requested: bool = strawberry.field(
        description="cancelSyncJob (or pauseConnector) asked the job to stop: a RUNNING job stays RUNNING until its "
        "workers reach the end of the page they are sending, then ends CANCELLED. A frontend shows it as cancelling."
    )

    @strawberry.field(
        description="Why the job FAILED, when it did: as a whole (credentials refused ...), or on every product it "
        "went through (how many, their most common CHN code and its first message, which without catalog.view reads "
        "as hidden, as `errors` do; `errors` lists each)."
    )
    def failure(self, info: Info) -> str | None:
        return info.context.values_shown(self.reason, failure_without_values)

    @strawberry.field(
        description="0.0 .. 1.0: the share of its products the job went through; 1.0 once COMPLETED, where it "
        "stopped for a CANCELLED or FAILED job."
    )
    def progress(self) -> float:
        row = self.row
        done = row.synced_products + row.failed_products + row.skipped_products + row.conflicted_products
        return progress(done, row.total_products, completed=row.status == SyncJobStatusValue.COMPLETED)

    @strawberry.field
    async def connector(
        self, info: Info
    ) -> Annotated[ConnectorType, strawberry.lazy("graphql_schema.connectors.types")]:
        from graphql_schema.connectors.types import connector_of

        return await connector_of(info, self.row.connector_id, f"job {self.row.id}")

    @strawberry.field(description="Place in the queue while PENDING (1 runs next); null once the job started.")
    async def queue_position(self, info: Info) -> int | None:
        if self.row.status != SyncJobStatusValue.PENDING:
            return None
        return await info.context.loaders.queue_position_by_job.load(self.row.id)

    @strawberry.field
    async def errors(self, info: Info, first: int | None = None, after: str | None = None) -> SyncErrorConnection:
        info.context.require(Scope.SYNC_VIEW)
        loader = info.context.loaders.errors_of_job
        return await owned_page(loader, "SyncError", self.row.id, None, first, after, SyncErrorType.from_row)

    @strawberry.field
    async def changes(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        action: ChangeAction | None = None,  # type: ignore[valid-type]
    ) -> ProductChangeConnection:
        info.context.require(Scope.SYNC_VIEW)
        wanted = ChangeActionValue(action).value if action else None
        loader = info.context.loaders.changes_of_job
        return await owned_page(loader, "ProductChange", self.row.id, wanted, first, after, ProductChange.from_row)

    @classmethod
    def from_row(cls, row: SyncJob) -> SyncJobType:
        return cls(
            id=global_id("SyncJob", row.id),
            row=row,
            sync_type=SyncTypeValue(row.sync_type),
            status=SyncJobStatusValue(row.status),
            priority=SyncPriorityValue(row.priority),
            total_products=row.total_products,
            synced_products=row.synced_products,
            failed_products=row.failed_products,
            skipped_products=row.skipped_products,
            conflicted_products=row.conflicted_products,
            locales=row.locales,
            retry_of=None if row.retry_of is None else global_id("SyncJob", row.retry_of),
            created_at=row.created_at,
            started_at=row.started_at,
            completed_at=row.completed_at,
            dry_run=row.dry_run,
            reason=row.failure,
            cancel_requested=row.cancel_requested,
        )


SyncJobConnection = Connection[SyncJobType]
