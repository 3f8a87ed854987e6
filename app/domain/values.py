"""Validation and normalisation of product values against their attribute (pure).

Normalised forms, as stored and as served:

    TEXT, TEXTAREA, IDENTIFIER, SELECT, IMAGE, FILE   a non-empty string
    NUMBER        a JSON number (int or float), never a string or a boolean
    PRICE         {"EUR": "12.50", ...}: amounts as exact decimal strings, never floats
    BOOLEAN       true or false
    MULTISELECT   a list of distinct non-empty strings
    DATE          "YYYY-MM-DD"
    METRIC        {"amount": "500", "unit": "GRAM"}

An empty value (null, "", [], {}) means "no value": writing it clears the value.
A PriceChanges (built by a flat-file import, never sent by a client) changes
some currencies of a stored price and keeps the others.
No text may hold a NUL character (PostgreSQL cannot store one) or be longer
than MAX_TEXT_LENGTH characters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from app.db.models import NO_LOCALE, NO_SCOPE
from app.domain.catalog import AttributeSpec, AttributeType, CatalogSpec
from app.domain.errors import ErrorCode, UserErrorItem
from app.domain.locales import InvalidLocaleCode, canonical_locale
from app.domain.storable import EXACT_INTEGERS, echoed, integer_refused

DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CURRENCY_PATTERN = re.compile(r"^[A-Z]{3}$")
MAX_TEXT_LENGTH = 1_048_576
"""Characters in one text of a value: the size of the largest body the service accepts (a webhook's, 1 MiB),
and far above what any channel takes in one field."""
MAX_INTEGER_DIGITS = 18
"""Digits of an amount (a price, a measure) before its decimal point: a quintillion of any currency or unit is
beyond every catalog, and an amount is stored written out, so "1e999999999" must not become a gigabyte of digits."""
MAX_FRACTION_DIGITS = 12
"""Digits of an amount after its decimal point (trailing zeros aside): finer than any currency or unit needs."""
WHOLE_DIGITS = len(str(EXACT_INTEGERS.stop))
"""Digits of the largest whole number a NUMBER holds: one with more is refused without being written out."""
NUMBER_DIGITS_HINT = (
    "a NUMBER keeps about 15 significant digits: give fewer, or use a PRICE or METRIC attribute, "
    "which keep exact decimals"
)


class ValueRejected(ValueError):
    """The data does not fit the attribute's type; the message says how."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.VALUE_TYPE_MISMATCH) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class ValueKey:
    """Where a value lives: attribute, locale ('' = none) and scope ('' = none)."""

    attribute_id: int
    locale: str = NO_LOCALE
    scope: str = NO_SCOPE


@dataclass(frozen=True, slots=True)
class CheckedValue:
    key: ValueKey
    data: Any
    """The normalised data; None means "clear this value"."""


@dataclass(frozen=True, slots=True)
class PriceChanges:
    """Some currencies of a price: amounts to set and currencies to clear; every other stored currency is kept.

    Akeneo's products.csv has a column per currency (price-EUR, price-USD): a file without a price-USD column
    says nothing about USD, so importing it must not wipe the stored USD amount (Akeneo's own import does, a
    behaviour its users report as a bug). An empty cell clears its currency, as an empty cell clears any value.
    """

    amounts: Mapping[str, Any] = field(default_factory=dict)
    cleared: frozenset[str] = frozenset()

    def with_cell(self, currency: str, cell: str) -> PriceChanges:
        """These changes and one more currency's cell: an amount, or nothing to clear it."""
        if cell:
            return PriceChanges({**self.amounts, currency: cell}, self.cleared - {currency})
        amounts = {code: amount for code, amount in self.amounts.items() if code != currency}
        return PriceChanges(amounts, self.cleared | {currency})

    def applied_to(self, stored: Any) -> dict[str, str] | None:
        """The price once these changes are made to the stored one (None: no currency is left)."""
        prices = {code: amount for code, amount in (stored or {}).items() if code not in self.cleared}
        prices.update(self.amounts)
        return prices or None


def settled(data: Any, stored: Any) -> Any:
    """What a checked value's data leaves stored, given what is stored now: PriceChanges are merged into it."""
    return data.applied_to(stored) if isinstance(data, PriceChanges) else data


def is_empty(data: Any) -> bool:
    return data is None or data == "" or data == [] or data == {}


def _decimal(raw: Any, what: str) -> Decimal:
    if not _is_plain_amount(raw):
        raise ValueRejected(f'{what} must be a decimal number or a decimal string, such as 12.5 or "12.50"')
    try:
        number = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(str(raw).strip())
    except InvalidOperation as exc:
        raise ValueRejected(f"{what} '{echoed(str(raw))}' is not a decimal number") from exc
    if not number.is_finite():
        raise ValueRejected(f"{what} must be finite")
    _check_digits(number, raw, what)
    return number


def _check_digits(number: Decimal, raw: Any, what: str) -> None:
    """Refuse an amount too large or too fine to be one, from its digits and exponent, before it is written out."""
    _, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int)  # (a finite number)
    significant = len("".join(map(str, digits)).rstrip("0"))
    if significant == 0:
        return
    exponent += len(digits) - significant  # trailing zeros of the coefficient move into the exponent
    before, after = max(significant + exponent, 0), max(-exponent, 0)
    if before > MAX_INTEGER_DIGITS:
        raise ValueRejected(
            f"{what} '{echoed(str(raw))}' has {before} digits before the decimal point, at most {MAX_INTEGER_DIGITS}"
        )
    if after > MAX_FRACTION_DIGITS:
        raise ValueRejected(
            f"{what} '{echoed(str(raw))}' has {after} digits after the decimal point, at most {MAX_FRACTION_DIGITS}"
        )


