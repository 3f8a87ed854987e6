"""eBay as a channel type: inventory item and offer fields, credentials and limits of the Sell Inventory API v1.

A product is an inventory item (product details, condition, stock, package
weight) written in bulks of 25 with bulkCreateOrReplaceInventoryItem, plus an
offer on the connector's marketplace (price, category) that is then
published. Where each field sits in the API's component schemas is spelled
out in SCHEMA_PATHS, and the maximum lengths are the "Max Length" the
schema's descriptions state; tests/test_channel_types.py checks both against
specs/ebay/sell_inventory_v1_oas3.json.

An inventory item holds one text per SKU, in the language of the request's
Content-Language header, so no field is localizable: a connector writes one
marketplace in one of its content languages. The spec only links to eBay's
ConditionEnum, LocaleEnum, MarketplaceEnum and WeightUnitOfMeasureEnum pages;
the values below are those pages' (developer.ebay.com/api-docs/sell/inventory/types/slr:*).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from app.domain.channels import Capability, ChannelField, ChannelType, ChannelTypeSpec, FieldType

CONDITIONS: Final = (
    "NEW",
    "LIKE_NEW",
    "NEW_OTHER",
    "NEW_WITH_DEFECTS",
    "CERTIFIED_REFURBISHED",
    "EXCELLENT_REFURBISHED",
    "VERY_GOOD_REFURBISHED",
    "GOOD_REFURBISHED",
    "SELLER_REFURBISHED",
    "USED_EXCELLENT",
    "USED_VERY_GOOD",
    "USED_GOOD",
    "USED_ACCEPTABLE",
    "FOR_PARTS_OR_NOT_WORKING",
)
"""ConditionEnum, less MANUFACTURER_REFURBISHED, which the spec says 'is no longer applicable, and should not be used'."""

WEIGHT_UNITS: Final = ("POUND", "OUNCE", "KILOGRAM", "GRAM")
"""WeightUnitOfMeasureEnum, as Weight.unit's description lists it."""

MARKETPLACES: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "EBAY_US": ("USD", ("en-US",)),
    "EBAY_MOTORS": ("USD", ("en-US",)),
    "EBAY_CA": ("CAD", ("en-CA", "fr-CA")),
    "EBAY_GB": ("GBP", ("en-GB",)),
    "EBAY_AU": ("AUD", ("en-AU",)),
    "EBAY_AT": ("EUR", ("de-AT",)),
    "EBAY_BE": ("EUR", ("fr-BE", "nl-BE")),
    "EBAY_FR": ("EUR", ("fr-FR",)),
    "EBAY_DE": ("EUR", ("de-DE",)),
    "EBAY_IT": ("EUR", ("it-IT",)),
    "EBAY_NL": ("EUR", ("nl-NL",)),
    "EBAY_ES": ("EUR", ("es-ES",)),
    "EBAY_CH": ("CHF", ("de-CH",)),
    "EBAY_IE": ("EUR", ("en-IE",)),
    "EBAY_PL": ("PLN", ("pl-PL",)),
    "EBAY_SG": ("SGD", ("en-SG",)),
    "EBAY_MY": ("MYR", ("en-MY",)),
    "EBAY_PH": ("PHP", ("en-PH",)),
}
"""Marketplaces an offer can be published on (MarketplaceEnum values that have a LocaleEnum language), with the
currency offers are priced in there and the Content-Language values the marketplace takes. EBAY_HK is left out:
its language, zh-HK, is not a CLDR locale (CLDR spells it zh-Hant-HK), so the service's locale checks refuse it."""

