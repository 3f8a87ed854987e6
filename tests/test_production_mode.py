"""ENVIRONMENT=production: faults are answered without their details, no introspection, no GraphiQL.

The same app in development shows a fault's message, which is what makes the
masking checks below able to fail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.container import Container
from app.main import create_app
from app.services.catalog_setup import CatalogSetupService
from app.services.tokens import TokenService
from app.settings import Environment, Settings
from tests.conftest import GraphQLClient, TenantHandle

SECRET_DETAIL = "password=hunter2 at db.internal:5432"
LOCALES = "{ locales { code } }"


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
