"""Building a connector's adapter from its channel type and decrypted credentials.

The outbound-URL policy is applied here, once, for every channel whose
address the user configures, so no adapter can forget it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx
from redis.asyncio import Redis

from app.channels.base import ChannelAdapter, CredentialsRejected, RateGate
from app.channels.custom_http.adapter import CustomHttpAdapter
from app.channels.outbound import UnsafeUrl, check_outbound_url
from app.channels.rate_limit import CappedGate, RateLimit, RedisTokenBucket, request_cap_key
from app.channels.registry import channel_type_spec
from app.channels.shopify.adapter import ShopifyAdapter
from app.domain.channels import ChannelType
from app.settings import Settings

"""The credentials field holding the address the user chose, per channel type."""
USER_URL_FIELDS: Mapping[ChannelType, str] = {ChannelType.CUSTOM_HTTP: "baseUrl"}


class AdapterUnavailable(Exception):
    """This version has no adapter for the channel type yet."""


def _custom_http(
    credentials: Mapping[str, Any], http: httpx.AsyncClient, settings: Settings, gate: RateGate | None, _: str | None
) -> ChannelAdapter:
    return CustomHttpAdapter(credentials, http, timeout=settings.http_timeout_seconds, gate=gate)


def _shopify(
    credentials: Mapping[str, Any],
    http: httpx.AsyncClient,
    settings: Settings,
    gate: RateGate | None,
    connector: str | None,
) -> ChannelAdapter:
    endpoint = None
    if settings.shopify_admin_url:
        endpoint = settings.shopify_admin_url.replace("{shop}", str(credentials.get("shopDomain", "")))
    return ShopifyAdapter(
        credentials, http, timeout=settings.http_timeout_seconds, gate=gate, endpoint=endpoint, connector=connector
    )


AdapterBuilder = Callable[[Mapping[str, Any], httpx.AsyncClient, Settings, RateGate | None, str | None], ChannelAdapter]
_BUILDERS: Mapping[ChannelType, AdapterBuilder] = {ChannelType.CUSTOM_HTTP: _custom_http, ChannelType.SHOPIFY: _shopify}

CONNECTABLE: frozenset[ChannelType] = frozenset(_BUILDERS)
"""The channel types this version has an adapter for: a connector of another is created DISCONNECTED and never
syncs (channelTypes' `available` says which, for a form to offer)."""


async def build_adapter(
    channel_type: ChannelType,
    credentials: Mapping[str, Any],
    *,
    http: httpx.AsyncClient,
    settings: Settings,
    gate: RateGate | None = None,
    connector: str | None = None,
) -> ChannelAdapter:
    """The adapter for one connector (`connector`, its public id; None for credentials not yet a connector's);
    CredentialsRejected when its address is not allowed, AdapterUnavailable for a channel type not CONNECTABLE."""
    url_field = USER_URL_FIELDS.get(channel_type)
    if url_field is not None:
        try:
            await check_outbound_url(str(credentials.get(url_field, "")), allow_private=settings.allow_private_urls)
        except UnsafeUrl as exc:
            raise CredentialsRejected(f"{url_field}: {exc}") from None
    builder = _BUILDERS.get(channel_type)
    if builder is None:
        raise AdapterUnavailable(f"connecting to {channel_type} is not available in this version yet")
    return builder(credentials, http, settings, gate, connector)


POINTS_BUCKETS: Mapping[ChannelType, RateLimit] = {ChannelType.SHOPIFY: RateLimit(capacity=1000.0, rate=50.0)}
"""Channels whose bucket counts cost points, not requests, with the bucket each starts with (Shopify: its standard
plan's 1,000 points, 50 a second, until the first answer's throttleStatus says what this shop really has). A
connector's requestsPerSecond caps their requests in a bucket of its own (CappedGate) instead of sizing it."""


def default_rate_limit(channel_type: ChannelType, requests_per_second: float | None = None) -> RateLimit:
    """The bucket a connector starts with (its own rate, else the channel's); the channel's signals adjust it.

    For a channel counting cost points it is the points bucket whatever the connector's rate: see connector_gate."""
    if channel_type in POINTS_BUCKETS:
        return POINTS_BUCKETS[channel_type]
    if requests_per_second is not None:
        return RateLimit.for_channel(channel_type_spec(channel_type), requests_per_second=requests_per_second)
    return RateLimit.for_channel(channel_type_spec(channel_type))


def connector_gate(
    redis: Redis, channel_type: ChannelType, *, connector_public_id: str, requests_per_second: float | None
) -> RateGate:
    """The connector's rate gate, shared in Redis by every worker.

    Where the channel counts requests, requestsPerSecond is its bucket's
    rate. Where it counts cost points (Shopify), the points bucket follows
    the shop's throttleStatus, and requestsPerSecond, when set, is a cap on
    requests per second on top of it that no answer raises."""
    bucket = RedisTokenBucket.for_connector(
        redis, connector_public_id=connector_public_id, limit=default_rate_limit(channel_type, requests_per_second)
    )
    if channel_type not in POINTS_BUCKETS or requests_per_second is None:
        return bucket
    cap = RateLimit.for_channel(channel_type_spec(channel_type), requests_per_second=requests_per_second)
    return CappedGate(bucket, RedisTokenBucket(redis, key=request_cap_key(connector_public_id), limit=cap))
