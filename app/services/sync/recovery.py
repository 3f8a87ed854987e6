"""Recovering work a dead worker left behind, and starting scheduled syncs.

arq re-runs a dead worker's job only once its in-progress key expires, which
can take as long as the job's timeout (python-arq/arq#343). The database
lease is the truth instead: a RUNNING chunk whose lease ran out is handed to
the next worker within a minute, and a PENDING chunk or job whose queue
message was lost is queued again. A PENDING one whose message still waits in
the queue (all workers busy) is left to it: queueing it again every pass
would pile up a copy per pass behind a long queue. Running a chunk twice is
harmless, because claiming it takes the lease. A chunk waiting its job's turn
(planner: PENDING, never queued) has no message to lose and is left to its
turn; but a job going on with fewer chunks queued or running than its turns
gets its next ones queued.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from app.container import Container
from app.db.base import utcnow
from app.db.models import SyncChunk
from app.domain.errors import InvalidInput
from app.domain.sync import ChunkStatus, SyncJobStatus
from app.repositories.connectors import ConnectorRepository
from app.repositories.sync_jobs import SyncJobRepository
from app.services.sync.finish import finish_job
from app.services.sync.jobs import SyncJobService
from app.services.sync.planner import enqueue_chunks, take_turns
from app.services.sync.queue import (
    chunk_message_id,
    enqueue_chunk,
    enqueue_plan,
    enqueue_recovery,
    plan_message_id,
    plan_stamp,
    waiting,
)

log = structlog.get_logger(__name__)

LOST_MESSAGE_AFTER = timedelta(minutes=2)
LEASE_GRACE = timedelta(milliseconds=100)
"""How long after a lease's end the deferred start-up pass runs, so that lease is past by then."""


async def recover_orphans(container: Container, *, now: datetime | None = None) -> int:
    """Queue again every chunk and job that no live worker holds and no queued message will run, and end the jobs
    whose last chunk closed without them; returns how many."""
    now = now or utcnow()
    async with container.db.transaction() as session:
        jobs = SyncJobRepository(session)
        chunks = await jobs.orphaned_chunks(now, enqueued_before=now - LOST_MESSAGE_AFTER)
        unplanned = await jobs.stale_pending(now - LOST_MESSAGE_AFTER)
        chunk_messages = {chunk.id: _pending_message(container.settings.queue_name, chunk) for chunk in chunks}
        plan_messages = {
            job.id: plan_message_id(container.settings.queue_name, job.id, plan_stamp(job)) for job in unplanned
        }
        queued = await waiting(
            container.redis,
            container.settings.queue_name,
            [message for message in chunk_messages.values() if message] + list(plan_messages.values()),
        )
        requeue = await _reclaim(jobs, [chunk for chunk in chunks if chunk_messages[chunk.id] not in queued], now)
        stale = [
            (job.id, job.priority)
            for job in unplanned
            if plan_messages[job.id] not in queued and await jobs.restamp_pending(job, plan_stamp(job), now)
        ]
        unended = await jobs.unended()
    turns = await _hand_on_turns(container, now)
    for job_id in unended:
        await finish_job(container, job_id)  # safe beside the worker ending it too: the first one ends it
    for chunk_id, priority in requeue:
        await enqueue_chunk(container.redis, chunk_id=chunk_id, priority=priority, stamp=now)
    for job_id, priority in stale:
        await enqueue_plan(container.redis, job_id=job_id, priority=priority, stamp=now)
    for priority, chunk_ids in turns:
        await enqueue_chunks(container.redis, chunk_ids, priority=priority, stamp=now)
    given = sum(len(chunk_ids) for _, chunk_ids in turns)
    if requeue or stale or unended or given:
        log.warning("sync.recovered", chunks=len(requeue), jobs=len(stale), ended=len(unended), turns=given)
    return len(requeue) + len(stale) + len(unended) + given


