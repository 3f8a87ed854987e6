"""The Shopify adapter without a network: its documents against the pinned SDL, the pure mapper, the transport's
error mapping, and the adapter's request sequence against scripted answers (httpx.MockTransport).

Every GraphQL document the adapter can send is validated against the official
Admin API 2026-04 schema (specs/shopify/admin-2026-04.graphql), and so are the
variables the mapper builds for them, so a field name or input shape Shopify
does not have fails here rather than on a real shop.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from graphql import GraphQLSchema, NoDeprecatedCustomRule, OperationDefinitionNode, parse, validate
from graphql.execution.values import get_variable_values

from app.channels.base import (
    ChannelDocument,
    ChannelError,
    ChannelRateLimited,
    ChannelRejected,
    ChannelTimeout,
    ChannelUnavailable,
    CredentialsRejected,
    ItemResult,
    RateSignal,
)
from app.channels.rate_limit import LocalTokenBucket, RateLimit
from app.channels.retry import MIN_THROTTLE_WAIT, RetryPolicy, with_retries
from app.channels.shopify import documents as gql
from app.channels.shopify.adapter import ShopifyAdapter
from app.channels.shopify.client import InvalidCredentials, ShopifyClient, ShopifyCredentials
from app.channels.shopify.mapper import (
    ExportContext,
    LocaleFailure,
    MappingProblem,
    channel_field,
    check_document,
    product_set_result,
    product_set_variables,
    remote_product,
    removal_groups,
    translation_failures,
    translation_inputs,
    translation_plan,
    translation_result,
    untranslatable,
)
from app.channels.shopify.media import ImagePlan, image_plan, image_source_metafield
from app.channels.shopify.schemas import (
    MediaState,
    PendingImage,
    ProductState,
    RememberedImage,
    ShapeError,
    StockState,
    TranslatableContent,
    UserError,
    VariantState,
    decimal_text,
    image_marker,
    marker_value,
    parse_product_state,
    parse_shop_context,
    pending_image,
    sku_query,
    sku_term,
)
from app.channels.shopify.spec import API_VERSION, SCHEMA_PATHS, TRANSLATION_KEYS
from app.domain.errors import ErrorCode, UserErrorItem
from tests.clocks import FakeClock
from tests.emulators.shopify.schema import SDL_PATH, admin_schema

TOKEN = "shpat_secret_token_0123456789abcdef"
CREDENTIALS = {"shopDomain": "souk-demo.myshopify.com", "accessToken": TOKEN}
CONTEXT = ExportContext(primary_locale="en", shop_locales=frozenset({"en", "fr", "ar", "pt-BR"}), weight_unit="GRAMS")
PRODUCT_ID = "gid://shopify/Product/1001"
VARIANT_ID = "gid://shopify/ProductVariant/2001"


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    """The pinned SDL, built once for the process (the emulator's: building it takes seconds)."""
    return admin_schema()


def variable_errors(schema: GraphQLSchema, operation: gql.Operation, variables: dict[str, Any]) -> list[str]:
    """What graphql-core says about `variables` for `operation`, exactly as a GraphQL server would coerce them."""
    [definition] = [d for d in parse(operation.text).definitions if isinstance(d, OperationDefinitionNode)]
    result = get_variable_values(schema, definition.variable_definitions or (), variables)
    return [error.message for error in result] if isinstance(result, list) else []


def doc(
    fields: Mapping[str, Any] | None = None,
    locales: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    sku: str = "SHOE-1",
    external_id: str | None = None,
) -> ChannelDocument:
    return ChannelDocument(
        sku=sku,
        external_id=external_id,
        fields=dict(fields or {}),
        locales={k: dict(v) for k, v in (locales or {"en": {"title": "Desert boot"}}).items()},
    )


IMAGE = "https://images.example.com/boot.jpg"
OURS = "gid://shopify/MediaImage/31"
"""The media the connector made from IMAGE (MARKER, the image-source metafield, names it)."""
THEIRS = "gid://shopify/MediaImage/32"
OTHER = "gid://shopify/MediaImage/33"
"""Media the merchant added on Shopify."""
MARKER = RememberedImage(OURS, IMAGE)
STOCKED = StockState(inventory_item_id="gid://shopify/InventoryItem/5", tracked=True, stocked=True)
"""A variant tracked and stocked at the export location, as ProductStockState reads it."""


def existing(
    *,
    options: tuple[tuple[str, str], ...] = (("Title", "Default Title"),),
    weight: float | None = None,
    stock: StockState | None = STOCKED,
) -> ProductState:
    return ProductState(
        id=PRODUCT_ID,
        variant_count=1,
        options=tuple((f"gid://shopify/ProductOption/{i}", name) for i, (name, _) in enumerate(options, 1)),
        variant=VariantState(
            id=VARIANT_ID,
            sku="SHOE-1",
            selected_options=options,
            weight=weight,
            weight_unit="KILOGRAMS" if weight is not None else None,
        ),
        stock=stock,
    )


# -- every document against the official schema ----------------------------------------------------


@pytest.mark.parametrize("operation", gql.ALL, ids=lambda op: op.name)
def test_every_document_validates_against_the_pinned_sdl(schema: GraphQLSchema, operation: gql.Operation) -> None:
    document = parse(operation.text)
    assert validate(schema, document) == []
    assert validate(schema, document, [NoDeprecatedCustomRule]) == []  # nothing Shopify is about to remove
    names = [d.name.value for d in document.definitions if isinstance(d, OperationDefinitionNode) and d.name]
    assert names == [operation.name]
    pages = {"first": max(gql.FETCH_PAGE_SIZE, gql.LOOKUP_PAGE_SIZE)}
    assert 0 < operation.estimate(pages) <= 1000  # Shopify refuses a single query above 1,000 points


def test_every_document_constant_is_listed_in_all() -> None:
    constants = {value for value in vars(gql).values() if isinstance(value, gql.Operation)}
    assert constants == set(gql.ALL)


def test_the_sdl_is_the_pinned_version() -> None:
    assert API_VERSION == "2026-04"
    assert "productSet(" in SDL_PATH.read_text(encoding="utf-8")


# -- document → productSet variables -----------------------------------------------------------------


def test_create_sends_primary_locale_and_shared_fields_with_a_default_variant(schema: GraphQLSchema) -> None:
    document = doc(
        {
            "vendor": "Atlas",
            "tags": ["leather", "boots"],
            "status": "ACTIVE",
            "price": "115.00",
            "compareAtPrice": "150",
            "barcode": "0123456789012",
            "weight": "1.25",
            "weightUnit": "KILOGRAMS",
            "imageUrl": "https://cdn.example.com/boot.jpg",
        },
        {
            "en": {
                "title": "Desert boot",
                "descriptionHtml": "<p>Suede</p>",
                "handle": "desert-boot",
                "productType": "Shoes",
                "seoTitle": "Desert boot | Atlas",
                "seoDescription": "Suede desert boot",
            },
            "fr": {"title": "Bottine du désert"},
            "ar": {"title": "حذاء الصحراء"},
        },
    )
    variables = product_set_variables(document, CONTEXT, None)
    assert variables == {
        "identifier": None,
        "input": {
            "title": "Desert boot",
            "descriptionHtml": "<p>Suede</p>",
            "handle": "desert-boot",
            "productType": "Shoes",
            "seo": {"title": "Desert boot | Atlas", "description": "Suede desert boot"},
            "vendor": "Atlas",
            "tags": ["leather", "boots"],
            "status": "ACTIVE",
            "files": [{"originalSource": "https://cdn.example.com/boot.jpg", "contentType": "IMAGE"}],
            "metafields": [
                {
                    "namespace": "$app",
                    "key": gql.IMAGE_SOURCE_KEY,
                    "type": "json",
                    "value": '{"adding":{"source":"https://cdn.example.com/boot.jpg","after":null}}',
                }
            ],
            "productOptions": [{"name": "Title", "values": [{"name": "Default Title"}]}],
            "variants": [
                {
                    "optionValues": [{"optionName": "Title", "name": "Default Title"}],
                    "sku": "SHOE-1",
                    "price": "115.00",
                    "compareAtPrice": "150",
                    "barcode": "0123456789012",
                    "inventoryItem": {"measurement": {"weight": {"value": 1.25, "unit": "KILOGRAMS"}}},
                }
            ],
        },
    }
    assert variable_errors(schema, gql.PRODUCT_SET, variables) == []


def test_primary_locale_arabic_goes_into_product_set_and_french_is_left_for_translations() -> None:
    context = ExportContext(primary_locale="ar", shop_locales=frozenset({"ar", "fr"}), weight_unit="KILOGRAMS")
    document = doc(locales={"ar": {"title": "حذاء", "descriptionHtml": "<p>جلد</p>"}, "fr": {"title": "Bottine"}})
    product = product_set_variables(document, context, None)["input"]
    assert (product["title"], product["descriptionHtml"]) == ("حذاء", "<p>جلد</p>")
    assert "Bottine" not in json.dumps(product, ensure_ascii=False)


def test_update_keeps_the_variant_and_its_options_and_sends_only_what_is_present(schema: GraphQLSchema) -> None:
    state = existing(options=(("Size", "42"),))
    variables = product_set_variables(doc({"price": "99.90"}, {"fr": {"title": "Bottine"}}), CONTEXT, state)
    assert variables == {
        "identifier": {"id": PRODUCT_ID},
        "input": {
            "productOptions": [{"id": "gid://shopify/ProductOption/1", "name": "Size", "values": [{"name": "42"}]}],
            "variants": [
                {
                    "id": VARIANT_ID,
                    "optionValues": [{"optionName": "Size", "name": "42"}],
                    "sku": "SHOE-1",
                    "price": "99.90",
                }
            ],
        },
    }
    assert variable_errors(schema, gql.PRODUCT_SET, variables) == []


def test_none_clears_every_field_and_is_never_dropped(schema: GraphQLSchema) -> None:
    document = doc(
        {
            "vendor": None,
            "tags": None,
            "status": None,
            "compareAtPrice": None,
            "barcode": None,
            "weight": None,
            "inventoryQuantity": None,
            "imageUrl": None,
        },
        {
            "en": {
                "descriptionHtml": None,
                "handle": None,
                "productType": None,
                "seoTitle": None,
                "seoDescription": None,
            }
        },
    )
    context = ExportContext("en", CONTEXT.shop_locales, "GRAMS", location_id="gid://shopify/Location/7")
    gallery = replace(existing(), media=(MediaState(OURS, "READY"), MediaState(THEIRS, "READY")), marker=MARKER)
    variables = product_set_variables(document, context, gallery)
    product = variables["input"]
    assert {k: product[k] for k in ("descriptionHtml", "handle", "productType", "vendor", "tags", "status")} == {
        "descriptionHtml": "",
        "handle": "",
        "productType": "",
        "vendor": "",
        "tags": [],
        "status": None,
    }
    assert product["seo"] == {"title": "", "description": ""}
    assert "files" not in product  # an update never sends the whole media list
    assert image_plan(None, gallery) == ImagePlan(retire=(MediaState(OURS, "READY"),))  # the PIM's own alone
    [variant] = product["variants"]
    assert "price" not in variant
    assert (variant["compareAtPrice"], variant["barcode"]) == (None, "")
    assert variant["inventoryItem"] == {"measurement": {"weight": None}}
    assert variant["inventoryQuantities"] == [
        {"locationId": "gid://shopify/Location/7", "name": "available", "quantity": 0}
    ]
    assert "title" not in product
    assert variable_errors(schema, gql.PRODUCT_SET, variables) == []


def gallery(*media: tuple[str, str], marker: RememberedImage | None = MARKER) -> ProductState:
    return replace(existing(), media=tuple(MediaState(*m) for m in media), marker=marker)


UPLOAD = {"originalSource": IMAGE, "contentType": "IMAGE"}
NEW = "https://images.example.com/new.jpg"
OLD = "gid://shopify/MediaImage/30"
"""An earlier image of the connector's that an export failed to take off (the marker lists it as retired)."""


@pytest.mark.parametrize(("url", "files"), [(IMAGE, [UPLOAD]), (None, None), ("", None)])
def test_a_new_product_s_files_are_the_pim_s_image_alone(
    schema: GraphQLSchema, url: str | None, files: list[dict[str, str]] | None
) -> None:
    """Creating a product, productSet's files (its whole media list) are just the PIM's image: nothing of the
    merchant's exists yet."""
    variables = product_set_variables(doc({"imageUrl": url}, sku="SHOE-1"), CONTEXT, None)
    assert variables["input"].get("files") == files
    assert variable_errors(schema, gql.PRODUCT_SET, variables) == []


def test_an_update_never_sends_the_whole_media_list() -> None:
    """productSet's files would replace every media with those read a few requests earlier: never on update."""
    for state in (gallery((THEIRS, "READY"), marker=None), gallery(), replace(gallery(), media_after="cursor")):
        for url in (IMAGE, NEW, None):
            assert "files" not in product_set_variables(doc({"imageUrl": url}), CONTEXT, state)["input"]


READY, FAILED, PROCESSING = "READY", "FAILED", "PROCESSING"


@pytest.mark.parametrize(
    ("url", "state", "plan"),
    [
        (IMAGE, gallery((OURS, READY), (THEIRS, READY)), ImagePlan()),  # in place: no media mutation at all
        (IMAGE, replace(gallery((OURS, READY)), media_after="cursor"), ImagePlan()),  # the rest need not be read
        (IMAGE, gallery((THEIRS, READY), (OURS, READY)), ImagePlan(first=OURS)),  # the merchant moved it: first again
        (IMAGE, gallery((THEIRS, READY), marker=None), ImagePlan(add=IMAGE)),  # a merchant's product linked
        (IMAGE, gallery((THEIRS, READY)), ImagePlan(add=IMAGE)),  # the merchant removed the PIM's: added again
        (IMAGE, gallery((OURS, FAILED), (THEIRS, READY)), ImagePlan(add=IMAGE, retire=(MediaState(OURS, FAILED),))),
        (NEW, gallery((OURS, READY), (THEIRS, READY)), ImagePlan(add=NEW, retire=(MediaState(OURS, READY),))),
        (NEW, gallery((THEIRS, READY), (OURS, PROCESSING)), ImagePlan(add=NEW, retire=(MediaState(OURS, PROCESSING),))),
        (None, gallery((THEIRS, READY), (OURS, READY), (OTHER, READY)), ImagePlan(retire=(MediaState(OURS, READY),))),
        (None, gallery((THEIRS, READY), marker=None), ImagePlan()),  # nothing of the PIM's to take off
        ("", gallery((OURS, READY)), ImagePlan(retire=(MediaState(OURS, READY),))),
        (None, gallery(), ImagePlan()),
        # a half-failed change: the new image added and recorded, the old one still on the product, not first
        (
            IMAGE,
            gallery((OLD, READY), (THEIRS, READY), (OURS, PROCESSING), marker=RememberedImage(OURS, IMAGE, (OLD,))),
            ImagePlan(first=OURS, retire=(MediaState(OLD, READY),)),
        ),
        (IMAGE, gallery((OURS, READY), (THEIRS, READY), marker=RememberedImage(OURS, IMAGE, (OLD,))), ImagePlan()),
    ],
)
def test_the_image_plan_names_only_the_connector_s_own_media(
    url: str | None, state: ProductState, plan: ImagePlan
) -> None:
    """Only media the image-source metafield names are moved or taken off; a merchant's media never is. An image
    in place plans nothing, and a retry after a half-failed change finishes it without adding the image again."""
    assert image_plan(url, state) == plan


def test_a_media_image_url_of_the_wrong_type_fails_before_anything_is_sent() -> None:
    with pytest.raises(MappingProblem, match="imageUrl takes text"):
        image_plan(42, gallery((OURS, READY)))


def test_the_marker_written_with_an_add_keeps_the_image_it_replaces_and_names_the_one_being_added() -> None:
    """Written by productSet or productUpdate with the media, it says what is being added and after which media,
    and still names the connector's image until then, so a retry after a lost answer knows both."""
    adding = PendingImage(IMAGE, "gid://shopify/MediaImage/9")
    both = {"imageSource": {"value": marker_value(RememberedImage(OURS, "https://img.test/old.jpg", (OLD,)), adding)}}
    assert image_marker(both) == RememberedImage(OURS, "https://img.test/old.jpg", (OLD,))
    assert pending_image(both) == adding
    first = {"imageSource": {"value": marker_value(None, PendingImage(IMAGE, None))}}
    assert (image_marker(first), pending_image(first)) == (None, PendingImage(IMAGE, None))
    assert pending_image({"imageSource": {"value": marker_value(None)}}) is None
    assert pending_image({"imageSource": {"value": '{"adding": {"source": 1}}'}}) is None


def test_the_marker_remembers_the_images_still_to_take_off() -> None:
    marker = image_source_metafield(PRODUCT_ID, OURS, IMAGE, [OLD])
    product = {"imageSource": {"value": marker["value"]}}
    assert image_marker(product) == RememberedImage(OURS, IMAGE, (OLD,))
    assert json.loads(image_source_metafield(PRODUCT_ID, OURS, IMAGE)["value"]) == {"mediaId": OURS, "source": IMAGE}


@pytest.mark.parametrize(
    ("fields", "current_weight", "expected"),
    [
        ({"weight": "500"}, None, {"weight": {"value": 500.0, "unit": "GRAMS"}}),  # the shop's default unit
        ({"weight": "2"}, 1.0, {"weight": {"value": 2.0, "unit": "KILOGRAMS"}}),  # the variant's unit is kept
        ({"weightUnit": "POUNDS"}, 3.5, {"weight": {"value": 3.5, "unit": "POUNDS"}}),  # the variant's value is kept
        ({"weightUnit": "OUNCES"}, None, {"weight": {"value": 0.0, "unit": "OUNCES"}}),
        ({"weight": "1.5", "weightUnit": None}, 1.0, {"weight": {"value": 1.5, "unit": "KILOGRAMS"}}),
        ({"weight": None, "weightUnit": "GRAMS"}, 1.0, {"weight": None}),
        ({}, 1.0, None),
    ],
)
def test_weight_and_unit_always_travel_together(
    fields: dict[str, Any], current_weight: float | None, expected: dict[str, Any] | None
) -> None:
    [variant] = product_set_variables(doc(fields), CONTEXT, existing(weight=current_weight))["input"]["variants"]
    assert variant.get("inventoryItem", {}).get("measurement") == expected


def test_stock_goes_to_the_location_and_the_variant_is_tracked() -> None:
    """The PIM manages the stock it sends: an untracked variant would keep selling past it, so tracking is
    turned on, for a variant created or one found untracked; one tracked already is sent nothing more."""
    context = ExportContext("en", CONTEXT.shop_locales, "GRAMS", location_id="gid://shopify/Location/7")
    [created] = product_set_variables(doc({"inventoryQuantity": 12}), context, None)["input"]["variants"]
    assert created["inventoryQuantities"] == [
        {"locationId": "gid://shopify/Location/7", "name": "available", "quantity": 12}
    ]
    assert created["inventoryItem"] == {"tracked": True}
    [updated] = product_set_variables(doc({"inventoryQuantity": 3}), context, existing())["input"]["variants"]
    assert "inventoryItem" not in updated
    untracked = existing(stock=replace(STOCKED, tracked=False))
    [linked] = product_set_variables(doc({"inventoryQuantity": 3}), context, untracked)["input"]["variants"]
    assert linked["inventoryItem"] == {"tracked": True}
    [unread] = product_set_variables(doc({"inventoryQuantity": 3}), context, existing(stock=None))["input"]["variants"]
    assert unread["inventoryItem"] == {"tracked": True}


@pytest.mark.parametrize(
    ("fields", "sent"),
    [
        ({"inventoryQuantity": 2**31 - 1}, {"quantity": 2**31 - 1}),  # the largest GraphQL Int
        ({"inventoryQuantity": -(2**31)}, {"quantity": -(2**31)}),  # the smallest: oversold stock is negative
        ({"price": "999999999999999999.99"}, {"price": "999999999999999999.99"}),  # just under Shopify's limit
        ({"compareAtPrice": "999999999999999999"}, {"compareAtPrice": "999999999999999999"}),
        ({"weight": "0", "weightUnit": "GRAMS"}, {"weight": 0.0}),
        ({"sku": "x" * 255}, {"sku": "x" * 255}),  # as long as Shopify stores
    ],
)
def test_the_edge_values_shopify_takes_are_sent_as_they_are(fields: dict[str, Any], sent: dict[str, Any]) -> None:
    """Each limit refuses only what is past it: the value at the very edge is sent, not failed as out of range."""
    context = ExportContext("en", CONTEXT.shop_locales, "GRAMS", location_id="gid://shopify/Location/7")
    [variant] = product_set_variables(doc(fields), context, None)["input"]["variants"]
    read = {
        "quantity": lambda: variant["inventoryQuantities"][0]["quantity"],
        "weight": lambda: variant["inventoryItem"]["measurement"]["weight"]["value"],
    }
    assert {name: read[name]() if name in read else variant[name] for name in sent} == sent


def test_a_mapped_sku_is_sent_and_an_empty_one_falls_back_to_the_pim_sku() -> None:
    [mapped] = product_set_variables(doc({"sku": "ATLAS-42"}), CONTEXT, None)["input"]["variants"]
    [cleared] = product_set_variables(doc({"sku": None}), CONTEXT, None)["input"]["variants"]
    assert (mapped["sku"], cleared["sku"]) == ("ATLAS-42", "SHOE-1")


@pytest.mark.parametrize(
    ("document", "state", "code"),
    [
        (doc(locales={"en": {"descriptionHtml": "x"}}), None, ErrorCode.MISSING_REQUIRED_FIELD),
        (doc(locales={"en": {"title": "  "}}), None, ErrorCode.MISSING_REQUIRED_FIELD),
        (doc(locales={"fr": {"title": "Bottine"}}), None, ErrorCode.MISSING_REQUIRED_FIELD),
        (doc(locales={"en": {"title": None}}), existing(), ErrorCode.MISSING_REQUIRED_FIELD),
        (doc({"status": "LIVE"}), None, ErrorCode.FIELD_TYPE_MISMATCH),
        (doc({"weightUnit": "STONES"}), None, ErrorCode.FIELD_TYPE_MISMATCH),
        (doc({"price": "cheap"}), None, ErrorCode.FIELD_TYPE_MISMATCH),
        (doc({"price": True}), None, ErrorCode.FIELD_TYPE_MISMATCH),
        (doc({"weight": "-1"}), None, ErrorCode.FIELD_TYPE_MISMATCH),
        (doc({"tags": [1, 2]}), None, ErrorCode.FIELD_TYPE_MISMATCH),
        (doc({"vendor": 7}), None, ErrorCode.FIELD_TYPE_MISMATCH),
        (doc({"inventoryQuantity": "12"}), None, ErrorCode.FIELD_TYPE_MISMATCH),
        (doc({"inventoryQuantity": 3}), None, ErrorCode.MAPPING_INVALID),  # no location resolved
    ],
)
def test_documents_shopify_would_refuse_fail_before_sending(
    document: ChannelDocument, state: ProductState | None, code: ErrorCode
) -> None:
    with pytest.raises(MappingProblem) as caught:
        product_set_variables(document, CONTEXT, state)
    assert caught.value.code is code
    assert caught.value.result(document).ok is False


@pytest.mark.parametrize(
    ("document", "code", "locale"),
    [
        (doc({"title": "x"}), ErrorCode.MAPPING_INVALID, None),
        (doc({"colour": "red"}), ErrorCode.MAPPING_INVALID, None),
        (doc(locales={"en": {"title": "x", "vendor": "y"}}), ErrorCode.MAPPING_INVALID, "en"),
        (doc(locales={"en": {"title": "x"}, "de": {"title": "Stiefel"}}), ErrorCode.LOCALE_NOT_SUPPORTED, "de"),
        (doc(locales={"en": {"title": "x"}, "ar": {"title": 5}}), ErrorCode.FIELD_TYPE_MISMATCH, "ar"),
    ],
)
def test_check_document_refuses_unknown_fields_and_locales(
    document: ChannelDocument, code: ErrorCode, locale: str | None
) -> None:
    with pytest.raises(MappingProblem) as caught:
        check_document(document, CONTEXT)
    assert (caught.value.code, caught.value.locale) == (code, locale)


def test_check_document_accepts_every_spec_field_in_its_place() -> None:
    localizable = {name: "x" for name in TRANSLATION_KEYS}
    shared = {name: None for name in SCHEMA_PATHS if name not in TRANSLATION_KEYS}
    check_document(doc(shared, {"en": localizable, "pt-BR": localizable}), CONTEXT)


# -- translations ------------------------------------------------------------------------------------

DIGESTS = {
    key: TranslatableContent(key=key, value=f"source {key}", digest=f"digest-{key}")
    for key in TRANSLATION_KEYS.values()
}


def test_translation_plan_registers_values_and_removes_nones_per_locale(schema: GraphQLSchema) -> None:
    document = doc(
        locales={
            "en": {"title": "Desert boot"},
            "fr": {"title": "Bottine du désert", "descriptionHtml": "<p>Daim</p>", "seoTitle": None},
            "ar": {"title": "حذاء الصحراء", "handle": "", "seoTitle": None},
            "pt-BR": {"productType": "Calçados"},
        }
    )
    plan = translation_plan(document, "en")
    assert plan.register == {
        "fr": {"title": "Bottine du désert", "body_html": "<p>Daim</p>"},
        "ar": {"title": "حذاء الصحراء"},
        "pt-BR": {"product_type": "Calçados"},
    }
    assert plan.remove == {"fr": ("meta_title",), "ar": ("handle", "meta_title")}
    assert sorted(removal_groups(plan)) == [(("handle", "meta_title"), ("ar",)), (("meta_title",), ("fr",))]
    inputs, failures = translation_inputs(plan, DIGESTS)
    assert failures == []
    assert inputs[0] == {
        "locale": "fr",
        "key": "title",
        "value": "Bottine du désert",
        "translatableContentDigest": "digest-title",
    }
    assert {(i["locale"], i["key"]) for i in inputs} == {
        ("fr", "title"),
        ("fr", "body_html"),
        ("ar", "title"),
        ("pt-BR", "product_type"),
    }
    variables = {"resourceId": PRODUCT_ID, "translations": inputs}
    assert variable_errors(schema, gql.TRANSLATIONS_REGISTER, variables) == []
    removal = {"resourceId": PRODUCT_ID, "translationKeys": ["meta_title"], "locales": ["fr"]}
    assert variable_errors(schema, gql.TRANSLATIONS_REMOVE, removal) == []


def test_locales_removing_the_same_keys_share_one_remove_call() -> None:
    plan = translation_plan(doc(locales={"fr": {"seoTitle": None}, "ar": {"seoTitle": None}}), "en")
    assert removal_groups(plan) == [(("meta_title",), ("fr", "ar"))]


def test_a_translation_without_source_content_fails_its_locale_only() -> None:
    plan = translation_plan(doc(locales={"fr": {"seoTitle": "Bottine"}, "ar": {"title": "حذاء"}}), "en")
    content = {"title": DIGESTS["title"], "meta_title": TranslatableContent("meta_title", None, None)}
    inputs, failures = translation_inputs(plan, content)
    assert [i["locale"] for i in inputs] == ["ar"]
    assert failures == [
        LocaleFailure("fr", ErrorCode.MISSING_REQUIRED_FIELD, "seoTitle: the primary locale has no value to translate")
    ]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("INVALID_VALUE_FOR_HANDLE_TRANSLATION", ErrorCode.FIELD_TYPE_MISMATCH),
        ("BLANK", ErrorCode.MISSING_REQUIRED_FIELD),
        ("INVALID_LOCALE_FOR_SHOP", ErrorCode.LOCALE_NOT_SUPPORTED),
        ("RESOURCE_NOT_FOUND", ErrorCode.PRODUCT_NOT_FOUND_IN_CHANNEL),
        ("INVALID_TRANSLATABLE_CONTENT", ErrorCode.UPDATE_FAILED),
        (None, ErrorCode.UPDATE_FAILED),
    ],
)
def test_translation_user_errors_name_the_locale_of_the_input(code: str | None, expected: ErrorCode) -> None:
    inputs = [
        {"locale": "fr", "key": "title", "value": "Bottine", "translatableContentDigest": "d1"},
        {"locale": "ar", "key": "handle", "value": "حذاء", "translatableContentDigest": "d2"},
    ]
    [failure] = translation_failures([UserError(code, ("translations", "1", "value"), "is invalid")], inputs)
    assert failure == LocaleFailure("ar", expected, "handle: is invalid")


