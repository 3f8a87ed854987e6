"""What a job leaves for the next: the connector's cursor, failed products, retries, counts, and the connector held
while a job is active. The pipeline runs in this process (run_here, or run_chunk on planned chunks): no worker takes
these tests' queue messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import event, insert, select

from app.container import Container
from app.db.base import utcnow
from app.db.models import SyncChunk, SyncJob, SyncJobError
from app.repositories.connectors import ConnectorRepository
from app.repositories.events import EventRepository
from app.services.sync import pages, planner, runner
from app.services.sync.queue import chunk_message_id, enqueue_plan
from app.services.sync.recovery import LOST_MESSAGE_AFTER, recover_orphans
from app.services.sync.runner import MAX_CHUNK_ATTEMPTS, pace_key, run_chunk
from graphql_schema.relay import parse_global_id
from tests.catalog_fixtures import DELETE_ATTRIBUTES, set_up_catalog, upsert, value
from tests.conftest import GraphQLClient, TenantHandle
from tests.connector_fixtures import CONNECTOR, SAVE_MAPPINGS, ServedShop, create_connector, served_shop
from tests.sync_fixtures import (
    CANCEL,
    JOB,
    LISTINGS,
    MAPPINGS,
    PRODUCTS,
    RETRY,
    STATUS,
    TRIGGER,
    batches,
    chair,
    fail_a_job,
    planned,
    run_here,
    sent_products,
    shop_sync,
    sku,
    trigger,
    until_a_batch_is_sent,
)

PAUSE = """mutation { pauseConnector(code: "shop", reason: "stocktaking") { connector { status } } }"""

__all__ = ["served_shop", "shop_sync"]


async def test_a_connector_that_maps_no_field_is_refused_a_sync_and_nothing_is_sent(
    gql: GraphQLClient, served_shop: ServedShop
) -> None:
    """Its products would go out with no field: each refused by the channel (title is required), or linked by SKU to
    what the shop already has and counted as synced. A first user who forgot saveMappings is told so instead."""
    await set_up_catalog(gql)
    await create_connector(gql, served_shop)
    await upsert(gql, chair(1))
    for given in ({}, {"dryRun": True}, {"syncType": "SINGLE", "productSkus": [sku(1)]}):
        payload = (await gql(TRIGGER, {"code": "shop", "input": {"syncType": "FULL", **given}}))["triggerSync"]
        assert payload["syncJob"] is None
        assert payload["userErrors"] == [
            {
                "field": ["connectorCode"],
                "message": "connector 'shop' maps no attribute to a channel field yet: save its mappings "
                "(saveMappings) first",
                "code": "CON-008",
            }
        ]
    assert (await gql("{ syncJobs { totalCount } }"))["syncJobs"]["totalCount"] == 0
    assert served_shop.shop.requests_to("POST", "/products/batch") == []
    saved = (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": MAPPINGS}))["saveMappings"]
    assert saved["userErrors"] == []
    assert (await trigger(gql))["status"] == "PENDING"


def _title(shop: ServedShop, number: int, locale: str = "en") -> Any:
    return shop.shop.products[sku(number)].locales[locale]["title"]


async def test_a_sync_limited_to_some_locales_leaves_the_others_for_the_next(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    await run_here(shop_sync, container)
    await upsert(shop_sync, *(chair(n, en=f"Oak chair {n} v2", fr=f"Chaise {n} v2") for n in (1, 2, 3)))
    french = await run_here(shop_sync, container, syncType="INCREMENTAL", locales=["fr_FR"])
    assert (french["status"], french["syncedProducts"]) == ("COMPLETED", 3)
    assert (_title(served_shop, 2, "fr"), _title(served_shop, 2)) == ("Chaise 2 v2", "Oak chair 2")
    rest = await run_here(shop_sync, container, syncType="INCREMENTAL")
    assert (rest["totalProducts"], rest["syncedProducts"]) == (3, 3), "the English edits were left behind"
    assert _title(served_shop, 2) == "Oak chair 2 v2"


async def test_products_an_incremental_sync_failed_are_taken_again_by_the_next(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """The sync that failed some of them (and so COMPLETED) moved the cursor past their revision; their listing in
    error brings them back."""
    await run_here(shop_sync, container)
    changed = (chair(2, en="Oak chair 2 v2"), chair(3, en="Oak chair 3 v2"), chair(40), chair(41), chair(42))
    await upsert(shop_sync, *changed)
    # The batch, [2, 3], [2], [3], [40, 41, 42] and [40] are refused; [41, 42] goes through.
    served_shop.shop.fail_next(6, status=400, only="POST /products/batch")
    failing = await run_here(shop_sync, container, syncType="INCREMENTAL")
    assert (failing["status"], failing["syncedProducts"], failing["failedProducts"]) == ("COMPLETED", 2, 3)
    never_created = (await shop_sync(LISTINGS, {"sku": sku(40)}))["product"]["listings"]
    assert never_created == [{"externalId": None, "status": "error", "connector": {"code": "shop"}}]

    again = await run_here(shop_sync, container, syncType="INCREMENTAL")
    assert (again["totalProducts"], again["syncedProducts"], again["failedProducts"]) == (3, 3, 0)
    assert (_title(served_shop, 2), _title(served_shop, 3), _title(served_shop, 40)) == (
        "Oak chair 2 v2",
        "Oak chair 3 v2",
        "Oak chair 40",
    )
    created = (await shop_sync(LISTINGS, {"sku": sku(40)}))["product"]["listings"]
    assert created == [
        {
            "externalId": served_shop.shop.products[sku(40)].external_id,
            "status": "synced",
            "connector": {"code": "shop"},
        }
    ]
    assert (await run_here(shop_sync, container, syncType="INCREMENTAL"))["totalProducts"] == 0


async def test_a_finished_job_counts_what_it_went_through(shop_sync: GraphQLClient, container: Container) -> None:
    """A product changed again after planning falls out of its page (the next job takes it): the planned total
    was an estimate, and the finished job's counts add up."""
    await run_here(shop_sync, container)
    await upsert(shop_sync, *(chair(n, fr=f"Chaise {n} v2") for n in (1, 2, 3)))
    global_id, _, chunks = await planned(shop_sync, container, syncType="INCREMENTAL")
    assert (await shop_sync(JOB, {"id": global_id}))["syncJob"]["totalProducts"] == 3
    await upsert(shop_sync, chair(2, fr="Chaise 2 v3"))
    for chunk in chunks:
        await run_chunk(container, chunk.id, worker="here")
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (done["status"], done["totalProducts"], done["syncedProducts"], done["progress"]) == ("COMPLETED", 2, 2, 1.0)
    assert (await run_here(shop_sync, container, syncType="INCREMENTAL"))["syncedProducts"] == 1


