"""Running one chunk of a sync job: page by page, under a lease, recording as it goes.

Each page of products is built, matched, sent and recorded; the records, the
counts and the chunk's cursor are written in one transaction, so a worker
killed at any point loses at most the pages in flight (one being sent, one
being recorded: see `_pages`). Whoever resumes the chunk redoes them, and
finds by SKU what the dead worker had already created on the channel, so
nothing is created twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from app import stops
from app.channels.base import ChannelAdapter, CredentialsRejected
from app.channels.factory import AdapterUnavailable
from app.container import Container
from app.db.base import utcnow
from app.db.models import LEASE_OWNER_LENGTH, Connector, SyncChunk, SyncJob
from app.domain.connectors import ConnectorStatus, SyncType
from app.domain.export_plan import ExportPlan
from app.domain.sync import ChunkStatus, PagePace, Selection, SyncJobStatus
from app.redis_outage import unless_redis_fails
from app.repositories.connectors import ConnectorRepository
from app.repositories.sync_jobs import SyncJobRepository, waits_its_turn
from app.secrets import CredentialsUnreadable
from app.services.conflicts.notify import publish_conflict
from app.services.connectors import put_in_error
from app.services.mappings import MappingService
from app.services.sync import progress
from app.services.sync.adapters import open_adapter
from app.services.sync.finish import finish_job, record_start
from app.services.sync.pages import LeaseLost, PageWork, make_pass, record_page, send_page
from app.services.sync.planner import enqueue_chunks, take_turns
from app.services.sync.queue import enqueue_recovery
from app.services.sync.recovery import LEASE_GRACE
from app.stops import ended_before_stopping

log = structlog.get_logger(__name__)


MAX_CHUNK_ATTEMPTS = 10
"""Claims of one chunk in a row that recorded no page before its job is failed. A chunk that fails or kills every
worker taking it (a bug, a product the pipeline cannot take) would otherwise be handed on by recovery forever, its
job holding the connector (CHN-090); ten claims outlast any run of deploys or crashed workers, and a recorded page
starts the count afresh (pages.record_page), so workers stopped one after another in a long chunk never add up."""


class JobFailed(Exception):
    """The job cannot go on (credentials rejected, set-up broken); `reason` is shown to people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Claim:
    chunk: SyncChunk
    job: SyncJob
    connector: Connector
    selection: Selection
    handed: list[int]
    """The job's chunks whose turn the claim handed on (planner.take_turns), for `_announce` to queue."""
    taken_at: datetime


async def run_chunk(container: Container, chunk_id: int, *, worker: str) -> None:
    """Run (or resume) one chunk; safe to call twice, since the lease lets only one worker in.

    The lease is held in the name of this run, not of the worker process: a worker that takes back a chunk
    it was presumed dead on (its own earlier run stalled past the lease) must not let that run write on.
    """
    lease = timedelta(seconds=container.settings.sync_lease_seconds)
    worker = f"{worker[: LEASE_OWNER_LENGTH - 9]}/{secrets.token_hex(4)}"
    with stops.watched() as stop:
        try:
            await _run(container, chunk_id, worker, lease)
        except asyncio.CancelledError:
            # The worker is stopping (SIGTERM in a deploy): hand the chunk back now, not once its lease runs out;
            # whoever resumes it redoes at most the pages in flight, matching by SKU. Unless the stop gave up on a
            # write the shop had not answered: the chunk is kept until that write can no longer land.
            if stop.abandoned_until is None:
                await asyncio.shield(_release(container, chunk_id, worker))
            else:
                await asyncio.shield(_keep_until(container, chunk_id, worker, stop.abandoned_until))
            raise


async def _keep_until(container: Container, chunk_id: int, worker: str, until: datetime) -> None:
    """Keep the chunk leased to this run until `until`, the deadline of a write the stop gave up on, and have a
    recovery pass hand it on just after.

    Released at once, the next worker would look the page's products up by SKU while the shop may still be applying
    the write, find none, and create them a second time. Past the write's deadline its exchange has ended, answered
    or not; the recovery pass queued for then (recover_orphans) takes the chunk as a dead worker's, its lease run
    out, and the next worker's look-up finds whatever the write created."""
    async with container.db.transaction() as session:
        kept = await SyncJobRepository(session).update_held_chunk(
            chunk_id, worker, running=True, lease_expires_at=until
        )
    if kept:
        await unless_redis_fails(enqueue_recovery(container.redis, at=until + LEASE_GRACE), None)
    log.warning("sync.chunk_kept_for_a_write", chunk=chunk_id, until=until.isoformat(), kept=kept)


