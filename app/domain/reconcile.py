"""One product's three-way check: every slot classified and decided, and what follows from it (pure).

The sync engine and webhook processing both call `reconcile` with the PIM's
sendable values, the listing's `sent` and `base` snapshots and the channel's
current state, and act on the result: send the SEND slots, write the IMPORT
ones into the PIM, take KEEP ones as the new base, and record conflicts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from app.domain.catalog import AttributeSpec, AttributeType
from app.domain.conflicts import (
    MISSING,
    Action,
    Decision,
    Outcome,
    Resolution,
    ResolutionStatus,
    Slot,
    classify,
    decide,
    decide_chosen,
    read,
    write,
)
from app.domain.connectors import ConflictStrategy
from app.domain.transformations import HTML_FORM_OF, HtmlForm, strip_html
from app.domain.values import ValueRejected, checked_amount, exact_number

Choose = Callable[[Slot, Any, Any], Resolution | None]
"""(slot, PIM value, channel value) -> a person's resolution for it, or None to let the strategy decide."""
AT_ODDS = frozenset({Outcome.CONFLICT, Outcome.DRIFT})


@dataclass(frozen=True, slots=True)
class SlotResult:
    slot: Slot
    outcome: Outcome
    decision: Decision
    pim: Any
    sent: Any
    base: Any
    channel: Any

    @property
    def action(self) -> Action:
        return self.decision.action


@dataclass(frozen=True, slots=True)
class Reconciliation:
    results: tuple[SlotResult, ...]

    def with_action(self, *actions: Action) -> list[SlotResult]:
        return [result for result in self.results if result.action in actions]

    def to_send(self) -> dict[str, Any]:
        """The PIM values of the SEND slots, as a partial document: every other field is left alone."""
        document: dict[str, Any] = {"fields": {}, "locales": {}}
        for result in self.with_action(Action.SEND):
            write(document, result.slot, result.pim)
        return document

    def unchanged_locales(self) -> dict[str, dict[str, Any]]:
        """The channel's own values of localizable slots with nothing to do (unchanged, or both sides reached the
        same value), per channel locale: see ChannelDocument.unchanged.

        The channel's value, not the PIM's: where the channel's was kept over the PIM's (CHANNEL_WINS), the two
        differ, and registering the PIM's would undo that decision.
        """
        document: dict[str, Any] = {"locales": {}}
        for result in self.results:
            # A converged slot is decided KEEP (its channel value becomes the base): it is agreed all the same.
            agreed = result.outcome is Outcome.CONVERGED or (
                result.outcome is Outcome.NOTHING and result.action is Action.NONE
            )
            held = result.channel not in (MISSING, None)
            if agreed and result.slot.channel_locale is not None and result.pim is not MISSING and held:
                write(document, result.slot, result.channel)
        return dict(document["locales"])

    @property
    def sends(self) -> bool:
        return any(result.action is Action.SEND for result in self.results)

    @property
    def held(self) -> list[SlotResult]:
        return [result for result in self.results if result.decision.status is ResolutionStatus.PENDING]

    def resolved_by_strategy(self) -> dict[ResolutionStatus, list[SlotResult]]:
        """Conflicts the connector's strategy decided, by how: each is recorded as a resolved Conflict."""
        found: dict[ResolutionStatus, list[SlotResult]] = {}
        for result in self.results:
            status = result.decision.status
            if status is not None and status is not ResolutionStatus.PENDING:
                found.setdefault(status, []).append(result)
        return found

    def held_parts(self) -> set[str]:
        """Parts ('' shared, else channel locale) with a held slot: their hashes must not move on."""
        return {result.slot.channel_locale or "" for result in self.held}


def reconcile(
    slots: Sequence[Slot],
    *,
    pim: Mapping[str, Any],
    sent: Mapping[str, Any],
    base: Mapping[str, Any],
    channel: Mapping[str, Any],
    strategy: ConflictStrategy,
    pim_newer: Callable[[Slot], bool | None],
    force: bool = False,
    choose: Choose | None = None,
) -> Reconciliation:
    """Classify and decide every slot. `force` re-sends PIM values that did not change (forceResync), where the
    channel last took the PIM's value: a slot whose base is the channel's own value kept over the PIM's (a
    CHANNEL_WINS decision) stays as decided.

    `choose` gives a person's resolution for a slot still at odds (conflict or drift), when it applies to the
    values now found; the strategy decides every other slot.
    """
    results = []
    for slot in slots:
        values = {
            "pim": read(pim, slot) if slot.exports else MISSING,
            "sent": read(sent, slot),
            "base": read(base, slot),
            "channel": read(channel, slot),
        }
        if values["channel"] is MISSING:
            values["channel"] = None
        outcome = classify(slot, **values)
        choice = choose(slot, values["pim"], values["channel"]) if choose and outcome in AT_ODDS else None
        if choice is not None:
            decision = decide_chosen(slot, choice)
        else:
            decision = decide(slot, outcome, strategy, pim_newer=lambda slot=slot: pim_newer(slot))  # type: ignore[misc]
        if force and decision.action is Action.NONE and values["pim"] is not MISSING and not _kept(values):
            decision = Decision(Action.SEND)
        results.append(SlotResult(slot, outcome, decision, **values))
    return Reconciliation(tuple(results))


