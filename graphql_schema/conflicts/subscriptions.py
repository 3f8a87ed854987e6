"""conflictDetected: conflicts pushed as detection publishes them (graphql-transport-ws)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from app.domain.scopes import Scope
from app.services.conflicts.service import ConflictService
from app.services.tokens import TokenWatch
from graphql_schema.conflicts.types import ConflictType
from graphql_schema.context import Info


@strawberry.type
class ConflictSubscription:
    @strawberry.subscription(
        description="Emits each conflict of the caller's tenant as it is opened or changed (optionally one connector's)."
    )
    async def conflict_detected(
        self, info: Info, connector_code: str | None = None
    ) -> AsyncGenerator[ConflictType, None]:
        info.context.require(Scope.CONFLICTS_VIEW)
        watch = TokenWatch(info.context.container.db, info.context.caller)
        with info.context.subscription_slot():
            service = ConflictService(info.context.container, info.context.tenant_id)
            detected = service.detected(connector_code, watch=watch)
            try:
                async for row in detected:
                    info.context.next_event()
                    yield ConflictType.from_row(row)
            finally:
                await detected.aclose()