def test_a_refused_locale_of_a_shared_remove_call_is_named() -> None:
    """Locales removing the same keys share one translationsRemove call: a userError on ["locales", "<i>"] (the
    merchant deleted that language meanwhile) is that locale's, not an unnamed one's."""
    error = UserError("INVALID_LOCALE_FOR_SHOP", ("locales", "1"), "Locale ar is invalid for the shop")
    [failure] = translation_failures([error], (), ("fr", "ar"))
    assert failure == LocaleFailure("ar", ErrorCode.LOCALE_NOT_SUPPORTED, "Locale ar is invalid for the shop")
    [whole] = translation_failures([UserError("RESOURCE_NOT_FOUND", ("resourceId",), "gone")], (), ("fr", "ar"))
    assert whole.locale is None


def test_a_translation_failure_keeps_the_written_product() -> None:
    failures = [
        LocaleFailure("ar", ErrorCode.FIELD_TYPE_MISMATCH, "handle: is invalid"),
        LocaleFailure("fr", ErrorCode.MISSING_REQUIRED_FIELD, "title: blank"),
    ]
    result = translation_result("SHOE-1", PRODUCT_ID, failures)
    assert result == ItemResult(
        sku="SHOE-1",
        ok=False,
        external_id=PRODUCT_ID,
        code=ErrorCode.FIELD_TYPE_MISMATCH,
        message="[ar] handle: is invalid; [fr] title: blank",
        locale="ar",
    )


