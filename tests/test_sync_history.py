"""How long the sync history is kept: the workers' hourly purge deletes finished jobs, with the changes and errors
they recorded, and domain events once older than PIMSYNC_HISTORY_RETENTION_DAYS (90 by default); each connector's
newest job stays. The purge's clock is moved forward instead of the rows aged: the purge walks the jobs oldest first
and stops at the first one inside the retention, as ids grow with time."""

from __future__ import annotations

import dataclasses
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select, update

from app.container import Container
from app.db.base import utcnow
from app.db.engine import Database
from app.db.models import Conflict, DomainEvent, SyncJobChange, SyncJobError
from app.services import retention
from app.services.retention import Purged
from app.settings import Settings
from graphql_schema.relay import parse_global_id
from tests.conflict_fixtures import AR_TITLE, Shop, open_shop, title
from tests.conftest import GraphQLClient, TenantHandle
from tests.connector_fixtures import ServedShop, served_shop
from tests.sync_fixtures import JOB, LOCALE_STATUS, PRODUCTS, run_here, shop_sync
from workers.settings import periodic_tasks
from workers.tasks.maintenance import purge_history

__all__ = ["served_shop", "shop_sync"]

DAY = timedelta(days=1).total_seconds()


def days_later(container: Container, days: float, **settings: Any) -> Container:
    """The container as a worker would have it `days` from now (with these settings)."""
    return dataclasses.replace(
        container,
        clock=lambda: time.time() + days * DAY,
        settings=container.settings.model_copy(update=settings),
    )


async def recorded(container: Container, job_id: int) -> tuple[int, int]:
    """How many changes and errors of the job are stored."""
    async with container.db.reader() as session:
        changes = await session.scalar(select(func.count()).where(SyncJobChange.job_id == job_id))
        errors = await session.scalar(select(func.count()).where(SyncJobError.job_id == job_id))
    return int(changes or 0), int(errors or 0)


async def events_of(container: Container, tenant: TenantHandle) -> int:
    async with container.db.reader() as session:
        return int(await session.scalar(select(func.count()).where(DomainEvent.tenant_id == tenant.id)) or 0)


async def test_finished_jobs_go_with_what_they_recorded_once_past_the_retention_and_each_connectors_newest_stays(
    shop_sync: GraphQLClient, container: Container, tenant: TenantHandle
) -> None:
    """A full sync records a change for every product it went through, so a connector synced daily added its
    catalog's size to sync_changes every day, for ever. Past 90 days a finished job goes with its changes and
    errors; the connector's newest job stays whatever its age (its lastJob and localeSyncStatus), and a dry run
    goes like any other job."""
    first = await run_here(shop_sync, container, syncType="FULL")
    dry = await run_here(shop_sync, container, syncType="FULL", dryRun=True)
    newest = await run_here(shop_sync, container, syncType="FULL")
    first_id = parse_global_id(first["id"])[1]
    async with container.db.transaction() as session:
        await session.execute(
            insert(SyncJobError).values(
                tenant_id=tenant.id, job_id=first_id, product_sku="CHAIR-001", error_code="CHN-020", message="503"
            )
        )
    assert await recorded(container, first_id) == (PRODUCTS, 1)

    assert await purge_history({"container": days_later(container, 89)}) == Purged()
    assert (await shop_sync(JOB, {"id": first["id"]}))["syncJob"]["id"] == first["id"]

    purged = await purge_history({"container": days_later(container, 91)})
    assert purged.jobs >= 2 and purged.events >= 1
    assert (await shop_sync(JOB, {"id": first["id"]}))["syncJob"] is None
    assert (await shop_sync(JOB, {"id": dry["id"]}))["syncJob"] is None
    assert await recorded(container, first_id) == (0, 0)
    kept = (await shop_sync(JOB, {"id": newest["id"]}))["syncJob"]
    assert (kept["status"], kept["changes"]["totalCount"]) == ("COMPLETED", PRODUCTS)
    connector = (await shop_sync(LOCALE_STATUS))["connector"]
    assert connector["lastJob"]["id"] == newest["id"]
    assert {status["status"] for status in connector["localeSyncStatus"]} == {"synced"}
    assert await events_of(container, tenant) == 0

    later = await run_here(shop_sync, container, syncType="INCREMENTAL")
    await purge_history({"container": days_later(container, 91)})
    assert (await shop_sync(JOB, {"id": newest["id"]}))["syncJob"] is None
    assert (await shop_sync(LOCALE_STATUS))["connector"]["lastJob"]["id"] == later["id"]


