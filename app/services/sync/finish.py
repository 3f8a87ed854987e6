"""Ending a job once its last chunk is done, and what that means for the connector.

A completed FULL or INCREMENTAL job moves the connector's cursor to the
revision the job was planned at; a job limited to SKUs (SINGLE, retries) or
to some locales does not, since it did not send everything. Jobs that keep failing put the
connector in ERROR so schedules stop hammering a broken channel.

A job fails as a whole (job.failure, set by the runner: credentials rejected, a chunk no worker can finish), or
by failing every product it went through (domain.sync.every_product_failed; a product failed in one locale may
have been written in the others, as its change row says), so it ends FAILED saying how, moves neither the cursor nor the connector's last sync (the next INCREMENTAL sync takes
every product of it again), and counts toward the connector's run of failed jobs unless only its products' own
data was refused (domain.sync.blames_the_channel). A job where some products went through is COMPLETED.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.container import Container
from app.db.base import utcnow
from app.db.models import Connector, SyncJob
from app.domain.connectors import ConnectorStatus, SyncType
from app.domain.sync import SyncJobStatus, blames_the_channel, every_product_failed, every_product_failed_reason
from app.repositories.connectors import ConnectorRepository
from app.repositories.events import EventRepository
from app.repositories.sync_jobs import SyncJobRepository
from app.services.connectors import put_in_error
from app.services.sync import progress

log = structlog.get_logger(__name__)

FAILED_JOBS_BEFORE_ERROR = 3
_STAYS = (ConnectorStatus.ERROR, ConnectorStatus.PAUSED)
"""Statuses a failed job leaves as they are: ERROR has its reason already, PAUSED is a person's to end."""


async def finish_job(container: Container, job_id: int) -> SyncJobStatus | None:
    """End the job if no chunk is left open; returns its final status, or None while work remains."""
    async with container.db.transaction() as session:
        jobs = SyncJobRepository(session)
        if not await ConnectorRepository(session).hold(await jobs.connector_of(job_id=job_id, tenant_id=None)):
            return None
        job = await jobs.get_any(job_id, for_update=True)
        if job is None or SyncJobStatus(job.status).finished or await jobs.open_chunks(job.id):
            return None
        connector = (await ConnectorRepository(session).by_ids(job.tenant_id, [job.connector_id]))[job.connector_id]
        blames_connector = await _fail_when_every_product_failed(jobs, job)
        status = _final_status(job)
        if job.started_at is None and status is SyncJobStatus.COMPLETED:
            record_start(session, job)  # planned with nothing to send: no chunk was ever taken
        job.status, job.completed_at = status.value, utcnow()
        errored = None
        if status is SyncJobStatus.COMPLETED:
            _completed(job, connector)
        elif status is SyncJobStatus.FAILED and blames_connector:
            errored = _failed(session, job, connector)
        _record_end(session, job, status)
        code, failure = connector.code, job.failure
        counts = {"synced": job.synced_products, "failed": job.failed_products, "skipped": job.skipped_products}
    await progress.publish(container.redis, job_id, status.value)
    if status is SyncJobStatus.FAILED:
        log.warning("sync.finished", job=job_id, connector=code, status=status.value, failure=failure, **counts)
    else:
        log.info("sync.finished", job=job_id, connector=code, status=status.value, **counts)
    if errored is not None:
        log.warning("connector.error", connector=code, reason=errored)
    return status


def record_start(session: AsyncSession, job: SyncJob) -> None:
    """RUNNING from now, recorded as sync.started: once per job, since only a PENDING job starts."""
    job.status, job.started_at = SyncJobStatus.RUNNING.value, utcnow()
    EventRepository(session).record(
        job.tenant_id, "sync.started", connector_id=job.connector_id, job=job.id, dry_run=job.dry_run
    )


def _record_end(session: AsyncSession, job: SyncJob, status: SyncJobStatus) -> None:
    """sync.completed, sync.failed (with the reason) or sync.cancelled, with the job's counts."""
    reason = {"failure": job.failure} if status is SyncJobStatus.FAILED else {}
    EventRepository(session).record(
        job.tenant_id,
        f"sync.{status.value.lower()}",
        connector_id=job.connector_id,
        job=job.id,
        synced=job.synced_products,
        failed=job.failed_products,
        skipped=job.skipped_products,
        dry_run=job.dry_run,
        **reason,
    )


async def _fail_when_every_product_failed(jobs: SyncJobRepository, job: SyncJob) -> bool:
    """Give a job that failed every product it went through its reason (job.failure), so it ends FAILED; returns
    whether its failure counts toward the connector's run of failed jobs (not when only its products' own data was
    refused). A job failed as a whole already counts; a cancelled one ends as the person asked, CANCELLED."""
    if job.failure or job.cancel_requested:
        return True
    if not every_product_failed(
        synced=job.synced_products,
        failed=job.failed_products,
        skipped=job.skipped_products,
        conflicted=job.conflicted_products,
        dry_run=job.dry_run,
    ):
        return True
    tally = await jobs.failure_tally(job.id)
    _count_what_it_went_through(job)
    job.failure = every_product_failed_reason(job.total_products, tally)
    return blames_the_channel(tally)


def _count_what_it_went_through(job: SyncJob) -> None:
    # Products changed, deleted or disabled after planning drop out of their page: the planned total was an
    # estimate, and a finished job's counts add up to what it went through (a later job takes those products).
    job.total_products = job.synced_products + job.failed_products + job.skipped_products + job.conflicted_products


def _final_status(job: SyncJob) -> SyncJobStatus:
    if job.failure:
        return SyncJobStatus.FAILED
    if job.cancel_requested:
        return SyncJobStatus.CANCELLED
    return SyncJobStatus.COMPLETED


def _completed(job: SyncJob, connector: Connector) -> None:
    _count_what_it_went_through(job)
    if job.dry_run:
        return
    now = utcnow()
    connector.last_synced_at = now
    connector.failed_job_streak = 0
    # A job limited to some locales left the others' changes unsent: it must not move the cursor past them.
    covers_everything = (
        not job.product_skus and not job.locales and job.sync_type in (SyncType.FULL, SyncType.INCREMENTAL)
    )
    if covers_everything and job.revision_to is not None:
        connector.sync_cursor = max(connector.sync_cursor, job.revision_to)
        connector.synced_mappings_version = job.mappings_version


def _failed(session: AsyncSession, job: SyncJob, connector: Connector) -> str | None:
    """One more failed job in a row; the one that makes FAILED_JOBS_BEFORE_ERROR puts the connector in ERROR (a
    connector already there, as rejected credentials put it, keeps the reason it was given): the reason, then."""
    connector.failed_job_streak += 1
    if connector.failed_job_streak < FAILED_JOBS_BEFORE_ERROR or connector.status in _STAYS:
        return None
    reason = f"{connector.failed_job_streak} sync jobs failed in a row; last: {job.failure or 'the sync failed'}"
    put_in_error(session, connector, reason, job=job.id)
    return reason
