"""syncJobUpdated: a job's progress, pushed as workers publish it (graphql-transport-ws)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from app.db.models import SyncJob
from app.domain.scopes import Scope
from app.domain.sync import SyncJobStatus
from app.services.sync import progress
from app.services.sync.jobs import SyncJobService
from app.services.tokens import TokenWatch
from graphql_schema.context import Info
from graphql_schema.sync.queries import job_pk
from graphql_schema.sync.types import SyncJobType

POLL_SECONDS = 1.0
"""Without a message for this long the job is read anyway: a missed message never leaves a stale view."""


async def _state(info: Info, job: SyncJob) -> tuple[object, ...]:
    """What a frontend shows of the job and can change while it runs: a change to any of it is pushed.

    cancelRequested was left out, so a running job read as cancelling only once its page ended; and a PENDING job's
    place in the queue, which moves as the jobs ahead of it start or end, read as it was until the job started.
    It is read with this event's loaders, which the update then shows."""
    place = None
    if job.status == SyncJobStatus.PENDING:
        place = await info.context.loaders.queue_position_by_job.load(job.id)
    return (
        job.status,
        job.total_products,
        job.synced_products,
        job.failed_products,
        job.skipped_products,
        job.conflicted_products,
        job.cancel_requested,
        place,
    )


@strawberry.type
class SyncSubscription:
    @strawberry.subscription(
        description="Emits the job on every progress step and status change, ending when it finishes."
    )
    async def sync_job_updated(self, info: Info, id: strawberry.ID) -> AsyncGenerator[SyncJobType, None]:
        info.context.require(Scope.SYNC_VIEW)
        pk = job_pk(str(id))
        service = SyncJobService(info.context.container, info.context.tenant_id)
        token = TokenWatch(info.context.container.db, info.context.caller)
        with info.context.subscription_slot():
            updates = progress.listen(info.context.container.redis, pk, every=POLL_SECONDS)
            try:
                await anext(updates)  # subscribed before the first read, so no step falls between the two
                job = await service.get(pk)
                last = await _state(info, job)
                yield SyncJobType.from_row(job)
                while not SyncJobStatus(job.status).finished:
                    await anext(updates)
                    await token.check()
                    job = await service.get(pk)
                    info.context.next_event()
                    state = await _state(info, job)
                    if state != last:
                        last = state
                        yield SyncJobType.from_row(job)
            finally:
                await updates.aclose()
