"""Conflicts over GraphQL: listing, reading, resolving one or many (CHN-041), counts, scopes and conflictDetected."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from arq import Retry
from arq.constants import job_key_prefix
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from app.container import Container
from app.db.base import utcnow
from app.db.engine import Database
from app.domain.conflicts import Resolution, choice_for
from app.domain.scopes import ALL_SCOPES, Scope
from app.main import create_app
from app.repositories.events import EventRepository
from app.services.conflicts import apply as apply_module
from app.services.conflicts import service as service_module
from app.services.conflicts.apply import recover_resolutions
from app.services.conflicts.notify import publish_conflict
from app.services.conflicts.queue import APPLY_TASK
from app.services.sync.queue import PLAN_TASK
from app.services.tokens import MAX_NAME_LENGTH, TokenService
from app.services.webhooks import PROCESS_TASK, enqueue_delivery
from app.settings import Settings
from tests.conflict_fixtures import (
    AR_BODY,
    AR_TITLE,
    BULK,
    CONFLICT,
    CONFLICTS,
    FR_BODY,
    FR_TITLE,
    PRICE,
    RESOLVE,
    SKUS,
    Shop,
    body,
    diff,
    field,
    gid,
    open_shop,
    title,
)
from tests.conftest import GraphQLClient, QueryCounter, TenantHandle, make_tenant
from tests.connector_fixtures import SAVE_MAPPINGS, ServedShop, served_shop
from tests.emulators import serve
from tests.ports import UNREACHABLE_POSTGRES, closed_port
from tests.sync_fixtures import trigger
from workers.tasks.conflicts import apply_conflict_resolution

__all__ = ["served_shop"]


@pytest.fixture
async def shop(gql: GraphQLClient, served_shop: ServedShop, db: Database, tenant: TenantHandle) -> Shop:
    return await open_shop(gql, served_shop, db, tenant, ("store_x", "store_y"))


TURNS = Settings.model_fields["checks_per_connector"].default
"""A connector's resolutions queued at a time (conflicts.queue.take_apply_turns); the others wait their turn."""


async def apply_jobs(container: Container, settings: Settings) -> dict[int, str]:
    """conflict id -> arq job id of every queued apply task."""
    jobs = await container.redis.queued_jobs(queue_name=settings.queue_name)
    return {job.kwargs["conflict_id"]: str(job.job_id) for job in jobs if job.function == APPLY_TASK}


@pytest.fixture(autouse=True)
async def drain_apply_jobs(container: Container, settings: Settings) -> AsyncIterator[None]:
    """No worker runs here: leave no apply job behind for the workers of other tests."""
    yield
    for job_id in (await apply_jobs(container, settings)).values():
        await container.redis.zrem(settings.queue_name, job_id)
        await container.redis.delete(job_key_prefix + job_id)


async def resolve(gql: GraphQLClient, pk: int, **input: Any) -> dict[str, Any]:
    return dict((await gql(RESOLVE, {"id": gid(pk), "input": input}))["resolveConflict"])


async def bulk(gql: GraphQLClient, resolution: str, **arguments: Any) -> dict[str, Any]:
    return dict((await gql(BULK, {"resolution": resolution, **arguments}))["bulkResolveConflicts"])


def codes(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    return [(error["field"], error["code"]) for error in payload["userErrors"]]


def encoded(text: str) -> str:
    """An id or cursor encoded the way the API encodes them, around any text (for ones it never hands out)."""
    return base64.urlsafe_b64encode(text.encode()).decode()


# -- reads --------------------------------------------------------------------------------------


async def test_conflicts_list_per_connector_and_across_with_locale_diffs(gql: GraphQLClient, shop: Shop) -> None:
    first = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE, FR_TITLE), field("price", "price", PRICE))
    second = await shop.seed("store_x", "CHAIR-2", body(FR_BODY), status="DISMISSED")
    other = await shop.seed("store_y", "CHAIR-1", title(AR_TITLE))

    everywhere = (await gql(CONFLICTS))["conflicts"]
    assert everywhere["totalCount"] == 3
    assert [edge["node"]["id"] for edge in everywhere["edges"]] == [gid(other), gid(second), gid(first)]
    on_x = (await gql(CONFLICTS, {"code": "store_x"}))["conflicts"]
    assert {edge["node"]["productSku"] for edge in on_x["edges"]} == {"CHAIR-1", "CHAIR-2"}
    pending = (await gql(CONFLICTS, {"code": "store_x", "status": "PENDING"}))["conflicts"]
    assert [edge["node"]["id"] for edge in pending["edges"]] == [gid(first)]
    by_sku = (await gql(CONFLICTS, {"sku": "CHAIR-1"}))["conflicts"]
    assert {edge["node"]["connector"]["code"] for edge in by_sku["edges"]} == {"store_x", "store_y"}
    assert (await gql(CONFLICTS, {"code": "no_such_store"}))["conflicts"]["totalCount"] == 0

    node = pending["edges"][0]["node"]
    assert node["resolutionStatus"] == "PENDING" and node["version"] == 1 and node["resolvedAt"] is None
    assert node["fields"][0] == {
        "field": "title",
        "attributeCode": "name",
        "isLocaleSpecific": True,
        "direction": "EXPORT",
        "diffs": [
            {
                "pimLocale": "ar_AE",
                "channelLocale": "ar",
                "baseValue": "كرسي",
                "pimValue": "كرسي خشبي",
                "channelValue": "كرسي من الخشب",
            },
            {
                "pimLocale": "fr_FR",
                "channelLocale": "fr",
                "baseValue": "Chaise",
                "pimValue": "Chaise en chêne",
                "channelValue": "Chaise en bois",
            },
        ],
    }
    price = node["fields"][1]
    assert price["isLocaleSpecific"] is False and price["diffs"][0]["pimLocale"] is None
    assert price["diffs"][0]["pimValue"] == "21.00"


