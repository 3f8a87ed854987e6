"""What one channel answer may cost a worker, however the server sends it: no more than
PIMSYNC_CHANNEL_MAX_RESPONSE_BYTES of it, decoded, read into memory, and no more than HTTP_TIMEOUT_SECONDS in all.

The servers are real (uvicorn on loopback) and send what a hostile CUSTOM_HTTP shop could: a huge body, a gzip
bomb, stacked encodings, a body trickled a byte at a time. The requests go through the service's own client
(container.channel_http_client) and the channel clients, so the errors are those a connector records.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.channels.base import ChannelRejected, ChannelTimeout
from app.channels.custom_http.client import CustomHttpClient, CustomHttpCredentials
from app.channels.shopify import documents as gql
from app.channels.shopify.client import ShopifyClient, ShopifyCredentials
from app.container import channel_http_client
from app.domain.errors import ErrorCode
from app.settings import Environment, Settings
from tests.emulators import serve

LIMIT = 64 * 1024
TIMEOUT = 1.0
SECRET = "shop-signing-secret-0123456789"

Asgi = Callable[[dict[str, Any], Any, Any], Any]


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        environment=Environment.TEST,
        var_dir=tmp_path,
        allow_private_urls=True,  # the servers are on loopback
        channel_max_response_bytes=LIMIT,
        http_timeout_seconds=TIMEOUT,
    )
    async with channel_http_client(settings) as client:
        yield client


def answering(body: bytes, *, encoding: str | None = None, seen: list[dict[str, str]] | None = None) -> Asgi:
    """A server answering every request 200 with `body`, sent as it is under Content-Encoding `encoding`."""
    headers = [(b"content-type", b"application/json")]
    if encoding is not None:
        headers.append((b"content-encoding", encoding.encode()))

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if seen is not None:
            seen.append({name.decode(): value.decode() for name, value in scope["headers"]})
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def trickling(*, every: float, pieces: int) -> Asgi:
    """A server answering a JSON array one space at a time, `every` seconds apart: each read is quick.

    It stops trickling once the client hangs up (the test's point is that the client does): trickling on, it
    outlived its test, and the server's stop cut it off with a traceback logged into whatever test ran next in the
    process (one asserting a command's output holds no traceback failed on it)."""

    async def trickle(send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"[", "more_body": True})
        for _ in range(pieces):
            await asyncio.sleep(every)
            await send({"type": "http.response.body", "body": b" ", "more_body": True})
        await send({"type": "http.response.body", "body": b"]"})

    async def hung_up(receive: Any) -> None:
        while (await receive())["type"] != "http.disconnect":
            continue

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        tasks = {asyncio.create_task(trickle(send)), asyncio.create_task(hung_up(receive))}
        _, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    return app


@pytest.fixture
def origin_of() -> Iterator[Callable[[Asgi], str]]:
    """Serve an app on loopback for the rest of the test; its origin."""
    with contextlib.ExitStack() as stack:
        yield lambda app: stack.enter_context(serve(app))


def shop(origin: str, http: httpx.AsyncClient) -> CustomHttpClient:
    credentials = CustomHttpCredentials.parse({"baseUrl": origin, "signingSecret": SECRET})
    return CustomHttpClient(credentials, http, timeout=TIMEOUT)


async def test_an_answer_larger_than_the_limit_is_refused_as_a_bad_answer(
    http: httpx.AsyncClient, origin_of: Callable[[Asgi], str]
) -> None:
    huge = json.dumps({"name": "x" * (4 * LIMIT)}).encode()
    with pytest.raises(ChannelRejected) as refused:
        await shop(origin_of(answering(huge)), http).request("GET", "/info")
    assert refused.value.code is ErrorCode.CHANNEL_ERROR
    assert str(refused.value) == (
        f"CUSTOM_HTTP GET /info: unreadable answer: the answer is larger than {LIMIT} bytes, the most read of one"
    )


async def test_a_gzip_bomb_is_refused_without_being_inflated(
    http: httpx.AsyncClient, origin_of: Callable[[Asgi], str]
) -> None:
    """64 MiB of zeros compress to 64 KiB, one network read or so: inflating a read whole would take 64 MiB."""
    bomb = gzip.compress(bytes(64 * 1_048_576), compresslevel=9)
    origin = origin_of(answering(bomb, encoding="gzip"))
    tracemalloc.start()
    try:
        with pytest.raises(ChannelRejected, match=f"larger than {LIMIT} bytes"):
            await shop(origin, http).request("GET", "/info")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1_048_576, f"reading the answer took {peak / 1_048_576:.0f} MiB"


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip, gzip", gzip.compress(gzip.compress(b'{"storeName": "Souk"}'))),  # each layer may multiply the size
        ("br", b"\x0b\x0a\x80"),  # not asked for
    ],
    ids=["stacked-gzip", "brotli"],
)
async def test_an_answer_in_an_encoding_not_asked_for_is_refused(
    http: httpx.AsyncClient, origin_of: Callable[[Asgi], str], encoding: str, body: bytes
) -> None:
    with pytest.raises(ChannelRejected) as refused:
        await shop(origin_of(answering(body, encoding=encoding)), http).request("GET", "/info")
    assert str(refused.value) == (
        f"CUSTOM_HTTP GET /info: unreadable answer: the answer's Content-Encoding {encoding!r} is not gzip, deflate"
    )


@pytest.mark.parametrize(("encoding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)])
async def test_a_compressed_answer_within_the_limit_is_read_whole(
    http: httpx.AsyncClient, origin_of: Callable[[Asgi], str], encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    products = [{"sku": f"SKU-{n:05}", "name": "Souk lantern"} for n in range(500)]
    payload = json.dumps({"products": products}).encode()
    assert len(payload) < LIMIT
    seen: list[dict[str, str]] = []
    client = shop(origin_of(answering(compress(payload), encoding=encoding, seen=seen)), http)
    answer = await client.request("GET", "/products")
    assert client.json("GET", "/products", answer) == {"products": products}
    assert seen[0]["accept-encoding"] == "gzip, deflate"


async def test_an_answer_trickled_a_byte_at_a_time_ends_at_the_timeout(
    http: httpx.AsyncClient, origin_of: Callable[[Asgi], str]
) -> None:
    """Each byte comes well within the read timeout; the request as a whole may not outlast the timeout."""
    client = shop(origin_of(trickling(every=TIMEOUT / 10, pieces=100)), http)
    started = time.monotonic()
    with pytest.raises(ChannelTimeout) as timed_out:
        async with asyncio.timeout(5 * TIMEOUT):  # the server would go on for 10 timeouts
            await client.request("GET", "/products")
    assert timed_out.value.code is ErrorCode.TIMEOUT
    assert time.monotonic() - started < 2 * TIMEOUT


async def test_a_shopify_answer_larger_than_the_limit_is_rejected_not_retried(
    http: httpx.AsyncClient, origin_of: Callable[[Asgi], str]
) -> None:
    huge = json.dumps({"data": {"product": {"title": "x" * (4 * LIMIT)}}}).encode()
    endpoint = origin_of(answering(huge)) + "/admin/api/2026-04/graphql.json"
    credentials = ShopifyCredentials.parse({"shopDomain": "souk-demo.myshopify.com", "accessToken": "shpat_0123"})
    client = ShopifyClient(credentials, http, timeout=TIMEOUT, endpoint=endpoint)
    with pytest.raises(ChannelRejected, match=f"ProductState: unreadable answer: the answer is larger than {LIMIT}"):
        await client.execute(gql.PRODUCT_STATE, {"id": "gid://shopify/Product/1"})
