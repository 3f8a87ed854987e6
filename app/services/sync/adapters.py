"""The adapter of one connector, under the connector's shared rate limit: for sync pages, webhook checks and
resolutions alike, so every caller talks to a channel the same way."""

from __future__ import annotations

from app.channels.base import ChannelAdapter
from app.channels.factory import build_adapter, connector_gate
from app.container import Container
from app.db.models import Connector
from app.domain.channels import ChannelType


async def open_adapter(container: Container, connector: Connector) -> ChannelAdapter:
    """Raises CredentialsUnreadable, AdapterUnavailable or CredentialsRejected when it cannot be built."""
    channel_type = ChannelType(connector.channel_type)
    gate = connector_gate(
        container.redis,
        channel_type,
        connector_public_id=connector.public_id,
        requests_per_second=connector.requests_per_second,
    )
    credentials = container.vault.open(connector.credentials_encrypted)
    return await build_adapter(
        channel_type,
        credentials,
        http=container.http,
        settings=container.settings,
        gate=gate,
        connector=connector.public_id,
    )
