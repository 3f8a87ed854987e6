"""Connector use cases: create, change, test, pause and resume, delete, list.

Connection tests talk to the channel, so they run outside any database
transaction (a SQLite write lock must never wait on a remote shop); each use
case validates first, tests, then writes in one short transaction.
Credentials are sealed before they reach a row and opened only to build an
adapter; no message here ever carries them. After a successful test the
channel's webhooks are registered (connector_webhooks.py), also outside the
transaction, and the test's message says how that went.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError

from app.channels.base import ChannelError, ChannelInfo
from app.channels.factory import AdapterUnavailable, build_adapter
from app.channels.registry import channel_type_spec
from app.container import Container
from app.db.base import utcnow
from app.db.models import Connector, FieldMapping, SyncJob
from app.domain.catalog import CatalogSpec, is_valid_code
from app.domain.channels import ChannelType, ChannelTypeSpec
from app.domain.connectors import (
    SETTING_NAMES,
    ConflictStrategy,
    ConnectorSettings,
    ConnectorStatus,
    FallbackPolicy,
    LocalePair,
    SyncType,
    changes_exports,
    check_settings,
    connector_not_found,
    merge_settings,
)
from app.domain.credentials import check_credentials
from app.domain.errors import ErrorCode, InvalidInput, NotFound, UserErrorItem
from app.domain.mappings import MappingDraft, as_draft, check_mappings
from app.domain.storable import NUL, cut_marked, echoed, holds_nul, nul_refused
from app.repositories.connectors import ConnectorFilter, ConnectorRepository, MappingRepository
from app.repositories.events import EventRepository
from app.repositories.sync_jobs import SyncJobRepository
from app.secrets import CredentialsUnreadable
from app.services.catalog_setup import CatalogSetupService
from app.services.conflicts.queue import queue_waiting_resolutions
from app.services.connector_webhooks import WebhookRegistrationService
from app.services.sync import progress
from app.services.sync.cancel import request_cancel
from app.services.webhook_secrets import reseal
from app.services.webhooks import queue_waiting_deliveries

log = structlog.get_logger(__name__)

MAX_NAME_LENGTH = Connector.name.type.length or 200
MAX_REASON_LENGTH = 1000
"""Characters of a pause reason: a sentence or a few, shown as the connector's statusReason wherever it is."""


@dataclass(frozen=True, slots=True)
class ConnectorDraft:
    code: str
    name: str
    channel_type: str
    credentials: Any
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Contract names (localeMapping, conflictStrategy ...); only the keys given are set."""


@dataclass(frozen=True, slots=True)
class ConnectorChanges:
    """A partial update: None leaves the name or credentials as they are."""

    name: str | None = None
    credentials: Any = None
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TestOutcome:
    success: bool
    message: str
    info: ChannelInfo | None = None
    reachable: bool = True
    """False when this version cannot reach the channel type at all (no adapter yet)."""
    code: ErrorCode | None = None
    """Why the test failed, as a CHN code (CHN-021 unavailable, CHN-003 refused ...); None when it succeeded."""
    for_now: bool = False
    """The channel failed for now (rate limited, unavailable, timed out: CHN-020/021/023) and said nothing of the
    connector: the test changes no status (_record_test)."""


def settings_of(row: Connector) -> ConnectorSettings:
    return ConnectorSettings(
        scope=row.scope,
        locale_mapping=tuple(LocalePair.from_json(pair) for pair in row.locale_mapping),
        default_sync_type=SyncType(row.default_sync_type),
        conflict_strategy=ConflictStrategy(row.conflict_strategy),
        tax_config=row.tax_config,
        currency=row.currency,
        sync_interval_minutes=row.sync_interval_minutes,
        fallback_policy=FallbackPolicy(row.fallback_policy),
        hold_incomplete_locales=row.hold_incomplete_locales,
        requests_per_second=row.requests_per_second,
    )


def draft_of(row: FieldMapping) -> MappingDraft:
    return as_draft(
        {
            "attribute_code": row.attribute_code,
            "channel_field": row.channel_field,
            "direction": row.direction,
            "transformation": row.transformation,
            "locale_mapping": row.locale_mapping,
            "when_empty": row.when_empty,
        }
    )


def _store_settings(row: Connector, settings: ConnectorSettings) -> None:
    row.scope = settings.scope
    row.locale_mapping = [pair.as_json() for pair in settings.locale_mapping]
    row.default_sync_type = settings.default_sync_type.value
    row.conflict_strategy = settings.conflict_strategy.value
    row.tax_config = dict(settings.tax_config) if settings.tax_config is not None else None
    row.currency = settings.currency
    row.sync_interval_minutes = settings.sync_interval_minutes
    row.fallback_policy = settings.fallback_policy.value
    row.hold_incomplete_locales = settings.hold_incomplete_locales
    row.requests_per_second = settings.requests_per_second


def channel_locales_of(row: Connector, spec: ChannelTypeSpec) -> tuple[str, ...] | None:
    """The channel locales known for this connector: from its last connection test, else the channel's spec."""
    if row.supported_locales is not None:
        return tuple(row.supported_locales)
    return spec.supported_locales