# -- productSet userErrors → ItemResult ------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "external_id", "code", "locale", "message"),
    [
        (
            UserError("INVALID_VARIANT", ("input", "variants", "0", "price"), "Price must be positive"),
            PRODUCT_ID,
            ErrorCode.FIELD_TYPE_MISMATCH,
            None,
            "price: Price must be positive",
        ),
        (
            UserError(None, ("input", "title"), "Title can't be blank"),
            None,
            ErrorCode.MISSING_REQUIRED_FIELD,
            "en",
            "title: Title can't be blank",
        ),
        (
            UserError("HANDLE_NOT_UNIQUE", ("input", "handle"), "Handle has already been taken"),
            None,
            ErrorCode.FIELD_TYPE_MISMATCH,
            "en",
            "handle: Handle has already been taken",
        ),
        (
            UserError("MISSING_FIELD_REQUIRED", ("input", "seo", "title"), "missing"),
            None,
            ErrorCode.MISSING_REQUIRED_FIELD,
            "en",
            "seoTitle: missing",
        ),
        (
            UserError("PRODUCT_DOES_NOT_EXIST", ("identifier", "id"), "Product does not exist"),
            PRODUCT_ID,
            ErrorCode.PRODUCT_NOT_FOUND_IN_CHANNEL,
            None,
            "Product does not exist",
        ),
        (UserError("GENERIC_ERROR", (), "Something went wrong"), None, ErrorCode.CREATE_FAILED, None, None),
        (UserError("JOB_ERROR", (), "Something went wrong"), PRODUCT_ID, ErrorCode.UPDATE_FAILED, None, None),
        (
            UserError(
                "INVALID_INPUT",
                ("input", "variants", "0", "inventoryItem", "measurement", "weight", "value"),
                "must be a number",
            ),
            PRODUCT_ID,
            ErrorCode.FIELD_TYPE_MISMATCH,
            None,
            "weight: must be a number",
        ),
    ],
)
def test_product_set_user_errors_become_item_results(
    error: UserError, external_id: str | None, code: ErrorCode, locale: str | None, message: str | None
) -> None:
    result = product_set_result(doc(), [error], external_id=external_id, primary_locale="en")
    assert (result.ok, result.external_id, result.code, result.locale) == (False, external_id, code, locale)
    assert result.message == (message or error.message)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        (("input", "descriptionHtml"), "descriptionHtml"),
        (("input", "seo", "description"), "seoDescription"),
        (("input", "variants", "0", "compareAtPrice"), "compareAtPrice"),
        (("input", "variants", "0", "inventoryQuantities", "0", "quantity"), "inventoryQuantity"),
        (("input", "variants", "0", "inventoryItem", "measurement", "weight", "unit"), "weightUnit"),
        (("input", "files", "0", "originalSource"), "imageUrl"),
        (("input", "variants", "0"), None),
        ((), None),
    ],
)
def test_error_paths_name_the_channel_field(path: tuple[str, ...], name: str | None) -> None:
    assert channel_field(path) == name


