"""What a Shopify connector's connection test tells a person, through the GraphQL API against the Shopify emulator:
Shopify's own words when it refuses, and the version that answered when it is not the pinned one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import GraphQLClient
from tests.connector_fixtures import CREATE_CONNECTOR
from tests.emulators.shopify import ShopifyEmulator
from tests.shopify_fixtures import DOMAIN, TOKEN, shopify

__all__ = ["shopify"]


async def create(gql: GraphQLClient) -> dict[str, Any]:
    given = {
        "code": "shop",
        "name": "Souk on Shopify",
        "channelType": "SHOPIFY",
        "credentials": {"shopDomain": DOMAIN, "accessToken": TOKEN},
    }
    payload = (await gql(CREATE_CONNECTOR, {"input": given}))["createConnector"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return dict(payload)


@pytest.mark.parametrize(
    ("errors", "words"),
    [
        pytest.param(
            {"query": ["Required parameter missing or invalid"]}, "query: Required parameter missing", id="obj"
        ),
        pytest.param({"query": "Required parameter missing or invalid"}, "query: Required parameter missing", id="str"),
        pytest.param(["Required parameter missing or invalid"], "Required parameter missing or invalid", id="list"),
    ],
)
async def test_a_refused_answer_shows_shopify_s_own_words(
    gql: GraphQLClient, shopify: ShopifyEmulator, errors: object, words: str
) -> None:
    shopify.fail_next(1, status=400, body=json.dumps({"errors": errors}), media_type="application/json")
    created = await create(gql)
    assert created["testResult"]["success"] is False
    assert words in created["testResult"]["message"], created["testResult"]
    assert words in created["connector"]["statusReason"]


async def test_shopify_s_words_are_cut_to_a_bounded_message(gql: GraphQLClient, shopify: ShopifyEmulator) -> None:
    errors = {"query": ["Required parameter missing or invalid " * 200]}
    shopify.fail_next(1, status=400, body=json.dumps({"errors": errors}), media_type="application/json")
    message = (await create(gql))["testResult"]["message"]
    assert "answered 400: query: Required parameter missing or invalid" in message
    assert len(message) <= 520


TEST_CONNECTION = """
mutation($code: String!) { testConnection(code: $code) { testResult { success message } userErrors { code } } }
"""


async def test_a_pinned_version_served_by_another_is_said_and_the_test_still_succeeds(
    gql: GraphQLClient, shopify: ShopifyEmulator
) -> None:
    shopify.retire_version(served_by="2026-07")
    created = (await create(gql))["testResult"]
    tested = (await gql(TEST_CONNECTION, {"code": "shop"}))["testConnection"]["testResult"]
    for result in (created, tested):
        assert result["success"] is True
        assert result["message"].startswith("Connected to ")
        assert "answered with Admin API version 2026-07 instead of the pinned 2026-04" in result["message"], result


async def test_the_pinned_version_answering_adds_nothing(gql: GraphQLClient, shopify: ShopifyEmulator) -> None:
    result = (await create(gql))["testResult"]
    assert result["success"] is True
    assert "version" not in result["message"], result