async def test_a_job_cut_short_shows_how_far_it_got_not_a_full_bar(
    shop_sync: GraphQLClient, container: Container
) -> None:
    """A frontend draws `progress` as a bar: a job cancelled (or failed) half way stays at half, and one cancelled
    before it started at nothing; only a COMPLETED job is at 1.0."""
    queued = await trigger(shop_sync)
    cancelled = (await shop_sync(CANCEL, {"id": queued["id"]}))["cancelSyncJob"]["syncJob"]
    assert (cancelled["status"], cancelled["syncedProducts"], cancelled["progress"]) == ("CANCELLED", 0, 0.0)
    global_id, _, [first, _second] = await planned(shop_sync, container, size=PRODUCTS // 2, count=2)
    await run_chunk(container, first.id, worker="here")
    assert (await shop_sync(CANCEL, {"id": global_id}))["cancelSyncJob"]["userErrors"] == []
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (done["status"], done["totalProducts"], done["syncedProducts"]) == ("CANCELLED", PRODUCTS, PRODUCTS // 2)
    assert done["progress"] == 0.5


async def test_a_dry_run_says_so_in_the_audit_trail_and_its_retry_is_one_too(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, tenant: TenantHandle
) -> None:
    await upsert(shop_sync, {"sku": sku(4), "values": [value("name", None, "en_US")]})
    dry = await run_here(shop_sync, container, dryRun=True)
    assert (dry["dryRun"], dry["failedProducts"]) == (True, 1)
    async with container.db.reader() as session:
        events = [event for event in await EventRepository(session).latest(tenant.id) if event.kind.startswith("sync.")]
    assert sorted(event.kind for event in events) == ["sync.completed", "sync.requested", "sync.started"]
    assert all(event.payload["dry_run"] is True for event in events), [event.payload for event in events]
    retried = (await shop_sync(RETRY, {"id": dry["id"]}))["retrySyncJob"]
    assert retried["userErrors"] == []
    assert (retried["syncJob"]["dryRun"], retried["syncJob"]["retryOf"]) == (True, dry["id"])
    assert served_shop.shop.products == {}


async def test_a_broken_mapping_alone_leaves_no_product_to_retry(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """CHN-061 is reported on every product the broken mapping touches, but fails none of them."""
    deleted = (await shop_sync(DELETE_ATTRIBUTES, {"codes": ["description"]}))["deleteAttributes"]
    assert deleted["userErrors"] == []
    done = await run_here(shop_sync, container)
    assert (done["syncedProducts"], done["failedProducts"]) == (PRODUCTS, 0)
    assert {edge["node"]["errorCode"] for edge in done["errors"]["edges"]} == {"CHN-061"}
    retried = (await shop_sync(RETRY, {"id": done["id"]}))["retrySyncJob"]
    assert [(error["code"], error["message"]) for error in retried["userErrors"]] == [
        ("CON-007", "no product failed in that job")
    ]


async def test_a_retrying_job_holds_its_connector(shop_sync: GraphQLClient, container: Container) -> None:
    """Its dead worker's chunks are queued again, and no second job may start beside it before they run."""
    global_id, job_id, chunks = await planned(shop_sync, container, size=10, count=3)
    async with container.db.transaction() as session:
        chunk = await session.scalar(select(SyncChunk).where(SyncChunk.id == chunks[0].id))
        job = await session.scalar(select(SyncJob).where(SyncJob.id == job_id))
        assert chunk is not None and job is not None
        chunk.status, chunk.lease_owner, chunk.lease_expires_at = "RUNNING", "dead", utcnow() - timedelta(seconds=1)
        job.status = "RUNNING"
    assert await recover_orphans(container) == 1
    assert (await shop_sync(JOB, {"id": global_id}))["syncJob"]["status"] == "RETRYING"
    second = (await shop_sync(TRIGGER, {"code": "shop", "input": {"syncType": "INCREMENTAL"}}))["triggerSync"]
    assert [error["code"] for error in second["userErrors"]] == ["CHN-090"]
    for chunk in chunks:
        await run_chunk(container, chunk.id, worker="next")
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (done["status"], done["syncedProducts"]) == ("COMPLETED", PRODUCTS)


async def test_a_job_whose_end_was_never_recorded_is_ended_by_recovery(
    shop_sync: GraphQLClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker died between closing the job's last chunk and ending the job: left so, the job would hold the
    connector (CHN-090) for good."""

    async def dies(*_: object) -> None:
        raise RuntimeError("the worker died here")

    global_id, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    with monkeypatch.context() as patched:
        patched.setattr("app.services.sync.runner.finish_job", dies)
        with pytest.raises(RuntimeError, match="the worker died here"):
            await run_chunk(container, chunk.id, worker="dying")
    assert (await shop_sync(JOB, {"id": global_id}))["syncJob"]["status"] == "RUNNING"
    assert await recover_orphans(container) == 1
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (done["status"], done["syncedProducts"]) == ("COMPLETED", PRODUCTS)
    assert (await run_here(shop_sync, container, syncType="INCREMENTAL"))["totalProducts"] == 0, "cursor not moved"


async def test_a_worker_taking_back_its_own_stalled_chunk_stops_the_stalled_run(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """Leases are held per run, not per worker process: the run that stalled past its lease must not record its
    page beside the one that took the chunk over, though both belong to the same worker."""
    global_id, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    served_shop.shop.slow_down(0.2)
    stalled = asyncio.create_task(run_chunk(container, chunk.id, worker="host:1234"))
    await until_a_batch_is_sent(served_shop, "the stalled run")
    async with container.db.transaction() as session:
        row = await session.scalar(select(SyncChunk).where(SyncChunk.id == chunk.id))
        assert row is not None
        row.lease_expires_at = utcnow() - timedelta(seconds=1)
    assert await recover_orphans(container) == 1
    await run_chunk(container, chunk.id, worker="host:1234")
    await asyncio.wait_for(stalled, timeout=30)  # it ends quietly: its lease was lost
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (done["status"], done["syncedProducts"], done["changes"]["totalCount"]) == ("COMPLETED", PRODUCTS, PRODUCTS)
    assert len(served_shop.shop.products) == PRODUCTS


async def test_pausing_a_connector_stops_its_running_sync_within_a_page(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chunk's pages are of 5 products: the page being sent is recorded, and no further page goes out."""
    monkeypatch.setattr(container, "settings", container.settings.model_copy(update={"sync_page_size": 5}))
    global_id, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    served_shop.shop.slow_down(0.1)
    running = asyncio.create_task(run_chunk(container, chunk.id, worker="here"))
    await until_a_batch_is_sent(served_shop, "the sync")
    assert (await shop_sync(PAUSE))["pauseConnector"]["connector"]["status"] == "PAUSED"
    await asyncio.wait_for(running, timeout=30)
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert done["status"] == "CANCELLED"
    assert 0 < done["syncedProducts"] <= 10 and len(served_shop.shop.products) == done["syncedProducts"]


async def test_a_chunk_of_many_pages_sends_every_page_and_closes_done(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each recorded page asks whether the job is to stop; a healthy job's answer must be no, page after page."""
    monkeypatch.setattr(container, "settings", container.settings.model_copy(update={"sync_page_size": 5}))
    global_id, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    await run_chunk(container, chunk.id, worker="here")
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (done["status"], done["syncedProducts"]) == ("COMPLETED", PRODUCTS)
    async with container.db.reader() as session:
        row = await session.scalar(select(SyncChunk).where(SyncChunk.id == chunk.id))
    assert row is not None and row.status == "DONE"
    assert len(served_shop.shop.products) == PRODUCTS


async def test_a_chunk_whose_run_is_up_is_queued_again_and_later_runs_finish_it(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run of a chunk is an arq job with a timeout, and a channel slowed by its rate can take longer than that
    over a chunk. Past PIMSYNC_SYNC_RUN_SECONDS a run records the page it sent and queues the chunk again at once,
    rather than being cut off mid-page on every attempt until the job gives up."""
    settings = container.settings.model_copy(update={"sync_page_size": 5, "sync_run_seconds": 0.001})
    monkeypatch.setattr(container, "settings", settings)
    global_id, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    await run_chunk(container, chunk.id, worker="here")
    async with container.db.reader() as session:
        row = await session.scalar(select(SyncChunk).where(SyncChunk.id == chunk.id))
    assert row is not None and row.enqueued_at is not None
    assert (row.status, row.lease_owner, row.attempts) == ("PENDING", None, 0), "handed back: no failed attempt"
    sent = len(served_shop.shop.products)
    assert 0 < sent < PRODUCTS and row.cursor > 0
    job = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (job["status"], job["syncedProducts"]) == ("RUNNING", sent), "what the run sent is recorded"
    queue = settings.queue_name
    assert await container.redis.zscore(queue, chunk_message_id(queue, chunk.id, row.enqueued_at)) is not None

    for _ in range(PRODUCTS):  # each later run sends at least a page before its time is up
        await run_chunk(container, chunk.id, worker="here")
        if (done := (await shop_sync(JOB, {"id": global_id}))["syncJob"])["status"] != "RUNNING":
            break
    assert (done["status"], done["syncedProducts"]) == ("COMPLETED", PRODUCTS)
    created = [product["sku"] for product in sent_products(served_shop) if product["externalId"] is None]
    assert sorted(created) == sorted(set(created)) and len(served_shop.shop.products) == PRODUCTS, "none twice"


async def test_a_connector_s_slow_pages_shrink_and_the_next_run_starts_at_the_size_they_settled_at(
    shop_sync: GraphQLClient,
    served_shop: ServedShop,
    container: Container,
    tenant: TenantHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pages of 10 that take longer than a quarter of the run's time shrink; the size they settle at is kept for
    the connector, so the next run's first page is not one of the too-slow size (which arq would cut off).

    The smaller size is read where it is kept and where the next run uses it, not among the first run's pages: the
    page after the first is loaded while the first is sent, so the first smaller one is the third, which a loaded
    machine's run (1.6 s) ended before sending."""
    settings = container.settings.model_copy(update={"sync_page_size": 10, "sync_run_seconds": 1.6})
    monkeypatch.setattr(container, "settings", settings)
    _, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    served_shop.shop.slow_down(0.2)  # three requests a page (look-up, write, read-back): 0.6 s, over 0.4 s
    await run_chunk(container, chunk.id, worker="here")
    assert len(batches(served_shop)[0]["products"]) == 10
    async with container.db.reader() as session:
        connector = await ConnectorRepository(session).by_code(tenant.id, "shop")
    assert connector is not None
    remembered = int(await container.redis.get(pace_key(connector)))
    assert 1 <= remembered < 10, "slow pages make later ones smaller"

    served_shop.shop.requests.clear()
    await run_chunk(container, chunk.id, worker="here")
    first = batches(served_shop)[0]["products"]
    assert len(first) <= remembered, "the next run starts at the size the last one learned"


async def test_a_first_page_longer_than_the_chunk_task_s_timeout_leaves_its_retry_a_page_that_fits(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connector's first run knows no pace: its first page has the configured size. A FULL sync reads every
    listed product back from the shop, and on a slow shop that page's look-ups take longer than arq lets a chunk's
    run go on: arq cuts the run off, nothing of the page is recorded, and the next run started again at the same
    page, was cut off at the same place, and so on until the job failed. The pace the page showed while it was
    read is remembered all the same, so the run that takes the chunk up again after recovery reads pages that
    fit, and the job completes after one run cut off."""
    await run_here(shop_sync, container)
    monkeypatch.setattr(pages, "LOOKUP_BATCH", 1)  # a look-up a product: the look-ups of a page of 1,000 are ten
    settings = container.settings.model_copy(update={"sync_page_size": PRODUCTS, "sync_run_seconds": 0.8})
    monkeypatch.setattr(container, "settings", settings)
    global_id, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    served_shop.shop.slow_down(0.1)  # the first page's 30 look-ups take 3 s
    served_shop.shop.requests.clear()
    # arq's, as its 600 s are to a run's 240 s; a run after the cut-off takes about 1 s, so a loaded machine has
    # 1.5 s of slack before it too is cut off
    job_timeout = 2.5
    runs, cut_off = 0, 0
    while True:
        runs += 1
        try:
            await asyncio.wait_for(run_chunk(container, chunk.id, worker="here"), timeout=job_timeout)
        except TimeoutError:  # the run gave the chunk back as it was cancelled: recovery's next pass queues it
            cut_off += 1
            await recover_orphans(container, now=utcnow() + LOST_MESSAGE_AFTER + timedelta(seconds=1))
        if (job := (await shop_sync(JOB, {"id": global_id}))["syncJob"])["status"] != "RUNNING":
            break
        assert runs < 3 * MAX_CHUNK_ATTEMPTS, f"the chunk never finished: {job}"
    assert (job["status"], job["skippedProducts"], job["failure"]) == ("COMPLETED", PRODUCTS, None)
    assert cut_off == 1, f"{cut_off} of {runs} runs were cut off: only the first one, which knew no pace, may be"
    assert batches(served_shop) == [], "the shop has every product as the PIM has it"


async def test_a_job_failing_on_one_worker_stops_its_chunks_on_the_others_within_a_page(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shop refuses the credentials once, to the second chunk's worker: the job fails, and the first chunk,
    running meanwhile in pages of 5, records the page it sent and sends no further one."""
    monkeypatch.setattr(container, "settings", container.settings.model_copy(update={"sync_page_size": 5}))
    global_id, _, [first, second] = await planned(shop_sync, container, size=PRODUCTS // 2, count=2)
    served_shop.shop.slow_down(0.1)
    running = asyncio.create_task(run_chunk(container, first.id, worker="one"))
    await until_a_batch_is_sent(served_shop, "the first chunk")
    served_shop.shop.fail_next(1, status=401, only="POST /products/batch")
    await run_chunk(container, second.id, worker="two")
    await asyncio.wait_for(running, timeout=30)
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert done["status"] == "FAILED"
    assert len(served_shop.shop.products) <= 10, "the first chunk went on sending for a failed job"


async def test_pausing_a_connector_cancels_its_queued_sync(shop_sync: GraphQLClient, container: Container) -> None:
    global_id, _, _ = await planned(shop_sync, container, size=10, count=3)
    assert (await shop_sync(PAUSE))["pauseConnector"]["connector"]["status"] == "PAUSED"
    assert (await shop_sync(JOB, {"id": global_id}))["syncJob"]["status"] == "CANCELLED"


async def test_a_sync_triggered_while_redis_is_away_is_still_the_answer_and_queued_later(
    shop_sync: GraphQLClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The job was committed before its message could be queued: the user gets it, not an error about a job that
    exists and holds the connector; the recovery sweep queues it."""

    async def unreachable(*_: object, **__: object) -> None:
        raise RedisConnectionError("Connection refused")

    with monkeypatch.context() as patched:
        patched.setattr("app.services.sync.jobs.enqueue_plan", unreachable)
        answer = (await shop_sync(TRIGGER, {"code": "shop", "input": {"syncType": "FULL"}}))["triggerSync"]
    assert answer["userErrors"] == [] and answer["syncJob"]["status"] == "PENDING"
    assert await recover_orphans(container, now=utcnow() + LOST_MESSAGE_AFTER + timedelta(seconds=1)) == 1


async def test_a_cancel_or_pause_made_while_redis_is_away_is_the_answer_not_an_error(
    shop_sync: GraphQLClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cancel is committed before its live update is published: the user is told it worked, not shown a server
    error for a job that is cancelled (a second try would then say it had already ended). Subscribers read the
    database on their next tick."""

    async def unreachable(*_: object, **__: object) -> None:
        raise RedisConnectionError("Connection refused")

    queued = await trigger(shop_sync)
    with monkeypatch.context() as patched:
        patched.setattr(container.redis, "publish", unreachable)
        cancelled = (await shop_sync(CANCEL, {"id": queued["id"]}))["cancelSyncJob"]
        assert (cancelled["userErrors"], cancelled["syncJob"]["status"]) == ([], "CANCELLED")
        paused_one = await trigger(shop_sync)
        assert (await shop_sync(PAUSE))["pauseConnector"]["connector"]["status"] == "PAUSED"
    assert (await shop_sync(JOB, {"id": paused_one["id"]}))["syncJob"]["status"] == "CANCELLED"


async def test_what_stops_a_retry_is_said_of_the_job_it_names(shop_sync: GraphQLClient, container: Container) -> None:
    """retrySyncJob takes only `id`: a paused connector or a locale no longer mapped is reported there."""
    await upsert(shop_sync, {"sku": sku(4), "values": [value("name", None, "en_US")]})
    done = await run_here(shop_sync, container)
    assert done["failedProducts"] == 1
    assert (await shop_sync(PAUSE))["pauseConnector"]["connector"]["status"] == "PAUSED"
    retried = (await shop_sync(RETRY, {"id": done["id"]}))["retrySyncJob"]
    assert [(error["field"], error["code"]) for error in retried["userErrors"]] == [(["id"], "CON-004")]


async def test_a_retry_of_more_failed_products_than_a_sync_takes_says_what_takes_them(
    shop_sync: GraphQLClient, container: Container, tenant: TenantHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A channel that refused most of a large catalog: the retry is refused with a way on (an INCREMENTAL sync
    takes every failed product again), not with a limit on SKUs the user never gave, nor with a server error
    because the failed SKUs, sent as query parameters, outgrew what the database takes (32,767 on PostgreSQL)."""
    await upsert(shop_sync, *({"sku": sku(n), "values": [value("name", None, "en_US")]} for n in (4, 5, 6)))
    done = await run_here(shop_sync, container)
    assert done["failedProducts"] == 3
    job_id = parse_global_id(done["id"])[1]
    gone = [
        {"tenant_id": tenant.id, "job_id": job_id, "product_sku": f"GONE-{n}", "error_code": "CHN-010", "message": "-"}
        for n in range(33_000)
    ]
    async with container.db.transaction() as session:
        await session.execute(insert(SyncJobError), gone)  # products deleted since: not retried, yet listed
    monkeypatch.setattr("app.services.sync.jobs.MAX_SKUS", 2)
    retried = (await shop_sync(RETRY, {"id": done["id"]}))["retrySyncJob"]
    [refused] = retried["userErrors"]
    assert (refused["field"], refused["code"], retried["syncJob"]) == (["id"], "CAT-013", None)
    assert refused["message"].startswith("3 products failed in that job"), refused["message"]
    assert "INCREMENTAL" in refused["message"], refused["message"]


async def test_a_chunk_no_worker_can_finish_fails_its_job_instead_of_going_round_for_ever(
    shop_sync: GraphQLClient, container: Container
) -> None:
    """Recovery hands on a chunk whose worker failed or died; one that every worker fails on ends its job."""
    global_id, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    async with container.db.transaction() as session:
        row = await session.scalar(select(SyncChunk).where(SyncChunk.id == chunk.id))
        assert row is not None
        row.attempts = MAX_CHUNK_ATTEMPTS
    await run_chunk(container, chunk.id, worker="next")
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert done["status"] == "FAILED" and f"taken up {MAX_CHUNK_ATTEMPTS} times" in done["failure"]
    assert (await shop_sync(TRIGGER, {"code": "shop", "input": {"syncType": "FULL"}}))["triggerSync"][
        "userErrors"
    ] == []


async def test_a_chunk_whose_every_run_is_stopped_after_a_page_still_finishes_its_job(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Workers stopped (a deploy, a crash) one after another while they run the same long chunk, each after recording
    a page: every run got somewhere, yet each claim counted as one that failed, and the eleventh failed the whole job
    ("taken up 10 times and never finished"), counting toward the connector's ERROR, on a healthy shop. A recorded
    page now starts the count afresh: it counts runs that got nowhere, as a run that hands its chunk back does.

    A stop lets the page being recorded finish (it was sent), so a slow machine's run may record two pages before its
    stop lands: one product a page keeps more than MAX_CHUNK_ATTEMPTS stops even then."""
    settings = container.settings.model_copy(update={"sync_page_size": 1})
    monkeypatch.setattr(container, "settings", settings)
    global_id, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    recorded = asyncio.Event()
    record_page = runner.record_page

    async def noted(*args: Any, **kwargs: Any) -> Any:
        done = await record_page(*args, **kwargs)
        recorded.set()
        return done

    monkeypatch.setattr(runner, "record_page", noted)
    stopped = 0
    while (await shop_sync(STATUS, {"id": global_id}))["syncJob"]["status"] in ("PENDING", "RUNNING"):
        assert stopped <= PRODUCTS, "the chunk never finished"
        recorded.clear()
        run = asyncio.create_task(run_chunk(container, chunk.id, worker=f"worker-{stopped}"))
        page = asyncio.create_task(recorded.wait())
        await asyncio.wait((run, page), return_when=asyncio.FIRST_COMPLETED)
        page.cancel()
        if not run.done():
            run.cancel()  # stopped as a deploy stops a worker, right after the run recorded a page
            stopped += 1
        with contextlib.suppress(asyncio.CancelledError):
            await run
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert stopped > MAX_CHUNK_ATTEMPTS, f"each run recorded a page and was stopped: {stopped} runs"
    assert (done["status"], done["failure"]) == ("COMPLETED", None), done
    assert done["syncedProducts"] == PRODUCTS
    assert sorted(served_shop.shop.products) == sorted(sku(n) for n in range(PRODUCTS))


async def handed_back(container: Container, chunk_id: int) -> None:
    """The chunk is PENDING again with no lease: the next worker takes it at once, not once the lease runs out."""
    async with container.db.reader() as session:
        chunk = await session.scalar(select(SyncChunk).where(SyncChunk.id == chunk_id))
    assert chunk is not None and (chunk.status, chunk.lease_owner) == ("PENDING", None)


async def test_a_worker_stopped_just_as_a_page_is_sent_stops_there(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop (a deploy's SIGTERM) landing just as a page's send ended, while the run ended its watch on the send's
    pace, was taken for the watch's own end and swallowed: the run sent the rest of its chunk, for up to
    sync_run_seconds, past arq's grace period and into a kill. It now stops there and hands the chunk back, the page
    sent before recorded, the one it had just sent left for the next run to match by SKU."""
    settings = container.settings.model_copy(update={"sync_page_size": 2})
    monkeypatch.setattr(container, "settings", settings)
    global_id, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    run: asyncio.Task[None] | None = None
    sends = 0

    async def stopped_as_the_second_send_ends(*args: Any) -> None:
        nonlocal sends
        sends += 1
        try:
            await asyncio.Event().wait()
        finally:
            if sends == 2:
                assert run is not None
                run.cancel()

    monkeypatch.setattr(runner, "_learn_while_sent", stopped_as_the_second_send_ends)
    run = asyncio.create_task(run_chunk(container, chunk.id, worker="stopping"))
    with pytest.raises(asyncio.CancelledError):
        await run
    job = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (job["status"], job["syncedProducts"]) == ("RUNNING", 2), job
    assert len(served_shop.shop.products) == 4
    await handed_back(container, chunk.id)


async def test_a_worker_stopped_just_as_redis_takes_its_claims_announcement_stops_there(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop (a deploy's SIGTERM) landing just as Redis answered the run's announcement that it took its chunk was
    swallowed by the announcement's timeout (Python 3.11's wait_for returns an answer that came with a cancellation):
    the run sent its whole chunk, past arq's grace period. It now stops there, sends nothing and hands the chunk
    back."""
    global_id, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    run: asyncio.Task[None] | None = None
    publish = container.redis.publish

    async def stopped_as_redis_answers(*args: Any, **kwargs: Any) -> Any:
        answer = await publish(*args, **kwargs)
        assert run is not None
        run.cancel()
        return answer

    monkeypatch.setattr(container.redis, "publish", stopped_as_redis_answers)
    run = asyncio.create_task(run_chunk(container, chunk.id, worker="stopping"))
    with pytest.raises(asyncio.CancelledError):
        await run
    job = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (job["status"], job["syncedProducts"]) == ("RUNNING", 0), job
    assert served_shop.shop.products == {}
    await handed_back(container, chunk.id)


async def test_a_worker_stopped_while_it_announces_its_claim_hands_the_chunk_back_at_once(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop landing while the run announced the chunk it had just taken (Redis not answered yet) left the chunk
    leased to a run that was gone: the next worker found it held and did nothing, and the chunk waited out its lease
    and the next recovery sweep. It is handed back at once, as a stop anywhere later in the run hands it back."""
    global_id, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    run: asyncio.Task[None] | None = None

    async def stopped_before_redis_answers(*args: Any, **kwargs: Any) -> Any:
        assert run is not None
        run.cancel()
        await asyncio.Event().wait()

    monkeypatch.setattr(container.redis, "publish", stopped_before_redis_answers)
    run = asyncio.create_task(run_chunk(container, chunk.id, worker="stopping"))
    with pytest.raises(asyncio.CancelledError):
        await run
    await handed_back(container, chunk.id)
    monkeypatch.undo()
    await run_chunk(container, chunk.id, worker="next")
    job = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (job["status"], job["syncedProducts"]) == ("COMPLETED", PRODUCTS), job


async def test_a_worker_stopped_as_its_claim_commits_hands_the_chunk_back_at_once(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """A stop landing as the claim's COMMIT went out: the commit landed, the chunk RUNNING under the run's lease, but
    the run was gone before the guard that hands a chunk back on a stop, so the next worker found it held and the job
    stood still until the lease ran out. The claim now ends before the stop is taken, and the chunk is handed back."""
    global_id, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    run: asyncio.Task[None] | None = None

    def stopped_as_it_commits(*args: Any) -> None:
        assert run is not None
        if not run.cancelling():
            run.cancel()

    engine = container.db.write_engine.sync_engine
    event.listen(engine, "commit", stopped_as_it_commits)  # the claim's is the run's first commit
    try:
        run = asyncio.create_task(run_chunk(container, chunk.id, worker="stopping"))
        with pytest.raises(asyncio.CancelledError):
            await run
    finally:
        event.remove(engine, "commit", stopped_as_it_commits)
    await handed_back(container, chunk.id)
    await run_chunk(container, chunk.id, worker="next")
    job = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (job["status"], job["syncedProducts"]) == ("COMPLETED", PRODUCTS), job


async def test_a_worker_stopped_as_it_ends_its_job_ends_it(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop landing once the run had closed the job's last chunk, while it ended the job: the job's end was rolled
    back, and the job showed RUNNING with every product sent until the next recovery sweep ended it. The end now
    runs to its end before the stop is taken."""
    global_id, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    run: asyncio.Task[None] | None = None
    finish_job = runner.finish_job

    async def stopped_as_it_ends_the_job(*args: Any) -> Any:
        assert run is not None
        run.cancel()
        return await finish_job(*args)

    monkeypatch.setattr(runner, "finish_job", stopped_as_it_ends_the_job)
    run = asyncio.create_task(run_chunk(container, chunk.id, worker="stopping"))
    with pytest.raises(asyncio.CancelledError):
        await run
    job = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (job["status"], job["syncedProducts"]) == ("COMPLETED", PRODUCTS), job


async def test_a_worker_stopped_after_a_helper_of_its_run_failed_still_hands_the_chunk_back(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop (a deploy's SIGTERM) landing after a helper beside the page's send had failed (the lease's heartbeat
    on a database error, the watch on the send's pace) was turned into the helper's error: the run kept the chunk
    leased to nobody and arq dropped its message as failed, instead of taking the stop. The stop stays a stop, and the
    chunk is handed back at once."""
    _, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    run: asyncio.Task[None] | None = None
    watched = asyncio.Event()

    async def failing_watch(*args: Any) -> None:
        watched.set()
        raise RuntimeError("the watch failed")

    async def stopped_while_sent(*args: Any) -> None:
        await watched.wait()
        assert run is not None
        run.cancel()
        await asyncio.Event().wait()

    monkeypatch.setattr(runner, "_learn_while_sent", failing_watch)
    monkeypatch.setattr(runner, "send_page", stopped_while_sent)
    run = asyncio.create_task(run_chunk(container, chunk.id, worker="stopping"))
    with pytest.raises(asyncio.CancelledError):
        await run
    await handed_back(container, chunk.id)
    assert served_shop.shop.products == {}


async def test_a_worker_stopped_just_after_closing_its_chunk_leaves_it_closed(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop landing once the run had closed its chunk, while it queued the job's next turn, handed the closed chunk
    "back": the release took any chunk the run's lease named, so a DONE chunk was PENDING again, to be taken up and
    gone through once more. Only a chunk still running is handed back."""
    one_turn = dataclasses.replace(container, settings=container.settings.model_copy(update={"sync_chunks_per_job": 1}))
    _, _, [first, second] = await planned(shop_sync, one_turn, size=PRODUCTS // 2, count=2)
    run: asyncio.Task[None] | None = None

    async def stopped_as_the_next_turn_is_queued(queue: Any, chunk_ids: Any, **kwargs: Any) -> None:
        if chunk_ids:  # the claim hands on no turn (the job's one is this chunk's): this is its close
            assert run is not None
            run.cancel()
            await asyncio.sleep(0)

    monkeypatch.setattr(runner, "enqueue_chunks", stopped_as_the_next_turn_is_queued)
    run = asyncio.create_task(run_chunk(one_turn, first.id, worker="stopping"))
    with pytest.raises(asyncio.CancelledError):
        await run
    async with container.db.reader() as session:
        rows = {row.id: row.status for row in await session.scalars(select(SyncChunk))}
    assert rows == {first.id: "DONE", second.id: "PENDING"}


async def run_what_is_queued(container: Container) -> None:
    """Run the chunks whose messages are in the test's queue, as workers would, until none is left."""
    queue = container.settings.queue_name
    while messages := await container.redis.zrange(queue, 0, -1):
        for message in messages:
            await container.redis.zrem(queue, message)
            kind, chunk_id = message.decode().removeprefix(f"{queue}:").split(":")[:2]
            if kind == "sync-chunk":
                await run_chunk(container, int(chunk_id), worker="next")


async def test_a_worker_stopped_as_it_queues_the_next_chunk_still_queues_it(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk that ends hands its job's turn to the next chunk, committed, and then queues that chunk's message. A
    stop (a deploy's SIGTERM) landing while Redis took the message cut it off: the next chunk held the job's turn
    with no message to bring a worker to it, and the job stood still for two minutes, until recovery took the
    message for lost. A stopped run now sends the messages it committed before it stops."""
    settings = container.settings.model_copy(update={"sync_chunks_per_job": 1})
    monkeypatch.setattr(container, "settings", settings)
    global_id, _, [first, second, _] = await planned(shop_sync, container, size=PRODUCTS // 3, count=3)
    queueing, answered = asyncio.Event(), asyncio.Event()
    enqueue_chunk = planner.enqueue_chunk

    async def slow_to_answer(queue: Any, *, chunk_id: int, **given: Any) -> None:
        if chunk_id == second.id:
            queueing.set()
            await answered.wait()
        await enqueue_chunk(queue, chunk_id=chunk_id, **given)

    monkeypatch.setattr(planner, "enqueue_chunk", slow_to_answer)
    run = asyncio.create_task(run_chunk(container, first.id, worker="stopping"))
    await queueing.wait()
    run.cancel()
    answered.set()
    with pytest.raises(asyncio.CancelledError):
        await run

    await run_what_is_queued(container)
    job = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (job["status"], job["syncedProducts"]) == ("COMPLETED", PRODUCTS), job


async def test_a_batch_whose_answer_was_lost_is_sent_again_as_updates_not_new_products(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """The shop created the products, then the answer was lost (502): the retry looks them up first and updates
    them, instead of creating each a second time (which a shop without a unique SKU would do)."""
    served_shop.shop.lose_answers_next(1)
    done = await run_here(shop_sync, container)
    assert (done["status"], done["syncedProducts"], done["failedProducts"]) == ("COMPLETED", PRODUCTS, 0)
    [lost, retried] = [request.json for request in served_shop.shop.requests_to("POST", "/products/batch")]
    assert all(product["externalId"] is None for product in lost["products"])
    assert [product["externalId"] for product in retried["products"]] == [
        served_shop.shop.products[product["sku"]].external_id for product in lost["products"]
    ]
    listing = (await shop_sync(LISTINGS, {"sku": sku(3)}))["product"]["listings"]
    assert listing[0]["externalId"] == served_shop.shop.products[sku(3)].external_id


async def test_a_sku_the_channels_look_up_cannot_carry_fails_alone(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """CUSTOM_HTTP asks for SKUs as a comma-separated list, so a SKU with a comma cannot be looked up; the other
    products of its page are looked up and sent all the same."""
    await upsert(shop_sync, {**chair(99), "sku": "CHAIR,99"})
    done = await run_here(shop_sync, container)
    assert (done["syncedProducts"], done["failedProducts"]) == (PRODUCTS, 1)
    [error] = [edge["node"] for edge in done["errors"]["edges"]]
    assert (error["productSku"], error["errorCode"]) == ("CHAIR,99", "CHN-022") and "comma" in error["message"]
    assert len(served_shop.shop.products) == PRODUCTS and "CHAIR,99" not in served_shop.shop.products


async def test_a_worker_stopping_mid_chunk_hands_it_back_at_once(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """A deploy stops workers (arq cancels their tasks): the chunk is released now, not after its lease, and the
    run that takes it over finishes the job without creating anything twice.

    The shop applies the batch the stopped run sent a second after receiving it, whether or not the run is still
    there to read the answer: the stop waits for that answer, so the run that takes over finds the products the
    batch created when it looks them up, instead of creating them again before the batch was applied."""
    global_id, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    served_shop.shop.slow_down(1.0)
    running = asyncio.create_task(run_chunk(container, chunk.id, worker="stopping"))
    await until_a_batch_is_sent(served_shop, "the run")
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    async with container.db.reader() as session:
        row = await session.scalar(select(SyncChunk).where(SyncChunk.id == chunk.id))
    assert row is not None and (row.status, row.lease_owner, row.lease_expires_at) == ("PENDING", None, None)
    served_shop.shop.slow_down(0)
    await run_chunk(container, chunk.id, worker="next")
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (done["status"], done["syncedProducts"], done["failedProducts"]) == ("COMPLETED", PRODUCTS, 0)
    assert len(served_shop.shop.products) == PRODUCTS
    creations = Counter(
        product["sku"]
        for request in served_shop.shop.requests_to("POST", "/products/batch")
        for product in (request.json or {}).get("products", [])
        if product.get("externalId") is None
    )
    assert max(creations.values()) == 1, "a product was sent to be created twice"


async def test_a_worker_stopping_while_the_next_page_loads_still_records_the_page_it_sent(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped while it loads the next page (a slow database) and records the page just sent: the page is recorded
    before the chunk is handed back, not left writing on its own after the lease is gone and its work lost."""
    from app.services.sync import runner
    from app.services.sync.pages import PageWork

    global_id, _, [chunk] = await planned(shop_sync, container, size=PRODUCTS, count=1)
    load, record = PageWork.load, runner.record_page
    recording, stopped = asyncio.Event(), asyncio.Event()
    loads = 0

    async def slow_load(*args: Any, **kwargs: Any) -> PageWork:
        """The first page loads at once, the next one not before the stop: it is still loading then."""
        nonlocal loads
        loads += 1
        if loads > 1:
            await stopped.wait()
        return await load(*args, **kwargs)

    async def slow_record(*args: Any, **kwargs: Any) -> Any:
        """Says the page was sent and is being recorded, and records it after the stop: once the stopped run is
        over, if it does not wait for the recording (the defect), else after 0.3 s."""
        recording.set()
        await stopped.wait()
        await asyncio.wait([running], timeout=0.3)
        return await record(*args, **kwargs)

    monkeypatch.setattr(PageWork, "load", slow_load)
    monkeypatch.setattr(runner, "record_page", slow_record)
    paged = dataclasses.replace(container, settings=container.settings.model_copy(update={"sync_page_size": 10}))
    running = asyncio.create_task(run_chunk(paged, chunk.id, worker="stopping"))
    await asyncio.wait_for(recording.wait(), 30)  # not a guessed delay: under load the page may still be sending
    running.cancel()
    stopped.set()
    with pytest.raises(asyncio.CancelledError):
        await running
    await asyncio.sleep(0.5)  # what a page left recording on its own would still do
    job = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert job["syncedProducts"] == 10, "the page sent before the stop was not recorded"
    await handed_back(container, chunk.id)


async def _events(
    container: Container, tenant: TenantHandle, job_id: int | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The tenant's events in the order recorded (of one job, when given): (kind, payload) each."""
    async with container.db.reader() as session:
        events = reversed(await EventRepository(session).latest(tenant.id))
    return [(event.kind, event.payload) for event in events if job_id is None or event.payload.get("job") == job_id]


async def test_jobs_failing_again_and_again_put_the_connector_in_error_and_a_success_counts_again(
    shop_sync: GraphQLClient, container: Container, tenant: TenantHandle
) -> None:
    """Two failed jobs, a good one, two failed: still CONNECTED. A third failure in a row puts the connector in
    ERROR with the reason, recorded once as connector.error with the job that did it."""
    for _ in range(2):
        await fail_a_job(shop_sync, container)
    assert (await run_here(shop_sync, container))["status"] == "COMPLETED"
    for _ in range(2):
        await fail_a_job(shop_sync, container)
    assert (await shop_sync(CONNECTOR, {"code": "shop"}))["connector"]["status"] == "CONNECTED"
    third = await fail_a_job(shop_sync, container)
    connector = (await shop_sync(CONNECTOR, {"code": "shop"}))["connector"]
    assert connector["status"] == "ERROR"
    assert connector["statusReason"].startswith("3 sync jobs failed in a row; last: a chunk of the job was taken up")
    errors = [payload for kind, payload in await _events(container, tenant) if kind == "connector.error"]
    assert errors == [{"reason": connector["statusReason"], "job": third}]
    await fail_a_job(shop_sync, container)
    assert len([kind for kind, _ in await _events(container, tenant) if kind == "connector.error"]) == 1


async def test_a_job_with_nothing_to_send_is_recorded_as_started_and_ended_once(
    shop_sync: GraphQLClient, container: Container, tenant: TenantHandle
) -> None:
    """An INCREMENTAL sync with nothing changed (a schedule's usual one) never has a chunk to take: it starts and
    ends when it is planned, and says so like any other job."""
    await run_here(shop_sync, container)
    empty = await run_here(shop_sync, container, syncType="INCREMENTAL")
    assert (empty["status"], empty["totalProducts"]) == ("COMPLETED", 0)
    assert empty["startedAt"] is not None and empty["startedAt"] <= empty["completedAt"]
    kinds = [kind for kind, _ in await _events(container, tenant, parse_global_id(empty["id"])[1])]
    assert kinds == ["sync.requested", "sync.started", "sync.completed"]


def _chunk_messages(container: Container, chunk_ids: list[int], members: list[bytes]) -> dict[int, int]:
    queue = container.settings.queue_name
    names = [member.decode() for member in members]
    return {
        chunk_id: len([name for name in names if name.startswith(f"{queue}:sync-chunk:{chunk_id}:")])
        for chunk_id in chunk_ids
    }


async def test_two_workers_starting_at_once_hand_each_dead_workers_chunk_on_once(
    shop_sync: GraphQLClient, container: Container
) -> None:
    """Both start-up passes find the killed worker's chunks: the first hands each on, the second finds them taken
    (not queued a second time, nor taken back from a worker that has just claimed one)."""
    global_id, job_id, chunks = await planned(shop_sync, container, size=10, count=3)
    chunk_ids = [chunk.id for chunk in chunks]
    await container.redis.delete(container.settings.queue_name)
    async with container.db.transaction() as session:
        for row in await session.scalars(select(SyncChunk).where(SyncChunk.job_id == job_id)):
            row.status, row.lease_owner, row.lease_expires_at = "RUNNING", "killed", utcnow() - timedelta(seconds=1)
        job = await session.scalar(select(SyncJob).where(SyncJob.id == job_id))
        assert job is not None
        job.status = "RUNNING"
    now = utcnow()
    recovered = await asyncio.gather(
        recover_orphans(container, now=now), recover_orphans(container, now=now + timedelta(milliseconds=1))
    )
    assert sum(recovered) == 3
    members = await container.redis.zrange(container.settings.queue_name, 0, -1)
    assert _chunk_messages(container, chunk_ids, members) == dict.fromkeys(chunk_ids, 1)
    for chunk_id in chunk_ids:
        await run_chunk(container, chunk_id, worker="next")
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (done["status"], done["syncedProducts"]) == ("COMPLETED", PRODUCTS)


async def test_two_workers_starting_at_once_queue_a_lost_planning_once(
    shop_sync: GraphQLClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pass that queues the job again sends its message only after it has committed: the other pass, running
    in between, must not take the job for lost once more (its new message is on its way, not missing)."""

    async def lost(*_: object, **__: object) -> None:
        raise RedisConnectionError("Connection refused")

    with monkeypatch.context() as patched:
        patched.setattr("app.services.sync.jobs.enqueue_plan", lost)
        job_id = parse_global_id((await trigger(shop_sync))["id"])[1]
    one_pass_ended = asyncio.Event()
    held: list[int] = []

    async def sent_once_the_other_pass_ends(queue: Any, **message: Any) -> None:
        if not held:
            held.append(message["job_id"])
            await one_pass_ended.wait()
        await enqueue_plan(queue, **message)

    async def recovery_pass(now: datetime) -> int:
        try:
            return await recover_orphans(container, now=now)
        finally:
            one_pass_ended.set()

    later = utcnow() + LOST_MESSAGE_AFTER + timedelta(seconds=1)
    with monkeypatch.context() as patched:
        patched.setattr("app.services.sync.recovery.enqueue_plan", sent_once_the_other_pass_ends)
        recovered = await asyncio.wait_for(
            asyncio.gather(recovery_pass(later), recovery_pass(later + timedelta(milliseconds=1))), timeout=30
        )
    assert sorted(recovered) == [0, 1]
    members = [member.decode() for member in await container.redis.zrange(container.settings.queue_name, 0, -1)]
    assert len([name for name in members if f":sync-plan:{job_id}:" in name]) == 1
