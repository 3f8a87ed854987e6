"""Locales, scopes and currencies: validated and described with CLDR, the first one the default."""

from __future__ import annotations

import pytest

from app.domain.locales import InvalidLocaleCode, canonical_locale, locale_chain
from tests.catalog_fixtures import SET_CURRENCIES, SET_LOCALES, SET_SCOPES, set_up_catalog
from tests.conftest import GraphQLClient
from tests.connector_fixtures import SAVE_MAPPINGS, ServedShop, create_connector, served_shop
from tests.shared_data import shared_path

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


AKENEO_LOCALES = (shared_path("data", "akeneo_icecat_demo_dev") / "locales.csv").read_text().split()[1:]
NOT_IN_CLDR = {"en_029", "qut_GT", "tzm_Latn_DZ"}
"""Akeneo's Windows-era codes for which CLDR has no locale: English (Caribbean), K'iche', Tamazight in Algeria."""


@pytest.mark.parametrize("code", [code for code in AKENEO_LOCALES if code not in NOT_IN_CLDR])
def test_every_locale_akeneo_offers_that_cldr_knows_is_accepted(code: str) -> None:
    """Akeneo spells locales Windows' way (zh_TW, pa_IN, ha_Latn_NG, sr_Latn_CS): each is a CLDR locale."""
    assert canonical_locale(code) == canonical_locale(canonical_locale(code))


@pytest.mark.parametrize(
    ("code", "canonical"),
    [
        ("zh_TW", "zh_Hant_TW"),
        ("zh-CN", "zh_Hans_CN"),
        ("zh_HK", "zh_Hant_HK"),
        ("zh_SG", "zh_Hans_SG"),
        ("iw", "he"),
        ("iw_IL", "he_IL"),
        ("in_ID", "id_ID"),
        ("tl_PH", "fil_PH"),
        ("sh_BA", "sr_Latn_BA"),
        ("sr_ME", "sr_Latn_ME"),
        ("sr_Latn_CS", "sr_Latn_RS"),
        ("sr_Cyrl_CS", "sr_Cyrl_RS"),
        ("uk_SU", "uk_UA"),  # a territory that split: the one the language is likely in
        ("hy_SU", "hy_AM"),
        ("prs_AF", "fa_AF"),
        ("pa_IN", "pa_Guru_IN"),
        ("ha_Latn_NG", "ha_NG"),
        ("ar_Arab_AE", "ar_AE"),
        ("AR_ae", "ar_AE"),
        ("zh-hant-tw", "zh_Hant_TW"),
        ("es-419", "es_419"),
        ("en_us_posix", "en_US_POSIX"),
    ],
)
def test_a_locale_is_spelled_as_cldr_spells_it(code: str, canonical: str) -> None:
    """Deprecated codes are replaced, the script is stated where the territory alone does not fix it (zh_TW is
    Traditional Chinese, zh_CN Simplified) and left out where it is the usual one; Babel's Locale.parse would make
    sr_Latn_CS Cyrillic."""
    assert canonical_locale(code) == canonical


@pytest.mark.parametrize(
    "code", ["en_ZZ", "zh_Latn_TW", "ar_Latn_AE", "en_029", "sr_RS@latin", "fr_FR@euro", "root", "und", "en__US"]
)
def test_a_code_naming_no_cldr_locale_is_refused_not_replaced_by_a_likely_one(code: str) -> None:
    with pytest.raises(InvalidLocaleCode):
        canonical_locale(code)


async def test_locales_in_akeneos_and_shopifys_spelling_are_enabled_and_described(gql: GraphQLClient) -> None:
    """Traditional Chinese as zh_TW (Akeneo) or zh-TW (Shopify), Hebrew as iw_IL (Java): one locale each."""
    result = (await gql(SET_LOCALES, {"codes": ["en_US", "zh_TW", "zh-CN", "iw_IL"]}))["setLocales"]
    assert result["userErrors"] == []
    assert [(row["code"], row["nativeName"], row["rtl"]) for row in result["locales"]] == [
        ("en_US", "English (United States)", False),
        ("zh_Hant_TW", "中文 (繁體, 台灣)", False),
        ("zh_Hans_CN", "中文 (简体, 中国)", False),
        ("he_IL", "עברית (ישראל)", True),
    ]
    again = (await gql(SET_LOCALES, {"codes": ["en_US", "zh_Hant_TW", "zh_TW"]}))["setLocales"]["userErrors"]
    assert [(error["field"], error["code"]) for error in again] == [(["codes", "2"], "CAT-009")]
    assert locale_chain("zh_TW", "en_US") == ("zh_Hant_TW", "zh_Hant", "en_US"), "never Simplified zh"


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


@pytest.mark.parametrize(
    ("mutation", "variables", "what"),
    [
        (SET_LOCALES, {"codes": ["en_US"] * 1001}, "codes"),
        (SET_SCOPES, {"scopes": [{"code": "ecommerce"}] * 1001}, "scopes"),
        (SET_CURRENCIES, {"codes": ["EUR"] * 1001}, "codes"),
    ],
    ids=["locales", "scopes", "currencies"],
)
async def test_more_than_a_thousand_codes_in_one_call_are_refused_at_once_and_change_nothing(
    gql: GraphQLClient, mutation: str, variables: dict[str, object], what: str
) -> None:
    """Each code was checked and each problem listed: a million repeats of en_US (8 MB) kept the API's one event
    loop busy for a minute building a million userErrors, every tenant's requests waiting behind it."""
    await set_up_catalog(gql)
    before = await gql(
        "{ locales(enabledOnly: true) { code } scopes(enabledOnly: true) { code } currencies { code enabled } }"
    )
    result = next(iter((await gql(mutation, variables)).values()))
    assert result["userErrors"] == [{"field": [what], "message": f"at most 1000 {what} per call", "code": "CAT-013"}], (
        result["userErrors"][:3]
    )
    after = await gql(
        "{ locales(enabledOnly: true) { code } scopes(enabledOnly: true) { code } currencies { code enabled } }"
    )
    assert after == before


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
