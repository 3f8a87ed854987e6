"""Attributes and products over GraphQL: typed values, all-or-nothing batches, revisions, fallback, paging."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from app.domain.catalog import AttributeSpec, AttributeType, CatalogSpec
from app.domain.products import ProductDraft, check_product
from app.services import attributes as attributes_module
from app.services.products import MAX_PRODUCTS_PER_CALL
from graphql_schema.catalog.queries import MAX_SEARCH_LENGTH
from tests.catalog_fixtures import (
    DELETE_ATTRIBUTES,
    DELETE_PRODUCTS,
    PRODUCT,
    UPSERT_ATTRIBUTES,
    UPSERT_PRODUCTS,
    set_up_catalog,
    upsert,
    value,
)
from tests.conftest import GraphQLClient, QueryCounter


def errors_by_path(payload: dict[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
    return {tuple(error["field"]): error for error in payload["userErrors"]}


async def test_values_are_stored_typed_and_exact(gql: GraphQLClient) -> None:
    await set_up_catalog(gql)
    result = await upsert(
        gql,
        {
            "sku": "TSHIRT-1",
            "family": "tshirts",
            "values": [
                value("name", "T-shirt", "en_US"),
                value("name", "قميص", "ar_AE"),
                value("description", "<p>Soft</p>", "en_US", "ecommerce"),
                value("price", {"EUR": "12.50", "USD": 13.9}),
                value("weight", {"amount": "0.250", "unit": "kilogram"}),
                value("stock", 7),
                value("release_date", "2026-03-01", scope="print"),
                value("colors", ["red", "blue", "red"]),
                value("active", False),
            ],
        },
    )
    assert result["userErrors"] == []
    stored = {(v["attribute"], v["locale"], v["scope"]): v["data"] for v in result["products"][0]["values"]}
    assert stored == {
        ("name", "en_US", None): "T-shirt",
        ("name", "ar_AE", None): "قميص",
        ("description", "en_US", "ecommerce"): "<p>Soft</p>",
        ("price", None, None): {"EUR": "12.50", "USD": "13.9"},
        ("weight", None, None): {"amount": "0.250", "unit": "KILOGRAM"},
        ("stock", None, None): 7,
        ("release_date", None, "print"): "2026-03-01",
        ("colors", None, None): ["red", "blue"],
        ("active", None, None): False,
    }


async def test_a_plain_price_is_in_the_default_currency(gql: GraphQLClient) -> None:
    await set_up_catalog(gql)
    result = await upsert(gql, {"sku": "P-1", "values": [value("price", "19.999")]})
    assert result["products"][0]["values"] == [
        {"attribute": "price", "locale": None, "scope": None, "data": {"EUR": "19.999"}}
    ]


async def test_one_bad_product_rejects_the_batch_with_precise_paths(gql: GraphQLClient) -> None:
    await set_up_catalog(gql)
    good = {"sku": f"OK-{0}", "values": [value("name", "fine", "en_US")]}
    products = [
        good,
        {"sku": "OK-1", "values": []},
        {"sku": "OK-2", "values": [value("stock", 3)]},
        {
            "sku": "BAD-3",
            "values": [
                value("name", "x", "en_US"),
                value("price", 1e400 if False else "twelve"),
                value("name", "Name", "de_DE"),
                value("stock", "12"),
                value("name", "x"),
                value("price", {"EUR": "1"}, "en_US"),
                value("description", "x", "en_US"),
                value("release_date", "2026-02-30", scope="print"),
                value("nope", 1),
                value("price", {"JPY": "100"}),
                value("price", "-1"),
            ],
        },
    ]
    payload = await upsert(gql, *products)
    assert payload["products"] == []
    errors = errors_by_path(payload)
    assert errors[("products", "3", "values", "1", "data")]["code"] == "CAT-004"
    assert errors[("products", "3", "values", "2", "locale")]["code"] == "CAT-002"
    assert "de_DE" in errors[("products", "3", "values", "2", "locale")]["message"]
    assert errors[("products", "3", "values", "3", "data")]["code"] == "CAT-004"
    assert errors[("products", "3", "values", "4", "locale")]["code"] == "CAT-005"
    assert errors[("products", "3", "values", "5", "locale")]["code"] == "CAT-005"
    assert errors[("products", "3", "values", "6", "scope")]["code"] == "CAT-006"
    assert errors[("products", "3", "values", "7", "data")]["code"] == "CAT-004"
    assert errors[("products", "3", "values", "8", "attribute")]["code"] == "CAT-003"
    assert errors[("products", "3", "values", "9", "data")]["code"] == "CAT-008"
    assert errors[("products", "3", "values", "10", "data")]["code"] == "CAT-004"
    assert len(errors) == 10
    assert (await gql("{ products { totalCount } }"))["products"]["totalCount"] == 0


async def test_duplicates_and_bad_skus_are_reported(gql: GraphQLClient) -> None:
    await set_up_catalog(gql)
    payload = await upsert(
        gql,
        {"sku": "A", "values": [value("stock", 1), value("stock", 2)]},
        {"sku": "A", "values": []},
        {"sku": " padded ", "values": []},
    )
    errors = errors_by_path(payload)
    assert errors[("products", "0", "values", "1")]["code"] == "CAT-009"
    assert errors[("products", "1", "sku")]["code"] == "CAT-009"
    assert errors[("products", "2", "sku")]["code"] == "CAT-010"


async def test_upsert_merges_values_and_null_clears_one(gql: GraphQLClient) -> None:
    await set_up_catalog(gql)
    await upsert(gql, {"sku": "M-1", "values": [value("name", "One", "en_US"), value("stock", 1)]})
    await upsert(gql, {"sku": "M-1", "values": [value("stock", None), value("name", "Un", "fr_FR")]})
    product = (await gql(PRODUCT, {"sku": "M-1"}))["product"]
    assert {(v["attribute"], v["locale"]): v["data"] for v in product["values"]} == {
        ("name", "en_US"): "One",
        ("name", "fr_FR"): "Un",
    }


async def test_every_change_bumps_the_revision_and_no_change_does_not(gql: GraphQLClient) -> None:
    await set_up_catalog(gql)
    first = (await upsert(gql, {"sku": "R-1", "values": [value("stock", 1)]}))["products"][0]
    second = (await upsert(gql, {"sku": "R-2", "values": [value("stock", 1)]}))["products"][0]
    unchanged = (await upsert(gql, {"sku": "R-1", "values": [value("stock", 1)]}))["products"][0]
    changed = (await upsert(gql, {"sku": "R-1", "values": [value("stock", 2)]}))["products"][0]
    disabled = (await upsert(gql, {"sku": "R-1", "enabled": False, "values": []}))["products"][0]
    assert first["revision"] < second["revision"] < changed["revision"] < disabled["revision"]
    assert unchanged["revision"] == first["revision"]
    assert disabled["enabled"] is False


async def test_value_falls_back_along_the_locale_chain(gql: GraphQLClient) -> None:
    await set_up_catalog(gql)
    await upsert(
        gql,
        {"sku": "F-1", "values": [value("name", "Shirt", "en_US"), value("name", "قميص", "ar")]},
        {"sku": "F-2", "values": [value("name", "Shirt", "en_US")]},
        {"sku": "F-3", "values": [value("description", "Print text", "en_US", "print")]},
    )
    query = """query($sku: String!, $locale: String, $scope: String) {
      product(sku: $sku) {
        value(attribute: "name", locale: $locale)
        description: value(attribute: "description", locale: $locale, scope: $scope)
        price: value(attribute: "price")
      }
    }"""
    ar_ae = (await gql(query, {"sku": "F-1", "locale": "ar_AE", "scope": "print"}))["product"]
    assert ar_ae["value"] == "قميص"
    to_default = (await gql(query, {"sku": "F-2", "locale": "ar_AE", "scope": "print"}))["product"]
    assert to_default["value"] == "Shirt"
    scoped = (await gql(query, {"sku": "F-3", "locale": "fr_FR", "scope": "print"}))["product"]
    assert scoped["description"] == "Print text" and scoped["value"] is None and scoped["price"] is None
    other_scope = (await gql(query, {"sku": "F-3", "locale": "en_US", "scope": "ecommerce"}))["product"]
    assert other_scope["description"] is None


async def test_value_falls_back_within_the_script_of_the_locale(gql: GraphQLClient) -> None:
    """zh is Simplified Chinese and sr Cyrillic Serbian: zh_Hant_TW and sr_Latn_RS skip them, to the default."""
    locales = ("en_US", "ar_AE", "zh", "zh_Hans_CN", "zh_Hant_TW", "sr", "sr_Latn_RS", "sr_Cyrl_RS", "pt")
    await set_up_catalog(gql, (*locales, "pt_BR", "en_001", "en_AU"))
    names = {"en_US": "Chair", "zh": "椅子", "sr": "столица", "pt": "cadeira", "en_001": "Chair (world English)"}
    await upsert(gql, {"sku": "F-1", "values": [value("name", text, code) for code, text in names.items()]})
    query = 'query($locale: String) { product(sku: "F-1") { value(attribute: "name", locale: $locale) } }'
    expected = {
        "zh_Hans_CN": "椅子",
        "zh_Hant_TW": "Chair",
        "sr_Cyrl_RS": "столица",
        "sr_Latn_RS": "Chair",
        "pt_BR": "cadeira",
        "en_AU": "Chair (world English)",
    }
    found = {code: (await gql(query, {"locale": code}))["product"]["value"] for code in expected}
    assert found == expected


async def test_value_needs_a_scope_for_a_scopable_attribute(gql: GraphQLClient) -> None:
    await set_up_catalog(gql)
    await upsert(gql, {"sku": "S-1", "values": []})
    errors = await gql.errors('{ product(sku: "S-1") { value(attribute: "description", locale: "en_US") } }')
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT" and "scope" in errors[0]["message"]


@pytest.mark.parametrize(
    "field",
    ['value(attribute: "description", locale: "fr_FR", scope: "prnt")', 'values(scope: "prnt") { data }'],
    ids=["value", "values"],
)
async def test_a_scope_the_catalog_does_not_have_is_a_clear_error_not_an_empty_answer(
    gql: GraphQLClient, field: str
) -> None:
    """A mistyped scope answered null (or only the values that do not vary by scope), as if the product had no
    value there; a mistyped locale was already an error."""
    await set_up_catalog(gql)
    await upsert(gql, {"sku": "S-1", "values": [value("description", "Papier", "fr_FR", "print")]})
    errors = await gql.errors(f'{{ product(sku: "S-1") {{ {field} }} }}')
    assert [(error["extensions"]["code"], error["message"]) for error in errors] == [
        ("BAD_USER_INPUT", "scope 'prnt' is not enabled in the catalog (it has: ecommerce, print)")
    ]


async def test_values_can_be_filtered(gql: GraphQLClient) -> None:
    await set_up_catalog(gql)
    await upsert(
        gql,
        {
            "sku": "V-1",
            "values": [
                value("name", "Shirt", "en_US"),
                value("name", "Chemise", "fr_FR"),
                value("description", "Web", "fr_FR", "ecommerce"),
                value("description", "Papier", "fr_FR", "print"),
                value("stock", 3),
            ],
        },
    )
    query = '{ product(sku: "V-1") { values(locales: ["fr-FR"], scope: "print") { attribute locale scope data } } }'
    values = (await gql(query))["product"]["values"]
    assert {(v["attribute"], v["locale"], v["scope"]) for v in values} == {
        ("name", "fr_FR", None),
        ("description", "fr_FR", "print"),
        ("stock", None, None),
    }
    only_stock = '{ product(sku: "V-1") { values(attributes: ["stock"]) { data } } }'
    assert (await gql(only_stock))["product"]["values"] == [{"data": 3}]


async def test_attribute_shape_cannot_change_once_it_has_values(gql: GraphQLClient) -> None:
    await set_up_catalog(gql)
    relabel = [{"code": "stock", "type": "NUMBER", "localizable": False, "labels": {"fr_FR": "Stock"}}]
    assert (await gql(UPSERT_ATTRIBUTES, {"attributes": relabel}))["upsertAttributes"]["userErrors"] == []
    retype_unused = [{"code": "stock", "type": "TEXT", "localizable": True}]
    assert (await gql(UPSERT_ATTRIBUTES, {"attributes": retype_unused}))["upsertAttributes"]["userErrors"] == []
    await upsert(gql, {"sku": "A-1", "values": [value("stock", "12", "en_US")]})
    back = [
        {"code": "stock", "type": "NUMBER", "localizable": False},
        {"code": "new_one", "type": "TEXT", "localizable": False},
    ]
    payload = (await gql(UPSERT_ATTRIBUTES, {"attributes": back}))["upsertAttributes"]
    assert payload["userErrors"][0]["code"] == "CAT-011" and payload["userErrors"][0]["field"] == ["attributes", "0"]
    codes = {a["code"]: a for a in (await gql("{ attributes { code type labels } }"))["attributes"]}
    assert "new_one" not in codes and codes["stock"]["type"] == "TEXT"


async def test_bad_attribute_inputs(gql: GraphQLClient) -> None:
    payload = (
        await gql(
            UPSERT_ATTRIBUTES,
            {
                "attributes": [
                    {"code": "has space", "type": "TEXT", "localizable": False},
                    {"code": "ok", "type": "TEXT", "localizable": False, "labels": {"xx_QQ": "?"}},
                    {"code": "ok", "type": "TEXT", "localizable": False},
                ]
            },
        )
    )["upsertAttributes"]
    errors = errors_by_path(payload)
    assert errors[("attributes", "0", "code")]["code"] == "CAT-010"
    assert errors[("attributes", "1", "labels", "xx_QQ")]["code"] == "CAT-001"
    assert errors[("attributes", "2", "code")]["code"] == "CAT-009"
    assert (await gql("{ attributes { code } }"))["attributes"] == []


async def test_delete_is_all_or_nothing_and_bumps_the_revision(gql: GraphQLClient) -> None:
    await set_up_catalog(gql)
    created = (await upsert(gql, {"sku": "D-1", "values": [value("stock", 1)]}, {"sku": "D-2", "values": []}))[
        "products"
    ]
    missing = (await gql(DELETE_PRODUCTS, {"skus": ["D-1", "NOPE"]}))["deleteProducts"]
    assert missing["deletedSkus"] == [] and missing["userErrors"][0]["field"] == ["skus", "1"]
    assert (await gql(PRODUCT, {"sku": "D-1"}))["product"] is not None
    done = (await gql(DELETE_PRODUCTS, {"skus": ["D-1"]}))["deleteProducts"]
    assert done == {"deletedSkus": ["D-1"], "userErrors": []}
    assert (await gql(PRODUCT, {"sku": "D-1"}))["product"] is None
    again = (await gql(DELETE_PRODUCTS, {"skus": ["D-1"]}))["deleteProducts"]
    assert again["deletedSkus"] == [] and [(e["field"], e["code"]) for e in again["userErrors"]] == [
        (["skus", "0"], "CAT-012")
    ], "a product deleted already is not there to delete"
    assert (await gql("{ products { totalCount } }"))["products"]["totalCount"] == 1
    revived = (await upsert(gql, {"sku": "D-1", "values": []}))["products"][0]
    assert revived["values"] == [] and revived["revision"] > created[1]["revision"]


async def test_a_delete_takes_at_most_a_batch_of_names_repeats_included(gql: GraphQLClient) -> None:
    await set_up_catalog(gql)
    await upsert(gql, {"sku": "D-1", "values": [value("stock", 1)]})
    products = (await gql(DELETE_PRODUCTS, {"skus": ["D-1"] * (MAX_PRODUCTS_PER_CALL + 1)}))["deleteProducts"]
    assert products["deletedSkus"] == [] and [(e["field"], e["code"]) for e in products["userErrors"]] == [
        (["skus"], "CAT-013")
    ]
    codes = ["stock"] * (attributes_module.MAX_ATTRIBUTES_PER_CALL + 1)
    attributes = (await gql(DELETE_ATTRIBUTES, {"codes": codes}))["deleteAttributes"]
    assert attributes["deletedCodes"] == [] and [(e["field"], e["code"]) for e in attributes["userErrors"]] == [
        (["codes"], "CAT-013")
    ]
    assert (await gql(PRODUCT, {"sku": "D-1"}))["product"]["values"] == [
        {"attribute": "stock", "locale": None, "scope": None, "data": 1}
    ]
    done = (await gql(DELETE_PRODUCTS, {"skus": ["D-1"] * MAX_PRODUCTS_PER_CALL}))["deleteProducts"]
    assert done == {"deletedSkus": ["D-1"], "userErrors": []}


async def test_an_upsert_takes_at_most_a_batch_of_products_and_writes_none_of_a_larger_one(gql: GraphQLClient) -> None:
    await set_up_catalog(gql)
    batch = [{"sku": f"B-{index}", "values": []} for index in range(MAX_PRODUCTS_PER_CALL + 1)]
    refused = (await gql(UPSERT_PRODUCTS, {"products": batch}))["upsertProducts"]
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [(["products"], "CAT-013")]
    assert (await gql("{ products { totalCount } }"))["products"]["totalCount"] == 0
    taken = (await gql(UPSERT_PRODUCTS, {"products": batch[:MAX_PRODUCTS_PER_CALL]}))["upsertProducts"]
    assert taken["userErrors"] == []
    assert (await gql("{ products { totalCount } }"))["products"]["totalCount"] == MAX_PRODUCTS_PER_CALL


async def test_deleting_an_attribute_renews_the_revision_of_every_product_that_had_it(
    gql: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In slices of REVISION_SLICE products (PostgreSQL binds at most 32,767 parameters): none is left out."""
    monkeypatch.setattr(attributes_module, "REVISION_SLICE", 2)
    await set_up_catalog(gql)
    await upsert(gql, *({"sku": f"R-{n}", "values": [value("stock", n)]} for n in range(5)))
    before = (await upsert(gql, {"sku": "OTHER", "values": [value("name", "Other", "en_US")]}))["products"][0]
    deleted = (await gql(DELETE_ATTRIBUTES, {"codes": ["stock"]}))["deleteAttributes"]
    assert deleted == {"deletedCodes": ["stock"], "userErrors": []}
    page = (await gql("{ products { edges { node { sku revision } } } }"))["products"]["edges"]
    revisions = {edge["node"]["sku"]: edge["node"]["revision"] for edge in page}
    assert revisions.pop("OTHER") == before["revision"]
    assert sorted(revisions) == [f"R-{n}" for n in range(5)]
    assert len(set(revisions.values())) == 1 and revisions["R-0"] > before["revision"]


