"""Every mutation, given input whose first parts are good and a later part bad, names that part and changes nothing.

One case per mutation (some have more): the answer must be a userError with a
code and the path of the bad part, or for input that does not fit the schema a
GraphQL error, and every row the tenant owns, in every table, must be as it
was, with no event recorded and nothing put on the test's queue in Redis. The
guard test makes a new mutation fail until it has a case here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from app.container import Container
from app.db.base import Base
from app.db.engine import Database
from app.db.models import Connector
from graphql_schema.schema import build_schema
from tests.catalog_fixtures import (
    DELETE_ATTRIBUTES,
    DELETE_PRODUCTS,
    SET_CURRENCIES,
    SET_LOCALES,
    SET_SCOPES,
    UPSERT_ATTRIBUTES,
    UPSERT_PRODUCTS,
    value,
)
from tests.conflict_fixtures import AR_TITLE, BULK, FR_TITLE, PRICE, RESOLVE, gid, open_shop, title
from tests.conflict_fixtures import field as conflict_field
from tests.conftest import GraphQLClient, TenantHandle
from tests.connector_fixtures import (
    CREATE_CONNECTOR,
    SAVE_MAPPINGS,
    UPDATE_CONNECTOR,
    ServedShop,
    connector_input,
    served_shop,
)
from tests.sync_fixtures import CANCEL, MAPPINGS, RETRY, TRIGGER

DELETE_CONNECTOR = """mutation($code: String!) {
  deleteConnector(code: $code) { deletedId userErrors { field message code } }
}"""
TEST_CONNECTION = """mutation($code: String!) {
  testConnection(code: $code) { testResult { success } userErrors { field message code } }
}"""
PAUSE = """mutation($code: String!, $reason: String) {
  pauseConnector(code: $code, reason: $reason) { connector { status } userErrors { field message code } }
}"""
RESUME = """mutation($code: String!) {
  resumeConnector(code: $code) { connector { status } userErrors { field message code } }
}"""

__all__ = ["served_shop"]

IGNORED_COLUMNS = {("api_tokens", "last_used_at")}
"""Bookkeeping of authentication, not of the mutation: a request may record its token's use."""


@dataclass
class World:
    """A tenant with a catalog, products CHAIR-1..5, connector "shop" with mappings, a cancelled job, conflicts."""

    shop: ServedShop
    job_id: str
    conflicts: list[str]


@dataclass(frozen=True)
class Case:
    name: str
    mutation: str
    document: str
    variables: Callable[[World], dict[str, Any]]
    path: list[str | int] | None = None
    """The userError's field; None: the input does not fit the schema, a GraphQL error is expected."""
    code: str = "BAD_USER_INPUT"
    """The userError's code, or the GraphQL error's extensions.code."""
    message_has: str = ""


def _products(world: World) -> dict[str, Any]:
    good = [
        {"sku": "CHAIR-1", "values": [value("name", "Oak chair", "en_US")]},
        {"sku": "STOOL-1", "enabled": False, "values": [value("name", "Stool", "en_US"), value("stock", 4)]},
        {"sku": "CHAIR-2", "values": [value("price", {"EUR": "12.00"}), value("name", None, "fr_FR")]},
    ]
    bad = {"sku": "STOOL-2", "values": [value("name", "Tabouret", "de_DE"), value("stock", 2)]}
    return {"products": [*good, bad]}


def _products_huge_number(world: World) -> dict[str, Any]:
    """A NUMBER beyond 64 bits: a JSON column would give it back as a float, 1e+30, not as given."""
    good = [{"sku": "STOOL-1", "values": [value("stock", 2**64 - 1)]}, {"sku": "CHAIR-1", "values": []}]
    return {"products": [*good, {"sku": "STOOL-2", "values": [value("stock", 10**30 + 1)]}]}


def _locale_mapping(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"pimLocale": pim, "channelLocale": channel} for pim, channel in pairs]


def _new_connector(world: World) -> dict[str, Any]:
    given = connector_input(world.shop, "second")
    given["settings"]["localeMapping"] = _locale_mapping(("en_US", "en"), ("ar_AE", "ar"), ("de_DE", "fr"))
    return {"input": given}


def _new_connector_bad_credentials(world: World) -> dict[str, Any]:
    given = connector_input(world.shop, "second")
    given["credentials"] = {"baseUrl": world.shop.base_url, "signingSecret": "s" * 24, "apiKey": 7}
    return {"input": given}


def _new_connector_nul_name(world: World) -> dict[str, Any]:
    """Good in every part but the name, which PostgreSQL cannot store (SQLite would)."""
    given = connector_input(world.shop, "second")
    given["name"] = "Second\x00shop"
    return {"input": given}


