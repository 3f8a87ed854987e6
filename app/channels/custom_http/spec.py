"""CUSTOM_HTTP as a channel type: the fixed field catalog, credentials and limits of the signed JSON protocol.

The protocol (/work/shared/CUSTOM_HTTP.md) carries whatever channel fields a
connector maps: `fields` holds the non-localizable ones and `locales` the
localizable ones per channel locale. The catalog is nonetheless fixed, so
that mappings are validated like any other channel's and a shop knows every
field name it may receive; these are the generic fields of an online shop.
"""

from __future__ import annotations

from typing import Any, Final

from app.domain.channels import Capability, ChannelField, ChannelType, ChannelTypeSpec, FieldType
from app.domain.credentials import MIN_SIGNING_SECRET_LENGTH, NOT_IN_A_HEADER

STATUSES: Final = ("active", "draft", "archived")

MAX_BASE_URL_LENGTH: Final = 2048
"""Far past any real endpoint's address, and below what HTTP servers and proxies commonly accept in a request
line (the endpoint paths are appended to it)."""

CREDENTIALS_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Custom HTTP shop credentials",
    "description": (
        "Where the shop's CUSTOM_HTTP endpoints live and the secret both sides sign requests with "
        "(X-Pimsync-Signature: sha256=HMAC-SHA256(secret, timestamp + '.' + body))."
    ),
    "type": "object",
    "properties": {
        "baseUrl": {
            "title": "Base URL",
            "description": "Absolute http(s) URL the endpoints hang off: {baseUrl}/info, {baseUrl}/products/batch ...",
            "type": "string",
            "format": "uri",
            # What the adapter can use (client.CustomHttpCredentials.parse): a host without user or password, a
            # path without spaces, no query or fragment (endpoint paths are appended to it). Checked here, a URL
            # it could never use is a userError that changes nothing, not a stored credential failing its test.
            "pattern": "^https?://[^/?#@\\s]+(/[^?#\\s]*)?$",
            "maxLength": MAX_BASE_URL_LENGTH,
            "examples": ["https://shop.example.com/pim-bridge"],
        },
        "signingSecret": {
            "title": "Signing secret",
            "description": "Shared HMAC-SHA256 key for request and webhook signatures, at least 16 characters.",
            "type": "string",
            "minLength": MIN_SIGNING_SECRET_LENGTH,
            "writeOnly": True,
            "format": "password",
        },
        "apiKey": {
            "title": "API key",
            "description": "Optional; sent as Authorization: Bearer <apiKey> when given (visible ASCII only).",
            "type": "string",
            "minLength": 1,
            "not": NOT_IN_A_HEADER,
            "writeOnly": True,
            "format": "password",
        },
    },
    "required": ["baseUrl", "signingSecret"],
    "additionalProperties": False,
}

FIELDS: Final = (
    ChannelField(
        "title",
        FieldType.STRING,
        required=True,
        localizable=True,
        description="Product title, per channel locale (locales.<locale>.title).",
    ),
    ChannelField(
        "description",
        FieldType.HTML,
        localizable=True,
        description="Product description as HTML, per channel locale (locales.<locale>.description).",
    ),
    ChannelField("price", FieldType.DECIMAL, description="Selling price as a decimal string (fields.price)."),
    ChannelField(
        "compareAtPrice",
        FieldType.DECIMAL,
        description="Former price shown struck through, as a decimal string (fields.compareAtPrice).",
    ),
    ChannelField("barcode", FieldType.STRING, description="GTIN, EAN, UPC or ISBN (fields.barcode)."),
    ChannelField("vendor", FieldType.STRING, description="Brand or maker (fields.vendor)."),
    ChannelField("tags", FieldType.STRING_LIST, description="Keywords, as a JSON array of strings (fields.tags)."),
    ChannelField("status", FieldType.ENUM, choices=STATUSES, description="Publication state (fields.status)."),
    ChannelField("weight", FieldType.DECIMAL, description="Shipping weight as a decimal string (fields.weight)."),
    ChannelField("quantity", FieldType.INTEGER, description="Stock on hand (fields.quantity)."),
    ChannelField("imageUrl", FieldType.URL, description="Main image URL (fields.imageUrl)."),
)

SPEC: Final = ChannelTypeSpec(
    type=ChannelType.CUSTOM_HTTP,
    display_name="Custom HTTP",
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
    # GET {baseUrl}/info answers supportedLocales.
    supported_locales=None,
    currencies=None,
    # POST {baseUrl}/products/batch takes at most 100 products.
    batch_size=100,
    # The protocol sets no rate; the shop answers 429 with Retry-After when it is overloaded.
    requests_per_second=5.0,
)
