"""Connector and mapping mutations: bad input fills userErrors and changes nothing."""

from __future__ import annotations

from typing import Any

import strawberry

from app.domain.connectors import ConflictStrategy as ConflictStrategyValue
from app.domain.connectors import FallbackPolicy as FallbackPolicyValue
from app.domain.connectors import LocalePair as LocalePairValue
from app.domain.connectors import SyncType as SyncTypeValue
from app.domain.mappings import EmptyValuePolicy as EmptyValuePolicyValue
from app.domain.mappings import MappingDirection as MappingDirectionValue
from app.domain.mappings import MappingDraft
from app.domain.scopes import Scope
from app.services.connectors import ConnectorChanges, ConnectorDraft, ConnectorService
from app.services.mappings import MappingService
from graphql_schema.connectors.types import (
    TAX_CONFIG_DESCRIPTION,
    ConnectorPayload,
    ConnectorType,
    DeletePayload,
    FieldMappingType,
    SaveMappingsPayload,
    TestConnectionPayload,
    TestResult,
)
from graphql_schema.context import Info
from graphql_schema.enums import (
    ChannelType,
    ConflictStrategy,
    EmptyValuePolicy,
    FallbackPolicy,
    MappingDirection,
    SyncType,
)
from graphql_schema.errors import attempt
from graphql_schema.relay import global_id
from graphql_schema.scalars import JSON


@strawberry.input
class LocalePairInput:
    pim_locale: str
    channel_locale: str

    def to_value(self) -> LocalePairValue:
        return LocalePairValue(self.pim_locale, self.channel_locale)


@strawberry.input
class ConnectorSettingsInput:
    scope: str | None = strawberry.UNSET
    locale_mapping: list[LocalePairInput] | None = strawberry.UNSET
    default_sync_type: SyncType | None = strawberry.UNSET  # type: ignore[valid-type]
    conflict_strategy: ConflictStrategy | None = strawberry.UNSET  # type: ignore[valid-type]
    tax_config: JSON | None = strawberry.field(default=strawberry.UNSET, description=TAX_CONFIG_DESCRIPTION)
    currency: str | None = strawberry.UNSET
    sync_interval_minutes: int | None = strawberry.UNSET
    fallback_policy: FallbackPolicy | None = strawberry.UNSET  # type: ignore[valid-type]
    hold_incomplete_locales: bool | None = strawberry.UNSET
    requests_per_second: float | None = strawberry.field(
        default=strawberry.UNSET,
        description=(
            "This connector's own cap on requests per second; null: the channel type's default pace. On Shopify, "
            "which meters query cost points (each answer's throttleStatus), it caps requests on top of the shop's "
            "points bucket, and no answer raises it."
        ),
    )

    def to_changes(self) -> dict[str, Any]:
        """Only the settings given (null included, to clear one); absent ones stay as they are."""
        given: dict[str, Any] = {
            "scope": self.scope,
            "localeMapping": self.locale_mapping,
            "defaultSyncType": self.default_sync_type,
            "conflictStrategy": self.conflict_strategy,
            "taxConfig": self.tax_config,
            "currency": self.currency,
            "syncIntervalMinutes": self.sync_interval_minutes,
            "fallbackPolicy": self.fallback_policy,
            "holdIncompleteLocales": self.hold_incomplete_locales,
            "requestsPerSecond": self.requests_per_second,
        }
        changes = {name: value for name, value in given.items() if value is not strawberry.UNSET}
        if isinstance(self.locale_mapping, list):
            changes["localeMapping"] = [pair.to_value() for pair in self.locale_mapping]
        if self.default_sync_type:
            changes["defaultSyncType"] = SyncTypeValue(self.default_sync_type)
        if self.conflict_strategy:
            changes["conflictStrategy"] = ConflictStrategyValue(self.conflict_strategy)
        if self.fallback_policy:
            changes["fallbackPolicy"] = FallbackPolicyValue(self.fallback_policy)
        return changes


@strawberry.input
class CreateConnectorInput:
    code: str
    name: str
    channel_type: ChannelType  # type: ignore[valid-type]
    credentials: JSON = strawberry.field(
        description="Channel specific, validated against credentialsSchema; stored encrypted."
    )
    settings: ConnectorSettingsInput | None = None


@strawberry.input
class UpdateConnectorInput:
    name: str | None = None
    credentials: JSON | None = strawberry.field(
        default=None,
        description="The whole credentials object, validated against credentialsSchema like createConnector's: it "
        "replaces the stored credentials whole (a key left out, such as an optional apiKey or webhookSecret, is "
        "removed, not kept) and the connection is tested again. Absent or null: the stored credentials stay.",
    )
    settings: ConnectorSettingsInput | None = None


@strawberry.input
class FieldMappingInput:
    attribute_code: str
    channel_field: str
    direction: MappingDirection  # type: ignore[valid-type]
    transformation: JSON | None = None
    locale_mapping: list[LocalePairInput] | None = None
    when_empty: EmptyValuePolicy | None = strawberry.field(default=None, description="Default CLEAR.")  # type: ignore[valid-type]

    def to_draft(self) -> MappingDraft:
        return MappingDraft(
            attribute_code=self.attribute_code,
            channel_field=self.channel_field,
            direction=MappingDirectionValue(self.direction),
            transformation=self.transformation,
            locale_mapping=None if self.locale_mapping is None else tuple(p.to_value() for p in self.locale_mapping),
            when_empty=EmptyValuePolicyValue(self.when_empty) if self.when_empty else EmptyValuePolicyValue.CLEAR,
        )


