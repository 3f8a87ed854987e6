"""One page of a chunk: build each product's documents, match identities, send, and record.

Identity comes before any create: a product without a stored external id is
first looked up on the channel by its exact SKU, and linked when found. A
batch the channel refuses as a whole is split in halves until the product
that causes it stands alone, so one bad product cannot block the others.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.base import ChannelAdapter, ChannelError, CredentialsRejected, ItemResult, RemoteProduct
from app.channels.retry import RetryPolicy, with_retries
from app.container import Container
from app.db.base import utcnow
from app.db.models import Connector, SyncChunk, SyncJob, SyncJobError
from app.domain.conflict_choices import ChosenSlots
from app.domain.conflicts import MISSING, Action, ConflictType, Resolution, ResolutionStatus, Slot, pim_is_newer
from app.domain.connectors import ConflictStrategy
from app.domain.errors import ErrorCode
from app.domain.export_plan import ExportPlan, ValueTable
from app.domain.reconcile import SlotResult, reconcile
from app.domain.storable import cut_marked
from app.domain.sync import ChangeAction, Selection, field_changes, outgoing, remote_document
from app.repositories.connectors import ConnectorRepository
from app.repositories.events import EventRepository
from app.repositories.listings import ListingRepository
from app.repositories.products import ProductRepository
from app.repositories.sync_jobs import Counts, SyncJobRepository
from app.services.sync.items import WRITES, Item, failed, listing_mark, load_items, written
from app.services.sync.outcomes import apply_outcomes

log = structlog.get_logger(__name__)


class LeaseLost(Exception):
    """Another worker holds the chunk now (this one was presumed dead): stop without writing."""


LOOKUP_BATCH = 100
ERROR_LOCALE_LENGTH = SyncJobError.locale.type.length or 35


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
        after_id: int,
        limit: int,
        plan: ExportPlan,
    ) -> PageWork:
        """The chunk's page after product `after_id`, with just the values `plan` reads and the listings."""
        async with container.db.reader() as session:
            rows = await ProductRepository(session).selected_page(
                job.tenant_id, selection, after_id=after_id, last_id=chunk.last_product_id, limit=limit
            )
            items, values = await load_items(session, job.tenant_id, connector.id, rows, plan)
        last = rows[-1].id if rows else chunk.last_product_id
        return cls(job, connector, chunk, items, values, last)


@dataclass(frozen=True)
class Pass:
    """How one page (or one webhook's product) is checked and sent."""

    plan: ExportPlan
    strategy: ConflictStrategy
    retry: RetryPolicy
    """How a failed channel request (5xx, timeout) is sent again (PIMSYNC_CHANNEL_RETRY_SECONDS)."""
    dry_run: bool = False
    force: bool = False
    named: frozenset[str] = frozenset()
    """The SKUs the job names (productSkus): a forced sync puts back a product left off the channel only when it
    names it, so a forced repair of the whole catalog does not undo a person's or the strategy's decision."""
    check_all: bool = False
    """Read the channel for every linked product, not only changed ones (FULL syncs look for drift)."""
    value_times: Callable[[Sequence[Item]], Awaitable[dict[tuple[int, int, str, str], datetime]]] | None = None
    chosen: ChosenSlots | None = None
    """A person's resolution being applied: it decides the slots (or the vanished product) it covers."""
    missing_kind: ConflictType = ConflictType.MISSING_ON_CHANNEL
    """What a product the channel no longer has is recorded as (DELETED_ON_CHANNEL when a webhook said so)."""


