"""Catalog queries."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.catalog import search_form
from app.domain.errors import NotFound
from app.domain.scopes import Scope
from app.repositories.products import ProductFilter
from app.services.attributes import AttributeService
from app.services.catalog_setup import CatalogSetupService
from app.services.products import ProductService
from graphql_schema.catalog.types import Attribute, Currency, Locale, ProductConnection, ProductType, ValueScope
from graphql_schema.context import Info
from graphql_schema.relay import BadArgument, Page, after_key, connection, page_size
from graphql_schema.scalars import aware

MAX_SEARCH_LENGTH = 1000
"""The longest `products(search:)` text, in characters. A name or SKU fragment is far shorter; SQLite refuses a LIKE
pattern over 50,000 bytes (the request failed with the database's message), and a longer one costs more per row."""


def _search(text: str | None) -> str | None:
    """`text` as the stored search text reads it; None for no search (absent, or only spaces)."""
    typed = (text or "").strip()
    if len(typed) > MAX_SEARCH_LENGTH:
        raise BadArgument(f"search is longer than {MAX_SEARCH_LENGTH} characters")
    return search_form(typed) if typed else None


@strawberry.type
class CatalogQuery:
    @strawberry.field
    async def locales(self, info: Info, enabled_only: bool | None = None) -> list[Locale]:
        info.context.require(Scope.CATALOG_VIEW)
        async with info.context.reader() as session:
            views = await CatalogSetupService(session).list_locales(
                info.context.tenant_id, enabled_only=bool(enabled_only)
            )
        return [Locale.from_view(view) for view in views]

    @strawberry.field(description="Value scopes (Akeneo channels); the catalog's enabled ones first, in order.")
    async def scopes(self, info: Info, enabled_only: bool | None = None) -> list[ValueScope]:
        info.context.require(Scope.CATALOG_VIEW)
        async with info.context.reader() as session:
            rows = await CatalogSetupService(session).list_scopes(
                info.context.tenant_id, enabled_only=bool(enabled_only)
            )
        return [ValueScope.from_row(row) for row in rows]

    @strawberry.field(description="Catalog currencies; the first enabled one is the default for plain prices.")
    async def currencies(self, info: Info, enabled_only: bool | None = None) -> list[Currency]:
        info.context.require(Scope.CATALOG_VIEW)
        async with info.context.reader() as session:
            views = await CatalogSetupService(session).list_currencies(
                info.context.tenant_id, enabled_only=bool(enabled_only)
            )
        return [Currency.from_view(view) for view in views]

    @strawberry.field
    async def attributes(self, info: Info) -> list[Attribute]:
        info.context.require(Scope.CATALOG_VIEW)
        async with info.context.reader() as session:
            rows = await AttributeService(session).list_attributes(info.context.tenant_id)
        return [Attribute.from_row(row) for row in rows]

    @strawberry.field
    async def products(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        search: str | None = None,
        updated_since: datetime | None = None,
    ) -> ProductConnection:
        """Live products by creation order; `search` matches SKU and text values (names) in every locale."""
        info.context.require(Scope.CATALOG_VIEW)
        limit, after_id = page_size(first), after_key("Product", after)
        where = ProductFilter(search=_search(search), updated_since=aware("updatedSince", updated_since))
        tenant_id = info.context.tenant_id
        async with info.context.reader() as session:
            rows = await ProductService(session).page(tenant_id, where, after_id=after_id, limit=limit + 1)

        async def count() -> int:
            async with info.context.reader() as session:
                return await ProductService(session).count(tenant_id, where)

        items = [(row.id, ProductType.from_row(row)) for row in rows]
        return connection("Product", Page(items=items, limit=limit, after=after_id), count)

    @strawberry.field
    async def product(self, info: Info, sku: str) -> ProductType | None:
        info.context.require(Scope.CATALOG_VIEW)
        async with info.context.reader() as session:
            try:
                row = await ProductService(session).get(info.context.tenant_id, sku)
            except NotFound:
                return None
        return ProductType.from_row(row)
