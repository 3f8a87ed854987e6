"""Planning a job: fix its product selection and cut it into chunks that workers run in parallel, taking turns.

The selection is fixed by revision when the job is planned (products changed
in (connector cursor, tenant revision now]), not by clock, so a change made
while the job runs is either in this job or in the next one, never lost.
Chunks are id ranges found by keyset steps; the catalog is never loaded.

Chunks take turns on the queue, which every tenant's jobs share: a job has at
most settings.sync_chunks_per_job of them queued or running; the others wait
their turn, PENDING with no message nor `enqueued_at`. Turns are handed out one
at a time (`take_turns`, under the job's row lock, by the transaction that
takes a chunk, closes one, or recovers the job): a job starts with one chunk
queued, and each chunk a worker takes queues the next while the job has a turn
free. arq gives a polling worker as many queued messages as it has free slots,
so a job's turns queued all at once went to whichever worker polled first, the
other workers idle beside it; one at a time, the next is on the queue while the
first runs, for whichever worker polls next, so a job spreads over the workers
that are free (a lone worker has four turns three polls later). Not a
quota: no worker knows how many others poll, so a worker may still take two of
a job's turns when it happens to poll first each time.

Each chunk that closes hands its turn to the job's next waiting one, queued
then with a fresh start time, so it goes behind whatever other jobs queued
meanwhile: jobs take turns on the workers instead of the first large job
holding them all until it ends (chunks of a rate-limited channel share its
rate, so more of them at once would only make each slower). A chunk handed
back when its run's time is up keeps its turn and is queued again the same
way. A message lost on the way is queued again by recovery, which also hands
the next turn of a job left with fewer queued or running chunks than it may
have and none on the queue.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import structlog
from redis.exceptions import RedisError

from app.channels.registry import channel_type_spec
from app.container import Container
from app.db.base import utcnow
from app.db.models import SyncChunk, SyncJob
from app.domain.channels import ChannelType
from app.domain.sync import ChunkStatus, SyncJobStatus
from app.repositories.connectors import ConnectorRepository
from app.repositories.products import ProductRepository
from app.repositories.sync_jobs import SyncJobRepository
from app.repositories.tenants import TenantRepository
from app.services.sync.finish import finish_job
from app.services.sync.jobs import selection_for
from app.services.sync.queue import Queue, enqueue_chunk
from app.stops import ended_before_stopping

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
    """Create the job's chunks and queue the first of them (its first turn: the workers that take its chunks hand
    out the others, see the module's docstring); returns how many chunks. A job planned before is left alone."""
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
                enqueued_at=now if number == 0 else None,  # None: waits its turn (SyncJobRepository.waits_its_turn)
            )
            for number, (first, last) in enumerate(bounds)
        ]
        jobs.add_chunks(chunks)
        await jobs.flush()
        priority = job.priority
    log.info("sync.planned", job=job_id, products=job.total_products, chunks=len(chunks))
    if not chunks:
        await finish_job(container, job_id)
        return 0
    await enqueue_chunks(container.redis, [chunks[0].id], priority=priority, stamp=now)
    return len(chunks)


async def take_turns(jobs: SyncJobRepository, job: SyncJob, *, turns: int, now: datetime) -> list[int]:
    """Give the job's next chunk waiting for a turn one, queued at `now`, if the job has one free (of `turns`): its
    id, for the caller to enqueue once its transaction has committed (a message sent earlier could reach a worker
    before the chunk is PENDING; one lost after the commit is queued again by recovery). One at a time, whoever
    calls (a chunk taken, a chunk closed, recovery): see the module's docstring.

    The caller holds the job's row lock (SyncJobRepository's lock order: job before chunks), so two chunks of the
    job closing at once on two workers count the turns one after the other: each waiting chunk is queued once.
    A job that is stopping queues nothing more."""
    if job.cancel_requested or job.failure or SyncJobStatus(job.status).finished:
        return []
    free = turns - await jobs.queued_chunks(job.id)
    return await jobs.take_turns(job.id, 1, now) if free > 0 else []


async def enqueue_chunks(queue: Queue, chunk_ids: Sequence[int], *, priority: int, stamp: datetime) -> None:
    """Queue the committed PENDING chunks. When Redis cannot take them the caller goes on (a worker still ends its
    job): recovery queues a PENDING chunk whose message never arrived (recovery.LOST_MESSAGE_AFTER).

    A caller stopped meanwhile (a worker in a deploy) is stopped once the messages are sent: the chunks hold their
    job's turns already, and cut off, they waited those two minutes with nothing to bring a worker to them."""
    await ended_before_stopping(_enqueue(queue, chunk_ids, priority=priority, stamp=stamp))


async def _enqueue(queue: Queue, chunk_ids: Sequence[int], *, priority: int, stamp: datetime) -> None:
    try:
        for chunk_id in chunk_ids:
            await enqueue_chunk(queue, chunk_id=chunk_id, priority=priority, stamp=stamp)
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("sync.enqueue_failed", chunks=list(chunk_ids), error=f"{type(exc).__name__}: {exc}")
