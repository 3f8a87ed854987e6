"""The Shopify adapter against the Shopify emulator (tests/emulators/shopify) over real HTTP.

The emulator runs under uvicorn on a loopback port and enforces Shopify's own
rules: every document is validated against the pinned 2026-04 SDL, productSet
and translationsRegister answer Shopify's userErrors, digests must match the
current source, and the cost bucket throttles. A field or argument it does
not implement fails the request and is recorded in `gaps`, which every test
checks stays empty, so nothing here passes by being silently ignored.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.channels.base import (
    ChannelDocument,
    ChannelRateLimited,
    ChannelTimeout,
    ChannelUnavailable,
    CredentialsRejected,
    RateGate,
    RateSignal,
)
from app.channels.rate_limit import LocalTokenBucket, RateLimit
from app.channels.shopify import documents as gql
from app.channels.shopify.adapter import ShopifyAdapter
from app.container import channel_http_client
from app.domain.errors import ErrorCode
from app.settings import Environment, Settings
from tests.emulators import serve
from tests.emulators.shopify import ManualClock, Product, ShopifyEmulator
from tests.emulators.shopify.model import Location
from tests.ports import closed_port
from tests.shopify_fixtures import sample_product

TOKEN = "shpat_integration_0123456789abcdef0000"
SHOP_DOMAIN = "souk-demo.myshopify.com"


@dataclass
class RecordingGate:
    acquired: list[float] = field(default_factory=list)
    observed: list[RateSignal] = field(default_factory=list)

    async def acquire(self, cost: float = 1.0) -> None:
        self.acquired.append(cost)

    async def observe(self, signal: RateSignal) -> None:
        self.observed.append(signal)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def shop(clock: ManualClock) -> Iterator[ShopifyEmulator]:
    emulator = ShopifyEmulator(access_token=TOKEN, clock=clock)
    yield emulator
    assert emulator.gaps == []  # the adapter only used what the emulator really implements


@pytest.fixture
def endpoint(shop: ShopifyEmulator) -> Iterator[str]:
    with serve(shop.app) as origin:
        yield shop.endpoint(origin)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False) as client:
        yield client


@pytest.fixture
def gate() -> RecordingGate:
    return RecordingGate()


def make_adapter(
    endpoint: str,
    http: httpx.AsyncClient,
    *,
    token: str = TOKEN,
    timeout: float = 5.0,
    gate: RateGate | None = None,
    **credentials: Any,
) -> ShopifyAdapter:
    return ShopifyAdapter(
        {"shopDomain": SHOP_DOMAIN, "accessToken": token, **credentials},
        http,
        timeout=timeout,
        gate=gate,
        endpoint=endpoint,
    )


@pytest.fixture
def adapter(endpoint: str, http: httpx.AsyncClient, gate: RecordingGate) -> ShopifyAdapter:
    return make_adapter(endpoint, http, gate=gate)


def boot(sku: str = "BOOT-1", external_id: str | None = None, **overrides: Any) -> ChannelDocument:
    fields = overrides.pop(
        "fields",
        {
            "vendor": "Atlas",
            "tags": ["leather", "boots"],
            "status": "ACTIVE",
            "price": "115",
            "compareAtPrice": "150.00",
            "barcode": "0123456789012",
            "weight": "1.25",
            "weightUnit": "KILOGRAMS",
            "inventoryQuantity": 7,
            "imageUrl": "https://images.example.com/boot.jpg",
        },
    )
    locales = overrides.pop(
        "locales",
        {
            "en": {
                "title": "Desert boot",
                "descriptionHtml": "<p>Suede <strong>desert</strong> boot</p>",
                "handle": "desert-boot",
                "productType": "Shoes",
                "seoTitle": "Desert boot | Atlas",
                "seoDescription": "A suede desert boot",
            },
            "fr": {
                "title": "Bottine du désert",
                "descriptionHtml": "<p>Bottine en daim</p>",
                "seoTitle": "Bottine du désert | Atlas",
            },
            "ar": {
                "title": "حذاء الصحراء",
                "descriptionHtml": "<p>حذاء من جلد الغزال</p>",
                "handle": "hidhaa-alsahraa",
                "productType": "أحذية",
            },
        },
    )
    return ChannelDocument(sku=sku, external_id=external_id, fields=fields, locales=locales)


# -- connection ----------------------------------------------------------------------------------


async def test_connection_reads_the_shop(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    info = await adapter.test_connection()
    assert info.store_name == "Apple Computers"
    assert info.supported_locales == ("en", "ar", "fr", "de")  # German is added but not published: mappable
    assert info.primary_locale == "en"
    assert info.currencies == ("USD", "EUR", "AED")
    assert info.product_count == 0
    [request] = shop.graphql_requests("ShopInfo")
    assert request.headers["x-shopify-access-token"] == TOKEN
    assert request.headers["content-type"] == "application/json"


async def test_a_wrong_token_is_rejected_without_echoing_it(endpoint: str, http: httpx.AsyncClient) -> None:
    wrong = "shpat_wrong_token_abcdef"
    with pytest.raises(CredentialsRejected) as caught:
        await make_adapter(endpoint, http, token=wrong).test_connection()
    assert caught.value.status == 401
    assert wrong not in str(caught.value)


async def test_a_wrong_endpoint_is_a_set_up_failure(endpoint: str, http: httpx.AsyncClient) -> None:
    with pytest.raises(CredentialsRejected) as caught:
        await make_adapter(endpoint.replace("2026-04", "2019-10"), http).test_connection()
    assert caught.value.status == 404


# -- export: create, read back, update, clear ----------------------------------------------------


async def test_a_new_product_is_created_with_its_translations(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    [result] = await adapter.export_batch([boot()])
    assert result.ok, result
    product = shop.product("BOOT-1")
    assert result.external_id == product.gid
    assert (product.title, product.handle, product.product_type, product.vendor) == (
        "Desert boot",
        "desert-boot",
        "Shoes",
        "Atlas",
    )
    assert product.description_html == "<p>Suede <strong>desert</strong> boot</p>"
    assert (product.seo_title, product.seo_description) == ("Desert boot | Atlas", "A suede desert boot")
    assert product.tags == ["boots", "leather"]
    [variant] = product.variants
    assert (variant.sku, variant.price, variant.compare_at_price, variant.barcode) == (
        "BOOT-1",
        "115.00",
        "150.00",
        "0123456789012",
    )
    assert variant.weight is not None and (variant.weight.value, variant.weight.unit) == (1.25, "KILOGRAMS")
    assert variant.inventory_quantity == 7
    assert [m.source for m in product.media] == ["https://images.example.com/boot.jpg"]
    translations = shop.translations("BOOT-1")
    assert {k: t.value for k, t in translations["ar"].items()} == {
        "title": "حذاء الصحراء",
        "body_html": "<p>حذاء من جلد الغزال</p>",
        "handle": "hidhaa-alsahraa",
        "product_type": "أحذية",
    }
    assert translations["fr"]["meta_title"].value == "Bottine du désert | Atlas"
    assert not any(product.is_outdated(t) for by_key in translations.values() for t in by_key.values())
    # the SKU was looked up before creating, so a product is never created twice
    names = [r.operation_name for r in shop.graphql_requests()]
    assert names[:4] == ["ShopInfo", "PrimaryLocation", "ProductIdBySku", "ProductSet"]


async def test_what_was_sent_reads_back_as_shopify_stores_it(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    [result] = await adapter.export_batch([boot()])
    found = await adapter.fetch_products(["BOOT-1", "MISSING-9"])
    assert list(found) == ["BOOT-1"]
    remote = found["BOOT-1"]
    assert remote.external_id == result.external_id
    assert remote.fields["price"] == "115.00"  # Shopify's Money, not the "115" sent
    assert remote.fields["tags"] == ["boots", "leather"]
    assert (remote.fields["weight"], remote.fields["weightUnit"]) == ("1.25", "KILOGRAMS")
    assert remote.fields["inventoryQuantity"] == 7
    assert remote.fields["imageUrl"] == "https://images.example.com/boot.jpg"  # the URL sent, not Shopify's
    assert remote.locales["en"]["title"] == "Desert boot"
    assert remote.locales["ar"]["title"] == "حذاء الصحراء"
    assert remote.locales["ar"]["seoTitle"] is None
    assert remote.locales["fr"]["seoTitle"] == "Bottine du désert | Atlas"
    assert set(remote.locales["de"].values()) == {None}  # unpublished, read back: nothing translated yet
    assert remote.updated_at is not None and remote.updated_at.tzinfo is not None


async def test_an_update_is_partial_and_keeps_the_variant(
    adapter: ShopifyAdapter, shop: ShopifyEmulator, clock: ManualClock
) -> None:
    [created] = await adapter.export_batch([boot()])
    variant_before = shop.product("BOOT-1").variants[0].gid
    clock.advance(5)
    update = boot(
        external_id=created.external_id,
        fields={"price": "99.90"},
        locales={"en": {"title": "Desert boot II"}, "ar": {"title": "حذاء الصحراء ٢"}},
    )
    [updated] = await adapter.export_batch([update])
    assert updated.ok and updated.external_id == created.external_id
    product = shop.product("BOOT-1")
    [variant] = product.variants
    assert variant.gid == variant_before
    assert (variant.price, variant.compare_at_price, variant.barcode, variant.inventory_quantity) == (
        "99.90",
        "150.00",
        "0123456789012",
        7,
    )
    assert (product.title, product.vendor, product.handle) == ("Desert boot II", "Atlas", "desert-boot")
    assert product.description_html == "<p>Suede <strong>desert</strong> boot</p>"
    translations = shop.translations("BOOT-1")
    assert translations["ar"]["title"].value == "حذاء الصحراء ٢"
    assert not product.is_outdated(translations["ar"]["title"])
    assert translations["fr"]["body_html"].value == "<p>Bottine en daim</p>"  # not sent, left alone
    assert len(shop.products) == 1


async def test_none_clears_on_shopify(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    [created] = await adapter.export_batch([boot()])
    clearing = boot(
        external_id=created.external_id,
        fields={
            "vendor": None,
            "tags": None,
            "compareAtPrice": None,
            "barcode": None,
            "weight": None,
            "imageUrl": None,
        },
        locales={
            "en": {"descriptionHtml": None, "productType": None, "seoTitle": None},
            "fr": {"seoTitle": None, "descriptionHtml": None},
            "ar": {"handle": None},
        },
    )
    [result] = await adapter.export_batch([clearing])
    assert result.ok, result
    product = shop.product("BOOT-1")
    assert (product.vendor, product.tags, product.description_html, product.product_type) == ("", [], "", "")
    assert (product.seo_title, product.seo_description) == (None, "A suede desert boot")
    [variant] = product.variants
    assert (variant.compare_at_price, variant.barcode, variant.weight) == (None, "", None)
    assert product.media == []
    translations = shop.translations("BOOT-1")
    assert set(translations["fr"]) == {"title"}
    assert set(translations["ar"]) == {"title", "body_html", "product_type"}
    remote = (await adapter.fetch_products(["BOOT-1"]))["BOOT-1"]
    assert remote.fields["vendor"] == "" and remote.fields["compareAtPrice"] is None
    assert remote.locales["fr"]["seoTitle"] is None


async def test_an_existing_sku_is_linked_not_duplicated(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    seeded = shop.seed_simple_product("Old boot", "BOOT-1", price="80.00", vendor="Legacy")
    [result] = await adapter.export_batch([boot(fields={"price": "115.00"})])
    assert (result.ok, result.external_id) == (True, seeded.gid)
    assert len(shop.products) == 1
    product = shop.product(seeded.gid)
    assert (product.title, product.vendor, product.variants[0].price) == ("Desert boot", "Legacy", "115.00")


async def test_a_differently_cased_sku_is_not_linked(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    shop.seed_simple_product("Other boot", "boot-1")  # Shopify's search is case-insensitive, SKUs are not
    [result] = await adapter.export_batch([boot()])
    assert result.ok
    assert len(shop.products) == 2


async def test_an_existing_sku_is_found_behind_more_loose_matches_than_one_page(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    """Shopify's search matches SKUs case-insensitively: the exact one may come after a page of others."""
    for sku in ("boot-1", "Boot-1", "bOot-1", "boOt-1", "booT-1", "BOOt-1"):
        shop.seed_simple_product(f"Other {sku}", sku)
    seeded = shop.seed_simple_product("Old boot", "BOOT-1")
    [result] = await adapter.export_batch([boot()])
    assert (result.ok, result.external_id) == (True, seeded.gid)
    assert len(shop.products) == 7


