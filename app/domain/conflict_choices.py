"""What a person's resolution of a conflict may name, and how a bulk rule carves a conflict up (pure).

A conflict's `fields` column is a list of
{"field", "attributeCode", "isLocaleSpecific", "direction", "diffs": [{"pimLocale", ...}]};
these helpers read and split it without touching anything else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.domain.conflicts import MISSING, Resolution, Slot, choice_for, same
from app.domain.storable import echoed

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


def dismisses_only(stored: Mapping[str, Any]) -> bool:
    """Whether a stored resolution (see `stored_resolution`) only dismisses: it writes nothing on either side, so it
    can be carried out even for a product deleted from the catalog since."""
    choices = [stored["resolution"], *(override["resolution"] for override in stored.get("overrides") or ())]
    return all(choice == Resolution.DISMISSED.value for choice in choices)


def deleted_product(sku: str) -> str:
    """Why a conflict of a product deleted from the catalog since cannot be decided PIM_WINS or CHANNEL_WINS."""
    return (
        f"product {echoed(sku)} was deleted from the catalog since this conflict was detected: there is nothing left "
        "to export, nor to take the channel's values into; dismiss the conflict (DISMISSED) to take it off the queue"
    )


def locales_of(entry: FieldEntry) -> list[str | None]:
    return [diff.get("pimLocale") for diff in entry.get("diffs") or ()]


@dataclass(frozen=True, slots=True)
class OverrideProblem:
    """An override the conflict cannot take: `part` is "field", "locales", or None for the override as a whole."""

    index: int
    part: str | None
    message: str


def override_problems(fields: Sequence[FieldEntry], overrides: Sequence[FieldOverride]) -> list[OverrideProblem]:
    """Every override that names a field, or a PIM locale of a field, the conflict does not hold, that names
    no locale at all (`locales: []`), or that names a field and locale an earlier override already names.

    Applying such an override would silently do nothing, or let the order of
    the list pick between two choices, which a person who chose it would take
    for done; so it is refused instead.
    """
    by_name = {entry["field"]: entry for entry in fields}
    named: dict[tuple[str, str | None], int] = {}
    problems: list[OverrideProblem] = []
    for index, override in enumerate(overrides):
        problem = _unheld(index, override, by_name)
        if problem is None:
            problem = _named_again(index, override, by_name[override.field], named)
        if problem is not None:
            problems.append(problem)
    return problems


def _unheld(index: int, override: FieldOverride, by_name: Mapping[str, FieldEntry]) -> OverrideProblem | None:
    """The problem of an override naming no locale, or a field or PIM locale the conflict does not hold."""
    entry = by_name.get(override.field)
    if entry is None:
        known = ", ".join(by_name) or "none"
        return OverrideProblem(
            index, "field", f"field '{echoed(override.field)}' is not in this conflict (it has: {known})"
        )
    if override.locales is not None and not override.locales:
        message = f"the override of '{echoed(override.field)}' names no locale (leave locales out for every locale)"
        return OverrideProblem(index, "locales", message)
    held = [locale for locale in locales_of(entry) if locale is not None]
    missing = [locale for locale in override.locales or () if locale not in held]
    if not missing:
        return None
    if not held:  # its diffs are per channel locale, but one PIM value feeds them all: no locale can differ
        attribute = entry.get("attributeCode") or "one attribute"
        message = (
            f"field '{echoed(override.field)}' is fed by {attribute}, whose value is the same in every locale: decide it "
            "for every locale at once (leave locales out)"
        )
        return OverrideProblem(index, "locales", message)
    return OverrideProblem(
        index,
        "locales",
        f"field '{echoed(override.field)}' has no conflict in {', '.join(missing)} "
        f"(it has: {', '.join(held) or 'no locale-specific values'})",
    )


def _named_again(
    index: int, override: FieldOverride, entry: FieldEntry, named: dict[tuple[str, str | None], int]
) -> OverrideProblem | None:
    """The problem of an override deciding a (field, PIM locale) an earlier one decides; else records its own.

    No locales means every locale the field holds (None for a value that is not localizable).
    """
    locales: Sequence[str | None] = override.locales if override.locales is not None else locales_of(entry) or [None]
    slots = [(override.field, locale) for locale in dict.fromkeys(locales)]
    taken = [slot for slot in slots if slot in named]
    if taken:
        again = ", ".join(locale for _, locale in taken if locale is not None)
        where = f" in {again}" if again else ""
        earlier = sorted({named[slot] for slot in taken})
        by = f"override {earlier[0]}" if len(earlier) == 1 else f"overrides {', '.join(map(str, earlier))}"
        message = f"field '{echoed(override.field)}'{where} is already decided by {by}: name each field and locale once"
        return OverrideProblem(index, None, message)
    named.update((slot, index) for slot in slots)
    return None


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


@dataclass
class ChosenSlots:
    """A resolved conflict as the check that applies it asks: what did the person choose for this slot?

    A choice holds only for the values the person was shown: a slot whose
    PIM or channel value changed since is left to the connector's strategy
    (with MANUAL, a new conflict), and is listed in `stale`.
    """

    fields: Sequence[FieldEntry]
    stored: Mapping[str, Any]
    """The conflict's `resolution` column."""
    vanished: bool = False
    """The conflict was about the product missing or deleted on the channel: `overall` decides its fate."""
    stale: list[str] = field(default_factory=list)
    """"field (PIM locale)" of every slot whose values moved on since the resolution."""

    def __call__(self, slot: Slot, pim: Any, channel: Any) -> Resolution | None:
        diff = self._diff(slot)
        if diff is None:
            return None
        shown_pim, shown_channel = diff.get("pimValue"), diff.get("channelValue")
        pim = None if pim is MISSING else pim
        if not (same(slot.field_type, pim, shown_pim) and same(slot.field_type, channel, shown_channel)):
            self.stale.append(_diff_name(slot.field, slot.pim_locale or slot.channel_locale))
            return None
        return choice_for(self.stored, slot.field, slot.pim_locale)

    def unreached(self, compared: Iterable[Slot]) -> list[str]:
        """The names ("title (ar_AE)") of every diff the check had no slot for, so whose choice was not carried out: its
        field or locale is no longer mapped on the connector, or the product was not compared at all (taken off
        the channel since)."""
        seen = {(slot.field, slot.channel_locale, slot.pim_locale) for slot in compared}
        return [
            _diff_name(entry["field"], diff.get("pimLocale") or diff.get("channelLocale"))
            for entry in self.fields
            for diff in entry.get("diffs") or ()
            if (entry["field"], diff.get("channelLocale"), diff.get("pimLocale")) not in seen
        ]

    @property
    def overall(self) -> Resolution:
        """The choice for the product as a whole: what a deleted or missing product's conflict decides."""
        return Resolution(self.stored["resolution"])

    def _diff(self, slot: Slot) -> Mapping[str, Any] | None:
        for entry in self.fields:
            if entry["field"] != slot.field:
                continue
            for diff in entry.get("diffs") or ():
                if diff.get("pimLocale") == slot.pim_locale and diff.get("channelLocale") == slot.channel_locale:
                    return diff  # type: ignore[no-any-return]
        return None


def _diff_name(field: str, locale: str | None) -> str:
    """How a person's choice for one diff is named in `apply_error`: "title (ar_AE)", "price (all locales)"."""
    return f"{field} ({locale or 'all locales'})"
