"""A webhook secret rotated out through updateConnector keeps verifying deliveries for a grace period, then stops.

As a user rotates: createConnector, then updateConnector with new credentials,
and deliveries signed as each channel signs them posted to
/webhooks/{connector}. The service's clock is moved instead of waited for.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select

from app.channels import signing
from app.container import Container, open_container
from app.db.engine import Database
from app.db.migrate import upgrade_to_head
from app.db.models import Connector
from app.services.keys import rotate_credentials
from app.settings import Settings
from tests.catalog_fixtures import set_up_catalog
from tests.conftest import GraphQLClient, TenantHandle, api_client, make_tenant
from tests.connector_fixtures import UPDATE_CONNECTOR, ServedShop, served_shop
from tests.emulators.shopify import ShopifyEmulator
from tests.shopify_fixtures import DOMAIN, TOKEN, shopify
from tests.webhook_fixtures import create_with, refusal, wc_delivery, wc_product

__all__ = ["served_shop", "shopify"]

OLD, NEW, NEWEST = "old-secret-0123456789abcdef", "new-secret-0123456789abcdef", "newest-secret-0123456789ab"
NEVER_SET = "a-secret-never-configured-0123"
HOUR = 3600.0
DEFAULT_GRACE_HOURS = 24


class WallClock:
    """The service's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, hours: float) -> None:
        self.now += hours * HOUR


@dataclass
class Channel:
    """One channel's connector as a user keeps it: its credentials for a webhook secret, and the deliveries its
    shop signs with a given secret at the service's current time."""

    channel_type: str
    credentials: Callable[[str | None], dict[str, Any]]
    delivery: Callable[[str, float], tuple[bytes, dict[str, str]]]
    set_at_shop: Callable[[str], None] = lambda _secret: None
    """The secret changed at the shop too (a CUSTOM_HTTP shop checks the service's requests with it)."""


@dataclass
class Connection:
    gql: GraphQLClient
    http: httpx.AsyncClient
    clock: WallClock
    channel: Channel
    code: str
    path: str

    async def rotate(self, secret: str | None, **extra: Any) -> None:
        """updateConnector with the channel's credentials for `secret` (None: without a webhook secret)."""
        if secret is not None:
            self.channel.set_at_shop(secret)
        credentials = {**self.channel.credentials(secret), **extra}
        payload = (await self.gql(UPDATE_CONNECTOR, {"code": self.code, "input": {"credentials": credentials}}))[
            "updateConnector"
        ]
        assert payload["userErrors"] == [], payload["userErrors"]

    async def post(self, secret: str, *, signed_ago: float = 0.0) -> httpx.Response:
        body, headers = self.channel.delivery(secret, self.clock.now - signed_ago)
        return await self.http.post(self.path, content=body, headers=headers)

    async def accepts(self, secret: str) -> bool:
        response = await self.post(secret)
        if response.status_code == 202:
            assert response.json()["status"] == "accepted", response.text
            return True
        assert refusal(response) == (401, "CHN-050"), response.text
        return False


@pytest.fixture
def clock() -> WallClock:
    return WallClock()