# -- reading back ------------------------------------------------------------------------------------


MEDIA_ID = "gid://shopify/MediaImage/3001"


def variant_node(**overrides: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": VARIANT_ID,
        "sku": "SHOE-1",
        "price": "115.00",
        "compareAtPrice": None,
        "barcode": "0123456789012",
        "inventoryItem": {
            "measurement": {"weight": {"unit": "KILOGRAMS", "value": 1.25}},
            "inventoryLevel": {"quantities": [{"name": "available", "quantity": 4}]},
        },
        "product": {
            "id": PRODUCT_ID,
            "title": "Desert boot",
            "descriptionHtml": "<p>Suede</p>",
            "handle": "desert-boot",
            "productType": "Shoes",
            "vendor": "Atlas",
            "tags": ["boots", "leather"],
            "status": "ACTIVE",
            "updatedAt": "2026-04-02T10:30:00Z",
            "seo": {"title": None, "description": "Suede desert boot"},
            "featuredMedia": {"id": MEDIA_ID, "image": {"url": "https://cdn.shopify.com/s/files/boot.jpg"}},
            "imageSource": None,
        },
    }
    node.update(overrides)
    return node


def test_remote_product_reads_what_shopify_stores_with_translations() -> None:
    translations = {
        "fr": {"title": "Bottine du désert", "body_html": "<p>Daim</p>"},
        "ar": {"title": "حذاء الصحراء", "meta_description": "حذاء من جلد الغزال"},
    }
    remote = remote_product(variant_node(), primary_locale="en", translations=translations)
    assert remote.external_id == PRODUCT_ID
    assert remote.sku == "SHOE-1"
    assert remote.updated_at == datetime(2026, 4, 2, 10, 30, tzinfo=UTC)
    assert remote.fields == {
        "vendor": "Atlas",
        "tags": ["boots", "leather"],
        "status": "ACTIVE",
        "price": "115.00",
        "compareAtPrice": None,
        "sku": "SHOE-1",
        "barcode": "0123456789012",
        "weight": "1.25",
        "weightUnit": "KILOGRAMS",
        "inventoryQuantity": 4,
        "imageUrl": "https://cdn.shopify.com/s/files/boot.jpg",
    }
    assert remote.locales["en"] == {
        "title": "Desert boot",
        "descriptionHtml": "<p>Suede</p>",
        "handle": "desert-boot",
        "productType": "Shoes",
        "seoTitle": None,
        "seoDescription": "Suede desert boot",
    }
    assert remote.locales["fr"]["descriptionHtml"] == "<p>Daim</p>"
    assert remote.locales["ar"] == {
        "title": "حذاء الصحراء",
        "descriptionHtml": None,
        "handle": None,
        "productType": None,
        "seoTitle": None,
        "seoDescription": "حذاء من جلد الغزال",
    }


@pytest.mark.parametrize(
    ("translated_at", "expected"),
    [
        (datetime(2026, 4, 3, 8, 0, tzinfo=UTC), datetime(2026, 4, 3, 8, 0, tzinfo=UTC)),
        (datetime(2026, 4, 1, 8, 0, tzinfo=UTC), datetime(2026, 4, 2, 10, 30, tzinfo=UTC)),
        (None, datetime(2026, 4, 2, 10, 30, tzinfo=UTC)),
    ],
    ids=["translation_edited_later", "product_edited_later", "no_translation"],
)
def test_a_product_changed_when_its_latest_translation_did(translated_at: datetime | None, expected: datetime) -> None:
    """An edited translation leaves the product's updatedAt (2026-04-02 10:30) as it was; NEWEST_WINS needs
    the edit's own time."""
    remote = remote_product(variant_node(), primary_locale="en", translations={}, translated_at=translated_at)
    assert remote.updated_at == expected


def test_remote_stock_is_the_available_quantity_at_the_location_read() -> None:
    remote = remote_product(variant_node(), primary_locale="en", translations={})
    assert remote.fields["inventoryQuantity"] == 4
    unstocked = variant_node(inventoryItem={"measurement": None, "inventoryLevel": None})
    assert remote_product(unstocked, primary_locale="en", translations={}).fields["inventoryQuantity"] is None


def _with_image(media: dict[str, Any] | None, marker: dict[str, str] | None) -> dict[str, Any]:
    node = variant_node()
    node["product"] = {
        **node["product"],
        "featuredMedia": media,
        "imageSource": None if marker is None else {"value": json.dumps(marker)},
    }
    return node


