"""Connectors that take webhooks, and deliveries signed as each channel signs them, for the webhook tests."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from app.db.engine import Database
from app.db.models import Connector, WebhookDelivery
from tests.conftest import GraphQLClient
from tests.connector_fixtures import CREATE_CONNECTOR
from tests.emulators.shopify import ShopifyEmulator
from tests.shared_data import shared_path
from tests.shopify_fixtures import DOMAIN, TOKEN

WC_SECRET = "wc-webhook-secret-9d41"
WC_FIXTURES = ("data", "woocommerce_rest_fixtures_ios")


async def create_with(
    gql: GraphQLClient, channel_type: str, credentials: dict[str, Any], *, code: str | None = None
) -> str:
    """A connector of `channel_type` with `credentials`, called `code` (else a fresh code); its webhook path."""
    given = {
        "code": code or f"{channel_type.lower()}_{uuid.uuid4().hex[:6]}",
        "name": channel_type,
        "channelType": channel_type,
        "credentials": credentials,
        "settings": {"scope": "ecommerce", "localeMapping": [{"pimLocale": "en_US", "channelLocale": "en"}]},
    }
    payload = (await gql(CREATE_CONNECTOR, {"input": given}))["createConnector"]
    assert payload["userErrors"] == [], payload["userErrors"]
    return str(payload["connector"]["webhookPath"])


async def shopify_path(gql: GraphQLClient, emulator: ShopifyEmulator, *, secret: bool = True) -> str:
    credentials = {"shopDomain": DOMAIN, "accessToken": TOKEN}
    if secret:
        credentials["webhookSecret"] = emulator.api_secret
    return await create_with(gql, "SHOPIFY", credentials)


async def woocommerce_path(gql: GraphQLClient) -> str:
    """A WooCommerce connector (this version cannot reach WooCommerce itself, so it stays DISCONNECTED)."""
    credentials = {
        "storeUrl": "http://127.0.0.1:9",
        "consumerKey": "ck_" + "a" * 40,
        "consumerSecret": "cs_" + "b" * 40,
        "webhookSecret": WC_SECRET,
    }
    return await create_with(gql, "WOOCOMMERCE", credentials)


def wc_product(product_id: int) -> dict[str, Any]:
    items = json.loads(shared_path(*WC_FIXTURES, "products-load-all.json").read_text())["data"]
    return dict(next(item for item in items if item["id"] == product_id))


def wc_delivery(
    payload: Any, *, topic: str = "product.updated", delivery_id: str = "c0ffee", secret: str = WC_SECRET
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) as WC_Webhook::deliver sends them: trim(wp_json_encode(payload)), signed base64 HMAC."""
    body = json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode("ascii")
    mac = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    resource, _, event = topic.partition(".")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.8.0 Hookshot (WordPress/6.8)",
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-Signature": mac,
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": delivery_id,
    }
    return body, headers


async def deliveries(db: Database, path: str) -> list[WebhookDelivery]:
    public_id = path.rsplit("/", 1)[1]
    statement = (
        select(WebhookDelivery)
        .join(Connector, Connector.id == WebhookDelivery.connector_id)
        .where(Connector.public_id == public_id)
        .order_by(WebhookDelivery.id)
    )
    async with db.reader() as session:
        return list(await session.scalars(statement))


def refusal(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert body["message"], body
    return response.status_code, body["code"]
