"""What each channel locale receives from a product's PIM values (pure: app.domain.export_plan, DESIGN.md step 2).

Each mapping reads the PIM value of its PIM locale, falling back along the locale chain (ar_AE -> ar -> the
catalog's default), in the connector's scope; fallback text goes out only when the connector's fallbackPolicy
is SEND, and every value knows its source. An empty value does what its mapping's whenEmpty says (CLEAR by
default: an explicit clear, never dropped silently), and a locale lacking a required field can be held back.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from app.channels.registry import channel_type_spec
from app.domain.catalog import AttributeSpec, AttributeType, CatalogSpec
from app.domain.channels import ChannelType
from app.domain.conflicts import Slot
from app.domain.connectors import ConnectorSettings, FallbackPolicy, LocalePair
from app.domain.export_plan import ExportPlan, ProductExport, value_table
from app.domain.mappings import EmptyValuePolicy, MappingDirection, MappingDraft, check_mappings

T = AttributeType
NAME = AttributeSpec(1, "name", T.TEXT, localizable=True, scopable=False)
DESCRIPTION = AttributeSpec(2, "description", T.TEXTAREA, localizable=True, scopable=True)
BRAND = AttributeSpec(3, "brand", T.TEXT, localizable=False, scopable=False)
PRICE = AttributeSpec(4, "price", T.PRICE, localizable=False, scopable=False)
EAN = AttributeSpec(5, "ean", T.IDENTIFIER, localizable=False, scopable=False)
STOCK = AttributeSpec(6, "stock", T.NUMBER, localizable=False, scopable=False)
COLOR = AttributeSpec(7, "color", T.TEXT, localizable=True, scopable=False)
CATALOG = CatalogSpec(
    {spec.code: spec for spec in (NAME, DESCRIPTION, BRAND, PRICE, EAN, STOCK, COLOR)},
    locales=("en_US", "ar", "ar_AE", "fr_FR"),
    scopes=("ecommerce", "print"),
    currencies=("EUR", "USD"),
)
PAIRS = (LocalePair("en_US", "en"), LocalePair("ar_AE", "ar"), LocalePair("fr_FR", "fr"))
CUSTOM_HTTP = channel_type_spec(ChannelType.CUSTOM_HTTP)
E = MappingDirection.EXPORT

# A bag from Akeneo's demo catalog: English and French names, an English description in two scopes, none in Arabic
# (the Arabic name is kept for the whole language, under "ar", not "ar_AE").
VALUES = value_table(
    [
        (1, "en_US", "", "Leather bag"),
        (1, "fr_FR", "", "Sac en cuir"),
        (1, "ar", "", "حقيبة جلدية"),
        (2, "en_US", "ecommerce", "<p>Soft leather</p>"),
        (2, "en_US", "print", "<p>PRINT ONLY</p>"),
        (3, "", "", "Mexx"),
        (4, "", "", {"EUR": "49.90", "USD": "54.00"}),
    ]
)

COLOURED = {**VALUES, (7, "en_US", ""): "Black"}


def plan(drafts: list[MappingDraft], locales: list[str] | None = None, **settings: Any) -> ExportPlan:
    connector = ConnectorSettings(**{"locale_mapping": PAIRS, "currency": "EUR", "scope": "ecommerce", **settings})
    rules, errors = check_mappings(
        drafts, catalog=CATALOG, channel=CUSTOM_HTTP, settings=connector, channel_locales=None
    )
    assert errors == []
    return ExportPlan(rules=rules, settings=connector, catalog=CATALOG, channel=CUSTOM_HTTP, locales=locales)


STANDARD = [
    MappingDraft("name", "title", E),
    MappingDraft("description", "description", E),
    MappingDraft("brand", "vendor", E),
    MappingDraft("price", "price", E),
]


def per_locale(export: ProductExport) -> dict[str | None, tuple[dict[str, Any], dict[str, str], list[tuple[str, ...]]]]:
    return {
        built.channel_locale: (built.fields, built.sources, [(p.code.value, p.message) for p in built.problems])
        for built in [export.shared, *export.locales]
    }


def test_fallback_text_goes_out_only_when_the_connector_sends_it_and_says_where_it_came_from() -> None:
    sent = per_locale(plan(STANDARD, fallback_policy=FallbackPolicy.SEND).build("BAG-1", VALUES))
    assert sent == {
        None: ({"vendor": "Mexx", "price": "49.90"}, {"vendor": "authored", "price": "authored"}, []),
        "en": (
            {"title": "Leather bag", "description": "<p>Soft leather</p>"},
            {"title": "authored", "description": "authored"},
            [],
        ),
        "ar": (
            {"title": "حقيبة جلدية", "description": "<p>Soft leather</p>"},
            {"title": "fallback:ar", "description": "fallback:en_US"},
            [],
        ),
        "fr": (
            {"title": "Sac en cuir", "description": "<p>Soft leather</p>"},
            {"title": "authored", "description": "fallback:en_US"},
            [],
        ),
    }
    omitted = per_locale(plan(STANDARD).build("BAG-1", VALUES))
    assert omitted["fr"] == ({"title": "Sac en cuir"}, {"title": "authored"}, [])
    assert omitted["ar"] == ({}, {}, [("CHN-010", "title is required and has no value in ar_AE")])


def test_a_locale_missing_a_required_field_is_held_back_when_the_connector_says_so() -> None:
    export = plan(STANDARD, hold_incomplete_locales=True).build("BAG-1", VALUES)
    assert [(b.channel_locale, b.will_send) for b in export.locales] == [("en", True), ("ar", False), ("fr", True)]
    document = export.document("ext-1")
    assert sorted(document.locales) == ["en", "fr"] and document.fields == {"vendor": "Mexx", "price": "49.90"}
    assert sorted(export.sendable()["locales"]) == ["en", "fr"]
    sending = plan(STANDARD, fallback_policy=FallbackPolicy.SEND, hold_incomplete_locales=True).build("BAG-1", VALUES)
    # a fallback title is no authored title: the locale is still held until it is translated
    assert [b.will_send for b in sending.locales] == [True, False, True]


def test_a_locale_with_a_blocking_problem_is_left_out_of_what_the_pim_says() -> None:
    export = plan(STANDARD).build("BAG-1", VALUES)
    assert export.sendable() == {
        "fields": {"vendor": "Mexx", "price": "49.90"},
        "locales": {
            "en": {"title": "Leather bag", "description": "<p>Soft leather</p>"},
            "fr": {"title": "Sac en cuir"},
        },
    }
    assert [p.code.value for p in export.problems] == ["CHN-010"]
    no_price = plan(STANDARD).build("BAG-2", {**VALUES, (4, "", ""): {"USD": "54.00"}})
    assert [(p.path, p.code.value) for p in no_price.shared.problems] == [(("price",), "CHN-013")]
    assert no_price.sendable()["fields"] == {} and no_price.shared.blocked


@pytest.mark.parametrize(
    ("when_empty", "transformation", "fields", "sources"),
    [
        (EmptyValuePolicy.CLEAR, None, {"barcode": None}, {"barcode": "empty"}),
        (EmptyValuePolicy.SKIP, None, {}, {}),
        (EmptyValuePolicy.DEFAULT, {"default": "0000000000000"}, {"barcode": "0000000000000"}, {"barcode": "default"}),
        (EmptyValuePolicy.CLEAR, {"default": "0000000000000"}, {"barcode": None}, {"barcode": "empty"}),
    ],
)
@pytest.mark.parametrize("ean", [None, ""])
def test_an_empty_value_does_what_its_mapping_says(
    when_empty: EmptyValuePolicy, transformation: Any, fields: dict[str, Any], sources: dict[str, str], ean: Any
) -> None:
    values = dict(VALUES) if ean is None else {**VALUES, (5, "", ""): ean}
    draft = MappingDraft("ean", "barcode", E, transformation, when_empty=when_empty)
    export = plan([STANDARD[0], draft]).build("BAG-1", values)
    assert (export.shared.fields, export.shared.sources, export.shared.problems) == (fields, sources, [])


def test_a_field_with_a_value_is_sent_as_the_value_not_its_default() -> None:
    draft = MappingDraft("ean", "barcode", E, {"default": "0000000000000"}, when_empty=EmptyValuePolicy.DEFAULT)
    export = plan([STANDARD[0], draft]).build("BAG-1", {**VALUES, (5, "", ""): "8712345678906"})
    assert export.shared.fields == {"barcode": "8712345678906"}


def test_a_sync_limited_to_some_locales_builds_those_only_and_knows_the_others_are_synced_elsewhere() -> None:
    limited = plan(STANDARD, locales=["fr_FR"])
    assert [b.channel_locale for b in limited.build("BAG-1", VALUES).locales] == ["fr"]
    assert limited.skipped_locales == {"en", "ar"}
    assert plan(STANDARD).skipped_locales == frozenset()


def test_a_fields_own_locale_mapping_overrides_the_connectors() -> None:
    """The French storefront shows the English description (no translation is kept for it yet); locales the
    field's own mapping leaves out get none."""
    own = (LocalePair("en_US", "fr"),)
    export = plan([STANDARD[0], MappingDraft("description", "description", E, locale_mapping=own)]).build(
        "BAG-1", VALUES
    )
    assert {b.channel_locale: b.fields.get("description") for b in export.locales} == {
        "en": None,
        "ar": None,
        "fr": "<p>Soft leather</p>",
    }


