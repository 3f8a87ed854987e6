"""A document sent again is not parsed or validated again, and is answered exactly as the first time.

Each test makes its documents new to the process (a comment with a fresh id): the cache lives as long as the process,
across tests.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query

from app.container import Container
from app.main import create_app
from app.settings import Environment, Settings
from graphql_schema import build_schema
from graphql_schema.document_cache import MAX_CACHED_DOCUMENT_CHARS, RequestRule, document_cache_info
from tests.conftest import GraphQLClient, TenantHandle
from tests.test_graphql_hygiene import JOB_ERRORS, refused


def fresh(document: str) -> str:
    """`document` under a comment no other document of this process has."""
    return f"# {uuid.uuid4().hex}\n{document}"


async def test_a_document_sent_again_is_neither_parsed_nor_validated_again(gql: GraphQLClient) -> None:
    query = fresh("query($first: Int) { connectors(first: $first) { totalCount edges { node { code } } } }")
    before = document_cache_info()
    first = await gql(query, {"first": 5})
    kept = document_cache_info()
    assert (kept.misses, kept.hits) == (before.misses + 1, before.hits)
    assert await gql(query, {"first": 7}) == first
    again = document_cache_info()
    assert (again.misses, again.hits) == (kept.misses, kept.hits + 1)


async def test_the_node_budget_judges_each_request_of_a_kept_document_by_its_own_variables(gql: GraphQLClient) -> None:
    """The budget depends on `first`: the same text is let through, refused, and let through again."""
    query = fresh(JOB_ERRORS)
    hits = document_cache_info().hits
    assert (await gql(query, {"connectors": 2, "jobs": 200}))["connectors"]["edges"] == []  # 40,402 nodes
    assert "50502 nodes" in await refused(gql, query, {"connectors": 2})  # $jobs' default, 250
    assert (await gql(query, {"connectors": 2, "jobs": 200}))["connectors"]["edges"] == []
    assert "6312750 nodes" in await refused(gql, query, {"connectors": 250})
    assert document_cache_info().hits == hits + 3


async def test_a_document_over_the_depth_limit_is_refused_each_time_it_is_sent(gql: GraphQLClient) -> None:
    nested = "products { edges { node { listings { connector { " * 2
    query = fresh("{ " + nested + "code" + " } } } } }" * 2 + " }")
    first = await gql.errors(query)
    assert first[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert await gql.errors(query) == first


@pytest.mark.parametrize("padding", [MAX_CACHED_DOCUMENT_CHARS, 1_000_000])
async def test_a_document_longer_than_the_cache_takes_is_answered_and_not_kept(
    gql: GraphQLClient, padding: int
) -> None:
    """A comment costs no token, so a long one passes the token limit: such a text is answered every time, never
    kept (a document of megabytes would hold as much memory as long as it stayed)."""
    query = fresh("{ locales { code } }") + "#" + "x" * padding
    assert len(query) > MAX_CACHED_DOCUMENT_CHARS
    before = document_cache_info()
    for _ in range(2):
        assert (await gql(query))["locales"] == []
    after = document_cache_info()
    assert (after.hits, after.misses, after.currsize) == (before.hits, before.misses, before.currsize)


async def test_a_document_over_the_token_limit_is_refused_each_time_and_not_kept(
    settings: Settings, container: Container, tenant: TenantHandle
) -> None:
    limited = settings.model_copy(update={"graphql_max_tokens": 20})
    app = create_app(limited, container=container)
    query = fresh("{ " + " ".join(f"a{n}: locales {{ code }}" for n in range(5)) + " }")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        gql = GraphQLClient(http, tenant.token)
        before = document_cache_info()
        first = await gql.errors(query)
        assert "more than 20 tokens" in first[0]["message"]
        assert await gql.errors(query) == first
    after = document_cache_info()
    assert after.hits == before.hits and after.misses == before.misses + 2  # tried each time, kept neither time


async def test_a_document_let_through_in_development_is_still_refused_in_production(
    settings: Settings, container: Container, tenant: TenantHandle, gql: GraphQLClient
) -> None:
    """The verdict is kept per schema: introspection passes where it is on, and the same text is refused where it
    is off."""
    query = fresh(get_introspection_query())
    assert (await gql(query))["__schema"]["queryType"]["name"] == "Query"
    production = settings.model_copy(update={"environment": Environment.PRODUCTION})
    app = create_app(production, container=container)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        for _ in range(2):
            errors = await GraphQLClient(http, tenant.token).errors(query)
            assert "introspection" in errors[0]["message"].lower()


REFUSED: list[tuple[str, dict[str, Any]]] = [
    (JOB_ERRORS, {"connectors": 250}),  # the node budget alone
    (JOB_ERRORS.replace("message", "noSuchField"), {"connectors": 250}),  # a field and the budget
    (JOB_ERRORS.replace("code", "cod"), {"connectors": 2, "jobs": 1}),  # a field, suggested or not
    ("{ " + "products { edges { node { listings { connector { " * 3 + "code" + " } } } } }" * 3 + " }", {}),
    ("{ " + " ".join(f"a{n}: locales {{ code }}" for n in range(40)) + " }", {}),  # aliases
    ("query Q { locales { code } ", {}),  # does not parse
    ("query($n: Int!) { connectors(first: $n) { totalCount } }", {"n": "many"}),  # a variable of the wrong type
]


@pytest.mark.parametrize("environment", [Environment.TEST, Environment.PRODUCTION])
async def test_refused_documents_get_the_same_errors_in_the_same_order_as_without_the_cache(
    environment: Environment,
) -> None:
    """Every error, its message, locations and code, as a client reads them, sent once and again."""
    settings = Settings(environment=environment)
    cached, uncached = build_schema(settings), build_schema(settings, cache_documents=False)
    for document, variables in REFUSED:
        query = fresh(document)
        expected = (await uncached.execute(query, variables)).errors
        assert expected, document
        for _ in range(2):
            answered = (await cached.execute(query, variables)).errors
            assert [error.formatted for error in answered or ()] == [error.formatted for error in expected]


def test_a_rule_that_depends_on_the_request_may_not_visit_the_document() -> None:
    """It runs on every request without a walk of the document: a visit would silently never happen."""
    with pytest.raises(TypeError, match="may not visit"):

        class Visiting(RequestRule):
            def enter_field(self, *_args: Any) -> None:
                return None
