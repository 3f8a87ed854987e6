"""Carrying out a person's resolution, in a worker: the export or the import that follows the decision.

Applying is the product's ordinary three-way check with the person's
choices deciding the slots they were shown (`ChosenSlots`): PIM_WINS sends
the PIM value, CHANNEL_WINS imports the channel's (IMPORT/BOTH mappings) or
keeps it (EXPORT ones), DISMISSED accepts both as they are. A slot whose
values moved on since the decision is not decided blindly: the connector's
strategy takes it (with MANUAL, a new conflict) and `apply_error` says so.
A deleted or missing product is re-created (PIM_WINS) or left off the
channel (CHANNEL_WINS, DISMISSED).

Each step is safe to repeat: only a resolved, not yet applied conflict is
applied, and it is marked applied in the transaction that records the check.
A run that ends (other than to be tried again later) hands its connector's
turn on the queue to the next resolution waiting for one (queue.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.channels.base import CredentialsRejected
from app.channels.factory import AdapterUnavailable
from app.container import Container
from app.db.base import utcnow
from app.db.models import Conflict, Connector, Product
from app.domain.conflict_choices import ChosenSlots, dismisses_only
from app.domain.conflicts import ConflictType, ResolutionStatus
from app.repositories.conflicts import ConflictRepository
from app.secrets import CredentialsUnreadable
from app.services.conflicts.check import ChannelBusy, Checked, CheckRaced, check_product
from app.services.conflicts.queue import WAITING, offer_applies, take_apply_turns
from app.services.sync.items import failed
from app.services.sync.queue import ms
from app.services.turns import TurnKey, requeue_lost

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 5
"""Tries in a row (a busy channel, a racing sync) before a racing resolution is given up with `apply_error`, or
one the channel keeps refusing for now is left to the recovery sweep."""
RECOVER_AFTER = timedelta(seconds=30)
"""A resolution not applied this long after it was given its turn may have lost its queue message: queue it again
(one still queued, or waiting to be tried again, keeps its message: arq drops the second under the same id)."""
RECOVERY_BATCH = 1000
"""Lost resolutions one read of a recovery sweep queues again; the sweep goes on to the next until none is left.
Each read sorts every lost one: larger batches read a backlog of 20,000 in fewer passes."""


@dataclass(frozen=True, slots=True)
class Applied:
    """One run's conclusion; `retry_in` set: try again after that many seconds."""

    status: str
    """"APPLIED", "SKIPPED" (nothing to do, or not now) or "FAILED" (given up, `apply_error` says why)."""
    detail: str
    retry_in: float | None = None


async def apply_resolution(
    container: Container, conflict_id: int, *, attempt: int = 1, resolved_at_ms: int | None = None
) -> Applied:
    """Apply one resolved conflict (see the module docstring); unless it is to be tried again later, hand the
    connector's turn on to its next resolution waiting for one.

    `resolved_at_ms` is the resolution the message was queued for. A message that outlived its conflict (deleted
    with its connector) must not apply another that took the same id since (SQLite reuses a deleted row's id):
    two attempts would then race on one product.
    """
    async with container.db.reader() as session:
        conflict = await ConflictRepository(session).get_any(conflict_id)
    if conflict is None:
        return Applied("SKIPPED", "no such conflict (its product or connector was deleted)")
    applied = await _apply(container, conflict, attempt=attempt, resolved_at_ms=resolved_at_ms)
    if applied.retry_in is None:
        await take_apply_turns(container, conflict.connector_id)
    return applied