async def test_connector_conflicts_field_pages_and_filters(gql: GraphQLClient, shop: Shop) -> None:
    await shop.seed("store_x", "CHAIR-1", title(AR_TITLE))
    await shop.seed("store_x", "CHAIR-2", title(FR_TITLE), status="CHANNEL_WINS")
    await shop.seed("store_y", "CHAIR-3", title(FR_TITLE))
    query = """query($status: ResolutionStatus) { connector(code: "store_x") {
        pendingConflictCount conflicts(first: 10, resolutionStatus: $status) { totalCount edges { node { productSku } } }
    } }"""
    everything = (await gql(query))["connector"]
    assert everything["pendingConflictCount"] == 1
    assert everything["conflicts"]["totalCount"] == 2
    decided = (await gql(query, {"status": "CHANNEL_WINS"}))["connector"]["conflicts"]
    assert [edge["node"]["productSku"] for edge in decided["edges"]] == ["CHAIR-2"]


async def test_relay_pagination_walks_every_conflict_once(gql: GraphQLClient, shop: Shop) -> None:
    seeded = [await shop.seed("store_x", sku, title(AR_TITLE)) for sku in ("CHAIR-1", "CHAIR-2", "CHAIR-3")]
    seeded += [await shop.seed("store_y", sku, title(FR_TITLE)) for sku in ("CHAIR-4", "CHAIR-5")]
    seen: list[str] = []
    after = None
    pages = []
    while True:
        page = (await gql(CONFLICTS, {"first": 2, "after": after}))["conflicts"]
        assert page["totalCount"] == 5
        pages.append(page["pageInfo"])
        seen += [edge["node"]["id"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [gid(pk) for pk in reversed(seeded)]
    assert [info["hasPreviousPage"] for info in pages] == [False, True, True]
    errors = await gql.errors('{ conflicts(after: "garbage") { totalCount } }')
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_conflict_and_node_by_id(gql: GraphQLClient, shop: Shop) -> None:
    pk = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE))
    one = (await gql(CONFLICT, {"id": gid(pk)}))["conflict"]
    assert one["productSku"] == "CHAIR-1" and one["connector"]["code"] == "store_x"
    node = await gql("query($id: ID!) { node(id: $id) { id ... on Conflict { productSku } } }", {"id": gid(pk)})
    assert node["node"] == {"id": gid(pk), "productSku": "CHAIR-1"}
    assert (await gql(CONFLICT, {"id": gid(pk + 10_000)}))["conflict"] is None


async def test_ids_and_cursors_of_numbers_no_row_can_have_are_refused_as_bad_ids(
    gql: GraphQLClient, shop: Shop
) -> None:
    """Above the 32-bit key range, zero, or spelled another way than the API spells it: each is a bad id."""
    pk = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE))
    for number in (str(10**20), str(2**31), "0", f"0{pk}", f"+{pk}", f" {pk}", f"{pk}_0"):
        bad = encoded(f"Conflict:{number}")
        for query in (CONFLICT, "query($id: ID!) { node(id: $id) { id } }"):
            assert (await gql.errors(query, {"id": bad}))[0]["extensions"]["code"] == "BAD_USER_INPUT", number
        paging = await gql.errors(CONFLICTS, {"after": encoded(f"cursor/Conflict:{number}")})
        assert paging[0]["extensions"]["code"] == "BAD_USER_INPUT", number
        resolved = (await gql(RESOLVE, {"id": bad, "input": {"resolution": "PIM_WINS"}}))["resolveConflict"]
        assert codes(resolved) == [(["id"], "CHN-041")], number
        assert codes(await bulk(gql, "DISMISSED", ids=[gid(pk), bad])) == [(["ids", "1"], "CHN-041")], number
    assert (await shop.row(pk)).resolution_status == "PENDING"


async def test_another_tenant_can_neither_see_nor_resolve(
    gql: GraphQLClient, client: httpx.AsyncClient, db: Database, shop: Shop, container: Container, settings: Settings
) -> None:
    pk = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE))
    stranger = GraphQLClient(client, (await make_tenant(db)).token)
    assert (await stranger(CONFLICT, {"id": gid(pk)}))["conflict"] is None
    node = await stranger("query($id: ID!) { node(id: $id) { id } }", {"id": gid(pk)})
    assert node["node"] is None
    assert (await stranger(CONFLICTS))["conflicts"]["totalCount"] == 0
    refused = await resolve(stranger, pk, resolution="PIM_WINS")
    assert codes(refused) == [(["id"], "CHN-041")] and refused["conflict"] is None
    by_id = await bulk(stranger, "PIM_WINS", ids=[gid(pk)])
    assert by_id["resolvedCount"] == 0 and codes(by_id) == [(["ids", "0"], "CHN-041")]
    assert (await bulk(stranger, "PIM_WINS", filter={"productSku": "CHAIR-1"}))["resolvedCount"] == 0
    assert (await shop.row(pk)).resolution_status == "PENDING"
    assert await apply_jobs(container, settings) == {}


async def test_pending_conflict_count_costs_the_same_queries_for_any_page(
    gql: GraphQLClient, served_shop: ServedShop, db: Database, tenant: TenantHandle, sql_counter: QueryCounter
) -> None:
    shop = await open_shop(gql, served_shop, db, tenant, ("s1", "s2", "s3", "s4"))
    await shop.seed("s1", "CHAIR-1", title(AR_TITLE))
    await shop.seed("s1", "CHAIR-2", title(AR_TITLE))
    await shop.seed("s1", "CHAIR-3", title(AR_TITLE), status="PIM_WINS")
    await shop.seed("s2", "CHAIR-1", title(FR_TITLE))
    await shop.seed("s4", "CHAIR-5", body(AR_BODY), status="DISMISSED")
    query = "query($first: Int) { connectors(first: $first) { edges { node { code pendingConflictCount } } } }"
    counts = []
    for first in (1, 4):
        sql_counter.statements.clear()
        edges = (await gql(query, {"first": first}))["connectors"]["edges"]
        counts.append(len(sql_counter.statements))
    assert {edge["node"]["code"]: edge["node"]["pendingConflictCount"] for edge in edges} == {
        "s1": 2,
        "s2": 1,
        "s3": 0,
        "s4": 0,
    }
    assert counts[0] == counts[1], sql_counter.statements