def make_pass(
    container: Container,
    connector: Connector,
    plan: ExportPlan,
    *,
    dry_run: bool = False,
    force: bool = False,
    named: frozenset[str] = frozenset(),
    check_all: bool = False,
    chosen: ChosenSlots | None = None,
    missing_kind: ConflictType = ConflictType.MISSING_ON_CHANNEL,
) -> Pass:
    """The connector's way of checking and sending, with the PIM's value times read only when needed."""

    async def value_times(items: Sequence[Item]) -> dict[tuple[int, int, str, str], datetime]:
        async with container.db.reader() as session:
            return await ProductRepository(session).value_times(
                connector.tenant_id, [item.product.id for item in items], plan.attribute_ids, plan.value_scopes
            )

    return Pass(
        plan,
        ConflictStrategy(connector.conflict_strategy),
        dry_run=dry_run,
        force=force,
        named=named,
        check_all=check_all,
        value_times=value_times,
        chosen=chosen,
        missing_kind=missing_kind,
        retry=RetryPolicy(base_delay=container.settings.channel_retry_seconds),
    )


async def send_page(work: PageWork, adapter: ChannelAdapter, how: Pass) -> None:
    """Decide, match, check three ways and (unless a dry run) send; CredentialsRejected propagates."""
    await send_products(work.items, work.values, adapter, how)


async def send_products(
    items: Sequence[Item], values: Mapping[int, ValueTable], adapter: ChannelAdapter, how: Pass
) -> None:
    """Build each product's export from its values, then check (`read_products`) and send it (`write_items`)."""
    await read_products(items, values, adapter, how)
    await write_items(items, adapter, how)


async def read_products(
    items: Sequence[Item], values: Mapping[int, ValueTable], adapter: ChannelAdapter, how: Pass
) -> None:
    """Build each product's export from its values, read the channel and reconcile each product: what to write,
    and nothing written yet."""
    for item in items:
        _decide(item, how.plan, values.get(item.product.id, {}), force=how.force, named=how.named)
    pending = (ChangeAction.CREATE, ChangeAction.UPDATE)
    to_read = [
        item
        for item in items
        if item.action in pending or (how.check_all and item.action is ChangeAction.SKIP and item.external_id)
    ]
    await _match(adapter, [item for item in to_read if not item.read], how.retry)
    times = await how.value_times(to_read) if how.value_times and how.strategy is ConflictStrategy.NEWEST_WINS else {}
    for item in to_read:
        if item.action is not ChangeAction.FAIL and item.read:
            _reconcile(item, how, times)


async def write_items(items: Sequence[Item], adapter: ChannelAdapter, how: Pass) -> None:
    """Write what `read_products` decided (a dry run only checks it), and read back what the channel stored."""
    pending = (ChangeAction.CREATE, ChangeAction.UPDATE)
    if how.dry_run:
        await _check(adapter, [item for item in items if item.action in pending], how.retry)
        return
    for item in [item for item in items if item.action is ChangeAction.DELETE]:
        await _delete(adapter, item, how.retry)
    sending = [item for item in items if item.action in pending]
    for start in range(0, len(sending), adapter.max_batch_size):
        await _send(adapter, sending[start : start + adapter.max_batch_size], how.retry)
    await _read_back(adapter, [item for item in sending if item.action in pending], how.retry)


def _decide(item: Item, plan: ExportPlan, values: ValueTable, *, force: bool, named: frozenset[str]) -> None:
    product, listing = item.product, item.listing
    item.external_id = listing.external_id if listing else None
    if product.deleted_at is not None or not product.enabled:
        item.action = ChangeAction.DELETE if item.external_id else ChangeAction.SKIP
        return
    if listing is not None and listing.excluded and not (force and product.sku in named):
        # Left off the channel by a decision (CHANNEL_WINS or DISMISSED on a product the channel lost); only a
        # forced sync that names it (productSkus), so puts it back on purpose, does.
        item.action = ChangeAction.SKIP
        return
    item.creating = item.external_id is None
    item.export = plan.build(product.sku, values)
    out = outgoing(item.export, listing.document_hashes if listing else {}, force=force, creating=item.creating)
    item.out = out
    item.errors += [(locale, problem.code.value, problem.message) for locale, problem in out.errors]
    if out.failed_whole:
        item.action = ChangeAction.FAIL
    elif out.empty:
        blocked = any(code != ErrorCode.MAPPING_BROKEN for _, code, _ in item.errors)
        item.action = ChangeAction.FAIL if blocked else ChangeAction.HOLD if out.held else ChangeAction.SKIP
    else:
        item.action = ChangeAction.CREATE if item.creating else ChangeAction.UPDATE


