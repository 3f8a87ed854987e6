"""Listening to a Redis pub/sub channel for live updates; the database stays the truth behind every message.

Subscribers (GraphQL subscriptions, `pimsync sync`) read the state itself
from the database on every message and on every idle tick, so a message
lost while Redis was away costs at most a tick. A lost connection therefore
does not end a subscription: the ticks go on and the channel is subscribed
to again. For the same reason a message that cannot be published is
logged, not raised to the change it announces.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from contextlib import suppress
from typing import Any

import structlog
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

PUBLISH_TIMEOUT_SECONDS = 2.0


def channel_of(redis: Any, name: str) -> str:
    """`name` within this service's namespace: its queue name (PIMSYNC_QUEUE), which services sharing one Redis
    set apart. Job and tenant ids are per database, so without it one service's subscribers would hear another's
    job 7 or tenant 1."""
    return f"{getattr(redis, 'default_queue_name', None) or 'pimsync'}:{name}"


async def announce(redis: Any, channel: str, data: str) -> None:
    """Publish `data` on `channel`, best effort: what it announces is committed already and every listener reads
    the database on its next tick, so a Redis that is away or slow costs listeners a tick, and is never the error
    of the caller, whose change was made (a cancel answered with a server error reads as not done).

    Bounded by asyncio.timeout, as every wait on Redis is, never wait_for: Python 3.11's wait_for returns an answer
    that comes as its caller is cancelled, so a worker's run stopped then (a deploy's SIGTERM) went on with its
    chunk, past arq's grace period."""
    try:
        async with asyncio.timeout(PUBLISH_TIMEOUT_SECONDS):
            await redis.publish(channel, data)
    except (RedisError, OSError, TimeoutError) as exc:
        log.warning("pubsub.not_published", channel=channel, error=f"{type(exc).__name__}: {exc}")


async def messages(redis: Any, channel: str, *, every: float = 1.0) -> AsyncGenerator[Any, None]:
    """The data of each message on `channel`; None every `every` seconds without one, so callers can poll.

    The first item is None, yielded once the subscription is in place: a
    caller reads the state after it and misses no message. When Redis
    cannot be reached, at the start or later (a restart), ticks go on as
    None while the subscription is made again: callers read the database on
    each tick, so they lag, but go on.
    """
    pubsub: Any = await _subscribed(redis, channel)
    try:
        yield None
        while True:
            if pubsub is None:
                pubsub = await _subscribed(redis, channel)
            message = None if pubsub is None else await _next(pubsub, channel, every)
            if message is _LOST:
                await _close(pubsub, channel)
                pubsub = None
            if pubsub is None:
                await asyncio.sleep(every)
                yield None
                continue
            yield None if message is None else message["data"]
    finally:
        await _close(pubsub, channel)


async def _subscribed(redis: Any, channel: str) -> Any:
    """A pub/sub connection subscribed to `channel`; None when Redis does not answer now (`messages` tries again)."""
    pubsub: Any = redis.pubsub()
    try:
        await pubsub.subscribe(channel)
    except (RedisError, OSError) as exc:
        _lost(channel, exc)
        await _close(pubsub, channel)
        return None
    return pubsub


_LOST = object()
"""What _next answers when the connection is lost."""


async def _next(pubsub: Any, channel: str, every: float) -> Any:
    """The next message within `every` seconds, None without one, _LOST when the connection is."""
    try:
        return await pubsub.get_message(ignore_subscribe_messages=True, timeout=every)
    except (RedisError, OSError) as exc:
        _lost(channel, exc)
        return _LOST


def _lost(channel: str, exc: Exception) -> None:
    log.warning("pubsub.connection_lost", channel=channel, error=f"{type(exc).__name__}: {exc}")


async def _close(pubsub: Any, channel: str) -> None:
    """Give the connection back, whatever state it is in (a lost one cannot unsubscribe)."""
    if pubsub is None:
        return
    with suppress(RedisError, OSError):
        await pubsub.unsubscribe(channel)
    with suppress(RedisError, OSError):
        await pubsub.aclose()