def _changed_connector(world: World) -> dict[str, Any]:
    settings = {
        "scope": "print",
        "currency": "USD",
        "localeMapping": _locale_mapping(("en_US", "en"), ("ar_AE", "ar"), ("fr_FR", "xx-not-a-locale!")),
    }
    return {
        "code": "shop",
        "input": {"name": "Renamed shop", "credentials": world.shop.credentials(), "settings": settings},
    }


def _mappings(world: World) -> dict[str, Any]:
    bad = {"attributeCode": "no_such_attribute", "channelField": "description", "direction": "EXPORT"}
    return {"code": "shop", "mappings": [MAPPINGS[0], MAPPINGS[2], bad]}


def _mappings_nul_transformation(world: World) -> dict[str, Any]:
    ellipsis = {"maxLength": {"length": 200, "ellipsis": "\u2026\x00"}}
    return {"code": "shop", "mappings": [MAPPINGS[0], MAPPINGS[2], {**MAPPINGS[1], "transformation": ellipsis}]}


def _mappings_huge_number(world: World) -> dict[str, Any]:
    cut = {"maxLength": {"length": 10**30, "ellipsis": "\u2026"}}
    return {"code": "shop", "mappings": [MAPPINGS[0], MAPPINGS[2], {**MAPPINGS[1], "transformation": cut}]}


