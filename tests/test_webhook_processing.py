"""Processing inbound webhooks end to end: a catalog synced to a channel, the channel's own signed delivery posted
to /webhooks/{connector}, a real `pimsync worker` running the conflict check, and the outcome read back over
GraphQL (conflicts, pendingConflictCount, product values, sync jobs) and on the channel.

Every test starts from a connector that has synced (triggered over GraphQL and run by the worker), so the
listing has its base: what a delivery reports is then checked three ways, as a sync would, for that product
alone and without a sync job. One worker serves the whole module (starting one costs seconds); the test of a
worker that is down stops it and starts another.

Deliveries are placed in time by the channel's own clock: CUSTOM_HTTP by the document's `updatedAt`
(milliseconds), or, for a product.deleted that carries none, by the signed X-Pimsync-Timestamp (whole
seconds, so the end of that second); Shopify by the product's `updated_at` (whole seconds; a translation edit does not move it), else
X-Shopify-Triggered-At.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.container import Container
from app.db.engine import Database
from app.db.models import Attribute, Connector, Product, ProductValue, WebhookDelivery
from app.repositories.events import EventRepository
from app.services.sync.queue import ms
from app.services.webhooks import job_id as delivery_job_id
from app.services.webhooks import process_delivery
from app.settings import Settings
from tests.catalog_fixtures import PRODUCT, set_up_catalog, upsert, value
from tests.conflict_fixtures import CONFLICTS, RESOLVE, diff, field, title
from tests.conftest import GraphQLClient, TenantHandle
from tests.connector_fixtures import (
    CONNECTOR,
    CREATE_CONNECTOR,
    SAVE_MAPPINGS,
    UPDATE_CONNECTOR,
    ServedShop,
    create_connector,
    served_shop,
)
from tests.emulators.custom_http_shop import CustomHttpShop, LoggedRequest
from tests.emulators.shopify import ShopifyEmulator
from tests.shopify_fixtures import DOMAIN, TOKEN, shop_clock, shopify
from tests.sync_fixtures import (
    GRACE_SECONDS,
    HELD_WRITE,
    SHOP_HOLDS_A_WRITE_SECONDS,
    WorkerProcess,
    trigger,
    until_a_batch_is_sent,
    until_every_batch_is_answered,
    wait_for_job,
)

__all__ = ["served_shop", "shopify"]

SKU = "CHAIR-1"
OTHER = "CHAIR-2"
AR_SYNCED = "كرسي بلوط"
AR_PIM_EDIT = "كرسي بلوط فاخر"
AR_SHOP_EDIT = "كرسي من خشب البلوط"
FR_SYNCED = "Chaise en chêne"

STATE = """
query($code: String!) {
  connector(code: $code) { pendingConflictCount syncJobs { totalCount } }
}"""
LISTINGS = """query($sku: String!) { product(sku: $sku) { listings { externalId status connector { code } } } }"""
PAUSE = """mutation { pauseConnector(code: "shop", reason: "stocktaking") { connector { status } } }"""
RESUME = """mutation { resumeConnector(code: "shop") { connector { status } } }"""


# -- one worker for the module ---------------------------------------------------------------------------------


class Workers:
    """The module's worker: started when a test first needs it, stopped (and started again) on demand."""

    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.current: WorkerProcess | None = None
        self.started = 0

    def running(self, **env: str) -> WorkerProcess:
        """The module's worker, started with `env` (worker_env's overrides) if it is not running."""
        if self.current is None:
            self.started += 1
            self.current = WorkerProcess(self.settings, self.log_dir / f"worker-{self.started}.log", **env).start()
        return self.current

    def another(self, **env: str) -> WorkerProcess:
        """A second worker beside the module's, which the test stops."""
        self.started += 1
        return WorkerProcess(self.settings, self.log_dir / f"worker-{self.started}.log", **env).start()

    def stop(self) -> None:
        if self.current is not None:
            self.current.stop()
            self.current = None

    async def stop_for_a_deploy(self, task: str) -> float:
        """SIGTERM the worker, as a rolling deploy does: it exits cleanly within seconds, its run of `task` left to
        be run again. The seconds it took."""
        old = self.current
        assert old is not None and old.process is not None
        stopping = time.monotonic()
        old.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(old.process.wait, 15) == 0, old.output()
        took = time.monotonic() - stopping
        assert f"{task} cancelled, will be run again" in old.log(), old.output()
        self.current = None
        return took


