"""The channels' HTTP client reaches public addresses only, judged when it connects (PIMSYNC_ALLOW_PRIVATE_URLS off).

The URL check when a connector is built answers the common case; these tests
cover what it cannot see: a name whose DNS answer changes after the check
(rebinding), and addresses written in forms only the resolver understands.
The shops are served on loopback, so every test here is a shop the service
must not reach, unless its origin is one the operator configured.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from app.channels.base import CredentialsRejected
from app.container import Container, channel_http_client
from app.main import create_app
from app.settings import Settings
from tests.catalog_fixtures import set_up_catalog
from tests.conftest import GraphQLClient, TenantHandle
from tests.connector_fixtures import CREATE_CONNECTOR, ServedShop, connector_input, served_shop
from tests.emulators import serve
from tests.ports import silent_port

__all__ = ["served_shop"]

TEST_CONNECTION = "mutation($code: String!) { testConnection(code: $code) { testResult { success message } } }"
PUBLIC = "93.184.216.34"
"""A public address for a fake DNS answer; nothing ever connects to it."""


@pytest.fixture
def strict_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"allow_private_urls": False})


@pytest.fixture
async def strict_gql(
    strict_settings: Settings, container: Container, tenant: TenantHandle
) -> AsyncIterator[GraphQLClient]:
    """The API as deployed by default: the channels' client refuses private addresses."""
    http = channel_http_client(strict_settings)
    strict = dataclasses.replace(container, settings=strict_settings, http=http)
    app = create_app(strict_settings, container=strict)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        gql = GraphQLClient(client, tenant.token)
        await set_up_catalog(gql)
        yield gql
    await http.aclose()


Answers = Callable[[str], list[str] | None]


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> Callable[[Answers], None]:
    """Answer name lookups of the test's event loop (which the service and httpx both ask) as `answers` says;
    names it returns None for resolve as usual."""

    def install(answers: Answers) -> None:
        loop = asyncio.get_running_loop()
        real = loop.getaddrinfo

        async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            addresses = answers(str(host))
            if addresses is None:
                return await real(host, port, *args, **kwargs)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port))) for address in addresses]

        monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)

    return install


def rebinding(name: str) -> Answers:
    """`name` is public the first time it is looked up, and loopback from then on."""
    asked: list[str] = []

    def answers(host: str) -> list[str] | None:
        if host != name:
            return None
        asked.append(host)
        return [PUBLIC] if len(asked) == 1 else ["127.0.0.1"]

    return answers


async def test_a_shop_name_that_turns_private_after_the_check_is_not_reached(
    strict_gql: GraphQLClient, served_shop: ServedShop, fake_dns: Callable[[Answers], None]
) -> None:
    fake_dns(rebinding("shop.rebind.test"))
    given = connector_input(served_shop)
    given["credentials"]["baseUrl"] = served_shop.base_url.replace("127.0.0.1", "shop.rebind.test")
    payload = (await strict_gql(CREATE_CONNECTOR, {"input": given}))["createConnector"]
    assert payload["testResult"]["success"] is False
    assert payload["testResult"]["message"] == (
        "CHN-003: shop.rebind.test resolves to a loopback, private, link-local or reserved address; "
        "the service only calls public addresses unless private URLs are allowed"
    )
    assert payload["connector"]["status"] == "ERROR"
    assert served_shop.shop.requests == [], "the service called a loopback address"


async def test_a_refused_internal_name_is_named_without_the_address_it_resolves_to(
    strict_gql: GraphQLClient, served_shop: ServedShop, fake_dns: Callable[[Answers], None]
) -> None:
    """A tenant learns that its URL is refused, not the service's network: the address an internal name resolves
    to in the service's DNS would map that network for anyone able to create a connector."""
    fake_dns(lambda host: ["10.20.30.40"] if host == "billing.corp.test" else None)
    given = connector_input(served_shop)
    given["credentials"]["baseUrl"] = "http://billing.corp.test/pim-bridge"
    created = (await strict_gql(CREATE_CONNECTOR, {"input": given}))["createConnector"]
    tested = (await strict_gql(TEST_CONNECTION, {"code": given["code"]}))["testConnection"]
    listed = await strict_gql("{ connectors { edges { node { statusReason } } } }")
    expected = (
        "CHN-003: baseUrl: billing.corp.test resolves to a loopback, private, link-local or reserved address; "
        "the service only calls public addresses unless private URLs are allowed"
    )
    assert (created["testResult"]["message"], tested["testResult"]["message"]) == (expected, expected)
    assert [edge["node"]["statusReason"] for edge in listed["connectors"]["edges"]] == [expected]


@dataclasses.dataclass
class LoopbackOrigin:
    """A server on loopback: the paths it was asked for, the client port of each request, its own port."""

    asked: list[str]
    client_ports: list[int]
    port: int