SCHEMA_PATHS: Final[Mapping[str, tuple[str, ...]]] = {
    "title": ("InventoryItem", "product", "title"),
    "subtitle": ("InventoryItem", "product", "subtitle"),
    "description": ("InventoryItem", "product", "description"),
    "brand": ("InventoryItem", "product", "brand"),
    "mpn": ("InventoryItem", "product", "mpn"),
    "ean": ("InventoryItem", "product", "ean"),
    "upc": ("InventoryItem", "product", "upc"),
    "isbn": ("InventoryItem", "product", "isbn"),
    "epid": ("InventoryItem", "product", "epid"),
    "aspects": ("InventoryItem", "product", "aspects"),
    "imageUrl": ("InventoryItem", "product", "imageUrls"),
    "condition": ("InventoryItem", "condition"),
    "conditionDescription": ("InventoryItem", "conditionDescription"),
    "quantity": ("InventoryItem", "availability", "shipToLocationAvailability", "quantity"),
    "weight": ("InventoryItem", "packageWeightAndSize", "weight", "value"),
    "weightUnit": ("InventoryItem", "packageWeightAndSize", "weight", "unit"),
    "price": ("EbayOfferDetailsWithKeys", "pricingSummary", "price", "value"),
    "originalRetailPrice": ("EbayOfferDetailsWithKeys", "pricingSummary", "originalRetailPrice", "value"),
    "categoryId": ("EbayOfferDetailsWithKeys", "categoryId"),
}
"""Where each field goes: a component schema of the OAS3 file, then property names (through $ref and items)."""

CREDENTIALS_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "eBay credentials",
    "description": (
        "An eBay application's OAuth client and a seller's refresh token (scope sell.inventory), the "
        "marketplace offers are published on, and the inventory location and business policies offers need "
        "before they can be published."
    ),
    "type": "object",
    "properties": {
        "environment": {
            "title": "Environment",
            "description": "PRODUCTION (api.ebay.com) or SANDBOX (api.sandbox.ebay.com).",
            "type": "string",
            "enum": ["PRODUCTION", "SANDBOX"],
            "default": "PRODUCTION",
        },
        "clientId": {
            "title": "App ID (client ID)",
            "description": "The application's OAuth client ID from the eBay developer portal.",
            "type": "string",
            "minLength": 1,
        },
        "clientSecret": {
            "title": "Cert ID (client secret)",
            "description": "The application's OAuth client secret.",
            "type": "string",
            "minLength": 1,
            "writeOnly": True,
            "format": "password",
        },
        "refreshToken": {
            "title": "Refresh token",
            "description": "The seller's user refresh token, exchanged for access tokens (authorization code grant).",
            "type": "string",
            "minLength": 1,
            "writeOnly": True,
            "format": "password",
        },
        "marketplaceId": {
            "title": "Marketplace",
            "description": "The eBay site offers are published on (offer marketplaceId); it fixes their currency.",
            "type": "string",
            "enum": list(MARKETPLACES),
        },
        "merchantLocationKey": {
            "title": "Inventory location key",
            "description": "The seller's inventory location the items ship from (offer merchantLocationKey).",
            "type": "string",
            "minLength": 1,
            "maxLength": 36,
        },
        "fulfillmentPolicyId": {
            "title": "Fulfillment policy ID",
            "description": "Business policy for shipping (offer listingPolicies.fulfillmentPolicyId).",
            "type": "string",
            "minLength": 1,
        },
        "paymentPolicyId": {
            "title": "Payment policy ID",
            "description": "Business policy for payment (offer listingPolicies.paymentPolicyId).",
            "type": "string",
            "minLength": 1,
        },
        "returnPolicyId": {
            "title": "Return policy ID",
            "description": "Business policy for returns (offer listingPolicies.returnPolicyId).",
            "type": "string",
            "minLength": 1,
        },
    },
    "required": [
        "clientId",
        "clientSecret",
        "refreshToken",
        "marketplaceId",
        "merchantLocationKey",
        "fulfillmentPolicyId",
        "paymentPolicyId",
        "returnPolicyId",
    ],
    "additionalProperties": False,
}

