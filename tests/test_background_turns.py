"""Resolutions take turns on the shared queue, per connector: one connector's thousands of decisions to carry out,
on a shop its rate limit makes slow, must not hold every worker while other connectors' resolutions and syncs wait
behind them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.container import Container
from app.services.conflicts import apply
from app.services.conflicts.apply import apply_resolution, recover_resolutions
from app.services.conflicts.queue import APPLY_TASK
from app.settings import Settings
from graphql_schema.relay import parse_global_id
from tests.catalog_fixtures import set_up_catalog, upsert
from tests.conflict_fixtures import BULK, CONFLICTS, RESOLVE
from tests.conftest import GraphQLClient
from tests.connector_fixtures import (
    SAVE_MAPPINGS,
    UPDATE_CONNECTOR,
    ServedShop,
    create_connector,
    served_shop,
    serving_shop,
)
from tests.sync_fixtures import WorkerProcess, run_here, running_worker, trigger, wait_for_job
from tests.test_conflict_resolution import APPLIED, MAPPINGS, lamp

__all__ = ["served_shop"]

BACKLOG = 10
"""Conflicts of the busy connector decided at once: its shop lets one request a second through, two a check. Queued
ahead of the other connector's resolution, all but the last three (beside it on the worker's four slots) were
carried out before it, 20 s; now it waits for none."""


@pytest.fixture
def other_shop() -> Iterator[ServedShop]:
    with serving_shop() as shop:
        yield shop


async def conflicted(gql: GraphQLClient, worker: WorkerProcess, shops: dict[str, ServedShop]) -> None:
    """LAMP-1..BACKLOG on every shop, their French titles since changed on both sides (MANUAL): one conflict each."""
    await set_up_catalog(gql)
    for code, shop in shops.items():
        await create_connector(gql, shop, code, conflictStrategy="MANUAL")
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
        fast = {"settings": {"requestsPerSecond": None}}
        assert (await gql(UPDATE_CONNECTOR, {"code": "shop", "input": fast}))["updateConnector"]["userErrors"] == []
        for conflict_id in busy:
            await until_applied(gql, conflict_id, worker, within=60)
    assert sorted(titles_written(served_shop, mark)) == sorted(f"LAMP-{n}" for n in range(1, BACKLOG + 1))


async def queued_applies(container: Container) -> set[int]:
    """The conflicts whose resolution has a message on the test's queue (no worker takes them here)."""
    jobs = await container.redis.queued_jobs(queue_name=container.settings.queue_name)
    return {int(job.kwargs["conflict_id"]) for job in jobs if job.function == APPLY_TASK}


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
    assert container.settings.conflict_applies_per_connector == 2
    assert await queued_applies(container) == set(ids[:2])

    async def died_first(*_: object) -> bool:
        raise SystemExit("killed")

    with monkeypatch.context() as patched:
        patched.setattr(apply, "take_apply_turns", died_first)
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
