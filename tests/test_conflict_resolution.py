"""Resolving conflicts end to end: a person decides over GraphQL, a real worker carries the decision out on the
reference shop and in the PIM, and the next sync finds both sides in step."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from app.container import Container
from app.db.engine import Database
from app.domain.conflicts import apply_error_without_values
from app.domain.scopes import VALUES_HIDDEN, Scope
from app.repositories.connectors import ConnectorRepository
from app.repositories.events import EventRepository
from graphql_schema.relay import parse_global_id
from tests.catalog_fixtures import DELETE_PRODUCTS, PRODUCT, set_up_catalog, upsert, value
from tests.conflict_fixtures import BULK, CONFLICT, CONFLICTS, RESOLVE
from tests.conftest import GraphQLClient, TenantHandle, make_tenant, until_a_writer_waits
from tests.connector_fixtures import (
    CONNECTOR,
    SAVE_MAPPINGS,
    UPDATE_CONNECTOR,
    ServedShop,
    create_connector,
    served_shop,
)
from tests.sync_fixtures import WorkerProcess, module_worker, trigger, wait_for_job

__all__ = ["module_worker", "served_shop"]


@pytest.fixture
def worker(module_worker: WorkerProcess) -> WorkerProcess:
    """The module's one worker: every test has its own tenant and shop, so they do not meet."""
    return module_worker


MAPPINGS = [
    {"attributeCode": "name", "channelField": "title", "direction": "EXPORT"},
    {"attributeCode": "description", "channelField": "description", "direction": "BOTH", "whenEmpty": "SKIP"},
    {"attributeCode": "price", "channelField": "price", "direction": "EXPORT"},
]
APPLIED = """query($id: ID!) { conflict(id: $id) { resolutionStatus appliedAt applyError } }"""
RESUME = """mutation { resumeConnector(code: "shop") { connector { status } } }"""
PAUSE = """mutation { pauseConnector(code: "shop") { connector { status } } }"""
LISTING_STATUS = """query($sku: String!) { product(sku: $sku) { listings { status } } }"""
WITHOUT_ARABIC = [{"pimLocale": "en_US", "channelLocale": "en"}, {"pimLocale": "fr_FR", "channelLocale": "fr"}]


def lamp(number: int, *, ar: str | None = None, fr: str | None = None, fr_body: str | None = None) -> dict[str, Any]:
    return {
        "sku": f"LAMP-{number}",
        "values": [
            value("name", f"Brass lamp {number}", "en_US"),
            value("name", ar or f"مصباح نحاسي {number}", "ar_AE"),
            value("name", fr or f"Lampe en laiton {number}", "fr_FR"),
            value("description", fr_body or f"<p>Abat-jour en lin {number}</p>", "fr_FR", "ecommerce"),
            value("price", {"EUR": f"{40 + number}.00"}),
        ],
    }


async def sync(gql: GraphQLClient, worker: WorkerProcess, sync_type: str = "FULL") -> dict[str, Any]:
    job = await wait_for_job(gql, (await trigger(gql, syncType=sync_type))["id"], worker=worker)
    assert job["status"] == "COMPLETED", job
    return job


async def latest_export(db: Database, tenant: TenantHandle) -> dict[str, Any] | None:
    """The payload of the tenant's latest products.exported event."""
    async with db.reader() as session:
        events = await EventRepository(session).latest(tenant.id)
    return next((event.payload for event in events if event.kind == "products.exported"), None)


async def pending(gql: GraphQLClient, sku: str | None = None) -> list[dict[str, Any]]:
    found = await gql(CONFLICTS, {"code": "shop", "first": 50, "status": "PENDING", "sku": sku})
    return [edge["node"] for edge in found["conflicts"]["edges"]]


async def applied(gql: GraphQLClient, conflict_id: str, worker: WorkerProcess, within: float = 30.0) -> dict[str, Any]:
    """The conflict once a worker carried its resolution out (or gave up on it)."""
    deadline = time.monotonic() + within
    while True:
        conflict = (await gql(APPLIED, {"id": conflict_id}))["conflict"]
        if conflict["appliedAt"] or conflict["applyError"]:
            return dict(conflict)
        if time.monotonic() > deadline:
            pytest.fail(f"resolution of {conflict_id} not applied after {within}s\n{worker.output()}")
        await asyncio.sleep(0.05)  # a light query: a longer wait only made each test wait longer after the worker