FIELDS: Final = (
    ChannelField(
        "title",
        FieldType.STRING,
        required=True,
        max_length=80,
        description="Listing title (inventory item product.title); needed before an offer can be published.",
    ),
    ChannelField(
        "subtitle",
        FieldType.STRING,
        max_length=55,
        description="Listing subtitle (product.subtitle); eBay charges a listing fee for it.",
    ),
    ChannelField(
        "description",
        FieldType.HTML,
        required=True,
        max_length=4000,
        description=(
            "Product description (product.description; basic HTML tags only, no active content). It becomes "
            "the listing description, without which publishOffer fails."
        ),
    ),
    ChannelField(
        "brand",
        FieldType.STRING,
        max_length=65,
        description="Brand (product.brand); paired with mpn to identify the product.",
    ),
    ChannelField("mpn", FieldType.STRING, max_length=65, description="Manufacturer part number (product.mpn)."),
    ChannelField("ean", FieldType.STRING, description="EAN (product.ean, sent as a one-value list)."),
    ChannelField("upc", FieldType.STRING, description="UPC (product.upc, sent as a one-value list)."),
    ChannelField("isbn", FieldType.STRING, description="ISBN (product.isbn, sent as a one-value list)."),
    ChannelField("epid", FieldType.STRING, description="eBay catalog product ID (product.epid)."),
    ChannelField(
        "aspects",
        FieldType.STRING,
        description=(
            "Item specifics (product.aspects) as a JSON object of aspect name to a list of values, e.g. "
            '{"Color": ["Red"]}, usually built by a template transformation. eBay allows 40 characters per '
            "aspect name and 50 per value."
        ),
    ),
    ChannelField(
        "imageUrl",
        FieldType.URL,
        required=True,
        description=(
            "Main picture (product.imageUrls[0], HTTPS); at least one image must exist before an offer can be "
            "published."
        ),
    ),
    ChannelField(
        "condition",
        FieldType.ENUM,
        choices=CONDITIONS,
        description="Item condition (inventory item condition, ConditionEnum); required for most categories.",
    ),
    ChannelField(
        "conditionDescription",
        FieldType.STRING,
        max_length=1000,
        description="Condition details of a used item (inventory item conditionDescription).",
    ),
    ChannelField(
        "quantity",
        FieldType.INTEGER,
        required=True,
        description=(
            "Ship-to-home stock (availability.shipToLocationAvailability.quantity); must be set before an offer "
            "can be published."
        ),
    ),
    ChannelField(
        "weight",
        FieldType.DECIMAL,
        description="Package weight (packageWeightAndSize.weight.value) for calculated shipping, in weightUnit.",
    ),
    ChannelField(
        "weightUnit",
        FieldType.ENUM,
        choices=WEIGHT_UNITS,
        description="Unit of weight (packageWeightAndSize.weight.unit); unit and value go together.",
    ),
    ChannelField(
        "price",
        FieldType.DECIMAL,
        required=True,
        description=(
            "Listing price (offer pricingSummary.price.value, a decimal string) in the marketplace's currency; "
            "needed before the offer can be published."
        ),
    ),
    ChannelField(
        "originalRetailPrice",
        FieldType.DECIMAL,
        description="Strikethrough price (offer pricingSummary.originalRetailPrice.value), where eBay offers it.",
    ),
    ChannelField(
        "categoryId",
        FieldType.STRING,
        required=True,
        description="eBay leaf category of the listing (offer categoryId); needed before the offer can be published.",
    ),
)

SPEC: Final = ChannelTypeSpec(
    type=ChannelType.EBAY,
    display_name="eBay",
    capabilities=(
        Capability.PRODUCTS_EXPORT,
        Capability.PRODUCTS_IMPORT,
        Capability.INVENTORY,
        Capability.PRICES,
    ),
    credentials_schema=CREDENTIALS_SCHEMA,
    fields=FIELDS,
    # Content-Language values of the marketplaces; a connector maps one of its marketplace's.
    supported_locales=tuple(
        dict.fromkeys(language for _, languages in MARKETPLACES.values() for language in languages)
    ),
    currencies=tuple(sorted({currency for currency, _ in MARKETPLACES.values()})),
    # bulkCreateOrReplaceInventoryItem: "Up to 25 inventory item records" per call.
    batch_size=25,
    # eBay meters the Inventory API per day, not per second; start at 2 calls a second (50 items) and let
    # 429 answers adjust.
    requests_per_second=2.0,
)
