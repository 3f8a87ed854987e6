"""Planning a job: fix its product selection and cut it into chunks that workers run in parallel.

The selection is fixed by revision when the job is planned (products changed
in (connector cursor, tenant revision now]), not by clock, so a change made
while the job runs is either in this job or in the next one, never lost.
Chunks are id ranges found by keyset steps; the catalog is never loaded.
"""

from __future__ import annotations

import structlog

from app.channels.registry import channel_type_spec
from app.container import Container
from app.db.base import utcnow
from app.db.models import SyncChunk
from app.domain.channels import ChannelType
from app.domain.sync import ChunkStatus, SyncJobStatus
from app.repositories.connectors import ConnectorRepository
from app.repositories.products import ProductRepository
from app.repositories.sync_jobs import SyncJobRepository
from app.repositories.tenants import TenantRepository
from app.services.sync.finish import finish_job
from app.services.sync.jobs import selection_for
from app.services.sync.queue import enqueue_chunk

log = structlog.get_logger(__name__)

MAX_CHUNK = 2000
MIN_CHUNK = 50
BATCHES_PER_CHUNK = 20


def chunk_size(batch_size: int) -> int:
    """Products per chunk: twenty of the channel's batches, so arq jobs stay short and workers share a job.

    A chunk's fixed cost (claim, mapping plan, adapter, close: about 25 ms)
    was a tenth of an unthrottled export with five batches per chunk; twenty
    make it a fortieth. A lost worker costs no more with larger chunks, since
    its successor resumes from the last recorded page. A channel that takes
    100 products per request gets 2,000 per chunk (60 requests: 12 s at
    CUSTOM_HTTP's default 5 a second); one that takes them one by one
    (Shopify's productSet) gets 50.
    """
    return max(MIN_CHUNK, min(MAX_CHUNK, batch_size * BATCHES_PER_CHUNK))


async def plan_job(container: Container, job_id: int, *, size: int | None = None) -> int:
    """Create the job's chunks and queue them; returns how many. A job planned before is left alone."""
    async with container.db.transaction() as session:
        jobs = SyncJobRepository(session)
        job = await jobs.get_any(job_id, for_update=True)
        if job is None or job.status != SyncJobStatus.PENDING or await jobs.chunks_of(job.id):
            return 0
        if job.cancel_requested:
            job.status, job.completed_at = SyncJobStatus.CANCELLED.value, utcnow()
            return 0
        connector = (await ConnectorRepository(session).by_ids(job.tenant_id, [job.connector_id]))[job.connector_id]
        revision = await TenantRepository(session).current_revision(job.tenant_id)
        selection = selection_for(job, connector, revision)
        products = ProductRepository(session)
        spec = channel_type_spec(ChannelType(connector.channel_type))
        size = size or container.settings.sync_chunk_size or chunk_size(spec.batch_size)
        bounds = await products.chunk_bounds(job.tenant_id, selection, size)
        job.total_products = await products.count_selected(job.tenant_id, selection)
        job.revision_from, job.revision_to = connector.sync_cursor, revision
        job.select_all = selection.everything
        job.mappings_version = connector.mappings_version
        now = utcnow()
        chunks = [
            SyncChunk(
                tenant_id=job.tenant_id,
                job_id=job.id,
                first_product_id=first,
                last_product_id=last,
                cursor=first - 1,
                status=ChunkStatus.PENDING.value,
                enqueued_at=now,
            )
            for first, last in bounds
        ]
        jobs.add_chunks(chunks)
        await jobs.flush()
        priority = job.priority
    log.info("sync.planned", job=job_id, products=job.total_products, chunks=len(chunks))
    if not chunks:
        await finish_job(container, job_id)
        return 0
    for chunk in chunks:
        await enqueue_chunk(container.redis, chunk_id=chunk.id, priority=priority, stamp=now)
    return len(chunks)
