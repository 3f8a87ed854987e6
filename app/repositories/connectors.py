"""Connectors (the sales-channel accounts a tenant syncs to) and their field mappings."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Connector, FieldMapping, SyncJob
from app.domain.connectors import ConnectorStatus, schedule_due
from app.domain.sync import ACTIVE_STATUSES
from app.domain.transformations import template_attributes
from app.repositories.keys import text_is


@dataclass(frozen=True, slots=True)
class ConnectorFilter:
    channel_type: str | None = None
    status: str | None = None


class ConnectorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_ids(self, tenant_id: int, ids: Collection[int]) -> dict[int, Connector]:
        statement = select(Connector).where(Connector.tenant_id == tenant_id, Connector.id.in_(ids))
        return {row.id: row for row in await self.session.scalars(statement)}

    async def hold(self, connector_id: int | None) -> bool:
        """Share-lock the connector's row until the transaction ends; False when the connector is gone (None: the
        job or chunk that named it is gone already).

        A transaction that writes a connector's jobs, listings or conflicts takes
        this first. Deleting a connector locks its row and then, by cascade,
        those rows; a writer that locked some of them first and then needed the
        connector row (for the foreign keys of what it inserts, or to update it)
        made a cycle, which PostgreSQL breaks by aborting one side. With this
        lock taken first, the writer waits for a delete, or the delete for it.
        FOR KEY SHARE does not stand in the way of updates to the connector's
        other columns. (SQLite runs one writer at a time and ignores it.)
        """
        if connector_id is None:
            return False
        statement = select(Connector.id).where(Connector.id == connector_id).with_for_update(read=True, key_share=True)
        return await self.session.scalar(statement) is not None

    async def hand_out_turns(self, connector_id: int) -> str | None:
        """Lock the connector's row against another transaction handing out its turns on the queue at the same time
        (conflicts.queue.take_apply_turns), so two count the free turns one after the other; its status, None when
        it is gone. FOR NO KEY UPDATE: `hold`'s share locks are not in its way, nor it in theirs."""
        statement = select(Connector.status).where(Connector.id == connector_id).with_for_update(key_share=True)
        return await self.session.scalar(statement)

    async def hold_all(self, tenant_id: int) -> None:
        """`hold` every connector of the tenant, in id order: for a write that may reach any of them."""
        statement = (
            select(Connector.id)
            .where(Connector.tenant_id == tenant_id)
            .order_by(Connector.id)
            .with_for_update(read=True, key_share=True)
        )
        await self.session.execute(statement)

    async def by_code(self, tenant_id: int, code: str, *, for_update: bool = False) -> Connector | None:
        statement = select(Connector).where(Connector.tenant_id == tenant_id, text_is(Connector.code, code))
        if for_update:
            statement = statement.with_for_update()
        return await self.session.scalar(statement)

    def _filtered(self, tenant_id: int, where: ConnectorFilter) -> Select[Any]:
        statement = select(Connector).where(Connector.tenant_id == tenant_id)
        if where.channel_type is not None:
            statement = statement.where(Connector.channel_type == where.channel_type)
        if where.status is not None:
            statement = statement.where(Connector.status == where.status)
        return statement

    async def page(
        self, tenant_id: int, where: ConnectorFilter, *, after_id: int | None, limit: int
    ) -> list[Connector]:
        statement = self._filtered(tenant_id, where)
        if after_id is not None:
            statement = statement.where(Connector.id > after_id)
        return list(await self.session.scalars(statement.order_by(Connector.id).limit(limit)))

    async def count(self, tenant_id: int, where: ConnectorFilter) -> int:
        subquery = self._filtered(tenant_id, where).with_only_columns(Connector.id).subquery()
        return int(await self.session.scalar(select(func.count()).select_from(subquery)) or 0)

    async def all_ids(self, *, after_id: int, limit: int) -> list[tuple[int, str]]:
        """(id, encrypted credentials) of every tenant's connectors, in id order: for key rotation."""
        statement = (
            select(Connector.id, Connector.credentials_encrypted)
            .where(Connector.id > after_id)
            .order_by(Connector.id)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in await self.session.execute(statement)]

    async def sealed_credentials(self, connector_id: int) -> str | None:
        """The connector's encrypted credentials as committed now; None when the connector is gone."""
        statement = select(Connector.credentials_encrypted).where(Connector.id == connector_id)
        return await self.session.scalar(statement)

    async def replace_credentials(self, connector_id: int, *, old: str, new: str) -> bool:
        """Write `new` only over `old`: False when the credentials changed since `old` was read (or the connector
        is gone). On PostgreSQL the condition is checked again on the row once a concurrent writer commits."""
        result = await self.session.execute(
            update(Connector)
            .where(Connector.id == connector_id, Connector.credentials_encrypted == old)
            .values(credentials_encrypted=new)
            .returning(Connector.id)
        )
        return result.scalar_one_or_none() is not None

    async def bump_mappings_version(self, tenant_id: int, connector_ids: Collection[int]) -> None:
        """Their next incremental sync re-exports everything: what the mappings produce changed."""
        if connector_ids:
            await self.session.execute(
                update(Connector)
                .where(Connector.tenant_id == tenant_id, Connector.id.in_(connector_ids))
                .values(mappings_version=Connector.mappings_version + 1)
            )

    async def of_tenant(self, tenant_id: int) -> list[Connector]:
        """Every connector of the tenant, in id order: for checks that any of them may fail (a catalog change)."""
        statement = select(Connector).where(Connector.tenant_id == tenant_id).order_by(Connector.id)
        return list(await self.session.scalars(statement))

    async def by_id(self, tenant_id: int, connector_id: int, *, for_update: bool = False) -> Connector | None:
        statement = select(Connector).where(Connector.tenant_id == tenant_id, Connector.id == connector_id)
        if for_update:
            statement = statement.with_for_update()
        return await self.session.scalar(statement)

    async def due_for_schedule(self, now: datetime) -> list[Connector]:
        """Connected connectors whose scheduled sync is due (connectors.schedule_due) and that have no active job:
        one whose job is still running is due again at the first check after it ends."""
        active = select(SyncJob.id).where(
            SyncJob.connector_id == Connector.id, SyncJob.status.in_([status.value for status in ACTIVE_STATUSES])
        )
        statement = (
            select(Connector)
            .where(
                Connector.sync_interval_minutes.is_not(None),
                Connector.status == ConnectorStatus.CONNECTED.value,
                ~active.exists(),
            )
            .order_by(Connector.id)
        )
        return [
            row
            for row in await self.session.scalars(statement)
            if schedule_due(row.last_scheduled_at, row.sync_interval_minutes or 0, now)
        ]

    def add(self, connector: Connector) -> None:
        self.session.add(connector)

    async def delete(self, connector: Connector) -> None:
        await self.session.delete(connector)

    async def flush(self) -> None:
        await self.session.flush()


class MappingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_connectors(self, tenant_id: int, connector_ids: Collection[int]) -> list[FieldMapping]:
        statement = (
            select(FieldMapping)
            .where(FieldMapping.tenant_id == tenant_id, FieldMapping.connector_id.in_(connector_ids))
            .order_by(FieldMapping.connector_id, FieldMapping.position)
        )
        return list(await self.session.scalars(statement))

    async def replace(self, tenant_id: int, connector_id: int, mappings: Sequence[FieldMapping]) -> None:
        await self.session.execute(
            delete(FieldMapping).where(FieldMapping.tenant_id == tenant_id, FieldMapping.connector_id == connector_id)
        )
        self.session.add_all(mappings)
        await self.session.flush()

    async def with_locale_mapping(self, tenant_id: int) -> list[FieldMapping]:
        """The tenant's mappings that name PIM locales of their own (a per-field locale mapping)."""
        statement = (
            select(FieldMapping)
            .where(FieldMapping.tenant_id == tenant_id, FieldMapping.locale_mapping.is_not(None))
            .order_by(FieldMapping.connector_id, FieldMapping.position)
        )
        return list(await self.session.scalars(statement))

    async def connectors_using(self, tenant_id: int, attributes: Mapping[int, str]) -> set[int]:
        """Connectors with a mapping that reads one of `attributes` (id -> code): maps it, or names it in a template.

        Templates name attributes by code inside the transformation JSON, which no portable SQL searches, so the
        tenant's transformed mappings are read and their templates parsed here.
        """
        direct = select(FieldMapping.connector_id).where(
            FieldMapping.tenant_id == tenant_id, FieldMapping.attribute_id.in_(attributes)
        )
        found = set(await self.session.scalars(direct.distinct()))
        transformed = select(FieldMapping.connector_id, FieldMapping.transformation).where(
            FieldMapping.tenant_id == tenant_id, FieldMapping.transformation.is_not(None)
        )
        codes = set(attributes.values())
        for connector_id, transformation in await self.session.execute(transformed):
            if connector_id not in found and not codes.isdisjoint(template_attributes(transformation)):
                found.add(connector_id)
        return found

    async def detach_attributes(self, tenant_id: int, attribute_ids: Collection[int]) -> None:
        """Mark the mappings of deleted attributes broken (the foreign key does the same on delete).

        A mapping whose template names a deleted attribute keeps its own attribute: the template names it by
        code, so it reads as broken for as long as no attribute of that code exists (mappings.deleted_attributes).
        """
        await self.session.execute(
            update(FieldMapping)
            .where(FieldMapping.tenant_id == tenant_id, FieldMapping.attribute_id.in_(attribute_ids))
            .values(attribute_id=None)
        )