def _changed_settings(changes: ConnectorChanges) -> frozenset[str]:
    """The settings (contract names) an update must check: those it gives, and the locale mapping when new
    credentials may reach a store with other locales."""
    changed = {name for name in changes.settings if name in SETTING_NAMES}
    if changes.credentials is not None:
        changed.add("localeMapping")
    return frozenset(changed)


def _with_decided(row: Connector, settings: ConnectorSettings, changed: frozenset[str]) -> ConnectorSettings:
    """The locked row's settings, with those an update decided (`changed`, contract names) taken from `settings`.

    `settings` was merged from the row as read before the connection test, which takes seconds: a setting
    another update changed meanwhile must keep that change, not get the value read before it back."""
    decided = {SETTING_NAMES[name]: getattr(settings, SETTING_NAMES[name]) for name in changed}
    return replace(settings_of(row), **decided)


STORE_NAME_LENGTH = Connector.store_name.type.length or 255
PRIMARY_LOCALE_LENGTH = Connector.primary_locale.type.length or 35


def _shown(said: str | None, length: int) -> str | None:
    """What a shop says of itself, as the connector can hold it: a name is shown, not matched, so one longer than
    its column is cut (marked as cut), and NULs (which PostgreSQL cannot store) are dropped, rather than failing
    the test."""
    return None if said is None else cut_marked(said.replace(NUL, ""), length)


def _status_after(outcome: TestOutcome) -> tuple[ConnectorStatus, str | None]:
    if outcome.success:
        return ConnectorStatus.CONNECTED, None
    if not outcome.reachable:
        return ConnectorStatus.DISCONNECTED, outcome.message
    return ConnectorStatus.ERROR, outcome.message


def _record_test(row: Connector, outcome: TestOutcome, *, new_credentials: bool = False) -> None:
    """The test's findings, and the status they call for. A test the channel failed for now leaves a connector's
    status as it was: DESIGN puts a connector in ERROR for refused credentials or set-up and for jobs failing again
    and again, and a single 503 during a test or a resume (which stopped scheduled syncs until a person resumed the
    connector again) is neither. A connector that never connected stays DISCONNECTED, with the reason; one in ERROR
    given `new_credentials` stays there (nothing says they work) with a reason about them, not about the old ones."""
    row.last_tested_at = utcnow()
    if outcome.info is not None:
        row.store_name = _shown(outcome.info.store_name, STORE_NAME_LENGTH)
        row.supported_locales = list(outcome.info.supported_locales)
        row.primary_locale = _shown(outcome.info.primary_locale, PRIMARY_LOCALE_LENGTH)
    if outcome.for_now:
        if row.status == ConnectorStatus.DISCONNECTED:
            row.status_reason = outcome.message
        elif row.status == ConnectorStatus.ERROR and new_credentials:
            row.status_reason = f"new credentials not checked yet: {outcome.message}"
    elif row.status != ConnectorStatus.PAUSED:
        status, reason = _status_after(outcome)
        row.status, row.status_reason = status.value, reason


def _status_event(session: Any, row: Connector, before: str | None) -> None:
    """connector.connected / .disconnected / .error / .paused, in the transaction that changed the status."""
    if row.status != before:
        EventRepository(session).record(
            row.tenant_id, f"connector.{row.status.lower()}", connector_id=row.id, reason=row.status_reason
        )


def put_in_error(session: Any, row: Connector, reason: str, **context: Any) -> None:
    """ERROR with `reason`, recorded as connector.error: the channel refused the connector's credentials or
    set-up (CHN-003/004), or jobs failed too often in a row (finish.FAILED_JOBS_BEFORE_ERROR), so
    scheduled syncs skip it until resumeConnector. A paused connector stays paused."""
    if row.status != ConnectorStatus.PAUSED:
        row.status, row.status_reason = ConnectorStatus.ERROR.value, reason
        row.updated_at = utcnow()
    EventRepository(session).record(row.tenant_id, "connector.error", connector_id=row.id, reason=reason, **context)


