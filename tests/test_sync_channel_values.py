"""What a channel answers that the service cannot store as it came: an external id longer than a listing holds,
a locale named at length in a product's error. Either one failed the page's write on PostgreSQL (and was stored
whole on SQLite); now the id fails its product alone, and the locale is cut, marked as cut.

The pipeline runs in this process (run_here): no worker takes these tests' queue messages.
"""

from __future__ import annotations

from app.container import Container
from app.db.models import Listing, SyncJobError
from tests.conftest import GraphQLClient
from tests.connector_fixtures import ServedShop, served_shop
from tests.sync_fixtures import LISTINGS, PRODUCTS, outcome, run_here, sent_products, shop_sync, sku

__all__ = ["served_shop", "shop_sync"]

ID_LENGTH = Listing.external_id.type.length
LOCALE_LENGTH = SyncJobError.locale.type.length
TOO_LONG_ID = f"the external id answered is {ID_LENGTH + 46} characters, more than the {ID_LENGTH} a listing holds"


async def test_a_product_the_channel_has_under_an_id_too_long_to_store_fails_alone_and_is_not_sent(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    shop = served_shop.shop
    shop.id_prefix = "x" * (ID_LENGTH + 45)
    shop.seed(sku(1), locales={"en": {"title": "Oak chair 1"}})
    shop.id_prefix = "p-"
    job = await run_here(shop_sync, container)
    assert (job["status"], job["syncedProducts"], job["failedProducts"]) == ("COMPLETED", PRODUCTS - 1, 1)
    assert outcome(job, sku(1))[1] == [(None, "CHN-022", TOO_LONG_ID)]
    assert sku(1) not in {product["sku"] for product in sent_products(served_shop)}
    [listing] = (await shop_sync(LISTINGS, {"sku": sku(1)}))["product"]["listings"]
    assert (listing["externalId"], listing["status"]) == (None, "error")


async def test_products_the_channel_creates_under_ids_too_long_to_store_fail_and_are_not_created_again(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """Created, but not bound: the next sync finds them by SKU (the same id, refused the same way), and creates
    none a second time."""
    shop = served_shop.shop
    shop.id_prefix = "x" * (ID_LENGTH + 45)
    first = await run_here(shop_sync, container)
    assert (first["syncedProducts"], first["failedProducts"]) == (0, PRODUCTS)
    [(locale, code, message)] = outcome(first, sku(12))[1]
    assert (locale, code) == (None, "CHN-022") and message.endswith(f"more than the {ID_LENGTH} a listing holds")
    second = await run_here(shop_sync, container)
    assert (second["syncedProducts"], second["failedProducts"]) == (0, PRODUCTS)
    assert len(shop.products) == PRODUCTS and len(sent_products(served_shop)) == PRODUCTS
    [listing] = (await shop_sync(LISTINGS, {"sku": sku(12)}))["product"]["listings"]
    assert (listing["externalId"], listing["status"]) == (None, "error")


async def test_a_locale_a_channel_names_at_length_in_an_error_is_cut_and_marked(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    shop = served_shop.shop
    shop.supported_locales = ("en", "ar")
    said = "French (France), the store's second storefront language " * 2
    shop.locale_names = {"fr": said}
    job = await run_here(shop_sync, container)
    assert (job["syncedProducts"], job["failedProducts"]) == (0, PRODUCTS)
    [(locale, code, message)] = outcome(job, sku(3))[1]
    assert (locale, code, message) == (
        said[: LOCALE_LENGTH - 1] + "…",
        "CHN-012",
        "locale fr is not enabled in this store",
    )
