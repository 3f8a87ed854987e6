"""Conflict use cases for people: read, resolve one, resolve many by ids or by a rule, follow detections.

A resolution is written in one transaction with its domain event and queued
for a worker (which runs the export or import it decided) only after it
commits, in its connector's turn (queue.take_apply_turns). What was shown
is what gets decided: a conflict that is no longer PENDING, or whose values
changed since the caller read it (`expectedVersion`), is refused with CHN-041
instead of being decided blindly, and so is an override naming a field or
locale the conflict does not hold.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from app.container import Container
from app.db.base import utcnow
from app.db.models import Conflict
from app.domain.conflict_choices import (
    DiffSelector,
    FieldOverride,
    deleted_product,
    dismisses_only,
    override_problems,
    split_fields,
    stored_resolution,
)
from app.domain.conflicts import Resolution, ResolutionStatus, status_for
from app.domain.connectors import connector_not_found
from app.domain.errors import ErrorCode, InvalidInput, NotFound, UserErrorItem
from app.domain.locales import InvalidLocaleCode, canonical_locale
from app.repositories.conflicts import ConflictFilter, ConflictRepository, fit_resolved_by
from app.repositories.connectors import ConnectorRepository
from app.repositories.events import EventRepository
from app.repositories.tokens import TokenRepository
from app.services.conflicts import notify
from app.services.conflicts.queue import take_apply_turns
from app.services.tokens import TokenWatch

log = structlog.get_logger(__name__)

MAX_IDS = 1_000
BULK_BATCH = 200
"""Conflicts decided per transaction in a bulk: short write transactions, whatever the bulk's size."""


@dataclass(frozen=True, slots=True)
class ResolveRequest:
    resolution: Resolution
    overrides: tuple[FieldOverride, ...] = ()
    expected_version: int | None = None
    """The version the caller was shown; a conflict changed since then is refused (CHN-041)."""


@dataclass(frozen=True, slots=True)
class BulkFilter:
    connector_code: str | None = None
    product_sku: str | None = None
    field: str | None = None
    """Channel field name."""
    pim_locale: str | None = None

    @property
    def empty(self) -> bool:
        return not any((self.connector_code, self.product_sku, self.field, self.pim_locale))


@dataclass(frozen=True, slots=True)
class BulkRequest:
    resolution: Resolution
    ids: tuple[int, ...] | None = None
    filter: BulkFilter | None = None


def _refusal(path: tuple[str | int, ...], message: str) -> UserErrorItem:
    return UserErrorItem(path, message, ErrorCode.CONFLICT_RESOLUTION_FAILED)


def _failed(path: tuple[str | int, ...], message: str) -> InvalidInput:
    return InvalidInput([_refusal(path, message)])


def _already_resolved(status: str) -> str:
    """What resolving a conflict that is no longer PENDING answers, one conflict or many."""
    return f"the conflict was already resolved ({status}); nothing was changed"


def _undecidable(ids: Sequence[int], statuses: Mapping[int, str]) -> list[UserErrorItem]:
    """Why each given id cannot be decided, at its position: unknown to the tenant, or no longer PENDING."""
    problems: list[UserErrorItem] = []
    for index, pk in enumerate(ids):
        status = statuses.get(pk)
        if status is None:
            problems.append(_refusal(("ids", index), "conflict not found"))
        elif status != ResolutionStatus.PENDING:
            problems.append(_refusal(("ids", index), _already_resolved(status)))
    return problems


def _locale(code: str) -> str:
    try:
        return canonical_locale(code)
    except InvalidLocaleCode:
        return code  # compared as given, so the userError names exactly what was sent


def _canonical(overrides: Sequence[FieldOverride]) -> tuple[FieldOverride, ...]:
    return tuple(
        replace(item, locales=None if item.locales is None else tuple(_locale(code) for code in item.locales))
        for item in overrides
    )


def _check_resolvable(row: Conflict | None, request: ResolveRequest) -> Conflict:
    if row is None:
        raise _failed(("id",), "conflict not found")
    if row.resolution_status != ResolutionStatus.PENDING:
        raise _failed(("id",), _already_resolved(row.resolution_status))
    if request.expected_version is not None and request.expected_version != row.version:
        raise _failed(
            ("input", "expectedVersion"),
            f"the conflict changed since it was shown (version {request.expected_version} shown, "
            f"{row.version} now): read it again and decide on its current values",
        )
    problems = override_problems(row.fields, request.overrides)
    if problems:
        raise InvalidInput(
            [
                UserErrorItem(
                    ("input", "fieldOverrides", problem.index, *([problem.part] if problem.part else [])),
                    problem.message,
                    ErrorCode.CONFLICT_RESOLUTION_FAILED,
                )
                for problem in problems
            ]
        )
    return row