async def _run(container: Container, chunk_id: int, worker: str, lease: timedelta) -> None:
    """Claim, run and close the chunk. The steps that change what the job's rows say (the claim, a hand-back, the
    close with the job's end, a failure) each run to their end before a stop is taken (ended_before_stopping): cut
    off in its commit, a claim landed with no run left to hand the chunk back, and a close left its job RUNNING with
    every chunk done, both until the next recovery sweep."""
    claim = await ended_before_stopping(_claim(container, chunk_id, worker, lease))
    if claim is None:
        return
    try:
        await _announce(container, claim)
        adapter, plan = await _prepare(container, claim)
        async with _heartbeat(container, chunk_id, worker, lease):
            closing = await _pages(container, claim, adapter, plan, worker, lease)
        if closing is None:
            await ended_before_stopping(_hand_back(container, claim, worker))
        else:
            await ended_before_stopping(_close(container, claim, worker, closing))
    except JobFailed as exc:
        await ended_before_stopping(_fail_job(container, claim, exc.reason))
    except LeaseLost:
        log.warning("sync.lease_lost", chunk=chunk_id, worker=worker)


async def _hand_back(container: Container, claim: Claim, worker: str) -> None:
    """The run's time is up (settings.sync_run_seconds) with pages left: queue the chunk again at once, for this
    worker or another (a message Redis cannot take is queued again by recovery, as a turn handed on is). Its
    attempts start over, since this run recorded pages: they count runs that got nowhere."""
    now = utcnow()
    if not await _release(container, claim.chunk.id, worker, attempts=0, enqueued_at=now):
        raise LeaseLost(str(claim.chunk.id))
    await enqueue_chunks(container.redis, [claim.chunk.id], priority=claim.job.priority, stamp=now)
    log.info("sync.chunk_handed_back", chunk=claim.chunk.id, cursor=claim.chunk.cursor)


PACE_SECONDS = 3600
"""How long a connector's page size, as its last pages taught it, is remembered for the next run of any chunk."""


def pace_key(connector: Connector) -> str:
    """The Redis key of the page size a connector's pages last settled at (PagePace): shared by every chunk of it,
    since they share its rate, so a run starts at what the last one learned rather than at a page too slow."""
    return f"pimsync:pace:{connector.public_id}"


async def _remembered_pace(container: Container, connector: Connector) -> int | None:
    """Best effort: without Redis's answer a run starts at the configured page size."""
    with contextlib.suppress(RedisError, OSError, ValueError):
        found = await container.redis.get(pace_key(connector))
        return int(found) if found else None
    return None


async def _remember_pace(container: Container, connector: Connector, limit: int) -> None:
    with contextlib.suppress(RedisError, OSError):
        await container.redis.set(pace_key(connector), limit, ex=PACE_SECONDS)


async def _release(container: Container, chunk_id: int, worker: str, **also: Any) -> bool:
    """The chunk PENDING again with no lease (and `also` set), if this run still held it running: one it closed (a
    stop landing just after) stays closed."""
    async with container.db.transaction() as session:
        released = await SyncJobRepository(session).update_held_chunk(
            chunk_id,
            worker,
            running=True,
            status=ChunkStatus.PENDING.value,
            lease_owner=None,
            lease_expires_at=None,
            **also,
        )
    log.info("sync.chunk_released", chunk=chunk_id, released=released)
    return released


