"""Limits on depth, aliases, tokens, nodes and body size; masked faults and no introspection in production; GraphiQL in development."""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query
from sqlalchemy import func, select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from app.container import Container
from app.db.engine import Database
from app.db.models import Product
from app.main import create_app
from app.services.products import MAX_PRODUCTS_PER_CALL
from app.settings import GRAPHQL_MAX_BODY_BYTES, GRAPHQL_MAX_INPUT_VALUES, GRAPHQL_MAX_NODES, Environment, Settings
from tests.catalog_fixtures import set_up_catalog, upsert, value
from tests.conftest import GraphQLClient, QueryCounter, TenantHandle, api_client
from tests.emulators import serve
from tests.shared_data import shared_path


async def test_too_many_aliases_are_refused(gql: GraphQLClient) -> None:
    query = "{ " + " ".join(f"a{n}: locales {{ code }}" for n in range(40)) + " }"
    errors = await gql.errors(query)
    assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "aliases" in errors[0]["message"]


async def test_too_deep_queries_are_refused(gql: GraphQLClient) -> None:
    nested = "products { edges { node { listings { connector { " * 2
    query = "{ " + nested + "code" + " } } } } }" * 2 + " }"
    errors = await gql.errors(query)
    assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_a_subscription_sent_over_http_is_told_to_use_the_websocket(
    gql: GraphQLClient, app_logging: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    """It ran as a query, its stream read as a null for a non-null field: an INTERNAL_SERVER_ERROR, logged as a
    server fault (graphql.fault) that any token could write at will."""
    app_logging()
    for document in ("subscription { conflictDetected { id } }", 'subscription S { syncJobUpdated(id: "x") { id } }'):
        errors = await gql.errors(document)
        assert [(error["message"], error["extensions"]["code"]) for error in errors] == [
            (
                "subscriptions are served over the websocket at /graphql (graphql-transport-ws), not over HTTP",
                "GRAPHQL_VALIDATION_FAILED",
            )
        ], errors
    assert "graphql.fault" not in capsys.readouterr().err


async def test_invalid_document_has_a_code(gql: GraphQLClient) -> None:
    errors = await gql.errors("{ noSuchField }")
    assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.mark.parametrize("enum", ["ConnectorStatus", "SyncJobStatus", "ChangeAction"])
async def test_the_statuses_a_frontend_shows_are_described_value_by_value(gql: GraphQLClient, enum: str) -> None:
    """A frontend turns these into badges and help text from introspection: no value had a description, so
    DISCONNECTED read as 'the store is unreachable' (that is ERROR; DISCONNECTED is a channel type this version
    cannot connect to), and RETRYING or HOLD had to be guessed."""
    query = "query($name: String!) { __type(name: $name) { enumValues { name description } } }"
    values = (await gql(query, {"name": enum}))["__type"]["enumValues"]
    assert values and [value["name"] for value in values if not value["description"]] == [], values


async def test_graphiql_page_in_development(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


async def test_production_hides_graphiql_and_introspection(
    settings: Settings, container: Container, tenant: TenantHandle
) -> None:
    production = settings.model_copy(update={"environment": Environment.PRODUCTION})
    app = create_app(production, container=container)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code in {400, 401, 404}
        gql = GraphQLClient(http, tenant.token)
        errors = await gql.errors("{ __schema { types { name } } }")
        assert "introspection" in errors[0]["message"].lower()
        assert (await gql("{ locales { code } }"))["locales"] == []


# -- the node budget ---------------------------------------------------------------------------------------

JOB_ERRORS = """query($connectors: Int, $jobs: Int = 250) {
  connectors(first: $connectors) { edges { node { code
    syncJobs(first: $jobs) { edges { node { id errors(first: 100) { edges { node { message } } } } } }
  } } } }"""
"""At worst 250 connectors x 250 jobs x 100 errors: 250 * (1 + 250 * (1 + 100)) = 6,312,750 nodes."""


async def refused(gql: GraphQLClient, query: str, variables: dict[str, Any] | None = None) -> str:
    """The message of a document refused before it ran (no data at all)."""
    body = (await gql.raw(query, variables)).json()
    assert body["data"] is None, body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    return str(error["message"])


async def test_a_query_that_could_return_millions_of_nodes_is_refused_before_it_runs(
    gql: GraphQLClient, sql_counter: QueryCounter
) -> None:
    message = await refused(gql, JOB_ERRORS, {"connectors": 250})
    assert "6312750 nodes" in message and f"budget of {GRAPHQL_MAX_NODES}" in message
    assert not [sql for sql in sql_counter.statements if "sync_job" in sql], sql_counter.statements


async def test_the_node_budget_counts_fragments_variables_and_default_page_sizes(gql: GraphQLClient) -> None:
    fragments = """query { connectors(first: 250) { ...Page } }
      fragment Page on ConnectorConnection { edges { node { ... on Connector { syncJobs(first: 250) { ...Jobs } } } } }
      fragment Jobs on SyncJobConnection { edges { node { errors(first: 100) { edges { node { ...Error } } } } } }
      fragment Error on SyncError { message }"""
    assert "6312750 nodes" in await refused(gql, fragments)
    defaults = """{ connectors { edges { node { syncJobs { edges { node {
      changes { edges { node { productSku } } } } } } } } } }"""
    assert "127550 nodes" in await refused(gql, defaults)  # 50 * (1 + 50 * (1 + 50)): pages of 50 by default
    assert "50502 nodes" in await refused(gql, JOB_ERRORS, {"connectors": 2})  # 2 * (1 + 250 * 101): $jobs' default
    small = await gql(JOB_ERRORS, {"connectors": 2, "jobs": 200})  # 2 * (1 + 200 * 101) = 40,402
    assert small["connectors"]["edges"] == []
    backwards = "{ syncJobs(last: 250) { edges { node { errors(first: 250) { edges { node { message } } } } } } }"
    assert "62750 nodes" in await refused(gql, backwards)  # 250 * (1 + 250): last counts as first does, not as 50


async def test_the_node_budget_lets_through_what_a_frontend_asks(gql: GraphQLClient) -> None:
    introspection = await gql(get_introspection_query(descriptions=True, input_value_deprecation=True))
    assert introspection["__schema"]["queryType"]["name"] == "Query"
    pages = """query($first: Int) {
      connectors(first: $first) { totalCount edges { node { code mappings { attributeCode } lastJob { id status }
        syncJobs(first: $first) { totalCount edges { node { id status errors { totalCount } } } } } } }
      products(first: $first) { edges { node { sku values { data } listings { status } } } }
      conflicts(first: $first) { edges { node { id fields { field } } } } }"""
    data = await gql(pages, {"first": 100})  # 100 * (1 + 100) + 100 + 100 = 10,300 nodes
    assert data["connectors"]["totalCount"] == 0


# -- the body limit ----------------------------------------------------------------------------------------

UPSERT = "mutation($products: [ProductInput!]!) { upsertProducts(products: $products) { userErrors { message } } }"


async def test_a_body_over_the_limit_is_413_without_being_read_whole(
    settings: Settings, container: Container, tenant: TenantHandle
) -> None:
    limited = settings.model_copy(update={"graphql_max_body_bytes": 4096})
    app = create_app(limited, container=container)
    products = [{"sku": f"SKU-{n}", "values": [{"attribute": "name", "data": "x" * 1000}]} for n in range(100)]
    body = json.dumps({"query": UPSERT, "variables": {"products": products}}).encode()
    headers = {"Authorization": f"Bearer {tenant.token}", "Content-Type": "application/json"}
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        """No Content-Length: the limit must hold while the body streams in."""
        for start in range(0, len(body), 1024):
            sent.append(start)
            yield body[start : start + 1024]

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        for content in (body, chunks()):
            response = await http.post("/graphql", content=content, headers=headers)
            assert response.status_code == 413
            (error,) = response.json()["errors"]
            assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
            assert "larger than 4096 bytes" in error["message"]
        assert len(sent) <= 6, "the whole body was read before refusing it"
        assert (await GraphQLClient(http, tenant.token)("{ products { totalCount } }"))["products"]["totalCount"] == 0


def test_the_default_body_limit_takes_the_largest_upsert_batch_of_a_real_catalog() -> None:
    """1,000 products (the most upsertProducts takes) of the richest of Akeneo's demo catalog, every locale and
    scope filled, fit the default limit."""
    csv.field_size_limit(2**31 - 1)
    with shared_path("data", "akeneo_icecat_demo_dev", "products.csv").open(newline="", encoding="utf-8") as file:
        products = [_product_input(row) for row in csv.DictReader(file, delimiter=";")]
    richest = sorted(products, key=lambda product: len(json.dumps(product)))[-MAX_PRODUCTS_PER_CALL:]
    body = json.dumps({"query": UPSERT, "variables": {"products": richest}}, ensure_ascii=False).encode()
    assert len(body) < GRAPHQL_MAX_BODY_BYTES == Settings().graphql_max_body_bytes


def _product_input(row: dict[str, str]) -> dict[str, Any]:
    """A ProductInput of one row of Akeneo's flat export (`attr-<locale>-<scope>` columns)."""
    values = []
    for column, data in row.items():
        if data and column not in {"sku", "enabled", "family", "parent", "categories", "groups"}:
            attribute, *rest = column.split("-")
            locale = next((part for part in rest if "_" in part), None)
            scope = next((part for part in rest if "_" not in part and part not in {"unit", "EUR", "USD"}), None)
            values.append({"attribute": attribute, "locale": locale, "scope": scope, "data": data})
    return {"sku": row["sku"], "family": row["family"] or None, "values": values}


# -- the input value limit --------------------------------------------------------------------------------


async def test_a_request_holding_more_values_than_the_limit_is_413_before_anything_runs(
    settings: Settings, container: Container, tenant: TenantHandle, db: Database
) -> None:
    """Strawberry turns each input object into its class before a resolver can count them (some 130 microseconds
    each, on the API's one event loop): 200,000 products of a SKU each (7 MB) were converted for half a minute,
    every tenant's requests waiting, only to be refused as more than 1,000 products. The values are counted as the
    body is parsed, over HTTP and the websocket alike, up to GRAPHQL_MAX_INPUT_VALUES."""
    limited = settings.model_copy(update={"graphql_max_input_values": 1000})
    products = [{"sku": f"SKU-{n}", "values": [value("name", "x", "en_US")]} for n in range(100)]  # 804 in all
    async with api_client(limited, container) as http:
        gql = GraphQLClient(http, tenant.token)
        await set_up_catalog(gql)
        assert (await upsert(gql, *products))["userErrors"] == []
        more = [{"sku": f"MORE-{n}", "values": []} for n in range(70)]  # 70 * 3 more
        refused = await gql.raw(UPSERT, {"products": products + more})
        assert (refused.status_code, refused.text) == (
            413,
            "the request holds more than 1,000 JSON values (GRAPHQL_MAX_INPUT_VALUES): send smaller batches",
        )
        assert (await gql("{ products { totalCount } }"))["products"]["totalCount"] == 100

    with serve(create_app(limited), lifespan="on", ws="websockets-sansio") as origin:
        url = origin.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant.token}"}}
            await ws.send(json.dumps(init))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            operation = {"query": UPSERT, "variables": {"products": more * 5}}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": operation}))
            answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert answer["type"] == "error", answer
    assert [(error["message"], error["extensions"]["code"]) for error in answer["payload"]] == [
        (
            "the request holds more than 1,000 JSON values (GRAPHQL_MAX_INPUT_VALUES): send smaller batches",
            "PAYLOAD_TOO_LARGE",
        )
    ]
    async with db.reader() as session:
        count = await session.scalar(select(func.count()).select_from(Product).where(Product.tenant_id == tenant.id))
    assert count == 100


def test_the_default_input_value_limit_takes_the_largest_upsert_batch_of_a_real_catalog_five_times_over() -> None:
    """The richest 1,000 products of Akeneo's demo catalog hold 43,516 JSON values."""
    csv.field_size_limit(2**31 - 1)
    with shared_path("data", "akeneo_icecat_demo_dev", "products.csv").open(newline="", encoding="utf-8") as file:
        products = [_product_input(row) for row in csv.DictReader(file, delimiter=";")]
    richest = sorted(products, key=_json_values)[-MAX_PRODUCTS_PER_CALL:]
    request = {"query": UPSERT, "variables": {"products": richest}}
    assert 5 * _json_values(request) < GRAPHQL_MAX_INPUT_VALUES == Settings().graphql_max_input_values


def _json_values(data: Any) -> int:
    if isinstance(data, dict):
        return 1 + sum(_json_values(item) for item in data.values())
    if isinstance(data, list):
        return 1 + sum(_json_values(item) for item in data)
    return 1


# -- bodies that are not Unicode text ----------------------------------------------------------------------


async def test_a_body_that_is_not_utf8_is_a_400_and_changes_nothing(
    client: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    """A client that sends Latin-1 (or any bytes but UTF-8) gets told so, not a 500 with a traceback in the log."""
    await set_up_catalog(gql)
    products = [{"sku": "LATIN-1", "values": [value("name", "Crème brûlée", "fr_FR")]}]
    body = json.dumps({"query": UPSERT, "variables": {"products": products}}, ensure_ascii=False).encode("latin-1")
    headers = {"Authorization": f"Bearer {gql.token}", "Content-Type": "application/json"}
    response = await client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 400
    offset = body.index(b"\xe8")
    assert response.text == f"the request body is not UTF-8 (byte 0xe8 at offset {offset}): send JSON as UTF-8"
    assert (await gql("{ products { totalCount } }"))["products"]["totalCount"] == 0


async def test_a_lone_surrogate_in_the_variables_is_a_400_naming_where_and_changes_nothing(
    client: httpx.AsyncClient, gql: GraphQLClient
) -> None:
    """JSON's \\ud800 escape decodes to half a character, which no database stores: refused before anything runs,
    alike on SQLite and PostgreSQL. A whole pair (an emoji written as two escapes) is one character and goes in."""
    await set_up_catalog(gql)
    products = [
        {"sku": "EMOJI", "values": [value("name", "Gift \N{WRAPPED PRESENT}", "en_US")]},
        {"sku": "HALF", "values": [value("name", "Gift \ud83c", "en_US")]},
    ]
    body = json.dumps({"query": UPSERT, "variables": {"products": products}}).encode()
    headers = {"Authorization": f"Bearer {gql.token}", "Content-Type": "application/json"}
    response = await client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 400
    assert response.text == (
        "variables.products.1.values.0.data holds a lone surrogate (\\ud83c), half of a character, "
        "which cannot be stored: send whole characters"
    )
    assert (await gql("{ products { totalCount } }"))["products"]["totalCount"] == 0
    assert (await upsert(gql, products[0]))["userErrors"] == []


# -- JSON nested deeper than it can be read ---------------------------------------------------------------


TOO_DEEP = "the request nests JSON arrays and objects too deeply to be read: send flatter data"


def _nested(depth: int) -> str:
    """A JSON array holding an array ... `depth` levels deep: a few kilobytes, well inside every size limit."""
    return "[" * depth + "]" * depth


async def test_a_body_nesting_json_too_deeply_is_a_400_and_logs_no_traceback(
    client: httpx.AsyncClient, gql: GraphQLClient, app_logging: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    """Python's JSON parser recurses once per level: 10,000 brackets (20 kB) ended the request in a RecursionError,
    a bare 500 'Internal Server Error' and a traceback in the log for each, sent by any token holder as often as
    they liked. It is a 400 saying why, in the variables and in a GET's variables alike."""
    app_logging()
    headers = {"Authorization": f"Bearer {gql.token}", "Content-Type": "application/json"}
    body = '{"query": "query($v: JSON) { __typename }", "variables": {"v": ' + _nested(10_000) + "}}"
    posted = await client.post("/graphql", content=body.encode(), headers=headers)
    got = await client.get(
        "/graphql", params={"query": "{ __typename }", "variables": _nested(10_000)}, headers=headers
    )
    assert [(posted.status_code, posted.text), (got.status_code, got.text)] == [(400, TOO_DEEP)] * 2
    assert "Traceback" not in capsys.readouterr().err
    assert (await gql("{ __typename }")) == {"__typename": "Query"}


async def test_a_socket_message_nesting_json_too_deeply_closes_the_socket_4400_before_any_token_is_checked(
    settings: Settings, app_logging: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    """Such a message on the websocket (5,000 levels, 10 kB: small enough to be read before a token is checked), sent
    as connection_init, so by anyone who can reach the API, broke the socket without a close frame and logged a
    traceback each time; it is closed 4400 as any message that cannot be read."""
    app_logging()
    with serve(create_app(settings), lifespan="on", ws="websockets-sansio") as origin:
        url = origin.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
            await ws.send('{"type": "connection_init", "payload": ' + _nested(5_000) + "}")  # 10 kB
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None, closed.value
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4400, "WebSocket message must be valid JSON")
    assert "Traceback" not in capsys.readouterr().err


# -- what a socket may send before its token is checked ---------------------------------------------------------


BIG = '{"values": [' + ",".join(["0"] * 500_000) + "]}"
"""A megabyte of JSON: well inside the socket's frame limit, far more than any connection_init or ping needs."""


async def test_a_socket_whose_token_is_not_checked_yet_has_no_large_message_parsed(
    settings: Settings, tenant: TenantHandle
) -> None:
    """Anyone reaching the API could open a socket and, before any connection_init, send pings of 14 MB each:
    every one was parsed on the API's event loop (0.6 s each, every tenant's requests waiting) and answered, for as
    long as the socket stayed open, where an HTTP request's body is not read before its token is checked. Until
    connection_init is acknowledged, a message larger than an initialisation needs closes the socket 1009 before
    it is parsed; once acknowledged, the socket takes what it took before."""
    with serve(create_app(settings), lifespan="on", ws="websockets-sansio") as origin:
        url = origin.replace("http://", "ws://") + "/graphql"
        closes = []
        for first in (
            '{"type": "ping", "payload": ' + BIG + "}",
            '{"type": "connection_init", "payload": ' + BIG + "}",
        ):
            async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
                await ws.send(first)
                with pytest.raises(ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None, closed.value
            closes.append((closed.value.rcvd.code, closed.value.rcvd.reason))
        assert closes == [(1009, "send connection_init with a token before larger messages")] * 2

        async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
            await ws.send(
                json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant.token}"}})
            )
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send('{"type": "ping", "payload": ' + BIG + "}")
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "pong"
