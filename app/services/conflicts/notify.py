"""New conflicts over Redis pub/sub: detection publishes after it commits, conflictDetected listens.

One channel per tenant, so a subscriber never even receives another
tenant's messages. A message carries only ids; listeners read the conflict
from the database, tenant-scoped.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from app.services import pubsub


@dataclass(frozen=True, slots=True)
class Detected:
    conflict_id: int
    connector_code: str


def channel(redis: Any, tenant_id: int) -> str:
    return pubsub.channel_of(redis, f"conflicts:{tenant_id}")


async def publish_conflict(redis: Any, tenant_id: int, connector_code: str, conflict_id: int) -> None:
    """Tell live subscribers of the tenant that a conflict was opened or changed; call after the commit.

    Best effort (pubsub.announce): the conflict is recorded already, and a Redis away for a moment must not fail
    the sync page or webhook check that found it."""
    message = {"conflict": conflict_id, "connector": connector_code}
    await pubsub.announce(redis, channel(redis, tenant_id), json.dumps(message))


async def listen(redis: Any, tenant_id: int, *, every: float = 1.0) -> AsyncGenerator[Detected | None, None]:
    """Detections for one tenant; None every `every` seconds without one, so a caller never blocks for long.

    The first item is None, yielded once the subscription is in place: a
    conflict published after that is never missed. A lost Redis connection
    is ridden out (pubsub.messages).
    """
    async with aclosing(pubsub.messages(redis, channel(redis, tenant_id), every=every)) as updates:
        async for data in updates:
            yield None if data is None else _parse(data)


def _parse(data: str | bytes) -> Detected | None:
    """A malformed message is dropped rather than ending every subscription of the tenant."""
    try:
        body = json.loads(data)
        return Detected(conflict_id=int(body["conflict"]), connector_code=str(body["connector"]))
    except (ValueError, KeyError, TypeError):
        return None
