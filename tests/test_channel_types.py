"""Channel type specs, checked against the channels' own API descriptions and real payloads under /work/shared.

A spec field that the channel does not have, an enum that drifted from the
channel's, or a credentials schema a form cannot be built from fails here
rather than at a merchant's first export.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import pytest
from babel.numbers import is_currency
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLSchema,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from jsonschema import Draft202012Validator

from app.channels.amazon import spec as amazon_spec
from app.channels.ebay import spec as ebay_spec
from app.channels.registry import CHANNEL_TYPES, all_channel_types, channel_type_spec
from app.channels.shopify import spec as shopify_spec
from app.channels.woocommerce import spec as woocommerce_spec
from app.domain.channels import Capability, ChannelField, ChannelType, ChannelTypeSpec, FieldType
from app.domain.locales import canonical_locale
from tests.emulators.shopify.schema import admin_schema
from tests.shared_data import shared_dir

SHARED = shared_dir()
SPECS = SHARED / "specs"
DATA = SHARED / "data"

SPECS_BY_TYPE = [pytest.param(spec, id=spec.type.value) for spec in all_channel_types()]


# ---------------------------------------------------------------- registry


def test_registry_has_one_spec_per_channel_type_in_contract_order() -> None:
    assert [spec.type for spec in all_channel_types()] == list(ChannelType)
    assert set(CHANNEL_TYPES) == set(ChannelType)
    for channel_type in ChannelType:
        assert channel_type_spec(channel_type).type is channel_type


# ---------------------------------------------------------------- fields, generic


@pytest.mark.parametrize("spec", SPECS_BY_TYPE)
def test_fields_are_well_formed(spec: ChannelTypeSpec) -> None:
    names = [field.name for field in spec.fields]
    assert len(names) == len(set(names)), "field names must be unique"
    assert spec.get_field(names[0]) is spec.fields[0]
    for field in spec.fields:
        assert field.description, f"{field.name} must say where it comes from in the channel's API"
        assert bool(field.choices) == (field.type is FieldType.ENUM), f"{field.name}: choices go with ENUM only"
        assert len(field.choices) == len(set(field.choices))
        if field.max_length is not None:
            assert field.type in (FieldType.STRING, FieldType.HTML) and field.max_length > 0
    assert any(field.required for field in spec.fields), "a product needs at least one field to exist"


@pytest.mark.parametrize("spec", SPECS_BY_TYPE)
def test_translations_capability_matches_localizable_fields(spec: ChannelTypeSpec) -> None:
    localizable = any(field.localizable for field in spec.fields)
    assert (Capability.TRANSLATIONS in spec.capabilities) == localizable
    assert Capability.PRODUCTS_EXPORT in spec.capabilities
    assert len(spec.capabilities) == len(set(spec.capabilities))


@pytest.mark.parametrize("spec", SPECS_BY_TYPE)
def test_limits_locales_and_currencies_are_usable(spec: ChannelTypeSpec) -> None:
    assert spec.batch_size >= 1
    assert spec.requests_per_second > 0
    assert spec.display_name
    for code in spec.supported_locales or ():
        canonical_locale(code)
    for currency in spec.currencies or ():
        assert re.fullmatch("[A-Z]{3}", currency) and is_currency(currency), currency


# ---------------------------------------------------------------- credentials schemas


@pytest.mark.parametrize("spec", SPECS_BY_TYPE)
def test_credentials_schema_is_a_draft_2020_12_form(spec: ChannelTypeSpec) -> None:
    schema = spec.credentials_schema
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["title"] and schema["description"]
    properties = schema["properties"]
    assert set(schema["required"]) <= set(properties)
    for name, prop in properties.items():
        assert prop.get("title") and prop.get("description"), f"{name} needs a title and a description for the form"


@pytest.mark.parametrize("spec", SPECS_BY_TYPE)
def test_secrets_are_write_only_passwords(spec: ChannelTypeSpec) -> None:
    for name, prop in spec.credentials_schema["properties"].items():
        looks_secret = any(word in name.lower() for word in ("secret", "token", "apikey"))
        if looks_secret:
            assert prop.get("writeOnly") is True and prop.get("format") == "password", name
        if prop.get("writeOnly"):
            assert prop.get("format") == "password", name


Credentials = dict[str, Any]

VALID: Mapping[ChannelType, list[Credentials]] = {
    ChannelType.SHOPIFY: [
        {"shopDomain": "my-store.myshopify.com", "accessToken": "shpat_0123456789"},
        {
            "shopDomain": "a1-b2.myshopify.com",
            "accessToken": "shpat_0123456789",
            "apiVersion": "2026-04",
            "webhookSecret": "client-secret-0123456789abcdef",
            "locationId": "gid://shopify/Location/868923605",
        },
    ],
    ChannelType.WOOCOMMERCE: [
        {"storeUrl": "https://shop.example.com", "consumerKey": "ck_" + "0a" * 20, "consumerSecret": "cs_" + "1b" * 20},
    ],
    ChannelType.AMAZON: [
        {
            "sellerId": "A2EXAMPLE12345",
            "marketplaceIds": ["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"],
            "region": "na",
            "lwaClientId": "amzn1.application-oa2-client.0123abcd",
            "lwaClientSecret": "amzn1.oa2-cs.v1.secret",
            "refreshToken": "Atzr|IwEBIExample",
        },
    ],
    ChannelType.EBAY: [
        {
            "clientId": "MyApp-PRD-123",
            "clientSecret": "PRD-secret",
            "refreshToken": "v^1.1#i^1#refresh",
            "marketplaceId": "EBAY_DE",
            "merchantLocationKey": "warehouse-1",
            "fulfillmentPolicyId": "6196932000",
            "paymentPolicyId": "6196933000",
            "returnPolicyId": "6196934000",
            "environment": "SANDBOX",
        },
    ],
    ChannelType.SALLA: [
        {"accessToken": "ory_at_example"},
        {"accessToken": "ory_at_example", "refreshToken": "ory_rt_example", "clientId": "c", "clientSecret": "s"},
    ],
    ChannelType.EASY_ORDERS: [{"apiKey": "eo-key"}],
    ChannelType.CUSTOM_HTTP: [
        {"baseUrl": "https://shop.example.com/pim-bridge", "signingSecret": "at least 16 chars"},
        {"baseUrl": "http://127.0.0.1:8081", "signingSecret": "0123456789abcdef", "apiKey": "k"},
    ],
}

INVALID: Mapping[ChannelType, list[tuple[Credentials, str]]] = {
    ChannelType.SHOPIFY: [
        ({"shopDomain": "https://my-store.myshopify.com", "accessToken": "t"}, "pattern"),
        ({"shopDomain": "shop.example.com", "accessToken": "t"}, "pattern"),
        ({"shopDomain": "my-store.myshopify.com"}, "required"),
        ({"shopDomain": "my-store.myshopify.com", "accessToken": "t", "apiVersion": "2025-01"}, "const"),
        ({"shopDomain": "my-store.myshopify.com", "accessToken": "t", "password": "x"}, "additionalProperties"),
        ({"shopDomain": "my-store.myshopify.com", "accessToken": "shpat_clé"}, "not"),
        ({"shopDomain": "my-store.myshopify.com", "accessToken": "shpat_0123\n"}, "not"),
    ],
    ChannelType.WOOCOMMERCE: [
        (
            {"storeUrl": "ftp://shop.example.com", "consumerKey": "ck_" + "0" * 40, "consumerSecret": "cs_" + "0" * 40},
            "pattern",
        ),
        (
            {"storeUrl": "https://shop.example.com", "consumerKey": "ck_" + "0" * 40, "consumerSecret": "secret"},
            "pattern",
        ),
        ({"storeUrl": "https://shop.example.com", "consumerKey": "ck_" + "0" * 40}, "required"),
    ],
    ChannelType.AMAZON: [
        (dict(VALID[ChannelType.AMAZON][0], marketplaceIds=[]), "minItems"),
        (dict(VALID[ChannelType.AMAZON][0], marketplaceIds=["ATVPDKIKX0DER", "ATVPDKIKX0DER"]), "uniqueItems"),
        (dict(VALID[ChannelType.AMAZON][0], region="us"), "enum"),
        (dict(VALID[ChannelType.AMAZON][0], refreshToken="not-a-refresh-token"), "pattern"),
    ],
    ChannelType.EBAY: [
        (dict(VALID[ChannelType.EBAY][0], marketplaceId="EBAY_XX"), "enum"),
        (dict(VALID[ChannelType.EBAY][0], merchantLocationKey="x" * 37), "maxLength"),
        (dict(VALID[ChannelType.EBAY][0], environment="TEST"), "enum"),
        ({k: v for k, v in VALID[ChannelType.EBAY][0].items() if k != "returnPolicyId"}, "required"),
    ],
    ChannelType.SALLA: [
        ({}, "required"),
        ({"accessToken": "t", "refreshToken": "r"}, "dependentRequired"),
        ({"accessToken": ""}, "minLength"),
    ],
    ChannelType.EASY_ORDERS: [
        ({"apiKey": ""}, "minLength"),
        ({"apiKey": "k", "webhookSecret": "s"}, "additionalProperties"),
    ],
    ChannelType.CUSTOM_HTTP: [
        ({"baseUrl": "https://shop.example.com", "signingSecret": "15 characters.."}, "minLength"),
        ({"baseUrl": "shop.example.com/bridge", "signingSecret": "0123456789abcdef"}, "pattern"),
        ({"baseUrl": "ftp://shop.example.com", "signingSecret": "0123456789abcdef"}, "pattern"),
        ({"baseUrl": "https://shop.example.com"}, "required"),
        ({"baseUrl": "https://shop.example.com", "signingSecret": "0123456789abcdef", "apiKey": "k é"}, "not"),
    ],
}


def _violations(spec: ChannelTypeSpec, credentials: Credentials) -> set[str]:
    validator = Draft202012Validator(spec.credentials_schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return {str(error.validator) for error in validator.iter_errors(credentials)}


@pytest.mark.parametrize("spec", SPECS_BY_TYPE)
def test_valid_credentials_pass(spec: ChannelTypeSpec) -> None:
    assert VALID[spec.type], "every channel type needs a valid sample"
    for credentials in VALID[spec.type]:
        assert _violations(spec, credentials) == set(), credentials


@pytest.mark.parametrize("spec", SPECS_BY_TYPE)
def test_invalid_credentials_fail_for_the_expected_reason(spec: ChannelTypeSpec) -> None:
    assert INVALID[spec.type], "every channel type needs an invalid sample"
    for credentials, rule in INVALID[spec.type]:
        assert rule in _violations(spec, credentials), (credentials, rule)


# ---------------------------------------------------------------- Shopify, against the pinned Admin GraphQL SDL


@cache
def _shopify_sdl() -> str:
    return (SPECS / "shopify" / "admin-2026-04.graphql").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def shopify_schema() -> GraphQLSchema:
    """The pinned SDL, built once for the process (the emulator's: building it takes seconds)."""
    return admin_schema()


def _input_type(schema: GraphQLSchema, name: str) -> GraphQLInputObjectType:
    named = schema.type_map[name]
    assert isinstance(named, GraphQLInputObjectType), name
    return named


def _walk_input(schema: GraphQLSchema, root: str, path: tuple[str, ...]) -> GraphQLInputType:
    """The type of the input field reached by walking `path` from the input object `root`."""
    current = _input_type(schema, root)
    for hop in path[:-1]:
        assert hop in current.fields, f"{current.name} has no input field {hop}"
        named = get_named_type(current.fields[hop].type)
        assert isinstance(named, GraphQLInputObjectType), f"{current.name}.{hop} is not an input object"
        current = named
    assert path[-1] in current.fields, f"{current.name} has no input field {path[-1]}"
    leaf: GraphQLInputType = current.fields[path[-1]].type
    return leaf


def _enum_values(schema: GraphQLSchema, name: str) -> tuple[str, ...]:
    named = schema.type_map[name]
    assert isinstance(named, GraphQLEnumType), name
    return tuple(named.values)


SHOPIFY_SCALARS: Mapping[FieldType, set[str]] = {
    FieldType.STRING: {"String"},
    FieldType.HTML: {"String", "HTML"},
    FieldType.DECIMAL: {"Money", "Decimal", "Float"},
    FieldType.INTEGER: {"Int"},
    FieldType.URL: {"String", "URL"},
    FieldType.BOOLEAN: {"Boolean"},
}


def test_shopify_fields_are_productset_input_fields(shopify_schema: GraphQLSchema) -> None:
    spec = channel_type_spec(ChannelType.SHOPIFY)
    assert set(shopify_spec.SCHEMA_PATHS) == {field.name for field in spec.fields}
    for field in spec.fields:
        input_type = _walk_input(shopify_schema, "ProductSetInput", shopify_spec.SCHEMA_PATHS[field.name])
        named = get_named_type(input_type)
        if field.type is FieldType.ENUM:
            assert isinstance(named, GraphQLEnumType), field.name
            assert field.choices == tuple(named.values), f"{field.name} choices differ from {named.name}"
        elif field.type is FieldType.STRING_LIST:
            assert is_list_type(get_nullable_type(input_type)) and named.name == "String", field.name
        else:
            assert named.name in SHOPIFY_SCALARS[field.type], f"{field.name} is {named.name} in the SDL"


def test_shopify_names_the_inputs_the_adapter_writes(shopify_schema: GraphQLSchema) -> None:
    product = _input_type(shopify_schema, "ProductSetInput").fields
    assert {"title", "descriptionHtml", "vendor", "productType", "tags", "handle", "status", "seo"} <= set(product)
    assert {"title", "description"} <= set(_input_type(shopify_schema, "SEOInput").fields)
    variant = _input_type(shopify_schema, "ProductVariantSetInput").fields
    assert {"price", "compareAtPrice", "sku", "barcode"} <= set(variant)
    assert _enum_values(shopify_schema, "ProductStatus") == shopify_spec.PRODUCT_STATUSES
    assert _enum_values(shopify_schema, "WeightUnit") == shopify_spec.WEIGHT_UNITS


def test_shopify_localizable_fields_are_the_translatable_product_fields(shopify_schema: GraphQLSchema) -> None:
    resource_types = shopify_schema.type_map["TranslatableResourceType"]
    assert isinstance(resource_types, GraphQLEnumType)
    description = resource_types.values["PRODUCT"].description or ""
    translatable = set(re.findall(r"`([a-z_]+)`", description))
    assert translatable == {"title", "body_html", "handle", "product_type", "meta_title", "meta_description"}
    spec = channel_type_spec(ChannelType.SHOPIFY)
    localizable = {field.name for field in spec.fields if field.localizable}
    assert localizable == set(shopify_spec.TRANSLATION_KEYS)
    assert set(shopify_spec.TRANSLATION_KEYS.values()) == translatable
    for name, key in shopify_spec.TRANSLATION_KEYS.items():
        assert f"translation key `{key}`" in _field(spec, name).description


def test_shopify_limits_and_version_come_from_the_sdl() -> None:
    spec = channel_type_spec(ChannelType.SHOPIFY)
    assert "The title cannot be longer than 255 characters" in _shopify_sdl()
    assert _field(spec, "title").max_length == 255
    assert spec.credentials_schema["properties"]["apiVersion"]["const"] == "2026-04" == shopify_spec.API_VERSION
    assert spec.batch_size == 1


# ---------------------------------------------------------------- eBay, against the Sell Inventory OAS3


@cache
def _ebay() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SPECS / "ebay" / "sell_inventory_v1_oas3.json").read_text(encoding="utf-8"))
    return loaded


