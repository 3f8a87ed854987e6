"""Per-locale conflicts while syncing to Shopify: GraphQL API, a real worker, the Shopify emulator.

Each test exports lamps with an English title and description, Arabic and
French translations and a price, then changes the shop the way a merchant
would in the Shopify admin (a translation edited, the description rewritten,
the product deleted) and the catalog the way the catalog team does (over
GraphQL), syncs again and checks what the conflicts API, the PIM and the shop
show afterwards. One worker serves the whole module; each test has its own
tenant and its own emulated shop.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.catalog_fixtures import PRODUCT, UPSERT_ATTRIBUTES, set_up_catalog, upsert, value
from tests.conflict_fixtures import CONFLICTS, diff, field
from tests.conftest import GraphQLClient
from tests.emulators.shopify import ShopifyEmulator
from tests.shopify_fixtures import create_shopify_connector, product_writes, registered, shop_clock, shopify
from tests.sync_fixtures import WorkerProcess, module_worker, trigger, wait_for_job

__all__ = ["module_worker", "shopify"]

LAMP, OTHER_LAMP = "LAMP-1", "LAMP-2"
TITLE = {"en_US": "Brass lamp", "ar_AE": "مصباح نحاسي", "fr_FR": "Lampe en laiton"}
DESCRIPTION = {"en_US": "<p>Hand made lamp</p>", "ar_AE": "<p>مصباح مصنوع يدويا</p>"}

MERCHANT_AR = "مصباح من النحاس"
PIM_AR = "مصباح نحاسي مطروق"
PIM_FR = "Lampe en laiton martelé"
PIM_EN = "Hammered brass lamp"
ARABIC_TITLE = field("title", "name", diff("ar_AE", "ar", TITLE["ar_AE"], PIM_AR, MERCHANT_AR))
"""What a conflict on a lamp's Arabic title lists: one diff, base (what Shopify stored), PIM and shop values."""


def mappings(description: str = "EXPORT") -> list[dict[str, Any]]:
    return [
        {"attributeCode": "name", "channelField": "title", "direction": "EXPORT"},
        {"attributeCode": "description", "channelField": "descriptionHtml", "direction": description},
        {"attributeCode": "price", "channelField": "price", "direction": "EXPORT"},
    ]


def lamp(
    sku: str = LAMP, title: dict[str, str] | None = None, description: dict[str, str] | None = None
) -> dict[str, Any]:
    """A lamp as the catalog team saves it: every value, with the given titles and descriptions changed."""
    names = {**TITLE, **(title or {})}
    descriptions = {**DESCRIPTION, **(description or {})}
    return {
        "sku": sku,
        "values": [
            *(value("name", text, locale) for locale, text in names.items()),
            *(value("description", html, locale, "ecommerce") for locale, html in descriptions.items()),
            value("price", {"EUR": "45.00"}),
        ],
    }


async def save(gql: GraphQLClient, *products: dict[str, Any]) -> None:
    assert (await upsert(gql, *products))["userErrors"] == []


async def exported(
    gql: GraphQLClient,
    shopify: ShopifyEmulator,
    worker: WorkerProcess,
    strategy: str,
    *products: dict[str, Any],
    description: str = "EXPORT",
) -> None:
    """Catalog, a Shopify connector deciding by `strategy`, and the products (LAMP-1 by default) on the shop
    after a first FULL sync; the shop's request log starts empty after it."""
    await set_up_catalog(gql)
    await create_shopify_connector(gql, mappings(description), conflictStrategy=strategy)
    await save(gql, *(products or [lamp()]))
    first = await sync(gql, worker)
    assert (first["syncedProducts"], first["failedProducts"]) == (len(products or [lamp()]), 0), first["errors"]
    shopify.requests.clear()


async def sync(gql: GraphQLClient, worker: WorkerProcess, sync_type: str = "FULL") -> dict[str, Any]:
    done = await wait_for_job(gql, (await trigger(gql, syncType=sync_type))["id"], worker=worker)
    assert done["status"] == "COMPLETED", done
    return done


async def conflicts(gql: GraphQLClient, sku: str | None = None) -> list[dict[str, Any]]:
    found = (await gql(CONFLICTS, {"code": "shop", "sku": sku, "first": 20}))["conflicts"]
    return [edge["node"] for edge in found["edges"]]


async def pending_count(gql: GraphQLClient) -> int:
    return int((await gql('{ connector(code: "shop") { pendingConflictCount } }'))["connector"]["pendingConflictCount"])


