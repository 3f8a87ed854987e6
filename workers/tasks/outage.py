"""A task while the database does not answer (restarting, failing over): one warning line, not arq's traceback.

A periodic task gives its turn up (the next run catches up); a one-off task is queued again."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from arq import Retry
from arq.connections import ArqRedis
from redis.exceptions import RedisError

from app.db.engine import outage_cause, unreachable

log = structlog.get_logger(__name__)

Done = TypeVar("Done")


def _database_down(exc: Exception, task: str, **about: object) -> bool:
    """Whether `exc` is the database not answering, said in one warning line when it is."""
    if not unreachable(exc):
        return False
    log.warning("worker.database_unavailable", task=task, error=outage_cause(exc), **about)
    return True


async def unless_database_down(task: str, work: Callable[[], Awaitable[Done]], nothing: Done) -> Done:
    """`work`'s result; `nothing` when the database did not answer (arq would log the run as failed, with its
    whole traceback, on every run of every periodic task on every worker until it answers)."""
    try:
        return await work()
    except Exception as exc:
        if not _database_down(exc, task):
            raise
        return nothing


async def after_outage(task: str, work: Awaitable[Done], *, retry_in: float, **about: object) -> Done:
    """`work`'s result; when the database did not answer (restarting, failing over), one warning line and the
    task queued again `retry_in` seconds later. arq would log the task as failed with its whole traceback and
    drop it, leaving the work to the next recovery sweep (recover_sync_work, recover_webhooks).

    The task is one that is safe to run twice: whatever it had done before the database went away is done
    again, or found done."""
    try:
        return await work
    except Exception as exc:
        if not _database_down(exc, task, retry_in=retry_in, **about):
            raise
        raise Retry(defer=retry_in) from None


OUTAGE_TRIES_TTL_SECONDS = 86_400
"""How long a task's count of outage tries is kept: far past any message's retries."""


class OutageTries:
    """The tries of one queue message that a database outage took, so that they do not count as its own.

    arq counts every try of a message in job_try, the ones queued again by after_outage too; a task that gives up
    after so many tries of its own (a conflict's resolution) would find them used up by an outage it never reached
    the channel in. The count lives in Redis under the message's id, which the outage leaves answering."""

    def __init__(self, redis: ArqRedis, job_id: str, job_try: int) -> None:
        self.redis, self.key, self.job_try = redis, f"pimsync:outage-tries:{job_id}", job_try

    async def own_try(self) -> int:
        """This try's number among the message's own (1 for its first): job_try less the outage's tries. A first
        try forgets the count of an earlier message under the same id."""
        if self.job_try <= 1:
            await self._forget()
            return 1
        try:
            taken = int(await self.redis.get(self.key) or 0)
        except RedisError:
            taken = 0  # counted as arq counts it: at worst the task gives up a try early
        return max(1, self.job_try - taken)

    async def after_outage(self, task: str, work: Awaitable[Done], *, retry_in: float, **about: object) -> Done:
        """after_outage, the try counted as the outage's when it is queued again."""
        try:
            return await after_outage(task, work, retry_in=retry_in, **about)
        except Retry:
            # Uncounted (Redis away too), the try is the task's own: one fewer left, as before the count was kept.
            with contextlib.suppress(RedisError):
                await self.redis.incr(self.key)
                await self.redis.expire(self.key, OUTAGE_TRIES_TTL_SECONDS)
            raise

    async def _forget(self) -> None:
        with contextlib.suppress(RedisError):
            await self.redis.delete(self.key)
