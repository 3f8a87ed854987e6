"""Domain events: appended in the transaction of the change they record."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import DomainEvent


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def record(self, tenant_id: int, kind: str, *, connector_id: int | None = None, **payload: Any) -> None:
        self.session.add(DomainEvent(tenant_id=tenant_id, connector_id=connector_id, kind=kind, payload=payload))

    async def record_all(self, tenant_id: int, kind: str, events: Sequence[tuple[int | None, dict[str, Any]]]) -> None:
        """Events of one kind, each (connector id, payload), in one statement: `record` adds each to the session,
        which on SQLite inserts them one statement each to read their ids back, ids nothing here reads."""
        if events:
            rows = [
                {"tenant_id": tenant_id, "connector_id": connector_id, "kind": kind, "payload": payload}
                for connector_id, payload in events
            ]
            await self.session.execute(insert(DomainEvent), rows)

    async def latest(self, tenant_id: int, *, limit: int = 100) -> list[DomainEvent]:
        statement = (
            select(DomainEvent).where(DomainEvent.tenant_id == tenant_id).order_by(DomainEvent.id.desc()).limit(limit)
        )
        return list(await self.session.scalars(statement))

    async def delete_oldest_before(self, cutoff: datetime, *, limit: int) -> int:
        """Delete the oldest events, up to `limit`, recorded before `cutoff`; returns how many went. They are read in
        id order (ids grow with time) and the walk stops at the first newer one: no index on the time needed."""
        oldest = select(DomainEvent.id, DomainEvent.created_at).order_by(DomainEvent.id).limit(limit)
        ids = []
        for event_id, created_at in await self.session.execute(oldest):
            if created_at >= cutoff:
                break
            ids.append(event_id)
        if ids:
            await self.session.execute(delete(DomainEvent).where(DomainEvent.id.in_(ids)))
        return len(ids)