async def pim_values(gql: GraphQLClient, attribute: str, sku: str = LAMP) -> dict[str | None, Any]:
    product = (await gql(PRODUCT, {"sku": sku}))["product"]
    return {row["locale"]: row["data"] for row in product["values"] if row["attribute"] == attribute}


def merchant_translates(shopify: ShopifyEmulator, locale: str, key: str, text: str, sku: str = LAMP) -> None:
    """An edit in the admin's translation editor; Shopify keeps a translation's time on the translation, so
    the product's updatedAt stays where it was."""
    shopify.edit_product(sku, translations_by_locale={locale: {key: text}}, fire_webhook=False)


async def arabic_title_edited_on_both_sides(gql: GraphQLClient, shopify: ShopifyEmulator) -> None:
    """The merchant rewrites LAMP-1's Arabic title in Shopify; the catalog team rewrites it differently, and
    also the English and French titles, which nobody touched in Shopify."""
    merchant_translates(shopify, "ar", "title", MERCHANT_AR)
    await save(gql, lamp(title={"en_US": PIM_EN, "ar_AE": PIM_AR, "fr_FR": PIM_FR}))


def nothing_sent(shopify: ShopifyEmulator) -> bool:
    return registered(shopify) == [] and product_writes(shopify) == []


# -- a true conflict on the Arabic title, per strategy -------------------------------------------------


async def test_manual_holds_the_arabic_title_and_exports_the_rest(
    gql: GraphQLClient, shopify: ShopifyEmulator, module_worker: WorkerProcess
) -> None:
    await exported(gql, shopify, module_worker, "MANUAL")
    await arabic_title_edited_on_both_sides(gql, shopify)

    done = await sync(gql, module_worker, "INCREMENTAL")

    assert (done["conflictedProducts"], done["failedProducts"]) == (1, 0), done["errors"]
    [conflict] = await conflicts(gql)
    assert (conflict["productSku"], conflict["conflictType"], conflict["resolutionStatus"]) == (
        LAMP,
        "field_mismatch",
        "PENDING",
    )
    assert conflict["fields"] == [ARABIC_TITLE]
    assert await pending_count(gql) == 1
    # The Arabic title stays the merchant's; the English title and the French translation went out.
    assert shopify.translations(LAMP)["ar"]["title"].value == MERCHANT_AR
    assert shopify.translations(LAMP)["fr"]["title"].value == PIM_FR
    assert shopify.product(LAMP).title == PIM_EN
    assert registered(shopify) == [("fr", "title", PIM_FR)]
    [change] = [edge["node"] for edge in done["changes"]["edges"]]
    assert change["action"] == "CONFLICT"
    assert change["fields"] == [
        {"field": "title", "channelLocale": "en", "before": TITLE["en_US"], "after": PIM_EN, "held": False},
        {"field": "title", "channelLocale": "fr", "before": TITLE["fr_FR"], "after": PIM_FR, "held": False},
        {"field": "title", "channelLocale": "ar", "before": MERCHANT_AR, "after": PIM_AR, "held": True},
    ]

    shopify.requests.clear()
    again = await sync(gql, module_worker)
    assert again["conflictedProducts"] == 1
    assert nothing_sent(shopify), "the held title (or what was already sent) went out again"
    [still] = await conflicts(gql)
    assert (still["id"], still["version"], still["resolutionStatus"]) == (conflict["id"], 1, "PENDING")


async def test_pim_wins_registers_the_arabic_translation_again_on_the_record(
    gql: GraphQLClient, shopify: ShopifyEmulator, module_worker: WorkerProcess
) -> None:
    await exported(gql, shopify, module_worker, "PIM_WINS")
    await arabic_title_edited_on_both_sides(gql, shopify)

    done = await sync(gql, module_worker, "INCREMENTAL")

    assert done["failedProducts"] == 0, done["errors"]
    assert sorted(registered(shopify)) == [("ar", "title", PIM_AR), ("fr", "title", PIM_FR)]
    arabic = shopify.translations(LAMP)["ar"]["title"]
    assert arabic.value == PIM_AR and not shopify.product(LAMP).is_outdated(arabic)
    [conflict] = await conflicts(gql)
    assert (conflict["resolutionStatus"], conflict["resolvedBy"]) == ("PIM_WINS", "strategy")
    assert conflict["resolvedAt"] is not None
    assert conflict["fields"] == [ARABIC_TITLE]
    assert await pending_count(gql) == 0


