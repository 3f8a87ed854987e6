"""The per-request context: who is calling, the shared resources and this request's loaders."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.extensions import SchemaExtension

from app.container import Container
from app.domain.errors import Unauthenticated
from app.domain.scopes import Scope
from app.services.auth import Principal
from app.services.tokens import TokenWatch
from graphql_schema.loaders import Loaders


@dataclass
class Context:
    """Who is calling and what they may use; on a websocket the principal arrives with connection_init."""

    container: Container
    principal: Principal | None
    connection_params: dict[str, Any] | None = None
    on_socket: bool = False
    """One context serves every operation of a websocket, authenticated once (see TokenRecheck)."""
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


class TokenRecheck(SchemaExtension):
    """Reads a websocket's token again before each operation it runs.

    A websocket authenticates once, at connection_init, and may then send
    queries, mutations and subscriptions for as long as it stays open; an
    open subscription watches its token (TokenWatch), and this makes sure a
    revoked token starts nothing new either. HTTP requests authenticate each
    time, so they cost no extra read.
    """

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and context.on_socket and context.principal is not None:
            await TokenWatch(context.container.db, context.principal, every=0.0).check()
        yield