async def test_each_connectors_conflicts_cost_the_same_queries_for_any_page(
    gql: GraphQLClient, served_shop: ServedShop, db: Database, tenant: TenantHandle, sql_counter: QueryCounter
) -> None:
    """A list of stores, each with its newest conflicts: the nested pages come by one loader, not a query each."""
    shop = await open_shop(gql, served_shop, db, tenant, ("s1", "s2", "s3", "s4"))
    await shop.seed("s1", "CHAIR-1", title(AR_TITLE))
    await shop.seed("s1", "CHAIR-2", title(AR_TITLE), status="PIM_WINS")
    await shop.seed("s1", "CHAIR-3", title(AR_TITLE))
    await shop.seed("s2", "CHAIR-1", title(FR_TITLE))
    await shop.seed("s4", "CHAIR-5", body(AR_BODY), status="DISMISSED")
    query = """query($first: Int, $status: ResolutionStatus) { connectors(first: $first) { edges { node {
      code conflicts(first: 1, resolutionStatus: $status) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { productSku } }
      } } } } }"""
    counts, pages = [], {}
    for first in (1, 4):
        sql_counter.statements.clear()
        edges = (await gql(query, {"first": first}))["connectors"]["edges"]
        counts.append(len(sql_counter.statements))
        pages = {edge["node"]["code"]: edge["node"]["conflicts"] for edge in edges}
    assert counts[0] == counts[1], sql_counter.statements
    shown = {
        code: ([e["node"]["productSku"] for e in page["edges"]], page["totalCount"]) for code, page in pages.items()
    }
    assert shown == {"s1": (["CHAIR-3"], 3), "s2": (["CHAIR-1"], 1), "s3": ([], 0), "s4": (["CHAIR-5"], 1)}
    assert [pages[code]["pageInfo"]["hasNextPage"] for code in ("s1", "s2", "s3", "s4")] == [True, False, False, False]
    pending = (await gql(query, {"status": "PENDING"}))["connectors"]["edges"]
    assert {edge["node"]["code"]: edge["node"]["conflicts"]["totalCount"] for edge in pending} == {
        "s1": 2,
        "s2": 1,
        "s3": 0,
        "s4": 0,
    }
    rest = """query($after: String) { connector(code: "s1") { conflicts(first: 5, after: $after) {
      pageInfo { hasNextPage hasPreviousPage } edges { node { productSku } } } } }"""
    second = (await gql(rest, {"after": pages["s1"]["pageInfo"]["endCursor"]}))["connector"]["conflicts"]
    assert [edge["node"]["productSku"] for edge in second["edges"]] == ["CHAIR-2", "CHAIR-1"]
    assert second["pageInfo"] == {"hasNextPage": False, "hasPreviousPage": True}


# -- resolving one ------------------------------------------------------------------------------


@pytest.mark.parametrize("resolution", ["PIM_WINS", "CHANNEL_WINS", "DISMISSED"])
async def test_resolve_records_the_choice_and_queues_its_application(
    gql: GraphQLClient, shop: Shop, db: Database, container: Container, settings: Settings, resolution: str
) -> None:
    pk = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE, FR_TITLE))
    payload = await resolve(gql, pk, resolution=resolution, expectedVersion=1)
    assert payload["userErrors"] == []
    conflict = payload["conflict"]
    assert conflict["resolutionStatus"] == resolution and conflict["resolvedAt"] is not None
    assert conflict["resolvedBy"] == "token:test"
    assert conflict["resolution"] == {"resolution": resolution, "overrides": []}
    assert (await gql(CONFLICT, {"id": gid(pk)}))["conflict"]["resolutionStatus"] == resolution
    assert pk in await apply_jobs(container, settings)
    async with db.reader() as session:
        events = await EventRepository(session).latest(shop.tenant_id, limit=5)
    assert any(e.kind == "conflict.resolved" and e.payload["conflict"] == pk for e in events)


async def test_a_token_with_the_longest_name_resolves_a_conflict_on_every_database(
    gql: GraphQLClient, shop: Shop, db: Database, tenant: TenantHandle
) -> None:
    """The decision is recorded as "token:<name>" in a column of 200 characters: a name of 195 or more failed the
    resolution with a server error on PostgreSQL (SQLite does not hold text to its column's size)."""
    name = "n" * MAX_NAME_LENGTH
    async with db.transaction() as session:
        issued = await TokenService(session).issue(tenant_code=tenant.code, scopes=list(ALL_SCOPES), name=name)
    pk = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE))
    body = (await gql.raw(RESOLVE, {"id": gid(pk), "input": {"resolution": "PIM_WINS"}}, token=issued.secret)).json()
    assert "errors" not in body, body["errors"]
    resolved_by = body["data"]["resolveConflict"]["conflict"]["resolvedBy"]
    assert resolved_by.startswith("token:nnn") and len(resolved_by) <= 200
    assert (await shop.row(pk)).resolution_status == "PIM_WINS"


