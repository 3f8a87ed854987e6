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
ended on a worker that died before handing theirs on).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from app.container import Container
from app.db.base import utcnow
from app.domain.connectors import ConnectorStatus
from app.repositories.connectors import ConnectorRepository

Taken = TypeVar("Taken")


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
