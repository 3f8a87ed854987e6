"""GraphQL documents and a ready catalog set-up shared by the catalog tests."""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQLClient

SET_LOCALES = """
mutation($codes: [String!]!) {
  setLocales(codes: $codes) { locales { code name nativeName rtl enabled } userErrors { field message code } }
}"""
SET_SCOPES = """
mutation($scopes: [ScopeInput!]!) {
  setScopes(scopes: $scopes) { scopes { code labels enabled } userErrors { field message code } }
}"""
SET_CURRENCIES = """
mutation($codes: [String!]!) {
  setCurrencies(codes: $codes) { currencies { code name symbol enabled } userErrors { field message code } }
}"""
UPSERT_ATTRIBUTES = """
mutation($attributes: [AttributeInput!]!) {
  upsertAttributes(attributes: $attributes) {
    attributes { code type localizable scopable labels } userErrors { field message code }
  }
}"""
UPSERT_PRODUCTS = """
mutation($products: [ProductInput!]!) {
  upsertProducts(products: $products) {
    products { id sku enabled family parent revision values { attribute locale scope data } }
    userErrors { field message code }
  }
}"""
DELETE_PRODUCTS = """
mutation($skus: [String!]!) { deleteProducts(skus: $skus) { deletedSkus userErrors { field message code } } }"""
DELETE_ATTRIBUTES = """mutation($codes: [String!]!) {
  deleteAttributes(codes: $codes) { deletedCodes userErrors { field message code } }
}"""
PRODUCT = """
query($sku: String!) {
  product(sku: $sku) { id sku revision updatedAt values { attribute locale scope data } }
}"""

ATTRIBUTES = [
    {"code": "name", "type": "TEXT", "localizable": True, "labels": {"en_US": "Name", "ar_AE": "الاسم"}},
    {"code": "description", "type": "TEXTAREA", "localizable": True, "scopable": True},
    {"code": "price", "type": "PRICE", "localizable": False},
    {"code": "weight", "type": "METRIC", "localizable": False},
    {"code": "stock", "type": "NUMBER", "localizable": False},
    {"code": "release_date", "type": "DATE", "localizable": False, "scopable": True},
    {"code": "colors", "type": "MULTISELECT", "localizable": False},
    {"code": "active", "type": "BOOLEAN", "localizable": False},
]


async def set_up_catalog(gql: GraphQLClient, locales: tuple[str, ...] = ("en_US", "ar_AE", "ar", "fr_FR")) -> None:
    """Locales (en_US default), scopes, currencies (EUR default) and the attributes above."""
    assert (await gql(SET_LOCALES, {"codes": list(locales)}))["setLocales"]["userErrors"] == []
    scopes = [{"code": "ecommerce", "labels": {"en_US": "E-commerce"}}, {"code": "print"}]
    assert (await gql(SET_SCOPES, {"scopes": scopes}))["setScopes"]["userErrors"] == []
    assert (await gql(SET_CURRENCIES, {"codes": ["EUR", "USD", "AED"]}))["setCurrencies"]["userErrors"] == []
    assert (await gql(UPSERT_ATTRIBUTES, {"attributes": ATTRIBUTES}))["upsertAttributes"]["userErrors"] == []


def value(attribute: str, data: Any, locale: str | None = None, scope: str | None = None) -> dict[str, Any]:
    return {"attribute": attribute, "locale": locale, "scope": scope, "data": data}


async def upsert(gql: GraphQLClient, *products: dict[str, Any]) -> dict[str, Any]:
    return dict((await gql(UPSERT_PRODUCTS, {"products": list(products)}))["upsertProducts"])
