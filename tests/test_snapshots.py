"""Listing snapshots ({"fields": ..., "locales": ...}): reading, writing, and copying before a write (pure)."""

from __future__ import annotations

from typing import Any

from app.domain.channels import FieldType
from app.domain.conflicts import MISSING, Slot, copied, read, write
from app.domain.mappings import MappingDirection

TITLE_FR = Slot("title", "fr", "fr_FR", "name", MappingDirection.BOTH, FieldType.STRING)
TITLE_AR = Slot("title", "ar", "ar_AE", "name", MappingDirection.BOTH, FieldType.STRING)
PRICE = Slot("price", None, None, "price", MappingDirection.EXPORT, FieldType.DECIMAL)


def stored() -> dict[str, Any]:
    return {"fields": {"price": {"amount": "12.50", "currency": "EUR"}}, "locales": {"fr": {"title": "Chaise"}}}


def test_writes_to_a_copied_snapshot_leave_the_loaded_one_as_it_was() -> None:
    loaded = stored()
    copy = copied(loaded)
    write(copy, TITLE_FR, "Fauteuil")
    write(copy, TITLE_AR, "كرسي")
    write(copy, PRICE, MISSING)
    assert loaded == stored()
    assert read(copy, TITLE_FR) == "Fauteuil" and read(copy, TITLE_AR) == "كرسي"
    assert read(copy, PRICE) is MISSING


def test_a_copy_keeps_the_shape_it_was_given() -> None:
    assert copied({}) == {}
    assert copied(stored()) == stored()
    assert copied({"fields": None, "locales": {"fr": None}}) == {"fields": None, "locales": {"fr": None}}
