"""Sync jobs end to end: triggered over GraphQL, run by a real worker process on the reference shop.

One worker serves the whole module (each test has its own tenant and shop). Tests that start, kill or
starve their own workers, or run the pipeline in-process, are in test_sync.py, where no worker takes
their queue messages.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli.commands import app as pimsync
from app.settings import Settings
from tests.catalog_fixtures import DELETE_PRODUCTS, upsert, value
from tests.conftest import GraphQLClient, TenantHandle
from tests.connector_fixtures import CONNECTOR, UPDATE_CONNECTOR, ServedShop, served_shop
from tests.sync_fixtures import (
    CANCEL,
    JOB,
    LISTINGS,
    LOCALE_STATUS,
    PRODUCTS,
    RETRY,
    WorkerProcess,
    batches,
    chair,
    locale_status,
    module_worker,
    outcome,
    sent_products,
    shop_sync,
    sku,
    trigger,
    wait_for_job,
    worker_env,
)

__all__ = ["module_worker", "served_shop", "shop_sync"]


@pytest.fixture
def worker(module_worker: WorkerProcess) -> WorkerProcess:
    """The module's one worker (a worker's start and stop cost a second or more a test)."""
    return module_worker


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


async def test_a_sync_sends_the_connectors_scope_and_never_another(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """The connector reads scope ecommerce: a description only written for print is no description to it."""
    both = chair(1)
    both["values"] += [
        value("description", "Web text", "en_US", "ecommerce"),
        value("description", "Print text", "en_US", "print"),
    ]
    print_only = chair(2)
    print_only["values"].append(value("description", "Print only", "en_US", "print"))
    await upsert(shop_sync, both, print_only)
    done = await wait_for_job(shop_sync, (await trigger(shop_sync))["id"], worker=worker)
    assert (done["status"], done["failedProducts"]) == ("COMPLETED", 0)
    shop = served_shop.shop
    assert shop.products[sku(1)].locales["en"]["description"] == "Web text"
    assert "description" not in shop.products[sku(2)].locales["en"]


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


async def test_a_forced_sync_sends_everything_and_lists_only_what_changes(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """forceResync sends every product again, and its changes list, as any job's do, what changes on the channel:
    they listed every field sent, `price: 105.50 -> 105.50`, which reads as a change that never happened."""
    await wait_for_job(shop_sync, (await trigger(shop_sync))["id"], worker=worker)
    served_shop.shop.requests.clear()
    await upsert(shop_sync, chair(3, fr="Chaise de salon 3"))
    done = await wait_for_job(shop_sync, (await trigger(shop_sync, forceResync=True))["id"], worker=worker)
    assert (done["status"], done["syncedProducts"]) == ("COMPLETED", PRODUCTS)
    assert len(sent_products(served_shop)) == PRODUCTS, "a forced sync must send every product"
    fields = {edge["node"]["productSku"]: edge["node"]["fields"] for edge in done["changes"]["edges"]}
    assert fields[sku(3)] == [
        {
            "field": "title",
            "channelLocale": "fr",
            "before": "Chaise en chêne 3",
            "after": "Chaise de salon 3",
            "held": False,
        }
    ]
    assert [field for listed in fields.values() for field in listed if field["before"] == field["after"]] == []


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


async def test_a_dry_run_fails_a_product_without_a_title_in_any_locale_as_the_real_run_does(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """Title is required (CUSTOM_HTTP spec): a new product with none in any locale cannot be created. A dry run,
    read as what the real run will do, says FAIL with the real run's code and message, not CREATE; and the real
    run refuses it before sending, so the shop is never asked to create what it must refuse."""
    await upsert(shop_sync, {"sku": "UNTITLED", "values": [value("price", {"EUR": "9.50"})]})
    single = {"syncType": "SINGLE", "productSkus": ["UNTITLED"]}
    dry = await wait_for_job(shop_sync, (await trigger(shop_sync, **single, dryRun=True))["id"], worker=worker)
    real = await wait_for_job(shop_sync, (await trigger(shop_sync, **single))["id"], worker=worker)
    actions, errors = outcome(dry, "UNTITLED")
    assert actions == ["FAIL"], dry["changes"]
    assert (None, "CHN-010") in [(locale, code) for locale, code, _ in errors], errors
    assert outcome(real, "UNTITLED") == (actions, errors)
    assert (dry["failedProducts"], dry["syncedProducts"]) == (real["failedProducts"], real["syncedProducts"]) == (1, 0)
    assert batches(served_shop) == [], "the real run sent a product the shop must refuse"
    assert "UNTITLED" not in served_shop.shop.products


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


async def test_the_change_of_a_product_failed_in_one_locale_lists_what_the_others_wrote(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """A locale's problem fails only that locale: the product's price and its other locales' titles still reach
    the channel. Its change row must say so, as it does for a product the sync creates; for one the channel
    already had, it read UPDATE with no field at all, as if nothing had been written. It reads FAIL, as the job
    counts it."""
    served_shop.shop.seed(sku(5), fields={"price": "1.00"}, locales={"fr": {"title": "Chaise du magasin"}})
    await upsert(shop_sync, {"sku": sku(5), "values": [value("name", None, "en_US")]})
    done = await wait_for_job(shop_sync, (await trigger(shop_sync, syncType="SINGLE", productSkus=[sku(5)]))["id"])
    assert [(e["node"]["locale"], e["node"]["errorCode"]) for e in done["errors"]["edges"]] == [("en", "CHN-010")]
    [change] = [edge["node"] for edge in done["changes"]["edges"]]
    written = {
        (field["field"], field["channelLocale"]): (field["before"], field["after"]) for field in change["fields"]
    }
    assert (change["action"], written) == (
        "FAIL",
        {
            ("price", None): ("1.00", "105.50"),
            ("title", "ar"): (None, "كرسي بلوط 5"),
            ("title", "fr"): ("Chaise du magasin", "Chaise en chêne 5"),
        },
    )
    stored = served_shop.shop.products[sku(5)]
    assert (stored.fields["price"], stored.locales["fr"]["title"]) == ("105.50", "Chaise en chêne 5")


async def test_a_failed_product_the_channel_already_matches_reads_fail_in_its_change(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """A product counted in the job's failedProducts reads FAIL in its change row, whatever else of it was in step:
    one whose sound parts the channel already held, with a locale failing, read SKIP, so changes(action: FAIL)
    missed it while failedProducts counted it. Nothing is sent for it either way."""
    served_shop.shop.seed(
        sku(5),
        fields={"price": "105.50"},
        locales={"ar": {"title": "كرسي بلوط 5"}, "fr": {"title": "Chaise en chêne 5"}},
    )
    await upsert(shop_sync, {"sku": sku(5), "values": [value("name", None, "en_US")]})
    done = await wait_for_job(shop_sync, (await trigger(shop_sync, syncType="SINGLE", productSkus=[sku(5)]))["id"])
    actions, errors = outcome(done, sku(5))
    assert (done["failedProducts"], [(locale, code) for locale, code, _ in errors]) == (1, [("en", "CHN-010")])
    assert actions == ["FAIL"], done["changes"]
    assert batches(served_shop) == []


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
    assert cancelled["syncJob"]["cancelRequested"], "a frontend shows the running job as cancelling"
    done = await wait_for_job(shop_sync, job["id"], worker=worker, within=15)
    assert done["status"] == "CANCELLED" and done["cancelRequested"]
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
    retried = (await shop_sync(RETRY, {"id": done["id"]}))["retrySyncJob"]
    [refused] = retried["userErrors"]
    assert refused["code"] == "CON-007" and refused["message"].startswith("the job failed as a whole"), refused


async def test_the_cli_starts_a_sync_and_follows_it_to_the_end(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess, settings: Settings, tenant: TenantHandle
) -> None:
    """With a worker polling the queue, the job's summary is all the command prints. The worker is waited for first:
    one still starting (importing the app, migrations checked, recovery run) after the command's five seconds had it
    say "Waiting for a worker" on a loaded machine, as it rightly does when none runs."""
    await worker.started()
    env = worker_env(settings)
    result = await asyncio.to_thread(
        CliRunner().invoke, pimsync, ["sync", "shop", "--tenant", tenant.code, "--type", "FULL"], env=env
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Job "), "the summary first, after no blank line"
    printed = re.search(rf"Job (\S+) COMPLETED: {PRODUCTS} synced, 0 unchanged, 0 failed of {PRODUCTS}", result.output)
    assert printed, result.output
    assert len(served_shop.shop.products) == PRODUCTS
    job = (await shop_sync(JOB, {"id": printed[1]}))["syncJob"]
    assert (job["syncType"], job["status"]) == ("FULL", "COMPLETED"), "the printed id is the one GraphQL takes"
    again = await asyncio.to_thread(
        CliRunner().invoke, pimsync, ["sync", "shop", "--tenant", tenant.code, "--type", "INCREMENTAL"], env=env
    )
    assert again.exit_code == 0 and "COMPLETED: 0 synced, 0 unchanged, 0 failed of 0" in again.output


async def test_the_cli_summary_counts_the_products_held_in_conflict(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess, settings: Settings, tenant: TenantHandle
) -> None:
    """The summary's counts add up to the job's size: a product held in conflict was left out of them, so a sync
    of one product read "0 synced, 0 unchanged, 0 failed of 1" with nothing saying where it went."""
    await wait_for_job(shop_sync, (await trigger(shop_sync))["id"], worker=worker)
    strategy = {"code": "shop", "input": {"settings": {"conflictStrategy": "MANUAL"}}}
    assert (await shop_sync(UPDATE_CONNECTOR, strategy))["updateConnector"]["userErrors"] == []
    served_shop.shop.edit(sku(1), locales={"en": {"title": "Chair renamed in the shop"}})
    await upsert(shop_sync, chair(1, en="Chair renamed in the PIM"))
    command = ["sync", "shop", "--tenant", tenant.code, "--type", "INCREMENTAL"]
    result = await asyncio.to_thread(CliRunner().invoke, pimsync, command, env=worker_env(settings))
    assert result.exit_code == 0, result.output
    assert "COMPLETED: 0 synced, 0 unchanged, 1 held in conflict, 0 failed of 1." in result.output, result.output


async def test_a_sync_whose_every_product_the_shop_refused_fails_and_its_retry_sends_them(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """The shop turned French off: the job is FAILED, saying why, not a green job that put nothing on the channel;
    retrySyncJob takes every product it failed once the shop takes French again."""
    served_shop.shop.supported_locales = ("en", "ar")
    done = await wait_for_job(shop_sync, (await trigger(shop_sync))["id"], worker=worker)
    assert (done["status"], done["syncedProducts"], done["failedProducts"]) == ("FAILED", 0, PRODUCTS)
    assert done["failure"] == (
        f"all {PRODUCTS} products failed; CHN-012 for {PRODUCTS} of them, first: locale fr is not enabled in this store"
    )
    served_shop.shop.supported_locales = ("en", "ar", "fr")
    retried = (await shop_sync(RETRY, {"id": done["id"]}))["retrySyncJob"]
    assert retried["userErrors"] == [] and retried["syncJob"]["totalProducts"] == PRODUCTS
    again = await wait_for_job(shop_sync, retried["syncJob"]["id"], worker=worker)
    assert (again["status"], again["syncedProducts"]) == ("COMPLETED", PRODUCTS)
    assert len(served_shop.shop.products) == PRODUCTS


async def test_the_cli_exits_1_saying_why_when_every_product_of_its_sync_failed(
    shop_sync: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess, settings: Settings, tenant: TenantHandle
) -> None:
    """Exit 3 is for a sync where some products failed; one where all did failed, and a script must see it."""
    served_shop.shop.supported_locales = ("en", "ar")
    command = ["sync", "shop", "--tenant", tenant.code, "--type", "FULL"]
    result = await asyncio.to_thread(CliRunner().invoke, pimsync, command, env=worker_env(settings))
    assert result.exit_code == 1, result.output
    assert f"FAILED: 0 synced, 0 unchanged, {PRODUCTS} failed of {PRODUCTS}." in result.output
    assert f"error all {PRODUCTS} products failed; CHN-012" in result.output


async def test_the_cli_exits_1_when_every_product_of_its_dry_run_would_fail(
    shop_sync: GraphQLClient, worker: WorkerProcess, settings: Settings, tenant: TenantHandle
) -> None:
    """A dry run exits as its real run would: every product failing is exit 1, not exit 3, which says some went
    through. The job itself reads COMPLETED: a dry run is not judged by what it found out."""
    await upsert(shop_sync, {"sku": "UNTITLED", "values": [value("price", {"EUR": "9.50"})]})
    command = ["sync", "shop", "--tenant", tenant.code, "--sku", "UNTITLED", "--dry-run"]
    result = await asyncio.to_thread(CliRunner().invoke, pimsync, command, env=worker_env(settings))
    assert result.exit_code == 1, result.output
    assert "COMPLETED: 0 synced, 0 unchanged, 1 failed of 1." in result.output, result.output
    assert "error the job's only product would fail" in result.output, result.output


async def test_the_cli_process_follows_a_sync_to_its_end_without_a_traceback(
    shop_sync: GraphQLClient, worker: WorkerProcess, settings: Settings, tenant: TenantHandle
) -> None:
    """As a person runs it: its own process, whose Redis pool closes before asyncio's shutdown."""
    command = [sys.executable, "-m", "app.cli", "sync", "shop", "--tenant", tenant.code]
    done = await asyncio.to_thread(
        subprocess.run, command, env=worker_env(settings), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Task exception" not in done.stderr, done.stderr


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