async def test_channel_wins_on_an_export_mapping_keeps_the_merchants_arabic_title(
    gql: GraphQLClient, shopify: ShopifyEmulator, module_worker: WorkerProcess
) -> None:
    await exported(gql, shopify, module_worker, "CHANNEL_WINS")
    await arabic_title_edited_on_both_sides(gql, shopify)

    done = await sync(gql, module_worker, "INCREMENTAL")

    assert done["failedProducts"] == 0, done["errors"]
    assert registered(shopify) == [("fr", "title", PIM_FR)], "the merchant's Arabic title was overwritten"
    assert shopify.translations(LAMP)["ar"]["title"].value == MERCHANT_AR
    assert shopify.product(LAMP).title == PIM_EN
    [conflict] = await conflicts(gql)
    assert (conflict["resolutionStatus"], conflict["resolvedBy"]) == ("CHANNEL_WINS", "strategy")
    assert conflict["fields"] == [ARABIC_TITLE]
    assert await pending_count(gql) == 0
    assert (await pim_values(gql, "name"))["ar_AE"] == PIM_AR, "an EXPORT mapping took the shop's value in"

    shopify.requests.clear()
    again = await sync(gql, module_worker)
    assert (again["conflictedProducts"], again["skippedProducts"]) == (0, 1)
    assert nothing_sent(shopify), "the kept Arabic title was overwritten on the next sync"
    assert len(await conflicts(gql)) == 1


async def test_a_new_english_title_keeps_the_arabic_title_channel_wins_kept_and_current(
    gql: GraphQLClient, shopify: ShopifyEmulator, module_worker: WorkerProcess
) -> None:
    """After CHANNEL_WINS kept the merchant's Arabic title, a new English title makes Shopify flag the
    translations outdated: the one registered again is the merchant's, never the PIM's it lost to."""
    await exported(gql, shopify, module_worker, "CHANNEL_WINS")
    await arabic_title_edited_on_both_sides(gql, shopify)
    await sync(gql, module_worker, "INCREMENTAL")
    await save(gql, lamp(title={"en_US": "Hammered brass desk lamp", "ar_AE": PIM_AR, "fr_FR": PIM_FR}))
    shopify.requests.clear()

    done = await sync(gql, module_worker, "INCREMENTAL")

    assert (done["syncedProducts"], done["failedProducts"]) == (1, 0), done["errors"]
    arabic = shopify.translations(LAMP)["ar"]["title"]
    assert arabic.value == MERCHANT_AR, "the PIM's Arabic title overwrote what CHANNEL_WINS kept"
    assert not shopify.product(LAMP).is_outdated(arabic)
    assert ("ar", "title", PIM_AR) not in registered(shopify)


async def test_newest_wins_goes_by_when_each_side_changed_the_arabic_title(
    gql: GraphQLClient, shopify: ShopifyEmulator, module_worker: WorkerProcess
) -> None:
    clock = shop_clock(shopify)
    clock.advance(-60)  # the shop's edits below happen a minute before, then a minute after, the PIM's
    await exported(gql, shopify, module_worker, "NEWEST_WINS", lamp(LAMP), lamp(OTHER_LAMP))
    merchant_translates(shopify, "ar", "title", MERCHANT_AR, sku=OTHER_LAMP)
    await save(gql, *(lamp(sku, title={"ar_AE": PIM_AR, "fr_FR": PIM_FR}) for sku in (LAMP, OTHER_LAMP)))
    clock.advance(120)
    merchant_translates(shopify, "ar", "title", MERCHANT_AR, sku=LAMP)

    done = await sync(gql, module_worker, "INCREMENTAL")

    assert done["failedProducts"] == 0, done["errors"]
    # LAMP-1: the merchant's edit is the newer one and stays; LAMP-2: the catalog team's is and goes out.
    assert shopify.translations(LAMP)["ar"]["title"].value == MERCHANT_AR
    assert shopify.translations(OTHER_LAMP)["ar"]["title"].value == PIM_AR
    assert sorted(registered(shopify)) == [("ar", "title", PIM_AR), ("fr", "title", PIM_FR), ("fr", "title", PIM_FR)]
    [kept] = await conflicts(gql, LAMP)
    assert (kept["resolutionStatus"], kept["fields"]) == ("CHANNEL_WINS", [ARABIC_TITLE])
    [overwritten] = await conflicts(gql, OTHER_LAMP)
    assert (overwritten["resolutionStatus"], overwritten["fields"]) == ("PIM_WINS", [ARABIC_TITLE])
    times = [datetime.fromisoformat(moment) for moment in (kept["channelModifiedAt"], kept["pimModifiedAt"])]
    times.append(datetime.fromisoformat(overwritten["channelModifiedAt"]))
    assert times == sorted(times, reverse=True), "the conflicts do not show when each side changed"