async def test_products_page_with_cursor_search_and_updated_since(gql: GraphQLClient) -> None:
    await set_up_catalog(gql)
    await upsert(gql, *({"sku": f"PG-{n:02d}", "values": [value("name", f"Item {n}", "en_US")]} for n in range(7)))
    await upsert(gql, {"sku": "AR-1", "values": [value("name", "قميص قطني", "ar_AE")]})
    query = """query($after: String, $search: String, $since: DateTime) {
      products(first: 3, after: $after, search: $search, updatedSince: $since) {
        totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { sku } }
      }
    }"""
    seen: list[str] = []
    after = None
    while True:
        page = (await gql(query, {"after": after}))["products"]
        assert page["totalCount"] == 8
        seen += [edge["node"]["sku"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [*(f"PG-{n:02d}" for n in range(7)), "AR-1"]
    by_name = (await gql(query, {"search": "ITEM 3"}))["products"]
    assert [edge["node"]["sku"] for edge in by_name["edges"]] == ["PG-03"]
    by_sku = (await gql(query, {"search": "pg-0"}))["products"]
    assert by_sku["totalCount"] == 7
    by_arabic = (await gql(query, {"search": "قطني"}))["products"]
    assert [edge["node"]["sku"] for edge in by_arabic["edges"]] == ["AR-1"]
    future = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert (await gql(query, {"since": future}))["products"]["totalCount"] == 0


async def test_search_reads_no_break_and_other_unicode_spaces_as_spaces(gql: GraphQLClient) -> None:
    """Akeneo's French texts hold no-break spaces ("Smart\u00a0TV", Icecat's descriptions): typed with a plain
    space, or pasted with the no-break one, a search finds them."""
    await set_up_catalog(gql)
    names = {"TV-1": "Philips Smart\u00a0TV", "TV-2": "Smart\u202fTV 4K", "TV-3": "SMART\u2009TV", "TV-4": "SmartTV"}
    await upsert(gql, *({"sku": sku, "values": [value("name", name, "fr_FR")]} for sku, name in names.items()))
    query = "query($s: String) { products(search: $s) { edges { node { sku } } } }"
    for search in ("smart tv", "Smart\u00a0TV", "SMART\u3000tv"):
        found = (await gql(query, {"s": search}))["products"]["edges"]
        assert [edge["node"]["sku"] for edge in found] == ["TV-1", "TV-2", "TV-3"], search


async def test_a_search_matches_percent_and_underscore_as_typed(gql: GraphQLClient) -> None:
    """`%` and `_` are LIKE's wildcards: a user searching "50%" must not find every product with a 50 in it, nor
    "a_b" every "a" and "b" one character apart."""
    await set_up_catalog(gql)
    names = {"D-1": "Rabatt 50% Stuhl", "D-2": "Stuhl 500 mm", "D-3": "Regal a_b", "D-4": "Regal axb", "D-5": "C:\\x"}
    await upsert(gql, *({"sku": sku, "values": [value("name", name, "en_US")]} for sku, name in names.items()))
    query = "query($s: String) { products(search: $s) { totalCount edges { node { sku } } } }"
    for search, found in (("50%", ["D-1"]), ("%", ["D-1"]), ("a_b", ["D-3"]), ("\\", ["D-5"]), ("50", ["D-1", "D-2"])):
        page = (await gql(query, {"s": search}))["products"]
        assert ([edge["node"]["sku"] for edge in page["edges"]], page["totalCount"]) == (found, len(found)), search


async def test_an_overlong_search_is_a_clear_error_on_every_database(gql: GraphQLClient) -> None:
    """SQLite refuses a LIKE pattern over 50,000 bytes: such a search failed with the database's message there, and
    scanned on PostgreSQL. A search is a name or SKU fragment; past MAX_SEARCH_LENGTH it is refused up front."""
    await set_up_catalog(gql)
    await upsert(gql, {"sku": "LONG-1", "values": [value("name", "x" * MAX_SEARCH_LENGTH, "en_US")]})
    query = "query($s: String) { products(search: $s) { edges { node { sku } } } }"
    errors = await gql.errors(query, {"s": "x" * 60_000})
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert errors[0]["message"] == f"search is longer than {MAX_SEARCH_LENGTH} characters"
    longest = (await gql(query, {"s": f"  {'x' * MAX_SEARCH_LENGTH}  "}))["products"]["edges"]
    assert [edge["node"]["sku"] for edge in longest] == ["LONG-1"]


async def test_bad_paging_arguments_are_clear_errors(gql: GraphQLClient) -> None:
    errors = await gql.errors('{ products(after: "garbage") { totalCount } }')
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    errors = await gql.errors("{ products(first: 100000) { totalCount } }")
    assert "first" in errors[0]["message"]
    for number in (str(10**20), str(2**31), "0", "01"):
        cursor = base64.urlsafe_b64encode(f"cursor/Product:{number}".encode()).decode()
        errors = await gql.errors("query($after: String) { products(after: $after) { totalCount } }", {"after": cursor})
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", number


async def test_updated_since_needs_a_utc_offset(gql: GraphQLClient) -> None:
    await set_up_catalog(gql)
    await upsert(gql, {"sku": "T-1", "values": []})
    query = "query($since: DateTime) { products(updatedSince: $since) { totalCount } }"
    errors = await gql.errors(query, {"since": "2024-01-01T00:00:00"})
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "updatedSince" in errors[0]["message"] and "offset" in errors[0]["message"]
    assert (await gql(query, {"since": "2024-01-01T00:00:00+04:00"}))["products"]["totalCount"] == 1
    beyond = await gql.errors(query, {"since": "0001-01-01T00:00:00+14:00"})  # 31 December of year 0, in UTC
    assert beyond[0]["extensions"]["code"] == "BAD_USER_INPUT", beyond
    assert beyond[0]["message"].startswith("updatedSince is outside"), beyond[0]["message"]


async def test_a_page_costs_the_same_number_of_queries_whatever_its_size(
    gql: GraphQLClient, sql_counter: QueryCounter
) -> None:
    await set_up_catalog(gql)
    await upsert(
        gql, *({"sku": f"Q-{n:02d}", "values": [value("name", f"N{n}", "en_US"), value("stock", n)]} for n in range(30))
    )
    query = """query($first: Int) { products(first: $first) { edges { node {
        sku values { data } name: value(attribute: "name", locale: "ar_AE") listings { status }
    } } } }"""
    counts = []
    for first in (2, 30):
        sql_counter.statements.clear()
        page = (await gql(query, {"first": first}))["products"]["edges"]
        assert len(page) == first and page[1]["node"]["name"] == "N1"
        counts.append(len(sql_counter.statements))
    assert counts[0] == counts[1], sql_counter.statements


async def test_text_with_a_nul_character_is_a_user_error_on_every_database(gql: GraphQLClient) -> None:
    """PostgreSQL cannot store \\x00 (the request failed there); it is refused the same way on both databases."""
    await set_up_catalog(gql)
    payload = await upsert(
        gql,
        {"sku": "NUL-1", "values": [value("name", "a\x00b", "en_US")]},
        {
            "sku": "NUL-2",
            "values": [value("colors", ["red", "bl\x00ue"]), value("weight", {"amount": "1", "unit": "K\x00G"})],
        },
    )
    assert payload["products"] == []
    assert {path: error["message"] for path, error in errors_by_path(payload).items()} == {
        ("products", "0", "values", "0", "data"): "name (TEXT): text cannot contain a NUL character (\\x00)",
        ("products", "1", "values", "0", "data"): "colors (MULTISELECT): text cannot contain a NUL character (\\x00)",
        ("products", "1", "values", "1", "data"): "weight (METRIC): text cannot contain a NUL character (\\x00)",
    }
    assert (await gql("{ products { totalCount } }"))["products"]["totalCount"] == 0


async def test_a_decimal_too_large_or_too_fine_to_be_an_amount_is_a_user_error(gql: GraphQLClient) -> None:
    """A price or measure is kept as the exact decimal written out: "1e400" was stored as 401 digits (whose tax no
    sync could work out) and "1e999999999" would have been written out as a gigabyte of digits."""
    await set_up_catalog(gql)
    payload = await upsert(
        gql,
        {"sku": "BIG-1", "values": [value("price", {"EUR": "1e400"})]},
        {"sku": "BIG-2", "values": [value("price", "1e999999999")]},
        {"sku": "FINE-1", "values": [value("weight", {"amount": "1e-400", "unit": "KILOGRAM"})]},
        {"sku": "BIG-3", "values": [value("weight", {"amount": 1e300, "unit": "GRAM"})]},
    )
    assert payload["products"] == []
    assert {path: (error["code"], error["message"]) for path, error in errors_by_path(payload).items()} == {
        ("products", "0", "values", "0", "data"): (
            "CAT-004",
            "price (PRICE): the EUR amount '1e400' has 401 digits before the decimal point, at most 18",
        ),
        ("products", "1", "values", "0", "data"): (
            "CAT-004",
            "price (PRICE): the price '1e999999999' has 1000000000 digits before the decimal point, at most 18",
        ),
        ("products", "2", "values", "0", "data"): (
            "CAT-004",
            "weight (METRIC): the amount '1e-400' has 400 digits after the decimal point, at most 12",
        ),
        ("products", "3", "values", "0", "data"): (
            "CAT-004",
            "weight (METRIC): the amount '1e+300' has 301 digits before the decimal point, at most 18",
        ),
    }
    assert (await gql("{ products { totalCount } }"))["products"]["totalCount"] == 0
    widest = {"EUR": "999999999999999999.999999999999"}
    kept = await upsert(gql, {"sku": "WIDE-1", "values": [value("price", widest)]})
    assert kept["userErrors"] == [] and kept["products"][0]["values"][0]["data"] == widest


async def test_a_lookup_with_a_nul_character_finds_nothing_on_every_database(gql: GraphQLClient) -> None:
    """No stored text holds \\x00, so a SKU, code or search with one names nothing: PostgreSQL, which refuses \\x00
    in any text sent to it, answered these with an internal error where SQLite found nothing."""
    await set_up_catalog(gql)
    await upsert(gql, {"sku": "NUL-0", "values": [value("name", "ab", "en_US")]})
    assert (await gql(PRODUCT, {"sku": "NUL-0\x00"}))["product"] is None
    found = await gql("query($s: String) { products(search: $s) { totalCount } }", {"s": "a\x00b"})
    assert found["products"]["totalCount"] == 0
    gone = (await gql(DELETE_PRODUCTS, {"skus": ["NUL-0\x00"]}))["deleteProducts"]
    assert gone["deletedSkus"] == [] and gone["userErrors"][0]["field"] == ["skus", "0"]
    unknown = (await gql(DELETE_ATTRIBUTES, {"codes": ["name\x00"]}))["deleteAttributes"]
    assert unknown["deletedCodes"] == [] and unknown["userErrors"][0]["field"] == ["codes", "0"]
    assert (await gql("query($c: String!) { connector(code: $c) { code } }", {"c": "shop\x00"}))["connector"] is None
    conflicts = await gql("query($s: String) { conflicts(productSku: $s) { totalCount } }", {"s": "NUL-0\x00"})
    assert conflicts["conflicts"]["totalCount"] == 0
    assert (await gql(PRODUCT, {"sku": "NUL-0"}))["product"]["sku"] == "NUL-0"


def test_product_fields_that_are_not_text_are_refused_not_crashed_on() -> None:
    """Callers other than GraphQL (whose schema types these fields) reach check_product with any JSON."""
    spec = CatalogSpec(attributes={"name": AttributeSpec(1, "name", AttributeType.TEXT, False, False)})
    values: list[Any] = [
        {"attribute": ["x"], "data": "x"},
        {"attribute": "name", "locale": 5, "data": "x"},
        {"attribute": "name", "scope": {"a": 1}, "data": "x"},
        "name",
    ]
    draft = ProductDraft(
        sku=cast(str, 5), values=values, enabled=cast(bool, "yes"), family=cast(str, 123), parent=cast(str, 5)
    )
    errors = check_product(draft, spec)
    assert isinstance(errors, list)
    assert {(error.path, error.code.value) for error in errors} == {
        (("sku",), "CAT-010"),
        (("enabled",), "CAT-004"),
        (("family",), "CAT-010"),
        (("parent",), "CAT-010"),
        (("values", 0, "attribute"), "CAT-010"),
        (("values", 1, "locale"), "CAT-001"),
        (("values", 2, "scope"), "CAT-010"),
        (("values", 3), "CAT-004"),
    }
    bad_values = check_product(ProductDraft("A-1", values=cast(list[Any], 7)), spec)
    assert [(error.path, error.message) for error in cast(list[Any], bad_values)] == [
        (("values",), "values must be a list")
    ]


async def test_a_label_with_a_nul_character_is_a_user_error_on_every_database(gql: GraphQLClient) -> None:
    await set_up_catalog(gql)
    labelled = {"code": "nul_label", "type": "TEXT", "localizable": False, "labels": {"en_US": "Na\x00me"}}
    refused = (await gql(UPSERT_ATTRIBUTES, {"attributes": [labelled]}))["upsertAttributes"]
    assert [(error["field"], error["code"]) for error in refused["userErrors"]] == [
        (["attributes", "0", "labels", "en_US"], "CAT-004")
    ]


async def test_a_label_longer_than_a_label_is_a_user_error_and_changes_nothing(gql: GraphQLClient) -> None:
    """A label names an attribute in a form or a column header: a two-million-character one was stored whole."""
    await set_up_catalog(gql)
    labelled = {"code": "long_label", "type": "TEXT", "localizable": False, "labels": {"en_US": "L" * 256}}
    refused = (await gql(UPSERT_ATTRIBUTES, {"attributes": [labelled]}))["upsertAttributes"]
    assert refused["userErrors"] == [
        {
            "field": ["attributes", "0", "labels", "en_US"],
            "message": "a label is at most 255 characters, this one has 256",
            "code": "CAT-004",
        }
    ]
    assert "long_label" not in [attribute["code"] for attribute in (await gql("{ attributes { code } }"))["attributes"]]
    labelled["labels"] = {"en_US": "L" * 255}
    assert (await gql(UPSERT_ATTRIBUTES, {"attributes": [labelled]}))["upsertAttributes"]["userErrors"] == []


async def test_a_call_lists_its_first_thousand_problems_and_counts_the_rest(gql: GraphQLClient) -> None:
    """Every problem of an input was listed: one product naming en_US's name 49,000 times (4 MB) was answered with
    49,000 userErrors, 6 MB built for ten seconds on the API's one event loop, every tenant's requests waiting."""
    await set_up_catalog(gql)
    product = {"sku": "REPEATS", "values": [value("name", "Chair", "en_US")] * 1501}
    errors = (await gql(UPSERT_PRODUCTS, {"products": [product]}))["upsertProducts"]["userErrors"]
    assert len(errors) == 1001
    assert errors[0] == {
        "field": ["products", "0", "values", "1"],
        "message": "this attribute, locale and scope is given twice",
        "code": "CAT-009",
    }
    assert errors[999]["field"] == ["products", "0", "values", "1000"]
    assert errors[-1] == {
        "field": None,
        "message": "500 more problems are not listed: fix those above and send again",
        "code": "CAT-009",
    }
    assert (await gql("{ products { totalCount } }"))["products"]["totalCount"] == 0


@pytest.mark.parametrize(
    ("attribute", "data", "says"),
    [
        ("price", [{"amount": "12.50", "currency": "EUR"}], '{"EUR": "12.50"'),
        ("price", {"EUR": ["12.50"]}, '"12.50"'),
        ("name", ["Chair"], '"Oak chair"'),
        ("stock", "12", "such as 12 or 4.5"),
        ("active", "yes", "true or false"),
        ("colors", "red", '["red", "blue"]'),
        ("release_date", 20260301, '"2026-03-01"'),
        ("weight", "2 kg", '{"amount": "2.5", "unit": "KILOGRAM"}'),
    ],
)
async def test_a_value_of_the_wrong_kind_is_told_what_its_type_accepts(
    gql: GraphQLClient, attribute: str, data: Any, says: str
) -> None:
    """A price given as [{amount, currency}] was refused with 'the price must be a decimal number or a decimal
    string', leaving out the currency-keyed form a price is usually given in."""
    await set_up_catalog(gql)
    scope = "print" if attribute == "release_date" else None
    locale = "en_US" if attribute == "name" else None
    payload = await upsert(gql, {"sku": "KIND-1", "values": [value(attribute, data, locale, scope)]})
    [error] = payload["userErrors"]
    assert error["code"] == "CAT-004" and says in error["message"], error["message"]
    assert (await gql(PRODUCT, {"sku": "KIND-1"}))["product"] is None