async def test_a_retention_of_zero_keeps_the_history_for_ever(
    shop_sync: GraphQLClient, container: Container, tenant: TenantHandle
) -> None:
    first = await run_here(shop_sync, container, syncType="FULL")
    await run_here(shop_sync, container, syncType="FULL")
    events = await events_of(container, tenant)

    assert await purge_history({"container": days_later(container, 10_000, history_retention_days=0)}) == Purged()
    assert (await shop_sync(JOB, {"id": first["id"]}))["syncJob"]["changes"]["totalCount"] == PRODUCTS
    assert await events_of(container, tenant) == events > 0


def test_the_workers_purge_the_history_every_hour(settings: Settings) -> None:
    [purge] = [job for job in periodic_tasks(settings.queue_name) if job.name.endswith(":purge_history")]
    assert (purge.minute, purge.second) == ({45}, {45})


def test_a_negative_retention_is_refused() -> None:
    with pytest.raises(ValueError, match="PIMSYNC_HISTORY_RETENTION_DAYS"):
        Settings(PIMSYNC_HISTORY_RETENTION_DAYS="-1")  # type: ignore[call-arg]


DECIDED_CONFLICTS = """
query { conflicts(first: 50) { edges { node { productSku resolutionStatus resolvedBy } } } }"""


async def decide(shop: Shop, sku: str, status: str, by: str, *, applied: bool = True, error: str | None = None) -> int:
    """A conflict on `sku` decided now (`status`) by `by`, carried out (`applied`), given up on (`error`) or
    waiting for a worker."""
    pk = await shop.seed("shop", sku, title(AR_TITLE), status=status)
    async with shop.db.transaction() as session:
        await session.execute(
            update(Conflict)
            .where(Conflict.id == pk)
            .values(
                resolved_at=utcnow(),
                resolved_by=by,
                resolution={"resolution": "DISMISSED" if status == "DISMISSED" else status, "overrides": []},
                applied_at=utcnow() if applied else None,
                apply_error=error,
                apply_queued_at=utcnow(),
            )
        )
    return pk


async def conflicts_left(gql: GraphQLClient) -> set[tuple[str, str, str | None]]:
    found = (await gql(DECIDED_CONFLICTS))["conflicts"]["edges"]
    return {
        (edge["node"]["productSku"], edge["node"]["resolutionStatus"], edge["node"]["resolvedBy"]) for edge in found
    }


