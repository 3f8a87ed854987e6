"""Numbers and locales: values read as exact Decimals, and numbers, measures and lists written the way a locale
writes them, with its own digits (Babel, memoised per locale)."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.lists import format_list
from babel.numbers import NumberPattern
from babel.units import UnknownUnitError, format_unit

from app.domain.errors import ErrorCode
from app.domain.locales import InvalidLocaleCode, canonical_locale
from app.domain.transformations.model import TransformationError


def _as_decimal(value: Any) -> Decimal | None:
    """`value` as an exact Decimal (floats through repr, as values.py stores them), or None if not a finite number."""
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float) and math.isfinite(value):
        return Decimal(repr(value))
    return None


def _number(value: Any, step: str, code: ErrorCode) -> Decimal:
    number = _as_decimal(value)
    if number is None:
        raise TransformationError(f"{step} needs a number, got {type(value).__name__} {value!r}", code)
    return number


def _decimal_or_none(raw: Any) -> Decimal | None:
    if isinstance(raw, str):
        try:
            return _as_decimal(Decimal(raw.strip()))
        except InvalidOperation:
            return None
    return _as_decimal(raw)


def _is_int(raw: Any) -> bool:
    return isinstance(raw, int) and not isinstance(raw, bool)


@lru_cache(maxsize=512)
def _babel_locale(code: str) -> Locale:
    """Parsed once per code; no locale (a catalog without any) formats as plain English."""
    try:
        return Locale.parse(canonical_locale(code) if code else "en")
    except InvalidLocaleCode as exc:
        raise TransformationError(str(exc)) from exc


"""First digit of the numbering systems CLDR locales use: Babel swaps in a system's separators but keeps ASCII
digits, so the digits are swapped here."""
_ZERO_DIGITS: Mapping[str, int] = {
    "arab": 0x660,
    "arabext": 0x6F0,
    "beng": 0x9E6,
    "deva": 0x966,
    "gujr": 0xAE6,
    "guru": 0xA66,
    "knda": 0xCE6,
    "khmr": 0x17E0,
    "laoo": 0xED0,
    "mlym": 0xD66,
    "mymr": 0x1040,
    "orya": 0xB66,
    "tamldec": 0xBE6,
    "telu": 0xC66,
    "thai": 0xE50,
    "tibt": 0xF20,
}


@dataclass(frozen=True, slots=True)
class _Numbering:
    locale: Locale
    system: str
    digits: Mapping[int, int]


@lru_cache(maxsize=512)
def _numbering(code: str, choice: str) -> _Numbering:
    locale = _babel_locale(code)
    if choice == "latn":
        system = "latn"
    elif choice == "native":
        system = locale.other_numbering_systems.get("native", locale.default_numbering_system)
    else:
        system = locale.default_numbering_system
    zero = _ZERO_DIGITS.get(system)
    if zero is None or system not in locale.number_symbols:
        return _Numbering(locale, "latn", {})
    return _Numbering(locale, system, str.maketrans("0123456789", "".join(chr(zero + i) for i in range(10))))


def _signed(pattern: NumberPattern, numbering: _Numbering) -> NumberPattern:
    """A copy of `pattern` writing a negative number with the numbering system's own minus sign, as CLDR has it:
    Babel leaves the pattern's ASCII hyphen, and Hebrew and Arabic write theirs with a direction mark (a
    right-to-left storefront would otherwise show "5-"), Persian a real minus."""
    sign = numbering.locale.number_symbols[numbering.system].get("minusSign", "-")
    signed = copy.copy(pattern)
    signed.prefix = (pattern.prefix[0], pattern.prefix[1].replace("-", sign))
    signed.suffix = (pattern.suffix[0], pattern.suffix[1].replace("-", sign))
    return signed


@lru_cache(maxsize=2048)
def _decimal_pattern(code: str, places: int) -> NumberPattern:
    """The locale's decimal pattern showing exactly `places` decimals: 12.50 stays "12,50", not "12,5"."""
    pattern = _signed(_babel_locale(code).decimal_formats[None], _numbering(code, "default"))
    pattern.frac_prec = (places, places)
    return pattern