async def test_a_sku_on_two_products_is_refused(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    shop.seed_simple_product("Boot A", "BOOT-1")
    shop.seed_simple_product("Boot B", "BOOT-1")
    [result] = await adapter.export_batch([boot()])
    assert (result.ok, result.code) == (False, ErrorCode.CREATE_FAILED)
    assert shop.graphql_requests("ProductSet") == []


async def test_a_multi_variant_product_is_not_flattened(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    seeded = shop.seed_product(
        {
            "title": "Sizes",
            "productOptions": [{"name": "Size", "values": [{"name": "41"}, {"name": "42"}]}],
            "variants": [
                {"optionValues": [{"optionName": "Size", "name": "41"}], "sku": "BOOT-41", "price": "1"},
                {"optionValues": [{"optionName": "Size", "name": "42"}], "sku": "BOOT-42", "price": "1"},
            ],
        }
    )
    [result] = await adapter.export_batch([boot(external_id=seeded.gid)])
    assert (result.ok, result.code, result.external_id) == (False, ErrorCode.UPDATE_FAILED, seeded.gid)
    assert len(shop.product(seeded.gid).variants) == 2


async def test_a_product_deleted_on_shopify_is_reported_not_recreated(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    [created] = await adapter.export_batch([boot()])
    assert created.external_id is not None
    shop.delete_product(created.external_id)
    [result] = await adapter.export_batch([boot(external_id=created.external_id)])
    assert (result.ok, result.code) == (False, ErrorCode.PRODUCT_NOT_FOUND_IN_CHANNEL)
    assert shop.products == []


async def test_shopify_user_errors_fail_only_their_product(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    shop.seed_simple_product("Taken", "OTHER-1", handle="desert-boot")
    [result] = await adapter.export_batch([boot()])
    assert (result.ok, result.code, result.locale) == (False, ErrorCode.FIELD_TYPE_MISMATCH, "en")
    assert result.message and result.message.startswith("handle:")
    [negative] = await adapter.export_batch([boot(sku="NEG-1", fields={"price": "-1"}, locales={"en": {"title": "N"}})])
    assert (negative.ok, negative.code) == (False, ErrorCode.FIELD_TYPE_MISMATCH)
    assert negative.message and negative.message.startswith("price:")


async def test_a_missing_title_fails_before_anything_is_written(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    [result] = await adapter.export_batch([boot(locales={"en": {"descriptionHtml": "<p>x</p>"}})])
    assert (result.ok, result.code, result.locale) == (False, ErrorCode.MISSING_REQUIRED_FIELD, "en")
    assert shop.graphql_requests("ProductSet") == []


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"inventoryQuantity": 2**31}, "inventoryQuantity"),  # ProductSetInventoryInput.quantity is an Int: 32 bits
        ({"inventoryQuantity": -(2**31) - 1}, "inventoryQuantity"),
        ({"weight": "1e400", "weightUnit": "GRAMS"}, "weight"),  # WeightInput.value is a Float: finite
    ],
)
async def test_a_value_shopify_s_scalar_cannot_hold_fails_its_product_before_anything_is_written(
    adapter: ShopifyAdapter, shop: ShopifyEmulator, fields: dict[str, Any], named: str
) -> None:
    """The dry run says so too, and the product fails with the field named, not with the whole request refused."""
    document = boot(fields=fields, locales={"en": {"title": "Heavy boot"}})
    [checked] = await adapter.check_batch([document])
    [result] = await adapter.export_batch([document])
    assert checked == result
    assert (result.ok, result.code) == (False, ErrorCode.FIELD_TYPE_MISMATCH)
    assert result.message is not None and result.message.startswith(named)
    assert shop.graphql_requests("ProductSet") == []
    assert shop.products == []


LONG = "x" * 256
"""One character more than Shopify stores in a title, handle, vendor, product type, tag, SKU or barcode."""


@pytest.mark.parametrize(
    ("fields", "locale", "named"),
    [
        ({"price": "1e30"}, {}, "price"),  # Shopify: "Price must be less than 1000000000000000000"
        ({"compareAtPrice": "1000000000000000000"}, {}, "compareAtPrice"),
        ({"sku": LONG}, {}, "sku"),
        ({"barcode": LONG}, {}, "barcode"),
        ({"vendor": LONG}, {}, "vendor"),
        ({"tags": ["boots", LONG]}, {}, "tags"),
        ({}, {"title": LONG}, "title"),
        ({}, {"handle": LONG}, "handle"),
        ({}, {"productType": LONG}, "productType"),
    ],
)
async def test_a_value_past_shopify_s_limits_fails_its_product_before_anything_is_written(
    adapter: ShopifyAdapter,
    shop: ShopifyEmulator,
    fields: dict[str, Any],
    locale: dict[str, Any],
    named: str,
) -> None:
    """Shopify refuses these with a userError the adapter turned into a vague CHN-011 only after reading and
    sending; it now fails the product alone before any request, the field named, and the dry run says the same."""
    document = boot(fields={"price": "10", **fields}, locales={"en": {"title": "Long boot", **locale}})
    good = boot("GOOD-1", fields={"price": "10"}, locales={"en": {"title": "Good boot"}})
    checked = await adapter.check_batch([document, good])
    [result] = await adapter.export_batch([document])
    assert checked == [result, None]
    assert (result.ok, result.code) == (False, ErrorCode.FIELD_TYPE_MISMATCH)
    assert result.message is not None and named in result.message.split(), result.message
    assert shop.graphql_requests("ProductSet") == [] and shop.graphql_requests("ProductIdBySku") == []
    [written] = await adapter.export_batch([good])
    assert written.ok and [p.title for p in shop.products] == ["Good boot"]


async def test_a_pim_sku_longer_than_shopify_takes_fails_its_product_before_anything_is_written(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    """Without a mapped sku field the PIM's SKU is sent as the variant's: it must fit Shopify's 255 characters."""
    document = boot(LONG, fields={"price": "10"}, locales={"en": {"title": "Long boot"}})
    [checked] = await adapter.check_batch([document])
    [result] = await adapter.export_batch([document])
    assert checked == result
    assert (result.ok, result.code) == (False, ErrorCode.FIELD_TYPE_MISMATCH)
    assert result.message is not None and result.message.startswith("sku ")
    assert shop.graphql_requests() == [r for r in shop.graphql_requests() if r.operation_name == "ShopInfo"]


async def test_a_failed_translation_reports_its_locale_and_keeps_the_product(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    document = boot(
        locales={
            "en": {"title": "Desert boot"},  # no SEO title in the primary locale: nothing to translate
            "fr": {"title": "Bottine", "seoTitle": "Bottine | Atlas"},
            "ar": {"title": "حذاء"},
        }
    )
    [result] = await adapter.export_batch([document])
    product = shop.product("BOOT-1")
    assert (result.ok, result.external_id, result.locale, result.code) == (
        False,
        product.gid,
        "fr",
        ErrorCode.MISSING_REQUIRED_FIELD,
    )
    translations = shop.translations("BOOT-1")
    assert translations["ar"]["title"].value == "حذاء"
    assert translations["fr"]["title"].value == "Bottine"


async def test_a_locale_the_shop_lacks_is_refused_up_front(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    [result] = await adapter.export_batch([boot(locales={"en": {"title": "Boot"}, "es": {"title": "Bota"}})])
    assert (result.ok, result.code, result.locale) == (False, ErrorCode.LOCALE_NOT_SUPPORTED, "es")
    assert shop.products == []


async def test_an_unpublished_shop_locale_can_be_translated(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    [result] = await adapter.export_batch([boot(locales={"en": {"title": "Boot"}, "de": {"title": "Stiefel"}})])
    assert result.ok
    assert shop.translations("BOOT-1")["de"]["title"].value == "Stiefel"


# -- stock at a configured location ----------------------------------------------------------------


async def test_stock_at_a_configured_location(shop: ShopifyEmulator, endpoint: str, http: httpx.AsyncClient) -> None:
    location = shop.state.locations[0].gid
    adapter = make_adapter(endpoint, http, locationId=location)
    [result] = await adapter.export_batch([boot(fields={"inventoryQuantity": 3})])
    assert result.ok
    assert shop.graphql_requests("PrimaryLocation") == []
    remote = (await adapter.fetch_products(["BOOT-1"]))["BOOT-1"]
    assert remote.fields["inventoryQuantity"] == 3
    assert {(r.variables or {}).get("locationId") for r in shop.graphql_requests("ProductsBySku")} == {location}


# -- stock of a product the merchant made ----------------------------------------------------------


def copper_light(shop: ShopifyEmulator, location: Location) -> Product:
    """Shopify's own sample product (home-and-garden.csv): one variant, 2 in stock, inventory not tracked; the
    merchant holds it at `location` and gave it a SKU the PIM knows, so the connector links it."""
    row = sample_product("home-and-garden.csv", "copper-light")
    return shop.seed_csv_product(row, sku="COPPER-LIGHT", location=location)


def stock_of_copper_light(quantity: int) -> ChannelDocument:
    return boot("COPPER-LIGHT", fields={"inventoryQuantity": quantity}, locales={})


async def test_a_linked_product_stocked_only_elsewhere_gets_its_stock_at_the_connector_s_location(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    """productSet sets quantities only where a variant is stocked: the variant is stocked at the location the
    connector writes to first, and the merchant's stock elsewhere is left as it is."""
    primary, warehouse = shop.state.locations[0], shop.add_location("Warehouse")
    copper_light(shop, warehouse)

    [result] = await adapter.export_batch([stock_of_copper_light(5)])

    assert result.ok, result
    assert result.external_id == shop.product("COPPER-LIGHT").gid
    levels = shop.product("COPPER-LIGHT").variants[0].levels
    assert (levels[primary.id]["available"], levels[warehouse.id]["available"]) == (5, 2)
    assert (await adapter.fetch_products(["COPPER-LIGHT"]))["COPPER-LIGHT"].fields["inventoryQuantity"] == 5
    [activation] = shop.graphql_requests("InventoryBulkToggleActivation")
    assert (activation.variables or {})["inventoryItemUpdates"] == [{"locationId": primary.gid, "activate": True}]
    [again] = await adapter.export_batch([stock_of_copper_light(4)])
    assert again.ok, again
    assert len(shop.graphql_requests("InventoryBulkToggleActivation")) == 1  # stocked there now


async def test_a_variant_shopify_will_not_stock_at_the_connector_s_location_fails_with_shopify_s_reason(
    shop: ShopifyEmulator, endpoint: str, http: httpx.AsyncClient
) -> None:
    """The connector's location is gone from the shop (inventoryBulkToggleActivation: LOCATION_NOT_FOUND, a code
    of InventoryBulkToggleActivationUserErrorCode): the product fails with Shopify's reason and the location
    named, and nothing is written to it."""
    warehouse = shop.add_location("Warehouse")
    copper_light(shop, warehouse)
    before = shop.product("COPPER-LIGHT").updated_at
    gone = "gid://shopify/Location/987654"
    adapter = make_adapter(endpoint, http, locationId=gone)

    [result] = await adapter.export_batch([stock_of_copper_light(5)])

    assert (result.ok, result.code, result.external_id) == (
        False,
        ErrorCode.UPDATE_FAILED,
        shop.product("COPPER-LIGHT").gid,
    )
    assert (
        result.message
        == f"inventoryQuantity: Shopify would not stock the variant at {gone}: The location was not found."
    )
    assert shop.graphql_requests("ProductSet") == []
    assert shop.product("COPPER-LIGHT").updated_at == before


async def test_stock_sent_to_an_untracked_variant_turns_tracking_on(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    """Untracked, Shopify keeps selling past the quantity the PIM sends; the PIM manages this stock, so the
    variant is tracked from then on."""
    copper_light(shop, shop.state.locations[0])
    assert not shop.product("COPPER-LIGHT").variants[0].tracked

    [result] = await adapter.export_batch([stock_of_copper_light(5)])

    assert result.ok, result
    variant = shop.product("COPPER-LIGHT").variants[0]
    assert (variant.tracked, variant.inventory_quantity) == (True, 5)
    assert shop.graphql_requests("InventoryBulkToggleActivation") == []  # stocked there already


async def test_stock_of_a_variant_stocked_and_tracked_costs_no_request_more(
    adapter: ShopifyAdapter, shop: ShopifyEmulator, gate: RecordingGate
) -> None:
    [created] = await adapter.export_batch([boot(fields={"inventoryQuantity": 7})])
    assert created.ok, created
    shop.requests.clear()
    gate.acquired.clear()

    [updated] = await adapter.export_batch([boot(external_id=created.external_id, fields={"inventoryQuantity": 3})])

    assert updated.ok, updated
    names = [r.operation_name for r in shop.graphql_requests()]
    assert names[:2] == ["ProductStockState", "ProductSet"]
    assert "InventoryBulkToggleActivation" not in names
    [variant] = (shop.graphql_requests("ProductSet")[0].variables or {})["input"]["variants"]
    assert "tracked" not in variant.get("inventoryItem", {})
    assert shop.product("BOOT-1").variants[0].inventory_quantity == 3
    assert gate.acquired[0] == gql.PRODUCT_STOCK_STATE.cost


async def test_a_location_shopify_will_not_stock_fails_the_product_with_its_reason_and_writes_nothing(
    shop: ShopifyEmulator, endpoint: str, http: httpx.AsyncClient
) -> None:
    """A configured location the merchant has since deleted."""
    copper_light(shop, shop.state.locations[0])
    adapter = make_adapter(endpoint, http, locationId="gid://shopify/Location/999")

    [result] = await adapter.export_batch([stock_of_copper_light(5)])

    linked = shop.product("COPPER-LIGHT").gid
    assert (result.ok, result.code, result.external_id) == (False, ErrorCode.UPDATE_FAILED, linked)
    assert result.message is not None and "The location was not found." in result.message
    assert shop.graphql_requests("ProductSet") == []
    assert shop.product("COPPER-LIGHT").variants[0].inventory_quantity == 2


# -- fetch ------------------------------------------------------------------------------------------


async def test_fetch_pages_through_many_skus(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    skus = [f"MANY-{i:02d}" for i in range(30)]
    for sku in skus:
        shop.seed_simple_product(f"Product {sku}", sku)
    shop.seed_simple_product("Prefix trap", "MANY-0")  # a loose match must not be reported
    found = await adapter.fetch_products([*skus, "NOPE"])
    assert sorted(found) == skus
    assert len(shop.graphql_requests("ProductsBySku")) == 2  # 25 SKUs per search


# -- delete -------------------------------------------------------------------------------------------


async def test_delete_is_idempotent(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    [created] = await adapter.export_batch([boot()])
    assert created.external_id is not None
    await adapter.delete_product(created.external_id)
    assert shop.products == []
    await adapter.delete_product(created.external_id)  # a retry after a lost answer


# -- throttling and transport failures ----------------------------------------------------------


async def test_every_answer_reports_the_bucket_and_estimates_cover_shopify_s_cost(
    adapter: ShopifyAdapter, shop: ShopifyEmulator, gate: RecordingGate
) -> None:
    [created] = await adapter.export_batch([boot()])
    await adapter.export_batch([boot(external_id=created.external_id)])
    await adapter.fetch_products(["BOOT-1"])
    await adapter.delete_product(str(created.external_id))
    requests = shop.graphql_requests()
    assert len(gate.acquired) == len(requests) == len(gate.observed)
    operations = {op.name: op for op in gql.ALL}
    for request, taken in zip(requests, gate.acquired, strict=True):
        assert request.requested_cost is not None and request.operation_name is not None
        estimate = operations[request.operation_name].estimate(request.variables or {})
        assert taken == estimate
        # never less than Shopify requires (that would be throttled), never far more (that would waste the bucket)
        assert request.requested_cost <= estimate <= request.requested_cost + 2, request.operation_name
    last = gate.observed[-1]
    assert (last.capacity, last.restore_rate) == (2000.0, 100.0)
    assert last.available is not None and last.available <= 2000.0


async def test_throttled_raises_rate_limited_with_shopify_s_wait(
    adapter: ShopifyAdapter, shop: ShopifyEmulator, gate: RecordingGate
) -> None:
    shop.drain_bucket(to=1.0)
    with pytest.raises(ChannelRateLimited) as caught:
        await adapter.test_connection()
    [request] = shop.graphql_requests("ShopInfo")
    assert request.throttled and request.requested_cost is not None
    expected = (request.requested_cost - 1.0) / 100.0
    assert caught.value.retry_after == pytest.approx(expected)
    assert gate.observed[-1].available == pytest.approx(1.0), (
        "the gate is told Shopify's bucket, which implies the wait"
    )
    assert gate.observed[-1].restore_rate == 100.0


async def test_changing_the_image_of_a_long_gallery_costs_what_a_short_one_does_and_waits_instead_of_throttling(
    shop: ShopifyEmulator, endpoint: str, http: httpx.AsyncClient, clock: ManualClock
) -> None:
    """productSet once sent every media of the gallery back (1.9 points each); the image is now changed by
    mutations naming only the PIM's own media, 10 points each whatever the gallery. Each asks the gate for what
    Shopify charges, so on a nearly empty bucket every request waits until Shopify can pay for it rather than
    going out to come back THROTTLED."""

    async def sleep(seconds: float) -> None:
        clock.advance(max(seconds, 0.001))  # a microsecond is lost in the float of an epoch time

    gate = LocalTokenBucket(RateLimit(capacity=2000.0, rate=100.0), clock=clock, sleep=sleep)
    adapter = make_adapter(endpoint, http, gate=gate)
    product = shop.seed_simple_product("Boot", "BOOT-1", files=[merchant_image(f"view-{i}") for i in range(12)])
    await adapter.test_connection()
    shop.drain_bucket(to=45)
    [linked] = await adapter.export_batch(
        [boot(external_id=product.gid, fields={"imageUrl": "https://images.example.com/boot.jpg"})]
    )
    assert linked.ok, linked
    assert [r.operation_name for r in shop.requests if r.throttled] == []
    costs = {r.operation_name: r.requested_cost for r in shop.graphql_requests() if r.query and "mutation" in r.query}
    assert costs == {
        "ProductSet": 10,
        "ProductMediaAdd": 10,
        "MetafieldsSet": 10,
        "ProductReorderMedia": 10,
        "TranslationsRegister": 10,
    }
    assert shop.graphql_requests("ProductMediaPage") == []  # the gallery is not read: it is not sent back
    operations = {op.name: op for op in gql.ALL}
    for request in shop.graphql_requests():
        assert request.operation_name is not None and request.requested_cost is not None
        estimate = operations[request.operation_name].estimate(request.variables or {})
        assert request.requested_cost <= estimate <= request.requested_cost + 2, request.operation_name


async def test_http_429_carries_retry_after(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    shop.fail_next(1, status=429, retry_after="3")
    with pytest.raises(ChannelRateLimited) as caught:
        await adapter.test_connection()
    assert caught.value.retry_after == 3.0


async def test_5xx_is_unavailable(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    shop.fail_next(1, status=503)
    with pytest.raises(ChannelUnavailable):
        await adapter.test_connection()
    assert (await adapter.test_connection()).store_name == "Apple Computers"


async def test_a_slow_shop_times_out(shop: ShopifyEmulator, endpoint: str, http: httpx.AsyncClient) -> None:
    shop.slow_down(1.0)
    with pytest.raises(ChannelTimeout):
        await make_adapter(endpoint, http, timeout=0.2).test_connection()
    shop.slow_down(0)


async def test_a_refused_connection_is_unavailable(http: httpx.AsyncClient) -> None:
    with closed_port() as port, pytest.raises(ChannelUnavailable) as caught:
        await make_adapter(f"http://127.0.0.1:{port}/admin/api/2026-04/graphql.json", http).test_connection()
    assert TOKEN not in str(caught.value)


async def test_the_wire_is_utf8_json_with_variables(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    await adapter.export_batch([boot()])
    [register] = shop.graphql_requests("TranslationsRegister")
    body = json.loads(register.body)
    assert body["operationName"] == "TranslationsRegister"
    assert "حذاء الصحراء".encode() in register.body
    assert all("translatableContentDigest" in t for t in body["variables"]["translations"])


# -- what is read back is what was written -------------------------------------------------------------


async def test_translations_of_a_language_the_merchant_unpublished_still_read_back(
    shop: ShopifyEmulator, endpoint: str, http: httpx.AsyncClient
) -> None:
    """Exports write every shop locale, published or not; reading back fewer would read as translations cleared."""
    [created] = await make_adapter(endpoint, http).export_batch([boot()])
    assert created.ok, created
    shop.set_locale_published("ar", False)
    adapter = make_adapter(endpoint, http)  # a later job: it learns the shop's locales afresh
    remote = (await adapter.fetch_products(["BOOT-1"]))["BOOT-1"]
    assert remote.locales["ar"]["title"] == "حذاء الصحراء"
    assert remote.locales["ar"]["productType"] == "أحذية"
    assert (await adapter.test_connection()).supported_locales == ("en", "ar", "fr", "de")


async def test_stock_reads_back_at_the_location_it_is_written_to_not_the_shop_total(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    warehouse = shop.add_location("Warehouse")
    [created] = await adapter.export_batch([boot(fields={"inventoryQuantity": 7})])
    assert created.ok, created
    stock = {"inventoryQuantities": [{"locationId": warehouse.gid, "name": "available", "quantity": 5}]}
    shop.edit_product("BOOT-1", variants={"BOOT-1": stock}, fire_webhook=False)
    assert shop.product("BOOT-1").variants[0].inventory_quantity == 12  # the shop-wide total
    remote = (await adapter.fetch_products(["BOOT-1"]))["BOOT-1"]
    assert remote.fields["inventoryQuantity"] == 7


async def test_an_image_reads_back_as_the_url_sent_while_shopify_processes_it_and_after(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    source = "https://images.example.com/boot.jpg"
    [created] = await adapter.export_batch([boot(fields={"imageUrl": source})])
    assert created.ok, created
    assert [m.status for m in shop.product("BOOT-1").media] == ["PROCESSING"]
    assert (await adapter.fetch_products(["BOOT-1"]))["BOOT-1"].fields["imageUrl"] == source
    shop.process_media()
    assert (await adapter.fetch_products(["BOOT-1"]))["BOOT-1"].fields["imageUrl"] == source


async def test_an_image_the_merchant_replaced_reads_back_as_shopify_s(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    [created] = await adapter.export_batch([boot(fields={"imageUrl": "https://images.example.com/boot.jpg"})])
    merchant = "https://merchant.example.com/new.jpg"
    shop.seed_product(
        {"files": [{"originalSource": merchant, "contentType": "IMAGE"}]}, identifier={"id": created.external_id}
    )
    shop.process_media()
    remote = (await adapter.fetch_products(["BOOT-1"]))["BOOT-1"]
    assert str(remote.fields["imageUrl"]).startswith("https://cdn.shopify.com/")  # a change on the shop, seen as one


async def test_an_image_already_made_from_the_url_is_kept_not_uploaded_again(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    """Shopify re-downloads every file sent by URL: the image the product already has from that URL (a forced
    resync, a retry, a product linked again) is not sent again, so the product keeps that one media."""
    source = "https://images.example.com/boot.jpg"
    [created] = await adapter.export_batch([boot(fields={"imageUrl": source})])
    [before] = shop.product("BOOT-1").media
    shop.requests.clear()
    [again] = await adapter.export_batch([boot(external_id=created.external_id, fields={"imageUrl": source})])
    assert again.ok, again
    assert [m.id for m in shop.product("BOOT-1").media] == [before.id]
    [sent] = [r.variables["input"] for r in shop.graphql_requests("ProductSet") if r.variables]
    assert "files" not in sent
    assert media_mutations(shop) == []  # the image is in place: no media mutation at all
    assert shop.graphql_requests("MetafieldsSet") == []  # the metafield names that media already
    assert (await adapter.fetch_products(["BOOT-1"]))["BOOT-1"].fields["imageUrl"] == source


MEDIA_MUTATIONS = ("ProductMediaAdd", "ProductReorderMedia", "FileDetach", "FileDelete")


def media_mutations(shop: ShopifyEmulator) -> list[str]:
    """The media mutations the adapter sent, in order."""
    return [str(r.operation_name) for r in shop.graphql_requests() if r.operation_name in MEDIA_MUTATIONS]


def media_gid(media_id: int) -> str:
    return f"gid://shopify/MediaImage/{media_id}"


def merchant_image(name: str) -> dict[str, str]:
    return {"originalSource": f"https://merchant.example.com/{name}.jpg", "contentType": "IMAGE"}


async def test_an_image_the_merchant_moved_behind_another_is_kept_and_made_first_again(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    """The merchant added an image in the admin and made it the featured one: the image made from the PIM's URL
    is still on the product, second. It is sent by its media id, first as the PIM has it (the PIM owns the
    featured image), and the merchant's image stays, behind it."""
    source = "https://images.example.com/boot.jpg"
    [created] = await adapter.export_batch([boot(fields={"imageUrl": source})])
    [ours] = shop.product("BOOT-1").media
    shop.seed_product(
        {"files": [merchant_image("lifestyle"), {"id": media_gid(ours.id)}]}, identifier={"id": created.external_id}
    )
    shop.process_media()
    [theirs, _] = shop.product("BOOT-1").media
    shop.requests.clear()
    [again] = await adapter.export_batch([boot(external_id=created.external_id, fields={"imageUrl": source})])
    assert again.ok, again
    assert [m.id for m in shop.product("BOOT-1").media] == [ours.id, theirs.id]
    assert shop.graphql_requests("MetafieldsSet") == []  # the metafield names that media already
    assert (await adapter.fetch_products(["BOOT-1"]))["BOOT-1"].fields["imageUrl"] == source


async def test_an_image_added_by_the_merchant_while_an_unchanged_image_is_exported_stays(
    shop: ShopifyEmulator, endpoint: str
) -> None:
    """productSet's files replace the whole media list, so media sent back from a read lose whatever the merchant
    added after it. An image that is already the product's featured one from the same URL (a forced resync, a
    retry) is not sent at all: productSet leaves the media it is not sent as they are."""
    source = "https://images.example.com/boot.jpg"

    async def merchant_adds_an_image(response: httpx.Response) -> None:
        if json.loads(response.request.content).get("operationName") == "ProductState":
            product = shop.product("BOOT-1")
            files = [*({"id": media_gid(m.id)} for m in product.media), merchant_image("added-meanwhile")]
            shop.seed_product({"files": files}, identifier={"id": product.gid})

    async with httpx.AsyncClient(trust_env=False, event_hooks={"response": [merchant_adds_an_image]}) as http:
        adapter = make_adapter(endpoint, http)
        [created] = await adapter.export_batch([boot(fields={"imageUrl": source})])
        [ours] = shop.product("BOOT-1").media
        [again] = await adapter.export_batch([boot(external_id=created.external_id, fields={"imageUrl": source})])
    assert again.ok, again
    first, theirs = shop.product("BOOT-1").media
    assert (first.id, theirs.source) == (ours.id, "https://merchant.example.com/added-meanwhile.jpg")
    assert [r for r in shop.graphql_requests("ProductSet") if "files" in (r.variables or {})["input"]][1:] == []
    assert media_mutations(shop) == []


async def test_gallery_images_the_merchant_added_stay_when_the_pim_sends_or_changes_its_image(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    """productSet's files replace the product's whole media list: the PIM owns the one image it sends, and the
    gallery the merchant built on Shopify behind it survives every later export of that image."""
    [created] = await adapter.export_batch([boot(fields={"imageUrl": "https://images.example.com/boot.jpg"})])
    [ours] = shop.product("BOOT-1").media
    gallery = [{"id": media_gid(ours.id)}, merchant_image("side"), merchant_image("sole")]
    shop.seed_product({"files": gallery}, identifier={"id": created.external_id})
    merchant = [m.id for m in shop.product("BOOT-1").media[1:]]
    [again] = await adapter.export_batch([boot(external_id=created.external_id)])  # a forced resync
    assert again.ok, again
    assert [m.id for m in shop.product("BOOT-1").media] == [ours.id, *merchant]
    new = "https://images.example.com/boot-v2.jpg"
    [changed] = await adapter.export_batch([boot(external_id=created.external_id, fields={"imageUrl": new})])
    assert changed.ok, changed
    first, *rest = shop.product("BOOT-1").media
    assert (first.source, [m.id for m in rest]) == (new, merchant)  # the PIM's old image replaced, not theirs
    assert (await adapter.fetch_products(["BOOT-1"]))["BOOT-1"].fields["imageUrl"] == new


async def test_clearing_the_image_removes_only_the_pim_s_own(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    [created] = await adapter.export_batch([boot(fields={"imageUrl": "https://images.example.com/boot.jpg"})])
    [ours] = shop.product("BOOT-1").media
    shop.seed_product(
        {"files": [merchant_image("side"), {"id": media_gid(ours.id)}, merchant_image("sole")]},
        identifier={"id": created.external_id},
    )
    merchant = [m.id for m in shop.product("BOOT-1").media if m.id != ours.id]
    [cleared] = await adapter.export_batch([boot(external_id=created.external_id, fields={"imageUrl": None})])
    assert cleared.ok, cleared
    assert [m.id for m in shop.product("BOOT-1").media] == merchant
    [again] = await adapter.export_batch([boot(external_id=created.external_id, fields={"imageUrl": None})])
    assert again.ok, again
    assert [m.id for m in shop.product("BOOT-1").media] == merchant
    sent = [r.variables["input"] for r in shop.graphql_requests("ProductSet") if r.variables]
    assert "files" not in sent[-1]  # nothing of the PIM's left to remove: the media list is not touched


async def test_a_product_whose_image_is_not_mapped_keeps_every_media(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    product = shop.seed_simple_product("Boot", "BOOT-1", files=[merchant_image("side"), merchant_image("sole")])
    before = [m.id for m in product.media]
    [linked] = await adapter.export_batch([boot(fields={"price": "120"})])
    assert linked.ok, linked
    assert [m.id for m in shop.product("BOOT-1").media] == before
    [sent] = [r.variables["input"] for r in shop.graphql_requests("ProductSet") if r.variables]
    assert "files" not in sent


async def test_the_pim_s_image_the_merchant_moved_down_a_long_gallery_is_found_and_made_first_again(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    """ProductState reads a product's first media; where the PIM's image is not among them (the merchant put a
    long gallery in front of it), the rest is read (one request more) so it is moved first, not added again."""
    source = "https://images.example.com/boot.jpg"
    [created] = await adapter.export_batch([boot(fields={"imageUrl": source})])
    [ours] = shop.product("BOOT-1").media
    files = [*(merchant_image(f"view-{i}") for i in range(14)), {"id": media_gid(ours.id)}]
    shop.seed_product({"files": files}, identifier={"id": created.external_id})
    merchant = [m.id for m in shop.product("BOOT-1").media[:-1]]
    shop.requests.clear()
    [again] = await adapter.export_batch([boot(external_id=created.external_id, fields={"imageUrl": source})])
    assert again.ok, again
    assert [m.id for m in shop.product("BOOT-1").media] == [ours.id, *merchant]
    [page] = shop.graphql_requests("ProductMediaPage")
    assert page.requested_cost == gql.PRODUCT_MEDIA_PAGE.estimate(page.variables or {})
    assert shop.graphql_requests("ProductMediaAdd") == []


async def test_a_changed_image_url_ends_as_exactly_that_image(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> None:
    [created] = await adapter.export_batch([boot(fields={"imageUrl": "https://images.example.com/boot.jpg"})])
    shop.process_media()
    new = "https://images.example.com/boot-side.jpg"
    [changed] = await adapter.export_batch([boot(external_id=created.external_id, fields={"imageUrl": new})])
    assert changed.ok, changed
    assert [m.source for m in shop.product("BOOT-1").media] == [new]
    assert (await adapter.fetch_products(["BOOT-1"]))["BOOT-1"].fields["imageUrl"] == new


async def test_an_image_the_merchant_replaced_is_uploaded_again_from_the_pim_s_url(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    source = "https://images.example.com/boot.jpg"
    [created] = await adapter.export_batch([boot(fields={"imageUrl": source})])
    shop.seed_product({"files": [merchant_image("new")]}, identifier={"id": created.external_id})
    [theirs] = shop.product("BOOT-1").media
    [again] = await adapter.export_batch([boot(external_id=created.external_id, fields={"imageUrl": source})])
    assert again.ok, again
    first, *rest = shop.product("BOOT-1").media
    assert (first.source, [m.id for m in rest]) == (source, [theirs.id])  # the merchant's image is not deleted
    assert (await adapter.fetch_products(["BOOT-1"]))["BOOT-1"].fields["imageUrl"] == source


async def test_translations_the_pim_kept_are_registered_again_when_their_source_changes(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    """Shopify marks a translation outdated once its source's digest changes: those the document says are
    unchanged are registered again against the new source, and only for the fields whose source changed."""
    [created] = await adapter.export_batch([boot()])
    shop.requests.clear()
    update = ChannelDocument(
        "BOOT-1",
        created.external_id,
        locales={"en": {"title": "Suede desert boot", "descriptionHtml": None}},
        unchanged={
            "ar": {
                "title": "حذاء الصحراء",
                "descriptionHtml": "<p>حذاء من جلد الغزال</p>",
                "handle": "hidhaa-alsahraa",
            },
            "fr": {"title": "Bottine du désert"},
        },
    )
    [result] = await adapter.export_batch([update])
    assert result.ok, result
    product = shop.product("BOOT-1")
    translations = shop.translations("BOOT-1")
    assert not product.is_outdated(translations["ar"]["title"])
    assert not product.is_outdated(translations["fr"]["title"])
    [register] = shop.graphql_requests("TranslationsRegister")
    assert register.variables is not None
    sent = {(t["locale"], t["key"]) for t in register.variables["translations"]}
    assert sent == {("ar", "title"), ("fr", "title")}  # not the handle, whose source did not change


async def test_a_cleared_price_fails_the_product_and_sends_nothing(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    [created] = await adapter.export_batch([boot()])
    [result] = await adapter.export_batch([boot(external_id=created.external_id, fields={"price": None})])
    assert (result.ok, result.code, result.external_id) == (
        False,
        ErrorCode.MISSING_REQUIRED_FIELD,
        created.external_id,
    )
    assert result.message == "price cannot be cleared: Shopify requires one"
    assert len(shop.graphql_requests("ProductSet")) == 1
    assert shop.product("BOOT-1").variants[0].price == "115.00"


# -- the PIM's image changes: only its own media are touched ---------------------------------------


def merchant_adds_after(shop: ShopifyEmulator, operation: str, name: str) -> Any:
    """A response hook: once `operation` has been answered, the merchant adds the image `name` to BOOT-1 in the
    admin (as the last media), so it lands between the adapter's read and its write."""

    async def hook(response: httpx.Response) -> None:
        if json.loads(response.request.content).get("operationName") == operation:
            product = shop.product("BOOT-1")
            files = [*({"id": media_gid(m.id)} for m in product.media), merchant_image(name)]
            shop.seed_product({"files": files}, identifier={"id": product.gid})

    return hook


async def test_an_image_the_merchant_adds_while_the_pim_s_image_changes_is_kept(
    adapter: ShopifyAdapter, shop: ShopifyEmulator, endpoint: str
) -> None:
    """The media list read a few requests before the write is stale by the time it is written: a media the
    merchant adds in between must survive an export that changes the image. The new image ends first, the
    PIM's old one is gone from the product, and nothing of the merchant's is touched."""
    old, new = "https://images.example.com/boot.jpg", "https://images.example.com/boot-v2.jpg"
    hook = merchant_adds_after(shop, "ProductState", "added-meanwhile")
    [created] = await adapter.export_batch([boot(fields={"imageUrl": old})])
    shop.process_media()
    [ours] = shop.product("BOOT-1").media
    async with httpx.AsyncClient(trust_env=False, event_hooks={"response": [hook]}) as http:
        [changed] = await make_adapter(endpoint, http).export_batch(
            [boot(external_id=created.external_id, fields={"imageUrl": new})]
        )
    assert changed.ok, changed
    media = shop.product("BOOT-1").media
    assert [m.source for m in media] == [new, "https://merchant.example.com/added-meanwhile.jpg"]
    assert ours.id not in [m.id for m in media]
    assert (await adapter.fetch_products(["BOOT-1"]))["BOOT-1"].fields["imageUrl"] == new
    assert [r for r in shop.graphql_requests("ProductSet") if "files" in (r.variables or {})["input"]][1:] == []


def fail_once(shop: ShopifyEmulator, operation: str) -> Any:
    """A request hook: the first `operation` sent is answered 503 (a half-failed export: what came before it
    was written, nothing after it)."""
    failed: list[str] = []

    async def hook(request: httpx.Request) -> None:
        if json.loads(request.content).get("operationName") == operation and not failed:
            failed.append(operation)
            shop.fail_next(1, status=503)

    return hook


async def changed_with_a_gallery(adapter: ShopifyAdapter, shop: ShopifyEmulator) -> tuple[str, int, list[int]]:
    """BOOT-1 exported with the PIM's first image, processed, then the merchant's gallery behind it: (product id,
    the PIM's media id, the merchant's media ids)."""
    [created] = await adapter.export_batch([boot(fields={"imageUrl": "https://images.example.com/boot.jpg"})])
    [ours] = shop.product("BOOT-1").media
    gallery = [{"id": media_gid(ours.id)}, merchant_image("side"), merchant_image("sole")]
    shop.seed_product({"files": gallery}, identifier={"id": created.external_id})
    shop.process_media()
    return str(created.external_id), ours.id, [m.id for m in shop.product("BOOT-1").media[1:]]


@pytest.mark.parametrize("failing", ["ProductReorderMedia", "FileDetach"])
async def test_a_retry_after_an_image_change_failed_half_way_finishes_it_without_adding_the_image_again(
    adapter: ShopifyAdapter, shop: ShopifyEmulator, endpoint: str, failing: str
) -> None:
    """The new image was added and recorded, then Shopify failed: the item fails (the engine retries it), and the
    retry recognises the image it added by the metafield: it moves it first and takes the old one off, once."""
    product_id, ours, merchant = await changed_with_a_gallery(adapter, shop)
    new = "https://images.example.com/boot-v2.jpg"
    async with httpx.AsyncClient(trust_env=False, event_hooks={"request": [fail_once(shop, failing)]}) as http:
        with pytest.raises(ChannelUnavailable):
            await make_adapter(endpoint, http).export_batch([boot(external_id=product_id, fields={"imageUrl": new})])
    assert [m.source for m in shop.product("BOOT-1").media].count(new) == 1
    shop.requests.clear()
    [retried] = await adapter.export_batch([boot(external_id=product_id, fields={"imageUrl": new})])
    assert retried.ok, retried
    first, *rest = shop.product("BOOT-1").media
    assert (first.source, [m.id for m in rest]) == (new, merchant)  # no second copy, the old one gone
    assert ours not in [m.id for m in shop.product("BOOT-1").media]
    assert "ProductMediaAdd" not in media_mutations(shop)
    shop.requests.clear()
    [settled] = await adapter.export_batch([boot(external_id=product_id, fields={"imageUrl": new})])
    assert settled.ok and media_mutations(shop) == []  # converged: nothing left to do


async def test_an_image_added_but_not_recorded_is_found_by_the_retry_which_adds_it_once(
    adapter: ShopifyAdapter, shop: ShopifyEmulator, endpoint: str
) -> None:
    """Recording the media added fails: the metafield written with the add still says which image was being
    added, so the retry finds that media, adds nothing, and finishes the change."""
    product_id, _, merchant = await changed_with_a_gallery(adapter, shop)
    new = "https://images.example.com/boot-v2.jpg"
    async with httpx.AsyncClient(trust_env=False, event_hooks={"request": [fail_once(shop, "MetafieldsSet")]}) as http:
        with pytest.raises(ChannelUnavailable):
            await make_adapter(endpoint, http).export_batch([boot(external_id=product_id, fields={"imageUrl": new})])
    shop.requests.clear()
    [retried] = await adapter.export_batch([boot(external_id=product_id, fields={"imageUrl": new})])
    assert retried.ok, retried
    assert "ProductMediaAdd" not in media_mutations(shop)
    first, *rest = shop.product("BOOT-1").media
    assert (first.source, [m.id for m in rest]) == (new, merchant)


async def test_a_new_product_s_image_not_recorded_is_found_by_the_retry_which_adds_it_once(
    adapter: ShopifyAdapter, shop: ShopifyEmulator, endpoint: str
) -> None:
    """Creating a product, productSet makes its image and writes the metafield saying it was being added; when
    recording the media made fails, the retry finds it by that metafield and adds the image no second time."""
    image = "https://images.example.com/boot.jpg"
    async with httpx.AsyncClient(trust_env=False, event_hooks={"request": [fail_once(shop, "MetafieldsSet")]}) as http:
        with pytest.raises(ChannelUnavailable):
            await make_adapter(endpoint, http).export_batch([boot(fields={"imageUrl": image})])
    [retried] = await adapter.export_batch([boot(fields={"imageUrl": image})])
    assert retried.ok, retried
    assert [m.source for m in shop.product("BOOT-1").media] == [image]


async def test_a_retry_after_the_answer_to_an_image_add_was_lost_leaves_one_copy_of_the_image(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    """Shopify added the new image, then its answer was lost (a 502): the item fails and the engine retries it.
    The retry added the image again, leaving two copies on the shop; it now recognises the one added (the
    image-source metafield said what was being added, in the same productUpdate) and only finishes the change."""
    product_id, _, merchant = await changed_with_a_gallery(adapter, shop)
    new = "https://images.example.com/boot-v2.jpg"
    shop.lose_answer("ProductMediaAdd")
    with pytest.raises(ChannelUnavailable):
        await adapter.export_batch([boot(external_id=product_id, fields={"imageUrl": new})])
    assert [m.source for m in shop.product("BOOT-1").media].count(new) == 1  # Shopify did add it
    [retried] = await adapter.export_batch([boot(external_id=product_id, fields={"imageUrl": new})])
    assert retried.ok, retried
    first, *rest = shop.product("BOOT-1").media
    assert (first.source, [m.id for m in rest]) == (new, merchant)  # one copy, first; the old one gone
    [looked_up] = shop.graphql_requests("ProductPendingMedia")  # the gate is asked for what Shopify charges
    assert looked_up.requested_cost is not None and looked_up.variables is not None
    assert looked_up.requested_cost <= gql.PRODUCT_PENDING_MEDIA.estimate(looked_up.variables)
    assert (await adapter.fetch_products(["BOOT-1"]))["BOOT-1"].fields["imageUrl"] == new
    shop.requests.clear()
    [settled] = await adapter.export_batch([boot(external_id=product_id, fields={"imageUrl": new})])
    assert settled.ok and media_mutations(shop) == []  # converged: nothing left to do
    assert shop.graphql_requests("ProductPendingMedia") == [] and shop.graphql_requests("MetafieldsSet") == []


async def test_a_retry_after_the_answer_to_a_create_was_lost_leaves_one_copy_of_the_image(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    """productSet made the product and its image, then its answer was lost: the retry finds the product by its SKU
    and must not add the image beside the one productSet made."""
    image = "https://images.example.com/boot.jpg"
    shop.lose_answer("ProductSet")
    with pytest.raises(ChannelUnavailable):
        await adapter.export_batch([boot(fields={"imageUrl": image})])
    [retried] = await adapter.export_batch([boot(fields={"imageUrl": image})])
    assert retried.ok, retried
    assert [m.source for m in shop.product("BOOT-1").media] == [image]
    assert len(shop.products) == 1
    assert (await adapter.fetch_products(["BOOT-1"]))["BOOT-1"].fields["imageUrl"] == image


async def test_a_retry_after_the_answer_to_an_image_add_was_lost_with_the_image_changed_again_keeps_neither_copy(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    """The image added whose answer was lost is the connector's even when the PIM has changed the image again by
    the retry: it is taken off with the older one, and only the latest image is left beside the merchant's."""
    product_id, _, merchant = await changed_with_a_gallery(adapter, shop)
    shop.lose_answer("ProductMediaAdd")
    with pytest.raises(ChannelUnavailable):
        await adapter.export_batch(
            [boot(external_id=product_id, fields={"imageUrl": "https://images.example.com/v2.jpg"})]
        )
    latest = "https://images.example.com/v3.jpg"
    [retried] = await adapter.export_batch([boot(external_id=product_id, fields={"imageUrl": latest})])
    assert retried.ok, retried
    first, *rest = shop.product("BOOT-1").media
    assert (first.source, [m.id for m in rest]) == (latest, merchant)


async def test_a_reorder_shopify_has_not_run_yet_is_sent_again_by_the_next_export(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    """productReorderMedia answers a Job Shopify runs later; the adapter does not wait for it. An export that
    comes while the image is not first yet moves it again, adds nothing, and both moves end the same."""
    product_id, _, merchant = await changed_with_a_gallery(adapter, shop)
    new = "https://images.example.com/boot-v2.jpg"
    shop.hold_jobs()
    [changed] = await adapter.export_batch([boot(external_id=product_id, fields={"imageUrl": new})])
    assert changed.ok, changed
    [reorder] = shop.graphql_requests("ProductReorderMedia")
    assert reorder.response["data"]["productReorderMedia"]["job"]["done"] is False
    assert [m.id for m in shop.product("BOOT-1").media][:-1] == merchant  # added last, not moved yet
    shop.requests.clear()
    [again] = await adapter.export_batch([boot(external_id=product_id, fields={"imageUrl": new})])
    assert again.ok and media_mutations(shop) == ["ProductReorderMedia"]
    shop.run_jobs()
    first, *rest = shop.product("BOOT-1").media
    assert (first.source, [m.id for m in rest]) == (new, merchant)


async def test_a_new_product_gets_its_image_from_product_set_alone(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    """Creating a product, productSet's files (the whole media list) are just the PIM's image: nothing of the
    merchant's exists yet. No other media mutation is needed."""
    [created] = await adapter.export_batch([boot(fields={"imageUrl": "https://images.example.com/boot.jpg"})])
    assert created.ok, created
    [sent] = [r.variables["input"] for r in shop.graphql_requests("ProductSet") if r.variables]
    assert sent["files"] == [{"originalSource": "https://images.example.com/boot.jpg", "contentType": "IMAGE"}]
    assert media_mutations(shop) == []


async def test_an_image_shopify_refuses_to_add_fails_only_that_product_with_its_reason(
    adapter: ShopifyAdapter, shop: ShopifyEmulator
) -> None:
    """A product at Shopify's 250-media limit takes no image more: productUpdate's userError fails that product
    (CHN-032, its id kept, its other fields written), and the batch goes on to the next product."""
    product = shop.seed_simple_product("Boot", "BOOT-1", files=[merchant_image(f"view-{i}") for i in range(250)])
    shop.seed_simple_product("Shoe", "SHOE-1")
    [refused] = await adapter.export_batch([boot(fields={"imageUrl": "https://images.example.com/boot.jpg"})])
    assert (refused.ok, refused.code, refused.external_id) == (False, ErrorCode.UPDATE_FAILED, product.gid)
    assert refused.message == "imageUrl: Exceeded the limit of 250 media per product"
    assert shop.product("BOOT-1").title == "Desert boot" and len(shop.product("BOOT-1").media) == 250
    [next_one] = await adapter.export_batch([boot("SHOE-1", fields={"price": "80"}, locales={"en": {"title": "Shoe"}})])
    assert next_one.ok, next_one


async def until_the_shop_receives(shop: ShopifyEmulator, what: bytes) -> None:
    """Until the shop has received a request whose body holds `what` (answered or not)."""
    deadline = time.monotonic() + 10
    while not any(what in request.body for request in shop.requests):
        assert time.monotonic() < deadline, f"the shop never received {what!r}"
        await asyncio.sleep(0.01)


async def cancelled_after(task: asyncio.Task[Any]) -> float:
    """Cancel `task`, as a worker's stop does; the seconds until it ended."""
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return time.monotonic() - started


async def test_a_stop_cuts_a_look_up_short_at_once_and_waits_for_a_write_s_answer(
    shop: ShopifyEmulator, endpoint: str, tmp_path: Path
) -> None:
    """Shopify takes every request as a POST, queries too: a stop (a deploy's SIGTERM) waited for a look-up's answer
    as for a write's, which the shop may apply whether or not its answer is read, and the stopped run then kept its
    chunk from the next worker as if a write might still land. A query is cut off at once, as a GET is; a mutation's
    answer is still waited for."""
    settings = Settings(environment=Environment.TEST, var_dir=tmp_path, allow_private_urls=True)
    async with channel_http_client(settings) as http:
        adapter = make_adapter(endpoint, http)
        shop.slow_down(1.5)
        looking = asyncio.create_task(adapter.fetch_products(["BOOT-1"]))
        await until_the_shop_receives(shop, b"query ")
        assert await cancelled_after(looking) < 1.0, "the stop waited for a look-up's answer"
        writing = asyncio.create_task(adapter.export_batch([boot()]))
        await until_the_shop_receives(shop, b"mutation ")
        assert await cancelled_after(writing) >= 1.0, "the stop did not wait for the write's answer"
        shop.slow_down(0)
