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


@lru_cache(maxsize=2048)
def _decimal_pattern(code: str, places: int) -> NumberPattern:
    """The locale's decimal pattern showing exactly `places` decimals: 12.50 stays "12,50", not "12,5"."""
    pattern: NumberPattern = copy.copy(_babel_locale(code).decimal_formats[None])
    pattern.frac_prec = (places, places)
    return pattern


@lru_cache(maxsize=16384)
def _decimal_text(number: Decimal, places: int, code: str) -> str:
    numbering = _numbering(code, "default")
    try:
        text: str = _decimal_pattern(code, places).apply(number, numbering.locale, numbering_system=numbering.system)
    except ArithmeticError:  # more digits than Babel's default context holds: plain digits beat nothing
        text = format(number, "f")
    return text.translate(numbering.digits)


def _number_text(number: Decimal, code: str) -> str:
    exponent = number.as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return _decimal_text(number, places, code)


"""PIM unit codes with a CLDR unit, so templates say "1,5 kg" rather than "1,5 KILOGRAM"."""
_CLDR_UNITS: Mapping[str, str] = {
    "MILLIGRAM": "mass-milligram",
    "GRAM": "mass-gram",
    "KILOGRAM": "mass-kilogram",
    "OUNCE": "mass-ounce",
    "POUND": "mass-pound",
    "MILLIMETER": "length-millimeter",
    "CENTIMETER": "length-centimeter",
    "METER": "length-meter",
    "KILOMETER": "length-kilometer",
    "INCH": "length-inch",
    "FOOT": "length-foot",
    "MILLILITER": "volume-milliliter",
    "CENTILITER": "volume-centiliter",
    "LITER": "volume-liter",
    "WATT": "power-watt",
    "KILOWATT": "power-kilowatt",
    "VOLT": "electric-volt",
    "AMPERE": "electric-ampere",
}


@lru_cache(maxsize=4096)
def _measure_text(number_text: str, unit: str, code: str) -> str:
    cldr = _CLDR_UNITS.get(unit)
    if cldr is not None:
        try:
            return format_unit(number_text, cldr, "short", locale=_babel_locale(code))
        except UnknownUnitError:
            pass
    return f"{number_text} {unit}".strip()


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
        shown = str(value["amount"]) if amount is None else _number_text(amount, code)
        return _measure_text(shown, str(value.get("unit") or ""), code)
    if isinstance(value, list | tuple):
        items = [text for text in (_render(item, code) for item in value) if text]
        return format_list(items, locale=_babel_locale(code)) if items else ""
    return str(value)
