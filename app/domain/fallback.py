"""Reading one value the way a channel or a reader wants it: along the locale chain (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.db.models import NO_LOCALE, NO_SCOPE
from app.domain.catalog import AttributeSpec
from app.domain.locales import locale_chain
from app.domain.values import ValueKey


@dataclass(frozen=True, slots=True)
class FoundValue:
    data: Any
    locale: str | None
    """The locale the value was authored in (None for a non-localizable attribute)."""


def lookup_value(
    values: Mapping[ValueKey, Any],
    attribute: AttributeSpec,
    *,
    locale: str | None,
    scope: str | None,
    default_locale: str | None,
) -> FoundValue | None:
    """The value for `locale`, else for the first locale of its chain that has one (ar_AE -> ar -> default).

    A non-localizable attribute ignores `locale`; `scope` applies only to a
    scopable attribute. No locale on a localizable attribute reads the default.
    """
    scope_key = (scope or NO_SCOPE) if attribute.scopable else NO_SCOPE
    if not attribute.localizable:
        data = values.get(ValueKey(attribute.id, NO_LOCALE, scope_key))
        return None if data is None else FoundValue(data, None)
    start = locale or default_locale
    if start is None:
        return None
    for candidate in locale_chain(start, default_locale):
        data = values.get(ValueKey(attribute.id, candidate, scope_key))
        if data is not None:
            return FoundValue(data, candidate)
    return None
