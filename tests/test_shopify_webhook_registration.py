"""Shopify connectors subscribe products/update and products/delete when the service has a public URL.

Through the GraphQL API against the Shopify emulator (pinned 2026-04 schema):
the emulator's own subscription list and request log say what was asked of
the shop. The emulator refuses plain http:// callbacks as Shopify does, which
is how a userError is produced here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest

from app.channels.base import RateSignal, WebhookRegistrar
from app.channels.custom_http.adapter import CustomHttpAdapter
from app.channels.shopify import documents as gql_documents
from app.channels.shopify.adapter import ShopifyAdapter
from app.container import Container
from app.db.engine import Database
from app.domain.errors import ErrorCode
from app.main import create_app
from app.repositories.events import EventRepository
from app.settings import Settings
from tests.catalog_fixtures import set_up_catalog
from tests.conftest import GraphQLClient, TenantHandle
from tests.connector_fixtures import CREATE_CONNECTOR, UPDATE_CONNECTOR, ServedShop, connector_input, served_shop
from tests.emulators.shopify import ShopifyEmulator
from tests.emulators.shopify.model import WebhookSubscription
from tests.shopify_fixtures import DOMAIN, TOKEN, shopify

__all__ = ["served_shop", "shopify"]

PUBLIC_URL = "https://pim.souk.test"
TOPICS = {"PRODUCTS_UPDATE", "PRODUCTS_DELETE"}
TEST_CONNECTION = """
mutation($code: String!) { testConnection(code: $code) { testResult { success message } userErrors { code } } }
"""
CREATES = "WebhookSubscriptionCreate"
LISTS = "WebhookSubscriptions"


@dataclass
class RecordingGate:
    acquired: list[float] = field(default_factory=list)
    observed: list[RateSignal] = field(default_factory=list)

    async def acquire(self, cost: float = 1.0) -> None:
        self.acquired.append(cost)

    async def observe(self, signal: RateSignal) -> None:
        self.observed.append(signal)


def _client_with_public_url(
    settings: Settings, container: Container, tenant: TenantHandle, public_url: str
) -> httpx.AsyncClient:
    """The API as a deployment with PIMSYNC_PUBLIC_URL set sees it: same database, Redis and HTTP pool."""
    public = settings.model_copy(update={"public_url": public_url})
    app = create_app(public, container=replace(container, settings=public))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def public_gql(settings: Settings, container: Container, tenant: TenantHandle) -> AsyncIterator[GraphQLClient]:
    async with _client_with_public_url(settings, container, tenant, PUBLIC_URL) as http:
        yield GraphQLClient(http, tenant.token)


@pytest.fixture
async def insecure_gql(settings: Settings, container: Container, tenant: TenantHandle) -> AsyncIterator[GraphQLClient]:
    """A public URL Shopify refuses to call (plain http)."""
    async with _client_with_public_url(settings, container, tenant, "http://pim.souk.test") as http:
        yield GraphQLClient(http, tenant.token)


def shopify_input(code: str = "shop", **credentials: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": "Souk on Shopify",
        "channelType": "SHOPIFY",
        "credentials": {"shopDomain": DOMAIN, "accessToken": TOKEN, **credentials},
    }


async def create(client: GraphQLClient, code: str = "shop", **credentials: Any) -> dict[str, Any]:
    payload = (await client(CREATE_CONNECTOR, {"input": shopify_input(code, **credentials)}))["createConnector"]
    assert payload["userErrors"] == [], payload["userErrors"]
    assert payload["connector"]["status"] == "CONNECTED", payload
    return dict(payload)


def subscriptions(shop: ShopifyEmulator) -> set[tuple[str, str, str]]:
    return {(s.topic, s.uri, s.format) for s in shop.state.subscriptions.values()}


async def event_kinds(db: Database, tenant: TenantHandle) -> list[tuple[str, dict[str, Any]]]:
    async with db.reader() as session:
        events = await EventRepository(session).latest(tenant.id)
    return [(event.kind, event.payload) for event in events if event.kind.startswith("connector.webhooks")]


# -- through the API ---------------------------------------------------------------------------------


async def test_creating_a_shopify_connector_subscribes_both_topics_at_its_webhook_path(
    public_gql: GraphQLClient, shopify: ShopifyEmulator, db: Database, tenant: TenantHandle
) -> None:
    created = await create(public_gql)
    url = PUBLIC_URL + created["connector"]["webhookPath"]
    assert subscriptions(shopify) == {("PRODUCTS_UPDATE", url, "JSON"), ("PRODUCTS_DELETE", url, "JSON")}
    result = created["testResult"]
    assert result["success"] is True
    assert f"Webhooks (products/update, products/delete) are registered at {url}." in result["message"]
    assert "refused until a webhook secret is set" in result["message"]  # the credentials carry no webhookSecret
    assert await event_kinds(db, tenant) == [
        ("connector.webhooks_registered", {"url": url, "topics": ["PRODUCTS_UPDATE", "PRODUCTS_DELETE"]})
    ]


async def test_testing_again_or_changing_credentials_creates_no_duplicate(
    public_gql: GraphQLClient, shopify: ShopifyEmulator, db: Database, tenant: TenantHandle
) -> None:
    created = await create(public_gql)
    url = PUBLIC_URL + created["connector"]["webhookPath"]
    for _ in range(2):
        tested = (await public_gql(TEST_CONNECTION, {"code": "shop"}))["testConnection"]["testResult"]
        assert tested["success"] is True and f"are registered at {url}" in tested["message"]
    with_secret = {"shopDomain": DOMAIN, "accessToken": TOKEN, "webhookSecret": shopify.api_secret}
    updated = (await public_gql(UPDATE_CONNECTOR, {"code": "shop", "input": {"credentials": with_secret}}))[
        "updateConnector"
    ]
    assert updated["userErrors"] == [] and updated["testResult"]["success"] is True
    assert f"are registered at {url}." in updated["testResult"]["message"]
    assert "refused" not in updated["testResult"]["message"]  # the secret is set now
    assert len(shopify.state.subscriptions) == 2
    assert len(shopify.graphql_requests(CREATES)) == 2
    assert len(shopify.graphql_requests(LISTS)) == 4  # create, two tests, one credentials change
    assert [kind for kind, _ in await event_kinds(db, tenant)] == ["connector.webhooks_registered"]


async def test_each_connector_gets_its_own_callback_url(public_gql: GraphQLClient, shopify: ShopifyEmulator) -> None:
    first = await create(public_gql, "shop")
    second = await create(public_gql, "shop_two")
    uris = {s.uri for s in shopify.state.subscriptions.values()}
    assert uris == {PUBLIC_URL + first["connector"]["webhookPath"], PUBLIC_URL + second["connector"]["webhookPath"]}
    assert len(shopify.state.subscriptions) == 4


async def test_without_a_public_url_nothing_is_asked_of_the_shop(
    gql: GraphQLClient, shopify: ShopifyEmulator, db: Database, tenant: TenantHandle
) -> None:
    created = await create(gql)
    tested = (await gql(TEST_CONNECTION, {"code": "shop"}))["testConnection"]["testResult"]
    assert tested["success"] is True
    assert shopify.graphql_requests(), "the connection tests reached the emulator"
    asked = {request.operation_name for request in shopify.graphql_requests()}
    assert asked == {"ShopInfo"}
    assert shopify.state.subscriptions == {}
    assert "Webhooks" not in created["testResult"]["message"] and "Webhooks" not in tested["message"]
    assert await event_kinds(db, tenant) == []


async def test_a_refused_subscription_is_reported_and_the_connector_is_still_created(
    insecure_gql: GraphQLClient, shopify: ShopifyEmulator, db: Database, tenant: TenantHandle
) -> None:
    created = await create(insecure_gql)  # CONNECTED, no userErrors
    result = created["testResult"]
    assert result["success"] is True
    url = "http://pim.souk.test" + created["connector"]["webhookPath"]
    assert f"Webhooks were not registered at {url} (CHN-022: " in result["message"]
    assert "Address protocol http:// is not supported" in result["message"]  # Shopify's own words
    assert shopify.state.subscriptions == {}
    [(kind, payload)] = await event_kinds(db, tenant)
    assert kind == "connector.webhooks_failed"
    assert payload["url"] == url and payload["code"] == "CHN-022"
    assert "Address protocol http:// is not supported" in payload["reason"]


async def test_a_custom_http_connector_registers_nothing(
    settings: Settings, container: Container, tenant: TenantHandle, served_shop: ServedShop
) -> None:
    """A CUSTOM_HTTP shop configures its own webhooks (its protocol): its adapter is no WebhookRegistrar."""
    async with _client_with_public_url(settings, container, tenant, PUBLIC_URL) as http:
        client = GraphQLClient(http, tenant.token)
        await set_up_catalog(client)
        payload = (await client(CREATE_CONNECTOR, {"input": connector_input(served_shop)}))["createConnector"]
    assert payload["userErrors"] == [] and payload["testResult"]["success"] is True
    assert "Webhooks" not in payload["testResult"]["message"]
    assert not issubclass(CustomHttpAdapter, WebhookRegistrar)
    assert issubclass(ShopifyAdapter, WebhookRegistrar)


def test_the_public_url_is_an_http_address_kept_without_its_trailing_slash() -> None:
    assert Settings(public_url="https://pim.souk.test/").public_url == "https://pim.souk.test"
    assert Settings(public_url="  ").public_url is None
    for wrong in ("pim.souk.test", "ftp://pim.souk.test", "https://pim.souk.test/?a=1"):
        with pytest.raises(ValueError, match="PIMSYNC_PUBLIC_URL"):
            Settings(public_url=wrong)


# -- the adapter -------------------------------------------------------------------------------------


async def test_register_webhooks_creates_only_the_missing_topic_under_the_rate_gate(
    settings: Settings, shopify: ShopifyEmulator
) -> None:
    url = f"{PUBLIC_URL}/webhooks/abc"
    shopify.state.subscriptions[1] = WebhookSubscription(id=1, topic="PRODUCTS_UPDATE", uri=url)
    shopify.state.subscriptions[2] = WebhookSubscription(id=2, topic="PRODUCTS_DELETE", uri=f"{PUBLIC_URL}/other")
    gate = RecordingGate()
    async with httpx.AsyncClient(trust_env=False) as http:
        adapter = ShopifyAdapter(
            {"shopDomain": DOMAIN, "accessToken": TOKEN, "webhookSecret": "s3cret-0123456789abcdef"},
            http,
            timeout=5.0,
            gate=gate,
            endpoint=settings.shopify_admin_url,
        )
        first = await adapter.register_webhooks(url)
        again = await adapter.register_webhooks(url)
    assert (first.created, first.existing, first.secret_configured) == (
        ("PRODUCTS_DELETE",),
        ("PRODUCTS_UPDATE",),
        True,
    )
    assert (again.created, again.existing) == ((), ("PRODUCTS_UPDATE", "PRODUCTS_DELETE"))
    assert {(s.topic, s.uri) for s in shopify.state.subscriptions.values() if s.uri == url} == {
        (topic, url) for topic in TOPICS
    }
    requests = shopify.graphql_requests()
    assert [r.operation_name for r in requests] == [LISTS, CREATES, LISTS]
    assert len(gate.acquired) == len(requests) == len(gate.observed)
    operations = {op.name: op for op in gql_documents.ALL}
    for request, taken in zip(requests, gate.acquired, strict=True):
        assert request.operation_name is not None and request.requested_cost is not None
        assert taken == operations[request.operation_name].estimate(request.variables or {})
        assert request.requested_cost <= taken <= request.requested_cost + 2, request.operation_name


# -- unsubscribing -----------------------------------------------------------------------------------

DELETE_CONNECTOR = "mutation($code: String!) { deleteConnector(code: $code) { deletedId userErrors { code } } }"


async def test_deleting_a_connector_deletes_its_subscriptions_and_only_its_own(
    public_gql: GraphQLClient, shopify: ShopifyEmulator, db: Database, tenant: TenantHandle
) -> None:
    created = await create(public_gql, "shop")
    other = await create(public_gql, "shop_two")
    deleted = (await public_gql(DELETE_CONNECTOR, {"code": "shop"}))["deleteConnector"]
    assert deleted["userErrors"] == [] and deleted["deletedId"]
    assert {s.uri for s in shopify.state.subscriptions.values()} == {PUBLIC_URL + other["connector"]["webhookPath"]}
    url = PUBLIC_URL + created["connector"]["webhookPath"]
    assert ("connector.webhooks_unregistered", {"url": url, "topics": ["PRODUCTS_UPDATE", "PRODUCTS_DELETE"]}) in (
        await event_kinds(db, tenant)
    )


async def test_a_shop_that_fails_does_not_stop_the_delete(
    public_gql: GraphQLClient, shopify: ShopifyEmulator, db: Database, tenant: TenantHandle
) -> None:
    await create(public_gql)
    shopify.fail_next(5, status=503)
    deleted = (await public_gql(DELETE_CONNECTOR, {"code": "shop"}))["deleteConnector"]
    assert deleted["userErrors"] == [] and deleted["deletedId"]
    assert (await public_gql('{ connector(code: "shop") { code } }'))["connector"] is None
    [payload] = [payload for kind, payload in await event_kinds(db, tenant) if kind == "connector.webhooks_failed"]
    assert payload["code"] == ErrorCode.CHANNEL_UNAVAILABLE.value
    assert len(shopify.state.subscriptions) == 2  # left behind, and said so in the event


async def test_a_new_public_url_moves_the_subscriptions_instead_of_adding_some(
    settings: Settings, container: Container, tenant: TenantHandle, public_gql: GraphQLClient, shopify: ShopifyEmulator
) -> None:
    created = await create(public_gql)
    path = created["connector"]["webhookPath"]
    elsewhere = WebhookSubscription(id=99, topic="PRODUCTS_UPDATE", uri="https://other-service.test/hooks/x")
    shopify.state.subscriptions[99] = elsewhere
    async with _client_with_public_url(settings, container, tenant, "https://pim.new.test") as http:
        tested = (await GraphQLClient(http, tenant.token)(TEST_CONNECTION, {"code": "shop"}))["testConnection"]
    assert tested["testResult"]["success"] is True
    assert subscriptions(shopify) == {
        ("PRODUCTS_UPDATE", "https://pim.new.test" + path, "JSON"),
        ("PRODUCTS_DELETE", "https://pim.new.test" + path, "JSON"),
        ("PRODUCTS_UPDATE", "https://other-service.test/hooks/x", "JSON"),
    }
