"""One tenant's open subscriptions are bounded, so it cannot take the Redis connections everyone's work needs.

Each open subscription holds a Redis pub/sub connection of its own (and reads the database on its ticks), and
strawberry bounds each socket (100 operations) but not how many sockets a tenant opens: a tenant opening thousands
of subscriptions would fill Redis's client slots (10,000 by default), and the workers' queue with it, for every
tenant.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from app.container import Container
from app.db.engine import Database
from app.main import create_app
from app.services.conflicts import notify
from app.settings import Settings
from tests.conftest import TenantHandle, make_tenant
from tests.emulators import serve

PROTOCOL = "graphql-transport-ws"
LIMIT = 3
DETECTED = "subscription { conflictDetected { id } }"


@pytest.fixture
def limited(settings: Settings) -> Settings:
    return settings.model_copy(update={"max_subscriptions_per_tenant": LIMIT})


@pytest.fixture
def api_url(limited: Settings) -> Iterator[str]:
    """The API served for real (uvicorn, its own lifespan and resources), as a websocket URL."""
    with serve(create_app(limited), lifespan="on", ws="websockets-sansio") as origin:
        yield origin.replace("http://", "ws://") + "/graphql"


@asynccontextmanager
async def socket(url: str, token: str) -> AsyncIterator[ClientConnection]:
    async with connect(url, subprotocols=[Subprotocol(PROTOCOL)]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        yield ws


async def subscribe(ws: ClientConnection, operation_id: str) -> None:
    await ws.send(json.dumps({"id": operation_id, "type": "subscribe", "payload": {"query": DETECTED}}))


async def listeners(container: Container, tenant_id: int) -> int:
    """How many Redis pub/sub connections listen for the tenant's conflicts."""
    [(_, count)] = await container.redis.pubsub_numsub(notify.channel(container.redis, tenant_id))
    return int(count)


async def until_listeners(container: Container, tenant_id: int, expected: int) -> None:
    deadline = asyncio.get_running_loop().time() + 10
    while (found := await listeners(container, tenant_id)) != expected:
        assert asyncio.get_running_loop().time() < deadline, f"{found} listeners, not {expected}"
        await asyncio.sleep(0.02)


async def refusal(ws: ClientConnection, operation_id: str) -> list[dict[str, Any]]:
    """The errors the server answered operation `operation_id` with (an `error`, or a `next` holding errors)."""
    message = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert message["id"] == operation_id and message["type"] in ("error", "next"), message
    return list(message["payload"] if message["type"] == "error" else message["payload"]["errors"])


async def test_a_tenant_holds_no_more_open_subscriptions_than_its_limit_on_any_number_of_sockets(
    api_url: str, tenant: TenantHandle, container: Container, db: Database
) -> None:
    async with socket(api_url, tenant.token) as first, socket(api_url, tenant.token) as second:
        for number in range(LIMIT):
            await subscribe(first if number % 2 else second, str(number))
        await until_listeners(container, tenant.id, LIMIT)
        await subscribe(first, "over")
        errors = await refusal(first, "over")
        assert [(error["message"], error["extensions"]["code"]) for error in errors] == [
            (
                f"this tenant already has {LIMIT} subscriptions open, the most it may: "
                "complete one it no longer needs first",
                "TOO_MANY_SUBSCRIPTIONS",
            )
        ], errors
        assert await listeners(container, tenant.id) == LIMIT

        other = await make_tenant(db)  # another tenant's share is its own
        async with socket(api_url, other.token) as theirs:
            await subscribe(theirs, "1")
            await until_listeners(container, other.id, 1)

        await first.send(json.dumps({"id": "1", "type": "complete"}))  # a completed one frees its place
        await until_listeners(container, tenant.id, LIMIT - 1)
        await subscribe(first, "again")
        await until_listeners(container, tenant.id, LIMIT)
    await until_listeners(container, tenant.id, 0)  # the sockets closed: every place is free again
    async with socket(api_url, tenant.token) as ws:
        for number in range(LIMIT):
            await subscribe(ws, str(number))
        await until_listeners(container, tenant.id, LIMIT)