def _ebay_resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow $ref and array items down to the object whose properties the next hop names."""
    schemas = _ebay()["components"]["schemas"]
    while True:
        if "$ref" in node:
            node = schemas[node["$ref"].rsplit("/", 1)[-1]]
        elif node.get("type") == "array":
            node = node["items"]
        else:
            return node


def _ebay_property(path: tuple[str, ...]) -> Mapping[str, Any]:
    node: Mapping[str, Any] = _ebay()["components"]["schemas"][path[0]]
    prop: Mapping[str, Any] = node
    for hop in path[1:]:
        properties = _ebay_resolve(node).get("properties", {})
        assert hop in properties, f"no property {hop} under {path}"
        prop = properties[hop]
        node = prop
    return prop


def _ebay_leaf_type(prop: Mapping[str, Any]) -> str:
    if prop.get("type") == "array":
        return f"array of {_ebay_resolve(prop['items']).get('type')}"
    return str(_ebay_resolve(prop).get("type"))


EBAY_TYPES: Mapping[FieldType, set[str]] = {
    FieldType.STRING: {"string", "array of string", "object"},
    FieldType.HTML: {"string"},
    FieldType.DECIMAL: {"number", "string"},
    FieldType.INTEGER: {"integer"},
    FieldType.ENUM: {"string"},
    FieldType.URL: {"string", "array of string"},
}


def test_ebay_fields_are_properties_of_the_inventory_schemas() -> None:
    spec = channel_type_spec(ChannelType.EBAY)
    assert set(ebay_spec.SCHEMA_PATHS) == {field.name for field in spec.fields}
    for field in spec.fields:
        prop = _ebay_property(ebay_spec.SCHEMA_PATHS[field.name])
        assert _ebay_leaf_type(prop) in EBAY_TYPES[field.type], field.name
        stated = re.search(r"Max Length:\s*(\d+)", prop.get("description", ""), re.IGNORECASE)
        assert field.max_length == (int(stated.group(1)) if stated else None), field.name


def test_ebay_condition_and_weight_units_follow_the_spec() -> None:
    spec = channel_type_spec(ChannelType.EBAY)
    conditions = _field(spec, "condition").choices
    text = json.dumps(_ebay())
    named_in_spec = {value for value in (*conditions, "MANUFACTURER_REFURBISHED") if re.search(rf"\b{value}\b", text)}
    assert {"NEW", "LIKE_NEW", "NEW_OTHER", "NEW_WITH_DEFECTS", "CERTIFIED_REFURBISHED"} <= named_in_spec
    assert named_in_spec - {"MANUFACTURER_REFURBISHED"} <= set(conditions)
    condition_text = _ebay_property(("InventoryItem", "condition"))["description"]
    assert "MANUFACTURER_REFURBISHED value is no longer applicable, and should not be used" in condition_text
    assert "MANUFACTURER_REFURBISHED" not in conditions
    unit_text = _ebay_property(("Weight", "unit"))["description"]
    stated_units = [unit for pair in re.findall(r"weight units are ([A-Z]+) and ([A-Z]+)", unit_text) for unit in pair]
    assert set(_field(spec, "weightUnit").choices) == set(stated_units) == set(ebay_spec.WEIGHT_UNITS)


def test_ebay_batch_size_and_location_key_come_from_the_spec() -> None:
    spec = channel_type_spec(ChannelType.EBAY)
    requests = _ebay_property(("BulkInventoryItem", "requests"))["description"]
    bulk_limit = re.search(r"Up to (\d+) inventory item records", requests)
    assert bulk_limit is not None and spec.batch_size == int(bulk_limit.group(1))
    key = _ebay_property(("EbayOfferDetailsWithKeys", "merchantLocationKey"))["description"]
    key_limit = re.search(r"Max length:\s*(\d+)", key, re.IGNORECASE)
    assert key_limit is not None
    assert spec.credentials_schema["properties"]["merchantLocationKey"]["maxLength"] == int(key_limit.group(1))
    assert not any(field.localizable for field in spec.fields), "an inventory item holds one language per SKU"
    marketplaces = spec.credentials_schema["properties"]["marketplaceId"]["enum"]
    assert set(marketplaces) == set(ebay_spec.MARKETPLACES)
    languages = {language for _, langs in ebay_spec.MARKETPLACES.values() for language in langs}
    assert set(spec.supported_locales or ()) == languages


# ---------------------------------------------------------------- Amazon, against the Listings Items API


DOCUMENTED_LANGUAGE_TAGGED = {"product_description"}
"""Attributes absent from the Listings Items examples whose product type schemas require a language_tag
(product_description[].language_tag is required in every product type definition, e.g. LUGGAGE)."""


@cache
def _amazon_listings() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (SPECS / "amazon" / "listingsItems_2021-08-01.json").read_text(encoding="utf-8")
    )
    return loaded


def _attribute_values(node: Any) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every (attribute name, value object) in the `attributes` objects of the spec's examples."""
    if isinstance(node, dict):
        attributes = node.get("attributes")
        if isinstance(attributes, dict):
            for name, values in attributes.items():
                if isinstance(values, list):
                    yield from ((name, value) for value in values if isinstance(value, dict))
        for child in node.values():
            yield from _attribute_values(child)
    elif isinstance(node, list):
        for child in node:
            yield from _attribute_values(child)


