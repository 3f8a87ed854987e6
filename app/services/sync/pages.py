"""One page of a chunk: build each product's documents, match identities, send, and record.

Identity comes before any create: a product without a stored external id is
first looked up on the channel by its exact SKU, and linked when found. A
batch the channel refuses as a whole is split in halves until the product
that causes it stands alone, so one bad product cannot block the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import structlog

from app.channels.base import ChannelAdapter, ChannelError, CredentialsRejected, ItemResult, RemoteProduct
from app.channels.retry import RetryPolicy, with_retries
from app.container import Container
from app.db.base import utcnow
from app.db.models import Connector, Listing, Product, SyncChunk, SyncJob
from app.domain.errors import ErrorCode
from app.domain.export_plan import ExportPlan, ValueTable
from app.domain.sync import (
    ChangeAction,
    Outgoing,
    Selection,
    field_changes,
    merged_snapshot,
    outgoing,
    remote_document,
)
from app.repositories.events import EventRepository
from app.repositories.listings import ListingRepository
from app.repositories.products import ProductRepository
from app.repositories.sync_jobs import Counts, SyncJobRepository

log = structlog.get_logger(__name__)

RETRY_POLICY = RetryPolicy()


class LeaseLost(Exception):
    """Another worker holds the chunk now (this one was presumed dead): stop without writing."""


LOOKUP_BATCH = 100
Result = TypeVar("Result")


@dataclass
class Item:
    """One product of the page and what happens to it."""

    product: Product
    listing: Listing | None
    external_id: str | None = None
    out: Outgoing | None = None
    action: ChangeAction = ChangeAction.SKIP
    remote: RemoteProduct | None = None
    creating: bool = False
    errors: list[tuple[str | None, str, str]] = field(default_factory=list)
    """(channel locale, CHN code, message)."""

    def fail(self, code: str, message: str, locale: str | None = None) -> None:
        self.action = ChangeAction.FAIL
        self.errors.append((locale, code, message))


@dataclass
class PageWork:
    job: SyncJob
    connector: Connector
    chunk: SyncChunk
    items: list[Item]
    values: dict[int, ValueTable]
    last_product_id: int

    @property
    def empty(self) -> bool:
        return not self.items

    @classmethod
    async def load(
        cls,
        container: Container,
        *,
        job: SyncJob,
        connector: Connector,
        selection: Selection,
        chunk: SyncChunk,
        limit: int,
        attribute_ids: Collection[int],
    ) -> PageWork:
        """The next page of the chunk, with just the values the plan reads and the products' listings."""
        async with container.db.reader() as session:
            products = ProductRepository(session)
            rows = await products.selected_page(
                job.tenant_id, selection, after_id=chunk.cursor, last_id=chunk.last_product_id, limit=limit
            )
            ids = [row.id for row in rows]
            values: dict[int, dict[tuple[int, str, str], Any]] = {pk: {} for pk in ids}
            for product_id, attribute_id, locale, scope, data in await products.values_for_export(
                job.tenant_id, ids, attribute_ids
            ):
                values[product_id][(attribute_id, locale, scope)] = data
            listings = await ListingRepository(session).for_products(connector.id, ids)
        items = [Item(row, listings.get(row.id)) for row in rows]
        last = rows[-1].id if rows else chunk.last_product_id
        return cls(job, connector, chunk, items, dict(values), last)


async def _retrying(call: Callable[[], Awaitable[Result]]) -> Result:
    return await with_retries(call, policy=RETRY_POLICY)


async def send_page(work: PageWork, adapter: ChannelAdapter, plan: ExportPlan, *, dry_run: bool, force: bool) -> None:
    """Decide, match and (unless a dry run) send; CredentialsRejected stops the job and propagates."""
    for item in work.items:
        _decide(item, plan, work.values.get(item.product.id, {}), force=force)
    pending = [item for item in work.items if item.action in (ChangeAction.CREATE, ChangeAction.UPDATE)]
    await _match(adapter, pending, read_all=dry_run)
    if dry_run:
        return
    for item in [item for item in work.items if item.action is ChangeAction.DELETE]:
        await _delete(adapter, item)
    sending = [item for item in pending if item.action in (ChangeAction.CREATE, ChangeAction.UPDATE)]
    for start in range(0, len(sending), adapter.max_batch_size):
        await _send(adapter, sending[start : start + adapter.max_batch_size])


