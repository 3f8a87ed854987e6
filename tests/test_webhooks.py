"""Inbound webhooks at /webhooks/{connector}: verified, stored once, answered 202, processed by a real worker.

Deliveries come from the channels' own senders: the CUSTOM_HTTP reference
shop and the Shopify emulator sign them as those channels do, and the
WooCommerce ones are real wc/v3 product payloads (woocommerce-ios fixtures)
signed as WC_Webhook::deliver signs them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from arq.connections import ArqRedis
from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import update

from app.channels.base import WebhookEvent
from app.channels.webhooks import TOO_DEEP, Topic, webhook_protocol
from app.container import Container
from app.db.engine import Database
from app.db.models import Connector, WebhookDelivery
from app.domain.channels import ChannelType
from app.main import create_app
from app.secrets import CredentialVault
from app.settings import Settings
from tests.catalog_fixtures import set_up_catalog
from tests.conftest import GraphQLClient, TenantHandle
from tests.connector_fixtures import CREATE_CONNECTOR, UPDATE_CONNECTOR, ServedShop, create_connector, served_shop
from tests.emulators.shopify import ShopifyEmulator, ShopInfo
from tests.ports import closed_port
from tests.shopify_fixtures import DOMAIN, shopify
from tests.sync_fixtures import WorkerProcess, running_worker
from tests.webhook_fixtures import deliveries, refusal, shopify_path, wc_delivery, wc_product, woocommerce_path
from workers.tasks.maintenance import purge_webhook_deliveries

__all__ = ["served_shop", "shopify"]

FINISHED = {"PROCESSED", "IGNORED"}


# -- set-up -------------------------------------------------------------------------------------------------


@pytest.fixture
async def catalog(gql: GraphQLClient) -> GraphQLClient:
    await set_up_catalog(gql)
    return gql


@pytest.fixture
async def shop_path(catalog: GraphQLClient, served_shop: ServedShop) -> str:
    """The webhook path of a CUSTOM_HTTP connector on the reference shop, which has product SKU-1."""
    served_shop.shop.seed("SKU-1", fields={"price": "12.00"}, locales={"en": {"title": "Chair"}})
    return str((await create_connector(catalog, served_shop))["connector"]["webhookPath"])


async def wait_processed(db: Database, path: str, worker: WorkerProcess, *, within: float = 60.0) -> WebhookDelivery:
    [row] = await wait_all_processed(db, path, worker, count=1, within=within)
    return row


async def wait_all_processed(
    db: Database, path: str, worker: WorkerProcess, *, count: int, within: float = 60.0
) -> list[WebhookDelivery]:
    """The connector's `count` deliveries, once none is PENDING any more."""
    deadline = time.monotonic() + within
    while True:
        rows = await deliveries(db, path)
        if len(rows) >= count and all(row.status != "PENDING" for row in rows):
            assert len(rows) == count, rows
            return rows
        if time.monotonic() > deadline:
            pytest.fail(f"still PENDING after {within}s: {[(r.status, r.outcome) for r in rows]}\n{worker.output()}")
        await asyncio.sleep(0.05)  # one light read: a longer wait only made each test wait longer after the worker


# -- accepted deliveries, per channel -------------------------------------------------------------------------


async def test_a_signed_shop_delivery_is_stored_and_answered_202(
    client: httpx.AsyncClient, db: Database, served_shop: ServedShop, shop_path: str
) -> None:
    body, headers = served_shop.shop.webhook("product.updated", "SKU-1")
    response = await client.post(shop_path, content=body, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "deliveryId": headers["X-Pimsync-Delivery"]}
    [row] = await deliveries(db, shop_path)
    assert (row.status, row.topic, row.delivery_id, row.attempts) == (
        "PENDING",
        "product.updated",
        headers["X-Pimsync-Delivery"],
        0,
    )
    assert row.payload == json.loads(body)
    assert row.occurred_at is not None, "ordered by the document's updatedAt"
    assert abs(row.occurred_at - served_shop.shop.products["SKU-1"].updated_at) < timedelta(milliseconds=1)


