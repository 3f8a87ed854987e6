"""Every channel type's spec, looked up by ChannelType.

Each adapter package declares its ChannelTypeSpec in its spec.py; this module
only collects them, so mapping validation, export preview and the GraphQL
`channelTypes` query all read the same declarations. Importing it imports no
adapter, client or HTTP code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from app.channels.amazon.spec import SPEC as AMAZON
from app.channels.custom_http.spec import SPEC as CUSTOM_HTTP
from app.channels.easy_orders.spec import SPEC as EASY_ORDERS
from app.channels.ebay.spec import SPEC as EBAY
from app.channels.salla.spec import SPEC as SALLA
from app.channels.shopify.mapper import known_refusals
from app.channels.shopify.spec import SPEC as SHOPIFY
from app.channels.woocommerce.spec import SPEC as WOOCOMMERCE
from app.domain.channels import ChannelType, ChannelTypeSpec
from app.domain.errors import UserErrorItem

RefusalCheck = Callable[
    [Mapping[str, Any], Mapping[str, Mapping[str, Any]], str | None], list[tuple[str | None, UserErrorItem]]
]
"""(a product's fields, each channel locale's values, the store's primary locale if known) -> (channel locale, or
None for the product's fields; problem) the channel will refuse, knowable without asking the store."""


def _by_type(*specs: ChannelTypeSpec) -> Mapping[ChannelType, ChannelTypeSpec]:
    """Index the specs, refusing a duplicate or a missing type at import time rather than at the first lookup."""
    table = {spec.type: spec for spec in specs}
    if len(table) != len(specs) or set(table) != set(ChannelType):
        raise RuntimeError("every ChannelType needs exactly one ChannelTypeSpec")
    return MappingProxyType({channel_type: table[channel_type] for channel_type in ChannelType})


CHANNEL_TYPES: Final[Mapping[ChannelType, ChannelTypeSpec]] = _by_type(
    SHOPIFY, WOOCOMMERCE, AMAZON, EBAY, SALLA, EASY_ORDERS, CUSTOM_HTTP
)


def channel_type_spec(channel_type: ChannelType) -> ChannelTypeSpec:
    """The spec of `channel_type`; every ChannelType has one, so this never fails for a ChannelType."""
    return CHANNEL_TYPES[channel_type]


def all_channel_types() -> list[ChannelTypeSpec]:
    """Every spec, in ChannelType declaration order (the order the GraphQL contract lists them)."""
    return list(CHANNEL_TYPES.values())


_REFUSAL_CHECKS: Final[Mapping[ChannelType, RefusalCheck]] = MappingProxyType({ChannelType.SHOPIFY: known_refusals})


def refusal_check(channel_type: ChannelType) -> RefusalCheck | None:
    """The channel type's check of a product's documents for what it will refuse before anything is sent (a value
    it has no empty form for, a translation with no primary-locale text to translate), if it has rules of its own
    beyond its fields' types and lengths."""
    return _REFUSAL_CHECKS.get(channel_type)
