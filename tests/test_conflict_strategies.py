"""One product's three-way check and what each connector strategy makes of it (pure: app.domain.reconcile).

The sync and webhook processing act on what `reconcile` decides: the SEND slots go out as a partial document,
strategy-decided conflicts are recorded as resolved, MANUAL holds its slots, forceResync re-sends what did not
change (but never a value CHANNEL_WINS kept), and a channel value taken into the PIM (`imported_data`) keeps
the PIM value's other currencies and unit.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from app.domain.catalog import AttributeSpec, AttributeType
from app.domain.channels import FieldType
from app.domain.conflicts import MISSING, Action, Decision, Outcome, Resolution, ResolutionStatus, Slot
from app.domain.connectors import ConflictStrategy
from app.domain.mappings import MappingDirection
from app.domain.reconcile import (
    NotImportable,
    Reconciliation,
    conflict_fields,
    held_by_conflict,
    imported_data,
    reconcile,
)

D, F, S, A, R = MappingDirection, FieldType, ConflictStrategy, Action, ResolutionStatus

PRICE = Slot("price", None, None, "price", D.EXPORT, F.DECIMAL)
TITLE_FR = Slot("title", "fr", "fr_FR", "name", D.EXPORT, F.STRING)
TITLE_AR = Slot("title", "ar", "ar_AE", "name", D.EXPORT, F.STRING)
BODY_FR = Slot("body", "fr", "fr_FR", "description", D.BOTH, F.HTML)
STOCK = Slot("stock", None, None, "stock", D.IMPORT, F.INTEGER)
SLOTS = (PRICE, TITLE_FR, TITLE_AR, BODY_FR, STOCK)


def snapshot(fields: dict[str, Any], fr: dict[str, Any], ar: dict[str, Any]) -> dict[str, Any]:
    return {"fields": fields, "locales": {"fr": fr, "ar": ar}}


# price: nothing changed (the shop reformatted it); French title: changed in the PIM only; Arabic title (EXPORT):
# changed in the shop only; French body (BOTH): changed on both sides, differently; stock (IMPORT): changed in the
# shop (the PIM's own stock is no concern of an IMPORT mapping).
PIM = snapshot({"price": "19.00", "stock": 9}, {"title": "Fauteuil", "body": "<p>Chêne</p>"}, {"title": "كرسي"})
SENT = snapshot({"price": "19.00"}, {"title": "Chaise", "body": "<p>Hêtre</p>"}, {"title": "كرسي"})
BASE = snapshot({"price": "19.0", "stock": 3}, {"title": "Chaise", "body": "<p>Hêtre</p>"}, {"title": "كرسي"})
CHANNEL = snapshot({"price": "19.0", "stock": 5}, {"title": "Chaise", "body": "<p>Noyer</p>"}, {"title": "مقعد"})

OUTCOMES = {
    PRICE: Outcome.NOTHING,
    TITLE_FR: Outcome.EXPORT,
    TITLE_AR: Outcome.DRIFT,
    BODY_FR: Outcome.CONFLICT,
    STOCK: Outcome.DRIFT,
}


def checked(strategy: ConflictStrategy, newer: dict[Slot, bool | None] | None = None, **kwargs: Any) -> Reconciliation:
    def pim_newer(slot: Slot) -> bool | None:
        assert strategy is S.NEWEST_WINS and newer is not None, "only NEWEST_WINS compares modification times"
        return newer[slot]

    return reconcile(
        SLOTS, pim=PIM, sent=SENT, base=BASE, channel=CHANNEL, strategy=strategy, pim_newer=pim_newer, **kwargs
    )


def decisions(rec: Reconciliation) -> dict[Slot, Decision]:
    return {result.slot: result.decision for result in rec.results}


@pytest.mark.parametrize(
    ("strategy", "newer", "arabic", "body"),
    [
        (S.PIM_WINS, None, Decision(A.SEND, R.PIM_WINS), Decision(A.SEND, R.PIM_WINS)),
        (S.CHANNEL_WINS, None, Decision(A.KEEP, R.CHANNEL_WINS), Decision(A.IMPORT, R.CHANNEL_WINS)),
        (S.MANUAL, None, Decision(A.HOLD, R.PENDING), Decision(A.HOLD, R.PENDING)),
        (
            S.NEWEST_WINS,
            {TITLE_AR: None, BODY_FR: True},  # the shop's Arabic edit has no time: held for a person
            Decision(A.HOLD, R.PENDING),
            Decision(A.SEND, R.PIM_WINS),
        ),
        (
            S.NEWEST_WINS,
            {TITLE_AR: True, BODY_FR: False},
            Decision(A.SEND, R.PIM_WINS),
            Decision(A.IMPORT, R.CHANNEL_WINS),
        ),
    ],
)
def test_each_strategy_decides_the_slots_at_odds_and_only_those(
    strategy: ConflictStrategy, newer: dict[Slot, bool | None] | None, arabic: Decision, body: Decision
) -> None:
    rec = checked(strategy, newer)
    assert {result.slot: result.outcome for result in rec.results} == OUTCOMES
    assert decisions(rec) == {
        PRICE: Decision(A.NONE),
        TITLE_FR: Decision(A.SEND),
        TITLE_AR: arabic,
        BODY_FR: body,
        STOCK: Decision(A.IMPORT),  # drift an IMPORT mapping simply takes in: no conflict
    }


def test_pim_wins_sends_only_the_slots_it_decided_and_records_them_as_resolved() -> None:
    rec = checked(S.PIM_WINS)
    assert rec.sends
    assert rec.to_send() == {
        "fields": {},
        "locales": {"fr": {"title": "Fauteuil", "body": "<p>Chêne</p>"}, "ar": {"title": "كرسي"}},
    }
    assert {status: [r.slot for r in found] for status, found in rec.resolved_by_strategy().items()} == {
        R.PIM_WINS: [TITLE_AR, BODY_FR]
    }
    assert rec.held == [] and rec.held_parts() == set()
    assert [r.slot for r in rec.with_action(A.IMPORT, A.KEEP)] == [STOCK]


def test_channel_wins_keeps_or_imports_the_shops_values_and_sends_the_rest() -> None:
    rec = checked(S.CHANNEL_WINS)
    assert rec.to_send() == {"fields": {}, "locales": {"fr": {"title": "Fauteuil"}}}
    assert {status: [r.slot for r in found] for status, found in rec.resolved_by_strategy().items()} == {
        R.CHANNEL_WINS: [TITLE_AR, BODY_FR]
    }
    assert [r.slot for r in rec.with_action(A.IMPORT)] == [BODY_FR, STOCK]
    assert [r.slot for r in rec.with_action(A.KEEP)] == [TITLE_AR]


def test_manual_holds_the_slots_at_odds_and_exports_the_rest_of_the_product() -> None:
    rec = checked(S.MANUAL)
    assert rec.sends and rec.to_send() == {"fields": {}, "locales": {"fr": {"title": "Fauteuil"}}}
    assert [r.slot for r in rec.held] == [TITLE_AR, BODY_FR]
    assert rec.held_parts() == {"ar", "fr"}
    assert rec.resolved_by_strategy() == {}


def test_a_held_shared_field_holds_the_shared_part() -> None:
    rec = reconcile(
        [PRICE],
        pim={"fields": {"price": "21.00"}},
        sent={"fields": {"price": "19.00"}},
        base={"fields": {"price": "19.00"}},
        channel={"fields": {"price": "18.00"}},
        strategy=S.MANUAL,
        pim_newer=lambda _slot: None,
    )
    assert rec.held_parts() == {""} and not rec.sends


def test_nothing_to_do_sends_nothing() -> None:
    rec = reconcile(
        [PRICE, TITLE_AR], pim=PIM, sent=SENT, base=BASE, channel=CHANNEL, strategy=S.MANUAL, pim_newer=lambda _s: None
    )
    assert [r.action for r in rec.results] == [A.NONE, A.HOLD]
    assert not rec.sends and rec.to_send() == {"fields": {}, "locales": {}}


def test_a_field_the_channel_no_longer_has_reads_as_an_empty_value() -> None:
    """What an IMPORT takes in, and what a conflict shows, is an empty value (None), never the absence marker."""
    rec = reconcile(
        [STOCK, TITLE_FR],
        pim=PIM,
        sent=SENT,
        base=BASE,
        channel={"fields": {}, "locales": {}},
        strategy=S.CHANNEL_WINS,
        pim_newer=lambda _s: None,
    )
    assert [(r.outcome, r.action, r.channel) for r in rec.results] == [
        (Outcome.DRIFT, A.IMPORT, None),
        (Outcome.CONFLICT, A.KEEP, None),
    ]
    assert [r.pim for r in rec.results] == [MISSING, "Fauteuil"]


# -- forceResync ----------------------------------------------------------------------------------------------


def test_force_resends_the_unchanged_pim_values_but_not_what_the_channel_kept() -> None:
    """A slot whose base is the channel's own value kept over the PIM's (CHANNEL_WINS decided it) stays as decided;
    neither is a value the channel merely reformatted sent again, nor anything for an IMPORT mapping."""
    kept = Slot("title", "de", "de_DE", "name", D.EXPORT, F.STRING)
    pim = {"fields": {"price": "19.00"}, "locales": {"de": {"title": "Stuhl"}}}
    sent = {"fields": {"price": "19.00"}, "locales": {"de": {"title": "Stuhl"}}}
    base = {"fields": {"price": "19.00", "stock": 3}, "locales": {"de": {"title": "Sessel"}}}
    channel = {"fields": {"price": "19.00", "stock": 3}, "locales": {"de": {"title": "Sessel"}}}
    rec = reconcile(
        [PRICE, kept, STOCK],
        pim=pim,
        sent=sent,
        base=base,
        channel=channel,
        strategy=S.PIM_WINS,
        pim_newer=lambda _s: None,
        force=True,
    )
    assert [(r.outcome, r.action) for r in rec.results] == [
        (Outcome.NOTHING, A.SEND),
        (Outcome.NOTHING, A.NONE),
        (Outcome.NOTHING, A.NONE),
    ]
    assert rec.to_send() == {"fields": {"price": "19.00"}, "locales": {}}
    unforced = reconcile(
        [PRICE, kept], pim=pim, sent=sent, base=base, channel=channel, strategy=S.PIM_WINS, pim_newer=lambda _s: None
    )
    assert not unforced.sends


def test_a_translation_force_sends_again_is_no_unchanged_one() -> None:
    same = snapshot({}, {"title": "Chaise"}, {})
    rec = reconcile(
        [TITLE_FR], pim=same, sent=same, base=same, channel=same, strategy=S.MANUAL, pim_newer=lambda _s: None
    )
    assert rec.unchanged_locales() == {"fr": {"title": "Chaise"}}
    forced = reconcile(
        [TITLE_FR],
        pim=same,
        sent=same,
        base=same,
        channel=same,
        strategy=S.MANUAL,
        pim_newer=lambda _s: None,
        force=True,
    )
    assert forced.to_send() == {"fields": {}, "locales": {"fr": {"title": "Chaise"}}}
    assert forced.unchanged_locales() == {}


def test_force_leaves_a_held_slot_held() -> None:
    rec = checked(S.MANUAL, force=True)
    assert decisions(rec)[TITLE_AR] == Decision(A.HOLD, R.PENDING)
    assert decisions(rec)[PRICE] == Decision(A.NONE)  # the shop only reformatted it when it stored it: no re-send


def test_force_resends_a_value_never_sent() -> None:
    rec = reconcile(
        [TITLE_FR],
        pim={"locales": {"fr": {"title": "Chaise"}}},
        sent={},
        base={"locales": {"fr": {"title": "Chaise"}}},
        channel={"locales": {"fr": {"title": "Chaise"}}},
        strategy=S.PIM_WINS,
        pim_newer=lambda _s: None,
        force=True,
    )
    assert [(r.outcome, r.action) for r in rec.results] == [(Outcome.EXPORT, A.SEND)]


# -- a person's decision being applied ------------------------------------------------------------------------


def test_a_persons_choice_decides_the_slots_at_odds_it_covers_and_the_strategy_the_rest() -> None:
    asked: list[tuple[Slot, Any, Any]] = []

    def choose(slot: Slot, pim: Any, channel: Any) -> Resolution | None:
        asked.append((slot, pim, channel))
        return Resolution.CHANNEL_WINS if slot == BODY_FR else None

    rec = checked(S.PIM_WINS, choose=choose)
    assert asked == [(TITLE_AR, "كرسي", "مقعد"), (BODY_FR, "<p>Chêne</p>", "<p>Noyer</p>"), (STOCK, MISSING, 5)]
    found = decisions(rec)
    assert found[BODY_FR] == Decision(A.IMPORT)  # applied, not a new conflict to record
    assert found[TITLE_AR] == Decision(A.SEND, R.PIM_WINS)
    assert found[STOCK] == Decision(A.IMPORT)
    assert found[TITLE_FR] == Decision(A.SEND)


# -- unchanged translations (Shopify registers them again when their source text changes) ---------------------


def test_the_unchanged_translations_are_the_channels_own_values() -> None:
    """Localizable slots with nothing to do, or where both sides reached the same value, as the channel holds
    them: never the PIM's value that CHANNEL_WINS set aside, never a slot the PIM does not speak for."""
    converged = Slot("title", "de", "de_DE", "name", D.EXPORT, F.STRING)
    kept = Slot("title", "es", "es_ES", "name", D.EXPORT, F.STRING)
    gone = Slot("title", "it", "it_IT", "name", D.EXPORT, F.STRING)
    slots = [PRICE, TITLE_FR, TITLE_AR, BODY_FR, converged, kept, gone, STOCK]
    pim = {
        "fields": {"price": "19.00"},
        "locales": {
            "fr": {"title": "Chaise", "body": "<p>Chêne</p>"},
            "ar": {"title": "كرسي"},
            "de": {"title": "Stuhl"},
            "es": {"title": "Silla"},
            "it": {"title": "Sedia"},
        },
    }
    sent = {**pim, "locales": {**pim["locales"], "de": {"title": "Sessel"}}}
    base = {
        "fields": {"price": "19.00"},
        "locales": {
            "fr": {"title": "Chaise", "body": "<p>Chêne</p>"},
            "ar": {"title": "كرسي"},
            "de": {"title": "Sessel"},
            "es": {"title": "Asiento"},
            "it": {"title": "Sedia"},
        },
    }
    channel = {
        "fields": {"price": "19.0"},
        "locales": {
            "fr": {"title": "Chaise ", "body": "<p>Chêne</p>"},
            "ar": {"title": "مقعد"},
            "de": {"title": "Stuhl"},
            "es": {"title": "Asiento"},
            "it": {},
        },
    }
    rec = reconcile(slots, pim=pim, sent=sent, base=base, channel=channel, strategy=S.MANUAL, pim_newer=lambda _s: None)
    assert {r.slot.channel_locale: r.outcome for r in rec.results if r.slot.field == "title"} == {
        "fr": Outcome.NOTHING,
        "ar": Outcome.DRIFT,
        "de": Outcome.CONVERGED,
        "es": Outcome.NOTHING,
        "it": Outcome.DRIFT,
    }
    assert rec.unchanged_locales() == {
        "fr": {"title": "Chaise ", "body": "<p>Chêne</p>"},
        "de": {"title": "Stuhl"},
        "es": {"title": "Asiento"},
    }


