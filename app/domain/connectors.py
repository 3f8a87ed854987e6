"""A connector's settings and locale mapping, and the rules they must satisfy (pure).

Locale codes are compared with Babel, never as strings: `en-US`, `en_US` and
`en_us` are one locale, `fr_CA` is not `fr_FR`. A channel locale is stored in
the channel's own spelling (the one its connection test or spec reported), so
adapters can send it as is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from babel.numbers import is_currency

from app.domain.catalog import CatalogSpec
from app.domain.channels import ChannelTypeSpec
from app.domain.errors import ErrorCode, Path, UserErrorItem
from app.domain.locales import InvalidLocaleCode, canonical_locale
from app.domain.storable import cut_marked, echoed

MAX_REQUESTS_PER_SECOND = 1000.0
MIN_REQUESTS_PER_SECOND = 0.01
"""One request every 100 seconds (864 a day, under the strictest daily quotas the channels set): below it, a
number such as 1e-300 reads as allowed and means never sending."""
MIN_SYNC_INTERVAL_MINUTES = 5
MAX_SYNC_INTERVAL_MINUTES = 60 * 24 * 31
ROUNDING_MODES = ("HALF_UP", "HALF_EVEN", "HALF_DOWN", "UP", "DOWN", "CEILING", "FLOOR")
TAX_KEYS = frozenset({"applyTax", "taxRate", "pricesIncludeTax", "roundingMode", "decimals"})


def connector_not_found(code: str) -> str:
    """The one message for a connector code no connector of the tenant has, the code quoted cut (echoed)."""
    return f"connector '{echoed(code)}' does not exist"


class ConnectorStatus(StrEnum):
    CONNECTED = "CONNECTED"
    DISCONNECTED = "DISCONNECTED"
    ERROR = "ERROR"
    PAUSED = "PAUSED"


def schedule_due(last_started: datetime | None, interval_minutes: int, now: datetime) -> bool:
    """Whether a connector's scheduled sync is due at `now`: `interval_minutes` after the minute the last one started.

    Counted in whole minutes because the schedule is checked once a minute, a
    little after the minute begins by however long the workers took to get to
    it: measured to the microsecond, a check a fraction of a second earlier in
    its minute than the last one would find the interval not quite over and
    leave the sync to the next check (a 5-minute schedule running every 6).
    """
    if last_started is None:
        return True
    return _minute(last_started) + timedelta(minutes=interval_minutes) <= _minute(now)


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


class ConflictStrategy(StrEnum):
    PIM_WINS = "PIM_WINS"
    CHANNEL_WINS = "CHANNEL_WINS"
    NEWEST_WINS = "NEWEST_WINS"
    MANUAL = "MANUAL"


class SyncType(StrEnum):
    FULL = "FULL"
    INCREMENTAL = "INCREMENTAL"
    SINGLE = "SINGLE"


class FallbackPolicy(StrEnum):
    """SEND: fallback text goes out as the locale's value; OMIT: the channel's translation is left alone."""

    SEND = "SEND"
    OMIT = "OMIT"


@dataclass(frozen=True, slots=True)
class LocalePair:
    pim_locale: str
    channel_locale: str

    def as_json(self) -> dict[str, str]:
        return {"pimLocale": self.pim_locale, "channelLocale": self.channel_locale}

    @classmethod
    def from_json(cls, raw: Mapping[str, str]) -> LocalePair:
        return cls(raw["pimLocale"], raw["channelLocale"])


@dataclass(frozen=True, slots=True)
class ConnectorSettings:
    """What a connector reads and how it sends; the defaults never overwrite or translate silently."""

    scope: str | None = None
    locale_mapping: tuple[LocalePair, ...] = ()
    default_sync_type: SyncType = SyncType.INCREMENTAL
    conflict_strategy: ConflictStrategy = ConflictStrategy.MANUAL
    tax_config: Mapping[str, Any] | None = None
    currency: str | None = None
    sync_interval_minutes: int | None = None
    fallback_policy: FallbackPolicy = FallbackPolicy.OMIT
    hold_incomplete_locales: bool = False
    requests_per_second: float | None = None
    """This connector's cap on requests per second, below the channel's default when the store's plan allows less;
    on a channel metering cost points (Shopify) a cap on requests over its points bucket (factory.connector_gate)."""


SETTING_NAMES: Mapping[str, str] = {
    "scope": "scope",
    "localeMapping": "locale_mapping",
    "defaultSyncType": "default_sync_type",
    "conflictStrategy": "conflict_strategy",
    "taxConfig": "tax_config",
    "currency": "currency",
    "syncIntervalMinutes": "sync_interval_minutes",
    "fallbackPolicy": "fallback_policy",
    "holdIncompleteLocales": "hold_incomplete_locales",
    "requestsPerSecond": "requests_per_second",
}

NOT_NULLABLE = frozenset(
    {"localeMapping", "defaultSyncType", "conflictStrategy", "fallbackPolicy", "holdIncompleteLocales"}
)
"""Settings that cannot be cleared by sending null: they always have a value."""

EXPORTED_SETTINGS = ("scope", "locale_mapping", "tax_config", "currency", "fallback_policy", "hold_incomplete_locales")
"""The settings an export plan reads: a change to one changes the documents of every product, changed or not."""


def changes_exports(before: ConnectorSettings, after: ConnectorSettings) -> bool:
    """Whether going from `before` to `after` changes what the connector sends for products that did not change."""
    return any(getattr(before, name) != getattr(after, name) for name in EXPORTED_SETTINGS)


def merge_settings(
    current: ConnectorSettings, changes: Mapping[str, Any]
) -> tuple[ConnectorSettings, list[UserErrorItem]]:
    """Apply a partial update: a key given replaces the setting, a key absent keeps it.

    `changes` uses the contract's names; locale pairs arrive as LocalePair
    already. Null clears a nullable setting and is refused for the others.
    """
    errors = [
        UserErrorItem((name,), f"{name} cannot be null", ErrorCode.INVALID_SETTING)
        for name, value in changes.items()
        if value is None and name in NOT_NULLABLE
    ]
    updates = {SETTING_NAMES[name]: value for name, value in changes.items() if name in SETTING_NAMES}
    if errors:
        return current, errors
    if "locale_mapping" in updates:
        updates["locale_mapping"] = tuple(updates["locale_mapping"])
    return replace(current, **updates), []


def match_locale(code: str, candidates: Sequence[str]) -> str | None:
    """The candidate naming the same locale as `code` (compared with Babel), in the candidate's spelling."""
    try:
        wanted = canonical_locale(code)
    except InvalidLocaleCode:
        return None
    for candidate in candidates:
        try:
            if canonical_locale(candidate) == wanted:
                return candidate
        except InvalidLocaleCode:
            continue
    return None