@pytest.mark.parametrize(
    ("media", "marker", "expected"),
    [
        (
            {"id": MEDIA_ID, "image": None},
            {"mediaId": MEDIA_ID, "source": "https://img.test/a.jpg"},
            "https://img.test/a.jpg",
        ),
        (
            {"id": MEDIA_ID, "image": {"url": "https://cdn.shopify.com/a.jpg"}},
            {"mediaId": MEDIA_ID, "source": "https://img.test/a.jpg"},
            "https://img.test/a.jpg",
        ),
        (
            {"id": "gid://shopify/MediaImage/9", "image": {"url": "https://cdn.shopify.com/b.jpg"}},
            {"mediaId": MEDIA_ID, "source": "https://img.test/a.jpg"},
            "https://cdn.shopify.com/b.jpg",
        ),
        ({"id": MEDIA_ID, "image": None}, None, None),
        (None, {"mediaId": MEDIA_ID, "source": "https://img.test/a.jpg"}, None),
    ],
    ids=["processing", "processed", "replaced_by_the_merchant", "merchant_image_processing", "image_removed"],
)
def test_the_image_reads_back_as_the_url_sent_while_it_is_the_media_made_from_it(
    media: dict[str, Any] | None, marker: dict[str, str] | None, expected: str | None
) -> None:
    """Shopify never reports the URL an image was made from (no image URL while processing, a CDN URL after);
    the metafield written with the image says which media that URL became."""
    remote = remote_product(_with_image(media, marker), primary_locale="en", translations={})
    assert remote.fields["imageUrl"] == expected


def test_a_cleared_price_is_refused_before_anything_is_sent() -> None:
    """Shopify has no empty price: null would be sold for free (or refused), so nothing goes out."""
    with pytest.raises(MappingProblem) as caught:
        product_set_variables(doc({"price": None}), CONTEXT, None)
    assert (caught.value.code, caught.value.locale) == (ErrorCode.MISSING_REQUIRED_FIELD, None)
    assert caught.value.message == "price cannot be cleared: Shopify requires one"


@pytest.mark.parametrize(("value", "text"), [(1.5, "1.5"), (2.0, "2"), (0, "0"), (0.1, "0.1"), (None, None)])
def test_weights_read_back_as_decimal_text(value: float | None, text: str | None) -> None:
    assert decimal_text(value) == text


@pytest.mark.parametrize(
    ("sku", "term"),
    [("SHOE-1", 'sku:"SHOE-1"'), ('A "B"', 'sku:"A \\"B\\""'), ("C:\\D", 'sku:"C:\\\\D"'), ("حذاء-1", 'sku:"حذاء-1"')],
)
def test_sku_terms_are_quoted_and_escaped(sku: str, term: str) -> None:
    assert sku_term(sku) == term


def test_sku_queries_join_terms_with_or() -> None:
    assert sku_query(["A", "B"]) == 'sku:"A" OR sku:"B"'


def test_fetch_variables_are_valid(schema: GraphQLSchema) -> None:
    base = {"query": sku_query(["A"]), "first": gql.FETCH_PAGE_SIZE, "after": None}
    at = {**base, "locationId": "gid://shopify/Location/7"}
    assert variable_errors(schema, gql.PRODUCTS_BY_SKU, at) == []
    assert variable_errors(schema, gql.PRODUCTS_BY_SKU, base) != []  # stock is always read at one location
    marker = image_source_metafield(PRODUCT_ID, MEDIA_ID, "https://img.test/a.jpg")
    assert variable_errors(schema, gql.METAFIELDS_SET, {"metafields": [marker]}) == []
    assert f'metafield(key: "{gql.IMAGE_SOURCE_KEY}")' in gql.PRODUCTS_BY_SKU.text
    assert variable_errors(schema, gql.WEBHOOK_SUBSCRIPTION_DELETE, {"id": "gid://shopify/WebhookSubscription/1"}) == []
    listed = {"topics": ["PRODUCTS_UPDATE"], "first": gql.WEBHOOK_PAGE_SIZE, "after": None}
    assert variable_errors(schema, gql.WEBHOOK_SUBSCRIPTIONS_BY_TOPIC, listed) == []
    translations = {"resourceIds": [PRODUCT_ID], "first": 1, "locale": "ar"}
    assert variable_errors(schema, gql.PRODUCT_TRANSLATIONS, translations) == []
    assert variable_errors(schema, gql.PRODUCT_DELETE, {"input": {"id": PRODUCT_ID}}) == []
    assert variable_errors(schema, gql.PRODUCT_ID_BY_SKU, {"query": 'sku:"A"', "first": 5, "after": "abc"}) == []


def test_shop_context_and_product_state_are_read_strictly() -> None:
    shop = parse_shop_context(
        {
            "shop": {
                "name": "Souk",
                "currencyCode": "AED",
                "enabledPresentmentCurrencies": ["AED", "EUR"],
                "weightUnit": "KILOGRAMS",
            },
            "shopLocales": [
                {"locale": "ar", "primary": True, "published": True},
                {"locale": "fr", "primary": False, "published": False},
            ],
            "productsCount": {"count": 3, "precision": "EXACT"},
        }
    )
    assert (shop.primary_locale, shop.locale_codes, shop.product_count) == ("ar", ("ar", "fr"), 3)
    assert shop.translation_locales == ("fr",)  # unpublished, still written to and read back
    with pytest.raises(ShapeError):
        parse_shop_context({"shop": {"name": 1}, "shopLocales": []})
    state = parse_product_state(
        {
            "id": PRODUCT_ID,
            "variantsCount": {"count": 1},
            "media": {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}},
            "newestMedia": {"nodes": []},
            "options": [{"id": "gid://shopify/ProductOption/1", "name": "Title"}],
            "variants": {
                "nodes": [
                    {
                        "id": VARIANT_ID,
                        "sku": "SHOE-1",
                        "selectedOptions": [{"name": "Title", "value": "Default Title"}],
                        "inventoryItem": {"measurement": {"weight": None}},
                    }
                ]
            },
        }
    )
    assert state.variant == VariantState(VARIANT_ID, "SHOE-1", (("Title", "Default Title"),), None, None)
    assert state.stock is None  # read by ProductState: stock was not asked for


def stock_node(**item: Any) -> dict[str, Any]:
    inventory_item = {"id": "gid://shopify/InventoryItem/5", "tracked": True, "inventoryLevel": None, **item}
    return {**STATE, "stock": {"nodes": [{"inventoryItem": inventory_item}]}}


def test_the_stock_state_says_where_the_variant_is_stocked_and_is_read_strictly(schema: GraphQLSchema) -> None:
    variables = {"id": PRODUCT_ID, "locationId": "gid://shopify/Location/7"}
    assert variable_errors(schema, gql.PRODUCT_STOCK_STATE, variables) == []
    activation = {
        "inventoryItemId": "gid://shopify/InventoryItem/5",
        "inventoryItemUpdates": [{"locationId": "gid://shopify/Location/7", "activate": True}],
    }
    assert variable_errors(schema, gql.INVENTORY_ACTIVATE, activation) == []
    unstocked = parse_product_state(stock_node(tracked=False))
    assert unstocked.stock == StockState("gid://shopify/InventoryItem/5", tracked=False, stocked=False)
    stocked = parse_product_state(stock_node(inventoryLevel={"id": "gid://shopify/InventoryLevel/1"}))
    assert stocked.stock == STOCKED
    with pytest.raises(ShapeError):
        parse_product_state(stock_node(tracked=None))


# -- credentials -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        {"shopDomain": "https://x.myshopify.com", "accessToken": "t"},
        {"shopDomain": "evil.example.com", "accessToken": "t"},
        {"shopDomain": "x.myshopify.com"},
        {"shopDomain": "x.myshopify.com", "accessToken": "t\nX-Evil: 1"},
        {"shopDomain": "x.myshopify.com", "accessToken": "shpat_ключ"},
        {"shopDomain": "x.myshopify.com", "accessToken": "shpat 0123"},
        {"shopDomain": "x.myshopify.com", "accessToken": "t", "apiVersion": "2025-01"},
        {"shopDomain": "x.myshopify.com", "accessToken": "t", "locationId": "7"},
    ],
)
def test_bad_credentials_are_refused_without_echoing_them(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidCredentials) as caught:
        ShopifyCredentials.parse(raw)
    assert caught.value.code is ErrorCode.INVALID_CREDENTIALS_FORMAT
    assert "t\nX-Evil" not in caught.value.message


def test_credentials_repr_hides_the_token_and_the_endpoint_defaults_to_the_shop() -> None:
    credentials = ShopifyCredentials.parse({**CREDENTIALS, "webhookSecret": "whsec-0123456789abcdef"})
    assert TOKEN not in repr(credentials) and "whsec-0123456789abcdef" not in repr(credentials)
    assert credentials.default_endpoint == "https://souk-demo.myshopify.com/admin/api/2026-04/graphql.json"


# -- the transport: statuses, GraphQL errors, throttling -------------------------------------------


@dataclass
class RecordingGate:
    acquired: list[float] = field(default_factory=list)
    observed: list[RateSignal] = field(default_factory=list)

    async def acquire(self, cost: float = 1.0) -> None:
        self.acquired.append(cost)

    async def observe(self, signal: RateSignal) -> None:
        self.observed.append(signal)


THROTTLE = {"maximumAvailable": 2000.0, "currentlyAvailable": 1990.0, "restoreRate": 100.0}


