"""Subscribing a connector's channel webhooks to this service, once its connection test has succeeded.

It talks to the channel, so it runs after the connector's transaction, never
inside one, and under the connector's shared rate limit like every other
channel request. A failure never undoes what the user asked for (creating,
re-crediting or testing the connector): it is recorded as a
`connector.webhooks_failed` event, logged, and said in the connection test's
message; the next successful test tries again. Registering is idempotent, so
every successful test may call it. Without `PIMSYNC_PUBLIC_URL` the channel
has no address to call, and nothing is done.

A connector's subscriptions are told apart by their path, `/webhooks/{public_id}`:
registering at the current public URL also deletes the connector's subscriptions
at any other address with that path (PIMSYNC_PUBLIC_URL changed), and deleting
the connector deletes every one of them, best effort (a failure is recorded and
logged like a registration failure, and never stops the delete).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import structlog

from app.channels.base import ChannelError, WebhookRegistrar, WebhookRegistration
from app.channels.factory import AdapterUnavailable, build_adapter, connector_gate
from app.container import Container
from app.db.models import Connector
from app.domain.channels import ChannelType
from app.repositories.events import EventRepository

log = structlog.get_logger(__name__)


def webhook_path(public_id: str) -> str:
    """Where a channel posts this connector's webhooks, below the service's public URL (the `webhookPath`)."""
    return f"/webhooks/{public_id}"


def callback_url(public_url: str, public_id: str) -> str:
    return public_url.rstrip("/") + webhook_path(public_id)


def _topic_names(topics: tuple[str, ...]) -> str:
    """PRODUCTS_UPDATE → products/update, as the channel's own delivery headers name them."""
    return ", ".join("/".join(topic.lower().rsplit("_", 1)) for topic in topics)


def registered_note(registration: WebhookRegistration) -> str:
    """What the user is told after a successful registration."""
    topics = _topic_names(registration.existing + registration.created)
    note = f"Webhooks ({topics}) are registered at {registration.callback_url}."
    if not registration.secret_configured:
        note += " Incoming webhooks will be refused until a webhook secret is set in the connector's credentials."
    return note


class WebhookRegistrationService:
    """Registers a connector's webhooks where its channel allows the service to (WebhookRegistrar)."""

    def __init__(self, container: Container) -> None:
        self.container = container

    async def register(self, row: Connector, credentials: Mapping[str, Any]) -> str | None:
        """Subscribe the connector's channel to its callback URL; a sentence for the user about it, or None
        when nothing was tried (no public URL, or a channel whose shop configures its own webhooks)."""
        public_url = self.container.settings.public_url
        if public_url is None:
            return None
        registrar = await self._registrar(row, credentials)
        if registrar is None:
            return None
        url = callback_url(public_url, row.public_id)
        try:
            registration = await registrar.register_webhooks(url)
        except ChannelError as exc:
            await self._record(row, "connector.webhooks_failed", url=url, code=str(exc.code), reason=exc.message)
            log.warning("connector.webhooks_failed", connector=row.code, code=str(exc.code), reason=exc.message)
            return f"Webhooks were not registered at {url} ({exc.summary}); the next successful test retries."
        if registration.created:
            await self._record(row, "connector.webhooks_registered", url=url, topics=list(registration.created))
            log.info("connector.webhooks_registered", connector=row.code, topics=list(registration.created))
        await self._remove(row, registrar, keep=url)
        return registered_note(registration)

    async def unregister(self, row: Connector, credentials: Mapping[str, Any]) -> None:
        """Delete every subscription delivering to the connector's webhook path, at whatever address; a
        failure is recorded (`connector.webhooks_failed`) and logged, never raised."""
        registrar = await self._registrar(row, credentials)
        if registrar is not None:
            await self._remove(row, registrar, keep=None)

    async def _remove(self, row: Connector, registrar: WebhookRegistrar, *, keep: str | None) -> None:
        """Delete the connector's subscriptions at every address but `keep`: only addresses whose path is this
        connector's own webhook path, so another connector's (or another service's) are never touched."""
        path = webhook_path(row.public_id)
        url: str | None = None
        try:
            for url in await registrar.webhook_callbacks():
                if url != keep and urlsplit(url).path.rstrip("/") == path:
                    deleted = await registrar.unregister_webhooks(url)
                    await self._record(row, "connector.webhooks_unregistered", url=url, topics=list(deleted))
                    log.info("connector.webhooks_unregistered", connector=row.code, url=url, topics=list(deleted))
        except ChannelError as exc:
            await self._record(row, "connector.webhooks_failed", url=url, code=str(exc.code), reason=exc.message)
            log.warning("connector.webhooks_failed", connector=row.code, code=str(exc.code), reason=exc.message)

    async def _registrar(self, row: Connector, credentials: Mapping[str, Any]) -> WebhookRegistrar | None:
        """The connector's adapter behind its shared rate gate, when it can register webhooks."""
        channel_type = ChannelType(row.channel_type)
        gate = connector_gate(
            self.container.redis,
            channel_type,
            connector_public_id=row.public_id,
            requests_per_second=row.requests_per_second,
        )
        try:
            adapter = await build_adapter(
                channel_type,
                credentials,
                http=self.container.http,
                settings=self.container.settings,
                gate=gate,
                connector=row.public_id,
            )
        except (AdapterUnavailable, ChannelError):
            return None  # the connection test that just passed speaks for the credentials
        return adapter if isinstance(adapter, WebhookRegistrar) else None

    async def _record(self, row: Connector, kind: str, **payload: Any) -> None:
        async with self.container.db.transaction() as session:
            EventRepository(session).record(row.tenant_id, kind, connector_id=row.id, **payload)