def check_locale_pairs(
    pairs: Sequence[LocalePair],
    path: Path,
    *,
    catalog: CatalogSpec,
    channel_locales: Sequence[str] | None,
) -> tuple[tuple[LocalePair, ...], list[UserErrorItem]]:
    """Validate PIM -> channel locale pairs and spell them canonically.

    The PIM locale must be enabled in the catalog; the channel locale must be
    one the channel supports when that is known (CHN-012), and a real locale
    code either way. Each PIM locale and each channel locale appears once.
    """
    errors: list[UserErrorItem] = []
    checked: list[LocalePair] = []
    seen_pim: set[str] = set()
    seen_channel: set[str] = set()
    for index, pair in enumerate(pairs):
        at = (*path, index)
        pim = _pim_locale(pair.pim_locale, (*at, "pimLocale"), catalog, errors)
        channel = _channel_locale(pair.channel_locale, (*at, "channelLocale"), channel_locales, errors)
        if pim is None or channel is None:
            continue
        if pim in seen_pim:
            errors.append(UserErrorItem((*at, "pimLocale"), f"{pim} is mapped twice", ErrorCode.DUPLICATE_IN_BATCH))
        if canonical_locale(channel) in seen_channel:
            errors.append(
                UserErrorItem((*at, "channelLocale"), f"{channel} is mapped twice", ErrorCode.DUPLICATE_IN_BATCH)
            )
        seen_pim.add(pim)
        seen_channel.add(canonical_locale(channel))
        checked.append(LocalePair(pim, channel))
    return tuple(checked), errors


