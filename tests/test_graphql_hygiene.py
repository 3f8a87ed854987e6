"""Limits on depth, aliases and tokens; masked faults and no introspection in production; GraphiQL in development."""

from __future__ import annotations

import httpx

from app.container import Container
from app.main import create_app
from app.settings import Environment, Settings
from tests.conftest import GraphQLClient, TenantHandle


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


async def test_invalid_document_has_a_code(gql: GraphQLClient) -> None:
    errors = await gql.errors("{ noSuchField }")
    assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


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
