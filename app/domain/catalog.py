"""The catalog's vocabulary: attribute types and a read-only snapshot of a tenant's catalog set-up."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

CODE_PATTERN = re.compile(r"^[A-Za-z0-9_]{1,100}$")
MAX_SKU_LENGTH = 255


class AttributeType(StrEnum):
    TEXT = "TEXT"
    TEXTAREA = "TEXTAREA"
    NUMBER = "NUMBER"
    PRICE = "PRICE"
    BOOLEAN = "BOOLEAN"
    SELECT = "SELECT"
    MULTISELECT = "MULTISELECT"
    DATE = "DATE"
    IMAGE = "IMAGE"
    FILE = "FILE"
    IDENTIFIER = "IDENTIFIER"
    METRIC = "METRIC"


"""Types whose values feed product search alongside the SKU."""
SEARCHABLE_TYPES = frozenset({AttributeType.TEXT, AttributeType.IDENTIFIER})
UNICODE_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
"""Unicode's space separators (category Zs) other than the plain space: no-break, thin, narrow no-break, ..."""
_AS_SPACE = str.maketrans(dict.fromkeys(UNICODE_SPACES, " "))


def search_form(text: str) -> str:
    """Text as product search compares it: casefolded, each Unicode space a plain one.

    Akeneo's texts hold no-break spaces (French typography, "Smart\u00a0TV"): a search typed with a plain
    space must find them. One character for one, so a stored search text can be rebuilt in SQL (migration 0009).
    """
    return text.translate(_AS_SPACE).casefold()


@dataclass(frozen=True, slots=True)
class AttributeSpec:
    id: int
    code: str
    type: AttributeType
    localizable: bool
    scopable: bool


@dataclass(frozen=True, slots=True)
class CatalogSpec:
    """What product values are checked against: attributes, enabled locales, scopes and currencies.

    The first enabled locale and currency are the catalog's defaults.
    """

    attributes: dict[str, AttributeSpec] = field(default_factory=dict)
    locales: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    by_id: dict[int, AttributeSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_id", {spec.id: spec for spec in self.attributes.values()})

    @property
    def default_locale(self) -> str | None:
        return self.locales[0] if self.locales else None

    @property
    def default_currency(self) -> str | None:
        return self.currencies[0] if self.currencies else None


def is_valid_code(code: str) -> bool:
    return bool(CODE_PATTERN.match(code))


def is_valid_sku(sku: str) -> bool:
    return 0 < len(sku) <= MAX_SKU_LENGTH and sku == sku.strip() and sku.isprintable()