def test_a_non_localizable_field_reads_the_pim_locale_its_mapping_names() -> None:
    """A shared field from a localizable attribute: the one PIM locale its own mapping names."""
    french = plan([STANDARD[0], MappingDraft("name", "vendor", E, locale_mapping=(LocalePair("fr_FR", "fr"),))])
    assert french.build("BAG-1", VALUES).shared.fields == {"vendor": "Sac en cuir"}


def test_a_template_reads_what_its_locale_authored_unless_fallback_text_is_sent() -> None:
    titled = [MappingDraft("name", "title", E, {"template": "{brand} {} {color}"})]
    omit = plan(titled).build("BAG-1", COLOURED)
    assert {b.channel_locale: (b.fields, b.sources) for b in omit.locales} == {
        "en": ({"title": "Mexx Leather bag Black"}, {"title": "authored"}),
        "ar": ({}, {}),
        "fr": ({"title": "Mexx Sac en cuir"}, {"title": "authored"}),
    }
    send = plan(titled, fallback_policy=FallbackPolicy.SEND).build("BAG-1", COLOURED)
    assert {b.channel_locale: (b.fields, b.sources) for b in send.locales} == {
        "en": ({"title": "Mexx Leather bag Black"}, {"title": "authored"}),
        "ar": ({"title": "Mexx حقيبة جلدية Black"}, {"title": "fallback:ar"}),  # the name it transforms came from "ar"
        "fr": ({"title": "Mexx Sac en cuir Black"}, {"title": "fallback:en_US"}),  # its colour from en_US
    }


