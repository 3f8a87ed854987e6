"""Listings, the binder: a product on one connector, with its external id, last sync and what was sent."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import insert, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Listing

_COLUMNS = tuple(prop.key for prop in inspect(Listing).column_attrs if prop.key != "id")


class ListingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._new: list[Listing] = []

    async def for_products(
        self, connector_id: int, product_ids: Collection[int], *, for_update: bool = False
    ) -> dict[int, Listing]:
        statement = select(Listing).where(Listing.connector_id == connector_id, Listing.product_id.in_(product_ids))
        if for_update:
            statement = statement.with_for_update()
        return {row.product_id: row for row in await self.session.scalars(statement)}

    def add(self, listing: Listing) -> None:
        self.session.add(listing)

    def add_new(self, listing: Listing) -> None:
        """A listing not stored yet, written by `insert_new` together with the others of the batch.

        The ORM inserts new rows one statement each on SQLite (it must learn
        every new id, and SQLite cannot return them in a guaranteed order), a
        round trip per product of a sync page; nothing reads a new listing's id.
        """
        self._new.append(listing)

    async def insert_new(self) -> None:
        """One INSERT of the listings given to `add_new`, as they are now; they stay out of the session
        (transient, without an id), and a later read loads them like any other."""
        new, self._new = self._new, []
        if new:
            await self.session.execute(insert(Listing), [_row(listing) for listing in new])

    async def by_external_id(self, connector_id: int, external_id: str) -> Listing | None:
        statement = select(Listing).where(Listing.connector_id == connector_id, Listing.external_id == external_id)
        return (await self.session.scalars(statement.limit(1))).first()


def _row(listing: Listing) -> dict[str, Any]:
    """The columns set on a new listing; the others take their defaults."""
    values = inspect(listing).dict
    return {key: values[key] for key in _COLUMNS if key in values}
