"""The CUSTOM_HTTP adapter against the reference shop (tests/emulators/custom_http_shop.py) over real HTTP.

The shop runs under uvicorn on a free loopback port, so requests, headers,
timeouts and refused connections are real. The shop verifies signatures with
its own code, so these tests catch a signing bug instead of agreeing with it.
Shop answers the protocol cannot produce on purpose (broken JSON, results out
of order, echoed secrets) come from tiny in-process apps over ASGITransport.

Decision pinned here: more than max_batch_size documents is refused with
ValueError before anything is sent (a caller bug: the engine chunks by
max_batch_size), not ChannelRejected (which means "the channel said no").
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.channels.base import (
    MESSAGE_LIMIT,
    ChannelDocument,
    ChannelRateLimited,
    ChannelRejected,
    ChannelTimeout,
    ChannelUnavailable,
    CredentialsRejected,
)
from app.channels.custom_http.adapter import CustomHttpAdapter, encode_document, parse_updated_at
from app.channels.custom_http.client import InvalidCredentials, parse_rate_reset, parse_retry_after
from app.channels.custom_http.spec import SPEC as CUSTOM_HTTP_SPEC
from app.channels.outbound import UnsafeUrl, check_outbound_url, is_public_address
from app.channels.rate_limit import LocalTokenBucket, RateLimit
from app.channels.retry import MIN_THROTTLE_WAIT, RetryPolicy, with_retries
from app.channels.signing import sign, signature_headers, verify
from app.container import channel_http_client
from app.domain.errors import ErrorCode
from app.settings import Settings
from tests.clocks import FakeClock
from tests.emulators import serve
from tests.emulators.custom_http_shop import CustomHttpShop, shop_signature
from tests.ports import closed_port

SECRET = "shop-signing-secret-0123456789"
API_KEY = "shop-api-key-abcdef-42"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "channels" / "custom_http.md"


@pytest.fixture
def shop() -> CustomHttpShop:
    return CustomHttpShop(signing_secret=SECRET, api_key=API_KEY, store_name="Souk Demo")


@pytest.fixture
def shop_url(shop: CustomHttpShop) -> Iterator[str]:
    with serve(shop.app) as origin:
        yield origin + shop.base_path


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:  # no proxy from the environment for loopback
        yield client


def make_adapter(
    base_url: str,
    http: httpx.AsyncClient,
    *,
    secret: str = SECRET,
    api_key: str | None = API_KEY,
    timeout: float = 5.0,
    clock: Callable[[], float] = time.time,
) -> CustomHttpAdapter:
    credentials: dict[str, Any] = {"baseUrl": base_url, "signingSecret": secret}
    if api_key is not None:
        credentials["apiKey"] = api_key
    return CustomHttpAdapter(credentials, http, timeout=timeout, clock=clock)


@pytest.fixture
def adapter(shop_url: str, http: httpx.AsyncClient) -> CustomHttpAdapter:
    return make_adapter(shop_url, http)


def chair(sku: str = "SKU-1", external_id: str | None = None, **overrides: Any) -> ChannelDocument:
    fields = overrides.pop("fields", {"price": "115.00", "barcode": "0123"})
    locales = overrides.pop(
        "locales",
        {"en": {"title": "Chair", "description": "Oak"}, "ar": {"title": "كرسي", "description": "بلوط"}},
    )
    return ChannelDocument(sku=sku, external_id=external_id, fields=fields, locales=locales)


def in_process(app: Starlette, http_timeout: float = 5.0) -> tuple[httpx.AsyncClient, CustomHttpAdapter]:
    """An adapter wired to a hand-written app: for shop answers the reference shop never gives."""
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    return client, make_adapter("http://shop.test/pim-bridge", client, timeout=http_timeout)


# -- connection test and request hygiene ------------------------------------------------------------


async def test_connection_reads_info_over_signed_request(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    shop.seed("OLD-1", locales={"en": {"title": "Lamp"}})
    info = await adapter.test_connection()
    assert info.store_name == "Souk Demo"
    assert info.supported_locales == ("en", "ar", "fr")
    assert info.product_count == 1
    [request] = shop.requests
    assert (request.method, request.path, request.body, request.status) == ("GET", "/info", b"", 200)
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert "pimsync" in request.headers["user-agent"]
    timestamp = request.headers["x-pimsync-timestamp"]
    assert abs(int(timestamp) - time.time()) < 5
    assert request.headers["x-pimsync-signature"] == shop_signature(SECRET, b"", timestamp)


async def test_connection_in_process_over_asgi_transport(shop: CustomHttpShop) -> None:
    """The same shop also runs in-process, for tests that do not need a socket."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shop.app)) as client:
        adapter = make_adapter("http://shop.test/pim-bridge/", client)  # a trailing slash is fine
        info = await adapter.test_connection()
    assert info.store_name == "Souk Demo"
    assert shop.requests[0].path == "/info"