CASES = [
    Case(
        "setLocales",
        "setLocales",
        SET_LOCALES,
        lambda w: {"codes": ["en_US", "ar_AE", "ar", "fr_FR", "de_DE", "not a locale"]},
        ["codes", 5],
        "CAT-001",
    ),
    Case(
        "setScopes",
        "setScopes",
        SET_SCOPES,
        lambda w: {
            "scopes": [
                {"code": "ecommerce", "labels": {"en_US": "Web shop"}},
                {"code": "print"},
                {"code": "mobile", "labels": {"en_US": "Mobile", "not a locale": "?"}},
            ]
        },
        ["scopes", 2, "labels", "not a locale"],
        "CAT-001",
    ),
    Case(
        "setCurrencies",
        "setCurrencies",
        SET_CURRENCIES,
        lambda w: {"codes": ["USD", "EUR", "AED", "GBP", "EURO"]},
        ["codes", 4],
        "CAT-014",
    ),
    Case(
        "upsertAttributes",
        "upsertAttributes",
        UPSERT_ATTRIBUTES,
        lambda w: {
            "attributes": [
                {"code": "material", "type": "TEXT", "localizable": True},
                {"code": "stock", "type": "NUMBER", "localizable": False, "labels": {"en_US": "Stock"}},
                {"code": "bad code", "type": "TEXT", "localizable": False},
            ]
        },
        ["attributes", 2, "code"],
        "CAT-010",
    ),
    Case(
        "upsertAttributes-in-use",
        "upsertAttributes",
        UPSERT_ATTRIBUTES,
        lambda w: {
            "attributes": [
                {"code": "material", "type": "TEXT", "localizable": True},
                {"code": "name", "type": "TEXT", "localizable": False},
            ]
        },
        ["attributes", 1],
        "CAT-011",
    ),
    Case(
        "upsertAttributes-unknown-type",
        "upsertAttributes",
        UPSERT_ATTRIBUTES,
        lambda w: {
            "attributes": [
                {"code": "material", "type": "TEXT", "localizable": True},
                {"code": "size", "type": "SHOE_SIZE", "localizable": False},
            ]
        },
        message_has="at [1].type",
    ),
    Case(
        "deleteAttributes",
        "deleteAttributes",
        DELETE_ATTRIBUTES,
        lambda w: {"codes": ["stock", "weight", "no_such_attribute"]},
        ["codes", 2],
        "CAT-003",
    ),
    Case(
        "upsertProducts",
        "upsertProducts",
        UPSERT_PRODUCTS,
        _products,
        ["products", 3, "values", 0, "locale"],
        "CAT-002",
    ),
    Case(
        "upsertProducts-huge-number",
        "upsertProducts",
        UPSERT_PRODUCTS,
        _products_huge_number,
        ["products", 2, "values", 0, "data"],
        "CAT-004",
    ),
    Case(
        "deleteProducts",
        "deleteProducts",
        DELETE_PRODUCTS,
        lambda w: {"skus": ["CHAIR-1", "CHAIR-2", "NO-SUCH-CHAIR"]},
        ["skus", 2],
        "CAT-012",
    ),
    Case(
        "createConnector",
        "createConnector",
        CREATE_CONNECTOR,
        _new_connector,
        ["input", "settings", "localeMapping", 2, "pimLocale"],
        "CAT-002",
    ),
    Case(
        "createConnector-credentials",
        "createConnector",
        CREATE_CONNECTOR,
        _new_connector_bad_credentials,
        ["input", "credentials", "apiKey"],
        "CHN-002",
    ),
    Case(
        "createConnector-nul-name",
        "createConnector",
        CREATE_CONNECTOR,
        _new_connector_nul_name,
        ["input", "name"],
        "CON-001",
    ),
    Case(
        "updateConnector",
        "updateConnector",
        UPDATE_CONNECTOR,
        _changed_connector,
        ["input", "settings", "localeMapping", 2, "channelLocale"],
        "CHN-012",
    ),
    Case(
        "updateConnector-nul-name",
        "updateConnector",
        UPDATE_CONNECTOR,
        lambda w: {
            "code": "shop",
            "input": {"credentials": w.shop.credentials(), "settings": {"scope": "print"}, "name": "Shop\x00"},
        },
        ["input", "name"],
        "CON-001",
    ),
    Case(
        "deleteConnector",
        "deleteConnector",
        DELETE_CONNECTOR,
        lambda w: {"code": "no_such_shop"},
        ["code"],
        "CON-003",
    ),
    Case(
        "testConnection",
        "testConnection",
        TEST_CONNECTION,
        lambda w: {"code": "no_such_shop"},
        ["code"],
        "CON-003",
    ),
    Case(
        "pauseConnector",
        "pauseConnector",
        PAUSE,
        lambda w: {"code": "no_such_shop", "reason": "holidays"},
        ["code"],
        "CON-003",
    ),
    Case(
        "pauseConnector-nul-reason",
        "pauseConnector",
        PAUSE,
        lambda w: {"code": "shop", "reason": "closed for stocktaking\x00"},
        ["reason"],
        "CON-001",
    ),
    Case(
        "resumeConnector",
        "resumeConnector",
        RESUME,
        lambda w: {"code": "no_such_shop"},
        ["code"],
        "CON-003",
    ),
    Case(
        "saveMappings",
        "saveMappings",
        SAVE_MAPPINGS,
        _mappings,
        ["mappings", 2, "attributeCode"],
        "CHN-060",
    ),
    Case(
        "saveMappings-nul-transformation",
        "saveMappings",
        SAVE_MAPPINGS,
        _mappings_nul_transformation,
        ["mappings", 2, "transformation", "maxLength", "ellipsis"],
        "CHN-060",
    ),
    Case(
        "saveMappings-huge-number",
        "saveMappings",
        SAVE_MAPPINGS,
        _mappings_huge_number,
        ["mappings", 2, "transformation", "maxLength", "length"],
        "CHN-060",
    ),
    Case(
        "triggerSync",
        "triggerSync",
        TRIGGER,
        lambda w: {
            "code": "shop",
            "input": {"syncType": "SINGLE", "productSkus": ["CHAIR-1", "CHAIR-2", "NO-SUCH-CHAIR"]},
        },
        ["input", "productSkus", 2],
        "CAT-012",
    ),
    Case(
        "triggerSync-locales",
        "triggerSync",
        TRIGGER,
        lambda w: {"code": "shop", "input": {"syncType": "FULL", "locales": ["en_US", "ar_AE", "de_DE"]}},
        ["input", "locales", 2],
        "CHN-012",
    ),
    Case(
        "cancelSyncJob",
        "cancelSyncJob",
        CANCEL,
        lambda w: {"id": w.job_id},
        ["id"],
        "CON-006",
    ),
    Case(
        "retrySyncJob",
        "retrySyncJob",
        RETRY,
        lambda w: {"id": w.job_id},
        ["id"],
        "CON-007",
    ),
    Case(
        "resolveConflict",
        "resolveConflict",
        RESOLVE,
        lambda w: {
            "id": w.conflicts[0],
            "input": {
                "resolution": "PIM_WINS",
                "fieldOverrides": [
                    {"field": "title", "resolution": "CHANNEL_WINS", "locales": ["ar_AE"]},
                    {"field": "price", "resolution": "CHANNEL_WINS"},
                    {"field": "no_such_field", "resolution": "CHANNEL_WINS"},
                ],
            },
        },
        ["input", "fieldOverrides", 2, "field"],
        "CHN-041",
    ),
    Case(
        "bulkResolveConflicts",
        "bulkResolveConflicts",
        BULK,
        lambda w: {"ids": [*w.conflicts, gid(987654321)], "resolution": "PIM_WINS"},
        ["ids", 2],
        "CHN-041",
    ),
    Case(
        "bulkResolveConflicts-malformed-id",
        "bulkResolveConflicts",
        BULK,
        lambda w: {"ids": [*w.conflicts, "not-an-id"], "resolution": "PIM_WINS"},
        ["ids", 2],
        "CHN-041",
    ),
    Case(
        "bulkResolveConflicts-filter",
        "bulkResolveConflicts",
        BULK,
        lambda w: {"filter": {"connectorCode": "shop", "pimLocale": "not a locale"}, "resolution": "PIM_WINS"},
        ["filter", "pimLocale"],
        "CAT-001",
    ),
]


