"""Resolutions and webhook deliveries take turns on the shared queue, per connector: one connector's thousands of
decisions to carry out, or a burst of its deliveries, on a shop its rate limit makes slow, must not hold every worker
while other connectors' resolutions, deliveries and syncs wait behind them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, update

from app.container import Container
from app.db.base import utcnow
from app.db.engine import Database
from app.db.models import Conflict, WebhookDelivery
from app.services import turns, webhooks
from app.services.conflicts import apply
from app.services.conflicts.apply import apply_resolution, recover_resolutions
from app.services.conflicts.queue import APPLY_TASK
from app.services.turns import TurnKey, requeue_lost
from app.services.webhooks import PROCESS_TASK, process_delivery, recover_webhook_deliveries
from app.settings import Settings
from graphql_schema.relay import parse_global_id
from tests.catalog_fixtures import set_up_catalog, upsert
from tests.conflict_fixtures import AR_TITLE, BULK, CONFLICTS, RESOLVE, SKUS, Shop, open_shop, title
from tests.conftest import GraphQLClient, TenantHandle
from tests.connector_fixtures import (
    CONNECTOR,
    SAVE_MAPPINGS,
    UPDATE_CONNECTOR,
    ServedShop,
    create_connector,
    served_shop,
    serving_shop,
)
from tests.sync_fixtures import WorkerProcess, run_here, running_worker, trigger, wait_for_job
from tests.test_conflict_resolution import APPLIED, MAPPINGS, lamp
from tests.webhook_fixtures import deliveries

__all__ = ["served_shop"]

BACKLOG = 10
"""Conflicts of the busy connector decided at once: its shop lets one request a second through, two a check. Queued
ahead of the other connector's resolution, all but the last three (beside it on the worker's four slots) were
carried out before it, 20 s; now it waits for none."""


FAST = 1000
"""Requests a second the connectors are allowed outside the slow stretch: the channel type's default (5) made the
set-up's syncs and the backlog's last resolutions wait on the bucket for most of the test's time."""


@pytest.fixture
def other_shop() -> Iterator[ServedShop]:
    with serving_shop() as shop:
        yield shop


async def conflicted(gql: GraphQLClient, worker: WorkerProcess, shops: dict[str, ServedShop]) -> None:
    """LAMP-1..BACKLOG on every shop, their French titles since changed on both sides (MANUAL): one conflict each."""
    await set_up_catalog(gql)
    for code, shop in shops.items():
        await create_connector(gql, shop, code, conflictStrategy="MANUAL", requestsPerSecond=FAST)
        assert (await gql(SAVE_MAPPINGS, {"code": code, "mappings": MAPPINGS}))["saveMappings"]["userErrors"] == []
    numbers = range(1, BACKLOG + 1)
    await upsert(gql, *(lamp(n) for n in numbers))
    await synced(gql, worker, shops)
    for shop in shops.values():
        for n in numbers:
            shop.shop.edit(f"LAMP-{n}", locales={"fr": {"title": f"Lampe dorée {n}"}})
    await upsert(gql, *(lamp(n, fr=f"Lampe en bronze {n}") for n in numbers))
    await synced(gql, worker, shops, "INCREMENTAL")


async def synced(gql: GraphQLClient, worker: WorkerProcess, shops: dict[str, ServedShop], kind: str = "FULL") -> None:
    for code in shops:
        job = await wait_for_job(gql, (await trigger(gql, code, syncType=kind))["id"], worker=worker)
        assert job["status"] == "COMPLETED", job


async def conflicts(gql: GraphQLClient, code: str, status: str = "PENDING") -> list[dict[str, Any]]:
    found = await gql(CONFLICTS, {"code": code, "first": 50, "status": status})
    return [edge["node"] for edge in found["conflicts"]["edges"]]


async def unapplied(gql: GraphQLClient, ids: list[str]) -> int:
    """How many of the conflicts' resolutions no worker has carried out yet."""
    states = [(await gql(APPLIED, {"id": pk}))["conflict"] for pk in ids]
    return sum(1 for state in states if state["appliedAt"] is None and state["applyError"] is None)


async def until_applied(gql: GraphQLClient, conflict_id: str, worker: WorkerProcess, within: float) -> None:
    deadline = time.monotonic() + within
    while (state := (await gql(APPLIED, {"id": conflict_id}))["conflict"])["appliedAt"] is None:
        assert state["applyError"] is None, state
        assert time.monotonic() < deadline, f"{conflict_id} not applied after {within}s\n{worker.output()}"
        await asyncio.sleep(0.05)