def _reconcile(item: Item, how: Pass, times: Mapping[tuple[int, int, str, str], datetime]) -> None:
    """The three-way check of a product the channel has (or had): what to send, keep, import or hold."""
    if item.export is None:
        return
    listing = item.listing
    if item.remote is None:
        if item.external_id is not None and not item.creating:
            _vanished(item, how)
        return
    channel_time = item.remote.updated_at
    product_time = item.product.updated_at

    def pim_newer(slot: Slot) -> bool | None:
        key = (item.product.id, *how.plan.value_key(slot))
        return pim_is_newer(times.get(key, product_time), channel_time)

    item.rec = reconcile(
        how.plan.slots,
        pim=item.export.sendable(),
        sent=listing.sent if listing else {},
        base=listing.base if listing else {},
        channel=remote_document(item.remote),
        strategy=how.strategy,
        pim_newer=pim_newer,
        force=how.force,
        choose=how.chosen,
    )
    item.linked = listing is None or listing.external_id != item.external_id
    item.creating = False
    if item.rec.sends:
        item.action = ChangeAction.UPDATE
    elif item.action in (ChangeAction.CREATE, ChangeAction.UPDATE):
        item.action = ChangeAction.SKIP
    if item.rec.held:
        item.action = ChangeAction.CONFLICT if not item.rec.sends else item.action


def _vanished(item: Item, how: Pass) -> None:
    """The channel lost the product: never a silent re-create. PIM_WINS re-creates it, on the record;
    CHANNEL_WINS leaves it off the channel; otherwise a person decides. A person's resolution being applied
    decides as its overall choice says (DISMISSED, like CHANNEL_WINS, leaves the product off)."""
    item.vanished, strategy = how.missing_kind, how.strategy
    if how.chosen is not None and how.chosen.vanished:
        item.decided_by_person = True
        strategy = (
            ConflictStrategy.PIM_WINS if how.chosen.overall is Resolution.PIM_WINS else ConflictStrategy.CHANNEL_WINS
        )
    if strategy is ConflictStrategy.PIM_WINS:
        item.vanished_status = ResolutionStatus.PIM_WINS
        item.external_id, item.creating, item.action = None, True, ChangeAction.CREATE
        if item.export is not None:
            item.out = outgoing(item.export, {}, force=True, creating=True)
    elif strategy is ConflictStrategy.CHANNEL_WINS:
        item.vanished_status = ResolutionStatus.CHANNEL_WINS
        item.action = ChangeAction.SKIP
    else:
        item.vanished_status = ResolutionStatus.PENDING
        item.action = ChangeAction.CONFLICT


async def _match(adapter: ChannelAdapter, items: Sequence[Item], policy: RetryPolicy) -> None:
    """Read the channel's current state by SKU: links products it already has instead of creating them
    again, and gives the three-way check its channel side."""
    for group in _groups(items):
        found, unread = await _look_up(adapter, group, policy)
        for item, error in unread:
            item.fail_on(error, f"could not check the channel for this SKU before writing: {error.message}")
        unchecked = {id(item) for item, _ in unread}
        for item in (item for item in group if id(item) not in unchecked):
            item.remote, item.read = found.get(item.product.sku), True
            if item.creating and item.remote is not None:
                item.external_id, item.creating, item.action = item.remote.external_id, False, ChangeAction.UPDATE
            elif item.remote is not None and item.external_id != item.remote.external_id:
                item.external_id = item.remote.external_id
            item.refuse_unstorable_id()


