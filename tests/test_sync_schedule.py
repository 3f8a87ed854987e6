"""Scheduled syncs (syncIntervalMinutes): when the worker's once-a-minute check starts one, and when it does not.

The check is called here with the moment it runs at, as arq's cron would call it; jobs run in this process
(planned, then run chunk by chunk), and no worker takes this test's queue messages.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import select

from app.container import Container
from app.db.base import utcnow
from app.db.models import SyncJob
from app.repositories.events import EventRepository
from app.services.sync.recovery import schedule_due_syncs
from graphql_schema.relay import parse_global_id
from tests.conftest import GraphQLClient, TenantHandle
from tests.connector_fixtures import CONNECTOR, SAVE_MAPPINGS, UPDATE_CONNECTOR, ServedShop, served_shop
from tests.sync_fixtures import MAPPINGS, PRODUCTS, fail_a_job, run_triggered_here, shop_sync, sku, trigger

__all__ = ["served_shop", "shop_sync"]

RESUME = """mutation { resumeConnector(code: "shop") { connector { status } userErrors { code } } }"""

TICK = utcnow().replace(second=15, microsecond=300_000)
"""A check as arq's cron runs it: at second 15 of a minute, and a little after, by however long it waited."""


async def every(gql: GraphQLClient, minutes: int) -> None:
    changed = await gql(UPDATE_CONNECTOR, {"code": "shop", "input": {"settings": {"syncIntervalMinutes": minutes}}})
    assert changed["updateConnector"]["userErrors"] == []


async def check(container: Container, tenant: TenantHandle, at: datetime) -> list[SyncJob]:
    """Run the schedule's check at `at`: the jobs it started for this test's tenant (the database is shared)."""
    started = await schedule_due_syncs(container, now=at)
    async with container.db.reader() as session:
        jobs = await session.scalars(select(SyncJob).where(SyncJob.id.in_(started), SyncJob.tenant_id == tenant.id))
        return list(jobs)


async def run_to_the_end(container: Container, job_id: int) -> str:
    """Plan the job and run its chunks here, as workers would; its final status."""
    await run_triggered_here(container, job_id)
    async with container.db.reader() as session:
        job = await session.scalar(select(SyncJob).where(SyncJob.id == job_id))
    assert job is not None
    return job.status


async def status_of(gql: GraphQLClient) -> tuple[str, str | None]:
    connector = (await gql(CONNECTOR, {"code": "shop"}))["connector"]
    return connector["status"], connector["statusReason"]


async def test_a_schedule_runs_every_interval_whatever_the_second_its_check_ran_at(
    shop_sync: GraphQLClient, container: Container, tenant: TenantHandle
) -> None:
    """The interval is counted from the minute the last scheduled sync started: a check that ran a quarter of a
    second earlier in its minute than the last one still finds it due, instead of leaving it a minute more."""
    await every(shop_sync, 5)
    [first] = await check(container, tenant, TICK)
    assert (first.sync_type, first.priority) == ("INCREMENTAL", 0)
    assert await run_to_the_end(container, first.id) == "COMPLETED"
    assert await check(container, tenant, TICK + timedelta(minutes=4)) == [], "the interval had not passed"
    [second] = await check(container, tenant, TICK + timedelta(minutes=5, milliseconds=-250))
    assert second.id != first.id


async def test_a_missed_check_is_made_up_once(
    shop_sync: GraphQLClient, container: Container, tenant: TenantHandle
) -> None:
    """No worker ran for hours: the first check after starts one sync, not one per interval missed."""
    await every(shop_sync, 5)
    [first] = await check(container, tenant, TICK)
    await run_to_the_end(container, first.id)
    [late] = await check(container, tenant, TICK + timedelta(hours=3))
    await run_to_the_end(container, late.id)
    assert await check(container, tenant, TICK + timedelta(hours=3, minutes=1)) == []
    assert len(await check(container, tenant, TICK + timedelta(hours=3, minutes=5))) == 1


async def test_two_workers_checking_at_once_start_one_sync(
    shop_sync: GraphQLClient, container: Container, tenant: TenantHandle
) -> None:
    """Each worker runs the cron; a check arq hands to two of them (or runs twice) starts the slot's sync once."""
    await every(shop_sync, 5)
    both = await asyncio.gather(
        check(container, tenant, TICK), check(container, tenant, TICK + timedelta(milliseconds=40))
    )
    [only] = [job for started in both for job in started]
    assert await run_to_the_end(container, only.id) == "COMPLETED"
    assert await check(container, tenant, TICK + timedelta(seconds=50)) == [], "the slot was taken"


