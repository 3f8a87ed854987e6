"""The schema: root types composed from each domain's queries and mutations, plus the limits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import strawberry
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)

from app.domain.errors import NotFound
from app.domain.scopes import Scope
from app.services.conflicts.service import ConflictService
from app.services.products import ProductService
from app.services.sync.jobs import SyncJobService
from app.settings import Settings
from graphql_schema.catalog.mutations import CatalogMutation
from graphql_schema.catalog.queries import CatalogQuery
from graphql_schema.catalog.types import ProductType
from graphql_schema.conflicts.mutations import ConflictMutation
from graphql_schema.conflicts.queries import ConflictQuery
from graphql_schema.conflicts.subscriptions import ConflictSubscription
from graphql_schema.conflicts.types import ConflictType
from graphql_schema.connectors.mutations import ConnectorMutation
from graphql_schema.connectors.queries import ConnectorQuery
from graphql_schema.connectors.types import ConnectorType
from graphql_schema.context import Info, OperationContext, TokenRecheck
from graphql_schema.document_cache import DocumentCache
from graphql_schema.errors import ErrorPolicy
from graphql_schema.limits import NodeBudget, SubscriptionsOnSocket
from graphql_schema.relay import Node, parse_global_id
from graphql_schema.sync.mutations import SyncMutation
from graphql_schema.sync.queries import SyncQuery
from graphql_schema.sync.subscriptions import SyncSubscription
from graphql_schema.sync.types import SyncJobType


@strawberry.type
class NodeQuery:
    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        """Any object by its global id; another tenant's objects read as not found (null)."""
        kind, pk = parse_global_id(str(id))
        if kind == "Product":
            info.context.require(Scope.CATALOG_VIEW)
            async with info.context.reader() as session:
                try:
                    row = await ProductService(session).get_by_id(info.context.tenant_id, pk)
                except NotFound:
                    return None
            return ProductType.from_row(row)
        if kind == "Connector":
            info.context.require(Scope.CONNECTORS_VIEW)
            connector = await info.context.loaders.connector_by_id.load(pk)
            return None if connector is None else ConnectorType.from_row(connector)
        if kind == "Conflict":
            info.context.require(Scope.CONFLICTS_VIEW)
            try:
                conflict = await ConflictService(info.context.container, info.context.tenant_id).get(pk)
            except NotFound:
                return None
            return ConflictType.from_row(conflict)
        if kind == "SyncJob":
            info.context.require(Scope.SYNC_VIEW)
            try:
                job = await SyncJobService(info.context.container, info.context.tenant_id).get(pk)
            except NotFound:
                return None
            return SyncJobType.from_row(job)
        return None


@strawberry.type
class Query(NodeQuery, CatalogQuery, ConnectorQuery, SyncQuery, ConflictQuery):
    pass


@strawberry.type
class Mutation(CatalogMutation, ConnectorMutation, SyncMutation, ConflictMutation):
    pass


@strawberry.type
class Subscription(SyncSubscription, ConflictSubscription):
    pass


@dataclass(frozen=True, slots=True)
class SchemaLimits:
    """Everything of the settings that a schema is built from: two settings with the same limits share a schema."""

    max_depth: int
    max_aliases: int
    max_tokens: int
    max_nodes: int
    mask_faults: bool
    introspection: bool

    @classmethod
    def of(cls, settings: Settings) -> SchemaLimits:
        return cls(
            max_depth=settings.graphql_max_depth,
            max_aliases=settings.graphql_max_aliases,
            max_tokens=settings.graphql_max_tokens,
            max_nodes=settings.graphql_max_nodes,
            mask_faults=settings.is_production,
            introspection=settings.introspection_enabled,
        )


def build_schema(settings: Settings | None = None, *, cache_documents: bool = True) -> strawberry.Schema:
    """The schema with the limits and error policy of `settings` (defaults when None).

    Built once per set of limits: building converts and checks every type (tens of milliseconds), and each app
    (one per test, several in a process) asked for it again. A schema holds no request's state: its extensions
    are factories, called for each operation. `cache_documents=False` leaves out the DocumentCache, for a
    benchmark to compare."""
    return _schema(SchemaLimits.of(settings or Settings()), cache_documents)


@cache
def _schema(limits: SchemaLimits, cache_documents: bool) -> strawberry.Schema:
    # The rules of the depth and alias limits are made once per schema: strawberry's limiters make new rule classes
    # each time they are made, and DocumentCache keeps a document's verdict under the very rules that gave it.
    document_limits = [
        *QueryDepthLimiter(max_depth=limits.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
    ]
    extensions: list[Callable[[], SchemaExtension]] = [
        OperationContext,
        lambda: AddValidationRules(document_limits),
        lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
        lambda: NodeBudget(max_nodes=limits.max_nodes),
        SubscriptionsOnSocket,
        lambda: ErrorPolicy(mask_faults=limits.mask_faults, hide_suggestions=not limits.introspection),
        TokenRecheck,
    ]
    if cache_documents:
        extensions.append(DocumentCache)
    if not limits.introspection:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        types=[ProductType, ConnectorType, SyncJobType, ConflictType],
    )
