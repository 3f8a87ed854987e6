"""Sync job use cases for people and schedules: trigger, cancel, retry, and read.

A job is written in one transaction and put on the queue after it commits,
so a worker never sees a job that was rolled back. At most one job per
connector is active; the database's partial unique index has the last word.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

import structlog
from redis.exceptions import RedisError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.container import Container
from app.db.base import utcnow
from app.db.models import Connector, SyncJob
from app.domain.connectors import ConnectorStatus, SyncType, check_chosen_locales, connector_not_found, schedule_due
from app.domain.errors import ErrorCode, InvalidInput, NotFound, UserErrorItem
from app.domain.node_ids import node_id
from app.domain.storable import echoed
from app.domain.sync import Selection, SyncJobStatus, SyncPriority
from app.repositories.connectors import ConnectorRepository, MappingRepository
from app.repositories.events import EventRepository
from app.repositories.products import ProductRepository
from app.repositories.sync_jobs import SyncJobFilter, SyncJobRepository
from app.repositories.tenants import TenantRepository
from app.services.connectors import settings_of
from app.services.sync import progress
from app.services.sync.cancel import request_cancel
from app.services.sync.queue import enqueue_plan, plan_stamp

log = structlog.get_logger(__name__)

ENQUEUE_TIMEOUT_SECONDS = 2.0

MAX_SKUS = 10_000


@dataclass(frozen=True, slots=True)
class SyncRequest:
    sync_type: SyncType
    product_skus: tuple[str, ...] | None = None
    force_resync: bool = False
    priority: SyncPriority = SyncPriority.NORMAL
    locales: tuple[str, ...] | None = None
    dry_run: bool = False
    retry_of: int | None = None
    """The job whose failed products this one runs again."""


MAX_DROPPED_SHOWN = 100
"""The deleted products a retry names of those it leaves out; it counts them all."""


@dataclass(frozen=True, slots=True)
class Dropped:
    """The failed products of a retried job that its retry leaves out, deleted since: how many, and the first SKUs."""

    count: int
    skus: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Triggered:
    job: SyncJob
    estimated_products: int
    dropped: Dropped | None = None
    """A retry's failed products left out (None: not a retry)."""


def _already_running(connector: Connector, active: SyncJob) -> UserErrorItem:
    """CHN-090, naming the active job by its global id, for the caller to open, follow or cancel it."""
    job = node_id("SyncJob", active.id)
    message = f"a sync of '{connector.code}' is already running: job {job} ({active.status})"
    return UserErrorItem(("connectorCode",), message, ErrorCode.SYNC_ALREADY_RUNNING, job)


def _error(path: tuple[str | int, ...], message: str, code: ErrorCode) -> InvalidInput:
    return InvalidInput([UserErrorItem(path, message, code)])


def _paused(connector: Connector) -> list[UserErrorItem]:
    if connector.status != ConnectorStatus.PAUSED:
        return []
    message = f"connector '{connector.code}' is paused: resume it first"
    return [UserErrorItem(("connectorCode",), message, ErrorCode.CONNECTOR_PAUSED)]


async def _insert(session: AsyncSession, job: SyncJob, connector: Connector) -> None:
    """Insert the job, or CHN-090 naming the job that holds the connector.

    The database's one-active-job index has the last word over the check before: a job the check did not see yet
    (another transaction's, committed since) makes the insert fail. In a savepoint, so the transaction stays usable
    to read that job: the failed flush used to leave it closed, and the request ended in a server error."""
    jobs = SyncJobRepository(session)
    try:
        async with session.begin_nested():  # before add: begin_nested flushes what is pending
            jobs.add(job)
            await jobs.flush()
    except IntegrityError:
        active = await jobs.active_for(connector.id)
        if active is None:  # another constraint: a fault, not a sync running
            raise
        raise InvalidInput([_already_running(connector, active)]) from None


