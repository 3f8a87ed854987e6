"""Recording the conflicts a sync page (or a webhook check) met, in the caller's transaction.

A connector's strategy decision is recorded as a resolved conflict; slots
held for a person open (or bring up to date) the product's one pending
conflict; a pending conflict the check no longer finds is closed, when the
check covered all of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Conflict, Connector
from app.domain.conflicts import ConflictType, ResolutionStatus
from app.domain.export_plan import ExportPlan
from app.domain.reconcile import conflict_fields
from app.domain.sync import ChangeAction
from app.repositories.conflicts import ConflictRepository, fit_resolved_by
from app.repositories.events import EventRepository
from app.services.sync.items import Item, failed

PENDING = ResolutionStatus.PENDING


async def record_conflicts(
    session: AsyncSession, connector: Connector, plan: ExportPlan, items: Sequence[Item], now: datetime
) -> tuple[list[int], set[int]]:
    """Strategy decisions are recorded as resolved conflicts; held slots open (or update) the product's one
    pending conflict, whose version moves when its values change, so a stale resolution is refused.

    Returns the pending conflicts opened or changed, and the products checked clean whose pending conflict
    stays open all the same (`_close_settled`).
    """
    checked = {item.product.id: item for item in items if _settles(item)}
    conflicted = [item.product.id for item in items if item.conflicted]
    if not checked and not conflicted:
        return [], set()
    pending = await ConflictRepository(session).pending_by_product(connector.id, [*checked, *conflicted])
    announced: list[Conflict] = []
    events = EventRepository(session)
    for item in items:
        if failed(item):
            continue
        for status, fields, kind in _detections(item):
            if status is PENDING:
                conflict = pending.get(item.product.id)
                changed = _open(session, connector, item, conflict, kind, fields, now)
                if changed is not None:
                    announced.append(changed)
            else:
                _resolved(session, connector, item, status, kind, fields, now)
            events.record(
                connector.tenant_id,
                "conflict.detected",
                connector_id=connector.id,
                sku=item.product.sku,
                conflict_type=kind.value,
                resolution=status.value,
            )
    still_pending = _close_settled(plan, checked, pending, now)
    await session.flush()  # a conflict opened just now has its id from here on: it is announced by it
    return [conflict.id for conflict in announced], still_pending


def _detections(item: Item) -> list[tuple[ResolutionStatus, list[dict[str, Any]], ConflictType]]:
    if item.vanished is not None and item.vanished_status is not None:
        return [] if item.decided_by_person else [(item.vanished_status, [], item.vanished)]
    if item.rec is None:
        return []
    found = [
        (status, conflict_fields(results), ConflictType.FIELD_MISMATCH)
        for status, results in item.rec.resolved_by_strategy().items()
    ]
    if item.rec.held:
        found.append((PENDING, conflict_fields(item.rec.held), ConflictType.FIELD_MISMATCH))
    return found


def _open(
    session: AsyncSession,
    connector: Connector,
    item: Item,
    conflict: Conflict | None,
    kind: ConflictType,
    fields: list[dict[str, Any]],
    now: datetime,
) -> Conflict | None:
    """The product's pending conflict, opened or brought up to date; None when nothing about it changed."""
    if conflict is None:
        conflict = _detected(connector, item, PENDING, kind, fields, now)
        session.add(conflict)
        return conflict
    if kind is ConflictType.MISSING_ON_CHANNEL and conflict.conflict_type == ConflictType.DELETED_ON_CHANNEL.value:
        # The channel reported the deletion; a later read finding the product gone confirms it and changes nothing.
        kind = ConflictType.DELETED_ON_CHANNEL
    if conflict.fields == fields and conflict.conflict_type == kind.value:
        return None
    conflict.fields, conflict.conflict_type, conflict.version = fields, kind.value, conflict.version + 1
    conflict.pim_modified_at, conflict.channel_modified_at, conflict.detected_at = (
        item.product.updated_at,
        item.remote.updated_at if item.remote else None,
        now,
    )
    return conflict