async def test_no_api_key_sends_no_authorization(shop_url: str, http: httpx.AsyncClient, shop: CustomHttpShop) -> None:
    shop.api_key = None
    await make_adapter(shop_url, http, api_key=None).test_connection()
    assert "authorization" not in shop.requests[0].headers


# -- export: create, update, partial update, nulls ----------------------------------------------------


async def test_create_then_update_reuses_external_id(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    [created] = await adapter.export_batch([chair()])
    assert created.ok and created.sku == "SKU-1" and created.external_id == "p-1"
    sent = shop.requests_to("POST", "/products/batch")[0]
    assert sent.headers["content-type"] == "application/json"
    assert sent.json == {
        "products": [
            {
                "sku": "SKU-1",
                "externalId": None,
                "fields": {"price": "115.00", "barcode": "0123"},
                "locales": {
                    "en": {"title": "Chair", "description": "Oak"},
                    "ar": {"title": "كرسي", "description": "بلوط"},
                },
            }
        ]
    }
    assert b'"externalId":null' in sent.body  # present as null, not dropped

    update = chair(external_id=created.external_id, fields={"price": "99.50"}, locales={"en": {"description": None}})
    [updated] = await adapter.export_batch([update])
    assert updated.ok and updated.external_id == "p-1"
    assert shop.requests_to("POST", "/products/batch")[1].json["products"][0] == {
        "sku": "SKU-1",
        "externalId": "p-1",
        "fields": {"price": "99.50"},
        "locales": {"en": {"description": None}},
    }
    assert len(shop.products) == 1

    remote = (await adapter.fetch_products(["SKU-1"]))["SKU-1"]
    assert remote.external_id == "p-1"
    assert remote.fields == {"price": "99.50", "barcode": "0123"}  # barcode absent from the update: untouched
    assert remote.locales == {"en": {"title": "Chair"}, "ar": {"title": "كرسي", "description": "بلوط"}}


async def test_null_field_clears_it_on_the_shop(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    [created] = await adapter.export_batch([chair()])
    await adapter.export_batch([chair(external_id=created.external_id, fields={"barcode": None}, locales={})])
    assert shop.products["SKU-1"].fields == {"price": "115.00"}


async def test_arabic_and_french_round_trip_exactly(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    arabic = "كُرْسِيّ خشبي \u200f«مريح»\u200f — \u0661\u0661\u0665\u066b\u0660\u0660 ر.س"  # Arabic-Indic digits, RLM marks
    french = "Chaise en chêne « confort » — 115,00 €"
    french_nfd = "Cre\u0300me bru\u0302le\u0301e"  # decomposed accents: must not be normalised on the way
    document = chair(
        "SKU-AR",
        locales={"ar": {"title": arabic, "description": None}, "fr": {"title": french, "description": french_nfd}},
    )
    [result] = await adapter.export_batch([document])
    assert result.ok
    body = shop.requests_to("POST", "/products/batch")[0].body
    assert arabic.encode("utf-8") in body and french_nfd.encode("utf-8") in body  # raw UTF-8, signed as sent
    remote = (await adapter.fetch_products(["SKU-AR"]))["SKU-AR"]
    assert remote.locales == {"ar": {"title": arabic}, "fr": {"title": french, "description": french_nfd}}


# -- batch limits and per-item errors ---------------------------------------------------------------


async def test_batch_of_100_passes_in_one_request(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    documents = [chair(f"SKU-{n:03}") for n in range(100)]
    results = await adapter.export_batch(documents)
    assert [r.sku for r in results] == [d.sku for d in documents]
    assert all(r.ok for r in results)
    assert len({r.external_id for r in results}) == 100
    assert len(shop.requests_to("POST", "/products/batch")) == 1


async def test_batch_of_101_is_refused_before_sending(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    assert adapter.max_batch_size == 100
    with pytest.raises(ValueError, match="at most 100"):
        await adapter.export_batch([chair(f"SKU-{n:03}") for n in range(101)])
    assert shop.requests == []


async def test_shop_refuses_101_products_itself(shop_url: str, http: httpx.AsyncClient, shop: CustomHttpShop) -> None:
    """The reference shop enforces the limit too, and its 422 message reaches ChannelRejected."""
    adapter = make_adapter(shop_url, http)
    adapter.max_batch_size = 101  # pretend a buggy client
    with pytest.raises(ChannelRejected, match="at most 100 products") as caught:
        await adapter.export_batch([chair(f"SKU-{n:03}") for n in range(101)])
    assert caught.value.status == 422


async def test_per_item_errors_carry_chn_codes(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    documents = [
        chair("GOOD"),
        chair("NO-TITLE", locales={"en": {"description": "no title anywhere"}}),
        chair("GHOST", external_id="p-999"),
        chair("GERMAN", locales={"en": {"title": "Chair"}, "de": {"title": "Stuhl"}}),
        chair("BAD-PRICE", fields={"price": "cheap"}),
        chair("ALSO-GOOD"),
    ]
    results = await adapter.export_batch(documents)
    assert [r.sku for r in results] == [d.sku for d in documents]
    assert [r.ok for r in results] == [True, False, False, False, False, True]
    assert results[1].code is ErrorCode.MISSING_REQUIRED_FIELD
    assert results[1].message == "title is required to create a product and has no value in any locale"
    assert results[2].code is ErrorCode.PRODUCT_NOT_FOUND_IN_CHANNEL and results[2].external_id == "p-999"
    assert results[3].code is ErrorCode.LOCALE_NOT_SUPPORTED and results[3].locale == "de"
    assert results[4].code is ErrorCode.FIELD_TYPE_MISMATCH
    assert set(shop.products) == {"GOOD", "ALSO-GOOD"}


async def test_check_batch_tells_what_export_batch_refuses_before_sending(
    adapter: CustomHttpAdapter, shop: CustomHttpShop
) -> None:
    """A dry run asks check_batch: its refusals are export_batch's own, and what only the shop can tell (an
    unknown externalId, a locale it has not enabled) passes; nothing is sent either way for the refused."""
    documents = [
        chair("NO-TITLE", locales={"en": {"description": "no title anywhere"}, "ar": {"title": "  "}}),
        chair("BROKEN", fields={"price": "1.00", "tags": {"a", "b"}}),
        chair("GHOST", external_id="p-999", locales={"en": {"description": "an update keeps its title"}}),
        chair("GERMAN", locales={"en": {"title": "Chair"}, "de": {"title": "Stuhl"}}),
    ]
    checked = await adapter.check_batch(documents)
    assert shop.requests == [], "a check sent something"
    assert [result is None for result in checked] == [False, False, True, True]
    results = await adapter.export_batch(documents)
    assert checked[:2] == results[:2]
    assert [p["sku"] for p in shop.requests_to("POST", "/products/batch")[0].json["products"]] == ["GHOST", "GERMAN"]


async def test_create_of_an_existing_sku_is_refused_not_duplicated(adapter: CustomHttpAdapter) -> None:
    await adapter.export_batch([chair()])
    [again] = await adapter.export_batch([chair()])
    assert not again.ok and again.code is ErrorCode.CREATE_FAILED


async def test_unserializable_document_fails_alone(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    broken = chair("BROKEN", fields={"price": "1.00", "tags": {"a", "b"}})
    results = await adapter.export_batch([chair("FINE"), broken])
    assert results[0].ok
    assert not results[1].ok and results[1].code is ErrorCode.FIELD_TYPE_MISMATCH
    assert [p["sku"] for p in shop.requests_to("POST", "/products/batch")[0].json["products"]] == ["FINE"]


def test_encode_document_keeps_nulls_and_decimals_exact() -> None:
    from decimal import Decimal

    document = ChannelDocument("S", None, {"price": Decimal("1.10E+2"), "gone": None}, {"en": {"title": None}})
    assert encode_document(document) == (
        b'{"sku":"S","externalId":null,"fields":{"price":"110","gone":null},"locales":{"en":{"title":null}}}'
    )


# -- transport failures map onto the ChannelError tree ---------------------------------------------


async def test_429_is_rate_limited_with_retry_after(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    shop.rate_limit_next(1, retry_after="7")
    with pytest.raises(ChannelRateLimited) as caught:
        await adapter.export_batch([chair()])
    assert caught.value.retry_after == 7.0
    assert caught.value.status == 429 and caught.value.transient
    assert caught.value.code is ErrorCode.RATE_LIMITED
    assert len(shop.requests) == 1  # no retry inside the adapter
    [result] = await adapter.export_batch([chair()])  # the fault is spent
    assert result.ok


async def test_429_with_http_date_retry_after(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    shop.rate_limit_next(1, retry_after=format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True))
    with pytest.raises(ChannelRateLimited) as caught:
        await adapter.test_connection()
    assert caught.value.retry_after is not None and 25 <= caught.value.retry_after <= 31


async def test_a_shop_asking_for_hours_off_fails_the_next_requests_at_once(
    shop_url: str, http: httpx.AsyncClient, shop: CustomHttpShop
) -> None:
    """A spent daily quota (Retry-After: 36000): the sync's next requests fail with CHN-020 and are not sent,
    instead of a worker sleeping ten hours on the connector's bucket while holding its chunk."""
    gate = LocalTokenBucket(RateLimit(capacity=5, rate=5))
    credentials = {"baseUrl": shop_url, "signingSecret": SECRET, "apiKey": API_KEY}
    adapter = CustomHttpAdapter(credentials, http, timeout=5.0, gate=gate)
    shop.rate_limit_next(1, retry_after="36000")
    with pytest.raises(ChannelRateLimited):
        await with_retries(lambda: adapter.export_batch([chair()]), policy=RetryPolicy())

    with pytest.raises(ChannelRateLimited) as caught:
        await asyncio.wait_for(with_retries(lambda: adapter.fetch_products(["SKU-1"]), policy=RetryPolicy()), 5.0)

    assert caught.value.code is ErrorCode.RATE_LIMITED
    assert caught.value.retry_after is not None and caught.value.retry_after > 35_000
    assert len(shop.requests) == 1, "the shop is not asked again while it said to stay away"


@contextlib.asynccontextmanager
async def gated_shop(
    info: Callable[[Request], Awaitable[Response]],
) -> AsyncIterator[tuple[CustomHttpAdapter, LocalTokenBucket, FakeClock]]:
    """An adapter whose shop answers /info with `info`, behind a local gate of CUSTOM_HTTP's default rate on a clock
    that moves only when the gate sleeps on it."""
    clock = FakeClock()
    gate = LocalTokenBucket(RateLimit.for_channel(CUSTOM_HTTP_SPEC), clock=clock, sleep=clock.sleep)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=Starlette(routes=[Route("/pim-bridge/info", info)])))
    credentials = {"baseUrl": "http://shop.test/pim-bridge", "signingSecret": SECRET}
    async with client:
        yield CustomHttpAdapter(credentials, client, timeout=5.0, gate=gate), gate, clock


async def test_an_hourly_x_ratelimit_quota_does_not_unpace_the_shop() -> None:
    """The protocol defines no X-RateLimit headers, so their window is unknown: a shop that reports an hourly quota
    of 5,000 must still be paced at the connector's rate, not sent thousands of requests at once."""

    async def info(_: Request) -> Response:
        quota = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4990", "X-RateLimit-Reset": "3600"}
        return JSONResponse({"storeName": "S", "supportedLocales": ["en"]}, headers=quota)

    async with gated_shop(info) as (adapter, _, clock):
        for _ in range(30):
            await adapter.test_connection()
    assert clock.now - 1000.0 == pytest.approx((30 - 5) / 5, abs=0.3)  # a burst of 5, then 5 a second


async def test_a_429_still_pauses_the_gate_for_its_retry_after() -> None:
    async def info(_: Request) -> Response:
        return JSONResponse({"error": {"code": "busy", "message": "slow down"}}, 429, headers={"Retry-After": "30"})

    async with gated_shop(info) as (adapter, gate, _):
        with pytest.raises(ChannelRateLimited):
            await adapter.test_connection()
    assert await gate.try_acquire() == pytest.approx(30.0, abs=0.3)


@pytest.mark.parametrize(
    ("headers", "paused"),
    [
        ({}, MIN_THROTTLE_WAIT),
        ({"Retry-After": "0"}, MIN_THROTTLE_WAIT),
        ({"Retry-After": "soon"}, MIN_THROTTLE_WAIT),
        ({"Retry-After": "Thu, 01 Jan 2015 00:00:00 GMT"}, MIN_THROTTLE_WAIT),
        ({"Retry-After": "0", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "20"}, 20.0),
    ],
    ids=["none", "zero", "unreadable", "past-date", "zero-but-quota-reset"],
)
async def test_a_429_that_names_no_wait_still_pauses_every_worker(headers: dict[str, str], paused: float) -> None:
    """The shop said "not now" to the connector: its other workers wait too, the least a Shopify 429 makes them
    wait, instead of each meeting its own 429. A spent quota's reset, when the shop gives one, says longer."""

    async def info(_: Request) -> Response:
        return JSONResponse({"error": {"code": "busy", "message": "slow down"}}, 429, headers=headers)

    async with gated_shop(info) as (adapter, gate, _):
        with pytest.raises(ChannelRateLimited) as caught:
            await adapter.test_connection()
    assert caught.value.code is ErrorCode.RATE_LIMITED
    assert await gate.try_acquire() == pytest.approx(paused, abs=0.3)


@pytest.mark.parametrize("unix_time", [False, True], ids=["seconds", "unix-time"])
async def test_a_spent_x_ratelimit_quota_pauses_the_gate_until_its_reset(unix_time: bool) -> None:
    """The last request a quota allows (Remaining 0) succeeds; the next waits for the quota's reset."""
    reset = str(int(time.time()) + 20) if unix_time else "20"

    async def info(_: Request) -> Response:
        quota = {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}
        return JSONResponse({"storeName": "S", "supportedLocales": ["en"]}, headers=quota)

    async with gated_shop(info) as (adapter, gate, _):
        await adapter.test_connection()
    assert await gate.try_acquire() == pytest.approx(20.0, abs=1.5)


def test_parse_rate_reset() -> None:
    now = 1_767_225_600.0
    assert parse_rate_reset("30", now=now) == 30.0
    assert parse_rate_reset(str(int(now) + 45), now=now) == 45.0
    assert parse_rate_reset(str(int(now) - 45), now=now) == 0.0
    assert parse_rate_reset("-1", now=now) is None
    assert parse_rate_reset("nan", now=now) is None
    assert parse_rate_reset("soon", now=now) is None
    assert parse_rate_reset(None, now=now) is None


def test_parse_retry_after() -> None:
    now = 1_767_225_600.0
    assert parse_retry_after("12", now=now) == 12.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:01:00 GMT", now=now) == 60.0
    assert parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None, now=now) is None


async def test_503_is_unavailable(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    shop.fail_next(1, status=503)
    with pytest.raises(ChannelUnavailable) as caught:
        await adapter.fetch_products(["SKU-1"])
    assert caught.value.status == 503 and caught.value.transient
    assert caught.value.code is ErrorCode.CHANNEL_UNAVAILABLE
    assert caught.value.retry_after is None


async def test_503_carries_the_shops_retry_after(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    """A shop down for maintenance says when to come back; the retry waits at least that long."""
    shop.fail_next(1, status=503, retry_after="30")
    with pytest.raises(ChannelUnavailable) as caught:
        await adapter.fetch_products(["SKU-1"])
    assert caught.value.retry_after == 30.0


async def test_refused_connection_is_unavailable(http: httpx.AsyncClient) -> None:
    with closed_port() as port, pytest.raises(ChannelUnavailable):
        await make_adapter(f"http://127.0.0.1:{port}/pim", http).test_connection()


async def test_wrong_secret_is_credentials_rejected_without_leaking(
    shop_url: str, http: httpx.AsyncClient, shop: CustomHttpShop
) -> None:
    wrong = "a-wrong-signing-secret-xyz"
    with pytest.raises(CredentialsRejected) as caught:
        await make_adapter(shop_url, http, secret=wrong).export_batch([chair()])
    error = caught.value
    assert error.status == 401 and "does not match" in error.message
    for text in (str(error), repr(error), error.message, repr(error.args)):
        assert wrong not in text and API_KEY not in text
    assert shop.products == {}


async def test_wrong_api_key_is_credentials_rejected(shop_url: str, http: httpx.AsyncClient) -> None:
    with pytest.raises(CredentialsRejected, match="API key") as caught:
        await make_adapter(shop_url, http, api_key="not-the-key").test_connection()
    assert "not-the-key" not in str(caught.value)


async def test_stale_timestamp_is_refused_by_the_shop(shop_url: str, http: httpx.AsyncClient) -> None:
    adapter = make_adapter(shop_url, http, clock=lambda: time.time() - 301)
    with pytest.raises(CredentialsRejected, match="300s"):
        await adapter.test_connection()


async def test_secrets_echoed_by_a_shop_are_scrubbed() -> None:
    async def echo(request: Request) -> Response:
        message = f"bad token {request.headers['authorization']} for secret {SECRET}"
        return JSONResponse({"error": {"code": "denied", "message": message}}, status_code=403)

    client, adapter = in_process(Starlette(routes=[Route("/pim-bridge/info", echo)]))
    async with client:
        with pytest.raises(CredentialsRejected) as caught:
            await adapter.test_connection()
    assert caught.value.status == 403
    assert SECRET not in str(caught.value) and API_KEY not in str(caught.value)
    assert "[redacted]" in str(caught.value)


async def test_slow_shop_times_out(shop_url: str, http: httpx.AsyncClient, shop: CustomHttpShop) -> None:
    shop.slow_down(1.0)
    adapter = make_adapter(shop_url, http, timeout=0.2)
    started = time.monotonic()
    with pytest.raises(ChannelTimeout) as caught:
        await adapter.export_batch([chair()])
    assert time.monotonic() - started < 0.9
    assert caught.value.transient and caught.value.code is ErrorCode.TIMEOUT


async def test_other_4xx_is_rejected_with_the_shops_message(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    shop.fail_next(1, status=409)
    with pytest.raises(ChannelRejected, match="the shop is unavailable") as caught:
        await adapter.test_connection()
    assert caught.value.status == 409 and not caught.value.transient


# -- answers that break the protocol ----------------------------------------------------------------


async def test_invalid_json_is_rejected() -> None:
    async def html(_: Request) -> Response:
        return Response("<html>maintenance</html>", media_type="text/html")

    client, adapter = in_process(Starlette(routes=[Route("/pim-bridge/products/batch", html, methods=["POST"])]))
    async with client:
        with pytest.raises(ChannelRejected, match="not valid JSON"):
            await adapter.export_batch([chair()])


@pytest.mark.parametrize(
    ("results", "reason"),
    [
        (
            [{"sku": "B", "status": "ok", "externalId": "p-2"}, {"sku": "A", "status": "ok", "externalId": "p-1"}],
            "order",
        ),
        ([{"sku": "A", "status": "ok", "externalId": "p-1"}], "2 products sent but 1"),
        ([{"sku": "A", "status": "done"}, {"sku": "B", "status": "ok", "externalId": "p-2"}], "status 'done'"),
    ],
)
async def test_results_must_pair_up_with_products(results: list[dict[str, Any]], reason: str) -> None:
    async def answer(_: Request) -> Response:
        return JSONResponse({"results": results})

    client, adapter = in_process(Starlette(routes=[Route("/pim-bridge/products/batch", answer, methods=["POST"])]))
    async with client:
        with pytest.raises(ChannelRejected, match=reason):
            await adapter.export_batch([chair("A"), chair("B")])


@pytest.mark.parametrize("code", ["OUT_OF_STOCK", "CHN-020", "CHN-021", "CHN-050", "CHN-090"])
async def test_unknown_error_codes_become_chn_022(code: str) -> None:
    """The protocol's table names the codes a product's error may carry; any other is CHN-022 (docs/channels/
    custom_http.md). A product refused with CHN-020 or CHN-021 would otherwise read as the shop being busy, and
    a conflict check of it would be queued again and again."""

    async def answer(_: Request) -> Response:
        return JSONResponse({"results": [{"sku": "A", "status": "error", "error": {"code": code, "message": "nope"}}]})

    client, adapter = in_process(Starlette(routes=[Route("/pim-bridge/products/batch", answer, methods=["POST"])]))
    async with client:
        [result] = await adapter.export_batch([chair("A")])
    assert result.code is ErrorCode.CHANNEL_ERROR and result.message == "nope"


async def test_a_product_s_error_reaches_the_job_without_secrets_and_bounded() -> None:
    """A shop's per-product message is stored in the job's errors and shown to users: a shop echoing the request
    (the bearer key with it) or answering a whole page of text must not put either there."""
    echoed = f"refused; you sent Bearer {API_KEY} " + "and then some " * 500

    async def answer(_: Request) -> Response:
        return JSONResponse(
            {"results": [{"sku": "A", "status": "error", "error": {"code": "INVALID", "message": echoed}}]}
        )

    client, adapter = in_process(Starlette(routes=[Route("/pim-bridge/products/batch", answer, methods=["POST"])]))
    async with client:
        [result] = await adapter.export_batch([chair("A")])
    assert result.message is not None and API_KEY not in result.message
    assert result.message.startswith("refused; you sent Bearer [redacted] and then some")
    assert len(result.message) == MESSAGE_LIMIT


LISTED = {"sku": "A", "externalId": "p-1", "fields": {}, "locales": {}}


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"items": []}, r'\{"products": \[\.\.\.\]\}'),
        ({"products": [{"externalId": "p-1"}]}, "every product needs a sku"),
        ({"products": [LISTED, {**LISTED, "externalId": "p-9"}]}, "'A' appears twice"),
        ({"products": [{**LISTED, "externalId": None}]}, "'A' has no externalId"),
        ({"products": [{**LISTED, "fields": ["price"]}]}, "fields must be an object"),
        ({"products": [{**LISTED, "locales": {"en": "Chair"}}]}, "locales must map each locale to an object"),
        ({"products": [{**LISTED, "updatedAt": "yesterday"}]}, "'A': "),
        ({"products": [{**LISTED, "updatedAt": "2026-01-01T10:00+02:00"}]}, "'A': updatedAt .* is not RFC 3339"),
    ],
)
async def test_a_look_up_answer_that_breaks_the_protocol_is_refused(answer: dict[str, Any], reason: str) -> None:
    """Refused rather than read as "the shop lacks A": the engine would create it a second time."""

    async def products(_: Request) -> Response:
        return JSONResponse(answer)

    client, adapter = in_process(Starlette(routes=[Route("/pim-bridge/products", products, methods=["GET"])]))
    async with client:
        with pytest.raises(ChannelRejected, match=reason):
            await adapter.fetch_products(["A"])


async def test_a_look_up_ignores_products_it_did_not_ask_for() -> None:
    """A shop that matches SKUs loosely (case, prefix) must not bind another product to this one."""

    async def products(_: Request) -> Response:
        return JSONResponse({"products": [{**LISTED, "sku": "a"}, {**LISTED, "sku": "A-2", "externalId": "p-2"}]})

    client, adapter = in_process(Starlette(routes=[Route("/pim-bridge/products", products, methods=["GET"])]))
    async with client:
        assert await adapter.fetch_products(["A"]) == {}


# -- fetch and delete --------------------------------------------------------------------------------


async def test_fetch_returns_updated_at_and_omits_unknown(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    before = datetime.now(UTC) - timedelta(seconds=1)
    await adapter.export_batch([chair("SKU-1"), chair("SKU 2/é")])
    found = await adapter.fetch_products(["SKU-1", "MISSING", "SKU 2/é", "SKU-1"])
    assert set(found) == {"SKU-1", "SKU 2/é"}
    remote = found["SKU 2/é"]
    assert remote.external_id == "p-2"
    assert remote.updated_at is not None and remote.updated_at.tzinfo is not None
    assert before <= remote.updated_at <= datetime.now(UTC) + timedelta(seconds=1)


async def test_fetch_splits_into_requests_of_100(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    for n in range(0, 250, 7):
        shop.seed(f"SKU-{n:03}", locales={"en": {"title": f"Item {n}"}})
    found = await adapter.fetch_products([f"SKU-{n:03}" for n in range(250)])
    assert set(found) == {f"SKU-{n:03}" for n in range(0, 250, 7)}
    lookups = shop.requests_to("GET", "/products")
    assert [len(r.raw_query.removeprefix("skus=").split(",")) for r in lookups] == [100, 100, 50]


async def test_fetch_refuses_a_sku_with_a_comma(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    with pytest.raises(ChannelRejected, match="comma"):
        await adapter.fetch_products(["A,B"])
    assert shop.requests == []


def test_parse_updated_at() -> None:
    assert parse_updated_at("2026-01-01T10:00:00Z") == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert parse_updated_at("2026-01-01t12:00:00.5+02:00") == datetime(2026, 1, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert parse_updated_at("2026-01-01 10:00:00.123456789z") == datetime(2026, 1, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert parse_updated_at("2016-12-31T23:59:60Z") == datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_updated_at(None) is None
    for bad in ("2026-01-01T10:00:00", "yesterday", 1767225600, "2026-13-01T10:00:00Z"):
        with pytest.raises(ValueError):
            parse_updated_at(bad)


@pytest.mark.parametrize(
    "iso_but_not_rfc3339",
    ["20260101T100000Z", "2026-01-01T10:00Z", "2026-W01-4T10:00:00Z", "2026-01-01T10:00:00+05", "2026-01-01T10Z"],
)
def test_parse_updated_at_refuses_iso_forms_the_protocol_does_not_allow(iso_but_not_rfc3339: str) -> None:
    """Python reads these ISO 8601 forms; the protocol promises RFC 3339, so a shop learns of its slip at once."""
    with pytest.raises(ValueError, match="is not RFC 3339 with a UTC offset"):
        parse_updated_at(iso_but_not_rfc3339)


async def test_delete(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    [created] = await adapter.export_batch([chair()])
    assert created.external_id is not None
    await adapter.delete_product(created.external_id)
    assert shop.products == {}
    delete = shop.requests_to("DELETE", "/products/p-1")[0]
    assert delete.status == 204 and delete.body == b""
    assert delete.headers["x-pimsync-signature"] == shop_signature(SECRET, b"", delete.headers["x-pimsync-timestamp"])
    assert await adapter.fetch_products(["SKU-1"]) == {}


async def test_delete_of_a_missing_product_counts_as_done(adapter: CustomHttpAdapter, shop: CustomHttpShop) -> None:
    await adapter.delete_product("p/42 ü")  # quoted into one path segment
    [request] = shop.requests
    assert request.path == "/products/p/42 ü" and request.status == 404


# -- credentials and outbound URLs -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("credentials", "reason"),
    [
        ({"signingSecret": SECRET}, "baseUrl is required"),
        ({"baseUrl": "ftp://shop.example.com", "signingSecret": SECRET}, "http"),
        ({"baseUrl": "/pim-bridge", "signingSecret": SECRET}, "absolute"),
        ({"baseUrl": "https://shop.example.com?x=1", "signingSecret": SECRET}, "query"),
        ({"baseUrl": "https://shop example.com/pim", "signingSecret": SECRET}, "not a valid URL"),
        ({"baseUrl": "https://shop.example.com:99999/pim", "signingSecret": SECRET}, "not a valid URL"),
        ({"baseUrl": "https://me:pw@shop.example.com/pim", "signingSecret": SECRET}, "user name"),
        ({"baseUrl": "https://shop.example.com", "signingSecret": "short-secret"}, "at least 16"),
        ({"baseUrl": "https://shop.example.com", "signingSecret": SECRET, "apiKey": 42}, "apiKey"),
        ({"baseUrl": "https://shop.example.com", "signingSecret": SECRET, "apiKey": "clé-42"}, "visible ASCII"),
    ],
)
async def test_invalid_credentials(credentials: dict[str, Any], reason: str, http: httpx.AsyncClient) -> None:
    with pytest.raises(InvalidCredentials, match=reason) as caught:
        CustomHttpAdapter(credentials, http, timeout=1.0)
    assert caught.value.code is ErrorCode.INVALID_CREDENTIALS_FORMAT
    assert isinstance(caught.value, CredentialsRejected)
    assert "short-secret" not in str(caught.value)


async def test_adapter_repr_hides_secrets(adapter: CustomHttpAdapter) -> None:
    assert SECRET not in repr(adapter) and API_KEY not in repr(adapter)
    assert SECRET not in repr(adapter._client.credentials)


async def test_outbound_check_refuses_loopback_unless_allowed() -> None:
    with pytest.raises(UnsafeUrl, match="loopback"):
        await check_outbound_url("http://127.0.0.1:8080/pim", allow_private=False)
    await check_outbound_url("http://127.0.0.1:8080/pim", allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/pim",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://100.64.0.1/",
    ],
)
async def test_outbound_check_refuses_private_ranges(url: str) -> None:
    with pytest.raises(UnsafeUrl):
        await check_outbound_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    ["ftp://shop.example.com/", "/pim-bridge", "shop.example.com/pim", "http:///x", "https://me:pw@93.184.216.34/"],
)
async def test_outbound_check_refuses_non_http_and_relative(url: str) -> None:
    for allow_private in (False, True):
        with pytest.raises(UnsafeUrl):
            await check_outbound_url(url, allow_private=allow_private)


async def test_outbound_check_accepts_public_literal() -> None:
    await check_outbound_url("https://93.184.216.34/pim", allow_private=False)  # a literal: no DNS needed
    import ipaddress

    assert is_public_address(ipaddress.ip_address("2606:4700::1111"))


@pytest.mark.parametrize("allowed", [False, True])
async def test_the_channels_client_reaches_a_private_shop_only_when_allowed(
    allowed: bool, shop_url: str, shop: CustomHttpShop, settings: Settings
) -> None:
    """The adapter leaves the address policy to the client it is given (container.channel_http_client)."""
    client = channel_http_client(settings.model_copy(update={"allow_private_urls": allowed}))
    async with client:
        adapter = make_adapter(shop_url, client)
        if allowed:
            await adapter.test_connection()
        else:
            with pytest.raises(CredentialsRejected, match="loopback"):
                await adapter.test_connection()
    assert bool(shop.requests) is allowed


# -- signatures ------------------------------------------------------------------------------------


def test_sign_matches_an_independent_hmac() -> None:
    body = b'{"products":[]}'
    expected = hmac.new(b"k" * 16, b"1767225600." + body, hashlib.sha256).hexdigest()
    assert sign("k" * 16, body, 1767225600) == f"sha256={expected}"
    assert signature_headers("k" * 16, body, 1767225600.9) == {
        "X-Pimsync-Timestamp": "1767225600",
        "X-Pimsync-Signature": f"sha256={expected}",
    }


def test_verify() -> None:
    now = 1_767_225_600
    body = b'{"topic":"product.updated"}'
    headers = signature_headers(SECRET, body, now)
    ts, sig = headers["X-Pimsync-Timestamp"], headers["X-Pimsync-Signature"]
    assert verify(SECRET, body, ts, sig, now)
    assert verify(SECRET, body, ts, sig.upper().replace("SHA256=", "sha256="), now + 300)
    assert not verify(SECRET, body + b" ", ts, sig, now)  # tampered body
    assert not verify(SECRET, body.replace(b"updated", b"deleted"), ts, sig, now)
    assert not verify("another-secret-0123", body, ts, sig, now)
    assert not verify(SECRET, body, ts, sig, now + 301)  # too old
    assert not verify(SECRET, body, ts, sig, now - 301)  # from the future
    old = signature_headers(SECRET, body, now - 1000)
    assert not verify(SECRET, body, old["X-Pimsync-Timestamp"], old["X-Pimsync-Signature"], now)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        (None, "sha256=" + "0" * 64),
        ("1767225600", None),
        ("", ""),
        ("abc", "sha256=" + "0" * 64),
        ("+1767225600", "sha256=" + "0" * 64),
        (
            "\u0661\u0667\u0666\u0667\u0662\u0662\u0665\u0666\u0660\u0660",  # Arabic-Indic digits
            "sha256=" + "0" * 64,
        ),
        ("1767225600", "sha256=xyz"),
        ("1767225600", "md5=" + "0" * 32),
        ("1767225600", "sha256=" + "é" * 64),
        ("1767225600", "sha256=" + "0" * 65),
        ("9" * 400, "sha256=" + "0" * 64),
    ],
)
def test_verify_malformed_headers_is_false_not_an_exception(timestamp: str | None, signature: str | None) -> None:
    assert verify(SECRET, b"{}", timestamp, signature, 1_767_225_600) is False


def test_shop_webhooks_verify_with_the_service_code(shop: CustomHttpShop) -> None:
    shop.seed("SKU-1", locales={"ar": {"title": "كرسي"}})
    body, headers = shop.webhook("product.updated", "SKU-1", delivery_id="d-1")
    assert headers["X-Pimsync-Delivery"] == "d-1"
    assert verify(SECRET, body, headers["X-Pimsync-Timestamp"], headers["X-Pimsync-Signature"], time.time())


def test_docs_worked_example_is_what_the_code_computes() -> None:
    document = ChannelDocument("SKU-1", None, {"price": "115.00", "barcode": None}, {"en": {"title": "Chair"}})
    body = b'{"products":[' + encode_document(document) + b"]}"
    text = DOCS.read_text(encoding="utf-8")
    assert body.decode() in text
    assert sign("example-signing-secret", body, 1767225600) in text
    assert sign("example-signing-secret", b"", 1767225600) in text
