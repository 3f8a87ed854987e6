"""Sync jobs end to end: GraphQL API, a real `pimsync worker` process, real Redis, the reference shop over HTTP."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from arq.constants import in_progress_key_prefix, job_key_prefix
from arq.utils import to_unix_ms
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli.main import app as pimsync
from app.container import Container
from app.db.base import utcnow
from app.db.models import Listing, SyncChunk, SyncJob
from app.repositories.connectors import ConnectorRepository
from app.services.sync.planner import plan_job
from app.services.sync.recovery import LEASE_GRACE, LOST_MESSAGE_AFTER, recover_at_startup, recover_orphans
from app.services.sync.runner import run_chunk
from app.settings import Settings
from graphql_schema.relay import parse_global_id
from tests.catalog_fixtures import DELETE_PRODUCTS, set_up_catalog, upsert, value
from tests.conftest import GraphQLClient, QueryCounter, TenantHandle, until_a_writer_waits
from tests.connector_fixtures import (
    CONNECTOR,
    SAVE_MAPPINGS,
    UPDATE_CONNECTOR,
    ServedShop,
    create_connector,
    served_shop,
)
from tests.sync_fixtures import (
    CANCEL,
    JOB,
    RETRY,
    TRIGGER,
    WorkerProcess,
    running_worker,
    trigger,
    wait_for_job,
    worker,
    worker_env,
)

__all__ = ["served_shop", "worker"]

PRODUCTS = 30
MAPPINGS = [
    {"attributeCode": "name", "channelField": "title", "direction": "EXPORT"},
    {"attributeCode": "description", "channelField": "description", "direction": "EXPORT", "whenEmpty": "SKIP"},
    {"attributeCode": "price", "channelField": "price", "direction": "EXPORT"},
]
LISTINGS = """query($sku: String!) { product(sku: $sku) { listings { externalId status connector { code } } } }"""


def sku(number: int) -> str:
    return f"CHAIR-{number:03d}"


def chair(number: int, **names: str) -> dict[str, Any]:
    return {
        "sku": sku(number),
        "values": [
            value("name", names.get("en", f"Oak chair {number}"), "en_US"),
            value("name", names.get("ar", f"كرسي بلوط {number}"), "ar_AE"),
            value("name", names.get("fr", f"Chaise en chêne {number}"), "fr_FR"),
            value("price", {"EUR": f"{100 + number}.50"}),
        ],
    }


@pytest.fixture
async def shop_sync(gql: GraphQLClient, served_shop: ServedShop) -> GraphQLClient:
    """A catalog of 30 chairs in three locales, a CUSTOM_HTTP connector to the shop, its mappings.

    The connector allows 100 requests/s: the channel type's 5/s would make most of a test's time waiting for
    the bucket. The rate limit has tests of its own."""
    await set_up_catalog(gql)
    await create_connector(gql, served_shop, requestsPerSecond=100)
    for start in range(0, PRODUCTS, 10):
        await upsert(gql, *(chair(n) for n in range(start, start + 10)))
    saved = (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": MAPPINGS}))["saveMappings"]
    assert saved["userErrors"] == []
    return gql


def batches(shop: ServedShop) -> list[dict[str, Any]]:
    return [request.json for request in shop.shop.requests_to("POST", "/products/batch") if request.status == 200]


def sent_products(shop: ServedShop) -> list[dict[str, Any]]:
    return [product for body in batches(shop) for product in body["products"]]


async def test_a_full_sync_puts_every_product_on_the_channel(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    job = await trigger(shop_sync)
    assert job["status"] == "PENDING" and job["totalProducts"] == PRODUCTS and job["queuePosition"] >= 1
    done = await wait_for_job(shop_sync, job["id"], worker=worker)
    assert (done["status"], done["syncedProducts"], done["failedProducts"]) == ("COMPLETED", PRODUCTS, 0)
    assert done["progress"] == 1.0
    shop = served_shop.shop
    assert len(shop.products) == PRODUCTS
    stored = shop.products[sku(7)]
    assert stored.locales["ar"]["title"] == "كرسي بلوط 7"
    assert stored.locales["fr"]["title"] == "Chaise en chêne 7"
    assert stored.fields["price"] == "107.50"
    listing = (await shop_sync(LISTINGS, {"sku": sku(7)}))["product"]["listings"]
    assert listing == [{"externalId": stored.external_id, "status": "synced", "connector": {"code": "shop"}}]
    assert done["changes"]["totalCount"] == PRODUCTS
    assert {edge["node"]["action"] for edge in done["changes"]["edges"]} == {"CREATE"}
    created = next(edge["node"] for edge in done["changes"]["edges"] if edge["node"]["productSku"] == sku(7))
    assert {"field": "title", "channelLocale": "ar", "before": None, "after": "كرسي بلوط 7", "held": False} in created[
        "fields"
    ]
    assert {"field": "price", "channelLocale": None, "before": None, "after": "107.50", "held": False} in created[
        "fields"
    ]
    log = worker.log_path.read_text(errors="replace")
    assert "worker.ready" in log
    assert "HTTP Request" not in log, "httpx's per-request INFO lines (full URLs with SKU queries) reach the log"


async def test_incremental_sends_only_what_changed(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    await wait_for_job(shop_sync, (await trigger(shop_sync))["id"], worker=worker)
    served_shop.shop.requests.clear()
    await upsert(shop_sync, chair(3, fr="Chaise de salon 3"), chair(11, fr="Chaise haute 11"))
    job = await trigger(shop_sync, syncType="INCREMENTAL")
    done = await wait_for_job(shop_sync, job["id"], worker=worker)
    assert (done["totalProducts"], done["syncedProducts"], done["skippedProducts"]) == (2, 2, 0)
    sent = sent_products(served_shop)
    assert sorted(product["sku"] for product in sent) == [sku(3), sku(11)]
    assert all(set(product["locales"]) == {"fr"} and product["fields"] == {} for product in sent), sent
    assert served_shop.shop.products[sku(3)].locales["fr"]["title"] == "Chaise de salon 3"
    change = next(edge["node"] for edge in done["changes"]["edges"] if edge["node"]["productSku"] == sku(3))
    assert change["fields"] == [
        {
            "field": "title",
            "channelLocale": "fr",
            "before": "Chaise en chêne 3",
            "after": "Chaise de salon 3",
            "held": False,
        }
    ]
    served_shop.shop.requests.clear()
    nothing = await wait_for_job(shop_sync, (await trigger(shop_sync, syncType="INCREMENTAL"))["id"], worker=worker)
    assert (nothing["status"], nothing["totalProducts"]) == ("COMPLETED", 0)
    assert batches(served_shop) == []


@pytest.mark.parametrize("sync_type", ["FULL", "INCREMENTAL"])
async def test_products_deleted_or_disabled_in_the_pim_are_taken_off_the_channel(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess, sync_type: str
) -> None:
    """Whichever sync comes next: a FULL one must not step over them (it moves the cursor past their change)."""
    await wait_for_job(shop_sync, (await trigger(shop_sync))["id"], worker=worker)
    shop = served_shop.shop
    gone = {f"/products/{shop.products[sku(number)].external_id}" for number in (4, 9)}
    assert (await shop_sync(DELETE_PRODUCTS, {"skus": [sku(4)]}))["deleteProducts"]["userErrors"] == []
    assert (await upsert(shop_sync, {**chair(9), "enabled": False}))["userErrors"] == []
    shop.requests.clear()
    done = await wait_for_job(shop_sync, (await trigger(shop_sync, syncType=sync_type))["id"], worker=worker)
    assert (done["status"], done["failedProducts"]) == ("COMPLETED", 0), done["errors"]
    assert sku(4) not in shop.products and sku(9) not in shop.products
    assert len(shop.products) == PRODUCTS - 2
    assert {request.path for request in shop.requests if request.method == "DELETE"} == gone
    removed = {edge["node"]["productSku"] for edge in done["changes"]["edges"] if edge["node"]["action"] == "DELETE"}
    assert removed == {sku(4), sku(9)}
    [listing] = (await shop_sync(LISTINGS, {"sku": sku(9)}))["product"]["listings"]
    assert listing["externalId"] is None and listing["status"] == "never"

    shop.requests.clear()
    again = await wait_for_job(shop_sync, (await trigger(shop_sync))["id"], worker=worker)
    assert again["status"] == "COMPLETED" and [r for r in shop.requests if r.method == "DELETE"] == []
    assert len(shop.products) == PRODUCTS - 2


LOCALE_STATUS = """query { connector(code: "shop") {
  lastSyncedAt lastJob { id status } localeSyncStatus { pimLocale channelLocale status lastSyncedAt }
} }"""


async def locale_status(gql: GraphQLClient) -> dict[str, str]:
    return {row["channelLocale"]: row["status"] for row in (await gql(LOCALE_STATUS))["connector"]["localeSyncStatus"]}


async def test_each_mapped_locale_shows_whether_its_last_sync_went_through(
    shop_sync: GraphQLClient, worker: WorkerProcess
) -> None:
    """A product with no French title fails in fr only: a catalog manager sees which locale needs work."""
    connector = (await shop_sync(LOCALE_STATUS))["connector"]
    assert (connector["lastJob"], connector["lastSyncedAt"]) == (None, None)
    assert await locale_status(shop_sync) == {"en": "never", "ar": "never", "fr": "never"}
    untitled = chair(2)
    untitled["values"] = [row for row in untitled["values"] if row["locale"] != "fr_FR"]
    await upsert(shop_sync, {**untitled, "sku": "UNTITLED-FR"})
    done = await wait_for_job(shop_sync, (await trigger(shop_sync))["id"], worker=worker)
    assert done["failedProducts"] == 1, done["errors"]
    connector = (await shop_sync(LOCALE_STATUS))["connector"]
    assert connector["lastJob"] == {"id": done["id"], "status": "COMPLETED"}
    assert await locale_status(shop_sync) == {"en": "synced", "ar": "synced", "fr": "error"}
    assert {row["lastSyncedAt"] for row in connector["localeSyncStatus"]} == {connector["lastSyncedAt"]}
    assert connector["lastSyncedAt"] is not None


async def test_a_queued_sync_shows_its_locales_as_pending(shop_sync: GraphQLClient) -> None:
    """No worker runs here: the job waits, and so does every locale it covers."""
    job = await trigger(shop_sync)
    assert (await shop_sync(LOCALE_STATUS))["connector"]["lastJob"] == {"id": job["id"], "status": "PENDING"}
    assert await locale_status(shop_sync) == {"en": "pending", "ar": "pending", "fr": "pending"}


async def test_a_dry_run_records_changes_and_sends_nothing(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    served_shop.shop.seed(sku(1), fields={"price": "1.00"}, locales={"en": {"title": "Old title"}})
    job = await trigger(shop_sync, dryRun=True)
    assert job["dryRun"] is True
    done = await wait_for_job(shop_sync, job["id"], worker=worker)
    assert done["status"] == "COMPLETED"
    assert batches(served_shop) == [], "a dry run sent products"
    actions = {edge["node"]["productSku"]: edge["node"] for edge in done["changes"]["edges"]}
    assert actions[sku(2)]["action"] == "CREATE"
    assert actions[sku(1)]["action"] == "UPDATE"
    assert {
        "field": "title",
        "channelLocale": "en",
        "before": "Old title",
        "after": "Oak chair 1",
        "held": False,
    } in actions[sku(1)]["fields"]
    assert {"field": "price", "channelLocale": None, "before": "1.00", "after": "101.50", "held": False} in actions[
        sku(1)
    ]["fields"]
    listing = (await shop_sync(LISTINGS, {"sku": sku(2)}))["product"]["listings"]
    assert listing == [], "a dry run bound a product"


async def test_a_product_the_channel_already_has_is_linked_not_duplicated(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    existing = served_shop.shop.seed(sku(5), fields={"barcode": "kept"}, locales={"en": {"title": "Made in the shop"}})
    done = await wait_for_job(shop_sync, (await trigger(shop_sync))["id"], worker=worker)
    assert done["failedProducts"] == 0
    assert len(served_shop.shop.products) == PRODUCTS
    assert served_shop.shop.products[sku(5)].external_id == existing.external_id
    assert served_shop.shop.products[sku(5)].fields["barcode"] == "kept", "an unmapped field was overwritten"
    sent = [product for product in sent_products(served_shop) if product["sku"] == sku(5)]
    assert [product["externalId"] for product in sent] == [existing.external_id]


async def test_one_active_job_per_connector(shop_sync: GraphQLClient) -> None:
    first = await trigger(shop_sync)
    again = (await shop_sync(TRIGGER, {"code": "shop", "input": {"syncType": "INCREMENTAL"}}))["triggerSync"]
    assert [error["code"] for error in again["userErrors"]] == ["CHN-090"]
    cancelled = (await shop_sync(CANCEL, {"id": first["id"]}))["cancelSyncJob"]
    assert cancelled["syncJob"]["status"] == "CANCELLED"
    assert (await trigger(shop_sync))["status"] == "PENDING"


async def test_bad_requests_are_user_errors(shop_sync: GraphQLClient) -> None:
    single = (await shop_sync(TRIGGER, {"code": "shop", "input": {"syncType": "SINGLE"}}))["triggerSync"]
    assert [error["code"] for error in single["userErrors"]] == ["CAT-015"]
    unknown = (await shop_sync(TRIGGER, {"code": "shop", "input": {"syncType": "SINGLE", "productSkus": ["NOPE"]}}))[
        "triggerSync"
    ]
    assert [(error["field"], error["code"]) for error in unknown["userErrors"]] == [
        (["input", "productSkus", "0"], "CAT-012")
    ]
    locale = (await shop_sync(TRIGGER, {"code": "shop", "input": {"syncType": "FULL", "locales": ["de_DE"]}}))[
        "triggerSync"
    ]
    assert [error["code"] for error in locale["userErrors"]] == ["CHN-012"]
    missing = (await shop_sync(RETRY, {"id": "U3luY0pvYjo5OTk5OTk="}))["retrySyncJob"]
    assert [error["code"] for error in missing["userErrors"]] == ["CHN-091"]
    for malformed in ("not-a-job-id", "Q29ubmVjdG9yOjE="):  # not base64 of anything; a Connector's id
        retried = (await shop_sync(RETRY, {"id": malformed}))["retrySyncJob"]
        assert (retried["syncJob"], [error["code"] for error in retried["userErrors"]]) == (None, ["CHN-091"])
        cancelled = (await shop_sync(CANCEL, {"id": malformed}))["cancelSyncJob"]
        assert [(error["field"], error["code"]) for error in cancelled["userErrors"]] == [(["id"], "CON-005")]
    unfinished = await trigger(shop_sync)
    too_soon = (await shop_sync(RETRY, {"id": unfinished["id"]}))["retrySyncJob"]
    assert [error["code"] for error in too_soon["userErrors"]] == ["CHN-090"]
    assert (await shop_sync(CANCEL, {"id": unfinished["id"]}))["cancelSyncJob"]["syncJob"]["status"] == "CANCELLED"
    again = (await shop_sync(CANCEL, {"id": unfinished["id"]}))["cancelSyncJob"]
    assert [error["code"] for error in again["userErrors"]] == ["CON-006"]
    nothing_failed = (await shop_sync(RETRY, {"id": unfinished["id"]}))["retrySyncJob"]
    assert [error["code"] for error in nothing_failed["userErrors"]] == ["CON-007"]


async def test_cancel_stops_a_running_job_within_seconds(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    for start in range(PRODUCTS, 1000, 250):
        await upsert(shop_sync, *(chair(n) for n in range(start, min(start + 250, 1000))))
    served_shop.shop.slow_down(0.4)
    job = await trigger(shop_sync, syncType="FULL")
    await wait_for_job(shop_sync, job["id"], worker=worker, until={"RUNNING"})
    cancelled = (await shop_sync(CANCEL, {"id": job["id"]}))["cancelSyncJob"]
    assert cancelled["userErrors"] == []
    done = await wait_for_job(shop_sync, job["id"], worker=worker, within=15)
    assert done["status"] == "CANCELLED"
    assert done["syncedProducts"] < 1000, "the whole job ran despite the cancel"


async def test_failed_products_can_be_retried_alone(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    await upsert(shop_sync, {"sku": sku(4), "values": [value("name", None, "en_US")]})
    done = await wait_for_job(shop_sync, (await trigger(shop_sync))["id"], worker=worker)
    assert (done["syncedProducts"], done["failedProducts"]) == (PRODUCTS - 1, 1)
    errors = [edge["node"] for edge in done["errors"]["edges"]]
    assert errors == [{"productSku": sku(4), "locale": "en", "errorCode": "CHN-010", "message": errors[0]["message"]}]
    await upsert(shop_sync, chair(4))
    retried = (await shop_sync(RETRY, {"id": done["id"]}))["retrySyncJob"]
    assert retried["userErrors"] == []
    assert retried["syncJob"]["retryOf"] == done["id"] and retried["syncJob"]["totalProducts"] == 1
    again = await wait_for_job(shop_sync, retried["syncJob"]["id"], worker=worker)
    assert (again["syncedProducts"], again["failedProducts"]) == (1, 0)
    assert served_shop.shop.products[sku(4)].locales["en"]["title"] == "Oak chair 4"


async def test_429_storms_and_503s_lose_nothing(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    served_shop.shop.rate_limit_next(4, retry_after="1")
    served_shop.shop.fail_next(3, status=503)
    done = await wait_for_job(shop_sync, (await trigger(shop_sync))["id"], worker=worker, within=90)
    assert (done["status"], done["syncedProducts"], done["failedProducts"]) == ("COMPLETED", PRODUCTS, 0)
    assert len(served_shop.shop.products) == PRODUCTS


async def test_rejected_credentials_fail_the_job_and_pause_the_connector(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    served_shop.shop.signing_secret = "the-shop-rotated-its-secret"
    done = await wait_for_job(shop_sync, (await trigger(shop_sync))["id"], worker=worker)
    assert done["status"] == "FAILED" and "CHN-003" in done["failure"]
    connector = (await shop_sync(CONNECTOR, {"code": "shop"}))["connector"]
    assert connector["status"] == "ERROR" and "CHN-003" in connector["statusReason"]


async def test_pages_sent_before_the_credentials_were_rejected_stay_recorded(
    shop_sync: GraphQLClient, served_shop: ServedShop, settings: Settings, tmp_path: Path
) -> None:
    await upsert(shop_sync, *(chair(n) for n in range(PRODUCTS, 250)))
    served_shop.shop.rotate_secret_after(3, "rotated")  # the first page's lookup, batch and read-back
    single = {"PIMSYNC_SYNC_CHUNK_SIZE": "500", "PIMSYNC_SYNC_PAGE_SIZE": "100"}  # one chunk: pages in order
    with running_worker(settings, tmp_path / "worker.log", **single) as worker:
        done = await wait_for_job(shop_sync, (await trigger(shop_sync))["id"], worker=worker)
    assert done["status"] == "FAILED" and "CHN-003" in done["failure"]
    assert done["syncedProducts"] == 100 and len(served_shop.shop.products) == 100
    first = served_shop.shop.products[sku(1)]
    listing = (await shop_sync(LISTINGS, {"sku": sku(1)}))["product"]["listings"]
    assert listing == [{"externalId": first.external_id, "status": "synced", "connector": {"code": "shop"}}]
    assert done["changes"]["totalCount"] == 100


async def test_a_killed_worker_is_replaced_and_nothing_is_created_twice(
    shop_sync: GraphQLClient, served_shop: ServedShop, settings: Settings, tmp_path: Path
) -> None:
    await upsert(shop_sync, *(chair(n) for n in range(PRODUCTS, PRODUCTS + 270)))
    served_shop.shop.slow_down(0.3)
    job = await trigger(shop_sync)
    with running_worker(settings, tmp_path / "first.log") as first:
        running = await wait_for_job(shop_sync, job["id"], worker=first, until={"RUNNING"})
        while running["syncedProducts"] == 0:
            await asyncio.sleep(0.1)
            running = (await shop_sync(JOB, {"id": job["id"]}))["syncJob"]
        first.kill()
    served_shop.shop.slow_down(0)
    with running_worker(settings, tmp_path / "second.log") as second:
        done = await wait_for_job(shop_sync, job["id"], worker=second, within=60)
    assert (done["status"], done["syncedProducts"], done["failedProducts"]) == ("COMPLETED", 300, 0)
    assert len(served_shop.shop.products) == 300
    creates: dict[str, int] = {}
    for product in sent_products(served_shop):
        if product["externalId"] is None:
            creates[product["sku"]] = creates.get(product["sku"], 0) + 1
    assert max(creates.values()) == 1, "a product was created twice"


async def queued_messages(container: Container, prefix: str, since: datetime) -> list[str]:
    """The ids of the messages in the sync queue that start with `prefix`, stamped `since` or later (ids are
    reused on SQLite, and earlier tests' messages stay in the session's queue)."""
    members = [member.decode() for member in await container.redis.zrange(container.settings.queue_name, 0, -1)]
    return [
        member
        for member in members
        if member.startswith(prefix) and int(member.rpartition(":")[2]) >= since.timestamp() * 1000 - 1
    ]


async def lose(container: Container, message_id: str) -> None:
    """What a Redis that lost the message (a restart without persistence, a failover) leaves."""
    await container.redis.zrem(container.settings.queue_name, message_id)
    await container.redis.delete(job_key_prefix + message_id)


async def test_a_lost_planning_message_is_queued_again_but_a_waiting_one_is_not_copied(
    shop_sync: GraphQLClient, container: Container
) -> None:
    since = utcnow()
    job_id = parse_global_id((await trigger(shop_sync))["id"])[1]
    prefix = f"sync-plan:{job_id}:"
    later = utcnow() + LOST_MESSAGE_AFTER + timedelta(seconds=1)
    [first] = await queued_messages(container, prefix, since)
    await recover_orphans(container, now=later)
    await recover_orphans(container, now=later + LOST_MESSAGE_AFTER)
    assert await queued_messages(container, prefix, since) == [first], "all workers busy is not a lost message"

    await lose(container, first)
    await recover_orphans(container, now=later)
    [second] = await queued_messages(container, prefix, since)
    assert second != first
    await recover_orphans(container, now=later + LOST_MESSAGE_AFTER)
    assert await queued_messages(container, prefix, since) == [second], "the new message is the one recovery waits for"

    await container.redis.set(
        in_progress_key_prefix + second, b"1", px=60_000
    )  # taken by a worker that died before planning
    await recover_orphans(container, now=later + LOST_MESSAGE_AFTER)
    assert len(await queued_messages(container, prefix, since)) == 2
    async with container.db.reader() as session:
        job = await session.scalar(select(SyncJob).where(SyncJob.id == job_id))
    assert job is not None and job.status == "PENDING" and job.enqueued_at == later + LOST_MESSAGE_AFTER


async def test_a_lost_chunk_message_is_queued_again_but_waiting_ones_are_not_copied(
    shop_sync: GraphQLClient, container: Container
) -> None:
    since = utcnow()
    _, _, chunks = await _planned(shop_sync, container, size=10, count=3)
    chunk_ids = [chunk.id for chunk in chunks]

    async def messages() -> dict[int, list[str]]:
        return {chunk_id: await queued_messages(container, f"sync-chunk:{chunk_id}:", since) for chunk_id in chunk_ids}

    first = await messages()
    assert all(len(found) == 1 for found in first.values()), first
    later = utcnow() + LOST_MESSAGE_AFTER + timedelta(seconds=1)
    await recover_orphans(container, now=later)
    assert await messages() == first, "all workers busy is not a lost message"

    lost = chunk_ids[1]
    await lose(container, first[lost][0])
    await recover_orphans(container, now=later)
    second = await messages()
    assert len(second[lost]) == 1 and second[lost] != first[lost]
    assert {chunk_id: found for chunk_id, found in second.items() if chunk_id != lost} == {
        chunk_id: found for chunk_id, found in first.items() if chunk_id != lost
    }


async def test_a_starting_worker_comes_back_for_chunks_still_leased_when_it_started(
    shop_sync: GraphQLClient, container: Container
) -> None:
    """A worker restarted in place of a killed one finds the dead worker's leases still live: it queues one more
    recovery pass for when the last of them runs out, rather than leaving the chunks to the next periodic sweep."""
    since = utcnow()
    _, _, [planned] = await _planned(shop_sync, container, size=PRODUCTS, count=1)
    lease_end = utcnow() + timedelta(seconds=3)
    async with container.db.transaction() as session:
        chunk = await session.scalar(select(SyncChunk).where(SyncChunk.id == planned.id))
        assert chunk is not None
        chunk.status, chunk.lease_owner, chunk.lease_expires_at = "RUNNING", "killed", lease_end
    assert await recover_at_startup(container) == 0, "a live lease is not taken at start-up"

    [message] = await queued_messages(container, "sync-recovery:", since)
    due = lease_end + LEASE_GRACE
    assert message == f"sync-recovery:{int(due.timestamp() * 1000)}"
    assert await container.redis.zscore(container.settings.queue_name, message) == to_unix_ms(due), "run then"
    assert await recover_orphans(container, now=due) == 1, "by then the chunk is the pass's to hand on"


async def test_a_worker_whose_lease_was_taken_over_records_nothing(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """A worker presumed dead (its lease ran out and recovery handed its chunk on) may still be sending a page
    when it wakes up: the page it sent must not be recorded over what the new holder records."""
    global_id, job_id, [planned] = await _planned(shop_sync, container, size=PRODUCTS, count=1)
    chunk_id, start = planned.id, planned.cursor
    served_shop.shop.slow_down(0.2)
    running = asyncio.create_task(run_chunk(container, chunk_id, worker="presumed-dead"))
    deadline = time.monotonic() + 10
    while not served_shop.shop.requests_to("POST", "/products/batch"):
        assert time.monotonic() < deadline, "the worker never sent its first page"
        await asyncio.sleep(0.02)
    async with container.db.transaction() as session:
        chunk = await session.scalar(select(SyncChunk).where(SyncChunk.id == chunk_id))
        assert chunk is not None and chunk.cursor == start
        chunk.lease_owner = "new-holder"
    await asyncio.wait_for(running, timeout=30)

    async with container.db.reader() as session:
        chunk = await session.scalar(select(SyncChunk).where(SyncChunk.id == chunk_id))
        job = await session.scalar(select(SyncJob).where(SyncJob.id == job_id))
    assert chunk is not None and (chunk.cursor, chunk.status, chunk.lease_owner) == (start, "RUNNING", "new-holder")
    assert job is not None and (job.synced_products, job.failed_products, job.skipped_products) == (0, 0, 0)
    recorded = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert recorded["changes"]["totalCount"] == 0
    listing = (await shop_sync(LISTINGS, {"sku": sku(0)}))["product"]["listings"]
    assert listing == [], "the page of a worker that lost its lease was recorded"


@pytest.mark.parametrize("moment", ["recording a page", "ending the job"])
async def test_deleting_a_connector_while_a_worker_writes_waits_for_it_instead_of_deadlocking(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, tenant: TenantHandle, moment: str
) -> None:
    """Deleting a connector locks its row and then, by cascade, its jobs', chunks' and listings' rows. A worker
    recording a page used to lock its chunk and listings first and the connector row (for the foreign keys of what
    it inserts) last: in those two orders PostgreSQL found a deadlock and aborted one side, a user's delete or the
    worker's page. The worker now takes the connector row first, so it waits for the delete and finds its chunk
    gone. SQLite runs one writer at a time, so there the worker simply waits."""
    _, job_id, [planned] = await _planned(shop_sync, container, size=PRODUCTS, count=1)
    recording = moment == "recording a page"
    served_shop.shop.slow_down(0.3 if recording else 0)  # the page is still on its way when the delete begins
    running = asyncio.create_task(run_chunk(container, planned.id, worker="recording"))
    deadline = time.monotonic() + 10
    while not [r for r in served_shop.shop.requests_to("POST", "/products/batch") if recording or r.status]:
        assert time.monotonic() < deadline and not running.done(), "the worker never sent its page"
        await asyncio.sleep(0.01)
    async with container.db.transaction() as session:
        connectors = ConnectorRepository(session)
        connector = await connectors.by_code(tenant.id, "shop", for_update=True)
        assert connector is not None
        await until_a_writer_waits(container.db)
        await connectors.delete(connector)
    await asyncio.wait_for(running, timeout=30)  # the worker's page ends quietly: nothing of its job is left

    async with container.db.reader() as session:
        assert await session.scalar(select(SyncJob).where(SyncJob.id == job_id)) is None
        assert list(await session.scalars(select(Listing).where(Listing.connector_id == connector.id))) == []


async def test_a_page_slower_than_the_lease_keeps_its_chunk(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """A throttled channel can hold one page longer than the lease (4 s here): the running worker renews it,
    so recovery, running meanwhile, does not hand the chunk to another worker and the page is recorded."""
    global_id, _, [planned] = await _planned(shop_sync, container, size=PRODUCTS, count=1)
    chunk_id = planned.id
    served_shop.shop.slow_down(1.6)  # look-up, write, read-back: about 5 s for the chunk's one page
    running = asyncio.create_task(run_chunk(container, chunk_id, worker="slow-but-alive"))
    recovered = 0
    while not running.done():
        recovered += await recover_orphans(container)
        await asyncio.sleep(0.5)
    await running

    async with container.db.reader() as session:
        chunk = await session.scalar(select(SyncChunk).where(SyncChunk.id == chunk_id))
    assert recovered == 0, "the chunk of a live worker was handed on"
    assert chunk is not None and (chunk.status, chunk.attempts) == ("DONE", 1)
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (done["status"], done["syncedProducts"]) == ("COMPLETED", PRODUCTS)


async def test_priorities_order_the_queue(shop_sync: GraphQLClient, served_shop: ServedShop) -> None:
    low = await trigger(shop_sync, priority="LOW")
    assert low["queuePosition"] >= 1
    job = (await shop_sync(JOB, {"id": low["id"]}))["syncJob"]
    assert job["priority"] == "LOW" and job["status"] == "PENDING"


async def test_scheduled_syncs_skip_connectors_in_error(shop_sync: GraphQLClient, container: Any) -> None:
    from app.services.sync.recovery import schedule_due_syncs

    changed = await shop_sync(UPDATE_CONNECTOR, {"code": "shop", "input": {"settings": {"syncIntervalMinutes": 5}}})
    assert changed["updateConnector"]["userErrors"] == []
    started = await schedule_due_syncs(container)
    assert len(started) >= 1
    jobs = (await shop_sync(CONNECTOR, {"code": "shop"}))["connector"]
    assert jobs["status"] == "CONNECTED"
    again = await schedule_due_syncs(container)
    mine = [job_id for job_id in again if job_id in started]
    assert mine == [], "the interval had not passed"


async def test_the_cli_starts_a_sync_and_follows_it_to_the_end(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess, settings: Settings, tenant: TenantHandle
) -> None:
    env = worker_env(settings)
    result = await asyncio.to_thread(
        CliRunner().invoke, pimsync, ["sync", "shop", "--tenant", tenant.code, "--type", "FULL"], env=env
    )
    assert result.exit_code == 0, result.output
    assert f"COMPLETED: {PRODUCTS} synced, 0 unchanged, 0 failed of {PRODUCTS}" in result.output
    assert len(served_shop.shop.products) == PRODUCTS
    again = await asyncio.to_thread(
        CliRunner().invoke, pimsync, ["sync", "shop", "--tenant", tenant.code, "--type", "INCREMENTAL"], env=env
    )
    assert again.exit_code == 0 and "COMPLETED: 0 synced, 0 unchanged, 0 failed of 0" in again.output


async def test_what_happened_is_recorded_as_events(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess, db: Any, tenant: TenantHandle
) -> None:
    from app.repositories.events import EventRepository

    await wait_for_job(shop_sync, (await trigger(shop_sync))["id"], worker=worker)
    async with db.reader() as session:
        events = list(reversed(await EventRepository(session).latest(tenant.id)))
    kinds = [event.kind for event in events]
    assert kinds[:2] == ["connector.created", "connector.connected"]
    assert kinds[2:4] == ["sync.requested", "sync.started"]
    assert kinds[-1] == "sync.completed"
    exported = [event.payload["count"] for event in events if event.kind == "products.exported"]
    assert sum(exported) == PRODUCTS, "one event per page, counting the products written"


async def test_a_large_job_is_shared_by_several_workers_with_progress_summed(
    shop_sync: GraphQLClient, served_shop: ServedShop, settings: Settings, tmp_path: Path, db: Any
) -> None:
    """Workers run with chunks of 100 products (PIMSYNC_SYNC_CHUNK_SIZE in their environment)."""
    from sqlalchemy import select

    from app.db.models import SyncChunk
    from graphql_schema.relay import parse_global_id

    await upsert(shop_sync, *(chair(n) for n in range(PRODUCTS, 600)))
    served_shop.shop.slow_down(0.05)
    with running_worker(settings, tmp_path / "a.log") as first, running_worker(settings, tmp_path / "b.log") as other:
        await first.started()
        await other.started()  # both take work from the start: neither can finish the job alone first
        job = await trigger(shop_sync)
        done = await wait_for_job(shop_sync, job["id"], worker=first, within=90)
    assert (done["status"], done["totalProducts"], done["syncedProducts"]) == ("COMPLETED", 600, 600)
    assert len(served_shop.shop.products) == 600
    async with db.reader() as session:
        chunks = list(await session.scalars(select(SyncChunk).where(SyncChunk.job_id == parse_global_id(job["id"])[1])))
    assert len(chunks) == 6
    assert len({chunk.lease_owner for chunk in chunks}) == 2, "one worker did all the chunks"


async def test_a_batch_the_channel_refuses_whole_is_split_so_the_rest_goes_through(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    await wait_for_job(shop_sync, (await trigger(shop_sync))["id"], worker=worker)
    served_shop.shop.requests.clear()
    served_shop.shop.fail_next(1, status=400, only="POST /products/batch")
    done = await wait_for_job(shop_sync, (await trigger(shop_sync, forceResync=True))["id"], worker=worker)
    assert (done["status"], done["syncedProducts"], done["failedProducts"]) == ("COMPLETED", PRODUCTS, 0)
    statuses = [request.status for request in served_shop.shop.requests_to("POST", "/products/batch")]
    assert statuses[0] == 400 and statuses[1:] == [200, 200], statuses
    assert [len(body["products"]) for body in batches(served_shop)] == [PRODUCTS // 2, PRODUCTS // 2]


async def test_higher_priority_jobs_go_first_and_jobs_can_be_filtered(
    shop_sync: GraphQLClient, served_shop: ServedShop
) -> None:
    await create_connector(shop_sync, served_shop, code="second")
    low = await trigger(shop_sync, priority="LOW")
    high = await trigger(shop_sync, code="second", priority="HIGH")
    assert high["queuePosition"] < (await shop_sync(JOB, {"id": low["id"]}))["syncJob"]["queuePosition"]
    listing = """query($code: String, $status: SyncJobStatus) {
      syncJobs(connectorCode: $code, status: $status) { totalCount edges { node { id priority } } } }"""
    only_second = (await shop_sync(listing, {"code": "second"}))["syncJobs"]
    assert [edge["node"]["id"] for edge in only_second["edges"]] == [high["id"]]
    pending = (await shop_sync(listing, {"status": "PENDING"}))["syncJobs"]
    assert pending["totalCount"] == 2 and pending["edges"][0]["node"]["id"] == high["id"], "newest first"
    assert (await shop_sync(listing, {"status": "COMPLETED"}))["syncJobs"]["totalCount"] == 0


async def test_a_page_of_queued_jobs_costs_the_same_queries_whatever_its_size(
    shop_sync: GraphQLClient, served_shop: ServedShop, sql_counter: QueryCounter
) -> None:
    for code in ("second", "third", "fourth"):
        await create_connector(shop_sync, served_shop, code=code)
    ids = {
        code: (await trigger(shop_sync, code=code, priority=priority))["id"]
        for code, priority in (("shop", "LOW"), ("second", "NORMAL"), ("third", "HIGH"), ("fourth", "NORMAL"))
    }
    query = """query($first: Int) { syncJobs(first: $first, status: PENDING) {
      edges { node { id queuePosition connector { code } } } } }"""
    counts, positions = [], {}
    for first in (1, 4):
        sql_counter.statements.clear()
        edges = (await shop_sync(query, {"first": first}))["syncJobs"]["edges"]
        counts.append(len(sql_counter.statements))
        positions = {edge["node"]["connector"]["code"]: edge["node"]["queuePosition"] for edge in edges}
        assert len(positions) == first
    assert counts[0] == counts[1], sql_counter.statements
    assert positions == {"third": 1, "second": 2, "fourth": 3, "shop": 4}, ids


async def test_a_chunk_costs_the_same_statements_whatever_its_size(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, sql_counter: QueryCounter
) -> None:
    """Loading, checking and recording a page reads and writes each table in one statement for all its products:
    a chunk of 20 products costs what a chunk of 10 does (a statement per product would be 10 more), whether it
    creates them or updates them."""
    await upsert(shop_sync, *(chair(n) for n in range(PRODUCTS, 70)))
    first = await _job_chunks(shop_sync, container, "FULL")
    created = {10: await _statements(container, sql_counter, first[3])}
    created[20] = await _statements(container, sql_counter, first[1])
    assert created[10] == created[20], sql_counter.statements
    await run_chunk(container, first[2].id, worker="counting")
    assert len(served_shop.shop.products) == 70

    await upsert(shop_sync, *(chair(n, fr=f"Chaise {n}, nouvelle") for n in range(70)))
    second = await _job_chunks(shop_sync, container, "INCREMENTAL")
    updated = {10: await _statements(container, sql_counter, second[3])}
    updated[20] = await _statements(container, sql_counter, second[1])
    assert updated[10] == updated[20], sql_counter.statements
    assert served_shop.shop.products[sku(25)].locales["fr"]["title"] == "Chaise 25, nouvelle"


async def _job_chunks(gql: GraphQLClient, container: Container, sync_type: str) -> list[SyncChunk]:
    """A job over 70 products in chunks of 20, 20, 20 and 10, its first chunk run (it starts the job, which costs
    more); the third is left for last, as ending the job costs more too."""
    _, _, chunks = await _planned(gql, container, size=20, count=4, syncType=sync_type)
    await run_chunk(container, chunks[0].id, worker="counting")
    return chunks


async def _planned(
    gql: GraphQLClient, container: Container, *, size: int, count: int, **options: Any
) -> tuple[str, int, list[SyncChunk]]:
    """A job triggered with `options` and planned here in `count` chunks of `size`: its
    global id, its id and its chunks in id order."""
    global_id = (await trigger(gql, **options))["id"]
    job_id = parse_global_id(global_id)[1]
    assert await plan_job(container, job_id, size=size) == count
    async with container.db.reader() as session:
        chunks = list(await session.scalars(select(SyncChunk).where(SyncChunk.job_id == job_id).order_by(SyncChunk.id)))
    return global_id, job_id, chunks


async def _statements(container: Container, sql_counter: QueryCounter, chunk: SyncChunk) -> int:
    sql_counter.statements.clear()
    await run_chunk(container, chunk.id, worker="counting")
    return len(sql_counter.statements)


async def test_a_connectors_own_rate_limit_holds_its_requests(
    shop_sync: GraphQLClient, served_shop: ServedShop, settings: Settings, tmp_path: Path
) -> None:
    """Six chunks of one page, run four at a time, share the connector's bucket (8 requests/s, a burst of 8):
    however many requests they make, the shop never gets them faster than the bucket lets them out."""
    rate = 8
    changed = await shop_sync(UPDATE_CONNECTOR, {"code": "shop", "input": {"settings": {"requestsPerSecond": rate}}})
    assert changed["updateConnector"]["connector"]["settings"]["requestsPerSecond"] == rate
    await upsert(shop_sync, *(chair(n) for n in range(PRODUCTS, 150)))
    served_shop.shop.requests.clear()
    small = {"PIMSYNC_SYNC_CHUNK_SIZE": "25", "PIMSYNC_SYNC_PAGE_SIZE": "25"}
    with running_worker(settings, tmp_path / "worker.log", **small) as worker:
        done = await wait_for_job(shop_sync, (await trigger(shop_sync))["id"], worker=worker)
    assert (done["status"], done["syncedProducts"]) == ("COMPLETED", 150)
    arrivals = sorted(request.received for request in served_shop.shop.requests)
    assert len(arrivals) >= 2 * rate, f"too few requests to test the pace: {len(arrivals)}"
    # The bucket holds `rate` requests (and LATE_CREDIT of one more) and adds one every 1/rate s. So no stretch of
    # time at the shop can hold more than that, give or take one request for the way from bucket to shop.
    for first, start in enumerate(arrivals):
        for last in range(first + 1, len(arrivals)):
            allowed = rate + 1 + rate * (arrivals[last] - start)
            assert last - first + 1 <= allowed, f"{last - first + 1} requests in {arrivals[last] - start:.3f}s"