def _resolved(
    session: AsyncSession,
    connector: Connector,
    item: Item,
    status: ResolutionStatus,
    kind: ConflictType,
    fields: list[dict[str, Any]],
    now: datetime,
) -> None:
    conflict = _detected(connector, item, status, kind, fields, now)
    conflict.resolved_at, conflict.resolved_by, conflict.applied_at = now, "strategy", now
    conflict.resolution = {"resolution": status.value, "overrides": []}
    session.add(conflict)


def _detected(
    connector: Connector,
    item: Item,
    status: ResolutionStatus,
    kind: ConflictType,
    fields: list[dict[str, Any]],
    now: datetime,
) -> Conflict:
    """A conflict found now on the product, as the PIM and the channel last changed it."""
    return Conflict(
        tenant_id=connector.tenant_id,
        connector_id=connector.id,
        product_id=item.product.id,
        product_sku=item.product.sku,
        conflict_type=kind.value,
        resolution_status=status.value,
        fields=fields,
        version=1,
        pim_modified_at=item.product.updated_at,
        channel_modified_at=item.remote.updated_at if item.remote else None,
        detected_at=now,
    )


def _close_settled(
    plan: ExportPlan, checked: Mapping[int, Item], pending: Mapping[int, Conflict], now: datetime
) -> set[int]:
    """A pending conflict the check no longer finds is closed, not left to rot: a field conflict whose slots
    agree now (someone aligned one side) or that the connector's strategy has just decided, or a missing or
    deleted product that is back on the channel. Only when the check covered all of it: a sync limited to some
    locales says nothing of a conflict in the others: the products whose conflict stays open so are returned.
    A slot the connector no longer maps at all (its field or channel locale was taken out of the mappings since
    the conflict was found) is never checked again, so it does not hold the conflict open."""
    covered = {(slot.field, slot.channel_locale) for slot in plan.slots}
    left_open: set[int] = set()
    for conflict in (pending[product_id] for product_id in checked if product_id in pending):
        taken_off = checked[conflict.product_id].action is ChangeAction.DELETE
        unchecked = _slots_of(conflict) - covered
        if not taken_off and any(locale in plan.skipped_locales for _, locale in unchecked):
            left_open.add(conflict.product_id)
            continue
        conflict.resolution_status, conflict.resolved_at = ResolutionStatus.DISMISSED.value, now
        reason = _settled_because(conflict, checked[conflict.product_id])
        if unchecked and not taken_off:
            reason += f"; no longer mapped: {', '.join(_names(unchecked))}"
        conflict.resolved_by, conflict.applied_at = fit_resolved_by(f"sync: {reason}"), now
    return left_open


def _names(slots: set[tuple[str, str | None]]) -> list[str]:
    return sorted(f"{field}[{locale}]" if locale else field for field, locale in slots)


def _settles(item: Item) -> bool:
    """Whether the item's outcome can close its product's pending conflict: checked three ways and nothing held,
    or taken off the channel (deleted or disabled in the PIM), after which there is nothing left to decide."""
    if failed(item) or item.held:
        return False
    return item.rec is not None or item.action is ChangeAction.DELETE


def _slots_of(conflict: Conflict) -> set[tuple[str, str | None]]:
    return {(entry["field"], diff["channelLocale"]) for entry in conflict.fields or [] for diff in entry["diffs"]}


def _settled_because(conflict: Conflict, item: Item) -> str:
    if item.action is ChangeAction.DELETE:
        return "the product was taken off the channel (deleted or disabled in the PIM)"
    if conflict.conflict_type != ConflictType.FIELD_MISMATCH.value:
        return "it is back"
    decided = item.rec.resolved_by_strategy() if item.rec is not None else {}
    if decided:
        return f"decided by the connector's strategy ({', '.join(status.value for status in decided)})"
    return "both sides agree now"