# -- the other rows of the three-way table -------------------------------------------------------------


async def test_a_description_rewritten_in_shopify_is_taken_into_the_pim_and_not_sent_back(
    gql: GraphQLClient, shopify: ShopifyEmulator, module_worker: WorkerProcess
) -> None:
    await exported(gql, shopify, module_worker, "MANUAL", description="BOTH")
    english, arabic = "<p>Hand made in Fez</p>", "<p>صنع يدويا في فاس</p>"
    shopify.edit_product(
        LAMP,
        fields={"descriptionHtml": english},
        translations_by_locale={"ar": {"body_html": arabic}},
        fire_webhook=False,
    )

    done = await sync(gql, module_worker)

    assert (done["conflictedProducts"], done["failedProducts"]) == (0, 0), done["errors"]
    assert await pim_values(gql, "description") == {"en_US": english, "ar_AE": arabic}
    assert await conflicts(gql) == []
    assert nothing_sent(shopify)

    again = await sync(gql, module_worker, "INCREMENTAL")
    assert again["totalProducts"] == 1, "taking the shop's values in did not count as a change of the product"
    assert nothing_sent(shopify), "the values taken from the shop bounced back to it"
    assert shopify.product(LAMP).description_html == english
    assert shopify.translations(LAMP)["ar"]["body_html"].value == arabic


async def test_both_sides_changing_to_the_same_titles_is_no_conflict_and_sends_nothing(
    gql: GraphQLClient, shopify: ShopifyEmulator, module_worker: WorkerProcess
) -> None:
    await exported(gql, shopify, module_worker, "MANUAL")
    merchant_translates(shopify, "ar", "title", PIM_AR)
    merchant_translates(shopify, "fr", "title", PIM_FR)
    await save(gql, lamp(title={"ar_AE": PIM_AR, "fr_FR": PIM_FR}))

    done = await sync(gql, module_worker, "INCREMENTAL")

    assert (done["conflictedProducts"], done["failedProducts"], done["skippedProducts"]) == (0, 0, 1), done
    assert await conflicts(gql) == []
    assert nothing_sent(shopify)


async def test_an_arabic_title_both_sides_changed_alike_stays_current_when_the_english_title_changes(
    gql: GraphQLClient, shopify: ShopifyEmulator, module_worker: WorkerProcess
) -> None:
    """The merchant types in Shopify the Arabic title the catalog team gives the lamp, which also gets a new
    English title: the Arabic one converged, and is registered again against the new English source, so the shop
    does not flag it for review as outdated."""
    await exported(gql, shopify, module_worker, "MANUAL")
    merchant_translates(shopify, "ar", "title", PIM_AR)
    await save(gql, lamp(title={"en_US": PIM_EN, "ar_AE": PIM_AR}))

    done = await sync(gql, module_worker, "INCREMENTAL")

    assert (done["syncedProducts"], done["conflictedProducts"], done["failedProducts"]) == (1, 0, 0), done
    assert shopify.product(LAMP).title == PIM_EN
    titles = shopify.translations(LAMP)
    assert (titles["ar"]["title"].value, titles["fr"]["title"].value) == (PIM_AR, TITLE["fr_FR"])
    assert [locale for locale in ("ar", "fr") if shopify.product(LAMP).is_outdated(titles[locale]["title"])] == []


async def test_a_description_shopify_reformats_is_compared_with_what_it_stored(
    gql: GraphQLClient, shopify: ShopifyEmulator, module_worker: WorkerProcess
) -> None:
    shopify.state.reformat_html = True
    await exported(gql, shopify, module_worker, "MANUAL", lamp(description={"en_US": "<p>Oak & brass<br/>lamp</p>"}))
    assert shopify.product(LAMP).description_html == "<p>Oak &amp; brass<br>lamp</p>"

    again = await sync(gql, module_worker)

    assert (again["conflictedProducts"], again["skippedProducts"]) == (0, 1), again
    assert await conflicts(gql) == []
    assert nothing_sent(shopify)