def test_a_broken_mapping_drops_its_field_and_says_so_without_holding_the_product_back() -> None:
    export_plan = plan(STANDARD)
    vendor, price = (step.rule for step in export_plan.shared_steps)
    rules = [replace(vendor, broken="brand was deleted"), price]
    broken = ExportPlan(
        rules=rules,
        settings=export_plan.settings,
        catalog=CATALOG,
        channel=CUSTOM_HTTP,
    )
    export = broken.build("BAG-1", VALUES)
    assert [(p.path, p.code.value, p.message) for p in export.shared.problems] == [
        (("vendor",), "CHN-061", "brand was deleted")
    ]
    assert not export.shared.blocked and export.sendable()["fields"] == {"price": "49.90"}


def test_the_slots_three_way_checks_compare_and_where_an_import_writes() -> None:
    drafts = [*STANDARD, MappingDraft("stock", "quantity", MappingDirection.IMPORT)]
    export_plan = plan(drafts, locales=["ar_AE"])
    F = CUSTOM_HTTP.get_field
    assert export_plan.slots == (
        Slot("vendor", None, None, "brand", E, F("vendor").type),  # type: ignore[union-attr]
        Slot("price", None, None, "price", E, F("price").type),  # type: ignore[union-attr]
        Slot("title", "ar", "ar_AE", "name", E, F("title").type),  # type: ignore[union-attr]
        Slot("description", "ar", "ar_AE", "description", E, F("description").type),  # type: ignore[union-attr]
        Slot("quantity", None, None, "stock", MappingDirection.IMPORT, F("quantity").type),  # type: ignore[union-attr]
    )
    assert export_plan.value_key(export_plan.slots[3]) == (2, "ar_AE", "ecommerce")
    assert export_plan.value_key(export_plan.slots[4]) == (6, "", "")
    assert export_plan.attribute_ids == {1, 2, 3, 4, 6}
    assert export_plan.value_scopes == ("", "ecommerce")


