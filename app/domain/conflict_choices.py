"""What a person's resolution of a conflict may name, and how a bulk rule carves a conflict up (pure).

A conflict's `fields` column is a list of
{"field", "attributeCode", "isLocaleSpecific", "direction", "diffs": [{"pimLocale", ...}]};
these helpers read and split it without touching anything else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.domain.conflicts import Resolution

FieldEntry = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class FieldOverride:
    """One per-field choice; `locales` None means every PIM locale of the field."""

    field: str
    resolution: Resolution
    locales: tuple[str, ...] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "resolution": self.resolution.value,
            "locales": None if self.locales is None else list(self.locales),
        }


def stored_resolution(resolution: Resolution, overrides: Sequence[FieldOverride] = ()) -> dict[str, Any]:
    """The `resolution` column as `choice_for` reads it."""
    return {"resolution": resolution.value, "overrides": [override.as_json() for override in overrides]}


def locales_of(entry: FieldEntry) -> list[str | None]:
    return [diff.get("pimLocale") for diff in entry.get("diffs") or ()]


@dataclass(frozen=True, slots=True)
class OverrideProblem:
    """An override naming what the conflict does not contain: `part` is "field" or "locales"."""

    index: int
    part: str
    message: str


def override_problems(fields: Sequence[FieldEntry], overrides: Sequence[FieldOverride]) -> list[OverrideProblem]:
    """Every override that names a field, or a PIM locale of a field, the conflict does not hold.

    Applying such an override would silently do nothing, which a person who
    chose it would take for done; so it is refused instead.
    """
    by_name = {entry["field"]: entry for entry in fields}
    problems: list[OverrideProblem] = []
    for index, override in enumerate(overrides):
        entry = by_name.get(override.field)
        if entry is None:
            known = ", ".join(by_name) or "none"
            problems.append(
                OverrideProblem(index, "field", f"field '{override.field}' is not in this conflict (it has: {known})")
            )
            continue
        held = [locale for locale in locales_of(entry) if locale is not None]
        missing = [locale for locale in override.locales or () if locale not in held]
        if missing:
            problems.append(
                OverrideProblem(
                    index,
                    "locales",
                    f"field '{override.field}' has no conflict in {', '.join(missing)} "
                    f"(it has: {', '.join(held) or 'no locale-specific values'})",
                )
            )
    return problems


@dataclass(frozen=True, slots=True)
class DiffSelector:
    """A bulk rule's reach inside a conflict: one channel field, one PIM locale, both, or everything."""

    field: str | None = None
    pim_locale: str | None = None

    @property
    def narrows(self) -> bool:
        return self.field is not None or self.pim_locale is not None

    def takes_field(self, entry: FieldEntry) -> bool:
        return self.field is None or entry["field"] == self.field

    def takes_diff(self, diff: Mapping[str, Any]) -> bool:
        return self.pim_locale is None or diff.get("pimLocale") == self.pim_locale


def split_fields(
    fields: Sequence[FieldEntry], selector: DiffSelector
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(what the selector reaches, the rest): each field keeps its metadata, its diffs partitioned.

    A field without diffs (a deleted product's conflict may list one) is
    reached only by a rule that names no locale.
    """
    chosen: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    for entry in fields:
        diffs = list(entry.get("diffs") or ())
        if not selector.takes_field(entry):
            rest.append(dict(entry))
            continue
        if not diffs:
            (rest if selector.pim_locale is not None else chosen).append(dict(entry))
            continue
        taken = [diff for diff in diffs if selector.takes_diff(diff)]
        left = [diff for diff in diffs if not selector.takes_diff(diff)]
        if taken:
            chosen.append({**entry, "diffs": taken})
        if left:
            rest.append({**entry, "diffs": left})
    return chosen, rest
