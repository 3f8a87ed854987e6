"""A fresh Shopify emulator per test, plugged into the session's Shopify origin (settings point at it),
a Shopify connector created over GraphQL, and readers of what the service sent to the shop.

The emulated shop is the connectors' shop (DOMAIN), so its webhooks name it in X-Shopify-Shop-Domain."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import GraphQLClient, SwappableApp
from tests.connector_fixtures import CREATE_CONNECTOR, SAVE_MAPPINGS
from tests.emulators.shopify import ShopifyEmulator, ShopInfo
from tests.shared_data import shared_path

TOKEN = "shpat_sync_test_0123456789abcdef00"
DOMAIN = "souk-demo.myshopify.com"
LOCALE_MAPPING = [
    {"pimLocale": "en_US", "channelLocale": "en"},
    {"pimLocale": "ar_AE", "channelLocale": "ar"},
    {"pimLocale": "fr_FR", "channelLocale": "fr"},
]
"""The emulated shop's locales: English primary, Arabic and French published."""


class ShopClock:
    """The shop's clock: the real time, moved by `advance` (a merchant acting a minute later), and by `step`
    seconds more at every reading when set (every change lands in a later second than the one before)."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.step = 0.0

    def __call__(self) -> float:
        self.offset += self.step
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def shop_clock(shopify: ShopifyEmulator) -> ShopClock:
    """The clock of the `shopify` fixture's shop."""
    assert isinstance(shopify.clock, ShopClock)
    return shopify.clock


@pytest.fixture
def shopify(shopify_switch: tuple[SwappableApp, str]) -> Iterator[ShopifyEmulator]:
    emulator = ShopifyEmulator(access_token=TOKEN, clock=ShopClock(), shop=ShopInfo(myshopify_domain=DOMAIN))
    shopify_switch[0].target = emulator.app
    yield emulator
    shopify_switch[0].target = None
    assert emulator.gaps == [], "the service used something the emulator does not implement"


async def create_shopify_connector(
    gql: GraphQLClient, mappings: list[dict[str, Any]], *, code: str = "shop", **settings: Any
) -> dict[str, Any]:
    """A connected Shopify connector (en, ar, fr) with these field mappings; `settings` adds to its settings."""
    created = await gql(
        CREATE_CONNECTOR,
        {
            "input": {
                "code": code,
                "name": "Souk on Shopify",
                "channelType": "SHOPIFY",
                "credentials": {"shopDomain": DOMAIN, "accessToken": TOKEN},
                "settings": {
                    "scope": "ecommerce",
                    "currency": "EUR",
                    "fallbackPolicy": "OMIT",
                    "localeMapping": LOCALE_MAPPING,
                    **settings,
                },
            }
        },
    )
    payload = created["createConnector"]
    assert payload["userErrors"] == [], payload["userErrors"]
    assert payload["connector"]["status"] == "CONNECTED", payload
    saved = (await gql(SAVE_MAPPINGS, {"code": code, "mappings": mappings}))["saveMappings"]
    assert saved["userErrors"] == [], saved["userErrors"]
    return dict(payload["connector"])


def registered(shopify: ShopifyEmulator) -> list[tuple[str, str, str]]:
    """(locale, key, value) of every translation the service registered, in order."""
    return [
        (entry["locale"], entry["key"], entry["value"])
        for request in shopify.graphql_requests("TranslationsRegister")
        for entry in (request.variables or {}).get("translations", [])
    ]


def product_writes(shopify: ShopifyEmulator) -> list[dict[str, Any]]:
    """The `input` of every productSet, productCreate or productUpdate the service sent, in order."""
    writes = []
    for request in shopify.graphql_requests():
        variables = request.variables or {}
        if request.operation_name == "ProductSet":
            writes.append(dict(variables.get("input") or {}))
        elif request.query and ("productCreate(" in request.query or "productUpdate(" in request.query):
            writes.append(dict(variables.get("product") or variables.get("input") or {}))
    return writes


def sample_product(file: str, handle: str) -> dict[str, str]:
    """The first row of `handle` in one of Shopify's sample product CSVs (shared data, shopify_product_csv)."""
    with shared_path("data", "shopify_product_csv", file).open(encoding="utf-8", newline="") as rows:
        found = next((row for row in csv.DictReader(rows) if row["Handle"] == handle), None)
    if found is None:
        raise KeyError(f"{file} has no product {handle!r}")
    return found
