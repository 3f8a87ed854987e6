"""Money steps: applyTax, round and formatCurrency, computed in exact decimals whoever calls them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from functools import lru_cache
from typing import Any

from babel.numbers import get_currency_precision

from app.domain.errors import ErrorCode
from app.domain.transformations.formatting import _currency_pattern, _number, _numbering
from app.domain.transformations.model import TransformationError, TransformContext

TAX_OPTIONS = ("taxRate", "pricesIncludeTax", "output", "roundingMode", "decimals")
ROUNDING_MODES: Mapping[str, str] = {
    "HALF_UP": ROUND_HALF_UP,
    "HALF_EVEN": ROUND_HALF_EVEN,
    "HALF_DOWN": ROUND_HALF_DOWN,
    "UP": ROUND_UP,
    "DOWN": ROUND_DOWN,
    "CEILING": ROUND_CEILING,
    "FLOOR": ROUND_FLOOR,
}
MAX_DECIMALS = 6
NUMBERING_SYSTEMS = ("default", "latn", "native")

"""Every computation runs in this context, not the thread's, so results never depend on who called; 60 digits
keep products of two 28-digit amounts exact, and a value too large to round raises instead of going wrong."""
_DECIMAL = Context(prec=60, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])


def currency_decimals(currency: str | None) -> int:
    """The decimals `currency` is written with (CLDR: 2 for EUR, 3 for KWD, 0 for JPY); 2 without a currency."""
    return min(get_currency_precision(currency), MAX_DECIMALS) if currency else 2


@lru_cache(maxsize=16384)
def _currency_text(amount: Decimal, currency: str, code: str, choice: str, rounding: str) -> str:
    """Babel rounds to the currency's digits in the thread's decimal context (HALF_EVEN unless a caller changed
    it): it runs in ours, with the mapping's rounding mode, so the text never depends on who formatted first."""
    numbering = _numbering(code, choice)
    pattern = _currency_pattern(code, choice)
    try:
        with localcontext(_DECIMAL, rounding=rounding):
            text: str = pattern.apply(amount, numbering.locale, currency=currency, numbering_system=numbering.system)
    except ArithmeticError as exc:
        raise TransformationError(f"{amount} has too many digits to format as money") from exc
    return text.translate(numbering.digits)


@dataclass(frozen=True, slots=True)
class _ApplyTax:
    factor: Decimal | None
    """1 + rate, or None when prices are already what the channel wants (only rounding is left)."""
    multiply: bool
    quantum: Decimal
    rounding: str

    def __call__(self, value: Any, ctx: TransformContext) -> Decimal | None:
        if value is None:
            return None
        amount = _number(value, "applyTax", ErrorCode.TAX_CALCULATION_ERROR)
        try:
            if self.factor is not None:
                op = _DECIMAL.multiply if self.multiply else _DECIMAL.divide
                amount = op(amount, self.factor)
            return amount.quantize(self.quantum, rounding=self.rounding, context=_DECIMAL)
        except ArithmeticError as exc:
            raise TransformationError(f"tax on {amount} failed: {exc!r}", ErrorCode.TAX_CALCULATION_ERROR) from exc


@dataclass(frozen=True, slots=True)
class _Round:
    quantum: Decimal
    rounding: str

    def __call__(self, value: Any, ctx: TransformContext) -> Any:
        if value is None:
            return None
        if isinstance(value, Mapping):
            return {**value, "amount": self._round(value.get("amount"))}
        return self._round(value)

    def _round(self, value: Any) -> Decimal:
        number = _number(value, "round", ErrorCode.MAPPING_INVALID)
        try:
            return number.quantize(self.quantum, rounding=self.rounding, context=_DECIMAL)
        except ArithmeticError as exc:
            raise TransformationError(f"{number} has too many digits to round") from exc


@dataclass(frozen=True, slots=True)
class _FormatCurrency:
    locale: str
    """A canonical locale code, or "pim" / "channel" for the locale being built."""
    numbering: str
    rounding: str = ROUND_HALF_UP
    """How an amount with more decimals than the currency has is rounded: as the mapping's last round or applyTax
    step rounds, HALF_UP (their default) without one."""

    def __call__(self, value: Any, ctx: TransformContext) -> str | None:
        if value is None:
            return None
        if not ctx.currency:
            raise TransformationError("formatCurrency needs the connector's currency: set settings.currency")
        amount = _number(value, "formatCurrency", ErrorCode.MAPPING_INVALID)
        locale = self.locale
        if locale == "pim" or (locale == "channel" and not ctx.channel_locale):
            locale = ctx.pim_locale
        elif locale == "channel":
            locale = ctx.channel_locale
        return _currency_text(amount, ctx.currency, locale, self.numbering, self.rounding)