def _is_plain_amount(raw: Any) -> bool:
    """A number or a string: what an amount is given as (a decimal string keeps its digits)."""
    return not isinstance(raw, bool) and isinstance(raw, str | int | float | Decimal)


PRICE_FORMS = 'an amount per currency code, such as {"EUR": "12.50", "USD": "13.90"}'
"""What a price is given as (besides a plain amount in the default currency): said whenever one is refused."""


def checked_amount(raw: Any, what: str, *, signed: bool = False) -> str:
    """An amount as it is stored (an exact decimal string), or ValueRejected: within the digits an amount has, and
    not negative unless `signed` (a price never is; a measure, a temperature, may be)."""
    number = _decimal(raw, what)
    if number < 0 and not signed:
        raise ValueRejected(f"{what} cannot be negative")
    return format(number, "f")


def _string(data: Any, _spec: CatalogSpec) -> str:
    if not isinstance(data, str):
        raise ValueRejected('expected a text, such as "Oak chair"')
    return data


def _number(data: Any, _spec: CatalogSpec) -> int | float:
    if isinstance(data, bool) or not isinstance(data, int | float | Decimal):
        raise ValueRejected("expected a number, such as 12 or 4.5 (a JSON number, not a string)")
    if isinstance(data, Decimal):
        return exact_number(data)
    if isinstance(data, float) and not math.isfinite(data):
        raise ValueRejected("expected a finite number")
    return _exact_integer(data) if isinstance(data, int) else data


def _exact_integer(number: int) -> int:
    if number not in EXACT_INTEGERS:
        raise ValueRejected(f"{integer_refused(number)}: {NUMBER_DIGITS_HINT}")
    return number


def exact_number(data: Decimal) -> int | float:
    """A NUMBER is stored as a JSON number read back as a float: refuse one that would not come back as given
    (whether given over the API or taken from a channel)."""
    if not data.is_finite():
        raise ValueRejected("expected a finite number")
    if data == data.to_integral_value():
        if data.adjusted() >= WHOLE_DIGITS:  # refused before int() writes out what may be a billion digits
            raise ValueRejected(f"{integer_refused(data)}: {NUMBER_DIGITS_HINT}")
        return _exact_integer(int(data))
    number = float(data)
    if not math.isfinite(number) or Decimal(repr(number)) != data:
        stored = format(Decimal(repr(number)), "f") if math.isfinite(number) else str(number)
        raise ValueRejected(f"{data} would be stored as {stored}: {NUMBER_DIGITS_HINT}")
    return number