class SyncJobService:
    def __init__(self, container: Container, tenant_id: int) -> None:
        self.container = container
        self.db = container.db
        self.tenant_id = tenant_id

    # -- trigger ---------------------------------------------------------------------------------

    async def trigger(self, connector_code: str, request: SyncRequest, *, source: str = "api") -> Triggered:
        """Create a PENDING job and queue it; CHN-090 while another job of the connector is active."""
        async with self.db.transaction() as session:
            connector = await ConnectorRepository(session).by_code(self.tenant_id, connector_code, for_update=True)
            if connector is None:
                raise _error(("connectorCode",), connector_not_found(connector_code), ErrorCode.CONNECTOR_NOT_FOUND)
            triggered = await self._create(session, connector, request, source)
        await self._queue(triggered.job)
        log.info(
            "sync.triggered", job=triggered.job.id, connector=connector_code, source=source, dry_run=request.dry_run
        )
        return triggered

    async def trigger_scheduled(self, connector_id: int, *, now: datetime) -> Triggered | None:
        """The connector's scheduled INCREMENTAL sync, if it is due at `now`; None when it is not (any more).

        The schedule's slot is taken in the job's own transaction, under the
        connector's lock: of two workers checking the schedule at once, the
        second finds the slot taken; and a job that cannot start (CHN-090: a
        job of the connector is still active) leaves the slot to the next check,
        so the scheduled sync follows the active job instead of waiting a whole
        interval more.
        """
        async with self.db.transaction() as session:
            connector = await ConnectorRepository(session).by_id(self.tenant_id, connector_id, for_update=True)
            interval = connector.sync_interval_minutes if connector is not None else None
            if connector is None or interval is None or connector.status != ConnectorStatus.CONNECTED:
                return None
            if not schedule_due(connector.last_scheduled_at, interval, now):
                return None
            connector.last_scheduled_at = now
            triggered = await self._create(
                session, connector, SyncRequest(SyncType.INCREMENTAL, priority=SyncPriority.LOW), "schedule"
            )
        await self._queue(triggered.job)
        log.info("sync.triggered", job=triggered.job.id, connector=connector.code, source="schedule", dry_run=False)
        return triggered

    async def _create(
        self, session: AsyncSession, connector: Connector, request: SyncRequest, source: str
    ) -> Triggered:
        """The job, its estimate and its sync.requested event, in the caller's transaction (the connector locked)."""
        job = await self._new_job(session, connector, request)
        estimate = await self._estimate(session, connector, job)
        job.total_products = estimate
        EventRepository(session).record(
            self.tenant_id,
            "sync.requested",
            connector_id=connector.id,
            job=job.id,
            type=job.sync_type,
            source=source,
            dry_run=job.dry_run,
        )
        return Triggered(job, estimate)

    async def _queue(self, job: SyncJob) -> None:
        """Queue the committed job's planning. When Redis cannot take it, the job is still the caller's answer: the
        recovery sweep queues a PENDING job whose message never arrived (recovery.LOST_MESSAGE_AFTER), whereas an
        error here would leave the user a job they were told failed, holding the connector (CHN-090)."""
        try:
            async with asyncio.timeout(ENQUEUE_TIMEOUT_SECONDS):  # not wait_for: pubsub.announce
                await enqueue_plan(self.container.redis, job_id=job.id, priority=job.priority, stamp=plan_stamp(job))
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("sync.enqueue_failed", job=job.id, error=f"{type(exc).__name__}: {exc}")

    async def _new_job(self, session: AsyncSession, connector: Connector, request: SyncRequest) -> SyncJob:
        """The job, flushed; or every problem at once, of the connector's state (paused, unmapped, a job running)
        and of the request, so that a bad request to a paused connector is not told of its input only once the
        connector is resumed."""
        errors = [*_paused(connector), *await self._check_mapped(session, connector)]
        skus, sku_errors = await self._check_skus(session, request)
        locales, locale_errors = self._check_locales(connector, request.locales)
        errors += [*sku_errors, *locale_errors]
        jobs = SyncJobRepository(session)
        active = await jobs.active_for(connector.id)
        if active is not None:
            errors.append(_already_running(connector, active))
        if errors:
            raise InvalidInput(errors)
        now = utcnow()
        job = SyncJob(
            tenant_id=self.tenant_id,
            connector_id=connector.id,
            sync_type=request.sync_type.value,
            status=SyncJobStatus.PENDING.value,
            priority=int(request.priority),
            dry_run=request.dry_run,
            force_resync=request.force_resync,
            locales=locales,
            product_skus=skus,
            created_at=now,
            enqueued_at=now,
            retry_of=request.retry_of,
        )
        await _insert(session, job, connector)
        return job

    async def _check_mapped(self, session: AsyncSession, connector: Connector) -> list[UserErrorItem]:
        """A connector that maps no field would send its products bare: each refused by the channel for a required
        field, or linked by SKU to what the channel has and counted as synced, with nothing of the PIM sent."""
        if await MappingRepository(session).of_connectors(self.tenant_id, [connector.id]):
            return []
        message = (
            f"connector '{connector.code}' maps no attribute to a channel field yet: save its mappings "
            "(saveMappings) first"
        )
        return [UserErrorItem(("connectorCode",), message, ErrorCode.NO_MAPPINGS)]

    async def _check_skus(
        self, session: AsyncSession, request: SyncRequest
    ) -> tuple[list[str] | None, list[UserErrorItem]]:
        """The SKUs to sync (None: every product), with the problems of those given (told with the locales')."""
        skus = list(dict.fromkeys(request.product_skus or ()))
        if request.sync_type is SyncType.SINGLE and not skus:
            return None, [
                UserErrorItem(("input", "productSkus"), "a SINGLE sync needs productSkus", ErrorCode.EMPTY_LIST)
            ]
        if not skus:
            return None, []
        if len(skus) > MAX_SKUS:
            message = f"at most {MAX_SKUS} SKUs per sync"
            return None, [UserErrorItem(("input", "productSkus"), message, ErrorCode.BATCH_TOO_LARGE)]
        found = await ProductRepository(session).by_skus(self.tenant_id, skus)
        missing = [sku for sku in skus if sku not in found or found[sku].deleted_at is not None]
        first_at = _first_positions(request.product_skus or ())
        return skus, [
            UserErrorItem(
                ("input", "productSkus", first_at[sku]),
                f"product '{echoed(sku)}' does not exist",
                ErrorCode.PRODUCT_NOT_FOUND,
            )
            for sku in missing
        ]

    def _check_locales(
        self, connector: Connector, codes: Sequence[str] | None
    ) -> tuple[list[str] | None, list[UserErrorItem]]:
        if not codes:
            return None, []
        pairs = settings_of(connector).locale_mapping
        return check_chosen_locales(codes, pairs, ("input", "locales"), connector_code=connector.code)

    async def _estimate(self, session: AsyncSession, connector: Connector, job: SyncJob) -> int:
        revision = await TenantRepository(session).current_revision(self.tenant_id)
        return await ProductRepository(session).count_selected(self.tenant_id, selection_for(job, connector, revision))

    # -- cancel and retry ------------------------------------------------------------------------

    async def cancel(self, job_id: int) -> SyncJob:
        """A pending job ends at once; a running one is stopped by its worker within a page of products."""
        async with self.db.transaction() as session:
            jobs = SyncJobRepository(session)
            await ConnectorRepository(session).hold(await jobs.connector_of(job_id=job_id, tenant_id=self.tenant_id))
            job = await jobs.get(self.tenant_id, job_id, for_update=True)  # finish_job may be ending it right now
            if job is None:
                raise _error(("id",), "sync job not found", ErrorCode.SYNC_JOB_NOT_FOUND)
            if SyncJobStatus(job.status).finished:
                raise _error(("id",), f"the job already ended ({job.status})", ErrorCode.SYNC_JOB_FINISHED)
            await request_cancel(session, job)
        await progress.publish(self.container.redis, job.id, job.status)
        return job

    async def retry(self, job_id: int) -> Triggered:
        """A new job over just the products that failed in `job_id` and still exist, with those deleted since named
        (CHN-091 when there is no such job)."""
        async with self.db.reader() as session:
            jobs = SyncJobRepository(session)
            source = await jobs.get(self.tenant_id, job_id)
            if source is None:
                raise _error(("id",), "the job to retry was not found", ErrorCode.RETRY_SOURCE_NOT_FOUND)
            if not SyncJobStatus(source.status).finished:
                raise _error(("id",), f"the job has not ended yet ({source.status})", ErrorCode.SYNC_ALREADY_RUNNING)
            skus = await jobs.failed_skus(self.tenant_id, source.id)
            gone, first_gone = await jobs.deleted_failed_skus(self.tenant_id, source.id, limit=MAX_DROPPED_SHOWN)
            connector = (await ConnectorRepository(session).by_ids(self.tenant_id, [source.connector_id]))[
                source.connector_id
            ]
        if not skus:
            raise _error(("id",), _nothing_to_retry(source), ErrorCode.NOTHING_TO_RETRY)
        if len(skus) > MAX_SKUS:
            raise _error(
                ("id",),
                f"{len(skus)} products failed in that job, more than a sync of listed products takes ({MAX_SKUS}): "
                "trigger a sync instead (an INCREMENTAL one takes again every product whose last sync failed)",
                ErrorCode.BATCH_TOO_LARGE,
            )
        request = SyncRequest(
            SyncType.SINGLE,
            product_skus=tuple(skus),
            priority=SyncPriority(source.priority),
            locales=tuple(source.locales) if source.locales else None,
            force_resync=True,
            dry_run=source.dry_run,
            retry_of=source.id,
        )
        try:
            triggered = await self.trigger(connector.code, request, source="retry")
        except InvalidInput as exc:  # the retry's one argument is the job: what stops it is said of `id`
            raise InvalidInput([UserErrorItem(("id",), error.message, error.code) for error in exc.errors]) from None
        return replace(triggered, dropped=Dropped(gone, tuple(first_gone)))

    # -- reads -----------------------------------------------------------------------------------

    async def get(self, job_id: int) -> SyncJob:
        async with self.db.reader() as session:
            job = await SyncJobRepository(session).get(self.tenant_id, job_id)
        if job is None:
            raise NotFound("sync job not found")
        return job

    async def page(self, where: SyncJobFilter, *, before_id: int | None, limit: int) -> list[SyncJob]:
        async with self.db.reader() as session:
            return await SyncJobRepository(session).page(self.tenant_id, where, before_id=before_id, limit=limit)

    async def newer_page(self, where: SyncJobFilter, *, after_id: int | None, limit: int) -> list[SyncJob]:
        async with self.db.reader() as session:
            return await SyncJobRepository(session).newer_page(self.tenant_id, where, after_id=after_id, limit=limit)

    async def count(self, where: SyncJobFilter) -> int:
        async with self.db.reader() as session:
            return await SyncJobRepository(session).count(self.tenant_id, where)


def _first_positions(skus: Sequence[str]) -> dict[str, int]:
    """Where each SKU is first given, for its userError: a search of the list for each missing SKU blocked the API
    for seconds on a list of a few hundred thousand (repeats count towards the input's size, not MAX_SKUS)."""
    first: dict[str, int] = {}
    for index, sku in enumerate(skus):
        first.setdefault(sku, index)
    return first


def _nothing_to_retry(source: SyncJob) -> str:
    if source.failed_products:  # a job that failed every product has a failure too, but products to retry
        return "every product that failed in that job has been deleted since"
    if source.failure:
        return f"the job failed as a whole, not product by product ({source.failure}): trigger a new sync"
    return "no product failed in that job"


def selection_for(job: SyncJob, connector: Connector, revision: int) -> Selection:
    """The products a job covers, as of tenant revision `revision`."""
    if job.product_skus:
        return Selection(skus=tuple(job.product_skus))
    if job.sync_type == SyncType.FULL or connector.mappings_version != connector.synced_mappings_version:
        return Selection(everything=True, listed_on=connector.id)
    return Selection(revision_from=connector.sync_cursor, revision_to=revision, failed_on=connector.id)
