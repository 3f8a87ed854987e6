"""Checking one product against the channel now, outside any sync: for a webhook delivery, or to apply a
person's resolution.

Both run the very check a sync page runs (`read_products`, `write_items`,
then `apply_outcomes` in one transaction), on a single product: a webhook
never follows rules of its own. What is particular to a webhook is decided
before the check: a delivery about a product the connector does not list, or
older than the state already seen, changes nothing. An echo of the service's
own write finds the channel equal to the base, so the check has nothing to do.

A stop (a deploy's SIGTERM) cuts the reads short; once the write begins, the
write and its record run to their end first, so its products.exported event
is recorded once, with it: within settings.stop_wait_seconds, past which the
write is given up on and its product kept from the next check until the
write can no longer land (`_written_even_if_stopped`).

The product's listing is read again, locked, when the outcome is recorded:
if a sync (or another delivery) recorded it meanwhile, this check's view is
out of date and `CheckRaced` asks the caller to run it again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app import stops
from app.channels.base import ChannelAdapter, ChannelError, ChannelRateLimited, CredentialsRejected, WebhookEvent
from app.channels.factory import AdapterUnavailable
from app.channels.webhooks import Topic
from app.container import Container
from app.db.base import utcnow
from app.db.models import Connector, Product
from app.domain.conflict_choices import ChosenSlots
from app.domain.conflicts import PRODUCT_FAILED, Action, ConflictType, Outcome, Slot
from app.domain.connectors import ConnectorStatus
from app.domain.errors import ErrorCode
from app.domain.export_plan import ExportPlan, ValueTable
from app.domain.sync import ChangeAction
from app.redis_outage import unless_redis_fails
from app.repositories.connectors import ConnectorRepository
from app.repositories.events import EventRepository
from app.repositories.listings import ListingRepository, ListingRow
from app.repositories.products import ProductRepository, ProductRow
from app.services.conflicts.notify import publish_conflict
from app.services.connectors import credentials_rejected
from app.services.mappings import MappingService
from app.services.sync.adapters import open_adapter
from app.services.sync.items import Item, failed, listing_mark, load_items, written
from app.services.sync.outcomes import apply_outcomes
from app.services.sync.pages import make_pass, read_products, write_items
from app.stops import ended_before_stopping

log = structlog.get_logger(__name__)

CHANNEL_CHANGED = frozenset({Outcome.DRIFT, Outcome.CONVERGED, Outcome.CONFLICT})
TRANSIENT = frozenset({ErrorCode.RATE_LIMITED.value, ErrorCode.CHANNEL_UNAVAILABLE.value, ErrorCode.TIMEOUT.value})


class CheckRaced(Exception):
    """The product's listing was recorded by someone else while this check ran: run the check again."""