async def test_overrides_per_field_and_locale_make_it_merged(gql: GraphQLClient, shop: Shop) -> None:
    pk = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE, FR_TITLE), body(AR_BODY))
    payload = await resolve(
        gql,
        pk,
        resolution="PIM_WINS",
        fieldOverrides=[
            {"field": "title", "resolution": "CHANNEL_WINS", "locales": ["ar-AE"]},
            {"field": "body_html", "resolution": "DISMISSED"},
        ],
    )
    assert payload["userErrors"] == [] and payload["conflict"]["resolutionStatus"] == "MERGED"
    stored = (await shop.row(pk)).resolution
    assert stored is not None
    assert choice_for(stored, "title", "ar_AE") is Resolution.CHANNEL_WINS
    assert choice_for(stored, "title", "fr_FR") is Resolution.PIM_WINS
    assert choice_for(stored, "body_html", "ar_AE") is Resolution.DISMISSED


async def test_an_already_resolved_conflict_is_not_decided_again(
    gql: GraphQLClient, shop: Shop, container: Container, settings: Settings
) -> None:
    pk = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE))
    assert (await resolve(gql, pk, resolution="CHANNEL_WINS"))["userErrors"] == []
    first_job = (await apply_jobs(container, settings))[pk]
    again = await resolve(gql, pk, resolution="PIM_WINS")
    assert codes(again) == [(["id"], "CHN-041")] and "already resolved" in again["userErrors"][0]["message"]
    assert again["conflict"] is None
    assert (await shop.row(pk)).resolution_status == "CHANNEL_WINS"
    assert await apply_jobs(container, settings) == {pk: first_job}


async def test_a_conflict_changed_since_it_was_shown_is_refused(
    gql: GraphQLClient, shop: Shop, container: Container, settings: Settings
) -> None:
    pk = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE), version=3)
    stale = await resolve(gql, pk, resolution="PIM_WINS", expectedVersion=2)
    assert codes(stale) == [(["input", "expectedVersion"], "CHN-041")]
    assert "changed since it was shown" in stale["userErrors"][0]["message"]
    assert (await shop.row(pk)).resolution_status == "PENDING"
    assert pk not in await apply_jobs(container, settings)
    assert (await resolve(gql, pk, resolution="PIM_WINS", expectedVersion=3))["userErrors"] == []


async def test_overrides_must_name_what_the_conflict_holds(gql: GraphQLClient, shop: Shop) -> None:
    pk = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE, FR_TITLE))
    payload = await resolve(
        gql,
        pk,
        resolution="PIM_WINS",
        fieldOverrides=[
            {"field": "title", "resolution": "CHANNEL_WINS", "locales": ["fr_FR", "de_DE"]},
            {"field": "vendor", "resolution": "CHANNEL_WINS"},
        ],
    )
    assert codes(payload) == [
        (["input", "fieldOverrides", "0", "locales"], "CHN-041"),
        (["input", "fieldOverrides", "1", "field"], "CHN-041"),
    ]
    assert "de_DE" in payload["userErrors"][0]["message"] and "vendor" in payload["userErrors"][1]["message"]
    assert (await shop.row(pk)).resolution_status == "PENDING"
    bad_id = await gql(RESOLVE, {"id": "not-an-id", "input": {"resolution": "PIM_WINS"}})
    assert codes(bad_id["resolveConflict"]) == [(["id"], "CHN-041")]


async def test_an_override_by_locale_of_a_field_fed_by_one_value_for_every_locale_says_why_it_cannot_be(
    gql: GraphQLClient, shop: Shop
) -> None:
    """A title read from a name that is not localizable shows one diff per channel locale (isLocaleSpecific), so a
    person picks a locale: "no conflict in fr_FR (it has: no locale-specific values)" read as a contradiction."""
    shared_name = field("title", "name", diff(None, "fr", "Chair", "Chair v2", "Chaise (boutique)"))
    pk = await shop.seed("store_x", "CHAIR-1", shared_name)
    payload = await resolve(
        gql,
        pk,
        resolution="PIM_WINS",
        fieldOverrides=[{"field": "title", "resolution": "CHANNEL_WINS", "locales": ["fr_FR"]}],
    )
    assert payload["userErrors"] == [
        {
            "field": ["input", "fieldOverrides", "0", "locales"],
            "message": "field 'title' is fed by name, whose value is the same in every locale: decide it for "
            "every locale at once (leave locales out)",
            "code": "CHN-041",
        }
    ]
    assert (await shop.row(pk)).resolution_status == "PENDING"


async def test_each_override_must_decide_something_and_nothing_twice(
    gql: GraphQLClient, shop: Shop, container: Container, settings: Settings
) -> None:
    pk = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE, FR_TITLE), field("price", "price", PRICE))
    overrides = [
        {"field": "title", "resolution": "CHANNEL_WINS", "locales": []},
        {"field": "title", "resolution": "CHANNEL_WINS", "locales": ["ar_AE"]},
        {"field": "title", "resolution": "PIM_WINS"},
        {"field": "price", "resolution": "CHANNEL_WINS"},
        {"field": "price", "resolution": "DISMISSED"},
        {"field": "title", "resolution": "DISMISSED", "locales": ["fr-FR"]},
    ]
    payload = await resolve(gql, pk, resolution="PIM_WINS", fieldOverrides=overrides)
    assert codes(payload) == [
        (["input", "fieldOverrides", "0", "locales"], "CHN-041"),
        (["input", "fieldOverrides", "2"], "CHN-041"),
        (["input", "fieldOverrides", "4"], "CHN-041"),
    ]
    messages = [error["message"] for error in payload["userErrors"]]
    assert "no locale" in messages[0] and "ar_AE" in messages[1] and "override 1" in messages[1]
    assert "override 3" in messages[2]
    assert (await shop.row(pk)).resolution_status == "PENDING" and pk not in await apply_jobs(container, settings)
    once_each = [overrides[1], overrides[3], overrides[5]]
    merged = await resolve(gql, pk, resolution="PIM_WINS", fieldOverrides=once_each)
    assert merged["userErrors"] == [] and merged["conflict"]["resolutionStatus"] == "MERGED"