def answer(data: Any = None, *, errors: Any = None, cost: Mapping[str, Any] | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    if data is not None:
        payload["data"] = data
    if errors is not None:
        payload["errors"] = errors
    payload["extensions"] = {
        "cost": {"requestedQueryCost": 5, "actualQueryCost": 3, "throttleStatus": THROTTLE, **(cost or {})}
    }
    return payload


Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler, gate: RecordingGate | None = None) -> ShopifyClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return ShopifyClient(ShopifyCredentials.parse(CREDENTIALS), http, timeout=5.0, gate=gate)


async def test_a_request_carries_the_token_the_document_and_its_variables() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=answer({"product": None}))

    gate = RecordingGate()
    data = await client_for(handler, gate).execute(gql.PRODUCT_STATE, {"id": PRODUCT_ID})
    assert data == {"product": None}
    [request] = seen
    assert str(request.url) == "https://souk-demo.myshopify.com/admin/api/2026-04/graphql.json"
    assert request.headers["x-shopify-access-token"] == TOKEN
    assert request.headers["content-type"] == "application/json"
    body = json.loads(request.content)
    assert body == {"query": gql.PRODUCT_STATE.text, "operationName": "ProductState", "variables": {"id": PRODUCT_ID}}
    assert gate.acquired == [gql.PRODUCT_STATE.estimate({"id": PRODUCT_ID})]
    assert gate.observed == [RateSignal(available=1990.0, capacity=2000.0, restore_rate=100.0)]


