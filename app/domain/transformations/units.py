"""The convertUnit step: a measure put in the one unit a channel field takes, exactly, with Decimal.

Unit codes are Akeneo's (its measure.yml, and the `*-unit` columns of its exports: GRAM, KILOGRAM, INCH ...),
each with its exact size in the dimension's base unit, so a conversion is one multiplication and one division.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, Inexact
from typing import Any

from app.domain.errors import ErrorCode
from app.domain.transformations.model import TransformationError, TransformContext

MASS: Mapping[str, Decimal] = {
    "MILLIGRAM": Decimal("0.001"),
    "GRAM": Decimal("1"),
    "KILOGRAM": Decimal("1000"),
    "TON": Decimal("1000000"),
    "OUNCE": Decimal("28.349523125"),
    "POUND": Decimal("453.59237"),
}
"""Grams per unit: Akeneo's TON is the metric tonne; the ounce and pound are the international avoirdupois ones."""
LENGTH: Mapping[str, Decimal] = {
    "MILLIMETER": Decimal("1"),
    "CENTIMETER": Decimal("10"),
    "DECIMETER": Decimal("100"),
    "METER": Decimal("1000"),
    "KILOMETER": Decimal("1000000"),
    "INCH": Decimal("25.4"),
    "FEET": Decimal("304.8"),
    "YARD": Decimal("914.4"),
    "MILE": Decimal("1609344"),
}
"""Millimetres per unit (Akeneo spells the foot FEET)."""
DIMENSIONS: Mapping[str, Mapping[str, Decimal]] = {"mass": MASS, "length": LENGTH}
DIMENSION_OF: Mapping[str, str] = {unit: name for name, table in DIMENSIONS.items() for unit in table}
"""Every unit convertUnit knows, and the dimension it measures."""

_SIGNIFICANT = 20
"""Digits kept when a conversion does not end (grams to ounces): far beyond any channel's precision; a `round`
step after convertUnit says how many decimals the channel gets."""
_WIDE = Context(prec=60, rounding=ROUND_HALF_EVEN)
"""Wide enough that a stored amount (28 digits at most) times a factor is exact."""
_EXACT = Context(prec=60, rounding=ROUND_HALF_EVEN, traps=[Inexact])
_ROUNDED = Context(prec=_SIGNIFICANT, rounding=ROUND_HALF_EVEN)


def convert(amount: Decimal, unit: str, target: str) -> Decimal:
    """`amount` in `unit` as an amount in `target` (same dimension), or TransformationError (CHN-011) naming the unit."""
    if unit == target:
        return amount
    dimension = DIMENSION_OF[target]
    if DIMENSION_OF.get(unit) != dimension:
        what = f"a {DIMENSION_OF[unit]}" if unit in DIMENSION_OF else "a unit convertUnit does not know"
        raise TransformationError(
            f"the value is in {unit or 'no unit'} ({what}), so it cannot be converted to {target} (a {dimension})",
            ErrorCode.FIELD_TYPE_MISMATCH,
        )
    table = DIMENSIONS[dimension]
    base = _WIDE.multiply(amount, table[unit])
    try:
        converted = _EXACT.divide(base, table[target])
    except Inexact:
        converted = _ROUNDED.divide(base, table[target])
    return _plain(converted)


def _plain(number: Decimal) -> Decimal:
    """Without the trailing zeros a conversion leaves (1.5 kg is 1500 g, not 1500.000 g), never in exponent form."""
    normal = number.normalize(_WIDE)
    exponent = normal.as_tuple().exponent
    return normal.quantize(Decimal(1), context=_WIDE) if isinstance(exponent, int) and exponent > 0 else normal


@dataclass(frozen=True, slots=True)
class _ConvertUnit:
    unit: str

    def __call__(self, value: Any, ctx: TransformContext) -> Any:
        if value is None:
            return None
        if not isinstance(value, Mapping) or not isinstance(value.get("amount"), Decimal):
            raise TransformationError(f"convertUnit takes a measure, got {value!r}", ErrorCode.FIELD_TYPE_MISMATCH)
        unit = str(value.get("unit") or "")
        return {**value, "amount": convert(value["amount"], unit, self.unit), "unit": self.unit}