def _price(data: Any, spec: CatalogSpec) -> dict[str, str] | PriceChanges:
    if isinstance(data, PriceChanges):
        return _price_changes(data, spec)
    if not isinstance(data, dict) and not _is_plain_amount(data):
        default = f" in {spec.default_currency}" if spec.default_currency else ""
        raise ValueRejected(f'a price is {PRICE_FORMS}, or a plain amount{default} such as "12.50"')
    if not isinstance(data, dict):
        if spec.default_currency is None:
            raise ValueRejected(
                f"a plain amount needs a default currency: enable a currency first, or give {PRICE_FORMS}",
                ErrorCode.INVALID_CURRENCY,
            )
        return {spec.default_currency: checked_amount(data, "the price")}
    prices: dict[str, str] = {}
    for currency, amount in data.items():
        if not isinstance(currency, str) or not CURRENCY_PATTERN.match(currency):
            raise ValueRejected(
                f"'{echoed(str(currency))}' is not an ISO 4217 currency code", ErrorCode.INVALID_CURRENCY
            )
        if currency not in spec.currencies:
            raise ValueRejected(f"currency {currency} is not enabled in the catalog", ErrorCode.CURRENCY_NOT_ENABLED)
        if amount is None or amount == "":
            continue
        prices[currency] = checked_amount(amount, f"the {currency} amount")
    return prices


def _price_changes(changes: PriceChanges, spec: CatalogSpec) -> PriceChanges:
    """Amounts are checked as a price's are; a currency to clear only needs to be a currency code (one no
    longer enabled may still be stored)."""
    for currency in changes.cleared:
        if not CURRENCY_PATTERN.match(currency):
            raise ValueRejected(
                f"'{echoed(str(currency))}' is not an ISO 4217 currency code", ErrorCode.INVALID_CURRENCY
            )
    amounts = _price(dict(changes.amounts), spec)
    assert isinstance(amounts, dict)  # (a dict in, a dict out)
    return PriceChanges(amounts, changes.cleared)


def _boolean(data: Any, _spec: CatalogSpec) -> bool:
    if not isinstance(data, bool):
        raise ValueRejected("expected true or false (a JSON boolean, not a string)")
    return data


def _multiselect(data: Any, _spec: CatalogSpec) -> list[str]:
    if not isinstance(data, list) or not all(isinstance(item, str) and item for item in data):
        raise ValueRejected('expected a list of option codes, such as ["red", "blue"]')
    return list(dict.fromkeys(data))


def _date(data: Any, _spec: CatalogSpec) -> str:
    if not isinstance(data, str) or not DATE_PATTERN.match(data):
        raise ValueRejected('expected a date as YYYY-MM-DD, such as "2026-03-01"')
    try:
        date.fromisoformat(data)
    except ValueError as exc:
        raise ValueRejected(f"'{echoed(data)}' is not a calendar date") from exc
    return data


def _metric(data: Any, _spec: CatalogSpec) -> dict[str, str]:
    if isinstance(data, dict) and set(data) == {"unit"}:
        raise ValueRejected("a metric needs an amount beside its unit")
    if isinstance(data, dict) and set(data) == {"amount"}:
        raise ValueRejected("a metric needs a unit beside its amount, e.g. KILOGRAM")
    if not isinstance(data, dict) or set(data) != {"amount", "unit"}:
        raise ValueRejected('expected an amount and its unit, such as {"amount": "2.5", "unit": "KILOGRAM"}')
    unit = data["unit"]
    if not isinstance(unit, str) or not unit.strip():
        raise ValueRejected("a metric needs a unit, e.g. KILOGRAM")
    return {"amount": checked_amount(data["amount"], "the amount", signed=True), "unit": unit.strip().upper()}


NORMALISERS: dict[AttributeType, Callable[[Any, CatalogSpec], Any]] = {
    AttributeType.TEXT: _string,
    AttributeType.TEXTAREA: _string,
    AttributeType.IDENTIFIER: _string,
    AttributeType.SELECT: _string,
    AttributeType.IMAGE: _string,
    AttributeType.FILE: _string,
    AttributeType.NUMBER: _number,
    AttributeType.PRICE: _price,
    AttributeType.BOOLEAN: _boolean,
    AttributeType.MULTISELECT: _multiselect,
    AttributeType.DATE: _date,
    AttributeType.METRIC: _metric,
}


