"""Conflict vocabulary and the three-way decision per field and locale (pure).

For every exported (field, channel locale) the listing keeps two snapshots:
`sent`, the PIM value last agreed with the channel, and `base`, what the
channel stored, read back after the write. When the channel's current value
is read (on sync or from a webhook), each slot is classified:

| PIM vs sent | channel vs base | outcome |
| same        | same            | NOTHING |
| changed     | same            | EXPORT |
| same        | changed         | DRIFT (IMPORT/BOTH take it in; EXPORT follows the strategy) |
| changed     | changed = PIM   | CONVERGED (take the channel's value as the new base) |
| changed     | changed != PIM  | CONFLICT (the strategy decides) |

Channel values are compared under the channel field's normalisation, so a
channel that reformats HTML or numbers does not make false conflicts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, DecimalException
from enum import StrEnum
from typing import Any, Final

from app.domain.channels import FieldType
from app.domain.connectors import ConflictStrategy
from app.domain.mappings import MappingDirection
from app.domain.scopes import VALUES_HIDDEN


class ResolutionStatus(StrEnum):
    PENDING = "PENDING"
    PIM_WINS = "PIM_WINS"
    CHANNEL_WINS = "CHANNEL_WINS"
    MERGED = "MERGED"
    DISMISSED = "DISMISSED"


class Resolution(StrEnum):
    """A choice for a field (and locale): PIM_WINS exports, CHANNEL_WINS keeps or imports, DISMISSED accepts both."""

    PIM_WINS = "PIM_WINS"
    CHANNEL_WINS = "CHANNEL_WINS"
    DISMISSED = "DISMISSED"


class ConflictType(StrEnum):
    FIELD_MISMATCH = "field_mismatch"
    DELETED_ON_CHANNEL = "deleted_on_channel"
    """The channel reported the product deleted (a delete webhook)."""
    MISSING_ON_CHANNEL = "missing_on_channel"
    """A read found no product for the stored external id, with no delete reported."""


class Outcome(StrEnum):
    NOTHING = "NOTHING"
    EXPORT = "EXPORT"
    DRIFT = "DRIFT"
    CONVERGED = "CONVERGED"
    CONFLICT = "CONFLICT"


def choice_for(stored: Mapping[str, Any], field: str, pim_locale: str | None) -> Resolution:
    """The resolution a person chose for one field and PIM locale.

    `stored` is the conflict's `resolution` column: {"resolution": <Resolution>,
    "overrides": [{"field", "resolution", "locales": [pim locale, ...] or None}]}.
    The last override naming the field (and the locale, or every locale)
    wins over the overall choice.
    """
    chosen = Resolution(stored["resolution"])
    for override in stored.get("overrides") or ():
        locales = override.get("locales")
        if override["field"] == field and (locales is None or pim_locale in locales):
            chosen = Resolution(override["resolution"])
    return chosen


def status_for(resolution: Resolution, *, overridden: bool) -> ResolutionStatus:
    """What a resolved conflict shows: MERGED when per-field overrides were given."""
    if overridden:
        return ResolutionStatus.MERGED
    return ResolutionStatus(resolution.value)


class Action(StrEnum):
    """What happens to one slot."""

    NONE = "NONE"
    SEND = "SEND"
    """Export the PIM value."""
    KEEP = "KEEP"
    """Leave the channel's value; it becomes the new base (and the PIM value the new `sent`)."""
    IMPORT = "IMPORT"
    """Write the channel's value into the PIM (IMPORT/BOTH mappings)."""
    HOLD = "HOLD"
    """Open (or keep) a conflict and send nothing for this slot."""


class _Missing:
    """No value at all (never sent, not read, not built): unlike None, which is an explicit empty value."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


@dataclass(frozen=True, slots=True)
class Slot:
    """One channel field in one channel locale (None: a field that is not locale specific)."""

    field: str
    channel_locale: str | None
    pim_locale: str | None
    """The PIM locale the value comes from or goes to; None for an attribute that is not localizable."""
    attribute_code: str
    direction: MappingDirection
    field_type: FieldType

    @property
    def imports(self) -> bool:
        return self.direction is not MappingDirection.EXPORT

    @property
    def exports(self) -> bool:
        return self.direction is not MappingDirection.IMPORT


def read(snapshot: Mapping[str, Any], slot: Slot) -> Any:
    """A slot's value in a {"fields": ..., "locales": ...} snapshot, or MISSING."""
    if slot.channel_locale is None:
        holder = snapshot.get("fields") or {}
    else:
        holder = (snapshot.get("locales") or {}).get(slot.channel_locale) or {}
    return holder.get(slot.field, MISSING)


