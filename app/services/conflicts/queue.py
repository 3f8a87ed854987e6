"""Putting a conflict's resolution on the arq queue, to be applied by a worker, each connector's in turn.

The job id is deterministic for one resolution (a repeated enqueue is
dropped) yet unique across queues and databases sharing a Redis: arq refuses
an id it still holds a result for, so the id names the queue and carries the
resolution's time. The
resolution is committed before it is queued; when Redis cannot be reached,
the person's decision still stands and the recovery sweep queues it later.
A resumed connector queues the resolutions it held back at once.

Resolutions take turns on the queue, per connector (app.services.turns): a
connector's decided conflicts hold a turn once `apply_queued_at` is set; the
others wait theirs, oldest decision first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import structlog
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from app.container import Container
from app.db.models import Conflict
from app.domain.connectors import ConnectorStatus
from app.repositories.conflicts import ConflictRepository
from app.services.sync.queue import Queue, message_id, ms, waited_on_start
from app.services.turns import take_connector_turns

log = structlog.get_logger(__name__)

APPLY_TASK = "apply_conflict_resolution"
ENQUEUE_TIMEOUT_SECONDS = 2.0
WAITING = (ConnectorStatus.PAUSED, ConnectorStatus.ERROR)
"""A connector in these holds its resolutions back until resumeConnector (ConflictRepository.queued_unapplied skips
them too), rather than trying a channel that refuses it: no turn is handed out meanwhile."""


def apply_job_id(queue_name: str, conflict_id: int, resolved_at: datetime) -> str:
    return message_id(queue_name, "conflict-apply", conflict_id, ms(resolved_at))


async def enqueue_apply(queue: Queue, *, conflict_id: int, resolved_at: datetime) -> bool:
    """Queue the export or import that follows a resolution; False when Redis could not be reached."""
    try:
        async with asyncio.timeout(ENQUEUE_TIMEOUT_SECONDS):  # not wait_for: pubsub.announce
            queued = await queue.enqueue_job(
                APPLY_TASK,
                conflict_id=conflict_id,
                resolved_at_ms=ms(resolved_at),
                _job_id=apply_job_id(queue.default_queue_name, conflict_id, resolved_at),
                _defer_until=waited_on_start(),
            )
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("conflict.enqueue_failed", conflict=conflict_id, error=f"{type(exc).__name__}: {exc}")
        return False
    if queued is None:
        log.info("conflict.enqueue_skipped", task=APPLY_TASK, conflict=conflict_id)
    return True


async def take_apply_turns(container: Container, connector_id: int) -> bool:
    """Give the connector's resolutions waiting their turn the turns it has free (app.services.turns), and queue
    them; False as soon as Redis did not take one: it holds its turn, and the recovery sweep queues it. A paused (or
    ERROR) connector hands out none."""

    async def take(session: AsyncSession, count: int, now: datetime) -> list[tuple[int, datetime]]:
        return await ConflictRepository(session).take_apply_turns(connector_id, count, now)

    async def holding(session: AsyncSession) -> int:
        return await ConflictRepository(session).applies_holding_turns(connector_id)

    taken = await take_connector_turns(container, connector_id, held_back=WAITING, holding=holding, take=take)
    for conflict_id, resolved_at in taken:
        if not await enqueue_apply(container.redis, conflict_id=conflict_id, resolved_at=resolved_at):
            return False
    return True


async def queue_waiting_resolutions(container: Container, connector_id: int, *, limit: int = 500) -> int:
    """Queue the resolutions a paused (or ERROR) connector held back, now that it is resumed: those holding its
    turns, then as many more as it has turns free; how many held one.

    Any beyond `limit`, or whose queueing failed, are the recovery sweep's, the connector being live again.
    """
    async with container.db.reader() as session:
        holding = await ConflictRepository(session).queued_of(connector_id, limit=limit)
    if await offer_applies(container, holding):
        await take_apply_turns(container, connector_id)
    return len(holding)


async def offer_applies(container: Container, conflicts: Sequence[Conflict]) -> bool:
    """Queue each decided conflict holding a turn, stopping at the first Redis failure (the recovery sweep tries
    again later); False then."""
    for conflict in conflicts:
        assert conflict.resolved_at is not None  # decided
        if not await enqueue_apply(container.redis, conflict_id=conflict.id, resolved_at=conflict.resolved_at):
            return False
    return True