@pytest.fixture
def loopback_origin() -> Iterator[LoopbackOrigin]:
    asked: list[str] = []
    client_ports: list[int] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        asked.append(scope["path"])
        client_ports.append(scope["client"][1])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    with serve(app) as origin:
        yield LoopbackOrigin(asked, client_ports, int(origin.rsplit(":", 1)[1]))


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.1", "0x7f.1", "2130706433", "017700000001", "localhost", "[::ffff:127.0.0.1]"]
)
async def test_every_spelling_of_loopback_is_refused_at_connect_time(
    strict_settings: Settings, loopback_origin: LoopbackOrigin, host: str
) -> None:
    asked, port = loopback_origin.asked, loopback_origin.port
    async with channel_http_client(strict_settings) as http:
        with pytest.raises(CredentialsRejected, match="loopback, private, link-local or reserved"):
            await http.get(f"http://{host}:{port}/latest/meta-data")
    assert asked == []


async def test_a_name_with_one_private_address_among_public_ones_is_refused(
    strict_settings: Settings, loopback_origin: LoopbackOrigin, fake_dns: Callable[[Answers], None]
) -> None:
    asked, port = loopback_origin.asked, loopback_origin.port
    fake_dns(lambda host: [PUBLIC, "169.254.169.254", "127.0.0.1"] if host == "shop.mixed.test" else None)
    async with channel_http_client(strict_settings) as http:
        with pytest.raises(CredentialsRejected, match=r"shop\.mixed\.test resolves to a loopback"):
            await http.get(f"http://shop.mixed.test:{port}/")
    assert asked == []


async def test_the_shopify_endpoint_the_operator_configured_is_reached_and_no_other_port_of_its_host(
    strict_settings: Settings, loopback_origin: LoopbackOrigin
) -> None:
    """PIMSYNC_SHOPIFY_ADMIN_URL may name an egress proxy on the private network: the operator chose it."""
    asked, port = loopback_origin.asked, loopback_origin.port
    trusting = strict_settings.model_copy(
        update={"shopify_admin_url": f"http://localhost:{port}/admin/api/2026-04/graphql.json"}
    )
    async with channel_http_client(trusting) as http:
        assert (await http.post(f"http://localhost:{port}/admin/api/2026-04/graphql.json")).status_code == 200
        with pytest.raises(CredentialsRejected):
            await http.get(f"http://localhost:{port + 1}/")
    assert asked == ["/admin/api/2026-04/graphql.json"]


async def test_a_name_that_does_not_resolve_is_a_connection_failure(strict_settings: Settings) -> None:
    async with channel_http_client(strict_settings) as http:
        with pytest.raises(httpx.ConnectError, match="does not resolve"):
            await http.get("http://shop.invalid/")


async def test_requests_to_one_origin_share_a_kept_alive_connection(
    strict_settings: Settings, loopback_origin: LoopbackOrigin
) -> None:
    """The address check is made per connection, so a pooled connection is reused without a second lookup."""
    endpoint = f"http://localhost:{loopback_origin.port}/admin/api/2026-04/graphql.json"
    trusting = strict_settings.model_copy(update={"shopify_admin_url": endpoint})
    async with channel_http_client(trusting) as http:
        for _ in range(3):
            assert (await http.post(endpoint, content=b"{}")).status_code == 200
    assert len(loopback_origin.client_ports) == 3
    assert len(set(loopback_origin.client_ports)) == 1, "each request opened its own connection"


async def test_an_address_that_does_not_answer_leaves_the_next_one_time_to_connect(
    strict_settings: Settings, loopback_origin: LoopbackOrigin, fake_dns: Callable[[Answers], None]
) -> None:
    """A name's first address drops the connection attempt (an IPv6 route to nowhere, a firewall): the attempt on
    it may take only its share of the connect timeout, so the request is answered within the timeout, not after it.
    """
    port = loopback_origin.port
    endpoint = f"http://shop.two.test:{port}/admin/api/2026-04/graphql.json"
    timeout = 2.0
    settings = strict_settings.model_copy(update={"shopify_admin_url": endpoint, "http_timeout_seconds": timeout})
    fake_dns(lambda host: ["127.0.0.2", "127.0.0.1"] if host == "shop.two.test" else None)
    with silent_port("127.0.0.2", port):
        async with channel_http_client(settings) as http:
            started = time.monotonic()
            answer = await http.post(endpoint, content=b"{}")
            took = time.monotonic() - started
    assert answer.status_code == 200
    assert took < 0.8 * timeout, f"connected after {took:.1f}s, the connect timeout being {timeout}s"


async def test_connecting_to_a_name_whose_addresses_all_stay_silent_ends_within_the_connect_timeout(
    strict_settings: Settings, fake_dns: Callable[[Answers], None]
) -> None:
    timeout = 1.0
    with silent_port("127.0.0.2") as port, silent_port("127.0.0.3", port):
        endpoint = f"http://shop.silent.test:{port}/"
        settings = strict_settings.model_copy(update={"shopify_admin_url": endpoint, "http_timeout_seconds": timeout})
        fake_dns(lambda host: ["127.0.0.2", "127.0.0.3"] if host == "shop.silent.test" else None)
        async with channel_http_client(settings) as http:
            started = time.monotonic()
            # the connect timeout's or the request's as a whole: both end now
            with pytest.raises(httpx.TimeoutException):
                await http.get(endpoint)
            took = time.monotonic() - started
    assert took < 1.5 * timeout, f"gave up after {took:.1f}s, the connect timeout being {timeout}s"
