"""Field mappings and the export preview over GraphQL: every validation rule, fallbacks, empties, holds.

Values are Arabic and French as well as English, and the preview is the same
pipeline a sync runs, so what is asserted here is what a channel would get.
"""

from __future__ import annotations

import csv
import dataclasses
import html
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update

from app.channels.registry import channel_type_spec
from app.container import Container
from app.db.engine import Database
from app.db.models import FieldMapping
from app.domain.catalog import AttributeSpec, AttributeType, CatalogSpec
from app.domain.channels import ChannelType
from app.domain.connectors import ConnectorSettings, LocalePair
from app.domain.export_plan import ExportPlan
from app.domain.mappings import MappingDirection, MappingDraft, MappingRule, check_mappings, stored_rule, stored_rules
from app.domain.scopes import Scope
from app.domain.transformations import sanitize_html, strip_html
from app.services.mappings import MAX_MAPPINGS
from tests.catalog_fixtures import (
    DELETE_ATTRIBUTES,
    PRODUCT,
    SET_CURRENCIES,
    SET_LOCALES,
    set_up_catalog,
    upsert,
    value,
)
from tests.conftest import GraphQLClient, TenantHandle, make_tenant
from tests.connector_fixtures import (
    API_KEY,
    CONNECTOR,
    CREATE_CONNECTOR,
    PREVIEW,
    SAVE_MAPPINGS,
    SECRET,
    UPDATE_CONNECTOR,
    ServedShop,
    create_connector,
    served_shop,
)
from tests.emulators import serve
from tests.emulators.custom_http_shop import CustomHttpShop
from tests.emulators.shopify import ShopifyEmulator
from tests.shared_data import shared_path
from tests.shopify_fixtures import DOMAIN, TOKEN, shopify
from tests.sync_fixtures import run_here, sent_products

__all__ = ["served_shop", "shopify"]

TITLE = {"attributeCode": "name", "channelField": "title", "direction": "EXPORT"}
DESCRIPTION = {"attributeCode": "description", "channelField": "description", "direction": "EXPORT"}
PRICE = {"attributeCode": "price", "channelField": "price", "direction": "EXPORT"}
WEIGHT = {"attributeCode": "weight", "channelField": "weight", "direction": "EXPORT"}
MAPPINGS_OF = """query($code: String!) {
  connector(code: $code) { mappings { attributeCode channelField broken } }
}"""

PIM_EN = {"pimLocale": "en_US", "channelLocale": "en"}
ARABIC_TITLE = "كرسي خشبي"
FRENCH_TITLE = "Chaise en bois"


@pytest.fixture
async def shop_connector(gql: GraphQLClient, served_shop: ServedShop) -> GraphQLClient:
    await set_up_catalog(gql)
    await create_connector(gql, served_shop)
    await upsert(
        gql,
        {
            "sku": "CHAIR-1",
            "values": [
                value("name", "Wooden chair", "en_US"),
                value("name", ARABIC_TITLE, "ar_AE"),
                value("name", FRENCH_TITLE, "fr_FR"),
                value("description", "<p>Solid <b>oak</b></p>", "en_US", "ecommerce"),
                value("description", "<p>Chêne &amp; massif</p>", "fr_FR", "ecommerce"),
                value("price", {"EUR": "99.99", "USD": "109.00"}),
                value("active", True),
            ],
        },
    )
    return gql


