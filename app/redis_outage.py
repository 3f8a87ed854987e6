"""A worker's Redis connections wait out a short outage (a restart, a failover) instead of failing at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")

log = structlog.get_logger(__name__)

OUTAGE_SECONDS = 30.0
"""How long a worker's Redis command waits for Redis to come back before it fails. A worker whose Redis stays away
exits 1 about twice this after it went (arq's shutdown waits once more, to take down its health key)."""

LOST_CONNECTION: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, OSError)
"""OSError: a refused connection (or a socket file gone) is one before redis-py names it a ConnectionError."""

BEST_EFFORT_SECONDS = 2.0
"""How long a step the caller can go on without (`unless_redis_fails`) waits for Redis."""

FIRST_PAUSE_SECONDS = 0.1
LONGEST_PAUSE_SECONDS = 1.0


class UntilDeadline(Retry):
    """Try again on a lost connection until `seconds` have passed since the first failure, a second apart at most;
    a second failure in a row is logged, so the wait shows (one right after a closed idle connection is not).

    redis-py's own Retry counts tries, and each try of a command holds all the tries of its connection, so the
    time a command waited was their product. A deadline bounds it: a connection's tries end within its command's.
    """

    __slots__ = ("_errors", "_seconds")

    def __init__(self, seconds: float = OUTAGE_SECONDS) -> None:
        super().__init__(NoBackoff(), retries=0)
        self._seconds = seconds
        self._errors = LOST_CONNECTION

    def update_supported_errors(self, specified_errors: list[Any]) -> None:
        """redis-py adds the client's retry_on_error here."""
        self._errors = tuple({*self._errors, *specified_errors})

    async def call_with_retry(self, do: Callable[[], Awaitable[T]], fail: Callable[[Any], Any]) -> T:
        failures, deadline = 0, 0.0
        while True:
            try:
                return await do()
            except self._errors as error:
                await fail(error)
                failures += 1
                if failures == 1:
                    deadline = time.monotonic() + self._seconds
                elif failures == 2:
                    log.warning("redis.unreachable", error=str(error), waiting_seconds=self._seconds)
                pause = min(FIRST_PAUSE_SECONDS * 2 ** (failures - 1), LONGEST_PAUSE_SECONDS)
                if time.monotonic() + pause > deadline:
                    raise
                await asyncio.sleep(pause)


async def unless_redis_fails(step: Awaitable[T], default: T, *, seconds: float = BEST_EFFORT_SECONDS) -> T:
    """`step`'s result, or `default` when Redis fails or takes more than `seconds`: for a step the caller can go on
    without (a note a later recovery makes up for), which must not hold a stopping worker through an outage."""
    try:
        async with asyncio.timeout(seconds):  # not wait_for: the step runs in this task
            return await step
    except (RedisError, OSError, TimeoutError):
        return default
