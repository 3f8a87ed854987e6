"""Listings, the binder: a product on one connector, with its external id, last sync and what was sent."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Listing


@dataclass(slots=True)
class ListingRow:
    """A listing as sync pages and checks read and write it: a Listing's columns, without ORM state.

    A sync page reads, and mostly rewrites, a listing per product; a first FULL
    sync creates one per product. As ORM objects they cost 7-17 µs each to
    build (0.25 µs as rows), more to load, and a unit-of-work flush to write;
    as rows a page reads them in one statement and writes them in two (the new
    ones inserted, the stored ones updated by id). `id` is None until stored.
    """

    tenant_id: int
    connector_id: int
    product_id: int
    id: int | None = None
    external_id: str | None = None
    status: str = "never"
    last_synced_at: datetime | None = None
    document_hashes: dict[str, str] = field(default_factory=dict)
    sent: dict[str, Any] = field(default_factory=dict)
    base: dict[str, Any] = field(default_factory=dict)
    channel_updated_at: datetime | None = None
    excluded: bool = False
    last_error: str | None = None
    synced_revision: int = 0


_IDENTITY = ("tenant_id", "connector_id", "product_id")
_WRITTEN = tuple(column.name for column in fields(ListingRow) if column.name != "id")
_UPDATED = tuple(name for name in _WRITTEN if name not in _IDENTITY)
_SELECTED = tuple(getattr(Listing, column.name) for column in fields(ListingRow))
"""ListingRow's fields in order, so that a row read makes a ListingRow positionally."""
_FOR_PRODUCTS = select(*_SELECTED).where(
    Listing.connector_id == bindparam("connector_id"), Listing.product_id.in_(bindparam("product_ids", expanding=True))
)
"""A page's listings, built once: building the statement for each page cost more CPU than running it."""
_FOR_PRODUCTS_LOCKED = _FOR_PRODUCTS.with_for_update()


class ListingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._saved: list[ListingRow] = []

    async def for_products(
        self, connector_id: int, product_ids: Collection[int], *, for_update: bool = False
    ) -> dict[int, ListingRow]:
        statement = _FOR_PRODUCTS_LOCKED if for_update else _FOR_PRODUCTS
        rows = await self.session.execute(statement, {"connector_id": connector_id, "product_ids": list(product_ids)})
        return {row.product_id: ListingRow(*row) for row in rows}

    async def by_external_id(self, connector_id: int, external_id: str) -> ListingRow | None:
        statement = select(*_SELECTED).where(Listing.connector_id == connector_id, Listing.external_id == external_id)
        row = (await self.session.execute(statement.limit(1))).first()
        return ListingRow(*row) if row is not None else None

    def save(self, listing: ListingRow) -> None:
        """Written by `write` with the batch's other saved listings: inserted when new, else updated."""
        self._saved.append(listing)

    async def write(self) -> None:
        """The saved listings as they are now: one INSERT for the new ones, one UPDATE by id for the stored."""
        saved, self._saved = self._saved, []
        if not saved:
            return
        connection = await self.session.connection()
        if new := [listing for listing in saved if listing.id is None]:
            await connection.execute(insert(Listing), [_values(listing, _WRITTEN) for listing in new])
        if stored := [listing for listing in saved if listing.id is not None]:
            statement = update(Listing).where(Listing.id == bindparam("listing_id"))
            rows = [{"listing_id": listing.id, **_values(listing, _UPDATED)} for listing in stored]
            await connection.execute(statement, rows)


def _values(listing: ListingRow, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(listing, name) for name in names}
