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
from app.channels.shopify.mapper import untranslatable
from app.channels.shopify.spec import SPEC as SHOPIFY
from app.channels.woocommerce.spec import SPEC as WOOCOMMERCE
from app.domain.channels import ChannelType, ChannelTypeSpec
from app.domain.errors import UserErrorItem

PrimaryLocaleCheck = Callable[[Mapping[str, Mapping[str, Any]], str], list[tuple[str, UserErrorItem]]]
"""(each channel locale's values, the store's primary locale) -> (channel locale, problem) the channel will refuse
because of what its primary locale holds, knowable without asking the store."""


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


_PRIMARY_LOCALE_CHECKS: Final[Mapping[ChannelType, PrimaryLocaleCheck]] = MappingProxyType(
    {ChannelType.SHOPIFY: untranslatable}
)


def primary_locale_check(channel_type: ChannelType) -> PrimaryLocaleCheck | None:
    """The channel type's check of a product's locales against the store's primary locale, if it translates from
    one (Shopify registers each other locale as a translation of the primary locale's text)."""
    return _PRIMARY_LOCALE_CHECKS.get(channel_type)