@asynccontextmanager
async def api(container: Container, clock: WallClock, **changes: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The API (GraphQL and webhooks alike) on the test's clock, with its settings changed as `changes` say."""
    settings = container.settings.model_copy(update=changes)
    async with api_client(settings, dataclasses.replace(container, settings=settings, clock=clock)) as http:
        yield http


@pytest.fixture
async def client(container: Container, clock: WallClock) -> AsyncIterator[httpx.AsyncClient]:
    async with api(container, clock) as http:
        yield http


def shopify_channel(shopify: ShopifyEmulator) -> Channel:
    shopify.seed_simple_product("Brass lamp", "LAMP-1")

    def credentials(secret: str | None) -> dict[str, Any]:
        given: dict[str, Any] = {"shopDomain": DOMAIN, "accessToken": TOKEN}
        return given if secret is None else {**given, "webhookSecret": secret}

    return Channel(
        "SHOPIFY", credentials, lambda secret, _now: shopify.webhook("products/update", "LAMP-1", secret=secret)
    )


def woocommerce_channel() -> Channel:
    def credentials(secret: str | None) -> dict[str, Any]:
        given: dict[str, Any] = {
            "storeUrl": "http://127.0.0.1:9",
            "consumerKey": "ck_" + "a" * 40,
            "consumerSecret": "cs_" + "b" * 40,
        }
        return given if secret is None else {**given, "webhookSecret": secret}

    def delivery(secret: str, _now: float) -> tuple[bytes, dict[str, str]]:
        return wc_delivery(wc_product(208), delivery_id=uuid.uuid4().hex, secret=secret)

    return Channel("WOOCOMMERCE", credentials, delivery)


def custom_http_channel(served_shop: ServedShop) -> Channel:
    shop = served_shop.shop
    shop.seed("SKU-1", fields={"price": "12.00"}, locales={"en": {"title": "Chair"}})

    def delivery(secret: str, now: float) -> tuple[bytes, dict[str, str]]:
        body, headers = shop.webhook("product.updated", "SKU-1", now=now)
        return body, {**headers, **signing.signature_headers(secret, body, now)}

    def rotate_shop(secret: str) -> None:
        shop.rotate_secret_after(0, secret)

    return Channel("CUSTOM_HTTP", lambda secret: served_shop.credentials(signingSecret=secret), delivery, rotate_shop)


CHANNELS = ("SHOPIFY", "WOOCOMMERCE", "CUSTOM_HTTP")


def channel_named(name: str, request: pytest.FixtureRequest) -> Channel:
    if name == "SHOPIFY":
        return shopify_channel(request.getfixturevalue("shopify"))
    if name == "WOOCOMMERCE":
        return woocommerce_channel()
    return custom_http_channel(request.getfixturevalue("served_shop"))


async def connect(
    gql: GraphQLClient, http: httpx.AsyncClient, clock: WallClock, channel: Channel, secret: str = OLD
) -> Connection:
    await set_up_catalog(gql)
    channel.set_at_shop(secret)
    code = f"{channel.channel_type.lower()}_{uuid.uuid4().hex[:6]}"
    path = await create_with(gql, channel.channel_type, channel.credentials(secret), code=code)
    return Connection(gql, http, clock, channel, code, path)


@pytest.fixture(params=CHANNELS)
async def connection(
    request: pytest.FixtureRequest, gql: GraphQLClient, client: httpx.AsyncClient, clock: WallClock
) -> Connection:
    """A connector of each channel that takes webhooks, its webhook secret OLD."""
    return await connect(gql, client, clock, channel_named(request.param, request))


@pytest.fixture
async def shopify_connection(
    gql: GraphQLClient, client: httpx.AsyncClient, clock: WallClock, shopify: ShopifyEmulator
) -> Connection:
    return await connect(gql, client, clock, shopify_channel(shopify))


def log_lines(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> list[str]:
    return (caplog.text + capsys.readouterr().out).splitlines()


# -- the grace ----------------------------------------------------------------------------------------------------


async def test_the_rotated_out_secret_verifies_deliveries_within_the_grace_and_not_after(
    connection: Connection, db: Database, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO)
    assert await connection.accepts(OLD)
    await connection.rotate(NEW)
    assert await connection.accepts(NEW)
    assert await connection.accepts(OLD), "a delivery the channel signed before the rotation is not lost"
    connection.clock.advance(DEFAULT_GRACE_HOURS - 0.1)
    assert await connection.accepts(OLD), "a retry hours later still verifies"
    connection.clock.advance(0.2)
    assert not await connection.accepts(OLD), "past the grace only the new secret verifies"
    assert await connection.accepts(NEW)

    async with db.reader() as session:
        connector_id = await session.scalar(select(Connector.id).where(Connector.code == connection.code))
    lines = log_lines(caplog, capsys)
    names_it = re.compile(rf"\bconnector\W+{connector_id}\b")
    stragglers = [line for line in lines if "webhook.signed_with_previous_secret" in line]
    assert len(stragglers) == 2 and all(names_it.search(line) for line in stragglers), lines
    assert not any(OLD in line or NEW in line for line in lines), "no secret is ever logged"


async def test_a_secret_that_never_was_the_current_one_is_refused(shopify_connection: Connection) -> None:
    await shopify_connection.rotate(NEW)
    assert not await shopify_connection.accepts(NEVER_SET)
    await shopify_connection.rotate(NEWEST)
    assert not await shopify_connection.accepts(OLD), "only the secret just replaced is kept, not every earlier one"
    assert await shopify_connection.accepts(NEW)
    assert await shopify_connection.accepts(NEWEST)
    assert not await shopify_connection.accepts(NEVER_SET)


async def test_changing_other_credentials_neither_ends_nor_restarts_the_grace(shopify_connection: Connection) -> None:
    await shopify_connection.rotate(NEW)
    shopify_connection.clock.advance(20)
    await shopify_connection.rotate(NEW, locationId="gid://shopify/Location/7")
    shopify_connection.clock.advance(DEFAULT_GRACE_HOURS - 20 - 0.1)
    assert await shopify_connection.accepts(OLD)
    shopify_connection.clock.advance(0.2)
    assert not await shopify_connection.accepts(OLD), "the grace counts from the rotation, not the last update"


async def test_rotating_back_to_the_previous_secret_keeps_the_one_it_replaces(shopify_connection: Connection) -> None:
    await shopify_connection.rotate(NEW)
    await shopify_connection.rotate(OLD)
    assert await shopify_connection.accepts(OLD)
    assert await shopify_connection.accepts(NEW)


async def test_removing_the_secret_refuses_every_delivery_at_once(shopify_connection: Connection) -> None:
    await shopify_connection.rotate(None)
    response = await shopify_connection.post(OLD)
    assert refusal(response) == (401, "CHN-050")
    assert "webhook secret must be set" in response.json()["message"]
    await shopify_connection.rotate(NEW)
    assert not await shopify_connection.accepts(OLD), "removing the secret ended its grace for good"
    assert await shopify_connection.accepts(NEW)


async def test_the_signed_timestamp_still_bounds_a_delivery_signed_with_the_old_secret(
    gql: GraphQLClient, client: httpx.AsyncClient, clock: WallClock, served_shop: ServedShop
) -> None:
    connection = await connect(gql, client, clock, custom_http_channel(served_shop))
    await connection.rotate(NEW)
    response = await connection.post(OLD, signed_ago=301)
    assert refusal(response) == (401, "CHN-050")
    assert "300 seconds" in response.json()["message"]


async def test_with_no_grace_configured_the_old_secret_stops_at_the_rotation(
    container: Container, clock: WallClock, tenant: TenantHandle, shopify: ShopifyEmulator
) -> None:
    async with api(container, clock, webhook_secret_grace_hours=0) as http:
        connection = await connect(GraphQLClient(http, tenant.token), http, clock, shopify_channel(shopify))
        await connection.rotate(NEW)
        assert not await connection.accepts(OLD)
        assert await connection.accepts(NEW)


async def test_a_shorter_grace_configured_later_ends_it_sooner_and_a_longer_one_never_revives_it(
    shopify_connection: Connection, container: Container, clock: WallClock
) -> None:
    await shopify_connection.rotate(NEW)
    clock.advance(2)
    async with api(container, clock, webhook_secret_grace_hours=1) as http:
        assert not await dataclasses.replace(shopify_connection, http=http).accepts(OLD)
    async with api(container, clock, webhook_secret_grace_hours=48) as http:
        longer = dataclasses.replace(shopify_connection, http=http)
        assert await longer.accepts(OLD), "within the grace it was given"
        clock.advance(DEFAULT_GRACE_HOURS)
        assert not await longer.accepts(OLD), "the grace it was given when replaced still ends it"


# -- key rotation -------------------------------------------------------------------------------------------------


async def served(
    settings: Settings, clock: WallClock, use: Callable[[httpx.AsyncClient, Container], Awaitable[None]]
) -> None:
    """Run `use` against an API process started with `settings`, on the test's clock."""
    opened = dataclasses.replace(await open_container(settings), clock=clock)
    try:
        async with api_client(settings, opened) as http:
            await use(http, opened)
    finally:
        await opened.close()


async def stored_credentials(opened: Container) -> str:
    async with opened.db.reader() as session:
        return str(await session.scalar(select(Connector.credentials_encrypted)))


async def test_key_rotation_keeps_the_previous_secret_readable(
    settings: Settings, clock: WallClock, tmp_path: Path
) -> None:
    """On a database of its own, since `pimsync keys rotate` re-encrypts every connector's credentials."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'keys.sqlite3'}"
    await asyncio.to_thread(upgrade_to_head, url)
    old_key, new_key = Fernet.generate_key(), Fernet.generate_key()
    before = settings.model_copy(update={"database_url": url, "secret_keys": old_key.decode(), "var_dir": tmp_path})
    after = before.model_copy(update={"secret_keys": new_key.decode()})
    channel = woocommerce_channel()
    paths: list[str] = []

    async def rotate_webhook_secret(http: httpx.AsyncClient, opened: Container) -> None:
        tenant = await make_tenant(opened.db)
        connection = await connect(GraphQLClient(http, tenant.token), http, clock, channel)
        await connection.rotate(NEW)
        paths.append(connection.path)

    async def verify_both(http: httpx.AsyncClient, opened: Container) -> None:
        with pytest.raises(InvalidToken):
            Fernet(old_key).decrypt((await stored_credentials(opened)).encode())
        connection = Connection(GraphQLClient(http, ""), http, clock, channel, "", paths[0])
        assert await connection.accepts(OLD), "the previous secret was re-encrypted with the rest, not lost"
        assert await connection.accepts(NEW)

    async def rotate_keys(_http: httpx.AsyncClient, opened: Container) -> None:
        """What `pimsync keys rotate` runs, with SECRET_KEYS=new,old."""
        assert (await rotate_credentials(opened.db, opened.vault)).rotated == 1

    await served(before, clock, rotate_webhook_secret)
    await served(
        before.model_copy(update={"secret_keys": f"{new_key.decode()},{old_key.decode()}"}), clock, rotate_keys
    )
    await served(after, clock, verify_both)