async def _look_up(
    adapter: ChannelAdapter, group: Sequence[Item], policy: RetryPolicy
) -> tuple[dict[str, RemoteProduct], list[tuple[Item, ChannelError]]]:
    """The channel's products of `group` by SKU, and the items that could not be looked up with why.

    A look-up refused outright (a 4xx, or a SKU the channel's query cannot carry) is split in halves until the
    SKU that causes it stands alone: one odd SKU must not leave its whole group unchecked, and so unsynced.
    """
    found = await _fetch(adapter, group, policy)
    if not isinstance(found, ChannelError):
        return dict(found), []
    refused_whole = not found.transient and (found.status is None or found.status >= 400)
    if not refused_whole or len(group) == 1:
        return {}, [(item, found) for item in group]
    middle = len(group) // 2
    left, left_unread = await _look_up(adapter, group[:middle], policy)
    right, right_unread = await _look_up(adapter, group[middle:], policy)
    return {**left, **right}, left_unread + right_unread


async def _read_back(adapter: ChannelAdapter, items: Sequence[Item], policy: RetryPolicy) -> None:
    """What the channel stored after the write (it may reformat HTML and numbers): the base of the next check.

    A failed read-back costs nothing but precision: the sent values stand in for the base. A read refused whole is
    split as the look-up before the write is (_look_up), so only the products it cannot read lose that precision.
    """
    for group in _groups([item for item in items if not failed(item)]):
        found, unread = await _look_up(adapter, group, policy)
        if unread:
            log.warning("sync.read_back_failed", error=unread[0][1].message, products=len(unread))
        unchecked = {id(item) for item, _ in unread}
        for item in (item for item in group if id(item) not in unchecked):
            item.readback = found.get(item.product.sku)


def _groups(items: Sequence[Item]) -> list[Sequence[Item]]:
    return [items[start : start + LOOKUP_BATCH] for start in range(0, len(items), LOOKUP_BATCH)]


async def _fetch(
    adapter: ChannelAdapter, group: Sequence[Item], policy: RetryPolicy
) -> Mapping[str, RemoteProduct] | ChannelError:
    """The channel's products of `group` by SKU, or the error that stopped the read (rejected credentials
    propagate: they stop the whole job)."""
    skus = [item.product.sku for item in group]
    try:
        return await with_retries(lambda: adapter.fetch_products(skus), policy=policy)
    except CredentialsRejected:
        raise
    except ChannelError as exc:
        return exc


async def _delete(adapter: ChannelAdapter, item: Item, policy: RetryPolicy) -> None:
    assert item.external_id is not None
    external_id = item.external_id
    try:
        await with_retries(lambda: adapter.delete_product(external_id), policy=policy)
    except CredentialsRejected:
        raise
    except ChannelError as exc:
        item.fail(ErrorCode.DELETE_FAILED.value, exc.message)


async def _send(adapter: ChannelAdapter, items: Sequence[Item], policy: RetryPolicy) -> None:
    """Send a batch; a batch the channel refuses whole (4xx) is split so one bad product cannot block the others.

    A retry after a failure the channel may have acted on (a 5xx, a timeout: the answer may be all that was
    lost) first looks the batch's new products up and links those the channel has, so none is created twice.
    An answer that came back (2xx) but could not be read is not split and sent again either: the channel has
    acted on it, and the next sync's look-up finds what it created.
    """
    tries = 0

    async def attempt() -> list[ItemResult]:
        nonlocal tries
        tries += 1
        if tries > 1:
            await _link_created(adapter, [item for item in items if item.creating])
        documents = [document for item in items if (document := item.document()) is not None]
        return await adapter.export_batch(documents)

    try:
        results = await with_retries(attempt, policy=policy)
    except CredentialsRejected:
        raise
    except ChannelError as exc:
        refused_whole = not exc.transient and (exc.status is None or exc.status >= 400)
        if refused_whole and len(items) > 1:
            middle = len(items) // 2
            await _send(adapter, items[:middle], policy)
            await _send(adapter, items[middle:], policy)
            return
        for item in items:
            item.fail_on(exc)
        return
    for item, result in zip(items, results, strict=True):
        _apply_result(item, result)