async def test_decided_conflicts_go_past_their_retention_and_open_ones_and_those_still_to_carry_out_stay(
    gql: GraphQLClient, served_shop: ServedShop, db: Database, tenant: TenantHandle, container: Container
) -> None:
    """A connector's strategy decides a conflict on every sync that finds one: those decisions, and conflicts a sync
    found settled, go with the sync history (90 days). A person's decision is their record of what they chose: it
    goes after PIMSYNC_CONFLICT_RETENTION_DAYS (365), whether it was carried out or given up on. A PENDING conflict
    is never deleted, nor a decision no worker has carried out yet."""
    shop = await open_shop(gql, served_shop, db, tenant, ("shop",))
    await shop.seed("shop", "CHAIR-1", title(AR_TITLE))
    await decide(shop, "CHAIR-2", "PIM_WINS", "strategy")
    await decide(shop, "CHAIR-2", "DISMISSED", "sync: both sides agree now")
    await decide(shop, "CHAIR-3", "CHANNEL_WINS", "token:anna")
    await decide(shop, "CHAIR-3", "DISMISSED", "token:anna")
    await decide(shop, "CHAIR-4", "PIM_WINS", "token:omar", error="CHN-041: not carried out")
    await decide(shop, "CHAIR-5", "PIM_WINS", "token:omar", applied=False)
    everything = await conflicts_left(gql)
    assert len(everything) == 7
    open_ones = {("CHAIR-1", "PENDING", None), ("CHAIR-5", "PIM_WINS", "token:omar")}
    people = {
        ("CHAIR-3", "CHANNEL_WINS", "token:anna"),
        ("CHAIR-3", "DISMISSED", "token:anna"),
        ("CHAIR-4", "PIM_WINS", "token:omar"),
    }

    assert (await purge_history({"container": days_later(container, 89)})).conflicts == 0
    assert (await purge_history({"container": days_later(container, 91)})).conflicts == 2
    assert await conflicts_left(gql) == open_ones | people
    assert (await purge_history({"container": days_later(container, 364)})).conflicts == 0
    assert (await purge_history({"container": days_later(container, 366)})).conflicts == 3
    assert await conflicts_left(gql) == open_ones
    assert (await purge_history({"container": days_later(container, 100_000)})).conflicts == 0
    assert await conflicts_left(gql) == open_ones


async def test_a_conflict_retention_of_zero_keeps_peoples_decisions_for_ever(
    gql: GraphQLClient, served_shop: ServedShop, db: Database, tenant: TenantHandle, container: Container
) -> None:
    """And a history retention of zero keeps the service's own decisions for ever, as it keeps the jobs."""
    shop = await open_shop(gql, served_shop, db, tenant, ("shop",))
    await decide(shop, "CHAIR-2", "PIM_WINS", "strategy")
    await decide(shop, "CHAIR-3", "DISMISSED", "token:anna")
    later = days_later(container, 10_000, conflict_retention_days=0)
    assert (await purge_history({"container": later})).conflicts == 1
    assert await conflicts_left(gql) == {("CHAIR-3", "DISMISSED", "token:anna")}
    later = days_later(container, 10_000, history_retention_days=0, conflict_retention_days=365)
    await decide(shop, "CHAIR-2", "PIM_WINS", "strategy")
    assert (await purge_history({"container": later})).conflicts == 1
    assert await conflicts_left(gql) == {("CHAIR-2", "PIM_WINS", "strategy")}


async def test_the_conflict_purge_goes_on_batch_after_batch_past_the_decisions_it_keeps(
    gql: GraphQLClient,
    served_shop: ServedShop,
    db: Database,
    tenant: TenantHandle,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Batches of CONFLICT_BATCH decisions, a transaction each, until none is left: decisions kept (still to carry
    out) among them do not stop it."""
    monkeypatch.setattr(retention, "CONFLICT_BATCH", 2)
    shop = await open_shop(gql, served_shop, db, tenant, ("shop",))
    for n, sku in enumerate(("CHAIR-1", "CHAIR-2", "CHAIR-3", "CHAIR-4", "CHAIR-5") * 2):
        await decide(shop, sku, "DISMISSED", f"token:{n}", applied=n % 3 != 0)
    assert (await purge_history({"container": days_later(container, 366)})).conflicts == 6
    assert {by for _, _, by in await conflicts_left(gql)} == {"token:0", "token:3", "token:6", "token:9"}


def test_a_negative_conflict_retention_is_refused() -> None:
    with pytest.raises(ValueError, match="PIMSYNC_CONFLICT_RETENTION_DAYS"):
        Settings(PIMSYNC_CONFLICT_RETENTION_DAYS="-1")  # type: ignore[call-arg]
