"""Webhook deliveries: store each once per (connector, delivery id), finish it once, find what no worker took."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Connector, WebhookDelivery
from app.domain.connectors import ConnectorStatus
from app.domain.webhooks import DeliveryStatus
from app.repositories.keys import text_is


@dataclass(frozen=True, slots=True)
class NewDelivery:
    tenant_id: int
    connector_id: int
    delivery_id: str
    topic: str
    payload: Any
    occurred_at: datetime | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class QueuedDelivery:
    """What enqueuing a delivery needs: its key and the stamp that makes its job id unique."""

    id: int
    received_at: datetime


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def connector_by_public_id(self, public_id: str) -> Connector | None:
        """The connector a webhook path names; any tenant's, since the path is all a channel sends."""
        return await self.session.scalar(select(Connector).where(text_is(Connector.public_id, public_id)))

    async def insert_once(self, new: NewDelivery) -> int | None:
        """Store the delivery and return its id; None when this connector already has that delivery id.

        INSERT ... ON CONFLICT DO NOTHING on the unique (connector_id,
        delivery_id): of two concurrent copies exactly one is stored, on
        PostgreSQL and SQLite alike, and neither transaction fails.
        """
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(WebhookDelivery)
            .values(
                tenant_id=new.tenant_id,
                connector_id=new.connector_id,
                delivery_id=new.delivery_id,
                topic=new.topic,
                payload=new.payload,
                occurred_at=new.occurred_at,
                received_at=new.received_at,
                status=DeliveryStatus.PENDING.value,
                attempts=0,
            )
            .on_conflict_do_nothing(index_elements=["connector_id", "delivery_id"])
            .returning(WebhookDelivery.id)
        )
        stored: int | None = await self.session.scalar(statement)
        return stored

    async def get(self, delivery_pk: int) -> tuple[WebhookDelivery, str] | None:
        """The delivery and its connector's channel type."""
        statement = (
            select(WebhookDelivery, Connector.channel_type)
            .join(Connector, Connector.id == WebhookDelivery.connector_id)
            .where(WebhookDelivery.id == delivery_pk)
        )
        row = (await self.session.execute(statement)).one_or_none()
        return None if row is None else (row[0], row[1])

    async def record_attempt(
        self, delivery_pk: int, *, status: DeliveryStatus, outcome: str, now: datetime
    ) -> int | None:
        """Count one attempt of a PENDING delivery and store what it concluded; returns the attempts so far.

        `status` PENDING means the attempt failed and will be retried. None:
        the delivery was no longer PENDING (another run finished it first) and
        nothing was changed.
        """
        values: dict[str, Any] = {"status": status.value, "outcome": outcome}
        if status is not DeliveryStatus.PENDING:
            values["processed_at"] = now
        result = await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_pk, WebhookDelivery.status == DeliveryStatus.PENDING.value)
            .values(attempts=WebhookDelivery.attempts + 1, **values)
            .returning(WebhookDelivery.attempts)
        )
        return result.scalar_one_or_none()

    async def note_waiting(self, delivery_pk: int, *, outcome: str) -> None:
        """Say why a PENDING delivery waits, without counting an attempt (its connector is paused)."""
        await self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_pk, WebhookDelivery.status == DeliveryStatus.PENDING.value)
            .values(outcome=outcome)
        )

    async def pending_before(self, cutoff: datetime, *, limit: int) -> list[QueuedDelivery]:
        """PENDING deliveries received before `cutoff`, oldest first; not those of a paused connector, which wait
        for resumeConnector to queue them (`pending_of`) rather than being queued again every recovery."""
        statement = (
            select(WebhookDelivery.id, WebhookDelivery.received_at)
            .join(Connector, Connector.id == WebhookDelivery.connector_id)
            .where(WebhookDelivery.status == DeliveryStatus.PENDING.value, WebhookDelivery.received_at < cutoff)
            .where(Connector.status != ConnectorStatus.PAUSED.value)
            .order_by(WebhookDelivery.received_at, WebhookDelivery.id)
            .limit(limit)
        )
        return [QueuedDelivery(row[0], row[1]) for row in await self.session.execute(statement)]

    async def pending_of(self, connector_id: int, *, limit: int) -> list[QueuedDelivery]:
        """The connector's PENDING deliveries, oldest first."""
        statement = (
            select(WebhookDelivery.id, WebhookDelivery.received_at)
            .where(WebhookDelivery.connector_id == connector_id)
            .where(WebhookDelivery.status == DeliveryStatus.PENDING.value)
            .order_by(WebhookDelivery.received_at, WebhookDelivery.id)
            .limit(limit)
        )
        return [QueuedDelivery(row[0], row[1]) for row in await self.session.execute(statement)]

    async def delete_dealt_with_before(self, cutoff: datetime, *, limit: int) -> int:
        """Delete up to `limit` deliveries received before `cutoff` that are no longer PENDING (read through the
        (status, received_at) index); returns how many went. PENDING ones are work still to do."""
        finished = [status.value for status in DeliveryStatus if status is not DeliveryStatus.PENDING]
        oldest = (
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status.in_(finished), WebhookDelivery.received_at < cutoff)
            .limit(limit)
        )
        ids = list(await self.session.scalars(oldest))
        if ids:
            await self.session.execute(delete(WebhookDelivery).where(WebhookDelivery.id.in_(ids)))
        return len(ids)