# -- what a preview says a pending conflict holds ------------------------------------------------------------


def _recorded(*slots: tuple[Slot, Any]) -> list[dict[str, Any]]:
    return [
        {"field": slot.field, "diffs": [{"channelLocale": slot.channel_locale, "channelValue": value}]}
        for slot, value in slots
    ]


def test_a_pending_conflict_holds_the_slots_still_at_odds_under_the_strategy() -> None:
    recorded = _recorded((TITLE_AR, "مقعد"), (BODY_FR, "<p>Noyer</p>"), (TITLE_FR, "Fauteuil"))
    held = held_by_conflict(SLOTS, recorded, pim=PIM, sent=SENT, base=BASE, strategy=S.MANUAL, pim_newer=None)
    # the French title the shop now has is the PIM's: converged, no longer held; the price the conflict never named
    assert held == {("title", "ar"), ("body", "fr")}
    assert (
        held_by_conflict(SLOTS, recorded, pim=PIM, sent=SENT, base=BASE, strategy=S.PIM_WINS, pim_newer=None) == set()
    )
    newest = held_by_conflict(SLOTS, recorded, pim=PIM, sent=SENT, base=BASE, strategy=S.NEWEST_WINS, pim_newer=None)
    assert newest == {("title", "ar"), ("body", "fr")}
    assert (
        held_by_conflict(SLOTS, recorded, pim=PIM, sent=SENT, base=BASE, strategy=S.NEWEST_WINS, pim_newer=True)
        == set()
    )