class ChannelBusy(Exception):
    """The channel could not be read or written for now (throttled, down, slow): run the check again later, not
    before `retry_after` seconds when the channel said. `throttled`: it said "not now" (a 429, CHN-020), which is no
    failure of the check: waiting it out uses up no attempt (DESIGN). `code`: the CHN code of why."""

    def __init__(self, message: str, *, code: str, retry_after: float | None = None, throttled: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after = retry_after
        self.throttled = throttled

    @classmethod
    def of(cls, error: ChannelError) -> ChannelBusy:
        return cls(
            error.message,
            code=error.code.value,
            retry_after=error.retry_after,
            throttled=isinstance(error, ChannelRateLimited),
        )

    @classmethod
    def of_item(cls, item: Item) -> ChannelBusy | None:
        """The product's failures as one ChannelBusy when one of them is transient; None when none is."""
        transient = [code for _, code, _ in item.errors if code in TRANSIENT]
        if not transient:
            return None
        message = "; ".join(message for _, _, message in item.errors)
        throttled = ErrorCode.RATE_LIMITED.value in transient
        code = ErrorCode.RATE_LIMITED.value if throttled else transient[0]
        return cls(message, code=code, retry_after=item.retry_after, throttled=throttled)


@dataclass(frozen=True, slots=True)
class WebhookCheck:
    """What a delivery's check concluded: "PROCESSED" (the product was checked), "IGNORED" (nothing to do) or
    "PENDING" (not yet: the connector is paused)."""

    status: str
    outcome: str


@dataclass(frozen=True, slots=True)
class Checked:
    """One product's check, recorded."""

    item: Item
    conflicts: list[int]
    """Pending conflicts it opened or changed (announced on conflictDetected)."""

    def summary(self) -> str:
        """What happened, in a line a person reads on the delivery or the resolution."""
        item = self.item
        if failed(item):
            # Not "refused by the channel": a product also fails before anything is sent (a required field empty, no
            # price in the connector's currency) or when the PIM cannot take the channel's value; each message says which.
            return PRODUCT_FAILED + "; ".join(f"{code}: {message}" for _, code, message in item.errors)
        if item.vanished is not None:
            return f"{item.vanished.value}: {item.vanished_status.value if item.vanished_status else 'kept'}"
        parts = []
        if item.rec is not None:
            for action, said in ((Action.SEND, "exported"), (Action.IMPORT, "imported"), (Action.KEEP, "kept")):
                slots = item.rec.with_action(action)
                if slots:
                    parts.append(f"{said} {', '.join(_slot_name(result.slot) for result in slots)}")
            if item.rec.held:
                parts.append(f"held in conflict {', '.join(_slot_name(result.slot) for result in item.rec.held)}")
        elif item.action in (ChangeAction.CREATE, ChangeAction.UPDATE):
            parts.append(f"{item.action.value.lower()}d on the channel")
        return "; ".join(parts) or "nothing to do: the channel matches what was last synced"


def _slot_name(slot: Slot) -> str:
    return f"{slot.field}[{slot.channel_locale}]" if slot.channel_locale else str(slot.field)


Finish = Callable[[AsyncSession, Checked], Awaitable[None]]


async def check_product(
    container: Container,
    connector: Connector,
    product: Product,
    *,
    source: str,
    chosen: ChosenSlots | None = None,
    missing_kind: ConflictType = ConflictType.MISSING_ON_CHANNEL,
    finish: Finish | None = None,
) -> Checked:
    """Read the channel, check three ways, write what the strategy (or `chosen`) says, and record it.

    A write to the channel is recorded as a products.exported event, as a
    sync page's is, naming `source` (what asked for the check) since no job
    holds it. `finish` runs inside the recording transaction (a resolution
    marks itself applied there). Raises CheckRaced, ChannelBusy, and the adapter's
    CredentialsRejected (having put the connector in ERROR, as a failed sync
    job does); AdapterUnavailable when this version cannot talk to the channel.
    """
    plan, _ = await MappingService(container, connector.tenant_id).plan(connector)
    async with container.db.reader() as session:
        items, values = await load_items(session, connector.tenant_id, connector.id, [ProductRow.of(product)], plan)
    item, seen = items[0], listing_mark(items[0].listing)
    how = make_pass(container, connector, plan, check_all=True, chosen=chosen, missing_kind=missing_kind)

    async def write_and_record(adapter: ChannelAdapter) -> Checked:
        await write_items(items, adapter, how)
        if (busy := ChannelBusy.of_item(item)) is not None:
            raise busy
        return await _record(
            container,
            connector,
            product,
            plan=plan,
            items=items,
            values=values,
            seen=seen,
            source=source,
            finish=finish,
        )

    try:
        adapter = await open_adapter(container, connector)
        await _not_while_a_write_may_land(container, connector, product)
        await read_products(items, values, adapter, how)
        checked = await _written_even_if_stopped(container, connector, product, write_and_record(adapter))
    except CredentialsRejected as exc:
        await credentials_rejected(container, connector.id, exc.summary)
        raise
    for conflict_id in checked.conflicts:
        await publish_conflict(container.redis, connector.tenant_id, connector.code, conflict_id)
    return checked


async def _written_even_if_stopped(
    container: Container, connector: Connector, product: Product, write: Coroutine[Any, Any, Checked]
) -> Checked:
    """`write` (the check's write and its record), which a stop waits for, within settings.stop_wait_seconds.

    Cut off, the retry found the channel holding the value it was to write, wrote nothing, and the products.exported
    event of the write the channel took was never recorded. A shop holding the write longer than a stopping worker
    has is given up on (app.stops); the product is then kept from the next check until that write can no longer
    land, since a check running meanwhile would write over it, or create the product again, on a read from before.
    (The write given up on has no products.exported event: a stop that waited for it would be killed first.)"""
    with stops.watched() as stop:
        try:
            return await ended_before_stopping(write, within=container.settings.stop_wait_seconds)
        except asyncio.CancelledError:
            if stop.abandoned_until is not None:
                await asyncio.shield(_keep_product(container, connector, product, stop.abandoned_until))
            raise


def _write_may_land_key(connector: Connector, product: Product) -> str:
    return f"pimsync:write-may-land:{connector.public_id}:{product.id}"


async def _keep_product(container: Container, connector: Connector, product: Product, until: datetime) -> None:
    """Keep the product from the next check until `until` (a Redis key that expires then); best effort: without
    Redis the next check goes ahead, as it did before a stop gave up on any write."""
    left_ms = int((until - utcnow()).total_seconds() * 1000)
    if left_ms <= 0:
        return
    await unless_redis_fails(
        container.redis.set(_write_may_land_key(connector, product), until.isoformat(), px=left_ms), None
    )
    log.warning("conflict.check_kept_for_a_write", sku=product.sku, until=until.isoformat())


async def _not_while_a_write_may_land(container: Container, connector: Connector, product: Product) -> None:
    """ChannelBusy (a "not now", which uses up no attempt) while a write to the product that a stopped worker gave
    up on may still land (`_keep_product`): the check runs again once it can no longer."""
    left_ms = await unless_redis_fails(container.redis.pttl(_write_may_land_key(connector, product)), -1)
    if left_ms > 0:
        raise ChannelBusy(
            f"a write to {product.sku} that a stopped worker gave up on may still reach the channel: checked once it "
            "no longer can",
            code=ErrorCode.TIMEOUT.value,
            retry_after=left_ms / 1000,
            throttled=True,
        )


async def _record(
    container: Container,
    connector: Connector,
    product: Product,
    *,
    plan: ExportPlan,
    items: list[Item],
    values: Mapping[int, ValueTable],
    seen: tuple[Any, ...] | None,
    source: str,
    finish: Finish | None,
) -> Checked:
    """The product's outcome, the products.exported event of its write and the caller's `finish`, in one
    transaction; CheckRaced when its listing was recorded since it was read (`seen`)."""
    async with container.db.transaction() as session:
        if not await ConnectorRepository(session).hold(connector.id):
            raise CheckRaced(f"connector '{connector.code}' was deleted meanwhile")
        listings = ListingRepository(session)
        current = (await listings.for_products(connector.id, [product.id], for_update=True)).get(product.id)
        if listing_mark(current) != seen:
            raise CheckRaced(f"the listing of {product.sku} was recorded meanwhile")
        items[0].listing = current
        opened = await apply_outcomes(session, connector=connector, plan=plan, items=items, values=values, now=utcnow())
        if exported := written(items):
            EventRepository(session).record(
                connector.tenant_id,
                "products.exported",
                connector_id=connector.id,
                count=exported,
                sku=product.sku,
                source=source,
            )
        checked = Checked(items[0], opened)
        if finish is not None:
            await finish(session, checked)
    return checked


# -- webhooks ---------------------------------------------------------------------------------------------


async def check_webhook_event(container: Container, connector_id: int, event: WebhookEvent) -> WebhookCheck:
    """Act on what one delivery reports: check its product now, unless there is nothing a check could change.

    Raises (so the delivery is tried again later) when the check raced a
    sync or the channel was busy; a channel refusal is a conclusion, recorded
    on the product's listing as a sync's would be.
    """
    async with container.db.reader() as session:
        connector = await session.get(Connector, connector_id)
        if connector is None:
            return WebhookCheck("IGNORED", "the connector was deleted")
        found = await _product_of(session, connector, event)
    if connector.status == ConnectorStatus.PAUSED:
        # Not IGNORED: a sync after the pause reads only products the PIM changed (unless FULL), so the
        # channel's change would be lost. The delivery waits, and resumeConnector queues it again.
        return WebhookCheck("PENDING", f"waiting: connector '{connector.code}' is paused; checked once it is resumed")
    if isinstance(found, str):
        return WebhookCheck("IGNORED", found)
    product, listing = found
    reason = _nothing_to_check(event, listing)
    if reason is not None:
        return WebhookCheck("IGNORED", reason)
    kind = ConflictType.DELETED_ON_CHANNEL if event.topic == Topic.DELETED else ConflictType.MISSING_ON_CHANNEL
    try:
        checked = await check_product(container, connector, product, source="webhook", missing_kind=kind)
    except AdapterUnavailable as exc:
        return WebhookCheck("IGNORED", f"{exc}: the delivery is kept for the record")
    except ChannelError as exc:
        if exc.transient:
            raise ChannelBusy.of(exc) from exc
        raise
    summary = checked.summary()
    if checked.item.rec is not None and not checked.item.rec.sends and not _channel_moved(checked.item):
        return WebhookCheck("IGNORED", f"echo: the channel holds what was last synced ({summary})")
    return WebhookCheck("PROCESSED", summary)


async def _product_of(
    session: AsyncSession, connector: Connector, event: WebhookEvent
) -> tuple[Product, ListingRow | None] | str:
    """The PIM product the event is about, with its listing; a reason to ignore the event when there is none."""
    listings = ListingRepository(session)
    if event.external_id:
        listing = await listings.by_external_id(connector.id, event.external_id)
        if listing is not None:
            product = (await ProductRepository(session).live_by_ids(connector.tenant_id, [listing.product_id])).get(
                listing.product_id
            )
            if product is not None:
                return product, listing
    if event.sku:
        product = await ProductRepository(session).live_by_sku(connector.tenant_id, event.sku)
        if product is not None:
            return product, (await listings.for_products(connector.id, [product.id])).get(product.id)
    named = " / ".join(part for part in (event.sku and f"SKU {event.sku}", event.external_id) if part)
    return f"no PIM product is listed on this connector as {named or 'the product the delivery names'}"


def _nothing_to_check(event: WebhookEvent, listing: ListingRow | None) -> str | None:
    """Why the event cannot change anything, before the channel is even read; None when it may."""
    if listing is not None and listing.excluded:
        return "the product is left off this channel (its deletion there was accepted)"
    if listing is None or listing.external_id is None:
        # Not listed: checking would link the channel's product by SKU and overwrite it, a sync's work.
        return "the product is not on this channel as far as the PIM knows"
    seen = listing.channel_updated_at
    if event.occurred_at is not None and seen is not None and event.occurred_at < seen:
        return f"stale: the change of {event.occurred_at.isoformat()} is older than the state seen ({seen.isoformat()})"
    return None


def _channel_moved(item: Item) -> bool:
    """Whether any slot differs on the channel from the base: if none does, the delivery was an echo."""
    assert item.rec is not None
    return any(result.outcome in CHANNEL_CHANGED for result in item.rec.results)
