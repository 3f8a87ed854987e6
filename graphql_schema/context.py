"""The per-request context: who is calling, the shared resources and this request's loaders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.container import Container
from app.domain.scopes import Scope
from app.services.auth import Principal
from graphql_schema.loaders import Loaders


@dataclass
class Context:
    container: Container
    principal: Principal
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.container.db, self.principal.tenant_id)

    @property
    def tenant_id(self) -> int:
        return self.principal.tenant_id

    def require(self, scope: Scope) -> None:
        self.principal.require(scope)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """The mutation's unit of work: committed when the block ends without error."""
        async with self.container.db.transaction() as session:
            yield session

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A short read session of this resolver's own (resolvers run concurrently)."""
        async with self.container.db.reader() as session:
            yield session


Info = strawberry.Info[Context, None]