# -- resolving many -----------------------------------------------------------------------------


async def test_bulk_by_ids_refuses_an_id_already_resolved_as_resolve_conflict_does(
    gql: GraphQLClient, shop: Shop, container: Container, settings: Settings
) -> None:
    a = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE))
    b = await shop.seed("store_y", "CHAIR-2", body(FR_BODY))
    done = await shop.seed("store_x", "CHAIR-3", title(FR_TITLE), status="PIM_WINS")
    untouched = await shop.seed("store_x", "CHAIR-4", title(FR_TITLE))
    refused = await bulk(gql, "CHANNEL_WINS", ids=[gid(a), gid(b), gid(done)])
    assert refused["resolvedCount"] == 0 and codes(refused) == [(["ids", "2"], "CHN-041")]
    single = await resolve(gql, done, resolution="CHANNEL_WINS")
    assert refused["userErrors"][0]["message"] == single["userErrors"][0]["message"]
    assert "already resolved (PIM_WINS)" in refused["userErrors"][0]["message"]
    statuses = [(await shop.row(pk)).resolution_status for pk in (a, b, done, untouched)]
    assert statuses == ["PENDING", "PENDING", "PIM_WINS", "PENDING"], "a refused bulk decides nothing"
    assert await apply_jobs(container, settings) == {}
    assert await bulk(gql, "CHANNEL_WINS", ids=[gid(a), gid(b)]) == {"resolvedCount": 2, "userErrors": []}
    assert [(await shop.row(pk)).resolution_status for pk in (a, b, done, untouched)] == [
        "CHANNEL_WINS",
        "CHANNEL_WINS",
        "PIM_WINS",
        "PENDING",
    ]
    assert set(await apply_jobs(container, settings)) == {a, b}


async def test_two_managers_bulk_resolving_the_same_conflicts_at_once(
    gql: GraphQLClient, shop: Shop, container: Container, settings: Settings
) -> None:
    """One decides them all; the other is told, id by id, that they were already resolved, and decides none."""
    seeded = [await shop.seed("store_x", sku, title(AR_TITLE)) for sku in ("CHAIR-1", "CHAIR-2", "CHAIR-3")]
    ids = [gid(pk) for pk in seeded]
    first, second = await asyncio.gather(bulk(gql, "PIM_WINS", ids=ids), bulk(gql, "CHANNEL_WINS", ids=ids))
    winner, loser = (first, second) if first["resolvedCount"] else (second, first)
    assert winner == {"resolvedCount": 3, "userErrors": []}
    assert loser["resolvedCount"] == 0
    assert codes(loser) == [(["ids", str(index)], "CHN-041") for index in range(3)]
    assert all("already resolved" in error["message"] for error in loser["userErrors"])
    assert len({(await shop.row(pk)).resolution_status for pk in seeded}) == 1, "each decided once, by one manager"
    assert set(await apply_jobs(container, settings)) == set(seeded[:TURNS]), "the rest wait their connector's turn"


async def test_bulk_by_filter_decides_exactly_the_arabic_titles_of_one_store(
    gql: GraphQLClient, shop: Shop, container: Container, settings: Settings
) -> None:
    mixed = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE, FR_TITLE), body(AR_BODY))
    only_title = await shop.seed("store_x", "CHAIR-2", title(AR_TITLE))
    french_body = await shop.seed("store_x", "CHAIR-3", body(FR_BODY))
    arabic_body = await shop.seed("store_x", "CHAIR-4", body(AR_BODY))
    other_store = await shop.seed("store_y", "CHAIR-1", title(AR_TITLE))
    rule = {"connectorCode": "store_x", "field": "title", "pimLocale": "ar_AE"}

    assert await bulk(gql, "CHANNEL_WINS", filter=rule) == {"resolvedCount": 2, "userErrors": []}

    decided = await shop.row(mixed)
    assert decided.resolution_status == "CHANNEL_WINS"
    assert decided.fields == [title(AR_TITLE)], "the decided conflict holds exactly what was decided"
    assert (await shop.row(only_title)).resolution_status == "CHANNEL_WINS"
    for pk in (french_body, arabic_body, other_store):
        assert (await shop.row(pk)).resolution_status == "PENDING"
    left = (await gql(CONFLICTS, {"code": "store_x", "status": "PENDING", "sku": "CHAIR-1"}))["conflicts"]["edges"]
    assert len(left) == 1 and left[0]["node"]["id"] != gid(mixed)
    assert [(f["field"], [d["pimLocale"] for d in f["diffs"]]) for f in left[0]["node"]["fields"]] == [
        ("title", ["fr_FR"]),
        ("body_html", ["ar_AE"]),
    ]
    assert set(await apply_jobs(container, settings)) == {mixed, only_title}
    count = (await gql('{ connector(code: "store_x") { pendingConflictCount } }'))["connector"]
    assert count["pendingConflictCount"] == 3
    assert (await bulk(gql, "CHANNEL_WINS", filter=rule))["resolvedCount"] == 0