def _connectors(info: Info) -> ConnectorService:
    return ConnectorService(info.context.container, info.context.tenant_id)


async def _kept_mappings(info: Info, service: MappingService, connector_code: str) -> list[FieldMappingType]:
    """What a refused saveMappings leaves stored, the connector's set unchanged: an empty list read as if the save
    had removed every mapping. Shown only to a token that may view mappings (the edit scope alone shows none)."""
    if not info.context.allows(Scope.MAPPINGS_VIEW):
        return []
    stored = await service.stored(connector_code)
    if stored is None:
        return []
    connector, rows = stored
    return FieldMappingType.from_rows(rows, await info.context.loaders.spec(), connector)


@strawberry.type
class ConnectorMutation:
    @strawberry.mutation(description="Create a connector; its connection is tested and the result returned.")
    async def create_connector(self, info: Info, input: CreateConnectorInput) -> ConnectorPayload:
        draft = ConnectorDraft(
            code=input.code,
            name=input.name,
            channel_type=str(getattr(input.channel_type, "value", input.channel_type)),
            credentials=input.credentials,
            settings=input.settings.to_changes() if input.settings else {},
        )
        result = await attempt(info, Scope.CONNECTORS_CREATE, lambda: _connectors(info).create(draft))
        if result.value is None:
            return ConnectorPayload(connector=None, test_result=None, user_errors=result.errors)
        row, outcome = result.value
        return ConnectorPayload(
            connector=ConnectorType.from_row(row), test_result=TestResult.from_outcome(outcome), user_errors=[]
        )

    @strawberry.mutation(description="Change a connector; only what is given changes. New credentials are tested.")
    async def update_connector(self, info: Info, code: str, input: UpdateConnectorInput) -> ConnectorPayload:
        changes = ConnectorChanges(
            name=input.name,
            credentials=input.credentials,
            settings=input.settings.to_changes() if input.settings else {},
        )
        result = await attempt(info, Scope.CONNECTORS_EDIT, lambda: _connectors(info).update(code, changes))
        if result.value is None:
            return ConnectorPayload(connector=None, test_result=None, user_errors=result.errors)
        row, outcome = result.value
        test = None if outcome is None else TestResult.from_outcome(outcome)
        return ConnectorPayload(connector=ConnectorType.from_row(row), test_result=test, user_errors=[])

    @strawberry.mutation
    async def delete_connector(self, info: Info, code: str) -> DeletePayload:
        result = await attempt(info, Scope.CONNECTORS_DELETE, lambda: _connectors(info).delete(code))
        if result.value is None:
            return DeletePayload(deleted_id=None, user_errors=result.errors)
        return DeletePayload(deleted_id=global_id("Connector", result.value.id), user_errors=[])

    @strawberry.mutation
    async def test_connection(self, info: Info, code: str) -> TestConnectionPayload:
        result = await attempt(info, Scope.CONNECTORS_EDIT, lambda: _connectors(info).test(code))
        if result.value is None:
            return TestConnectionPayload(test_result=None, user_errors=result.errors)
        return TestConnectionPayload(test_result=TestResult.from_outcome(result.value[1]), user_errors=[])

    @strawberry.mutation(description="Stop syncing to this connector until it is resumed.")
    async def pause_connector(self, info: Info, code: str, reason: str | None = None) -> ConnectorPayload:
        result = await attempt(info, Scope.CONNECTORS_EDIT, lambda: _connectors(info).pause(code, reason))
        if result.value is None:
            return ConnectorPayload(connector=None, test_result=None, user_errors=result.errors)
        return ConnectorPayload(connector=ConnectorType.from_row(result.value), test_result=None, user_errors=[])

    @strawberry.mutation(description="Test the connection again; the connector's status becomes what the test finds.")
    async def resume_connector(self, info: Info, code: str) -> ConnectorPayload:
        result = await attempt(info, Scope.CONNECTORS_EDIT, lambda: _connectors(info).resume(code))
        if result.value is None:
            return ConnectorPayload(connector=None, test_result=None, user_errors=result.errors)
        row, outcome = result.value
        return ConnectorPayload(
            connector=ConnectorType.from_row(row), test_result=TestResult.from_outcome(outcome), user_errors=[]
        )

    @strawberry.mutation(description="Replaces the connector's whole mapping set, atomically.")
    async def save_mappings(
        self, info: Info, connector_code: str, mappings: list[FieldMappingInput]
    ) -> SaveMappingsPayload:
        drafts = [mapping.to_draft() for mapping in mappings]
        service = MappingService(info.context.container, info.context.tenant_id)

        async def save() -> list[FieldMappingType]:
            rows = await service.save(connector_code, drafts)
            catalog = await info.context.loaders.spec()
            connector = await _connectors(info).existing(connector_code)
            return FieldMappingType.from_rows(rows, catalog, connector)

        result = await attempt(info, Scope.MAPPINGS_EDIT, save)
        if result.value is not None:
            return SaveMappingsPayload(mappings=result.value, user_errors=[])
        return SaveMappingsPayload(
            mappings=await _kept_mappings(info, service, connector_code), user_errors=result.errors
        )