def _language_tagged() -> dict[str, bool]:
    seen: dict[str, set[bool]] = {}
    for name, value in _attribute_values(_amazon_listings()):
        seen.setdefault(name, set()).add("language_tag" in value)
    assert all(len(kinds) == 1 for kinds in seen.values()), seen
    return {name: next(iter(kinds)) for name, kinds in seen.items()}


def test_amazon_localizable_fields_are_the_language_tagged_attributes() -> None:
    spec = channel_type_spec(ChannelType.AMAZON)
    tagged = _language_tagged()
    assert {"item_name", "bullet_point", "brand"} <= {name for name, has_tag in tagged.items() if has_tag}
    assert set(amazon_spec.ATTRIBUTES) == {field.name for field in spec.fields}
    for field in spec.fields:
        attribute = amazon_spec.ATTRIBUTES[field.name]
        if attribute is None:
            assert not field.localizable
            continue
        if field.localizable:
            assert tagged.get(attribute) or attribute in DOCUMENTED_LANGUAGE_TAGGED, field.name
        if attribute in tagged:
            assert field.localizable == tagged[attribute], f"{field.name}: language_tag differs from the spec"


def test_amazon_request_shape_conditions_and_rate_follow_the_spec() -> None:
    spec = channel_type_spec(ChannelType.AMAZON)
    definitions = _amazon_listings()["definitions"]
    assert "productType" in definitions["ListingsItemPutRequest"]["required"]
    assert "productType" in definitions["ListingsItemPatchRequest"]["required"]
    assert _field(spec, "productType").required
    condition_enum = definitions["ItemSummaryByMarketplace"]["properties"]["conditionType"]["enum"]
    assert _field(spec, "condition_type").choices == tuple(condition_enum)
    put = _amazon_listings()["paths"]["/listings/2021-08-01/items/{sellerId}/{sku}"]["put"]["description"]
    rate = re.search(r"\|\s*([\d.]+)\s*\|\s*([\d.]+)\s*\|", put)
    assert rate is not None and spec.requests_per_second == float(rate.group(1))
    assert spec.batch_size == 1


