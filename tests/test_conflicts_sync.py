"""Conflicts found while syncing: the three-way table per field and locale, and each strategy, end to end.

A real `pimsync worker` syncs Arabic (ar_AE -> "ar") and French (fr_FR -> "fr")
titles and a shared price to the CUSTOM_HTTP reference shop over HTTP. The
tests change products in the shop's admin (`shop.edit`, which stamps the
product's updatedAt from the shop's clock) and check what a user sees:
conflicts, products and listings over GraphQL, what the shop holds, and what
the service sent it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest

from tests.catalog_fixtures import PRODUCT, set_up_catalog, upsert, value
from tests.conflict_fixtures import CONFLICTS, diff, field
from tests.conftest import GraphQLClient
from tests.connector_fixtures import SAVE_MAPPINGS, ServedShop, create_connector, served_shop
from tests.emulators.custom_http_shop import CustomHttpShop
from tests.sync_fixtures import LISTINGS, WorkerProcess, module_worker, sent_products, trigger, wait_for_job

__all__ = ["module_worker", "served_shop"]

AR, FR = "ar", "fr"
PIM_LOCALE = {AR: "ar_AE", FR: "fr_FR"}
LOCALE_MAPPING = [{"pimLocale": "ar_AE", "channelLocale": AR}, {"pimLocale": "fr_FR", "channelLocale": FR}]

FIRST = {AR: "كرسي بلوط", FR: "Chaise en chêne"}
"""The titles every product is first synced with."""
REWRITTEN = {AR: "كرسي بلوط صلب", FR: "Chaise en chêne massif"}
"""What the catalog team rewrites them to in the PIM."""
EDITED = {AR: "كرسي من خشب البلوط", FR: "Chaise de chêne"}
"""What a merchant types in the shop's admin instead."""
WRITTEN = {AR: "<p>كرسي مريح</p>", FR: "<p>Chaise confortable</p>"}
"""A description a merchant writes in the shop's admin."""
PRICE, NEW_PRICE, SHOP_PRICE = "120.00", "135.00", "99.90"

PENDING_COUNT = """query { connector(code: "shop") { pendingConflictCount } }"""


# -- set-up and actions ---------------------------------------------------------------------------


@pytest.fixture
def worker(module_worker: WorkerProcess) -> WorkerProcess:
    """The module's one worker (starting one per test would cost seconds each; every test has its own tenant)."""
    return module_worker


def chair(
    sku: str,
    *,
    ar: str = FIRST[AR],
    fr: str = FIRST[FR],
    price: str = PRICE,
    descriptions: dict[str, str] | None = None,
) -> dict[str, Any]:
    values = [value("name", ar, "ar_AE"), value("name", fr, "fr_FR"), value("price", {"EUR": price})]
    for locale, text in (descriptions or {}).items():
        values.append(value("description", text, PIM_LOCALE[locale], "ecommerce"))
    return {"sku": sku, "values": values}


def titled(sku: str, locale: str, title: str) -> dict[str, Any]:
    """A product whose title in one locale is rewritten in the PIM (the other keeps its first title)."""
    return chair(sku, **{locale: title})