async def test_a_sync_running_at_the_scheduled_time_delays_the_scheduled_one_until_it_ends(
    shop_sync: GraphQLClient, container: Container, tenant: TenantHandle
) -> None:
    """A one-product sync someone started just before a daily schedule came due: the scheduled sync waits for it,
    quietly and without queueing anything, then starts at the next check instead of the next day."""
    await every(shop_sync, 24 * 60)
    manual = await trigger(shop_sync, syncType="SINGLE", productSkus=[sku(1)])
    for seconds in (0, 60, 120):
        assert await check(container, tenant, TICK + timedelta(seconds=seconds)) == []
    async with container.db.reader() as session:
        events = await EventRepository(session).latest(tenant.id)
    assert [event.payload["source"] for event in events if event.kind == "sync.requested"] == ["api"]
    assert await run_to_the_end(container, parse_global_id(manual["id"])[1]) == "COMPLETED"
    [scheduled] = await check(container, tenant, TICK + timedelta(minutes=3))
    assert scheduled.sync_type == "INCREMENTAL"
    assert await check(container, tenant, TICK + timedelta(hours=23)) == [], "the day counts from that start"


async def test_a_connector_in_error_is_skipped_until_resumed(
    shop_sync: GraphQLClient, container: Container, tenant: TenantHandle
) -> None:
    """Jobs that keep failing put the connector in ERROR and the schedule leaves it alone; resumeConnector brings
    it back to the schedule with the failed jobs forgotten: one more failure then is not three in a row."""
    for _ in range(3):
        await fail_a_job(shop_sync, container)
    assert (await status_of(shop_sync))[0] == "ERROR"
    await every(shop_sync, 5)
    assert await check(container, tenant, TICK) == []
    assert (await shop_sync(RESUME))["resumeConnector"]["connector"]["status"] == "CONNECTED"
    await fail_a_job(shop_sync, container)
    assert await status_of(shop_sync) == ("CONNECTED", None)
    [resumed] = await check(container, tenant, TICK + timedelta(minutes=1))
    assert await run_to_the_end(container, resumed.id) == "COMPLETED"


async def test_a_channel_refusing_every_product_puts_the_connector_in_error_and_the_schedule_stops(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, tenant: TenantHandle
) -> None:
    """The shop turned French off and refuses every product: each scheduled sync fails as a whole, three in a row
    put the connector in ERROR with the reason, and the schedule stops sending to a channel that takes nothing."""
    await every(shop_sync, 5)
    served_shop.shop.supported_locales = ("en", "ar")
    for minutes in (0, 5, 10):
        [scheduled] = await check(container, tenant, TICK + timedelta(minutes=minutes))
        assert await run_to_the_end(container, scheduled.id) == "FAILED"
    status, reason = await status_of(shop_sync)
    assert status == "ERROR"
    assert reason == (
        f"3 sync jobs failed in a row; last: all {PRODUCTS} products failed; CHN-012 for "
        f"{PRODUCTS} of them, first: locale fr is not enabled in this store"
    )
    assert await check(container, tenant, TICK + timedelta(minutes=15)) == []


async def test_a_connector_that_maps_no_field_is_skipped_by_its_schedule_until_it_maps_one(
    shop_sync: GraphQLClient, container: Container, tenant: TenantHandle
) -> None:
    """Its mappings all taken off, a scheduled sync would send the products bare (as a triggered one is refused,
    CON-008): each check skips it and leaves the slot free, so the first check once a mapping is back starts it."""
    await every(shop_sync, 5)
    cleared = await shop_sync(SAVE_MAPPINGS, {"code": "shop", "mappings": []})
    assert cleared["saveMappings"]["userErrors"] == [] and cleared["saveMappings"]["mappings"] == []
    for minutes in (0, 5, 10):
        assert await check(container, tenant, TICK + timedelta(minutes=minutes)) == []
    restored = await shop_sync(SAVE_MAPPINGS, {"code": "shop", "mappings": MAPPINGS})
    assert restored["saveMappings"]["userErrors"] == []
    [scheduled] = await check(container, tenant, TICK + timedelta(minutes=10, seconds=30))
    assert await run_to_the_end(container, scheduled.id) == "COMPLETED"
