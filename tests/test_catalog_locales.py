"""Locales, scopes and currencies: validated and described with CLDR, the first one the default."""

from __future__ import annotations

from tests.catalog_fixtures import SET_CURRENCIES, SET_LOCALES, SET_SCOPES
from tests.conftest import GraphQLClient


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