async def _claim(container: Container, chunk_id: int, worker: str, lease: timedelta) -> Claim | None:
    """Take the chunk under this worker's lease; None when it is done, held by a live worker, or cancelled.

    The job is locked before the chunk (SyncJobRepository's lock order): a job being failed or cancelled
    meanwhile has cancelled the chunk by the time it is read here."""
    now = utcnow()
    cancelled_job: int | None = None
    claim: Claim | None = None
    async with container.db.transaction() as session:
        jobs = SyncJobRepository(session)
        owners = await jobs.owners_of(chunk_id)
        if owners is None:
            return None
        connector_id, job_id = owners
        if not await ConnectorRepository(session).hold(connector_id):
            return None
        job = await jobs.get_any(job_id, for_update=True)
        chunk = await jobs.chunk(chunk_id, for_update=True)
        if job is None or chunk is None or chunk.status in (ChunkStatus.DONE, ChunkStatus.CANCELLED):
            return None
        if waits_its_turn(chunk):
            return None  # no message was queued for it yet: one is, once a turn is handed to it
        if chunk.status == ChunkStatus.RUNNING and chunk.lease_expires_at and chunk.lease_expires_at > now:
            return None
        if chunk.attempts >= MAX_CHUNK_ATTEMPTS:
            job.failure = job.failure or _given_up(chunk)
        if job.cancel_requested or job.failure or SyncJobStatus(job.status).finished:
            # The chunks waiting their turn have no message to bring them here: they are cancelled with this one.
            await jobs.cancel_waiting(job.id)
            chunk.status = ChunkStatus.CANCELLED.value
            cancelled_job = job.id
        else:
            claim = await _take(session, chunk, job, worker, lease, now)
            # The job's next turn, if it has one free, for the next worker to poll (planner: turns one at a time).
            claim.handed = await take_turns(jobs, job, turns=container.settings.sync_chunks_per_job, now=now)
    if cancelled_job is not None:
        await finish_job(container, cancelled_job)
        return None
    return claim


async def _announce(container: Container, claim: Claim) -> None:
    """Queue the turns the claim handed on and tell the job's listeners it runs: inside the run, so that a stop
    landing meanwhile hands the chunk back at once, instead of leaving it leased to a run that is gone."""
    await enqueue_chunks(container.redis, claim.handed, priority=claim.job.priority, stamp=claim.taken_at)
    await progress.publish(container.redis, claim.job.id, SyncJobStatus.RUNNING.value)


def _given_up(chunk: SyncChunk) -> str:
    return (
        f"a chunk of the job was taken up {chunk.attempts} times in a row without getting anywhere: each worker that "
        "took it failed or died on it before recording a page (see the workers' logs)"
    )


async def _take(
    session: AsyncSession, chunk: SyncChunk, job: SyncJob, worker: str, lease: timedelta, now: datetime
) -> Claim:
    """Hold the chunk under this worker's lease and mark the job started."""
    chunk.status, chunk.lease_owner, chunk.lease_expires_at = ChunkStatus.RUNNING.value, worker, now + lease
    chunk.attempts += 1
    if job.status == SyncJobStatus.PENDING:
        record_start(session, job)
    elif job.status == SyncJobStatus.RETRYING:
        job.status = SyncJobStatus.RUNNING.value
    connector = (await ConnectorRepository(session).by_ids(job.tenant_id, [job.connector_id]))[job.connector_id]
    return Claim(chunk, job, connector, job_selection(job), handed=[], taken_at=now)


def job_selection(job: SyncJob) -> Selection:
    """The selection the planner fixed for this job."""
    if job.product_skus:
        return Selection(skus=tuple(job.product_skus))
    if job.select_all:
        return Selection(everything=True, listed_on=job.connector_id)
    return Selection(revision_from=job.revision_from, revision_to=job.revision_to, failed_on=job.connector_id)


async def _prepare(container: Container, claim: Claim) -> tuple[ChannelAdapter, ExportPlan]:
    connector = claim.connector
    if connector.status == ConnectorStatus.PAUSED:
        raise JobFailed(f"connector '{connector.code}' was paused: {connector.status_reason}")
    try:
        adapter = await open_adapter(container, connector)
    except (CredentialsUnreadable, AdapterUnavailable, CredentialsRejected) as exc:
        raise JobFailed(str(exc)) from None
    plan, _ = await MappingService(container, connector.tenant_id).plan(connector, claim.job.locales)
    return adapter, plan


