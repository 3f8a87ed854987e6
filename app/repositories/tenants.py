"""Tenants and their product revision counter."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Tenant
from app.repositories.keys import text_is


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_code(self, code: str) -> Tenant | None:
        return await self.session.scalar(select(Tenant).where(text_is(Tenant.code, code)))

    async def by_id(self, tenant_id: int) -> Tenant | None:
        return await self.session.get(Tenant, tenant_id)

    async def list(self) -> list[Tenant]:
        return list(await self.session.scalars(select(Tenant).order_by(Tenant.code)))

    async def add(self, *, code: str, name: str) -> Tenant:
        tenant = Tenant(code=code, name=name, product_revision=0)
        self.session.add(tenant)
        await self.session.flush()
        return tenant

    async def current_revision(self, tenant_id: int) -> int:
        revision = await self.session.scalar(select(Tenant.product_revision).where(Tenant.id == tenant_id))
        return int(revision or 0)

    async def next_revision(self, tenant_id: int) -> int:
        """Bump and return the tenant's product revision.

        The UPDATE takes the tenant row's lock until the transaction ends, so
        concurrent writers of one tenant commit their revisions in order: a
        reader that has seen revision N never later meets a new N-1.
        """
        statement = (
            update(Tenant)
            .where(Tenant.id == tenant_id)
            .values(product_revision=Tenant.product_revision + 1)
            .returning(Tenant.product_revision)
        )
        revision = await self.session.scalar(statement)
        if revision is None:
            raise LookupError(f"tenant {tenant_id} does not exist")
        return int(revision)
