"""Connectors over GraphQL: create (with its connection test), change, pause, resume, delete, list.

The channel is the CUSTOM_HTTP reference shop, served over real HTTP.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.channels.registry import channel_type_spec
from app.container import Container
from app.db.engine import Database
from app.domain.catalog import CatalogSpec
from app.domain.channels import ChannelType
from app.domain.connectors import ConnectorSettings, check_settings
from app.domain.scopes import Scope
from app.services.connectors import ConnectorService, credentials_rejected
from graphql_schema.relay import parse_global_id
from tests.catalog_fixtures import DELETE_ATTRIBUTES, set_up_catalog
from tests.conftest import GraphQLClient, SwappableApp, TenantHandle, make_tenant
from tests.connector_fixtures import (
    API_KEY,
    CONNECTOR,
    CREATE_CONNECTOR,
    SAVE_MAPPINGS,
    SECRET,
    UPDATE_CONNECTOR,
    ServedShop,
    connector_input,
    create_connector,
    served_shop,
)
from tests.emulators import serve
from tests.shopify_fixtures import DOMAIN

__all__ = ["served_shop"]

CONNECTORS = """
query($first: Int, $after: String, $channelType: ChannelType, $status: ConnectorStatus) {
  connectors(first: $first, after: $after, channelType: $channelType, status: $status) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { code status } }
  }
}"""
DELETE = "mutation($code: String!) { deleteConnector(code: $code) { deletedId userErrors { field message code } } }"
TEST = """mutation($code: String!) {
  testConnection(code: $code) { testResult { success message channelInfo { storeName supportedLocales } } userErrors { code } }
}"""
PAUSE = """mutation($code: String!, $reason: String) {
  pauseConnector(code: $code, reason: $reason) { connector { status statusReason } userErrors { code } }
}"""
RESUME = """mutation($code: String!) {
  resumeConnector(code: $code) { connector { status statusReason } testResult { success } userErrors { code } }
}"""
CHANNEL_TYPES = """{ channelTypes { type displayName capabilities credentialsSchema
  fields { name type required localizable maxLength } } }"""


@pytest.fixture
async def catalog(gql: GraphQLClient) -> GraphQLClient:
    await set_up_catalog(gql)
    return gql


async def test_channel_types_describe_every_channel_for_forms(gql: GraphQLClient) -> None:
    types = {item["type"]: item for item in (await gql(CHANNEL_TYPES))["channelTypes"]}
    assert set(types) == {"SHOPIFY", "WOOCOMMERCE", "AMAZON", "EBAY", "SALLA", "EASY_ORDERS", "CUSTOM_HTTP"}
    shopify = {field["name"]: field for field in types["SHOPIFY"]["fields"]}
    assert {"title", "descriptionHtml", "vendor", "productType", "tags", "handle", "status"} <= set(shopify)
    assert shopify["descriptionHtml"]["localizable"] is True
    assert shopify["vendor"]["localizable"] is False
    schema = types["CUSTOM_HTTP"]["credentialsSchema"]
    assert set(schema["required"]) >= {"baseUrl", "signingSecret"}


async def test_channel_types_say_which_ones_this_version_can_connect_to(catalog: GraphQLClient) -> None:
    """A form built from channelTypes offered all seven, each with PRODUCTS_EXPORT among its capabilities: a
    WooCommerce connector filled in with sound credentials was created DISCONNECTED, 'not available in this
    version yet', and never synced. `available` says so before the form is filled in."""
    listed = (await catalog("{ channelTypes { type available } }"))["channelTypes"]
    assert {item["type"]: item["available"] for item in listed} == {
        "SHOPIFY": True,
        "WOOCOMMERCE": False,
        "AMAZON": False,
        "EBAY": False,
        "SALLA": False,
        "EASY_ORDERS": False,
        "CUSTOM_HTTP": True,
    }
    credentials = {
        "storeUrl": "https://shop.example",
        "consumerKey": "ck_" + "a" * 40,
        "consumerSecret": "cs_" + "b" * 40,
    }
    created = (
        await catalog(
            CREATE_CONNECTOR,
            {"input": {"code": "woo", "name": "Woo", "channelType": "WOOCOMMERCE", "credentials": credentials}},
        )
    )["createConnector"]
    assert created["userErrors"] == [] and created["connector"]["status"] == "DISCONNECTED", created