async def _pages(
    container: Container, claim: Claim, adapter: ChannelAdapter, plan: ExportPlan, worker: str, lease: timedelta
) -> ChunkStatus | None:
    """Pages in a pipeline: while one page is sent, the next is loaded and the one before is recorded; None when
    the run's time ran out with pages left (the caller hands the chunk back), else what the chunk is closed as.

    No page is started once settings.sync_run_seconds have passed since the first was, and a page slower than a
    quarter of that makes the next smaller (PagePace): a chunk slowed by its channel's rate goes on over several
    runs, each inside the chunk task's timeout. A page that outlasts the timeout (a connector's first, at the
    configured size, on a slow shop) has made the connector's remembered pace smaller while it was sent
    (`_learn_while_sent`), so the retry of the run arq cut off starts at a page that fits.

    The channel's answers, the database and Redis are waited on at the same
    time instead of in turn. Pages are still recorded in order, each with the
    cursor after it, so a worker killed here leaves at most two pages (the one
    being sent and the one being recorded) for whoever resumes the chunk, and
    matching by SKU keeps that from creating anything twice. Cancellation is
    seen when a page is recorded; the page already sent is recorded too, and so it is when the worker stops.
    """
    chunk, job = claim.chunk, claim.job
    how = make_pass(
        container,
        claim.connector,
        plan,
        dry_run=job.dry_run,
        force=job.force_resync,
        named=frozenset(job.product_skus or ()),
        check_all=job.sync_type == SyncType.FULL.value,
    )

    run_seconds = container.settings.sync_run_seconds
    page_size = container.settings.sync_page_size
    remembered = await _remembered_pace(container, claim.connector)
    pace = PagePace(limit=min(page_size, remembered or page_size), most=page_size, target=run_seconds / 4)
    clock = asyncio.get_running_loop().time
    ends = clock() + run_seconds

    def load(after_id: int) -> asyncio.Task[PageWork]:
        return asyncio.create_task(
            PageWork.load(
                container,
                job=job,
                connector=claim.connector,
                selection=claim.selection,
                chunk=chunk,
                after_id=after_id,
                limit=pace.limit,
                plan=plan,
            )
        )

    async def record(work: PageWork) -> bool:
        """Record a sent page; whether the job was asked to cancel."""
        recorded = await record_page(container, work, how, worker=worker, lease=lease)
        for conflict_id in recorded.conflicts:
            await publish_conflict(container.redis, job.tenant_id, claim.connector.code, conflict_id)
        chunk.cursor = work.last_product_id
        await progress.publish(container.redis, job.id, SyncJobStatus.RUNNING.value)
        return recorded.cancelled

    cancelled = await _cancel_requested(container, job.id)
    recording: asyncio.Task[bool] | None = None
    loading = None if cancelled else load(chunk.cursor)
    timed_out = False
    try:
        while loading is not None and not cancelled:
            work = await loading
            if work.empty:
                break
            if recording is not None and clock() >= ends:  # pages left, and this run sent some: hand it back
                loading, timed_out = None, True
                break
            loading = load(work.last_product_id)
            started = clock()
            try:
                async with _meanwhile(_learn_while_sent(container, claim.connector, pace, len(work.items), clock)):
                    await send_page(work, adapter, how)
                if pace.sent(len(work.items), clock() - started):
                    await _remember_pace(container, claim.connector, pace.limit)
            except CredentialsRejected as exc:
                raise JobFailed(exc.summary) from None
            finally:
                if recording is not None:
                    cancelled = await asyncio.shield(recording)
            recording = asyncio.create_task(record(work))
        if recording is not None:
            cancelled = await asyncio.shield(recording) or cancelled
    finally:
        await _settle(loading, recording)
    if timed_out and not cancelled:
        return None
    return ChunkStatus.CANCELLED if cancelled else ChunkStatus.DONE


async def _settle(*tasks: asyncio.Task[Any] | None) -> None:
    """Let a prefetched page and a page being recorded finish before leaving: a page already sent is still
    recorded when the next one fails or the worker stops (the recording is shielded from the stop, the loading is
    not), and no database session is cut off in the middle of a statement. Their own failures were met already or
    are the one leaving."""
    started = [task for task in tasks if task is not None]
    if started:
        await asyncio.wait(started)
    for task in started:
        if not task.cancelled():
            task.exception()


async def _cancel_requested(container: Container, job_id: int) -> bool:
    async with container.db.reader() as session:
        job = await SyncJobRepository(session).get_any(job_id)
    return job is None or job.cancel_requested


async def _close(container: Container, claim: Claim, worker: str, status: ChunkStatus) -> None:
    """Close the chunk, then end its job if that was the job's last open chunk."""
    await _close_chunk(container, claim, worker, status)
    await finish_job(container, claim.job.id)