async def open_store(
    gql: GraphQLClient, served_shop: ServedShop, *, strategy: str, title: str = "EXPORT", extra: tuple[Any, ...] = ()
) -> None:
    """Catalog, a connector to the shop with `strategy` (ar and fr only), name -> title, price -> price."""
    await set_up_catalog(gql)
    await create_connector(gql, served_shop, localeMapping=LOCALE_MAPPING, conflictStrategy=strategy)
    mappings = [
        {"attributeCode": "name", "channelField": "title", "direction": title},
        {"attributeCode": "price", "channelField": "price", "direction": "EXPORT"},
        *extra,
    ]
    saved = (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": mappings}))["saveMappings"]
    assert saved["userErrors"] == []


async def sync(
    gql: GraphQLClient, worker: WorkerProcess, served_shop: ServedShop, kind: str = "FULL"
) -> dict[str, Any]:
    """Run one sync to its end, starting a fresh request log (so `sent` shows what this sync wrote)."""
    served_shop.shop.requests.clear()
    job = await wait_for_job(gql, (await trigger(gql, syncType=kind))["id"], worker=worker)
    assert (job["status"], job["failedProducts"]) == ("COMPLETED", 0), job
    return job


def sent(served_shop: ServedShop, sku: str) -> list[dict[str, Any]]:
    """Every document the last sync wrote for this SKU."""
    return [product for product in sent_products(served_shop) if product["sku"] == sku]


def titles(shop: CustomHttpShop, sku: str) -> dict[str, str]:
    return {locale: shop.products[sku].locales[locale]["title"] for locale in (AR, FR)}


@contextmanager
def shop_clock(shop: CustomHttpShop, offset: float) -> Iterator[None]:
    """The shop's clock `offset` seconds off while its admin edits products (requests are signed on time)."""
    shop.clock = lambda: time.time() + offset
    try:
        yield
    finally:
        shop.clock = time.time


async def pim_values(gql: GraphQLClient, sku: str) -> dict[tuple[str, str | None], Any]:
    product = (await gql(PRODUCT, {"sku": sku}))["product"]
    return {(item["attribute"], item["locale"]): item["data"] for item in product["values"]}


async def pim_titles(gql: GraphQLClient, sku: str) -> dict[str, str]:
    values = await pim_values(gql, sku)
    return {locale: values[("name", PIM_LOCALE[locale])] for locale in (AR, FR)}


async def conflicts(gql: GraphQLClient, **filters: Any) -> list[dict[str, Any]]:
    found = (await gql(CONFLICTS, {"code": "shop", "first": 50, **filters}))["conflicts"]
    return [edge["node"] for edge in found["edges"]]


async def pending_count(gql: GraphQLClient) -> int:
    return int((await gql(PENDING_COUNT))["connector"]["pendingConflictCount"])


async def listing(gql: GraphQLClient, sku: str) -> dict[str, Any]:
    [found] = (await gql(LISTINGS, {"sku": sku}))["product"]["listings"]
    return dict(found)


def title_diff(locale: str, base: str, pim: str, channel: str, direction: str = "EXPORT") -> dict[str, Any]:
    return field("title", "name", diff(PIM_LOCALE[locale], locale, base, pim, channel), direction=direction)


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


PRICE_DRIFT = field("price", "price", diff(None, None, PRICE, PRICE, SHOP_PRICE))
"""The price edited in the shop only."""


# -- the three-way table --------------------------------------------------------------------------


ROWS = ("SAME", "PIM", "CHANNEL", "CONVERGED", "CONFLICT")
"""One product per row and locale: which side changed the title since the last sync."""


async def test_every_row_of_the_three_way_table_in_arabic_and_in_french(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """title is a BOTH mapping and description an IMPORT one, so their drift comes into the PIM; price is an
    EXPORT mapping, so its drift is the strategy's; MANUAL holds conflicts for a person."""
    shop = served_shop.shop
    description = {"attributeCode": "description", "channelField": "description", "direction": "IMPORT"}
    await open_store(gql, served_shop, strategy="MANUAL", title="BOTH", extra=(description,))
    cases = {(row, locale): f"{row}-{locale.upper()}" for row in ROWS for locale in (AR, FR)}
    assert (await upsert(gql, *(chair(sku) for sku in [*cases.values(), "PRICE"])))["userErrors"] == []
    await sync(gql, worker, served_shop)

    for locale in (AR, FR):
        await upsert(
            gql,
            titled(cases["PIM", locale], locale, REWRITTEN[locale]),
            titled(cases["CONVERGED", locale], locale, REWRITTEN[locale]),
            titled(cases["CONFLICT", locale], locale, REWRITTEN[locale]),
        )
        shop.edit(cases["CHANNEL", locale], locales={locale: {"title": EDITED[locale], "description": WRITTEN[locale]}})
        shop.edit(cases["CONVERGED", locale], locales={locale: {"title": REWRITTEN[locale]}})
        shop.edit(cases["CONFLICT", locale], locales={locale: {"title": EDITED[locale]}})
    shop.edit("PRICE", fields={"price": SHOP_PRICE})
    job = await sync(gql, worker, served_shop)

    assert (job["syncedProducts"], job["conflictedProducts"]) == (2, 3)
    for locale in (AR, FR):
        other = FR if locale == AR else AR
        untouched = {other: FIRST[other]}
        # same / same: nothing goes out
        assert sent(served_shop, cases["SAME", locale]) == []
        # PIM changed, channel same: exactly that title is exported
        [document] = sent(served_shop, cases["PIM", locale])
        assert (document["fields"], document["locales"]) == ({}, {locale: {"title": REWRITTEN[locale]}})
        assert titles(shop, cases["PIM", locale]) == {locale: REWRITTEN[locale], **untouched}
        # PIM same, channel changed (drift on BOTH and IMPORT mappings): the PIM takes the channel's values
        assert sent(served_shop, cases["CHANNEL", locale]) == []
        assert await pim_titles(gql, cases["CHANNEL", locale]) == {locale: EDITED[locale], **untouched}
        assert (await pim_values(gql, cases["CHANNEL", locale]))[("description", PIM_LOCALE[locale])] == WRITTEN[locale]
        assert titles(shop, cases["CHANNEL", locale]) == {locale: EDITED[locale], **untouched}
        assert await conflicts(gql, sku=cases["CHANNEL", locale]) == []
        # both changed to the same title: converged, nothing to send, no conflict
        assert sent(served_shop, cases["CONVERGED", locale]) == []
        assert await conflicts(gql, sku=cases["CONVERGED", locale]) == []
        # both changed, differently: held for a person, and only that locale
        assert sent(served_shop, cases["CONFLICT", locale]) == []
        assert titles(shop, cases["CONFLICT", locale]) == {locale: EDITED[locale], **untouched}
        [conflict] = await conflicts(gql, sku=cases["CONFLICT", locale])
        assert conflict["resolutionStatus"] == "PENDING"
        assert conflict["fields"] == [
            title_diff(locale, FIRST[locale], REWRITTEN[locale], EDITED[locale], direction="BOTH")
        ]
    # PIM same, channel changed on an EXPORT mapping: the strategy decides, and MANUAL holds it
    assert sent(served_shop, "PRICE") == [] and shop.products["PRICE"].fields["price"] == SHOP_PRICE
    [held] = await conflicts(gql, sku="PRICE")
    assert (held["resolutionStatus"], held["fields"]) == ("PENDING", [PRICE_DRIFT])
    assert await pending_count(gql) == 3

    # The values taken from the shop are the PIM's now: the next sync sends nothing back, opens nothing new.
    again = await sync(gql, worker, served_shop)
    assert sent_products(served_shop) == []
    assert (again["syncedProducts"], again["conflictedProducts"]) == (0, 3)
    assert len(await conflicts(gql)) == 3


# -- strategies -----------------------------------------------------------------------------------


async def conflict_and_drift(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess, *, strategy: str, title: str
) -> dict[str, Any]:
    """Two products synced, then:

    CONFLICT: Arabic title rewritten in the PIM and edited differently in the shop; French title
    rewritten in the PIM only.
    DRIFT: Arabic title and price edited in the shop only.

    Returns the job of the sync that follows.
    """
    await open_store(gql, served_shop, strategy=strategy, title=title)
    await upsert(gql, chair("CONFLICT"), chair("DRIFT"))
    await sync(gql, worker, served_shop)
    await upsert(gql, chair("CONFLICT", ar=REWRITTEN[AR], fr=REWRITTEN[FR]))
    served_shop.shop.edit("CONFLICT", locales={AR: {"title": EDITED[AR]}})
    served_shop.shop.edit("DRIFT", fields={"price": SHOP_PRICE}, locales={AR: {"title": EDITED[AR]}})
    return await sync(gql, worker, served_shop)


async def resolved(gql: GraphQLClient, sku: str) -> dict[str, Any]:
    """The product's one conflict, which the strategy decided."""
    [conflict] = await conflicts(gql, sku=sku)
    assert conflict["resolvedBy"] == "strategy" and conflict["resolvedAt"] is not None
    assert conflict["conflictType"] == "field_mismatch"
    return conflict


async def test_pim_wins_overwrites_the_channel_and_records_it(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    job = await conflict_and_drift(gql, served_shop, worker, strategy="PIM_WINS", title="EXPORT")
    shop = served_shop.shop
    # Decided by the strategy, both products were written: nothing is left for a person, so none counts conflicted.
    counts = (job["syncedProducts"], job["skippedProducts"], job["conflictedProducts"], job["failedProducts"])
    assert counts == (2, 0, 0, 0), job

    [document] = sent(served_shop, "CONFLICT")
    assert document["locales"] == {AR: {"title": REWRITTEN[AR]}, FR: {"title": REWRITTEN[FR]}}
    assert titles(shop, "CONFLICT") == REWRITTEN
    conflict = await resolved(gql, "CONFLICT")
    assert conflict["resolutionStatus"] == "PIM_WINS"
    assert conflict["fields"] == [title_diff(AR, FIRST[AR], REWRITTEN[AR], EDITED[AR])]

    # Drift on EXPORT mappings follows the strategy too: the PIM's title and price go back.
    [document] = sent(served_shop, "DRIFT")
    assert (document["fields"], document["locales"]) == ({"price": PRICE}, {AR: {"title": FIRST[AR]}})
    assert titles(shop, "DRIFT") == FIRST and shop.products["DRIFT"].fields["price"] == PRICE
    drift = await resolved(gql, "DRIFT")
    assert drift["resolutionStatus"] == "PIM_WINS"
    assert drift["fields"] == [PRICE_DRIFT, title_diff(AR, FIRST[AR], FIRST[AR], EDITED[AR])]
    assert await pending_count(gql) == 0


async def test_channel_wins_keeps_the_channels_value_for_an_export_mapping(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    job = await conflict_and_drift(gql, served_shop, worker, strategy="CHANNEL_WINS", title="EXPORT")
    shop = served_shop.shop
    # CONFLICT's French title went out; DRIFT keeps the channel's values, nothing sent. Neither waits for a person.
    counts = (job["syncedProducts"], job["skippedProducts"], job["conflictedProducts"], job["failedProducts"])
    assert counts == (1, 1, 0, 0), job

    [document] = sent(served_shop, "CONFLICT")
    assert (document["fields"], document["locales"]) == ({}, {FR: {"title": REWRITTEN[FR]}}), "Arabic was sent"
    assert titles(shop, "CONFLICT") == {AR: EDITED[AR], FR: REWRITTEN[FR]}
    assert await pim_titles(gql, "CONFLICT") == REWRITTEN, "an EXPORT mapping took a value into the PIM"
    conflict = await resolved(gql, "CONFLICT")
    assert conflict["resolutionStatus"] == "CHANNEL_WINS"
    assert conflict["fields"] == [title_diff(AR, FIRST[AR], REWRITTEN[AR], EDITED[AR])]

    assert sent(served_shop, "DRIFT") == []
    assert shop.products["DRIFT"].locales[AR]["title"] == EDITED[AR]
    assert shop.products["DRIFT"].fields["price"] == SHOP_PRICE
    drift = await resolved(gql, "DRIFT")
    assert drift["resolutionStatus"] == "CHANNEL_WINS"
    assert drift["fields"] == [PRICE_DRIFT, title_diff(AR, FIRST[AR], FIRST[AR], EDITED[AR])]

    # The channel's values are the agreed ones now: nothing is sent or decided again.
    await sync(gql, worker, served_shop)
    assert sent_products(served_shop) == []
    assert len(await conflicts(gql)) == 2


async def test_channel_wins_takes_the_channels_value_into_the_pim_for_a_both_mapping(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    await conflict_and_drift(gql, served_shop, worker, strategy="CHANNEL_WINS", title="BOTH")
    shop = served_shop.shop

    [document] = sent(served_shop, "CONFLICT")
    assert (document["fields"], document["locales"]) == ({}, {FR: {"title": REWRITTEN[FR]}})
    assert await pim_titles(gql, "CONFLICT") == {AR: EDITED[AR], FR: REWRITTEN[FR]}
    assert titles(shop, "CONFLICT") == {AR: EDITED[AR], FR: REWRITTEN[FR]}
    conflict = await resolved(gql, "CONFLICT")
    assert conflict["resolutionStatus"] == "CHANNEL_WINS"
    assert conflict["fields"] == [title_diff(AR, FIRST[AR], REWRITTEN[AR], EDITED[AR], direction="BOTH")]

    # Title drift on a BOTH mapping is simply taken in; the price (EXPORT) drift is the strategy's.
    assert sent(served_shop, "DRIFT") == []
    assert await pim_titles(gql, "DRIFT") == {AR: EDITED[AR], FR: FIRST[FR]}
    assert (await pim_values(gql, "DRIFT"))[("price", None)] == {"EUR": PRICE}
    drift = await resolved(gql, "DRIFT")
    assert (drift["resolutionStatus"], drift["fields"]) == ("CHANNEL_WINS", [PRICE_DRIFT])


async def test_newest_wins_compares_the_pim_values_time_with_the_channels_own(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """The shop's updatedAt decides, not the order in which things happened: the shop's clock is set so
    that the edit made first is the newer one."""
    shop = served_shop.shop
    await open_store(gql, served_shop, strategy="NEWEST_WINS")
    await upsert(gql, chair("SHOP-NEWER"), chair("PIM-NEWER"))
    await sync(gql, worker, served_shop)
    with shop_clock(shop, +3600):
        shop_edited_at = moment(shop.edit("SHOP-NEWER", locales={AR: {"title": EDITED[AR]}}).document()["updatedAt"])
    await upsert(gql, titled("SHOP-NEWER", AR, REWRITTEN[AR]), titled("PIM-NEWER", AR, REWRITTEN[AR]))
    with shop_clock(shop, -3600):
        shop.edit("PIM-NEWER", locales={AR: {"title": EDITED[AR]}})
    await sync(gql, worker, served_shop)

    assert sent(served_shop, "SHOP-NEWER") == []
    assert titles(shop, "SHOP-NEWER") == {AR: EDITED[AR], FR: FIRST[FR]}
    shop_newer = await resolved(gql, "SHOP-NEWER")
    assert shop_newer["resolutionStatus"] == "CHANNEL_WINS"
    assert moment(shop_newer["channelModifiedAt"]) == shop_edited_at
    assert moment(shop_newer["channelModifiedAt"]) > moment(shop_newer["pimModifiedAt"])

    [document] = sent(served_shop, "PIM-NEWER")
    assert document["locales"] == {AR: {"title": REWRITTEN[AR]}}
    assert titles(shop, "PIM-NEWER") == {AR: REWRITTEN[AR], FR: FIRST[FR]}
    pim_newer = await resolved(gql, "PIM-NEWER")
    assert pim_newer["resolutionStatus"] == "PIM_WINS"
    assert pim_newer["fields"] == [title_diff(AR, FIRST[AR], REWRITTEN[AR], EDITED[AR])]
    assert moment(pim_newer["channelModifiedAt"]) < moment(pim_newer["pimModifiedAt"])


async def test_manual_holds_the_arabic_title_exports_the_rest_and_keeps_one_conflict(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    shop = served_shop.shop
    await open_store(gql, served_shop, strategy="MANUAL")
    await upsert(gql, chair("CHAIR"))
    await sync(gql, worker, served_shop)
    await upsert(gql, chair("CHAIR", ar=REWRITTEN[AR], fr=REWRITTEN[FR], price=NEW_PRICE))
    edited_at = moment(shop.edit("CHAIR", locales={AR: {"title": EDITED[AR]}}).document()["updatedAt"])
    job = await sync(gql, worker, served_shop, kind="INCREMENTAL")  # reads the shop before it writes

    assert (job["syncedProducts"], job["conflictedProducts"]) == (0, 1)
    [document] = sent(served_shop, "CHAIR")
    assert (document["fields"], document["locales"]) == ({"price": NEW_PRICE}, {FR: {"title": REWRITTEN[FR]}})
    assert titles(shop, "CHAIR") == {AR: EDITED[AR], FR: REWRITTEN[FR]}
    assert shop.products["CHAIR"].fields["price"] == NEW_PRICE
    [change] = [edge["node"] for edge in job["changes"]["edges"] if edge["node"]["productSku"] == "CHAIR"]
    assert change["action"] == "CONFLICT"
    held = {"field": "title", "channelLocale": AR, "before": EDITED[AR], "after": REWRITTEN[AR], "held": True}
    assert held in change["fields"]
    marked = {(field["field"], field["channelLocale"], field["held"]) for field in change["fields"]}
    assert marked == {("title", AR, True), ("title", FR, False), ("price", None, False)}, "written and held apart"
    [conflict] = await conflicts(gql)
    assert (conflict["resolutionStatus"], conflict["conflictType"], conflict["version"]) == (
        "PENDING",
        "field_mismatch",
        1,
    )
    assert conflict["resolvedBy"] is None and conflict["resolvedAt"] is None
    assert conflict["fields"] == [title_diff(AR, FIRST[AR], REWRITTEN[AR], EDITED[AR])]
    assert moment(conflict["channelModifiedAt"]) == edited_at, "not the time of the shop's edit"
    assert await pending_count(gql) == 1
    assert (await listing(gql, "CHAIR"))["status"] == "conflict"

    # Unresolved, nothing changed (a full sync reads the shop again): the same conflict, at the same
    # version, and nothing sent.
    again = await sync(gql, worker, served_shop)
    assert again["conflictedProducts"] == 1 and sent_products(served_shop) == []
    assert [(c["id"], c["version"]) for c in await conflicts(gql)] == [(conflict["id"], 1)]

    # The merchant edits the Arabic title again: the same conflict shows the new value at a new version.
    shop.edit("CHAIR", locales={AR: {"title": "كرسي"}})
    await sync(gql, worker, served_shop)
    [changed] = await conflicts(gql)
    assert (changed["id"], changed["version"], changed["resolutionStatus"]) == (conflict["id"], 2, "PENDING")
    assert changed["fields"] == [title_diff(AR, FIRST[AR], REWRITTEN[AR], "كرسي")]
    assert await pending_count(gql) == 1


PREVIEW_HELD = """query($sku: String!) {
  exportPreview(connectorCode: "shop", sku: $sku) { channelLocale fields willSend held { field conflictId } }
}"""


async def test_the_preview_shows_a_field_a_pending_conflict_holds_as_held_not_sent(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    await open_store(gql, served_shop, strategy="MANUAL")
    await upsert(gql, chair("CHAIR"))
    await sync(gql, worker, served_shop)
    await upsert(gql, chair("CHAIR", ar=REWRITTEN[AR], fr=REWRITTEN[FR], price=NEW_PRICE))
    served_shop.shop.edit("CHAIR", locales={AR: {"title": EDITED[AR]}})
    await sync(gql, worker, served_shop, kind="INCREMENTAL")
    [conflict] = await conflicts(gql)

    shown = {item["channelLocale"]: item for item in (await gql(PREVIEW_HELD, {"sku": "CHAIR"}))["exportPreview"]}
    assert shown[AR]["fields"] == {"price": NEW_PRICE}, "the held Arabic title is not shown as going out"
    assert shown[AR]["held"] == [{"field": "title", "conflictId": conflict["id"]}]
    assert shown[AR]["willSend"] is True, "the price still goes out"
    assert shown[FR]["fields"] == {"price": NEW_PRICE, "title": REWRITTEN[FR]} and shown[FR]["held"] == []

    # The catalog team writes the shop's title into the PIM: the two sides agree, nothing is held any more.
    await upsert(gql, chair("CHAIR", ar=EDITED[AR], fr=REWRITTEN[FR], price=NEW_PRICE))
    shown = {item["channelLocale"]: item for item in (await gql(PREVIEW_HELD, {"sku": "CHAIR"}))["exportPreview"]}
    assert shown[AR]["held"] == [] and shown[AR]["fields"]["title"] == EDITED[AR]


# -- a product gone from the channel ------------------------------------------------------------


async def delete_in_shop(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess, strategy: str
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """GONE and KEPT synced, then GONE deleted in the shop's admin (no webhook tells the service) and a full
    sync run. Returns that job, the one conflict it recorded (about GONE, and only it), and GONE's first id."""
    await open_store(gql, served_shop, strategy=strategy)
    await upsert(gql, chair("GONE"), chair("KEPT"))
    await sync(gql, worker, served_shop)
    first_id = served_shop.shop.products["GONE"].external_id
    del served_shop.shop.products["GONE"]
    job = await sync(gql, worker, served_shop)
    assert sent(served_shop, "KEPT") == []
    [conflict] = await conflicts(gql)
    assert (conflict["productSku"], conflict["conflictType"], conflict["fields"]) == ("GONE", "missing_on_channel", [])
    return job, conflict, first_id


async def test_a_product_deleted_in_the_shop_is_a_conflict_for_a_person_with_manual(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    job, conflict, first_id = await delete_in_shop(gql, served_shop, worker, "MANUAL")
    assert "GONE" not in served_shop.shop.products and sent(served_shop, "GONE") == [], "silently re-created"
    assert (conflict["resolutionStatus"], conflict["resolvedBy"]) == ("PENDING", None)
    assert job["conflictedProducts"] == 1 and await pending_count(gql) == 1
    assert await listing(gql, "GONE") == {"externalId": first_id, "status": "conflict", "connector": {"code": "shop"}}


async def test_the_preview_of_a_product_deleted_in_the_shop_and_held_for_a_person_sends_nothing(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """A product the shop lost is not re-created while its conflict waits for a person: the preview says so."""
    _, conflict, _ = await delete_in_shop(gql, served_shop, worker, "MANUAL")
    shown = {item["channelLocale"]: item for item in (await gql(PREVIEW_HELD, {"sku": "GONE"}))["exportPreview"]}
    for locale in (AR, FR):
        assert (shown[locale]["willSend"], shown[locale]["fields"]) == (False, {})
        held = {(item["field"], item["conflictId"]) for item in shown[locale]["held"]}
        assert held == {("title", conflict["id"]), ("price", conflict["id"])}


async def test_a_product_deleted_in_the_shop_is_recreated_on_the_record_with_pim_wins(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    _, conflict, first_id = await delete_in_shop(gql, served_shop, worker, "PIM_WINS")
    [document] = sent(served_shop, "GONE")
    assert document["externalId"] is None
    assert document["locales"] == {AR: {"title": FIRST[AR]}, FR: {"title": FIRST[FR]}}
    recreated = served_shop.shop.products["GONE"]
    assert recreated.external_id != first_id and recreated.fields == {"price": PRICE}
    assert (conflict["resolutionStatus"], conflict["resolvedBy"]) == ("PIM_WINS", "strategy")
    assert await pending_count(gql) == 0
    assert await listing(gql, "GONE") == {
        "externalId": recreated.external_id,
        "status": "synced",
        "connector": {"code": "shop"},
    }


async def test_a_product_deleted_in_the_shop_stays_off_it_with_channel_wins(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    _, conflict, _ = await delete_in_shop(gql, served_shop, worker, "CHANNEL_WINS")
    assert "GONE" not in served_shop.shop.products and sent(served_shop, "GONE") == []
    assert (conflict["resolutionStatus"], conflict["resolvedBy"]) == ("CHANNEL_WINS", "strategy")
    assert await pending_count(gql) == 0
    assert await listing(gql, "GONE") == {"externalId": None, "status": "excluded", "connector": {"code": "shop"}}

    await upsert(gql, chair("GONE", fr=REWRITTEN[FR]))
    await sync(gql, worker, served_shop)
    assert "GONE" not in served_shop.shop.products and sent(served_shop, "GONE") == [], "an excluded product came back"

    # A forced sync of the whole catalog (a repair run) does not name it: it stays off the channel.
    served_shop.shop.requests.clear()
    forced_all = await trigger(gql, syncType="FULL", forceResync=True)
    assert (await wait_for_job(gql, forced_all["id"], worker=worker))["status"] == "COMPLETED"
    assert "GONE" not in served_shop.shop.products and sent(served_shop, "GONE") == [], (
        "a FULL forced sync re-created it"
    )
    assert (await listing(gql, "GONE"))["status"] == "excluded"

    # A forced sync naming it is how a person puts it back.
    served_shop.shop.requests.clear()
    forced = await trigger(gql, syncType="SINGLE", productSkus=["GONE"], forceResync=True)
    assert (await wait_for_job(gql, forced["id"], worker=worker))["syncedProducts"] == 1
    back = served_shop.shop.products["GONE"]
    assert back.locales["fr"]["title"] == REWRITTEN[FR]
    assert await listing(gql, "GONE") == {
        "externalId": back.external_id,
        "status": "synced",
        "connector": {"code": "shop"},
    }


# -- regressions ----------------------------------------------------------------------------------


async def test_after_an_incremental_update_a_shop_edit_of_the_same_title_is_drift_not_a_conflict(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """The listing's snapshots must move when an incremental sync updates a product (outcomes._bind): with
    the old ones, the PIM's title would look unsent and the shop's edit would be a conflict."""
    await open_store(gql, served_shop, strategy="MANUAL", title="BOTH")
    await upsert(gql, chair("CHAIR"))
    await sync(gql, worker, served_shop)
    await upsert(gql, titled("CHAIR", AR, REWRITTEN[AR]))
    updated = await sync(gql, worker, served_shop, kind="INCREMENTAL")
    assert updated["syncedProducts"] == 1 and titles(served_shop.shop, "CHAIR")[AR] == REWRITTEN[AR]

    served_shop.shop.edit("CHAIR", locales={AR: {"title": EDITED[AR]}})
    job = await sync(gql, worker, served_shop)
    assert job["conflictedProducts"] == 0 and await conflicts(gql) == []
    assert sent(served_shop, "CHAIR") == []
    assert await pim_titles(gql, "CHAIR") == {AR: EDITED[AR], FR: FIRST[FR]}


async def test_the_base_is_what_the_shop_stored_so_its_reformatting_is_no_conflict(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """The shop wraps bare-text descriptions in <p> and shortens prices: the base must be its stored form,
    read back after each write (on create and on update), or every later sync would see the shop's
    form as an edit made in the shop."""
    shop = served_shop.shop
    shop.reformat = True
    description = {"attributeCode": "description", "channelField": "description", "direction": "EXPORT"}
    await open_store(gql, served_shop, strategy="MANUAL", extra=(description,))
    descriptions = {AR: "كرسي مريح", FR: "Chaise confortable"}
    await upsert(gql, chair("CHAIR", price="120.50", descriptions=descriptions))
    await sync(gql, worker, served_shop)
    assert shop.products["CHAIR"].locales[FR]["description"] == "<p>Chaise confortable</p>"
    assert shop.products["CHAIR"].fields["price"] == "120.5"

    await upsert(gql, chair("CHAIR", price=NEW_PRICE, descriptions={**descriptions, FR: "Chaise très confortable"}))
    job = await sync(gql, worker, served_shop)
    [document] = sent(served_shop, "CHAIR")
    assert (document["fields"], document["locales"]) == (
        {"price": NEW_PRICE},
        {FR: {"description": "Chaise très confortable"}},
    )
    assert shop.products["CHAIR"].locales[FR]["description"] == "<p>Chaise très confortable</p>"
    assert shop.products["CHAIR"].fields["price"] == "135"
    assert job["conflictedProducts"] == 0

    again = await sync(gql, worker, served_shop)
    assert sent_products(served_shop) == [] and again["conflictedProducts"] == 0
    assert await conflicts(gql) == []


async def test_a_read_back_refused_for_one_product_leaves_the_others_of_its_group_their_stored_base(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """The read-back after a write asks for the page's products at once; a shop refusing that look-up whole for
    one product it cannot answer for has it split in halves, as the look-up before the write is: the others
    still get the shop's stored form as their base, and their next sync sees no edit in the shop."""
    shop = served_shop.shop
    shop.reformat = True
    shop.unreadable.add("STOOL")
    description = {"attributeCode": "description", "channelField": "description", "direction": "EXPORT"}
    await open_store(gql, served_shop, strategy="MANUAL", extra=(description,))
    descriptions = {FR: "Chaise confortable"}
    await upsert(gql, chair("CHAIR", descriptions=descriptions), chair("STOOL", descriptions=descriptions))
    await sync(gql, worker, served_shop)
    assert shop.products["CHAIR"].locales[FR]["description"] == "<p>Chaise confortable</p>"
    refused = [request for request in shop.requests if request.status == 422]
    assert refused, "the read-back of both products was refused"

    shop.unreadable.clear()
    again = await sync(gql, worker, served_shop)
    assert sent(served_shop, "CHAIR") == [], "the shop's own form of the description read as an edit in the shop"
    assert await conflicts(gql, sku="CHAIR") == []
    assert again["failedProducts"] == 0


async def test_numbers_prices_and_measures_edited_in_the_shop_come_into_the_pim_in_its_own_shapes(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """BOTH mappings of a price, a stock count and a weight (sent in kilograms): the shop's decimal strings and
    whole numbers are written back as the PIM keeps them; the price's other currencies stay, and the weight comes
    back in the unit the mapping sends it in."""
    await open_store(gql, served_shop, strategy="MANUAL")
    mappings = [{"attributeCode": "name", "channelField": "title", "direction": "EXPORT"}] + [
        {"attributeCode": code, "channelField": channel_field, "direction": "BOTH"}
        for code, channel_field in (("price", "price"), ("stock", "quantity"))
    ]
    kilograms = {"convertUnit": "KILOGRAM"}
    mappings.append(
        {"attributeCode": "weight", "channelField": "weight", "direction": "BOTH", "transformation": kilograms}
    )
    assert (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": mappings}))["saveMappings"]["userErrors"] == []
    weight = {"amount": "4.250", "unit": "KILOGRAM"}
    numbers = [value("price", {"EUR": PRICE, "USD": "130.00"}), value("stock", 12), value("weight", weight)]
    names = [value("name", FIRST[locale], PIM_LOCALE[locale]) for locale in (AR, FR)]
    await upsert(gql, {"sku": "STOCKED", "values": [*names, *numbers]})
    await sync(gql, worker, served_shop)
    shop_fields = served_shop.shop.products["STOCKED"].fields
    assert {name: shop_fields.get(name) for name in ("price", "quantity", "weight")} == {
        "price": PRICE,
        "quantity": 12,
        "weight": "4.250",
    }

    served_shop.shop.edit("STOCKED", fields={"quantity": 7, "weight": "4.5", "price": SHOP_PRICE})
    await sync(gql, worker, served_shop)
    assert sent(served_shop, "STOCKED") == [], "drift on BOTH mappings is taken in, not overwritten"
    values = await pim_values(gql, "STOCKED")
    assert values[("stock", None)] == 7
    assert values[("weight", None)] == {"amount": "4.5", "unit": "KILOGRAM"}
    assert values[("price", None)] == {"EUR": SHOP_PRICE, "USD": "130.00"}
    assert await conflicts(gql, sku="STOCKED") == []

    # What came in is now the PIM's: the next sync has nothing to send or take.
    await sync(gql, worker, served_shop)
    assert sent(served_shop, "STOCKED") == []


async def clear_the_shops_eur_price(gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess) -> None:
    """PRICED, priced in EUR and USD on a BOTH price mapping (connector in EUR), synced; then the merchant empties
    its price in the shop, and a sync takes that in."""
    await open_store(gql, served_shop, strategy="MANUAL")
    mappings = [
        {"attributeCode": "name", "channelField": "title", "direction": "EXPORT"},
        {"attributeCode": "price", "channelField": "price", "direction": "BOTH"},
    ]
    assert (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": mappings}))["saveMappings"]["userErrors"] == []
    names = [value("name", FIRST[locale], PIM_LOCALE[locale]) for locale in (AR, FR)]
    await upsert(gql, {"sku": "PRICED", "values": [*names, value("price", {"EUR": PRICE, "USD": "130.00"})]})
    await sync(gql, worker, served_shop)
    served_shop.shop.edit("PRICED", fields={"price": None})
    await sync(gql, worker, served_shop)


async def test_a_price_cleared_in_the_shop_leaves_the_pim_its_other_currencies(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """A merchant empties a product's price in the shop's admin (a BOTH mapping, connector in EUR): the shop only
    ever held the EUR amount, so only EUR leaves the PIM's price; its USD amount stays. (It used to delete the
    whole price, every currency with it, and the next sync of another connector selling in USD would have cleared
    its price too.)"""
    await clear_the_shops_eur_price(gql, served_shop, worker)
    assert (await pim_values(gql, "PRICED"))[("price", None)] == {"USD": "130.00"}
    assert await conflicts(gql, sku="PRICED") == []
    assert "price" not in served_shop.shop.products["PRICED"].fields


async def test_a_price_cleared_in_the_shop_syncs_as_an_empty_price_until_either_side_sets_one(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess
) -> None:
    """Once a merchant's cleared EUR price came in (the PIM keeps only its USD amount), every later sync of the
    product failed with CHN-013 'no price in EUR': the PIM and the shop agreed, both without an EUR price, and the
    product was still failed, its other fields never sent again. On a BOTH mapping a price without the connector's
    currency is the empty price the import wrote: syncs go through, and a price set later on either side goes
    across."""
    await clear_the_shops_eur_price(gql, served_shop, worker)

    for kind in ("FULL", "INCREMENTAL"):
        await sync(gql, worker, served_shop, kind)
        assert sent(served_shop, "PRICED") == [], "nothing changed on either side"
    renamed = {**FIRST, FR: REWRITTEN[FR]}
    await upsert(gql, {"sku": "PRICED", "values": [value("name", REWRITTEN[FR], "fr_FR")]})
    await sync(gql, worker, served_shop)
    [document] = sent(served_shop, "PRICED")
    assert document["locales"][FR] == {"title": REWRITTEN[FR]} and "price" not in document["fields"]
    assert titles(served_shop.shop, "PRICED") == renamed
    assert (await pim_values(gql, "PRICED"))[("price", None)] == {"USD": "130.00"}

    served_shop.shop.edit("PRICED", fields={"price": SHOP_PRICE})
    await sync(gql, worker, served_shop)
    assert (await pim_values(gql, "PRICED"))[("price", None)] == {"EUR": SHOP_PRICE, "USD": "130.00"}
    await upsert(gql, {"sku": "PRICED", "values": [value("price", {"EUR": NEW_PRICE, "USD": "130.00"})]})
    await sync(gql, worker, served_shop)
    assert served_shop.shop.products["PRICED"].fields["price"] == NEW_PRICE
    assert await conflicts(gql, sku="PRICED") == []


@pytest.mark.parametrize(
    ("shop_value", "says"),
    [
        ({"quantity": "lots"}, "'lots' is not a number"),
        ({"price": "-5.00"}, "the EUR amount cannot be negative"),
    ],
)
async def test_a_shop_value_the_pim_cannot_take_fails_the_product_and_changes_nothing(
    gql: GraphQLClient, served_shop: ServedShop, worker: WorkerProcess, shop_value: dict[str, Any], says: str
) -> None:
    """A BOTH mapping whose shop value does not fit the attribute: the product is failed with CHN-011 and why,
    and the PIM keeps its value rather than taking a part of the edit."""
    await open_store(gql, served_shop, strategy="MANUAL")
    mappings = [{"attributeCode": "name", "channelField": "title", "direction": "EXPORT"}] + [
        {"attributeCode": code, "channelField": channel_field, "direction": "BOTH"}
        for code, channel_field in (("price", "price"), ("stock", "quantity"))
    ]
    assert (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": mappings}))["saveMappings"]["userErrors"] == []
    names = [value("name", FIRST[locale], PIM_LOCALE[locale]) for locale in (AR, FR)]
    await upsert(gql, {"sku": "STOCKED", "values": [*names, value("price", {"EUR": PRICE}), value("stock", 12)]})
    await sync(gql, worker, served_shop)

    served_shop.shop.edit("STOCKED", fields=shop_value)
    served_shop.shop.requests.clear()
    job = await wait_for_job(gql, (await trigger(gql))["id"], worker=worker)
    assert (job["status"], job["failedProducts"]) == ("FAILED", 1), job  # its only product
    [error] = [edge["node"] for edge in job["errors"]["edges"]]
    assert (error["productSku"], error["errorCode"]) == ("STOCKED", "CHN-011") and says in error["message"], error
    assert job["failure"] == f"the job's only product failed: CHN-011 {error['message']}"
    values = await pim_values(gql, "STOCKED")
    assert (values[("price", None)], values[("stock", None)]) == ({"EUR": PRICE}, 12)
    assert sent(served_shop, "STOCKED") == []