@pytest.mark.parametrize(
    ("strategy", "held"), [(S.PIM_WINS, set()), (S.MANUAL, {(s.field, s.channel_locale) for s in SLOTS})]
)
def test_a_product_missing_on_the_channel_holds_every_slot_unless_pim_wins_puts_it_back(
    strategy: ConflictStrategy, held: set[tuple[str, str | None]]
) -> None:
    assert held_by_conflict(SLOTS, [], pim=PIM, sent=SENT, base=BASE, strategy=strategy, pim_newer=None) == held


def test_a_conflict_lists_one_diff_per_locale_pair_of_each_field() -> None:
    rec = checked(S.MANUAL)
    title_fr = next(r for r in rec.results if r.slot == TITLE_FR)
    assert conflict_fields([*rec.held, title_fr]) == [
        {
            "field": "title",
            "attributeCode": "name",
            "isLocaleSpecific": True,
            "direction": "EXPORT",
            "diffs": [
                {
                    "pimLocale": "ar_AE",
                    "channelLocale": "ar",
                    "baseValue": "كرسي",
                    "pimValue": "كرسي",
                    "channelValue": "مقعد",
                },
                {
                    "pimLocale": "fr_FR",
                    "channelLocale": "fr",
                    "baseValue": "Chaise",
                    "pimValue": "Fauteuil",
                    "channelValue": "Chaise",
                },
            ],
        },
        {
            "field": "body",
            "attributeCode": "description",
            "isLocaleSpecific": True,
            "direction": "BOTH",
            "diffs": [
                {
                    "pimLocale": "fr_FR",
                    "channelLocale": "fr",
                    "baseValue": "<p>Hêtre</p>",
                    "pimValue": "<p>Chêne</p>",
                    "channelValue": "<p>Noyer</p>",
                }
            ],
        },
    ]
    stock = checked(S.MANUAL).results[-1]
    assert conflict_fields([stock])[0]["isLocaleSpecific"] is False
    assert conflict_fields([stock])[0]["diffs"][0]["pimValue"] is None  # an IMPORT mapping's PIM side: none


