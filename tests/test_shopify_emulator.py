"""The Shopify Admin GraphQL emulator itself, driven over real HTTP with raw httpx.

These pin the Shopify behaviour the adapter's tests rely on: SDL validation,
authentication, productSet and its userErrors, translations with digests and
outdated flags, the cost extension and THROTTLED, and signed webhooks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.emulators import serve
from tests.emulators.shopify import INVALID_TOKEN, ManualClock, ShopifyEmulator, verify_hmac
from tests.shared_data import shared_path

PRODUCT_SET = """
mutation ProductSet($identifier: ProductSetIdentifiers, $input: ProductSetInput!) {
  productSet(identifier: $identifier, input: $input, synchronous: true) {
    product { id handle title updatedAt variants(first: 5) { nodes { id sku price } } }
    userErrors { field message code }
  }
}
"""
PRODUCT = """
query Product($id: ID!) {
  product(id: $id) {
    id title handle descriptionHtml vendor productType tags status updatedAt
    seo { title description }
    variants(first: 5) {
      nodes {
        id sku price compareAtPrice barcode
        selectedOptions { name value }
        inventoryItem { measurement { weight { value unit } } }
      }
    }
  }
}
"""
CONTENT = """
query Content($id: ID!, $locale: String!) {
  translatableResource(resourceId: $id) {
    resourceId
    translatableContent { key value digest locale }
    translations(locale: $locale) { key value locale outdated updatedAt }
  }
}
"""
REGISTER = """
mutation Register($id: ID!, $translations: [TranslationInput!]!) {
  translationsRegister(resourceId: $id, translations: $translations) {
    translations { key locale value }
    userErrors { field message code }
  }
}
"""


def product_input(title: str, sku: str, price: str = "19.99", **more: Any) -> dict[str, Any]:
    """A single-variant ProductSetInput, the way the adapter sends one."""
    return {
        "title": title,
        "productOptions": [{"name": "Title", "values": [{"name": "Default Title"}]}],
        "variants": [{"optionValues": [{"optionName": "Title", "name": "Default Title"}], "sku": sku, "price": price}],
        **more,
    }


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def shop(clock: ManualClock) -> ShopifyEmulator:
    return ShopifyEmulator(clock=clock, allow_insecure_webhooks=True)


@pytest.fixture
def endpoint(shop: ShopifyEmulator) -> Iterator[str]:
    with serve(shop.app) as origin:
        yield shop.endpoint(origin)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


class Api:
    """Raw GraphQL over HTTP: the answer's JSON, after checking it came back 200."""

    def __init__(self, http: httpx.AsyncClient, endpoint: str, token: str) -> None:
        self.http, self.endpoint, self.token = http, endpoint, token

    async def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.post(
            self.endpoint,
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": self.token},
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def api(http: httpx.AsyncClient, endpoint: str, shop: ShopifyEmulator) -> Api:
    return Api(http, endpoint, shop.access_token)


async def test_a_document_with_an_unknown_field_is_rejected_by_validation(api: Api, shop: ShopifyEmulator) -> None:
    answer = await api("{ shop { name bogusField } }")

    assert "data" not in answer
    [error] = answer["errors"]
    assert error["message"] == "Field 'bogusField' doesn't exist on type 'Shop'"
    assert error["extensions"]["code"] == "undefinedField"
    assert shop.throttle_status()["currentlyAvailable"] == 2000  # nothing was charged


async def test_a_field_the_emulator_does_not_implement_fails_loudly(api: Api, shop: ShopifyEmulator) -> None:
    answer = await api("{ shop { name plan { publicDisplayName } } }")

    assert answer["errors"][0]["extensions"]["code"] == "EMULATOR_NOT_IMPLEMENTED"
    assert "Shop.plan" in answer["errors"][0]["message"]
    assert "emulator does not implement Shop.plan" in shop.gaps
    refused = await api("{ products(first: 1, sortKey: INVENTORY_TOTAL) { nodes { id } } }")
    assert refused["errors"][0]["extensions"]["code"] == "EMULATOR_NOT_IMPLEMENTED"


async def test_requests_without_a_valid_token_or_for_another_version_are_refused(
    http: httpx.AsyncClient, endpoint: str, shop: ShopifyEmulator
) -> None:
    body = {"query": "{ shop { name } }"}
    missing = await http.post(endpoint, json=body)
    wrong = await http.post(endpoint, json=body, headers={"X-Shopify-Access-Token": "shpat_wrong"})
    other_version = await http.post(
        endpoint.replace("2026-04", "2025-01"), json=body, headers={"X-Shopify-Access-Token": shop.access_token}
    )

    assert missing.status_code == wrong.status_code == 401
    assert missing.json() == {"errors": INVALID_TOKEN}
    assert other_version.status_code == 404


async def test_shop_and_locales(api: Api) -> None:
    answer = await api(
        "{ shop { name primaryDomain { host } currencyCode enabledPresentmentCurrencies }"
        " all: shopLocales { locale primary published } live: shopLocales(published: true) { locale } }"
    )

    assert answer["data"]["shop"]["primaryDomain"]["host"] == "shop.apple.com"
    assert answer["data"]["shop"]["currencyCode"] == "USD"
    assert [loc["locale"] for loc in answer["data"]["all"]] == ["en", "ar", "fr", "de"]
    assert [loc["locale"] for loc in answer["data"]["live"]] == ["en", "ar", "fr"]


async def test_product_set_creates_then_updates_the_same_product(
    api: Api, shop: ShopifyEmulator, clock: ManualClock
) -> None:
    created = await api(
        PRODUCT_SET,
        {
            "input": product_input(
                "Lemon Hawaiian Shirt",
                "LHS-1",
                descriptionHtml="<p>Lemons.</p>",
                vendor="Acme",
                tags=["summer", "Cotton", "cotton"],
                seo={"title": "Lemon shirt", "description": "A shirt."},
            )
        },
    )
    product = created["data"]["productSet"]["product"]
    assert created["data"]["productSet"]["userErrors"] == []
    assert product["handle"] == "lemon-hawaiian-shirt"
    [variant] = product["variants"]["nodes"]
    assert (variant["sku"], variant["price"]) == ("LHS-1", "19.99")

    clock.advance(5)
    update = product_input("Lime Hawaiian Shirt", "LHS-1", price="21.5")
    update["variants"][0]["id"] = variant["id"]
    update["variants"][0]["inventoryItem"] = {"measurement": {"weight": {"value": 0.25, "unit": "KILOGRAMS"}}}
    updated = await api(PRODUCT_SET, {"identifier": {"id": product["id"]}, "input": update})

    again = updated["data"]["productSet"]["product"]
    assert again["id"] == product["id"]
    assert again["handle"] == "lemon-hawaiian-shirt"  # a new title keeps the handle
    assert again["updatedAt"] > product["updatedAt"]
    read = (await api(PRODUCT, {"id": product["id"]}))["data"]["product"]
    assert read["title"] == "Lime Hawaiian Shirt"
    assert read["descriptionHtml"] == "<p>Lemons.</p>"  # omitted fields stay
    assert read["tags"] == ["Cotton", "summer"]
    assert read["seo"] == {"title": "Lemon shirt", "description": "A shirt."}
    [variant_read] = read["variants"]["nodes"]
    assert variant_read["id"] == variant["id"]
    assert variant_read["price"] == "21.50"
    assert variant_read["inventoryItem"]["measurement"]["weight"] == {"value": 0.25, "unit": "KILOGRAMS"}
    assert len(shop.products) == 1


async def test_a_tag_holding_commas_is_stored_as_several_tags(api: Api) -> None:
    """Shopify keeps a product's tags as one comma-separated list (Product.tags in the SDL; the Tags column of its
    product CSVs and the `tags` of its products/update webhook join them with ", "), so a comma splits a tag."""
    created = await api(PRODUCT_SET, {"input": product_input("Fern pot", "POT-1", tags=["Pot, Plants", "plants"])})
    product = created["data"]["productSet"]["product"]
    read = (await api(PRODUCT, {"id": product["id"]}))["data"]["product"]
    assert read["tags"] == ["Plants", "Pot"]


async def test_product_set_answers_user_errors_and_changes_nothing(api: Api, shop: ShopifyEmulator) -> None:
    blank = await api(PRODUCT_SET, {"input": product_input("  ", "X-1")})
    negative = await api(PRODUCT_SET, {"input": product_input("Shirt", "X-2", price="-1.00")})
    no_options = await api(PRODUCT_SET, {"input": {"title": "Shirt", "variants": [{"optionValues": [], "price": "1"}]}})
    missing = await api(PRODUCT_SET, {"identifier": {"id": "gid://shopify/Product/1"}, "input": {"title": "Shirt"}})

    assert blank["data"]["productSet"] == {
        "product": None,
        "userErrors": [{"field": ["input", "title"], "message": "Title can't be blank", "code": "INVALID_PRODUCT"}],
    }
    [price_error] = negative["data"]["productSet"]["userErrors"]
    assert price_error["field"] == ["input", "variants", "0", "price"]
    assert price_error["code"] == "INVALID_VARIANT"
    assert no_options["data"]["productSet"]["userErrors"][0]["code"] == "PRODUCT_OPTIONS_INPUT_MISSING"
    assert missing["data"]["productSet"]["userErrors"][0]["code"] == "NOT_FOUND"
    assert shop.products == []


async def test_duplicate_skus_and_titles_are_allowed_with_unique_handles(api: Api) -> None:
    first = await api(PRODUCT_SET, {"input": product_input("Same Shirt", "DUP")})
    second = await api(PRODUCT_SET, {"input": product_input("Same Shirt", "DUP")})

    assert first["data"]["productSet"]["product"]["handle"] == "same-shirt"
    assert second["data"]["productSet"]["product"]["handle"] == "same-shirt-1"
    found = await api('{ productVariants(first: 5, query: "sku:DUP") { nodes { sku } } }')
    assert len(found["data"]["productVariants"]["nodes"]) == 2


async def test_products_search_and_pagination(api: Api, shop: ShopifyEmulator) -> None:
    for sku in ("ABC", "DEF", "GHI"):
        shop.seed_simple_product(f"Product {sku}", sku)

    either = await api('{ products(first: 5, query: "sku:ABC OR sku:GHI") { nodes { handle } } }')
    assert [p["handle"] for p in either["data"]["products"]["nodes"]] == ["product-abc", "product-ghi"]
    by_handle = await api('{ products(first: 5, query: "handle:product-def") { nodes { title } } }')
    assert by_handle["data"]["products"]["nodes"] == [{"title": "Product DEF"}]

    page = await api("{ products(first: 2) { nodes { handle } pageInfo { hasNextPage endCursor } } }")
    info = page["data"]["products"]["pageInfo"]
    assert info["hasNextPage"] is True
    rest = await api(
        "query($after: String) { products(first: 2, after: $after) { nodes { handle } pageInfo { hasNextPage } } }",
        {"after": info["endCursor"]},
    )
    assert [p["handle"] for p in rest["data"]["products"]["nodes"]] == ["product-ghi"]
    assert rest["data"]["products"]["pageInfo"]["hasNextPage"] is False

    product_gid = shop.product("DEF").gid
    nodes = await api(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Product { title } } }", {"ids": [product_gid]}
    )
    assert nodes["data"]["nodes"] == [{"id": product_gid, "title": "Product DEF"}]


