"""Conflicts: every query the conflict API, its loaders and bulk resolution need, tenant-scoped."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, delete, func, not_, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Conflict, Connector, Product
from app.domain.conflicts import ResolutionStatus
from app.domain.connectors import ConnectorStatus
from app.domain.storable import cut_marked
from app.repositories.keys import text_is
from app.repositories.pages import count_per_owner, newest_per_owner

RESOLVED_BY_LENGTH = Conflict.resolved_by.type.length or 200


def fit_resolved_by(text: str) -> str:
    """`text` cut to what `resolved_by` holds, marked as cut: a long reason or token name must not fail the write
    that records who or what decided (PostgreSQL refuses a longer value; SQLite would keep it whole)."""
    return cut_marked(text, RESOLVED_BY_LENGTH)


@dataclass(frozen=True, slots=True)
class ConflictFilter:
    """What a conflict list narrows to; None leaves a criterion out."""

    connector_id: int | None = None
    resolution_status: str | None = None
    product_sku: str | None = None
    ids: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class DecisionKey:
    """Where a walk of the decided conflicts, oldest decision first, has got to: the last one's time and id."""

    resolved_at: datetime
    id: int


SERVICE_DECIDED_BY = ("strategy", "sync:")
"""`resolved_by` of a decision the service made itself: the connector's strategy ("strategy"), or a sync that found
the conflict settled ("sync: <why>"). Any other is a person's ("token:<name>")."""


class ConflictRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, conflict: Conflict) -> None:
        self.session.add(conflict)

    async def flush(self) -> None:
        await self.session.flush()

    async def get(self, tenant_id: int, conflict_id: int, *, for_update: bool = False) -> Conflict | None:
        statement = select(Conflict).where(Conflict.tenant_id == tenant_id, Conflict.id == conflict_id)
        if for_update:
            statement = statement.with_for_update()
        return await self.session.scalar(statement)

    async def connector_of(self, tenant_id: int, conflict_id: int) -> int | None:
        """The conflict's connector, read without locking: to hold it before the conflict."""
        statement = select(Conflict.connector_id).where(Conflict.tenant_id == tenant_id, Conflict.id == conflict_id)
        return await self.session.scalar(statement)

    async def statuses(self, tenant_id: int, ids: Collection[int], *, for_update: bool = False) -> dict[int, str]:
        """The resolution status of each of `ids` that is this tenant's conflict, by id (locked in id order)."""
        statement = select(Conflict.id, Conflict.resolution_status).where(
            Conflict.tenant_id == tenant_id, Conflict.id.in_(ids)
        )
        if for_update:
            statement = statement.order_by(Conflict.id).with_for_update()
        return {pk: status for pk, status in await self.session.execute(statement)}

    async def of_deleted_products(self, tenant_id: int, ids: Collection[int]) -> dict[int, str]:
        """Those of `ids` whose product was deleted from the catalog since (a tombstone is kept), with its SKU:
        nothing is left to export, nor to take the channel's values into."""
        statement = (
            select(Conflict.id, Conflict.product_sku)
            .join(Product, Product.id == Conflict.product_id)
            .where(Conflict.tenant_id == tenant_id, Conflict.id.in_(ids), Product.deleted_at.is_not(None))
        )
        return {pk: sku for pk, sku in await self.session.execute(statement)}

    def _filtered(self, tenant_id: int, where: ConflictFilter) -> Select[Any]:
        statement = select(Conflict).where(Conflict.tenant_id == tenant_id)
        if where.connector_id is not None:
            statement = statement.where(Conflict.connector_id == where.connector_id)
        if where.resolution_status is not None:
            statement = statement.where(Conflict.resolution_status == where.resolution_status)
        if where.product_sku is not None:
            statement = statement.where(text_is(Conflict.product_sku, where.product_sku))
        if where.ids is not None:
            statement = statement.where(Conflict.id.in_(where.ids))
        return statement

    async def page(self, tenant_id: int, where: ConflictFilter, *, before_id: int | None, limit: int) -> list[Conflict]:
        """Newest first: the latest detections are the ones a person looks at."""
        statement = self._filtered(tenant_id, where)
        if before_id is not None:
            statement = statement.where(Conflict.id < before_id)
        return list(await self.session.scalars(statement.order_by(Conflict.id.desc()).limit(limit)))

    async def count(self, tenant_id: int, where: ConflictFilter) -> int:
        subquery = self._filtered(tenant_id, where).with_only_columns(Conflict.id).subquery()
        return int(await self.session.scalar(select(func.count()).select_from(subquery)) or 0)

    async def pages_of(
        self,
        tenant_id: int,
        where: ConflictFilter,
        connector_ids: Collection[int],
        *,
        before_id: int | None,
        limit: int,
    ) -> dict[int, list[Conflict]]:
        """`page` for each of several connectors (`where` names none), in one query."""
        statement = self._filtered(tenant_id, where)
        return await newest_per_owner(
            self.session,
            Conflict,
            statement,
            Conflict.id,
            Conflict.connector_id,
            connector_ids,
            before_id=before_id,
            limit=limit,
        )

    async def counts_of(self, tenant_id: int, where: ConflictFilter, connector_ids: Collection[int]) -> dict[int, int]:
        """`count` for each of several connectors (`where` names none), in one query."""
        statement = self._filtered(tenant_id, where)
        return await count_per_owner(self.session, statement, Conflict.connector_id, connector_ids)

    async def pending_counts(self, tenant_id: int, connector_ids: Collection[int]) -> dict[int, int]:
        """PENDING conflicts per connector, in one grouped query (connectors without any are absent)."""
        statement = (
            select(Conflict.connector_id, func.count())
            .where(
                Conflict.tenant_id == tenant_id,
                Conflict.connector_id.in_(connector_ids),
                Conflict.resolution_status == ResolutionStatus.PENDING.value,
            )
            .group_by(Conflict.connector_id)
        )
        return {connector_id: int(count) for connector_id, count in await self.session.execute(statement)}

    async def newest_id(self, tenant_id: int) -> int:
        """The highest conflict id of the tenant (0 when none): bounds a bulk to what existed when it began."""
        statement = select(func.max(Conflict.id)).where(Conflict.tenant_id == tenant_id)
        return int(await self.session.scalar(statement) or 0)

    async def pending_after(
        self,
        tenant_id: int,
        where: ConflictFilter,
        *,
        after_id: int,
        up_to_id: int,
        limit: int,
        for_update: bool = False,
    ) -> list[Conflict]:
        """The next keyset batch of PENDING conflicts matching `where`, oldest first: a bulk never loads them all.

        Criteria SQL cannot see portably (a field or locale inside the `fields`
        JSON, which SQLite and PostgreSQL query differently) are applied by
        the caller to each batch.
        """
        pending = ConflictFilter(
            connector_id=where.connector_id,
            resolution_status=ResolutionStatus.PENDING.value,
            product_sku=where.product_sku,
            ids=where.ids,
        )
        statement = self._filtered(tenant_id, pending).where(Conflict.id > after_id, Conflict.id <= up_to_id)
        statement = statement.order_by(Conflict.id).limit(limit)
        if for_update:
            statement = statement.with_for_update()
        return list(await self.session.scalars(statement))

    # -- for the workers that carry resolutions out (a task names a conflict id, not a tenant) ----------

    async def get_any(self, conflict_id: int, *, for_update: bool = False) -> Conflict | None:
        statement = select(Conflict).where(Conflict.id == conflict_id)
        if for_update:
            statement = statement.with_for_update()
        return await self.session.scalar(statement)

    async def queued_unapplied(
        self, queued_before: datetime, *, after: tuple[datetime, int] | None = None, limit: int
    ) -> list[Conflict]:
        """Decided by a person, neither applied nor given up on, holding a turn on the queue since before
        `queued_before`, on a connector that is not paused or in ERROR (resumeConnector queues those: `queued_of`),
        oldest turn first after `after` (turn time, id). Resolutions waiting their turn are not among them: turns
        are handed out (`waiting_for_turns`)."""
        statement = (
            _unapplied()
            .join(Connector, Connector.id == Conflict.connector_id)
            .where(
                Conflict.apply_queued_at < queued_before,
                Connector.status.not_in([ConnectorStatus.PAUSED.value, ConnectorStatus.ERROR.value]),
            )
        )
        if after is not None:
            statement = statement.where(tuple_(Conflict.apply_queued_at, Conflict.id) > tuple_(*after))
        statement = statement.order_by(Conflict.apply_queued_at, Conflict.id).limit(limit)
        return list(await self.session.scalars(statement))

    async def requeued(self, ids: Sequence[int], now: datetime) -> None:
        """Record these resolutions holding a turn, not yet carried out, as queued at `now`: their message was just
        sent again."""
        if ids:
            await self.session.execute(
                update(Conflict)
                .where(Conflict.id.in_(ids), *_UNAPPLIED, Conflict.apply_queued_at.is_not(None))
                .values(apply_queued_at=now)
                .execution_options(synchronize_session=False)
            )

    async def applies_holding_turns(self, connector_id: int) -> int:
        """The connector's resolutions queued or being carried out: each holds one of its turns."""
        statement = select(func.count()).where(
            Conflict.connector_id == connector_id, *_UNAPPLIED, Conflict.apply_queued_at.is_not(None)
        )
        return int(await self.session.scalar(statement) or 0)

    async def take_apply_turns(self, connector_id: int, count: int, now: datetime) -> list[tuple[int, datetime]]:
        """Mark the connector's first `count` resolutions waiting their turn (oldest decision first) queued at `now`;
        their ids and resolution times. The caller holds the connector's row (ConnectorRepository.hand_out_turns)."""
        waiting = (
            select(Conflict.id)
            .where(Conflict.connector_id == connector_id, *_UNAPPLIED, Conflict.apply_queued_at.is_(None))
            .order_by(Conflict.resolved_at, Conflict.id)
            .limit(count)
        )
        statement = (
            update(Conflict)
            .where(Conflict.id.in_(waiting.scalar_subquery()), Conflict.apply_queued_at.is_(None))
            .values(apply_queued_at=now)
            .returning(Conflict.id, Conflict.resolved_at)
            .execution_options(synchronize_session=False)
        )
        taken = [(pk, at) for pk, at in await self.session.execute(statement) if at is not None]  # decided: never None
        return sorted(taken, key=lambda row: (row[1], row[0]))

    async def waiting_for_turns(self, turns: int) -> list[int]:
        """Connectors, not paused nor in ERROR, with resolutions waiting their turn and fewer than `turns` queued or
        being carried out: recovery hands them their next (the earlier ones ended without handing theirs on)."""
        mine = (Conflict.connector_id == Connector.id, *_UNAPPLIED)
        waits = select(Conflict.id).where(*mine, Conflict.apply_queued_at.is_(None)).exists()
        holding = select(func.count()).where(*mine, Conflict.apply_queued_at.is_not(None)).scalar_subquery()
        statement = select(Connector.id).where(
            Connector.status.not_in([ConnectorStatus.PAUSED.value, ConnectorStatus.ERROR.value]),
            waits,
            holding < turns,
        )
        return list(await self.session.scalars(statement.order_by(Connector.id)))

    async def pending_by_product(self, connector_id: int, product_ids: Collection[int]) -> dict[int, Conflict]:
        """The pending conflict (at most one each) of these products on the connector, by product id."""
        statement = select(Conflict).where(
            Conflict.connector_id == connector_id,
            Conflict.product_id.in_(product_ids),
            Conflict.resolution_status == ResolutionStatus.PENDING.value,
        )
        return {row.product_id: row for row in await self.session.scalars(statement)}

    async def queued_of(self, connector_id: int, *, limit: int) -> list[Conflict]:
        """The connector's resolutions holding a turn, neither applied nor given up on, oldest turn first."""
        statement = _unapplied().where(Conflict.connector_id == connector_id, Conflict.apply_queued_at.is_not(None))
        return list(await self.session.scalars(statement.order_by(Conflict.apply_queued_at).limit(limit)))

    async def delete_decided_before(
        self, cutoff: datetime, *, by_the_service: bool, after: DecisionKey | None, limit: int
    ) -> tuple[int, DecisionKey | None]:
        """Delete up to `limit` conflicts decided before `cutoff` (by the service, or by a person) and carried out or
        given up on, oldest decision first after `after`, read through ix_conflicts_decided; returns how many went and
        where the walk got to, for the next call to go on from (the rows it passed over are not read again).

        A PENDING conflict is still to be decided, and a decision not yet carried out is work still to do: neither
        goes."""
        key = tuple_(Conflict.resolved_at, Conflict.id)
        statement = (
            select(Conflict.id, Conflict.resolved_at)
            .where(Conflict.resolution_status != ResolutionStatus.PENDING.value, Conflict.resolved_at < cutoff)
            .where(or_(Conflict.applied_at.is_not(None), Conflict.apply_error.is_not(None)))
            .where(_decided_by_the_service() if by_the_service else not_(_decided_by_the_service()))
            .order_by(Conflict.resolved_at, Conflict.id)
            .limit(limit)
        )
        if after is not None:
            statement = statement.where(key > tuple_(after.resolved_at, after.id))
        rows = list(await self.session.execute(statement))
        if not rows:
            return 0, after
        await self.session.execute(delete(Conflict).where(Conflict.id.in_([row[0] for row in rows])))
        last_id, last_at = rows[-1]
        assert last_at is not None  # resolved_at < cutoff
        return len(rows), DecisionKey(last_at, last_id)


def _decided_by_the_service() -> ColumnElement[bool]:
    by = func.coalesce(Conflict.resolved_by, "")
    strategy, sync = SERVICE_DECIDED_BY
    return or_(by == strategy, by.startswith(sync, autoescape=True))


_UNAPPLIED = (
    Conflict.resolution_status != ResolutionStatus.PENDING.value,
    Conflict.applied_at.is_(None),
    Conflict.apply_error.is_(None),
)
"""Decided, and neither carried out nor given up on (models.UNAPPLIED, the partial indexes' condition)."""


def _unapplied() -> Select[Any]:
    return select(Conflict).where(*_UNAPPLIED)