def _decide(item: Item, plan: ExportPlan, values: ValueTable, *, force: bool) -> None:
    product, listing = item.product, item.listing
    item.external_id = listing.external_id if listing else None
    if product.deleted_at is not None or not product.enabled:
        item.action = ChangeAction.DELETE if item.external_id else ChangeAction.SKIP
        return
    item.creating = item.external_id is None
    export = plan.build(product.sku, values)
    out = outgoing(export, listing.document_hashes if listing else {}, force=force, creating=item.creating)
    item.out = out
    item.errors += [(locale, problem.code.value, problem.message) for locale, problem in out.errors]
    if out.failed_whole:
        item.action = ChangeAction.FAIL
    elif out.empty:
        blocked = any(code != ErrorCode.MAPPING_BROKEN for _, code, _ in item.errors)
        item.action = ChangeAction.FAIL if blocked else ChangeAction.HOLD if out.held else ChangeAction.SKIP
    else:
        item.action = ChangeAction.CREATE if item.creating else ChangeAction.UPDATE


async def _match(adapter: ChannelAdapter, items: Sequence[Item], *, read_all: bool) -> None:
    """Link products the channel already has (by exact SKU) instead of creating them again."""
    wanted = [item for item in items if item.creating or read_all]
    for start in range(0, len(wanted), LOOKUP_BATCH):
        group = wanted[start : start + LOOKUP_BATCH]
        skus = [item.product.sku for item in group]
        try:
            found = await _retrying(lambda skus=skus: adapter.fetch_products(skus))  # type: ignore[misc]
        except CredentialsRejected:
            raise
        except ChannelError as exc:
            for item in group:
                item.fail(exc.code.value, f"could not check the channel for this SKU before writing: {exc.message}")
            continue
        for item in group:
            item.remote = found.get(item.product.sku)
            if item.creating and item.remote is not None:
                item.external_id, item.creating, item.action = item.remote.external_id, False, ChangeAction.UPDATE


async def _delete(adapter: ChannelAdapter, item: Item) -> None:
    assert item.external_id is not None
    external_id = item.external_id
    try:
        await _retrying(lambda: adapter.delete_product(external_id))
    except CredentialsRejected:
        raise
    except ChannelError as exc:
        item.fail(ErrorCode.DELETE_FAILED.value, exc.message)


async def _send(adapter: ChannelAdapter, items: Sequence[Item]) -> None:
    documents = [item.out.document(item.external_id) for item in items if item.out is not None]
    try:
        results = await _retrying(lambda: adapter.export_batch(documents))
    except CredentialsRejected:
        raise
    except ChannelError as exc:
        if not exc.transient and len(items) > 1:
            middle = len(items) // 2
            await _send(adapter, items[:middle])
            await _send(adapter, items[middle:])
            return
        for item in items:
            item.fail(exc.code.value, exc.message)
        return
    for item, result in zip(items, results, strict=True):
        _apply_result(item, result)


def _apply_result(item: Item, result: ItemResult) -> None:
    if result.external_id:
        item.external_id = result.external_id
    if result.ok:
        return
    default = ErrorCode.CREATE_FAILED if item.creating else ErrorCode.UPDATE_FAILED
    item.fail((result.code or default).value, result.message or "the channel refused the product", result.locale)


