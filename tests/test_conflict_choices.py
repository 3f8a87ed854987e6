"""How a bulk rule carves a conflict's fields, and which overrides a conflict can take (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.channels import FieldType
from app.domain.conflict_choices import (
    ChosenSlots,
    DiffSelector,
    FieldOverride,
    override_problems,
    split_fields,
    stored_resolution,
)
from app.domain.conflicts import Resolution, Slot
from app.domain.mappings import MappingDirection
from tests.conflict_fixtures import AR_BODY, AR_TITLE, FR_BODY, FR_TITLE, PRICE, body, diff, field, title

GONE = {"field": "title", "attributeCode": "name", "isLocaleSpecific": True, "direction": "EXPORT", "diffs": []}


@pytest.mark.parametrize(
    ("fields", "selector", "chosen", "rest"),
    [
        ([title(AR_TITLE, FR_TITLE)], DiffSelector(pim_locale="ar_AE"), [title(AR_TITLE)], [title(FR_TITLE)]),
        (
            [title(AR_TITLE), body(AR_BODY, FR_BODY)],
            DiffSelector(field="title"),
            [title(AR_TITLE)],
            [body(AR_BODY, FR_BODY)],
        ),
        (
            [title(AR_TITLE, FR_TITLE), body(AR_BODY)],
            DiffSelector(field="body_html", pim_locale="ar_AE"),
            [body(AR_BODY)],
            [title(AR_TITLE, FR_TITLE)],
        ),
        ([field("price", "price", PRICE)], DiffSelector(pim_locale="ar_AE"), [], [field("price", "price", PRICE)]),
        ([GONE], DiffSelector(field="title"), [GONE], []),
        ([GONE], DiffSelector(field="title", pim_locale="ar_AE"), [], [GONE]),
    ],
)
def test_split_fields(
    fields: list[dict[str, Any]], selector: DiffSelector, chosen: list[dict[str, Any]], rest: list[dict[str, Any]]
) -> None:
    assert split_fields(fields, selector) == (chosen, rest)


def test_overrides_are_checked_against_what_the_conflict_holds() -> None:
    fields = [title(AR_TITLE, FR_TITLE), field("price", "price", PRICE)]
    overrides = [
        FieldOverride("title", Resolution.PIM_WINS, ("ar_AE",)),
        FieldOverride("price", Resolution.CHANNEL_WINS),
        FieldOverride("price", Resolution.CHANNEL_WINS, ("ar_AE",)),
        FieldOverride("vendor", Resolution.DISMISSED),
    ]
    problems = override_problems(fields, overrides)
    assert [(problem.index, problem.part) for problem in problems] == [(2, "locales"), (3, "field")]
    assert "the same in every locale" in problems[0].message and "title, price" in problems[1].message
    assert "fed by price," in problems[0].message, "the attribute whose one value feeds every locale is named"


def test_an_override_naming_a_locale_the_field_has_no_conflict_in_is_a_problem() -> None:
    """Deciding title in de_DE where only its Arabic and French differ would decide nothing: refused, naming the
    locales it has."""
    fields = [title(AR_TITLE, FR_TITLE)]
    overrides = [FieldOverride("title", Resolution.PIM_WINS, ("ar_AE", "de_DE"))]
    [problem] = override_problems(fields, overrides)
    assert (problem.index, problem.part) == (0, "locales")
    assert problem.message == "field 'title' has no conflict in de_DE (it has: ar_AE, fr_FR)"


def test_an_override_naming_no_locale_or_a_slot_named_before_is_a_problem() -> None:
    fields = [title(AR_TITLE, FR_TITLE), field("price", "price", PRICE), GONE | {"field": "vendor"}]
    overrides = [
        FieldOverride("title", Resolution.PIM_WINS, ()),
        FieldOverride("title", Resolution.PIM_WINS, ("fr_FR",)),
        FieldOverride("title", Resolution.CHANNEL_WINS, ("ar_AE",)),
        FieldOverride("title", Resolution.CHANNEL_WINS, ("ar_AE", "fr_FR")),
        FieldOverride("price", Resolution.CHANNEL_WINS),
        FieldOverride("price", Resolution.CHANNEL_WINS),
        FieldOverride("vendor", Resolution.DISMISSED),
        FieldOverride("vendor", Resolution.PIM_WINS),
    ]
    problems = override_problems(fields, overrides)
    assert [(problem.index, problem.part) for problem in problems] == [(0, "locales"), (3, None), (5, None), (7, None)]
    assert "'title' in ar_AE, fr_FR is already decided by overrides 1, 2" in problems[1].message


def _title_slot(pim_locale: str, channel_locale: str) -> Slot:
    return Slot("title", channel_locale, pim_locale, "name", MappingDirection.BOTH, FieldType.STRING)


def test_a_choice_holds_only_for_the_values_the_person_was_shown() -> None:
    """PIM_WINS chosen for the Arabic and French titles: carried out where both sides still hold what was shown; where
    the catalog or the channel moved on since, left to the connector's strategy and named, and a diff the check had
    no slot for (its locale unmapped since) reported as not reached."""
    chosen = ChosenSlots([title(AR_TITLE, FR_TITLE)], stored_resolution(Resolution.PIM_WINS))
    ar, fr = _title_slot("ar_AE", "ar"), _title_slot("fr_FR", "fr")
    assert chosen(ar, AR_TITLE["pimValue"], AR_TITLE["channelValue"]) is Resolution.PIM_WINS
    assert chosen(fr, "Chaise en hêtre", FR_TITLE["channelValue"]) is None  # the catalog changed it since
    assert chosen(ar, AR_TITLE["pimValue"], "كرسي جديد") is None  # the merchant changed it since
    assert chosen(_title_slot("de_DE", "de"), "Stuhl", "Stuhl aus Holz") is None  # no diff was shown for it
    assert chosen.stale == ["title (fr_FR)", "title (ar_AE)"]
    assert chosen.unreached([ar]) == ["title (fr_FR)"]


def test_a_value_fed_to_several_channel_locales_is_judged_by_the_diff_of_each() -> None:
    """One PIM name (not localizable) feeds the French and the Arabic title: each channel locale's diff holds its own
    channel value, and each is checked against its own."""
    shared = title(diff(None, "fr", "Chair", "Chair v2", "Chaise"), diff(None, "ar", "Chair", "Chair v2", "كرسي"))
    chosen = ChosenSlots([shared], stored_resolution(Resolution.CHANNEL_WINS))
    for channel_locale, channel_value in (("fr", "Chaise"), ("ar", "كرسي")):
        slot = Slot("title", channel_locale, None, "name", MappingDirection.BOTH, FieldType.STRING)
        assert chosen(slot, "Chair v2", channel_value) is Resolution.CHANNEL_WINS, channel_locale
    assert chosen.stale == []