def titles_written(shop: ServedShop, since: int) -> list[str]:
    """The SKUs of the products the shop was sent since request number `since`, once per write."""
    sent = [r for r in shop.shop.requests[since:] if r.method == "POST" and r.path == "/products/batch"]
    return [product["sku"] for request in sent for product in request.json["products"]]


async def test_a_connectors_backlog_of_resolutions_leaves_other_connectors_work_its_turn(
    gql: GraphQLClient, served_shop: ServedShop, other_shop: ServedShop, settings: Settings, tmp_path: Path
) -> None:
    """A bulk decides every conflict of `shop`, whose rate (one request a second) makes each resolution take about
    two seconds; then one conflict of `other` is resolved and `other` is synced. Both are carried out while most of
    `shop`'s backlog still waits, instead of after all of it; and every one of `shop`'s resolutions is still
    carried out, once each."""
    shops = {"shop": served_shop, "other": other_shop}
    with running_worker(settings, tmp_path / "worker.log") as worker:
        await conflicted(gql, worker, shops)
        busy = [conflict["id"] for conflict in await conflicts(gql, "shop")]
        [one, *_] = await conflicts(gql, "other")
        assert len(busy) == BACKLOG
        slow = {"settings": {"requestsPerSecond": 1}}
        assert (await gql(UPDATE_CONNECTOR, {"code": "shop", "input": slow}))["updateConnector"]["userErrors"] == []
        mark = len(served_shop.shop.requests)
        decided = await gql(BULK, {"filter": {"connectorCode": "shop"}, "resolution": "PIM_WINS"})
        assert decided["bulkResolveConflicts"] == {"resolvedCount": BACKLOG, "userErrors": []}
        started = time.monotonic()
        payload = {"resolution": "PIM_WINS", "expectedVersion": one["version"]}
        assert (await gql(RESOLVE, {"id": one["id"], "input": payload}))["resolveConflict"]["userErrors"] == []
        job = await trigger(gql, "other", syncType="SINGLE", productSkus=["LAMP-1", "LAMP-2"])
        await until_applied(gql, one["id"], worker, within=60)
        waited = time.monotonic() - started
        left_behind = await unapplied(gql, busy)
        done = await wait_for_job(gql, job["id"], worker=worker, within=60)
        left_after_sync = await unapplied(gql, busy)
        print(f"other's resolution after {waited:.1f}s, {left_behind} of shop's {BACKLOG} still waiting")
        assert done["status"] == "COMPLETED"
        assert left_behind >= BACKLOG // 2, f"other's resolution waited {waited:.1f}s, behind shop's backlog"
        assert left_after_sync >= BACKLOG // 2, "other's sync waited behind shop's backlog"
        fast = {"settings": {"requestsPerSecond": FAST}}
        assert (await gql(UPDATE_CONNECTOR, {"code": "shop", "input": fast}))["updateConnector"]["userErrors"] == []
        for conflict_id in busy:
            await until_applied(gql, conflict_id, worker, within=60)
    assert sorted(titles_written(served_shop, mark)) == sorted(f"LAMP-{n}" for n in range(1, BACKLOG + 1))


async def queued_applies(container: Container) -> set[int]:
    """The conflicts whose resolution has a message on the test's queue (no worker takes them here)."""
    return await queued(container, APPLY_TASK, "conflict_id")


async def queued(container: Container, task: str, argument: str) -> set[int]:
    """The `argument` of each message of `task` on the test's queue."""
    jobs = await container.redis.queued_jobs(queue_name=container.settings.queue_name)
    return {int(job.kwargs[argument]) for job in jobs if job.function == task}


async def died(*_: object) -> bool:
    """A worker killed once the outcome is recorded, before it hands its turn on."""
    raise SystemExit("killed")


