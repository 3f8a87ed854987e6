"""Webhook deliveries: store each once per (connector, delivery id), finish it once, find what no worker took."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, tuple_, update
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
    queued_at: datetime | None = None
    """When it was given its turn, where a recovery sweep read it (`queued_before`): where the next read goes on."""


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

    async def queued_before(
        self, cutoff: datetime, *, after: tuple[datetime, int] | None = None, limit: int
    ) -> list[QueuedDelivery]:
        """PENDING deliveries holding their connector's turn since before `cutoff`, oldest first after `after` (turn
        time, id); not those of a paused connector, which wait for resumeConnector to queue them (`queued_of`) rather
        than being queued again every recovery. Deliveries waiting their turn are not among them: turns are handed
        out (`waiting_for_turns`)."""
        statement = (
            select(WebhookDelivery.id, WebhookDelivery.received_at, WebhookDelivery.queued_at)
            .join(Connector, Connector.id == WebhookDelivery.connector_id)
            .where(_PENDING, WebhookDelivery.queued_at < cutoff)
            .where(Connector.status != ConnectorStatus.PAUSED.value)
        )
        if after is not None:
            statement = statement.where(tuple_(WebhookDelivery.queued_at, WebhookDelivery.id) > tuple_(*after))
        statement = statement.order_by(WebhookDelivery.queued_at, WebhookDelivery.id).limit(limit)
        return [
            QueuedDelivery(pk, received_at, queued_at)
            for pk, received_at, queued_at in await self.session.execute(statement)
        ]

    async def requeued(self, ids: Sequence[int], now: datetime) -> None:
        """Record these PENDING deliveries holding a turn as queued at `now`: their message was just sent again."""
        if ids:
            await self.session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id.in_(ids), _PENDING, WebhookDelivery.queued_at.is_not(None))
                .values(queued_at=now)
                .execution_options(synchronize_session=False)
            )

    async def queued_of(self, connector_id: int, *, limit: int) -> list[QueuedDelivery]:
        """The connector's PENDING deliveries holding one of its turns, oldest first."""
        statement = (
            select(WebhookDelivery.id, WebhookDelivery.received_at)
            .where(WebhookDelivery.connector_id == connector_id, _PENDING, WebhookDelivery.queued_at.is_not(None))
            .order_by(WebhookDelivery.received_at, WebhookDelivery.id)
            .limit(limit)
        )
        return [QueuedDelivery(row[0], row[1]) for row in await self.session.execute(statement)]

    async def holding_turns(self, connector_id: int) -> int:
        """The connector's deliveries queued or being processed: each holds one of its turns."""
        statement = select(func.count()).where(
            WebhookDelivery.connector_id == connector_id, _PENDING, WebhookDelivery.queued_at.is_not(None)
        )
        return int(await self.session.scalar(statement) or 0)

    async def take_turns(self, connector_id: int, count: int, now: datetime) -> list[QueuedDelivery]:
        """Mark the connector's first `count` deliveries waiting their turn (oldest first) queued at `now`. The caller
        holds the connector's row (ConnectorRepository.hand_out_turns)."""
        waiting = (
            select(WebhookDelivery.id)
            .where(WebhookDelivery.connector_id == connector_id, _PENDING, WebhookDelivery.queued_at.is_(None))
            .order_by(WebhookDelivery.received_at, WebhookDelivery.id)
            .limit(count)
        )
        statement = (
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(waiting.scalar_subquery()), WebhookDelivery.queued_at.is_(None))
            .values(queued_at=now)
            .returning(WebhookDelivery.id, WebhookDelivery.received_at)
            .execution_options(synchronize_session=False)
        )
        taken = [QueuedDelivery(pk, at) for pk, at in await self.session.execute(statement)]
        return sorted(taken, key=lambda row: (row.received_at, row.id))

    async def waiting_for_turns(self, turns: int) -> list[int]:
        """Connectors, not paused, with deliveries waiting their turn and fewer than `turns` queued or being
        processed: recovery hands them their next (the earlier ones ended without handing theirs on)."""
        mine = (WebhookDelivery.connector_id == Connector.id, _PENDING)
        waits = select(WebhookDelivery.id).where(*mine, WebhookDelivery.queued_at.is_(None)).exists()
        holding = select(func.count()).where(*mine, WebhookDelivery.queued_at.is_not(None)).scalar_subquery()
        statement = select(Connector.id).where(Connector.status != ConnectorStatus.PAUSED.value, waits, holding < turns)
        return list(await self.session.scalars(statement.order_by(Connector.id)))

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

    async def paused_with_waiting(self) -> list[int]:
        """Paused connectors with PENDING deliveries: theirs wait for resumeConnector, and pile up meanwhile."""
        waiting = select(WebhookDelivery.id).where(WebhookDelivery.connector_id == Connector.id, _PENDING).exists()
        statement = select(Connector.id).where(Connector.status == ConnectorStatus.PAUSED.value, waiting)
        return list(await self.session.scalars(statement.order_by(Connector.id)))

    async def unread_refs(self, connector_id: int, *, limit: int) -> list[UnreadDelivery]:
        """Up to `limit` of the connector's PENDING deliveries whose product is not read yet (`product_ref` NULL)."""
        statement = (
            select(WebhookDelivery.id, WebhookDelivery.topic, WebhookDelivery.payload, WebhookDelivery.occurred_at)
            .where(WebhookDelivery.connector_id == connector_id, _PENDING, WebhookDelivery.product_ref.is_(None))
            .order_by(WebhookDelivery.received_at, WebhookDelivery.id)
            .limit(limit)
        )
        return [UnreadDelivery(*row) for row in await self.session.execute(statement)]

    async def set_refs(self, refs: Mapping[int, str]) -> None:
        """Record which product each delivery is about ("" for one whose payload names none)."""
        if refs:
            rows = [{"id": pk, "product_ref": ref} for pk, ref in refs.items()]
            await self.session.execute(update(WebhookDelivery), rows)

    async def supersede(self, connector_id: int, *, outcome: str, now: datetime, limit: int) -> int:
        """Mark IGNORED, with `outcome`, up to `limit` of the connector's PENDING deliveries about a product another
        of its PENDING deliveries is newer news of; returns how many. Newest by the channel's own time of the
        change, then by arrival: one whose time the channel did not say is never stale (conflicts.check), so it
        counts as the newest. Exactly one delivery per product stays."""
        newest_first = (
            WebhookDelivery.occurred_at.is_(None).desc(),
            WebhookDelivery.occurred_at.desc(),
            WebhookDelivery.received_at.desc(),
            WebhookDelivery.id.desc(),
        )
        rank = func.row_number().over(partition_by=WebhookDelivery.product_ref, order_by=newest_first)
        ranked = (
            select(WebhookDelivery.id, rank.label("rank"))
            .where(WebhookDelivery.connector_id == connector_id, _PENDING, WebhookDelivery.product_ref != "")
            .subquery()
        )
        older = select(ranked.c.id).where(ranked.c.rank > 1).limit(limit)
        ids = list(await self.session.scalars(older))
        if not ids:
            return 0
        statement = (
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids), _PENDING)
            .values(status=DeliveryStatus.IGNORED.value, outcome=outcome, processed_at=now)
            .returning(WebhookDelivery.id)
            .execution_options(synchronize_session=False)
        )
        return len(list(await self.session.scalars(statement)))


@dataclass(frozen=True, slots=True)
class UnreadDelivery:
    """What reading a delivery's product takes: its payload, as the worker builds its event from it."""

    id: int
    topic: str
    payload: Any
    occurred_at: datetime | None


_PENDING = WebhookDelivery.status == DeliveryStatus.PENDING.value
"""Still to be processed (models.PENDING_DELIVERY, the partial index's condition)."""
