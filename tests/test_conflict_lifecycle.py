"""How pending conflicts are announced and closed by the syncs that meet them, run in this process (run_here).

A lamp is synced in Arabic (ar_AE -> "ar") and French (fr_FR -> "fr") to the CUSTOM_HTTP reference shop; its
Arabic title is then rewritten on both sides, which the next sync holds as a pending conflict (MANUAL).
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest

from app.channels import transport
from app.container import Container
from app.db.models import Conflict
from app.repositories.events import EventRepository
from app.services.conflicts import apply, notify
from app.services.conflicts.apply import MAX_ATTEMPTS, apply_resolution, recover_resolutions
from app.services.conflicts.service import ConflictService
from app.services.sync.queue import ms
from graphql_schema.relay import parse_global_id
from tests.catalog_fixtures import DELETE_PRODUCTS, PRODUCT, set_up_catalog, upsert, value
from tests.conflict_fixtures import CONFLICTS, RESOLVE
from tests.conftest import GraphQLClient, TenantHandle, until_subscribed
from tests.connector_fixtures import SAVE_MAPPINGS, UPDATE_CONNECTOR, ServedShop, create_connector, served_shop
from tests.sync_fixtures import LISTINGS, batches, run_here

__all__ = ["served_shop"]

APPLIED = """query($id: ID!) { conflict(id: $id) { resolutionStatus appliedAt applyError } }"""

LOCALES = [{"pimLocale": "ar_AE", "channelLocale": "ar"}, {"pimLocale": "fr_FR", "channelLocale": "fr"}]
MAPPINGS = [
    {"attributeCode": "name", "channelField": "title", "direction": "EXPORT"},
    {"attributeCode": "price", "channelField": "price", "direction": "EXPORT"},
]


def lamp(*, ar: str = "مصباح", fr: str = "Lampe") -> dict[str, Any]:
    return {
        "sku": "LAMP-1",
        "values": [value("name", ar, "ar_AE"), value("name", fr, "fr_FR"), value("price", {"EUR": "40.00"})],
    }


async def sync(gql: GraphQLClient, container: Container, **options: Any) -> dict[str, Any]:
    job = await run_here(gql, container, **options)
    assert job["status"] == "COMPLETED", job
    return job


async def pending(gql: GraphQLClient) -> list[dict[str, Any]]:
    found = await gql(CONFLICTS, {"code": "shop", "first": 50, "status": "PENDING"})
    return [edge["node"] for edge in found["conflicts"]["edges"]]


async def conflict_in_arabic(gql: GraphQLClient, served_shop: ServedShop, container: Container) -> None:
    """The lamp synced, then its Arabic title rewritten in the shop and in the PIM, not yet synced again."""
    await set_up_catalog(gql)
    await create_connector(gql, served_shop, localeMapping=LOCALES, conflictStrategy="MANUAL", requestsPerSecond=100)
    assert (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": MAPPINGS}))["saveMappings"]["userErrors"] == []
    await upsert(gql, lamp())
    await sync(gql, container)
    served_shop.shop.edit("LAMP-1", locales={"ar": {"title": "مصباح ذهبي"}})
    await upsert(gql, lamp(ar="مصباح برونزي"))


async def test_a_conflict_opened_by_a_sync_is_announced_to_subscribers(
    gql: GraphQLClient, served_shop: ServedShop, container: Container, tenant: TenantHandle
) -> None:
    await conflict_in_arabic(gql, served_shop, container)
    announced: list[Conflict] = []

    async def listen() -> None:
        async for conflict in ConflictService(container, tenant.id).detected(every=0.05):
            announced.append(conflict)

    listening = asyncio.create_task(listen())
    try:
        await until_subscribed(container, notify.channel(container.redis, tenant.id))
        await sync(gql, container, syncType="INCREMENTAL")
        [opened] = await pending(gql)
        deadline = time.monotonic() + 10
        while not announced:
            assert time.monotonic() < deadline, "the new conflict was not announced"
            await asyncio.sleep(0.05)
    finally:
        listening.cancel()
    assert [conflict.product_sku for conflict in announced] == ["LAMP-1"], "the new conflict was not announced"
    assert announced[0].version == opened["version"]


async def test_a_sync_limited_to_other_locales_leaves_a_conflict_pending(
    gql: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    await conflict_in_arabic(gql, served_shop, container)
    await sync(gql, container, syncType="INCREMENTAL")
    [held] = await pending(gql)
    assert await listing_status(gql) == "conflict"
    await upsert(gql, lamp(ar="مصباح برونزي", fr="Lampe de chevet"))
    await sync(gql, container, syncType="FULL", locales=["fr_FR"])
    assert served_shop.shop.products["LAMP-1"].locales["fr"]["title"] == "Lampe de chevet"
    assert [conflict["id"] for conflict in await pending(gql)] == [held["id"]], "it said nothing of Arabic"
    assert await listing_status(gql) == "conflict", "the French went through, but the Arabic is still undecided"


async def test_a_forced_sync_leaves_what_the_channel_won_in_place(
    gql: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """CHANNEL_WINS kept the shop's Arabic title over the PIM's; forceResync re-sends what the PIM agreed with the
    channel, and must not undo that decision by sending the PIM's title after all."""
    await set_up_catalog(gql)
    await create_connector(
        gql, served_shop, localeMapping=LOCALES, conflictStrategy="CHANNEL_WINS", requestsPerSecond=100
    )
    assert (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": MAPPINGS}))["saveMappings"]["userErrors"] == []
    await upsert(gql, lamp())
    await sync(gql, container)
    served_shop.shop.edit("LAMP-1", locales={"ar": {"title": "مصباح ذهبي"}})
    await sync(gql, container, syncType="FULL")
    assert served_shop.shop.products["LAMP-1"].locales["ar"]["title"] == "مصباح ذهبي", "the channel won"
    forced = await sync(gql, container, syncType="FULL", forceResync=True)
    assert forced["syncedProducts"] == 1, "the French and the price are sent again"
    assert served_shop.shop.products["LAMP-1"].locales["ar"]["title"] == "مصباح ذهبي", "forceResync undid CHANNEL_WINS"
    sent = [product for body in batches(served_shop) for product in body["products"]][-1]
    assert "ar" not in (sent.get("locales") or {}), sent


async def listing_status(gql: GraphQLClient) -> str:
    [listing] = (await gql(LISTINGS, {"sku": "LAMP-1"}))["product"]["listings"]
    return str(listing["status"])


async def test_a_conflict_the_strategy_decides_is_closed_as_decided_not_as_agreed(
    gql: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    await conflict_in_arabic(gql, served_shop, container)
    await sync(gql, container, syncType="INCREMENTAL")
    [held] = await pending(gql)
    changed = await gql(UPDATE_CONNECTOR, {"code": "shop", "input": {"settings": {"conflictStrategy": "CHANNEL_WINS"}}})
    assert changed["updateConnector"]["userErrors"] == []
    await sync(gql, container, syncType="FULL")
    assert await pending(gql) == []
    every = await gql(CONFLICTS, {"code": "shop", "first": 50})
    closed = next(edge["node"] for edge in every["conflicts"]["edges"] if edge["node"]["id"] == held["id"])
    assert closed["resolutionStatus"] == "DISMISSED"
    assert closed["resolvedBy"] == "sync: decided by the connector's strategy (CHANNEL_WINS)"


async def test_a_resolution_outlasting_the_channels_downtime_waits_for_the_recovery_sweep(
    gql: GraphQLClient, served_shop: ServedShop, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A person's decision is not dropped because the shop was down longer than one task's tries."""
    await conflict_in_arabic(gql, served_shop, container)
    await sync(gql, container, syncType="INCREMENTAL")
    [held] = await pending(gql)
    decided = await gql(RESOLVE, {"id": held["id"], "input": {"resolution": "PIM_WINS"}})
    assert decided["resolveConflict"]["userErrors"] == []
    served_shop.shop.fail_next(5, status=503, only="GET /products")  # every read of the last try
    last_try = await apply_resolution(container, parse_global_id(held["id"])[1], attempt=MAX_ATTEMPTS)
    assert (last_try.status, last_try.retry_in) == ("SKIPPED", None)
    assert (await gql(APPLIED, {"id": held["id"]}))["conflict"] == {
        "resolutionStatus": "PIM_WINS",
        "appliedAt": None,
        "applyError": None,
    }
    monkeypatch.setattr(apply, "RECOVER_AFTER", timedelta(0))
    assert await recover_resolutions(container) == 1
    assert (await apply_resolution(container, parse_global_id(held["id"])[1])).status == "APPLIED"
    assert served_shop.shop.products["LAMP-1"].locales["ar"]["title"] == "مصباح برونزي"


async def test_a_resolution_stopped_while_the_shop_takes_its_write_records_the_write_once(
    gql: GraphQLClient,
    served_shop: ServedShop,
    container: Container,
    tenant: TenantHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A stop (a deploy's SIGTERM) landing while the shop took the PIM's value a person chose: the worker waited for
    the shop's answer, then stopped before recording it, and the retry found the shop already holding that value,
    wrote nothing, and recorded the resolution with no products.exported event for the write the shop took (events
    are written with the change they tell of). The write is now recorded before the stop is taken, once."""
    await conflict_in_arabic(gql, served_shop, container)
    await sync(gql, container, syncType="INCREMENTAL")
    [held] = await pending(gql)
    decided = await gql(RESOLVE, {"id": held["id"], "input": {"resolution": "PIM_WINS"}})
    assert decided["resolveConflict"]["userErrors"] == []
    conflict_id = parse_global_id(held["id"])[1]
    run: asyncio.Task[Any] | None = None
    answered_even_if_stopped = transport._answered_even_if_stopped

    async def stopped_while_the_shop_takes_it(exchange: Any, **given: Any) -> Any:
        assert run is not None
        run.cancel()
        return await answered_even_if_stopped(exchange, **given)

    monkeypatch.setattr(transport, "_answered_even_if_stopped", stopped_while_the_shop_takes_it)
    mark = len(served_shop.shop.requests)
    run = asyncio.create_task(apply_resolution(container, conflict_id))
    with pytest.raises(asyncio.CancelledError):
        await run
    monkeypatch.undo()
    await apply_resolution(container, conflict_id)  # arq's run of the message again, on the next worker

    assert (await gql(APPLIED, {"id": held["id"]}))["conflict"]["appliedAt"] is not None
    assert served_shop.shop.products["LAMP-1"].locales["ar"]["title"] == "مصباح برونزي"
    assert len([r for r in served_shop.shop.requests[mark:] if r.method == "POST"]) == 1
    async with container.db.reader() as session:
        events = await EventRepository(session).latest(tenant.id)
    exported = [event.payload for event in events if event.kind == "products.exported"]
    assert [payload["source"] for payload in exported if "source" in payload] == [f"conflict {conflict_id}"]


async def test_a_resolution_the_shop_asks_to_wait_for_is_tried_again_once_the_wait_is_over(
    gql: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """A 429 asking for ten minutes (past what one request may wait) had the resolution tried again after 5 s, 10 s
    ...: each try found the shop still closed, and the tries ran out for nothing. The next try comes once the wait
    the shop asked for is over."""
    await conflict_in_arabic(gql, served_shop, container)
    await sync(gql, container, syncType="INCREMENTAL")
    [held] = await pending(gql)
    decided = await gql(RESOLVE, {"id": held["id"], "input": {"resolution": "PIM_WINS"}})
    assert decided["resolveConflict"]["userErrors"] == []
    served_shop.shop.rate_limit_next(1, retry_after="600")
    tried = await apply_resolution(container, parse_global_id(held["id"])[1])
    assert tried.status == "SKIPPED" and tried.retry_in is not None and tried.retry_in >= 590, tried
    assert (await gql(APPLIED, {"id": held["id"]}))["conflict"]["appliedAt"] is None


async def test_a_message_queued_for_another_resolution_under_the_same_id_applies_nothing(
    gql: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """SQLite gives a deleted conflict's id to the next one: a message still queued for the old conflict must not
    apply the new one beside its own message, or the two race on one product."""
    await conflict_in_arabic(gql, served_shop, container)
    await sync(gql, container, syncType="INCREMENTAL")
    [held] = await pending(gql)
    assert (await gql(RESOLVE, {"id": held["id"], "input": {"resolution": "PIM_WINS"}}))["resolveConflict"][
        "userErrors"
    ] == []
    conflict_id = parse_global_id(held["id"])[1]
    async with container.db.reader() as session:
        row = await session.get(Conflict, conflict_id)
    assert row is not None and row.resolved_at is not None
    stale = await apply_resolution(container, conflict_id, resolved_at_ms=ms(row.resolved_at) - 60_000)
    assert stale.status == "SKIPPED"
    assert (await gql(APPLIED, {"id": held["id"]}))["conflict"]["appliedAt"] is None
    assert served_shop.shop.products["LAMP-1"].locales["ar"]["title"] == "مصباح ذهبي", "the stale message wrote"
    own = await apply_resolution(container, conflict_id, resolved_at_ms=ms(row.resolved_at))
    assert own.status == "APPLIED"
    assert served_shop.shop.products["LAMP-1"].locales["ar"]["title"] == "مصباح برونزي"


async def test_an_import_only_mapping_merges_the_channels_value_into_the_pims(
    gql: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """Price and weight mapped IMPORT alone: the shop's price joins the PIM's other currencies, its weight takes
    the unit the PIM keeps, as with BOTH mappings."""
    await set_up_catalog(gql)
    await create_connector(gql, served_shop, localeMapping=LOCALES, conflictStrategy="MANUAL", requestsPerSecond=100)
    mappings = [
        MAPPINGS[0],
        {"attributeCode": "price", "channelField": "price", "direction": "IMPORT"},
        {"attributeCode": "weight", "channelField": "weight", "direction": "IMPORT"},
    ]
    assert (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": mappings}))["saveMappings"]["userErrors"] == []
    numbers = [value("price", {"EUR": "40.00", "USD": "45.00"}), value("weight", {"amount": "2.5", "unit": "KILOGRAM"})]
    await upsert(gql, {**lamp(), "values": [*lamp()["values"][:2], *numbers]})
    await sync(gql, container)
    served_shop.shop.edit("LAMP-1", fields={"price": "42.00", "weight": "3.0"})
    job = await sync(gql, container)
    assert job["failedProducts"] == 0, job["errors"]
    product = (await gql(PRODUCT, {"sku": "LAMP-1"}))["product"]
    values = {row["attribute"]: row["data"] for row in product["values"] if row["locale"] is None}
    assert values["price"] == {"EUR": "42.00", "USD": "45.00"}
    assert values["weight"] == {"amount": "3.0", "unit": "KILOGRAM"}


async def test_a_product_deleted_in_the_pim_leaves_no_conflict_pending(
    gql: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """Once the sync takes it off the channel there is nothing left to decide: its pending conflict closes."""
    await conflict_in_arabic(gql, served_shop, container)
    await sync(gql, container, syncType="INCREMENTAL")
    [held] = await pending(gql)
    assert (await gql(DELETE_PRODUCTS, {"skus": ["LAMP-1"]}))["deleteProducts"]["userErrors"] == []
    await sync(gql, container, syncType="INCREMENTAL")
    assert "LAMP-1" not in served_shop.shop.products
    assert await pending(gql) == []
    every = await gql(CONFLICTS, {"code": "shop", "first": 50})
    closed = next(edge["node"] for edge in every["conflicts"]["edges"] if edge["node"]["id"] == held["id"])
    assert closed["resolvedBy"] == "sync: the product was taken off the channel (deleted or disabled in the PIM)"


@pytest.mark.parametrize("choice", ["CHANNEL_WINS", "DISMISSED"])
async def test_a_resolution_applied_while_a_sync_page_is_in_flight_is_not_undone_by_it(
    gql: GraphQLClient,
    served_shop: ServedShop,
    container: Container,
    monkeypatch: pytest.MonkeyPatch,
    choice: str,
) -> None:
    """The page read the product before the person's decision was carried out: recording it after would put
    back the old snapshots, and the decided conflict would open again on every sync."""
    from app.services.sync import runner

    await conflict_in_arabic(gql, served_shop, container)
    await sync(gql, container, syncType="INCREMENTAL")
    [held] = await pending(gql)
    send_page, applied = runner.send_page, []

    async def send_then_apply(*args: Any) -> None:
        await send_page(*args)
        if not applied:
            decided = await gql(RESOLVE, {"id": held["id"], "input": {"resolution": choice}})
            assert decided["resolveConflict"]["userErrors"] == []
            applied.append(await apply_resolution(container, parse_global_id(held["id"])[1]))

    with monkeypatch.context() as patched:
        patched.setattr(runner, "send_page", send_then_apply)
        await sync(gql, container, syncType="FULL")
    assert applied[0].status == "APPLIED", applied
    for _ in range(2):
        job = await sync(gql, container, syncType="FULL")
        assert (job["conflictedProducts"], await pending(gql)) == (0, []), "the decision was undone"
    assert served_shop.shop.products["LAMP-1"].locales["ar"]["title"] == "مصباح ذهبي"


async def test_a_template_reading_an_imported_value_is_sent_by_the_next_incremental_sync(
    gql: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """The French title edited in the shop comes into the PIM (BOTH); the description's template reads it, so the
    description changes too, after that sync sent its page: the next INCREMENTAL sync must send it."""
    await set_up_catalog(gql)
    await create_connector(gql, served_shop, localeMapping=LOCALES, conflictStrategy="MANUAL", requestsPerSecond=100)
    mappings = [
        {"attributeCode": "name", "channelField": "title", "direction": "BOTH"},
        MAPPINGS[1],
        {
            "attributeCode": "description",
            "channelField": "description",
            "direction": "EXPORT",
            "transformation": {"template": "{name} : {}"},
        },
    ]
    assert (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": mappings}))["saveMappings"]["userErrors"] == []
    described = [
        value("description", "<p>abat-jour en lin</p>", "fr_FR", "ecommerce"),
        value("description", "<p>غطاء كتان</p>", "ar_AE", "ecommerce"),
    ]
    await upsert(gql, {**lamp(), "values": [*lamp()["values"], *described]})
    await sync(gql, container)
    assert served_shop.shop.products["LAMP-1"].locales["fr"]["description"] == "Lampe : <p>abat-jour en lin</p>"
    served_shop.shop.edit("LAMP-1", locales={"fr": {"title": "Lampe de chevet"}})
    await sync(gql, container)  # takes the title in
    await sync(gql, container, syncType="INCREMENTAL")
    fr = served_shop.shop.products["LAMP-1"].locales["fr"]
    assert (fr["title"], fr["description"]) == ("Lampe de chevet", "Lampe de chevet : <p>abat-jour en lin</p>")
