"""A Shopify Admin GraphQL API (2026-04) emulator for testing the Shopify adapter over real HTTP.

Faithful where the adapter depends on Shopify: every document is validated
against the official 2026-04 SDL, answers carry Shopify's cost extension and
the bucket throttles like Shopify's (cost.py), productSet and
translationsRegister enforce Shopify's rules with its userError codes
(products.py, translations.py), and webhooks are signed like Shopify's
(webhooks.py). Loud where it is not: a field, argument or input the emulator
does not implement fails the request with "emulator does not implement ...".

Modules: schema (SDL, dispatch, not-implemented check), cost (query cost,
bucket), model (shop data), search (query syntax, pagination), fields /
products / catalog (product mutations), media (productUpdate's media,
fileUpdate references, fileDelete, productReorderMedia and its Job),
inventory (where stock is held),
translations, webhooks, resolvers / roots (the GraphQL surface), controls
(test controls), emulator (HTTP app).
"""

from __future__ import annotations

from .emulator import INVALID_TOKEN, LoggedRequest, ManualClock, ShopifyEmulator
from .model import Product, ShopInfo, ShopLocale, Translation, Variant, WebhookDelivery, digest
from .schema import API_VERSION, admin_schema
from .webhooks import hmac_header, verify_hmac

__all__ = [
    "API_VERSION",
    "INVALID_TOKEN",
    "LoggedRequest",
    "ManualClock",
    "Product",
    "ShopInfo",
    "ShopLocale",
    "ShopifyEmulator",
    "Translation",
    "Variant",
    "WebhookDelivery",
    "admin_schema",
    "digest",
    "hmac_header",
    "verify_hmac",
]
