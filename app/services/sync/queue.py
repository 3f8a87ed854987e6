"""Putting sync work on the arq queue: deterministic job ids and priorities as queue order.

arq orders a queue by each job's score (the time it may start) and takes the
lowest first. A HIGH job is given a start time an hour earlier than a NORMAL
one, so it goes ahead of everything queued in the last hour; that is the
queue's own ordering put to use, not a second queue to poll. arq logs a job it
starts as delayed by the time since its score; workers/arq_log.py has it say
the time since the message was queued instead, the only delay there was.

Job ids are deterministic for one attempt (so a repeated enqueue is dropped)
yet unique across queues, databases and attempts: arq keeps a job's keys per
Redis, not per queue, and refuses an id it still holds, so an id names its
queue (`message_id`); and recovery must be able to enqueue the same chunk
again, so an id carries a stamp: the time the job or chunk was (re)queued,
kept in its row (`enqueued_at`), so recovery can ask arq whether that message
still waits (`waiting`) instead of queueing a second one behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from arq.constants import in_progress_key_prefix
from redis.asyncio import Redis

from app.db.base import utcnow
from app.db.models import SyncJob
from app.domain.sync import SyncPriority

log = structlog.get_logger(__name__)

PLAN_TASK = "plan_sync_job"
CHUNK_TASK = "run_sync_chunk"
RECOVERY_TASK = "recover_sync_work"

PRIORITY_HEAD_START = {SyncPriority.HIGH: timedelta(hours=2), SyncPriority.NORMAL: timedelta(hours=1)}
WAITED_ON_HEAD_START = timedelta(hours=3)
"""What a person or a channel waits on (a conflict's resolution, a webhook delivery) is short and goes ahead of sync
work queued in the last hour, of any priority: queued at its own time, it waited behind every chunk of every running
sync, since each chunk that ends queues the next an hour or two early."""


class Queue(Protocol):
    """The part of arq's ArqRedis the services use (kept as a protocol so services need no arq import)."""

    default_queue_name: str

    async def enqueue_job(self, function: str, *args: Any, **kwargs: Any) -> Any: ...


def message_id(queue_name: str, kind: str, *parts: int) -> str:
    """A job id that names its queue: two services sharing one Redis (each with its own PIMSYNC_QUEUE) would
    otherwise drop each other's messages whenever their ids met, and their databases number rows alike."""
    return ":".join((queue_name, kind, *map(str, parts)))


def _start(priority: int) -> Any:
    return utcnow() - PRIORITY_HEAD_START.get(SyncPriority(priority), timedelta(0))


def waited_on_start() -> datetime:
    """The start time (arq's score) of a task someone waits on: see WAITED_ON_HEAD_START."""
    return utcnow() - WAITED_ON_HEAD_START


def plan_message_id(queue_name: str, job_id: int, stamp: datetime) -> str:
    return message_id(queue_name, "sync-plan", job_id, ms(stamp))


def chunk_message_id(queue_name: str, chunk_id: int, stamp: datetime) -> str:
    return message_id(queue_name, "sync-chunk", chunk_id, ms(stamp))


def plan_stamp(job: SyncJob) -> datetime:
    """The stamp of the job's current planning message; `created_at` only stands in for the type checker (the column
    is nullable as migration 0005 added it, which filled it for every existing job)."""
    return job.enqueued_at or job.created_at


async def enqueue_plan(queue: Queue, *, job_id: int, priority: int, stamp: datetime) -> None:
    queued = await queue.enqueue_job(
        PLAN_TASK,
        job_id=job_id,
        _job_id=plan_message_id(queue.default_queue_name, job_id, stamp),
        _defer_until=_start(priority),
    )
    if queued is None:
        log.info("sync.enqueue_skipped", task=PLAN_TASK, job=job_id)


async def enqueue_chunk(queue: Queue, *, chunk_id: int, priority: int, stamp: datetime) -> None:
    queued = await queue.enqueue_job(
        CHUNK_TASK,
        chunk_id=chunk_id,
        _job_id=chunk_message_id(queue.default_queue_name, chunk_id, stamp),
        _defer_until=_start(priority),
    )
    if queued is None:
        log.info("sync.enqueue_skipped", task=CHUNK_TASK, chunk=chunk_id)


async def enqueue_recovery(queue: Queue, *, at: datetime) -> None:
    """One recovery pass at `at` (a second request for the same moment is dropped: the message id is the time)."""
    await queue.enqueue_job(
        RECOVERY_TASK, _job_id=message_id(queue.default_queue_name, "sync-recovery", ms(at)), _defer_until=at
    )


async def waiting(redis: Redis, queue_name: str, message_ids: Sequence[str]) -> set[str]:
    """The messages still in the queue that no worker has taken: a worker will run them, in their turn.

    arq keeps a message in the queue's sorted set until it is done, marking a
    taken one with an in-progress key; a message taken by a worker that died
    keeps that key until arq's timeout runs out (python-arq/arq#343), so it
    counts as not waiting. One pipelined round trip for all of them.
    """
    if not message_ids:
        return set()
    async with redis.pipeline(transaction=False) as pipe:
        for message_id in message_ids:
            pipe.zscore(queue_name, message_id)
            pipe.exists(in_progress_key_prefix + message_id)
        answers = await pipe.execute()
    scores, taken = answers[0::2], answers[1::2]
    return {
        message_id
        for message_id, score, in_progress in zip(message_ids, scores, taken, strict=True)
        if score is not None and not in_progress
    }


def ms(stamp: datetime) -> int:
    return int(stamp.timestamp() * 1000)