@pytest.fixture
async def world(
    gql: GraphQLClient, served_shop: ServedShop, db: Database, tenant: TenantHandle, container: Container
) -> World:
    shop = await open_shop(gql, served_shop, db, tenant, ("shop",))
    saved = (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": MAPPINGS}))["saveMappings"]
    assert saved["userErrors"] == []
    triggered = (await gql(TRIGGER, {"code": "shop", "input": {"syncType": "FULL"}}))["triggerSync"]
    job_id = triggered["syncJob"]["id"]
    assert (await gql(CANCEL, {"id": job_id}))["cancelSyncJob"]["syncJob"]["status"] == "CANCELLED"
    conflicts = [
        await shop.seed("shop", "CHAIR-1", title(AR_TITLE, FR_TITLE), conflict_field("price", "price", PRICE)),
        await shop.seed("shop", "CHAIR-2", title(AR_TITLE)),
    ]
    return World(served_shop, job_id, [gid(pk) for pk in conflicts])


async def database_rows(db: Database, tenant_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the tenant owns (its own row in `tenants` too), in primary key order."""
    rows: dict[str, list[dict[str, Any]]] = {}
    async with db.reader() as session:
        for table in Base.metadata.sorted_tables:
            owner = table.c.tenant_id if "tenant_id" in table.c else table.c.id
            query = select(table).where(owner == tenant_id).order_by(*table.primary_key.columns)
            rows[table.name] = [
                {name: data for name, data in row.items() if (table.name, name) not in IGNORED_COLUMNS}
                for row in (await session.execute(query)).mappings()
            ]
    return rows


async def redis_keys(container: Container, db: Database, tenant_id: int) -> dict[str, Any]:
    """The messages on the test's queue, every key naming that queue (arq's job keys do), and the rate limit
    buckets of the tenant's connectors."""
    redis, queue = container.redis, container.settings.queue_name
    async with db.reader() as session:
        public_ids = list(await session.scalars(select(Connector.public_id).where(Connector.tenant_id == tenant_id)))
    named = {key async for key in redis.scan_iter(match=f"*{queue}*")}
    for public_id in public_ids:
        named |= {key async for key in redis.scan_iter(match=f"pimsync:rate:{public_id}*")}
    return {"queued": await redis.zrange(queue, 0, -1), "keys": sorted(named)}


@dataclass
class Snapshot:
    rows: dict[str, list[dict[str, Any]]]
    redis: dict[str, Any]


async def snapshot(container: Container, db: Database, tenant_id: int) -> Snapshot:
    return Snapshot(await database_rows(db, tenant_id), await redis_keys(container, db, tenant_id))


def assert_unchanged(before: Snapshot, after: Snapshot) -> None:
    changed = [name for name in before.rows if before.rows[name] != after.rows[name]]
    assert not changed, {name: {"before": before.rows[name], "after": after.rows[name]} for name in changed}
    assert after.redis == before.redis


def assert_names_the_bad_part(case: Case, body: dict[str, Any]) -> None:
    if case.path is None:
        assert body.get("data") is None, body
        [error] = body["errors"]
        assert error["extensions"]["code"] == case.code, error
        assert case.message_has in error["message"], error
        return
    assert not body.get("errors"), body["errors"]
    errors = body["data"][case.mutation]["userErrors"]
    assert errors, body
    assert all(error["code"] for error in errors), errors
    assert [error["field"] for error in errors] == [[str(part) for part in case.path]] * len(errors), (
        "the good parts were refused too, or the bad one not named"
    )
    assert case.code in {error["code"] for error in errors}, errors


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
async def test_a_bad_later_part_is_named_and_nothing_changes(
    case: Case, world: World, gql: GraphQLClient, container: Container, db: Database, tenant: TenantHandle
) -> None:
    before = await snapshot(container, db, tenant.id)
    assert before.rows["sync_jobs"] and before.rows["conflicts"] and before.rows["field_mappings"]
    body = (await gql.raw(case.document, case.variables(world))).json()
    assert_names_the_bad_part(case, body)
    assert_unchanged(before, await snapshot(container, db, tenant.id))


def test_every_mutation_of_the_schema_has_a_case() -> None:
    """A new mutation fails here until a case above gives it input with a bad later part."""
    mutations = set(build_schema()._schema.mutation_type.fields)  # type: ignore[union-attr]
    covered = {case.mutation for case in CASES}
    assert mutations - covered == set(), "mutations without an atomicity case"
    assert covered - mutations == set(), "cases of mutations the schema no longer has"
