"""Listings, the binder: a product on one connector, with its external id, last sync and what was sent."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Listing


class ListingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def for_products(self, connector_id: int, product_ids: Collection[int]) -> dict[int, Listing]:
        statement = select(Listing).where(Listing.connector_id == connector_id, Listing.product_id.in_(product_ids))
        return {row.product_id: row for row in await self.session.scalars(statement)}

    def add(self, listing: Listing) -> None:
        self.session.add(listing)