async def test_throttled_is_a_rate_limit_with_the_wait_shopify_implies() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        throttled = {"maximumAvailable": 1000.0, "currentlyAvailable": 12.0, "restoreRate": 50.0}
        return httpx.Response(
            200,
            json=answer(
                errors=[{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                cost={"requestedQueryCost": 112, "actualQueryCost": None, "throttleStatus": throttled},
            ),
        )

    gate = RecordingGate()
    with pytest.raises(ChannelRateLimited) as caught:
        await client_for(handler, gate).execute(gql.PRODUCT_SET, {"input": {}})
    assert caught.value.retry_after == pytest.approx(2.0)  # (112 - 12) / 50
    assert caught.value.code is ErrorCode.RATE_LIMITED
    assert gate.observed == [RateSignal(available=12.0, capacity=1000.0, restore_rate=50.0)]


@pytest.mark.parametrize(
    ("cost", "wait"),
    [
        ({"requestedQueryCost": None}, 1 / 50),  # no cost named: a point's worth, not the whole bucket, nor none
        ({"requestedQueryCost": 5}, 0.0),  # the bucket holds it already (another worker's request came first)
        ({"requestedQueryCost": 112, "throttleStatus": {**THROTTLE, "restoreRate": 0}}, None),
        ({"requestedQueryCost": 112, "throttleStatus": None}, None),
    ],
)
async def test_a_throttled_answer_s_wait_is_what_its_cost_and_bucket_imply(
    cost: dict[str, Any], wait: float | None
) -> None:
    """retry_after of a THROTTLED answer, from what it says of its cost and Shopify's bucket (12 of 1000 points
    left, 50 a second): no wait where it names no refill rate or no bucket, the retry policy's own then."""

    def handler(request: httpx.Request) -> httpx.Response:
        bucket = {"throttleStatus": {**THROTTLE, "currentlyAvailable": 12.0, "restoreRate": 50.0}}
        errors = [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]
        return httpx.Response(200, json=answer(errors=errors, cost={**bucket, **cost}))

    with pytest.raises(ChannelRateLimited) as caught:
        await client_for(handler, RecordingGate()).execute(gql.PRODUCT_SET, {"input": {}})
    assert caught.value.retry_after == (None if wait is None else pytest.approx(wait))


async def test_a_throttled_write_goes_again_once_shopify_has_its_cost_not_later() -> None:
    """Shopify implies (cost - 1) / 50 s until its bucket holds the write's cost; the write was sent again only
    after twice that and more (the bucket, blocked that long, restarted empty and made it wait its cost again)."""
    estimate = gql.PRODUCT_SET.estimate({"input": {}})
    answers = [
        answer(
            errors=[{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
            cost={
                "requestedQueryCost": estimate,
                "actualQueryCost": None,
                "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 1.0, "restoreRate": 50.0},
            },
        ),
        answer({"productSet": {"product": None, "userErrors": []}}),
    ]
    sent: list[float] = []
    clock = FakeClock()

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(clock.now)
        return httpx.Response(200, json=answers.pop(0))

    gate = LocalTokenBucket(RateLimit(capacity=1000, rate=50), clock=clock, sleep=clock.sleep)
    client = ShopifyClient(
        ShopifyCredentials.parse(CREDENTIALS),
        httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        timeout=5.0,
        gate=gate,
    )

    await with_retries(lambda: client.execute(gql.PRODUCT_SET, {"input": {}}), policy=RetryPolicy(), sleep=clock.sleep)

    assert estimate > 1
    assert sent[1] - sent[0] == pytest.approx((estimate - 1) / 50, abs=0.001)


@pytest.mark.parametrize(
    ("retry_after", "paused"),
    [(None, MIN_THROTTLE_WAIT), ("0", MIN_THROTTLE_WAIT), ("soon", MIN_THROTTLE_WAIT), ("2.5", 2.5)],
    ids=["none", "zero", "unreadable", "seconds"],
)
async def test_a_429_pauses_every_worker_at_least_the_minimum(retry_after: str | None, paused: float) -> None:
    """A 429 without a usable wait still pauses the connector's other workers, as long as a CUSTOM_HTTP one does."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    gate = RecordingGate()

    with pytest.raises(ChannelRateLimited):
        await client_for(_always(httpx.Response(429, headers=headers)), gate).execute(gql.SHOP_INFO)

    assert gate.observed == [RateSignal(retry_after=paused)]


@pytest.mark.parametrize(
    ("response", "error", "status"),
    [
        (httpx.Response(429, headers={"Retry-After": "2.5"}, text="Too Many Requests"), ChannelRateLimited, 429),
        (httpx.Response(401, json={"errors": "[API] Invalid API key or access token"}), CredentialsRejected, 401),
        (httpx.Response(403, json={"errors": "Forbidden"}), CredentialsRejected, 403),
        (httpx.Response(402, json={"errors": "Unavailable Shop"}), CredentialsRejected, 402),
        (httpx.Response(423, json={"errors": "Locked"}), CredentialsRejected, 423),
        (httpx.Response(404, json={"errors": "Not Found"}), CredentialsRejected, 404),
        (httpx.Response(500, text="oops"), ChannelUnavailable, 500),
        (httpx.Response(503, text="maintenance"), ChannelUnavailable, 503),
        (httpx.Response(503, headers={"Retry-After": "2.5"}, text="maintenance"), ChannelUnavailable, 503),
        (httpx.Response(400, json={"errors": {"query": "Required parameter missing"}}), ChannelRejected, 400),
        (httpx.Response(200, text="<html>not json</html>"), ChannelRejected, 200),
        (httpx.Response(200, json=answer(errors=[{"message": "Field 'x' doesn't exist"}])), ChannelRejected, 200),
        (
            httpx.Response(200, json=answer(errors=[{"message": "no", "extensions": {"code": "ACCESS_DENIED"}}])),
            CredentialsRejected,
            200,
        ),
        (
            httpx.Response(
                200, json=answer(errors=[{"message": "x", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}])
            ),
            ChannelUnavailable,
            200,
        ),
        (
            httpx.Response(200, json=answer(errors=[{"message": "x", "extensions": {"code": "MAX_COST_EXCEEDED"}}])),
            ChannelRejected,
            200,
        ),
    ],
)
async def test_answers_map_onto_the_channel_error_tree(
    response: httpx.Response, error: type[Exception], status: int
) -> None:
    with pytest.raises(error) as caught:
        await client_for(lambda request: response).execute(gql.SHOP_INFO)
    assert type(caught.value) is error
    assert getattr(caught.value, "status", None) == status
    if isinstance(caught.value, ChannelRateLimited | ChannelUnavailable) and "Retry-After" in response.headers:
        assert caught.value.retry_after == 2.5


@pytest.mark.parametrize(
    ("exception", "error"),
    [
        (httpx.ReadTimeout("timed out"), ChannelTimeout),
        (httpx.ConnectTimeout("timed out"), ChannelTimeout),
        (httpx.ConnectError("refused"), ChannelUnavailable),
        (httpx.RemoteProtocolError("dropped"), ChannelUnavailable),
    ],
)
async def test_transport_failures_are_transient(exception: Exception, error: type[Exception]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exception

    with pytest.raises(error):
        await client_for(handler).execute(gql.SHOP_INFO)


def _always(response: httpx.Response) -> Handler:
    return lambda request: response


ECHO = f"invalid token {TOKEN}"


@pytest.mark.parametrize(
    ("response", "error", "code", "message"),
    [
        (
            httpx.Response(401, json={"errors": ECHO}),
            CredentialsRejected,
            ErrorCode.CONNECTION_TEST_FAILED,
            "Shopify ShopInfo answered 401: invalid token [redacted]",
        ),
        (
            httpx.Response(200, json=answer(errors=[{"message": ECHO}])),
            ChannelRejected,
            ErrorCode.CHANNEL_ERROR,
            "Shopify ShopInfo: invalid token [redacted]",
        ),
        (
            httpx.Response(500, text=ECHO),
            ChannelUnavailable,
            ErrorCode.CHANNEL_UNAVAILABLE,
            "Shopify ShopInfo answered 500: invalid token [redacted]",
        ),
    ],
)
async def test_the_token_never_reaches_a_message(
    response: httpx.Response, error: type[ChannelError], code: ErrorCode, message: str
) -> None:
    with pytest.raises(error) as caught:
        await client_for(_always(response)).execute(gql.SHOP_INFO)
    assert type(caught.value) is error
    assert caught.value.code == code
    assert caught.value.message == message
    assert TOKEN not in caught.value.summary


async def test_an_answer_that_cannot_be_used_names_the_version_that_served_it() -> None:
    """Shopify serves a retired version from the oldest one it supports: its answers may no longer fit the pinned
    documents, and the message says which version answered, first, so no cut drops it."""
    served = {"X-Shopify-API-Version": "2026-07"}
    unknown = answer(errors=[{"message": "Field 'x' doesn't exist on type 'Shop'" + " and more" * 100}])
    with pytest.raises(ChannelRejected) as refused:
        await client_for(_always(httpx.Response(200, json=unknown, headers=served))).execute(gql.SHOP_INFO)
    assert refused.value.message.startswith(
        "Shopify answered with Admin API version 2026-07 instead of the pinned 2026-04"
    ), refused.value.message
    assert "Shopify ShopInfo: Field 'x' doesn't exist" in refused.value.message

    with pytest.raises(ChannelRejected) as pinned:
        await client_for(_always(httpx.Response(200, json=unknown))).execute(gql.SHOP_INFO)
    assert pinned.value.message.startswith("Shopify ShopInfo: Field 'x' doesn't exist")


async def test_the_token_never_reaches_a_refused_connection_message() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused with {TOKEN}")

    with pytest.raises(ChannelUnavailable) as refused:
        await client_for(refuse).execute(gql.SHOP_INFO)
    assert refused.value.code == ErrorCode.CHANNEL_UNAVAILABLE
    assert (
        refused.value.message == "Shopify ShopInfo: nothing accepted a connection at that address (connection refused)"
    )


# -- the adapter's request sequence, against scripted answers --------------------------------------

SHOP_INFO = {
    "shop": {
        "name": "Souk Demo",
        "currencyCode": "AED",
        "enabledPresentmentCurrencies": ["AED", "EUR"],
        "weightUnit": "KILOGRAMS",
    },
    "shopLocales": [
        {"locale": "en", "primary": True, "published": True},
        {"locale": "fr", "primary": False, "published": True},
        {"locale": "ar", "primary": False, "published": True},
        {"locale": "de", "primary": False, "published": False},
    ],
    "productsCount": {"count": 42, "precision": "EXACT"},
}
NO_MEDIA = {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
STATE = {
    "id": PRODUCT_ID,
    "variantsCount": {"count": 1},
    "media": NO_MEDIA,
    "newestMedia": {"nodes": []},
    "options": [{"id": "gid://shopify/ProductOption/1", "name": "Title"}],
    "variants": {
        "nodes": [
            {
                "id": VARIANT_ID,
                "sku": "SHOE-1",
                "selectedOptions": [{"name": "Title", "value": "Default Title"}],
                "inventoryItem": {"measurement": {"weight": {"unit": "KILOGRAMS", "value": 1.0}}},
            }
        ]
    },
}
CONTENT = {
    "translatableResource": {
        "resourceId": PRODUCT_ID,
        "translatableContent": [
            {"key": key, "value": "v", "digest": f"digest-{key}", "locale": "en"} for key in TRANSLATION_KEYS.values()
        ],
    }
}


@dataclass
class ScriptedShop:
    """Answers per operation name (a callable sees the variables), and every request in order."""

    answers: dict[str, Any]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        name, variables = body["operationName"], body["variables"]
        self.calls.append((name, variables))
        data = self.answers[name]
        return httpx.Response(200, json=answer(data(variables) if callable(data) else data))

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def adapter(self, **credentials: Any) -> ShopifyAdapter:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self.handler))
        return ShopifyAdapter({**CREDENTIALS, **credentials}, http, timeout=5.0, endpoint="http://shop.test/graphql")


def product_set_ok(variables: dict[str, Any]) -> dict[str, Any]:
    identifier = variables.get("identifier") or {}
    return {"productSet": {"product": {"id": identifier.get("id", PRODUCT_ID)}, "userErrors": []}}


async def test_connection_reports_every_shop_locale_and_currencies() -> None:
    shop = ScriptedShop({"ShopInfo": SHOP_INFO})
    info = await shop.adapter().test_connection()
    assert info.store_name == "Souk Demo"
    assert info.supported_locales == ("en", "fr", "ar", "de")  # de is not published yet: it can still be mapped
    assert (info.primary_locale, info.currencies, info.product_count) == ("en", ("AED", "EUR"), 42)


async def test_a_new_sku_is_looked_up_created_then_translated() -> None:
    shop = ScriptedShop(
        {
            "ShopInfo": SHOP_INFO,
            "ProductIdBySku": {
                "productVariants": {"nodes": [{"sku": "SHOE-10", "product": {"id": "gid://shopify/Product/9"}}]}
            },
            "ProductSet": product_set_ok,
            "TranslatableContent": CONTENT,
            "TranslationsRegister": {"translationsRegister": {"translations": [], "userErrors": []}},
            "TranslationsRemove": {"translationsRemove": {"translations": [], "userErrors": []}},
        }
    )
    document = doc(
        {"price": "10.00"},
        {"en": {"title": "Boot"}, "fr": {"title": "Bottine", "seoTitle": None}, "ar": {"title": "حذاء"}},
    )
    [result] = await shop.adapter().export_batch([document])
    assert result == ItemResult(sku="SHOE-1", ok=True, external_id=PRODUCT_ID)
    assert shop.names == [
        "ShopInfo",
        "ProductIdBySku",
        "ProductSet",
        "TranslatableContent",
        "TranslationsRegister",
        "TranslationsRemove",
    ]
    assert shop.calls[1][1] == {
        "query": 'sku:"SHOE-1"',
        "first": gql.LOOKUP_PAGE_SIZE,
        "after": None,
    }  # SHOE-10 is not SHOE-1
    assert shop.calls[2][1]["identifier"] is None
    register = shop.calls[4][1]
    assert register["translations"] == [
        {"locale": "fr", "key": "title", "value": "Bottine", "translatableContentDigest": "digest-title"},
        {"locale": "ar", "key": "title", "value": "حذاء", "translatableContentDigest": "digest-title"},
    ]
    assert shop.calls[5][1] == {"resourceId": PRODUCT_ID, "translationKeys": ["meta_title"], "locales": ["fr"]}


async def test_an_existing_sku_is_linked_and_updated_in_place() -> None:
    shop = ScriptedShop(
        {
            "ShopInfo": SHOP_INFO,
            "ProductIdBySku": {"productVariants": {"nodes": [{"sku": "SHOE-1", "product": {"id": PRODUCT_ID}}]}},
            "ProductState": {"product": STATE},
            "ProductSet": product_set_ok,
        }
    )
    [result] = await shop.adapter().export_batch([doc({"weight": "2"}, {"en": {"title": "Boot"}})])
    assert result == ItemResult(sku="SHOE-1", ok=True, external_id=PRODUCT_ID)
    product_set = shop.calls[-1][1]
    assert product_set["identifier"] == {"id": PRODUCT_ID}
    [variant] = product_set["input"]["variants"]
    assert variant["id"] == VARIANT_ID
    assert variant["inventoryItem"] == {"measurement": {"weight": {"value": 2.0, "unit": "KILOGRAMS"}}}


@pytest.mark.parametrize(
    ("answers", "code", "external_id"),
    [
        ({"ProductState": {"product": None}}, ErrorCode.PRODUCT_NOT_FOUND_IN_CHANNEL, PRODUCT_ID),
        (
            {"ProductState": {"product": {**STATE, "variantsCount": {"count": 3}}}},
            ErrorCode.UPDATE_FAILED,
            PRODUCT_ID,
        ),
        (
            {
                "ProductState": {"product": STATE},
                "ProductSet": {
                    "productSet": {
                        "product": None,
                        "userErrors": [
                            {"code": "INVALID_VARIANT", "field": ["input", "variants", "0", "price"], "message": "bad"}
                        ],
                    }
                },
            },
            ErrorCode.FIELD_TYPE_MISMATCH,
            PRODUCT_ID,
        ),
    ],
)
async def test_update_failures_are_item_results(answers: dict[str, Any], code: ErrorCode, external_id: str) -> None:
    shop = ScriptedShop({"ShopInfo": SHOP_INFO, **answers})
    [result] = await shop.adapter().export_batch([doc({"price": "1"}, external_id=PRODUCT_ID)])
    assert (result.ok, result.code, result.external_id) == (False, code, external_id)
    assert "ProductSet" not in shop.names or "ProductSet" in answers


async def test_a_sku_on_two_products_is_not_guessed() -> None:
    nodes = [{"sku": "SHOE-1", "product": {"id": f"gid://shopify/Product/{i}"}} for i in (1, 2)]
    shop = ScriptedShop({"ShopInfo": SHOP_INFO, "ProductIdBySku": {"productVariants": {"nodes": nodes}}})
    [result] = await shop.adapter().export_batch([doc()])
    assert (result.ok, result.code) == (False, ErrorCode.CREATE_FAILED)
    assert "ProductSet" not in shop.names


@pytest.mark.parametrize("operation", ["ProductSet", "TranslationsRegister"])
async def test_shopify_s_item_messages_reach_the_job_without_the_token_and_bounded(operation: str) -> None:
    """A userError's message is copied into the job's errors, which users read: it may echo what was sent (a
    value tens of kilobytes long) and a refusal lists every error, so it is scrubbed of the connector's secrets
    and cut, like every other message from Shopify."""
    echoed = f"{TOKEN}: value {'x' * 5000} is invalid"
    errors = [{"code": "INVALID", "field": ["translations", str(i), "value"], "message": echoed} for i in range(40)]
    refused = {"productSet": {"product": None, "userErrors": errors}}
    shop = ScriptedShop(
        {
            "ShopInfo": SHOP_INFO,
            "ProductState": {"product": STATE},
            "ProductSet": refused if operation == "ProductSet" else product_set_ok,
            "TranslatableContent": CONTENT,
            "TranslationsRegister": {"translationsRegister": {"translations": None, "userErrors": errors}},
        }
    )
    document = doc({"price": "1"}, {"en": {"title": "Boot"}, "fr": {"title": "Bottine"}}, external_id=PRODUCT_ID)
    [result] = await shop.adapter().export_batch([document])
    assert not result.ok and result.message is not None
    assert operation in shop.names
    assert TOKEN not in result.message and "[redacted]" in result.message
    assert len(result.message) <= 500


async def test_a_failed_translation_keeps_the_product_id_and_names_the_locale() -> None:
    register_errors = [
        {
            "code": "INVALID_VALUE_FOR_HANDLE_TRANSLATION",
            "field": ["translations", "0", "value"],
            "message": "bad handle",
        }
    ]
    shop = ScriptedShop(
        {
            "ShopInfo": SHOP_INFO,
            "ProductState": {"product": STATE},
            "ProductSet": product_set_ok,
            "TranslatableContent": CONTENT,
            "TranslationsRegister": {"translationsRegister": {"translations": None, "userErrors": register_errors}},
        }
    )
    document = doc(locales={"ar": {"handle": "حذاء جميل"}}, external_id=PRODUCT_ID)
    [result] = await shop.adapter().export_batch([document])
    assert (result.ok, result.external_id, result.locale, result.code) == (
        False,
        PRODUCT_ID,
        "ar",
        ErrorCode.FIELD_TYPE_MISMATCH,
    )


async def test_unknown_locales_fail_before_any_request_but_the_shop_info() -> None:
    shop = ScriptedShop({"ShopInfo": SHOP_INFO})
    [result] = await shop.adapter().export_batch([doc(locales={"en": {"title": "x"}, "es": {"title": "y"}})])
    assert (result.ok, result.code, result.locale) == (False, ErrorCode.LOCALE_NOT_SUPPORTED, "es")
    assert shop.names == ["ShopInfo"]


async def test_stock_without_a_configured_location_uses_the_primary_one() -> None:
    shop = ScriptedShop(
        {
            "ShopInfo": SHOP_INFO,
            "ProductIdBySku": {"productVariants": {"nodes": []}},
            "PrimaryLocation": {"location": {"id": "gid://shopify/Location/5"}},
            "ProductSet": product_set_ok,
        }
    )
    adapter = shop.adapter()
    await adapter.export_batch([doc({"inventoryQuantity": 4})])
    await adapter.export_batch([doc({"inventoryQuantity": 5}, sku="SHOE-2")])
    assert shop.names.count("PrimaryLocation") == 1
    [variant] = shop.calls[-1][1]["input"]["variants"]
    assert variant["inventoryQuantities"][0]["locationId"] == "gid://shopify/Location/5"


async def test_more_than_max_batch_size_is_a_caller_bug() -> None:
    shop = ScriptedShop({})
    with pytest.raises(ValueError):
        await shop.adapter().export_batch([doc(), doc(sku="B")])
    assert shop.calls == []


async def test_fetch_reads_exact_skus_page_by_page_and_their_translations() -> None:
    pages = {
        None: {
            "productVariants": {
                "nodes": [variant_node(), variant_node(id="gid://shopify/ProductVariant/3", sku="SHOE-10")],
                "pageInfo": {"hasNextPage": True, "endCursor": "c1"},
            }
        },
        "c1": {"productVariants": {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}},
    }

    def translations(variables: dict[str, Any]) -> dict[str, Any]:
        values = {
            "fr": [{"key": "title", "value": "Bottine"}],
            "ar": [{"key": "title", "value": "حذاء"}],
            "de": [{"key": "title", "value": "Stiefel"}],
        }
        nodes = [{"resourceId": PRODUCT_ID, "translations": values[variables["locale"]]}]
        return {"translatableResourcesByIds": {"nodes": nodes}}

    shop = ScriptedShop(
        {
            "ShopInfo": SHOP_INFO,
            "PrimaryLocation": {"location": {"id": "gid://shopify/Location/1"}},
            "ProductsBySku": lambda variables: pages[variables["after"]],
            "ProductTranslations": translations,
        }
    )
    found = await shop.adapter().fetch_products(["SHOE-1", "SHOE-1", "GONE"])
    assert list(found) == ["SHOE-1"]
    remote = found["SHOE-1"]
    assert (remote.locales["fr"]["title"], remote.locales["ar"]["title"]) == ("Bottine", "حذاء")
    assert remote.locales["de"]["title"] == "Stiefel"  # unpublished, but written to: read back too
    assert shop.names == [
        "ShopInfo",
        "PrimaryLocation",
        "ProductsBySku",
        "ProductsBySku",
        "ProductTranslations",
        "ProductTranslations",
        "ProductTranslations",
    ]
    assert {variables["locationId"] for name, variables in shop.calls if name == "ProductsBySku"} == {
        "gid://shopify/Location/1"
    }
    assert shop.calls[2][1]["query"] == 'sku:"SHOE-1" OR sku:"GONE"'


async def test_fetch_refuses_a_sku_held_by_two_variants() -> None:
    nodes = [variant_node(), variant_node(id="gid://shopify/ProductVariant/9")]
    page = {"productVariants": {"nodes": nodes, "pageInfo": {"hasNextPage": False, "endCursor": None}}}
    location = {"location": {"id": "gid://shopify/Location/1"}}
    shop = ScriptedShop({"ShopInfo": SHOP_INFO, "PrimaryLocation": location, "ProductsBySku": page})
    with pytest.raises(ChannelRejected, match="SHOE-1"):
        await shop.adapter().fetch_products(["SHOE-1"])


async def test_fetch_at_a_configured_location_sends_it() -> None:
    page = {"productVariants": {"nodes": [variant_node()], "pageInfo": {"hasNextPage": False, "endCursor": None}}}
    empty: dict[str, Any] = {"translatableResourcesByIds": {"nodes": []}}
    shop = ScriptedShop({"ShopInfo": SHOP_INFO, "ProductsBySku": page, "ProductTranslations": empty})
    found = await shop.adapter(locationId="gid://shopify/Location/7").fetch_products(["SHOE-1"])
    assert found["SHOE-1"].fields["inventoryQuantity"] == 4
    assert "PrimaryLocation" not in shop.names
    assert shop.calls[1][1]["locationId"] == "gid://shopify/Location/7"


@pytest.mark.parametrize(
    ("errors", "raises"),
    [
        ([], False),
        ([{"field": ["id"], "message": "Product does not exist"}], False),
        ([{"field": ["id"], "message": "Product is part of a bundle"}], True),
    ],
)
async def test_delete_is_idempotent(errors: list[dict[str, Any]], raises: bool) -> None:
    shop = ScriptedShop({"ProductDelete": {"productDelete": {"deletedProductId": None, "userErrors": errors}}})
    adapter = shop.adapter()
    if raises:
        with pytest.raises(ChannelRejected) as caught:
            await adapter.delete_product(PRODUCT_ID)
        assert caught.value.code is ErrorCode.DELETE_FAILED
    else:
        await adapter.delete_product(PRODUCT_ID)
    assert shop.calls == [("ProductDelete", {"input": {"id": PRODUCT_ID}})]


async def test_an_answer_of_the_wrong_shape_is_rejected_not_misread() -> None:
    shop = ScriptedShop({"ShopInfo": {"shop": None, "shopLocales": []}})
    with pytest.raises(ChannelRejected):
        await shop.adapter().test_connection()


def test_a_translation_whose_primary_locale_text_is_sent_empty_is_foretold_and_one_not_sent_is_left_to_the_shop() -> (
    None
):
    """The preview's check (untranslatable) names the translation the sync will fail, in its words; a primary
    locale that does not send the field leaves the shop's own text as the source, which only the shop knows."""
    locales = {
        "en": {"title": "Lamp", "descriptionHtml": None, "seoTitle": ""},
        "fr": {"title": "Lampe", "descriptionHtml": "<p>Lampe</p>", "seoTitle": "", "handle": "lampe"},
        "ar": {"descriptionHtml": "<p>مصباح</p>"},
    }
    found = untranslatable(locales, "en")
    message = "descriptionHtml: the primary locale has no value to translate"
    assert found == [
        ("fr", UserErrorItem(("descriptionHtml",), message, ErrorCode.MISSING_REQUIRED_FIELD)),
        ("ar", UserErrorItem(("descriptionHtml",), message, ErrorCode.MISSING_REQUIRED_FIELD)),
    ]
    assert untranslatable({"fr": {"descriptionHtml": "<p>Lampe</p>"}}, "en") == [], "the primary locale not sent"
