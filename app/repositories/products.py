"""Products and their values: batch reads and writes, keyset pages.

Values are written with bulk statements (one INSERT, one UPDATE by primary
key and one DELETE per batch) because an import writes millions of them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, false, func, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Conflict, Listing, Product, ProductValue
from app.domain.sync import Selection
from app.repositories.keys import storable, text_in, text_is


@dataclass(frozen=True, slots=True)
class ValueRow:
    id: int
    product_id: int
    attribute_id: int
    locale: str
    scope: str
    data: Any
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ProductRow:
    """A product as a sync reads it (`_PAGE_COLUMNS`), without ORM state: a page builds a hundred, each read
    again and again while the page is checked and recorded, and a sync never writes them back."""

    id: int
    sku: str
    enabled: bool
    revision: int
    updated_at: datetime
    deleted_at: datetime | None

    @classmethod
    def of(cls, product: Product) -> ProductRow:
        """The row of a product loaded whole (a webhook's or a resolution's product, checked as a page's are)."""
        return cls(product.id, product.sku, product.enabled, product.revision, product.updated_at, product.deleted_at)


@dataclass(frozen=True, slots=True)
class TombstoneKey:
    """Where a walk of the tombstones, oldest deletion first, has got to: the last one's deletion time and id."""

    deleted_at: datetime
    id: int


@dataclass(frozen=True, slots=True)
class ProductFilter:
    search: str | None = None
    """Text in its search form (app.domain.catalog.search_form) matched against SKU and text values."""
    updated_since: datetime | None = None


_VALUES_FOR_EXPORT = select(
    ProductValue.product_id, ProductValue.attribute_id, ProductValue.locale, ProductValue.scope, ProductValue.data
).where(
    ProductValue.tenant_id == bindparam("tenant_id"),
    ProductValue.product_id.in_(bindparam("product_ids", expanding=True)),
    ProductValue.attribute_id.in_(bindparam("attribute_ids", expanding=True)),
    ProductValue.scope.in_(bindparam("scopes", expanding=True)),
)
"""A sync page's values, built once: building the statement for each page cost more CPU than running it."""


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ProductRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_skus(self, tenant_id: int, skus: Collection[str]) -> dict[str, Product]:
        """Products with these SKUs, tombstones included (an upsert revives them)."""
        statement = select(Product).where(Product.tenant_id == tenant_id, text_in(Product.sku, skus))
        return {row.sku: row for row in await self.session.scalars(statement)}

    async def live_by_sku(self, tenant_id: int, sku: str) -> Product | None:
        statement = select(Product).where(
            Product.tenant_id == tenant_id, text_is(Product.sku, sku), Product.deleted_at.is_(None)
        )
        return await self.session.scalar(statement)

    async def live_by_ids(self, tenant_id: int, ids: Collection[int]) -> dict[int, Product]:
        statement = select(Product).where(
            Product.tenant_id == tenant_id, Product.id.in_(ids), Product.deleted_at.is_(None)
        )
        return {row.id: row for row in await self.session.scalars(statement)}

    async def values_of(self, tenant_id: int, product_ids: Collection[int]) -> list[ValueRow]:
        statement = select(
            ProductValue.id,
            ProductValue.product_id,
            ProductValue.attribute_id,
            ProductValue.locale,
            ProductValue.scope,
            ProductValue.data,
            ProductValue.updated_at,
        ).where(ProductValue.tenant_id == tenant_id, ProductValue.product_id.in_(product_ids))
        rows = await self.session.execute(statement.order_by(ProductValue.product_id, ProductValue.id))
        return [ValueRow(*row) for row in rows]

    async def values_for_export(
        self, tenant_id: int, product_ids: Collection[int], attribute_ids: Collection[int], scopes: Collection[str]
    ) -> list[tuple[int, int, str, str, Any]]:
        """(product id, attribute id, locale, scope, data) of just the attributes and scopes an export reads."""
        parameters = {
            "tenant_id": tenant_id,
            "product_ids": list(product_ids),
            "attribute_ids": list(attribute_ids),
            "scopes": list(scopes),
        }
        return list(await self.session.execute(_VALUES_FOR_EXPORT, parameters))

    async def value_times(
        self, tenant_id: int, product_ids: Collection[int], attribute_ids: Collection[int], scopes: Collection[str]
    ) -> dict[tuple[int, int, str, str], datetime]:
        """When each of these values last changed: NEWEST_WINS compares it with the channel's time."""
        statement = select(
            ProductValue.product_id,
            ProductValue.attribute_id,
            ProductValue.locale,
            ProductValue.scope,
            ProductValue.updated_at,
        ).where(
            ProductValue.tenant_id == tenant_id,
            ProductValue.product_id.in_(product_ids),
            ProductValue.attribute_id.in_(attribute_ids),
            ProductValue.scope.in_(scopes),
        )
        return {(row[0], row[1], row[2], row[3]): row[4] for row in await self.session.execute(statement)}

    def add_all(self, products: Sequence[Product]) -> None:
        self.session.add_all(products)

    async def flush(self) -> None:
        await self.session.flush()

    async def insert_values(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            await self.session.execute(insert(ProductValue), list(rows))

    async def update_values(self, rows: Sequence[dict[str, Any]]) -> None:
        """Bulk UPDATE by primary key: each row holds `id` and the columns to set."""
        if rows:
            await self.session.execute(update(ProductValue), list(rows))

    async def delete_values(self, tenant_id: int, value_ids: Collection[int]) -> None:
        if value_ids:
            await self.session.execute(
                delete(ProductValue).where(ProductValue.tenant_id == tenant_id, ProductValue.id.in_(value_ids))
            )

    async def delete_all_values(self, tenant_id: int, product_ids: Collection[int]) -> None:
        await self.session.execute(
            delete(ProductValue).where(ProductValue.tenant_id == tenant_id, ProductValue.product_id.in_(product_ids))
        )

    def _live(self, tenant_id: int, where: ProductFilter) -> Select[Any]:
        statement = select(Product).where(Product.tenant_id == tenant_id, Product.deleted_at.is_(None))
        if where.search and not storable(where.search):
            statement = statement.where(false())
        elif where.search:
            pattern = f"%{_escape_like(where.search)}%"
            statement = statement.where(Product.search_text.like(pattern, escape="\\"))
        if where.updated_since is not None:
            statement = statement.where(Product.updated_at >= where.updated_since)
        return statement

    async def page(self, tenant_id: int, where: ProductFilter, *, after_id: int | None, limit: int) -> list[Product]:
        """Up to `limit` live products after `after_id`, by id (keyset pagination)."""
        statement = self._live(tenant_id, where)
        if after_id is not None:
            statement = statement.where(Product.id > after_id)
        return list(await self.session.scalars(statement.order_by(Product.id).limit(limit)))

    async def count(self, tenant_id: int, where: ProductFilter) -> int:
        subquery = self._live(tenant_id, where).with_only_columns(Product.id).subquery()
        return int(await self.session.scalar(select(func.count()).select_from(subquery)) or 0)

    async def ids_with_values_of(self, tenant_id: int, attribute_ids: Collection[int]) -> list[int]:
        statement = (
            select(ProductValue.product_id)
            .where(ProductValue.tenant_id == tenant_id, ProductValue.attribute_id.in_(attribute_ids))
            .distinct()
        )
        return list(await self.session.scalars(statement))

    async def set_revision(self, tenant_id: int, product_ids: Collection[int], revision: int, now: datetime) -> None:
        await self.session.execute(
            update(Product)
            .where(Product.tenant_id == tenant_id, Product.id.in_(product_ids))
            .values(revision=revision, updated_at=now)
        )

    async def listings_of(self, tenant_id: int, product_ids: Collection[int]) -> list[Listing]:
        statement = (
            select(Listing)
            .where(Listing.tenant_id == tenant_id, Listing.product_id.in_(product_ids))
            .order_by(Listing.product_id, Listing.connector_id)
        )
        return list(await self.session.scalars(statement))

    async def delete_tombstones_before(
        self, cutoff: datetime, *, after: TombstoneKey | None, limit: int
    ) -> tuple[int, TombstoneKey | None]:
        """Delete up to `limit` products deleted before `cutoff` that nothing needs any more, oldest deletion first
        after `after`, read through ix_products_tombstones; returns how many went and where the walk got to.

        A tombstone is kept while a listing holds an external id for it (a channel still has the product: the
        sync that deletes it there reads the tombstone, whatever the connector's cursor) and while a conflict
        names it (it would go with the product). The delete checks again that the product is still deleted: one
        created again since (an upsert revives its tombstone) stays."""
        unneeded = and_(Product.deleted_at.is_not(None), Product.deleted_at < cutoff, ~_held(Product.id))
        key = tuple_(Product.deleted_at, Product.id)
        statement = (
            select(Product.deleted_at, Product.id).where(unneeded).order_by(Product.deleted_at, Product.id).limit(limit)
        )
        if after is not None:
            statement = statement.where(key > tuple_(after.deleted_at, after.id))
        rows = list(await self.session.execute(statement))
        if not rows:
            return 0, after
        gone = (
            delete(Product)
            .where(Product.id.in_([row[1] for row in rows]), unneeded)
            .returning(Product.id)
            .execution_options(synchronize_session=False)
        )
        deleted = list(await self.session.scalars(gone))
        last_at, last_id = rows[-1]
        assert last_at is not None  # deleted_at < cutoff
        return len(deleted), TombstoneKey(last_at, last_id)

    # -- sync selection ----------------------------------------------------------------------------

    @staticmethod
    def _selected(tenant_id: int, selection: Selection, what: Any = Product.id) -> Select[Any]:
        """`what` (the ids, or whole products) of the selected products, unordered."""
        statement = select(what).where(Product.tenant_id == tenant_id)
        if selection.skus is not None:
            return statement.where(text_in(Product.sku, selection.skus), Product.deleted_at.is_(None))
        if selection.everything:
            live = and_(Product.deleted_at.is_(None), Product.enabled.is_(True))
            if selection.listed_on is None:
                return statement.where(live)
            listed = (
                select(Listing.id)
                .where(
                    Listing.connector_id == selection.listed_on,
                    Listing.product_id == Product.id,
                    Listing.external_id.is_not(None),
                )
                .exists()
            )
            return statement.where(or_(live, listed))
        changed = Product.revision > selection.revision_from
        if selection.revision_to is not None:
            changed = and_(changed, Product.revision <= selection.revision_to)
        if selection.failed_on is not None:
            failed = select(Listing.product_id).where(
                Listing.connector_id == selection.failed_on, Listing.status == "error"
            )
            changed = or_(changed, Product.id.in_(failed))
        return statement.where(changed)

    async def count_selected(self, tenant_id: int, selection: Selection) -> int:
        subquery = self._selected(tenant_id, selection).subquery()
        return int(await self.session.scalar(select(func.count()).select_from(subquery)) or 0)

    async def chunk_bounds(self, tenant_id: int, selection: Selection, size: int) -> list[tuple[int, int]]:
        """(first id, last id) of consecutive slices of `size` selected products, by keyset steps."""
        bounds: list[tuple[int, int]] = []
        after = 0
        while True:
            ids = self._selected(tenant_id, selection).where(Product.id > after).order_by(Product.id)
            first = await self.session.scalar(ids.limit(1))
            if first is None:
                return bounds
            last = await self.session.scalar(ids.offset(size - 1).limit(1))
            if last is None:
                last = await self.session.scalar(ids.order_by(None).with_only_columns(func.max(Product.id)))
            assert last is not None
            bounds.append((first, last))
            after = last

    async def selected_page(
        self, tenant_id: int, selection: Selection, *, after_id: int, last_id: int, limit: int
    ) -> list[ProductRow]:
        """Selected products (tombstones included where the selection takes them) in (after_id, last_id].

        One keyset step on the (tenant, id) index, reading just the page: an earlier `id IN (selected
        ids)` form had the database gather every selected id up to the chunk's end for each page.
        Read as rows, not ORM objects: loading a page's hundred products into the session cost twice the query.
        """
        bounds = {"after_id": after_id, "last_id": last_id, "limit": limit}
        return [ProductRow(*row) for row in await self.session.execute(_selected_page(tenant_id, selection), bounds)]


def _held(product_id: Any) -> Any:
    """Whether a channel still holds the product (a listing keeps its external id) or a conflict names it."""
    on_a_channel = select(Listing.id).where(Listing.product_id == product_id, Listing.external_id.is_not(None))
    named = select(Conflict.id).where(Conflict.product_id == product_id)
    return or_(on_a_channel.exists(), named.exists())


_PAGE_COLUMNS = tuple(getattr(Product, column.name) for column in fields(ProductRow))
"""What a sync reads of a product, in ProductRow's order: not its search text, a long column it never uses."""


@lru_cache(maxsize=8)
def _selected_page(tenant_id: int, selection: Selection) -> Select[Any]:
    """A page of a job's products, built once for all the pages of the job (bounds and size are parameters):
    building it for each page cost more CPU than running it. Few are kept (a selection may name 10,000 SKUs):
    enough for the jobs a worker runs at once."""
    statement = ProductRepository._selected(tenant_id, selection).with_only_columns(*_PAGE_COLUMNS)
    page = statement.where(Product.id > bindparam("after_id"), Product.id <= bindparam("last_id"))
    return page.order_by(Product.id).limit(bindparam("limit"))
