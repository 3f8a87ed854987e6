"""Live updates over Redis pub/sub survive a lost connection: the subscription goes on and hears new messages."""

from __future__ import annotations

from typing import Any

import pytest
from arq.connections import create_pool

from app.container import Container, arq_redis_settings
from app.services.conflicts import notify
from app.services.sync import progress


@pytest.mark.parametrize("kind", ["job progress", "conflicts"])
async def test_a_subscription_rides_out_a_lost_redis_connection(container: Container, kind: str) -> None:
    """Redis dropped every subscriber (as a restart does): the listener keeps ticking, subscribes again, and the
    next message reaches it; nothing ends the stream or raises to the subscription."""
    redis, key = container.redis, 987_654_321
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
        await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        heard = None
        for _ in range(100):
            heard = await anext(listening)
            if heard is not None:
                break
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