async def test_a_large_bulk_goes_in_batches_and_misses_nothing(
    gql: GraphQLClient, shop: Shop, monkeypatch: pytest.MonkeyPatch, container: Container, settings: Settings
) -> None:
    monkeypatch.setattr(service_module, "BULK_BATCH", 2)
    seeded = [await shop.seed("store_x", sku, title(AR_TITLE, FR_TITLE)) for sku in ("CHAIR-1", "CHAIR-2", "CHAIR-3")]
    seeded += [await shop.seed("store_y", sku, title(AR_TITLE, FR_TITLE)) for sku in ("CHAIR-4", "CHAIR-5")]
    assert (await bulk(gql, "DISMISSED", filter={"pimLocale": "ar_AE"}))["resolvedCount"] == 5
    assert [(await shop.row(pk)).resolution_status for pk in seeded] == ["DISMISSED"] * 5
    assert set(await apply_jobs(container, settings)) == {*seeded[:TURNS], *seeded[3:]}, "each store's turns"
    left = (await gql(CONFLICTS, {"status": "PENDING"}))["conflicts"]
    assert left["totalCount"] == 5
    assert {edge["node"]["fields"][0]["diffs"][0]["pimLocale"] for edge in left["edges"]} == {"fr_FR"}
    assert (await bulk(gql, "PIM_WINS", filter={"field": "title"}))["resolvedCount"] == 5
    assert (await gql(CONFLICTS, {"status": "PENDING"}))["conflicts"]["totalCount"] == 0


async def test_a_bulk_sends_as_many_statements_for_many_conflicts_as_for_one(
    gql: GraphQLClient, shop: Shop, monkeypatch: pytest.MonkeyPatch, sql_counter: QueryCounter, db: Database
) -> None:
    """A batch's statements do not grow with its conflicts. On SQLite each decision's event was an INSERT of its
    own (the session reads an added row's id back, one row at a time there): a bulk of 50,000 conflicts sent
    50,000 statements more than its 250 batches need. Each event is still recorded, as resolveConflict's is."""
    monkeypatch.setattr(service_module, "BULK_BATCH", 5)  # one batch each
    one = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE))
    many = [await shop.seed("store_y", sku, title(AR_TITLE)) for sku in ("CHAIR-1", "CHAIR-2", "CHAIR-3", "CHAIR-4")]
    sent = []
    for code, expected in (("store_x", 1), ("store_y", 4)):
        sql_counter.statements.clear()
        assert (await bulk(gql, "DISMISSED", filter={"connectorCode": code}))["resolvedCount"] == expected
        sent.append(len(sql_counter.statements))
    assert sent[0] == sent[1], sql_counter.statements
    async with db.reader() as session:
        events = await EventRepository(session).latest(shop.tenant_id)
    recorded = {e.payload["conflict"]: e.payload for e in events if e.kind == "conflict.resolved"}
    assert sorted(recorded) == sorted([one, *many])
    assert {(p["status"], p["bulk"], p["by"]) for p in recorded.values()} == {("DISMISSED", True, "token:test")}
    assert {p["sku"] for p in recorded.values()} == {"CHAIR-1", "CHAIR-2", "CHAIR-3", "CHAIR-4"}


class _SilentRedis:
    """A queue whose Redis never answers in time: each message waits out the enqueue timeout, then fails."""

    default_queue_name = "unanswered"

    def __init__(self) -> None:
        self.tries = 0

    async def enqueue_job(self, *_: Any, **__: Any) -> None:
        self.tries += 1
        raise TimeoutError


