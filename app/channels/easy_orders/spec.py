"""Easy Orders as a channel type: product fields, credentials and limits of its public API.

Easy Orders publishes its API as prose (eazyorders/public-api-docs, "Create
Product API", "update Product API", "Update Product Stock API", "Rate Limit
Policy", "Webhooks"): products live under
https://api.easy-orders.net/api/v1/external-apps/products, one per request,
authenticated by an Api-Key header. A store has one language and the API has
no translations, so no field is localizable; prices are plain numbers in the
store's currency. Its webhooks report orders only, never product changes, so
the connector takes no webhook secret.
"""

from __future__ import annotations

from typing import Any, Final

from app.domain.channels import Capability, ChannelField, ChannelType, ChannelTypeSpec, FieldType

CREDENTIALS_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Easy Orders credentials",
    "description": (
        "A Public API key created in the seller dashboard (Public API > Create New API Key) with the "
        "products:read, products:create and products:update permissions."
    ),
    "type": "object",
    "properties": {
        "apiKey": {
            "title": "API key",
            "description": "Sent as the Api-Key header; shown once when created.",
            "type": "string",
            "minLength": 1,
            "writeOnly": True,
            "format": "password",
        },
    },
    "required": ["apiKey"],
    "additionalProperties": False,
}

FIELDS: Final = (
    ChannelField("name", FieldType.STRING, required=True, description="Product name (name)."),
    ChannelField("description", FieldType.HTML, description="Product description (description, HTML)."),
    ChannelField("price", FieldType.DECIMAL, required=True, description="Original price (price)."),
    ChannelField("sale_price", FieldType.DECIMAL, description="Sale price (sale_price); 0 means no sale."),
    ChannelField(
        "sku",
        FieldType.STRING,
        description=(
            "The seller's SKU (sku), also the key of the stock endpoint PATCH /products/:sku/quantity. Products "
            "are matched by SKU, so when this field is not mapped the adapter sends the PIM SKU."
        ),
    ),
    ChannelField(
        "slug",
        FieldType.STRING,
        description="URL slug (slug); Easy Orders requires it to be in English and unique in the store.",
    ),
    ChannelField("thumb", FieldType.URL, description="Main image URL (thumb)."),
    ChannelField(
        "quantity",
        FieldType.INTEGER,
        description="Stock, 0 or more (PATCH /products/:sku/quantity, body quantity).",
    ),
    ChannelField("is_free_shipping", FieldType.BOOLEAN, description="Ships for free (is_free_shipping)."),
)

SPEC: Final = ChannelTypeSpec(
    type=ChannelType.EASY_ORDERS,
    display_name="Easy Orders",
    capabilities=(
        Capability.PRODUCTS_EXPORT,
        Capability.PRODUCTS_IMPORT,
        Capability.INVENTORY,
        Capability.PRICES,
    ),
    credentials_schema=CREDENTIALS_SCHEMA,
    fields=FIELDS,
    # One store language, which the API does not expose: the connector's locale mapping names it.
    supported_locales=None,
    # The store's currency; the API does not expose it either.
    currencies=None,
    # Create and update take one product per request.
    batch_size=1,
    # "Rate Limit Policy": 40 requests per minute; a 429 means wait for the next minute.
    requests_per_second=40 / 60,
)