async def test_a_backlogs_turns_are_handed_on_as_each_ends_and_recovered_when_a_worker_died_before(
    gql: GraphQLClient, served_shop: ServedShop, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Four decisions of one connector, two turns: two are queued, the others wait. The worker carrying out the
    first dies once its outcome is recorded, before it hands its turn on: the recovery sweep hands it out. Each
    resolution that ends hands on its turn; each is written to the shop once, a duplicate message included."""
    await set_up_catalog(gql)
    await create_connector(gql, served_shop, conflictStrategy="MANUAL")
    assert (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": MAPPINGS}))["saveMappings"]["userErrors"] == []
    await upsert(gql, *(lamp(n) for n in range(1, 5)))
    assert (await run_here(gql, container))["status"] == "COMPLETED"
    for n in range(1, 5):
        served_shop.shop.edit(f"LAMP-{n}", locales={"fr": {"title": f"Lampe dorée {n}"}})
    await upsert(gql, *(lamp(n, fr=f"Lampe en bronze {n}") for n in range(1, 5)))
    assert (await run_here(gql, container, syncType="INCREMENTAL"))["conflictedProducts"] == 4
    ids = sorted(parse_global_id(conflict["id"])[1] for conflict in await conflicts(gql, "shop"))
    mark = len(served_shop.shop.requests)
    decided = await gql(BULK, {"filter": {"connectorCode": "shop"}, "resolution": "PIM_WINS"})
    assert decided["bulkResolveConflicts"] == {"resolvedCount": 4, "userErrors": []}
    assert container.settings.checks_per_connector == 2
    assert await queued_applies(container) == set(ids[:2])

    with monkeypatch.context() as patched:
        patched.setattr(apply, "take_apply_turns", died)
        with pytest.raises(SystemExit):
            await apply_resolution(container, ids[0])
    assert await queued_applies(container) == set(ids[:2]), "a turn was handed on by a worker that died"
    assert await recover_resolutions(container) == 1
    assert await queued_applies(container) == set(ids[:3])
    assert (await apply_resolution(container, ids[0])).detail == "already applied"
    assert (await apply_resolution(container, ids[1])).status == "APPLIED"
    assert await queued_applies(container) == set(ids)
    for conflict_id in ids[2:]:
        assert (await apply_resolution(container, conflict_id)).status == "APPLIED"
    assert await recover_resolutions(container) == 0
    assert sorted(titles_written(served_shop, mark)) == [f"LAMP-{n}" for n in range(1, 5)]
    for n in range(1, 5):
        assert served_shop.shop.products[f"LAMP-{n}"].locales["fr"]["title"] == f"Lampe en bronze {n}"


async def delivered(http: httpx.AsyncClient, gql: GraphQLClient, shop: ServedShop, code: str, sku: str) -> str:
    """The shop's signed product.updated delivery of `sku`, posted to the connector's webhook path and accepted."""
    path = (await gql(CONNECTOR, {"code": code}))["connector"]["webhookPath"]
    body, headers = shop.shop.webhook("product.updated", sku)
    response = await http.post(path, content=body, headers=headers)
    assert (response.status_code, response.json()["status"]) == (202, "accepted"), response.text
    return str(path)


async def test_a_burst_of_one_connectors_deliveries_leaves_other_connectors_deliveries_their_turn(
    gql: GraphQLClient,
    client: httpx.AsyncClient,
    db: Database,
    served_shop: ServedShop,
    other_shop: ServedShop,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """The merchant of `shop` edits every product at once: a delivery each, every check about two seconds at the
    shop's rate. One delivery of `other`, sent after them, is checked while most of the burst still waits, and each
    of the burst is still processed, once."""
    shops = {"shop": served_shop, "other": other_shop}
    with running_worker(settings, tmp_path / "worker.log") as worker:
        await set_up_catalog(gql)
        for code, shop in shops.items():
            await create_connector(gql, shop, code, conflictStrategy="MANUAL")
            assert (await gql(SAVE_MAPPINGS, {"code": code, "mappings": MAPPINGS}))["saveMappings"]["userErrors"] == []
        await upsert(gql, *(lamp(n) for n in range(1, BACKLOG + 1)))
        await synced(gql, worker, shops)
        slow = {"settings": {"requestsPerSecond": 1}}
        assert (await gql(UPDATE_CONNECTOR, {"code": "shop", "input": slow}))["updateConnector"]["userErrors"] == []
        for n in range(1, BACKLOG + 1):
            served_shop.shop.edit(f"LAMP-{n}", locales={"fr": {"title": f"Lampe dorée {n}"}})
            busy = await delivered(client, gql, served_shop, "shop", f"LAMP-{n}")
        other_shop.shop.edit("LAMP-1", locales={"fr": {"title": "Lampe dorée 1"}})
        started = time.monotonic()
        other = await delivered(client, gql, other_shop, "other", "LAMP-1")
        while (await deliveries(db, other))[0].status == "PENDING":
            assert time.monotonic() - started < 60, worker.output()
            await asyncio.sleep(0.05)
        waited = time.monotonic() - started
        left_behind = sum(1 for row in await deliveries(db, busy) if row.status == "PENDING")
        print(f"other's delivery after {waited:.1f}s, {left_behind} of shop's {BACKLOG} still waiting")
        assert left_behind >= BACKLOG // 2, f"other's delivery waited {waited:.1f}s, behind shop's burst"
        fast = {"settings": {"requestsPerSecond": FAST}}
        assert (await gql(UPDATE_CONNECTOR, {"code": "shop", "input": fast}))["updateConnector"]["userErrors"] == []
        deadline = time.monotonic() + 60
        while any(row.status == "PENDING" for row in await deliveries(db, busy)):
            assert time.monotonic() < deadline, worker.output()
            await asyncio.sleep(0.1)
    rows = await deliveries(db, busy)
    assert [(row.status, row.attempts) for row in rows] == [("PROCESSED", 1)] * BACKLOG, [r.outcome for r in rows]


async def test_a_bursts_turns_are_handed_on_as_each_ends_and_recovered_when_a_worker_died_before(
    gql: GraphQLClient,
    client: httpx.AsyncClient,
    served_shop: ServedShop,
    container: Container,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three deliveries of one connector, two turns: two are queued, the third waits. The worker processing the
    first dies once its outcome is recorded, before handing its turn on: the recovery sweep hands it out."""
    await set_up_catalog(gql)
    await create_connector(gql, served_shop, conflictStrategy="MANUAL")
    assert (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": MAPPINGS}))["saveMappings"]["userErrors"] == []
    await upsert(gql, *(lamp(n) for n in range(1, 4)))
    assert (await run_here(gql, container))["status"] == "COMPLETED"
    for n in range(1, 4):
        served_shop.shop.edit(f"LAMP-{n}", locales={"fr": {"title": f"Lampe dorée {n}"}})
        path = await delivered(client, gql, served_shop, "shop", f"LAMP-{n}")
    ids = [row.id for row in await deliveries(db, path)]
    assert await queued(container, PROCESS_TASK, "delivery_pk") == set(ids[:2])
    with monkeypatch.context() as patched:
        patched.setattr(webhooks, "take_delivery_turns", died)
        with pytest.raises(SystemExit):
            await process_delivery(container, ids[0])
    assert await queued(container, PROCESS_TASK, "delivery_pk") == set(ids[:2]), "handed on by a worker that died"
    assert await recover_webhook_deliveries(container) == 1
    assert await queued(container, PROCESS_TASK, "delivery_pk") == set(ids)
    assert (await process_delivery(container, ids[0])).status == "SKIPPED"
    for delivery_pk in ids[1:]:
        assert (await process_delivery(container, delivery_pk)).status == "PROCESSED"
    assert [(row.status, row.attempts) for row in await deliveries(db, path)] == [("PROCESSED", 1)] * 3
    assert await recover_webhook_deliveries(container) == 0


LOST = 5
"""Turns whose message Redis lost (an outage, a restart without persistence), more than two batches of two."""


async def stranded_resolutions(shop: Shop) -> list[int]:
    """A person's decision on each product, holding its connector's turn for an hour with no message queued."""
    an_hour_ago = utcnow() - timedelta(hours=1)
    ids = []
    for n, sku in enumerate(SKUS[:LOST]):
        pk = await shop.seed("shop", sku, title(AR_TITLE), status="PIM_WINS")
        async with shop.db.transaction() as session:
            await session.execute(
                update(Conflict)
                .where(Conflict.id == pk)
                .values(
                    resolution={"resolution": "PIM_WINS", "overrides": []},
                    resolved_by="token:test",
                    resolved_at=an_hour_ago,
                    apply_queued_at=an_hour_ago + timedelta(seconds=LOST - n),  # not in id order
                )
            )
        ids.append(pk)
    return ids


async def test_a_sweep_queues_again_every_lost_resolution_of_a_backlog_larger_than_a_batch(
    gql: GraphQLClient,
    served_shop: ServedShop,
    db: Database,
    tenant: TenantHandle,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sweep queued one batch (200) and left the rest to its next runs, twice a minute: after an outage that
    stranded 10,000 resolutions they waited up to 25 minutes. It now goes on, batch after batch, until none is
    left."""
    monkeypatch.setattr(apply, "RECOVERY_BATCH", 2)
    shop = await open_shop(gql, served_shop, db, tenant, ("shop",))
    ids = await stranded_resolutions(shop)
    assert await recover_resolutions(container) == LOST
    assert await queued_applies(container) == set(ids)


async def test_a_sweep_queues_again_every_lost_delivery_of_a_backlog_larger_than_a_batch(
    gql: GraphQLClient,
    served_shop: ServedShop,
    db: Database,
    tenant: TenantHandle,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(webhooks, "RECOVERY_BATCH", 2)
    shop = await open_shop(gql, served_shop, db, tenant, ("shop",))
    ids = await stranded_deliveries(shop, tenant)
    assert await recover_webhook_deliveries(container) == LOST
    assert await queued(container, PROCESS_TASK, "delivery_pk") == set(ids)


async def stranded_deliveries(shop: Shop, tenant: TenantHandle) -> list[int]:
    """Deliveries holding their connector's turn for a minute with no message queued, oldest turn last."""
    a_minute_ago = utcnow() - timedelta(minutes=1)
    rows = [
        {
            "tenant_id": tenant.id,
            "connector_id": shop.connector_ids["shop"],
            "delivery_id": f"lost-{n}",
            "topic": "product.updated",
            "payload": {"id": n},
            "received_at": a_minute_ago,
            "queued_at": a_minute_ago + timedelta(seconds=LOST - n),
        }
        for n in range(LOST)
    ]
    async with shop.db.transaction() as session:
        return list(await session.scalars(insert(WebhookDelivery).returning(WebhookDelivery.id), rows))


async def test_a_backlog_beyond_one_sweep_is_gone_on_with_by_the_next_not_queued_again_from_the_oldest(
    gql: GraphQLClient,
    served_shop: ServedShop,
    db: Database,
    tenant: TenantHandle,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sweep that ran out of time left the rest of a backlog to the next, which started again at the oldest: at
    the turns the last one had just queued, still on the queue (arq drops a second message under a job id, so
    each was a round trip to Redis for nothing). A backlog larger than a sweep queued the same oldest turns every
    sweep, and reached the others only as workers took those. A turn queued again now counts as queued then."""
    monkeypatch.setattr(webhooks, "RECOVERY_BATCH", 2)
    monkeypatch.setattr(turns, "RECOVERY_SECONDS", 0.0)  # one batch a sweep
    shop = await open_shop(gql, served_shop, db, tenant, ("shop",))
    ids = await stranded_deliveries(shop, tenant)
    oldest_first = ids[::-1]
    for sweep in range(3):
        await recover_webhook_deliveries(container)
        expected = set(oldest_first[: 2 * (sweep + 1)])
        assert await queued(container, PROCESS_TASK, "delivery_pk") == expected, f"after sweep {sweep + 1}"
    assert await recover_webhook_deliveries(container) == 0, "queued again within RECOVER_AFTER of the last time"


async def test_a_resolutions_backlog_beyond_one_sweep_is_gone_on_with_by_the_next(
    gql: GraphQLClient,
    served_shop: ServedShop,
    db: Database,
    tenant: TenantHandle,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(apply, "RECOVERY_BATCH", 2)
    monkeypatch.setattr(turns, "RECOVERY_SECONDS", 0.0)
    shop = await open_shop(gql, served_shop, db, tenant, ("shop",))
    oldest_first = (await stranded_resolutions(shop))[::-1]
    for sweep in range(3):
        await recover_resolutions(container)
        assert await queued_applies(container) == set(oldest_first[: 2 * (sweep + 1)]), f"after sweep {sweep + 1}"
    assert await recover_resolutions(container) == 0


async def test_a_sweep_stops_at_its_time_budget_and_at_the_first_message_redis_does_not_take() -> None:
    """Oldest first, each batch Redis took recorded as queued again (so the next sweep goes on with the oldest not
    yet queued again); one Redis did not take is not."""
    backlog = [(datetime(2026, 1, 1, tzinfo=UTC), n) for n in range(7)]
    offered: list[int] = []
    stamped: list[int] = []

    async def read(after: TurnKey | None) -> list[TurnKey]:
        return [turn for turn in backlog if after is None or turn > after][:2]

    async def offer(lost: Sequence[TurnKey]) -> bool:
        offered.extend(n for _, n in lost)
        return True

    async def requeued(lost: Sequence[TurnKey], now: datetime) -> None:
        stamped.extend(n for _, n in lost)

    assert await requeue_lost(read, lambda turn: turn, offer, requeued, batch=2) == (7, True)
    assert offered == stamped == list(range(7))
    offered.clear()
    stamped.clear()
    assert await requeue_lost(read, lambda turn: turn, offer, requeued, batch=2, seconds=0) == (2, True)
    assert offered == stamped == [0, 1]
    stamped.clear()

    async def refused(lost: Sequence[TurnKey]) -> bool:
        return False

    assert await requeue_lost(read, lambda turn: turn, refused, requeued, batch=2) == (2, False)
    assert stamped == []