async def _check(adapter: ChannelAdapter, items: Sequence[Item], policy: RetryPolicy) -> None:
    """A dry run's `_send`: each product the adapter would refuse before sending (the checks its export_batch
    runs first) fails here as it would there, same code and message, so a dry run shows FAIL where the real run
    will. What only the channel can tell on receipt stays out of a dry run (ChannelAdapter.check_batch)."""
    pairs = [(item, document) for item in items if (document := item.document()) is not None]
    if not pairs:
        return
    try:
        refusals = await with_retries(lambda: adapter.check_batch([document for _, document in pairs]), policy=policy)
    except CredentialsRejected:
        raise
    except ChannelError as exc:
        for item, _ in pairs:
            item.fail_on(exc)
        return
    for (item, _), refusal in zip(pairs, refusals, strict=True):
        if refusal is not None:
            _apply_result(item, refusal)


async def _link_created(adapter: ChannelAdapter, creating: Sequence[Item]) -> None:
    """Link the products an attempt was creating to what the channel has under their SKUs: it may have created
    them before its answer was lost. A failed look-up fails the attempt (retried like the write)."""
    if not creating:
        return
    found = await adapter.fetch_products([item.product.sku for item in creating])
    for item in creating:
        remote = found.get(item.product.sku)
        if remote is not None:
            item.external_id, item.creating, item.action = remote.external_id, False, ChangeAction.UPDATE


def _apply_result(item: Item, result: ItemResult) -> None:
    """The channel's answer for one product; the locale it names in an error is only shown, so one longer than
    the job's errors hold is cut (and marked), where an id too long to store fails the product. A refusal for a
    locale whose part stayed back on its own problem (a title too long, so no title to create the product with)
    fails the product on that problem alone: one problem is reported once, as what it is."""
    if result.external_id:
        item.external_id = result.external_id
    if item.refuse_unstorable_id() or result.ok:
        return
    if result.locale is not None and item.kept_back(result.locale):
        item.action = ChangeAction.FAIL
        return
    default = ErrorCode.CREATE_FAILED if item.creating else ErrorCode.UPDATE_FAILED
    locale = None if result.locale is None else cut_marked(result.locale, ERROR_LOCALE_LENGTH)
    item.fail((result.code or default).value, result.message or "the channel refused the product", locale)


async def record_page(container: Container, work: PageWork, how: Pass, *, worker: str, lease: timedelta) -> Recorded:
    """Write every item's outcome, the counts and the chunk's cursor in one transaction.

    The connector is held first (ConnectorRepository.hold), then the job
    (SyncJobRepository's lock order), then the chunk is moved on, which checks
    and locks this worker's lease.
    Returns whether the job is to stop: asked to cancel meanwhile, or failed
    on another worker's chunk (read by the statement that adds the counts, so
    a page costs no extra round trip for it); and the pending conflicts to
    announce once committed.
    """
    job, now = work.job, utcnow()
    async with container.db.transaction() as session:
        if not await ConnectorRepository(session).hold(work.connector.id):
            raise LeaseLost(str(work.chunk.id))  # the connector was deleted, and the chunk with it
        jobs = SyncJobRepository(session)
        await jobs.hold(job.id)
        # A run that records a page got somewhere: the chunk's attempts count the claims since, so that only runs
        # that got nowhere (runner.MAX_CHUNK_ATTEMPTS) fail the job, not workers stopped one after another mid-chunk.
        moved = await jobs.update_held_chunk(
            work.chunk.id, worker, cursor=work.last_product_id, lease_expires_at=now + lease, attempts=0
        )
        if not moved:
            raise LeaseLost(str(work.chunk.id))
        announced: list[int] = []
        if not job.dry_run:
            recording = await _unraced(session, work)
            announced = await apply_outcomes(
                session, connector=work.connector, plan=how.plan, items=recording, values=work.values, now=now
            )
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
        await jobs.insert_changes([row for item in work.items for row in _changes(job, item)])
        if (exported := written(work.items)) and not job.dry_run:
            EventRepository(session).record(
                job.tenant_id, "products.exported", connector_id=work.connector.id, job=job.id, count=exported
            )
        cancelled = await jobs.add_counts(job.id, _counts(work.items))
    return Recorded(cancelled=cancelled, conflicts=announced)


