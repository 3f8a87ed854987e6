"""Listings, the binder: a product on one connector, with its external id, last sync and what was sent."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Listing


@dataclass(slots=True)
class NewListing:
    """A listing a sync page or check writes for the first time, with a Listing's columns but no ORM state.

    A first FULL sync creates one per product; as ORM objects they cost 17 µs
    each to build and twice as much again to insert as Core rows do, for an
    id nothing reads. Read later, it is a Listing like any other.
    """

    tenant_id: int
    connector_id: int
    product_id: int
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


_NEW_COLUMNS = tuple(column.name for column in fields(NewListing))

AnyListing = Listing | NewListing
"""What the binder writes to: a stored listing, or the one it is creating."""


class ListingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._new: list[NewListing] = []

    async def for_products(
        self, connector_id: int, product_ids: Collection[int], *, for_update: bool = False
    ) -> dict[int, Listing]:
        statement = select(Listing).where(Listing.connector_id == connector_id, Listing.product_id.in_(product_ids))
        if for_update:
            statement = statement.with_for_update()
        return {row.product_id: row for row in await self.session.scalars(statement)}

    def add(self, listing: Listing) -> None:
        self.session.add(listing)

    def add_new(self, listing: NewListing) -> None:
        """A listing not stored yet, written by `insert_new` together with the others of the batch."""
        self._new.append(listing)

    async def insert_new(self) -> None:
        """One INSERT of the listings given to `add_new`, as they are now (one round trip a page, where the
        ORM would insert one row per statement on SQLite to learn each new id)."""
        new, self._new = self._new, []
        if new:
            rows = [{name: getattr(listing, name) for name in _NEW_COLUMNS} for listing in new]
            await (await self.session.connection()).execute(insert(Listing), rows)

    async def by_external_id(self, connector_id: int, external_id: str) -> Listing | None:
        statement = select(Listing).where(Listing.connector_id == connector_id, Listing.external_id == external_id)
        return (await self.session.scalars(statement.limit(1))).first()
