"""Live updates over Redis pub/sub survive a lost connection: the subscription goes on and hears new messages."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from arq.connections import ArqRedis, create_pool
from redis.asyncio import ConnectionPool

from app.container import Container, arq_redis_settings
from app.embedded_redis import redis_url
from app.services.conflicts import notify
from app.services.sync import progress
from tests.ports import closed_port


@asynccontextmanager
async def named_client(container: Container) -> AsyncIterator[tuple[ArqRedis, str]]:
    """A client of the service's Redis and queue whose connections carry a name of their own, so a test can drop
    them alone: other test processes (pytest -n) share this Redis and have subscriptions open that must not be."""
    name = f"pubsub-test-{uuid.uuid4().hex[:12]}"
    pool = ConnectionPool.from_url(redis_url(container.settings), client_name=name)
    client = ArqRedis(connection_pool=pool, default_queue_name=container.settings.queue_name)
    try:
        yield client, name
    finally:
        await client.aclose()
        await pool.disconnect()


async def drop_subscribers(redis: ArqRedis, name: str) -> int:
    """Close the named client's subscribed connections on the server's side, as a Redis restart does."""
    ids = [client["id"] for client in await redis.client_list(_type="pubsub") if client["name"] == name]
    for client_id in ids:
        await redis.execute_command("CLIENT", "KILL", "ID", client_id)
    return len(ids)


@pytest.mark.parametrize("kind", ["job progress", "conflicts"])
async def test_a_subscription_rides_out_a_lost_redis_connection(container: Container, kind: str) -> None:
    """Redis dropped every subscriber (as a restart does): the listener keeps ticking, subscribes again, and the
    next message reaches it; nothing ends the stream or raises to the subscription."""
    async with named_client(container) as (redis, name):
        await _rides_out(redis, name, kind)


async def _rides_out(redis: ArqRedis, name: str, kind: str) -> None:
    key = 987_654_321
    listening: Any = (
        progress.listen(redis, key, every=0.05) if kind == "job progress" else notify.listen(redis, key, every=0.05)
    )
    expected: Any = {"job": key, "status": "RUNNING"} if kind == "job progress" else notify.Detected(7, "shop")

    async def publish() -> None:
        if kind == "job progress":
            await progress.publish(redis, key, "RUNNING")
        else:
            await notify.publish_conflict(redis, key, "shop", 7)

    try:
        assert await anext(listening) is None
        assert await drop_subscribers(redis, name) == 1, "the listener's connection was not found to drop"
        deadline = time.monotonic() + 30
        while (heard := await anext(listening)) is None:
            assert time.monotonic() < deadline, "nothing was heard after the connection was lost"
            await publish()
        assert heard == expected
    finally:
        await listening.aclose()


async def test_services_sharing_one_redis_do_not_hear_each_others_jobs(container: Container) -> None:
    """Job ids are per database: another service's job 5 (its own PIMSYNC_QUEUE) is not this one's."""
    other = await create_pool(arq_redis_settings(container.settings), default_queue_name="another-service:queue")
    updates = progress.listen(container.redis, 5, every=0.05)
    try:
        assert await anext(updates) is None
        await progress.publish(other, 5, "RUNNING")
        await progress.publish(container.redis, 5, "COMPLETED")
        heard = [item for item in [await anext(updates) for _ in range(3)] if item is not None]
        assert heard == [{"job": 5, "status": "COMPLETED"}]
    finally:
        await updates.aclose()
        await other.aclose()


@pytest.mark.parametrize("kind", ["job progress", "conflicts"])
async def test_publishing_while_redis_is_away_is_not_the_publisher_s_error(kind: str) -> None:
    """What is announced is committed already (a page recorded, a conflict opened): a Redis away for a moment costs
    live listeners a tick, and must not fail the sync page or the check that made it."""
    with closed_port() as port:
        redis = ArqRedis(connection_pool=ConnectionPool.from_url(f"redis://127.0.0.1:{port}/0"))
        try:
            if kind == "job progress":
                await progress.publish(redis, 1, "RUNNING")
            else:
                await notify.publish_conflict(redis, 1, "shop", 7)
        finally:
            await redis.aclose()


@pytest.mark.parametrize("kind", ["job progress", "conflicts"])
async def test_a_subscription_opened_while_redis_is_away_ticks_on(kind: str) -> None:
    """A frontend that subscribes during a Redis restart gets ticks (syncJobUpdated reads the job on each), not a
    server error: the subscription is made once Redis answers."""
    with closed_port() as port:
        redis = ArqRedis(connection_pool=ConnectionPool.from_url(f"redis://127.0.0.1:{port}/0"))
        listening: Any = (
            progress.listen(redis, 1, every=0.01) if kind == "job progress" else notify.listen(redis, 1, every=0.01)
        )
        try:
            assert [await anext(listening) for _ in range(3)] == [None, None, None]
        finally:
            await listening.aclose()
            await redis.aclose()