async def resolve(gql: GraphQLClient, conflict: dict[str, Any], resolution: str, **given: Any) -> dict[str, Any]:
    payload = {"resolution": resolution, "expectedVersion": conflict["version"], **given}
    result = (await gql(RESOLVE, {"id": conflict["id"], "input": payload}))["resolveConflict"]
    assert result["userErrors"] == [], result["userErrors"]
    return dict(result["conflict"])


async def pim_values(gql: GraphQLClient, sku: str) -> dict[tuple[str, str | None], Any]:
    product = (await gql(PRODUCT, {"sku": sku}))["product"]
    return {(row["attribute"], row["locale"]): row["data"] for row in product["values"]}


def sent_since(shop: ServedShop, mark: int) -> list[dict[str, Any]]:
    requests = shop.shop.requests[mark:]
    return [p for r in requests if r.method == "POST" and r.path == "/products/batch" for p in r.json["products"]]


@pytest.fixture
async def titles_at_odds(gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess) -> GraphQLClient:
    """LAMP-1 and LAMP-2 on the shop; since then both titles changed in ar and fr on both sides (MANUAL)."""
    await set_up_catalog(gql)
    await create_connector(gql, served_shop, conflictStrategy="MANUAL")
    saved = (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": MAPPINGS}))["saveMappings"]
    assert saved["userErrors"] == []
    await upsert(gql, lamp(1), lamp(2))
    await sync(gql, worker)
    for number in (1, 2):
        served_shop.shop.edit(
            f"LAMP-{number}",
            locales={"ar": {"title": f"مصباح ذهبي {number}"}, "fr": {"title": f"Lampe dorée {number}"}},
        )
    await upsert(gql, *(lamp(n, ar=f"مصباح برونزي {n}", fr=f"Lampe en bronze {n}") for n in (1, 2)))
    job = await sync(gql, worker, "INCREMENTAL")
    assert job["conflictedProducts"] == 2
    return gql


async def test_pim_wins_sends_the_pim_values_and_the_next_sync_finds_nothing_to_do(
    titles_at_odds: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess, db: Database, tenant: TenantHandle
) -> None:
    gql = titles_at_odds
    [conflict] = await pending(gql, "LAMP-1")
    assert [(d["pimLocale"], d["channelValue"]) for d in conflict["fields"][0]["diffs"]] == [
        ("ar_AE", "مصباح ذهبي 1"),
        ("fr_FR", "Lampe dorée 1"),
    ]
    resolved = await resolve(gql, conflict, "PIM_WINS")
    assert resolved["resolutionStatus"] == "PIM_WINS" and resolved["resolvedBy"]
    done = await applied(gql, conflict["id"], worker)
    assert done["applyError"] is None, done
    stored = served_shop.shop.products["LAMP-1"]
    assert (stored.locales["ar"]["title"], stored.locales["fr"]["title"]) == ("مصباح برونزي 1", "Lampe en bronze 1")
    assert served_shop.shop.products["LAMP-2"].locales["fr"]["title"] == "Lampe dorée 2", "another conflict moved"
    assert (await latest_export(db, tenant)) == {
        "count": 1,
        "sku": "LAMP-1",
        "source": f"conflict {parse_global_id(conflict['id'])[1]}",
    }
    mark = len(served_shop.shop.requests)
    again = await sync(gql, worker)
    assert [p["sku"] for p in sent_since(served_shop, mark)] == [] and again["conflictedProducts"] == 1
    assert [c["productSku"] for c in await pending(gql)] == ["LAMP-2"]


async def test_per_locale_overrides_merge_the_two_sides(
    titles_at_odds: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    gql = titles_at_odds
    [conflict] = await pending(gql, "LAMP-1")
    overrides = [{"field": "title", "resolution": "CHANNEL_WINS", "locales": ["fr_FR"]}]
    resolved = await resolve(gql, conflict, "PIM_WINS", fieldOverrides=overrides)
    assert resolved["resolutionStatus"] == "MERGED"
    assert (await applied(gql, conflict["id"], worker))["applyError"] is None
    stored = served_shop.shop.products["LAMP-1"]
    assert stored.locales["ar"]["title"] == "مصباح برونزي 1", "ar: the PIM won"
    assert stored.locales["fr"]["title"] == "Lampe dorée 1", "fr: the channel kept its title"
    values = await pim_values(gql, "LAMP-1")
    assert values[("name", "fr_FR")] == "Lampe en bronze 1", "an EXPORT mapping never writes into the PIM"
    mark = len(served_shop.shop.requests)
    await sync(gql, worker)
    assert sent_since(served_shop, mark) == [] and await pending(gql, "LAMP-1") == []


async def test_channel_wins_on_a_both_mapping_takes_the_value_into_the_pim(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    await set_up_catalog(gql)
    await create_connector(gql, served_shop, conflictStrategy="MANUAL")
    assert (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": MAPPINGS}))["saveMappings"]["userErrors"] == []
    await upsert(gql, lamp(1))
    await sync(gql, worker)
    served_shop.shop.edit("LAMP-1", locales={"fr": {"description": "<p>Abat-jour en soie</p>"}})
    await upsert(gql, lamp(1, fr_body="<p>Abat-jour en coton</p>"))
    await sync(gql, worker, "INCREMENTAL")
    [conflict] = await pending(gql, "LAMP-1")
    assert conflict["fields"][0]["field"] == "description" and conflict["fields"][0]["direction"] == "BOTH"
    await resolve(gql, conflict, "CHANNEL_WINS")
    assert (await applied(gql, conflict["id"], worker))["applyError"] is None
    assert (await pim_values(gql, "LAMP-1"))[("description", "fr_FR")] == "<p>Abat-jour en soie</p>"
    mark = len(served_shop.shop.requests)
    await sync(gql, worker)
    assert sent_since(served_shop, mark) == [], "the imported value bounced back as an export"


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("47,50", "'47,50' is not a number"),
        ("1e999999999", "the EUR amount '1E+999999999' has 1000000000 digits before the decimal point, at most 18"),
    ],
)
async def test_a_channel_value_the_pim_cannot_take_is_reported_as_the_pims_refusal_not_the_channels(
    gql: GraphQLClient,
    served_shop: ServedShop,
    worker: WorkerProcess,
    db: Database,
    tenant: TenantHandle,
    typed: str,
    why: str,
) -> None:
    """CHANNEL_WINS on a BOTH price the merchant typed with a decimal comma ("47,50"): the PIM cannot take it as a
    price, so the decision is not carried out. applyError used to say "refused by the channel", sending the user to
    the shop, which refused nothing; it now says the PIM could not take the shop's value, and why. A price of a
    billion digits is refused by its digits, before being written out (a gigabyte, and seconds of the worker). The
    why quotes the value, which a token without catalog.view (refused the conflict's values) read there too: it now
    reads the code, and that the words are hidden."""
    await set_up_catalog(gql)
    await create_connector(gql, served_shop, conflictStrategy="MANUAL")
    both_price = [*MAPPINGS[:2], {"attributeCode": "price", "channelField": "price", "direction": "BOTH"}]
    assert (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": both_price}))["saveMappings"]["userErrors"] == []
    await upsert(gql, lamp(1))
    await sync(gql, worker)
    served_shop.shop.edit("LAMP-1", fields={"price": typed})
    changed = lamp(1)
    changed["values"][-1] = value("price", {"EUR": "44.00"})
    await upsert(gql, changed)
    await sync(gql, worker, "INCREMENTAL")
    [conflict] = await pending(gql, "LAMP-1")
    assert [d["channelValue"] for f in conflict["fields"] for d in f["diffs"]] == [typed]
    await resolve(gql, conflict, "CHANNEL_WINS")
    done = await applied(gql, conflict["id"], worker)
    assert done["applyError"] == f"failed: CHN-011: price: the PIM cannot take the channel's value: {why}", done
    assert (await pim_values(gql, "LAMP-1"))[("price", None)] == {"EUR": "44.00"}
    conflicts_only = (await make_tenant(db, (Scope.CONFLICTS_VIEW,), code=tenant.code)).token
    shown = (await gql(APPLIED, {"id": conflict["id"]}, token=conflicts_only))["conflict"]
    assert shown["applyError"] == f"failed: CHN-011 ({VALUES_HIDDEN})", shown


@pytest.mark.parametrize(
    ("typed", "why"),
    [
        ("Infinity", "'Infinity' is not a number"),
        ("NaN", "'NaN' is not a number"),
        ("sNaN", "'sNaN' is not a number"),
        ("1e999999", "a whole number this large cannot be stored (it is beyond 64 bits and a double's range)"),
    ],
)
async def test_a_channel_number_that_is_no_amount_is_refused_as_one_not_a_crash(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess, typed: str, why: str
) -> None:
    """CHANNEL_WINS on a BOTH stock count the channel holds as "Infinity" (or NaN, or a million digits): the PIM
    cannot take it, and says so as it does for "47,50". It used to fail the apply with whatever Python raised
    turning it into a whole number (OverflowError: cannot convert Infinity to integer), or take NaN in."""
    await set_up_catalog(gql)
    await create_connector(gql, served_shop, conflictStrategy="MANUAL")
    both_stock = [*MAPPINGS, {"attributeCode": "stock", "channelField": "quantity", "direction": "BOTH"}]
    assert (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": both_stock}))["saveMappings"]["userErrors"] == []
    stocked = lamp(1)
    stocked["values"].append(value("stock", 10))
    await upsert(gql, stocked)
    await sync(gql, worker)
    served_shop.shop.edit("LAMP-1", fields={"quantity": typed})
    stocked["values"][-1] = value("stock", 12)
    await upsert(gql, stocked)
    await sync(gql, worker, "INCREMENTAL")
    [conflict] = await pending(gql, "LAMP-1")
    await resolve(gql, conflict, "CHANNEL_WINS")
    done = await applied(gql, conflict["id"], worker)
    assert done["applyError"].startswith(f"failed: CHN-011: quantity: the PIM cannot take the channel's value: {why}")
    assert (await pim_values(gql, "LAMP-1"))[("stock", None)] == 12


async def test_dismissed_leaves_both_sides_and_is_not_raised_again(
    titles_at_odds: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    gql = titles_at_odds
    [conflict] = await pending(gql, "LAMP-2")
    await resolve(gql, conflict, "DISMISSED")
    assert (await applied(gql, conflict["id"], worker))["applyError"] is None
    assert served_shop.shop.products["LAMP-2"].locales["ar"]["title"] == "مصباح ذهبي 2"
    await sync(gql, worker)
    assert [c["productSku"] for c in await pending(gql)] == ["LAMP-1"]


async def test_bulk_rule_decides_every_arabic_title_and_leaves_french_pending(
    titles_at_odds: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    gql = titles_at_odds
    rule = {"connectorCode": "shop", "field": "title", "pimLocale": "ar_AE"}
    result = (await gql(BULK, {"filter": rule, "resolution": "CHANNEL_WINS"}))["bulkResolveConflicts"]
    assert result == {"resolvedCount": 2, "userErrors": []}
    left = await pending(gql)
    assert sorted(c["productSku"] for c in left) == ["LAMP-1", "LAMP-2"]
    assert {d["pimLocale"] for c in left for f in c["fields"] for d in f["diffs"]} == {"fr_FR"}
    decided = (await gql(CONFLICTS, {"code": "shop", "first": 10, "status": "CHANNEL_WINS"}))["conflicts"]["edges"]
    for edge in decided:
        assert (await applied(gql, edge["node"]["id"], worker))["applyError"] is None
    for number in (1, 2):
        assert served_shop.shop.products[f"LAMP-{number}"].locales["ar"]["title"] == f"مصباح ذهبي {number}"
    await sync(gql, worker)
    assert {d["pimLocale"] for c in await pending(gql) for f in c["fields"] for d in f["diffs"]} == {"fr_FR"}


async def test_a_value_that_moved_on_since_it_was_shown_is_not_overwritten_blindly(
    titles_at_odds: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    gql = titles_at_odds
    [conflict] = await pending(gql, "LAMP-1")
    served_shop.shop.edit("LAMP-1", locales={"ar": {"title": "مصباح فضي 1"}})  # while the person reads the diff
    await resolve(gql, conflict, "PIM_WINS")
    done = await applied(gql, conflict["id"], worker)
    assert done["applyError"] and "CHN-041" in done["applyError"] and "title (ar_AE)" in done["applyError"]
    stored = served_shop.shop.products["LAMP-1"]
    assert stored.locales["ar"]["title"] == "مصباح فضي 1", "the newer channel value was overwritten"
    assert stored.locales["fr"]["title"] == "Lampe en bronze 1", "fr had not moved: the decision applies"
    [reopened] = await pending(gql, "LAMP-1")
    assert [(d["pimLocale"], d["channelValue"]) for f in reopened["fields"] for d in f["diffs"]] == [
        ("ar_AE", "مصباح فضي 1")
    ]


@pytest.mark.parametrize(
    ("resolution", "recreated"), [("PIM_WINS", True), ("CHANNEL_WINS", False)], ids=["pim-wins", "channel-wins"]
)
async def test_a_product_gone_from_the_channel_is_recreated_or_left_off_as_decided(
    titles_at_odds: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess, resolution: str, recreated: bool
) -> None:
    gql = titles_at_odds
    [first] = await pending(gql, "LAMP-2")
    await resolve(gql, first, "DISMISSED")
    await applied(gql, first["id"], worker)
    gone = served_shop.shop.products.pop("LAMP-2")
    await sync(gql, worker)
    [conflict] = await pending(gql, "LAMP-2")
    assert conflict["conflictType"] == "missing_on_channel"
    assert "LAMP-2" not in served_shop.shop.products, "re-created without a decision"
    await resolve(gql, conflict, resolution)
    assert (await applied(gql, conflict["id"], worker))["applyError"] is None
    assert ("LAMP-2" in served_shop.shop.products) is recreated
    if recreated:
        assert served_shop.shop.products["LAMP-2"].external_id != gone.external_id
    mark = len(served_shop.shop.requests)
    await sync(gql, worker)
    assert await pending(gql, "LAMP-2") == [] and ("LAMP-2" in served_shop.shop.products) is recreated
    assert [p["sku"] for p in sent_since(served_shop, mark)] == []


async def test_a_conflict_whose_product_was_deleted_from_the_catalog_is_refused_rather_than_decided_for_nothing(
    titles_at_odds: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """LAMP-1 is deleted from the PIM while its conflict waits. Deciding PIM_WINS or CHANNEL_WINS for it, one by
    one or in bulk, used to be accepted and then 'applied' doing nothing (a deleted product has no values to send
    nor to take the channel's into), with no word of it. It is now refused with CHN-041 saying why, the conflict
    stays as it was, and DISMISSED takes it off the queue."""
    gql = titles_at_odds
    [conflict] = await pending(gql, "LAMP-1")
    deleted = (await gql(DELETE_PRODUCTS, {"skus": ["LAMP-1"]}))["deleteProducts"]
    assert deleted["userErrors"] == []
    for resolution in ("PIM_WINS", "CHANNEL_WINS"):
        given = {"resolution": resolution, "expectedVersion": conflict["version"]}
        refused = (await gql(RESOLVE, {"id": conflict["id"], "input": given}))["resolveConflict"]
        assert refused["conflict"] is None
        [error] = refused["userErrors"]
        assert error["code"] == "CHN-041" and "LAMP-1 was deleted from the catalog" in error["message"], error
        by_ids = (await gql(BULK, {"ids": [conflict["id"]], "resolution": resolution}))["bulkResolveConflicts"]
        assert by_ids["resolvedCount"] == 0 and [e["code"] for e in by_ids["userErrors"]] == ["CHN-041"]
    # DISMISSED overall, but a field's override still asks to send the PIM's title: not a dismissal either.
    overridden = {
        "resolution": "DISMISSED",
        "expectedVersion": conflict["version"],
        "fieldOverrides": [{"field": "title", "resolution": "PIM_WINS"}],
    }
    refused = (await gql(RESOLVE, {"id": conflict["id"], "input": overridden}))["resolveConflict"]
    assert [e["code"] for e in refused["userErrors"]] == ["CHN-041"], refused
    rule = {"connectorCode": "shop", "field": "title"}
    by_rule = (await gql(BULK, {"filter": rule, "resolution": "PIM_WINS"}))["bulkResolveConflicts"]
    assert by_rule == {"resolvedCount": 1, "userErrors": []}, "LAMP-2's conflict is decided, LAMP-1's is not"
    assert [c["productSku"] for c in await pending(gql)] == ["LAMP-1"]

    await resolve(gql, conflict, "DISMISSED")
    assert (await applied(gql, conflict["id"], worker))["applyError"] is None
    assert await pending(gql) == []


async def test_a_decision_whose_product_is_deleted_before_it_is_carried_out_says_so(
    titles_at_odds: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """PIM_WINS is decided while the connector is paused (decisions wait for resumeConnector), and LAMP-1 is deleted
    from the PIM meanwhile. Once resumed, the decision used to be reported as not carried out because "the connector
    no longer syncs it (its mappings changed ...)", sending the user to look at mappings that never changed (and a
    missing product's PIM_WINS read as applied with no error at all); it now names the deleted product."""
    gql = titles_at_odds
    [conflict] = await pending(gql, "LAMP-1")
    assert (await gql(PAUSE))["pauseConnector"]["connector"]["status"] == "PAUSED"
    await resolve(gql, conflict, "PIM_WINS")
    assert (await gql(DELETE_PRODUCTS, {"skus": ["LAMP-1"]}))["deleteProducts"]["userErrors"] == []
    assert (await gql(RESUME))["resumeConnector"]["connector"]["status"] == "CONNECTED"
    done = await applied(gql, conflict["id"], worker)
    assert (
        done["applyError"]
        == "CHN-041: not carried out: product LAMP-1 was deleted from the catalog before it was applied"
    )
    assert served_shop.shop.products["LAMP-1"].locales["fr"]["title"] == "Lampe dorée 1"


async def test_a_decided_conflict_cannot_be_decided_again(titles_at_odds: GraphQLClient) -> None:
    [conflict] = await pending(titles_at_odds, "LAMP-1")
    await resolve(titles_at_odds, conflict, "PIM_WINS")
    again = {"resolution": "CHANNEL_WINS"}
    refused = (await titles_at_odds(RESOLVE, {"id": conflict["id"], "input": again}))["resolveConflict"]
    assert [e["code"] for e in refused["userErrors"]] == ["CHN-041"]
    assert (await titles_at_odds(CONFLICT, {"id": conflict["id"]}))["conflict"]["resolutionStatus"] == "PIM_WINS"


async def test_a_conflict_resolved_while_its_connector_is_deleted_is_not_found_rather_than_a_deadlock(
    titles_at_odds: GraphQLClient, container: Container, tenant: TenantHandle
) -> None:
    """A resolution locked the conflict's row and then, for its event's foreign key, the connector's; deleting the
    connector locks them the other way round, and PostgreSQL aborted one of the two. The resolution now holds the
    connector first, so it waits for the delete and finds no conflict."""
    [conflict] = await pending(titles_at_odds, "LAMP-1")
    decide = {"id": conflict["id"], "input": {"resolution": "PIM_WINS", "expectedVersion": conflict["version"]}}
    async with container.db.transaction() as session:
        connectors = ConnectorRepository(session)
        connector = await connectors.by_code(tenant.id, "shop", for_update=True)
        assert connector is not None
        resolving = asyncio.create_task(titles_at_odds(RESOLVE, decide))
        await until_a_writer_waits(container.db)
        await connectors.delete(connector)
    refused = (await asyncio.wait_for(resolving, timeout=30))["resolveConflict"]
    assert [(e["message"], e["code"]) for e in refused["userErrors"]] == [("conflict not found", "CHN-041")]


async def test_a_resolution_made_while_the_shop_is_down_is_applied_once_it_answers(
    titles_at_odds: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """The worker's own retries run out on five 503s; the task comes back later instead of dropping the decision."""
    [conflict] = await pending(titles_at_odds, "LAMP-1")
    served_shop.shop.fail_next(5, status=503, only="GET /products")
    await resolve(titles_at_odds, conflict, "PIM_WINS")
    done = await applied(titles_at_odds, conflict["id"], worker, within=60)
    assert done["applyError"] is None, done
    assert served_shop.shop.products["LAMP-1"].locales["fr"]["title"] == "Lampe en bronze 1"
    refused = [r for r in served_shop.shop.requests if r.method == "GET" and r.status == 503]
    assert len(refused) == 5


async def test_a_resolution_the_shop_refuses_to_authorise_waits_for_the_connector_to_be_resumed(
    titles_at_odds: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """The refusal puts the connector in ERROR, as a sync's would; the decision stands, and is carried out once
    the credentials are right again and the connector is resumed."""
    [conflict] = await pending(titles_at_odds, "LAMP-1")
    secret = served_shop.shop.signing_secret
    served_shop.shop.rotate_secret_after(0, "a-secret-the-service-does-not-know")
    await resolve(titles_at_odds, conflict, "PIM_WINS")
    deadline = time.monotonic() + 30
    while (connector := (await titles_at_odds(CONNECTOR, {"code": "shop"}))["connector"])["status"] != "ERROR":
        assert time.monotonic() < deadline, f"the refusal never reached the connector\n{worker.output()}"
        await asyncio.sleep(0.2)
    assert "CHN-003" in connector["statusReason"], "syncs would fail the same way"
    waiting = (await titles_at_odds(APPLIED, {"id": conflict["id"]}))["conflict"]
    assert (waiting["appliedAt"], waiting["applyError"]) == (None, None), "the decision was dropped"
    assert served_shop.shop.products["LAMP-1"].locales["fr"]["title"] == "Lampe dorée 1", "nothing was written"

    served_shop.shop.rotate_secret_after(0, secret)
    resumed = (await titles_at_odds(RESUME))["resumeConnector"]["connector"]
    assert resumed["status"] == "CONNECTED"
    done = await applied(titles_at_odds, conflict["id"], worker)
    assert done["applyError"] is None and done["appliedAt"] is not None
    assert served_shop.shop.products["LAMP-1"].locales["fr"]["title"] == "Lampe en bronze 1"


async def unmap_arabic(gql: GraphQLClient) -> None:
    settings = {"settings": {"localeMapping": WITHOUT_ARABIC}}
    updated = (await gql(UPDATE_CONNECTOR, {"code": "shop", "input": settings}))["updateConnector"]
    assert updated["userErrors"] == []


async def test_a_conflict_left_only_in_a_locale_no_longer_mapped_is_closed_by_the_next_sync(
    titles_at_odds: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """It was left PENDING on every sync, the product's listing in `conflict`, for a locale nothing checks any more."""
    gql = titles_at_odds
    served_shop.shop.edit("LAMP-1", locales={"fr": {"title": "Lampe en bronze 1"}})  # fr: both sides agree now
    await unmap_arabic(gql)
    [held] = await pending(gql, "LAMP-1")
    await sync(gql, worker)
    assert await pending(gql, "LAMP-1") == []
    closed = (await gql(CONFLICT, {"id": held["id"]}))["conflict"]
    assert closed["resolutionStatus"] == "DISMISSED"
    assert closed["resolvedBy"] == "sync: both sides agree now; no longer mapped: title[ar]"
    assert (await gql(LISTING_STATUS, {"sku": "LAMP-1"}))["product"]["listings"] == [{"status": "synced"}]
    assert served_shop.shop.products["LAMP-1"].locales["ar"]["title"] == "مصباح ذهبي 1", "ar is left alone"
    [other] = await pending(gql, "LAMP-2")
    assert [d["pimLocale"] for f in other["fields"] for d in f["diffs"]] == ["fr_FR"]


async def test_a_choice_for_a_locale_unmapped_since_it_was_detected_is_reported_as_not_carried_out(
    titles_at_odds: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """The resolution read as applied in full (applyError null) while the Arabic title it chose was never sent."""
    gql = titles_at_odds
    await unmap_arabic(gql)
    [conflict] = await pending(gql, "LAMP-1")
    await resolve(gql, conflict, "PIM_WINS")
    done = await applied(gql, conflict["id"], worker)
    assert done["appliedAt"] is not None
    assert done["applyError"] == (
        "CHN-041: not carried out, since the connector no longer syncs it (its mappings changed, or the product is "
        "off the channel): title (ar_AE)"
    )
    stored = served_shop.shop.products["LAMP-1"]
    assert stored.locales["fr"]["title"] == "Lampe en bronze 1", "fr is still mapped: the decision applies"
    assert stored.locales["ar"]["title"] == "مصباح ذهبي 1"


@pytest.mark.parametrize(
    ("error", "hidden"),
    [
        (
            "failed: CHN-011: price: '47,50' is not a number; CHN-010: title is required",
            "failed: CHN-011, CHN-010 ({})",
        ),
        (
            "CHN-041: changed since the resolution, so left to the connector's strategy: title (ar_AE); "
            "failed: CHN-011: price: '47,50' is not a number",
            "CHN-041: changed since the resolution, so left to the connector's strategy: title (ar_AE); "
            "failed: CHN-011 ({})",
        ),
        ("CHN-041: not carried out: product LAMP-1 was deleted from the catalog before it was applied", None),
    ],
)
def test_an_apply_error_read_without_catalog_view_keeps_its_codes_and_the_fields_it_names(
    error: str, hidden: str | None
) -> None:
    """Only the failed check's words go (they may quote values); the fields and locales CHN-041 names stay."""
    assert apply_error_without_values(error) == (error if hidden is None else hidden.format(VALUES_HIDDEN))