async def test_translations_need_the_current_digest_and_become_outdated(
    api: Api, shop: ShopifyEmulator, clock: ManualClock
) -> None:
    product = shop.seed_simple_product("Lemon Shirt", "LEM-1", descriptionHtml="<p>Lemons</p>")
    content = (await api(CONTENT, {"id": product.gid, "locale": "fr"}))["data"]["translatableResource"]
    digests = {c["key"]: c["digest"] for c in content["translatableContent"]}
    assert [c["key"] for c in content["translatableContent"]] == [
        "title", "body_html", "handle", "product_type", "meta_title", "meta_description",
    ]  # fmt: skip
    assert digests["title"] == hashlib.sha256(b"Lemon Shirt").hexdigest()

    def entry(key: str, value: str, digest: str | None, locale: str = "fr") -> dict[str, Any]:
        return {"locale": locale, "key": key, "value": value, "translatableContentDigest": digest}

    wrong = await api(REGISTER, {"id": product.gid, "translations": [entry("title", "Chemise", "0" * 64)]})
    assert wrong["data"]["translationsRegister"] == {
        "translations": None,
        "userErrors": [
            {
                "field": ["translations", "0", "translatableContentDigest"],
                "message": "Translatable content hash is invalid",
                "code": "INVALID_TRANSLATABLE_CONTENT",
            }
        ],
    }
    bad_locale = await api(REGISTER, {"id": product.gid, "translations": [entry("title", "x", digests["title"], "xx")]})
    bad_key = await api(REGISTER, {"id": product.gid, "translations": [entry("colour", "x", digests["title"])]})
    assert bad_locale["data"]["translationsRegister"]["userErrors"][0]["code"] == "INVALID_LOCALE_FOR_SHOP"
    assert bad_key["data"]["translationsRegister"]["userErrors"][0]["code"] == "INVALID_KEY_FOR_MODEL"
    assert shop.translations(product.gid) == {}

    right = await api(
        REGISTER,
        {
            "id": product.gid,
            "translations": [
                entry("title", "Chemise citron", digests["title"]),
                entry("body_html", "<p>Citrons</p>", digests["body_html"]),
                entry("title", "Zitronenhemd", digests["title"], "de"),  # added but unpublished: accepted
            ],
        },
    )
    assert right["data"]["translationsRegister"]["userErrors"] == []
    assert shop.translations(product.gid)["fr"]["title"].value == "Chemise citron"

    clock.advance(3)
    changed = await api(
        PRODUCT_SET, {"identifier": {"id": product.gid}, "input": {"title": "Lime Shirt"}}
    )  # the source changes
    assert changed["data"]["productSet"]["userErrors"] == []
    after = (await api(CONTENT, {"id": product.gid, "locale": "fr"}))["data"]["translatableResource"]
    outdated = {t["key"]: t["outdated"] for t in after["translations"]}
    assert outdated == {"title": True, "body_html": False}