def _pim_locale(code: str, path: Path, catalog: CatalogSpec, errors: list[UserErrorItem]) -> str | None:
    try:
        canonical = canonical_locale(code)
    except InvalidLocaleCode as exc:
        errors.append(UserErrorItem(path, str(exc), ErrorCode.INVALID_LOCALE))
        return None
    if canonical not in catalog.locales:
        errors.append(
            UserErrorItem(path, f"PIM locale {canonical} is not enabled in the catalog", ErrorCode.LOCALE_NOT_ENABLED)
        )
        return None
    return canonical


def _channel_locale(code: str, path: Path, supported: Sequence[str] | None, errors: list[UserErrorItem]) -> str | None:
    """The channel's spelling of the locale `code` names: the shop's own when its locales are known, else `code`
    as given. A code naming an encoding is refused: Babel drops `.<anything>`, so `en.` and a text of any length
    would be kept as the channel locale, which job errors record in a column of 35 characters."""
    try:
        canonical_locale(code)
    except InvalidLocaleCode:
        errors.append(UserErrorItem(path, f"'{echoed(code)}' is not a locale code", ErrorCode.LOCALE_NOT_SUPPORTED))
        return None
    if "." in code:
        message = f"'{cut_marked(code, 40)}' names an encoding: give the locale code alone, such as 'en' or 'en_US'"
        errors.append(UserErrorItem(path, message, ErrorCode.LOCALE_NOT_SUPPORTED))
        return None
    if supported is None:
        return code.strip()
    match = match_locale(code, supported)
    if match is None:
        errors.append(
            UserErrorItem(
                path,
                f"the channel does not support locale '{echoed(code)}' (it supports: {', '.join(supported) or 'none'})",
                ErrorCode.LOCALE_NOT_SUPPORTED,
            )
        )
    return match


def check_chosen_locales(
    codes: Sequence[str], pairs: Sequence[LocalePair], path: Path, *, connector_code: str
) -> tuple[list[str], list[UserErrorItem]]:
    """PIM locales picked out of a connector's locale mapping (a sync's or a preview's `locales`), canonical and
    each once; one the mapping does not name is refused (CHN-012) rather than read as "nothing to do"."""
    mapped = {pair.pim_locale for pair in pairs}
    checked: list[str] = []
    errors: list[UserErrorItem] = []
    for index, code in enumerate(codes):
        try:
            canonical = canonical_locale(code)
        except InvalidLocaleCode as exc:
            errors.append(UserErrorItem((*path, index), str(exc), ErrorCode.INVALID_LOCALE))
            continue
        if canonical in checked:
            continue  # named twice (perhaps spelt two ways): covered once
        if canonical not in mapped:
            errors.append(
                UserErrorItem(
                    (*path, index),
                    f"{canonical} is not mapped on connector '{connector_code}'",
                    ErrorCode.LOCALE_NOT_SUPPORTED,
                )
            )
        checked.append(canonical)
    return checked, errors


