"""Pages of many owners at once: each connector's newest rows, each job's oldest, in two queries for a listed page."""

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
    return await _per_owner(session, model, statement, key, owner, owners, cursor=before_id, limit=limit, newest=True)


async def oldest_per_owner(
    session: AsyncSession,
    model: type[Row],
    statement: Select[Any],
    key: InstrumentedAttribute[int],
    owner: InstrumentedAttribute[int],
    owners: Collection[int],
    *,
    after_id: int | None,
    limit: int,
) -> tuple[dict[int, list[Row]], dict[int, int]]:
    """As `newest_per_owner`, oldest first from above `after_id`: a job's errors and changes read in the order they
    were recorded."""
    return await _per_owner(session, model, statement, key, owner, owners, cursor=after_id, limit=limit, newest=False)


async def _per_owner(
    session: AsyncSession,
    model: type[Row],
    statement: Select[Any],
    key: InstrumentedAttribute[int],
    owner: InstrumentedAttribute[int],
    owners: Collection[int],
    *,
    cursor: int | None,
    limit: int,
    newest: bool,
) -> tuple[dict[int, list[Row]], dict[int, int]]:
    mine = statement.where(owner.in_(owners))
    counted = mine.with_only_columns(owner, func.count()).group_by(owner)
    totals = {owner_id: int(count) for owner_id, count in await session.execute(counted)}
    if cursor is not None:
        mine = mine.where(key < cursor if newest else key > cursor)
    order = key.desc() if newest else key.asc()
    place = func.row_number().over(partition_by=owner, order_by=order).label("place")
    ranked = mine.add_columns(place).subquery()
    row = aliased(model, ranked)
    column = ranked.c[key.key]
    listed = select(row).where(ranked.c.place <= limit).order_by(column.desc() if newest else column.asc())
    pages: dict[int, list[Row]] = {owner_id: [] for owner_id in owners}
    for item in await session.scalars(listed):
        pages[getattr(item, owner.key)].append(item)
    return pages, {owner_id: totals.get(owner_id, 0) for owner_id in owners}