# -- a channel value taken into the PIM ----------------------------------------------------------------------


def attribute(kind: AttributeType) -> AttributeSpec:
    return AttributeSpec(1, kind.value.lower(), kind, localizable=False, scopable=False)


PRICE_EUR_USD = {"EUR": "45.00", "USD": "49.00"}


@pytest.mark.parametrize(
    ("kind", "wire", "options", "stored"),
    [
        # a price keeps its other currencies; cleared in the shop, only the connector's currency goes
        (
            AttributeType.PRICE,
            "47.50",
            {"currency": "EUR", "existing": PRICE_EUR_USD},
            {"EUR": "47.50", "USD": "49.00"},
        ),
        (AttributeType.PRICE, 47.5, {"currency": "USD", "existing": None}, {"USD": "47.5"}),
        (AttributeType.PRICE, "", {"currency": "EUR", "existing": PRICE_EUR_USD}, {"USD": "49.00"}),
        (AttributeType.PRICE, None, {"currency": "EUR", "existing": {"EUR": "45.00"}}, None),
        (AttributeType.PRICE, [], {"currency": "EUR", "existing": "45.00"}, None),
        (AttributeType.PRICE, None, {"currency": None, "existing": PRICE_EUR_USD}, None),
        # a measure comes back in the unit its mapping sends it in, else in the PIM value's own
        (
            AttributeType.METRIC,
            "1.25",
            {"currency": None, "existing": {"amount": "1250", "unit": "GRAM"}, "unit": "KILOGRAM"},
            {"amount": "1.25", "unit": "KILOGRAM"},
        ),
        (
            AttributeType.METRIC,
            " -4 ",
            {"currency": None, "existing": {"amount": "3", "unit": "CELSIUS"}},
            {"amount": "-4", "unit": "CELSIUS"},
        ),
        (
            AttributeType.METRIC,
            "2",
            {"currency": None, "existing": None, "unit": "METER"},
            {"amount": "2", "unit": "METER"},
        ),
        (AttributeType.NUMBER, "12", {"currency": None, "existing": 3}, 12),
        (AttributeType.NUMBER, "4.5", {"currency": None, "existing": None}, 4.5),
        (AttributeType.BOOLEAN, False, {"currency": None, "existing": True}, False),
        (AttributeType.MULTISELECT, ["oak", 3], {"currency": None, "existing": None}, ["oak", "3"]),
        (AttributeType.MULTISELECT, "oak", {"currency": None, "existing": None}, ["oak"]),
        (AttributeType.TEXT, 12, {"currency": None, "existing": None}, "12"),
        # from an HTML field, plain text takes the text the markup shows; rich text keeps its markup
        (AttributeType.TEXT, "A &amp; B<br>C", {"currency": None, "existing": None, "html": True}, "A & B\nC"),
        (AttributeType.TEXT, "<p> </p>", {"currency": None, "existing": "x", "html": True}, None),
        (
            AttributeType.TEXTAREA,
            "<p>A &amp; B</p>",
            {"currency": None, "existing": None, "html": True},
            "<p>A &amp; B</p>",
        ),
        (AttributeType.TEXT, "A &amp; B", {"currency": None, "existing": None}, "A &amp; B"),
        (AttributeType.TEXT, "", {"currency": None, "existing": "Chaise"}, None),
    ],
)
def test_a_channel_value_as_the_pim_stores_it(
    kind: AttributeType, wire: Any, options: dict[str, Any], stored: Any
) -> None:
    assert imported_data(attribute(kind), wire, **options) == stored


