"""A product on its way through a sync or a webhook check, and what happened to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.base import ChannelDocument, ChannelError, RemoteProduct
from app.db.models import Listing
from app.domain.conflicts import ConflictType, ResolutionStatus
from app.domain.errors import ErrorCode
from app.domain.export_plan import ExportPlan, ProductExport, ValueTable
from app.domain.reconcile import Reconciliation
from app.domain.sync import ChangeAction, Outgoing
from app.repositories.listings import ListingRepository, ListingRow
from app.repositories.products import ProductRepository, ProductRow

EXTERNAL_ID_LENGTH = Listing.external_id.type.length or 255


@dataclass
class Item:
    """One product of the page and what happens to it."""

    product: ProductRow
    listing: ListingRow | None
    external_id: str | None = None
    out: Outgoing | None = None
    action: ChangeAction = ChangeAction.SKIP
    remote: RemoteProduct | None = None
    read: bool = False
    """Whether the channel's current state was read (`remote` None then means the channel lacks it)."""
    creating: bool = False
    export: ProductExport | None = None
    rec: Reconciliation | None = None
    """The three-way check, for a product the channel already has."""
    vanished: ConflictType | None = None
    """The channel no longer has the product the listing points to."""
    vanished_status: ResolutionStatus | None = None
    decided_by_person: bool = False
    """The vanished product's fate is a person's resolution being applied, not a new conflict."""
    linked: bool = False
    """Bound to a product the channel already had, identical there: in sync with nothing to send."""
    readback: RemoteProduct | None = None
    """What the channel stored, read after the write: the new base."""
    reexported: bool = False
    """The export was built again from values just imported from the channel: parts of it may not be sent yet."""
    errors: list[tuple[str | None, str, str]] = field(default_factory=list)
    """(channel locale, CHN code, message)."""
    retry_after: float | None = None
    """The longest wait the channel asked for (a 429's or 503's Retry-After) in the failures that stopped it: a
    check of this one product waits that long before it tries again (conflicts.check.ChannelBusy)."""

    def fail(self, code: str, message: str, locale: str | None = None) -> None:
        self.action = ChangeAction.FAIL
        self.errors.append((locale, code, message))

    def fail_on(self, error: ChannelError, message: str | None = None) -> None:
        """Fail with the channel's error (its code, `message` or its own), keeping the wait it asked for."""
        self.fail(error.code.value, error.message if message is None else message)
        if error.retry_after is not None:
            self.retry_after = max(self.retry_after or 0.0, error.retry_after)

    def kept_back(self, locale: str) -> bool:
        """Whether this channel locale's part stayed back on a problem of its own, already in `errors`: a refusal
        the channel (or the adapter's check) then gives for that locale follows from it, and is not a second one."""
        return any(where == locale and code != ErrorCode.MAPPING_BROKEN for where, code, _ in self.errors)

    def refuse_unstorable_id(self) -> bool:
        """Fail the product (CHN-022) when the channel's id for it is longer than a listing holds, keeping the id
        its listing had; whether it did. An id cannot be cut (cut, it names no product) and must not fail the
        page's write with the other products' outcomes: it fails its own product, here and at every sync after."""
        if self.external_id is None or len(self.external_id) <= EXTERNAL_ID_LENGTH:
            return False
        answered = len(self.external_id)
        self.external_id = self.listing.external_id if self.listing is not None else None
        message = (
            f"the external id answered is {answered} characters, more than the {EXTERNAL_ID_LENGTH} a listing holds"
        )
        self.fail(ErrorCode.CHANNEL_ERROR.value, message)
        return True

    def document(self) -> ChannelDocument | None:
        """What goes out: the SEND slots of a checked product, or every changed part of a new one."""
        if self.rec is not None:
            send = self.rec.to_send()
            return ChannelDocument(
                self.product.sku, self.external_id, send["fields"], send["locales"], self.rec.unchanged_locales()
            )
        return None if self.out is None else self.out.document(self.external_id)

    @property
    def conflicted(self) -> bool:
        """Whether the check met a conflict, decided by the strategy or held for a person (see `held`)."""
        return self.vanished is not None or bool((self.rec and self.rec.resolved_by_strategy()) or self.held)

    @property
    def held(self) -> bool:
        """Whether some of the product waits for a person: a pending conflict holds a field of it, or it whole."""
        pending = ResolutionStatus.PENDING
        return self.vanished_status is pending or bool(self.rec and self.rec.held)


async def load_items(
    session: AsyncSession, tenant_id: int, connector_id: int, rows: Sequence[ProductRow], plan: ExportPlan
) -> tuple[list[Item], dict[int, ValueTable]]:
    """Products with their listings and the values `plan` reads (no query for none: a chunk's last page)."""
    if not rows:
        return [], {}
    ids = [row.id for row in rows]
    values: dict[int, dict[tuple[int, str, str], Any]] = {pk: {} for pk in ids}
    for product_id, attribute_id, locale, scope, data in await ProductRepository(session).values_for_export(
        tenant_id, ids, plan.attribute_ids, plan.value_scopes
    ):
        values[product_id][(attribute_id, locale, scope)] = data
    listings = await ListingRepository(session).for_products(connector_id, ids)
    return [Item(row, listings.get(row.id)) for row in rows], dict(values)


def listing_mark(listing: ListingRow | None) -> tuple[Any, ...] | None:
    """What changes whenever a listing is recorded: a different mark means someone else recorded it since."""
    if listing is None:
        return None
    return (listing.external_id, listing.last_synced_at, listing.channel_updated_at, listing.status, listing.excluded)


def failed(item: Item) -> bool:
    """Failed when anything of it was refused; a broken mapping alone (CHN-061) does not fail a product."""
    return item.action is ChangeAction.FAIL or any(code != ErrorCode.MAPPING_BROKEN for _, code, _ in item.errors)


WRITES = (ChangeAction.CREATE, ChangeAction.UPDATE, ChangeAction.DELETE)
"""The actions that write to the channel."""


def written(items: Sequence[Item]) -> int:
    """How many products the channel took a write for (those with some fields held in conflict included)."""
    return sum(1 for item in items if item.action in WRITES and not failed(item))
