"""The per-request context: who is calling, the shared resources and this request's loaders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.container import Container
from app.domain.errors import Unauthenticated
from app.domain.scopes import Scope
from app.services.auth import Principal
from graphql_schema.loaders import Loaders


@dataclass
class Context:
    """Who is calling and what they may use; on a websocket the principal arrives with connection_init."""

    container: Container
    principal: Principal | None
    connection_params: dict[str, Any] | None = None
    _loaders: Loaders | None = field(default=None, init=False)

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.container.db, self.caller.tenant_id)
        return self._loaders

    @property
    def caller(self) -> Principal:
        if self.principal is None:
            raise Unauthenticated("send Authorization: Bearer <token>")
        return self.principal

    @property
    def tenant_id(self) -> int:
        return self.caller.tenant_id

    def require(self, scope: Scope) -> None:
        self.caller.require(scope)

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
