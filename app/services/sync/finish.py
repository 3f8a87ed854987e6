"""Ending a job once its last chunk is done, and what that means for the connector.

A completed FULL or INCREMENTAL job moves the connector's cursor to the
revision the job was planned at; a job limited to SKUs (SINGLE, retries) or
to some locales does not, since it did not send everything. Jobs that keep failing put the
connector in ERROR so schedules stop hammering a broken channel.
"""

from __future__ import annotations

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.container import Container
from app.db.base import utcnow
from app.db.models import Connector, SyncJob
from app.domain.connectors import ConnectorStatus, SyncType
from app.domain.sync import SyncJobStatus
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
        status = _final_status(job)
        if job.started_at is None and status is SyncJobStatus.COMPLETED:
            record_start(session, job)  # planned with nothing to send: no chunk was ever taken
        job.status, job.completed_at = status.value, utcnow()
        if status is SyncJobStatus.COMPLETED:
            _completed(job, connector)
        elif status is SyncJobStatus.FAILED:
            _failed(session, job, connector)
        EventRepository(session).record(
            job.tenant_id,
            f"sync.{status.value.lower()}",
            connector_id=connector.id,
            job=job.id,
            synced=job.synced_products,
            failed=job.failed_products,
            skipped=job.skipped_products,
            dry_run=job.dry_run,
        )
    await progress.publish(container.redis, job_id, status.value)
    log.info("sync.finished", job=job_id, status=status.value)
    return status


def record_start(session: AsyncSession, job: SyncJob) -> None:
    """RUNNING from now, recorded as sync.started: once per job, since only a PENDING job starts."""
    job.status, job.started_at = SyncJobStatus.RUNNING.value, utcnow()
    EventRepository(session).record(
        job.tenant_id, "sync.started", connector_id=job.connector_id, job=job.id, dry_run=job.dry_run
    )


def _final_status(job: SyncJob) -> SyncJobStatus:
    if job.failure:
        return SyncJobStatus.FAILED
    if job.cancel_requested:
        return SyncJobStatus.CANCELLED
    return SyncJobStatus.COMPLETED


def _completed(job: SyncJob, connector: Connector) -> None:
    # Products changed, deleted or disabled after planning drop out of their page: the planned total was an
    # estimate, and a finished job's counts add up to what it went through (a later job takes those products).
    job.total_products = job.synced_products + job.failed_products + job.skipped_products + job.conflicted_products
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


def _failed(session: AsyncSession, job: SyncJob, connector: Connector) -> None:
    """One more failed job in a row; the one that makes FAILED_JOBS_BEFORE_ERROR puts the connector in ERROR (a
    connector already there, as rejected credentials put it, keeps the reason it was given)."""
    connector.failed_job_streak += 1
    if connector.failed_job_streak < FAILED_JOBS_BEFORE_ERROR or connector.status in _STAYS:
        return
    reason = f"{connector.failed_job_streak} sync jobs failed in a row; last: {job.failure or 'the sync failed'}"
    put_in_error(session, connector, reason, job=job.id)
