"""ENVIRONMENT=production: faults are answered without their details, no introspection, no GraphiQL.

The same app in development shows a fault's message, which is what makes the
masking checks below able to fail.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import structlog
from cryptography.fernet import Fernet
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from app.container import Container
from app.main import create_app
from app.services.catalog_setup import CatalogSetupService
from app.services.tokens import TokenService
from app.settings import Environment, Settings
from tests.conftest import GraphQLClient, TenantHandle
from tests.emulators import serve

SECRET_DETAIL = "password=hunter2 at db.internal:5432"
LOCALES = "{ locales { code } }"
WS = "graphql-transport-ws"


class Boom(RuntimeError):
    pass


async def _explode(*_args: Any, **_kwargs: Any) -> Any:
    raise Boom(f"connection refused ({SECRET_DETAIL})")


def _app_client(settings: Settings, container: Container, environment: Environment) -> httpx.AsyncClient:
    app = create_app(settings.model_copy(update={"environment": environment}), container=container)
    # Let the app answer faults itself, as a server would, instead of raising them into the test.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def production(settings: Settings, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with _app_client(settings, container, Environment.PRODUCTION) as http:
        yield http


@pytest.fixture
async def development(settings: Settings, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with _app_client(settings, container, Environment.DEVELOPMENT) as http:
        yield http


async def test_a_resolver_fault_is_masked_in_production(
    production: httpx.AsyncClient, tenant: TenantHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CatalogSetupService, "list_locales", _explode)
    response = await GraphQLClient(production, tenant.token).raw(LOCALES)
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert error["path"] == ["locales"]
    for leak in (SECRET_DETAIL, "Boom", "connection refused", "Traceback", "list_locales", ".py"):
        assert leak not in response.text


async def test_a_fault_over_a_websocket_is_masked_in_production(
    settings: Settings, tenant: TenantHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """graphql-transport-ws answers with the same error policy as HTTP: a code on every error, faults masked."""
    monkeypatch.setattr(CatalogSetupService, "list_locales", _explode)
    production = settings.model_copy(
        update={"environment": Environment.PRODUCTION, "secret_keys": Fernet.generate_key().decode()}
    )
    with serve(create_app(production), lifespan="on", ws="websockets-sansio") as origin:
        async with connect(origin.replace("http://", "ws://") + "/graphql", subprotocols=[Subprotocol(WS)]) as ws:
            await ws.send(
                json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {tenant.token}"}})
            )
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": LOCALES}}))
            answer = await asyncio.wait_for(ws.recv(), 10)
    [error] = json.loads(answer)["payload"]["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    for leak in (SECRET_DETAIL, "Boom", "connection refused", "Traceback", "list_locales", ".py"):
        assert leak not in str(answer)


async def test_the_same_fault_shows_its_message_in_development(
    development: httpx.AsyncClient, tenant: TenantHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(CatalogSetupService, "list_locales", _explode)
    [error] = (await GraphQLClient(development, tenant.token).raw(LOCALES)).json()["errors"]
    assert SECRET_DETAIL in error["message"]
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"


async def test_expected_errors_keep_their_message_in_production(
    production: httpx.AsyncClient, tenant: TenantHandle
) -> None:
    gql = GraphQLClient(production, tenant.token)
    [error] = await gql.errors("{ noSuchField }")
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "noSuchField" in error["message"]
    assert (await gql(LOCALES))["locales"] == []


@pytest.mark.parametrize(
    ("query", "variables", "told"),
    [
        ("query($first: Int) { syncJobs(first: $first) { totalCount } }", {"first": "ten"}, "'ten'"),
        ("query($from: DateTime) { syncJobs(from: $from) { totalCount } }", {"from": "last week"}, "DateTime"),
        ("query($status: SyncJobStatus) { syncJobs(status: $status) { totalCount } }", {"status": "DONE"}, "DONE"),
        ("query($id: ID!) { syncJob(id: $id) { id } }", {}, "'$id'"),
    ],
)
async def test_a_variable_that_does_not_fit_its_type_is_bad_input_not_a_fault(
    production: httpx.AsyncClient, tenant: TenantHandle, query: str, variables: dict[str, Any], told: str
) -> None:
    """A frontend sends its arguments as variables: a wrong one is its mistake, said as such even in production."""
    [error] = await GraphQLClient(production, tenant.token).errors(query, variables)
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert told in error["message"]


async def test_a_fault_outside_graphql_is_a_bare_500_in_production(
    production: httpx.AsyncClient, tenant: TenantHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TokenService, "authenticate", _explode)
    response = await production.post(
        "/graphql", json={"query": LOCALES}, headers={"Authorization": f"Bearer {tenant.token}"}
    )
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
    assert SECRET_DETAIL not in response.text


async def test_introspection_is_refused_in_production(production: httpx.AsyncClient, tenant: TenantHandle) -> None:
    gql = GraphQLClient(production, tenant.token)
    for query in ("{ __schema { queryType { name } } }", '{ __type(name: "Query") { fields { name } } }'):
        errors = await gql.errors(query)
        assert "introspection" in errors[0]["message"].lower(), errors
    response = await gql.raw("{ __schema { types { name } } }")
    assert "ProductConnection" not in response.text


MISSPELT = [
    ("{ connecters { totalCount } }", None, "'connectors'"),
    ("{ connectors(statu: PAUSED) { totalCount } }", None, "'status'"),
    ("{ connectors(status: PAUSE) { totalCount } }", None, "'PAUSED'"),
    ("{ connectors { edges { node { ... on SyncJb { id } } } } }", None, "'SyncJob'"),
    (
        'mutation { triggerSync(connectorCode: "x", input: {syncType: FULL, dryRn: true}) { syncJob { id } } }',
        None,
        "'dryRun'",
    ),
    ("query($s: ConnectorStatus) { connectors(status: $s) { totalCount } }", {"s": "PAUSE"}, "'PAUSED'"),
]


@pytest.mark.parametrize(("query", "variables", "real_name"), MISSPELT)
async def test_errors_suggest_no_names_when_introspection_is_off(
    production: httpx.AsyncClient, tenant: TenantHandle, query: str, variables: dict[str, Any] | None, real_name: str
) -> None:
    """ "Did you mean 'connectors'?" would let anyone guessing map the schema that introspection hides."""
    [error] = await GraphQLClient(production, tenant.token).errors(query, variables)
    assert real_name not in error["message"] and "Did you mean" not in error["message"], error
    assert error["extensions"]["code"] in {"GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"}


@pytest.mark.parametrize(("query", "variables", "real_name"), MISSPELT[:1])
async def test_errors_suggest_names_in_development(
    development: httpx.AsyncClient, tenant: TenantHandle, query: str, variables: dict[str, Any] | None, real_name: str
) -> None:
    [error] = await GraphQLClient(development, tenant.token).errors(query, variables)
    assert real_name in error["message"]


async def test_introspection_works_in_development(development: httpx.AsyncClient, tenant: TenantHandle) -> None:
    data = await GraphQLClient(development, tenant.token)("{ __schema { queryType { name } } }")
    assert data["__schema"]["queryType"]["name"] == "Query"


async def test_graphiql_is_not_served_in_production(production: httpx.AsyncClient) -> None:
    for accept in ("text/html", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"):
        page = await production.get("/graphql", headers={"Accept": accept})
        assert page.status_code == 401
        assert "graphiql" not in page.text.lower()
        assert "<html" not in page.text.lower()


async def test_graphiql_is_served_in_development(development: httpx.AsyncClient) -> None:
    page = await development.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


# -- what the logs show of a fault -------------------------------------------------------------------


def _fails_holding_a_secret() -> None:
    api_key = SECRET_DETAIL  # what a frame's locals would show
    raise ValueError(f"refused a key of {len(api_key)} characters")


@pytest.mark.parametrize("log_json", [False, True])
def test_a_logged_traceback_never_shows_the_locals_of_its_frames(
    app_logging: Callable[..., None], capsys: pytest.CaptureFixture[str], log_json: bool
) -> None:
    app_logging(log_json=log_json)
    try:
        _fails_holding_a_secret()
    except ValueError:
        structlog.get_logger("test").exception("something.failed")
    logged = capsys.readouterr().err
    assert "something.failed" in logged and "_fails_holding_a_secret" in logged, logged
    assert "refused a key of" in logged, "the traceback was not rendered"
    assert SECRET_DETAIL not in logged


async def test_a_fault_is_logged_by_type_and_place_not_by_what_it_carries(
    development: httpx.AsyncClient,
    tenant: TenantHandle,
    monkeypatch: pytest.MonkeyPatch,
    app_logging: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An exception's message and repr can hold what the request sent (a UnicodeEncodeError holds the whole
    header value it could not encode); the log says what failed and where, the response nothing more."""
    app_logging(log_json=True)
    monkeypatch.setattr(CatalogSetupService, "list_locales", _explode)
    await GraphQLClient(development, tenant.token).raw(LOCALES)
    logged = capsys.readouterr().err
    [fault] = [line for line in logged.splitlines() if "graphql.fault" in line]
    assert "Boom" in fault and "_explode" in fault, fault
    assert SECRET_DETAIL not in logged
