"""WooCommerce product webhooks (topics product.created, .updated, .deleted and .restored).

What WooCommerce sends (WC_Webhook::deliver in woocommerce/woocommerce,
plugins/woocommerce/includes/class-wc-webhook.php):

- X-WC-Webhook-Signature: base64 HMAC-SHA256 of the raw body keyed with the
  webhook's secret (the connector's `webhookSecret`);
- X-WC-Webhook-Topic, -Resource, -Event, -ID, -Source and -Delivery-ID;
- the body: the product as the REST API (wc/v3) returns it, or only {"id": N}
  for product.deleted;
- when a webhook is saved, an unsigned ping whose form body is `webhook_id=N`;
  it must be answered 200 or WooCommerce refuses to save the webhook.

The delivery id is wp_hash(webhook id . unix seconds) (get_new_delivery_id):
two deliveries of one webhook in the same second share it, e.g. a bulk edit of
many products. Deduplicating on it alone would drop real changes, so the
stored id is the header plus a digest of the body: a resent delivery (same
header, same bytes) is still recognised, two products changed in one second
are not mistaken for one.

A restored product (taken out of the trash) exists again: product.restored is
read as product.updated. WooCommerce gives no time for a deletion.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from app.channels.base import WebhookEvent
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

TOPICS = {
    "product.created": Topic.CREATED,
    "product.updated": Topic.UPDATED,
    "product.deleted": Topic.DELETED,
    "product.restored": Topic.UPDATED,
}
SIGNATURE_HEADER = "X-WC-Webhook-Signature"
BODY_DIGEST_LENGTH = 32
_PING = re.compile(rb"webhook_id=[0-9]{1,20}")


def _topic_name(headers: Headers) -> str | None:
    """X-WC-Webhook-Topic, or resource.event from the two headers that make it up."""
    name = header(headers, "X-WC-Webhook-Topic")
    if name is not None:
        return name
    resource, event = header(headers, "X-WC-Webhook-Resource"), header(headers, "X-WC-Webhook-Event")
    return f"{resource}.{event}" if resource and event else None


def _modified_at(payload: Mapping[str, Any]) -> datetime | None:
    """date_modified_gmt: ISO 8601 without an offset, in UTC (GMT) as its name says."""
    value = payload.get("date_modified_gmt")
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise PayloadInvalid(f"date_modified_gmt is not an ISO 8601 time: {str(value)[:40]!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _product_id(payload: Mapping[str, Any]) -> str:
    number = payload.get("id")
    if isinstance(number, str) and number.isascii() and number.isdigit():
        number = int(number)
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise PayloadInvalid("the product has no id")
    return str(number)


class WooCommerceWebhooks:
    """The WebhookProtocol of WooCommerce stores."""

    def secret(self, credentials: Mapping[str, Any]) -> str | None:
        return text_or_none(credentials.get("webhookSecret"))

    def is_ping(self, headers: Headers, body: bytes) -> bool:
        unsigned = header(headers, SIGNATURE_HEADER) is None and _topic_name(headers) is None
        return unsigned and _PING.fullmatch(body.strip()) is not None

    def verify(self, secret: str, body: bytes, headers: Headers, *, now: float) -> None:
        given = header(headers, SIGNATURE_HEADER)
        if given is None:
            raise SignatureInvalid(f"{SIGNATURE_HEADER} is missing")
        if not signatures_match(base64_hmac_sha256(secret, body), given):
            raise SignatureInvalid(
                f"{SIGNATURE_HEADER} does not match the body (is webhookSecret the webhook's secret?)"
            )

    def check_store(self, credentials: Mapping[str, Any], headers: Headers) -> None:
        """Nothing to check: each webhook has its own secret, set in this store, so a valid signature names it."""

    def parse(self, body: bytes, headers: Headers) -> Delivery:
        name = _topic_name(headers)
        if name is None:
            raise PayloadInvalid("X-WC-Webhook-Topic is missing")
        topic = TOPICS.get(name)
        if topic is None:
            raise EventUnsupported(f"topic {name[:100]!r} is not one of {', '.join(TOPICS)}")
        digest = hashlib.sha256(body).hexdigest()[:BODY_DIGEST_LENGTH]
        identifier = f"{delivery_id(headers, 'X-WC-Webhook-Delivery-ID')}:{digest}"
        payload = json_object(body, "a product")
        self.event(topic, payload, None)
        return Delivery(identifier, topic, payload, _modified_at(payload))

    def event(self, topic: Topic, payload: Any, occurred_at: datetime | None) -> WebhookEvent:
        if not isinstance(payload, dict):
            raise PayloadInvalid("the body must be a JSON object (a product)")
        return WebhookEvent(topic.value, text_or_none(payload.get("sku")), _product_id(payload), occurred_at)
