"""Syncing to Shopify end to end: GraphQL API, a real worker, the Shopify emulator (pinned 2026-04 schema).

The emulator validates every document against Shopify's official schema,
applies the cost bucket and records anything it does not implement, which
each test checks stays empty.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.catalog_fixtures import UPSERT_ATTRIBUTES, set_up_catalog, upsert, value
from tests.conftest import GraphQLClient
from tests.connector_fixtures import PREVIEW
from tests.emulators.shopify import ShopifyEmulator
from tests.shopify_fixtures import LOCALE_MAPPING, create_shopify_connector, sample_product, shopify
from tests.sync_fixtures import WorkerProcess, module_worker, outcome, trigger, wait_for_job

__all__ = ["module_worker", "shopify"]


@pytest.fixture
def worker(module_worker: WorkerProcess) -> WorkerProcess:
    """The module's one worker: every test has its own tenant and its own emulator behind the switch."""
    return module_worker


MAPPINGS = [
    {"attributeCode": "name", "channelField": "title", "direction": "EXPORT"},
    {"attributeCode": "description", "channelField": "descriptionHtml", "direction": "EXPORT"},
    {"attributeCode": "price", "channelField": "price", "direction": "EXPORT"},
]


def lamp(number: int, fr: str | None = None) -> dict[str, Any]:
    return {
        "sku": f"LAMP-{number}",
        "values": [
            value("name", f"Brass lamp {number}", "en_US"),
            value("name", f"مصباح نحاسي {number}", "ar_AE"),
            value("name", fr or f"Lampe en laiton {number}", "fr_FR"),
            value("description", f"<p>Hand made lamp <b>{number}</b></p>", "en_US", "ecommerce"),
            value("description", f"<p>مصباح مصنوع يدويا {number}</p>", "ar_AE", "ecommerce"),
            value("price", {"EUR": f"{40 + number}.00"}),
        ],
    }


@pytest.fixture
async def shopify_sync(gql: GraphQLClient, shopify: ShopifyEmulator) -> GraphQLClient:
    await set_up_catalog(gql)
    await create_shopify_connector(gql, MAPPINGS)
    await upsert(gql, *(lamp(n) for n in range(12)))
    return gql


