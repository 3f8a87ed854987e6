"""Pages of many owners at once: each connector's newest rows, each job's oldest, in one query for a listed page,
each owner's page read from an index in the page's order; and how many rows each owner has, in another, asked for
only when a query wants the totals."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, func, select, true
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
) -> dict[int, list[Row]]:
    """Each owner's rows of `statement` (a filtered select of `model`, whose primary key is `key`): up to `limit`
    newest first (below `before_id` when given), in one query whatever the number of owners."""
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
) -> dict[int, list[Row]]:
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
) -> dict[int, list[Row]]:
    if cursor is not None:
        statement = statement.where(key < cursor if newest else key > cursor)
    owner_key = _owner_key(owner)
    one = statement.where(owner == owner_key).order_by(key.desc() if newest else key.asc()).limit(limit)
    postgresql = session.get_bind().dialect.name == "postgresql"
    listed, row_key = _pages_of_each(model, key, one, owner_key, lateral=postgresql)
    listed = listed.where(owner_key.in_(owners)).order_by(row_key.desc() if newest else row_key.asc())
    pages: dict[int, list[Row]] = {owner_id: [] for owner_id in owners}
    for item in await session.scalars(listed):
        pages[getattr(item, owner.key)].append(item)
    return pages


async def count_per_owner(
    session: AsyncSession, statement: Select[Any], owner: InstrumentedAttribute[int], owners: Collection[int]
) -> dict[int, int]:
    """How many rows of `statement` each owner has (0 for none), in one grouped query whatever the number of
    owners."""
    counted = statement.where(owner.in_(owners)).with_only_columns(owner, func.count()).group_by(owner)
    totals = {owner_id: int(count) for owner_id, count in await session.execute(counted)}
    return {owner_id: totals.get(owner_id, 0) for owner_id in owners}


def _owner_key(owner: InstrumentedAttribute[int]) -> ColumnElement[int]:
    """The primary key `owner` refers to (connectors.id for a job's connector_id): the owners' own table drives the
    page query, one index lookup per owner."""
    (foreign_key,) = owner.expression.foreign_keys
    return foreign_key.column


def _pages_of_each(
    model: type[Row],
    key: InstrumentedAttribute[int],
    one: Select[Any],
    owner_key: ColumnElement[int],
    *,
    lateral: bool,
) -> tuple[Select[Any], ColumnElement[int]]:
    """`one` (an owner's page, correlated with the owners' table) for every owner, and the rows' key to order by.

    Each owner's page is read from the index in its order and stops at `limit`: a window function ranking every
    row of the owners reads a connector's whole history (35,000 jobs a year at one sync each quarter hour) for its
    five newest.
    PostgreSQL runs a LATERAL subquery once per owner; SQLite, which has no LATERAL, runs the correlated
    `key IN (page's keys)` once per owner and fetches the rows by primary key, but PostgreSQL would run that
    subquery for every row of the table."""
    if lateral:
        page = one.lateral("page")
        row = aliased(model, page)
        return select(row).select_from(owner_key.table).join(page, true()), page.c[key.key]
    row = aliased(model)
    row_key: ColumnElement[int] = getattr(row, key.key).expression
    keys = one.with_only_columns(key).correlate(owner_key.table)
    return select(row).select_from(owner_key.table).join(row, row_key.in_(keys)), row_key