def _decide(row: Conflict, resolution: dict[str, Any], status: ResolutionStatus, by: str) -> None:
    row.resolution = resolution
    row.resolution_status = status.value
    row.resolved_at = utcnow()
    row.resolved_by = by
    row.applied_at, row.apply_error = None, None


def _remainder(row: Conflict, fields: list[dict[str, Any]]) -> Conflict:
    """The part of a conflict a bulk rule did not reach: still PENDING, as a conflict of its own."""
    return Conflict(
        tenant_id=row.tenant_id,
        connector_id=row.connector_id,
        product_id=row.product_id,
        product_sku=row.product_sku,
        conflict_type=row.conflict_type,
        resolution_status=ResolutionStatus.PENDING.value,
        fields=fields,
        version=1,
        pim_modified_at=row.pim_modified_at,
        channel_modified_at=row.channel_modified_at,
        detected_at=row.detected_at,
    )


async def _actor(session: AsyncSession, tenant_id: int, token_id: int) -> str:
    """Who decided, as `resolved_by` records it: the token's name (tokens are named after their holder), cut to the
    column's size, which "token:" and the longest name pass."""
    token = await TokenRepository(session).by_id(tenant_id, token_id)
    return fit_resolved_by(f"token:{token.name if token is not None else token_id}")