async def _unraced(session: AsyncSession, work: PageWork) -> list[Item]:
    """The page's items whose listing nobody recorded since the page was loaded, each given its row as locked now.

    A person's resolution applied, or a webhook checked, while the page was
    in flight recorded the product's listing (and perhaps closed its
    conflict) from a newer read of the channel: recording this page's older
    outcome over it would undo that. Such a product is left as they recorded
    it; the next sync checks it again from there.
    """
    current = await ListingRepository(session).for_products(
        work.connector.id, [item.product.id for item in work.items], for_update=True
    )
    unraced: list[Item] = []
    for item in work.items:
        now = current.get(item.product.id)
        if listing_mark(now) != listing_mark(item.listing):
            log.warning("sync.listing_raced", sku=item.product.sku, connector=work.connector.id)
            continue
        item.listing = now
        unraced.append(item)
    return unraced


@dataclass(frozen=True)
class Recorded:
    cancelled: bool
    conflicts: list[int]
    """Pending conflicts opened or changed by the page, for conflictDetected."""


def _counts(items: Sequence[Item]) -> Counts:
    """Each product counts once: failed if anything of it was refused, else conflicted, synced or skipped.

    Conflicted is held for a person (a pending conflict holds some of it), as the job's CONFLICT changes are: a
    conflict the connector's strategy decided leaves nothing to do, so its product counts as what the decision
    led to, synced when written, skipped when the channel's values were kept."""
    tally = {"failed": 0, "conflicted": 0, "synced": 0, "skipped": 0}
    for item in items:
        if failed(item):
            tally["failed"] += 1
        elif item.held:
            tally["conflicted"] += 1
        elif item.action in WRITES or item.linked:
            tally["synced"] += 1
        else:
            tally["skipped"] += 1
    return Counts(**tally)


def _changes(job: SyncJob, item: Item) -> list[dict[str, Any]]:
    """The product's audit row (one per job and SKU, as sync_changes keeps them): what was (or would be)
    written; when some of it is held in conflict, action CONFLICT, with the held fields (marked `held`)
    after the written ones. A product the job counts failed (items.failed) reads FAIL whatever else of it went
    through, so changes(action: FAIL) finds exactly the job's failedProducts; its fields still list what its
    sound parts wrote."""

    def row(action: ChangeAction, fields: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "tenant_id": job.tenant_id,
            "job_id": job.id,
            "product_sku": item.product.sku,
            "action": action.value,
            "fields": fields,
        }

    if item.rec is not None:
        refused = item.action is ChangeAction.FAIL  # by the channel, or whole: a locale's problem fails only it
        sent = [] if refused else [_field_change(result) for result in item.rec.with_action(Action.SEND)]
        # A forced sync re-sends slots the channel holds as they are: no change on the channel, so not listed
        # (as field_changes leaves them out of a product written unchecked).
        sent = [change for change in sent if change["before"] != change["after"]]
        held = [{**_field_change(result), "held": True} for result in item.rec.held]
        if failed(item):
            return [row(ChangeAction.FAIL, sent + held)]
        if held:
            return [row(ChangeAction.CONFLICT, sent + held)]
        return [row(ChangeAction.UPDATE, sent)] if sent else [row(item.action, [])]
    fields: list[dict[str, Any]] = []
    if item.out is not None and item.action in (ChangeAction.CREATE, ChangeAction.UPDATE):
        # Written unchecked: the channel was read and lacks the product (not the listing, which holds the
        # new snapshot by now).
        fields = field_changes(remote_document(item.remote), item.out)
    return [row(ChangeAction.FAIL if failed(item) else item.action, fields)]


def _field_change(result: SlotResult) -> dict[str, Any]:
    channel = None if result.channel is MISSING else result.channel
    return {
        "field": result.slot.field,
        "channelLocale": result.slot.channel_locale,
        "before": channel,
        "after": result.pim,
    }
