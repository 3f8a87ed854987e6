"""resolveConflict and bulkResolveConflicts: bad input and stale decisions fill userErrors and change nothing."""

from __future__ import annotations

import strawberry

from app.domain.conflict_choices import FieldOverride
from app.domain.conflicts import Resolution as ResolutionValue
from app.domain.errors import ErrorCode, UserErrorItem
from app.domain.scopes import Scope
from app.services.conflicts.service import BulkFilter, BulkRequest, ConflictService, ResolveRequest
from graphql_schema.conflicts.queries import conflict_pk
from graphql_schema.conflicts.types import BulkResolvePayload, ConflictType, ResolveConflictPayload
from graphql_schema.context import Info
from graphql_schema.enums import Resolution
from graphql_schema.errors import attempt, user_errors
from graphql_schema.relay import BadArgument


@strawberry.input
class FieldOverrideInput:
    field: str
    resolution: Resolution  # type: ignore[valid-type]
    locales: list[str] | None = strawberry.field(default=None, description="Only these PIM locales; absent: all.")

    def to_override(self) -> FieldOverride:
        locales = None if self.locales is None else tuple(self.locales)
        return FieldOverride(field=self.field, resolution=ResolutionValue(self.resolution), locales=locales)


@strawberry.input
class ResolveConflictInput:
    resolution: Resolution  # type: ignore[valid-type]
    field_overrides: list[FieldOverrideInput] | None = strawberry.field(
        default=None, description="Per-field (and per-locale) choices; with overrides the result is MERGED."
    )
    expected_version: int | None = strawberry.field(
        default=None,
        description=(
            "The conflict's version as it was shown; if a detection changed it since, nothing is decided (CHN-041). "
            "Absent: no check."
        ),
    )

    def to_request(self) -> ResolveRequest:
        return ResolveRequest(
            resolution=ResolutionValue(self.resolution),
            overrides=tuple(item.to_override() for item in self.field_overrides or ()),
            expected_version=self.expected_version,
        )


@strawberry.input
class ConflictFilterInput:
    connector_code: str | None = None
    product_sku: str | None = None
    field: str | None = strawberry.field(default=None, description="Channel field name.")
    pim_locale: str | None = None

    def to_filter(self) -> BulkFilter:
        return BulkFilter(
            connector_code=self.connector_code,
            product_sku=self.product_sku,
            field=self.field,
            pim_locale=self.pim_locale,
        )


def _bad_id(path: tuple[str | int, ...], error: BadArgument) -> UserErrorItem:
    return UserErrorItem(path, error.message, ErrorCode.CONFLICT_RESOLUTION_FAILED)


def _decode_ids(ids: list[strawberry.ID]) -> tuple[tuple[int, ...], list[UserErrorItem]]:
    decoded: list[int] = []
    problems: list[UserErrorItem] = []
    for index, text in enumerate(ids):
        try:
            decoded.append(conflict_pk(str(text)))
        except BadArgument as exc:
            problems.append(_bad_id(("ids", index), exc))
    return tuple(decoded), problems


@strawberry.type
class ConflictMutation:
    @strawberry.mutation(
        description=(
            "Decide a PENDING conflict; a worker then runs the export or import that follows. "
            "CHN-041 when it was already resolved or changed since `expectedVersion`."
        )
    )
    async def resolve_conflict(
        self, info: Info, id: strawberry.ID, input: ResolveConflictInput
    ) -> ResolveConflictPayload:
        info.context.require(Scope.CONFLICTS_EDIT)
        try:
            pk = conflict_pk(str(id))
        except BadArgument as exc:
            return ResolveConflictPayload(conflict=None, user_errors=user_errors([_bad_id(("id",), exc)]))
        service = ConflictService(info.context.container, info.context.tenant_id)
        request, token_id = input.to_request(), info.context.caller.token_id
        outcome = await attempt(info, Scope.CONFLICTS_EDIT, lambda: service.resolve(pk, request, token_id=token_id))
        conflict = None if outcome.value is None else ConflictType.from_row(outcome.value)
        return ResolveConflictPayload(conflict=conflict, user_errors=outcome.errors)

    @strawberry.mutation(
        description=(
            "Resolve the given conflicts, or every pending one matching the filter "
            "(e.g. all Arabic title conflicts of one connector)."
        )
    )
    async def bulk_resolve_conflicts(
        self,
        info: Info,
        ids: list[strawberry.ID] | None = None,
        filter: ConflictFilterInput | None = None,
        *,
        resolution: Resolution,  # type: ignore[valid-type]
    ) -> BulkResolvePayload:
        info.context.require(Scope.CONFLICTS_EDIT)
        decoded, problems = _decode_ids(ids or [])
        if problems:
            return BulkResolvePayload(resolved_count=0, user_errors=user_errors(problems))
        request = BulkRequest(
            resolution=ResolutionValue(resolution),
            ids=decoded if ids is not None else None,
            filter=None if filter is None else filter.to_filter(),
        )
        service = ConflictService(info.context.container, info.context.tenant_id)
        token_id = info.context.caller.token_id
        outcome = await attempt(info, Scope.CONFLICTS_EDIT, lambda: service.bulk_resolve(request, token_id=token_id))
        return BulkResolvePayload(resolved_count=outcome.value or 0, user_errors=outcome.errors)