def copied(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """A snapshot `write` can change while `snapshot` stays as it was: its dicts are copied, its values shared
    (`write` replaces a value, never changes one in place), at a tenth of a deep copy's cost."""
    result = dict(snapshot)
    if isinstance(fields := result.get("fields"), dict):
        result["fields"] = dict(fields)
    if isinstance(locales := result.get("locales"), dict):
        result["locales"] = {
            locale: dict(values) if isinstance(values, dict) else values for locale, values in locales.items()
        }
    return result


def write(snapshot: dict[str, Any], slot: Slot, value: Any) -> None:
    """Set a slot in a snapshot in place (MISSING removes it)."""
    if slot.channel_locale is None:
        holder = snapshot.setdefault("fields", {})
    else:
        holder = snapshot.setdefault("locales", {}).setdefault(slot.channel_locale, {})
    if value is MISSING:
        holder.pop(slot.field, None)
    else:
        holder[slot.field] = value


_BETWEEN_TAGS = re.compile(r">\s+<")
_SPACE = re.compile(r"\s+")
_VOID_CLOSE = re.compile(r"\s*/>")


def _text(value: Any) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFC", str(value))).strip()


def normalise(field_type: FieldType, value: Any) -> Any:
    """The form two values of one field are compared in: what a channel's reformatting does not change.

    Channels store "115.0" for "115.00", re-indent HTML and self-close
    <br/>, trim text and re-order tags; none of that is a change. Empty
    values (None, "", []) are all the same empty value.
    """
    if value is MISSING or value is None or value == "" or value == []:
        return None
    if field_type in (FieldType.DECIMAL, FieldType.INTEGER) and not isinstance(value, bool):
        # Else as text: NaN is not equal to itself (a channel's "NaN" left as it was would be a change at every
        # read), and "1e999999999" overflows normalize().
        try:
            number = Decimal(str(value).strip())
            if number.is_finite():
                return number.normalize()
        except DecimalException:
            pass
        return _text(value)
    if field_type is FieldType.BOOLEAN:
        return value if isinstance(value, bool) else _text(value).lower() in ("true", "1", "yes")
    if field_type is FieldType.HTML:
        return _VOID_CLOSE.sub(">", _BETWEEN_TAGS.sub("><", _text(value)))
    if field_type is FieldType.STRING_LIST:
        items = value if isinstance(value, list) else str(value).split(",")
        return tuple(sorted({_text(item) for item in items if _text(item)}))
    return _text(value)


def same(field_type: FieldType, left: Any, right: Any) -> bool:
    # Equal text normalises to equal values (normalise is a pure function of the text), so the common case,
    # a channel value unchanged since the base, skips normalising.
    if type(left) is str and type(right) is str and left == right:
        return True
    return bool(normalise(field_type, left) == normalise(field_type, right))


def classify(slot: Slot, *, pim: Any, sent: Any, base: Any, channel: Any) -> Outcome:
    """The three-way table for one slot (see the module's docstring).

    `pim` is MISSING when the PIM has nothing to say for the slot (an IMPORT
    mapping, a fallback the connector does not send, a held locale): then only
    the channel side counts, and a channel change is drift for a mapping that
    imports, and simply the new base for one that only exports. With no base yet (a product linked by SKU, or
    never read back), the channel has not "changed": the values converge or
    the PIM's goes out.
    """
    if pim is MISSING:
        empty = normalise(slot.field_type, channel) is None
        changed = not empty if base is MISSING else not same(slot.field_type, channel, base)
        if not changed:
            return Outcome.NOTHING
        return Outcome.DRIFT if slot.imports else Outcome.CONVERGED
    if base is MISSING:
        return Outcome.CONVERGED if same(slot.field_type, channel, pim) else Outcome.EXPORT
    channel_changed = not same(slot.field_type, channel, base)
    pim_changed = sent is MISSING or pim != sent
    if not channel_changed:
        return Outcome.EXPORT if pim_changed else Outcome.NOTHING
    if not pim_changed:
        return Outcome.DRIFT
    return Outcome.CONVERGED if same(slot.field_type, channel, pim) else Outcome.CONFLICT


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    status: ResolutionStatus | None = None
    """None: not a conflict; PENDING: held for a person; otherwise how the strategy resolved it."""


_NO_ACTION: Final = Decision(Action.NONE)
"""Shared (a Decision is immutable): most slots of every check decide nothing, and a new one costs a microsecond."""


def _channel_side(slot: Slot) -> Action:
    return Action.IMPORT if slot.imports else Action.KEEP


def decide(
    slot: Slot, outcome: Outcome, strategy: ConflictStrategy, *, pim_newer: Callable[[], bool | None]
) -> Decision:
    """What to do with one classified slot under the connector's strategy.

    Drift on an IMPORT/BOTH mapping is simply taken in; drift on an EXPORT
    mapping and a true conflict go to the strategy. NEWEST_WINS compares the
    PIM value's modification time with the channel's; when either is unknown
    it holds the slot for a person rather than guess.
    """
    if outcome is Outcome.NOTHING:
        return _NO_ACTION
    if outcome is Outcome.EXPORT:
        return Decision(Action.SEND)
    if outcome is Outcome.CONVERGED:
        return Decision(Action.KEEP)
    if outcome is Outcome.DRIFT and slot.imports:
        return Decision(Action.IMPORT)
    if strategy is ConflictStrategy.NEWEST_WINS:
        newer = pim_newer()
        if newer is None:
            return Decision(Action.HOLD, ResolutionStatus.PENDING)
        strategy = ConflictStrategy.PIM_WINS if newer else ConflictStrategy.CHANNEL_WINS
    if strategy is ConflictStrategy.PIM_WINS:
        return Decision(Action.SEND, ResolutionStatus.PIM_WINS)
    if strategy is ConflictStrategy.CHANNEL_WINS:
        return Decision(_channel_side(slot), ResolutionStatus.CHANNEL_WINS)
    return Decision(Action.HOLD, ResolutionStatus.PENDING)


def decide_chosen(slot: Slot, choice: Resolution) -> Decision:
    """A person's choice for a slot they were shown in conflict. No status: it is a decision being applied,
    not a new conflict to record. DISMISSED accepts both sides: the channel keeps its value, the PIM its own."""
    if choice is Resolution.PIM_WINS:
        return Decision(Action.SEND)
    if choice is Resolution.CHANNEL_WINS:
        return Decision(_channel_side(slot))
    return Decision(Action.KEEP)


def pim_is_newer(pim_modified: datetime | None, channel_modified: datetime | None) -> bool | None:
    """None when either time is unknown; a tie goes to the channel (the PIM value was there first)."""
    if pim_modified is None or channel_modified is None:
        return None
    return pim_modified > channel_modified


PRODUCT_FAILED = "failed: "
"""How a check that failed the product says so on a delivery or a resolution: its problems follow ("CHN-011: price:
the PIM cannot take the channel's value: '47,50' ..."), and these may quote the product's values."""

_PROBLEM_CODE = re.compile(r"(?:^|; )(CHN-\d{3}): ")


def apply_error_without_values(error: str) -> str:
    """A conflict's applyError as a caller without catalog.view reads it: the problems of a failed check keep their
    codes and lose their words, which may quote the product's values (VALUES_HIDDEN says where they went). What comes
    before them (CHN-041: the fields and locales left to the strategy) names no value and stays."""
    before, found, problems = error.partition(PRODUCT_FAILED)
    if not found:
        return error
    codes = ", ".join(dict.fromkeys(_PROBLEM_CODE.findall(problems)))
    return f"{before}{PRODUCT_FAILED}{codes} ({VALUES_HIDDEN})"
