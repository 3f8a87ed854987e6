"""Salla as a channel type: product fields, credentials and limits of the Salla Merchant API v2.

Salla publishes no machine-readable API description here; the fields are
those of its public documentation (docs.salla.dev): "Create Product"
(POST /admin/v2/products), "Update Product" (PUT /products/{product}) and
"Update Product By SKU" (PUT /products/sku/{sku}), which mark `name` and
`description` "🌐 Support multi-language". Those two are the localizable
fields; their translations are written per language with the
Content-Language header ("Multi-Language Support": Salla stores speak
Arabic, the default, and English). Prices are plain numbers in the store's
currency (the product payloads show {"amount": ..., "currency": "SAR"}).
"""

from __future__ import annotations

from typing import Any, Final

from app.domain.channels import Capability, ChannelField, ChannelType, ChannelTypeSpec, FieldType

STATUSES: Final = ("hidden", "sale", "out")
"""Product status values Create Product accepts ('hidden', 'sale', 'out')."""

PRODUCT_TYPES: Final = ("product", "service", "group_products", "codes", "digital", "food", "donating")
"""Product type values Create Product accepts; a product's type cannot change once created."""

CREDENTIALS_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Salla credentials",
    "description": (
        "OAuth 2.0 tokens a Salla app received for one merchant store (accounts.salla.sa). With the app's client "
        "ID and secret the connector refreshes the access token itself before it expires."
    ),
    "type": "object",
    "properties": {
        "accessToken": {
            "title": "Access token",
            "description": "Bearer token for https://api.salla.dev/admin/v2, granted with the products read and write scope.",
            "type": "string",
            "minLength": 1,
            "writeOnly": True,
            "format": "password",
        },
        "refreshToken": {
            "title": "Refresh token",
            "description": "Exchanged for a new access token (grant_type refresh_token); needs clientId and clientSecret.",
            "type": "string",
            "minLength": 1,
            "writeOnly": True,
            "format": "password",
        },
        "clientId": {
            "title": "Client ID",
            "description": "The Salla app's OAuth client ID (Salla Partners portal).",
            "type": "string",
            "minLength": 1,
        },
        "clientSecret": {
            "title": "Client secret",
            "description": "The Salla app's OAuth client secret.",
            "type": "string",
            "minLength": 1,
            "writeOnly": True,
            "format": "password",
        },
        "webhookSecret": {
            "title": "Webhook secret",
            "description": "The app's webhook secret, which signs Salla's webhook deliveries (X-Salla-Signature, HMAC-SHA256).",
            "type": "string",
            "minLength": 1,
            "writeOnly": True,
            "format": "password",
        },
    },
    "required": ["accessToken"],
    "dependentRequired": {"refreshToken": ["clientId", "clientSecret"]},
    "additionalProperties": False,
}

FIELDS: Final = (
    ChannelField(
        "name",
        FieldType.STRING,
        required=True,
        localizable=True,
        description="Product name (name; required by Create Product; multi-language).",
    ),
    ChannelField(
        "description",
        FieldType.HTML,
        localizable=True,
        description="Product description (description, HTML; multi-language).",
    ),
    ChannelField(
        "price",
        FieldType.DECIMAL,
        required=True,
        description="Product price in the store currency (price; required by Create Product).",
    ),
    ChannelField("sale_price", FieldType.DECIMAL, description="Discounted price (sale_price)."),
    ChannelField("cost_price", FieldType.DECIMAL, description="What the merchant pays for the product (cost_price)."),
    ChannelField("sale_end", FieldType.DATE, description="Last day of the sale price, YYYY-MM-DD (sale_end)."),
    ChannelField(
        "sku",
        FieldType.STRING,
        description=(
            "Stock Keeping Unit (sku). Products are matched by SKU (Product Details By SKU), so when this field "
            "is not mapped the adapter sends the PIM SKU."
        ),
    ),
    ChannelField("mpn", FieldType.STRING, description="Manufacturer part number (mpn)."),
    ChannelField("gtin", FieldType.STRING, description="Global Trade Item Number (gtin)."),
    ChannelField(
        "quantity",
        FieldType.INTEGER,
        description="Stock (quantity); a product created without one is set to status out.",
    ),
    ChannelField(
        "status",
        FieldType.ENUM,
        choices=STATUSES,
        description="Product status (status); a product without an image stays hidden whatever is sent.",
    ),
    ChannelField(
        "product_type",
        FieldType.ENUM,
        choices=PRODUCT_TYPES,
        description=(
            "Product type (product_type), read only when the product is created; when not mapped the adapter "
            "creates products of type 'product'."
        ),
    ),
    ChannelField("weight", FieldType.DECIMAL, description="Product weight (weight), in weight_type."),
    ChannelField("weight_type", FieldType.STRING, description="Unit of weight (weight_type), e.g. kg."),
    ChannelField("require_shipping", FieldType.BOOLEAN, description="Whether the product ships (require_shipping)."),
    ChannelField("subtitle", FieldType.STRING, description="Line shown under the name (subtitle)."),
    ChannelField("promotion_title", FieldType.STRING, description="Promotion badge text, e.g. New (promotion_title)."),
    ChannelField("metadata_title", FieldType.STRING, description="SEO page title (metadata_title)."),
    ChannelField("metadata_description", FieldType.STRING, description="SEO meta description (metadata_description)."),
    ChannelField(
        "image_url",
        FieldType.URL,
        description="Main image URL (images[].original with default true); Salla lists a product only once it has one.",
    ),
)

SPEC: Final = ChannelTypeSpec(
    type=ChannelType.SALLA,
    display_name="Salla",
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
    # Arabic (Salla's default Accept-Language) and English.
    supported_locales=("ar", "en"),
    # Prices are in the store's currency (GET /store/info, currency), learned at the connection test.
    currencies=None,
    # Create and update take one product per request.
    batch_size=1,
    # "Rate Limiting": 60, 120 or 180 requests a minute depending on the store's plan (leaky bucket); start at
    # the lowest plan's 60 and let X-RateLimit-Limit raise it.
    requests_per_second=1.0,
)
