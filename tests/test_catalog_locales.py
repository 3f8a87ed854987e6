"""Locales, scopes and currencies: validated and described with CLDR, the first one the default."""

from __future__ import annotations

import pytest

from app.domain.locales import locale_chain
from tests.catalog_fixtures import SET_CURRENCIES, SET_LOCALES, SET_SCOPES, set_up_catalog
from tests.conftest import GraphQLClient
from tests.connector_fixtures import SAVE_MAPPINGS, ServedShop, create_connector, served_shop

__all__ = ["served_shop"]


async def test_set_locales_describes_them_from_cldr(gql: GraphQLClient) -> None:
    result = (await gql(SET_LOCALES, {"codes": ["en-US", "ar_ae", "fr_FR"]}))["setLocales"]
    assert result["userErrors"] == []
    by_code = {locale["code"]: locale for locale in result["locales"]}
    assert list(by_code) == ["en_US", "ar_AE", "fr_FR"]
    assert by_code["ar_AE"] == {
        "code": "ar_AE",
        "name": "Arabic (United Arab Emirates)",
        "nativeName": "العربية (الإمارات العربية المتحدة)",
        "rtl": True,
        "enabled": True,
    }
    assert by_code["fr_FR"]["nativeName"] == "français (France)" and not by_code["fr_FR"]["rtl"]


async def test_bad_locale_codes_are_refused_and_nothing_changes(gql: GraphQLClient) -> None:
    await gql(SET_LOCALES, {"codes": ["en_US"]})
    result = (await gql(SET_LOCALES, {"codes": ["fr_FR", "en_ZZ", "klingon", "fr-FR"]}))["setLocales"]
    errors = {tuple(error["field"]): error for error in result["userErrors"]}
    assert errors[("codes", "1")]["code"] == "CAT-001" and "en_ZZ" in errors[("codes", "1")]["message"]
    assert errors[("codes", "2")]["code"] == "CAT-001"
    assert errors[("codes", "3")]["code"] == "CAT-009"
    locales = (await gql("{ locales { code enabled } }"))["locales"]
    assert locales == [{"code": "en_US", "enabled": True}]


async def test_dropping_a_locale_keeps_it_disabled(gql: GraphQLClient) -> None:
    await gql(SET_LOCALES, {"codes": ["en_US", "de_DE"]})
    await gql(SET_LOCALES, {"codes": ["fr_FR", "en_US"]})
    every = (await gql("{ locales { code enabled } }"))["locales"]
    assert every == [
        {"code": "fr_FR", "enabled": True},
        {"code": "en_US", "enabled": True},
        {"code": "de_DE", "enabled": False},
    ]
    enabled = (await gql("{ locales(enabledOnly: true) { code } }"))["locales"]
    assert [locale["code"] for locale in enabled] == ["fr_FR", "en_US"]


async def test_empty_locale_list_is_refused(gql: GraphQLClient) -> None:
    result = (await gql(SET_LOCALES, {"codes": []}))["setLocales"]
    assert result["userErrors"][0]["code"] == "CAT-015"


async def test_scopes_and_currencies(gql: GraphQLClient) -> None:
    scopes = await gql(SET_SCOPES, {"scopes": [{"code": "ecommerce", "labels": {"fr-FR": "E-commerce"}}]})
    assert scopes["setScopes"]["scopes"] == [{"code": "ecommerce", "labels": {"fr_FR": "E-commerce"}, "enabled": True}]
    bad_scope = (await gql(SET_SCOPES, {"scopes": [{"code": "web shop"}]}))["setScopes"]["userErrors"]
    assert bad_scope[0]["code"] == "CAT-010" and bad_scope[0]["field"] == ["scopes", "0", "code"]
    currencies = (await gql(SET_CURRENCIES, {"codes": ["aed", "EUR"]}))["setCurrencies"]["currencies"]
    assert currencies[0] == {"code": "AED", "name": "United Arab Emirates Dirham", "symbol": "AED", "enabled": True}
    bad = (await gql(SET_CURRENCIES, {"codes": ["EUR", "XXQ"]}))["setCurrencies"]["userErrors"]
    assert bad == [{"field": ["codes", "1"], "message": "'XXQ' is not an ISO 4217 currency code", "code": "CAT-014"}]