# ---------------------------------------------------------------- WooCommerce, against real wc/v3 payloads


WOO_PAYLOAD_KEYS: Mapping[str, tuple[str, ...]] = {
    "length": ("dimensions", "length"),
    "width": ("dimensions", "width"),
    "height": ("dimensions", "height"),
    "image_url": ("images",),
}
"""Fields whose wc/v3 property is nested or named differently; global_unique_id is newer (9.2) than the fixtures."""


def test_woocommerce_fields_exist_in_real_wc_v3_products() -> None:
    spec = channel_type_spec(ChannelType.WOOCOMMERCE)
    products = json.loads((DATA / "woocommerce_rest_fixtures_ios" / "products-load-all.json").read_text())["data"]
    assert products
    for product in products:
        for field in spec.fields:
            if field.name == "global_unique_id":
                continue
            node: Any = product
            for key in WOO_PAYLOAD_KEYS.get(field.name, (field.name,)):
                assert key in node, f"{field.name} not in product {product['id']}"
                node = node[key]
            if field.type is FieldType.ENUM:
                assert node in field.choices, f"{field.name}={node!r} in product {product['id']}"
    assert not any(field.localizable for field in spec.fields), "WooCommerce core stores one language"
    assert spec.batch_size == 100
    assert woocommerce_spec.STATUSES == ("draft", "pending", "private", "publish")


# ---------------------------------------------------------------- CUSTOM_HTTP, against the protocol document


def test_custom_http_fields_match_the_protocols_example_document() -> None:
    spec = channel_type_spec(ChannelType.CUSTOM_HTTP)
    protocol = (SHARED / "CUSTOM_HTTP.md").read_text(encoding="utf-8")
    batch = protocol[protocol.index("POST {baseUrl}/products/batch") :]
    block = re.search(r"```json\n(.*?)```", batch, re.DOTALL)
    assert block is not None, "CUSTOM_HTTP.md lost its example batch"
    example = json.loads(block.group(1))
    product = example["products"][0]
    for name in product["fields"]:
        assert not _field(spec, name).localizable, name
    for values in product["locales"].values():
        for name in values:
            assert _field(spec, name).localizable, name
    assert "at most 100 products" in protocol and spec.batch_size == 100
    assert spec.credentials_schema["properties"]["signingSecret"]["minLength"] == 16


# ---------------------------------------------------------------- helpers


def _field(spec: ChannelTypeSpec, name: str) -> ChannelField:
    field = spec.get_field(name)
    assert field is not None, f"{spec.display_name} has no field {name}"
    return field
