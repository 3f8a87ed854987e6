"""Catalog types of the contract (Locale, Attribute, Product, ProductValue) and their additions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from app.db.models import NO_LOCALE, NO_SCOPE
from app.db.models import Attribute as AttributeRow
from app.db.models import Product as ProductRow
from app.db.models import Scope as ScopeRow
from app.domain.catalog import AttributeType, CatalogSpec
from app.domain.errors import NotFound
from app.domain.fallback import lookup_value
from app.domain.locales import InvalidLocaleCode, canonical_locale
from app.domain.scopes import Scope
from app.domain.storable import echoed
from app.domain.values import ValueKey
from app.services.catalog_setup import CurrencyView, LocaleView
from graphql_schema.connectors.types import ChannelListingType
from graphql_schema.context import Info
from graphql_schema.relay import BadArgument, Connection, Node, global_id
from graphql_schema.scalars import JSON

AttributeTypeEnum = strawberry.enum(AttributeType, name="AttributeType")


@strawberry.type
class Locale:
    code: str
    name: str = strawberry.field(description="Display name in English, from CLDR (Babel).")
    native_name: str = strawberry.field(description="Display name in the locale itself, from CLDR (Babel).")
    rtl: bool = strawberry.field(description="Right-to-left script (ar, he, fa ...).")
    enabled: bool

    @classmethod
    def from_view(cls, view: LocaleView) -> Locale:
        info = view.info
        return cls(code=info.code, name=info.name, native_name=info.native_name, rtl=info.rtl, enabled=view.enabled)


@strawberry.type(description="A value scope (Akeneo's channel: ecommerce, print ...), never a sales channel.")
class ValueScope:
    code: str
    labels: JSON
    enabled: bool

    @classmethod
    def from_row(cls, row: ScopeRow) -> ValueScope:
        return cls(code=row.code, labels=JSON(row.labels), enabled=row.enabled)


@strawberry.type
class Currency:
    code: str
    name: str = strawberry.field(description="Display name in English, from CLDR (Babel).")
    symbol: str
    enabled: bool

    @classmethod
    def from_view(cls, view: CurrencyView) -> Currency:
        return cls(code=view.code, name=view.name, symbol=view.symbol, enabled=view.enabled)


@strawberry.type
class Attribute:
    code: str
    type: AttributeTypeEnum  # type: ignore[valid-type]
    localizable: bool
    scopable: bool = strawberry.field(
        description="Values differ per scope (Akeneo channel), e.g. a print and an ecommerce description."
    )
    labels: JSON | None = strawberry.field(description="Labels keyed by locale code.")

    @classmethod
    def from_row(cls, row: AttributeRow) -> Attribute:
        return cls(
            code=row.code,
            type=AttributeType(row.type),
            localizable=row.localizable,
            scopable=row.scopable,
            labels=JSON(row.labels),
        )


@strawberry.type
class ProductValue:
    attribute: str
    locale: str | None = strawberry.field(description="null for a value that is not localizable.")
    scope: str | None = strawberry.field(description="null for a value that is not scopable.")
    data: JSON | None


def _locale_filter(locales: list[str] | None) -> set[str] | None:
    if locales is None:
        return None
    try:
        return {canonical_locale(code) for code in locales}
    except InvalidLocaleCode as exc:
        raise BadArgument(str(exc)) from exc


def _check_scope(spec: CatalogSpec, scope: str | None) -> None:
    """A scope the catalog does not have would answer as if the product had no value there: say so instead."""
    if scope is not None and scope not in spec.scopes:
        enabled = ", ".join(spec.scopes) or "none yet"
        raise BadArgument(f"scope '{echoed(scope)}' is not enabled in the catalog (it has: {enabled})")


def _attribute_spec(spec: CatalogSpec, code: str) -> Any:
    attribute = spec.attributes.get(code)
    if attribute is None:
        raise NotFound(f"unknown attribute '{echoed(code)}'")
    return attribute


@strawberry.type(name="Product")
class ProductType(Node):
    row: strawberry.Private[ProductRow]
    sku: str
    enabled: bool
    parent: str | None = strawberry.field(description="Variant products name their parent product model's code.")
    family: str | None
    updated_at: datetime
    revision: int = strawberry.field(
        description="The tenant-wide revision of this product's last change; it only grows (incremental sync cursor)."
    )

    @classmethod
    def from_row(cls, row: ProductRow) -> ProductType:
        return cls(
            id=global_id("Product", row.id),
            row=row,
            sku=row.sku,
            enabled=row.enabled,
            parent=row.parent,
            family=row.family,
            updated_at=row.updated_at,
            revision=row.revision,
        )

    @strawberry.field
    async def values(
        self,
        info: Info,
        attributes: list[str] | None = None,
        locales: list[str] | None = None,
        scope: str | None = None,
    ) -> list[ProductValue]:
        """Stored values; a locale or scope filter keeps the values that do not vary by it."""
        spec = await info.context.loaders.spec()
        _check_scope(spec, scope)
        values = await info.context.loaders.values_by_product.load(self.row.id)
        by_id = spec.by_id
        wanted_locales = _locale_filter(locales)
        wanted_attributes = set(attributes) if attributes is not None else None
        result = []
        for key, data in values.items():
            attribute = by_id[key.attribute_id]
            if wanted_attributes is not None and attribute.code not in wanted_attributes:
                continue
            if wanted_locales is not None and key.locale != NO_LOCALE and key.locale not in wanted_locales:
                continue
            if scope is not None and key.scope not in (NO_SCOPE, scope):
                continue
            result.append(
                ProductValue(attribute=attribute.code, locale=key.locale or None, scope=key.scope or None, data=data)
            )
        return result

    @strawberry.field(
        description="One value; with a locale, falls back along the locale's chain (ar_AE -> ar -> default) when empty."
    )
    async def value(
        self, info: Info, attribute: str, locale: str | None = None, scope: str | None = None
    ) -> JSON | None:
        spec = await info.context.loaders.spec()
        spec_attribute = _attribute_spec(spec, attribute)
        if spec_attribute.scopable and not scope:
            raise BadArgument(f"attribute {attribute} is scopable: give a scope")
        _check_scope(spec, scope)
        canonical = next(iter(_locale_filter([locale]) or []), None) if locale else None
        values: dict[ValueKey, Any] = await info.context.loaders.values_by_product.load(self.row.id)
        found = lookup_value(values, spec_attribute, locale=canonical, scope=scope, default_locale=spec.default_locale)
        return None if found is None else found.data

    @strawberry.field(description="Where this product stands on each connector.")
    async def listings(self, info: Info) -> list[ChannelListingType]:
        info.context.require(Scope.SYNC_VIEW)
        rows = await info.context.loaders.listings_by_product.load(self.row.id)
        return [ChannelListingType.from_row(row) for row in rows]


ProductConnection = Connection[ProductType]