@pytest.mark.parametrize(
    ("kind", "wire", "options", "message"),
    [
        (AttributeType.PRICE, "12", {"currency": None, "existing": None}, "no currency to write the price in"),
        (AttributeType.PRICE, "-1", {"currency": "EUR", "existing": None}, "cannot be negative"),
        (AttributeType.PRICE, "NaN", {"currency": "EUR", "existing": None}, "'NaN' is not a number"),
        (AttributeType.NUMBER, "Infinity", {"currency": None, "existing": None}, "'Infinity' is not a number"),
        (AttributeType.NUMBER, "47,50", {"currency": None, "existing": None}, "'47,50' is not a number"),
        (AttributeType.NUMBER, Decimal("1e999999999"), {"currency": None, "existing": None}, "number"),
        (AttributeType.METRIC, "2", {"currency": None, "existing": None}, "metric has no unit"),
        (AttributeType.METRIC, "2", {"currency": None, "existing": {"amount": "1"}}, "metric has no unit"),
        (
            AttributeType.BOOLEAN,
            "yes",
            {"currency": None, "existing": None},
            "boolean takes true or false, the channel has 'yes'",
        ),
    ],
)
def test_a_channel_value_the_pim_cannot_take_is_refused(
    kind: AttributeType, wire: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(NotImportable, match=message):
        imported_data(attribute(kind), wire, **options)
