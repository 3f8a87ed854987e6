"""The per-request context: who is calling, the shared resources and this request's loaders."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.extensions import SchemaExtension

from app.container import Container
from app.domain.errors import ServiceError, Unauthenticated
from app.domain.scopes import Scope
from app.services.auth import Principal
from app.services.tokens import TokenWatch
from app.settings import MAX_SUBSCRIPTIONS_PER_TENANT
from graphql_schema.loaders import Loaders

Text = TypeVar("Text", str, str | None)


class TooManySubscriptions(ServiceError):
    """The tenant holds as many subscriptions open as it may; one must complete before another starts."""

    code = "TOO_MANY_SUBSCRIPTIONS"


class SubscriptionSlots:
    """How many subscriptions each tenant holds open in this process, over all its sockets, within a limit.

    Each open subscription holds a Redis pub/sub connection of its own and
    reads the database on its ticks. Strawberry bounds each socket (100
    operations), not how many sockets a tenant opens: without this bound one
    tenant could take every client slot Redis has, and the workers' queue
    with it, from every tenant.
    """

    def __init__(self, limit: int = MAX_SUBSCRIPTIONS_PER_TENANT) -> None:
        self.limit = limit
        self._open: Counter[int] = Counter()

    @contextmanager
    def hold(self, tenant_id: int) -> Iterator[None]:
        """A place for one subscription of the tenant while the block runs; TooManySubscriptions when none is free."""
        if self._open[tenant_id] >= self.limit:
            raise TooManySubscriptions(
                f"this tenant already has {self.limit} subscriptions open, the most it may: "
                "complete one it no longer needs first"
            )
        self._open[tenant_id] += 1
        try:
            yield
        finally:
            self._open[tenant_id] -= 1
            if not self._open[tenant_id]:
                del self._open[tenant_id]


@dataclass
class Context:
    """Who is calling and what they may use; on a websocket the principal arrives with connection_init."""

    container: Container
    principal: Principal | None
    connection_params: dict[str, Any] | None = None
    on_socket: bool = False
    """One context serves every operation of a websocket, authenticated once (see TokenRecheck)."""
    subscriptions: SubscriptionSlots = field(default_factory=SubscriptionSlots)
    """The app's count of open subscriptions, shared by every socket it serves."""
    _loaders: Loaders | None = field(default=None, init=False)

    @property
    def loaders(self) -> Loaders:
        """This operation's loaders (this event's, in a subscription): what they read is kept until it ends."""
        if self._loaders is None:
            self._loaders = Loaders(self.container.db, self.caller.tenant_id)
        return self._loaders

    def for_operation(self) -> Context:
        """A context of the same caller with loaders of its own, for one operation of a socket (OperationContext)."""
        return replace(self)

    def next_event(self) -> None:
        """A subscription's next event reads afresh: what the loaders read for the last one is stale by now."""
        self._loaders = None

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

    def allows(self, scope: Scope) -> bool:
        return self.caller.allows(scope)

    def values_shown(self, text: Text, without_values: Callable[[str], str]) -> Text:
        """`text`, which may quote a product's values (a job's errors and failure, a conflict's applyError), as this
        caller may read it: whole with catalog.view, the product's values being that scope's, else as
        `without_values` leaves it."""
        if text is None or self.allows(Scope.CATALOG_VIEW):
            return text
        return without_values(text)

    def subscription_slot(self) -> AbstractContextManager[None]:
        """The caller's tenant's place for one open subscription (SubscriptionSlots), held while the block runs."""
        return self.subscriptions.hold(self.tenant_id)

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


class OperationContext(SchemaExtension):
    """Gives each operation of a websocket a context of its own, so loaders never outlive their operation.

    Strawberry hands every operation of a socket the one context it made for the connection, and with it one
    set of loaders, which keep what they read: a query sent on the socket read what the socket's first operation
    had loaded (a connector's mappings before the saveMappings sent between them), and the updates of a
    subscription showed the errors and connector of its first. The principal is the socket's, read at each
    operation's start (TokenRecheck still checks it), as are the subscriptions counted for its tenant.
    """

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and context.on_socket:
            self.execution_context.context = context.for_operation()
        yield


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
