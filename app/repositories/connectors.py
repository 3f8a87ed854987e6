"""Connectors (the sales-channel accounts a tenant syncs to)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Connector


class ConnectorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_ids(self, tenant_id: int, ids: Collection[int]) -> dict[int, Connector]:
        statement = select(Connector).where(Connector.tenant_id == tenant_id, Connector.id.in_(ids))
        return {row.id: row for row in await self.session.scalars(statement)}