async def save(gql: GraphQLClient, *mappings: dict[str, Any]) -> dict[str, Any]:
    return dict((await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": list(mappings)}))["saveMappings"])


async def preview(gql: GraphQLClient, sku: str = "CHAIR-1", locales: list[str] | None = None) -> dict[str, Any]:
    items = (await gql(PREVIEW, {"code": "shop", "sku": sku, "locales": locales}))["exportPreview"]
    return {item["channelLocale"]: item for item in items}


def codes(payload: dict[str, Any]) -> list[tuple[list[str], str]]:
    return [(error["field"], error["code"]) for error in payload["userErrors"]]


async def test_a_valid_set_is_saved_and_shown_on_the_connector(shop_connector: GraphQLClient) -> None:
    saved = await save(
        shop_connector,
        TITLE,
        {**DESCRIPTION, "transformation": {"stripHtml": True}, "whenEmpty": "SKIP"},
        {**PRICE, "transformation": {"applyTax": True, "taxRate": "0.15"}},
    )
    assert saved["userErrors"] == []
    assert [m["channelField"] for m in saved["mappings"]] == ["title", "description", "price"]
    assert saved["mappings"][1]["whenEmpty"] == "SKIP" and saved["mappings"][0]["whenEmpty"] == "CLEAR"
    listed = (await shop_connector(MAPPINGS_OF, {"code": "shop"}))["connector"]["mappings"]
    assert [(m["attributeCode"], m["broken"]) for m in listed] == [
        ("name", None),
        ("description", None),
        ("price", None),
    ]


@pytest.mark.parametrize(
    ("mapping", "path", "code"),
    [
        ({**TITLE, "attributeCode": "nope"}, ["mappings", "1", "attributeCode"], "CHN-060"),
        ({**TITLE, "channelField": "subtitle"}, ["mappings", "1", "channelField"], "CHN-060"),
        (
            {"attributeCode": "active", "channelField": "price", "direction": "EXPORT"},
            ["mappings", "1", "channelField"],
            "CHN-011",
        ),
        ({**DESCRIPTION, "transformation": {"maxLenght": 10}}, ["mappings", "1", "transformation"], "CHN-060"),
        ({**DESCRIPTION, "whenEmpty": "DEFAULT"}, ["mappings", "1", "whenEmpty"], "CHN-060"),
        (
            {"attributeCode": "name", "channelField": "barcode", "direction": "EXPORT"},
            ["mappings", "1", "localeMapping"],
            "CHN-060",
        ),
        (
            {**DESCRIPTION, "localeMapping": [{"pimLocale": "en_US", "channelLocale": "de"}]},
            ["mappings", "1", "localeMapping", "0", "channelLocale"],
            "CHN-012",
        ),
        ({**TITLE}, ["mappings", "1", "channelField"], "CHN-060"),
    ],
)
async def test_each_rule_is_a_user_error_and_the_old_set_stays(
    shop_connector: GraphQLClient, mapping: dict[str, Any], path: list[str], code: str
) -> None:
    """The refused payload shows the set still stored, as the connector lists it: a frontend that showed `mappings`
    after a refused save showed an empty list, as if the save had removed every mapping."""
    saved = await save(shop_connector, TITLE, PRICE)
    assert saved["userErrors"] == []
    refused = await save(shop_connector, TITLE, mapping)
    assert refused["mappings"] == saved["mappings"]
    found = [(error["field"][: len(path)], error["code"]) for error in refused["userErrors"]]
    assert (path, code) in found, refused["userErrors"]
    listed = (await shop_connector(MAPPINGS_OF, {"code": "shop"}))["connector"]["mappings"]
    assert [m["channelField"] for m in listed] == ["title", "price"]


async def test_a_refused_save_shows_the_stored_set_only_to_a_token_that_may_view_mappings(
    shop_connector: GraphQLClient, db: Database, tenant: TenantHandle
) -> None:
    """A token that may edit mappings but not view them learns nothing of the stored set from a refused save; nor
    does the caller naming a connector that does not exist."""
    assert (await save(shop_connector, TITLE, PRICE))["userErrors"] == []
    edit_only = (await make_tenant(db, (Scope.MAPPINGS_EDIT,), code=tenant.code)).token
    variables = {"code": "shop", "mappings": [TITLE, TITLE]}
    refused = (await shop_connector(SAVE_MAPPINGS, variables, token=edit_only))["saveMappings"]
    assert (refused["mappings"], codes(refused)) == ([], [(["mappings", "1", "channelField"], "CHN-060")])
    unknown = (await shop_connector(SAVE_MAPPINGS, {**variables, "code": "nope"}))["saveMappings"]
    assert (unknown["mappings"], [error["code"] for error in unknown["userErrors"]]) == ([], ["CON-003"])


async def test_the_channels_required_fields_must_be_mapped(shop_connector: GraphQLClient) -> None:
    """By a mapping that exports them: one that only imports a title sends none. An empty set (every mapping
    removed) is taken: the connector then sends nothing at all."""
    refused = await save(shop_connector, PRICE)
    assert codes(refused) == [(["mappings"], "CHN-010")]
    assert "title" in refused["userErrors"][0]["message"]
    imported_only = await save(shop_connector, PRICE, {**TITLE, "direction": "IMPORT"})
    assert codes(imported_only) == [(["mappings"], "CHN-010")]
    assert (await save(shop_connector, TITLE, PRICE))["userErrors"] == []
    cleared = await save(shop_connector)
    assert cleared["userErrors"] == [] and cleared["mappings"] == []


async def test_a_scopable_attribute_needs_the_connector_to_read_a_scope(shop_connector: GraphQLClient) -> None:
    changed = await shop_connector(UPDATE_CONNECTOR, {"code": "shop", "input": {"settings": {"scope": None}}})
    assert changed["updateConnector"]["userErrors"] == []
    refused = await save(shop_connector, TITLE, DESCRIPTION)
    assert (["mappings", "1", "attributeCode"], "CHN-060") in codes(refused)


async def test_settings_that_would_break_saved_mappings_are_refused(shop_connector: GraphQLClient) -> None:
    assert (await save(shop_connector, TITLE, DESCRIPTION))["userErrors"] == []
    refused = (await shop_connector(UPDATE_CONNECTOR, {"code": "shop", "input": {"settings": {"scope": None}}}))[
        "updateConnector"
    ]
    assert refused["connector"] is None and refused["userErrors"][0]["code"] == "CHN-060"
    assert (await shop_connector(CONNECTOR, {"code": "shop"}))["connector"]["settings"]["scope"] == "ecommerce"


async def test_preview_shows_each_locale_with_its_sources(shop_connector: GraphQLClient) -> None:
    await save(shop_connector, TITLE, {**DESCRIPTION, "transformation": {"stripHtml": True}}, PRICE)
    shown = await preview(shop_connector)
    assert list(shown) == ["en", "ar", "fr"]
    assert shown["ar"]["fields"]["title"] == ARABIC_TITLE
    assert shown["ar"]["sources"]["title"] == "authored"
    assert shown["fr"]["fields"]["description"] == "Chêne &amp; massif", "plain text, escaped for an HTML field"
    assert shown["en"]["fields"]["description"] == "Solid oak"
    assert shown["en"]["fields"]["price"] == "99.99"
    assert all(item["willSend"] for item in shown.values())


async def test_fallback_text_is_omitted_unless_the_connector_sends_it(shop_connector: GraphQLClient) -> None:
    await save(shop_connector, TITLE, DESCRIPTION)
    omitted = await preview(shop_connector, locales=["ar_AE"])
    assert "description" not in omitted["ar"]["fields"], "fallback text went out as an Arabic translation"
    await shop_connector(UPDATE_CONNECTOR, {"code": "shop", "input": {"settings": {"fallbackPolicy": "SEND"}}})
    sent = await preview(shop_connector, locales=["ar_AE"])
    assert sent["ar"]["fields"]["description"] == "<p>Solid <b>oak</b></p>"
    assert sent["ar"]["sources"]["description"] == "fallback:en_US"


async def test_empty_values_clear_skip_or_default(shop_connector: GraphQLClient) -> None:
    await upsert(shop_connector, {"sku": "BARE-1", "values": [value("name", "Bare", "en_US")]})
    await save(shop_connector, TITLE, DESCRIPTION, PRICE)
    cleared = (await preview(shop_connector, "BARE-1", ["en_US"]))["en"]
    assert cleared["fields"]["description"] is None and cleared["sources"]["description"] == "empty"
    await save(shop_connector, TITLE, {**DESCRIPTION, "whenEmpty": "SKIP"})
    skipped = (await preview(shop_connector, "BARE-1", ["en_US"]))["en"]
    assert "description" not in skipped["fields"]
    await save(shop_connector, TITLE, {**DESCRIPTION, "whenEmpty": "DEFAULT", "transformation": {"default": "—"}})
    defaulted = (await preview(shop_connector, "BARE-1", ["en_US"]))["en"]
    assert defaulted["fields"]["description"] == "—" and defaulted["sources"]["description"] == "default"


async def test_incomplete_locales_are_held_back(shop_connector: GraphQLClient) -> None:
    await upsert(shop_connector, {"sku": "EN-ONLY", "values": [value("name", "English only", "en_US")]})
    await shop_connector(
        UPDATE_CONNECTOR,
        {"code": "shop", "input": {"settings": {"holdIncompleteLocales": True, "fallbackPolicy": "SEND"}}},
    )
    await save(shop_connector, TITLE)
    shown = await preview(shop_connector, "EN-ONLY")
    assert shown["en"]["willSend"] is True
    assert shown["ar"]["willSend"] is False and shown["ar"]["sources"]["title"] == "fallback:en_US"
    assert shown["fr"]["willSend"] is False


async def test_the_preview_says_which_locales_the_sync_sends(
    shop_connector: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """willSend was true of a locale its own problem keeps back (a French title missing), and of every locale of a
    product that one of its own fields fails whole (a price in no currency the connector sells in): the sync sent
    neither. The sync still sends the other locales of a product one locale of which fails, and so does the
    preview say."""
    names = [value("name", "Lamp", "en_US"), value("name", ARABIC_TITLE, "ar_AE")]
    await upsert(shop_connector, {"sku": "LAMP-1", "values": names})
    assert (await save(shop_connector, TITLE))["userErrors"] == []
    shown = await preview(shop_connector, "LAMP-1")
    assert {locale: item["willSend"] for locale, item in shown.items()} == {"en": True, "ar": True, "fr": False}
    assert [problem["code"] for problem in shown["fr"]["problems"]] == ["CHN-010"]
    job = await run_here(shop_connector, container, syncType="SINGLE", productSkus=["LAMP-1"])
    assert job["failedProducts"] == 1
    [sent] = [product for product in sent_products(served_shop) if product["sku"] == "LAMP-1"]
    assert sorted(sent["locales"]) == ["ar", "en"]

    await shop_connector(UPDATE_CONNECTOR, {"code": "shop", "input": {"settings": {"currency": "AED"}}})
    assert (await save(shop_connector, TITLE, PRICE))["userErrors"] == []
    shown = await preview(shop_connector)
    assert {locale: item["willSend"] for locale, item in shown.items()} == {"en": False, "ar": False, "fr": False}
    assert all([problem["code"] for problem in item["problems"]] == ["CHN-013"] for item in shown.values())
    job = await run_here(shop_connector, container, syncType="SINGLE", productSkus=["CHAIR-1"])
    assert (job["status"], job["failedProducts"]) == ("FAILED", 1)
    assert [product for product in sent_products(served_shop) if product["sku"] == "CHAIR-1"] == []


async def test_a_product_without_a_price_in_the_connectors_currency_is_a_problem(shop_connector: GraphQLClient) -> None:
    await shop_connector(UPDATE_CONNECTOR, {"code": "shop", "input": {"settings": {"currency": "AED"}}})
    await save(shop_connector, TITLE, PRICE)
    shown = (await preview(shop_connector, locales=["en_US"]))["en"]
    assert "price" not in shown["fields"], "a missing price must not clear the channel's price"
    assert [(p["field"], p["code"]) for p in shown["problems"]] == [(["price"], "CHN-013")]


async def test_a_deleted_attribute_breaks_its_mapping_without_breaking_exports(shop_connector: GraphQLClient) -> None:
    await save(shop_connector, TITLE, DESCRIPTION)
    deleted = (await shop_connector(DELETE_ATTRIBUTES, {"codes": ["description"]}))["deleteAttributes"]
    assert deleted == {"deletedCodes": ["description"], "userErrors": []}
    listed = (await shop_connector(MAPPINGS_OF, {"code": "shop"}))["connector"]["mappings"]
    broken = {m["channelField"]: m["broken"] for m in listed}
    assert broken["title"] is None and "CHN-061" in broken["description"]
    shown = (await preview(shop_connector, locales=["fr_FR"]))["fr"]
    assert shown["fields"] == {"title": FRENCH_TITLE}
    assert (["description"], "CHN-061") in [(p["field"], p["code"]) for p in shown["problems"]]


async def test_a_localizable_attribute_feeding_a_shared_field_reads_the_locale_it_names(
    shop_connector: GraphQLClient,
) -> None:
    await save(
        shop_connector,
        TITLE,
        {
            "attributeCode": "name",
            "channelField": "vendor",
            "direction": "EXPORT",
            "localeMapping": [{"pimLocale": "fr_FR", "channelLocale": "fr"}],
        },
    )
    shown = await preview(shop_connector)
    assert {item["fields"]["vendor"] for item in shown.values()} == {FRENCH_TITLE}


async def test_preview_of_an_unknown_product_or_connector_is_not_found(shop_connector: GraphQLClient) -> None:
    errors = await shop_connector.errors(PREVIEW, {"code": "shop", "sku": "NOPE", "locales": None})
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"
    errors = await shop_connector.errors(PREVIEW, {"code": "nope", "sku": "CHAIR-1", "locales": None})
    assert errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_translated_field_needs_a_channel_locale_to_go_to(shop_connector: GraphQLClient) -> None:
    """title is written per channel locale: with no locale to write it in, every product would reach the shop
    without its required title, and the preview would show nothing at all."""
    assert (await save(shop_connector, TITLE, PRICE))["userErrors"] == []
    unmapped = (await shop_connector(UPDATE_CONNECTOR, {"code": "shop", "input": {"settings": {"localeMapping": []}}}))[
        "updateConnector"
    ]
    assert [error["code"] for error in unmapped["userErrors"]] == ["CHN-060"]
    assert "localeMapping" in unmapped["userErrors"][0]["message"]
    assert len((await shop_connector(CONNECTOR, {"code": "shop"}))["connector"]["settings"]["localeMapping"]) == 3
    nowhere = await save(shop_connector, {**TITLE, "localeMapping": []}, PRICE)
    assert codes(nowhere) == [(["mappings", "0", "localeMapping"], "CHN-060")]
    english_only = await save(shop_connector, {**TITLE, "localeMapping": [PIM_EN]}, PRICE)
    assert codes(english_only) == [(["mappings", "0", "localeMapping"], "CHN-010")]
    assert "ar, fr" in english_only["userErrors"][0]["message"]
    described_in_english = await save(shop_connector, TITLE, {**DESCRIPTION, "localeMapping": [PIM_EN]})
    assert described_in_english["userErrors"] == [], "a field the shop does not require may go to some locales"
    listed = (await shop_connector(MAPPINGS_OF, {"code": "shop"}))["connector"]["mappings"]
    assert [m["channelField"] for m in listed] == ["title", "description"]


async def test_a_preview_of_a_locale_the_connector_does_not_map_is_refused_not_empty(
    shop_connector: GraphQLClient,
) -> None:
    """`ar` (the Arabic the catalog also has) instead of the mapped `ar_AE`: an empty list would read as "nothing
    would be sent"; the preview says what is wrong, as triggerSync does for the same locales."""
    await save(shop_connector, TITLE)
    errors = await shop_connector.errors(PREVIEW, {"code": "shop", "sku": "CHAIR-1", "locales": ["ar"]})
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "CHN-012" in errors[0]["message"] and "ar is not mapped" in errors[0]["message"]
    assert list(await preview(shop_connector, locales=["ar-ae", "ar_AE"])) == ["ar"], "one locale, spelt two ways"


async def test_a_refused_preview_names_each_refused_locale_by_its_place(shop_connector: GraphQLClient) -> None:
    """A query has no userErrors to fill, so its refusal was one message joining the problems' codes and texts: a
    frontend could not mark which of the locales it sent were wrong. The error carries them as userErrors do (field
    path, message, code) in its extensions."""
    await save(shop_connector, TITLE)
    errors = await shop_connector.errors(PREVIEW, {"code": "shop", "sku": "CHAIR-1", "locales": ["en_US", "ar", "xx"]})
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    listed = errors[0]["extensions"]["userErrors"]
    assert [(item["field"], item["code"]) for item in listed] == [
        (["locales", "1"], "CHN-012"),
        (["locales", "2"], "CAT-001"),
    ]
    assert all(item["message"] and item["message"] in errors[0]["message"] for item in listed), errors


async def test_a_field_locale_mapping_overrides_the_connectors(shop_connector: GraphQLClient) -> None:
    await save(
        shop_connector,
        TITLE,
        {**DESCRIPTION, "localeMapping": [{"pimLocale": "en_US", "channelLocale": "ar"}]},
    )
    shown = await preview(shop_connector)
    assert shown["ar"]["fields"]["description"] == "<p>Solid <b>oak</b></p>"
    assert shown["ar"]["sources"]["description"] == "authored", "the field's own mapping names en_US on purpose"
    assert "description" not in shown["fr"]["fields"], "the override sends description to ar only"


async def test_templates_and_value_maps_follow_the_locale(shop_connector: GraphQLClient) -> None:
    await upsert(
        shop_connector,
        {"sku": "CHAIR-1", "values": [value("colors", ["red", "blue"])]},
    )
    value_map = {
        "red": {"en_US": "Red", "fr_FR": "Rouge", "ar": "أحمر"},
        "blue": {"en_US": "Blue", "fr_FR": "Bleu", "ar": "أزرق"},
    }
    saved = await save(
        shop_connector,
        {**TITLE, "transformation": {"template": "{name} ({price})"}},
        {
            "attributeCode": "colors",
            "channelField": "tags",
            "direction": "EXPORT",
            "transformation": {"valueMap": value_map},
        },
    )
    assert saved["userErrors"] == []
    shown = await preview(shop_connector)
    assert shown["fr"]["fields"]["title"] == f"{FRENCH_TITLE} (99,99)"
    assert shown["ar"]["fields"]["title"].startswith(ARABIC_TITLE)
    assert shown["en"]["fields"]["title"] == "Wooden chair (99.99)"
    assert shown["en"]["fields"]["tags"] == ["Red", "Blue"], (
        "tags are not localizable: one list, from the default locale"
    )


async def test_too_long_values_are_problems_in_the_preview(gql: GraphQLClient, shopify: ShopifyEmulator) -> None:
    """A Shopify connector (the emulator answers its connection test): Shopify takes titles of 255 characters."""
    await set_up_catalog(gql)
    created = await gql(
        """mutation($input: CreateConnectorInput!) { createConnector(input: $input) {
             connector { status statusReason } testResult { success } userErrors { field code } } }""",
        {
            "input": {
                "code": "shop",
                "name": "Shopify",
                "channelType": "SHOPIFY",
                "credentials": {"shopDomain": DOMAIN, "accessToken": TOKEN},
                "settings": {"localeMapping": [{"pimLocale": "en_US", "channelLocale": "en"}], "currency": "EUR"},
            }
        },
    )
    payload = created["createConnector"]
    assert payload["userErrors"] == [] and payload["connector"]["status"] == "CONNECTED"
    assert payload["testResult"]["success"] is True
    await upsert(gql, {"sku": "LONG-1", "values": [value("name", "word " * 60, "en_US")]})
    assert (await save(gql, TITLE))["userErrors"] == []
    shown = (await preview(gql, "LONG-1"))["en"]
    assert [(p["field"], p["code"]) for p in shown["problems"]] == [(["title"], "CHN-011")]
    assert "255" in shown["problems"][0]["message"]
    await save(gql, {**TITLE, "transformation": {"maxLength": 255}})
    fixed = (await preview(gql, "LONG-1"))["en"]
    assert fixed["problems"] == [] and len(fixed["fields"]["title"]) <= 255


async def test_each_field_type_goes_out_in_its_wire_form(shop_connector: GraphQLClient) -> None:
    """Whole numbers as integers, measures and prices as exact decimal strings, option lists as lists."""
    await upsert(
        shop_connector,
        {
            "sku": "CHAIR-1",
            "values": [
                value("stock", 12),
                value("weight", {"amount": "4.250", "unit": "KILOGRAM"}),
                value("colors", ["red", "blue"]),
            ],
        },
    )
    saved = await save(
        shop_connector,
        TITLE,
        {"attributeCode": "stock", "channelField": "quantity", "direction": "EXPORT"},
        {**WEIGHT, "transformation": {"convertUnit": "KILOGRAM"}},
        {"attributeCode": "colors", "channelField": "tags", "direction": "EXPORT"},
    )
    assert saved["userErrors"] == []
    shown = (await preview(shop_connector, locales=["en_US"]))["en"]
    assert shown["problems"] == []
    assert (shown["fields"]["quantity"], shown["fields"]["weight"], shown["fields"]["tags"]) == (
        12,
        "4.250",
        ["red", "blue"],
    )


async def test_a_fractional_stock_is_a_problem_for_a_whole_number_field(shop_connector: GraphQLClient) -> None:
    await upsert(shop_connector, {"sku": "CHAIR-1", "values": [value("stock", 2.5)]})
    await save(shop_connector, TITLE, {"attributeCode": "stock", "channelField": "quantity", "direction": "EXPORT"})
    shown = (await preview(shop_connector, locales=["en_US"]))["en"]
    assert "quantity" not in shown["fields"]
    assert [(p["field"], p["code"]) for p in shown["problems"]] == [(["quantity"], "CHN-011")]
    assert "2.5" in shown["problems"][0]["message"]


async def test_a_true_false_attribute_feeds_a_choice_field_through_a_value_map(shop_connector: GraphQLClient) -> None:
    """active (true/false) -> status (active, draft, archived): the two values are mapped to choices."""
    await upsert(shop_connector, {"sku": "OFF-1", "values": [value("name", "Off", "en_US"), value("active", False)]})
    status = {"attributeCode": "active", "channelField": "status", "direction": "EXPORT"}
    saved = await save(
        shop_connector, TITLE, {**status, "transformation": {"valueMap": {"true": "active", "false": "draft"}}}
    )
    assert saved["userErrors"] == []
    assert (await preview(shop_connector, locales=["en_US"]))["en"]["fields"]["status"] == "active"
    assert (await preview(shop_connector, "OFF-1", ["en_US"]))["en"]["fields"]["status"] == "draft"


@pytest.mark.parametrize(
    ("transformation", "path", "says"),
    [
        (None, ["mappings", "1", "transformation"], "valueMap"),
        ({"valueMap": {"true": "active"}}, ["mappings", "1", "transformation", "valueMap"], "false"),
        (
            {"valueMap": {"yes": "active", "no": "draft"}},
            ["mappings", "1", "transformation", "valueMap", "yes"],
            "true",
        ),
        (
            {"valueMap": {"true": "live", "false": "draft"}},
            ["mappings", "1", "transformation", "valueMap", "true"],
            "choices",
        ),
    ],
)
async def test_a_true_false_attribute_cannot_feed_a_choice_field_without_mapping_both_values(
    shop_connector: GraphQLClient, transformation: dict[str, Any] | None, path: list[str], says: str
) -> None:
    """Otherwise every product would fail at export with "true" or "false", which no channel offers."""
    status = {"attributeCode": "active", "channelField": "status", "direction": "EXPORT"}
    if transformation is not None:
        status["transformation"] = transformation
    saved = await save(shop_connector, TITLE, status)
    assert saved["mappings"] is None or saved["mappings"] == []
    assert [(error["field"], error["code"]) for error in saved["userErrors"]][:1] in (
        [(path, "CHN-011")],
        [(path, "CHN-060")],
    )
    assert says in saved["userErrors"][0]["message"]
    assert (await shop_connector(MAPPINGS_OF, {"code": "shop"}))["connector"]["mappings"] == []


@pytest.mark.parametrize(
    ("mapping", "default"),
    [
        ({"attributeCode": "stock", "channelField": "quantity"}, 0),
        ({**WEIGHT, "transformation": {"convertUnit": "KILOGRAM"}}, "0.5"),
        ({"attributeCode": "colors", "channelField": "tags"}, ["new"]),
        ({"attributeCode": "name", "channelField": "status", "localeMapping": [PIM_EN]}, "draft"),
    ],
)
async def test_a_default_goes_out_for_an_empty_value_in_the_fields_own_type(
    shop_connector: GraphQLClient, mapping: dict[str, Any], default: Any
) -> None:
    """CHAIR-1 has no stock, weight or colors; BARE-1 no name either."""
    await upsert(shop_connector, {"sku": "BARE-1", "values": [value("name", "Bare", "fr_FR")]})
    steps = mapping.get("transformation", {})
    rule = {**mapping, "direction": "EXPORT", "whenEmpty": "DEFAULT", "transformation": {**steps, "default": default}}
    assert (await save(shop_connector, TITLE, rule))["userErrors"] == []
    shown = (await preview(shop_connector, "BARE-1", ["fr_FR"]))["fr"]
    field_name = mapping["channelField"]
    assert [problem for problem in shown["problems"] if problem["field"] == [field_name]] == []
    assert (shown["fields"][field_name], shown["sources"][field_name]) == (default, "default")


async def test_a_preview_shows_product_values_so_it_needs_the_catalog_scope_too(
    shop_connector: GraphQLClient, db: Database, tenant: TenantHandle
) -> None:
    mappings_only = (await make_tenant(db, (Scope.MAPPINGS_VIEW,), code=tenant.code)).token
    refused = await shop_connector.errors(PREVIEW, {"code": "shop", "sku": "CHAIR-1"}, token=mappings_only)
    assert [error["extensions"]["code"] for error in refused] == ["FORBIDDEN"]
    both = (await make_tenant(db, (Scope.MAPPINGS_VIEW, Scope.CATALOG_VIEW), code=tenant.code)).token
    shown = (await shop_connector.raw(PREVIEW, {"code": "shop", "sku": "CHAIR-1"}, both)).json()
    assert "errors" not in shown and shown["data"]["exportPreview"]


async def test_a_template_reads_other_locales_only_when_the_connector_sends_fallbacks(
    shop_connector: GraphQLClient,
) -> None:
    """description exists in en_US and fr_FR only: the Arabic title must not carry English text as Arabic."""
    titled = {**TITLE, "transformation": {"template": "{name} - {description}"}}
    assert (await save(shop_connector, titled))["userErrors"] == []
    omitted = await preview(shop_connector, locales=["ar_AE", "en_US"])
    assert omitted["ar"]["fields"]["title"] == f"{ARABIC_TITLE} -", "a placeholder without Arabic renders empty"
    assert omitted["ar"]["sources"]["title"] == "authored"
    assert omitted["en"]["fields"]["title"] == "Wooden chair - <p>Solid <b>oak</b></p>"
    await shop_connector(UPDATE_CONNECTOR, {"code": "shop", "input": {"settings": {"fallbackPolicy": "SEND"}}})
    sent = await preview(shop_connector, locales=["ar_AE", "en_US"])
    assert sent["ar"]["fields"]["title"] == f"{ARABIC_TITLE} - <p>Solid <b>oak</b></p>"
    assert sent["ar"]["sources"]["title"] == "fallback:en_US", "English text in the Arabic title is a fallback"
    assert sent["en"]["sources"]["title"] == "authored"


async def test_a_locale_in_another_script_does_not_fall_back_to_its_languages_usual_one(gql: GraphQLClient) -> None:
    """zh is Simplified and sr Cyrillic (CLDR likely subtags): Traditional and Latin locales fall back past them."""
    await set_up_catalog(gql, locales=("en_US", "ar_AE", "zh", "zh_Hant_TW", "zh_Hans_CN", "sr", "sr_Latn_RS"))
    shop = CustomHttpShop(signing_secret=SECRET, api_key=API_KEY, supported_locales=("zh-Hant", "zh-Hans", "sr-Latn"))
    with serve(shop.app) as origin:
        pairs = [("zh_Hant_TW", "zh-Hant"), ("zh_Hans_CN", "zh-Hans"), ("sr_Latn_RS", "sr-Latn")]
        created = await gql(
            CREATE_CONNECTOR,
            {
                "input": {
                    "code": "shop",
                    "name": "Chinese and Serbian shop",
                    "channelType": "CUSTOM_HTTP",
                    "credentials": {"baseUrl": origin + shop.base_path, "signingSecret": SECRET, "apiKey": API_KEY},
                    "settings": {
                        "fallbackPolicy": "SEND",
                        "localeMapping": [{"pimLocale": pim, "channelLocale": channel} for pim, channel in pairs],
                    },
                }
            },
        )
        assert created["createConnector"]["userErrors"] == []
        names = [value("name", "Chair", "en_US"), value("name", "椅子", "zh"), value("name", "столица", "sr")]
        await upsert(gql, {"sku": "CHAIR-1", "values": names})
        assert (await save(gql, TITLE))["userErrors"] == []
        shown = await preview(gql)
    assert (shown["zh-Hans"]["fields"]["title"], shown["zh-Hans"]["sources"]["title"]) == ("椅子", "fallback:zh")
    assert (shown["zh-Hant"]["fields"]["title"], shown["zh-Hant"]["sources"]["title"]) == ("Chair", "fallback:en_US")
    assert (shown["sr-Latn"]["fields"]["title"], shown["sr-Latn"]["sources"]["title"]) == ("Chair", "fallback:en_US")


async def test_chinese_locales_spelled_as_akeneo_and_shopify_spell_them_reach_their_own_shop_locale(
    gql: GraphQLClient,
) -> None:
    """Akeneo's zh_TW and zh_CN and Shopify's zh-TW and zh-CN are CLDR's zh_Hant_TW and zh_Hans_CN: a catalog can
    enable them and a shop's locales match them, and Traditional text never goes out as Simplified."""
    await set_up_catalog(gql, locales=("en_US", "zh_TW", "zh_CN"))
    shop = CustomHttpShop(signing_secret=SECRET, api_key=API_KEY, supported_locales=("en", "zh-TW", "zh-CN"))
    with serve(shop.app) as origin:
        pairs = [("en_US", "en"), ("zh_TW", "zh-TW"), ("zh_CN", "zh-CN")]
        created = await gql(
            CREATE_CONNECTOR,
            {
                "input": {
                    "code": "shop",
                    "name": "Taiwan and mainland shop",
                    "channelType": "CUSTOM_HTTP",
                    "credentials": {"baseUrl": origin + shop.base_path, "signingSecret": SECRET, "apiKey": API_KEY},
                    "settings": {
                        "fallbackPolicy": "SEND",
                        "localeMapping": [{"pimLocale": pim, "channelLocale": channel} for pim, channel in pairs],
                    },
                }
            },
        )
        payload = created["createConnector"]
        assert payload["userErrors"] == []
        assert payload["connector"]["settings"]["localeMapping"] == [
            {"pimLocale": "en_US", "channelLocale": "en"},
            {"pimLocale": "zh_Hant_TW", "channelLocale": "zh-TW"},
            {"pimLocale": "zh_Hans_CN", "channelLocale": "zh-CN"},
        ]
        names = [value("name", "Chair", "en_US"), value("name", "木製椅子", "zh-TW")]
        assert (await upsert(gql, {"sku": "CHAIR-1", "values": names}))["userErrors"] == []
        assert (await save(gql, TITLE))["userErrors"] == []
        shown = await preview(gql)
    assert (shown["zh-TW"]["pimLocale"], shown["zh-TW"]["fields"]["title"]) == ("zh_Hant_TW", "木製椅子")
    assert (shown["zh-CN"]["fields"]["title"], shown["zh-CN"]["sources"]["title"]) == ("Chair", "fallback:en_US")


async def test_a_shop_gets_a_plain_text_name_in_its_html_description_as_the_pim_shows_it(
    shop_connector: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """A name is plain text: in the shop's HTML description "<" and "&" must read as written (not open a tag nor an
    entity), and its two lines stay two; the plain-text title gets it as it is."""
    name = "Table < 2 m & chairs\nSecond line"
    await upsert(shop_connector, {"sku": "TABLE-1", "values": [value("name", name, "en_US")]})
    as_description = {"attributeCode": "name", "channelField": "description", "direction": "EXPORT"}
    assert (await save(shop_connector, TITLE, as_description))["userErrors"] == []
    job = await run_here(shop_connector, container, syncType="SINGLE", productSkus=["TABLE-1"], locales=["en_US"])
    assert (job["status"], job["failedProducts"]) == ("COMPLETED", 0)
    sent = next(p for p in sent_products(served_shop) if p["sku"] == "TABLE-1")
    assert sent["locales"]["en"] == {"title": name, "description": "Table &lt; 2 m &amp; chairs<br>Second line"}
    stored = served_shop.shop.products["TABLE-1"].locales["en"]["description"]
    assert strip_html(stored) == name, "what the shopper reads is the PIM's text, on two lines"


async def test_a_shop_edit_of_that_description_comes_back_to_the_pim_as_text(
    shop_connector: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """BOTH ways, the way back undoes the escaping: the shop's "&amp;" and <br> come in as "&" and a line break,
    not as markup a plain-text name would hold (and the next export would escape again, "&amp;amp;")."""
    await upsert(shop_connector, {"sku": "TABLE-1", "values": [value("name", "Table & chairs", "en_US")]})
    both = {"attributeCode": "name", "channelField": "description", "direction": "BOTH"}
    assert (await save(shop_connector, TITLE, both))["userErrors"] == []
    first = await run_here(shop_connector, container, syncType="SINGLE", productSkus=["TABLE-1"], locales=["en_US"])
    assert (first["status"], first["failedProducts"]) == ("COMPLETED", 0)
    served_shop.shop.edit("TABLE-1", locales={"en": {"description": "<p>Table &amp; <b>4</b> chairs<br>Oak</p>"}})
    second = await run_here(shop_connector, container, syncType="FULL", locales=["en_US"])  # reads the shop back
    assert (second["status"], second["failedProducts"]) == ("COMPLETED", 0)
    product = (await shop_connector(PRODUCT, {"sku": "TABLE-1"}))["product"]
    assert [v["data"] for v in product["values"] if v["attribute"] == "name"] == ["Table & 4 chairs\nOak"]


async def test_deleting_an_attribute_a_template_reads_breaks_the_mapping_and_re_exports_every_product(
    shop_connector: GraphQLClient, container: Container
) -> None:
    """CHAIR-1 has no stock value, so no new revision: only the changed mapping set gets it exported again."""
    await upsert(shop_connector, {"sku": "STOCKED-1", "values": [value("name", "Stool", "en_US"), value("stock", 3)]})
    titled = {**TITLE, "transformation": {"template": "{name} ({stock})"}}
    assert (await save(shop_connector, titled, PRICE))["userErrors"] == []
    first = await run_here(shop_connector, container, syncType="INCREMENTAL")
    assert (first["status"], first["totalProducts"]) == ("COMPLETED", 2)
    deleted = (await shop_connector(DELETE_ATTRIBUTES, {"codes": ["stock"]}))["deleteAttributes"]
    assert deleted == {"deletedCodes": ["stock"], "userErrors": []}
    listed = (await shop_connector(MAPPINGS_OF, {"code": "shop"}))["connector"]["mappings"]
    broken = {m["channelField"]: m["broken"] for m in listed}
    assert broken["price"] is None
    assert broken["title"] is not None and "CHN-061" in broken["title"] and "'stock'" in broken["title"]
    shown = (await preview(shop_connector, locales=["en_US"]))["en"]
    problem = next(p for p in shown["problems"] if p["code"] == "CHN-061")
    assert problem["field"] == ["title"] and "'stock'" in problem["message"]
    second = await run_here(shop_connector, container, syncType="INCREMENTAL")
    assert second["totalProducts"] == 2, "a product without a stock value was left with the old title"


async def test_a_new_fallback_policy_or_default_locale_reaches_the_shop_for_products_that_did_not_change(
    shop_connector: GraphQLClient, container: Container, served_shop: ServedShop
) -> None:
    """The preview shows every product as the connector and the catalog now say; an incremental sync sent only
    changed products, so the shop kept CHAIR-1's Arabic page without the fallback description the preview showed."""
    assert (await save(shop_connector, TITLE, DESCRIPTION))["userErrors"] == []
    first = await run_here(shop_connector, container, syncType="INCREMENTAL")
    assert first["totalProducts"] == 1 and "description" not in sent_products(served_shop)[-1]["locales"]["ar"]
    send = {"code": "shop", "input": {"settings": {"fallbackPolicy": "SEND"}}}
    assert (await shop_connector(UPDATE_CONNECTOR, send))["updateConnector"]["userErrors"] == []
    second = await run_here(shop_connector, container, syncType="INCREMENTAL")
    assert second["totalProducts"] == 1
    assert sent_products(served_shop)[-1]["locales"]["ar"]["description"] == "<p>Solid <b>oak</b></p>"
    french_first = (await shop_connector(SET_LOCALES, {"codes": ["fr_FR", "en_US", "ar_AE", "ar"]}))["setLocales"]
    assert french_first["userErrors"] == []
    assert (await preview(shop_connector))["ar"]["sources"]["description"] == "fallback:fr_FR"
    third = await run_here(shop_connector, container, syncType="INCREMENTAL")
    assert third["totalProducts"] == 1
    assert sent_products(served_shop)[-1]["locales"]["ar"]["description"] == "<p>Chêne &amp; massif</p>"
    unrelated = {"code": "shop", "input": {"settings": {"conflictStrategy": "PIM_WINS", "syncIntervalMinutes": 60}}}
    assert (await shop_connector(UPDATE_CONNECTOR, unrelated))["updateConnector"]["userErrors"] == []
    assert (await shop_connector(SET_LOCALES, {"codes": ["fr_FR", "en_US", "ar_AE", "ar", "de_DE"]}))["setLocales"][
        "userErrors"
    ] == []
    fourth = await run_here(shop_connector, container, syncType="INCREMENTAL")
    assert fourth["totalProducts"] == 0, "nothing an export reads changed"


async def test_a_measure_goes_to_a_decimal_field_converted_to_the_unit_the_mapping_names(
    shop_connector: GraphQLClient,
) -> None:
    """CUSTOM_HTTP's weight is a bare decimal: 500 g and 1.5 kg must not go out as "500" and "1.5"."""
    await upsert(
        shop_connector,
        {
            "sku": "LIGHT-1",
            "values": [value("name", "Light", "en_US"), value("weight", {"amount": "500", "unit": "GRAM"})],
        },
        {
            "sku": "HEAVY-1",
            "values": [value("name", "Heavy", "en_US"), value("weight", {"amount": "1.5", "unit": "KILOGRAM"})],
        },
        {"sku": "ODD-1", "values": [value("name", "Odd", "en_US"), value("weight", {"amount": "2", "unit": "METER"})]},
    )
    refused = await save(shop_connector, TITLE, WEIGHT)
    assert codes(refused) == [(["mappings", "1", "transformation"], "CHN-011")]
    assert "convertUnit" in refused["userErrors"][0]["message"]
    unknown = await save(shop_connector, TITLE, {**WEIGHT, "transformation": {"convertUnit": "STONE"}})
    assert codes(unknown) == [(["mappings", "1", "transformation", "convertUnit"], "CHN-060")]

    async def weights(unit: str) -> dict[str, Any]:
        assert (await save(shop_connector, TITLE, {**WEIGHT, "transformation": {"convertUnit": unit}}))[
            "userErrors"
        ] == []
        return {sku: (await preview(shop_connector, sku, ["en_US"]))["en"] for sku in ("LIGHT-1", "HEAVY-1", "ODD-1")}

    in_kilograms = await weights("KILOGRAM")
    assert (in_kilograms["LIGHT-1"]["fields"]["weight"], in_kilograms["HEAVY-1"]["fields"]["weight"]) == ("0.5", "1.5")
    in_grams = await weights("GRAM")
    assert (in_grams["LIGHT-1"]["fields"]["weight"], in_grams["HEAVY-1"]["fields"]["weight"]) == ("500", "1500")
    assert in_grams["LIGHT-1"]["problems"] == [] and in_grams["HEAVY-1"]["problems"] == []
    odd = in_grams["ODD-1"]
    assert "weight" not in odd["fields"]
    assert [(p["field"], p["code"]) for p in odd["problems"]] == [(["weight"], "CHN-011")]
    assert "METER" in odd["problems"][0]["message"]


async def test_a_measure_goes_to_woocommerce_in_the_unit_the_mapping_names(gql: GraphQLClient) -> None:
    """WooCommerce's weight is in the store's weight unit, which its API does not tell: the mapping says it."""
    await set_up_catalog(gql)
    created = await gql(
        CREATE_CONNECTOR,
        {
            "input": {
                "code": "shop",
                "name": "Woo",
                "channelType": "WOOCOMMERCE",
                "credentials": {
                    "storeUrl": "https://shop.example.com",
                    "consumerKey": "ck_" + "0" * 40,
                    "consumerSecret": "cs_" + "0" * 40,
                },
                "settings": {"localeMapping": [PIM_EN], "currency": "EUR"},
            }
        },
    )
    assert created["createConnector"]["userErrors"] == []
    await upsert(
        gql,
        {
            "sku": "LIGHT-1",
            "values": [value("name", "Light", "en_US"), value("weight", {"amount": "500", "unit": "GRAM"})],
        },
    )
    woo_name = {"attributeCode": "name", "channelField": "name", "direction": "EXPORT", "localeMapping": [PIM_EN]}
    assert codes(await save(gql, woo_name, WEIGHT)) == [(["mappings", "1", "transformation"], "CHN-011")]
    saved = await save(gql, woo_name, {**WEIGHT, "transformation": {"convertUnit": "KILOGRAM"}})
    assert saved["userErrors"] == []
    assert (await preview(gql, "LIGHT-1"))["en"]["fields"]["weight"] == "0.5"


async def test_a_measure_mapping_saved_before_units_were_required_is_broken_not_failing(
    shop_connector: GraphQLClient, db: Database
) -> None:
    """A mapping of a measure to a decimal field saved without convertUnit (as an earlier version allowed) leaves
    that field out, said on the mapping and in each export (CHN-061), and fails no product for it."""
    from sqlalchemy import update

    from app.db.models import FieldMapping

    await upsert(
        shop_connector,
        {
            "sku": "LIGHT-1",
            "values": [value("name", "Light", "en_US"), value("weight", {"amount": "500", "unit": "GRAM"})],
        },
    )
    kilograms = {**WEIGHT, "transformation": {"convertUnit": "KILOGRAM"}}
    assert (await save(shop_connector, TITLE, kilograms))["userErrors"] == []
    async with db.transaction() as session:
        await session.execute(
            update(FieldMapping).where(FieldMapping.channel_field == "weight").values(transformation=None)
        )
    listed = (await shop_connector(MAPPINGS_OF, {"code": "shop"}))["connector"]["mappings"]
    broken = {m["channelField"]: m["broken"] for m in listed}
    assert broken["title"] is None and "convertUnit" in broken["weight"]
    shown = (await preview(shop_connector, "LIGHT-1", ["en_US"]))["en"]
    assert shown["fields"] == {"title": "Light"}
    assert [(p["field"], p["code"]) for p in shown["problems"]] == [(["weight"], "CHN-061")]


def test_format_currency_is_refused_where_no_currency_is_set_as_prices_are() -> None:
    """Saved, such a mapping would fail every product at export ("formatCurrency needs the connector's currency")."""
    stock = AttributeSpec(1, "stock_value", AttributeType.NUMBER, localizable=False, scopable=False)
    name = AttributeSpec(2, "name", AttributeType.TEXT, localizable=True, scopable=False)
    catalog = CatalogSpec(attributes={"stock_value": stock, "name": name}, locales=("fr_FR",))
    drafts = [
        MappingDraft("name", "title", MappingDirection.EXPORT),
        MappingDraft("stock_value", "barcode", MappingDirection.EXPORT, {"formatCurrency": True}),
    ]
    settings = ConnectorSettings(locale_mapping=(LocalePair("fr_FR", "fr"),))
    spec = channel_type_spec(ChannelType.CUSTOM_HTTP)

    rules, errors = check_mappings(drafts, catalog=catalog, channel=spec, settings=settings, channel_locales=None)
    assert rules == []
    assert [(error.path, error.code.value) for error in errors] == [(("mappings", 1, "transformation"), "CHN-013")]
    assert "settings.currency" in errors[0].message

    with_currency = ConnectorSettings(locale_mapping=settings.locale_mapping, currency="EUR")
    rules, errors = check_mappings(drafts, catalog=catalog, channel=spec, settings=with_currency, channel_locales=None)
    assert errors == [] and len(rules) == 2


def _custom_http_plan(drafts: list[MappingDraft], catalog: CatalogSpec) -> ExportPlan:
    """The pipeline a CUSTOM_HTTP sync runs, compiled from mappings as saveMappings checks them."""
    settings = ConnectorSettings(locale_mapping=(LocalePair("fr_FR", "fr"),), currency="EUR")
    spec = channel_type_spec(ChannelType.CUSTOM_HTTP)
    rules, errors = check_mappings(drafts, catalog=catalog, channel=spec, settings=settings, channel_locales=None)
    assert errors == []
    return ExportPlan(rules=rules, settings=settings, catalog=catalog, channel=spec)


def test_an_image_path_goes_to_a_url_field_only_as_an_address_a_channel_can_download() -> None:
    """Akeneo's demo catalog keeps each image as a path in its own file store ("files/1111111171/image/bag.jpg"):
    mapped to a URL field as it was, the path went to the channel as the product's image address, which no channel
    can download, and the sync and its preview said nothing. It fails that field (CHN-011) saying how to make an
    address of it; a template that does is sent."""
    with shared_path("data", "akeneo_icecat_demo_dev", "products.csv").open(newline="", encoding="utf-8") as handle:
        path = next(row["image"] for row in csv.DictReader(handle, delimiter=";") if row["sku"] == "1111111171")
    assert path == "files/1111111171/image/bag.jpg"
    name = AttributeSpec(1, "name", AttributeType.TEXT, localizable=False, scopable=False)
    image = AttributeSpec(2, "image", AttributeType.IMAGE, localizable=False, scopable=False)
    catalog = CatalogSpec({"name": name, "image": image}, locales=("fr_FR",))
    values = {(1, "", ""): "Bag", (2, "", ""): path}
    title = MappingDraft("name", "title", MappingDirection.EXPORT)
    as_stored = _custom_http_plan([title, MappingDraft("image", "imageUrl", MappingDirection.EXPORT)], catalog)
    built = as_stored.build("1111111171", values)
    assert "imageUrl" not in built.shared.fields
    [problem] = built.problems
    assert (problem.path, problem.code.value) == (("imageUrl",), "CHN-011")
    assert problem.message == (
        "imageUrl takes an absolute http:// or https:// address the channel can download, got "
        "'files/1111111171/image/bag.jpg': give the address it is served from with a template, e.g. "
        '{"template": "https://media.example.com/{}"}'
    )
    served = {"template": "https://media.example.com/{}"}
    addressed = _custom_http_plan([title, MappingDraft("image", "imageUrl", MappingDirection.EXPORT, served)], catalog)
    built = addressed.build("1111111171", values)
    assert built.problems == []
    assert built.shared.fields["imageUrl"] == "https://media.example.com/files/1111111171/image/bag.jpg"
    for address in ("//media.example.com/bag.jpg", "ftp://media.example.com/bag.jpg", "https:///bag.jpg"):
        problems = as_stored.build("X", {(1, "", ""): "Bag", (2, "", ""): address}).problems
        assert [p.code.value for p in problems] == ["CHN-011"], address


@pytest.mark.parametrize(
    ("currency", "net", "gross"),
    [("KWD", "12.345", "12.962"), ("BHD", "0.500", "0.525"), ("JPY", "999", "1049"), ("EUR", "99.99", "104.99")],
)
def test_apply_tax_rounds_to_the_connectors_currency_unless_told(currency: str, net: str, gross: str) -> None:
    """A taxed Kuwaiti dinar price went out rounded to 2 decimals whatever the currency: 12.345 KWD net at 5% is
    12.96225, sent as 12.96 (two fils lost; the dinar has 3 decimals), and yen as 1048.95 though the yen has none.
    Without a decimals option (here or in the connector's taxConfig), applyTax rounds to the currency's own."""
    name = AttributeSpec(1, "name", AttributeType.TEXT, localizable=True, scopable=False)
    price = AttributeSpec(2, "price", AttributeType.PRICE, localizable=False, scopable=False)
    catalog = CatalogSpec({"name": name, "price": price}, locales=("ar_AE",), currencies=(currency,))
    settings = ConnectorSettings(locale_mapping=(LocalePair("ar_AE", "ar"),), currency=currency)
    spec = channel_type_spec(ChannelType.CUSTOM_HTTP)
    taxed = {"applyTax": True, "taxRate": "0.05"}
    drafts = [
        MappingDraft("name", "title", MappingDirection.EXPORT),
        MappingDraft("price", "price", MappingDirection.EXPORT, taxed),
    ]
    rules, errors = check_mappings(drafts, catalog=catalog, channel=spec, settings=settings, channel_locales=None)
    assert errors == []
    plan = ExportPlan(rules=rules, settings=settings, catalog=catalog, channel=spec)
    built = plan.build("P", {(1, "ar_AE", ""): "مصباح", (2, "", ""): {currency: net}})
    assert built.problems == [] and built.shared.fields["price"] == gross
    told = [drafts[0], MappingDraft("price", "price", MappingDirection.EXPORT, {**taxed, "decimals": 2})]
    rules, _ = check_mappings(told, catalog=catalog, channel=spec, settings=settings, channel_locales=None)
    plan = ExportPlan(rules=rules, settings=settings, catalog=catalog, channel=spec)
    two = plan.build("P", {(1, "ar_AE", ""): "مصباح", (2, "", ""): {currency: net}}).shared.fields["price"]
    assert two == format((Decimal(net) * Decimal("1.05")).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP"), "f")


@pytest.mark.parametrize(
    ("channel_type", "direction", "fields", "problems"),
    [
        (ChannelType.CUSTOM_HTTP, MappingDirection.EXPORT, {}, [("CHN-013", "no price in EUR")]),
        (ChannelType.CUSTOM_HTTP, MappingDirection.BOTH, {"price": None}, []),
        (
            ChannelType.EASY_ORDERS,
            MappingDirection.BOTH,
            {"price": None},
            [("CHN-010", "price is required and has no value (no price in EUR)")],
        ),
    ],
)
def test_a_price_without_the_connectors_currency_is_empty_on_a_both_mapping(
    channel_type: ChannelType, direction: MappingDirection, fields: dict[str, Any], problems: list[tuple[str, str]]
) -> None:
    """A BOTH mapping takes a price the merchant cleared in the shop into the PIM by dropping the connector's
    currency: the export reads that as the empty price it is (whenEmpty, CLEAR by default), where it used to fail
    the product with CHN-013 at every sync after. A channel that requires a price says which currency is missing;
    an EXPORT mapping still refuses to clear the channel's price of a product priced in other currencies."""
    name = AttributeSpec(1, "name", AttributeType.TEXT, localizable=False, scopable=False)
    price = AttributeSpec(2, "price", AttributeType.PRICE, localizable=False, scopable=False)
    catalog = CatalogSpec({"name": name, "price": price}, locales=("en_US",), currencies=("EUR", "USD"))
    settings = ConnectorSettings(locale_mapping=(LocalePair("en_US", "en"),), currency="EUR")
    spec = channel_type_spec(channel_type)
    title = "title" if channel_type is ChannelType.CUSTOM_HTTP else "name"
    drafts = [MappingDraft("name", title, MappingDirection.EXPORT), MappingDraft("price", "price", direction)]
    rules, errors = check_mappings(drafts, catalog=catalog, channel=spec, settings=settings, channel_locales=None)
    assert errors == []
    plan = ExportPlan(rules=rules, settings=settings, catalog=catalog, channel=spec)
    built = plan.build("P", {(1, "", ""): "Lamp", (2, "", ""): {"USD": "130.00"}})
    assert {key: built.shared.fields[key] for key in built.shared.fields if key == "price"} == fields
    assert [(problem.code.value, problem.message) for problem in built.problems] == problems


LABEL_AND_NAME = CatalogSpec(
    {
        "label": AttributeSpec(1, "label", AttributeType.TEXT, localizable=False, scopable=False),
        "name": AttributeSpec(2, "name", AttributeType.TEXT, localizable=True, scopable=False),
    },
    locales=("en_US", "ar_AE", "fr_FR"),
)
"""A value kept once for every locale (label) and one kept per locale (name)."""
THREE_LOCALES = ConnectorSettings(
    locale_mapping=(LocalePair("en_US", "en"), LocalePair("ar_AE", "ar"), LocalePair("fr_FR", "fr")), currency="EUR"
)


def test_a_mapping_set_that_would_take_two_channel_values_into_one_pim_value_is_refused() -> None:
    """A BOTH mapping from a value kept once for every locale (a non-localizable attribute) to a field written per
    channel locale was saved; then, once the shop's titles were translated, every sync failed the product with
    "channel value not taken: this attribute, locale and scope is given twice" (CHN-011), the en, ar and fr titles
    each to be taken into the one value. Two mappings taking channel fields into the same value did the same."""
    catalog, settings, spec = LABEL_AND_NAME, THREE_LOCALES, channel_type_spec(ChannelType.CUSTOM_HTTP)

    def refused(*drafts: MappingDraft) -> list[tuple[tuple[str | int, ...], str, str]]:
        _, errors = check_mappings(drafts, catalog=catalog, channel=spec, settings=settings, channel_locales=None)
        return [(error.path, error.code.value, error.message) for error in errors]

    assert refused(MappingDraft("label", "title", MappingDirection.BOTH)) == [
        (
            ("mappings", 0, "direction"),
            "CHN-060",
            "label has one value for every locale and title is written per channel locale (en, ar, fr): a BOTH "
            "mapping would take each of them into that one value; map it EXPORT, or map a localizable attribute",
        )
    ]
    assert refused(MappingDraft("label", "title", MappingDirection.EXPORT)) == [], "exporting one value is fine"
    two_locales = ConnectorSettings(locale_mapping=THREE_LOCALES.locale_mapping[:2], currency="EUR")
    _, errors = check_mappings(
        [MappingDraft("label", "title", MappingDirection.BOTH)],
        catalog=catalog,
        channel=spec,
        settings=two_locales,
        channel_locales=None,
    )
    assert [(error.path, error.code.value) for error in errors] == [(("mappings", 0, "direction"), "CHN-060")], (
        "two channel values are already two to take into one"
    )
    vendor = MappingDraft("name", "vendor", MappingDirection.IMPORT, locale_mapping=(LocalePair("en_US", "en"),))
    assert refused(MappingDraft("name", "title", MappingDirection.BOTH), vendor) == [
        (
            ("mappings", 1, "attributeCode"),
            "CHN-060",
            "name in en_US is already taken from the channel by mappings[0] (title): one value cannot be "
            "taken from two channel fields",
        )
    ]
    assert refused(MappingDraft("name", "title", MappingDirection.EXPORT), vendor) == []
    english_only = MappingDraft("label", "title", MappingDirection.IMPORT, locale_mapping=(LocalePair("en_US", "en"),))
    assert refused(MappingDraft("name", "title", MappingDirection.EXPORT), english_only) == []


def test_a_shopify_weight_converted_to_a_unit_shopify_lacks_or_with_its_unit_mapped_too_is_refused() -> None:
    """A converted weight goes to Shopify with its unit as weightUnit: a unit Shopify has no code for cannot go,
    and a weightUnit mapped besides would name a unit the amount is not in."""
    name = AttributeSpec(1, "name", AttributeType.TEXT, localizable=True, scopable=False)
    weight = AttributeSpec(2, "weight", AttributeType.METRIC, localizable=False, scopable=False)
    unit = AttributeSpec(3, "unit", AttributeType.SELECT, localizable=False, scopable=False)
    catalog = CatalogSpec({"name": name, "weight": weight, "unit": unit}, locales=("en_US",))
    settings = ConnectorSettings(locale_mapping=(LocalePair("en_US", "en"),), currency="EUR")
    spec = channel_type_spec(ChannelType.SHOPIFY)
    title = MappingDraft("name", "title", MappingDirection.EXPORT)

    def refused(*drafts: MappingDraft) -> list[tuple[tuple[str | int, ...], str, str]]:
        _, errors = check_mappings(drafts, catalog=catalog, channel=spec, settings=settings, channel_locales=None)
        return [(error.path, error.code.value, error.message) for error in errors]

    in_tonnes = MappingDraft("weight", "weight", MappingDirection.EXPORT, {"convertUnit": "TON"})
    assert refused(title, in_tonnes) == [
        (
            ("mappings", 1, "transformation", "convertUnit"),
            "CHN-011",
            "weight goes with weightUnit, which takes KILOGRAMS, GRAMS, POUNDS, OUNCES: "
            "convert to KILOGRAM, GRAM, POUND, OUNCE",
        )
    ]
    in_grams = MappingDraft("weight", "weight", MappingDirection.EXPORT, {"convertUnit": "GRAM"})
    assert refused(title, in_grams) == []
    its_unit = MappingDraft("unit", "weightUnit", MappingDirection.EXPORT)
    assert refused(title, in_grams, its_unit) == [
        (
            ("mappings", 2, "channelField"),
            "CHN-060",
            "weightUnit is sent with weight, in the unit its convertUnit converts it to (GRAMS): "
            "leave weightUnit unmapped",
        )
    ]


def test_a_malformed_stored_value_fails_its_product_not_the_page() -> None:
    """Values are checked when written, but one stored before a check (or around the service) must not stop the
    build of every other product of the sync page: it fails its own field with a message that names it."""
    name = AttributeSpec(1, "name", AttributeType.TEXT, localizable=True, scopable=False)
    price = AttributeSpec(2, "price", AttributeType.PRICE, localizable=False, scopable=False)
    weight = AttributeSpec(3, "weight", AttributeType.METRIC, localizable=False, scopable=False)
    catalog = CatalogSpec({"name": name, "price": price, "weight": weight}, locales=("fr_FR",), currencies=("EUR",))
    plan = _custom_http_plan(
        [
            MappingDraft("name", "title", MappingDirection.EXPORT, {"template": "{} ({weight})"}),
            MappingDraft("price", "price", MappingDirection.EXPORT),
        ],
        catalog,
    )
    good = plan.build("GOOD", {(1, "fr_FR", ""): "Chaise", (2, "", ""): {"EUR": "12.50"}})
    assert good.problems == [] and good.shared.fields == {"price": "12.50"}

    bad_price = plan.build("BAD-1", {(1, "fr_FR", ""): "Chaise", (2, "", ""): {"EUR": "12,50"}})
    assert [(p.path, p.code.value) for p in bad_price.problems] == [(("price",), "CHN-011")]
    assert "price" in bad_price.problems[0].message and "12,50" in bad_price.problems[0].message
    assert "price" not in bad_price.sendable()["fields"]

    bad_weight = plan.build("BAD-2", {(1, "fr_FR", ""): "Chaise", (3, "", ""): {"amount": "2"}})
    first = bad_weight.problems[0]
    assert (first.path, first.code.value) == (("title",), "CHN-011")
    assert "weight" in bad_weight.problems[0].message and "fr" not in bad_weight.sendable()["locales"]


def test_an_html_field_gets_text_escaped_and_rich_text_sanitised() -> None:
    """A product name "A < B & C" sent to an HTML field as it is reads as broken markup, and a name holding a tag
    with an event handler runs on the storefront: text is escaped (its line breaks <br>); a TEXTAREA, the PIM's
    rich text, keeps its markup, less scripts and event handlers."""
    name = AttributeSpec(1, "name", AttributeType.TEXT, localizable=True, scopable=False)
    body = AttributeSpec(2, "body", AttributeType.TEXTAREA, localizable=True, scopable=False)
    catalog = CatalogSpec({"name": name, "body": body}, locales=("fr_FR",))
    as_text = _custom_http_plan(
        [
            MappingDraft("name", "title", MappingDirection.EXPORT),
            MappingDraft("name", "description", MappingDirection.EXPORT),
        ],
        catalog,
    )
    text = 'A < B & C\n<img src=x onerror="alert(1)">'
    built = as_text.build("S", {(1, "fr_FR", ""): text})
    assert built.locales[0].fields == {
        "title": text,
        "description": 'A &lt; B &amp; C<br>&lt;img src=x onerror="alert(1)"&gt;',
    }
    rich = _custom_http_plan(
        [
            MappingDraft("name", "title", MappingDirection.EXPORT),
            MappingDraft("body", "description", MappingDirection.EXPORT),
        ],
        catalog,
    )
    markup = '<p dir="rtl" onclick="steal()">خشب &amp; <b>قماش</b><script>steal()</script></p>'
    built = rich.build("S", {(1, "fr_FR", ""): "x", (2, "fr_FR", ""): markup})
    assert built.locales[0].fields["description"] == '<p dir="rtl">خشب &amp; <b>قماش</b></p>'


def test_a_plain_text_description_keeps_its_paragraphs_and_lines_in_an_html_field() -> None:
    """Akeneo's demo catalog holds descriptions typed as plain text (the rich-text editor off): sent to an HTML field
    as they are, their lines run into one on the storefront. Each paragraph goes as a <p>, each other line break as
    a <br>, the text escaped; a description written as markup goes as it was written."""
    with shared_path("data", "akeneo_icecat_demo_dev", "products.csv").open(newline="", encoding="utf-8") as handle:
        rows = {row["sku"]: row for row in csv.DictReader(handle, delimiter=";")}
    plain = rows["1111111225"]["description-en_US-ecommerce"]
    markup = rows["13871461"]["description-en_US-print"]
    assert "\n\n" in plain and "<" not in plain and markup.startswith("<b>")
    name = AttributeSpec(1, "name", AttributeType.TEXT, localizable=True, scopable=False)
    body = AttributeSpec(2, "body", AttributeType.TEXTAREA, localizable=True, scopable=False)
    catalog = CatalogSpec({"name": name, "body": body}, locales=("fr_FR",))
    plan = _custom_http_plan(
        [
            MappingDraft("name", "title", MappingDirection.EXPORT),
            MappingDraft("body", "description", MappingDirection.EXPORT),
        ],
        catalog,
    )
    sent = plan.build("1111111225", {(1, "fr_FR", ""): "Mexx", (2, "fr_FR", ""): plain}).locales[0].fields
    paragraphs = [html.escape(paragraph, quote=False).split("\n") for paragraph in plain.split("\n\n")]
    assert sent["description"] == "".join(f"<p>{'<br>'.join(lines)}</p>" for lines in paragraphs)
    assert sent["description"].startswith("<p>Relaxed with a classic") and "<br>Cut: bent<br>" in sent["description"]
    assert strip_html(sent["description"]) == plain.replace("\n\n", "\n"), "the shopper reads the PIM's lines"
    written = plan.build("13871461", {(1, "fr_FR", ""): "MF", (2, "fr_FR", ""): markup}).locales[0].fields
    assert written["description"] == sanitize_html(markup), "markup is left as written (sanitised)"


def test_a_required_field_that_fails_its_transformation_is_not_also_called_empty() -> None:
    """The title has a value; its template failed. CHN-010 "title is required and has no value" beside the real
    failure sends the user looking for a missing translation that is there."""
    name = AttributeSpec(1, "name", AttributeType.TEXT, localizable=True, scopable=False)
    weight = AttributeSpec(3, "weight", AttributeType.METRIC, localizable=False, scopable=False)
    catalog = CatalogSpec({"name": name, "weight": weight}, locales=("fr_FR",))
    plan = _custom_http_plan(
        [MappingDraft("name", "title", MappingDirection.EXPORT, {"template": "{} ({weight})"})], catalog
    )
    failed = plan.build("BAD", {(1, "fr_FR", ""): "Chaise", (3, "", ""): {"amount": "2"}})
    assert [(p.path, p.code.value) for p in failed.problems] == [(("title",), "CHN-011")]
    missing = plan.build("EMPTY", {(3, "", ""): {"amount": "2", "unit": "KILOGRAM"}})
    assert [(p.path, p.code.value) for p in missing.problems] == [(("title",), "CHN-010")]


def test_a_list_fields_limit_holds_for_each_item() -> None:
    """A channel's limit on a list field is per item (tags of at most 255 characters each): a longer tag is a
    problem on the field, as a too long title is, not a value the channel refuses the whole product for."""
    spec = channel_type_spec(ChannelType.CUSTOM_HTTP)
    limited = tuple(
        dataclasses.replace(field, max_length=10) if field.name == "tags" else field for field in spec.fields
    )
    channel = dataclasses.replace(spec, fields=limited)
    name = AttributeSpec(1, "name", AttributeType.TEXT, localizable=True, scopable=False)
    keywords = AttributeSpec(2, "keywords", AttributeType.MULTISELECT, localizable=False, scopable=False)
    catalog = CatalogSpec({"name": name, "keywords": keywords}, locales=("fr_FR",))
    drafts = [
        MappingDraft("name", "title", MappingDirection.EXPORT),
        MappingDraft("keywords", "tags", MappingDirection.EXPORT),
    ]
    settings = ConnectorSettings(locale_mapping=(LocalePair("fr_FR", "fr"),))
    rules, errors = check_mappings(drafts, catalog=catalog, channel=channel, settings=settings, channel_locales=None)
    assert errors == []
    plan = ExportPlan(rules=rules, settings=settings, catalog=catalog, channel=channel)

    fits = plan.build("OK", {(1, "fr_FR", ""): "Chaise", (2, "", ""): ["chaise", "bois"]})
    assert fits.problems == [] and fits.shared.fields == {"tags": ["chaise", "bois"]}
    long_tag = plan.build("LONG", {(1, "fr_FR", ""): "Chaise", (2, "", ""): ["chaise", "chêne massif"]})
    assert [(p.path, p.code.value) for p in long_tag.problems] == [(("tags",), "CHN-011")]
    assert "12 characters" in long_tag.problems[0].message and "10 per item" in long_tag.problems[0].message
    assert "tags" not in long_tag.sendable()["fields"]


async def test_a_new_default_currency_reaches_the_shop_for_connectors_pricing_in_the_default(
    shop_connector: GraphQLClient, container: Container, served_shop: ServedShop
) -> None:
    """A connector without a currency of its own sends the catalog's default: making USD the default must reach the
    shop for products that did not change, and leave a connector that prices in EUR alone."""
    in_default = {"code": "shop", "input": {"settings": {"currency": None}}}
    assert (await shop_connector(UPDATE_CONNECTOR, in_default))["updateConnector"]["userErrors"] == []
    assert (await save(shop_connector, TITLE, PRICE))["userErrors"] == []
    first = await run_here(shop_connector, container, syncType="INCREMENTAL")
    assert first["totalProducts"] == 1 and sent_products(served_shop)[-1]["fields"]["price"] == "99.99"
    usd_first = await shop_connector(SET_CURRENCIES, {"codes": ["USD", "EUR", "AED"]})
    assert usd_first["setCurrencies"]["userErrors"] == []
    second = await run_here(shop_connector, container, syncType="INCREMENTAL")
    assert second["totalProducts"] == 1 and sent_products(served_shop)[-1]["fields"]["price"] == "109.00"
    in_euros = {"code": "shop", "input": {"settings": {"currency": "EUR"}}}
    assert (await shop_connector(UPDATE_CONNECTOR, in_euros))["updateConnector"]["userErrors"] == []
    third = await run_here(shop_connector, container, syncType="INCREMENTAL")
    assert third["totalProducts"] == 1 and sent_products(served_shop)[-1]["fields"]["price"] == "99.99"
    eur_first = await shop_connector(SET_CURRENCIES, {"codes": ["EUR", "USD", "AED"]})
    assert eur_first["setCurrencies"]["userErrors"] == []
    fourth = await run_here(shop_connector, container, syncType="INCREMENTAL")
    assert fourth["totalProducts"] == 0, "a connector pricing in EUR sends the same whatever the default"


@pytest.mark.parametrize(
    "change",
    [
        {"scope": "print"},
        {"taxConfig": {"applyTax": True, "taxRate": 0.15}},
        {"currency": "USD"},
        {"holdIncompleteLocales": True},
    ],
    ids=["scope", "taxConfig", "currency", "holdIncompleteLocales"],
)
async def test_a_setting_the_export_reads_sends_every_product_again_on_the_next_incremental_sync(
    shop_connector: GraphQLClient, container: Container, change: dict[str, Any]
) -> None:
    """CHAIR-1 does not change: only the connector's setting does, and what the shop holds must follow it."""
    assert (await save(shop_connector, TITLE, PRICE))["userErrors"] == []
    first = await run_here(shop_connector, container, syncType="INCREMENTAL")
    assert first["totalProducts"] == 1
    assert (await run_here(shop_connector, container, syncType="INCREMENTAL"))["totalProducts"] == 0
    changed = {"code": "shop", "input": {"settings": change}}
    assert (await shop_connector(UPDATE_CONNECTOR, changed))["updateConnector"]["userErrors"] == []
    after = await run_here(shop_connector, container, syncType="INCREMENTAL")
    assert after["totalProducts"] == 1, f"{change} changed what CHAIR-1 exports, and it was not sent again"


async def test_a_new_mapping_set_sends_every_product_again_on_the_next_incremental_sync(
    shop_connector: GraphQLClient, container: Container, served_shop: ServedShop
) -> None:
    """CHAIR-1 does not change, its mappings do: the price newly mapped reaches the shop on an incremental sync."""
    assert (await save(shop_connector, TITLE))["userErrors"] == []
    assert (await run_here(shop_connector, container, syncType="INCREMENTAL"))["totalProducts"] == 1
    assert "price" not in sent_products(served_shop)[-1]["fields"]
    assert (await run_here(shop_connector, container, syncType="INCREMENTAL"))["totalProducts"] == 0
    assert (await save(shop_connector, TITLE, PRICE))["userErrors"] == []
    after = await run_here(shop_connector, container, syncType="INCREMENTAL")
    assert after["totalProducts"] == 1 and sent_products(served_shop)[-1]["fields"]["price"] == "99.99"


async def test_a_set_of_more_mappings_than_a_connector_takes_is_refused_whole(shop_connector: GraphQLClient) -> None:
    assert (await save(shop_connector, TITLE))["userErrors"] == []
    refused = await save(shop_connector, *[TITLE] * (MAX_MAPPINGS + 1))
    assert [(error["field"], error["code"]) for error in refused["userErrors"]] == [(["mappings"], "CAT-013")]
    listed = (await shop_connector(MAPPINGS_OF, {"code": "shop"}))["connector"]["mappings"]
    assert [m["channelField"] for m in listed] == ["title"]


async def test_a_connector_that_applies_tax_taxes_every_price_its_mappings_send(
    shop_connector: GraphQLClient, container: Container, served_shop: ServedShop
) -> None:
    """A connector set to {"applyTax": true, "taxRate": "0.2"} sent a lamp's 19.00 EUR net price as "19": the
    connector's taxConfig only filled in options an applyTax step of the mapping left out, so a plain price mapping
    went out untaxed. A price mapped to a price field is now taxed by the connector unless its mapping has an
    applyTax of its own (false: not taxed); the preview and the sync send the same."""
    await upsert(shop_connector, {"sku": "LAMP-1", "values": [value("name", "Lamp", "en_US"), value("price", "19")]})
    taxed = {"code": "shop", "input": {"settings": {"taxConfig": {"applyTax": True, "taxRate": "0.2"}}}}
    assert (await shop_connector(UPDATE_CONNECTOR, taxed))["updateConnector"]["userErrors"] == []
    assert (await save(shop_connector, TITLE, PRICE))["userErrors"] == []
    assert (await preview(shop_connector, "LAMP-1", ["en_US"]))["en"]["fields"]["price"] == "22.80"
    job = await run_here(shop_connector, container, syncType="FULL")
    assert job["status"] == "COMPLETED"
    assert {product["sku"]: product["fields"]["price"] for product in sent_products(served_shop)} == {
        "CHAIR-1": "119.99",
        "LAMP-1": "22.80",
    }

    own_rate = {**PRICE, "transformation": {"applyTax": True, "taxRate": "0.1"}}
    assert (await save(shop_connector, TITLE, own_rate))["userErrors"] == []
    assert (await preview(shop_connector, "LAMP-1", ["en_US"]))["en"]["fields"]["price"] == "20.90"
    opted_out = {**PRICE, "transformation": {"applyTax": False}}
    assert (await save(shop_connector, TITLE, opted_out))["userErrors"] == []
    assert (await preview(shop_connector, "LAMP-1", ["en_US"]))["en"]["fields"]["price"] == "19"


async def test_a_price_the_connector_taxes_is_not_taken_back_into_the_pim_tax_included(
    shop_connector: GraphQLClient,
) -> None:
    """Steps are not run backwards, so a BOTH mapping cannot have an applyTax step; the connector's tax is no
    different: the shop's taxed price would come back into the PIM's net price as it is."""
    taxed = {"code": "shop", "input": {"settings": {"taxConfig": {"applyTax": True, "taxRate": "0.2"}}}}
    assert (await shop_connector(UPDATE_CONNECTOR, taxed))["updateConnector"]["userErrors"] == []
    both = {**PRICE, "direction": "BOTH"}
    refused = await save(shop_connector, TITLE, both)
    assert codes(refused) == [(["mappings", "1", "direction"], "CHN-060")]
    assert refused["userErrors"][0]["message"] == (
        "the connector's taxConfig adds tax to the prices it sends, and a BOTH mapping would take the channel's "
        'taxed price into price as it is: map it EXPORT, or give it {"applyTax": false} to send and take the '
        "price untaxed"
    )
    assert (await save(shop_connector, TITLE, {**both, "transformation": {"applyTax": False}}))["userErrors"] == []
    untaxed = {"code": "shop", "input": {"settings": {"taxConfig": None}}}
    assert (await shop_connector(UPDATE_CONNECTOR, untaxed))["updateConnector"]["userErrors"] == []
    assert (await save(shop_connector, TITLE, both))["userErrors"] == []
    again = (await shop_connector(UPDATE_CONNECTOR, taxed))["updateConnector"]
    assert again["connector"] is None and again["userErrors"][0]["code"] == "CHN-060"


def test_a_price_taken_back_from_the_channel_saved_before_the_connector_taxed_shows_broken() -> None:
    """A BOTH price mapping saved while the connector's applyTax did nothing: now that it taxes what it sends, the
    shop's taxed price would come back into the PIM's net price; the mapping shows broken (CHN-061) and sends
    nothing instead."""
    name = AttributeSpec(1, "name", AttributeType.TEXT, localizable=True, scopable=False)
    price = AttributeSpec(2, "price", AttributeType.PRICE, localizable=False, scopable=False)
    catalog = CatalogSpec({"name": name, "price": price}, locales=("en_US",), currencies=("EUR",))
    settings = ConnectorSettings(
        locale_mapping=(LocalePair("en_US", "en"),), currency="EUR", tax_config={"applyTax": True, "taxRate": "0.2"}
    )
    spec = channel_type_spec(ChannelType.CUSTOM_HTTP)
    stored = [
        MappingDraft("name", "title", MappingDirection.EXPORT),
        MappingDraft("price", "price", MappingDirection.BOTH),
    ]
    rules = [
        stored_rule(draft, attribute_present=True, catalog=catalog, channel=spec, settings=settings) for draft in stored
    ]
    assert [rule.broken for rule in rules if rule] == [
        None,
        "the connector's taxConfig adds tax to the prices it sends, and a BOTH mapping would take the channel's "
        'taxed price into price as it is: map it EXPORT, or give it {"applyTax": false} to send and take the '
        "price untaxed",
    ]
    plan = ExportPlan(rules=[rule for rule in rules if rule], settings=settings, catalog=catalog, channel=spec)
    built = plan.build("LAMP-1", {(1, "en_US", ""): "Lamp", (2, "", ""): {"EUR": "19"}})
    assert "price" not in built.shared.fields and [p.code.value for p in built.problems] == ["CHN-061"]


async def test_a_default_no_value_of_the_pim_could_be_is_refused_at_save(shop_connector: GraphQLClient) -> None:
    """A price default of "1e400" was saved (it would have gone to the shop as 401 digits), and "-5" too."""
    for default, message in [
        ("1e400", "default: the amount '1e400' has 401 digits before the decimal point, at most 18"),
        ("-5", "default: the amount cannot be negative"),
    ]:
        rule = {**PRICE, "whenEmpty": "DEFAULT", "transformation": {"default": default}}
        refused = await save(shop_connector, TITLE, rule)
        assert [(e["field"], e["code"], e["message"]) for e in refused["userErrors"]] == [
            (["mappings", "1", "transformation", "default"], "CHN-011", message)
        ]
    assert (await shop_connector(MAPPINGS_OF, {"code": "shop"}))["connector"]["mappings"] == []


def test_a_stored_set_taking_two_channel_values_into_one_pim_value_shows_the_offending_mapping_broken() -> None:
    """Sets saved before saveMappings refused them failed every sync of every product they import, "this
    attribute, locale and scope is given twice": loaded for a sync or a preview, the offending mapping is broken
    (CHN-061) with the reason the save gives, and takes nothing; the others run."""
    catalog, settings, spec = LABEL_AND_NAME, THREE_LOCALES, channel_type_spec(ChannelType.CUSTOM_HTTP)
    english = (LocalePair("en_US", "en"),)

    def loaded(*drafts: MappingDraft) -> list[MappingRule]:
        rules = stored_rules([(d, True) for d in drafts], catalog=catalog, channel=spec, settings=settings)
        return [rule for rule in rules if rule is not None]

    [each_locale] = loaded(MappingDraft("label", "title", MappingDirection.BOTH))
    assert each_locale.broken == (
        "label has one value for every locale and title is written per channel locale (en, ar, fr): a BOTH "
        "mapping would take each of them into that one value; map it EXPORT, or map a localizable attribute"
    )
    title, vendor = loaded(
        MappingDraft("name", "title", MappingDirection.BOTH),
        MappingDraft("name", "vendor", MappingDirection.IMPORT, locale_mapping=english),
    )
    assert title.broken is None
    assert vendor.broken == (
        "name in en_US is already taken from the channel by mappings[0] (title): one value cannot be taken from two "
        "channel fields"
    )
    plan = ExportPlan(rules=[title, vendor], settings=settings, catalog=catalog, channel=spec)
    taken = [(slot.field, slot.pim_locale) for slot in plan.slots]
    assert taken == [("title", "en_US"), ("title", "ar_AE"), ("title", "fr_FR")], "each value taken once"
    built = plan.build("CHAIR-1", {(2, "en_US", ""): "Chair", (2, "ar_AE", ""): "كرسي", (2, "fr_FR", ""): "Chaise"})
    assert [(p.path, p.code.value) for p in built.problems] == [(("vendor",), "CHN-061")]


async def test_a_stored_mapping_taking_a_value_another_takes_is_listed_and_previewed_as_broken(
    shop_connector: GraphQLClient, container: Container
) -> None:
    english_vendor = {
        "attributeCode": "name",
        "channelField": "vendor",
        "direction": "IMPORT",
        "localeMapping": [PIM_EN],
    }
    assert (await save(shop_connector, TITLE, english_vendor))["userErrors"] == []
    async with container.db.transaction() as session:  # as saved before such a set was refused
        await session.execute(
            update(FieldMapping).where(FieldMapping.channel_field == "title").values(direction="BOTH")
        )
    listed = (await shop_connector(MAPPINGS_OF, {"code": "shop"}))["connector"]["mappings"]
    assert [(m["channelField"], m["broken"]) for m in listed] == [
        ("title", None),
        (
            "vendor",
            "CHN-061: name in en_US is already taken from the channel by mappings[0] (title): one value cannot be "
            "taken from two channel fields",
        ),
    ]
    shown = (await preview(shop_connector, locales=["en_US"]))["en"]
    assert shown["fields"] == {"title": "Wooden chair"}
    assert [(p["field"], p["code"]) for p in shown["problems"]] == [(["vendor"], "CHN-061")]


async def test_a_jobs_messages_quote_product_values_only_with_catalog_view(
    shop_connector: GraphQLClient, container: Container, tenant: TenantHandle
) -> None:
    """A job's errors, and its failure, quote the product's values ("got 'Wooden chair'"): a token with sync.view
    but not catalog.view read them there, though the same values in the job's changes (and in exportPreview) are
    refused it. Such a token reads each message as hidden, saying which scope shows it; the products, codes and
    locales stay visible, and a token with catalog.view reads the message whole."""
    english = [{"pimLocale": "en_US", "channelLocale": "en"}]
    image = {"attributeCode": "name", "channelField": "imageUrl", "direction": "EXPORT", "localeMapping": english}
    assert (await save(shop_connector, TITLE, image))["userErrors"] == []
    job = await run_here(shop_connector, container, syncType="SINGLE", productSkus=["CHAIR-1"])
    [error] = [edge["node"] for edge in job["errors"]["edges"]]
    assert "got 'Wooden chair'" in error["message"] and "Wooden chair" in job["failure"]

    query = """query($id: ID!) { syncJob(id: $id) { status failure
      errors(first: 5) { edges { node { productSku locale errorCode message } } } } }"""
    sync_only = (await make_tenant(container.db, (Scope.SYNC_VIEW,), code=tenant.code)).token
    body = (await shop_connector.raw(query, {"id": job["id"]}, token=sync_only)).json()
    assert "errors" not in body, body["errors"]
    assert "Wooden chair" not in str(body["data"])
    shown = body["data"]["syncJob"]
    hidden = "hidden: it may quote the product's values, which need the scope catalog.view"
    assert [edge["node"] for edge in shown["errors"]["edges"]] == [
        {"productSku": "CHAIR-1", "locale": None, "errorCode": "CHN-011", "message": hidden}
    ]
    assert shown["failure"] == f"the job's only product failed: CHN-011 ({hidden})"
    both = (await make_tenant(container.db, (Scope.SYNC_VIEW, Scope.CATALOG_VIEW), code=tenant.code)).token
    whole = (await shop_connector(query, {"id": job["id"]}, token=both))["syncJob"]
    assert whole["failure"] == job["failure"] and whole["errors"]["edges"][0]["node"] == error
