"""Putting sync work on the arq queue: deterministic job ids and priorities as queue order.

arq orders a queue by each job's score (the time it may start) and takes the
lowest first. A HIGH job is given a start time an hour earlier than a NORMAL
one, so it goes ahead of everything queued in the last hour; that is the
queue's own ordering put to use, not a second queue to poll.

Job ids are deterministic for one attempt (so a repeated enqueue is dropped)
yet unique across databases and attempts: arq refuses an id it still holds a
result for, across every queue of a Redis, and recovery must be able to
enqueue the same chunk again. An id therefore carries a stamp: the job's
creation time, or the time the chunk was (re)queued.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog

from app.db.base import utcnow
from app.domain.sync import SyncPriority

log = structlog.get_logger(__name__)

PLAN_TASK = "plan_sync_job"
CHUNK_TASK = "run_sync_chunk"

PRIORITY_HEAD_START = {SyncPriority.HIGH: timedelta(hours=2), SyncPriority.NORMAL: timedelta(hours=1)}


class Queue(Protocol):
    """The part of arq's ArqRedis the services use (kept as a protocol so services need no arq import)."""

    async def enqueue_job(self, function: str, *args: Any, **kwargs: Any) -> Any: ...


def _start(priority: int) -> Any:
    return utcnow() - PRIORITY_HEAD_START.get(SyncPriority(priority), timedelta(0))


async def enqueue_plan(queue: Queue, *, job_id: int, priority: int, stamp: datetime) -> None:
    queued = await queue.enqueue_job(
        PLAN_TASK, job_id=job_id, _job_id=f"sync-plan:{job_id}:{_ms(stamp)}", _defer_until=_start(priority)
    )
    if queued is None:
        log.info("sync.enqueue_skipped", task=PLAN_TASK, job=job_id)


async def enqueue_chunk(queue: Queue, *, chunk_id: int, priority: int, stamp: datetime) -> None:
    queued = await queue.enqueue_job(
        CHUNK_TASK, chunk_id=chunk_id, _job_id=f"sync-chunk:{chunk_id}:{_ms(stamp)}", _defer_until=_start(priority)
    )
    if queued is None:
        log.info("sync.enqueue_skipped", task=CHUNK_TASK, chunk=chunk_id)


def _ms(stamp: datetime) -> int:
    return int(stamp.timestamp() * 1000)
