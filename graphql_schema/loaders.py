"""DataLoaders, built per request: one loader per access path, each batch in its own read session.

They keep the cost of a page fixed: a page of products costs one query for
the page, one for the count and one per loader, whatever the page size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from app.db.engine import Database
from app.db.models import Connector, FieldMapping, Listing, SyncJob
from app.domain.catalog import CatalogSpec
from app.domain.values import ValueKey
from app.repositories.conflicts import ConflictRepository
from app.repositories.connectors import ConnectorRepository, MappingRepository
from app.repositories.products import ProductRepository
from app.repositories.sync_jobs import SyncJobRepository
from app.services.catalog_setup import CatalogSetupService

Key = TypeVar("Key")
Value = TypeVar("Value")


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


def _group_by(keys: Sequence[Key], rows: Sequence[Value], key_of: Callable[[Value], Key]) -> list[list[Value]]:
    grouped: dict[Key, list[Value]] = {key: [] for key in keys}
    for row in rows:
        grouped[key_of(row)].append(row)
    return [grouped[key] for key in keys]
