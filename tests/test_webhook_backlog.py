"""A paused connector's webhook deliveries wait for resumeConnector; the hourly webhook purge keeps only the newest
about each product (newest by the channel's own time of the change), the others IGNORED as superseded, so a long
pause of a busy shop piles up no more than one delivery per product. Deliveries of a connector that is not paused
are the workers' and stay as they are."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.container import Container
from app.db.engine import Database
from app.db.models import WebhookDelivery
from app.services import webhooks
from tests.conftest import GraphQLClient
from tests.connector_fixtures import CONNECTOR, ServedShop, create_connector, served_shop
from tests.sync_fixtures import run_here, shop_sync, sku
from workers.tasks.maintenance import purge_webhook_deliveries

__all__ = ["served_shop", "shop_sync"]

PAUSE = """mutation { pauseConnector(code: "shop", reason: "stocktaking") { connector { status } } }"""


async def send(
    http: httpx.AsyncClient, served_shop: ServedShop, path: str, topic: str, document: dict[str, Any]
) -> str:
    body, headers = served_shop.shop.webhook(topic, document)
    response = await http.post(path, content=body, headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["deliveryId"])


async def statuses(db: Database, delivery_ids: list[str]) -> list[tuple[str, str | None]]:
    async with db.reader() as session:
        rows = {
            row.delivery_id: (row.status, row.outcome)
            for row in await session.scalars(
                select(WebhookDelivery).where(WebhookDelivery.delivery_id.in_(delivery_ids))
            )
        }
    return [rows[delivery_id] for delivery_id in delivery_ids]


def at(document: dict[str, Any], updated_at: str) -> dict[str, Any]:
    return {**document, "updatedAt": updated_at}


async def test_a_paused_connectors_deliveries_keep_the_newest_about_each_product(
    shop_sync: GraphQLClient,
    served_shop: ServedShop,
    client: httpx.AsyncClient,
    container: Container,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The newest by the shop's time stays even when it arrived first (a later arrival can be a late retry of an
    older change): checking the older one instead, it would be stale against the state the newer one showed, and
    the change lost. Of two with the same time the later arrival stays. A product named only by SKU is another
    product's news than one named by id, and stays too."""
    await run_here(shop_sync, container, syncType="FULL")
    path = (await shop_sync(CONNECTOR, {"code": "shop"}))["connector"]["webhookPath"]
    await create_connector(shop_sync, served_shop, code="live")
    live_path = (await shop_sync(CONNECTOR, {"code": "live"}))["connector"]["webhookPath"]
    assert (await shop_sync(PAUSE))["pauseConnector"]["connector"]["status"] == "PAUSED"
    one, two = (served_shop.shop.products[sku(n)].document() for n in (1, 2))

    newest = await send(client, served_shop, path, "product.updated", at(one, "2026-12-08T10:00:02.000Z"))
    late = await send(client, served_shop, path, "product.updated", at(one, "2026-12-08T10:00:01.000Z"))
    tied_first = await send(client, served_shop, path, "product.updated", at(two, "2026-12-08T10:00:05.000Z"))
    tied_last = await send(client, served_shop, path, "product.updated", at(two, "2026-12-08T10:00:05.000Z"))
    by_sku = await send(client, served_shop, path, "product.deleted", {"sku": sku(1)})
    others = [
        await send(client, served_shop, live_path, "product.updated", at(one, "2026-12-08T10:00:0" + str(n) + ".000Z"))
        for n in (1, 2)
    ]

    with monkeypatch.context() as patched:  # a run out of time leaves the payloads not read yet to the next run
        patched.setattr(webhooks, "COLLAPSE_SECONDS", 0.0)
        await purge_webhook_deliveries({"container": container})  # type: ignore[typeddict-item]
    assert {status for status, _ in await statuses(db, [newest, late, tied_first, tied_last])} == {"PENDING"}
    # The purge looks at every paused connector (the tests share a database): its count is not this test's.
    assert await purge_webhook_deliveries({"container": container}) >= 2  # type: ignore[typeddict-item]
    kept, superseded = ("PENDING", None), ("IGNORED", "superseded")
    expected = [kept, superseded, superseded, kept, kept, kept, kept]
    for _ in range(2):  # and a second run finds nothing more to set aside
        found = await statuses(db, [newest, late, tied_first, tied_last, by_sku, *others])
        assert [(status, outcome and outcome.split(":")[0]) for status, outcome in found] == expected
        await purge_webhook_deliveries({"container": container})  # type: ignore[typeddict-item]
