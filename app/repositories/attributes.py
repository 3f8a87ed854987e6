"""Attributes, and whether any product value uses one."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Attribute, ProductValue
from app.repositories.keys import text_in


class AttributeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list(self, tenant_id: int) -> list[Attribute]:
        statement = select(Attribute).where(Attribute.tenant_id == tenant_id).order_by(Attribute.code)
        return list(await self.session.scalars(statement))

    async def by_codes(self, tenant_id: int, codes: Collection[str]) -> dict[str, Attribute]:
        statement = select(Attribute).where(Attribute.tenant_id == tenant_id, text_in(Attribute.code, codes))
        return {row.code: row for row in await self.session.scalars(statement)}

    async def with_values(self, tenant_id: int, attribute_ids: Collection[int]) -> set[int]:
        """Which of these attributes have at least one product value."""
        statement = (
            select(ProductValue.attribute_id)
            .where(ProductValue.tenant_id == tenant_id, ProductValue.attribute_id.in_(attribute_ids))
            .distinct()
        )
        return set(await self.session.scalars(statement))

    def add(self, attribute: Attribute) -> None:
        self.session.add(attribute)

    async def flush(self) -> None:
        await self.session.flush()

    async def delete(self, tenant_id: int, attribute_ids: Collection[int]) -> None:
        """Their values go with them (ON DELETE CASCADE); mappings keep a NULL attribute (SET NULL)."""
        await self.session.execute(
            delete(Attribute).where(Attribute.tenant_id == tenant_id, Attribute.id.in_(attribute_ids))
        )
