"""Domain events: appended in the transaction of the change they record."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import DomainEvent


class EventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def record(self, tenant_id: int, kind: str, *, connector_id: int | None = None, **payload: Any) -> None:
        self.session.add(DomainEvent(tenant_id=tenant_id, connector_id=connector_id, kind=kind, payload=payload))

    async def latest(self, tenant_id: int, *, limit: int = 100) -> list[DomainEvent]:
        statement = (
            select(DomainEvent).where(DomainEvent.tenant_id == tenant_id).order_by(DomainEvent.id.desc()).limit(limit)
        )
        return list(await self.session.scalars(statement))
