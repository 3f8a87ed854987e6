"""How long the service keeps its history: a finished sync job, with the per-product changes and errors it recorded,
a domain event and a conflict the service decided itself go once older than PIMSYNC_HISTORY_RETENTION_DAYS
(settings.history_retention); a conflict a person decided, once older than PIMSYNC_CONFLICT_RETENTION_DAYS
(settings.conflict_retention).

A full sync records a change for every product it goes through, so without this a connector synced daily added its
catalog's size to the database every day, for ever. Each connector's newest job stays whatever its age: it is the
connector's lastJob, and its localeSyncStatus is read from it.

A connector's strategy decides a conflict on every sync that finds one, so those decisions pile up as fast as the
jobs' changes and go with them. People's decisions are their record of what they chose, and grow only as fast as
they decide: they are kept longer (a year by default). A PENDING conflict, and a decision no worker has carried out
yet, never go.

A deleted product stays as a tombstone so that syncs can delete it on the channels; without a purge every product
ever deleted stayed for ever. One goes once deleted longer ago than the history retention if no channel still holds
it (no listing keeps an external id for it) and no conflict names it. What says a tombstone is still needed is that
listing, not a connector's cursor: a cursor past the deletion does not mean the channel deleted it (a failed delete
keeps its listing in error, taken again by the next INCREMENTAL sync whatever its revision), and a cursor behind it
does not mean the tombstone is needed (a connector that never sent the product skips it; a FULL sync deletes only
what is listed). So a connector paused, in ERROR or never synced keeps exactly the tombstones of the products its
channel still has, however old: no more than it had listed when it stopped, freed when it deletes them or is itself
deleted; and no cursor, however old, can miss a deletion, since a tombstone a channel still needs is never purged.
A product created again with the SKU of a purged tombstone is a new product (a new id; on SQLite too, products
never reuse a deleted one's id since migration 0016) and is created on the channels again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby, takewhile

import structlog

from app.container import Container
from app.domain.sync import SyncJobStatus
from app.repositories.conflicts import ConflictRepository, DecisionKey
from app.repositories.events import EventRepository
from app.repositories.products import ProductRepository, TombstoneKey
from app.repositories.sync_jobs import JobAge, SyncJobRepository

log = structlog.get_logger(__name__)

WALK_BATCH = 500
"""Jobs one read of the retention walk looks at."""
ROWS_PER_DELETE = 10_000
"""About how many rows (a job's changes, one per product it went through) one transaction deletes: the small
jobs of a frequent incremental sync go hundreds at a time, a full sync of a large catalog on its own."""
EVENT_BATCH = 1000
"""Events one transaction deletes: a short lock each, however many piled up."""
CONFLICT_BATCH = 1000
"""Conflicts one transaction deletes (each carries its fields' values, larger than a job's change)."""
TOMBSTONE_BATCH = 1000
"""Tombstones one transaction deletes, with their listings left without an external id (by cascade)."""
PURGE_SECONDS = 120.0
"""Work one run does at most, well inside arq's job timeout: where a first run faces years of history, the next
runs (hourly) carry on from where it stopped, since the walk starts at the oldest."""


@dataclass(frozen=True, slots=True)
class Purged:
    jobs: int = 0
    events: int = 0
    conflicts: int = 0
    tombstones: int = 0


async def purge_old_history(container: Container) -> Purged:
    """Delete the jobs, events and decided conflicts past their retention, oldest first, for at most PURGE_SECONDS."""
    settings = container.settings
    now = datetime.fromtimestamp(container.clock(), UTC)
    clock = asyncio.get_running_loop().time
    until = clock() + PURGE_SECONDS

    def in_time() -> bool:
        return clock() < until

    jobs = events = conflicts = tombstones = 0
    if settings.history_retention is not None:
        cutoff = now - settings.history_retention
        jobs = await _purge_jobs(container, cutoff, in_time)
        events = await _purge_events(container, cutoff, in_time)
        conflicts = await _purge_conflicts(container, cutoff, by_the_service=True, in_time=in_time)
    if settings.conflict_retention is not None:
        cutoff = now - settings.conflict_retention
        conflicts += await _purge_conflicts(container, cutoff, by_the_service=False, in_time=in_time)
    if settings.history_retention is not None:
        # After the conflicts: a tombstone a purged conflict named may go in the same run.
        tombstones = await _purge_tombstones(container, now - settings.history_retention, in_time)
    purged = Purged(jobs=jobs, events=events, conflicts=conflicts, tombstones=tombstones)
    if purged != Purged():
        log.info("history.purged", jobs=jobs, events=events, conflicts=conflicts, tombstones=tombstones)
    return purged


async def _purge_jobs(container: Container, cutoff: datetime, in_time: Callable[[], bool]) -> int:
    """Jobs with everything they recorded (SyncJobRepository.delete_finished), about ROWS_PER_DELETE rows a
    transaction."""
    purged, after = 0, 0
    while in_time():
        async with container.db.reader() as session:
            jobs = SyncJobRepository(session)
            walked = await jobs.oldest(after_id=after, limit=WALK_BATCH)
            old = list(takewhile(lambda job: job.created_at < cutoff, walked))
            newest = await _newest_jobs(jobs, old)
        for group in _groups([job for job in old if _may_go(job, cutoff, newest)]):
            if not in_time():
                return purged
            async with container.db.transaction() as session:
                purged += await SyncJobRepository(session).delete_finished([job.id for job in group])
        if len(old) < WALK_BATCH:
            break
        after = old[-1].id
    return purged


def _groups(jobs: Sequence[JobAge]) -> Iterator[list[JobAge]]:
    """Consecutive jobs of about ROWS_PER_DELETE products between them, each job in one group whatever its size."""
    group: list[JobAge] = []
    rows = 0
    for job in jobs:
        if group and rows + job.total_products > ROWS_PER_DELETE:
            yield group
            group, rows = [], 0
        group.append(job)
        rows += job.total_products + 1
    if group:
        yield group


async def _newest_jobs(jobs: SyncJobRepository, old: Collection[JobAge]) -> set[int]:
    """The ids of the newest jobs (not dry runs) of these jobs' connectors, which stay."""
    newest: set[int] = set()
    by_tenant = sorted({(job.tenant_id, job.connector_id) for job in old})
    for tenant_id, pairs in groupby(by_tenant, key=lambda pair: pair[0]):
        found = await jobs.latest_for(tenant_id, [connector_id for _, connector_id in pairs])
        newest.update(job.id for job in found.values())
    return newest


def _may_go(job: JobAge, cutoff: datetime, newest: Collection[int]) -> bool:
    finished = SyncJobStatus(job.status).finished
    return finished and job.completed_at is not None and job.completed_at < cutoff and job.id not in newest


async def _purge_events(container: Container, cutoff: datetime, in_time: Callable[[], bool]) -> int:
    purged = 0
    while in_time():
        async with container.db.transaction() as session:
            deleted = await EventRepository(session).delete_oldest_before(cutoff, limit=EVENT_BATCH)
        purged += deleted
        if deleted < EVENT_BATCH:
            break
    return purged


async def _purge_tombstones(container: Container, cutoff: datetime, in_time: Callable[[], bool]) -> int:
    """The tombstones deleted before `cutoff` that no channel and no conflict still needs
    (ProductRepository.delete_tombstones_before), TOMBSTONE_BATCH a transaction, each batch going on from where the
    one before ended, so the tombstones kept are read once a run."""
    purged = 0
    after: TombstoneKey | None = None
    while in_time():
        async with container.db.transaction() as session:
            deleted, walked = await ProductRepository(session).delete_tombstones_before(
                cutoff, after=after, limit=TOMBSTONE_BATCH
            )
        purged += deleted
        if walked == after:
            break
        after = walked
    return purged


async def _purge_conflicts(
    container: Container, cutoff: datetime, *, by_the_service: bool, in_time: Callable[[], bool]
) -> int:
    """The conflicts decided before `cutoff` (by the service, or by a person) and carried out, CONFLICT_BATCH a
    transaction; the walk goes on from where the batch before ended, so the decisions it keeps are read once."""
    purged = 0
    after: DecisionKey | None = None
    while in_time():
        async with container.db.transaction() as session:
            deleted, after = await ConflictRepository(session).delete_decided_before(
                cutoff, by_the_service=by_the_service, after=after, limit=CONFLICT_BATCH
            )
        purged += deleted
        if deleted < CONFLICT_BATCH:
            break
    return purged
