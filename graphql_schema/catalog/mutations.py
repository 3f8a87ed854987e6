"""Catalog mutations: bad input fills userErrors and changes nothing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from app.domain.catalog import AttributeType
from app.domain.errors import InvalidInput
from app.domain.products import ProductDraft
from app.domain.scopes import Scope
from app.services.attributes import AttributeInputData, AttributeService
from app.services.catalog_setup import CatalogSetupService, ScopeInputData
from app.services.products import ProductService
from graphql_schema.catalog.types import Attribute, AttributeTypeEnum, Currency, Locale, ProductType, ValueScope
from graphql_schema.context import Info
from graphql_schema.errors import Outcome, UserError, from_invalid_input
from graphql_schema.scalars import JSON

Result = TypeVar("Result")


async def run_in_transaction(
    info: Info, scope: Scope, work: Callable[[AsyncSession], Awaitable[Result]]
) -> Outcome[Result]:
    """Check the scope, run `work` in one unit of work; bad input rolls it back and becomes userErrors."""
    info.context.require(scope)
    try:
        async with info.context.transaction() as session:
            return Outcome(await work(session), [])
    except InvalidInput as exc:
        return Outcome(None, from_invalid_input(exc))


@strawberry.input
class ProductValueInput:
    attribute: str
    locale: str | None = None
    scope: str | None = None
    data: JSON | None = None


@strawberry.input
class ProductInput:
    sku: str
    enabled: bool | None = None
    family: str | None = None
    parent: str | None = None
    values: list[ProductValueInput]

    def to_draft(self) -> ProductDraft:
        values = [{"attribute": v.attribute, "locale": v.locale, "scope": v.scope, "data": v.data} for v in self.values]
        return ProductDraft(self.sku, values, self.enabled, self.family, self.parent)


@strawberry.input
class AttributeInput:
    code: str
    type: AttributeTypeEnum  # type: ignore[valid-type]
    localizable: bool
    scopable: bool | None = None
    labels: JSON | None = None

    def to_data(self) -> AttributeInputData:
        return AttributeInputData(
            self.code, AttributeType(self.type), self.localizable, bool(self.scopable), self.labels
        )


@strawberry.input
class ScopeInput:
    code: str
    labels: JSON | None = None


@strawberry.type
class SetLocalesPayload:
    locales: list[Locale]
    user_errors: list[UserError]


@strawberry.type
class SetScopesPayload:
    scopes: list[ValueScope]
    user_errors: list[UserError]


@strawberry.type
class SetCurrenciesPayload:
    currencies: list[Currency]
    user_errors: list[UserError]


@strawberry.type
class UpsertAttributesPayload:
    attributes: list[Attribute]
    user_errors: list[UserError]


@strawberry.type
class UpsertProductsPayload:
    products: list[ProductType]
    user_errors: list[UserError]


@strawberry.type
class DeleteProductsPayload:
    deleted_skus: list[str]
    user_errors: list[UserError]


@strawberry.type
class DeleteAttributesPayload:
    deleted_codes: list[str]
    user_errors: list[UserError]


@strawberry.type
class CatalogMutation:
    @strawberry.mutation(description="Enable exactly these locales; the first is the catalog's default locale.")
    async def set_locales(self, info: Info, codes: list[str]) -> SetLocalesPayload:
        async def work(session: AsyncSession) -> list[Locale]:
            views = await CatalogSetupService(session).set_locales(info.context.tenant_id, codes)
            return [Locale.from_view(view) for view in views]

        outcome = await run_in_transaction(info, Scope.CATALOG_EDIT, work)
        return SetLocalesPayload(locales=outcome.value or [], user_errors=outcome.errors)

    @strawberry.mutation(description="Enable exactly these value scopes (Akeneo channels), with their labels.")
    async def set_scopes(self, info: Info, scopes: list[ScopeInput]) -> SetScopesPayload:
        async def work(session: AsyncSession) -> list[ValueScope]:
            data = [ScopeInputData(scope.code, scope.labels or {}) for scope in scopes]
            rows = await CatalogSetupService(session).set_scopes(info.context.tenant_id, data)
            return [ValueScope.from_row(row) for row in rows]

        outcome = await run_in_transaction(info, Scope.CATALOG_EDIT, work)
        return SetScopesPayload(scopes=outcome.value or [], user_errors=outcome.errors)

    @strawberry.mutation(description="Enable exactly these currencies; the first is the default for plain prices.")
    async def set_currencies(self, info: Info, codes: list[str]) -> SetCurrenciesPayload:
        async def work(session: AsyncSession) -> list[Currency]:
            views = await CatalogSetupService(session).set_currencies(info.context.tenant_id, codes)
            return [Currency.from_view(view) for view in views]

        outcome = await run_in_transaction(info, Scope.CATALOG_EDIT, work)
        return SetCurrenciesPayload(currencies=outcome.value or [], user_errors=outcome.errors)

    @strawberry.mutation
    async def upsert_attributes(self, info: Info, attributes: list[AttributeInput]) -> UpsertAttributesPayload:
        async def work(session: AsyncSession) -> list[Attribute]:
            outcome = await AttributeService(session).upsert(info.context.tenant_id, [a.to_data() for a in attributes])
            return [Attribute.from_row(row) for row in outcome.attributes]

        outcome = await run_in_transaction(info, Scope.CATALOG_EDIT, work)
        return UpsertAttributesPayload(attributes=outcome.value or [], user_errors=outcome.errors)

    @strawberry.mutation(
        description=(
            "Delete attributes and their values, all or nothing. Mappings that read them are kept but "
            "reported broken (CHN-061) on their connector until fixed."
        )
    )
    async def delete_attributes(self, info: Info, codes: list[str]) -> DeleteAttributesPayload:
        async def work(session: AsyncSession) -> list[str]:
            return await AttributeService(session).delete(info.context.tenant_id, codes)

        outcome = await run_in_transaction(info, Scope.CATALOG_EDIT, work)
        return DeleteAttributesPayload(deleted_codes=outcome.value or [], user_errors=outcome.errors)

    @strawberry.mutation(description="Create or update products, all or nothing; values not given stay, null clears.")
    async def upsert_products(self, info: Info, products: list[ProductInput]) -> UpsertProductsPayload:
        async def work(session: AsyncSession) -> list[ProductType]:
            spec = await CatalogSetupService(session).spec(info.context.tenant_id)
            drafts = [product.to_draft() for product in products]
            upserted = await ProductService(session).upsert(info.context.tenant_id, drafts, spec)
            return [ProductType.from_row(row) for row in upserted.products]

        outcome = await run_in_transaction(info, Scope.CATALOG_EDIT, work)
        return UpsertProductsPayload(products=outcome.value or [], user_errors=outcome.errors)

    @strawberry.mutation(description="Delete products, all or nothing.")
    async def delete_products(self, info: Info, skus: list[str]) -> DeleteProductsPayload:
        async def work(session: AsyncSession) -> list[str]:
            return await ProductService(session).delete(info.context.tenant_id, skus)

        outcome = await run_in_transaction(info, Scope.CATALOG_EDIT, work)
        return DeleteProductsPayload(deleted_skus=outcome.value or [], user_errors=outcome.errors)
