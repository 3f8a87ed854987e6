"""CUSTOM_HTTP webhooks: signed like the service's own requests, carrying the protocol's product document.

docs/channels/custom_http.md ("Webhooks the shop sends"):

    X-Pimsync-Timestamp: <unix seconds>
    X-Pimsync-Signature: sha256=<hex HMAC-SHA256(signingSecret, timestamp + "." + raw body)>
    X-Pimsync-Delivery: <the shop's unique id of this delivery>

    {"topic": "product.updated", "product": {"sku", "externalId", "fields", "locales", "updatedAt"}}

A timestamp more than 300 seconds from the service's clock is refused like a
bad signature, so a captured delivery cannot be replayed later. The product's
`updatedAt` orders deliveries; without one, the signed timestamp does.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from app.channels import signing
from app.channels.base import RemoteProduct, WebhookEvent
from app.channels.custom_http.adapter import parse_updated_at
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
    text_or_none,
)

TOLERANCE_SECONDS = signing.DEFAULT_TOLERANCE_SECONDS
_TOPICS = {topic.value: topic for topic in (Topic.UPDATED, Topic.DELETED)}
"""The protocol's two topics. `product.created` is not one: a shop reports a new product as product.updated, and
a topic outside the protocol is refused (422, CHN-052) so the shop's developer learns it at once."""


def _external_id(value: object) -> str | None:
    """Shops with numeric ids may send numbers; the service keeps ids as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text_or_none(value)


def _timestamp(headers: Headers) -> int | None:
    value = header(headers, signing.TIMESTAMP_HEADER)
    if value is None or not value.isascii() or not value.isdigit() or len(value) > 15:
        return None
    return int(value)


def _updated_at(document: Mapping[str, Any]) -> datetime | None:
    try:
        return parse_updated_at(document.get("updatedAt"))
    except ValueError as exc:
        raise PayloadInvalid(f"product.updatedAt: {exc}") from None


def _document(payload: Any) -> dict[str, Any]:
    document = payload.get("product") if isinstance(payload, dict) else None
    if not isinstance(document, dict):
        raise PayloadInvalid('the body must be {"topic": ..., "product": {...}}')
    return document


def _remote_product(document: Mapping[str, Any]) -> RemoteProduct:
    """The shop's full state of the product; every key of the protocol's document is required."""
    sku = text_or_none(document.get("sku"))
    external_id = _external_id(document.get("externalId"))
    fields, locales = document.get("fields"), document.get("locales")
    if sku is None or external_id is None:
        raise PayloadInvalid("product.sku and product.externalId are required")
    if not isinstance(fields, dict):
        raise PayloadInvalid("product.fields must be an object (send {} when there are none)")
    if not isinstance(locales, dict) or not all(isinstance(values, dict) for values in locales.values()):
        raise PayloadInvalid("product.locales must map each locale to an object (send {} when there are none)")
    return RemoteProduct(sku, external_id, fields, locales, _updated_at(document))


class CustomHttpWebhooks:
    """The WebhookProtocol of CUSTOM_HTTP shops."""

    def secret(self, credentials: Mapping[str, Any]) -> str | None:
        return text_or_none(credentials.get("signingSecret"))

    def is_ping(self, headers: Headers, body: bytes) -> bool:
        return False

    def verify(self, secret: str, body: bytes, headers: Headers, *, now: float) -> None:
        timestamp = _timestamp(headers)
        signature = header(headers, signing.SIGNATURE_HEADER)
        if timestamp is None:
            raise SignatureInvalid(f"{signing.TIMESTAMP_HEADER} is missing or not unix seconds")
        if abs(now - timestamp) > TOLERANCE_SECONDS:
            raise SignatureInvalid(
                f"{signing.TIMESTAMP_HEADER} is more than {TOLERANCE_SECONDS} seconds from the service's clock"
            )
        if signature is None or not signing.verify(secret, body, str(timestamp), signature, now, TOLERANCE_SECONDS):
            raise SignatureInvalid(f"{signing.SIGNATURE_HEADER} does not match the body and timestamp")

    def check_store(self, credentials: Mapping[str, Any], headers: Headers) -> None:
        """Nothing to check: the signing secret is the connector's own, so a valid signature already names the shop."""

    def parse(self, body: bytes, headers: Headers) -> Delivery:
        payload = json_object(body, '{"topic": ..., "product": {...}}')
        name = payload.get("topic")
        if not isinstance(name, str):
            raise PayloadInvalid("topic must be a string such as product.updated")
        topic = _TOPICS.get(name)
        if topic is None:
            raise EventUnsupported(f"topic {name!r} is not one of {', '.join(_TOPICS)}")
        identifier = delivery_id(headers, signing.DELIVERY_HEADER)
        self.event(topic, payload, None)
        signed_at = _timestamp(headers)
        # The timestamp is whole seconds: the delivery was signed, after the change it reports, at some moment
        # of that second. It is placed at the second's end, so a change made in the same second as the state
        # already seen (a delete right after the service's write) is not taken for an older one and dropped;
        # the check reads the channel's current state, so processing a delivery that was in fact older is harmless.
        fallback = datetime.fromtimestamp(signed_at + 1, UTC) if signed_at is not None else None
        return Delivery(identifier, topic, payload, _updated_at(_document(payload)) or fallback)

    def event(self, topic: Topic, payload: Any, occurred_at: datetime | None) -> WebhookEvent:
        document = _document(payload)
        if topic is Topic.DELETED:
            sku, external_id = text_or_none(document.get("sku")), _external_id(document.get("externalId"))
            if sku is None and external_id is None:
                raise PayloadInvalid("a product.deleted delivery needs product.sku or product.externalId")
            return WebhookEvent(topic.value, sku, external_id, occurred_at)
        product = _remote_product(document)
        return WebhookEvent(topic.value, product.sku, product.external_id, occurred_at, product)
