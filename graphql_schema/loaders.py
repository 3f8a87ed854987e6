"""DataLoaders, built per request: one loader per access path, each batch in its own read session.

They keep the cost of a page fixed: a page of products costs one query for
the page, one per loader and, when totalCount is selected, one for the count,
whatever the page size.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from app.db.engine import Database
from app.db.models import Conflict, Connector, FieldMapping, Listing, SyncJob, SyncJobChange, SyncJobError
from app.domain.catalog import CatalogSpec
from app.domain.values import ValueKey
from app.repositories.conflicts import ConflictFilter, ConflictRepository
from app.repositories.connectors import ConnectorRepository, MappingRepository
from app.repositories.products import ProductRepository
from app.repositories.sync_jobs import SyncJobFilter, SyncJobRepository
from app.services.catalog_setup import CatalogSetupService
from graphql_schema.relay import Connection, Page, after_key, connection, page_size

Key = TypeVar("Key")
Value = TypeVar("Value")
Row = TypeVar("Row")
Identified = TypeVar("Identified", bound="HasId")
Item = TypeVar("Item")


@dataclass(frozen=True, slots=True)
class PageKey:
    """One owner's page of a nested connection (a connector's syncJobs or conflicts, a job's errors or changes):
    the owner, the value filtered on (a status, an action), the cursor's id and how many rows to fetch (one more
    than shown)."""

    owner_id: int
    filter: str | None
    cursor: int | None
    limit: int


@dataclass(frozen=True, slots=True)
class CountKey:
    """How many rows one owner's nested connection has in all: the owner and the value filtered on."""

    owner_id: int
    filter: str | None


@dataclass(frozen=True, slots=True)
class Owned(Generic[Row]):
    """The loaders of one kind of nested connection: its pages, and its totals, read only when totalCount is
    selected."""

    pages: DataLoader[PageKey, list[Row]]
    counts: DataLoader[CountKey, int]


FetchPages = Callable[[AsyncSession, str | None, list[int], int | None, int], Awaitable[dict[int, list[Row]]]]
"""Reads the pages of several owners: (session, filter, owners, cursor, limit)."""
FetchCounts = Callable[[AsyncSession, str | None, list[int]], Awaitable[dict[int, int]]]
"""Reads how many rows several owners have: (session, filter, owners)."""