async def _hand_on_turns(container: Container, now: datetime) -> list[tuple[int, list[int]]]:
    """Queue the next waiting chunk of every job with a free turn and none on the queue: (priority, chunk ids) per
    job, for the caller to enqueue; the worker that takes it hands on the job's next turn (planner). A transaction
    of its own, after the one that reclaimed chunks, so each job's lock is taken alone (its chunks after it) and the
    chunks reclaimed are counted as queued."""
    turns_per_job = container.settings.sync_chunks_per_job
    async with container.db.transaction() as session:
        jobs = SyncJobRepository(session)
        short = await jobs.short_of_turns(turns_per_job)
        owners = await jobs.any_by_ids(short, for_update=True) if short else {}
        turns = [(job.priority, await take_turns(jobs, job, turns=turns_per_job, now=now)) for job in owners.values()]
    return [(priority, chunk_ids) for priority, chunk_ids in turns if chunk_ids]


async def _reclaim(jobs: SyncJobRepository, chunks: list[SyncChunk], now: datetime) -> list[tuple[int, int]]:
    """Hand the chunks back to the queue as PENDING (their jobs RETRYING if running); (chunk id, priority) each.

    Each chunk is taken only as it was read (SyncJobRepository.reclaim): two workers starting at once both find
    the dead worker's chunks, and only the first hands each on, so no chunk is queued twice nor taken back from a
    worker that has just claimed it."""
    requeue: list[tuple[int, int]] = []
    owners = await jobs.any_by_ids({chunk.job_id for chunk in chunks}, for_update=True) if chunks else {}
    for chunk in chunks:
        job = owners.get(chunk.job_id)
        if job is None or not await jobs.reclaim(chunk, now):
            continue
        if job.status == SyncJobStatus.RUNNING:
            job.status = SyncJobStatus.RETRYING.value
        requeue.append((chunk.id, job.priority))
    return requeue


async def recover_at_startup(container: Container) -> int:
    """Recover what no worker holds, and come back once the leases still live now have run out.

    A worker that starts in place of a killed one finds the dead worker's
    chunks still leased (for up to sync_lease_seconds). Without this second,
    deferred pass they would wait for the next periodic sweep as well.
    A lease some live worker still renews is simply found live again then.
    """
    now = utcnow()
    recovered = await recover_orphans(container, now=now)
    async with container.db.reader() as session:
        last_lease = await SyncJobRepository(session).last_live_lease(now)
    if last_lease is not None:
        await enqueue_recovery(container.redis, at=last_lease + LEASE_GRACE)
    return recovered


def _pending_message(queue_name: str, chunk: SyncChunk) -> str | None:
    """A PENDING chunk's message id; None for a RUNNING one, which its expired lease hands on whatever arq holds."""
    if chunk.status != ChunkStatus.PENDING or chunk.enqueued_at is None:
        return None
    return chunk_message_id(queue_name, chunk.id, chunk.enqueued_at)


async def schedule_due_syncs(container: Container, *, now: datetime | None = None) -> list[int]:
    """Start an INCREMENTAL sync for every connector whose interval has passed; returns the new jobs' ids.

    A connector in ERROR or PAUSED is skipped until resumeConnector makes it
    CONNECTED again; one with an active job is taken at the first check after
    that job ends. Each connector's slot is taken with its job
    (SyncJobService.trigger_scheduled), so several workers running this at
    once start one job per slot, and a check that was missed (no worker was
    up) is made up by the next one, once.
    """
    now = now or utcnow()
    async with container.db.reader() as session:
        due = [(row.tenant_id, row.id, row.code) for row in await ConnectorRepository(session).due_for_schedule(now)]
    started = []
    for tenant_id, connector_id, code in due:
        try:
            triggered = await SyncJobService(container, tenant_id).trigger_scheduled(connector_id, now=now)
        except InvalidInput as exc:  # the connector changed since it was found due: its slot stays free
            log.info("sync.schedule_skipped", connector=code, reason=exc.message)
            continue
        if triggered is not None:
            started.append(triggered.job.id)
    return started
