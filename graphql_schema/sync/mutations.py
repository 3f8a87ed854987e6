"""triggerSync, cancelSyncJob, retrySyncJob: bad input fills userErrors and changes nothing."""

from __future__ import annotations

import strawberry

from app.domain.connectors import SyncType as SyncTypeValue
from app.domain.errors import ErrorCode, InvalidInput, UserErrorItem
from app.domain.scopes import Scope
from app.domain.sync import SyncPriority as SyncPriorityValue
from app.services.sync.jobs import MAX_DROPPED_SHOWN, SyncJobService, SyncRequest, Triggered
from graphql_schema.context import Info
from graphql_schema.enums import SyncPriority, SyncType
from graphql_schema.errors import UserError, attempt, user_errors
from graphql_schema.relay import BadArgument
from graphql_schema.sync.queries import job_pk
from graphql_schema.sync.types import SyncJobType


@strawberry.input
class TriggerSyncInput:
    sync_type: SyncType  # type: ignore[valid-type]
    product_skus: list[str] | None = strawberry.field(
        default=None, description="Limit to these products; required for SINGLE."
    )
    force_resync: bool | None = strawberry.field(
        default=None, description="Send even what is unchanged since the last sync."
    )
    priority: SyncPriority | None = None  # type: ignore[valid-type]
    locales: list[str] | None = strawberry.field(
        default=None, description="PIM locales to sync; empty or absent: every mapped locale."
    )
    dry_run: bool | None = strawberry.field(
        default=None,
        description="Compute and record every change the job would make, per field and locale, and send nothing.",
    )

    def to_request(self) -> SyncRequest:
        return SyncRequest(
            sync_type=SyncTypeValue(self.sync_type),
            product_skus=tuple(self.product_skus) if self.product_skus else None,
            force_resync=bool(self.force_resync),
            priority=SyncPriorityValue(self.priority) if self.priority is not None else SyncPriorityValue.NORMAL,
            locales=tuple(self.locales) if self.locales else None,
            dry_run=bool(self.dry_run),
        )


@strawberry.type
class SyncJobPayload:
    sync_job: SyncJobType | None
    estimated_products: int | None = strawberry.field(description="How many products the job covers, as of now.")
    dropped_products: int | None = strawberry.field(
        default=None,
        description="retrySyncJob: how many failed products of the job retried it leaves out, deleted since; "
        "null for other mutations.",
    )
    dropped_skus: list[str] | None = strawberry.field(
        default=None,
        description=f"retrySyncJob: the SKUs of those products, the first {MAX_DROPPED_SHOWN} in order.",
    )
    user_errors: list[UserError]


def _bad_id(error: BadArgument) -> list[UserError]:
    return user_errors([UserErrorItem(("id",), error.message, ErrorCode.SYNC_JOB_NOT_FOUND)])


def _payload(result: Triggered | None, errors: list[UserError]) -> SyncJobPayload:
    if result is None:
        return SyncJobPayload(sync_job=None, estimated_products=None, user_errors=errors)
    dropped = result.dropped
    return SyncJobPayload(
        sync_job=SyncJobType.from_row(result.job),
        estimated_products=result.estimated_products,
        dropped_products=None if dropped is None else dropped.count,
        dropped_skus=None if dropped is None else list(dropped.skus),
        user_errors=[],
    )


@strawberry.type
class SyncMutation:
    @strawberry.mutation(description="Queue a sync; answers at once with the PENDING job.")
    async def trigger_sync(self, info: Info, connector_code: str, input: TriggerSyncInput) -> SyncJobPayload:
        service = SyncJobService(info.context.container, info.context.tenant_id)
        request = input.to_request()
        outcome = await attempt(info, Scope.SYNC_CREATE, lambda: service.trigger(connector_code, request))
        return _payload(outcome.value, outcome.errors)

    @strawberry.mutation(description="Stop a job: a pending one ends at once, a running one within seconds.")
    async def cancel_sync_job(self, info: Info, id: strawberry.ID) -> SyncJobPayload:
        service = SyncJobService(info.context.container, info.context.tenant_id)
        try:
            pk = job_pk(str(id))
        except BadArgument as exc:
            info.context.require(Scope.SYNC_CREATE)
            return _payload(None, _bad_id(exc))
        outcome = await attempt(info, Scope.SYNC_CREATE, lambda: service.cancel(pk))
        job = outcome.value
        return SyncJobPayload(
            sync_job=None if job is None else SyncJobType.from_row(job),
            estimated_products=None,
            user_errors=outcome.errors,
        )

    @strawberry.mutation(description="A new job over the failed products of a finished job.")
    async def retry_sync_job(self, info: Info, id: strawberry.ID) -> SyncJobPayload:
        service = SyncJobService(info.context.container, info.context.tenant_id)
        try:
            pk = job_pk(str(id))
        except BadArgument:
            info.context.require(Scope.SYNC_CREATE)
            missing = InvalidInput(
                [UserErrorItem(("id",), "the job to retry was not found", ErrorCode.RETRY_SOURCE_NOT_FOUND)]
            )
            return _payload(None, user_errors(missing.errors))
        outcome = await attempt(info, Scope.SYNC_CREATE, lambda: service.retry(pk))
        return _payload(outcome.value, outcome.errors)