@lru_cache(maxsize=512)
def _currency_pattern(code: str, choice: str) -> NumberPattern:
    """The locale's money pattern, its minus sign the numbering system's."""
    numbering = _numbering(code, choice)
    return _signed(numbering.locale.currency_formats["standard"], numbering)


@lru_cache(maxsize=16384)
def _decimal_text(number: Decimal, places: int, code: str) -> str:
    numbering = _numbering(code, "default")
    try:
        text: str = _decimal_pattern(code, places).apply(number, numbering.locale, numbering_system=numbering.system)
    except ArithmeticError:  # more digits than Babel's default context holds: plain digits beat nothing
        text = format(number, "f")
    return text.translate(numbering.digits)


def _places(number: Decimal) -> int:
    """The decimals `number` is written with: 12.50 shows two."""
    exponent = number.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _number_text(number: Decimal, code: str) -> str:
    return _decimal_text(number, _places(number), code)


"""PIM unit codes with a CLDR unit, so templates say "1,5 kg" rather than "1,5 KILOGRAM"."""
_CLDR_UNITS: Mapping[str, str] = {
    "MILLIGRAM": "mass-milligram",
    "GRAM": "mass-gram",
    "KILOGRAM": "mass-kilogram",
    "OUNCE": "mass-ounce",
    "POUND": "mass-pound",
    "TON": "mass-tonne",
    "MILLIMETER": "length-millimeter",
    "CENTIMETER": "length-centimeter",
    "DECIMETER": "length-decimeter",
    "METER": "length-meter",
    "KILOMETER": "length-kilometer",
    "INCH": "length-inch",
    "FEET": "length-foot",
    "YARD": "length-yard",
    "MILE": "length-mile",
    "MILLILITER": "volume-milliliter",
    "CENTILITER": "volume-centiliter",
    "LITER": "volume-liter",
    "WATT": "power-watt",
    "KILOWATT": "power-kilowatt",
    "VOLT": "electric-volt",
    "AMPERE": "electric-ampere",
}


@lru_cache(maxsize=4096)
def _measure_text(amount: Decimal, places: int, unit: str, code: str) -> str:
    """`amount` in `unit` the locale's way. Babel is given the number, not its text: the unit's wording depends on
    it (Arabic "500 غرام" but "قدم" for one foot; Russian "12 дюймов"), and text would be taken as a singular."""
    cldr = _CLDR_UNITS.get(unit)
    if cldr is not None:
        numbering = _numbering(code, "default")
        pattern = _decimal_pattern(code, places)
        try:
            text: str = format_unit(
                amount,
                cldr,
                "short",
                format=pattern,  # type: ignore[arg-type]  # Babel passes a NumberPattern through as it is
                locale=numbering.locale,
                numbering_system=numbering.system,
            )
        except (UnknownUnitError, ArithmeticError):
            pass
        else:
            return text.translate(numbering.digits)
    return f"{_decimal_text(amount, places, code)} {unit}".strip()


def _render(value: Any, code: str) -> str:
    """A working value as template text for the locale `code`."""
    if value is None or isinstance(value, str):
        return value or ""
    if isinstance(value, bool):
        return "true" if value else "false"
    number = _as_decimal(value)
    if number is not None:
        return _number_text(number, code)
    if isinstance(value, Mapping) and "amount" in value:
        amount = _as_decimal(value["amount"])
        unit = str(value.get("unit") or "")
        if amount is None:
            return f"{value['amount']} {unit}".strip()
        return _measure_text(amount, _places(amount), unit, code)
    if isinstance(value, list | tuple):
        items = [text for text in (_render(item, code) for item in value) if text]
        return format_list(items, locale=_babel_locale(code)) if items else ""
    return str(value)
