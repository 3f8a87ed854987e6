"""The valueMap step: text, option codes (or each item of a list) or true/false mapped, per PIM locale along its
chain. A true/false value is looked up as "true" or "false", so a BOOLEAN attribute can feed a choice field."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain.locales import InvalidLocaleCode, locale_chain
from app.domain.transformations.model import TransformationError, TransformContext

UNMAPPED_POLICIES = ("keep", "drop", "error")
TRUE_FALSE = ("true", "false")
"""The keys a true/false attribute's valueMap takes: its values as text."""


@dataclass(frozen=True, slots=True)
class _ValueMap:
    plain: Mapping[str, str]
    localized: Mapping[str, Mapping[str, str]]
    """code -> canonical locale (or "*") -> text."""
    unmapped: str
    _tables: dict[str, Mapping[str, str]] = field(default_factory=dict, compare=False, repr=False)
    """Per PIM locale, every entry resolved along that locale's chain: a memo, filled on first use."""

    def __call__(self, value: Any, ctx: TransformContext) -> Any:
        if value is None:
            return None
        table = self._tables.get(ctx.pim_locale) if self.localized else self.plain
        if table is None:
            table = self._resolve(ctx.pim_locale)
        if isinstance(value, str):
            return self._one(table, value, ctx)
        if isinstance(value, list):
            mapped = (self._one(table, item, ctx) for item in value)
            return list(dict.fromkeys(item for item in mapped if item is not None))
        if isinstance(value, bool):
            return self._one(table, TRUE_FALSE[0] if value else TRUE_FALSE[1], ctx)
        raise TransformationError(f"valueMap takes text, a list or true/false, got {type(value).__name__}")

    def _one(self, table: Mapping[str, str], value: str, ctx: TransformContext) -> str | None:
        mapped = table.get(value)
        if mapped is not None or self.unmapped == "keep":
            return value if mapped is None else mapped
        if self.unmapped == "drop":
            return None
        raise TransformationError(f"valueMap has no entry for '{value}' in {ctx.pim_locale or 'any locale'}")

    def _resolve(self, pim_locale: str) -> Mapping[str, str]:
        try:
            chain = (*locale_chain(pim_locale, None), "*") if pim_locale else ("*",)
        except InvalidLocaleCode as exc:
            raise TransformationError(str(exc)) from exc
        table = dict(self.plain)
        for code, texts in self.localized.items():
            found = next((texts[locale] for locale in chain if locale in texts), None)
            if found is not None:
                table[code] = found
        self._tables[pim_locale] = table
        return table