@pytest.fixture(scope="module")
def workers(module_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    """On the module's queue (conftest.module_settings), which the tests it serves enqueue on too."""
    handle = Workers(module_settings, tmp_path_factory.mktemp("workers"))
    yield handle
    handle.stop()


@pytest.fixture
def worker(workers: Workers) -> WorkerProcess:
    return workers.running()


# -- a synced store --------------------------------------------------------------------------------------------


def chair(sku: str, *, ar: str = AR_SYNCED, fr: str = FR_SYNCED, price: str = "119.50") -> dict[str, Any]:
    return {
        "sku": sku,
        "values": [
            value("name", f"Oak chair {sku}", "en_US"),
            value("name", ar if sku == SKU else f"{ar} {sku}", "ar_AE"),
            value("name", fr if sku == SKU else f"{fr} {sku}", "fr_FR"),
            value("price", {"EUR": price}),
        ],
    }


def mappings(name_direction: str) -> list[dict[str, Any]]:
    return [
        {"attributeCode": "name", "channelField": "title", "direction": name_direction},
        {"attributeCode": "price", "channelField": "price", "direction": "EXPORT"},
    ]


@dataclass
class Store:
    """A tenant whose connector `shop` has synced CHAIR-1 and CHAIR-2 to the reference shop."""

    gql: GraphQLClient
    http: httpx.AsyncClient
    db: Database
    served: ServedShop
    worker: WorkerProcess
    path: str

    @property
    def shop(self) -> CustomHttpShop:
        return self.served.shop

    async def post(self, body: bytes, headers: dict[str, str]) -> str:
        return await post(self.http, self.path, body, headers)

    async def send(self, topic: str, product: str | dict[str, Any], **kwargs: Any) -> WebhookDelivery:
        """The shop's signed delivery, posted and processed by the worker."""
        body, headers = self.shop.webhook(topic, product, **kwargs)
        return await processed(self.db, self.path, await self.post(body, headers), self.worker)

    def writes(self) -> list[LoggedRequest]:
        """Requests that change the shop (batch writes and deletes) since the log was last cleared."""
        return [r for r in self.shop.requests if r.method in ("POST", "DELETE") and r.status < 400]


async def open_store(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    db: Database,
    served: ServedShop,
    worker: WorkerProcess,
    *,
    strategy: str = "MANUAL",
    name_direction: str = "EXPORT",
) -> Store:
    """Catalog, two chairs in en_US/ar_AE/fr_FR, connector `shop` with `strategy`, mappings, a FULL sync."""
    await set_up_catalog(gql)
    connector = (await create_connector(gql, served, conflictStrategy=strategy))["connector"]
    assert connector["settings"]["conflictStrategy"] == strategy
    assert (await upsert(gql, chair(SKU), chair(OTHER)))["userErrors"] == []
    saved = (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": mappings(name_direction)}))["saveMappings"]
    assert saved["userErrors"] == [], saved["userErrors"]
    done = await wait_for_job(gql, (await trigger(gql))["id"], worker=worker)
    assert (done["status"], done["syncedProducts"], done["failedProducts"]) == ("COMPLETED", 2, 0), done
    assert served.shop.products[SKU].locales["ar"]["title"] == AR_SYNCED
    served.shop.requests.clear()
    return Store(gql, http, db, served, worker, str(connector["webhookPath"]))


Opener = Callable[..., Awaitable[Store]]


@pytest.fixture
def opener(
    gql: GraphQLClient, client: httpx.AsyncClient, db: Database, served_shop: ServedShop, worker: WorkerProcess
) -> Opener:
    """open_store for this test's tenant, shop and worker; takes `strategy` and `name_direction`."""

    async def opening(**settings: Any) -> Store:
        return await open_store(gql, client, db, served_shop, worker, **settings)

    return opening


class ShopClock:
    """The shop's clock (its products' `updatedAt`, its signatures), moved by hand."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now


# -- deliveries ------------------------------------------------------------------------------------------------


async def post(http: httpx.AsyncClient, path: str, body: bytes, headers: dict[str, str]) -> str:
    """POST one delivery; it must be accepted (stored, 202). Returns the channel's delivery id."""
    response = await http.post(path, content=body, headers=headers)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "accepted", response.json()
    return str(response.json()["deliveryId"])


async def deliveries(db: Database, path: str) -> list[WebhookDelivery]:
    statement = (
        select(WebhookDelivery)
        .join(Connector, Connector.id == WebhookDelivery.connector_id)
        .where(Connector.public_id == path.rsplit("/", 1)[1])
        .order_by(WebhookDelivery.id)
    )
    async with db.reader() as session:
        return list(await session.scalars(statement))


async def processed(
    db: Database, path: str, delivery_id: str, worker: WorkerProcess, *, within: float = 30.0
) -> WebhookDelivery:
    """The delivery once the worker has finished with it (PROCESSED or IGNORED; FAILED fails the test)."""
    deadline = time.monotonic() + within
    while True:
        row = next((row for row in await deliveries(db, path) if row.delivery_id == delivery_id), None)
        assert row is not None, f"delivery {delivery_id} was not stored"
        if row.status != "PENDING":
            assert row.status != "FAILED", (row.outcome, worker.output())
            assert row.attempts == 1, (row.attempts, row.outcome)
            return row
        if time.monotonic() > deadline:
            pytest.fail(f"delivery still PENDING after {within}s ({row.outcome})\n{worker.output()}")
        await asyncio.sleep(0.1)


# -- reading the outcome ---------------------------------------------------------------------------------------


async def conflicts(gql: GraphQLClient, **where: Any) -> list[dict[str, Any]]:
    found = (await gql(CONFLICTS, {"code": "shop", **where}))["conflicts"]
    assert found["totalCount"] == len(found["edges"])
    return [edge["node"] for edge in found["edges"]]


async def connector_state(gql: GraphQLClient) -> tuple[int, int]:
    """(pendingConflictCount, number of sync jobs) of connector `shop`."""
    connector = (await gql(STATE, {"code": "shop"}))["connector"]
    return connector["pendingConflictCount"], connector["syncJobs"]["totalCount"]


async def names(gql: GraphQLClient, sku: str = SKU) -> dict[str, Any]:
    """PIM locale -> the product's `name`."""
    product = (await gql(PRODUCT, {"sku": sku}))["product"]
    return {row["locale"]: row["data"] for row in product["values"] if row["attribute"] == "name"}


async def listing(gql: GraphQLClient, sku: str = SKU) -> dict[str, Any]:
    [found] = (await gql(LISTINGS, {"sku": sku}))["product"]["listings"]
    return dict(found)


async def name_author(db: Database, tenant: TenantHandle, locale: str, sku: str = SKU) -> str | None:
    """Who last wrote the product's `name` in `locale` (the column GraphQL does not show)."""
    statement = (
        select(ProductValue.updated_by)
        .join(Product, Product.id == ProductValue.product_id)
        .join(Attribute, Attribute.id == ProductValue.attribute_id)
        .where(Product.tenant_id == tenant.id, Product.sku == sku, Attribute.code == "name")
        .where(ProductValue.locale == locale)
    )
    async with db.reader() as session:
        return await session.scalar(statement)


AR_CONFLICT = [title(diff("ar_AE", "ar", AR_SYNCED, AR_PIM_EDIT, AR_SHOP_EDIT))]
"""The fields of the conflict a merchant's Arabic title opens against the PIM's: base, PIM and channel values."""


# -- a merchant's edit, and its replay -------------------------------------------------------------------------


async def test_a_merchants_arabic_edit_opens_a_conflict_without_a_sync_and_a_replay_changes_nothing(
    opener: Opener,
) -> None:
    store = await opener(strategy="MANUAL")
    await upsert(store.gql, chair(SKU, ar=AR_PIM_EDIT))
    store.shop.edit(SKU, locales={"ar": {"title": AR_SHOP_EDIT}})
    body, headers = store.shop.webhook("product.updated", SKU)

    row = await processed(store.db, store.path, await store.post(body, headers), store.worker)

    assert (row.status, row.topic) == ("PROCESSED", "product.updated"), row.outcome
    assert "held in conflict title[ar]" in (row.outcome or ""), row.outcome
    [conflict] = await conflicts(store.gql, status="PENDING")
    assert (conflict["productSku"], conflict["conflictType"], conflict["version"]) == (SKU, "field_mismatch", 1)
    assert conflict["fields"] == AR_CONFLICT, "one diff: Arabic base, PIM and channel values"
    assert conflict["channelModifiedAt"] is not None
    assert await connector_state(store.gql) == (1, 1), "a conflict is pending, and no sync job ran"
    assert store.writes() == [], "the held Arabic title was written (or something else was)"
    assert store.shop.products[SKU].locales["ar"]["title"] == AR_SHOP_EDIT, "the merchant's edit was overwritten"
    assert (await listing(store.gql))["status"] == "conflict"

    # The shop resends the same delivery after the merchant changed the title again: were it processed a second
    # time, the conflict would move to version 2 with the new channel value.
    store.shop.edit(SKU, locales={"ar": {"title": "كرسي آخر"}})
    again = await store.http.post(store.path, content=body, headers=headers)
    assert again.status_code == 202 and again.json() == {"status": "duplicate", "deliveryId": row.delivery_id}
    # A delivery for the other chair, sent after the replay and processed: the worker has taken what was queued
    # before it, the replay's job had there been one (a sleep would pass on a machine too slow to run it).
    later = await store.send("product.updated", OTHER)
    assert later.status in ("PROCESSED", "IGNORED"), later.outcome
    only, _ = await deliveries(store.db, store.path)
    assert (only.status, only.attempts, only.processed_at) == ("PROCESSED", 1, row.processed_at)
    [after] = await conflicts(store.gql)
    assert (after["id"], after["version"], after["fields"]) == (conflict["id"], 1, AR_CONFLICT)


async def test_what_a_check_writes_to_the_shop_is_recorded_as_an_export_of_the_webhook(
    opener: Opener, db: Database, tenant: TenantHandle
) -> None:
    store = await opener(strategy="MANUAL")
    await upsert(store.gql, chair(SKU, ar=AR_PIM_EDIT, fr="Chaise en chêne massif"))
    store.shop.edit(SKU, locales={"ar": {"title": AR_SHOP_EDIT}})

    row = await store.send("product.updated", SKU)

    assert row.status == "PROCESSED", row.outcome
    assert "exported title[fr]" in (row.outcome or "") and "held in conflict title[ar]" in (row.outcome or "")
    assert store.shop.products[SKU].locales["fr"]["title"] == "Chaise en chêne massif"
    async with db.reader() as session:
        events = await EventRepository(session).latest(tenant.id)
    exports = [event.payload for event in events if event.kind == "products.exported"]
    assert exports[0] == {"count": 1, "sku": SKU, "source": "webhook"}, "no job holds this write: the event does"
    assert "job" in exports[1], "the first sync's export, recorded by its job"


async def test_with_a_both_mapping_the_merchants_edit_lands_in_the_pim(
    opener: Opener, db: Database, tenant: TenantHandle
) -> None:
    store = await opener(strategy="MANUAL", name_direction="BOTH")
    store.shop.edit(SKU, locales={"ar": {"title": AR_SHOP_EDIT}})

    row = await store.send("product.updated", SKU)

    assert row.status == "PROCESSED" and "imported title[ar]" in (row.outcome or ""), row.outcome
    assert await names(store.gql) == {"en_US": f"Oak chair {SKU}", "ar_AE": AR_SHOP_EDIT, "fr_FR": FR_SYNCED}
    assert await name_author(db, tenant, "ar_AE") == "channel:shop", "an imported value says where it came from"
    assert await conflicts(store.gql) == []
    assert await connector_state(store.gql) == (0, 1)
    assert store.writes() == []
    # The imported value is the agreed one now: the next sync does not send it back.
    done = await wait_for_job(store.gql, (await trigger(store.gql, syncType="INCREMENTAL"))["id"], worker=store.worker)
    assert (done["status"], done["failedProducts"]) == ("COMPLETED", 0), done
    assert store.writes() == [], "the imported value bounced back as an export"


# -- deliveries with nothing to change -------------------------------------------------------------------------


async def test_an_echo_of_the_services_own_write_and_news_of_an_unlisted_product_change_nothing(
    opener: Opener, served_shop: ServedShop
) -> None:
    """The shop reformats what it stores ("119.50" -> "119.5"): the echo matches the base read back, not what
    was sent. CHAIR-3 is in the PIM but was never synced; the merchant made a product with that SKU in the shop."""
    served_shop.shop.reformat = True
    store = await opener(strategy="MANUAL")
    assert store.shop.products[SKU].fields["price"] == "119.5"
    revision = (await store.gql(PRODUCT, {"sku": SKU}))["product"]["revision"]
    before = await listing(store.gql)

    echo = await store.send("product.updated", SKU)

    assert echo.status == "IGNORED" and (echo.outcome or "").startswith("echo"), echo.outcome
    assert store.writes() == [], "an echo wrote to the shop"
    assert (await store.gql(PRODUCT, {"sku": SKU}))["product"]["revision"] == revision, "an echo changed the PIM"
    assert await listing(store.gql) == before

    await upsert(store.gql, chair("CHAIR-3"))
    own = store.shop.seed("CHAIR-3", fields={"price": "5.00"}, locales={"en": {"title": "The merchant's own"}})
    document = own.document()

    unlisted = await store.send("product.updated", "CHAIR-3")

    assert unlisted.status == "IGNORED" and "not on this channel" in (unlisted.outcome or ""), unlisted.outcome
    assert store.writes() == [], "a product the connector never listed was written"
    assert store.shop.products["CHAIR-3"].document() == document
    assert (await store.gql(LISTINGS, {"sku": "CHAIR-3"}))["product"]["listings"] == []
    assert await conflicts(store.gql) == []
    assert await connector_state(store.gql) == (0, 1)


# -- out of order ----------------------------------------------------------------------------------------------


async def test_an_older_delivery_arriving_late_is_ignored_as_stale(opener: Opener) -> None:
    """Arabic titles are imported (BOTH); French ones conflict (the PIM changed them too): two edits on the shop,
    their deliveries posted newest first."""
    store = await opener(strategy="MANUAL", name_direction="BOTH")
    await upsert(store.gql, chair(SKU, fr="Chaise en chêne massif"))
    clock = ShopClock()
    store.shop.clock = clock
    clock.now += 1
    store.shop.edit(SKU, locales={"ar": {"title": "كرسي قديم"}, "fr": {"title": "Chaise ancienne"}})
    older = store.shop.webhook("product.updated", SKU)
    clock.now += 1
    store.shop.edit(SKU, locales={"ar": {"title": AR_SHOP_EDIT}, "fr": {"title": "Chaise en bois"}})
    newer = store.shop.webhook("product.updated", SKU)
    assert json.loads(older[0])["product"]["updatedAt"] < json.loads(newer[0])["product"]["updatedAt"]

    first = await processed(store.db, store.path, await store.post(*newer), store.worker)
    assert first.status == "PROCESSED", first.outcome
    late = await processed(store.db, store.path, await store.post(*older), store.worker)

    assert late.status == "IGNORED" and (late.outcome or "").startswith("stale"), late.outcome
    assert late.occurred_at is not None and first.occurred_at is not None and late.occurred_at < first.occurred_at
    assert (await names(store.gql))["ar_AE"] == AR_SHOP_EDIT
    [conflict] = await conflicts(store.gql)
    assert conflict["version"] == 1 and conflict["resolutionStatus"] == "PENDING"
    assert conflict["fields"] == [
        field(
            "title",
            "name",
            diff("fr_FR", "fr", FR_SYNCED, "Chaise en chêne massif", "Chaise en bois"),
            direction="BOTH",
        )
    ]
    assert store.writes() == []


# -- deleted on the shop ---------------------------------------------------------------------------------------


def creates(store: Store, sku: str = SKU) -> list[dict[str, Any]]:
    """Products the service asked the shop to create (no externalId) with this SKU."""
    return [
        product
        for request in store.shop.requests_to("POST", "/products/batch")
        for product in (request.json or {}).get("products", [])
        if product["sku"] == sku and product["externalId"] is None
    ]


async def delete_on_shop(store: Store) -> WebhookDelivery:
    """The merchant deletes CHAIR-1 in the shop's admin; the shop sends product.deleted (no updatedAt).

    The shop's clock stands still half way through a second (see `frozen_shop`): the delivery is signed in the
    very second of the service's last write, whose `updatedAt` (milliseconds) is later than the whole second
    the X-Pimsync-Timestamp says. It is still the newest news about the product.
    """
    gone = store.shop.products.pop(SKU)
    assert int(store.shop.clock()) == int(gone.updated_at.timestamp()) < gone.updated_at.timestamp()
    return await store.send("product.deleted", {"sku": SKU, "externalId": gone.external_id})


@pytest.fixture
def frozen_shop(served_shop: ServedShop) -> None:
    """The shop's clock stands still half way through a second."""
    served_shop.shop.clock = ShopClock(start=int(time.time()) + 0.5)


@pytest.mark.usefixtures("frozen_shop")
async def test_a_product_deleted_on_the_shop_is_a_conflict_never_a_re_create(opener: Opener) -> None:
    store = await opener(strategy="MANUAL")
    external_id = store.shop.products[SKU].external_id

    row = await delete_on_shop(store)

    assert row.status == "PROCESSED", row.outcome
    [conflict] = await conflicts(store.gql)
    assert (conflict["conflictType"], conflict["resolutionStatus"], conflict["productSku"]) == (
        "deleted_on_channel",
        "PENDING",
        SKU,
    )
    assert await connector_state(store.gql) == (1, 1)
    assert await listing(store.gql) == {"externalId": external_id, "status": "conflict", "connector": {"code": "shop"}}
    assert creates(store) == [] and SKU not in store.shop.products
    # A sync while the conflict waits for a person re-creates nothing either, and leaves the conflict as it is.
    done = await wait_for_job(store.gql, (await trigger(store.gql))["id"], worker=store.worker)
    assert done["status"] == "COMPLETED", done
    assert creates(store) == [] and SKU not in store.shop.products
    [still] = await conflicts(store.gql)
    assert (still["id"], still["conflictType"], still["version"]) == (conflict["id"], "deleted_on_channel", 1)


@pytest.mark.usefixtures("frozen_shop")
async def test_with_channel_wins_a_product_deleted_on_the_shop_is_left_off_it(opener: Opener) -> None:
    store = await opener(strategy="CHANNEL_WINS")

    row = await delete_on_shop(store)

    assert row.status == "PROCESSED", row.outcome
    [conflict] = await conflicts(store.gql)
    assert (conflict["conflictType"], conflict["resolutionStatus"], conflict["resolvedBy"]) == (
        "deleted_on_channel",
        "CHANNEL_WINS",
        "strategy",
    )
    assert await listing(store.gql) == {"externalId": None, "status": "excluded", "connector": {"code": "shop"}}
    assert await connector_state(store.gql) == (0, 1)
    done = await wait_for_job(store.gql, (await trigger(store.gql))["id"], worker=store.worker)
    assert (done["status"], done["failedProducts"]) == ("COMPLETED", 0), done
    assert creates(store) == [] and SKU not in store.shop.products, "an excluded product was re-created"
    assert OTHER in store.shop.products


@pytest.mark.usefixtures("frozen_shop")
async def test_a_product_deleted_on_the_shop_while_paused_waits_and_is_a_conflict_once_resumed(
    opener: Opener,
) -> None:
    """Only a FULL sync reads products the PIM did not change: a delivery set aside while the connector is
    paused is the only news of the deletion, so it waits, uncounted, and resuming the connector checks it."""
    store = await opener(strategy="MANUAL")
    assert (await store.gql(PAUSE))["pauseConnector"]["connector"]["status"] == "PAUSED"
    gone = store.shop.products.pop(SKU)
    body, headers = store.shop.webhook("product.deleted", {"sku": SKU, "externalId": gone.external_id})
    delivery_id = await store.post(body, headers)

    deadline = time.monotonic() + 30
    while not (waiting := (await deliveries(store.db, store.path))[0]).outcome:  # until the worker has seen it
        assert time.monotonic() < deadline, store.worker.output()
        await asyncio.sleep(0.1)
    assert (waiting.status, waiting.attempts) == ("PENDING", 0), waiting.outcome
    assert "paused" in (waiting.outcome or "")
    assert await conflicts(store.gql) == []

    assert (await store.gql(RESUME))["resumeConnector"]["connector"]["status"] == "CONNECTED"
    # Sooner than recovery could (it waits 10 s after a delivery's arrival): resuming queued it.
    row = await processed(store.db, store.path, delivery_id, store.worker, within=5.0)

    assert row.status == "PROCESSED", row.outcome
    [conflict] = await conflicts(store.gql)
    assert (conflict["conflictType"], conflict["resolutionStatus"]) == ("deleted_on_channel", "PENDING")
    assert creates(store) == [] and SKU not in store.shop.products


# -- Shopify ---------------------------------------------------------------------------------------------------


SHOPIFY_MAPPINGS = [
    {"attributeCode": "name", "channelField": "title", "direction": "EXPORT"},
    {"attributeCode": "price", "channelField": "price", "direction": "EXPORT"},
]


async def test_a_shopify_products_update_after_a_translation_edit_opens_a_conflict(
    gql: GraphQLClient, client: httpx.AsyncClient, db: Database, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    await set_up_catalog(gql)
    given = {
        "code": "shop",
        "name": "Souk on Shopify",
        "channelType": "SHOPIFY",
        "credentials": {"shopDomain": DOMAIN, "accessToken": TOKEN, "webhookSecret": shopify.api_secret},
        "settings": {
            "scope": "ecommerce",
            "currency": "EUR",
            "conflictStrategy": "MANUAL",
            "localeMapping": [
                {"pimLocale": "en_US", "channelLocale": "en"},
                {"pimLocale": "ar_AE", "channelLocale": "ar"},
                {"pimLocale": "fr_FR", "channelLocale": "fr"},
            ],
        },
    }
    created = (await gql(CREATE_CONNECTOR, {"input": given}))["createConnector"]
    assert created["userErrors"] == [] and created["connector"]["status"] == "CONNECTED", created
    path = str(created["connector"]["webhookPath"])
    assert (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": SHOPIFY_MAPPINGS}))["saveMappings"][
        "userErrors"
    ] == []
    assert (await upsert(gql, chair(SKU), chair(OTHER)))["userErrors"] == []
    # The sync registers the translations after productSet; a ticking shop clock puts them in a later second,
    # as a real shop does whenever the two calls straddle a second.
    shop_clock(shopify).step = 1.0
    done = await wait_for_job(gql, (await trigger(gql))["id"], worker=worker)
    shop_clock(shopify).step = 0.0
    assert (done["status"], done["syncedProducts"]) == ("COMPLETED", 2), done
    synced = shopify.translations(SKU)["ar"]["title"]
    assert synced.value == AR_SYNCED
    assert synced.updated_at > shopify.product(SKU).updated_at, "the translation is not the later change"
    shopify.requests.clear()
    body, headers = shopify.webhook("products/update", SKU)
    echo = await processed(db, path, await post(client, path, body, headers), worker)
    # The delivery carries the product's updatedAt, which the later translations left where it was: not stale
    # (older than the translations, it is as new as the product the sync saw), and reading the shop shows the
    # sync's own write.
    assert echo.status == "IGNORED" and (echo.outcome or "").startswith("echo"), echo.outcome
    assert shopify.graphql_requests("TranslationsRegister") == [] and shopify.graphql_requests("ProductSet") == []

    await upsert(gql, chair(SKU, ar=AR_PIM_EDIT))
    shopify.edit_product(SKU, translations_by_locale={"ar": {"title": AR_SHOP_EDIT}}, fire_webhook=False)
    shopify.requests.clear()
    body, headers = shopify.webhook("products/update", SKU)
    row = await processed(db, path, await post(client, path, body, headers), worker)

    assert row.status == "PROCESSED", row.outcome
    [conflict] = await conflicts(gql, status="PENDING")
    assert conflict["productSku"] == SKU and conflict["fields"] == AR_CONFLICT
    assert await connector_state(gql) == (1, 1)
    assert shopify.translations(SKU)["ar"]["title"].value == AR_SHOP_EDIT, "the merchant's translation was replaced"
    assert shopify.graphql_requests("TranslationsRegister") == [] and shopify.graphql_requests("ProductSet") == []


# -- a worker that is down -------------------------------------------------------------------------------------


async def test_a_conflicting_delivery_waits_for_a_worker_and_is_processed_once_one_is_back(
    opener: Opener, workers: Workers
) -> None:
    store = await opener(strategy="MANUAL")
    workers.stop()
    await upsert(store.gql, chair(SKU, ar=AR_PIM_EDIT))
    store.shop.edit(SKU, locales={"ar": {"title": AR_SHOP_EDIT}})
    body, headers = store.shop.webhook("product.updated", SKU)
    delivery_id = await store.post(body, headers)
    # No sleep: the in-process client returns once the API has finished with the request (background tasks
    # included), and no worker runs, so nothing else could take the delivery.
    [waiting] = await deliveries(store.db, store.path)
    assert (waiting.status, waiting.attempts, waiting.delivery_id) == ("PENDING", 0, delivery_id)
    assert await conflicts(store.gql) == []

    row = await processed(store.db, store.path, delivery_id, workers.running())

    assert row.status == "PROCESSED", row.outcome
    [conflict] = await conflicts(store.gql, status="PENDING")
    assert conflict["fields"] == AR_CONFLICT
    assert await connector_state(store.gql) == (1, 1)


async def test_a_delivery_checked_while_the_shop_is_down_is_tried_again_and_processed_once_it_answers(
    opener: Opener,
) -> None:
    """The check's own retries run out on five 503s: the attempt is counted, its reason kept, and the delivery
    runs again later instead of being lost or given up."""
    store = await opener(strategy="MANUAL")
    await upsert(store.gql, chair(SKU, ar=AR_PIM_EDIT))
    store.shop.edit(SKU, locales={"ar": {"title": AR_SHOP_EDIT}})
    store.shop.fail_next(5, status=503, only="GET /products")
    body, headers = store.shop.webhook("product.updated", SKU)
    delivery_id = await store.post(body, headers)

    deadline = time.monotonic() + 60
    while (row := (await deliveries(store.db, store.path))[0]).status == "PENDING":
        assert time.monotonic() < deadline, (row.attempts, row.outcome, store.worker.output())
        await asyncio.sleep(0.2)

    assert (row.delivery_id, row.status, row.attempts) == (delivery_id, "PROCESSED", 2), row.outcome
    assert "held in conflict title[ar]" in (row.outcome or "")
    [conflict] = await conflicts(store.gql, status="PENDING")
    assert conflict["fields"] == AR_CONFLICT
    assert len([r for r in store.shop.requests if r.status == 503]) == 5
    assert "webhook.attempt_failed" in store.worker.log()


async def test_a_delivery_the_shop_asks_to_wait_long_for_waits_that_long_without_using_up_an_attempt(
    opener: Opener, container: Container, module_settings: Settings
) -> None:
    """A 429 asking for a longer wait than one request may spend (Retry-After: 600, past the retry policy's 300 s)
    reached the delivery as a failed attempt, tried again seconds later, then a little later ...: five such answers
    and the delivery was FAILED, the merchant's change never checked, though the shop had only said "not now". As
    DESIGN has it, waiting out a 429 does not use up a retry: the delivery waits the time asked, its attempts
    uncounted, and says why."""
    store = await opener(strategy="MANUAL")
    store.shop.edit(SKU, locales={"ar": {"title": AR_SHOP_EDIT}})
    store.shop.rate_limit_next(1, retry_after="600")
    body, headers = store.shop.webhook("product.updated", SKU)
    await store.post(body, headers)

    deadline = time.monotonic() + 30
    while "CHN-020" not in ((row := (await deliveries(store.db, store.path))[0]).outcome or ""):
        assert time.monotonic() < deadline, (row.status, row.outcome, store.worker.output())
        await asyncio.sleep(0.1)
    assert (row.status, row.attempts) == ("PENDING", 0), row.outcome
    queue = module_settings.queue_name
    due = await container.redis.zscore(queue, delivery_job_id(queue, row.id, row.received_at))
    assert due is not None and due >= (time.time() + 590) * 1000, "tried again before the wait the shop asked for"


async def test_a_message_left_from_a_deleted_delivery_does_not_process_the_one_that_took_its_id(
    opener: Opener, container: Container, workers: Workers
) -> None:
    """SQLite gives a deleted row's id to the next one: a delivery's message that outlived it (deleted with its
    connector, a retry still deferred) processed the new delivery under that id beside the new one's own message,
    and the two checks raced on one product (CheckRaced, an attempt counted). A message names the delivery's arrival
    too, and one for another arrival does nothing."""
    store = await opener(strategy="MANUAL")
    workers.stop()  # no worker takes the delivery's own message: the test plays both messages
    store.shop.edit(SKU, locales={"ar": {"title": AR_SHOP_EDIT}})
    body, headers = store.shop.webhook("product.updated", SKU)
    await store.post(body, headers)
    [row] = await deliveries(store.db, store.path)

    stale = await process_delivery(container, row.id, received_at_ms=ms(row.received_at) - 60_000)
    assert (stale.status, stale.retry_in) == ("SKIPPED", None)
    [left] = await deliveries(store.db, store.path)
    assert (left.status, left.attempts) == ("PENDING", 0)
    own = await process_delivery(container, row.id, received_at_ms=ms(row.received_at))
    assert own.status == "PROCESSED", own.outcome


async def test_a_delivery_the_shop_fails_five_times_is_failed_with_the_reason_and_a_late_message_does_nothing(
    opener: Opener, container: Container, workers: Workers
) -> None:
    """Five failed attempts, not four or six, and the delivery is FAILED saying why, its turn handed on; a message
    of it still queued (arq may run a job twice) leaves it as it is and asks the shop nothing."""
    store = await opener(strategy="MANUAL")
    workers.stop()  # the test plays the worker's messages one by one
    store.shop.edit(SKU, locales={"ar": {"title": AR_SHOP_EDIT}})
    store.shop.fail_next(1000, status=503, only="GET /products")
    body, headers = store.shop.webhook("product.updated", SKU)
    await store.post(body, headers)
    [row] = await deliveries(store.db, store.path)

    # Each attempt tries the shop five times itself, with waits that double from PIMSYNC_CHANNEL_RETRY_SECONDS, at
    # the connector's rate: at the default half second and 5 requests a second, the attempts took some 20 s.
    fast = {"settings": {"requestsPerSecond": 1000}}
    assert (await store.gql(UPDATE_CONNECTOR, {"code": "shop", "input": fast}))["updateConnector"]["userErrors"] == []
    quick = replace(container, settings=container.settings.model_copy(update={"channel_retry_seconds": 0.01}))
    tries = [await process_delivery(quick, row.id) for _ in range(5)]
    assert [result.status for result in tries] == ["PENDING"] * 4 + ["FAILED"], [r.outcome for r in tries]
    assert tries[-1].retry_in is None and tries[-1].outcome.startswith("gave up after 5 attempts: CHN-021")
    [failed] = await deliveries(store.db, store.path)
    assert (failed.status, failed.attempts) == ("FAILED", 5), failed.outcome
    store.shop.requests.clear()
    late = await process_delivery(quick, row.id)
    assert (late.status, late.retry_in) == ("SKIPPED", None)
    assert store.shop.requests == [], "a delivery already dealt with was checked again"
    [left] = await deliveries(store.db, store.path)
    assert (left.status, left.attempts, left.outcome) == ("FAILED", 5, failed.outcome)


async def test_a_check_the_shop_refuses_to_authorise_puts_the_connector_in_error(opener: Opener) -> None:
    """As for a sync job: a channel that refuses the connector's credentials (CHN-003) will refuse every later
    request too, so the connector goes to ERROR with the reason and scheduled syncs skip it until it is resumed.
    The delivery stays to be tried again, so once the credentials are fixed it is still checked."""
    store = await opener(strategy="MANUAL")
    store.shop.edit(SKU, locales={"ar": {"title": AR_SHOP_EDIT}})
    body, headers = store.shop.webhook("product.updated", SKU)
    store.shop.rotate_secret_after(0, "a-secret-the-service-does-not-know")
    await store.post(body, headers)

    deadline = time.monotonic() + 30
    while (connector := (await store.gql(CONNECTOR, {"code": "shop"}))["connector"])["status"] != "ERROR":
        assert time.monotonic() < deadline, (connector["status"], store.worker.output())
        await asyncio.sleep(0.1)
    assert "CHN-003" in connector["statusReason"], connector["statusReason"]
    # The connector goes to ERROR in its own transaction, then the delivery's outcome is written: wait for both.
    while "CHN-003" not in ((row := (await deliveries(store.db, store.path))[0]).outcome or ""):
        assert time.monotonic() < deadline, (row.status, row.outcome, store.worker.output())
        await asyncio.sleep(0.1)
    assert row.status == "PENDING", (row.status, row.outcome)
    assert store.shop.products[SKU].locales["ar"]["title"] == AR_SHOP_EDIT, "nothing was written"


async def test_a_worker_stopped_by_a_deploy_while_it_checks_a_delivery_leaves_it_to_the_next_worker(
    opener: Opener, workers: Workers
) -> None:
    """A rolling deploy SIGTERMs the worker while it reads the shop for a delivery: it exits within seconds, the
    delivery is left PENDING with no attempt counted, and the next worker processes it at once, once."""
    store = await opener(strategy="MANUAL")
    await upsert(store.gql, chair(SKU, ar=AR_PIM_EDIT))
    store.shop.edit(SKU, locales={"ar": {"title": AR_SHOP_EDIT}})
    store.shop.slow_down(5.0)
    body, headers = store.shop.webhook("product.updated", SKU)
    delivery_id = await store.post(body, headers)
    deadline = time.monotonic() + 45
    while not [request for request in store.shop.requests if request.method == "GET"]:
        assert time.monotonic() < deadline, f"the check never read the shop:\n{store.worker.output()}"
        await asyncio.sleep(0.02)
    assert await workers.stop_for_a_deploy("process_webhook_delivery") < 4, "the stopped worker waited for the shop"
    [left] = await deliveries(store.db, store.path)
    assert (left.status, left.attempts) == ("PENDING", 0), left.outcome
    store.shop.slow_down(0)

    row = await processed(store.db, store.path, delivery_id, workers.running(), within=20)

    assert row.status == "PROCESSED", row.outcome
    [conflict] = await conflicts(store.gql, status="PENDING")
    assert conflict["fields"] == AR_CONFLICT


APPLIED = """query($id: ID!) { conflict(id: $id) { resolutionStatus appliedAt applyError } }"""


async def test_a_worker_stopped_by_a_deploy_while_it_writes_a_resolution_leaves_it_applied_by_the_next(
    opener: Opener, workers: Workers
) -> None:
    """A rolling deploy SIGTERMs the worker while the shop takes the PIM's value a person chose: it waits for the
    shop's answer (never longer), exits, and the next worker records the resolution as applied, with no error, and
    writes nothing again."""
    store = await opener(strategy="MANUAL")
    await upsert(store.gql, chair(SKU, ar=AR_PIM_EDIT))
    store.shop.edit(SKU, locales={"ar": {"title": AR_SHOP_EDIT}})
    await store.send("product.updated", SKU)
    [conflict] = await conflicts(store.gql, status="PENDING")
    store.shop.requests.clear()
    store.shop.slow_down(2.0)
    resolved = await store.gql(RESOLVE, {"id": conflict["id"], "input": {"resolution": "PIM_WINS"}})
    assert resolved["resolveConflict"]["userErrors"] == []
    deadline = time.monotonic() + 45
    while not [request for request in store.shop.requests if request.method == "POST"]:
        assert time.monotonic() < deadline, f"the resolution was never written:\n{store.worker.output()}"
        await asyncio.sleep(0.02)
    await workers.stop_for_a_deploy("apply_conflict_resolution")
    store.shop.slow_down(0)
    assert store.shop.products[SKU].locales["ar"]["title"] == AR_PIM_EDIT

    workers.running()
    deadline = time.monotonic() + 30
    while (applied := (await store.gql(APPLIED, {"id": conflict["id"]}))["conflict"])["appliedAt"] is None:
        assert time.monotonic() < deadline, f"the resolution was never recorded:\n{workers.running().output()}"
        await asyncio.sleep(0.1)

    assert (applied["resolutionStatus"], applied["applyError"]) == ("PIM_WINS", None), applied
    assert len([r for r in store.shop.requests if r.method == "POST"]) == 1, "the shop was written twice"
    assert store.shop.products[SKU].locales["ar"]["title"] == AR_PIM_EDIT


@pytest.mark.usefixtures("frozen_shop")
async def test_a_worker_stopped_while_the_shop_holds_a_re_create_exits_in_its_grace_and_nothing_is_created_twice(
    opener: Opener, workers: Workers
) -> None:
    """A deploy SIGTERMs a worker while the shop holds the product a person chose to put back (PIM_WINS on a product
    deleted on the shop), another worker being up, and kills it once its grace period is over: the stop waited for
    the shop's answer up to the HTTP timeout, longer than that. It now gives up within half the grace period and
    exits in time, and the resolution is kept from the other worker until the write's deadline: checked at once, it
    would find no product on the shop yet and create it a second time. Checked after, it finds the one the held
    write created, and records the resolution applied."""
    store = await opener(strategy="MANUAL")
    await delete_on_shop(store)
    [conflict] = await conflicts(store.gql)
    workers.stop()
    one, two = workers.running(**HELD_WRITE), workers.another(**HELD_WRITE)
    try:
        await one.started()
        await two.started()
        store.shop.slow_down(SHOP_HOLDS_A_WRITE_SECONDS, only="POST /products/batch")
        resolved = await store.gql(RESOLVE, {"id": conflict["id"], "input": {"resolution": "PIM_WINS"}})
        assert resolved["resolveConflict"]["userErrors"] == []
        await until_a_batch_is_sent(store.served, "the resolution")
        store.shop.slow_down(0)  # the write received is still held; the other worker's are not
        old, other = (one, two) if "apply_conflict_resolution(" in one.log() else (two, one)
        assert old.process is not None
        stopping = time.monotonic()
        old.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(old.process.wait, 15) == 0, old.output()
        took = time.monotonic() - stopping
        assert took < GRACE_SECONDS, f"the stopped worker took {took:.1f} s, past its grace period:\n{old.output()}"
        deadline = time.monotonic() + 30
        while (applied := (await store.gql(APPLIED, {"id": conflict["id"]}))["conflict"])["appliedAt"] is None:
            assert time.monotonic() < deadline, f"the resolution was never recorded:\n{other.output()}"
            await asyncio.sleep(0.1)
    finally:
        two.stop()
        workers.stop()
    await until_every_batch_is_answered(store.served)
    assert len(creates(store)) == 1, "the product was created twice"
    assert applied["resolutionStatus"] == "PIM_WINS", applied
    assert store.shop.products[SKU].locales["ar"]["title"] == AR_SYNCED
