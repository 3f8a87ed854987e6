"""Live updates over Redis pub/sub survive a lost connection: the subscription goes on and hears new messages."""

from __future__ import annotations

from arq.connections import create_pool

from app.container import Container, arq_redis_settings
from app.services.conflicts import notify
from app.services.sync import progress


async def test_a_job_subscription_rides_out_a_lost_redis_connection(container: Container) -> None:
    """Redis dropped every subscriber (as a restart does): the listener keeps ticking, subscribes again, and the
    next message reaches it; nothing ends the stream or raises to the subscription."""
    redis = container.redis
    updates = progress.listen(redis, 987_654_321, every=0.05)
    try:
        assert await anext(updates) is None
        await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        heard = None
        for _ in range(100):
            heard = await anext(updates)
            if heard is not None:
                break
            await progress.publish(redis, 987_654_321, "RUNNING")
        assert heard == {"job": 987_654_321, "status": "RUNNING"}
    finally:
        await updates.aclose()


async def test_a_conflict_subscription_rides_out_a_lost_redis_connection(container: Container) -> None:
    redis = container.redis
    updates = notify.listen(redis, 987_654_321, every=0.05)
    try:
        assert await anext(updates) is None
        await redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        heard = None
        for _ in range(100):
            heard = await anext(updates)
            if heard is not None:
                break
            await notify.publish_conflict(redis, 987_654_321, "shop", 7)
        assert heard == notify.Detected(conflict_id=7, connector_code="shop")
    finally:
        await updates.aclose()


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
