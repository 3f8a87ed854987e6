"""Live job progress over Redis pub/sub: workers publish each step, API subscriptions listen.

Messages carry only the job id and its status; a listener reads the job from
the database, so a missed message never leaves a stale view for long.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from app.services import pubsub


def channel(redis: Any, job_id: int) -> str:
    return pubsub.channel_of(redis, f"sync_job:{job_id}")


async def publish(redis: Any, job_id: int, status: str) -> None:
    """Tell the job's listeners it moved on; call after the commit. Best effort (pubsub.announce)."""
    await pubsub.announce(redis, channel(redis, job_id), json.dumps({"job": job_id, "status": status}))


async def listen(redis: Any, job_id: int, *, every: float = 1.0) -> AsyncGenerator[dict[str, Any] | None, None]:
    """Messages for one job; None every `every` seconds without one, so callers can poll as a fallback.

    The first item is None, yielded once the subscription is in place: a
    caller reads the job's state after it and misses no message. A lost
    Redis connection is ridden out (pubsub.messages).
    """
    async with aclosing(pubsub.messages(redis, channel(redis, job_id), every=every)) as updates:
        async for data in updates:
            yield None if data is None else json.loads(data)
