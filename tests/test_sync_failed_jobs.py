"""Jobs in which every product failed: they end FAILED with the reason, count toward the connector's run of failed
jobs (unless only the products' own data was at fault), and leave the connector's cursor where it was. The pipeline
runs in this process (run_here, or run_chunk on planned chunks): no worker takes these tests' queue messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from app.container import Container
from app.domain.scopes import VALUES_HIDDEN
from app.domain.sync import CodeTally, every_product_failed_reason, failure_without_values
from app.repositories.events import EventRepository
from app.services.sync.runner import run_chunk
from graphql_schema.relay import parse_global_id
from tests.catalog_fixtures import DELETE_PRODUCTS, upsert, value
from tests.conftest import GraphQLClient, TenantHandle
from tests.connector_fixtures import CONNECTOR, ServedShop, served_shop
from tests.sync_fixtures import (
    CANCEL,
    JOB,
    LOCALE_STATUS,
    PRODUCTS,
    RETRY,
    planned,
    run_here,
    shop_sync,
    sku,
    until_a_batch_is_sent,
)

__all__ = ["served_shop", "shop_sync"]

REFUSED = (
    f"all {PRODUCTS} products failed; CHN-012 for {PRODUCTS} of them, first: locale fr is not enabled in this store"
)
"""The reason a job shows when the shop refused every product's French (the first product's message)."""


def refuse_french(shop: ServedShop) -> None:
    """The shop's owner turned French off: every product the connector sends (with its fr texts) is refused."""
    shop.shop.supported_locales = ("en", "ar")


def accept_french(shop: ServedShop) -> None:
    shop.shop.supported_locales = ("en", "ar", "fr")


async def connector(gql: GraphQLClient) -> dict[str, Any]:
    return dict((await gql(CONNECTOR, {"code": "shop"}))["connector"])


async def sync_events(container: Container, tenant: TenantHandle, job: str) -> list[tuple[str, dict[str, Any]]]:
    job_id = parse_global_id(job)[1]
    async with container.db.reader() as session:
        events = reversed(await EventRepository(session).latest(tenant.id))
    return [(event.kind, event.payload) for event in events if event.payload.get("job") == job_id]


async def test_a_job_whose_every_product_the_channel_refused_fails_with_the_reason_and_moves_nothing(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, tenant: TenantHandle
) -> None:
    """A catalog manager sees FAILED and why, not a green job that put nothing on the channel; the connector's
    last sync and cursor stay where they were, so the next INCREMENTAL sync takes every product again."""
    refuse_french(served_shop)
    done = await run_here(shop_sync, container)
    assert (done["status"], done["failure"]) == ("FAILED", REFUSED)
    assert (done["totalProducts"], done["syncedProducts"], done["failedProducts"], done["progress"]) == (
        PRODUCTS,
        0,
        PRODUCTS,
        1.0,
    )
    assert done["errors"]["totalCount"] == PRODUCTS
    assert (await sync_events(container, tenant, done["id"]))[-1] == (
        "sync.failed",
        {"job": parse_global_id(done["id"])[1], "synced": 0, "failed": PRODUCTS, "skipped": 0, "dry_run": False}
        | {"failure": REFUSED},
    )
    assert (await shop_sync(LOCALE_STATUS))["connector"]["lastSyncedAt"] is None
    assert (await connector(shop_sync))["status"] == "CONNECTED", "one failed job is not a run of them"

    accept_french(served_shop)
    again = await run_here(shop_sync, container, syncType="INCREMENTAL")
    assert (again["status"], again["totalProducts"], again["syncedProducts"]) == ("COMPLETED", PRODUCTS, PRODUCTS)
    assert len(served_shop.shop.products) == PRODUCTS


