"""Shopify as a channel type: its product fields, credentials and limits, from the Admin GraphQL API 2026-04.

Every field is written with one `productSet` mutation per product (the
product is exported as a single-variant product) and, for each non-primary
shop locale, one `translationsRegister` call; a changed image on a product
Shopify already has takes targeted media mutations instead (media.py). Where each field lives in
ProductSetInput is spelled out in SCHEMA_PATHS, and the translation key of
each localizable field in TRANSLATION_KEYS; tests/test_channel_types.py
checks both against the pinned SDL (/work/shared/specs/shopify/
admin-2026-04.graphql), so a field listed here is one Shopify really takes.

A field is localizable exactly when Shopify can translate it:
TranslatableResourceType.PRODUCT lists `title`, `body_html`, `handle`,
`product_type`, `meta_title` and `meta_description`. Everything else has one
value for every locale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from app.domain.channels import Capability, ChannelField, ChannelType, ChannelTypeSpec, FieldType
from app.domain.credentials import MIN_SIGNING_SECRET_LENGTH, NOT_IN_A_HEADER

API_VERSION: Final = "2026-04"
"""The Admin API version the adapters speak; the SDL of exactly this version is pinned under specs/."""

PRODUCT_STATUSES: Final = ("ACTIVE", "ARCHIVED", "DRAFT", "UNLISTED")
"""enum ProductStatus of the 2026-04 SDL (UNLISTED exists from 2025-10 on)."""

WEIGHT_UNITS: Final = ("KILOGRAMS", "GRAMS", "POUNDS", "OUNCES")
"""enum WeightUnit of the 2026-04 SDL."""

SCHEMA_PATHS: Final[Mapping[str, tuple[str, ...]]] = {
    "title": ("title",),
    "descriptionHtml": ("descriptionHtml",),
    "handle": ("handle",),
    "productType": ("productType",),
    "vendor": ("vendor",),
    "tags": ("tags",),
    "status": ("status",),
    "seoTitle": ("seo", "title"),
    "seoDescription": ("seo", "description"),
    "price": ("variants", "price"),
    "compareAtPrice": ("variants", "compareAtPrice"),
    "sku": ("variants", "sku"),
    "barcode": ("variants", "barcode"),
    "weight": ("variants", "inventoryItem", "measurement", "weight", "value"),
    "weightUnit": ("variants", "inventoryItem", "measurement", "weight", "unit"),
    "inventoryQuantity": ("variants", "inventoryQuantities", "quantity"),
    "imageUrl": ("files", "originalSource"),
}
"""Where each channel field goes, as field names walked from productSet's ProductSetInput."""

TRANSLATION_KEYS: Final[Mapping[str, str]] = {
    "title": "title",
    "descriptionHtml": "body_html",
    "handle": "handle",
    "productType": "product_type",
    "seoTitle": "meta_title",
    "seoDescription": "meta_description",
}
"""The translationsRegister key of each localizable field (TranslatableResourceType.PRODUCT)."""

CREDENTIALS_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Shopify credentials",
    "description": (
        "An Admin API access token of a custom app installed on one shop. The token needs write_products, "
        "and write_translations / write_inventory when translated or stock fields are mapped."
    ),
    "type": "object",
    "properties": {
        "shopDomain": {
            "title": "Shop domain",
            "description": "The shop's permanent myshopify.com domain (not a custom domain), e.g. my-store.myshopify.com.",
            "type": "string",
            "pattern": r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$",
            "examples": ["my-store.myshopify.com"],
        },
        "accessToken": {
            "title": "Admin API access token",
            "description": "Sent as the X-Shopify-Access-Token header on every Admin API call (visible ASCII only).",
            "type": "string",
            "minLength": 1,
            "not": NOT_IN_A_HEADER,
            "writeOnly": True,
            "format": "password",
        },
        "apiVersion": {
            "title": "API version",
            "description": "The Admin API version the connector speaks; only the pinned version is accepted.",
            "type": "string",
            "const": API_VERSION,
            "default": API_VERSION,
        },
        "webhookSecret": {
            "title": "Webhook secret",
            "description": (
                "The app's client secret, which Shopify uses to sign webhooks (X-Shopify-Hmac-Sha256, "
                "HMAC-SHA256 of the raw body), a long hex string: at least 16 characters. Without it, product "
                "webhooks are not accepted."
            ),
            "type": "string",
            "minLength": MIN_SIGNING_SECRET_LENGTH,
            "writeOnly": True,
            "format": "password",
        },
        "locationId": {
            "title": "Stock location",
            "description": (
                "Global ID of the location whose 'available' quantity inventoryQuantity sets, "
                "e.g. gid://shopify/Location/123; default: the shop's primary location. A variant not "
                "stocked there yet is stocked there, and a variant given a quantity has its inventory tracked."
            ),
            "type": "string",
            "pattern": r"^gid://shopify/Location/[0-9]+$",
        },
    },
    "required": ["shopDomain", "accessToken"],
    "additionalProperties": False,
}

TAG_LENGTH: Final = 255
"""The longest tag Shopify stores (the SDL states it for a customer's tags: "Each tag can have up to 255
characters"). A field's max_length bounds a whole text, so the per-tag limit is kept here (mapper._tags)."""

