"""API tokens, looked up by digest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiToken, Tenant


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def active_by_hash(self, token_hash: str) -> tuple[ApiToken, Tenant] | None:
        statement = (
            select(ApiToken, Tenant)
            .join(Tenant, Tenant.id == ApiToken.tenant_id)
            .where(ApiToken.token_hash == token_hash, ApiToken.revoked_at.is_(None))
        )
        row = (await self.session.execute(statement)).first()
        return None if row is None else (row[0], row[1])

    async def add(self, *, tenant_id: int, name: str, token_hash: str, prefix: str, scopes: list[str]) -> ApiToken:
        token = ApiToken(tenant_id=tenant_id, name=name, token_hash=token_hash, token_prefix=prefix, scopes=scopes)
        self.session.add(token)
        await self.session.flush()
        return token

    async def list_for_tenant(self, tenant_id: int) -> list[ApiToken]:
        statement = select(ApiToken).where(ApiToken.tenant_id == tenant_id).order_by(ApiToken.id)
        return list(await self.session.scalars(statement))

    async def by_id(self, tenant_id: int, token_id: int) -> ApiToken | None:
        statement = select(ApiToken).where(ApiToken.tenant_id == tenant_id, ApiToken.id == token_id)
        return await self.session.scalar(statement)

    async def touch(self, token_id: int, when: datetime) -> None:
        await self.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=when))
