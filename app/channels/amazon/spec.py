"""Amazon as a channel type: listing attributes, credentials and limits of the SP-API Listings Items API.

A product is one listings item per seller SKU, written with
putListingsItem / patchListingsItem (specs/amazon/listingsItems_2021-08-01.json).
Its data is a bag of attributes keyed by name, each a list of objects that
carry `marketplace_id` and, for text a shopper reads, `language_tag`; which
attributes a product type takes, and their limits, come from the Product Type
Definitions API (specs/amazon/definitionsProductTypes_2020-09-01.json) at run
time, because they differ per product type and marketplace. The fields here
are the attributes common to product types, named as Amazon names them; a
field is localizable exactly when Amazon sends it with a language_tag, as the
Listings Items examples show (tests/test_channel_types.py checks this).

Limits such as item_name or bullet_point lengths vary by product type and are
enforced by Amazon's own validation (issues on the submission response), so
no max_length is declared here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from app.domain.channels import Capability, ChannelField, ChannelType, ChannelTypeSpec, FieldType

CONDITION_TYPES: Final = (
    "new_new",
    "new_open_box",
    "new_oem",
    "refurbished_refurbished",
    "used_like_new",
    "used_very_good",
    "used_good",
    "used_acceptable",
    "collectible_like_new",
    "collectible_very_good",
    "collectible_good",
    "collectible_acceptable",
    "club_club",
)
"""ItemSummaryByMarketplace.conditionType enum of the Listings Items API."""

ATTRIBUTES: Final[Mapping[str, str | None]] = {
    "productType": None,
    "item_name": "item_name",
    "product_description": "product_description",
    "bullet_point": "bullet_point",
    "brand": "brand",
    "manufacturer": "manufacturer",
    "generic_keyword": "generic_keyword",
    "color": "color",
    "model_number": "model_number",
    "part_number": "part_number",
    "item_type_keyword": "item_type_keyword",
    "externally_assigned_product_identifier": "externally_assigned_product_identifier",
    "externally_assigned_product_identifier_type": "externally_assigned_product_identifier",
    "merchant_suggested_asin": "merchant_suggested_asin",
    "condition_type": "condition_type",
    "list_price": "list_price",
    "our_price": "purchasable_offer",
    "quantity": "fulfillment_availability",
    "item_weight": "item_weight",
    "item_weight_unit": "item_weight",
    "country_of_origin": "country_of_origin",
    "main_product_image_locator": "main_product_image_locator",
}
"""The listing attribute each field is written into; None: a field of the request body, not an attribute."""

CREDENTIALS_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Amazon SP-API credentials",
    "description": (
        "A selling partner's authorization of an SP-API application: the Login with Amazon (LWA) client of "
        "the application and the refresh token the seller granted it, for the marketplaces listed."
    ),
    "type": "object",
    "properties": {
        "sellerId": {
            "title": "Seller ID",
            "description": "The selling partner (merchant token) that owns the listings, the {sellerId} path parameter.",
            "type": "string",
            "pattern": "^[A-Z0-9]{8,32}$",
        },
        "marketplaceIds": {
            "title": "Marketplace IDs",
            "description": (
                "Amazon stores the listings are written to, e.g. ATVPDKIKX0DER (amazon.com). Prices are sent in "
                "the connector's currency to each of them, so list marketplaces that share one currency."
            ),
            "type": "array",
            "items": {"type": "string", "pattern": "^[A-Z0-9]{8,32}$"},
            "minItems": 1,
            "uniqueItems": True,
        },
        "region": {
            "title": "Region",
            "description": (
                "The SP-API endpoint of the marketplaces: na (sellingpartnerapi-na.amazon.com), "
                "eu (sellingpartnerapi-eu.amazon.com) or fe (sellingpartnerapi-fe.amazon.com)."
            ),
            "type": "string",
            "enum": ["na", "eu", "fe"],
        },
        "lwaClientId": {
            "title": "LWA client ID",
            "description": "The application's Login with Amazon client identifier.",
            "type": "string",
            "pattern": r"^amzn1\.application-oa2-client\.[A-Za-z0-9]+$",
        },
        "lwaClientSecret": {
            "title": "LWA client secret",
            "description": "The application's Login with Amazon client secret.",
            "type": "string",
            "minLength": 1,
            "writeOnly": True,
            "format": "password",
        },
        "refreshToken": {
            "title": "Refresh token",
            "description": "The LWA refresh token the seller granted the application (starts with Atzr|).",
            "type": "string",
            "pattern": r"^Atzr\|",
            "writeOnly": True,
            "format": "password",
        },
    },
    "required": ["sellerId", "marketplaceIds", "region", "lwaClientId", "lwaClientSecret", "refreshToken"],
    "additionalProperties": False,
}

FIELDS: Final = (
    ChannelField(
        "productType",
        FieldType.STRING,
        required=True,
        description=(
            "The Amazon product type, e.g. LUGGAGE (ListingsItemPutRequest.productType, required by "
            "putListingsItem and patchListingsItem); it selects the product type definition."
        ),
    ),
    ChannelField(
        "item_name",
        FieldType.STRING,
        required=True,
        localizable=True,
        description="The listing title (attribute item_name, with language_tag); needed by every product type.",
    ),
    ChannelField(
        "product_description",
        FieldType.STRING,
        localizable=True,
        description="Product description (attribute product_description, with language_tag).",
    ),
    ChannelField(
        "bullet_point",
        FieldType.STRING_LIST,
        localizable=True,
        description="Key features, one entry per bullet (attribute bullet_point, one value each, with language_tag).",
    ),
    ChannelField(
        "brand", FieldType.STRING, localizable=True, description="Brand name (attribute brand, with language_tag)."
    ),
    ChannelField(
        "manufacturer",
        FieldType.STRING,
        localizable=True,
        description="Manufacturer (attribute manufacturer, with language_tag).",
    ),
    ChannelField(
        "generic_keyword",
        FieldType.STRING,
        localizable=True,
        description="Search terms shoppers do not see (attribute generic_keyword, with language_tag).",
    ),
    ChannelField(
        "color", FieldType.STRING, localizable=True, description="Colour (attribute color, with language_tag)."
    ),
    ChannelField("model_number", FieldType.STRING, description="Manufacturer's model number (attribute model_number)."),
    ChannelField("part_number", FieldType.STRING, description="Manufacturer's part number (attribute part_number)."),
    ChannelField(
        "item_type_keyword",
        FieldType.STRING,
        description="Browse classification keyword of the product type (attribute item_type_keyword).",
    ),
    ChannelField(
        "externally_assigned_product_identifier",
        FieldType.STRING,
        description="Barcode value (attribute externally_assigned_product_identifier, value).",
    ),
    ChannelField(
        "externally_assigned_product_identifier_type",
        FieldType.STRING,
        description=(
            "Barcode kind, e.g. ean, upc, gtin or isbn (attribute externally_assigned_product_identifier, type); "
            "the values allowed come from the product type definition."
        ),
    ),
    ChannelField(
        "merchant_suggested_asin",
        FieldType.STRING,
        description="An existing ASIN to list this SKU against (attribute merchant_suggested_asin).",
    ),
    ChannelField(
        "condition_type",
        FieldType.ENUM,
        choices=CONDITION_TYPES,
        description="Offer condition (attribute condition_type); the values are the API's conditionType enum.",
    ),
    ChannelField(
        "list_price",
        FieldType.DECIMAL,
        description="Manufacturer's suggested retail price (attribute list_price, value with currency).",
    ),
    ChannelField(
        "our_price",
        FieldType.DECIMAL,
        description=(
            "Selling price (attribute purchasable_offer, our_price[].schedule[].value_with_tax, with the "
            "connector's currency and audience ALL)."
        ),
    ),
    ChannelField(
        "quantity",
        FieldType.INTEGER,
        description="Seller-fulfilled stock (attribute fulfillment_availability, quantity, channel code DEFAULT).",
    ),
    ChannelField("item_weight", FieldType.DECIMAL, description="Item weight (attribute item_weight, value)."),
    ChannelField(
        "item_weight_unit",
        FieldType.STRING,
        description="Unit of item_weight, e.g. grams, kilograms, ounces, pounds (attribute item_weight, unit).",
    ),
    ChannelField(
        "country_of_origin",
        FieldType.STRING,
        description="ISO 3166-1 alpha-2 country the product was made in (attribute country_of_origin).",
    ),
    ChannelField(
        "main_product_image_locator",
        FieldType.URL,
        description="Main image URL Amazon downloads (attribute main_product_image_locator, media_location).",
    ),
)

SPEC: Final = ChannelTypeSpec(
    type=ChannelType.AMAZON,
    display_name="Amazon",
    capabilities=(
        Capability.PRODUCTS_EXPORT,
        Capability.PRODUCTS_IMPORT,
        Capability.TRANSLATIONS,
        Capability.INVENTORY,
        Capability.PRICES,
    ),
    credentials_schema=CREDENTIALS_SCHEMA,
    fields=FIELDS,
    # Language tags depend on the marketplaces (e.g. en_CA and fr_CA on amazon.ca), learned at the connection test.
    supported_locales=None,
    # Each marketplace has its own currency; the adapter checks the connector's against it.
    currencies=None,
    # putListingsItem / patchListingsItem write one SKU per call.
    batch_size=1,
    # putListingsItem usage plan: 5 requests per second, burst 10 (x-amzn-RateLimit-Limit may say otherwise).
    requests_per_second=5.0,
)