async def _apply(container: Container, conflict: Conflict, *, attempt: int, resolved_at_ms: int | None) -> Applied:
    conflict_id = conflict.id
    if conflict.resolution_status == ResolutionStatus.PENDING or conflict.resolution is None:
        return Applied("SKIPPED", "not resolved")
    if resolved_at_ms is not None and (conflict.resolved_at is None or ms(conflict.resolved_at) != resolved_at_ms):
        return Applied("SKIPPED", "queued for another resolution under this id")
    if conflict.applied_at is not None or conflict.apply_error is not None:
        return Applied("SKIPPED", "already applied")
    async with container.db.reader() as session:
        connector = await session.get(Connector, conflict.connector_id)
        product = await session.get(Product, conflict.product_id)
    if connector is None or product is None:
        return Applied("SKIPPED", "its product or connector was deleted")
    if product.deleted_at is not None:
        return await _for_deleted_product(container, conflict_id, product.sku, dismisses_only(conflict.resolution))
    if connector.status in WAITING:
        return Applied("SKIPPED", f"connector '{connector.code}' is {connector.status}; applied once it is resumed")
    kind = ConflictType(conflict.conflict_type)
    chosen = ChosenSlots(conflict.fields, conflict.resolution, vanished=kind is not ConflictType.FIELD_MISMATCH)

    async def mark_applied(session: AsyncSession, checked: Checked) -> None:
        row = await ConflictRepository(session).get_any(conflict_id, for_update=True)
        if row is not None:
            row.applied_at, row.apply_error = utcnow(), _partly(chosen, checked)

    try:
        checked = await check_product(
            container,
            connector,
            product,
            source=f"conflict {conflict_id}",
            chosen=chosen,
            missing_kind=kind if kind is not ConflictType.FIELD_MISMATCH else ConflictType.MISSING_ON_CHANNEL,
            finish=mark_applied,
        )
    except (CheckRaced, ChannelBusy) as exc:
        if attempt < MAX_ATTEMPTS:
            first = container.settings.background_retry_seconds
            delay = min(120.0, first * 2 ** (attempt - 1))
            if isinstance(exc, ChannelBusy) and exc.retry_after is not None:
                delay = max(delay, exc.retry_after)  # sooner, the channel would only say "not now" again
            return Applied("SKIPPED", str(exc), retry_in=delay)
        if isinstance(exc, ChannelBusy):
            # The channel is down for longer than these tries: the decision stands, the recovery sweep brings it
            # back (recover_resolutions) until the channel answers.
            return Applied("SKIPPED", f"the channel is still unavailable after {attempt} tries: {exc}")
        return await _give_up(container, conflict_id, f"gave up after {attempt} attempts: {exc}")
    except CredentialsRejected as exc:
        # check_product put the connector in ERROR; the decision waits for resumeConnector, which queues it.
        return Applied("SKIPPED", f"{exc.summary}; applied once connector '{connector.code}' is resumed")
    except (AdapterUnavailable, CredentialsUnreadable) as exc:
        return await _give_up(container, conflict_id, f"the channel cannot be reached with these settings: {exc}")
    log.info("conflict.applied", conflict=conflict_id, outcome=checked.summary())
    return Applied("APPLIED", checked.summary())


def _partly(chosen: ChosenSlots, checked: Checked) -> str | None:
    """Why the resolution was carried out only in part, or not at all; None when it all went through."""
    problems = []
    if chosen.stale:
        problems.append(
            "CHN-041: changed since the resolution, so left to the connector's strategy: " + ", ".join(chosen.stale)
        )
    if failed(checked.item):
        problems.append(checked.summary())
    elif not chosen.vanished:
        compared = [result.slot for result in checked.item.rec.results] if checked.item.rec is not None else []
        if unreached := chosen.unreached(compared):
            problems.append(
                "CHN-041: not carried out, since the connector no longer syncs it (its mappings changed, or the "
                "product is off the channel): " + ", ".join(unreached)
            )
    return "; ".join(problems) or None


async def _for_deleted_product(container: Container, conflict_id: int, sku: str, dismissed: bool) -> Applied:
    """A product deleted from the catalog since the decision: nothing to check it against. Dismissing writes nothing
    anyway, so it is done; any other choice cannot be carried out, and `apply_error` says why."""
    if not dismissed:
        reason = f"CHN-041: not carried out: product {sku} was deleted from the catalog before it was applied"
        return await _give_up(container, conflict_id, reason)
    async with container.db.transaction() as session:
        row = await ConflictRepository(session).get_any(conflict_id, for_update=True)
        if row is not None and row.applied_at is None:
            row.applied_at = utcnow()
    return Applied("APPLIED", f"dismissed: product {sku} was deleted from the catalog")


async def _give_up(container: Container, conflict_id: int, reason: str) -> Applied:
    async with container.db.transaction() as session:
        row = await ConflictRepository(session).get_any(conflict_id, for_update=True)
        if row is not None and row.applied_at is None:
            row.apply_error = reason[:2000]
    log.warning("conflict.apply_failed", conflict=conflict_id, reason=reason)
    return Applied("FAILED", reason)


async def recover_resolutions(container: Container) -> int:
    """Queue again every resolution holding its connector's turn that no worker applied (its message was lost, or
    Redis was down), RECOVERY_BATCH at a time until none is left (app.services.turns.requeue_lost), then hand out the
    turns of connectors left with fewer than they may have; how many of each."""
    turns = container.settings.checks_per_connector
    queued_before = utcnow() - RECOVER_AFTER
    batch = RECOVERY_BATCH

    async def read(after: TurnKey | None) -> list[Conflict]:
        async with container.db.reader() as session:
            return await ConflictRepository(session).queued_unapplied(queued_before, after=after, limit=batch)

    async def requeued(conflicts: Sequence[Conflict], now: datetime) -> None:
        async with container.db.transaction() as session:
            await ConflictRepository(session).requeued([conflict.id for conflict in conflicts], now)

    lost, queueing = await requeue_lost(read, _turn_key, partial(offer_applies, container), requeued, batch=batch)
    async with container.db.reader() as session:
        short = await ConflictRepository(session).waiting_for_turns(turns) if queueing else []
    for connector_id in short:
        if not await take_apply_turns(container, connector_id):
            break
    if lost or short:
        log.info("conflict.recovered", resolutions=lost, connectors_given_turns=len(short))
    return lost + len(short)


def _turn_key(conflict: Conflict) -> TurnKey:
    assert conflict.apply_queued_at is not None  # holding a turn
    return conflict.apply_queued_at, conflict.id
