"""DataLoaders, built per request: one loader per access path, each batch in its own read session.

They keep the cost of a page fixed: a page of products costs one query for
the page, one for the count and one per loader, whatever the page size.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

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
Owned = TypeVar("Owned", bound="HasId")
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


PageOf = tuple[list[Row], int]
"""A page's rows and how many match in all."""
Fetch = Callable[
    [AsyncSession, str | None, list[int], int | None, int], Awaitable[tuple[dict[int, list[Row]], dict[int, int]]]
]


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
        self.jobs_of_connector: DataLoader[PageKey, PageOf[SyncJob]] = DataLoader(self._job_pages)
        self.conflicts_of_connector: DataLoader[PageKey, PageOf[Conflict]] = DataLoader(self._conflict_pages)
        self.errors_of_job: DataLoader[PageKey, PageOf[SyncJobError]] = DataLoader(self._error_pages)
        self.changes_of_job: DataLoader[PageKey, PageOf[SyncJobChange]] = DataLoader(self._change_pages)

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

    async def _job_pages(self, keys: Sequence[PageKey]) -> list[PageOf[SyncJob]]:
        async def fetch(
            session: AsyncSession, status: str | None, ids: list[int], before_id: int | None, limit: int
        ) -> tuple[dict[int, list[SyncJob]], dict[int, int]]:
            where = SyncJobFilter(status=status)
            return await SyncJobRepository(session).pages_of(
                self.tenant_id, where, ids, before_id=before_id, limit=limit
            )

        return await self._pages(keys, fetch)

    async def _conflict_pages(self, keys: Sequence[PageKey]) -> list[PageOf[Conflict]]:
        async def fetch(
            session: AsyncSession, status: str | None, ids: list[int], before_id: int | None, limit: int
        ) -> tuple[dict[int, list[Conflict]], dict[int, int]]:
            where = ConflictFilter(resolution_status=status)
            return await ConflictRepository(session).pages_of(
                self.tenant_id, where, ids, before_id=before_id, limit=limit
            )

        return await self._pages(keys, fetch)

    async def _error_pages(self, keys: Sequence[PageKey]) -> list[PageOf[SyncJobError]]:
        async def fetch(
            session: AsyncSession, _: str | None, ids: list[int], after_id: int | None, limit: int
        ) -> tuple[dict[int, list[SyncJobError]], dict[int, int]]:
            return await SyncJobRepository(session).error_pages(ids, after_id=after_id, limit=limit)

        return await self._pages(keys, fetch)

    async def _change_pages(self, keys: Sequence[PageKey]) -> list[PageOf[SyncJobChange]]:
        async def fetch(
            session: AsyncSession, action: str | None, ids: list[int], after_id: int | None, limit: int
        ) -> tuple[dict[int, list[SyncJobChange]], dict[int, int]]:
            return await SyncJobRepository(session).change_pages(ids, action=action, after_id=after_id, limit=limit)

        return await self._pages(keys, fetch)

    async def _pages(self, keys: Sequence[PageKey], fetch: Fetch[Row]) -> list[PageOf[Row]]:
        """The keys' pages, two queries per distinct (filter, cursor, size): one pair for a listed page of
        connectors (or jobs) asking the same thing of each."""
        asked: dict[tuple[str | None, int | None, int], list[int]] = {}
        for key in keys:
            asked.setdefault((key.filter, key.cursor, key.limit), []).append(key.owner_id)
        found: dict[PageKey, PageOf[Row]] = {}
        for (value, cursor, limit), ids in asked.items():
            async with self.db.reader() as session:
                pages, totals = await fetch(session, value, ids, cursor, limit)
            for owner_id in ids:
                key = PageKey(owner_id, value, cursor, limit)
                found[key] = (pages[owner_id], totals[owner_id])
        return [found[key] for key in keys]


class HasId(Protocol):
    id: int


async def owned_page(
    loader: DataLoader[PageKey, PageOf[Owned]],
    kind: str,
    owner_id: int,
    wanted: str | None,
    first: int | None,
    after: str | None,
    node: Callable[[Owned], Item],
) -> Connection[Item]:
    """One owner's page of a nested connection (a connector's syncJobs, a job's errors ...), fetched through
    `loader` together with every other owner of the listed page; `wanted` is the value filtered on."""
    limit, cursor = page_size(first), after_key(kind, after)
    rows, total = await loader.load(PageKey(owner_id, wanted, cursor, limit + 1))
    items = [(row.id, node(row)) for row in rows]
    return connection(kind, Page(items=items, limit=limit, after=cursor, total=total))


def _group_by(keys: Sequence[Key], rows: Sequence[Value], key_of: Callable[[Value], Key]) -> list[list[Value]]:
    grouped: dict[Key, list[Value]] = {key: [] for key in keys}
    for row in rows:
        grouped[key_of(row)].append(row)
    return [grouped[key] for key in keys]
