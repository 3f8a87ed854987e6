"""Recording what a check and a write did: the listing's snapshots, values taken into the PIM, conflicts.

Shared by sync pages and webhook checks, always inside the caller's
transaction, so a product's listing, its imported values and its conflict
commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Connector
from app.domain.channels import FieldType
from app.domain.conflicts import MISSING, Action, ResolutionStatus, Slot, copied, read, write
from app.domain.errors import ErrorCode
from app.domain.export_plan import ExportPlan, ValueTable
from app.domain.products import ProductDraft
from app.domain.reconcile import NotImportable, SlotResult, imported_data
from app.domain.sync import SHARED, ChangeAction, merged_snapshot, part_hash, remote_document
from app.repositories.listings import ListingRepository, ListingRow
from app.services.products import ProductService
from app.services.sync.conflict_records import record_conflicts
from app.services.sync.items import Item, failed

PENDING = ResolutionStatus.PENDING


async def apply_outcomes(
    session: AsyncSession,
    *,
    connector: Connector,
    plan: ExportPlan,
    items: Sequence[Item],
    values: Mapping[int, ValueTable],
    now: datetime,
) -> list[int]:
    """Imports, listings and conflicts of these items; returns the pending conflicts opened or changed.

    A listing checked clean still shows `conflict` while its product keeps a pending conflict the check did not
    cover (a sync limited to other locales): the product is not in step with the channel until it is resolved.
    """
    await _import_values(session, connector, plan, items, values)
    listings = ListingRepository(session)
    bound = {item.product.id: listing for item in items if (listing := _bind(listings, connector, plan, item, now))}
    announced, still_pending = await record_conflicts(session, connector, plan, items, now)
    for product_id in still_pending:
        if (listing := bound.get(product_id)) is not None and listing.status == "synced":
            listing.status = "conflict"
    await listings.write()
    return announced


# -- values taken from the channel --------------------------------------------------------------


async def _import_values(
    session: AsyncSession,
    connector: Connector,
    plan: ExportPlan,
    items: Sequence[Item],
    values: Mapping[int, ValueTable],
) -> None:
    """Write every IMPORT slot's channel value into the PIM, marked as the channel's, then rebuild those
    products' exports so the new values count as agreed (they never bounce back as exports)."""
    drafts: dict[int, ProductDraft] = {}
    tables: dict[int, dict[tuple[int, str, str], Any]] = {}
    for item in items:
        if item.rec is None or failed(item):
            continue
        table = dict(values.get(item.product.id, {}))
        rows = [row for result in item.rec.with_action(Action.IMPORT) if (row := _value_row(plan, item, result, table))]
        if rows:
            drafts[item.product.id] = ProductDraft(item.product.sku, rows)
            tables[item.product.id] = table
    if not drafts:
        return
    outcome = await ProductService(session).upsert(
        connector.tenant_id, list(drafts.values()), plan.catalog, partial=True, author=f"channel:{connector.code}"
    )
    refused = {list(drafts)[index] for index in outcome.rejected}
    for item in items:
        product_id = item.product.id
        if product_id in refused:
            errors = outcome.rejected[list(drafts).index(product_id)]
            for error in errors:
                item.errors.append(
                    (None, ErrorCode.FIELD_TYPE_MISMATCH.value, f"channel value not taken: {error.message}")
                )
        elif product_id in tables:
            item.export, item.reexported = plan.build(item.product.sku, tables[product_id]), True


def _value_row(
    plan: ExportPlan, item: Item, result: SlotResult, table: dict[tuple[int, str, str], Any]
) -> dict[str, Any] | None:
    slot = result.slot
    key = plan.value_key(slot)
    attribute = plan.catalog.attributes[slot.attribute_code]
    try:
        data = imported_data(
            attribute,
            result.channel,
            currency=plan.currency,
            existing=table.get(key),
            unit=plan.units.get(slot.field),
            html=slot.field_type is FieldType.HTML,
        )
    except NotImportable as exc:
        message = f"{slot.field}: the PIM cannot take the channel's value: {exc}"
        item.errors.append((slot.channel_locale, ErrorCode.FIELD_TYPE_MISMATCH.value, message))
        return None
    if data is None:
        table.pop(key, None)
    else:
        table[key] = data
    return {"attribute": attribute.code, "locale": key[1] or None, "scope": key[2] or None, "data": data}


# -- the listing ----------------------------------------------------------------------------------


def _bind(
    listings: ListingRepository, connector: Connector, plan: ExportPlan, item: Item, now: datetime
) -> ListingRow | None:
    """The binder: external id, status, and both snapshots (what the PIM agreed, what the channel stored).

    Saved (with the page's others, once all are bound) only when the outcome moved it; that listing is returned.
    """
    listing = item.listing
    if listing is None:
        untouched = item.external_id is None and item.action not in (ChangeAction.CREATE, ChangeAction.UPDATE)
        if untouched and not failed(item):
            return None
        # A product that failed before it reached the channel gets a listing too: its error shows, and the
        # next INCREMENTAL sync takes it again (Selection.failed_on), whatever its revision.
        listing = ListingRow(connector.tenant_id, connector.id, item.product.id)
    if not _bound(listing, plan, item, now):
        return None
    listings.save(listing)
    return listing


