"""Attributes: list and upsert, with the rules that keep existing values meaningful."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import utcnow
from app.db.models import Attribute
from app.domain.catalog import AttributeType, is_valid_code
from app.domain.errors import ErrorCode, InvalidInput, UserErrorItem
from app.domain.storable import echoed
from app.repositories.attributes import AttributeRepository
from app.repositories.connectors import ConnectorRepository, MappingRepository
from app.repositories.products import ProductRepository
from app.repositories.tenants import TenantRepository
from app.services.catalog_setup import check_labels, normalise_labels

MAX_ATTRIBUTES_PER_CALL = 1000
REVISION_SLICE = 1000
"""Products given a new revision per UPDATE: PostgreSQL binds at most 32,767 parameters per statement."""


@dataclass(frozen=True, slots=True)
class AttributeInputData:
    code: str
    type: AttributeType
    localizable: bool
    scopable: bool = False
    labels: Any = None
    """None keeps the labels an existing attribute has."""


@dataclass
class AttributeUpsertOutcome:
    attributes: list[Attribute]
    """The upserted attributes, in input order."""
    changed_codes: set[str]
    """The codes of those created or given another type, flag or labels; the others were left as they were."""


def _shape(row: Attribute) -> tuple[str, bool, bool]:
    return row.type, row.localizable, row.scopable


class AttributeService:
    def __init__(self, session: AsyncSession) -> None:
        self.attributes = AttributeRepository(session)
        self.mappings = MappingRepository(session)
        self.connectors = ConnectorRepository(session)
        self.products = ProductRepository(session)
        self.tenants = TenantRepository(session)

    async def list_attributes(self, tenant_id: int) -> list[Attribute]:
        return await self.attributes.list(tenant_id)

    async def upsert(self, tenant_id: int, inputs: Sequence[AttributeInputData]) -> AttributeUpsertOutcome:
        """Create or update attributes, all or nothing.

        Type, localizable and scopable of an attribute that already has values
        cannot change (CAT-011): its values would stop meaning what they meant.
        An input that matches its attribute leaves it untouched and is not
        counted as changed, so re-importing a file says it changed nothing.
        """
        errors = self._check_inputs(inputs)
        existing = await self.attributes.by_codes(tenant_id, [item.code for item in inputs])
        errors += await self._check_shape_changes(tenant_id, inputs, existing)
        if errors:
            raise InvalidInput(errors)
        applied = [self._apply(tenant_id, item, existing.get(item.code)) for item in inputs]
        await self.attributes.flush()
        return AttributeUpsertOutcome([row for row, _ in applied], {row.code for row, changed in applied if changed})

    async def delete(self, tenant_id: int, codes: Sequence[str]) -> list[str]:
        """Delete attributes and their values, all or nothing.

        Products that had values get a new revision (their documents change),
        and mappings that read a deleted attribute (map it, or name it in a
        template) are kept but broken (CHN-061), so the connector shows what
        needs fixing instead of an export silently losing a field. Their
        connectors' mapping sets count as changed, so the next incremental
        sync re-exports every product, not only those that had values.
        """
        if len(codes) > MAX_ATTRIBUTES_PER_CALL:
            message = f"at most {MAX_ATTRIBUTES_PER_CALL} attributes per call"
            raise InvalidInput([UserErrorItem(("codes",), message, ErrorCode.BATCH_TOO_LARGE)])
        existing = await self.attributes.by_codes(tenant_id, list(dict.fromkeys(codes)))
        errors = [
            UserErrorItem(("codes", index), f"attribute '{echoed(code)}' does not exist", ErrorCode.UNKNOWN_ATTRIBUTE)
            for index, code in enumerate(codes)
            if code not in existing
        ]
        if errors:
            raise InvalidInput(errors)
        ids = [row.id for row in existing.values()]
        users = await self.mappings.connectors_using(tenant_id, {row.id: row.code for row in existing.values()})
        await self.connectors.bump_mappings_version(tenant_id, users)
        await self.mappings.detach_attributes(tenant_id, ids)
        touched = await self.products.ids_with_values_of(tenant_id, ids)
        if touched:
            await self._renew_revisions(tenant_id, touched)
        await self.attributes.delete(tenant_id, ids)
        return list(existing)

    async def _renew_revisions(self, tenant_id: int, product_ids: list[int]) -> None:
        """One new revision for all these products, set REVISION_SLICE products per statement."""
        revision, now = await self.tenants.next_revision(tenant_id), utcnow()
        for start in range(0, len(product_ids), REVISION_SLICE):
            await self.products.set_revision(tenant_id, product_ids[start : start + REVISION_SLICE], revision, now)

    def _check_inputs(self, inputs: Sequence[AttributeInputData]) -> list[UserErrorItem]:
        if len(inputs) > MAX_ATTRIBUTES_PER_CALL:
            message = f"at most {MAX_ATTRIBUTES_PER_CALL} attributes per call"
            return [UserErrorItem(("attributes",), message, ErrorCode.BATCH_TOO_LARGE)]
        errors: list[UserErrorItem] = []
        seen: set[str] = set()
        for index, item in enumerate(inputs):
            where = ("attributes", index)
            if not is_valid_code(item.code):
                message = f"'{echoed(item.code)}' is not a valid code (letters, digits and _, at most 100)"
                errors.append(UserErrorItem((*where, "code"), message, ErrorCode.INVALID_CODE))
            elif item.code in seen:
                errors.append(
                    UserErrorItem((*where, "code"), f"{item.code} is listed twice", ErrorCode.DUPLICATE_IN_BATCH)
                )
            seen.add(item.code)
            errors += [error.under(*where) for error in check_labels(item.labels)]
        return errors

    async def _check_shape_changes(
        self, tenant_id: int, inputs: Sequence[AttributeInputData], existing: dict[str, Attribute]
    ) -> list[UserErrorItem]:
        changing = {
            item.code: index
            for index, item in enumerate(inputs)
            if item.code in existing
            and _shape(existing[item.code]) != (item.type.value, item.localizable, item.scopable)
        }
        if not changing:
            return []
        in_use = await self.attributes.with_values(tenant_id, [existing[code].id for code in changing])
        return [
            UserErrorItem(
                ("attributes", index),
                f"{code} already has product values: its type, localizable and scopable cannot change",
                ErrorCode.ATTRIBUTE_IN_USE,
            )
            for code, index in changing.items()
            if existing[code].id in in_use
        ]

    def _apply(self, tenant_id: int, item: AttributeInputData, row: Attribute | None) -> tuple[Attribute, bool]:
        """The attribute as the input says, and whether that changed anything (a new one always has)."""
        if row is None:
            row = Attribute(tenant_id=tenant_id, code=item.code, labels={})
            self.attributes.add(row)
        elif _shape(row) == (item.type.value, item.localizable, item.scopable) and (
            item.labels is None or row.labels == normalise_labels(item.labels)
        ):
            return row, False
        row.type = item.type.value
        row.localizable = item.localizable
        row.scopable = item.scopable
        if item.labels is not None:
            row.labels = normalise_labels(item.labels)
        row.updated_at = utcnow()
        return row, True