async def _close_chunk(container: Container, claim: Claim, worker: str, status: ChunkStatus) -> None:
    """Close the chunk and hand its turn on the queue to the job's next chunk waiting for one (planner.take_turns),
    in one transaction: a worker dying in between can leave neither the turn unused nor the chunk open."""
    chunk_id, now = claim.chunk.id, utcnow()
    async with container.db.transaction() as session:
        jobs = SyncJobRepository(session)
        held = await ConnectorRepository(session).hold(claim.connector.id)
        job = await jobs.get_any(claim.job.id, for_update=True) if held else None
        if job is None or not await jobs.update_held_chunk(
            chunk_id, worker, status=status.value, lease_expires_at=None
        ):
            raise LeaseLost(str(chunk_id))
        turns = await take_turns(jobs, job, turns=container.settings.sync_chunks_per_job, now=now)
    await enqueue_chunks(container.redis, turns, priority=claim.job.priority, stamp=now)


async def _fail_job(container: Container, claim: Claim, reason: str) -> None:
    """Stop the whole job and put the connector in ERROR: people must fix credentials or set-up first."""
    async with container.db.transaction() as session:
        jobs = SyncJobRepository(session)
        held = await ConnectorRepository(session).hold(claim.connector.id)
        job = await jobs.get_any(claim.job.id, for_update=True) if held else None
        if job is None:
            return  # the connector was deleted meanwhile, and its jobs with it
        job.failure = reason
        for chunk in await jobs.chunks_of(job.id):
            if chunk.status in (ChunkStatus.PENDING, ChunkStatus.RUNNING):
                chunk.status, chunk.lease_expires_at = ChunkStatus.CANCELLED.value, None
        connector = (await ConnectorRepository(session).by_ids(job.tenant_id, [job.connector_id]))[job.connector_id]
        put_in_error(session, connector, reason, job=job.id)
    log.warning("sync.job_failed", job=claim.job.id, reason=reason)
    await finish_job(container, claim.job.id)


async def _learn_while_sent(
    container: Container, connector: Connector, pace: PagePace, products: int, clock: Callable[[], float]
) -> None:
    """Every `pace.target` seconds a page of `products` is still in flight, remember the smaller pace it shows.

    A run can be cut off in the middle of a page (arq's job timeout, a worker killed) and record nothing of it;
    learning only from pages that end would leave its retry the same page, cut off again on every attempt until
    the job gives up. What is remembered here is what the retry, on any worker, starts at."""
    started = clock()
    while True:
        await asyncio.sleep(pace.target)
        if pace.sending(products, clock() - started):
            await _remember_pace(container, connector, pace.limit)


def _heartbeat(
    container: Container, chunk_id: int, worker: str, lease: timedelta
) -> contextlib.AbstractAsyncContextManager[None]:
    """Keep the chunk's lease alive while a slow page (a throttled channel) is in flight: a beat every third of it."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(lease.total_seconds() / 3)
            async with container.db.transaction() as session:
                renewed = await SyncJobRepository(session).update_held_chunk(
                    chunk_id, worker, lease_expires_at=utcnow() + lease
                )
            if not renewed:
                return

    return _meanwhile(beat())


@contextlib.asynccontextmanager
async def _meanwhile(work: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run `work` beside the block, and stop it when the block ends, however it ends.

    Its end is waited for, not awaited: a stop of this task arriving meanwhile (a deploy's SIGTERM) is raised here
    as this task's own, where awaiting the cancelled `work` would have taken it for `work`'s and swallowed it.
    `work`'s failure is raised once the block ends well; a block that raised (a stop above all) keeps its own
    exception, which `work`'s would have replaced, and `work`'s is logged."""
    task = asyncio.create_task(work)
    try:
        yield
    except BaseException:
        if (error := await _stopped(task)) is not None:
            log.warning("sync.helper_failed", error=f"{type(error).__name__}: {error}")
        raise
    if (error := await _stopped(task)) is not None:
        raise error


async def _stopped(task: asyncio.Task[None]) -> BaseException | None:
    """Cancel `task` and wait for its end; what it failed with, if it failed."""
    task.cancel()
    await asyncio.wait((task,))
    return None if task.cancelled() else task.exception()
