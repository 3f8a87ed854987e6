"""A fresh Shopify emulator per test, plugged into the session's Shopify origin (settings point at it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import SwappableApp
from tests.emulators.shopify import ShopifyEmulator

TOKEN = "shpat_sync_test_0123456789abcdef00"
DOMAIN = "souk-demo.myshopify.com"


@pytest.fixture
def shopify(shopify_switch: tuple[SwappableApp, str]) -> Iterator[ShopifyEmulator]:
    emulator = ShopifyEmulator(access_token=TOKEN)
    shopify_switch[0].target = emulator.app
    yield emulator
    shopify_switch[0].target = None
    assert emulator.gaps == [], "the service used something the emulator does not implement"
