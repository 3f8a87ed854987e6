"""The catalog's set-up: enabled locales, scopes and currencies, and the snapshot values are checked against."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from babel.numbers import get_currency_name, get_currency_symbol, is_currency
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import Connector, Currency, Locale, Scope
from app.domain.catalog import AttributeSpec, AttributeType, CatalogSpec, is_valid_code
from app.domain.errors import ErrorCode, InvalidInput, Path, UserErrorItem
from app.domain.locales import InvalidLocaleCode, LocaleInfo, canonical_locale, describe_locale
from app.domain.storable import echoed
from app.repositories.attributes import AttributeRepository
from app.repositories.code_sets import CodeSetRepository
from app.repositories.connectors import ConnectorRepository, MappingRepository


@dataclass(frozen=True, slots=True)
class LocaleView:
    info: LocaleInfo
    enabled: bool


@dataclass(frozen=True, slots=True)
class CurrencyView:
    code: str
    name: str
    symbol: str
    enabled: bool


@dataclass(frozen=True, slots=True)
class ScopeInputData:
    code: str
    labels: Any


MAX_CODES_PER_CALL = 1000
"""Locales, scopes or currencies one call enables: more than CLDR has locales (about 800) or ISO 4217 currencies.
Every code given is checked and each problem listed, so the count bounds what one call costs the API."""


def _require_some(codes: Sequence[Any], what: str) -> None:
    """At least one code, and at most MAX_CODES_PER_CALL (repeats counted), or nothing is checked further."""
    if not codes:
        raise InvalidInput([UserErrorItem((what,), f"give at least one {what[:-1]}", ErrorCode.EMPTY_LIST)])
    if len(codes) > MAX_CODES_PER_CALL:
        message = f"at most {MAX_CODES_PER_CALL} {what} per call"
        raise InvalidInput([UserErrorItem((what,), message, ErrorCode.BATCH_TOO_LARGE)])


def _no_duplicates(codes: Sequence[str], what: str) -> list[UserErrorItem]:
    seen: set[str] = set()
    errors = []
    for index, code in enumerate(codes):
        if code in seen:
            errors.append(UserErrorItem((what, index), f"{code} is listed twice", ErrorCode.DUPLICATE_IN_BATCH))
        seen.add(code)
    return errors


class CatalogSetupService:
    def __init__(self, session: AsyncSession) -> None:
        self.locales = CodeSetRepository(session, Locale)
        self.scopes = CodeSetRepository(session, Scope)
        self.currencies = CodeSetRepository(session, Currency)
        self.attributes = AttributeRepository(session)
        self.connectors = ConnectorRepository(session)
        self.mappings = MappingRepository(session)

    async def list_locales(self, tenant_id: int, *, enabled_only: bool) -> list[LocaleView]:
        rows = await self.locales.list(tenant_id, enabled_only=enabled_only)
        return [LocaleView(describe_locale(row.code), row.enabled) for row in rows]

    async def set_locales(self, tenant_id: int, codes: Sequence[str]) -> list[LocaleView]:
        """Enable exactly these locales; the first is the default. Others keep their values, disabled."""
        _require_some(codes, "codes")
        canonical: list[str] = []
        errors: list[UserErrorItem] = []
        for index, code in enumerate(codes):
            try:
                canonical.append(canonical_locale(code))
            except InvalidLocaleCode as exc:
                canonical.append(code)
                errors.append(UserErrorItem(("codes", index), str(exc), ErrorCode.INVALID_LOCALE))
        errors += _no_duplicates(canonical, "codes")
        if errors:
            raise InvalidInput(errors)
        enabled = await self.locales.enabled_codes(tenant_id)
        removed = set(enabled) - set(canonical)
        if removed:
            users = await self._locale_users(tenant_id)
            _refuse_if_used("PIM locale", removed, users, ("codes",), ErrorCode.LOCALE_NOT_ENABLED)
        await self.locales.replace_enabled(tenant_id, canonical)
        if enabled[:1] != (canonical[0],):
            await self._exports_changed(tenant_id)
        return await self.list_locales(tenant_id, enabled_only=False)

    async def list_scopes(self, tenant_id: int, *, enabled_only: bool) -> list[Scope]:
        return await self.scopes.list(tenant_id, enabled_only=enabled_only)

    async def set_scopes(self, tenant_id: int, scopes: Sequence[ScopeInputData]) -> list[Scope]:
        """Enable exactly these scopes, with their labels (keyed by locale code)."""
        _require_some(scopes, "scopes")
        errors = [
            UserErrorItem(
                ("scopes", index, "code"), f"'{echoed(scope.code)}' is not a valid code", ErrorCode.INVALID_CODE
            )
            for index, scope in enumerate(scopes)
            if not is_valid_code(scope.code)
        ]
        errors += _no_duplicates([scope.code for scope in scopes], "scopes")
        for index, scope in enumerate(scopes):
            errors += [error.under("scopes", index) for error in check_labels(scope.labels)]
        if errors:
            raise InvalidInput(errors)
        removed = set(await self.scopes.enabled_codes(tenant_id)) - {scope.code for scope in scopes}
        if removed:
            users = _setting_users(await self.connectors.of_tenant(tenant_id), "scope")
            _refuse_if_used("scope", removed, users, ("scopes",), ErrorCode.SCOPE_NOT_ENABLED)
        extra = {scope.code: {"labels": normalise_labels(scope.labels)} for scope in scopes}
        await self.scopes.replace_enabled(tenant_id, [scope.code for scope in scopes], extra)
        return await self.list_scopes(tenant_id, enabled_only=False)

    async def list_currencies(self, tenant_id: int, *, enabled_only: bool) -> list[CurrencyView]:
        rows = await self.currencies.list(tenant_id, enabled_only=enabled_only)
        return [describe_currency(row.code, row.enabled) for row in rows]

    async def set_currencies(self, tenant_id: int, codes: Sequence[str]) -> list[CurrencyView]:
        """Enable exactly these ISO 4217 currencies; the first is the default for plain prices."""
        _require_some(codes, "codes")
        upper = [code.strip().upper() for code in codes]
        errors = [
            UserErrorItem(
                ("codes", index), f"'{echoed(code)}' is not an ISO 4217 currency code", ErrorCode.INVALID_CURRENCY
            )
            for index, code in enumerate(upper)
            if not is_currency(code)
        ]
        errors += _no_duplicates(upper, "codes")
        if errors:
            raise InvalidInput(errors)
        enabled = await self.currencies.enabled_codes(tenant_id)
        removed = set(enabled) - set(upper)
        if removed:
            users = _setting_users(await self.connectors.of_tenant(tenant_id), "currency")
            _refuse_if_used("currency", removed, users, ("codes",), ErrorCode.CURRENCY_NOT_ENABLED)
        await self.currencies.replace_enabled(tenant_id, upper)
        if enabled[:1] != tuple(upper[:1]):
            # The default currency is the price a connector without a currency of its own sends.
            await self._exports_changed(tenant_id, of=lambda connector: connector.currency is None)
        return await self.list_currencies(tenant_id, enabled_only=False)

    async def _exports_changed(self, tenant_id: int, *, of: Callable[[Connector], bool] = lambda _: True) -> None:
        """A new default locale is what every connector falls back to and what a shared field without a locale
        of its own reads (a new default currency, what one without a currency of its own prices in): the next
        incremental sync of each connector `of` picks sends every product again, not only changed ones."""
        connectors = await self.connectors.of_tenant(tenant_id)
        await self.connectors.bump_mappings_version(tenant_id, [row.id for row in connectors if of(row)])

    async def _locale_users(self, tenant_id: int) -> dict[str, list[str]]:
        """Who reads each PIM locale: connectors' locale mappings, and mappings with a locale mapping of their own."""
        connectors = await self.connectors.of_tenant(tenant_id)
        users = _setting_users(connectors, "locale_mapping")
        codes = {row.id: row.code for row in connectors}
        for mapping in await self.mappings.with_locale_mapping(tenant_id):
            for pair in mapping.locale_mapping or []:
                where = f"connector '{codes[mapping.connector_id]}' (the localeMapping of its {mapping.channel_field} mapping)"
                users[pair["pimLocale"]].append(where)
        return users

    async def spec(self, tenant_id: int) -> CatalogSpec:
        """The snapshot every product value is validated against."""
        attributes = {
            row.code: AttributeSpec(row.id, row.code, AttributeType(row.type), row.localizable, row.scopable)
            for row in await self.attributes.list(tenant_id)
        }
        return CatalogSpec(
            attributes=attributes,
            locales=await self.locales.enabled_codes(tenant_id),
            scopes=await self.scopes.enabled_codes(tenant_id),
            currencies=await self.currencies.enabled_codes(tenant_id),
        )