def held_by_conflict(
    slots: Sequence[Slot],
    fields: Sequence[Mapping[str, Any]],
    *,
    pim: Mapping[str, Any],
    sent: Mapping[str, Any],
    base: Mapping[str, Any],
    strategy: ConflictStrategy,
    pim_newer: bool | None,
) -> set[tuple[str, str | None]]:
    """The (field, channel locale) slots a product's pending conflict still holds, as the next sync would decide
    them if the channel still has the values the conflict recorded: what a preview, which does not read the
    channel, can say. A slot the PIM has since aligned with the channel, or the strategy now decides, is not held.

    `fields` are the conflict's (`conflict_fields`); none (a product missing on the channel) holds every slot
    unless the strategy puts the product back (PIM_WINS), as the sync's check of a vanished product does.
    """
    if not fields:
        if strategy is ConflictStrategy.PIM_WINS:
            return set()
        return {(slot.field, slot.channel_locale) for slot in slots}
    recorded = {
        (entry["field"], diff["channelLocale"]): diff["channelValue"] for entry in fields for diff in entry["diffs"]
    }
    named = [slot for slot in slots if (slot.field, slot.channel_locale) in recorded]
    channel: dict[str, Any] = {}
    for slot in named:
        write(channel, slot, recorded[(slot.field, slot.channel_locale)])
    checked = reconcile(
        named, pim=pim, sent=sent, base=base, channel=channel, strategy=strategy, pim_newer=lambda _slot: pim_newer
    )
    return {(result.slot.field, result.slot.channel_locale) for result in checked.held}


def _kept(values: Mapping[str, Any]) -> bool:
    """The channel's value was kept over the PIM's unchanged one: agreed as sent, yet the channel holds another.

    (A value the channel only reformatted when it stored it looks the same; it needs no re-send either.)
    """
    return values["sent"] is not MISSING and values["pim"] == values["sent"] != values["base"]


def _json(value: Any) -> Any:
    return None if value is MISSING else value


def conflict_fields(results: Iterable[SlotResult]) -> list[dict[str, Any]]:
    """The `fields` of a Conflict: one entry per channel field, one diff per locale pair."""
    fields: dict[str, dict[str, Any]] = {}
    for result in results:
        slot = result.slot
        entry = fields.setdefault(
            slot.field,
            {
                "field": slot.field,
                "attributeCode": slot.attribute_code,
                "isLocaleSpecific": slot.channel_locale is not None,
                "direction": slot.direction.value,
                "diffs": [],
            },
        )
        entry["diffs"].append(
            {
                "pimLocale": slot.pim_locale,
                "channelLocale": slot.channel_locale,
                "baseValue": _json(result.base),
                "pimValue": _json(result.pim),
                "channelValue": _json(result.channel),
            }
        )
    return list(fields.values())


class NotImportable(ValueError):
    """A channel value that does not fit the PIM attribute it would go to."""


def imported_data(
    attribute: AttributeSpec,
    wire: Any,
    *,
    currency: str | None,
    existing: Any,
    unit: str | None = None,
    html: bool = False,
) -> Any:
    """A channel's wire value as the PIM stores it for `attribute` (see app.domain.values for the shapes).

    A price keeps its other currencies. A measure is in `unit`, the one the
    mapping's convertUnit sends it in, else in the PIM value's own unit. An
    empty channel value clears the PIM value (None), a price's only in the
    connector's currency, the one the channel held. From an `html` field, a
    plain-text attribute (TEXT, IDENTIFIER) takes the text the markup shows,
    one line per <br> or block: the way back of the escaping an export does,
    so "A &amp; B" comes back as "A & B", not as markup escaped again next time.
    """
    kind = attribute.type
    if wire is None or wire == "" or wire == []:
        if kind is AttributeType.PRICE and isinstance(existing, dict) and currency:
            return {code: amount for code, amount in existing.items() if code != currency} or None
        return None
    if kind in (AttributeType.PRICE, AttributeType.NUMBER, AttributeType.METRIC):
        amount = _decimal(wire)
        try:  # within the digits a PIM amount has, before "1e999999999" is written out as a billion of them
            if kind is AttributeType.PRICE:
                if not currency:
                    raise NotImportable("no currency to write the price in")
                price = checked_amount(amount, f"the {currency} amount")
                return {**(existing if isinstance(existing, dict) else {}), currency: price}
            if kind is AttributeType.METRIC:
                if unit is None and (not isinstance(existing, dict) or "unit" not in existing):
                    raise NotImportable(f"{attribute.code} has no unit to put the channel's amount in")
                return {"amount": checked_amount(amount, "the amount", signed=True), "unit": unit or existing["unit"]}
            return exact_number(amount)
        except ValueRejected as exc:
            raise NotImportable(str(exc)) from None
    if kind is AttributeType.BOOLEAN:
        if isinstance(wire, bool):
            return wire
        raise NotImportable(f"{attribute.code} takes true or false, the channel has {wire!r}")
    if kind is AttributeType.MULTISELECT:
        return [str(item) for item in wire] if isinstance(wire, list) else [str(wire)]
    text = wire if isinstance(wire, str) else str(wire)
    if html and HTML_FORM_OF[kind] is HtmlForm.PLAIN:
        return strip_html(text) or None
    return text


def _decimal(wire: Any) -> Decimal:
    """An amount the channel holds; NaN and Infinity, which Decimal reads too, are no amount a PIM value holds."""
    try:
        amount = Decimal(str(wire).strip())
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite():
        raise NotImportable(f"{wire!r} is not a number")
    return amount
