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
from sqlalchemy import func, insert, select

from app.container import Container
from app.db.models import DomainEvent, SyncJobChange, SyncJobError
from app.services.retention import Purged
from app.settings import Settings
from graphql_schema.relay import parse_global_id
from tests.conftest import GraphQLClient, TenantHandle
from tests.connector_fixtures import served_shop
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