class ConflictService:
    def __init__(self, container: Container, tenant_id: int) -> None:
        self.container = container
        self.db = container.db
        self.tenant_id = tenant_id

    # -- reads -----------------------------------------------------------------------------------

    async def get(self, conflict_id: int) -> Conflict:
        async with self.db.reader() as session:
            row = await ConflictRepository(session).get(self.tenant_id, conflict_id)
        if row is None:
            raise NotFound("conflict not found")
        return row

    async def page(self, where: ConflictFilter, *, before_id: int | None, limit: int) -> list[Conflict]:
        """Newest first."""
        async with self.db.reader() as session:
            return await ConflictRepository(session).page(self.tenant_id, where, before_id=before_id, limit=limit)

    async def count(self, where: ConflictFilter) -> int:
        async with self.db.reader() as session:
            return await ConflictRepository(session).count(self.tenant_id, where)

    async def detected(
        self, connector_code: str | None = None, *, every: float = 1.0, watch: TokenWatch | None = None
    ) -> AsyncGenerator[Conflict, None]:
        """Conflicts as detection publishes them, this tenant's only, optionally one connector's; ends only when
        the `watch`ed token is revoked (Unauthenticated), checked on every tick, idle ones included."""
        if connector_code is not None:
            await self._connector_id(connector_code)
        updates = notify.listen(self.container.redis, self.tenant_id, every=every)
        try:
            await anext(updates)
            async for item in updates:
                if watch is not None:
                    await watch.check()
                if item is None or not _concerns(item, connector_code):
                    continue
                async with self.db.reader() as session:
                    row = await ConflictRepository(session).get(self.tenant_id, item.conflict_id)
                if row is not None:
                    yield row
        finally:
            await updates.aclose()

    async def _connector_id(self, code: str) -> int:
        async with self.db.reader() as session:
            connector = await ConnectorRepository(session).by_code(self.tenant_id, code)
        if connector is None:
            raise NotFound(connector_not_found(code))
        return connector.id

    # -- resolve one -----------------------------------------------------------------------------

    async def resolve(self, conflict_id: int, request: ResolveRequest, *, token_id: int) -> Conflict:
        """Decide a PENDING conflict as shown to the caller, then queue what the decision applies.

        With overrides, the choice differs per field (and PIM locale) and the
        conflict reads MERGED; every override must name a field and locales
        the conflict holds (CHN-041 otherwise).
        """
        request = replace(request, overrides=_canonical(request.overrides))
        async with self.db.transaction() as session:
            conflicts = ConflictRepository(session)
            await ConnectorRepository(session).hold(await conflicts.connector_of(self.tenant_id, conflict_id))
            row = _check_resolvable(await conflicts.get(self.tenant_id, conflict_id, for_update=True), request)
            decision = stored_resolution(request.resolution, request.overrides)
            if not dismisses_only(decision) and await conflicts.of_deleted_products(self.tenant_id, [row.id]):
                raise _failed(("id",), deleted_product(row.product_sku))
            by = await _actor(session, self.tenant_id, token_id)
            status = status_for(request.resolution, overridden=bool(request.overrides))
            _decide(row, decision, status, by)
            self._record(session, row)
        await take_apply_turns(self.container, row.connector_id)
        log.info("conflict.resolved", conflict=row.id, status=row.resolution_status)
        return row

    def _record(self, session: AsyncSession, row: Conflict) -> None:
        EventRepository(session).record(self.tenant_id, RESOLVED, connector_id=row.connector_id, **_resolved(row))

    # -- resolve many ----------------------------------------------------------------------------

    async def bulk_resolve(self, request: BulkRequest, *, token_id: int) -> int:
        """Apply one choice to the given conflicts and/or every PENDING one a filter reaches; how many were decided.

        A given id that is unknown, or no longer PENDING (another person
        resolved it a moment ago), refuses the whole bulk with CHN-041 at its
        position, as resolveConflict answers for it, and nothing is decided.
        The ids are checked under lock in the one transaction that decides
        them (at most MAX_IDS), so a decision racing this one cannot slip in
        between. A filter reaches only the PENDING conflicts that existed when
        the bulk began; one with `field` and/or `pimLocale` decides exactly
        the diffs it names: "every ar_AE title conflict: CHANNEL_WINS" never
        decides the fr_FR description of the same product. Such a conflict is
        split: the reached diffs stay on it and are resolved with the choice
        (a plain PIM_WINS / CHANNEL_WINS / DISMISSED, not MERGED, since it now
        holds only what was decided), and the rest moves, unchanged, to a new
        PENDING conflict of the same product that a person still has to
        decide. A bulk by filter alone commits in batches of BULK_BATCH; each
        decision is queued for applying after its commit in its connector's
        turn (the others wait theirs), until Redis does not take one: the
        recovery sweep queues the rest.
        """
        where, selector = await self._bulk_scope(request)
        async with self.db.reader() as session:
            upper = await ConflictRepository(session).newest_id(self.tenant_id)
            by = await _actor(session, self.tenant_id, token_id)
        resolved, after_id, queueing = 0, 0, True
        while True:
            decided, last_id = await self._bulk_batch(request, where, selector, by, after_id, upper)
            queueing = queueing and await self._queue_applies(decided)
            resolved += len(decided)
            if last_id is None:
                log.info("conflict.bulk_resolved", count=resolved, resolution=request.resolution.value)
                return resolved
            after_id = last_id

    async def _queue_applies(self, decided: Sequence[Conflict]) -> bool:
        """Hand the committed decisions' connectors the turns they have free (queue.take_apply_turns): a connector's
        other decisions wait their turn, so a bulk of 50,000 queues a few and stays fast. False as soon as Redis did
        not take one: the recovery sweep queues the rest (recover_resolutions), rather than the bulk waiting out
        ENQUEUE_TIMEOUT_SECONDS once per connector on a Redis that does not answer."""
        for connector_id in sorted({row.connector_id for row in decided}):
            if not await take_apply_turns(self.container, connector_id):
                return False
        return True

    async def _bulk_batch(
        self, request: BulkRequest, where: ConflictFilter, selector: DiffSelector, by: str, after_id: int, upper: int
    ) -> tuple[list[Conflict], int | None]:
        """Decide one batch in one transaction: (decided conflicts, the id to continue after, None at the end).

        A bulk by ids is a single batch, its ids checked in it (InvalidInput: the transaction rolls back).
        """
        limit = MAX_IDS if request.ids else BULK_BATCH
        async with self.db.transaction() as session:
            await ConnectorRepository(session).hold_all(self.tenant_id)
            conflicts = ConflictRepository(session)
            resolution = request.resolution
            if request.ids:
                await self._check_ids(conflicts, request.ids, resolution)
            batch = await conflicts.pending_after(
                self.tenant_id, where, after_id=after_id, up_to_id=upper, limit=limit, for_update=True
            )
            # A bulk by ids had its deleted products refused by _check_ids; one by filter leaves them pending.
            gone = (
                {}
                if request.ids
                else await self._undecidable_products(conflicts, [row.id for row in batch], resolution)
            )
            decided: list[Conflict] = []
            events: list[tuple[int | None, dict[str, Any]]] = []
            for row in batch:
                extra = None if row.id in gone else await self._decide_part(session, row, selector, resolution, by)
                if extra is not None:
                    decided.append(row)
                    events.append((row.connector_id, _resolved(row, bulk=True, **extra)))
            await EventRepository(session).record_all(self.tenant_id, RESOLVED, events)
        more = not request.ids and len(batch) == limit
        return decided, batch[-1].id if more else None

    async def _decide_part(
        self, session: AsyncSession, row: Conflict, selector: DiffSelector, resolution: Resolution, by: str
    ) -> dict[str, int] | None:
        """Decide what the rule reaches of `row`; None when it reaches nothing, else what its event adds (the id of
        the conflict left PENDING with the rest, when it was split)."""
        chosen, rest = split_fields(row.fields, selector) if selector.narrows else (row.fields, [])
        if selector.narrows and not chosen:
            return None  # a rule naming no field or locale takes the conflict whole, a vanished product's (no fields)
        if rest:
            row.fields = chosen
        _decide(row, stored_resolution(resolution), status_for(resolution, overridden=False), by)
        if not rest:
            return {}
        conflicts = ConflictRepository(session)
        await conflicts.flush()  # the partial unique index allows one PENDING per product: resolve first
        remainder = _remainder(row, rest)
        conflicts.add(remainder)
        await conflicts.flush()
        return {"remainder": remainder.id}

    async def _bulk_scope(self, request: BulkRequest) -> tuple[ConflictFilter, DiffSelector]:
        """Check the bulk's ids and filter (userErrors, nothing changed) and turn them into SQL and JSON criteria."""
        given = request.filter or BulkFilter()
        if not request.ids and given.empty:
            raise _failed(("filter",), "give ids or a filter: resolving every conflict at once is not allowed")
        if request.ids and len(request.ids) > MAX_IDS:
            # The cap counts repeats too: each one would be checked, and reported, on its own.
            message = f"at most {MAX_IDS} ids per call: use a filter"
            raise InvalidInput([UserErrorItem(("ids",), message, ErrorCode.BATCH_TOO_LARGE)])
        ids = tuple(dict.fromkeys(request.ids)) if request.ids else None
        connector_id = await self._filter_connector(given.connector_code)
        selector = DiffSelector(field=given.field, pim_locale=self._filter_locale(given.pim_locale))
        where = ConflictFilter(connector_id=connector_id, product_sku=given.product_sku, ids=ids)
        return where, selector

    async def _check_ids(self, conflicts: ConflictRepository, ids: Sequence[int], resolution: Resolution) -> None:
        """Every id must be a PENDING conflict of this tenant, and, unless the bulk dismisses, one of a product
        still in the catalog; errors point at the position of each other one.

        Their rows stay locked until the transaction ends, so what was checked is what gets decided.
        """
        statuses = await conflicts.statuses(self.tenant_id, set(ids), for_update=True)
        problems = _undecidable(ids, statuses)
        pending = [pk for pk in ids if statuses.get(pk) == ResolutionStatus.PENDING]
        gone = await self._undecidable_products(conflicts, pending, resolution)
        problems += [_refusal(("ids", index), deleted_product(gone[pk])) for index, pk in enumerate(ids) if pk in gone]
        if problems:
            raise InvalidInput(sorted(problems, key=lambda problem: problem.path))

    async def _undecidable_products(
        self, conflicts: ConflictRepository, ids: Sequence[int], resolution: Resolution
    ) -> dict[int, str]:
        """Those of `ids` a bulk with `resolution` must leave alone, with their SKU: their product was deleted from
        the catalog since, and the choice would export or import for it (only DISMISSED writes nothing)."""
        if resolution is Resolution.DISMISSED or not ids:
            return {}
        return await conflicts.of_deleted_products(self.tenant_id, ids)

    async def _filter_connector(self, code: str | None) -> int | None:
        if code is None:
            return None
        try:
            return await self._connector_id(code)
        except NotFound as exc:
            raise InvalidInput(
                [UserErrorItem(("filter", "connectorCode"), exc.message, ErrorCode.CONNECTOR_NOT_FOUND)]
            ) from None

    @staticmethod
    def _filter_locale(code: str | None) -> str | None:
        if code is None:
            return None
        try:
            return canonical_locale(code)
        except InvalidLocaleCode as exc:
            raise InvalidInput([UserErrorItem(("filter", "pimLocale"), str(exc), ErrorCode.INVALID_LOCALE)]) from None


RESOLVED = "conflict.resolved"


def _resolved(row: Conflict, **extra: Any) -> dict[str, Any]:
    """The payload of a decision's event."""
    return {
        "conflict": row.id,
        "sku": row.product_sku,
        "status": row.resolution_status,
        "by": row.resolved_by,
        **extra,
    }


def _concerns(item: notify.Detected, connector_code: str | None) -> bool:
    return connector_code is None or item.connector_code == connector_code