async def test_a_shopify_delivery_is_verified_with_the_app_secret_and_stored(
    client: httpx.AsyncClient, db: Database, catalog: GraphQLClient, shopify: ShopifyEmulator
) -> None:
    path = await shopify_path(catalog, shopify)
    shopify.seed_simple_product("Brass lamp", "LAMP-1")
    body, headers = shopify.webhook("products/update", "LAMP-1")
    response = await client.post(path, content=body, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["deliveryId"] == headers["X-Shopify-Webhook-Id"]
    body, headers = shopify.webhook("products/delete", "LAMP-1")
    assert (await client.post(path, content=body, headers=headers)).status_code == 202
    updated, deleted = await deliveries(db, path)
    assert (updated.topic, deleted.topic) == ("product.updated", "product.deleted")
    assert deleted.payload == {"id": shopify.product("LAMP-1").id}
    assert deleted.occurred_at is not None, "a delete is ordered by X-Shopify-Triggered-At"


async def test_real_woocommerce_deliveries_are_stored_and_its_ping_answered(
    client: httpx.AsyncClient, db: Database, catalog: GraphQLClient
) -> None:
    path = await woocommerce_path(catalog)
    ping = await client.post(
        path, content=b"webhook_id=12", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert ping.status_code == 200, "WooCommerce refuses to save a webhook whose ping is not answered 200"
    assert await deliveries(db, path) == []
    body, headers = wc_delivery(wc_product(208))
    response = await client.post(path, content=body, headers=headers)
    assert response.status_code == 202, response.text
    [row] = await deliveries(db, path)
    assert (row.topic, row.payload["id"]) == ("product.updated", 208)
    assert row.occurred_at == datetime(2019, 2, 19, 18, 22, 50, tzinfo=UTC), "date_modified_gmt is UTC"


async def test_two_woocommerce_changes_in_one_second_are_both_kept(
    client: httpx.AsyncClient, db: Database, catalog: GraphQLClient
) -> None:
    """WooCommerce's delivery id is a hash of webhook id and unix second: two products changed together share it."""
    path = await woocommerce_path(catalog)
    for product_id in (208, 35, 208):
        body, headers = wc_delivery(wc_product(product_id), delivery_id="same-second")
        response = await client.post(path, content=body, headers=headers)
        assert response.status_code == 202, response.text
    assert response.json()["status"] == "duplicate", "the same bytes under the same id are a resend"
    assert [row.payload["id"] for row in await deliveries(db, path)] == [208, 35]


# -- refused deliveries: nothing is stored -----------------------------------------------------------------------


async def test_bad_shop_signatures_are_401_and_store_nothing(
    client: httpx.AsyncClient, db: Database, served_shop: ServedShop, shop_path: str
) -> None:
    shop = served_shop.shop
    body, headers = shop.webhook("product.updated", "SKU-1")
    tampered = body.replace(b"Chair", b"Chain")
    stale_body, stale_headers = shop.webhook("product.updated", "SKU-1", now=time.time() - 301)
    forged = dict(
        headers, **{"X-Pimsync-Signature": "sha256=" + hmac.new(b"not-the-secret", body, "sha256").hexdigest()}
    )
    unsigned = {k: v for k, v in headers.items() if k != "X-Pimsync-Signature"}
    undated = {k: v for k, v in headers.items() if k != "X-Pimsync-Timestamp"}
    attempts = [(tampered, headers), (stale_body, stale_headers), (body, forged), (body, unsigned), (body, undated)]
    for content, sent in attempts:
        response = await client.post(shop_path, content=content, headers=sent)
        assert refusal(response) == (401, "CHN-050"), response.text
    assert "300 seconds" in (await client.post(shop_path, content=stale_body, headers=stale_headers)).json()["message"]
    assert await deliveries(db, shop_path) == []


async def test_bad_shopify_and_woocommerce_signatures_are_401(
    client: httpx.AsyncClient, db: Database, catalog: GraphQLClient, shopify: ShopifyEmulator
) -> None:
    shopify_at = await shopify_path(catalog, shopify)
    shopify.seed_simple_product("Brass lamp", "LAMP-1")
    body, headers = shopify.webhook("products/update", "LAMP-1", secret="another-apps-secret")
    assert refusal(await client.post(shopify_at, content=body, headers=headers)) == (401, "CHN-050")
    body, headers = shopify.webhook("products/update", "LAMP-1")
    stripped = {k: v for k, v in headers.items() if k != "X-Shopify-Hmac-Sha256"}
    assert refusal(await client.post(shopify_at, content=body, headers=stripped)) == (401, "CHN-050")
    assert refusal(await client.post(shopify_at, content=body + b" ", headers=headers)) == (401, "CHN-050")
    woo_at = await woocommerce_path(catalog)
    body, headers = wc_delivery(wc_product(208), secret="wrong")
    assert refusal(await client.post(woo_at, content=body, headers=headers)) == (401, "CHN-050")
    assert await deliveries(db, shopify_at) == [] and await deliveries(db, woo_at) == []


async def test_a_woocommerce_webhook_secret_anyone_could_guess_is_refused_and_no_delivery_is_forged(
    client: httpx.AsyncClient, db: Database, catalog: GraphQLClient
) -> None:
    """A WooCommerce connector took a one-character webhookSecret: whoever learnt its webhook path then signed a
    delivery with each of the 94 visible characters in turn and the one that matched was accepted, stored and
    handed to the conflict checker as the store's word. Shopify's and CUSTOM_HTTP's
    secrets had to be 16 characters already; WooCommerce's is held to the same, at create and at update."""
    credentials = {
        "storeUrl": "http://127.0.0.1:9",
        "consumerKey": "ck_" + "a" * 40,
        "consumerSecret": "cs_" + "b" * 40,
        "webhookSecret": "k",
    }
    given = {"code": "woo", "name": "Woo", "channelType": "WOOCOMMERCE", "credentials": credentials}
    payload = (await catalog(CREATE_CONNECTOR, {"input": given}))["createConnector"]
    forged = []
    if payload["connector"] is not None:
        for guess in map(chr, range(ord("!"), ord("~") + 1)):
            body, headers = wc_delivery(wc_product(208), secret=guess, delivery_id=f"forged-{ord(guess)}")
            answer = await client.post(payload["connector"]["webhookPath"], content=body, headers=headers)
            if answer.status_code == 202:
                forged.append(guess)
    assert forged == [], "a delivery signed by guessing the secret was taken"
    [error] = payload["userErrors"]
    assert (error["field"], error["code"]) == (["input", "credentials", "webhookSecret"], "CHN-002")
    assert "at least 16 characters" in error["message"], error["message"]

    woo_at = await woocommerce_path(catalog)
    code = (await catalog("{ connectors { edges { node { code webhookPath } } } }"))["connectors"]["edges"]
    [woo] = [edge["node"]["code"] for edge in code if edge["node"]["webhookPath"] == woo_at]
    update = {"credentials": {**credentials, "webhookSecret": "0123456789abcde"}}
    changed = (await catalog(UPDATE_CONNECTOR, {"code": woo, "input": update}))["updateConnector"]
    assert [(e["field"], e["code"]) for e in changed["userErrors"]] == [
        (["input", "credentials", "webhookSecret"], "CHN-002")
    ]
    body, headers = wc_delivery(wc_product(208))
    assert (await client.post(woo_at, content=body, headers=headers)).status_code == 202, "the secret changed"


async def test_a_shopify_delivery_for_another_shop_of_the_same_app_is_refused(
    client: httpx.AsyncClient, db: Database, catalog: GraphQLClient, shopify: ShopifyEmulator
) -> None:
    """The app's client secret signs the deliveries of every shop that installed the app: only
    X-Shopify-Shop-Domain tells this connector's shop from another's."""
    path = await shopify_path(catalog, shopify)
    other = ShopifyEmulator(api_secret=shopify.api_secret, shop=ShopInfo(myshopify_domain="other-shop.myshopify.com"))
    other.seed_simple_product("Brass lamp", "LAMP-1")
    body, headers = other.webhook("products/update", "LAMP-1")
    response = await client.post(path, content=body, headers=headers)
    assert refusal(response) == (401, "CHN-050")
    assert "other-shop.myshopify.com" in response.json()["message"]
    unnamed = {name: value for name, value in headers.items() if name != "X-Shopify-Shop-Domain"}
    response = await client.post(path, content=body, headers=unnamed)
    assert refusal(response) == (400, "CHN-051")
    assert "X-Shopify-Shop-Domain" in response.json()["message"]
    assert await deliveries(db, path) == []
    shopify.seed_simple_product("Brass lamp", "LAMP-1")
    body, headers = shopify.webhook("products/update", "LAMP-1")
    shouted = dict(headers, **{"X-Shopify-Shop-Domain": DOMAIN.upper()})
    assert (await client.post(path, content=body, headers=shouted)).status_code == 202, "domains ignore case"


async def test_a_connector_without_a_webhook_secret_refuses_every_delivery(
    client: httpx.AsyncClient, db: Database, catalog: GraphQLClient, shopify: ShopifyEmulator
) -> None:
    path = await shopify_path(catalog, shopify, secret=False)
    shopify.seed_simple_product("Brass lamp", "LAMP-1")
    body, headers = shopify.webhook("products/update", "LAMP-1")
    response = await client.post(path, content=body, headers=headers)
    assert refusal(response) == (401, "CHN-050")
    assert "webhook secret must be set" in response.json()["message"]
    assert await deliveries(db, path) == []


async def test_an_unparsable_body_is_400_and_an_unknown_topic_422(
    client: httpx.AsyncClient, db: Database, served_shop: ServedShop, shop_path: str
) -> None:
    shop = served_shop.shop
    for broken in (b'{"topic": "product.updated", "product": ', b"[1, 2]", b'{"topic": "product.updated"}'):
        headers = {"X-Pimsync-Delivery": str(uuid.uuid4()), **shop.signature_headers(broken)}
        assert refusal(await client.post(shop_path, content=broken, headers=headers)) == (400, "CHN-051")
    body, headers = shop.webhook("product.updated", "SKU-1")
    del headers["X-Pimsync-Delivery"]
    assert refusal(await client.post(shop_path, content=body, headers=headers)) == (400, "CHN-051")
    for topic in ("order.created", "product.created"):  # the protocol's topics are product.updated and .deleted
        body, headers = shop.webhook(topic, "SKU-1")
        response = await client.post(shop_path, content=body, headers=headers)
        assert refusal(response) == (422, "CHN-052")
        assert topic in response.json()["message"]
    assert await deliveries(db, shop_path) == []


SHOP_DOCUMENT = {"sku": "SKU-1", "externalId": "p-1", "fields": {}, "locales": {}, "updatedAt": 1767225600000}


@pytest.mark.parametrize(
    ("topic", "document", "says"),
    [
        ("product.updated", {**SHOP_DOCUMENT, "sku": None}, "product.sku and product.externalId are required"),
        ("product.updated", {**SHOP_DOCUMENT, "externalId": ""}, "product.sku and product.externalId are required"),
        ("product.updated", {**SHOP_DOCUMENT, "fields": []}, "product.fields must be an object"),
        ("product.updated", {**SHOP_DOCUMENT, "locales": {"fr": "Chaise"}}, "product.locales must map each locale"),
        ("product.updated", {**SHOP_DOCUMENT, "updatedAt": "last tuesday"}, "product.updatedAt"),
        ("product.updated", {**SHOP_DOCUMENT, "updatedAt": "20260101T100000Z"}, "is not RFC 3339"),
        ("product.deleted", {"fields": {}}, "needs product.sku or product.externalId"),
    ],
)
async def test_a_shop_document_that_breaks_the_protocol_is_400_with_the_reason_and_stored_nowhere(
    client: httpx.AsyncClient,
    db: Database,
    served_shop: ServedShop,
    shop_path: str,
    topic: str,
    document: dict[str, Any],
    says: str,
) -> None:
    """A delivery the worker could never build an event from is refused while the shop still waits for the
    answer, so its developer sees why, rather than stored and failed later where only the service sees it."""
    body, headers = served_shop.shop.webhook(topic, document)
    response = await client.post(shop_path, content=body, headers=headers)
    assert refusal(response) == (400, "CHN-051")
    assert says in response.json()["message"]
    assert await deliveries(db, shop_path) == []


async def test_a_delivery_whose_escapes_decode_to_half_a_character_is_400_naming_where_and_stored_nowhere(
    client: httpx.AsyncClient, db: Database, served_shop: ServedShop, shop_path: str
) -> None:
    """JSON's \\ud83e escape without its other half is half a character, which neither database stores: the
    delivery was a 500 with a traceback, so the shop retried it in vain and its developer never saw why."""
    document = {**SHOP_DOCUMENT, "locales": {"fr": {"title": "Chaise \ud83e"}}, "updatedAt": "2026-01-01T10:00:00Z"}
    body = json.dumps({"topic": "product.updated", "product": document}).encode()
    headers = {"X-Pimsync-Delivery": str(uuid.uuid4()), **served_shop.shop.signature_headers(body)}
    response = await client.post(shop_path, content=body, headers=headers)
    assert refusal(response) == (400, "CHN-051")
    assert response.json()["message"] == (
        "product.locales.fr.title holds a lone surrogate (\\ud83e), half of a character, which cannot be stored"
    )
    assert await deliveries(db, shop_path) == []


@pytest.mark.parametrize("depth", [300, 965])
async def test_a_delivery_nesting_json_deeper_than_any_product_is_400_and_stored_nowhere(
    depth: int, client: httpx.AsyncClient, db: Database, served_shop: ServedShop, shop_path: str
) -> None:
    """A signed delivery nesting arrays ~950 levels deep (within every size limit) parsed, then failed as it was
    stored: a 500 with a traceback, retried by the shop (Shopify drops a subscription after 8 failed tries); one
    some levels less deep was stored, for the worker to walk. No product nests past a few levels: a delivery
    nesting deeper than MAX_NESTING (64) is refused at the door, in the same words where the parser gives up."""
    document = {**SHOP_DOCUMENT, "fields": {"color": "NESTED"}, "updatedAt": "2026-01-01T10:00:00Z"}
    text = json.dumps({"topic": "product.updated", "product": document})  # json.dumps itself stops short of 965
    body = text.replace('"NESTED"', "[" * depth + "]" * depth).encode()
    headers = {"X-Pimsync-Delivery": str(uuid.uuid4()), **served_shop.shop.signature_headers(body)}
    response = await client.post(shop_path, content=body, headers=headers)
    assert refusal(response) == (400, "CHN-051")
    assert response.json()["message"] == TOO_DEEP
    assert await deliveries(db, shop_path) == []


async def test_a_deletion_naming_a_numeric_external_id_is_accepted_and_read_as_text(
    client: httpx.AsyncClient, db: Database, served_shop: ServedShop, shop_path: str
) -> None:
    """Shops with numeric ids send numbers; listings keep external ids as text."""
    body, headers = served_shop.shop.webhook("product.deleted", {"externalId": 8812})
    assert (await client.post(shop_path, content=body, headers=headers)).status_code == 202
    [stored] = await deliveries(db, shop_path)
    event = webhook_protocol(ChannelType.CUSTOM_HTTP).event(Topic.DELETED, stored.payload, stored.occurred_at)
    assert (event.sku, event.external_id) == (None, "8812")


async def test_shopify_topics_other_than_products_are_422(
    client: httpx.AsyncClient, catalog: GraphQLClient, shopify: ShopifyEmulator
) -> None:
    path = await shopify_path(catalog, shopify)
    body, headers = shopify.webhook("orders/create", {"id": 820982911946154508, "line_items": []})
    assert refusal(await client.post(path, content=body, headers=headers)) == (422, "CHN-052")


async def test_a_body_too_large_is_413_without_being_read_whole(
    client: httpx.AsyncClient, db: Database, settings: Settings, served_shop: ServedShop, shop_path: str
) -> None:
    padding = "x" * 2 * settings.webhook_max_bytes
    document = {"sku": "SKU-1", "externalId": "p-1", "fields": {"note": padding}, "locales": {}}
    body, headers = served_shop.shop.webhook("product.updated", document)
    response = await client.post(shop_path, content=body, headers=headers)
    assert refusal(response) == (413, "PAYLOAD_TOO_LARGE")
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        """No Content-Length: the limit must hold while the body streams in."""
        for start in range(0, len(body), 65536):
            sent.append(start)
            yield body[start : start + 65536]

    response = await client.post(shop_path, content=chunks(), headers=headers)
    assert refusal(response) == (413, "PAYLOAD_TOO_LARGE")
    assert len(sent) * 65536 < len(body) * 0.6, "the whole body was read before refusing it"
    assert await deliveries(db, shop_path) == []


async def test_a_body_of_exactly_the_limit_is_taken_whether_its_length_is_declared_or_streamed(
    client: httpx.AsyncClient, db: Database, settings: Settings, served_shop: ServedShop, shop_path: str
) -> None:
    """webhookMaxBytes is the largest body taken, not the first refused: a shop's delivery that size is stored."""
    document: dict[str, Any] = {"sku": "SKU-1", "externalId": "p-1", "fields": {"note": ""}, "locales": {}}
    unpadded, _ = served_shop.shop.webhook("product.updated", document)
    document["fields"]["note"] = "x" * (settings.webhook_max_bytes - len(unpadded))
    body, headers = served_shop.shop.webhook("product.updated", document)
    assert len(body) == settings.webhook_max_bytes
    assert (await client.post(shop_path, content=body, headers=headers)).status_code == 202

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    # A second delivery id, so the streamed copy is not dropped as a replay; no Content-Length is declared.
    _, headers = served_shop.shop.webhook("product.updated", document, delivery_id="streamed-at-the-limit")
    assert (await client.post(shop_path, content=chunks(), headers=headers)).status_code == 202
    assert len(await deliveries(db, shop_path)) == 2


async def test_credentials_no_key_opens_are_503_and_store_nothing(
    client: httpx.AsyncClient,
    db: Database,
    served_shop: ServedShop,
    shop_path: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A key retired before `pimsync keys rotate`: the delivery cannot be verified, so it is not stored, and
    the channel is told to send it again later rather than given a bare 500."""
    caplog.set_level(logging.INFO)
    lost_key = CredentialVault(MultiFernet([Fernet(Fernet.generate_key())]))
    async with db.transaction() as session:
        connector_id = await session.scalar(
            update(Connector)
            .where(Connector.public_id == shop_path.rsplit("/", 1)[1])
            .values(credentials_encrypted=lost_key.seal(served_shop.credentials()))
            .returning(Connector.id)
        )
    body, headers = served_shop.shop.webhook("product.updated", "SKU-1")
    response = await client.post(shop_path, content=body, headers=headers)
    assert refusal(response) == (503, "CREDENTIALS_UNREADABLE")
    assert "send it again later" in response.json()["message"]
    assert await deliveries(db, shop_path) == []
    logged = (caplog.text + capsys.readouterr().out).splitlines()
    names_it = re.compile(rf"\bconnector\W+{connector_id}\b")  # connector=7, or 'connector': 7 through stdlib logging
    assert any("webhook.credentials_unreadable" in line and names_it.search(line) for line in logged), logged


async def test_an_unknown_connector_is_404(client: httpx.AsyncClient, served_shop: ServedShop) -> None:
    body, headers = served_shop.shop.webhook("product.updated", {"sku": "SKU-1", "externalId": "p-1"})
    response = await client.post(f"/webhooks/{uuid.uuid4()}", content=body, headers=headers)
    assert refusal(response) == (404, "NOT_FOUND")
    assert "no connector" in response.json()["message"]


# -- replays, a worker that is down, Redis that is down --------------------------------------------------------------


async def test_a_replayed_delivery_is_202_stored_once_and_processed_once(
    client: httpx.AsyncClient, db: Database, settings: Settings, tmp_path: Path, served_shop: ServedShop, shop_path: str
) -> None:
    body, headers = served_shop.shop.webhook("product.updated", "SKU-1")
    answers = await asyncio.gather(*(client.post(shop_path, content=body, headers=headers) for _ in range(4)))
    assert [a.status_code for a in answers] == [202] * 4
    assert sorted(a.json()["status"] for a in answers) == ["accepted", "duplicate", "duplicate", "duplicate"]
    with running_worker(settings, tmp_path / "worker.log") as worker:
        row = await wait_processed(db, shop_path, worker)
        again = await client.post(shop_path, content=body, headers=headers)
        assert again.status_code == 202 and again.json()["status"] == "duplicate"
        # A new delivery after the replay, processed: the worker has taken what was queued before it, the replay's
        # job had there been one, instead of a sleep that a slow machine could pass before it ran.
        later_body, later_headers = served_shop.shop.webhook("product.updated", "SKU-1")
        assert (await client.post(shop_path, content=later_body, headers=later_headers)).status_code == 202
        after, later = await wait_all_processed(db, shop_path, worker, count=2)
    assert row.status in FINISHED, (row.status, row.outcome)
    assert later.delivery_id == later_headers["X-Pimsync-Delivery"] and later.status in FINISHED, later.outcome
    assert after.attempts == 1 and after.processed_at == row.processed_at, "processed more than once"


async def test_a_delivery_waits_for_a_worker_that_is_down(
    client: httpx.AsyncClient, db: Database, settings: Settings, tmp_path: Path, served_shop: ServedShop, shop_path: str
) -> None:
    body, headers = served_shop.shop.webhook("product.updated", "SKU-1")
    assert (await client.post(shop_path, content=body, headers=headers)).status_code == 202
    # No sleep: the in-process client returns once the API has finished with the request (background tasks
    # included), and no worker runs, so nothing else could take the delivery.
    assert [row.status for row in await deliveries(db, shop_path)] == ["PENDING"]
    with running_worker(settings, tmp_path / "worker.log") as worker:
        row = await wait_processed(db, shop_path, worker)
    assert row.status in FINISHED, (row.status, row.outcome)
    assert row.attempts == 1 and row.processed_at is not None and row.outcome


@pytest.fixture
async def redis_down(settings: Settings, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The API with a Redis that refuses connections; the database is the test's own."""
    with closed_port() as port:
        dead = ArqRedis(host="127.0.0.1", port=port, default_queue_name=settings.queue_name)
        app = create_app(settings, container=dataclasses.replace(container, redis=dead))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            yield http
        await dead.aclose()


async def test_with_redis_down_a_delivery_is_kept_and_recovered(
    redis_down: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    tmp_path: Path,
    served_shop: ServedShop,
    shop_path: str,
) -> None:
    body, headers = served_shop.shop.webhook("product.updated", "SKU-1")
    started = time.monotonic()
    response = await redis_down.post(shop_path, content=body, headers=headers)
    assert response.status_code == 202 and response.json()["status"] == "accepted", response.text
    assert time.monotonic() - started < 5, "an unreachable Redis held up the answer"
    [row] = await deliveries(db, shop_path)
    # It arrived, and took its connector's turn, a minute ago: recovery, not the receive path, queues it, at once.
    a_minute_ago = row.received_at - timedelta(minutes=1)
    async with db.transaction() as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == row.id)
            .values(received_at=a_minute_ago, queued_at=a_minute_ago)
        )
    with running_worker(settings, tmp_path / "worker.log") as worker:
        processed = await wait_processed(db, shop_path, worker)
    assert processed.status in FINISHED, (processed.status, processed.outcome)


# -- what each channel's delivery means (pure) ------------------------------------------------------------------------


def test_shopify_events_name_products_by_the_id_listings_store(shopify: ShopifyEmulator) -> None:
    product = shopify.seed_simple_product("Brass lamp", "LAMP-1")
    protocol = webhook_protocol(ChannelType.SHOPIFY)
    body, headers = shopify.webhook("products/update", "LAMP-1")
    delivery = protocol.parse(body, {k.lower(): v for k, v in headers.items()})
    event = protocol.event(delivery.topic, delivery.payload, delivery.occurred_at)
    assert event == WebhookEvent("product.updated", "LAMP-1", product.gid, delivery.occurred_at, None)
    gone = protocol.event(Topic.DELETED, {"id": product.id}, None)
    assert (gone.sku, gone.external_id) == (None, product.gid)


def test_a_shop_document_becomes_the_products_state(served_shop: ServedShop) -> None:
    stored = served_shop.shop.seed("SKU-9", fields={"price": "5.00"}, locales={"ar": {"title": "كرسي"}})
    body, headers = served_shop.shop.webhook("product.updated", "SKU-9")
    protocol = webhook_protocol(ChannelType.CUSTOM_HTTP)
    delivery = protocol.parse(body, {k.lower(): v for k, v in headers.items()})
    event = protocol.event(delivery.topic, delivery.payload, delivery.occurred_at)
    assert event.product is not None
    assert (event.sku, event.external_id, event.product.locales) == (
        "SKU-9",
        stored.external_id,
        {"ar": {"title": "كرسي"}},
    )
    deleted = protocol.event(Topic.DELETED, {"topic": "product.deleted", "product": {"externalId": "p-9"}}, None)
    assert (deleted.sku, deleted.external_id, deleted.product) == (None, "p-9", None)


@pytest.mark.parametrize("endpoint", ["graphql", "webhook"])
async def test_a_client_that_goes_away_mid_body_ends_its_request_quietly(
    endpoint: str,
    shop_path: str,
    settings: Settings,
    container: Container,
    tenant: TenantHandle,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A client that hangs up while sending its body is not a server fault: nothing is raised or logged as an
    error, nothing is stored (no delivery), and the request ends with a 400 nobody is left to read."""
    app = create_app(settings, container=container)
    headers = [(b"authorization", f"Bearer {tenant.token}".encode()), (b"content-type", b"application/json")]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql" if endpoint == "graphql" else shop_path,
        "raw_path": b"",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    messages = [
        {"type": "http.request", "body": b'{"query": "{ products { totalC', "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    with caplog.at_level(logging.ERROR):
        await app(scope, receive, send)
    assert [message["status"] for message in sent if message["type"] == "http.response.start"] == [400]
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []
    assert await deliveries(container.db, shop_path) == []


async def test_deliveries_dealt_with_are_deleted_once_past_their_retention(
    client: httpx.AsyncClient, db: Database, container: Container, catalog: GraphQLClient
) -> None:
    """webhook_deliveries kept every delivery forever, each with its whole payload: a busy shop's table only grew.
    The workers' hourly purge deletes those dealt with (processed, ignored or given up on) that arrived longer ago
    than PIMSYNC_WEBHOOK_RETENTION_DAYS (7); a PENDING one is work still to do, whatever its age, and a delivery
    kept still answers its replays as duplicates."""
    path = await woocommerce_path(catalog)
    sent = {name: wc_delivery(wc_product(208), delivery_id=name) for name in ("old", "recent", "waiting", "failed")}
    for body, headers in sent.values():
        assert (await client.post(path, content=body, headers=headers)).status_code == 202
    now = datetime.now(UTC)
    aged = {
        "old": ("PROCESSED", now - timedelta(days=8)),
        "recent": ("IGNORED", now - timedelta(days=6)),
        "waiting": ("PENDING", now - timedelta(days=30)),
        "failed": ("FAILED", now - timedelta(days=7, minutes=1)),
    }
    async with db.transaction() as session:
        for row in await deliveries(db, path):
            status, received = aged[named(row)]
            await session.execute(
                update(WebhookDelivery).where(WebhookDelivery.id == row.id).values(status=status, received_at=received)
            )

    assert await purge_webhook_deliveries({"container": container}) == 2
    assert sorted(named(row) for row in await deliveries(db, path)) == ["recent", "waiting"]
    assert await purge_webhook_deliveries({"container": container}) == 0
    replay = await client.post(path, content=sent["recent"][0], headers=sent["recent"][1])
    assert (replay.status_code, replay.json()["status"]) == (202, "duplicate")

    kept_longer = dataclasses.replace(
        container, settings=container.settings.model_copy(update={"webhook_retention_days": 10})
    )
    async with db.transaction() as session:
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.delivery_id.startswith("recent:"))
            .values(received_at=now - timedelta(days=9))
        )
    assert await purge_webhook_deliveries({"container": kept_longer}) == 0
    assert await purge_webhook_deliveries({"container": container}) == 1
    assert [named(row) for row in await deliveries(db, path)] == ["waiting"]


def named(row: WebhookDelivery) -> str:
    """The delivery id WooCommerce sent (stored with the hash of its body after it)."""
    return row.delivery_id.partition(":")[0]


def test_the_retention_of_deliveries_is_at_least_a_day() -> None:
    """Shorter, a channel's retry of a delivery (Shopify's come over 4 hours) could find its id gone and be
    processed twice."""
    with pytest.raises(ValueError, match="PIMSYNC_WEBHOOK_RETENTION_DAYS"):
        Settings(PIMSYNC_WEBHOOK_RETENTION_DAYS="0.5")  # type: ignore[call-arg]
