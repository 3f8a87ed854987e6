"""Conflict, its fields and per-locale diffs, as the contract names them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from app.db.models import Conflict
from app.domain.conflicts import ResolutionStatus as ResolutionStatusValue
from app.domain.conflicts import apply_error_without_values
from app.domain.mappings import MappingDirection as MappingDirectionValue
from app.domain.scopes import Scope
from graphql_schema.context import Info
from graphql_schema.enums import MappingDirection, ResolutionStatus
from graphql_schema.errors import UserError
from graphql_schema.relay import Connection, Node, global_id
from graphql_schema.scalars import JSON

if TYPE_CHECKING:
    from graphql_schema.connectors.types import ConnectorType


@strawberry.type(
    description="One locale pair of a conflicting field. Its three values are the product's, so each needs "
    "catalog.view besides conflicts.view (as exportPreview does); the locales do not."
)
class LocaleDiff:
    pim_locale: str | None = strawberry.field(description="null for a field that is not locale specific.")
    channel_locale: str | None
    diff: strawberry.Private[Mapping[str, Any]]

    @strawberry.field(description="What the service last sent and the channel accepted (the common base).")
    def base_value(self, info: Info) -> JSON | None:
        info.context.require(Scope.CATALOG_VIEW)
        return JSON(self.diff.get("baseValue"))

    @strawberry.field
    def pim_value(self, info: Info) -> JSON | None:
        info.context.require(Scope.CATALOG_VIEW)
        return JSON(self.diff.get("pimValue"))

    @strawberry.field
    def channel_value(self, info: Info) -> JSON | None:
        info.context.require(Scope.CATALOG_VIEW)
        return JSON(self.diff.get("channelValue"))

    @classmethod
    def from_json(cls, diff: Mapping[str, Any]) -> LocaleDiff:
        return cls(pim_locale=diff.get("pimLocale"), channel_locale=diff.get("channelLocale"), diff=diff)


@strawberry.type
class ConflictField:
    field: str = strawberry.field(description="Channel field name.")
    attribute_code: str
    is_locale_specific: bool
    direction: MappingDirection | None = strawberry.field(  # type: ignore[valid-type]
        description="The mapping's direction when the conflict was detected: what resolving it may export or import."
    )
    diffs: list[LocaleDiff]

    @classmethod
    def from_json(cls, entry: Mapping[str, Any]) -> ConflictField:
        direction = entry.get("direction")
        return cls(
            field=entry["field"],
            attribute_code=entry.get("attributeCode") or "",
            is_locale_specific=bool(entry.get("isLocaleSpecific")),
            direction=None if direction is None else MappingDirectionValue(direction),
            diffs=[LocaleDiff.from_json(diff) for diff in entry.get("diffs") or ()],
        )


@strawberry.type(name="Conflict")
class ConflictType(Node):
    row: strawberry.Private[Conflict]
    product_sku: str
    conflict_type: str = strawberry.field(description="field_mismatch | deleted_on_channel | missing_on_channel")
    resolution_status: ResolutionStatus  # type: ignore[valid-type]
    fields: list[ConflictField]
    pim_modified_at: datetime | None
    channel_modified_at: datetime | None
    detected_at: datetime
    resolved_at: datetime | None
    version: int = strawberry.field(
        description=(
            "Grows whenever a new detection changes the conflict's values; send it as "
            "ResolveConflictInput.expectedVersion so a changed conflict is never decided blindly (CHN-041)."
        )
    )
    resolved_by: str | None = strawberry.field(
        description='Who decided: "token:<token name>" for a person, "strategy" for the connector\'s strategy.'
    )
    applied_at: datetime | None = strawberry.field(
        description="When a worker carried the decision out (the export or import that follows it)."
    )
    error: strawberry.Private[str | None]
    resolution: JSON | None = strawberry.field(
        description='The decision as stored: {"resolution": ..., "overrides": [{"field", "resolution", "locales"}]}.'
    )

    @strawberry.field(
        description="Why the decision was carried out only in part (values that moved on since: CHN-041) or not at "
        "all. A product the check failed is told with its CHN codes and their messages, which may quote its values: "
        "without catalog.view they read as hidden, as a sync job's errors do."
    )
    def apply_error(self, info: Info) -> str | None:
        return info.context.values_shown(self.error, apply_error_without_values)

    @strawberry.field
    async def connector(
        self, info: Info
    ) -> Annotated[ConnectorType, strawberry.lazy("graphql_schema.connectors.types")]:
        from graphql_schema.connectors.types import connector_of

        return await connector_of(info, self.row.connector_id, f"conflict {self.row.id}")

    @classmethod
    def from_row(cls, row: Conflict) -> ConflictType:
        return cls(
            id=global_id("Conflict", row.id),
            row=row,
            product_sku=row.product_sku,
            conflict_type=row.conflict_type,
            resolution_status=ResolutionStatusValue(row.resolution_status),
            fields=[ConflictField.from_json(entry) for entry in row.fields],
            pim_modified_at=row.pim_modified_at,
            channel_modified_at=row.channel_modified_at,
            detected_at=row.detected_at,
            resolved_at=row.resolved_at,
            version=row.version,
            resolved_by=row.resolved_by,
            applied_at=row.applied_at,
            error=row.apply_error,
            resolution=None if row.resolution is None else JSON(row.resolution),
        )


ConflictConnection = Connection[ConflictType]


@strawberry.type
class ResolveConflictPayload:
    conflict: ConflictType | None
    user_errors: list[UserError]


@strawberry.type
class BulkResolvePayload:
    resolved_count: int = strawberry.field(description="How many conflicts this call decided.")
    user_errors: list[UserError]
