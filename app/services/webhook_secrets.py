"""Sealing a connector's new credentials with the webhook secret they replace, for its grace period (see
app.domain.webhook_secrets); receiving a delivery (services/webhooks.py) accepts either secret while it lasts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import structlog

from app.channels.webhooks import webhook_secret
from app.container import Container
from app.db.models import Connector
from app.domain.channels import ChannelType
from app.domain.webhook_secrets import retired_by_update
from app.secrets import CredentialsUnreadable, Unsealed

log = structlog.get_logger(__name__)


def _stored(container: Container, row: Connector) -> Unsealed:
    """What the row holds now; nothing when no key opens it (there is then no secret anyone can verify with)."""
    try:
        return container.vault.unseal(row.credentials_encrypted)
    except CredentialsUnreadable:
        return Unsealed({})


def reseal(container: Container, row: Connector, credentials: Mapping[str, Any]) -> str:
    """`credentials` sealed to replace the row's, keeping the webhook secret they replace for
    PIMSYNC_WEBHOOK_SECRET_GRACE_HOURS. Called under the row's lock, so two updates cannot both retire the same
    secret or lose the one the other kept."""
    channel_type = ChannelType(row.channel_type)
    stored = _stored(container, row)
    retired = retired_by_update(
        before=webhook_secret(channel_type, stored.credentials),
        after=webhook_secret(channel_type, credentials),
        kept=stored.retired_webhook_secret,
        now=datetime.fromtimestamp(container.clock(), UTC),
        grace=container.settings.webhook_secret_grace,
    )
    if retired is not None and retired != stored.retired_webhook_secret:
        log.info(
            "connector.webhook_secret_rotated", connector=row.code, previous_accepted_until=retired.until.isoformat()
        )
    return container.vault.seal(credentials, retired_webhook_secret=retired)