async def credentials_rejected(container: Container, connector_id: int, reason: str) -> None:
    """`put_in_error` for work outside a sync job (a resolution applied, a webhook checked) that met CHN-003/004:
    such a refusal means every later request would fail too, as it does for a job."""
    async with container.db.transaction() as session:
        row = await session.get(Connector, connector_id, with_for_update=True)
        if row is None:
            return
        put_in_error(session, row, reason)
    log.warning("connector.error", connector=row.code, reason=reason)


async def _cancel_active_job(session: Any, row: Connector) -> SyncJob | None:
    """Ask the connector's active job to stop (the caller holds the connector's row); the job, if there was one."""
    jobs = SyncJobRepository(session)
    active = await jobs.active_for(row.id)
    job = await jobs.get_any(active.id, for_update=True) if active is not None else None
    if job is not None:
        await request_cancel(session, job)
    return job


class ConnectorService:
    def __init__(self, container: Container, tenant_id: int) -> None:
        self.container = container
        self.db = container.db
        self.tenant_id = tenant_id

    # -- reads ---------------------------------------------------------------------------------

    async def get(self, code: str) -> Connector:
        async with self.db.reader() as session:
            row = await ConnectorRepository(session).by_code(self.tenant_id, code)
        if row is None:
            raise NotFound(connector_not_found(code))
        return row

    async def existing(self, code: str) -> Connector:
        """The connector a mutation names; a missing one is bad input (a userError), not a fault."""
        try:
            return await self.get(code)
        except NotFound:
            raise InvalidInput([self._not_found(code)]) from None

    async def page(self, where: ConnectorFilter, *, after_id: int | None, limit: int) -> list[Connector]:
        async with self.db.reader() as session:
            return await ConnectorRepository(session).page(self.tenant_id, where, after_id=after_id, limit=limit)

    async def count(self, where: ConnectorFilter) -> int:
        async with self.db.reader() as session:
            return await ConnectorRepository(session).count(self.tenant_id, where)

    async def _catalog(self) -> CatalogSpec:
        async with self.db.reader() as session:
            return await CatalogSetupService(session).spec(self.tenant_id)

    # -- connection tests ------------------------------------------------------------------------

    async def run_test(self, channel_type: ChannelType, credentials: Mapping[str, Any]) -> TestOutcome:
        """Reach the store; any failure becomes a reason a person can act on, never an exception."""
        try:
            adapter = await build_adapter(
                channel_type, credentials, http=self.container.http, settings=self.container.settings
            )
            info = await adapter.test_connection()
        except AdapterUnavailable as exc:
            return TestOutcome(False, str(exc), reachable=False, code=ErrorCode.CONNECTION_TEST_FAILED)
        except ChannelError as exc:
            return TestOutcome(False, exc.summary, code=exc.code, for_now=exc.transient)
        name = info.store_name or "the store"
        locales = ", ".join(info.supported_locales) or "none reported"
        notes = "".join(f". {note}" for note in info.notes)
        return TestOutcome(True, f"Connected to {name} (locales: {locales}){notes}", info)

    async def test(self, code: str, *, resuming: bool = False) -> tuple[Connector, TestOutcome]:
        row = await self.existing(code)
        credentials: Mapping[str, Any] = {}
        try:
            credentials = self.container.vault.open(row.credentials_encrypted)
        except CredentialsUnreadable as exc:
            outcome = TestOutcome(False, str(exc), code=ErrorCode.CONNECTION_TEST_FAILED)
        else:
            outcome = await self.run_test(ChannelType(row.channel_type), credentials)
        saved = await self._save_test(code, outcome, resuming=resuming)
        return saved, await self._register_webhooks(saved, credentials, outcome)

    async def _register_webhooks(
        self, row: Connector, credentials: Mapping[str, Any], outcome: TestOutcome
    ) -> TestOutcome:
        """After a successful test, outside any transaction: the channel's webhooks, told in the test's message."""
        if not outcome.success:
            return outcome
        note = await WebhookRegistrationService(self.container).register(row, credentials)
        return outcome if note is None else replace(outcome, message=f"{outcome.message}. {note}")

    async def _save_test(self, code: str, outcome: TestOutcome, *, resuming: bool) -> Connector:
        async with self.db.transaction() as session:
            row = await self._locked(session, code)
            before = row.status
            if resuming and not outcome.for_now:
                row.status, row.status_reason = ConnectorStatus.DISCONNECTED.value, None  # the test decides
                row.failed_job_streak = 0  # whatever failed was seen to: the next jobs get their full count again
            _record_test(row, outcome)
            row.updated_at = utcnow()
            _status_event(session, row, before)
        log.info("connector.tested", connector=code, success=outcome.success)
        return row

    # -- writes ----------------------------------------------------------------------------------

    async def create(self, draft: ConnectorDraft) -> tuple[Connector, TestOutcome]:
        errors = self._check_header(draft.code, draft.name)
        channel_type = self._channel_type(draft.channel_type, errors)
        if channel_type is None:
            raise InvalidInput(errors)
        spec = channel_type_spec(channel_type)
        errors += check_credentials(spec.credentials_schema, draft.credentials, ("input", "credentials"))
        catalog = await self._catalog()  # read once: the settings are checked before the test and after it
        settings, setting_errors = self._settings_problems(ConnectorSettings(), draft.settings, spec, catalog)
        errors += setting_errors
        if is_valid_code(draft.code):
            errors += await self._code_taken_problems(draft.code)
        if errors:
            raise InvalidInput(errors)
        outcome = await self.run_test(channel_type, draft.credentials)
        locales = outcome.info.supported_locales if outcome.info else spec.supported_locales
        settings = self._checked_settings(settings, spec, locales, catalog)
        row = Connector(
            tenant_id=self.tenant_id,
            code=draft.code,
            name=draft.name.strip(),
            channel_type=channel_type.value,
            status=ConnectorStatus.DISCONNECTED.value,
            credentials_encrypted=self.container.vault.seal(draft.credentials),
        )
        _store_settings(row, settings)
        _record_test(row, outcome)
        try:
            async with self.db.transaction() as session:
                repository = ConnectorRepository(session)
                repository.add(row)
                await repository.flush()
                events = EventRepository(session)
                events.record(self.tenant_id, "connector.created", connector_id=row.id, code=row.code)
                _status_event(session, row, None)
        except IntegrityError:
            raise InvalidInput([self._code_taken(draft.code)]) from None
        log.info("connector.created", connector=draft.code, channel_type=channel_type.value, status=row.status)
        return row, await self._register_webhooks(row, draft.credentials, outcome)

    async def update(self, code: str, changes: ConnectorChanges) -> tuple[Connector, TestOutcome | None]:
        current = await self.existing(code)
        spec = channel_type_spec(ChannelType(current.channel_type))
        errors: list[UserErrorItem] = []
        if changes.name is not None:
            errors += self._check_name(changes.name)
        if changes.credentials is not None:
            errors += check_credentials(spec.credentials_schema, changes.credentials, ("input", "credentials"))
        changed = _changed_settings(changes)
        known = None if changes.credentials is not None else channel_locales_of(current, spec)
        catalog = await self._catalog()  # read once: the settings are checked before the test and after it
        settings, setting_errors = self._settings_problems(
            settings_of(current), changes.settings, spec, catalog, known, changed=changed
        )
        errors += setting_errors
        if errors:
            raise InvalidInput(errors)
        outcome = None
        locales = channel_locales_of(current, spec)
        if changes.credentials is not None:
            outcome = await self.run_test(ChannelType(current.channel_type), changes.credentials)
            locales = outcome.info.supported_locales if outcome.info else locales
        if changed:
            settings = self._checked_changes(settings, changed, spec, locales, catalog)
        async with self.db.transaction() as session:
            row = await self._locked(session, code)
            settings = _with_decided(row, settings, changed)
            if changed:
                await self._check_mappings_still_fit(session, row, settings, spec, locales)
            if changes.name is not None:
                row.name = changes.name.strip()
            if changes.credentials is not None:
                row.credentials_encrypted = reseal(self.container, row, changes.credentials)
            before = row.status
            if outcome is not None:
                _record_test(row, outcome, new_credentials=True)
            if changes_exports(settings_of(row), settings):
                row.mappings_version += 1  # the next incremental sync sends every product as the settings now say
            _store_settings(row, settings)
            row.updated_at = utcnow()
            _status_event(session, row, before)
        log.info("connector.updated", connector=code, credentials_changed=changes.credentials is not None)
        if outcome is not None:
            outcome = await self._register_webhooks(row, changes.credentials, outcome)
        return row, outcome

    async def delete(self, code: str) -> Connector:
        """Delete the connector; first, outside any transaction and best effort, its channel's webhook
        subscriptions, so the channel stops posting to an address that no longer answers."""
        current = await self.existing(code)
        try:
            credentials = self.container.vault.open(current.credentials_encrypted)
        except CredentialsUnreadable as exc:
            log.warning("connector.webhooks_not_unregistered", connector=code, reason=str(exc))
        else:
            await WebhookRegistrationService(self.container).unregister(current, credentials)
        async with self.db.transaction() as session:
            repository = ConnectorRepository(session)
            row = await repository.by_code(self.tenant_id, code, for_update=True)
            if row is None:
                raise InvalidInput([self._not_found(code)])
            EventRepository(session).record(self.tenant_id, "connector.deleted", connector_id=row.id, code=row.code)
            await repository.delete(row)
        log.info("connector.deleted", connector=code)
        return row

    async def pause(self, code: str, reason: str | None) -> Connector:
        """PAUSED, with the reason: schedules skip it, webhook deliveries wait, and its active sync is cancelled
        (a running one stops within a page of products, as cancelSyncJob stops it).

        Pausing a paused connector without a reason keeps the reason it was paused for: a second pause (a script
        run again, a second person) must not replace what the first said with a default. A reason given replaces it.
        """
        self._check_reason(reason)
        given = (reason or "").strip()
        async with self.db.transaction() as session:
            row = await self._locked(session, code)
            before = row.status
            already = before == ConnectorStatus.PAUSED
            if not already or given:
                row.status = ConnectorStatus.PAUSED.value
                row.status_reason = given or "paused by a user"
                row.updated_at = utcnow()
            _status_event(session, row, before)
            stopped = await _cancel_active_job(session, row)
        if stopped is not None:
            await progress.publish(self.container.redis, stopped.id, stopped.status)
        event = "connector.already_paused" if already else "connector.paused"
        log.info(event, connector=code, cancelled_job=stopped.id if stopped else None)
        return row

    @staticmethod
    def _check_reason(reason: str | None) -> None:
        if reason is not None and holds_nul(reason):
            raise InvalidInput([UserErrorItem(("reason",), nul_refused("a reason"), ErrorCode.INVALID_SETTING)])
        if reason is not None and len(reason.strip()) > MAX_REASON_LENGTH:
            message = f"a reason is at most {MAX_REASON_LENGTH:,} characters, this one has {len(reason.strip()):,}"
            raise InvalidInput([UserErrorItem(("reason",), message, ErrorCode.INVALID_SETTING)])

    async def resume(self, code: str) -> tuple[Connector, TestOutcome]:
        """Leave PAUSED (or ERROR) by testing the connection again: the new status is what the test finds. A test
        the channel failed for now (503, 429, a timeout) resumes nothing: the connector stays as it was, and the
        test result says why, to resume once the channel answers.

        Webhook deliveries that arrived meanwhile waited, PENDING: they are queued now, so the channel's changes
        made during the pause are checked as they would have been; so are the conflict resolutions it held back.
        """
        row, outcome = await self.test(code, resuming=True)
        if not outcome.for_now:
            await queue_waiting_deliveries(self.container, row.id)
            await queue_waiting_resolutions(self.container, row.id)
        return row, outcome

    # -- checks ----------------------------------------------------------------------------------

    async def _locked(self, session: Any, code: str) -> Connector:
        row = await ConnectorRepository(session).by_code(self.tenant_id, code, for_update=True)
        if row is None:
            raise InvalidInput([self._not_found(code)])
        return row

    def _settings_problems(
        self,
        current: ConnectorSettings,
        given: Mapping[str, Any],
        spec: ChannelTypeSpec,
        catalog: CatalogSpec,
        channel_locales: Sequence[str] | None = None,
        *,
        changed: frozenset[str] | None = None,
    ) -> tuple[ConnectorSettings, list[UserErrorItem]]:
        """`given` merged into `current`, with every problem of the settings (`changed` only, when given) that can
        be known before the connection test, under ("input", "settings"): a form gets them with the name's and the
        credentials' in one answer. Channel locales unknown until the test (None) are checked as locale codes
        only; the test's locales are checked after it."""
        settings, errors = merge_settings(current, given)
        if not errors and (changed is None or changed):
            _, errors = check_settings(settings, catalog=catalog, channel=spec, channel_locales=channel_locales)
            errors = [error for error in errors if changed is None or error.path[0] in changed]
        return settings, [error.under("input", "settings") for error in errors]

    def _checked_settings(
        self, settings: ConnectorSettings, spec: ChannelTypeSpec, locales: Sequence[str] | None, catalog: CatalogSpec
    ) -> ConnectorSettings:
        checked, errors = check_settings(settings, catalog=catalog, channel=spec, channel_locales=locales)
        if errors:
            raise InvalidInput([error.under("input", "settings") for error in errors])
        return checked

    def _checked_changes(
        self,
        settings: ConnectorSettings,
        changed: frozenset[str],
        spec: ChannelTypeSpec,
        locales: Sequence[str] | None,
        catalog: CatalogSpec,
    ) -> ConnectorSettings:
        """The settings an update changes (contract names in `changed`), checked and spelled canonically; the others
        are kept as stored, unchecked: one that went stale since (a channel locale the store stopped reporting)
        must not make a rename, or a change to another setting, fail on something the user did not touch."""
        checked, errors = check_settings(settings, catalog=catalog, channel=spec, channel_locales=locales)
        errors = [error for error in errors if error.path[0] in changed]
        if errors:
            raise InvalidInput([error.under("input", "settings") for error in errors])
        respelled = {SETTING_NAMES[name]: getattr(checked, SETTING_NAMES[name]) for name in changed}
        return replace(settings, **respelled)

    async def _check_mappings_still_fit(
        self,
        session: Any,
        row: Connector,
        settings: ConnectorSettings,
        spec: ChannelTypeSpec,
        locales: Sequence[str] | None,
    ) -> None:
        """New settings must not break saved mappings (a scope they read, a channel locale they name).

        Only what the new settings break counts: a mapping that was already wrong with the stored settings (a
        template naming a since deleted attribute) shows as broken on the connector, and is not this update's
        fault.
        """
        rows = await MappingRepository(session).of_connectors(self.tenant_id, [row.id])
        drafts = [draft_of(mapping) for mapping in rows if mapping.attribute_id is not None]
        catalog = await CatalogSetupService(session).spec(self.tenant_id)
        _, before = check_mappings(
            drafts,
            catalog=catalog,
            channel=spec,
            settings=settings_of(row),
            channel_locales=channel_locales_of(row, spec),
        )
        _, now = check_mappings(drafts, catalog=catalog, channel=spec, settings=settings, channel_locales=locales)
        errors = [error for error in now if error not in before]
        if errors:
            raise InvalidInput(
                [
                    UserErrorItem(
                        ("input", "settings"),
                        f"these settings would break a saved mapping: {error.message} (at {list(error.path)})",
                        error.code,
                    )
                    for error in errors
                ]
            )

    def _check_header(self, code: str, name: str) -> list[UserErrorItem]:
        errors = self._check_name(name)
        if not is_valid_code(code):
            errors.append(
                UserErrorItem(
                    ("input", "code"),
                    "a connector code is 1 to 100 letters, digits or underscores",
                    ErrorCode.INVALID_CODE,
                )
            )
        return errors

    def _check_name(self, name: str) -> list[UserErrorItem]:
        if not name.strip() or len(name) > MAX_NAME_LENGTH:
            return [
                UserErrorItem(
                    ("input", "name"), f"a name is 1 to {MAX_NAME_LENGTH} characters", ErrorCode.INVALID_SETTING
                )
            ]
        if holds_nul(name):
            return [UserErrorItem(("input", "name"), nul_refused("a name"), ErrorCode.INVALID_SETTING)]
        return []

    def _channel_type(self, raw: str, errors: list[UserErrorItem]) -> ChannelType | None:
        try:
            return ChannelType(raw)
        except ValueError:
            errors.append(
                UserErrorItem(
                    ("input", "channelType"), f"'{echoed(raw)}' is not a channel type", ErrorCode.INVALID_CHANNEL_TYPE
                )
            )
            return None

    async def _code_taken_problems(self, code: str) -> list[UserErrorItem]:
        async with self.db.reader() as session:
            if await ConnectorRepository(session).by_code(self.tenant_id, code) is not None:
                return [self._code_taken(code)]
        return []

    def _code_taken(self, code: str) -> UserErrorItem:
        return UserErrorItem(
            ("input", "code"), f"a connector '{echoed(code)}' already exists", ErrorCode.CONNECTOR_CODE_TAKEN
        )

    def _not_found(self, code: str) -> UserErrorItem:
        return UserErrorItem(("code",), connector_not_found(code), ErrorCode.CONNECTOR_NOT_FOUND)
