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
from redis.exceptions import TimeoutError as RedisTimeoutError

T = TypeVar("T")

log = structlog.get_logger(__name__)

LOST_CONNECTION: tuple[type[Exception], ...] = (RedisConnectionError, RedisTimeoutError, OSError)
"""OSError: a refused connection (or a socket file gone) is one before redis-py names it a ConnectionError."""

FIRST_PAUSE_SECONDS = 0.1
LONGEST_PAUSE_SECONDS = 1.0


class UntilDeadline(Retry):
    """Try again on a lost connection until `seconds` (PIMSYNC_REDIS_OUTAGE_SECONDS) have passed since the outage
    began, a second apart at most; an outage is logged once, when a command fails a second time in a row (one
    failure right after a closed idle connection is not an outage).

    The deadline is the outage's, shared by every command and connection of the client (redis-py copies its
    retry into each connection, and each copy is this one object): when each command had a deadline of its own,
    a worker whose Redis stayed away waited once in its poll and again in arq's shutdown (taking down its health
    key), ending after twice the wait it said, and said it twice. A command sent once the outage has outlasted
    its wait is tried once. The first command that gets through ends the outage.

    redis-py's own Retry counts tries, and each try of a command holds all the tries of its connection, so the
    time a command waited was their product; the shared deadline bounds a command and its connection's tries alike.
    """

    __slots__ = ("_errors", "_logged", "_seconds", "_since")

    def __init__(self, seconds: float) -> None:
        super().__init__(NoBackoff(), retries=0)
        self._seconds = seconds
        self._errors = LOST_CONNECTION
        self._since: float | None = None
        self._logged = False

    def __deepcopy__(self, _memo: dict[int, Any]) -> UntilDeadline:
        """The same object: the outage is one, whichever connection meets it."""
        return self

    def update_supported_errors(self, specified_errors: list[Any]) -> None:
        """redis-py adds the client's retry_on_error here."""
        self._errors = tuple({*self._errors, *specified_errors})

    async def call_with_retry(self, do: Callable[[], Awaitable[T]], fail: Callable[[Any], Any]) -> T:
        failures, first = 0, 0.0
        while True:
            try:
                found = await do()
            except self._errors as error:
                await fail(error)
                failures += 1
                now = time.monotonic()
                first = first or now
                if self._since is None:
                    self._since = now
                elif not self._logged:
                    self._logged = True
                    log.warning("redis.unreachable", error=str(error), waiting_seconds=self._seconds)
                pause = min(FIRST_PAUSE_SECONDS * 2 ** (failures - 1), LONGEST_PAUSE_SECONDS)
                # The command's own first failure bounds it too: one failing alone while others get through
                # (restarting the outage each time) still gives up within the wait.
                if now + pause > min(self._since, first) + self._seconds:
                    raise
                await asyncio.sleep(pause)
            except Exception:  # Redis answered (with an error of the command's): the outage, if any, is over
                self._since, self._logged = None, False
                raise
            else:
                self._since, self._logged = None, False
                return found
