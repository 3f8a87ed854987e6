"""WooCommerce as a channel type: product fields, credentials and limits of the REST API v3 (wc/v3).

WooCommerce publishes no machine-readable API description, so the fields are
taken from the product schema the REST API serves itself
(WC_REST_Products_Controller::get_item_schema in woocommerce/woocommerce,
plugins/woocommerce/includes/rest-api/Controllers/Version3/
class-wc-rest-products-controller.php) and the REST API docs
(woocommerce.github.io/woocommerce-rest-api-docs, "Product properties"), and
checked against the wc/v3 payloads in /work/shared/data/
woocommerce_rest_fixtures_ios/product.json.

WooCommerce core is not multilingual: a store has one language, so no field
is localizable and the store's one locale is learned at the connection test.
Money and measures travel as decimal strings, as the schema types them.
"""

from __future__ import annotations

from typing import Any, Final

from app.domain.channels import Capability, ChannelField, ChannelType, ChannelTypeSpec, FieldType
from app.domain.credentials import MIN_SIGNING_SECRET_LENGTH

STATUSES: Final = ("draft", "pending", "private", "publish")
"""Post statuses a product can be written with (get_post_statuses()); the schema also accepts future, auto-draft
and trash, which are WordPress workflow states rather than catalog data, so they are not offered."""

CATALOG_VISIBILITIES: Final = ("visible", "catalog", "search", "hidden")
TAX_STATUSES: Final = ("taxable", "shipping", "none")
STOCK_STATUSES: Final = ("instock", "outofstock", "onbackorder")
BACKORDERS: Final = ("no", "notify", "yes")

CREDENTIALS_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "WooCommerce credentials",
    "description": (
        "A REST API key of the store (WooCommerce > Settings > Advanced > REST API) with Read/Write "
        "permission; requests use HTTP Basic authentication over HTTPS."
    ),
    "type": "object",
    "properties": {
        "storeUrl": {
            "title": "Store URL",
            "description": "The WordPress site's address; the API lives under {storeUrl}/wp-json/wc/v3/.",
            "type": "string",
            "format": "uri",
            "pattern": "^https?://",
            "examples": ["https://shop.example.com"],
        },
        "consumerKey": {
            "title": "Consumer key",
            "description": "The key's public half, starting with ck_.",
            "type": "string",
            "pattern": "^ck_[0-9a-f]{40}$",
        },
        "consumerSecret": {
            "title": "Consumer secret",
            "description": "The key's secret half, starting with cs_.",
            "type": "string",
            "pattern": "^cs_[0-9a-f]{40}$",
            "writeOnly": True,
            "format": "password",
        },
        "webhookSecret": {
            "title": "Webhook secret",
            "description": (
                "The secret of the store's product webhooks, which WooCommerce uses to sign each delivery "
                "(X-WC-Webhook-Signature, base64 HMAC-SHA256 of the raw body): at least 16 characters (WooCommerce "
                "generates a long one when the field is left blank). Without it, product webhooks are not accepted."
            ),
            "type": "string",
            "minLength": MIN_SIGNING_SECRET_LENGTH,
            "writeOnly": True,
            "format": "password",
        },
    },
    "required": ["storeUrl", "consumerKey", "consumerSecret"],
    "additionalProperties": False,
}