FIELDS: Final = (
    ChannelField(
        "title",
        FieldType.STRING,
        required=True,
        localizable=True,
        max_length=255,
        description=(
            "productSet input.title; translation key `title`. Needed to create a product. At most 255 "
            "characters, Shopify's product title limit (the SDL's CombinedListingUpdateUserErrorCode."
            "TITLE_TOO_LONG: 'The title cannot be longer than 255 characters')."
        ),
    ),
    ChannelField(
        "descriptionHtml",
        FieldType.HTML,
        localizable=True,
        description="productSet input.descriptionHtml (HTML); translation key `body_html`.",
    ),
    ChannelField(
        "handle",
        FieldType.STRING,
        localizable=True,
        max_length=255,
        description=(
            "productSet input.handle, the URL slug (letters, digits and hyphens; Shopify derives it from the "
            "title when none is sent); translation key `handle`. At most 255 characters, as Shopify stores it."
        ),
    ),
    ChannelField(
        "productType",
        FieldType.STRING,
        localizable=True,
        max_length=255,
        description=(
            "productSet input.productType, the merchant's own product type; translation key `product_type`. "
            "At most 255 characters, as Shopify stores it."
        ),
    ),
    ChannelField(
        "vendor",
        FieldType.STRING,
        max_length=255,
        description="productSet input.vendor; not translatable. At most 255 characters, as Shopify stores it.",
    ),
    ChannelField(
        "tags",
        FieldType.STRING_LIST,
        description=(
            "productSet input.tags; sending tags replaces every tag the product had (SDL). At most 255 characters "
            "a tag (TAG_LENGTH)."
        ),
    ),
    ChannelField(
        "status",
        FieldType.ENUM,
        choices=PRODUCT_STATUSES,
        description="productSet input.status, enum ProductStatus.",
    ),
    ChannelField(
        "seoTitle",
        FieldType.STRING,
        localizable=True,
        max_length=70,
        description=(
            "productSet input.seo.title (SEOInput.title); translation key `meta_title`. 70 characters is what "
            "the Shopify admin's search engine listing takes (Shopify Help Center, 'Adding keywords for SEO'); "
            "the SDL itself states no limit."
        ),
    ),
    ChannelField(
        "seoDescription",
        FieldType.STRING,
        localizable=True,
        max_length=320,
        description=(
            "productSet input.seo.description (SEOInput.description); translation key `meta_description`. "
            "320 characters is what the Shopify admin takes (Shopify Help Center); the SDL states no limit."
        ),
    ),
    ChannelField(
        "price",
        FieldType.DECIMAL,
        description=(
            "productSet input.variants[0].price (Money: a decimal string in the shop's currency); less than "
            "10^18, which Shopify refuses ('Price must be less than 1000000000000000000')."
        ),
    ),
    ChannelField(
        "compareAtPrice",
        FieldType.DECIMAL,
        description=(
            "productSet input.variants[0].compareAtPrice (Money): the struck-through 'was' price; less than 10^18."
        ),
    ),
    ChannelField(
        "sku",
        FieldType.STRING,
        max_length=255,
        description=(
            "productSet input.variants[0].sku (case-sensitive). Products are matched by SKU, so when this "
            "field is not mapped the adapter sends the PIM SKU. At most 255 characters ('SKU is too long "
            "(maximum is 255 characters)'), the PIM SKU sent in its place too."
        ),
    ),
    ChannelField(
        "barcode",
        FieldType.STRING,
        max_length=255,
        description=(
            "productSet input.variants[0].barcode (UPC, EAN, ISBN ...). At most 255 characters (the SDL's "
            "BARCODE_TOO_LONG: 'Barcode must be 255 characters or less')."
        ),
    ),
    ChannelField(
        "weight",
        FieldType.DECIMAL,
        description=(
            "productSet input.variants[0].inventoryItem.measurement.weight.value (Float), in weightUnit; "
            "WeightInput takes a value only together with a unit. A weight converted by its mapping "
            "(convertUnit KILOGRAM, GRAM, POUND or OUNCE) goes with that unit as weightUnit."
        ),
        unit_field="weightUnit",
        units=(("KILOGRAM", "KILOGRAMS"), ("GRAM", "GRAMS"), ("POUND", "POUNDS"), ("OUNCE", "OUNCES")),
    ),
    ChannelField(
        "weightUnit",
        FieldType.ENUM,
        choices=WEIGHT_UNITS,
        description="productSet input.variants[0].inventoryItem.measurement.weight.unit, enum WeightUnit.",
    ),
    ChannelField(
        "inventoryQuantity",
        FieldType.INTEGER,
        description=(
            "productSet input.variants[0].inventoryQuantities[].quantity with name 'available', at the "
            "credentials' locationId or else the shop's primary location."
        ),
    ),
    ChannelField(
        "imageUrl",
        FieldType.URL,
        description=(
            "The product's featured image, from an external URL Shopify downloads: productSet "
            "input.files[].originalSource (contentType IMAGE) on create; on update a new media is added "
            "(productUpdate media) and moved first, and the connector's earlier image taken off. Media the "
            "merchant added on Shopify are never touched."
        ),
    ),
)

SPEC: Final = ChannelTypeSpec(
    type=ChannelType.SHOPIFY,
    display_name="Shopify",
    capabilities=(
        Capability.PRODUCTS_EXPORT,
        Capability.PRODUCTS_IMPORT,
        Capability.TRANSLATIONS,
        Capability.INVENTORY,
        Capability.PRICES,
        Capability.WEBHOOKS,
    ),
    credentials_schema=CREDENTIALS_SCHEMA,
    fields=FIELDS,
    # The shop's locales (shopLocales) and currency are read at the connection test.
    supported_locales=None,
    currencies=None,
    # productSet takes one product per call.
    batch_size=1,
    # Admin GraphQL is cost-throttled: a Standard shop regains 100 points per second and a mutation costs
    # at least 10, so 5 productSet calls a second leaves room for translationsRegister and reads; the
    # throttleStatus of each answer then tunes the shared bucket.
    requests_per_second=5.0,
)
