"""Building a connector's adapter from its channel type and decrypted credentials.

The outbound-URL policy is applied here, once, for every channel whose
address the user configures, so no adapter can forget it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from app.channels.base import ChannelAdapter, CredentialsRejected, RateGate
from app.channels.custom_http.adapter import CustomHttpAdapter
from app.channels.outbound import UnsafeUrl, check_outbound_url
from app.domain.channels import ChannelType
from app.settings import Settings

"""Channel types whose adapter ships in this version; the others can be configured but not reached yet."""
AVAILABLE = frozenset({ChannelType.CUSTOM_HTTP})

"""The credentials field holding the address the user chose, per channel type."""
USER_URL_FIELDS: Mapping[ChannelType, str] = {ChannelType.CUSTOM_HTTP: "baseUrl"}


class AdapterUnavailable(Exception):
    """This version has no adapter for the channel type yet."""


async def build_adapter(
    channel_type: ChannelType,
    credentials: Mapping[str, Any],
    *,
    http: httpx.AsyncClient,
    settings: Settings,
    gate: RateGate | None = None,
) -> ChannelAdapter:
    """The adapter for one connector; CredentialsRejected when its address is not allowed."""
    url_field = USER_URL_FIELDS.get(channel_type)
    if url_field is not None:
        try:
            await check_outbound_url(str(credentials.get(url_field, "")), allow_private=settings.allow_private_urls)
        except UnsafeUrl as exc:
            raise CredentialsRejected(f"{url_field}: {exc}") from None
    if channel_type is ChannelType.CUSTOM_HTTP:
        return CustomHttpAdapter(credentials, http, timeout=settings.http_timeout_seconds, gate=gate)
    raise AdapterUnavailable(f"connecting to {channel_type} is not available in this version yet")
