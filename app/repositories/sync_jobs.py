"""Sync jobs, their chunks, errors and changes: every query the sync engine and its API need.

Lock order. A transaction that writes or locks both a job's row and rows of
its chunks takes the job first, then the chunks: on PostgreSQL two
transactions taking them in opposite orders (a worker recording a page of
chunk X, and another failing or cancelling the job, which cancels X) each
wait for the other until one is aborted as a deadlock. Before both comes the
connector's hold (ConnectorRepository.hold), wherever it is taken. A worker
claiming a chunk reads which job it belongs to without locking it, and locks
the job before the chunk. One recording a page holds the job (`hold`) before
it moves its chunk on: that key-share lock waits for every writer that locks
the job FOR UPDATE, yet lets the workers of the job's other chunks record at
once, each adding its counts (the row's update) after the chunk. Inserting a
row that refers to the job (an error, a change) key-share locks it too. One
closing its chunk locks the job FOR UPDATE first, so two chunks of a job that
close at once hand their turns on the queue on one after the other
(planner.take_turns).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Product, SyncChunk, SyncJob, SyncJobChange, SyncJobError
from app.domain.errors import ErrorCode
from app.domain.sync import ACTIVE_STATUSES, ChunkStatus, CodeTally, SyncJobStatus
from app.repositories.pages import count_per_owner, newest_per_owner, oldest_per_owner


@dataclass(frozen=True, slots=True)
class SyncJobFilter:
    connector_id: int | None = None
    status: str | None = None
    sync_type: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class Counts:
    synced: int = 0
    failed: int = 0
    skipped: int = 0
    conflicted: int = 0


@dataclass(frozen=True, slots=True)
class JobAge:
    """What the retention walk reads of a job to tell whether its history may go."""

    id: int
    tenant_id: int
    connector_id: int
    status: str
    total_products: int
    created_at: datetime
    completed_at: datetime | None


class SyncJobRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- jobs ------------------------------------------------------------------------------------

    def add(self, job: SyncJob) -> None:
        self.session.add(job)

    async def flush(self) -> None:
        await self.session.flush()

    async def get(self, tenant_id: int, job_id: int, *, for_update: bool = False) -> SyncJob | None:
        statement = select(SyncJob).where(SyncJob.tenant_id == tenant_id, SyncJob.id == job_id)
        if for_update:
            statement = statement.with_for_update()
        return await self.session.scalar(statement)

    async def get_any(self, job_id: int, *, for_update: bool = False) -> SyncJob | None:
        """A job by id whatever its tenant: for workers, which are handed ids by the queue."""
        statement = select(SyncJob).where(SyncJob.id == job_id)
        if for_update:
            statement = statement.with_for_update()
        return await self.session.scalar(statement)

    async def hold(self, job_id: int) -> None:
        """Key-share lock the job's row until the transaction ends, to take it before the job's chunks (the
        module's lock order) without keeping out other holders: it waits only for a writer that locked the job
        FOR UPDATE, and the holder may still update the row's columns later (the counts)."""
        await self.session.execute(
            select(SyncJob.id).where(SyncJob.id == job_id).with_for_update(read=True, key_share=True)
        )

    async def any_by_ids(self, job_ids: Collection[int], *, for_update: bool = False) -> dict[int, SyncJob]:
        """Jobs by id whatever their tenant, in one query (locked in id order, so two callers cannot deadlock)."""
        statement = select(SyncJob).where(SyncJob.id.in_(job_ids)).order_by(SyncJob.id)
        if for_update:
            statement = statement.with_for_update()
        return {row.id: row for row in await self.session.scalars(statement)}

    async def by_ids(self, tenant_id: int, ids: Collection[int]) -> dict[int, SyncJob]:
        statement = select(SyncJob).where(SyncJob.tenant_id == tenant_id, SyncJob.id.in_(ids))
        return {row.id: row for row in await self.session.scalars(statement)}

    async def active_for(self, connector_id: int) -> SyncJob | None:
        statement = select(SyncJob).where(
            SyncJob.connector_id == connector_id, SyncJob.status.in_([s.value for s in ACTIVE_STATUSES])
        )
        return await self.session.scalar(statement)

    def _filtered(self, tenant_id: int, where: SyncJobFilter) -> Select[Any]:
        statement = select(SyncJob).where(SyncJob.tenant_id == tenant_id)
        if where.connector_id is not None:
            statement = statement.where(SyncJob.connector_id == where.connector_id)
        if where.status is not None:
            statement = statement.where(SyncJob.status == where.status)
        if where.sync_type is not None:
            statement = statement.where(SyncJob.sync_type == where.sync_type)
        if where.created_from is not None:
            statement = statement.where(SyncJob.created_at >= where.created_from)
        if where.created_to is not None:
            statement = statement.where(SyncJob.created_at <= where.created_to)
        return statement

    async def page(self, tenant_id: int, where: SyncJobFilter, *, before_id: int | None, limit: int) -> list[SyncJob]:
        """Newest first: a job list is read from the latest."""
        statement = self._filtered(tenant_id, where)
        if before_id is not None:
            statement = statement.where(SyncJob.id < before_id)
        return list(await self.session.scalars(statement.order_by(SyncJob.id.desc()).limit(limit)))

    async def newer_page(
        self, tenant_id: int, where: SyncJobFilter, *, after_id: int | None, limit: int
    ) -> list[SyncJob]:
        """`page` read backwards: the jobs newer than `after_id` (every job, when None), the oldest first."""
        statement = self._filtered(tenant_id, where)
        if after_id is not None:
            statement = statement.where(SyncJob.id > after_id)
        return list(await self.session.scalars(statement.order_by(SyncJob.id.asc()).limit(limit)))

    async def count(self, tenant_id: int, where: SyncJobFilter) -> int:
        subquery = self._filtered(tenant_id, where).with_only_columns(SyncJob.id).subquery()
        return int(await self.session.scalar(select(func.count()).select_from(subquery)) or 0)

    async def pages_of(
        self, tenant_id: int, where: SyncJobFilter, connector_ids: Collection[int], *, before_id: int | None, limit: int
    ) -> dict[int, list[SyncJob]]:
        """`page` for each of several connectors (`where` names none), in one query."""
        statement = self._filtered(tenant_id, where)
        return await newest_per_owner(
            self.session,
            SyncJob,
            statement,
            SyncJob.id,
            SyncJob.connector_id,
            connector_ids,
            before_id=before_id,
            limit=limit,
        )

    async def counts_of(self, tenant_id: int, where: SyncJobFilter, connector_ids: Collection[int]) -> dict[int, int]:
        """`count` for each of several connectors (`where` names none), in one query."""
        return await count_per_owner(
            self.session, self._filtered(tenant_id, where), SyncJob.connector_id, connector_ids
        )

    async def latest_for(self, tenant_id: int, connector_ids: Collection[int]) -> dict[int, SyncJob]:
        """Each connector's newest job that was not a dry run."""
        newest = (
            select(func.max(SyncJob.id))
            .where(SyncJob.tenant_id == tenant_id, SyncJob.connector_id.in_(connector_ids), SyncJob.dry_run.is_(False))
            .group_by(SyncJob.connector_id)
        )
        statement = select(SyncJob).where(SyncJob.id.in_(newest.scalar_subquery()))
        return {row.connector_id: row for row in await self.session.scalars(statement)}

    async def error_locales(self, job_ids: Collection[int]) -> dict[int, set[str]]:
        statement = (
            select(SyncJobError.job_id, SyncJobError.locale)
            .where(SyncJobError.job_id.in_(job_ids), SyncJobError.locale.is_not(None))
            .distinct()
        )
        found: dict[int, set[str]] = {job_id: set() for job_id in job_ids}
        for job_id, locale in await self.session.execute(statement):
            if locale is not None:
                found[job_id].add(locale)
        return found

    async def queue_positions(self, job_ids: Collection[int]) -> dict[int, int]:
        """Each still PENDING job's place in the queue, 1 for the next a worker takes: pending jobs of higher
        priority, then older ones, go first. One query for any number of jobs (a page of syncJobs).

        Every tenant's jobs count: the workers serve one queue, so a place among one tenant's jobs alone would
        promise a start that other tenants' jobs ahead of it delay (only the count of those shows, nothing else)."""
        position = func.row_number().over(order_by=(SyncJob.priority.desc(), SyncJob.id.asc())).label("position")
        queue = select(SyncJob.id, position).where(SyncJob.status == SyncJobStatus.PENDING.value).subquery()
        statement = select(queue.c.id, queue.c.position).where(queue.c.id.in_(job_ids))
        return {job_id: int(place) for job_id, place in await self.session.execute(statement)}

    async def add_counts(self, job_id: int, counts: Counts) -> bool:
        """Atomic increments (chunks of one job run on several workers at once); returns whether the job is to stop
        (asked to cancel, or failed on another worker), read by the same statement, so a recorded page costs no
        extra round trip to learn it."""
        statement = (
            update(SyncJob)
            .where(SyncJob.id == job_id)
            .values(
                synced_products=SyncJob.synced_products + counts.synced,
                failed_products=SyncJob.failed_products + counts.failed,
                skipped_products=SyncJob.skipped_products + counts.skipped,
                conflicted_products=SyncJob.conflicted_products + counts.conflicted,
            )
            # The two columns, not `cancel_requested OR failure IS NOT NULL`: SQLite 3.40 evaluates that expression
            # wrongly in RETURNING on this table (true for a job neither cancelled nor failed).
            .returning(SyncJob.cancel_requested, SyncJob.failure)
            .execution_options(synchronize_session=False)
        )
        row = (await self.session.execute(statement)).one()
        return bool(row.cancel_requested) or row.failure is not None

    async def stale_pending(self, queued_before: datetime) -> list[SyncJob]:
        """Pending jobs that were never planned, their planning queued before `queued_before` (its message may be
        lost). A job queued again since is left to that message, as `orphaned_chunks` leaves a chunk: a recovery
        pass that comes right after another must not find it lost before the other's message is even sent."""
        has_chunks = select(SyncChunk.id).where(SyncChunk.job_id == SyncJob.id).exists()
        statement = select(SyncJob).where(
            SyncJob.status == SyncJobStatus.PENDING.value,
            func.coalesce(SyncJob.enqueued_at, SyncJob.created_at) < queued_before,
            ~has_chunks,
        )
        return list(await self.session.scalars(statement))

    async def restamp_pending(self, job: SyncJob, stamp: datetime, now: datetime) -> bool:
        """Mark the never planned job queued again at `now`, if it is still PENDING with the planning message
        stamped `stamp` that was found lost: False when someone changed it since (`reclaim`)."""
        statement = (
            update(SyncJob)
            .where(
                SyncJob.id == job.id,
                SyncJob.status == SyncJobStatus.PENDING.value,
                func.coalesce(SyncJob.enqueued_at, SyncJob.created_at) == stamp,
            )
            .values(enqueued_at=now)
            .returning(SyncJob.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).first() is not None

    async def unended(self) -> list[int]:
        """Active jobs whose chunks are all closed: their end was never recorded (the worker that closed the last
        chunk died, or failed, before finish_job), and they would hold their connector (CHN-090) for good."""
        chunks = select(SyncChunk.id).where(SyncChunk.job_id == SyncJob.id)
        still_open = chunks.where(SyncChunk.status.in_([ChunkStatus.PENDING.value, ChunkStatus.RUNNING.value]))
        statement = select(SyncJob.id).where(
            SyncJob.status.in_([status.value for status in ACTIVE_STATUSES]), chunks.exists(), ~still_open.exists()
        )
        return list(await self.session.scalars(statement))

    # -- history ---------------------------------------------------------------------------------

    async def oldest(self, *, after_id: int, limit: int) -> list[JobAge]:
        """Jobs of every tenant in id order after `after_id`: the retention walk reads the oldest first and stops at
        the first one inside the retention (ids grow with time), so a run reads little more than it deletes."""
        statement = (
            select(SyncJob.id, SyncJob.tenant_id, SyncJob.connector_id, SyncJob.status, SyncJob.total_products)
            .add_columns(SyncJob.created_at, SyncJob.completed_at)
            .where(SyncJob.id > after_id)
            .order_by(SyncJob.id)
            .limit(limit)
        )
        return [JobAge(*row) for row in await self.session.execute(statement)]

    async def delete_finished(self, job_ids: Collection[int]) -> int:
        """Delete those of the jobs that have finished, with their chunks, errors and changes (the foreign keys
        cascade), each whole in this transaction: a retry reading a job's failed products sees all or none.
        Returns how many went."""
        finished = [status.value for status in SyncJobStatus if status.finished]
        statement = delete(SyncJob).where(SyncJob.id.in_(job_ids), SyncJob.status.in_(finished)).returning(SyncJob.id)
        return len((await self.session.execute(statement)).all())

    # -- chunks ----------------------------------------------------------------------------------

    def add_chunks(self, chunks: Sequence[SyncChunk]) -> None:
        self.session.add_all(chunks)

    async def connector_of(self, *, job_id: int, tenant_id: int | None) -> int | None:
        """The connector a job syncs to, read without locking: to hold it before the job. `tenant_id`: only a job
        of that tenant's (for a caller naming a job, whose hold must never reach another tenant's connector); None
        for a worker, handed the id by the queue."""
        statement = select(SyncJob.connector_id).where(SyncJob.id == job_id)
        if tenant_id is not None:
            statement = statement.where(SyncJob.tenant_id == tenant_id)
        return await self.session.scalar(statement)

    async def owners_of(self, chunk_id: int) -> tuple[int, int] | None:
        """The chunk's connector and job, read without locking: to hold the one and lock the other before the
        chunk (the module's lock order). Neither changes for a chunk; None when it is gone."""
        statement = (
            select(SyncJob.connector_id, SyncJob.id)
            .join(SyncChunk, SyncChunk.job_id == SyncJob.id)
            .where(SyncChunk.id == chunk_id)
        )
        row = (await self.session.execute(statement)).first()
        return (row.connector_id, row.id) if row is not None else None

    async def chunk(self, chunk_id: int, *, for_update: bool = False) -> SyncChunk | None:
        statement = select(SyncChunk).where(SyncChunk.id == chunk_id)
        if for_update:
            statement = statement.with_for_update()
        return await self.session.scalar(statement)

    async def update_held_chunk(self, chunk_id: int, worker: str, *, running: bool = False, **values: Any) -> bool:
        """Set these columns of the chunk if `worker` still holds its lease (and, when `running`, the chunk is still
        RUNNING: a closed chunk keeps its lease's owner); False when another worker took it over.

        One guarded UPDATE, which also takes the row's write lock as reading it FOR UPDATE would: whatever the
        caller writes after it in the transaction happens under that lock, and a lost lease rolls it all back.
        A caller that writes the chunk's job as well locks or holds the job first (the module's lock order).
        """
        held = [SyncChunk.id == chunk_id, SyncChunk.lease_owner == worker]
        if running:
            held.append(SyncChunk.status == ChunkStatus.RUNNING.value)
        statement = (
            update(SyncChunk)
            .where(*held)
            .values(**values)
            .returning(SyncChunk.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).first() is not None

    async def chunks_of(self, job_id: int) -> list[SyncChunk]:
        return list(await self.session.scalars(select(SyncChunk).where(SyncChunk.job_id == job_id)))

    async def open_chunks(self, job_id: int) -> int:
        """The job's chunks not yet closed, those waiting their turn included: while any is left the job goes on."""
        statement = select(func.count()).where(
            SyncChunk.job_id == job_id, SyncChunk.status.in_([ChunkStatus.PENDING.value, ChunkStatus.RUNNING.value])
        )
        return int(await self.session.scalar(statement) or 0)

    async def queued_chunks(self, job_id: int) -> int:
        """The job's chunks that hold a turn on the queue: queued or running."""
        statement = select(func.count()).where(SyncChunk.job_id == job_id, _HOLDS_A_TURN)
        return int(await self.session.scalar(statement) or 0)

    async def take_turns(self, job_id: int, count: int, now: datetime) -> list[int]:
        """Mark the job's first `count` chunks waiting their turn queued at `now`; their ids, in order. The caller
        holds the job's row lock, so two callers cannot count the same free turns."""
        waiting = select(SyncChunk.id).where(SyncChunk.job_id == job_id, _WAITS_ITS_TURN).order_by(SyncChunk.id)
        statement = (
            update(SyncChunk)
            .where(SyncChunk.id.in_(waiting.limit(count).scalar_subquery()), _WAITS_ITS_TURN)
            .values(enqueued_at=now)
            .returning(SyncChunk.id)
            .execution_options(synchronize_session=False)
        )
        return sorted(await self.session.scalars(statement))

    async def short_of_turns(self, turns: int) -> list[int]:
        """Jobs going on with chunks waiting their turn yet fewer than `turns` queued or running, none of them queued
        for a worker to take: recovery queues their next one (their earlier chunks closed without handing their
        turns on, or `turns` was raised). A job with a chunk on the queue gets its next turn when a worker takes
        that one (planner: turns one at a time)."""
        chunks = select(SyncChunk.id).where(SyncChunk.job_id == SyncJob.id)
        waits = chunks.where(_WAITS_ITS_TURN).exists()
        untaken = chunks.where(SyncChunk.status == ChunkStatus.PENDING.value, SyncChunk.enqueued_at.is_not(None))
        queued = select(func.count()).where(SyncChunk.job_id == SyncJob.id, _HOLDS_A_TURN).scalar_subquery()
        statement = select(SyncJob.id).where(
            SyncJob.status.in_([status.value for status in ACTIVE_STATUSES]),
            SyncJob.cancel_requested.is_(False),
            SyncJob.failure.is_(None),
            waits,
            ~untaken.exists(),
            queued < turns,
        )
        return list(await self.session.scalars(statement.order_by(SyncJob.id)))

    async def cancel_waiting(self, job_id: int) -> None:
        """Cancel the job's chunks waiting their turn, which no message will bring to a worker to cancel (the caller
        locked the job first: the module's lock order)."""
        statement = (
            update(SyncChunk)
            .where(SyncChunk.job_id == job_id, _WAITS_ITS_TURN)
            .values(status=ChunkStatus.CANCELLED.value)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(statement)

    async def orphaned_chunks(self, now: datetime, enqueued_before: datetime) -> list[SyncChunk]:
        """Running chunks whose lease ran out (their worker died) and pending ones whose message was lost (not one
        waiting its turn: with no `enqueued_at` it was never queued)."""
        statement = select(SyncChunk).where(
            or_(
                and_(SyncChunk.status == ChunkStatus.RUNNING.value, SyncChunk.lease_expires_at < now),
                and_(SyncChunk.status == ChunkStatus.PENDING.value, SyncChunk.enqueued_at < enqueued_before),
            )
        )
        return list(await self.session.scalars(statement))

    async def reclaim(self, chunk: SyncChunk, now: datetime) -> bool:
        """Make the orphaned chunk PENDING, queued at `now`, if it is still as `orphaned_chunks` read it (the same
        expired lease, or the same lost message); False when someone changed it since: another worker's recovery
        pass that reclaimed it first, a worker that took it, or its own worker renewing the lease. On PostgreSQL the
        condition is checked again on the row once a concurrent writer commits."""
        if chunk.status == ChunkStatus.RUNNING:
            unchanged = SyncChunk.lease_expires_at == chunk.lease_expires_at
        else:
            unchanged = SyncChunk.enqueued_at == chunk.enqueued_at
        statement = (
            update(SyncChunk)
            .where(SyncChunk.id == chunk.id, SyncChunk.status == chunk.status, unchanged)
            .values(status=ChunkStatus.PENDING.value, lease_owner=None, lease_expires_at=None, enqueued_at=now)
            .returning(SyncChunk.id)
            .execution_options(synchronize_session=False)
        )
        return (await self.session.execute(statement)).first() is not None

    async def last_live_lease(self, now: datetime) -> datetime | None:
        """When the last lease of a RUNNING chunk runs out, if any is still live."""
        statement = select(func.max(SyncChunk.lease_expires_at)).where(
            SyncChunk.status == ChunkStatus.RUNNING.value, SyncChunk.lease_expires_at >= now
        )
        return await self.session.scalar(statement)

    # -- errors and changes ----------------------------------------------------------------------

    async def insert_errors(self, rows: Sequence[dict[str, Any]]) -> None:
        """One INSERT for a page's errors: a page writes hundreds of rows, the ORM's unit of work is not needed.

        Run as Core on the session's connection (its transaction): the ORM's bulk insert, which nothing here
        needs, cost a fifth more CPU for a page's hundred rows."""
        if rows:
            await (await self.session.connection()).execute(insert(SyncJobError), list(rows))

    async def insert_changes(self, rows: Sequence[dict[str, Any]]) -> None:
        """A page's audit rows, in one INSERT as `insert_errors`."""
        if rows:
            await (await self.session.connection()).execute(insert(SyncJobChange), list(rows))

    async def error_pages(
        self, job_ids: Collection[int], *, after_id: int | None, limit: int
    ) -> dict[int, list[SyncJobError]]:
        """Each job's errors in the order recorded (after `after_id`), up to `limit`: one query for a listed page of
        jobs."""
        statement = select(SyncJobError)
        return await oldest_per_owner(
            self.session,
            SyncJobError,
            statement,
            SyncJobError.id,
            SyncJobError.job_id,
            job_ids,
            after_id=after_id,
            limit=limit,
        )

    async def change_pages(
        self, job_ids: Collection[int], *, action: str | None, after_id: int | None, limit: int
    ) -> dict[int, list[SyncJobChange]]:
        """`error_pages` for the jobs' changes, of one action when given."""
        return await oldest_per_owner(
            self.session,
            SyncJobChange,
            _changes(action),
            SyncJobChange.id,
            SyncJobChange.job_id,
            job_ids,
            after_id=after_id,
            limit=limit,
        )

    async def error_counts(self, job_ids: Collection[int]) -> dict[int, int]:
        """How many errors each job has in all, in one query."""
        return await count_per_owner(self.session, select(SyncJobError), SyncJobError.job_id, job_ids)

    async def change_counts(self, job_ids: Collection[int], *, action: str | None) -> dict[int, int]:
        """How many changes (of one action when given) each job has in all, in one query."""
        return await count_per_owner(self.session, _changes(action), SyncJobChange.job_id, job_ids)

    async def failed_skus(self, tenant_id: int, job_id: int) -> list[str]:
        """The job's failed products that still exist: a broken mapping alone (CHN-061) is reported on every product
        it touches but fails none of them (see items.failed), so it does not make a product worth retrying. One
        join however many failed: their SKUs sent back as parameters outgrew what PostgreSQL takes (32,767)."""
        return sorted(await self.session.scalars(_failed_skus(tenant_id, job_id, live=True)))

    async def deleted_failed_skus(self, tenant_id: int, job_id: int, *, limit: int) -> tuple[int, list[str]]:
        """The job's failed products deleted since (failed_skus leaves them out): how many, and the first `limit`
        SKUs in order."""
        gone = _failed_skus(tenant_id, job_id, live=False).subquery()
        count = await self.session.scalar(select(func.count()).select_from(gone))
        first = await self.session.scalars(select(gone.c.product_sku).order_by(gone.c.product_sku).limit(limit))
        return int(count or 0), list(first)

    async def failure_tally(self, job_id: int) -> list[CodeTally]:
        """Per error code of the job's failed products (a broken mapping alone fails none: see failed_skus), the
        products it failed and its first message, the most common first. Read once, as a job that failed every
        product ends; a product's errors recorded again by a chunk run twice count it once."""
        tally = (
            select(
                SyncJobError.error_code.label("code"),
                func.count(SyncJobError.product_sku.distinct()).label("products"),
                func.min(SyncJobError.id).label("first"),
            )
            .where(SyncJobError.job_id == job_id, SyncJobError.error_code != ErrorCode.MAPPING_BROKEN.value)
            .group_by(SyncJobError.error_code)
            .subquery()
        )
        statement = (
            select(tally.c.code, tally.c.products, SyncJobError.message)
            .join(SyncJobError, SyncJobError.id == tally.c.first)
            .order_by(tally.c.products.desc(), tally.c.first)
        )
        rows = await self.session.execute(statement)
        return [CodeTally(code, int(products), message) for code, products, message in rows]


def waits_its_turn(chunk: SyncChunk) -> bool:
    """Whether the chunk waits its job's turn on the queue (planner): PENDING, and never queued.

    Not a status of its own, so that a worker of the release before turns (in a rolling deploy) takes it for any
    PENDING chunk: it does not end the job before it, it cancels it with the job, and its recovery, which takes a
    PENDING chunk queued long ago for lost, never queues it (it has no `enqueued_at` to be long ago)."""
    return chunk.status == ChunkStatus.PENDING and chunk.enqueued_at is None


_WAITS_ITS_TURN = and_(SyncChunk.status == ChunkStatus.PENDING.value, SyncChunk.enqueued_at.is_(None))
"""`waits_its_turn` in SQL."""
_HOLDS_A_TURN = or_(
    SyncChunk.status == ChunkStatus.RUNNING.value,
    and_(SyncChunk.status == ChunkStatus.PENDING.value, SyncChunk.enqueued_at.is_not(None)),
)
"""A chunk queued or running: it holds one of its job's turns (settings.sync_chunks_per_job)."""


def _changes(action: str | None) -> Select[Any]:
    """A job's changes, of one action when given."""
    statement = select(SyncJobChange)
    return statement if action is None else statement.where(SyncJobChange.action == action)


def _failed_skus(tenant_id: int, job_id: int, *, live: bool) -> Select[str]:
    """The distinct SKUs of the job's failed products (see failed_skus) that still exist, or (live=False) that do
    not any more."""
    exists = and_(Product.tenant_id == tenant_id, Product.sku == SyncJobError.product_sku, Product.deleted_at.is_(None))
    failed = (SyncJobError.job_id == job_id, SyncJobError.error_code != ErrorCode.MAPPING_BROKEN.value)
    statement = select(SyncJobError.product_sku)
    if live:
        return statement.join(Product, exists).where(*failed).distinct()
    return statement.outerjoin(Product, exists).where(*failed, Product.id.is_(None)).distinct()