async def test_a_partly_failed_job_stays_completed_and_restarts_the_count_of_failed_jobs(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """Two jobs that failed every product, then one where some went through: that one is COMPLETED (its errors
    list the rest) and the connector has a working channel, so two more failures are not three in a row; a third
    is, and the connector goes to ERROR saying why."""
    refuse_french(served_shop)
    for _ in range(2):
        assert (await run_here(shop_sync, container))["status"] == "FAILED"
    accept_french(served_shop)
    await upsert(shop_sync, {"sku": sku(4), "values": [value("name", None, "en_US")]})
    partly = await run_here(shop_sync, container)
    assert (partly["status"], partly["failure"]) == ("COMPLETED", None)
    assert (partly["syncedProducts"], partly["failedProducts"]) == (PRODUCTS - 1, 1)

    refuse_french(served_shop)
    for _ in range(2):
        assert (await run_here(shop_sync, container, forceResync=True))["status"] == "FAILED"
    assert (await connector(shop_sync))["status"] == "CONNECTED"
    await run_here(shop_sync, container, forceResync=True)
    after = await connector(shop_sync)
    assert after["status"] == "ERROR"
    assert after["statusReason"] == (
        f"3 sync jobs failed in a row; last: all {PRODUCTS} products failed; CHN-012 for "
        f"{PRODUCTS - 1} of them (1 other code too), first: locale fr is not enabled in this store"
    )


async def test_a_product_failing_on_its_own_data_fails_its_job_but_never_pauses_the_connector(
    shop_sync: GraphQLClient, container: Container
) -> None:
    """A quiet catalog where the one product changed lacks its title: each sync of it fails (FAILED, saying so),
    yet bad data fails only its product (DESIGN): the connector's other products keep their schedule. A dry run of
    it is a report of what would happen, sends nothing, and stays COMPLETED."""
    await upsert(shop_sync, {"sku": sku(4), "values": [value("name", None, "en_US")]})
    for _ in range(4):
        done = await run_here(shop_sync, container, syncType="SINGLE", productSkus=[sku(4)])
        assert (done["status"], done["failure"]) == (
            "FAILED",
            "the job's only product failed: CHN-010 title is required and has no value in en_US",
        )
    assert ((await connector(shop_sync))["status"]) == "CONNECTED"
    dry = await run_here(shop_sync, container, syncType="SINGLE", productSkus=[sku(4)], dryRun=True)
    assert (dry["status"], dry["failedProducts"], dry["failure"]) == ("COMPLETED", 1, None)


async def test_a_retry_of_a_job_whose_failed_products_were_deleted_says_so(
    shop_sync: GraphQLClient, container: Container
) -> None:
    """Its `failure` says every product failed, not that it failed as a whole: the retry tells what left nothing."""
    await upsert(shop_sync, {"sku": sku(4), "values": [value("name", None, "en_US")]})
    done = await run_here(shop_sync, container, syncType="SINGLE", productSkus=[sku(4)])
    assert done["status"] == "FAILED"
    assert (await shop_sync(DELETE_PRODUCTS, {"skus": [sku(4)]}))["deleteProducts"]["userErrors"] == []
    retried = (await shop_sync(RETRY, {"id": done["id"]}))["retrySyncJob"]
    assert [(error["code"], error["message"]) for error in retried["userErrors"]] == [
        ("CON-007", "every product that failed in that job has been deleted since")
    ]


RETRY_TELLING_DROPPED = """mutation($id: ID!) {
  retrySyncJob(id: $id) { syncJob { totalProducts } droppedProducts droppedSkus userErrors { code } }
}"""


async def test_a_retry_runs_over_the_failed_products_still_there_and_names_those_deleted_since(
    shop_sync: GraphQLClient, container: Container
) -> None:
    """Two products failed; one was deleted since. The retry runs over the other, and says which it left out and
    why: the answer showed one product where two had failed, and nothing told the user what became of the second."""
    untitled = [value("name", None, "en_US")]
    await upsert(shop_sync, *({"sku": sku(n), "values": untitled} for n in (4, 5)))
    done = await run_here(shop_sync, container, syncType="SINGLE", productSkus=[sku(4), sku(5)])
    assert done["failedProducts"] == 2
    assert (await shop_sync(DELETE_PRODUCTS, {"skus": [sku(4)]}))["deleteProducts"]["userErrors"] == []
    retried = (await shop_sync(RETRY_TELLING_DROPPED, {"id": done["id"]}))["retrySyncJob"]
    assert retried == {
        "syncJob": {"totalProducts": 1},
        "droppedProducts": 1,
        "droppedSkus": [sku(4)],
        "userErrors": [],
    }


async def test_a_job_cancelled_while_its_products_failed_is_cancelled(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """A person stopped it: it ends as they asked, even though every product it went through had failed."""
    refuse_french(served_shop)
    global_id, _, [first, second] = await planned(shop_sync, container, size=PRODUCTS // 2, count=2)
    await run_chunk(container, first.id, worker="here")
    served_shop.shop.requests.clear()
    served_shop.shop.slow_down(0.3)
    running = asyncio.create_task(run_chunk(container, second.id, worker="here"))
    await until_a_batch_is_sent(served_shop, "the second chunk")
    assert (await shop_sync(CANCEL, {"id": global_id}))["cancelSyncJob"]["userErrors"] == []
    await running
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (done["status"], done["syncedProducts"], done["failedProducts"]) == ("CANCELLED", 0, PRODUCTS)
    assert done["failure"] is None


async def test_a_failed_job_and_the_connector_it_puts_in_error_are_each_one_warning_in_the_log(
    shop_sync: GraphQLClient,
    served_shop: ServedShop,
    container: Container,
    app_logging: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An operator reads the workers' log, not each job: a FAILED job was an info line `sync.finished job=7
    status=FAILED` naming neither the connector nor why, and the third in a row put the connector in ERROR (its
    schedule stopped) without a line at all."""
    app_logging()
    refuse_french(served_shop)
    for _ in range(3):
        assert (await run_here(shop_sync, container, forceResync=True))["status"] == "FAILED"
    logged = capsys.readouterr().err.splitlines()
    finished = [line for line in logged if "sync.finished" in line]
    assert len(finished) == 3 and all("warning" in line and "connector=shop" in line for line in finished), logged
    assert all("CHN-012" in line and "locale fr is not enabled" in line for line in finished), finished
    [errored] = [line for line in logged if "connector.error" in line]
    assert "warning" in errored and "connector=shop" in errored and "3 sync jobs failed in a row" in errored, errored


@pytest.mark.parametrize(
    ("products", "tally", "hidden"),
    [
        (1, [CodeTally("CHN-011", 1, "got 'Oak'")], "the job's only product failed: CHN-011 ({})"),
        (3, [CodeTally("CHN-011", 3, "got 'Oak'")], "all 3 products failed; CHN-011 for 3 of them ({})"),
        (
            4,
            [CodeTally("CHN-011", 3, "got 'Oak'"), CodeTally("CHN-010", 1, "no 'x'"), CodeTally("CHN-013", 1, "y")],
            "all 4 products failed; CHN-011 for 3 of them (2 other codes too) ({})",
        ),
        (2, [], "all 2 products failed"),
    ],
)
def test_a_failure_read_without_catalog_view_leaves_the_quoted_product_message_out(
    products: int, tally: list[CodeTally], hidden: str
) -> None:
    """Every shape of a job whose products all failed quotes a product's message, which may quote its values:
    without catalog.view only the message goes, the counts and the code stay. A job that failed as a whole quotes
    no product and reads the same."""
    assert failure_without_values(every_product_failed_reason(products, tally)) == hidden.format(VALUES_HIDDEN)
    refused = "the channel refused the credentials: 401 'Oak'"
    assert failure_without_values(refused) == refused