FIELDS: Final = (
    ChannelField("name", FieldType.STRING, required=True, description="Product name (products name)."),
    ChannelField(
        "slug", FieldType.STRING, description="Product slug (products slug); WordPress derives one when empty."
    ),
    ChannelField("description", FieldType.HTML, description="Product description (products description, HTML)."),
    ChannelField(
        "short_description",
        FieldType.HTML,
        description="Product short description (products short_description, HTML).",
    ),
    ChannelField(
        "sku",
        FieldType.STRING,
        description=(
            "Stock Keeping Unit (products sku), unique in the store. Products are matched by SKU, so when "
            "this field is not mapped the adapter sends the PIM SKU."
        ),
    ),
    ChannelField(
        "global_unique_id",
        FieldType.STRING,
        description="GTIN, UPC, EAN or ISBN (products global_unique_id, WooCommerce 9.2 and later).",
    ),
    ChannelField(
        "regular_price",
        FieldType.DECIMAL,
        description="Product regular price (products regular_price, a decimal string in the store currency).",
    ),
    ChannelField(
        "sale_price",
        FieldType.DECIMAL,
        description="Product sale price (products sale_price, a decimal string); empty ends the sale.",
    ),
    ChannelField(
        "date_on_sale_from",
        FieldType.DATE,
        description="Start of the sale price, in the site's timezone (products date_on_sale_from).",
    ),
    ChannelField(
        "date_on_sale_to",
        FieldType.DATE,
        description="End of the sale price, in the site's timezone (products date_on_sale_to).",
    ),
    ChannelField(
        "status",
        FieldType.ENUM,
        choices=STATUSES,
        description="Product status, the WordPress post status (products status).",
    ),
    ChannelField(
        "catalog_visibility",
        FieldType.ENUM,
        choices=CATALOG_VISIBILITIES,
        description="Where the product shows in the shop (products catalog_visibility).",
    ),
    ChannelField("featured", FieldType.BOOLEAN, description="Featured product (products featured)."),
    ChannelField("tax_status", FieldType.ENUM, choices=TAX_STATUSES, description="Tax status (products tax_status)."),
    ChannelField("tax_class", FieldType.STRING, description="Tax class slug (products tax_class); empty: standard."),
    ChannelField(
        "manage_stock",
        FieldType.BOOLEAN,
        description="Stock management at product level (products manage_stock); stock_quantity needs it on.",
    ),
    ChannelField(
        "stock_quantity",
        FieldType.INTEGER,
        description="Stock quantity (products stock_quantity), used when manage_stock is on.",
    ),
    ChannelField(
        "stock_status",
        FieldType.ENUM,
        choices=STOCK_STATUSES,
        description="Stock status (products stock_status), used when manage_stock is off.",
    ),
    ChannelField(
        "backorders",
        FieldType.ENUM,
        choices=BACKORDERS,
        description="Whether backorders are allowed when managing stock (products backorders).",
    ),
    ChannelField(
        "weight",
        FieldType.DECIMAL,
        description="Product weight (products weight, a decimal string in the store's weight unit).",
    ),
    ChannelField(
        "length",
        FieldType.DECIMAL,
        description="Product length (products dimensions.length, in the store's dimension unit).",
    ),
    ChannelField(
        "width",
        FieldType.DECIMAL,
        description="Product width (products dimensions.width, in the store's dimension unit).",
    ),
    ChannelField(
        "height",
        FieldType.DECIMAL,
        description="Product height (products dimensions.height, in the store's dimension unit).",
    ),
    ChannelField("shipping_class", FieldType.STRING, description="Shipping class slug (products shipping_class)."),
    ChannelField(
        "categories",
        FieldType.STRING_LIST,
        description=(
            "Category slugs (products categories). The API takes category ids, so the adapter looks each "
            "slug up in products/categories; an unknown slug fails the product."
        ),
    ),
    ChannelField(
        "tags",
        FieldType.STRING_LIST,
        description=(
            "Tag names (products tags). The API takes tag ids, so the adapter finds or creates each tag "
            "in products/tags."
        ),
    ),
    ChannelField(
        "image_url",
        FieldType.URL,
        description="Main image URL (products images[0].src); WordPress sideloads it into the media library.",
    ),
)

SPEC: Final = ChannelTypeSpec(
    type=ChannelType.WOOCOMMERCE,
    display_name="WooCommerce",
    capabilities=(
        Capability.PRODUCTS_EXPORT,
        Capability.PRODUCTS_IMPORT,
        Capability.INVENTORY,
        Capability.PRICES,
        Capability.WEBHOOKS,
    ),
    credentials_schema=CREDENTIALS_SCHEMA,
    fields=FIELDS,
    # One store language (the WordPress site language), learned at the connection test.
    supported_locales=None,
    # The store currency (woocommerce_currency setting) is learned at the connection test.
    currencies=None,
    # POST products/batch takes up to 100 objects across create, update and delete (REST API docs, "Batch").
    batch_size=100,
    # The REST API has no rate limit of its own; the host's capacity is the limit, and a batch of 100 is
    # heavy for PHP, so start gently and let 429/503 with Retry-After adjust.
    requests_per_second=2.0,
)
