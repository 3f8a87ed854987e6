"""A connector's one-product work taking turns on the shared queue: its conflict resolutions and webhook deliveries.

The idea of a sync job's chunks (sync.planner), per connector: a connector has
at most settings.checks_per_connector of one kind queued or running (its row
marked queued); the others wait their turn in the database, not on the queue.
Each that ends hands its turn on, queued then, so behind whatever other
connectors queued meanwhile: a bulk of 50,000 decisions, or a burst of
deliveries, on a rate-limited shop holds a few worker slots, not every slot for
hours while other connectors' resolutions and syncs wait behind it. A turn whose
message was lost is queued again by the kind's recovery sweep, which also hands
out the turns of a connector left with fewer than it may have (its last ones
ended on a worker that died before handing theirs on). A sweep goes on until
the lost turns are all queued again (`requeue_lost`): an outage of Redis can
strand thousands at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.container import Container
from app.db.base import utcnow
from app.domain.connectors import ConnectorStatus
from app.repositories.connectors import ConnectorRepository

Taken = TypeVar("Taken")
Lost = TypeVar("Lost")
TurnKey = tuple[datetime, int]
"""Where a walk of the turns whose message was lost has got to: the last one's turn time and id."""

RECOVERY_SECONDS = 12.0
"""How long one recovery sweep goes on queueing lost turns again, batch after batch: inside the 15 s between two
runs of the most frequent sweep (the deliveries', four times a minute), so two never overlap (at 20 s two sweeps of
the deliveries walked the same backlog at once). A backlog that outlasts it is the next run's: the turns this one
queued count as queued now (`requeue_lost`), so the next goes on with those it did not reach."""


async def take_connector_turns(
    container: Container,
    connector_id: int,
    *,
    held_back: Collection[ConnectorStatus],
    holding: Callable[[AsyncSession], Awaitable[int]],
    take: Callable[[AsyncSession, int, datetime], Awaitable[list[Taken]]],
) -> list[Taken]:
    """Mark the connector's next waiting ones queued, as many as it has turns free, in one transaction: `holding`
    counts those queued or running, `take` marks the next `count` waiting. The caller enqueues what is returned once
    this has committed (a message sent earlier could reach a worker before its turn is recorded). A connector in one
    of `held_back` hands out none.

    The connector's row is locked while the turns are counted, so two that end at once on two workers hand theirs
    to two different waiting ones."""
    async with container.db.transaction() as session:
        status = await ConnectorRepository(session).hand_out_turns(connector_id)
        if status is None or ConnectorStatus(status) in held_back:
            return []
        free = container.settings.checks_per_connector - await holding(session)
        return await take(session, free, utcnow()) if free > 0 else []


async def requeue_lost(
    read: Callable[[TurnKey | None], Awaitable[Sequence[Lost]]],
    key: Callable[[Lost], TurnKey],
    offer: Callable[[Sequence[Lost]], Awaitable[bool]],
    requeued: Callable[[Sequence[Lost], datetime], Awaitable[None]],
    *,
    batch: int,
    seconds: float | None = None,
) -> tuple[int, bool]:
    """Queue again the turns whose message was lost, oldest first, `batch` at a time: `read` returns the next (up to
    `batch`, in a short transaction of its own) after a key, `offer` queues them, `requeued` records them as queued
    at the time given (their turn's time, which `read` orders and cuts off by). Goes on until none is left, Redis
    did not take one, or `seconds` (RECOVERY_SECONDS) have gone; returns how many were offered and whether Redis
    took them all.

    One batch a sweep queued a backlog of thousands (a Redis outage, or a restart without persistence, strands
    every turn held) at a batch a run: half an hour for 10,000 resolutions at 200 twice a minute. A turn queued
    again counts as queued then: the next sweep goes on with the turns this one did not reach, rather than
    starting again at those it just queued (still on the queue, each was a round trip to Redis for nothing, and
    a backlog larger than a sweep reached the others only as workers took those)."""
    clock = asyncio.get_running_loop().time
    until = clock() + (RECOVERY_SECONDS if seconds is None else seconds)
    offered, after = 0, None
    while True:
        lost = await read(after)
        offered += len(lost)
        if not await offer(lost):
            return offered, False
        if lost:
            await requeued(lost, utcnow())
        if len(lost) < batch or clock() >= until:
            return offered, True
        after = key(lost[-1])