async def test_a_product_deleted_in_shopify_is_a_conflict_never_a_silent_re_create(
    gql: GraphQLClient, shopify: ShopifyEmulator, module_worker: WorkerProcess
) -> None:
    await exported(gql, shopify, module_worker, "MANUAL", lamp(LAMP), lamp(OTHER_LAMP))
    shopify.delete_product(LAMP, fire_webhook=False)
    shopify.delete_product(OTHER_LAMP, fire_webhook=False)
    await save(gql, lamp(OTHER_LAMP, title={"ar_AE": PIM_AR}))  # one of them has something to send

    done = await sync(gql, module_worker)

    assert (done["conflictedProducts"], done["failedProducts"]) == (2, 0), done["errors"]
    found = {conflict["productSku"]: conflict for conflict in await conflicts(gql)}
    assert {sku: (c["conflictType"], c["resolutionStatus"]) for sku, c in found.items()} == {
        LAMP: ("missing_on_channel", "PENDING"),
        OTHER_LAMP: ("missing_on_channel", "PENDING"),
    }
    assert await pending_count(gql) == 2
    assert shopify.products == []
    assert nothing_sent(shopify)


# -- values Shopify holds differently from how it was sent ----------------------------------------------


async def test_unpublishing_a_language_in_shopify_leaves_its_values_in_the_pim(
    gql: GraphQLClient, shopify: ShopifyEmulator, module_worker: WorkerProcess
) -> None:
    await exported(gql, shopify, module_worker, "MANUAL", description="BOTH")
    shopify.set_locale_published("ar", False)  # the merchant hides Arabic from the storefront for a while

    done = await sync(gql, module_worker)

    assert (done["conflictedProducts"], done["failedProducts"]) == (0, 0), done["errors"]
    assert await conflicts(gql) == []
    assert await pim_values(gql, "description") == DESCRIPTION
    assert nothing_sent(shopify)


async def test_stock_held_at_another_location_is_not_taken_into_the_pim(
    gql: GraphQLClient, shopify: ShopifyEmulator, module_worker: WorkerProcess
) -> None:
    await set_up_catalog(gql)
    stock = {"attributeCode": "stock", "channelField": "inventoryQuantity", "direction": "BOTH"}
    await create_shopify_connector(gql, [*mappings(), stock], conflictStrategy="MANUAL")
    product = lamp()
    product["values"].append(value("stock", 7))
    await save(gql, product)
    first = await sync(gql, module_worker)
    assert (first["syncedProducts"], first["failedProducts"]) == (1, 0), first["errors"]
    warehouse = shopify.add_location("Warehouse")
    quantities = {"inventoryQuantities": [{"locationId": warehouse.gid, "name": "available", "quantity": 5}]}
    shopify.edit_product(LAMP, variants={LAMP: quantities}, fire_webhook=False)
    shopify.requests.clear()

    done = await sync(gql, module_worker)

    assert (done["conflictedProducts"], done["failedProducts"]) == (0, 0), done["errors"]
    assert await conflicts(gql) == []
    assert [str(data) for data in (await pim_values(gql, "stock")).values()] == ["7"]
    assert shopify.product(LAMP).variants[0].levels[shopify.state.locations[0].id]["available"] == 7


async def test_an_image_shopify_is_still_processing_is_no_conflict_and_is_not_sent_again(
    gql: GraphQLClient, shopify: ShopifyEmulator, module_worker: WorkerProcess
) -> None:
    await set_up_catalog(gql)
    picture = {"code": "picture", "type": "TEXT", "localizable": False}
    assert (await gql(UPSERT_ATTRIBUTES, {"attributes": [picture]}))["upsertAttributes"]["userErrors"] == []
    image = {"attributeCode": "picture", "channelField": "imageUrl", "direction": "BOTH"}
    await create_shopify_connector(gql, [*mappings(), image], conflictStrategy="MANUAL")
    source = "https://images.example.com/lamp.jpg"
    product = lamp()
    product["values"].append(value("picture", source))
    await save(gql, product)
    first = await sync(gql, module_worker)
    assert (first["syncedProducts"], first["failedProducts"]) == (1, 0), first["errors"]
    assert [media.status for media in shopify.product(LAMP).media] == ["PROCESSING"]
    shopify.requests.clear()

    again = await sync(gql, module_worker)
    shopify.process_media()
    processed = await sync(gql, module_worker)

    for done in (again, processed):
        assert (done["conflictedProducts"], done["failedProducts"]) == (0, 0), done["errors"]
    assert await conflicts(gql) == []
    assert nothing_sent(shopify)
    assert await pim_values(gql, "picture") == {None: source}