def _setting_users(connectors: Sequence[Connector], setting: str) -> defaultdict[str, list[str]]:
    """Which connectors name each code in `setting` (scope, currency or locale_mapping's PIM locales)."""
    users: defaultdict[str, list[str]] = defaultdict(list)
    for row in connectors:
        if setting == "locale_mapping":
            named = [pair["pimLocale"] for pair in row.locale_mapping]
        else:
            value = row.scope if setting == "scope" else row.currency
            named = [] if value is None else [value]
        for code in named:
            users[code].append(f"connector '{row.code}' (settings.{_CONTRACT_NAMES[setting]})")
    return users


_CONTRACT_NAMES: Mapping[str, str] = {"scope": "scope", "currency": "currency", "locale_mapping": "localeMapping"}


def _refuse_if_used(
    what: str, removed: Collection[str], users: Mapping[str, list[str]], path: Path, code: ErrorCode
) -> None:
    """A catalog change must not disable what a connector reads: its exports would go on sending the data of a
    disabled locale, scope or currency, and every later change to the connector would fail on a setting the user
    did not touch. Nothing changes; the error names each connector and setting to change first."""
    errors = [
        UserErrorItem(
            path,
            f"{what} {item} is used by {', '.join(dict.fromkeys(users[item]))}: change that first, "
            f"or keep {item} enabled",
            code,
        )
        for item in sorted(removed)
        if users.get(item)
    ]
    if errors:
        raise InvalidInput(errors)