class Loaders:
    def __init__(self, db: Database, tenant_id: int) -> None:
        self.db = db
        self.tenant_id = tenant_id
        self.catalog_spec: DataLoader[int, CatalogSpec] = DataLoader(self._catalog_specs)
        self.values_by_product: DataLoader[int, dict[ValueKey, Any]] = DataLoader(self._values)
        self.listings_by_product: DataLoader[int, list[Listing]] = DataLoader(self._listings)
        self.connector_by_id: DataLoader[int, Connector | None] = DataLoader(self._connectors)
        self.mappings_by_connector: DataLoader[int, list[FieldMapping]] = DataLoader(self._mappings)
        self.last_job_by_connector: DataLoader[int, SyncJob | None] = DataLoader(self._last_jobs)
        self.error_locales_by_job: DataLoader[int, set[str]] = DataLoader(self._error_locales)
        self.queue_position_by_job: DataLoader[int, int | None] = DataLoader(self._queue_positions)
        self.pending_conflicts_by_connector: DataLoader[int, int] = DataLoader(self._pending_conflicts)
        self.jobs_of_connector: Owned[SyncJob] = self._owned(self._job_pages, self._job_counts)
        self.conflicts_of_connector: Owned[Conflict] = self._owned(self._conflict_pages, self._conflict_counts)
        self.errors_of_job: Owned[SyncJobError] = self._owned(self._error_pages, self._error_counts)
        self.changes_of_job: Owned[SyncJobChange] = self._owned(self._change_pages, self._change_counts)

    async def spec(self) -> CatalogSpec:
        return await self.catalog_spec.load(self.tenant_id)

    async def _catalog_specs(self, tenant_ids: Sequence[int]) -> list[CatalogSpec]:
        async with self.db.reader() as session:
            spec = await CatalogSetupService(session).spec(self.tenant_id)
        return [spec for _ in tenant_ids]

    async def _values(self, product_ids: Sequence[int]) -> list[dict[ValueKey, Any]]:
        async with self.db.reader() as session:
            rows = await ProductRepository(session).values_of(self.tenant_id, product_ids)
        grouped: dict[int, dict[ValueKey, Any]] = {pk: {} for pk in product_ids}
        for row in rows:
            grouped[row.product_id][ValueKey(row.attribute_id, row.locale, row.scope)] = row.data
        return [grouped[pk] for pk in product_ids]

    async def _listings(self, product_ids: Sequence[int]) -> list[list[Listing]]:
        async with self.db.reader() as session:
            rows = await ProductRepository(session).listings_of(self.tenant_id, product_ids)
        return _group_by(product_ids, rows, lambda row: row.product_id)

    async def _connectors(self, connector_ids: Sequence[int]) -> list[Connector | None]:
        async with self.db.reader() as session:
            found = await ConnectorRepository(session).by_ids(self.tenant_id, connector_ids)
        return [found.get(pk) for pk in connector_ids]

    async def _mappings(self, connector_ids: Sequence[int]) -> list[list[FieldMapping]]:
        async with self.db.reader() as session:
            rows = await MappingRepository(session).of_connectors(self.tenant_id, connector_ids)
        return _group_by(connector_ids, rows, lambda row: row.connector_id)

    async def _last_jobs(self, connector_ids: Sequence[int]) -> list[SyncJob | None]:
        async with self.db.reader() as session:
            found = await SyncJobRepository(session).latest_for(self.tenant_id, connector_ids)
        return [found.get(pk) for pk in connector_ids]

    async def _error_locales(self, job_ids: Sequence[int]) -> list[set[str]]:
        async with self.db.reader() as session:
            found = await SyncJobRepository(session).error_locales(job_ids)
        return [found[pk] for pk in job_ids]

    async def _queue_positions(self, job_ids: Sequence[int]) -> list[int | None]:
        async with self.db.reader() as session:
            found = await SyncJobRepository(session).queue_positions(job_ids)
        return [found.get(pk) for pk in job_ids]

    async def _pending_conflicts(self, connector_ids: Sequence[int]) -> list[int]:
        async with self.db.reader() as session:
            found = await ConflictRepository(session).pending_counts(self.tenant_id, connector_ids)
        return [found.get(pk, 0) for pk in connector_ids]

    async def _job_pages(
        self, session: AsyncSession, status: str | None, ids: list[int], before_id: int | None, limit: int
    ) -> dict[int, list[SyncJob]]:
        where = SyncJobFilter(status=status)
        return await SyncJobRepository(session).pages_of(self.tenant_id, where, ids, before_id=before_id, limit=limit)

    async def _job_counts(self, session: AsyncSession, status: str | None, ids: list[int]) -> dict[int, int]:
        return await SyncJobRepository(session).counts_of(self.tenant_id, SyncJobFilter(status=status), ids)

    async def _conflict_pages(
        self, session: AsyncSession, status: str | None, ids: list[int], before_id: int | None, limit: int
    ) -> dict[int, list[Conflict]]:
        where = ConflictFilter(resolution_status=status)
        return await ConflictRepository(session).pages_of(self.tenant_id, where, ids, before_id=before_id, limit=limit)

    async def _conflict_counts(self, session: AsyncSession, status: str | None, ids: list[int]) -> dict[int, int]:
        where = ConflictFilter(resolution_status=status)
        return await ConflictRepository(session).counts_of(self.tenant_id, where, ids)

    async def _error_pages(
        self, session: AsyncSession, _: str | None, ids: list[int], after_id: int | None, limit: int
    ) -> dict[int, list[SyncJobError]]:
        return await SyncJobRepository(session).error_pages(ids, after_id=after_id, limit=limit)

    async def _error_counts(self, session: AsyncSession, _: str | None, ids: list[int]) -> dict[int, int]:
        return await SyncJobRepository(session).error_counts(ids)

    async def _change_pages(
        self, session: AsyncSession, action: str | None, ids: list[int], after_id: int | None, limit: int
    ) -> dict[int, list[SyncJobChange]]:
        return await SyncJobRepository(session).change_pages(ids, action=action, after_id=after_id, limit=limit)

    async def _change_counts(self, session: AsyncSession, action: str | None, ids: list[int]) -> dict[int, int]:
        return await SyncJobRepository(session).change_counts(ids, action=action)

    def _owned(self, pages: FetchPages[Row], counts: FetchCounts) -> Owned[Row]:
        async def load_pages(keys: Sequence[PageKey]) -> list[list[Row]]:
            return await self._pages(keys, pages)

        async def load_counts(keys: Sequence[CountKey]) -> list[int]:
            return await self._counts(keys, counts)

        return Owned(DataLoader(load_pages), DataLoader(load_counts))

    async def _pages(self, keys: Sequence[PageKey], fetch: FetchPages[Row]) -> list[list[Row]]:
        """The keys' pages, one query per distinct (filter, cursor, size): one for a listed page of connectors (or
        jobs) asking the same thing of each."""
        asked: dict[tuple[str | None, int | None, int], list[int]] = {}
        for key in keys:
            asked.setdefault((key.filter, key.cursor, key.limit), []).append(key.owner_id)
        found: dict[PageKey, list[Row]] = {}
        for (value, cursor, limit), ids in asked.items():
            async with self.db.reader() as session:
                pages = await fetch(session, value, ids, cursor, limit)
            found.update({PageKey(owner_id, value, cursor, limit): pages[owner_id] for owner_id in ids})
        return [found[key] for key in keys]

    async def _counts(self, keys: Sequence[CountKey], fetch: FetchCounts) -> list[int]:
        """The keys' totals, one query per distinct filter."""
        asked: dict[str | None, list[int]] = {}
        for key in keys:
            asked.setdefault(key.filter, []).append(key.owner_id)
        found: dict[CountKey, int] = {}
        for value, ids in asked.items():
            async with self.db.reader() as session:
                counts = await fetch(session, value, ids)
            found.update({CountKey(owner_id, value): counts[owner_id] for owner_id in ids})
        return [found[key] for key in keys]


class HasId(Protocol):
    id: int


async def owned_page(
    loaders: Owned[Identified],
    kind: str,
    owner_id: int,
    wanted: str | None,
    first: int | None,
    after: str | None,
    node: Callable[[Identified], Item],
) -> Connection[Item]:
    """One owner's page of a nested connection (a connector's syncJobs, a job's errors ...), fetched through
    `loaders` together with every other owner of the listed page, and its total likewise if it is selected;
    `wanted` is the value filtered on."""
    limit, cursor = page_size(first), after_key(kind, after)
    rows = await loaders.pages.load(PageKey(owner_id, wanted, cursor, limit + 1))
    items = [(row.id, node(row)) for row in rows]
    count = partial(loaders.counts.load, CountKey(owner_id, wanted))
    return connection(kind, Page(items=items, limit=limit, after=cursor), count)


def _group_by(keys: Sequence[Key], rows: Sequence[Value], key_of: Callable[[Value], Key]) -> list[list[Value]]:
    grouped: dict[Key, list[Value]] = {key: [] for key in keys}
    for row in rows:
        grouped[key_of(row)].append(row)
    return [grouped[key] for key in keys]