def test_value_rows_as_the_table_a_build_reads() -> None:
    rows = [(1, "fr_FR", "", "Sac en cuir"), (2, "en_US", "ecommerce", "<p>Soft leather</p>")]
    assert value_table(rows) == {(1, "fr_FR", ""): "Sac en cuir", (2, "en_US", "ecommerce"): "<p>Soft leather</p>"}


def test_a_connector_without_a_currency_sends_prices_in_the_catalogs_default() -> None:
    export = plan(STANDARD, currency=None).build("BAG-1", VALUES)
    assert export.shared.fields["price"] == "49.90"  # EUR, the catalog's first currency, not USD's 54.00


def test_numbers_a_template_writes_are_formatted_for_the_pim_locale() -> None:
    titled = [MappingDraft("name", "title", E, {"template": "{} {stock}"})]
    export = plan(titled).build("BAG-1", {**VALUES, (6, "", ""): 1234.5})
    assert {b.channel_locale: b.fields.get("title") for b in export.locales} == {
        "en": "Leather bag 1,234.5",
        "ar": None,
        "fr": "Sac en cuir 1\u202f234,5",
    }


def test_a_price_formatted_for_the_channel_locale() -> None:
    priced = [STANDARD[0], MappingDraft("price", "description", E, {"formatCurrency": {"locale": "channel"}})]
    export = plan(priced).build("BAG-1", VALUES)
    assert {b.channel_locale: b.fields["description"] for b in export.locales} == {
        "en": "€49.90",
        "ar": "\u200f49.90\u00a0€",
        "fr": "49,90\u00a0€",
    }
    # the French storefront of a catalog kept in English: the channel's locale, not the PIM's
    french = plan(priced, locale_mapping=(LocalePair("en_US", "fr"),)).build("BAG-1", VALUES)
    assert french.locales[0].fields["description"] == "49,90\u00a0€"


WEIGHT = AttributeSpec(8, "weight", T.METRIC, localizable=False, scopable=False)


def test_a_weight_converted_for_shopify_goes_with_its_unit_and_comes_back_in_it() -> None:
    catalog = replace(CATALOG, attributes={**CATALOG.attributes, "weight": WEIGHT})
    shopify = channel_type_spec(ChannelType.SHOPIFY)
    settings = ConnectorSettings(locale_mapping=PAIRS, currency="EUR")
    drafts = [MappingDraft("name", "title", E), MappingDraft("weight", "weight", E, {"convertUnit": "KILOGRAM"})]
    rules, errors = check_mappings(drafts, catalog=catalog, channel=shopify, settings=settings, channel_locales=None)
    assert errors == []
    export_plan = ExportPlan(rules=rules, settings=settings, catalog=catalog, channel=shopify)
    shared = export_plan.build("BAG-1", {**VALUES, (8, "", ""): {"amount": "1250", "unit": "GRAM"}}).shared
    assert (shared.fields, shared.sources) == (
        {"weight": "1.25", "weightUnit": "KILOGRAMS"},
        {"weight": "authored", "weightUnit": "authored"},
    )
    assert export_plan.units == {"weight": "KILOGRAM"}
    bare = [drafts[0], MappingDraft("stock", "weight", E)]  # a plain number names no unit to send with it
    rules, errors = check_mappings(bare, catalog=catalog, channel=shopify, settings=settings, channel_locales=None)
    assert errors == []
    unitless = ExportPlan(rules=rules, settings=settings, catalog=catalog, channel=shopify)
    assert unitless.unit_codes == {} and unitless.build("BAG-1", {(6, "", ""): 2}).shared.fields == {"weight": "2"}


def test_a_localized_import_is_compared_in_every_channel_locale_and_templates_load_what_they_name() -> None:
    drafts = [
        MappingDraft("name", "title", E, {"template": "{} {color}"}),
        MappingDraft("description", "description", MappingDirection.IMPORT),
    ]
    export_plan = plan(drafts, locales=["en_US", "fr_FR"])
    assert [(slot.field, slot.channel_locale, slot.pim_locale) for slot in export_plan.slots] == [
        ("title", "en", "en_US"),
        ("title", "fr", "fr_FR"),
        ("description", "en", "en_US"),
        ("description", "fr", "fr_FR"),
    ]
    assert export_plan.attribute_ids == {NAME.id, COLOR.id, DESCRIPTION.id}