def describe_currency(code: str, enabled: bool) -> CurrencyView:
    return CurrencyView(code, get_currency_name(code, locale="en"), get_currency_symbol(code, locale="en"), enabled)


MAX_LABEL_LENGTH = 255
"""Characters of an attribute's label in one locale: it names the attribute in a form or a column header."""


def check_labels(labels: Any) -> list[UserErrorItem]:
    """Labels are an object of locale code -> non-empty text."""
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [UserErrorItem(("labels",), "labels must be an object keyed by locale code", ErrorCode.INVALID_LOCALE)]
    errors = []
    for code, text in labels.items():
        try:
            canonical_locale(str(code))
        except InvalidLocaleCode as exc:
            errors.append(UserErrorItem(("labels", str(code)), str(exc), ErrorCode.INVALID_LOCALE))
        if not isinstance(text, str):
            errors.append(UserErrorItem(("labels", str(code)), "a label must be text", ErrorCode.VALUE_TYPE_MISMATCH))
        elif "\x00" in text:  # PostgreSQL cannot store it: refused alike on every database
            message = "a label cannot contain a NUL character (\\x00)"
            errors.append(UserErrorItem(("labels", str(code)), message, ErrorCode.VALUE_TYPE_MISMATCH))
        elif len(text) > MAX_LABEL_LENGTH:
            message = f"a label is at most {MAX_LABEL_LENGTH} characters, this one has {len(text):,}"
            errors.append(UserErrorItem(("labels", str(code)), message, ErrorCode.VALUE_TYPE_MISMATCH))
    return errors


def normalise_labels(labels: dict[str, Any] | None) -> dict[str, str]:
    """Labels keyed by canonical locale code, empty ones dropped (call check_labels first)."""
    return {canonical_locale(code): text for code, text in (labels or {}).items() if text}