def check_settings(
    settings: ConnectorSettings,
    *,
    catalog: CatalogSpec,
    channel: ChannelTypeSpec,
    channel_locales: Sequence[str] | None,
) -> tuple[ConnectorSettings, list[UserErrorItem]]:
    """Validate every setting against the catalog and the channel; return them canonically spelled."""
    errors: list[UserErrorItem] = []
    pairs, pair_errors = check_locale_pairs(
        settings.locale_mapping, ("localeMapping",), catalog=catalog, channel_locales=channel_locales
    )
    errors += pair_errors
    if settings.scope is not None and settings.scope not in catalog.scopes:
        errors.append(
            UserErrorItem(
                ("scope",),
                f"scope '{echoed(settings.scope)}' is not enabled in the catalog",
                ErrorCode.SCOPE_NOT_ENABLED,
            )
        )
    currency = _check_currency(settings.currency, catalog, channel, errors)
    errors += check_tax_config(settings.tax_config, ("taxConfig",))
    interval = settings.sync_interval_minutes
    if interval is not None and not MIN_SYNC_INTERVAL_MINUTES <= interval <= MAX_SYNC_INTERVAL_MINUTES:
        errors.append(
            UserErrorItem(
                ("syncIntervalMinutes",),
                f"syncIntervalMinutes must be between {MIN_SYNC_INTERVAL_MINUTES} and {MAX_SYNC_INTERVAL_MINUTES}",
                ErrorCode.INVALID_SETTING,
            )
        )
    rate = settings.requests_per_second
    if rate is not None and not MIN_REQUESTS_PER_SECOND <= rate <= MAX_REQUESTS_PER_SECOND:
        errors.append(
            UserErrorItem(
                ("requestsPerSecond",),
                f"requestsPerSecond must be between {MIN_REQUESTS_PER_SECOND} and {MAX_REQUESTS_PER_SECOND}",
                ErrorCode.INVALID_SETTING,
            )
        )
    return replace(settings, locale_mapping=pairs, currency=currency), errors


def _check_currency(
    code: str | None, catalog: CatalogSpec, channel: ChannelTypeSpec, errors: list[UserErrorItem]
) -> str | None:
    if code is None:
        return None
    upper = code.strip().upper()
    if not is_currency(upper):
        errors.append(
            UserErrorItem(("currency",), f"'{echoed(code)}' is not an ISO 4217 currency", ErrorCode.INVALID_CURRENCY)
        )
        return None
    if channel.currencies is not None and upper not in channel.currencies:
        errors.append(
            UserErrorItem(
                ("currency",),
                f"{channel.display_name} does not take {upper} (it takes {', '.join(channel.currencies)})",
                ErrorCode.CURRENCY_NOT_SUPPORTED,
            )
        )
    elif upper not in catalog.currencies:
        errors.append(
            UserErrorItem(
                ("currency",), f"currency {upper} is not enabled in the catalog", ErrorCode.CURRENCY_NOT_ENABLED
            )
        )
    return upper


def check_tax_config(raw: Any, path: Path) -> list[UserErrorItem]:
    """taxConfig: {applyTax: bool, taxRate: 0 <= decimal < 1, pricesIncludeTax: bool, roundingMode, decimals}."""
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return [UserErrorItem(path, "taxConfig must be an object", ErrorCode.TAX_CALCULATION_ERROR)]
    errors = [
        UserErrorItem((*path, key), f"unknown tax setting '{echoed(key)}'", ErrorCode.TAX_CALCULATION_ERROR)
        for key in raw
        if key not in TAX_KEYS
    ]
    for key in ("applyTax", "pricesIncludeTax"):
        if key in raw and not isinstance(raw[key], bool):
            errors.append(UserErrorItem((*path, key), f"{key} must be true or false", ErrorCode.TAX_CALCULATION_ERROR))
    if "taxRate" in raw:
        rate = _decimal_or_none(raw["taxRate"])
        if rate is None or not Decimal(0) <= rate < Decimal(1):
            errors.append(
                UserErrorItem(
                    (*path, "taxRate"),
                    "taxRate must be a decimal from 0 up to 1 (0.15 for 15%)",
                    ErrorCode.TAX_CALCULATION_ERROR,
                )
            )
    elif raw.get("applyTax") is True:
        errors.append(UserErrorItem((*path, "taxRate"), "applyTax needs a taxRate", ErrorCode.TAX_CALCULATION_ERROR))
    if "roundingMode" in raw and raw["roundingMode"] not in ROUNDING_MODES:
        errors.append(
            UserErrorItem(
                (*path, "roundingMode"),
                f"roundingMode must be one of {', '.join(ROUNDING_MODES)}",
                ErrorCode.TAX_CALCULATION_ERROR,
            )
        )
    decimals = raw.get("decimals", 2)
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 6:
        errors.append(
            UserErrorItem(
                (*path, "decimals"), "decimals must be a whole number from 0 to 6", ErrorCode.TAX_CALCULATION_ERROR
            )
        )
    return errors


def _decimal_or_none(raw: Any) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    try:
        value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None
