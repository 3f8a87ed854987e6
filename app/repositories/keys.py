"""Text keys a lookup is given: the same answer on SQLite and PostgreSQL for one no stored row can hold.

PostgreSQL refuses a NUL character in any text sent to it, even to compare
with: `product(sku: "a\\u0000b")` failed there with an internal error where
SQLite answered "no such product". Every write refuses NUL (app.domain.values,
app.domain.catalog), so no stored text holds one and such a key names nothing:
the condition says so without sending the key.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, false
from sqlalchemy.orm import InstrumentedAttribute

from app.domain.storable import holds_nul


def storable(text: str) -> bool:
    """Whether a stored text could equal `text`."""
    return not holds_nul(text)


def text_is(column: InstrumentedAttribute[str], key: str) -> ColumnElement[bool]:
    return column == key if storable(key) else false()


def text_in(column: InstrumentedAttribute[str], keys: Collection[str]) -> ColumnElement[bool]:
    return column.in_([key for key in keys if storable(key)])
