"""Asking a job to stop, for a person who cancels it and for a connector being paused.

A job with no chunk running ends CANCELLED at once; a running one is
stopped by its workers, which read the request when they record a page
(SyncJobRepository.add_counts), and ends CANCELLED when its last chunk
closes.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utcnow
from app.db.models import SyncJob
from app.domain.sync import ChunkStatus, SyncJobStatus
from app.repositories.events import EventRepository
from app.repositories.sync_jobs import SyncJobRepository


async def request_cancel(session: AsyncSession, job: SyncJob) -> None:
    """Mark `job` to stop and drop its chunks no worker took yet, queued or waiting their turn (both PENDING). The
    caller holds the job's connector first (ConnectorRepository.hold, or a lock on its row), then the job row, as
    finish_job does."""
    jobs = SyncJobRepository(session)
    job.cancel_requested = True
    for chunk in await jobs.chunks_of(job.id):
        if chunk.status == ChunkStatus.PENDING:
            chunk.status = ChunkStatus.CANCELLED.value
    if await jobs.open_chunks(job.id) == 0:
        job.status, job.completed_at = SyncJobStatus.CANCELLED.value, utcnow()
        EventRepository(session).record(
            job.tenant_id, "sync.cancelled", connector_id=job.connector_id, job=job.id, dry_run=job.dry_run
        )