async def test_products_and_translations_reach_shopify(
    shopify_sync: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    done = await wait_for_job(shopify_sync, (await trigger(shopify_sync))["id"], worker=worker)
    assert (done["status"], done["syncedProducts"], done["failedProducts"]) == ("COMPLETED", 12, 0), done["errors"]
    product = shopify.product("LAMP-3")
    assert product.title == "Brass lamp 3"
    translations = shopify.translations("LAMP-3")
    assert translations["ar"]["title"].value == "مصباح نحاسي 3"
    assert translations["fr"]["title"].value == "Lampe en laiton 3"
    assert translations["ar"]["body_html"].value == "<p>مصباح مصنوع يدويا 3</p>"
    assert "body_html" not in translations.get("fr", {}), "English fallback went out as a French translation"
    assert len(shopify.products) == 12


async def test_an_incremental_sync_registers_only_the_changed_translation(
    shopify_sync: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    await wait_for_job(shopify_sync, (await trigger(shopify_sync))["id"], worker=worker)
    shopify.requests.clear()
    await upsert(shopify_sync, lamp(5, fr="Lampe de chevet 5"))
    done = await wait_for_job(shopify_sync, (await trigger(shopify_sync, syncType="INCREMENTAL"))["id"], worker=worker)
    assert (done["totalProducts"], done["syncedProducts"]) == (1, 1)
    assert shopify.translations("LAMP-5")["fr"]["title"].value == "Lampe de chevet 5"
    assert shopify.graphql_requests("ProductSet") == [], "the unchanged primary locale was written again"
    assert len(shopify.graphql_requests("TranslationsRegister")) == 1


async def test_a_run_served_by_another_version_than_the_pinned_one_warns_once_in_the_worker_s_log(
    shopify_sync: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    """Shopify serves a retired version from the oldest one it supports, saying which only in a header: the run
    goes on (its answers still read), and the worker says it once, not for each of the run's many requests."""
    shopify.retire_version(served_by="2026-07")
    before = worker.log().count("shopify.api_version_served")
    done = await wait_for_job(shopify_sync, (await trigger(shopify_sync))["id"], worker=worker)
    assert (done["status"], done["syncedProducts"]) == ("COMPLETED", 12), done["errors"]
    assert len(shopify.graphql_requests()) > 12
    warnings = [line for line in worker.log().splitlines() if "shopify.api_version_served" in line][before:]
    assert len(warnings) == 1, worker.output()
    assert "2026-07" in warnings[0] and "2026-04" in warnings[0] and "warning" in warnings[0]


async def test_a_connector_served_by_another_version_is_warned_of_once_per_worker(
    shopify_sync: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    """Each chunk, job, webhook check and resolution has an adapter of its own, and each adapter warned anew:
    up to four warnings a job, more every job after, for the one fact that the shop serves another version."""
    shopify.retire_version(served_by="2026-07")
    before = worker.log().count("shopify.api_version_served")
    for _ in range(2):
        done = await wait_for_job(shopify_sync, (await trigger(shopify_sync))["id"], worker=worker)
        assert done["status"] == "COMPLETED", done["errors"]
    warnings = [line for line in worker.log().splitlines() if "shopify.api_version_served" in line][before:]
    assert len(warnings) == 1, worker.output()


async def dry_then_real(gql: GraphQLClient, worker: WorkerProcess, product_sku: str) -> tuple[dict[str, Any], ...]:
    """A SINGLE dry run of `product_sku`, then the real run of it: both jobs as the API shows them."""
    single = {"syncType": "SINGLE", "productSkus": [product_sku]}
    dry = await wait_for_job(gql, (await trigger(gql, **single, dryRun=True))["id"], worker=worker)
    real = await wait_for_job(gql, (await trigger(gql, **single))["id"], worker=worker)
    return dry, real


async def test_a_dry_run_fails_a_new_product_without_a_title_as_the_real_run_does(
    shopify_sync: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    """Shopify creates no product without a title in its primary locale (the adapter refuses it before sending,
    CHN-010): a dry run says FAIL with that code and message, not CREATE."""
    await upsert(shopify_sync, {"sku": "LAMP-X", "values": [value("price", {"EUR": "9.00"})]})
    dry, real = await dry_then_real(shopify_sync, worker, "LAMP-X")
    actions, errors = outcome(dry, "LAMP-X")
    assert actions == ["FAIL"], dry["changes"]
    english = [error for error in errors if error[0] == "en"]
    assert english == [("en", "CHN-010", "title is required and has no value in en_US")], "one problem, once"
    assert outcome(real, "LAMP-X") == (actions, errors)
    assert (dry["failedProducts"], dry["syncedProducts"]) == (real["failedProducts"], real["syncedProducts"]) == (1, 0)
    assert shopify.graphql_requests("ProductSet") == []


async def test_a_dry_run_fails_an_update_clearing_the_price_as_the_real_run_does(
    shopify_sync: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    """A Shopify variant cannot be without a price: a PIM price emptied fails the update before sending (CHN-010),
    and a dry run of it says so instead of UPDATE to nothing."""
    single = {"syncType": "SINGLE", "productSkus": ["LAMP-4"]}
    assert (await wait_for_job(shopify_sync, (await trigger(shopify_sync, **single))["id"], worker=worker))[
        "syncedProducts"
    ] == 1
    await upsert(shopify_sync, {"sku": "LAMP-4", "values": [value("price", None)]})
    shopify.requests.clear()
    dry, real = await dry_then_real(shopify_sync, worker, "LAMP-4")
    actions, errors = outcome(dry, "LAMP-4")
    assert (actions, errors) == (["FAIL"], [(None, "CHN-010", "price cannot be cleared: Shopify requires one")])
    assert outcome(real, "LAMP-4") == (actions, errors)
    assert (dry["failedProducts"], real["failedProducts"]) == (1, 1)
    assert shopify.graphql_requests("ProductSet") == []
    assert shopify.product("LAMP-4").variants[0].price == "44.00"


async def test_a_dry_run_fails_a_barcode_longer_than_shopify_stores_as_the_real_run_does(
    gql: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    """Shopify stores a barcode of at most 255 characters: the product is refused before sending, the field named,
    and the dry run says the same FAIL (it said CREATE, and the real run failed on Shopify's userError)."""
    await set_up_catalog(gql)
    ean = {"code": "ean", "type": "TEXT", "localizable": False}
    assert (await gql(UPSERT_ATTRIBUTES, {"attributes": [ean]}))["upsertAttributes"]["userErrors"] == []
    barcode = {"attributeCode": "ean", "channelField": "barcode", "direction": "EXPORT"}
    await create_shopify_connector(gql, [*MAPPINGS, barcode])
    product = lamp(1)
    await upsert(gql, {**product, "values": [*product["values"], value("ean", "9" * 256)]})
    dry, real = await dry_then_real(gql, worker, "LAMP-1")
    actions, errors = outcome(dry, "LAMP-1")
    assert actions == ["FAIL"], dry["changes"]
    assert errors == [(None, "CHN-011", "barcode is 256 characters long; the channel takes at most 255")], errors
    assert outcome(real, "LAMP-1") == (actions, errors)
    assert shopify.graphql_requests("ProductSet") == [] and shopify.products == []


async def test_a_sync_whose_image_add_lost_its_answer_leaves_one_copy_of_the_image(
    gql: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    """The engine retries a product whose write came back 502; Shopify had added the new image, and the retry
    added it again. The job now goes through and the shop holds the new image once, the old one gone."""
    await set_up_catalog(gql)
    picture = {"code": "picture", "type": "TEXT", "localizable": False}
    assert (await gql(UPSERT_ATTRIBUTES, {"attributes": [picture]}))["upsertAttributes"]["userErrors"] == []
    image = {"attributeCode": "picture", "channelField": "imageUrl", "direction": "EXPORT"}
    await create_shopify_connector(gql, [*MAPPINGS, image])
    product = lamp(1)
    await upsert(gql, {**product, "values": [*product["values"], value("picture", "https://images.example.com/a.jpg")]})
    first = await wait_for_job(gql, (await trigger(gql))["id"], worker=worker)
    assert (first["syncedProducts"], first["failedProducts"]) == (1, 0), first["errors"]
    new = "https://images.example.com/b.jpg"
    await upsert(gql, {"sku": "LAMP-1", "values": [value("picture", new)]})
    shopify.lose_answer("ProductMediaAdd")
    done = await wait_for_job(gql, (await trigger(gql))["id"], worker=worker)
    assert (done["syncedProducts"], done["failedProducts"]) == (1, 0), done["errors"]
    assert len(shopify.graphql_requests("ProductMediaAdd")) == 1
    assert [media.source for media in shopify.product("LAMP-1").media] == [new]


async def test_a_product_already_on_shopify_is_linked_by_sku(
    shopify_sync: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    existing = shopify.seed_simple_product("Old lamp", "LAMP-2")
    done = await wait_for_job(shopify_sync, (await trigger(shopify_sync))["id"], worker=worker)
    assert (done["syncedProducts"], done["failedProducts"]) == (12, 0)
    assert len(shopify.products) == 12
    assert shopify.product("LAMP-2").id == existing.id
    assert shopify.product("LAMP-2").title == "Brass lamp 2"


async def test_the_pim_s_stock_reaches_a_linked_product_stocked_elsewhere_and_is_enforced(
    gql: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    """The merchant's own copper bedside light (Shopify's sample product: 2 held in a warehouse, inventory not
    tracked) carries the PIM's SKU: the PIM's stock lands at the connector's location, which Shopify had not
    stocked it at, and is tracked, so Shopify stops selling past it."""
    await set_up_catalog(gql)
    stock = {"attributeCode": "stock", "channelField": "inventoryQuantity", "direction": "EXPORT"}
    await create_shopify_connector(gql, [*MAPPINGS, stock])
    warehouse = shopify.add_location("Warehouse")
    row = sample_product("home-and-garden.csv", "copper-light")
    existing = shopify.seed_csv_product(row, sku="LAMP-1", location=warehouse)
    product = lamp(1)
    product["values"].append(value("stock", 9))
    await upsert(gql, product)

    done = await wait_for_job(gql, (await trigger(gql))["id"], worker=worker)

    assert (done["status"], done["syncedProducts"], done["failedProducts"]) == ("COMPLETED", 1, 0), done["errors"]
    assert shopify.product("LAMP-1").id == existing.id
    variant = shopify.product("LAMP-1").variants[0]
    primary = shopify.state.locations[0]
    assert (variant.levels[primary.id]["available"], variant.levels[warehouse.id]["available"]) == (9, 2)
    assert variant.tracked


async def test_a_true_false_attribute_sets_the_shopify_status_through_a_value_map(
    gql: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    """active -> status with {"true": "ACTIVE", "false": "DRAFT"}: a product switched off in the PIM is a draft."""
    await set_up_catalog(gql)
    status = {
        "attributeCode": "active",
        "channelField": "status",
        "direction": "EXPORT",
        "transformation": {"valueMap": {"true": "ACTIVE", "false": "DRAFT"}},
    }
    await create_shopify_connector(gql, [*MAPPINGS, status])
    on, off = lamp(1), lamp(2)
    on["values"].append(value("active", True))
    off["values"].append(value("active", False))
    await upsert(gql, on, off)
    done = await wait_for_job(gql, (await trigger(gql))["id"], worker=worker)
    assert (done["status"], done["syncedProducts"], done["failedProducts"]) == ("COMPLETED", 2, 0), done["errors"]
    assert (shopify.product("LAMP-1").status, shopify.product("LAMP-2").status) == ("ACTIVE", "DRAFT")


async def test_a_language_the_merchant_has_not_published_yet_can_be_mapped_and_translated(
    gql: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    """Shopify takes translations into an added but unpublished language (merchants translate before going
    live): the emulated shop's German is one."""
    await set_up_catalog(gql, locales=("en_US", "ar_AE", "ar", "fr_FR", "de_DE"))
    german = [*LOCALE_MAPPING, {"pimLocale": "de_DE", "channelLocale": "de"}]
    await create_shopify_connector(gql, MAPPINGS, localeMapping=german)
    product = lamp(1)
    product["values"].append(value("name", "Messinglampe 1", "de_DE"))
    await upsert(gql, product)
    done = await wait_for_job(gql, (await trigger(gql))["id"], worker=worker)
    assert (done["status"], done["syncedProducts"], done["failedProducts"]) == ("COMPLETED", 1, 0), done["errors"]
    assert shopify.translations("LAMP-1")["de"]["title"].value == "Messinglampe 1"


async def test_a_changed_english_title_leaves_the_unchanged_translations_current(
    shopify_sync: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    """Shopify marks a translation outdated once its source text changes: the PIM's Arabic and French titles,
    unchanged, are registered again against the new English title, so the shop does not flag them for review."""
    await wait_for_job(shopify_sync, (await trigger(shopify_sync))["id"], worker=worker)
    renamed = lamp(5)
    renamed["values"][0] = value("name", "Brass desk lamp 5", "en_US")
    await upsert(shopify_sync, renamed)
    done = await wait_for_job(shopify_sync, (await trigger(shopify_sync, syncType="INCREMENTAL"))["id"], worker=worker)
    assert (done["totalProducts"], done["syncedProducts"], done["failedProducts"]) == (1, 1, 0), done["errors"]
    product = shopify.product("LAMP-5")
    assert product.title == "Brass desk lamp 5"
    titles = {locale: found["title"] for locale, found in shopify.translations("LAMP-5").items()}
    assert {locale: t.value for locale, t in titles.items()} == {"ar": "مصباح نحاسي 5", "fr": "Lampe en laiton 5"}
    assert [locale for locale, t in titles.items() if product.is_outdated(t)] == []
    body = shopify.translations("LAMP-5")["ar"]["body_html"]
    assert not product.is_outdated(body)


async def test_a_title_longer_than_shopify_stores_is_reported_once_as_too_long(
    shopify_sync: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    """An over-long title is one problem: too long (CHN-011). It was reported a second time as a missing title
    ("title is required to create a product"), since the English part it kept back left none to create it with."""
    await upsert(shopify_sync, {"sku": "LAMP-1", "values": [value("name", "L" * 256, "en_US")]})
    dry, real = await dry_then_real(shopify_sync, worker, "LAMP-1")
    actions, errors = outcome(real, "LAMP-1")
    assert actions == ["FAIL"], real["changes"]
    assert errors == [("en", "CHN-011", "title is 256 characters long; the channel takes at most 255")], errors
    assert outcome(dry, "LAMP-1") == (actions, errors)
    assert shopify.products == []


async def test_the_preview_reports_a_translation_with_no_primary_locale_text_as_the_sync_fails_it(
    gql: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    """A French description with no English one (the shop's primary locale, known from the connection test):
    Shopify has no source text to translate, so the sync fails the French description (CHN-010). The preview said
    willSend with no problem; it now reports the same problem, without asking the shop."""
    await set_up_catalog(gql)
    await create_shopify_connector(gql, MAPPINGS)
    french_only = [
        value("name", "Brass lamp", "en_US"),
        value("name", "مصباح نحاسي", "ar_AE"),
        value("name", "Lampe en laiton", "fr_FR"),
        value("description", "<p>Lampe faite main</p>", "fr_FR", "ecommerce"),
        value("price", {"EUR": "41.00"}),
    ]
    await upsert(gql, {"sku": "LAMP-FR", "values": french_only})
    shopify.requests.clear()
    previews = (await gql(PREVIEW, {"code": "shop", "sku": "LAMP-FR"}))["exportPreview"]
    shown = {item["channelLocale"]: item for item in previews}
    assert shopify.requests == [], "the preview asked the shop"
    message = "descriptionHtml: the primary locale has no value to translate"
    assert shown["fr"]["problems"] == [{"field": ["descriptionHtml"], "message": message, "code": "CHN-010"}]
    assert shown["en"]["problems"] == [] and shown["ar"]["problems"] == []

    single = {"syncType": "SINGLE", "productSkus": ["LAMP-FR"]}
    done = await wait_for_job(gql, (await trigger(gql, **single))["id"], worker=worker)
    _, errors = outcome(done, "LAMP-FR")
    assert errors == [("fr", "CHN-010", f"[fr] {message}")], errors


async def test_the_preview_reports_a_price_the_pim_lacks_as_the_sync_refuses_it(
    gql: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    """A product without a price (1,052 of Akeneo's 1,239 demo products have none): under whenEmpty CLEAR the
    price goes as a clear, which Shopify cannot take, so the sync fails the product (CHN-010) before sending it.
    The preview said willSend with no problem in every locale; it now says why, in the sync's words, without
    asking the shop."""
    await set_up_catalog(gql)
    await create_shopify_connector(gql, MAPPINGS)
    names = [value("name", "Brass lamp", "en_US"), value("name", "مصباح نحاسي", "ar_AE")]
    await upsert(gql, {"sku": "LAMP-0", "values": [*names, value("name", "Lampe en laiton", "fr_FR")]})
    shopify.requests.clear()
    previews = (await gql(PREVIEW, {"code": "shop", "sku": "LAMP-0"}))["exportPreview"]
    assert shopify.requests == [], "the preview asked the shop"
    message = "price cannot be cleared: Shopify requires one"
    assert [shown["channelLocale"] for shown in previews] == ["en", "ar", "fr"]
    for shown in previews:
        assert shown["fields"]["price"] is None
        assert shown["problems"] == [{"field": ["price"], "message": message, "code": "CHN-010"}], shown
        assert shown["willSend"] is False, "the sync sends no locale of a product the shop refuses whole"

    single = {"syncType": "SINGLE", "productSkus": ["LAMP-0"]}
    done = await wait_for_job(gql, (await trigger(gql, **single))["id"], worker=worker)
    assert outcome(done, "LAMP-0") == (["FAIL"], [(None, "CHN-010", message)])
    assert shopify.products == []


async def test_a_weight_converted_by_its_mapping_goes_to_shopify_in_that_unit_whatever_the_shops(
    gql: GraphQLClient, shopify: ShopifyEmulator, worker: WorkerProcess
) -> None:
    """A weight mapped with {"convertUnit": "KILOGRAM"} went as the amount alone, and Shopify took it in the unit
    the variant or the shop had: in a shop weighing in pounds, a 1,500 g lamp (Akeneo weighs its products in GRAM
    and KILOGRAM) was listed at 1.5 lb. The weight unit now goes with it, and the preview shows it."""
    shopify.state.shop.weight_unit = "POUNDS"  # before the service talks to the shop
    await set_up_catalog(gql)
    weight = {"attributeCode": "weight", "channelField": "weight", "direction": "EXPORT"}
    await create_shopify_connector(gql, [*MAPPINGS, {**weight, "transformation": {"convertUnit": "KILOGRAM"}}])
    await upsert(gql, {**lamp(1), "sku": "LAMP-W"})
    await upsert(gql, {"sku": "LAMP-W", "values": [value("weight", {"amount": "1500", "unit": "GRAM"})]})
    previews = (await gql(PREVIEW, {"code": "shop", "sku": "LAMP-W"}))["exportPreview"]
    for shown in previews:
        assert (shown["fields"]["weight"], shown["fields"]["weightUnit"]) == ("1.5", "KILOGRAMS"), shown
        assert shown["sources"]["weightUnit"] == "authored" and shown["problems"] == []

    single = {"syncType": "SINGLE", "productSkus": ["LAMP-W"]}
    done = await wait_for_job(gql, (await trigger(gql, **single))["id"], worker=worker)
    assert (done["status"], done["syncedProducts"]) == ("COMPLETED", 1), done["errors"]
    [variant] = shopify.product("LAMP-W").variants
    assert variant.weight is not None and (variant.weight.value, variant.weight.unit) == (1.5, "KILOGRAMS")