async def test_an_empty_bucket_throttles_without_changing_anything(
    api: Api, shop: ShopifyEmulator, clock: ManualClock
) -> None:
    shop.drain_bucket(to=5)

    throttled = await api(PRODUCT_SET, {"input": product_input("Shirt", "T-1")})

    assert throttled == {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
            }
        ],
        "extensions": {
            "cost": {
                "requestedQueryCost": 10,
                "actualQueryCost": None,
                "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 5, "restoreRate": 100.0},
            }
        },
    }
    assert shop.products == []
    assert shop.graphql_requests()[-1].throttled

    clock.advance(0.1)  # 10 points restored: 15 available, enough for a mutation
    later = await api(PRODUCT_SET, {"input": product_input("Shirt", "T-1")})
    assert later["data"]["productSet"]["userErrors"] == []
    assert later["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 5
    assert len(shop.products) == 1


async def test_product_set_costs_more_for_every_file_and_variant_it_sends(
    api: Api, shop: ShopifyEmulator, clock: ManualClock
) -> None:
    """productSet's cost grows with its input (the SDL's "Complexity cost: 1.9 per file", "0.2 per variant";
    shopify.dev changelog "Dynamic complexity cost for productSet mutation", 2025-10): 10 + 0.2 + 12 x 1.9 =
    33 points for one variant and twelve images, checked against the bucket before anything runs."""
    files = [{"originalSource": f"https://images.example.com/{i}.jpg", "contentType": "IMAGE"} for i in range(12)]
    shop.drain_bucket(to=30)

    throttled = await api(PRODUCT_SET, {"input": product_input("Shirt", "T-1", files=files)})

    assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert throttled["extensions"]["cost"]["requestedQueryCost"] == 33
    assert shop.products == []
    clock.advance(0.03)  # 33 points
    done = await api(PRODUCT_SET, {"input": product_input("Shirt", "T-1", files=files)})
    assert done["data"]["productSet"]["userErrors"] == []
    assert done["extensions"]["cost"]["actualQueryCost"] == 33
    assert done["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0


async def test_every_costed_answer_carries_the_cost_extension(api: Api, shop: ShopifyEmulator) -> None:
    shop.seed_simple_product("Shirt", "C-1")
    query = "{ products(first: 10) { nodes { id variants(first: 5) { nodes { id sku } } } } }"

    answer = await api(query)

    cost = answer["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 10 * (1 + 2 + 5 * 1)
    assert cost["actualQueryCost"] == 2 + 1 * (1 + 2 + 1 * 1)  # one product with one variant came back
    assert cost["throttleStatus"] == {"maximumAvailable": 2000.0, "currentlyAvailable": 1994, "restoreRate": 100.0}
    shop.set_bucket(maximum_available=1000.0, restore_rate=50.0)
    assert (await api("{ shop { name } }"))["extensions"]["cost"]["throttleStatus"] == {
        "maximumAvailable": 1000.0,
        "currentlyAvailable": 999,
        "restoreRate": 50.0,
    }
    too_big = await api("{ products(first: 250) { nodes { variants(first: 250) { nodes { id } } } } }")
    assert too_big["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


async def test_webhooks_are_signed_with_the_app_secret(
    api: Api, shop: ShopifyEmulator, http: httpx.AsyncClient
) -> None:
    product = shop.seed_simple_product("Lemon Shirt", "LEM-1")
    body, headers = shop.webhook("products/update", product.gid)

    expected = base64.b64encode(hmac.new(shop.api_secret.encode(), body, hashlib.sha256).digest()).decode()
    assert headers["X-Shopify-Hmac-Sha256"] == expected
    assert headers["X-Shopify-Topic"] == "products/update"
    assert headers["X-Shopify-Shop-Domain"] == "apple.myshopify.com"
    assert headers["X-Shopify-API-Version"] == "2026-04"
    assert {"X-Shopify-Webhook-Id", "X-Shopify-Triggered-At", "X-Shopify-Event-Id"} <= set(headers)
    payload = json.loads(body)
    assert payload["id"] == product.id
    assert payload["admin_graphql_api_id"] == product.gid
    assert payload["variants"][0]["sku"] == "LEM-1"
    forged, forged_headers = shop.webhook("products/update", product.gid, secret="not-the-secret")
    assert not verify_hmac(shop.api_secret, forged, forged_headers["X-Shopify-Hmac-Sha256"])

    received: list[tuple[bytes, str]] = []

    async def receive(request: Request) -> Response:
        received.append((await request.body(), request.headers["x-shopify-hmac-sha256"]))
        return Response(status_code=200)

    with serve(Starlette(routes=[Route("/hooks", receive, methods=["POST"])])) as receiver:
        subscribe = await api(
            "mutation($uri: String!) { webhookSubscriptionCreate(topic: PRODUCTS_UPDATE,"
            " webhookSubscription: {uri: $uri, format: JSON}) { webhookSubscription { id uri } userErrors { message } } }",
            {"uri": f"{receiver}/hooks"},
        )
        assert subscribe["data"]["webhookSubscriptionCreate"]["userErrors"] == []
        shop.edit_product(product.gid, fields={"title": "Lime Shirt"})
        responses = await shop.deliver_outbox(http)
    assert [r.status_code for r in responses] == [200]
    [(raw, signature)] = received
    assert verify_hmac(shop.api_secret, raw, signature)
    assert json.loads(raw)["title"] == "Lime Shirt"


async def test_admin_edits_move_updated_at_and_outdate_translations(
    api: Api, shop: ShopifyEmulator, clock: ManualClock
) -> None:
    product = shop.seed_simple_product("Lemon Shirt", "LEM-1")
    shop.edit_product(product.gid, translations_by_locale={"ar": {"title": "قميص ليمون"}})
    before = (await api(PRODUCT, {"id": product.gid}))["data"]["product"]

    shop.edit_product(product.gid, fields={"title": "Lemon Shirt v2"}, variants={"LEM-1": {"price": "25"}})

    after = (await api(PRODUCT, {"id": product.gid}))["data"]["product"]
    assert after["updatedAt"] > before["updatedAt"]  # even with the clock standing still
    assert after["variants"]["nodes"][0]["price"] == "25.00"
    content = (await api(CONTENT, {"id": product.gid, "locale": "ar"}))["data"]["translatableResource"]
    assert content["translations"][0]["value"] == "قميص ليمون"
    assert content["translations"][0]["outdated"] is True


async def test_faults_slowness_and_the_request_log(
    http: httpx.AsyncClient, endpoint: str, api: Api, shop: ShopifyEmulator
) -> None:
    shop.fail_next(2, status=503, retry_after="3")
    first = await http.post(endpoint, json={"query": "{ shop { name } }"})
    second = await http.post(endpoint, json={"query": "{ shop { name } }"})
    assert (first.status_code, first.headers["retry-after"], second.status_code) == (503, "3", 503)

    shop.slow_down(0.3)
    with pytest.raises(httpx.ReadTimeout):
        await http.post(endpoint, json={"query": "{ shop { name } }"}, timeout=0.1)
    shop.slow_down(0)

    answer = await api("query Named($n: Int!) { products(first: $n) { nodes { id } } }", {"n": 3})

    assert answer["data"] == {"products": {"nodes": []}}
    logged = shop.graphql_requests("Named")[-1]
    assert logged.variables == {"n": 3}
    assert (logged.requested_cost, logged.actual_cost, logged.status) == (5, 2, 200)


@pytest.fixture
def rest_product() -> dict[str, Any]:
    """shopify_python_api's REST product fixture (real Shopify data: the iPod Nano)."""
    fixture = shared_path("data", "shopify_python_api_fixtures", "product.json")
    if not fixture.exists():
        pytest.skip("shopify_python_api fixtures are not available")
    loaded: dict[str, Any] = json.loads(fixture.read_text())["product"]
    return loaded


async def test_product_delete_and_seed_from_a_real_rest_payload(
    api: Api, shop: ShopifyEmulator, rest_product: dict[str, Any]
) -> None:
    product = shop.seed_rest_product(rest_product)
    assert product.handle == "ipod-nano"
    assert {v.sku for v in product.variants} >= {"IPOD2008PINK"}

    deleted = await api(
        "mutation($id: ID!) { productDelete(input: {id: $id}) { deletedProductId userErrors { field message } } }",
        {"id": product.gid},
    )

    assert deleted["data"]["productDelete"] == {"deletedProductId": product.gid, "userErrors": []}
    assert shop.products == []
    assert shop.state.events[-1] == ("products/delete", {"id": product.id})


async def test_a_null_price_is_refused_not_turned_into_zero(api: Api, shop: ShopifyEmulator) -> None:
    created = await api(PRODUCT_SET, {"input": product_input("Shirt", "P-1", price="25.00")})
    product = created["data"]["productSet"]["product"]
    variant = product["variants"]["nodes"][0]["id"]
    cleared = product_input("Shirt", "P-1")
    cleared["variants"][0].update(id=variant, price=None)
    answer = await api(PRODUCT_SET, {"identifier": {"id": product["id"]}, "input": cleared})
    assert answer["data"]["productSet"] == {
        "product": None,
        "userErrors": [
            {"field": ["input", "variants", "0", "price"], "message": "Price can't be blank", "code": "INVALID_VARIANT"}
        ],
    }
    assert shop.product("P-1").variants[0].price == "25.00"


MEDIA = """
query Media($id: ID!) {
  product(id: $id) {
    featuredMedia { id status ... on MediaImage { image { url } originalSource { url } } }
    marker: metafield(key: "source") { namespace key type value }
  }
}
"""
METAFIELDS_SET = """
mutation Set($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) { metafields { key value } userErrors { field message code elementIndex } }
}
"""


async def test_an_image_is_processed_asynchronously_and_never_reports_its_source(
    api: Api, shop: ShopifyEmulator, clock: ManualClock
) -> None:
    """MediaImage: "images might not be immediately available after upload"; image is null until READY, then a
    CDN URL; originalSource.url is a short-lived signed URL of Shopify's copy, signed anew at every read."""
    source = "https://images.example.com/shirt.jpg"
    files = [{"originalSource": source, "contentType": "IMAGE"}]
    created = await api(PRODUCT_SET, {"input": product_input("Shirt", "M-1", files=files)})
    product_id = created["data"]["productSet"]["product"]["id"]

    media = (await api(MEDIA, {"id": product_id}))["data"]["product"]["featuredMedia"]
    assert (media["status"], media["image"], media["originalSource"]) == ("PROCESSING", None, None)

    shop.process_media()
    first = (await api(MEDIA, {"id": product_id}))["data"]["product"]["featuredMedia"]
    clock.advance(60)
    later = (await api(MEDIA, {"id": product_id}))["data"]["product"]["featuredMedia"]
    assert first["status"] == "READY" and first["id"] == media["id"]
    assert first["image"]["url"].startswith("https://cdn.shopify.com/") and first["image"]["url"] != source
    assert source not in (first["originalSource"]["url"], later["originalSource"]["url"])
    assert first["originalSource"]["url"] != later["originalSource"]["url"]


async def test_a_file_sent_by_its_url_again_is_a_new_upload_and_one_sent_by_id_is_kept(
    api: Api, shop: ShopifyEmulator
) -> None:
    """Shopify keeps no record of the URL an image was downloaded from: productSet's files given by
    originalSource are new uploads every time (the media they replace is deleted); given by id, kept."""
    files = [{"originalSource": "https://images.example.com/shirt.jpg", "contentType": "IMAGE"}]
    created = await api(PRODUCT_SET, {"input": product_input("Shirt", "M-1", files=files)})
    product_id = created["data"]["productSet"]["product"]["id"]
    [first] = shop.product("M-1").media
    await api(PRODUCT_SET, {"identifier": {"id": product_id}, "input": {"files": files}})
    [again] = shop.product("M-1").media
    assert again.id != first.id
    kept = [{"id": f"gid://shopify/MediaImage/{again.id}"}]
    await api(PRODUCT_SET, {"identifier": {"id": product_id}, "input": {"files": kept}})
    assert [m.id for m in shop.product("M-1").media] == [again.id]


async def test_product_set_files_are_the_product_s_whole_media_list(api: Api, shop: ShopifyEmulator) -> None:
    """productSet's files is a list field (2026-04 SDL, productSet: entries not included are deleted): a media
    left out is gone, one named by id stays, in the order sent; files not sent leave every media as it is."""
    files = [{"originalSource": f"https://images.example.com/{name}.jpg", "contentType": "IMAGE"} for name in "abc"]
    created = await api(PRODUCT_SET, {"input": product_input("Shirt", "M-1", files=files)})
    product_id = created["data"]["productSet"]["product"]["id"]
    a, b, c = (m.id for m in shop.product("M-1").media)
    await api(PRODUCT_SET, {"identifier": {"id": product_id}, "input": {"title": "Shirt II"}})
    assert [m.id for m in shop.product("M-1").media] == [a, b, c]
    kept = [{"id": f"gid://shopify/MediaImage/{c}"}, {"id": f"gid://shopify/MediaImage/{a}"}]
    await api(PRODUCT_SET, {"identifier": {"id": product_id}, "input": {"files": kept}})
    assert [m.id for m in shop.product("M-1").media] == [c, a]
    await api(PRODUCT_SET, {"identifier": {"id": product_id}, "input": {"files": []}})
    assert shop.product("M-1").media == []


MEDIA_BY_ID = """
query MediaById($id: ID!, $query: String!) {
  product(id: $id) { media(first: 5, query: $query) { nodes { id status } } }
}
"""


async def test_a_product_s_media_are_listed_in_position_order_and_filtered_by_id(
    api: Api, shop: ShopifyEmulator
) -> None:
    """Product.media's `query` takes the `id` filter (2026-04 SDL): one media is found wherever it stands."""
    files = [{"originalSource": f"https://images.example.com/{name}.jpg", "contentType": "IMAGE"} for name in "abc"]
    product_id = (await api(PRODUCT_SET, {"input": product_input("Shirt", "M-1", files=files)}))["data"]["productSet"][
        "product"
    ]["id"]
    ids = [m.id for m in shop.product("M-1").media]

    def listed(answer: dict[str, Any]) -> list[str]:
        return [node["id"] for node in answer["data"]["product"]["media"]["nodes"]]

    assert listed(await api(MEDIA_BY_ID, {"id": product_id, "query": ""})) == [
        f"gid://shopify/MediaImage/{i}" for i in ids
    ]
    assert listed(await api(MEDIA_BY_ID, {"id": product_id, "query": f"id:{ids[2]}"})) == [
        f"gid://shopify/MediaImage/{ids[2]}"
    ]
    assert listed(await api(MEDIA_BY_ID, {"id": product_id, "query": "id:1"})) == []


async def test_metafields_set_is_atomic_and_checks_its_input(api: Api, shop: ShopifyEmulator) -> None:
    product_id = shop.seed_simple_product("Shirt", "MF-1").gid
    good = {"ownerId": product_id, "key": "source", "type": "json", "value": '{"a": 1}'}
    refused = await api(
        METAFIELDS_SET,
        {"metafields": [good, {"ownerId": product_id, "key": "x", "type": "json", "value": "{not json"}]},
    )
    assert refused["data"]["metafieldsSet"]["metafields"] is None
    assert {(e["code"], e["elementIndex"]) for e in refused["data"]["metafieldsSet"]["userErrors"]} == {
        ("TOO_SHORT", 1),
        ("INVALID_VALUE", 1),
    }
    untyped = await api(METAFIELDS_SET, {"metafields": [{"ownerId": product_id, "key": "other", "value": "1"}]})
    assert untyped["data"]["metafieldsSet"]["userErrors"][0]["code"] == "BLANK"
    assert shop.product("MF-1").metafields == {}

    stored = await api(METAFIELDS_SET, {"metafields": [good]})
    assert stored["data"]["metafieldsSet"] == {"metafields": [{"key": "source", "value": '{"a": 1}'}], "userErrors": []}
    marker = (await api(MEDIA, {"id": product_id}))["data"]["product"]["marker"]
    assert marker["type"] == "json" and marker["namespace"].startswith("app--")  # the app-reserved namespace


WEBHOOK_DELETE = """
mutation Delete($id: ID!) {
  webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } }
}
"""


async def test_a_deleted_webhook_subscription_delivers_nothing_more(api: Api, shop: ShopifyEmulator) -> None:
    created = await api(
        """mutation { webhookSubscriptionCreate(topic: PRODUCTS_UPDATE, webhookSubscription: {uri: "https://a.test/w"})
        { webhookSubscription { id } userErrors { field message } } }"""
    )
    subscription = created["data"]["webhookSubscriptionCreate"]["webhookSubscription"]["id"]
    deleted = await api(WEBHOOK_DELETE, {"id": subscription})
    again = await api(WEBHOOK_DELETE, {"id": subscription})
    assert deleted["data"]["webhookSubscriptionDelete"] == {
        "deletedWebhookSubscriptionId": subscription,
        "userErrors": [],
    }
    assert again["data"]["webhookSubscriptionDelete"] == {
        "deletedWebhookSubscriptionId": None,
        "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
    }
    shop.seed_simple_product("Shirt", "W-1")
    shop.edit_product("W-1", fields={"title": "Shirt II"})
    assert shop.outbox == []


TOGGLE = """
mutation Toggle($item: ID!, $updates: [InventoryBulkToggleActivationInput!]!) {
  inventoryBulkToggleActivation(inventoryItemId: $item, inventoryItemUpdates: $updates) {
    inventoryItem { id tracked }
    inventoryLevels { location { id } quantities(names: ["available", "on_hand"]) { name quantity } }
    userErrors { field message code }
  }
}
"""


async def test_quantities_are_set_only_where_a_variant_is_stocked_and_stocking_it_allows_them(
    api: Api, shop: ShopifyEmulator
) -> None:
    """ProductVariantSetInput.inventoryQuantities: an existing variant's quantities can only be updated "at
    locations where the variant is already stocked"; inventoryBulkToggleActivation stocks it at another."""
    primary, warehouse = shop.state.locations[0], shop.add_location("Warehouse")
    untracked = {"tracked": False}
    stock = [{"locationId": primary.gid, "name": "available", "quantity": 2}]
    seeded = product_input("Lamp", "INV-1")
    seeded["variants"][0] |= {"inventoryItem": untracked, "inventoryQuantities": stock}
    product = shop.seed_product(seeded)
    variant = product.variants[0]
    item = f"gid://shopify/InventoryItem/{variant.inventory_item_id}"
    update = product_input("Lamp", "INV-1")
    update["variants"][0] |= {
        "id": variant.gid,
        "inventoryQuantities": [{"locationId": warehouse.gid, "name": "available", "quantity": 5}],
    }

    refused = await api(PRODUCT_SET, {"identifier": {"id": product.gid}, "input": update})
    [error] = refused["data"]["productSet"]["userErrors"]
    assert (error["field"], error["code"]) == (
        ["input", "variants", "0", "inventoryQuantities", "0", "locationId"],
        "INVALID_INPUT",
    )
    assert set(shop.product("INV-1").variants[0].levels) == {primary.id}

    stocked = await api(TOGGLE, {"item": item, "updates": [{"locationId": warehouse.gid, "activate": True}]})
    assert stocked["data"]["inventoryBulkToggleActivation"] == {
        "inventoryItem": {"id": item, "tracked": False},
        "inventoryLevels": [
            {
                "location": {"id": warehouse.gid},
                "quantities": [{"name": "available", "quantity": 0}, {"name": "on_hand", "quantity": 0}],
            }
        ],
        "userErrors": [],
    }
    written = await api(PRODUCT_SET, {"identifier": {"id": product.gid}, "input": update})
    assert written["data"]["productSet"]["userErrors"] == []
    after = shop.product("INV-1").variants[0]
    assert (after.levels[warehouse.id]["available"], after.levels[primary.id]["available"]) == (5, 2)
    assert after.tracked is False  # a quantity set leaves tracking as the merchant has it


async def test_stocking_refusals_change_nothing(api: Api, shop: ShopifyEmulator) -> None:
    primary = shop.state.locations[0]
    seeded = product_input("Lamp", "INV-2")
    seeded["variants"][0]["inventoryQuantities"] = [{"locationId": primary.gid, "name": "available", "quantity": 2}]
    variant = shop.seed_product(seeded).variants[0]
    item = f"gid://shopify/InventoryItem/{variant.inventory_item_id}"
    cases = [
        ("gid://shopify/InventoryItem/1", [{"locationId": primary.gid, "activate": True}], "INVENTORY_ITEM_NOT_FOUND"),
        (item, [{"locationId": "gid://shopify/Location/1", "activate": True}], "LOCATION_NOT_FOUND"),
        (item, [{"locationId": primary.gid, "activate": False}], "CANNOT_DEACTIVATE_FROM_ONLY_LOCATION"),
    ]
    for inventory_item, updates, code in cases:
        answer = (await api(TOGGLE, {"item": inventory_item, "updates": updates}))["data"]
        payload = answer["inventoryBulkToggleActivation"]
        assert (payload["inventoryLevels"], [e["code"] for e in payload["userErrors"]]) == (None, [code])
    assert shop.product("INV-2").variants[0].levels == {primary.id: {"available": 2, "on_hand": 2}}


# -- the targeted media mutations -------------------------------------------------------------------

ADD_MEDIA = """
mutation Add($product: ProductUpdateInput!, $media: [CreateMediaInput!]!) {
  productUpdate(product: $product, media: $media) {
    product { media(first: 10) { nodes { id status } } }
    userErrors { field message }
  }
}
"""
FILE_UPDATE = """
mutation Update($files: [FileUpdateInput!]!) {
  fileUpdate(files: $files) { files { id fileStatus } userErrors { code field message } }
}
"""
FILE_DELETE = """
mutation Delete($ids: [ID!]!) { fileDelete(fileIds: $ids) { deletedFileIds userErrors { code field message } } }
"""
REORDER = """
mutation Reorder($id: ID!, $moves: [MoveInput!]!) {
  productReorderMedia(id: $id, moves: $moves) { job { id done } mediaUserErrors { code field message } }
}
"""
JOB = "query Job($id: ID!) { job(id: $id) { id done } }"


def image(name: str) -> dict[str, str]:
    return {"originalSource": f"https://images.example.com/{name}.jpg", "contentType": "IMAGE"}


async def gallery_of(api: Api, shop: ShopifyEmulator, names: str) -> tuple[str, list[str]]:
    created = await api(PRODUCT_SET, {"input": product_input("Shirt", "M-1", files=[image(n) for n in names])})
    shop.process_media()
    return created["data"]["productSet"]["product"]["id"], [
        f"gid://shopify/MediaImage/{m.id}" for m in shop.product("M-1").media
    ]


async def test_product_update_adds_media_after_those_the_product_has_and_touches_none_of_them(
    api: Api, shop: ShopifyEmulator
) -> None:
    """productUpdate `media`: "List of new media to be added to the product"; 10 points, no input complexity."""
    product_id, before = await gallery_of(api, shop, "ab")
    media = [{"originalSource": "https://images.example.com/c.jpg", "mediaContentType": "IMAGE"}]
    answer = await api(ADD_MEDIA, {"product": {"id": product_id}, "media": media})
    nodes = answer["data"]["productUpdate"]["product"]["media"]["nodes"]
    assert [n["id"] for n in nodes][:2] == before and nodes[2]["status"] == "PROCESSING"
    assert answer["extensions"]["cost"]["requestedQueryCost"] == 10
    blank = await api(ADD_MEDIA, {"product": {"id": product_id}, "media": [{**media[0], "originalSource": " "}]})
    assert blank["data"]["productUpdate"]["userErrors"] == [
        {"field": ["media", "0", "originalSource"], "message": "Original source can't be blank"}
    ]
    gone = await api(ADD_MEDIA, {"product": {"id": "gid://shopify/Product/1"}, "media": media})
    assert gone["data"]["productUpdate"]["userErrors"] == [{"field": ["id"], "message": "Product does not exist"}]
    assert len(shop.product("M-1").media) == 3


async def test_file_update_removes_only_that_product_s_reference_and_keeps_the_file(
    api: Api, shop: ShopifyEmulator
) -> None:
    """fileUpdate referencesToRemove: "deletes the file from the product's media gallery"; the file stays the
    shop's and can be referenced again. Checked as a whole: one error, nothing changes."""
    product_id, (a, b, c) = await gallery_of(api, shop, "abc")
    detach = {"files": [{"id": b, "referencesToRemove": [product_id]}]}
    answer = await api(FILE_UPDATE, detach)
    assert answer["data"]["fileUpdate"] == {"files": [{"id": b, "fileStatus": "READY"}], "userErrors": []}
    assert [f"gid://shopify/MediaImage/{m.id}" for m in shop.product("M-1").media] == [a, c]
    again = await api(FILE_UPDATE, detach)
    [error] = again["data"]["fileUpdate"]["userErrors"]
    assert (error["code"], error["field"]) == ("INVALID", ["files", "0", "referencesToRemove", "0"])
    await api(FILE_UPDATE, {"files": [{"id": b, "referencesToAdd": [product_id]}]})
    assert [f"gid://shopify/MediaImage/{m.id}" for m in shop.product("M-1").media] == [a, c, b]
    unknown = await api(
        FILE_UPDATE, {"files": [{"id": "gid://shopify/MediaImage/9", "referencesToRemove": [product_id]}]}
    )
    assert [e["code"] for e in unknown["data"]["fileUpdate"]["userErrors"]] == ["FILE_DOES_NOT_EXIST"]


async def test_file_update_takes_only_processed_files_and_file_delete_takes_any(
    api: Api, shop: ShopifyEmulator
) -> None:
    """ "Files must be in ready state before they can be updated" (fileUpdate): a file still processing is
    NON_READY_STATE, a failed one INVALID_FAILED_MEDIA_STATE; fileDelete removes either, from every product."""
    files = [image("a"), {"originalSource": "not-a-url", "contentType": "IMAGE"}]
    created = await api(PRODUCT_SET, {"input": product_input("Shirt", "M-1", files=files)})
    product_id = created["data"]["productSet"]["product"]["id"]
    processing, failed = (f"gid://shopify/MediaImage/{m.id}" for m in shop.product("M-1").media)
    answer = await api(
        FILE_UPDATE,
        {"files": [{"id": i, "referencesToRemove": [product_id]} for i in (processing, failed)]},
    )
    codes = [e["code"] for e in answer["data"]["fileUpdate"]["userErrors"]]
    assert codes == ["NON_READY_STATE", "INVALID_FAILED_MEDIA_STATE"]
    assert len(shop.product("M-1").media) == 2
    deleted = await api(FILE_DELETE, {"ids": [processing, failed]})
    assert deleted["data"]["fileDelete"] == {"deletedFileIds": [processing, failed], "userErrors": []}
    assert shop.product("M-1").media == []
    missing = await api(FILE_DELETE, {"ids": [processing]})
    assert [e["code"] for e in missing["data"]["fileDelete"]["userErrors"]] == ["FILE_DOES_NOT_EXIST"]


async def test_product_reorder_media_answers_a_job_that_moves_the_media_when_it_runs(
    api: Api, shop: ShopifyEmulator
) -> None:
    """productReorderMedia "processes asynchronously": a Job, not done when answered; the moves apply when it
    runs (before the next request is answered), one at a time, others keeping their relative order."""
    product_id, (a, b, c) = await gallery_of(api, shop, "abc")
    shop.hold_jobs()
    answer = await api(REORDER, {"id": product_id, "moves": [{"id": c, "newPosition": "0"}]})
    job = answer["data"]["productReorderMedia"]["job"]
    assert job["done"] is False and answer["data"]["productReorderMedia"]["mediaUserErrors"] == []
    assert [f"gid://shopify/MediaImage/{m.id}" for m in shop.product("M-1").media] == [a, b, c]
    assert (await api(JOB, {"id": job["id"]}))["data"]["job"] == {"id": job["id"], "done": False}
    shop.hold_jobs(False)
    assert (await api(JOB, {"id": job["id"]}))["data"]["job"] == {"id": job["id"], "done": True}
    assert [f"gid://shopify/MediaImage/{m.id}" for m in shop.product("M-1").media] == [c, a, b]
    wrong = await api(REORDER, {"id": product_id, "moves": [{"id": "gid://shopify/MediaImage/9", "newPosition": "0"}]})
    [error] = wrong["data"]["productReorderMedia"]["mediaUserErrors"]
    assert (error["code"], error["field"]) == ("MEDIA_DOES_NOT_EXIST_ON_PRODUCT", ["moves", "0", "id"])
    gone = await api(REORDER, {"id": "gid://shopify/Product/1", "moves": [{"id": a, "newPosition": "0"}]})
    assert [e["code"] for e in gone["data"]["productReorderMedia"]["mediaUserErrors"]] == ["PRODUCT_DOES_NOT_EXIST"]
    assert gone["data"]["productReorderMedia"]["job"] is None


async def test_values_past_shopify_s_limits_are_user_errors_not_a_crash(api: Api, shop: ShopifyEmulator) -> None:
    """A price of 1e30 overflowed the emulator's decimal context (an HTTP 500); Shopify answers a userError for
    a price or compare-at price of 10^18 or more, and for a SKU, barcode, vendor, handle, product type or tag
    longer than 255 characters. Each is refused with the field named, and nothing is created."""
    long = "x" * 256
    cases: list[tuple[dict[str, Any], list[str], str]] = [
        (product_input("Shirt", "L-1", price="1e30"), ["variants", "0", "price"], "Price must be less than"),
        (product_input("Shirt", long), ["variants", "0", "sku"], "SKU is too long (maximum is 255 characters)"),
        (product_input("Shirt", "L-4", vendor=long), ["vendor"], "Vendor is too long (maximum is 255 characters)"),
        (product_input("Shirt", "L-5", handle=long), ["handle"], "Handle is too long (maximum is 255 characters)"),
        (product_input("Shirt", "L-6", productType=long), ["productType"], "Product type is too long"),
        (product_input("Shirt", "L-7", tags=["ok", long]), ["tags"], "Tag is too long (maximum is 255 characters)"),
        (product_input(long, "L-8"), ["title"], "Title is too long (maximum is 255 characters)"),
    ]
    barcode = product_input("Shirt", "L-9")
    barcode["variants"][0]["barcode"] = long
    cases.append((barcode, ["variants", "0", "barcode"], "Barcode is too long (maximum is 255 characters)"))
    compare = product_input("Shirt", "L-10")
    compare["variants"][0]["compareAtPrice"] = "1000000000000000000"
    cases.append((compare, ["variants", "0", "compareAtPrice"], "Compare at price must be less than"))
    for data, field, message in cases:
        answer = await api(PRODUCT_SET, {"input": data})
        assert "errors" not in answer, answer
        [error] = answer["data"]["productSet"]["userErrors"]
        assert error["field"] == ["input", *field], error
        assert error["message"].startswith(message), error
    fits = await api(PRODUCT_SET, {"input": product_input("x" * 255, "y" * 255, price="999999999999999999.99")})
    assert fits["data"]["productSet"]["userErrors"] == []
    assert [p.variants[0].sku for p in shop.products] == ["y" * 255]


NEWEST_MEDIA = """
query Newest($id: ID!, $query: String) {
  product(id: $id) {
    media(first: 1, sortKey: ID, reverse: true, query: $query) { nodes { id } }
    marker: metafield(key: "source") { value }
  }
}
"""


async def test_product_update_and_product_set_store_metafields_with_the_change_or_not_at_all(
    api: Api, shop: ShopifyEmulator
) -> None:
    """ProductUpdateInput and ProductSetInput take `metafields` (MetafieldInput): stored with the media added or
    the product made, in the same change; a refused one changes nothing. Product.media sorts by ID too."""
    product_id, before = await gallery_of(api, shop, "ab")
    marker = {"namespace": "$app", "key": "source", "type": "json", "value": '{"adding": "c"}'}
    media = [{"originalSource": "https://images.example.com/c.jpg", "mediaContentType": "IMAGE"}]
    shop.run_jobs()
    refused = await api(
        ADD_MEDIA, {"product": {"id": product_id, "metafields": [{**marker, "value": "{"}]}, "media": media}
    )
    assert refused["data"]["productUpdate"]["userErrors"] == [
        {"field": ["metafields", "0", "value"], "message": "Value is invalid JSON"}
    ]
    assert len(shop.product("M-1").media) == 2 and shop.product("M-1").metafields == {}
    added = await api(ADD_MEDIA, {"product": {"id": product_id, "metafields": [marker]}, "media": media})
    assert added["data"]["productUpdate"]["userErrors"] == []
    newest = (await api(NEWEST_MEDIA, {"id": product_id}))["data"]["product"]
    assert newest["marker"] == {"value": '{"adding": "c"}'}
    [node] = newest["media"]["nodes"]
    assert (
        node["id"] not in before and node["id"] == added["data"]["productUpdate"]["product"]["media"]["nodes"][2]["id"]
    )
    oldest = await api(NEWEST_MEDIA, {"id": product_id, "query": f"id:<{before[1].rsplit('/', 1)[1]}"})
    assert oldest["data"]["product"]["media"]["nodes"] == [{"id": before[0]}]

    created = await api(PRODUCT_SET, {"input": product_input("Hat", "M-2", metafields=[marker])})
    hat = created["data"]["productSet"]["product"]["id"]
    assert (await api(NEWEST_MEDIA, {"id": hat}))["data"]["product"]["marker"] == {"value": '{"adding": "c"}'}


async def test_an_answer_lost_after_the_change_was_made(
    http: httpx.AsyncClient, endpoint: str, shop: ShopifyEmulator
) -> None:
    """lose_answer: the request is carried out, then answered 502; the next one is answered as usual."""
    shop.lose_answer("ProductSet")
    body = {
        "query": PRODUCT_SET,
        "variables": {"input": product_input("Shirt", "LOST-1")},
        "operationName": "ProductSet",
    }
    headers = {"X-Shopify-Access-Token": shop.access_token}
    lost = await http.post(endpoint, json=body, headers=headers)
    assert lost.status_code == 502
    assert [p.title for p in shop.products] == ["Shirt"]
    again = await http.post(
        endpoint, json={**body, "variables": {"input": product_input("Hat", "LOST-2")}}, headers=headers
    )
    assert again.status_code == 200 and again.json()["data"]["productSet"]["userErrors"] == []