def _bound(listing: ListingRow, plan: ExportPlan, item: Item, now: datetime) -> bool:
    """Move the listing as the item's outcome says; False when the outcome leaves it as it was."""
    linked = bool(item.external_id) and listing.external_id != item.external_id
    if item.external_id:
        listing.external_id = item.external_id
    if item.action is ChangeAction.DELETE and not failed(item):
        listing.external_id, listing.status, listing.sent, listing.base, listing.document_hashes = (
            None,
            "never",
            {},
            {},
            {},
        )
        listing.last_synced_at = now
        return True
    if item.vanished is not None and item.vanished_status is not ResolutionStatus.PIM_WINS:
        _vanished(listing, item)
        return True
    if failed(item):
        listing.status = "error"
        listing.last_error = "; ".join(f"{code}: {message}" for _, code, message in item.errors)[:2000]
        return True
    if item.rec is not None:
        _bind_checked(listing, plan, item)
    elif item.action in (ChangeAction.CREATE, ChangeAction.UPDATE) and item.out is not None:
        _bind_written(listing, plan, item)
    elif listing.status == "error":
        # Gone through with nothing to send (disabled, or its failed part since withdrawn): the error is over.
        listing.status, listing.last_error = ("synced" if listing.external_id else "never"), None
        return True
    else:
        return linked
    listing.last_synced_at, listing.last_error, listing.excluded = now, None, False
    listing.synced_revision = item.product.revision
    listing.status = "conflict" if item.held else "synced"
    return True


def _vanished(listing: ListingRow, item: Item) -> None:
    if item.vanished_status is ResolutionStatus.CHANNEL_WINS:
        listing.external_id, listing.excluded, listing.status = None, True, "excluded"
        listing.sent, listing.base, listing.document_hashes = {}, {}, {}
    else:
        listing.status = "conflict"


def _bind_checked(listing: ListingRow, plan: ExportPlan, item: Item) -> None:
    """After a three-way check: each slot's snapshots move as its action says; held slots stay put."""
    assert item.rec is not None and item.export is not None
    sent, base = copied(listing.sent or {}), copied(listing.base or {})
    stored = remote_document(item.readback) if item.readback else None
    agreed = item.export.sendable()
    for result in item.rec.results:
        slot = result.slot
        if result.action is Action.SEND:
            write(sent, slot, result.pim)
            write(base, slot, read(stored, slot) if stored is not None else result.pim)
        elif result.action in (Action.KEEP, Action.IMPORT):
            write(sent, slot, read(agreed, slot))
            write(base, slot, result.channel)
        elif result.action is Action.NONE and read(base, slot) is MISSING and result.channel is not MISSING:
            write(base, slot, result.channel)
    listing.sent, listing.base = sent, base
    held = item.rec.held_parts()
    hashes = dict(listing.document_hashes or {})
    for part, fields in _parts(item).items():
        if part in held:
            continue
        if item.reexported and not _all_sent(sent, part, fields):
            # Rebuilt from values just imported (a template reading one): not sent yet, so not hashed as sent,
            # or the next INCREMENTAL sync would skip it.
            hashes.pop(part, None)
        else:
            hashes[part] = part_hash(fields)
    listing.document_hashes = hashes
    remote = item.readback or item.remote
    listing.channel_updated_at = remote.delivery_time if remote else listing.channel_updated_at


def _all_sent(sent: Mapping[str, Any], part: str, fields: Mapping[str, Any]) -> bool:
    """Whether every field of an export part is what the `sent` snapshot holds for it."""
    holder = (sent.get("fields") if part == SHARED else (sent.get("locales") or {}).get(part)) or {}
    return all(holder.get(name, MISSING) == value for name, value in fields.items())


def _parts(item: Item) -> dict[str, dict[str, Any]]:
    """The export's parts as hashed for skipping: '' for the shared fields, else the channel locale."""
    assert item.export is not None
    sendable = item.export.sendable()
    parts = {SHARED: item.export.shared.fields} if sendable["fields"] or not item.export.shared.problems else {}
    for built in item.export.locales:
        if built.channel_locale and built.channel_locale in sendable["locales"]:
            parts[built.channel_locale] = built.fields
    return parts


def _bind_written(listing: ListingRow, plan: ExportPlan, item: Item) -> None:
    """A product written without a check (a new one): the base is what the channel stored."""
    assert item.out is not None
    listing.document_hashes = {**(listing.document_hashes or {}), **item.out.hashes}
    listing.sent = merged_snapshot(listing.sent or {}, item.out)
    listing.base = project(remote_document(item.readback), plan.slots) if item.readback else copied(listing.sent)
    if item.readback is not None:
        listing.channel_updated_at = item.readback.delivery_time


def project(snapshot: Mapping[str, Any], slots: Sequence[Slot]) -> dict[str, Any]:
    """Only the mapped slots of a channel document: the base never holds fields nobody maps."""
    result: dict[str, Any] = {"fields": {}, "locales": {}}
    for slot in slots:
        value = read(snapshot, slot)
        if value is not MISSING:
            write(result, slot, value)
    return result