async def test_a_bulk_stops_queueing_once_redis_does_not_answer_and_leaves_the_rest_to_recovery(
    gql: GraphQLClient,
    shop: Shop,
    container: Container,
    settings: Settings,
    tenant: TenantHandle,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every decision of a bulk waited out the enqueue timeout (2 s) on a Redis that did not answer, one after the
    other: 50,000 conflicts kept the request for 28 hours. The decisions stand after the first one Redis did not
    take, and the recovery sweep queues them, as it queues any decision whose message was lost."""
    monkeypatch.setattr(service_module, "BULK_BATCH", 2)
    seeded = [await shop.seed("store_x", sku, title(AR_TITLE)) for sku in SKUS]
    silent = _SilentRedis()
    service = service_module.ConflictService(dataclasses.replace(container, redis=silent), tenant.id)
    request = service_module.BulkRequest(Resolution.DISMISSED, filter=service_module.BulkFilter("store_x"))
    assert await service.bulk_resolve(request, token_id=0) == len(SKUS)
    assert silent.tries == 1
    assert [(await shop.row(pk)).resolution_status for pk in seeded] == ["DISMISSED"] * len(SKUS)
    monkeypatch.setattr(apply_module, "RECOVER_AFTER", timedelta(0))
    assert await recover_resolutions(container) >= TURNS
    assert set(seeded[:TURNS]) <= set(await apply_jobs(container, settings)), "the others wait their turn"


async def test_bulk_decides_a_product_gone_from_the_channel_as_resolve_conflict_does(
    gql: GraphQLClient, shop: Shop, container: Container, settings: Settings
) -> None:
    """A deleted or missing product's conflict lists no field: a bulk by ids or by product decides it whole.

    It answered resolvedCount 0 without a userError and left the conflict PENDING, so a manager dismissing the
    products the shop deleted saw nothing happen. A rule naming a field or a locale still does not reach it.
    """
    deleted = await shop.seed("store_x", "CHAIR-1", conflict_type="deleted_on_channel")
    missing = await shop.seed("store_x", "CHAIR-2", conflict_type="missing_on_channel")
    other = await shop.seed("store_y", "CHAIR-3", conflict_type="missing_on_channel")
    by_field = await bulk(gql, "PIM_WINS", filter={"connectorCode": "store_x", "field": "title"})
    by_locale = await bulk(gql, "PIM_WINS", filter={"connectorCode": "store_x", "pimLocale": "ar_AE"})
    assert by_field == by_locale == {"resolvedCount": 0, "userErrors": []}

    assert await bulk(gql, "DISMISSED", ids=[gid(deleted)]) == {"resolvedCount": 1, "userErrors": []}
    by_product = await bulk(gql, "PIM_WINS", filter={"connectorCode": "store_x", "productSku": "CHAIR-2"})
    assert by_product == {"resolvedCount": 1, "userErrors": []}

    assert [(await shop.row(pk)).resolution_status for pk in (deleted, missing, other)] == [
        "DISMISSED",
        "PIM_WINS",
        "PENDING",
    ]
    assert set(await apply_jobs(container, settings)) == {deleted, missing}


async def test_a_decision_and_a_webhook_go_ahead_of_the_sync_work_already_queued(
    gql: GraphQLClient, shop: Shop, container: Container, settings: Settings
) -> None:
    """A worker takes the lowest score first, and sync work is queued an hour (HIGH: two) before its time.

    A resolution or a shop's delivery queued at its own time waited behind every chunk of every running sync, each
    chunk that ends queueing the next: a manager saw `appliedAt` stay empty, and the shop's edits unread, until a
    whole catalog had gone out, on any connector of the service.
    """
    pk = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE))
    for code in ("store_x", "store_y"):
        mappings = [{"attributeCode": "name", "channelField": "title", "direction": "EXPORT"}]
        assert (await gql(SAVE_MAPPINGS, {"code": code, "mappings": mappings}))["saveMappings"]["userErrors"] == []
    await trigger(gql, "store_x", priority="NORMAL")
    await trigger(gql, "store_y", priority="HIGH")
    assert (await resolve(gql, pk, resolution="PIM_WINS"))["userErrors"] == []
    assert await enqueue_delivery(container.redis, delivery_pk=1, received_at=utcnow())

    queued = await container.redis.queued_jobs(queue_name=settings.queue_name)
    scores = {job.function: job.score or 0 for job in queued}
    assert set(scores) == {PLAN_TASK, APPLY_TASK, PROCESS_TASK}
    sync_work = min(job.score or 0 for job in queued if job.function == PLAN_TASK)
    assert scores[APPLY_TASK] < sync_work and scores[PROCESS_TASK] < sync_work
    assert (await container.redis.zrem(settings.queue_name, *(str(job.job_id) for job in queued))) == len(queued)


async def test_bulk_counts_every_id_given_against_the_cap_repeats_included(gql: GraphQLClient, shop: Shop) -> None:
    pk = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE))
    too_many = await bulk(gql, "DISMISSED", ids=[gid(pk)] * (service_module.MAX_IDS + 1))
    assert too_many["resolvedCount"] == 0 and codes(too_many) == [(["ids"], "CAT-013")]
    assert (await shop.row(pk)).resolution_status == "PENDING"
    assert await bulk(gql, "DISMISSED", ids=[gid(pk)] * service_module.MAX_IDS) == {
        "resolvedCount": 1,
        "userErrors": [],
    }


async def test_bulk_refuses_vague_or_unknown_input(gql: GraphQLClient, shop: Shop) -> None:
    pk = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE))
    assert codes(await bulk(gql, "DISMISSED")) == [(["filter"], "CHN-041")]
    assert codes(await bulk(gql, "DISMISSED", filter={})) == [(["filter"], "CHN-041")]
    unknown = await bulk(gql, "DISMISSED", filter={"connectorCode": "nope"})
    assert codes(unknown) == [(["filter", "connectorCode"], "CON-003")]
    assert codes(await bulk(gql, "DISMISSED", filter={"pimLocale": "xx_QQ"})) == [(["filter", "pimLocale"], "CAT-001")]
    assert codes(await bulk(gql, "DISMISSED", ids=[gid(pk), "junk"])) == [(["ids", "1"], "CHN-041")]
    assert (await shop.row(pk)).resolution_status == "PENDING"


# -- scopes -------------------------------------------------------------------------------------


async def test_viewing_and_resolving_need_their_scopes(
    gql: GraphQLClient, db: Database, tenant: TenantHandle, shop: Shop
) -> None:
    pk = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE))
    viewer_scopes = (Scope.CONFLICTS_VIEW, Scope.CONNECTORS_VIEW, Scope.CATALOG_VIEW)
    viewer = (await make_tenant(db, viewer_scopes, code=tenant.code)).token
    conflicts_only = (await make_tenant(db, (Scope.CONFLICTS_VIEW,), code=tenant.code)).token
    blind = (await make_tenant(db, tuple(s for s in ALL_SCOPES if s != Scope.CONFLICTS_VIEW), code=tenant.code)).token
    assert (await gql(CONFLICT, {"id": gid(pk)}, token=viewer))["conflict"]["productSku"] == "CHAIR-1"
    refused = await gql.errors(RESOLVE, {"id": gid(pk), "input": {"resolution": "PIM_WINS"}}, token=viewer)
    assert refused[0]["extensions"]["code"] == "FORBIDDEN"
    refused = await gql.errors(BULK, {"ids": [gid(pk)], "resolution": "PIM_WINS"}, token=viewer)
    assert refused[0]["extensions"]["code"] == "FORBIDDEN"
    for query in (CONFLICTS, '{ connector(code: "store_x") { pendingConflictCount } }'):
        assert (await gql.errors(query, token=blind))[0]["extensions"]["code"] == "FORBIDDEN"
    nested = "query($id: ID!) { conflict(id: $id) { productSku connector { code name webhookPath } } }"
    through_conflict = await gql.errors(nested, {"id": gid(pk)}, token=conflicts_only)
    assert [(error["path"], error["extensions"]["code"]) for error in through_conflict] == [
        (["conflict", "connector"], "FORBIDDEN")
    ]
    assert (await shop.row(pk)).resolution_status == "PENDING"


async def test_a_conflicts_values_need_catalog_view_too(
    gql: GraphQLClient, db: Database, tenant: TenantHandle, shop: Shop
) -> None:
    """Base, PIM and channel values are the product's values, refused as exportPreview refuses them without
    catalog.view; which fields and locales are in conflict stays visible to conflicts.view alone."""
    pk = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE))
    conflicts_only = (await make_tenant(db, (Scope.CONFLICTS_VIEW,), code=tenant.code)).token
    with_catalog = (await make_tenant(db, (Scope.CONFLICTS_VIEW, Scope.CATALOG_VIEW), code=tenant.code)).token
    query = """query($id: ID!) { conflict(id: $id) { productSku
      fields { field diffs { pimLocale channelLocale baseValue pimValue channelValue } } } }"""
    body = (await gql.raw(query, {"id": gid(pk)}, token=conflicts_only)).json()
    assert body["data"]["conflict"] == {
        "productSku": "CHAIR-1",
        "fields": [
            {
                "field": "title",
                "diffs": [
                    {
                        "pimLocale": "ar_AE",
                        "channelLocale": "ar",
                        "baseValue": None,
                        "pimValue": None,
                        "channelValue": None,
                    }
                ],
            }
        ],
    }
    refused = sorted((error["path"][-1], error["extensions"]["code"]) for error in body["errors"])
    assert refused == [("baseValue", "FORBIDDEN"), ("channelValue", "FORBIDDEN"), ("pimValue", "FORBIDDEN")]
    assert "catalog.view" in body["errors"][0]["message"]
    seen = (await gql(query, {"id": gid(pk)}, token=with_catalog))["conflict"]["fields"][0]["diffs"][0]
    assert (seen["baseValue"], seen["pimValue"], seen["channelValue"]) == ("كرسي", "كرسي خشبي", "كرسي من الخشب")


# -- conflictDetected ---------------------------------------------------------------------------

SUBSCRIPTION = """subscription($code: String) {
  conflictDetected(connectorCode: $code) { id productSku connector { code } fields { field diffs { pimLocale channelValue } } }
}"""
PROTOCOL = "graphql-transport-ws"


@pytest.fixture
def api_url(settings: Settings) -> Iterator[str]:
    """The API served for real (uvicorn with its own lifespan), as a websocket URL."""
    with serve(create_app(settings), lifespan="on", ws="websockets-sansio") as origin:
        yield origin.replace("http://", "ws://") + "/graphql"


async def first_detected(url: str, token: str, code: str | None) -> dict[str, Any]:
    async with connect(url, subprotocols=[Subprotocol(PROTOCOL)]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        payload = {"query": SUBSCRIPTION, "variables": {"code": code}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        message = json.loads(await ws.recv())
        assert message["type"] == "next" and "errors" not in message["payload"], message
        return dict(message["payload"]["data"]["conflictDetected"])


async def test_conflict_detected_streams_the_tenants_own_conflicts(
    shop: Shop,
    db: Database,
    gql: GraphQLClient,
    container: Container,
    api_url: str,
    tenant: TenantHandle,
    served_shop: ServedShop,
) -> None:
    mine = await shop.seed("store_x", "CHAIR-1", title(AR_TITLE))
    other_store = await shop.seed("store_y", "CHAIR-2", title(FR_TITLE))
    stranger = await make_tenant(db)
    foreign = await open_shop(GraphQLClient(gql.http, stranger.token), served_shop, db, stranger, ("store_x",))
    theirs = await foreign.seed("store_x", "CHAIR-1", title(FR_TITLE))
    listening = asyncio.create_task(first_detected(api_url, tenant.token, "store_x"))
    deadline = asyncio.get_running_loop().time() + 20
    while not listening.done():  # the subscription starts at some point after `subscribe`: keep publishing
        assert asyncio.get_running_loop().time() < deadline, "conflictDetected never emitted"
        await publish_conflict(container.redis, stranger.id, "store_x", theirs)
        await publish_conflict(container.redis, tenant.id, "store_x", theirs)  # not this tenant's: never read
        await publish_conflict(container.redis, tenant.id, "store_y", other_store)
        await publish_conflict(container.redis, tenant.id, "store_x", mine)
        await asyncio.wait([listening], timeout=0.1)
    detected = await listening
    assert detected["id"] == gid(mine) and detected["connector"]["code"] == "store_x"
    assert detected["fields"] == [
        {"field": "title", "diffs": [{"pimLocale": "ar_AE", "channelValue": "كرسي من الخشب"}]}
    ]


async def test_tries_a_database_outage_took_leave_a_resolution_its_own_tries(
    gql: GraphQLClient, shop: Shop, served_shop: ServedShop, container: Container, settings: Settings
) -> None:
    """A resolution a worker took up while the database was away failed in arq's log with a traceback; once queued
    again, arq counted each outage try as one of the resolution's, so a shop that was down next found it at its
    fifth try and left it to the recovery sweep (or a racing sync gave it up with applyError) without one real try
    behind it. Each outage try is now one warning line and the task again, and the first try that reaches the shop
    is the resolution's first: it comes back after the first wait, not the last."""
    pk = await shop.seed("store_x", "CHAIR-1", title(diff("fr_FR", "fr", "A", "B", "C")))
    decided = (await gql(RESOLVE, {"id": gid(pk), "input": {"resolution": "PIM_WINS"}}))["resolveConflict"]
    assert decided["userErrors"] == []
    job_id = (await apply_jobs(container, settings))[pk]
    with closed_port() as port:
        down = Database(UNREACHABLE_POSTGRES.format(closed_port=port))
        try:
            for job_try in range(1, 5):
                ctx = {"container": dataclasses.replace(container, db=down), "job_try": job_try, "job_id": job_id}
                with pytest.raises(Retry):
                    await apply_conflict_resolution(ctx, conflict_id=pk)  # type: ignore[arg-type]
        finally:
            await down.dispose()
    served_shop.shop.fail_next(100, status=503)
    with pytest.raises(Retry) as retried:
        await apply_conflict_resolution({"container": container, "job_try": 5, "job_id": job_id}, conflict_id=pk)
    assert retried.value.defer_score == settings.background_retry_seconds * 1000, "not its first try"
    assert (await shop.row(pk)).apply_error is None