async def record_page(container: Container, work: PageWork, *, worker: str, lease: timedelta) -> bool:
    """Write every item's outcome, the counts and the chunk's cursor in one transaction.

    Returns whether the job was asked to cancel meanwhile, read in the same
    transaction so a page costs no extra round trip for it.
    """
    job, now = work.job, utcnow()
    async with container.db.transaction() as session:
        jobs = SyncJobRepository(session)
        chunk = await jobs.chunk(work.chunk.id, for_update=True)
        if chunk is None or chunk.lease_owner != worker:
            raise LeaseLost(str(work.chunk.id))
        counts = _counts(work.items)
        await jobs.insert_errors(
            [
                {
                    "tenant_id": job.tenant_id,
                    "job_id": job.id,
                    "product_sku": item.product.sku,
                    "locale": locale,
                    "error_code": code,
                    "message": message,
                    "created_at": now,
                }
                for item in work.items
                for locale, code, message in item.errors
            ]
        )
        await jobs.insert_changes([_change(job, item) for item in work.items])
        if not job.dry_run:
            listings = ListingRepository(session)
            for item in work.items:
                _bind(listings, work, item, now)
        await jobs.add_counts(job.id, counts)
        chunk.cursor, chunk.lease_expires_at = work.last_product_id, now + lease
        if counts.synced and not job.dry_run:
            EventRepository(session).record(
                job.tenant_id, "products.exported", connector_id=work.connector.id, job=job.id, count=counts.synced
            )
        return await jobs.cancel_requested(job.id)


def _failed(item: Item) -> bool:
    """Failed when anything of it was refused; a broken mapping alone (CHN-061) does not fail a product."""
    return item.action is ChangeAction.FAIL or any(code != ErrorCode.MAPPING_BROKEN for _, code, _ in item.errors)


def _counts(items: Sequence[Item]) -> Counts:
    """Each product counts once: failed if anything of it was refused, else synced or skipped."""
    failed = sum(1 for item in items if _failed(item))
    synced = sum(
        1
        for item in items
        if not _failed(item) and item.action in (ChangeAction.CREATE, ChangeAction.UPDATE, ChangeAction.DELETE)
    )
    skipped = sum(1 for item in items if not _failed(item) and item.action in (ChangeAction.SKIP, ChangeAction.HOLD))
    return Counts(synced=synced, failed=failed, skipped=skipped)


def _change(job: SyncJob, item: Item) -> dict[str, Any]:
    fields: list[dict[str, Any]] = []
    if item.out is not None and item.action in (ChangeAction.CREATE, ChangeAction.UPDATE):
        before = remote_document(item.remote) if item.remote else (item.listing.sent if item.listing else {})
        fields = field_changes(before, item.out)
    return {
        "tenant_id": job.tenant_id,
        "job_id": job.id,
        "product_sku": item.product.sku,
        "action": item.action.value,
        "fields": fields,
    }


def _bind(listings: ListingRepository, work: PageWork, item: Item, now: Any) -> None:
    """The binder: external id, status, and what the channel now holds, per product."""
    listing = item.listing
    if listing is None:
        if item.action is ChangeAction.SKIP and item.external_id is None:
            return
        listing = Listing(
            tenant_id=work.job.tenant_id,
            connector_id=work.connector.id,
            product_id=item.product.id,
            document_hashes={},
            sent={},
        )
        listings.add(listing)
    if item.external_id:
        listing.external_id = item.external_id
    if item.action is ChangeAction.DELETE:
        listing.external_id, listing.status, listing.sent, listing.document_hashes = None, "never", {}, {}
        listing.last_synced_at = now
        return
    if item.action in (ChangeAction.CREATE, ChangeAction.UPDATE) and item.out is not None:
        listing.document_hashes = {**(listing.document_hashes or {}), **item.out.hashes}
        base = remote_document(item.remote) if item.remote and not listing.sent else (listing.sent or {})
        listing.sent = merged_snapshot(base, item.out)
        listing.status, listing.last_synced_at, listing.last_error = "synced", now, None
        listing.synced_revision = item.product.revision
    if _failed(item):
        listing.status = "error"
        listing.last_error = "; ".join(f"{code}: {message}" for _, code, message in item.errors)[:2000]