@pytest.mark.parametrize(
    ("code", "chain"),
    [
        ("zh_Hant_TW", ("zh_Hant_TW", "zh_Hant")),
        ("zh_Hans_CN", ("zh_Hans_CN", "zh_Hans", "zh")),
        ("sr_Latn_RS", ("sr_Latn_RS", "sr_Latn")),
        ("sr_Cyrl_RS", ("sr_Cyrl_RS", "sr_Cyrl", "sr")),
        ("pt_BR", ("pt_BR", "pt")),
        ("en_AU", ("en_AU", "en_001", "en")),
        ("zh_Hant_MO", ("zh_Hant_MO", "zh_Hant_HK", "zh_Hant")),
        ("ar_AE", ("ar_AE", "ar")),
    ],
)
def test_the_locale_chain_follows_cldr_and_never_crosses_scripts(code: str, chain: tuple[str, ...]) -> None:
    """CLDR parentLocales: zh_Hant and sr_Latn inherit from root, not from zh (Simplified) or sr (Cyrillic)."""
    assert locale_chain(code, None) == chain
    assert locale_chain(code, "en_US") == (*chain, "en_US")


async def test_a_locale_a_connector_reads_cannot_be_disabled(gql: GraphQLClient, served_shop: ServedShop) -> None:
    """The connector would go on exporting a disabled locale, and later changes to it would fail on it."""
    await set_up_catalog(gql)
    await create_connector(gql, served_shop)
    mapping = {
        "attributeCode": "name",
        "channelField": "vendor",
        "direction": "EXPORT",
        "localeMapping": [{"pimLocale": "ar", "channelLocale": "ar"}],
    }
    title = {"attributeCode": "name", "channelField": "title", "direction": "EXPORT"}
    saved = (await gql(SAVE_MAPPINGS, {"code": "shop", "mappings": [title, mapping]}))["saveMappings"]
    assert saved["userErrors"] == []
    refused = (await gql(SET_LOCALES, {"codes": ["en_US", "ar_AE", "ar"]}))["setLocales"]
    assert [(error["field"], error["code"]) for error in refused["userErrors"]] == [(["codes"], "CAT-002")]
    assert "fr_FR" in refused["userErrors"][0]["message"] and "'shop'" in refused["userErrors"][0]["message"]
    assert "localeMapping" in refused["userErrors"][0]["message"]
    own = (await gql(SET_LOCALES, {"codes": ["en_US", "ar_AE", "fr_FR"]}))["setLocales"]["userErrors"]
    assert [error["code"] for error in own] == ["CAT-002"] and "vendor mapping" in own[0]["message"]
    enabled = (await gql("{ locales(enabledOnly: true) { code } }"))["locales"]
    assert [locale["code"] for locale in enabled] == ["en_US", "ar_AE", "ar", "fr_FR"], "nothing changed"
    assert (await gql(SET_LOCALES, {"codes": ["fr_FR", "en_US", "ar_AE", "ar"]}))["setLocales"]["userErrors"] == []


async def test_a_scope_or_currency_a_connector_reads_cannot_be_disabled(
    gql: GraphQLClient, served_shop: ServedShop
) -> None:
    await set_up_catalog(gql)
    await create_connector(gql, served_shop)
    scopes = (await gql(SET_SCOPES, {"scopes": [{"code": "print"}]}))["setScopes"]
    assert [(error["field"], error["code"]) for error in scopes["userErrors"]] == [(["scopes"], "CAT-007")]
    assert "ecommerce" in scopes["userErrors"][0]["message"] and "settings.scope" in scopes["userErrors"][0]["message"]
    currencies = (await gql(SET_CURRENCIES, {"codes": ["USD", "AED"]}))["setCurrencies"]
    assert [(error["field"], error["code"]) for error in currencies["userErrors"]] == [(["codes"], "CAT-008")]
    assert "EUR" in currencies["userErrors"][0]["message"]
    assert [row["code"] for row in (await gql("{ scopes(enabledOnly: true) { code } }"))["scopes"]] == [
        "ecommerce",
        "print",
    ]
    assert [row["code"] for row in (await gql("{ currencies(enabledOnly: true) { code } }"))["currencies"]] == [
        "EUR",
        "USD",
        "AED",
    ]
    assert (await gql(SET_SCOPES, {"scopes": [{"code": "ecommerce"}]}))["setScopes"]["userErrors"] == []
    assert (await gql(SET_CURRENCIES, {"codes": ["EUR"]}))["setCurrencies"]["userErrors"] == []
