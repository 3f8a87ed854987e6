"""What a channel type is: its fields, capabilities and credentials, as data (pure).

Each adapter package under app/channels/ declares one ChannelTypeSpec, taken
from the channel's official API description; app/channels/registry.py
collects them. Mapping validation, export preview and the GraphQL
`channelTypes` query all read these, so a field exists for a channel exactly
when its spec lists it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from app.domain.catalog import AttributeType


class ChannelType(StrEnum):
    SHOPIFY = "SHOPIFY"
    WOOCOMMERCE = "WOOCOMMERCE"
    AMAZON = "AMAZON"
    EBAY = "EBAY"
    SALLA = "SALLA"
    EASY_ORDERS = "EASY_ORDERS"
    CUSTOM_HTTP = "CUSTOM_HTTP"


class Capability(StrEnum):
    PRODUCTS_EXPORT = "PRODUCTS_EXPORT"
    PRODUCTS_IMPORT = "PRODUCTS_IMPORT"
    TRANSLATIONS = "TRANSLATIONS"
    INVENTORY = "INVENTORY"
    PRICES = "PRICES"
    ORDERS = "ORDERS"
    FULFILLMENT = "FULFILLMENT"
    WEBHOOKS = "WEBHOOKS"


class FieldType(StrEnum):
    """The shape a channel field takes on the wire."""

    STRING = "string"
    HTML = "html"
    DECIMAL = "decimal"
    """Money and measures: sent as an exact decimal string unless a transformation formats it."""
    INTEGER = "integer"
    BOOLEAN = "boolean"
    STRING_LIST = "string_list"
    ENUM = "enum"
    """One of `ChannelField.choices`."""
    URL = "url"
    DATE = "date"


"""Which PIM attribute types can feed which channel field types without a type mismatch (CHN-011)."""
COMPATIBLE_TYPES: Mapping[FieldType, frozenset[AttributeType]] = {
    FieldType.STRING: frozenset(
        {
            AttributeType.TEXT,
            AttributeType.TEXTAREA,
            AttributeType.IDENTIFIER,
            AttributeType.SELECT,
            AttributeType.NUMBER,
            AttributeType.DATE,
            AttributeType.PRICE,
            AttributeType.METRIC,
        }
    ),
    FieldType.HTML: frozenset({AttributeType.TEXT, AttributeType.TEXTAREA, AttributeType.IDENTIFIER}),
    FieldType.DECIMAL: frozenset({AttributeType.NUMBER, AttributeType.PRICE, AttributeType.METRIC}),
    FieldType.INTEGER: frozenset({AttributeType.NUMBER}),
    FieldType.BOOLEAN: frozenset({AttributeType.BOOLEAN}),
    FieldType.STRING_LIST: frozenset(
        {AttributeType.MULTISELECT, AttributeType.SELECT, AttributeType.TEXT, AttributeType.IDENTIFIER}
    ),
    FieldType.ENUM: frozenset({AttributeType.SELECT, AttributeType.BOOLEAN, AttributeType.TEXT}),
    FieldType.URL: frozenset({AttributeType.IMAGE, AttributeType.FILE, AttributeType.TEXT}),
    FieldType.DATE: frozenset({AttributeType.DATE}),
}


@dataclass(frozen=True, slots=True)
class ChannelField:
    """One field a channel accepts for a product (or its single variant)."""

    name: str
    type: FieldType
    required: bool = False
    localizable: bool = False
    """Varies per channel locale (translated), as opposed to one value for every locale."""
    max_length: int | None = None
    choices: tuple[str, ...] = ()
    description: str = ""
    unit_field: str | None = None
    """For a measure's amount (Shopify's weight): the field naming the unit it is in (weightUnit)."""
    units: tuple[tuple[str, str], ...] = ()
    """(a convertUnit unit, unit_field's code for it): an amount a mapping converts to one goes with that code."""


@dataclass(frozen=True, slots=True)
class ChannelTypeSpec:
    """Everything the service knows about a channel type before it talks to a store."""

    type: ChannelType
    display_name: str
    capabilities: tuple[Capability, ...]
    credentials_schema: Mapping[str, Any]
    """JSON Schema (draft 2020-12) of the credentials object."""
    fields: tuple[ChannelField, ...]
    supported_locales: tuple[str, ...] | None = None
    """Channel locale codes the channel type can take at all; None: the store tells (connection test)."""
    currencies: tuple[str, ...] | None = None
    """ISO 4217 codes the channel accepts; None: any."""
    batch_size: int = 1
    """Most products one write request may carry."""
    requests_per_second: float = 2.0
    """Default rate limit, before the channel's own signals adjust it."""
    by_name: Mapping[str, ChannelField] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    def get_field(self, name: str) -> ChannelField | None:
        return self.by_name.get(name)


def downloadable(text: str) -> bool:
    """What a URL field takes: an address a channel fetches an image or a file from, absolute http(s) with a host.
    A path in the PIM's own file store (Akeneo's "files/1111111171/image/bag.jpg") is not one, nor an address
    relative to a page."""
    try:
        parts = urlsplit(text)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
