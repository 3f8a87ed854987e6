"""Pages of many owners at once: the newest rows of each connector of a listed page, in two queries."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

Row = TypeVar("Row")


async def newest_per_owner(
    session: AsyncSession,
    model: type[Row],
    statement: Select[Any],
    key: InstrumentedAttribute[int],
    owner: InstrumentedAttribute[int],
    owners: Collection[int],
    *,
    before_id: int | None,
    limit: int,
) -> tuple[dict[int, list[Row]], dict[int, int]]:
    """Each owner's rows of `statement` (a filtered select of `model`, whose primary key is `key`): up to `limit`
    newest first (below `before_id` when given), and how many match in all, in two queries whatever the number of
    owners."""
    mine = statement.where(owner.in_(owners))
    counted = mine.with_only_columns(owner, func.count()).group_by(owner)
    totals = {owner_id: int(count) for owner_id, count in await session.execute(counted)}
    if before_id is not None:
        mine = mine.where(key < before_id)
    place = func.row_number().over(partition_by=owner, order_by=key.desc()).label("place")
    ranked = mine.add_columns(place).subquery()
    row = aliased(model, ranked)
    newest = select(row).where(ranked.c.place <= limit).order_by(ranked.c[key.key].desc())
    pages: dict[int, list[Row]] = {owner_id: [] for owner_id in owners}
    for item in await session.scalars(newest):
        pages[getattr(item, owner.key)].append(item)
    return pages, {owner_id: totals.get(owner_id, 0) for owner_id in owners}