async def test_create_tests_the_connection_and_reports_the_store(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    payload = await create_connector(catalog, served_shop)
    connector = payload["connector"]
    assert connector["status"] == "CONNECTED"
    assert connector["storeName"] == "Reference Shop"
    assert connector["supportedLocales"] == ["en", "ar", "fr"]
    assert payload["testResult"]["success"] is True
    assert payload["testResult"]["channelInfo"]["supportedLocales"] == ["en", "ar", "fr"]
    assert connector["webhookPath"].startswith("/webhooks/") and len(connector["webhookPath"]) > len("/webhooks/")
    settings = connector["settings"]
    assert settings["conflictStrategy"] == "MANUAL" and settings["fallbackPolicy"] == "OMIT"
    assert settings["localeMapping"][1] == {"pimLocale": "ar_AE", "channelLocale": "ar"}
    assert served_shop.shop.requests_to("GET", "/info"), "the connection test never reached the shop"


async def test_a_shop_name_too_long_or_holding_a_nul_is_shown_cut_and_cleaned(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    """A shop names itself as it likes; the connection test must not fail (PostgreSQL refuses a NUL or a name past
    its column) over how the name is shown."""
    served_shop.shop.store_name = "Souq\x00 " + "الرياض " * 60
    payload = await create_connector(catalog, served_shop)
    connector = payload["connector"]
    assert payload["userErrors"] == [] and connector["status"] == "CONNECTED", payload
    assert connector["storeName"] == ("Souq " + "الرياض " * 60)[:254] + "…", "cut, and not marked as cut"


@pytest.mark.parametrize("reported", [["en", "x" * 36], ["en", "a\x00r"], ["en", ""]])
async def test_a_shop_reporting_locale_codes_that_cannot_be_codes_fails_its_test_clearly(
    catalog: GraphQLClient, served_shop: ServedShop, reported: list[str]
) -> None:
    served_shop.shop.supported_locales = tuple(reported)
    payload = await create_connector(catalog, served_shop)
    assert payload["testResult"]["success"] is False, payload
    assert "supportedLocales must be a list of locale codes" in payload["testResult"]["message"]
    assert payload["connector"]["status"] == "ERROR"


async def test_a_failed_connection_test_still_creates_the_connector_in_error(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    given = connector_input(served_shop)
    given["credentials"]["signingSecret"] = "not-the-shop-secret-at-all"
    payload = (await catalog(CREATE_CONNECTOR, {"input": given}))["createConnector"]
    assert payload["userErrors"] == []
    assert payload["testResult"]["success"] is False
    assert payload["connector"]["status"] == "ERROR"
    assert "CHN-003" in payload["connector"]["statusReason"]
    assert "not-the-shop-secret-at-all" not in json.dumps(payload)


async def test_malformed_credentials_are_refused_without_echoing_them(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    given = connector_input(served_shop)
    given["credentials"] = {"baseUrl": "ftp://shop.example/x", "signingSecret": "short-secret"}
    payload = (await catalog(CREATE_CONNECTOR, {"input": given}))["createConnector"]
    assert payload["connector"] is None
    fields = {tuple(error["field"]): error for error in payload["userErrors"]}
    assert ("input", "credentials", "signingSecret") in fields
    assert all(error["code"] == "CHN-002" for error in payload["userErrors"])
    assert "short-secret" not in json.dumps(payload)
    assert (await catalog(CONNECTORS))["connectors"]["totalCount"] == 0


LEAKED = "signing-secret-0123456789-never-shown"


@pytest.mark.parametrize(
    "document",
    [
        # the input as a variable, without its name
        (CREATE_CONNECTOR, {"code": "shop", "channelType": "CUSTOM_HTTP", "credentials": {"signingSecret": LEAKED}}),
        # the same in the document, and an update naming a field the input does not have
        (
            'mutation { createConnector(input: {code: "shop", channelType: CUSTOM_HTTP, credentials: {signingSecret: "'
            + LEAKED
            + '"}}) { userErrors { message } } }',
            None,
        ),
        (
            'mutation { updateConnector(code: "shop", input: {nmae: "Shop", credentials: {signingSecret: "'
            + LEAKED
            + '"}}) { userErrors { message } } }',
            None,
        ),
    ],
)
async def test_an_input_that_does_not_fit_its_type_is_refused_without_echoing_its_credentials(
    catalog: GraphQLClient, document: tuple[str, dict[str, Any] | None]
) -> None:
    """graphql-core tells an input object that misses a required field (or names one it does not have) by quoting
    the whole object: `createConnector` without a name answered 'Expected value of type 'CreateConnectorInput' to
    include required field 'name', found: {... 'credentials': {'signingSecret': '...'}}', the secret in the error
    a frontend shows, reports to its error tracker and a proxy logs. The error says which field, without the
    values."""
    query, given = document
    errors = await catalog.errors(query, None if given is None else {"input": given})
    assert len(errors) == 1, errors
    message = errors[0]["message"]
    assert LEAKED not in json.dumps(errors), message
    assert "Expected value of type" in message and ("'name'" in message or "'nmae'" in message), message
    assert (await catalog(CONNECTORS))["connectors"]["totalCount"] == 0


@pytest.mark.parametrize(
    ("given", "path", "code"),
    [
        (
            {"localeMapping": [{"pimLocale": "en_US", "channelLocale": "de"}]},
            ["localeMapping", "0", "channelLocale"],
            "CHN-012",
        ),
        (
            {"localeMapping": [{"pimLocale": "de_DE", "channelLocale": "en"}]},
            ["localeMapping", "0", "pimLocale"],
            "CAT-002",
        ),
        (
            {"localeMapping": [{"pimLocale": "xx_QQ", "channelLocale": "en"}]},
            ["localeMapping", "0", "pimLocale"],
            "CAT-001",
        ),
        (
            {
                "localeMapping": [
                    {"pimLocale": "en_US", "channelLocale": "en"},
                    {"pimLocale": "fr_FR", "channelLocale": "EN"},
                ]
            },
            ["localeMapping", "1", "channelLocale"],
            "CAT-009",
        ),
        (
            {
                "localeMapping": [
                    {"pimLocale": "fr_FR", "channelLocale": "fr"},
                    {"pimLocale": "fr-fr", "channelLocale": "en"},
                ]
            },
            ["localeMapping", "1", "pimLocale"],
            "CAT-009",
        ),
        ({"currency": "GBP"}, ["currency"], "CAT-008"),
        ({"currency": "EURO"}, ["currency"], "CAT-014"),
        ({"scope": "mobile"}, ["scope"], "CAT-007"),
        ({"taxConfig": {"applyTax": True, "taxRate": 1.5}}, ["taxConfig", "taxRate"], "CHN-070"),
        ({"syncIntervalMinutes": 1}, ["syncIntervalMinutes"], "CON-001"),
        ({"requestsPerSecond": 1e-300}, ["requestsPerSecond"], "CON-001"),
        ({"requestsPerSecond": 0.001}, ["requestsPerSecond"], "CON-001"),
        ({"syncIntervalMinutes": 60 * 24 * 31 + 1}, ["syncIntervalMinutes"], "CON-001"),
        ({"requestsPerSecond": 1000.5}, ["requestsPerSecond"], "CON-001"),
        ({"taxConfig": {"applyTax": True, "taxRate": 1}}, ["taxConfig", "taxRate"], "CHN-070"),
        ({"taxConfig": {"applyTax": True}}, ["taxConfig", "taxRate"], "CHN-070"),
        ({"taxConfig": {"applyTax": False, "decimals": 7}}, ["taxConfig", "decimals"], "CHN-070"),
    ],
)
async def test_bad_settings_are_user_errors_and_create_nothing(
    catalog: GraphQLClient, served_shop: ServedShop, given: dict[str, Any], path: list[str], code: str
) -> None:
    payload = (await catalog(CREATE_CONNECTOR, {"input": connector_input(served_shop, **given)}))["createConnector"]
    assert payload["connector"] is None
    assert {"field": ["input", "settings", *path], "code": code} in [
        {"field": error["field"], "code": error["code"]} for error in payload["userErrors"]
    ], payload["userErrors"]
    assert (await catalog(CONNECTORS))["connectors"]["totalCount"] == 0


async def test_settings_and_a_name_at_the_edge_of_what_is_allowed_are_taken(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    """The limits are inclusive: a monthly schedule, 1,000 requests a second, a 0% tax rounded to 6 decimals and a
    name as long as its column are taken as given, not refused one short of the limit the message states."""
    given = connector_input(
        served_shop,
        syncIntervalMinutes=60 * 24 * 31,
        requestsPerSecond=1000,
        taxConfig={"applyTax": True, "taxRate": 0, "decimals": 6},
    )
    given["name"] = "n" * 200
    payload = (await catalog(CREATE_CONNECTOR, {"input": given}))["createConnector"]
    assert payload["userErrors"] == [], payload["userErrors"]
    settings = payload["connector"]["settings"]
    assert (settings["syncIntervalMinutes"], settings["requestsPerSecond"]) == (60 * 24 * 31, 1000)
    assert settings["taxConfig"] == {"applyTax": True, "taxRate": 0, "decimals": 6}
    assert payload["connector"]["name"] == "n" * 200
    too_long = (await catalog(UPDATE_CONNECTOR, {"code": "shop", "input": {"name": "n" * 201}}))["updateConnector"]
    assert [(error["field"], error["code"]) for error in too_long["userErrors"]] == [(["input", "name"], "CON-001")]


def test_a_currency_the_channel_does_not_take_is_chn_013_even_when_the_catalog_has_it() -> None:
    """eBay prices each marketplace in its own currency: a connector set to one no marketplace uses would fail
    every product at export."""
    catalog_spec = CatalogSpec(locales=("en_US",), currencies=("EUR", "JPY"))
    ebay = channel_type_spec(ChannelType.EBAY)
    assert ebay.currencies is not None and "JPY" not in ebay.currencies and "EUR" in ebay.currencies
    settings = ConnectorSettings(currency="jpy")
    _, errors = check_settings(settings, catalog=catalog_spec, channel=ebay, channel_locales=None)
    assert [(error.path, error.code.value) for error in errors] == [(("currency",), "CHN-013")]
    taken, errors = check_settings(
        ConnectorSettings(currency="eur"), catalog=catalog_spec, channel=ebay, channel_locales=None
    )
    assert errors == [] and taken.currency == "EUR"


async def test_a_channel_locale_naming_an_encoding_is_refused_when_the_shop_s_locales_are_unknown(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    """Babel reads `en.<anything>` as en, dropping the encoding: a shop that did not answer the connection test
    left the code to be taken as given, of any length, and the job errors naming it failed the sync's write on
    PostgreSQL (their locale column holds 35 characters)."""
    served_shop.shop.fail_next(50, status=503)
    mapping = [{"pimLocale": "en_US", "channelLocale": "en." + "x" * 40}]
    payload = (await catalog(CREATE_CONNECTOR, {"input": connector_input(served_shop, localeMapping=mapping)}))[
        "createConnector"
    ]
    assert payload["connector"] is None
    assert [(error["field"], error["code"]) for error in payload["userErrors"]] == [
        (["input", "settings", "localeMapping", "0", "channelLocale"], "CHN-012")
    ]
    assert "encoding" in payload["userErrors"][0]["message"]
    assert (await catalog(CONNECTORS))["connectors"]["totalCount"] == 0


async def test_channel_locales_are_compared_as_locales_not_strings(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    mapping = [{"pimLocale": "en-us", "channelLocale": "EN"}, {"pimLocale": "ar_ae", "channelLocale": "ar"}]
    payload = await create_connector(catalog, served_shop, localeMapping=mapping)
    assert payload["connector"]["settings"]["localeMapping"] == [
        {"pimLocale": "en_US", "channelLocale": "en"},
        {"pimLocale": "ar_AE", "channelLocale": "ar"},
    ]


async def test_fr_CA_is_not_fr_FR(catalog: GraphQLClient, served_shop: ServedShop) -> None:
    served_shop.shop.supported_locales = ("en", "fr-CA")
    payload = (
        await catalog(
            CREATE_CONNECTOR,
            {"input": connector_input(served_shop, localeMapping=[{"pimLocale": "fr_FR", "channelLocale": "fr-FR"}])},
        )
    )["createConnector"]
    assert [error["code"] for error in payload["userErrors"]] == ["CHN-012"]
    assert "fr-CA" in payload["userErrors"][0]["message"]


async def test_codes_are_unique_per_tenant(catalog: GraphQLClient, served_shop: ServedShop, db: Database) -> None:
    await create_connector(catalog, served_shop)
    again = (await catalog(CREATE_CONNECTOR, {"input": connector_input(served_shop)}))["createConnector"]
    assert [(error["field"], error["code"]) for error in again["userErrors"]] == [(["input", "code"], "CON-002")]
    other = await make_tenant(db)
    await set_up_catalog(GraphQLClient(catalog.http, other.token))
    elsewhere = await create_connector(GraphQLClient(catalog.http, other.token), served_shop)
    assert elsewhere["connector"]["code"] == "shop"


async def test_update_is_partial_and_retests_new_credentials(catalog: GraphQLClient, served_shop: ServedShop) -> None:
    await create_connector(catalog, served_shop)
    renamed = (await catalog(UPDATE_CONNECTOR, {"code": "shop", "input": {"name": "Main shop"}}))["updateConnector"]
    assert renamed["userErrors"] == [] and renamed["testResult"] is None
    assert renamed["connector"]["name"] == "Main shop"
    assert renamed["connector"]["settings"]["currency"] == "EUR"
    changed = (
        await catalog(
            UPDATE_CONNECTOR,
            {
                "code": "shop",
                "input": {"settings": {"fallbackPolicy": "SEND", "currency": None, "holdIncompleteLocales": True}},
            },
        )
    )["updateConnector"]
    assert changed["userErrors"] == []
    settings = changed["connector"]["settings"]
    assert (settings["fallbackPolicy"], settings["currency"], settings["holdIncompleteLocales"]) == ("SEND", None, True)
    assert settings["scope"] == "ecommerce" and len(settings["localeMapping"]) == 3
    bad_key = served_shop.credentials(apiKey="a-wrong-api-key-123")
    retested = (await catalog(UPDATE_CONNECTOR, {"code": "shop", "input": {"credentials": bad_key}}))["updateConnector"]
    assert retested["testResult"]["success"] is False
    assert retested["connector"]["status"] == "ERROR"
    refused = (await catalog(UPDATE_CONNECTOR, {"code": "shop", "input": {"settings": {"conflictStrategy": None}}}))[
        "updateConnector"
    ]
    assert [error["code"] for error in refused["userErrors"]] == ["CON-001"]


async def test_an_update_keeps_what_another_changed_while_its_credentials_were_tested(
    catalog: GraphQLClient, served_shop: ServedShop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """New credentials are tested over the network for seconds; a colleague's change made meanwhile stays."""
    await create_connector(catalog, served_shop)
    meanwhile = {"settings": {"conflictStrategy": "CHANNEL_WINS", "syncIntervalMinutes": 30}}
    test_for_real = ConnectorService.run_test

    async def test_while_a_colleague_edits(service: ConnectorService, *args: Any) -> Any:
        edited = (await catalog(UPDATE_CONNECTOR, {"code": "shop", "input": meanwhile}))["updateConnector"]
        assert edited["userErrors"] == []
        return await test_for_real(service, *args)

    monkeypatch.setattr(ConnectorService, "run_test", test_while_a_colleague_edits)
    given = {"name": "Main shop", "credentials": served_shop.credentials(), "settings": {"currency": "USD"}}
    updated = (await catalog(UPDATE_CONNECTOR, {"code": "shop", "input": given}))["updateConnector"]
    assert updated["userErrors"] == [] and updated["testResult"]["success"] is True
    settings = (await catalog(CONNECTOR, {"code": "shop"}))["connector"]["settings"]
    assert (settings["conflictStrategy"], settings["syncIntervalMinutes"]) == ("CHANNEL_WINS", 30), (
        "the colleague's change"
    )
    assert settings["currency"] == "USD" and len(settings["localeMapping"]) == 3, "this update's own"


async def test_an_update_checks_only_what_it_changes(catalog: GraphQLClient, served_shop: ServedShop) -> None:
    """A template naming a deleted attribute, and a locale the shop stopped offering, are on the connector
    already: a rename or another setting must not fail on them; changing the locale mapping itself is checked."""
    await create_connector(catalog, served_shop)
    titled = {
        "attributeCode": "name",
        "channelField": "title",
        "direction": "EXPORT",
        "transformation": {"template": "{name} ({stock})"},
    }
    assert (await catalog(SAVE_MAPPINGS, {"code": "shop", "mappings": [titled]}))["saveMappings"]["userErrors"] == []
    deleted = (await catalog(DELETE_ATTRIBUTES, {"codes": ["stock"]}))["deleteAttributes"]
    assert deleted["userErrors"] == []
    served_shop.shop.supported_locales = ("en", "ar")
    assert (await catalog(TEST, {"code": "shop"}))["testConnection"]["testResult"]["success"] is True

    async def update(given: dict[str, Any]) -> dict[str, Any]:
        return dict((await catalog(UPDATE_CONNECTOR, {"code": "shop", "input": given}))["updateConnector"])

    renamed = await update({"name": "Main shop"})
    assert renamed["userErrors"] == [] and renamed["connector"]["name"] == "Main shop"
    scheduled = await update({"settings": {"syncIntervalMinutes": 60, "scope": "print"}})
    assert scheduled["userErrors"] == []
    assert scheduled["connector"]["settings"]["syncIntervalMinutes"] == 60
    assert len(scheduled["connector"]["settings"]["localeMapping"]) == 3, "the stored mapping was kept as it is"
    without_ar = [{"pimLocale": "en_US", "channelLocale": "en"}, {"pimLocale": "fr_FR", "channelLocale": "fr"}]
    remapped = await update({"settings": {"localeMapping": without_ar}})
    assert [(error["field"], error["code"]) for error in remapped["userErrors"]] == [
        (["input", "settings", "localeMapping", "1", "channelLocale"], "CHN-012")
    ]


async def test_pause_then_resume_retests(catalog: GraphQLClient, served_shop: ServedShop) -> None:
    await create_connector(catalog, served_shop)
    paused = (await catalog(PAUSE, {"code": "shop", "reason": "inventory count"}))["pauseConnector"]["connector"]
    assert paused == {"status": "PAUSED", "statusReason": "inventory count"}
    tested = (await catalog(TEST, {"code": "shop"}))["testConnection"]
    assert tested["testResult"]["success"] is True
    assert (await catalog(CONNECTOR, {"code": "shop"}))["connector"]["status"] == "PAUSED"
    resumed = (await catalog(RESUME, {"code": "shop"}))["resumeConnector"]
    assert resumed["connector"] == {"status": "CONNECTED", "statusReason": None}


async def test_pausing_a_paused_connector_without_a_reason_keeps_its_reason(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    """A second pauseConnector without a reason (a script, or a second person pausing it) replaced the reason the
    connector was paused for with "paused by a user"; a reason given still replaces it."""
    await create_connector(catalog, served_shop)
    await catalog(PAUSE, {"code": "shop", "reason": "inventory count"})
    again = (await catalog(PAUSE, {"code": "shop"}))["pauseConnector"]
    assert again == {"connector": {"status": "PAUSED", "statusReason": "inventory count"}, "userErrors": []}
    assert (await catalog(CONNECTOR, {"code": "shop"}))["connector"]["statusReason"] == "inventory count"
    blank = (await catalog(PAUSE, {"code": "shop", "reason": "  "}))["pauseConnector"]["connector"]
    assert blank == {"status": "PAUSED", "statusReason": "inventory count"}
    changed = (await catalog(PAUSE, {"code": "shop", "reason": "price review"}))["pauseConnector"]["connector"]
    assert changed == {"status": "PAUSED", "statusReason": "price review"}


async def test_credentials_refused_while_paused_leave_the_connector_paused_with_its_reason(
    catalog: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """A check already under way when a person paused the connector may meet CHN-003 afterwards: the refusal is
    recorded (connector.error), but the pause a person chose stays, with the reason they gave."""
    created = await create_connector(catalog, served_shop)
    await catalog(PAUSE, {"code": "shop", "reason": "inventory count"})
    await credentials_rejected(container, parse_global_id(created["connector"]["id"])[1], "CHN-003: refused")
    connector = (await catalog(CONNECTOR, {"code": "shop"}))["connector"]
    assert (connector["status"], connector["statusReason"]) == ("PAUSED", "inventory count")


async def test_new_credentials_reaching_a_shop_without_a_mapped_locale_are_refused_and_change_nothing(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    """New credentials may reach another store, with other locales: the stored locale mapping is checked against
    the locales the new store reports, or exports would send French to a store that has none."""
    await create_connector(catalog, served_shop)
    served_shop.shop.supported_locales = ("en", "ar")
    given = {"credentials": served_shop.credentials()}
    refused = (await catalog(UPDATE_CONNECTOR, {"code": "shop", "input": given}))["updateConnector"]
    assert refused["connector"] is None
    assert [(error["field"], error["code"]) for error in refused["userErrors"]] == [
        (["input", "settings", "localeMapping", "2", "channelLocale"], "CHN-012")
    ]
    connector = (await catalog(CONNECTOR, {"code": "shop"}))["connector"]
    assert connector["supportedLocales"] == ["en", "ar", "fr"] and len(connector["settings"]["localeMapping"]) == 3


async def test_a_pause_reason_longer_than_a_reason_is_refused_and_changes_nothing(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    """The reason is shown wherever the connector is (statusReason): a 100,000-character one was stored whole."""
    await create_connector(catalog, served_shop)
    refused = (await catalog(PAUSE, {"code": "shop", "reason": "x" * 1001}))["pauseConnector"]
    assert refused == {"connector": None, "userErrors": [{"code": "CON-001"}]}
    assert (await catalog(CONNECTOR, {"code": "shop"}))["connector"]["status"] == "CONNECTED"
    kept = (await catalog(PAUSE, {"code": "shop", "reason": "y" * 1000}))["pauseConnector"]["connector"]
    assert kept == {"status": "PAUSED", "statusReason": "y" * 1000}


async def test_a_shop_that_fails_for_now_leaves_the_connector_as_it_was_and_one_that_refuses_puts_it_in_error(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    """A 503 during a connection test put a connected connector in ERROR, and one during resumeConnector put a paused
    one there: either way scheduled syncs stopped until a person resumed it, for a shop that was down a moment.
    ERROR is for a refusal of the connector (credentials, set-up) and for jobs failing again and again: a test the
    shop failed for now says why and leaves the status, and a resume it failed resumes nothing yet."""
    await create_connector(catalog, served_shop)
    served_shop.shop.fail_next(1, status=503)
    tested = (await catalog(TEST, {"code": "shop"}))["testConnection"]["testResult"]
    assert tested["success"] is False and "CHN-021" in tested["message"]
    connector = (await catalog(CONNECTOR, {"code": "shop"}))["connector"]
    assert (connector["status"], connector["statusReason"]) == ("CONNECTED", None)

    await catalog(PAUSE, {"code": "shop", "reason": "inventory count"})
    served_shop.shop.fail_next(1, status=503)
    resumed = (await catalog(RESUME, {"code": "shop"}))["resumeConnector"]
    assert resumed["testResult"] == {"success": False}
    assert resumed["connector"] == {"status": "PAUSED", "statusReason": "inventory count"}
    resumed = (await catalog(RESUME, {"code": "shop"}))["resumeConnector"]
    assert resumed["connector"] == {"status": "CONNECTED", "statusReason": None}

    served_shop.shop.fail_next(1, status=404)
    tested = (await catalog(TEST, {"code": "shop"}))["testConnection"]["testResult"]
    connector = (await catalog(CONNECTOR, {"code": "shop"}))["connector"]
    assert tested["success"] is False and connector["status"] == "ERROR"
    assert connector["statusReason"] == tested["message"] and "404" in tested["message"]


async def test_new_credentials_the_shop_could_not_check_for_now_leave_no_reason_about_the_old_ones(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    """A connector in ERROR because the shop refused its key, given a new key while the shop answered 503: it stayed
    in ERROR saying the old key was refused, as if the new one had been. It stays in ERROR (nothing says the new
    key works), with a reason about the new key, until a test the shop answers."""
    await create_connector(catalog, served_shop)
    bad_key = served_shop.credentials(apiKey="a-wrong-api-key-123")
    refused = (await catalog(UPDATE_CONNECTOR, {"code": "shop", "input": {"credentials": bad_key}}))["updateConnector"]
    assert refused["connector"]["status"] == "ERROR"
    served_shop.shop.fail_next(1, status=503)
    given = {"code": "shop", "input": {"credentials": served_shop.credentials()}}
    replaced = (await catalog(UPDATE_CONNECTOR, given))["updateConnector"]
    assert replaced["testResult"]["success"] is False and "CHN-021" in replaced["testResult"]["message"]
    connector = (await catalog(CONNECTOR, {"code": "shop"}))["connector"]
    assert connector["status"] == "ERROR"
    assert connector["statusReason"] == f"new credentials not checked yet: {replaced['testResult']['message']}"
    assert (await catalog(TEST, {"code": "shop"}))["testConnection"]["testResult"]["success"] is True
    connector = (await catalog(CONNECTOR, {"code": "shop"}))["connector"]
    assert (connector["status"], connector["statusReason"]) == ("CONNECTED", None)


async def test_a_connector_created_while_its_shop_fails_for_now_is_disconnected_with_the_reason(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    served_shop.shop.fail_next(1, status=503)
    await create_connector(catalog, served_shop)
    connector = (await catalog(CONNECTOR, {"code": "shop"}))["connector"]
    assert connector["status"] == "DISCONNECTED" and "CHN-021" in connector["statusReason"]
    assert (await catalog(TEST, {"code": "shop"}))["testConnection"]["testResult"]["success"] is True
    assert (await catalog(CONNECTOR, {"code": "shop"}))["connector"]["status"] == "CONNECTED"


async def test_each_missing_or_unknown_credential_is_named_once_at_its_own_field(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    given = connector_input(served_shop)
    given["credentials"] = {"apiKey": "k-123", "token": "tok-abc"}
    payload = (await catalog(CREATE_CONNECTOR, {"input": given}))["createConnector"]
    assert payload["connector"] is None
    assert [(error["field"][-1], error["message"], error["code"]) for error in payload["userErrors"]] == [
        ("baseUrl", "baseUrl is required", "CHN-002"),
        ("signingSecret", "signingSecret is required", "CHN-002"),
        ("token", "token is not a credential of this channel", "CHN-002"),
    ]
    assert "tok-abc" not in json.dumps(payload)


async def test_a_base_url_that_is_not_an_absolute_url_is_refused(gql: GraphQLClient) -> None:
    """Private and loopback addresses are refused by the outbound check, covered in the adapter tests."""
    await set_up_catalog(gql)
    given = {
        "code": "bad_url",
        "name": "x",
        "channelType": "CUSTOM_HTTP",
        "credentials": {"baseUrl": "not a url", "signingSecret": SECRET},
    }
    payload = (await gql(CREATE_CONNECTOR, {"input": given}))["createConnector"]
    assert {(tuple(error["field"]), error["code"]) for error in payload["userErrors"]} == {
        (("input", "credentials", "baseUrl"), "CHN-002")
    }
    assert payload["connector"] is None


@pytest.mark.parametrize(
    "mistyped",
    ["{base}?tenant=eu", "{base}#top", "http://me:secret@{authority}/pim", "{base}/" + "a" * 3000],
    ids=["query", "fragment", "user-and-password", "too-long"],
)
async def test_a_base_url_the_shop_could_never_be_reached_at_is_refused_and_changes_nothing(
    catalog: GraphQLClient, served_shop: ServedShop, mistyped: str
) -> None:
    """Such a URL passed the credentials check, was stored, and only the connection test refused it: the
    connector went to ERROR with its working credentials replaced, for a mistyped field."""
    await create_connector(catalog, served_shop)
    asked = len(served_shop.shop.requests)
    authority = served_shop.base_url.split("/")[2]
    changed = served_shop.credentials(baseUrl=mistyped.format(base=served_shop.base_url, authority=authority))
    payload = (await catalog(UPDATE_CONNECTOR, {"code": "shop", "input": {"credentials": changed}}))["updateConnector"]
    assert {(tuple(error["field"]), error["code"]) for error in payload["userErrors"]} == {
        (("input", "credentials", "baseUrl"), "CHN-002")
    }
    assert "secret" not in json.dumps(payload)
    assert payload["connector"] is None and len(served_shop.shop.requests) == asked
    connector = (await catalog(CONNECTOR, {"code": "shop"}))["connector"]
    assert (connector["status"], connector["statusReason"]) == ("CONNECTED", None)
    assert (await catalog(TEST, {"code": "shop"}))["testConnection"]["testResult"]["success"] is True


async def test_delete_and_tenant_isolation(catalog: GraphQLClient, served_shop: ServedShop, db: Database) -> None:
    await create_connector(catalog, served_shop)
    stranger = GraphQLClient(catalog.http, (await make_tenant(db)).token)
    assert (await stranger(CONNECTOR, {"code": "shop"}))["connector"] is None
    assert (await stranger(DELETE, {"code": "shop"}))["deleteConnector"]["userErrors"][0]["code"] == "CON-003"
    deleted = (await catalog(DELETE, {"code": "shop"}))["deleteConnector"]
    assert deleted["userErrors"] == [] and deleted["deletedId"]
    assert (await catalog(CONNECTOR, {"code": "shop"}))["connector"] is None


async def test_list_filters_and_pages(catalog: GraphQLClient, served_shop: ServedShop) -> None:
    for code in ("a", "b", "c"):
        await create_connector(catalog, served_shop, code=code)
    await catalog(PAUSE, {"code": "b"})
    first = (await catalog(CONNECTORS, {"first": 2}))["connectors"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"] is True
    rest = (await catalog(CONNECTORS, {"first": 2, "after": first["pageInfo"]["endCursor"]}))["connectors"]
    assert [edge["node"]["code"] for edge in first["edges"] + rest["edges"]] == ["a", "b", "c"]
    paused = (await catalog(CONNECTORS, {"status": "PAUSED"}))["connectors"]
    assert [edge["node"]["code"] for edge in paused["edges"]] == ["b"]
    assert (await catalog(CONNECTORS, {"channelType": "SHOPIFY"}))["connectors"]["totalCount"] == 0


async def test_creating_needs_the_create_scope(
    client: httpx.AsyncClient, db: Database, served_shop: ServedShop
) -> None:
    viewer: TenantHandle = await make_tenant(db, scopes=(Scope.CATALOG_EDIT, Scope.CATALOG_VIEW, Scope.CONNECTORS_VIEW))
    gql = GraphQLClient(client, viewer.token)
    await set_up_catalog(gql)
    errors = await gql.errors(CREATE_CONNECTOR, {"input": connector_input(served_shop)})
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert (await gql(CONNECTORS))["connectors"]["totalCount"] == 0


async def test_the_secret_is_never_stored_returned_or_logged_in_clear(
    catalog: GraphQLClient,
    served_shop: ServedShop,
    db: Database,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    created = await create_connector(catalog, served_shop)
    fetched = await catalog(CONNECTOR, {"code": "shop"})
    await catalog(TEST, {"code": "shop"})
    responses = json.dumps([created, fetched])
    async with db.reader() as session:
        rows = (await session.execute(text("SELECT * FROM connectors"))).all()
    stored = json.dumps([[str(column) for column in row] for row in rows])
    logged = caplog.text + "".join(capsys.readouterr())
    for secret in (SECRET, API_KEY):
        assert secret not in responses
        assert secret not in stored
        assert secret not in logged
    assert rows, "the connector row was not found"


# -- what a shop sends back, and secrets that cannot travel ----------------------------------------------

SHOPIFY_TOKEN = "shpat_" + "0123456789abcdef" * 4
"""Longer than Shopify's own (38 characters), so that cutting an echo of it at either limit would keep a part."""


def filler(length: int) -> str:
    return "x" * length


def answering(status: int, body: str) -> Starlette:
    """A shop that answers every request with `status` and `body`, as it is: the shop of every channel type."""

    async def answer(_: Request) -> Response:
        return Response(body.encode(), status_code=status, media_type="text/plain")

    return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])


def keeps_part_of(secret: str, text: str) -> bool:
    """Whether `text` holds more than six leading characters of `secret`: what a cut through it leaves."""
    return any(secret[:length] in text for length in range(7, len(secret) + 1))


def connector_given(channel_type: str, credentials: dict[str, Any]) -> dict[str, Any]:
    return {
        "code": "shop",
        "name": "Shop",
        "channelType": channel_type,
        "credentials": credentials,
        "settings": {"scope": "ecommerce"},
    }


async def create_failing(catalog: GraphQLClient, given: dict[str, Any]) -> list[str]:
    """Create the connector; its test fails: (testResult.message, statusReason)."""
    payload = (await catalog(CREATE_CONNECTOR, {"input": given}))["createConnector"]
    assert payload["userErrors"] == [], payload["userErrors"]
    assert payload["testResult"]["success"] is False, payload["testResult"]
    return [payload["testResult"]["message"], payload["connector"]["statusReason"]]


@pytest.mark.parametrize(
    ("status", "body"),
    [
        pytest.param(401, filler(490) + SECRET + " is not the secret", id="401 text across the 500 limit"),
        pytest.param(
            401,
            json.dumps({"error": {"code": "denied", "message": filler(483) + API_KEY}}),  # "denied " leads: 7 more
            id="401 json across the 500 limit",
        ),
        pytest.param(200, "<html>" + filler(64) + SECRET, id="200 not json across the 80 quoted"),
    ],
)
async def test_a_secret_a_shop_echoes_is_not_cut_in_two_into_the_reason(
    catalog: GraphQLClient, status: int, body: str
) -> None:
    with serve(answering(status, body)) as origin:
        credentials = {"baseUrl": f"{origin}/pim-bridge", "signingSecret": SECRET, "apiKey": API_KEY}
        said = await create_failing(catalog, connector_given("CUSTOM_HTTP", credentials))
    for shown in said:
        assert "[redacted]" in shown, shown
        assert not keeps_part_of(SECRET, shown) and not keeps_part_of(API_KEY, shown), shown


@pytest.fixture
def shopify_answers(shopify_switch: tuple[SwappableApp, str]) -> Iterator[SwappableApp]:
    """The session's Shopify origin, answering as a test says."""
    yield shopify_switch[0]
    shopify_switch[0].target = None


@pytest.mark.parametrize(
    ("status", "body"),
    [
        # "Shopify ShopInfo answered 401: " leads the message, which is cut at 500.
        pytest.param(401, filler(450) + SHOPIFY_TOKEN + " is not valid", id="401 text across the 500 limit"),
        pytest.param(200, "<html>" + filler(64) + SHOPIFY_TOKEN, id="200 not json across the 80 quoted"),
    ],
)
async def test_a_token_shopify_echoes_is_not_cut_in_two_into_the_reason(
    catalog: GraphQLClient, shopify_answers: SwappableApp, status: int, body: str
) -> None:
    shopify_answers.target = answering(status, body)
    credentials = {"shopDomain": DOMAIN, "accessToken": SHOPIFY_TOKEN}
    for shown in await create_failing(catalog, connector_given("SHOPIFY", credentials)):
        assert "[redacted]" in shown, shown
        assert not keeps_part_of(SHOPIFY_TOKEN, shown), shown


@pytest.mark.parametrize(
    ("channel_type", "field", "credentials"),
    [
        pytest.param(
            "CUSTOM_HTTP", "apiKey", {"signingSecret": SECRET, "apiKey": "clé-de-la-boutique-42"}, id="accented apiKey"
        ),
        pytest.param(
            "CUSTOM_HTTP", "apiKey", {"signingSecret": SECRET, "apiKey": API_KEY + "\n"}, id="apiKey with a line break"
        ),
        pytest.param(
            "SHOPIFY",
            "accessToken",
            {"shopDomain": DOMAIN, "accessToken": "shpat_ключ_0123456789abcdef"},
            id="Cyrillic accessToken",
        ),
    ],
)
async def test_a_secret_a_header_cannot_carry_is_refused_at_its_field(
    catalog: GraphQLClient, served_shop: ServedShop, channel_type: str, field: str, credentials: dict[str, Any]
) -> None:
    """httpx can send only visible ASCII in a header: anything else used to fail the request with the key in
    the exception, instead of saying which credential is wrong."""
    if channel_type == "CUSTOM_HTTP":
        credentials = {"baseUrl": served_shop.base_url, **credentials}
    payload = (await catalog(CREATE_CONNECTOR, {"input": connector_given(channel_type, credentials)}))[
        "createConnector"
    ]
    assert payload["connector"] is None
    [error] = payload["userErrors"]
    assert (error["field"], error["code"]) == (["input", "credentials", field], "CHN-002")
    assert "visible ASCII" in error["message"]
    assert credentials[field] not in json.dumps(payload, ensure_ascii=False)
    assert (await catalog(CONNECTORS))["connectors"]["totalCount"] == 0
    assert served_shop.shop.requests == [], "the shop was reached with credentials that were refused"


@pytest.mark.parametrize("secret", ["s", "0123456789abcde"])
async def test_a_shopify_webhook_secret_shorter_than_16_characters_is_refused_at_its_field(
    catalog: GraphQLClient, secret: str
) -> None:
    """Shopify signs webhooks with the app's client secret, a long hex string: a one-character webhookSecret was
    taken, and every webhook then checked against it, a secret anyone can guess."""
    credentials = {"shopDomain": DOMAIN, "accessToken": "shpat_0123456789abcdef", "webhookSecret": secret}
    payload = (await catalog(CREATE_CONNECTOR, {"input": connector_given("SHOPIFY", credentials)}))["createConnector"]
    assert payload["connector"] is None
    [error] = payload["userErrors"]
    assert (error["field"], error["code"]) == (["input", "credentials", "webhookSecret"], "CHN-002")
    assert "webhookSecret" in error["message"] and "at least 16 characters" in error["message"], error["message"]
    assert (await catalog(CONNECTORS))["connectors"]["totalCount"] == 0


async def test_an_update_to_a_key_a_header_cannot_carry_changes_nothing(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    await create_connector(catalog, served_shop)
    bad_key = served_shop.credentials(apiKey="clé-de-la-boutique-42")
    payload = (await catalog(UPDATE_CONNECTOR, {"code": "shop", "input": {"credentials": bad_key}}))["updateConnector"]
    assert [(error["field"], error["code"]) for error in payload["userErrors"]] == [
        (["input", "credentials", "apiKey"], "CHN-002")
    ]
    assert payload["connector"] is None
    tested = (await catalog(TEST, {"code": "shop"}))["testConnection"]["testResult"]
    assert tested["success"] is True, "the stored key changed"


LONG_CODE = "c" * 5000
UNKNOWN_CONNECTOR_ANSWERS = [
    (
        """mutation($code: String!) { deleteConnector(code: $code) { userErrors { message code } } }""",
        "deleteConnector",
    ),
    (
        """mutation($code: String!) { saveMappings(connectorCode: $code, mappings: []) { userErrors { message } } }""",
        "saveMappings",
    ),
    (
        """mutation($code: String!) { triggerSync(connectorCode: $code, input: {syncType: FULL}) {
             userErrors { message } } }""",
        "triggerSync",
    ),
    ("""query($code: String!) { exportPreview(connectorCode: $code, sku: "X") { sku } }""", None),
    (
        """mutation($code: String!) { bulkResolveConflicts(filter: {connectorCode: $code}, resolution: PIM_WINS) {
             userErrors { message } } }""",
        "bulkResolveConflicts",
    ),
    ("""query($code: ID!) { node(id: $code) { id } }""", None),
]


@pytest.mark.parametrize(("query", "payload"), UNKNOWN_CONNECTOR_ANSWERS, ids=lambda item: str(item)[:40])
async def test_an_unknown_connector_code_or_id_is_quoted_back_cut_to_a_sane_length(
    gql: GraphQLClient, query: str, payload: str | None
) -> None:
    """A 5,000-character code came back whole in the message refusing it: what is quoted back is cut, and the
    cut marked, so the message still names what was given without repeating all of it."""
    body = (await gql.raw(query, {"code": LONG_CODE})).json()
    [error] = body["errors"] if payload is None else body["data"][payload]["userErrors"]
    message = error["message"]
    assert "c" * 40 in message and "…" in message, message
    assert len(message) < 200, message


OTHER_KIND_ID = base64.urlsafe_b64encode(("c" * 5000 + ":1").encode()).decode()
"""A well-formed global id of a type no query takes: its refusal quoted the whole id back."""
LONG_INPUT_ANSWERS = [
    ("""query($v: ID!) { syncJob(id: $v) { id } }""", OTHER_KIND_ID, None),
    ("""query($v: ID!) { conflict(id: $v) { id } }""", OTHER_KIND_ID, None),
    ("""mutation($v: String!) { setLocales(codes: [$v]) { userErrors { message } } }""", LONG_CODE, "setLocales"),
    (
        """mutation($v: String!) { deleteAttributes(codes: [$v]) { userErrors { message } } }""",
        LONG_CODE,
        "deleteAttributes",
    ),
    (
        """mutation($v: String!) { upsertProducts(products: [{sku: "S", values: [{attribute: $v, data: "x"}]}]) {
             userErrors { message } } }""",
        LONG_CODE,
        "upsertProducts",
    ),
    (
        """mutation($v: String!) { upsertProducts(products: [{sku: "S", values: [{attribute: "release_date", scope: $v,
             data: "2026-12-07"}]}]) { userErrors { message } } }""",
        LONG_CODE,
        "upsertProducts",
    ),
]


@pytest.mark.parametrize(("query", "value", "payload"), LONG_INPUT_ANSWERS, ids=lambda item: str(item)[:40])
async def test_an_unknown_id_locale_or_attribute_code_is_quoted_back_cut_to_a_sane_length(
    catalog: GraphQLClient, query: str, value: str, payload: str | None
) -> None:
    """A sync job id, a conflict id, a locale, attribute or scope code the caller sent came back whole in the
    message refusing them (5,000 characters, or a 20 MB id): each is cut as a connector code is."""
    body = (await catalog.raw(query, {"v": value})).json()
    [error] = body["errors"] if payload is None else body["data"][payload]["userErrors"]
    message = error["message"]
    assert "…" in message, message
    assert len(message) < 200, message


async def test_create_reports_every_input_problem_at_once_and_contacts_no_shop(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    """Name, code and credentials were checked first and the settings only after the connection test: a form got
    the name's error, then, once the name was fixed, the interval's, one round trip per problem."""
    await create_connector(catalog, served_shop, code="taken")
    asked = len(served_shop.shop.requests)
    given = connector_input(served_shop, code="taken", syncIntervalMinutes=1, currency="EURO", scope="mobile") | {
        "name": ""
    }
    given["credentials"] = {"baseUrl": served_shop.base_url, "apiKey": API_KEY}
    payload = (await catalog(CREATE_CONNECTOR, {"input": given}))["createConnector"]
    assert payload["connector"] is None and payload["testResult"] is None
    assert sorted((tuple(error["field"]), error["code"]) for error in payload["userErrors"]) == [
        (("input", "code"), "CON-002"),
        (("input", "credentials", "signingSecret"), "CHN-002"),
        (("input", "name"), "CON-001"),
        (("input", "settings", "currency"), "CAT-014"),
        (("input", "settings", "scope"), "CAT-007"),
        (("input", "settings", "syncIntervalMinutes"), "CON-001"),
    ]
    assert len(served_shop.shop.requests) == asked, "bad input still reached the shop"
    assert (await catalog(CONNECTORS))["connectors"]["totalCount"] == 1


async def test_update_reports_every_input_problem_at_once_and_changes_nothing(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    await create_connector(catalog, served_shop)
    asked = len(served_shop.shop.requests)
    changes = {"name": "", "credentials": served_shop.credentials(), "settings": {"syncIntervalMinutes": 1}}
    payload = (await catalog(UPDATE_CONNECTOR, {"code": "shop", "input": changes}))["updateConnector"]
    assert sorted((tuple(error["field"]), error["code"]) for error in payload["userErrors"]) == [
        (("input", "name"), "CON-001"),
        (("input", "settings", "syncIntervalMinutes"), "CON-001"),
    ]
    assert payload["connector"] is None and len(served_shop.shop.requests) == asked
    assert (await catalog(CONNECTOR, {"code": "shop"}))["connector"]["name"] == "Reference shop"


async def test_a_connection_test_result_carries_its_chn_code(catalog: GraphQLClient, served_shop: ServedShop) -> None:
    """The code was only inside the message ("CHN-021: ..."): a UI had to parse the text to pick its advice."""
    await create_connector(catalog, served_shop)
    served_shop.shop.fail_next(1, status=503)
    failed = (await catalog(TEST_CODE, {"code": "shop"}))["testConnection"]["testResult"]
    assert (failed["success"], failed["code"]) == (False, "CHN-021") and failed["message"].startswith("CHN-021: ")
    passed = (await catalog(TEST_CODE, {"code": "shop"}))["testConnection"]["testResult"]
    assert (passed["success"], passed["code"]) == (True, None)


async def test_a_shop_that_does_not_answer_tls_is_told_in_a_sentence_not_python_s_words(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    """An https:// URL to a plain HTTP server answered "ConnectError: [SSL: WRONG_VERSION_NUMBER] wrong version
    number (_ssl.c:1006)": Python's exception, not something a person can act on."""
    given = connector_input(served_shop)
    given["credentials"] = served_shop.credentials(baseUrl=served_shop.base_url.replace("http://", "https://"))
    payload = (await catalog(CREATE_CONNECTOR, {"input": given}))["createConnector"]
    message = payload["testResult"]["message"]
    # No answer at all is told as the channel unavailable (CHN-021), a failure for now: the connector, which never
    # connected, is DISCONNECTED with the reason.
    assert payload["connector"]["status"] == "DISCONNECTED" and "did not answer TLS" in message, message
    for internal in ("SSL:", "_ssl.c", "ConnectError", "WRONG_VERSION_NUMBER"):
        assert internal not in message and internal not in payload["connector"]["statusReason"], message


TEST_CODE = """mutation($code: String!) { testConnection(code: $code) { testResult { success code message } } }"""


@pytest.mark.parametrize(
    ("channel_type", "field", "mistyped", "said"),
    [
        ("CUSTOM_HTTP", "baseUrl", "notaurl", "Absolute http(s) URL"),
        ("SHOPIFY", "shopDomain", "https://shop.example", "myshopify.com domain"),
    ],
)
async def test_a_credential_of_the_wrong_form_gets_one_error_saying_the_form_not_a_regex(
    gql: GraphQLClient, channel_type: str, field: str, mistyped: str, said: str
) -> None:
    """`baseUrl: "notaurl"` got two userErrors on the field, "must be a valid uri" and one quoting the schema's
    regular expression: a form showed both, one in a language its users do not read."""
    schemas = {info["type"]: info["credentialsSchema"] for info in (await gql(CHANNEL_TYPES))["channelTypes"]}
    required = schemas[channel_type]["required"]
    credentials = {name: "s" * 40 for name in required} | {field: mistyped}
    given = {"code": "c", "name": "x", "channelType": channel_type, "credentials": credentials}
    payload = (await gql(CREATE_CONNECTOR, {"input": given}))["createConnector"]
    [error] = payload["userErrors"]
    assert (error["field"], error["code"]) == (["input", "credentials", field], "CHN-002")
    assert said in error["message"] and "^" not in error["message"], error["message"]


async def test_updated_credentials_replace_the_stored_ones_whole_as_the_schema_says(
    catalog: GraphQLClient, served_shop: ServedShop
) -> None:
    """Nothing said whether updateConnector's credentials merge into the stored ones or replace them: an update
    leaving out the optional apiKey removes it, so the shop, which wants it, refuses the next test."""
    described = await catalog('{ __type(name: "UpdateConnectorInput") { inputFields { name description } } }')
    fields = {field["name"]: field["description"] for field in described["__type"]["inputFields"]}
    assert "replaces the stored credentials whole" in fields["credentials"]
    await create_connector(catalog, served_shop)
    without_key = {"baseUrl": served_shop.base_url, "signingSecret": SECRET}
    payload = (await catalog(UPDATE_CONNECTOR, {"code": "shop", "input": {"credentials": without_key}}))[
        "updateConnector"
    ]
    assert payload["userErrors"] == [] and payload["testResult"]["success"] is False, payload
    assert payload["connector"]["status"] == "ERROR"