def normalise_data(attribute: AttributeSpec, data: Any, spec: CatalogSpec) -> Any:
    """The stored form of `data` for `attribute`, None for an empty value, or ValueRejected."""
    if is_empty(data):
        return None
    normalised = NORMALISERS[attribute.type](data, spec)
    _check_texts(normalised)
    return None if is_empty(normalised) else normalised


def _check_texts(data: Any) -> None:
    """Every text in stored data (a string, a list item, a unit) is storable on every database, and not huge."""
    texts = data if isinstance(data, list) else data.values() if isinstance(data, dict) else [data]
    for text in texts:
        if not isinstance(text, str):
            continue
        if "\x00" in text:
            raise ValueRejected("text cannot contain a NUL character (\\x00)")
        if len(text) > MAX_TEXT_LENGTH:
            raise ValueRejected(f"a text is at most {MAX_TEXT_LENGTH:,} characters, this one has {len(text):,}")


def _check_locale(attribute: AttributeSpec, locale: str | None, spec: CatalogSpec) -> str:
    if not attribute.localizable:
        if locale:
            raise ValueRejected(
                f"attribute {attribute.code} is not localizable: give no locale", ErrorCode.LOCALE_MISMATCH
            )
        return NO_LOCALE
    if not locale:
        raise ValueRejected(f"attribute {attribute.code} is localizable: give a locale", ErrorCode.LOCALE_MISMATCH)
    try:
        code = canonical_locale(locale)
    except InvalidLocaleCode as exc:
        raise ValueRejected(str(exc), ErrorCode.INVALID_LOCALE) from exc
    if code not in spec.locales:
        raise ValueRejected(f"locale {code} is not enabled in the catalog", ErrorCode.LOCALE_NOT_ENABLED)
    return code


def _check_scope(attribute: AttributeSpec, scope: str | None, spec: CatalogSpec) -> str:
    if not attribute.scopable:
        if scope:
            raise ValueRejected(f"attribute {attribute.code} is not scopable: give no scope", ErrorCode.SCOPE_MISMATCH)
        return NO_SCOPE
    if not scope:
        raise ValueRejected(f"attribute {attribute.code} is scopable: give a scope", ErrorCode.SCOPE_MISMATCH)
    if scope not in spec.scopes:
        raise ValueRejected(f"scope {echoed(scope)} is not enabled in the catalog", ErrorCode.SCOPE_NOT_ENABLED)
    return scope


def check_value(raw: Mapping[str, Any], spec: CatalogSpec) -> CheckedValue | UserErrorItem:
    """Check one value input ({attribute, locale, scope, data}); paths are relative to it."""
    shape_error = _check_shape(raw)
    if shape_error is not None:
        return shape_error
    attribute = spec.attributes.get(raw.get("attribute") or "")
    if attribute is None:
        return UserErrorItem(
            ("attribute",), f"unknown attribute '{echoed(str(raw.get('attribute')))}'", ErrorCode.UNKNOWN_ATTRIBUTE
        )
    try:
        locale = _check_locale(attribute, raw.get("locale"), spec)
    except ValueRejected as exc:
        return UserErrorItem(("locale",), str(exc), exc.code)
    try:
        scope = _check_scope(attribute, raw.get("scope"), spec)
    except ValueRejected as exc:
        return UserErrorItem(("scope",), str(exc), exc.code)
    try:
        data = normalise_data(attribute, raw.get("data"), spec)
    except ValueRejected as exc:
        message = f"{attribute.code} ({attribute.type.value}): {exc}"
        return UserErrorItem(("data",), message, exc.code)
    return CheckedValue(ValueKey(attribute.id, locale, scope), data)


def _check_shape(raw: Any) -> UserErrorItem | None:
    """A value input whose attribute, locale or scope is not text is refused before it is looked up."""
    if not isinstance(raw, Mapping):
        return UserErrorItem((), "a value is an object {attribute, locale, scope, data}", ErrorCode.VALUE_TYPE_MISMATCH)
    if not isinstance(raw.get("attribute"), str):
        return UserErrorItem(("attribute",), "attribute must be a code (a string)", ErrorCode.INVALID_CODE)
    for key, code in (("locale", ErrorCode.INVALID_LOCALE), ("scope", ErrorCode.INVALID_CODE)):
        if not isinstance(raw.get(key), str | None):
            return UserErrorItem((key,), f"{key} must be a code (a string) or null", code)
    return None
