"""Mapping transformations: every step, their order, their checks, in French and Arabic (pure, no I/O)."""

from __future__ import annotations

import csv
import dataclasses
import decimal
import html
import html.parser
import json
import random
import unicodedata
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest

from app.domain.catalog import AttributeType
from app.domain.channels import ChannelField, FieldType
from app.domain.errors import ErrorCode, InvalidInput
from app.domain.transformations import (
    IDENTITY,
    CompiledTransformation,
    InvalidTransformation,
    TransformationError,
    TransformContext,
    compile_transformation,
    strip_html,
    truncate,
)
from tests.shared_data import shared_path

TITLE = ChannelField("title", FieldType.STRING, max_length=70)
BODY = ChannelField("body_html", FieldType.HTML)
SUMMARY = ChannelField("summary", FieldType.STRING)
PRICE_FIELD = ChannelField("price", FieldType.DECIMAL)
TAGS = ChannelField("tags", FieldType.STRING_LIST)
COLOR = ChannelField("color", FieldType.ENUM, choices=("Red", "Blue", "Rouge", "أحمر"))
KNOWN = frozenset({"brand", "name", "weight", "size", "color", "tags", "price", "description"})
NBSP, NNBSP, RLM = "\u00a0", "\u202f", "\u200f"

T = AttributeType


def compile_(
    raw: Any,
    attribute_type: AttributeType = T.TEXT,
    field: ChannelField = TITLE,
    tax: Mapping[str, Any] | None = None,
) -> CompiledTransformation:
    return compile_transformation(
        raw, attribute_type=attribute_type, field=field, known_attributes=KNOWN, tax_defaults=tax
    )


def ctx(
    locale: str = "fr_FR", values: Mapping[str, Any] | None = None, currency: str | None = "EUR", channel: str = ""
) -> TransformContext:
    table = dict(values or {})
    return TransformContext(pim_locale=locale, channel_locale=channel, currency=currency, lookup=table.get)


def problems(
    raw: Any, attribute_type: AttributeType = T.TEXT, field: ChannelField = TITLE, tax: Mapping[str, Any] | None = None
) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(InvalidTransformation) as caught:
        compile_(raw, attribute_type, field, tax)
    return [(error.path, error.code.value) for error in caught.value.errors]


# ---------------------------------------------------------------- shapes


@pytest.mark.parametrize("raw", [None, {}, []])
def test_no_transformation_is_the_identity(raw: Any) -> None:
    compiled = compile_(raw)
    assert compiled is IDENTITY
    assert compiled.apply("Chaise", ctx()) == "Chaise"
    assert compiled.default is None and compiled.uses_attributes == frozenset() and not compiled.produces_text


def test_a_compiled_transformation_is_immutable_and_an_invalid_one_is_an_input_error() -> None:
    compiled = compile_({"maxLength": 10})
    with pytest.raises(dataclasses.FrozenInstanceError):
        compiled.default = "x"  # type: ignore[misc]
    with pytest.raises(InvalidInput):
        compile_({"maxLength": 0})


def test_an_object_runs_in_canonical_order_whatever_its_key_order() -> None:
    compiled = compile_({"maxLength": 12, "template": "{brand} {name}"})
    assert compiled.apply("x", ctx(values={"brand": "Maison", "name": "Chaise longue"})) == "Maison"


def test_a_list_runs_in_list_order() -> None:
    cut_then_render = compile_([{"maxLength": 6}, {"template": "{} ({brand})"}])
    assert cut_then_render.apply("Chaise longue", ctx(values={"brand": "Maison"})) == "Chaise (Maison)"
    rounded_then_rendered = compile_([{"round": 0}, {"template": "{} pièces"}], T.NUMBER)
    assert rounded_then_rendered.apply(Decimal("1234.6"), ctx()) == f"1{NNBSP}235 pièces"
    # The same steps in one object run template first, so round would get text: refused.
    assert problems({"round": 0, "template": "{} pièces"}, T.NUMBER) == [(("transformation", "round"), "CHN-060")]


def test_each_object_of_a_list_runs_in_canonical_order() -> None:
    # stripHtml before maxLength: cutting the HTML first would give "Taboure".
    compiled = compile_([{"maxLength": 10, "stripHtml": True}, {"valueMap": {"Tabouret": "Stool"}}])
    assert compiled.apply("<b>Tabouret</b> bas", ctx()) == "Stool"
    assert compiled.apply("<p>Chaise</p>", ctx()) == "Chaise"


# ---------------------------------------------------------------- template


def test_template_formats_numbers_for_the_pim_locale() -> None:
    compiled = compile_({"template": "{name} {weight}"})
    values = {"name": "Chaise", "weight": Decimal("1.5")}
    assert compiled.apply("x", ctx("fr_FR", values)) == "Chaise 1,5"
    assert compiled.apply("x", ctx("en_US", values)) == "Chaise 1.5"
    assert compiled.apply("x", ctx("fr_FR", {"name": "Prix", "weight": Decimal("1234.50")})) == f"Prix 1{NNBSP}234,50"
    assert compiled.apply("x", ctx("fr_FR", {"name": "Lot", "weight": 3})) == "Lot 3"
    assert compiled.uses_attributes == frozenset({"name", "weight"}) and compiled.produces_text


def test_template_keeps_arabic_text_as_it_is_and_follows_the_locale_digits() -> None:
    compiled = compile_({"template": "{brand} {name} {weight}"})
    values = {"brand": "بيت", "name": "كُرْسِيّ", "weight": Decimal("1.5")}
    assert compiled.apply("x", ctx("ar_AE", values)) == "بيت كُرْسِيّ 1.5"
    assert compiled.apply("x", ctx("ar_EG", values)) == "بيت كُرْسِيّ ١٫٥"  # noqa: RUF001 (Arabic-Indic digits, on purpose)


def test_template_collapses_whitespace_around_an_empty_attribute() -> None:
    compiled = compile_({"template": "{brand} {name} {color} {size}"})
    assert compiled.apply("x", ctx(values={"name": "Chaise", "size": "XL"})) == "Chaise XL"
    assert compiled.apply("x", ctx(values={"brand": "Maison", "name": "Chaise"})) == "Maison Chaise"
    assert compiled.apply("x", ctx(values={"brand": "", "name": "Chaise", "color": []})) == "Chaise"
    assert compiled.apply("x", ctx()) == ""


def test_template_braces_current_value_lists_and_measures() -> None:
    assert compile_({"template": "{{{name}}} {}"}).apply("ici", ctx(values={"name": "Chaise"})) == "{Chaise} ici"
    tags = compile_({"template": "{tags}"}, T.MULTISELECT, TAGS)
    assert tags.apply(["x"], ctx(values={"tags": ["rouge", "bleu", "vert"]})) == "rouge, bleu et vert"
    assert tags.apply(["x"], ctx("ar_AE", {"tags": ["أحمر", "أزرق", "أخضر"]})) == "أحمر وأزرق وأخضر"
    measure = compile_({"template": "{weight}"})
    assert (
        measure.apply("x", ctx(values={"weight": {"amount": Decimal("1.50"), "unit": "KILOGRAM"}})) == f"1,50{NNBSP}kg"
    )
    assert measure.apply("x", ctx(values={"weight": {"amount": Decimal("2"), "unit": "BUSHEL"}})) == "2 BUSHEL"


def test_template_words_a_measure_for_its_amount_in_every_locale() -> None:
    """Akeneo's demo weighs product 1111111171 at 500 GRAM: the Arabic text must keep the 500."""
    measure = compile_({"template": "{name} {weight}"})

    def rendered(locale: str, amount: str, unit: str) -> str:
        weight = {"amount": Decimal(amount), "unit": unit}
        return measure.apply("x", ctx(locale, {"name": "Sac", "weight": weight}))

    assert rendered("ar_AE", "500", "GRAM") == "Sac 500 غرام"
    assert rendered("ar_EG", "500", "GRAM") == "Sac ٥٠٠ غرام"  # noqa: RUF001 (Arabic-Indic digits, on purpose)
    assert rendered("ar_AE", "1.50", "KILOGRAM") == "Sac 1.50 كغم"
    assert rendered("ru_RU", "1234.5", "GRAM") == f"Sac 1{NBSP}234,5 г"  # noqa: RUF001 (Cyrillic, on purpose)
    # Akeneo's codes for the units convertUnit knows read as the locale writes them, not as codes.
    assert rendered("fr_FR", "3", "FEET") == f"Sac 3{NNBSP}pi"
    assert rendered("en_US", "2", "TON") == "Sac 2 t"
    assert rendered("en_US", "10", "YARD") == "Sac 10 yd"


# ---------------------------------------------------------------- valueMap


def test_value_map_maps_text_and_keeps_what_it_does_not_know() -> None:
    compiled = compile_({"valueMap": {"red": "Red", "blue": "Blue"}}, T.SELECT, COLOR)
    assert compiled.apply("red", ctx()) == "Red"
    assert compiled.apply("green", ctx()) == "green"
    assert not compiled.produces_text


def test_value_map_per_locale_follows_the_locale_chain_then_the_star() -> None:
    entries = {"red": {"en-US": "Red", "fr": "Rouge", "ar": "أحمر", "*": "Red"}, "blue": {"fr_FR": "Bleu"}}
    compiled = compile_({"valueMap": entries}, T.SELECT, ChannelField("color", FieldType.STRING))
    assert compiled.apply("red", ctx("ar_AE")) == "أحمر"
    assert compiled.apply("red", ctx("fr_CA")) == "Rouge"
    assert compiled.apply("red", ctx("de_DE")) == "Red"
    assert compiled.apply("blue", ctx("fr_FR")) == "Bleu"
    assert compiled.apply("blue", ctx("ar_AE")) == "blue"


def test_value_map_maps_each_item_of_a_list_without_duplicates() -> None:
    compiled = compile_({"valueMap": {"red": "Rouge", "crimson": "Rouge", "blue": "Bleu"}}, T.MULTISELECT, TAGS)
    assert compiled.apply(["red", "crimson", "blue", "green"], ctx()) == ["Rouge", "Bleu", "green"]


def test_value_map_can_drop_or_refuse_unmapped_values() -> None:
    drop = compile_({"valueMap": {"red": "Rouge"}, "unmapped": "drop"}, T.MULTISELECT, TAGS)
    assert drop.apply(["red", "green"], ctx()) == ["Rouge"]
    assert compile_({"valueMap": {"red": "Rouge"}, "unmapped": "drop"}, T.SELECT).apply("green", ctx()) is None
    then_cut = compile_([{"valueMap": {"red": "Rouge"}, "unmapped": "drop"}, {"maxLength": 3}], T.SELECT)
    assert then_cut.apply("green", ctx()) is None
    then_render = compile_([{"valueMap": {"red": "Rouge"}, "unmapped": "drop"}, {"template": "{brand} {}"}], T.SELECT)
    assert then_render.apply("green", ctx(values={"brand": "Maison"})) == "Maison"
    strict = compile_({"valueMap": {"red": {"fr": "Rouge"}}, "unmapped": "error"}, T.SELECT)
    assert strict.apply("red", ctx("fr_BE")) == "Rouge"
    with pytest.raises(TransformationError) as caught:
        strict.apply("red", ctx("ar_AE"))
    assert caught.value.code is ErrorCode.MAPPING_INVALID and "'red'" in caught.value.message


def test_value_map_refuses_what_it_cannot_look_up_saying_why() -> None:
    strict = compile_({"valueMap": {"red": "Rouge"}, "unmapped": "error"}, T.SELECT)
    with pytest.raises(TransformationError, match="valueMap has no entry for 'green' in any locale"):
        strict.apply("green", ctx(""))
    with pytest.raises(TransformationError, match="valueMap takes text, a list or true/false, got Decimal"):
        strict.apply(Decimal("3"), ctx())
    localized = compile_({"valueMap": {"red": {"fr": "Rouge", "*": "Red"}}}, T.SELECT)
    assert localized.apply("red", ctx("")) == "Red"
    with pytest.raises(TransformationError) as caught:
        localized.apply("red", ctx("xx_NOT_A_LOCALE"))
    assert "xx_NOT_A_LOCALE" in caught.value.message


def test_value_map_maps_true_and_false_to_a_fields_choices() -> None:
    status = ChannelField("status", FieldType.ENUM, choices=("ACTIVE", "DRAFT", "ARCHIVED"))
    both = compile_({"valueMap": {"true": "ACTIVE", "false": "DRAFT"}}, T.BOOLEAN, status)
    assert (both.apply(True, ctx()), both.apply(False, ctx())) == ("ACTIVE", "DRAFT")
    assert both.produces_text
    only_true = compile_({"valueMap": {"true": "ACTIVE"}, "unmapped": "drop"}, T.BOOLEAN, status)
    assert only_true.apply(False, ctx()) is None
    yes_no = compile_({"valueMap": {"true": "Oui", "false": {"ar": "لا", "*": "Non"}}}, T.BOOLEAN, TITLE)
    assert (yes_no.apply(True, ctx()), yes_no.apply(False, ctx("ar_AE"))) == ("Oui", "لا")
    assert problems({"valueMap": {"true": "ACTIVE"}}, T.BOOLEAN, status) == [
        (("transformation", "valueMap"), "CHN-060")
    ]
    assert problems(
        {"valueMap": {"true": "ACTIVE", "false": "DRAFT"}}, T.BOOLEAN, ChannelField("b", FieldType.BOOLEAN)
    ) == [(("transformation", "valueMap"), "CHN-011")]


# ---------------------------------------------------------------- stripHtml


def test_strip_html_decodes_entities_and_keeps_the_text_of_nested_tags() -> None:
    compiled = compile_({"stripHtml": True}, T.TEXTAREA, SUMMARY)
    html = (
        '<div class="d"><p>Caf&eacute; &amp; th&eacute;&nbsp;vert <b><i>bio</i></b></p>'
        "<ul><li>un</li><li>deux <span>et</span> trois</li></ul><script>alert(1)</script>"
        "<table><tr><td>A</td><td>B</td></tr></table>a &lt;b&gt; &amp;amp;<br/>fin</div>"
    )
    assert compiled.apply(html, ctx()) == f"Café & thé{NBSP}vert bio\nun\ndeux et trois\nA B\na <b> &amp;\nfin"
    assert compiled.apply(["<b>un</b>", "<p></p>"], ctx()) == ["un"]


def test_strip_html_handles_arabic_and_can_join_blocks_with_spaces() -> None:
    compiled = compile_({"stripHtml": {"lineBreaks": False}}, T.TEXTAREA, SUMMARY)
    assert compiled.apply("<h2>كُرْسِيّ</h2><p>خشب &amp; قماش</p>", ctx("ar_AE")) == "كُرْسِيّ خشب & قماش"
    assert strip_html("  plain\t text \n\n  here ") == "plain text\nhere"


def test_strip_html_keeps_the_no_break_spaces_of_french_typography() -> None:
    """Akeneo's French descriptions: every no-break space (before "!", ":", ";", inside "4 800") became a plain
    space, which lets the storefront break the line before the punctuation or inside the number."""
    with shared_path("data", "akeneo_icecat_demo_dev", "products.csv").open(newline="", encoding="utf-8") as handle:
        cells = [row["description-fr_FR-print"] for row in csv.DictReader(handle, delimiter=";")]
    french = [cell for cell in cells if NBSP in html.unescape(cell)]
    assert len(french) == 80
    compiled = compile_({"stripHtml": True}, T.TEXTAREA, SUMMARY)
    for cell in french:
        plain = compiled.apply(cell, ctx("fr_FR"))
        assert plain.count(NBSP) >= cell.count(NBSP), cell
    assert "Branchez, Jouez, Appréciez\u00a0!" in "\n".join(compiled.apply(cell, ctx("fr_FR")) for cell in french)
    assert strip_html(f" \t{NBSP}a  b{NNBSP}: c {NBSP}\n{NBSP}\n") == f"a b{NNBSP}: c"


def test_strip_html_into_an_html_field_sends_text_the_channel_shows_as_written() -> None:
    """Decoded and sent as HTML, "&lt;b&gt;" would come out as a tag, "&lt;script&gt;" as a script."""
    compiled = compile_({"stripHtml": True}, T.TEXTAREA, BODY)
    markup = "<p>a &lt; b &amp;&amp; c &gt; d</p><p>&lt;b&gt;bold?&lt;/b&gt; &lt;script&gt;x()&lt;/script&gt;</p>"
    sent = compiled.apply(markup, ctx())
    assert sent == "a &lt; b &amp;&amp; c &gt; d<br>&lt;b&gt;bold?&lt;/b&gt; &lt;script&gt;x()&lt;/script&gt;", (
        "its lines stay two lines on the storefront"
    )
    assert strip_html(sent) == strip_html(markup), "what the shopper reads is what the PIM says"
    cut = compile_({"stripHtml": True, "maxLength": 9}, T.TEXTAREA, BODY).apply(markup, ctx())
    assert cut == "a &lt; b", "the limit counts the entities and never splits one"


def test_a_template_into_an_html_field_escapes_the_text_it_puts_in_and_keeps_its_own_markup() -> None:
    """The template's own text is the mapping author's markup; a name or a number put into it is text: "A < B & C"
    must read as written, a name holding "<img onerror>" must not become a tag; a rich text (TEXTAREA) is markup."""
    compiled = compile_transformation(
        {"template": "<b>{brand}</b> {}<p>{description}</p>"},
        attribute_type=T.TEXT,
        field=BODY,
        known_attributes=KNOWN,
        markup_attributes={"description"},
    )
    values = {"brand": "A < B & C", "description": "<i>oak</i>"}
    sent = compiled.apply('<img src=x onerror="alert(1)">\nline two', ctx(values=values))
    assert sent == ('<b>A &lt; B &amp; C</b> &lt;img src=x onerror="alert(1)"&gt;<br>line two<p><i>oak</i></p>'), (
        "text escaped, its line break a <br>; the template's tags and the rich text kept"
    )
    assert compile_({"template": "{brand} {}"}).apply("x", ctx(values=values)) == "A < B & C x", (
        "a plain-text field gets the text as it is"
    )


def test_a_plain_text_textarea_keeps_its_lines_where_a_template_puts_it_and_when_cut() -> None:
    """A TEXTAREA typed without the rich-text editor is plain text: in an HTML field its paragraphs are <p> and its
    lines <br>, also inside a template and before maxLength cuts it (so the limit counts them); markup is kept."""
    care = "Lavage à 30°\nNe pas sécher en machine\n\nCuir < 5 % & coton"
    as_markup = "<p>Lavage à 30°<br>Ne pas sécher en machine</p><p>Cuir &lt; 5 % &amp; coton</p>"
    template = compile_transformation(
        {"template": "<h2>{brand}</h2>{description}"},
        attribute_type=T.TEXT,
        field=BODY,
        known_attributes=KNOWN,
        markup_attributes={"description"},
    )
    assert template.apply("x", ctx(values={"brand": "Mexx", "description": care})) == f"<h2>Mexx</h2>{as_markup}"
    cut = compile_({"maxLength": 40}, T.TEXTAREA, BODY).apply(care, ctx())
    assert cut == "<p>Lavage à 30°<br>Ne pas sécher en</p>"
    for written in ["<p>Lavage</p>\n<p>Cuir</p>", "Lavage &amp; séchage\nCuir", "Lavage à 30°"]:
        assert compile_({"maxLength": 60}, T.TEXTAREA, BODY).apply(written, ctx()) == written, "markup, or one line"


def test_max_length_into_an_html_field_cuts_plain_text_as_what_is_sent() -> None:
    """Plain text is made HTML before the cut: the limit counts its entities, and the cut never splits one."""
    compiled = compile_({"maxLength": 12}, T.TEXT, BODY)
    assert compiled.apply("Salt & Pepper mill", ctx()) == "Salt &amp;", "12 characters as sent, no entity split"
    assert compiled.apply("a <b> c", ctx()) == "a &lt;b&gt;", "'<b>' is text (13 characters sent), not a tag"


# ---------------------------------------------------------------- applyTax and round


def test_apply_tax_turns_net_prices_gross_exactly() -> None:
    compiled = compile_({"applyTax": True, "taxRate": "0.15", "pricesIncludeTax": False}, T.PRICE, PRICE_FIELD)
    assert compiled.apply(Decimal("99.99"), ctx()) == Decimal("114.99")
    assert compiled.apply(Decimal("10"), ctx()) == Decimal("11.50")


def test_apply_tax_takes_both_shapes_and_floats_exactly() -> None:
    beside = compile_({"applyTax": True, "taxRate": 0.15}, T.PRICE, PRICE_FIELD)
    inside = compile_({"applyTax": {"taxRate": 0.15}}, T.PRICE, PRICE_FIELD)
    assert beside.steps == inside.steps
    assert inside.apply(Decimal("99.99"), ctx()) == Decimal("114.99")


def test_apply_tax_turns_gross_prices_net_or_only_rounds() -> None:
    to_net = {"applyTax": True, "taxRate": "0.15", "pricesIncludeTax": True, "output": "net"}
    assert compile_(to_net, T.PRICE, PRICE_FIELD).apply(Decimal("114.99"), ctx()) == Decimal("99.99")
    assert compile_(to_net, T.PRICE, PRICE_FIELD).apply(Decimal("115"), ctx()) == Decimal("100.00")
    already_gross = {"applyTax": True, "taxRate": "0.15", "pricesIncludeTax": True}
    assert compile_(already_gross, T.PRICE, PRICE_FIELD).apply(Decimal("114.987"), ctx()) == Decimal("114.99")


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("HALF_UP", "13.7"),
        ("HALF_EVEN", "13.6"),
        ("HALF_DOWN", "13.6"),
        ("UP", "13.7"),
        ("DOWN", "13.6"),
        ("CEILING", "13.7"),
        ("FLOOR", "13.6"),
    ],
)
def test_apply_tax_rounding_modes(mode: str, expected: str) -> None:
    # 13.00 * 1.05 = 13.65 exactly: the modes differ on the half.
    raw = {"applyTax": {"taxRate": "0.05", "roundingMode": mode, "decimals": 1}}
    assert compile_(raw, T.PRICE, PRICE_FIELD).apply(Decimal("13.00"), ctx()) == Decimal(expected)


def test_apply_tax_takes_missing_options_from_the_connector() -> None:
    connector = {"applyTax": True, "taxRate": "0.05", "pricesIncludeTax": False, "roundingMode": "DOWN", "decimals": 0}
    assert compile_({"applyTax": True}, T.PRICE, PRICE_FIELD, connector).apply(Decimal("99.99"), ctx()) == 104
    overridden = compile_({"applyTax": True, "taxRate": "0.15", "decimals": 2}, T.PRICE, PRICE_FIELD, connector)
    assert overridden.apply(Decimal("99.99"), ctx()) == Decimal("114.98")


def test_apply_tax_refuses_a_value_that_is_not_a_number() -> None:
    compiled = compile_({"applyTax": True, "taxRate": "0.15"}, T.PRICE, PRICE_FIELD)
    with pytest.raises(TransformationError) as caught:
        compiled.apply("12.50 EUR", ctx())
    assert caught.value.code is ErrorCode.TAX_CALCULATION_ERROR


def test_round_numbers_and_measures() -> None:
    assert compile_({"round": 2}, T.NUMBER, PRICE_FIELD).apply(Decimal("2.665"), ctx()) == Decimal("2.67")
    even = compile_({"round": {"decimals": 2, "mode": "HALF_EVEN"}}, T.NUMBER, PRICE_FIELD)
    assert even.apply(Decimal("2.665"), ctx()) == Decimal("2.66")
    assert str(compile_({"round": 1}, T.NUMBER, PRICE_FIELD).apply(Decimal("2"), ctx())) == "2.0"
    measure = compile_({"round": 1}, T.METRIC, PRICE_FIELD)
    assert measure.apply({"amount": Decimal("1.25"), "unit": "KILOGRAM"}, ctx()) == {
        "amount": Decimal("1.3"),
        "unit": "KILOGRAM",
    }
    with pytest.raises(TransformationError):
        compile_({"round": 2}, T.NUMBER, PRICE_FIELD).apply("2.5", ctx())


# ---------------------------------------------------------------- formatCurrency


def test_format_currency_follows_the_pim_locale() -> None:
    compiled = compile_({"formatCurrency": True}, T.PRICE)
    assert compiled.produces_text
    assert compiled.apply(Decimal("12.5"), ctx("fr_FR")) == f"12,50{NBSP}€"
    assert compiled.apply(Decimal("1234.5"), ctx("en_US", currency="USD")) == "$1,234.50"
    assert compiled.apply(Decimal("1234.6"), ctx("fr_FR", currency="JPY")) == f"1{NNBSP}235{NBSP}JPY"


def test_format_currency_in_arabic_with_latin_or_native_digits() -> None:
    latin = compile_({"formatCurrency": True}, T.PRICE)
    assert latin.apply(Decimal("12.5"), ctx("ar_AE", currency="AED")) == f"{RLM}12.50{NBSP}د.إ.{RLM}"
    native = compile_({"formatCurrency": {"numberingSystem": "native"}}, T.PRICE)
    assert native.apply(Decimal("12.5"), ctx("ar_AE", currency="AED")) == f"{RLM}١٢٫٥٠{NBSP}د.إ.{RLM}"  # noqa: RUF001


def test_format_currency_in_a_fixed_or_the_channel_locale() -> None:
    fixed = compile_({"formatCurrency": {"locale": "de-DE"}}, T.PRICE)
    assert fixed.apply(Decimal("12.5"), ctx("en_US")) == f"12,50{NBSP}€"
    channel = compile_({"formatCurrency": {"locale": "channel"}}, T.PRICE)
    assert channel.apply(Decimal("12.5"), ctx("en_US", channel="fr")) == f"12,50{NBSP}€"
    assert channel.apply(Decimal("12.5"), ctx("en_US", channel="")) == "€12.50"


def _cldr_minus_sign(cldr_locale: str, numbering: str) -> str:
    """The minus sign CLDR's numbers data (the team's copy, cldr-numbers-modern) gives the locale in a numbering
    system ("default" and "native" as the locale names them)."""
    path = shared_path("data", "cldr_numbers_modern", "main", cldr_locale, "numbers.json")
    numbers = json.loads(path.read_text(encoding="utf-8"))["main"][cldr_locale]["numbers"]
    system = {"latn": "latn", "native": numbers["otherNumberingSystems"]["native"]}[numbering]
    sign: str = numbers[f"symbols-numberSystem-{system}"]["minusSign"]
    return sign


@pytest.mark.parametrize(
    ("cldr_locale", "pim_locale", "numbering"),
    [
        ("he", "he_IL", "latn"),
        ("ar-AE", "ar_AE", "latn"),
        ("ar-AE", "ar_AE", "native"),
        ("ar-SA", "ar_SA", "native"),
        ("fa", "fa_IR", "native"),
        ("fa", "fa_IR", "latn"),
        ("de", "de_DE", "latn"),
        ("en", "en_US", "latn"),
    ],
)
def test_a_negative_number_carries_the_locales_own_minus_sign(
    cldr_locale: str, pim_locale: str, numbering: str
) -> None:
    """A negative amount went out with an ASCII hyphen whatever the locale: Hebrew and Arabic write theirs with a
    direction mark (LRM, ALM) so a right-to-left storefront shows "-5" rather than "5-", Persian a real minus."""
    sign = _cldr_minus_sign(cldr_locale, numbering)
    money = compile_({"formatCurrency": {"numberingSystem": numbering}}, T.PRICE)
    as_text = money.apply(Decimal("-1234.5"), ctx(pim_locale, currency="EUR"))
    assert sign in as_text and "-" not in as_text.replace(sign, ""), ascii(as_text)
    if numbering == "latn" or cldr_locale in ("ar-SA", "fa"):  # the locale's default digits: templates use them
        template = compile_({"template": "{weight} / {size}"})
        values = {"weight": Decimal("-20.5"), "size": {"amount": Decimal("-3"), "unit": "KILOGRAM"}}
        rendered = template.apply("x", ctx(pim_locale, values))
        assert rendered.count(sign) == 2 and "-" not in rendered.replace(sign, ""), ascii(rendered)


def test_format_currency_needs_the_connectors_currency() -> None:
    with pytest.raises(TransformationError, match="currency"):
        compile_({"formatCurrency": True}, T.PRICE).apply(Decimal("1"), ctx(currency=None))


def test_format_currency_rounds_the_way_the_mapping_rounds_whoever_formats_first() -> None:
    """Babel rounded in the caller's decimal context (HALF_EVEN by default), not the mapping's HALF_UP, and cached
    the first caller's result: 2.345 EUR read "2,34 €" though round and applyTax would have made it 2.35."""
    plain = compile_({"formatCurrency": True}, T.PRICE)
    assert plain.apply(Decimal("2.345"), ctx()) == f"2,35{NBSP}€", "HALF_UP, the default of round and applyTax"
    assert plain.apply(Decimal("2.5"), ctx(currency="JPY")) == f"3{NBSP}JPY"
    after_round = compile_({"round": 3, "formatCurrency": True}, T.PRICE)
    assert after_round.apply(Decimal("2.3449"), ctx()) == f"2,35{NBSP}€", "2.345 once rounded to 3 decimals"
    even = compile_([{"round": {"decimals": 3, "mode": "HALF_EVEN"}}, {"formatCurrency": True}], T.PRICE)
    assert even.apply(Decimal("2.345"), ctx()) == f"2,34{NBSP}€"
    taxed = compile_(
        {"applyTax": True, "taxRate": "0", "decimals": 3, "roundingMode": "DOWN", "formatCurrency": True}, T.PRICE
    )
    assert taxed.apply(Decimal("2.349"), ctx()) == f"2,34{NBSP}€"
    with decimal.localcontext(rounding=decimal.ROUND_FLOOR):
        assert plain.apply(Decimal("7.775"), ctx()) == f"7,78{NBSP}€", "the caller's context does not count"


def test_tax_then_currency_in_one_object() -> None:
    compiled = compile_({"formatCurrency": True, "applyTax": True, "taxRate": "0.15"}, T.PRICE)
    assert compiled.apply(Decimal("99.99"), ctx("fr_FR")) == f"114,99{NBSP}€"


# ---------------------------------------------------------------- maxLength


def test_max_length_cuts_at_a_word_boundary_with_the_ellipsis_counted() -> None:
    text = "Chaise longue en chêne massif"
    assert compile_({"maxLength": 70}).apply(text, ctx()) == text
    assert compile_({"maxLength": 15}).apply(text, ctx()) == "Chaise longue"
    assert compile_({"maxLength": {"length": 16, "ellipsis": "…"}}).apply(text, ctx()) == "Chaise longue…"
    assert compile_({"maxLength": 13}).apply(text, ctx()) == "Chaise longue"
    assert compile_({"maxLength": 4}).apply(text, ctx()) == "Chai"


def test_max_length_never_breaks_at_a_no_break_space() -> None:
    assert truncate(f"Sac 12{NBSP}kg bleu", 8) == "Sac"
    assert truncate(f"Sac 12{NBSP}kg bleu", 10) == f"Sac 12{NBSP}kg"


def test_max_length_keeps_arabic_harakat_with_their_letter() -> None:
    word = "مَرْحَبًا"  # m + fatha, r + sukun, h + fatha, b + tanwin, alif
    assert truncate(word, 4) == "مَرْ"
    assert truncate(word, 3) == "مَ"
    assert truncate(word, 4, "…") == "مَ…"
    sentence = "مَرْحَبًا بِكُمْ فِي الْمَتْجَرِ"
    assert compile_({"maxLength": {"length": 12, "ellipsis": "…"}}).apply(sentence, ctx("ar_AE")) == "مَرْحَبًا…"
    assert compile_({"maxLength": 5}, T.MULTISELECT, TAGS).apply(["كُرْسِيّ", "خشب"], ctx()) == ["كُرْ", "خشب"]


def test_max_length_never_splits_a_flag_or_a_skin_tone_from_its_emoji() -> None:
    flags = "\U0001f1f8\U0001f1e6\U0001f1e6\U0001f1ea\U0001f1eb\U0001f1f7"  # Saudi Arabia, Emirates, France
    assert truncate(flags, 5) == flags[:4]
    assert compile_({"maxLength": 3}, T.MULTISELECT, TAGS).apply([flags, "Mode"], ctx()) == [flags[:2], "Mod"]
    thumbs = "\U0001f44d\U0001f3fd\U0001f44d\U0001f3fd"  # thumbs up, medium skin tone, twice
    assert truncate(thumbs, 3) == thumbs[:2]
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert truncate(family + " Famille", 4) == ""  # the family is one character of five code points: none fits
    scotland = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    assert truncate(scotland + scotland, 10) == scotland


def test_max_length_that_leaves_nothing_of_a_value_fails_it_instead_of_clearing_the_channel() -> None:
    """Sent as "", the value would be a clear (whenEmpty CLEAR): the channel would lose a title the PIM has."""
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one character of five code points
    for raw, field, text in [
        ({"maxLength": 4}, TITLE, family + " Famille"),
        ({"maxLength": {"length": 5, "ellipsis": "…"}}, TITLE, family + " Famille"),
        ({"maxLength": 2}, TITLE, "e\u0301\u0301\u0301 acute"),
        ({"maxLength": 6}, BODY, "<p>Chaise longue</p>"),
        ({"maxLength": {"length": 8, "ellipsis": "…"}}, BODY, "<div><p>Chaise</p></div>"),
    ]:
        with pytest.raises(TransformationError, match="leaves nothing") as caught:
            compile_(raw, T.TEXTAREA, field).apply(text, ctx())
        assert caught.value.code is ErrorCode.FIELD_TYPE_MISMATCH, (raw, text)
    with pytest.raises(TransformationError, match="leaves nothing"):
        compile_({"maxLength": 4}, T.MULTISELECT, TAGS).apply(["Mode", family], ctx())
    assert compile_({"maxLength": 4}).apply("      ", ctx()) == "", "a blank value is empty whatever the cut"


class _Elements(html.parser.HTMLParser):
    """The elements an HTML fragment leaves open, and whether an end tag closed one that was not the last open."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.open: list[str] = []
        self.misnested = False
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in {"br", "hr", "img"}:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        self.misnested = self.misnested or not self.open or self.open.pop() != tag

    @property
    def well_formed(self) -> bool:
        return not self.open and not self.misnested


def test_max_length_on_an_html_field_cuts_text_never_markup() -> None:
    """Akeneo's French descriptions (HTML, up to 7,867 characters) into eBay's 4,000-character description."""
    with (shared_path("data", "akeneo_icecat_demo_dev") / "products.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    descriptions = [row["description-fr_FR-print"] for row in rows if "<" in row["description-fr_FR-print"]]
    well_formed = [markup for markup in descriptions if _Elements(markup).well_formed]  # some leave a <b> open
    ebay = ChannelField("description", FieldType.HTML, max_length=4000)
    longest = max(descriptions, key=len)
    assert len(longest) > 4000
    sent = compile_({"maxLength": {"length": 4000, "ellipsis": "…"}}, T.TEXTAREA, ebay).apply(longest, ctx())
    assert len(sent) <= 4000 and sent.endswith("…") and longest.startswith(sent[: -len("…")])
    rng = random.Random(7867)
    for markup in well_formed:
        length = rng.randint(10, len(markup))
        cut = compile_({"maxLength": length}, T.TEXTAREA, BODY).apply(markup, ctx())
        assert len(cut) <= length and _Elements(cut).well_formed, (length, cut[-80:])

    link = '<p>Chêne &amp; massif <a href="/c?a=1&amp;b=2" title="a > b">voir</a></p>'
    assert compile_({"maxLength": 30}, T.TEXTAREA, BODY).apply(link, ctx()) == "<p>Chêne &amp; massif</p>"
    assert compile_({"maxLength": 12}, T.TEXTAREA, BODY).apply("<p>Chêne&amp;massif</p>", ctx()) == "<p>Chêne</p>"
    arabic = "<p>مَرْحَبًا بِكُمْ فِي الْمَتْجَرِ</p>"
    assert compile_({"maxLength": {"length": 20, "ellipsis": "…"}}, T.TEXTAREA, BODY).apply(arabic, ctx()) == (
        "<p>مَرْحَبًا…</p>"
    )
    # Once stripHtml made text of it, that text is escaped for the field, and cut as HTML text.
    plain = compile_({"stripHtml": True, "maxLength": 12}, T.TEXTAREA, BODY)
    assert plain.apply(link, ctx()) == "Chêne &amp;"


def test_max_length_on_an_html_field_reads_tags_as_a_browser_does() -> None:
    """An unquoted attribute value may hold an apostrophe (French l'atelier): the tag ends at its ">", so the link's
    text is text to cut, and no cut leaves half a tag for the sanitiser to make a broken image of."""
    link = "<p>Voir <a title=l'atelier href=/fr/atelier>l'atelier de Lyon</a> et ses chaises</p>"
    assert compile_({"maxLength": 66}, T.TEXTAREA, BODY).apply(link, ctx()) == (
        "<p>Voir <a title=l'atelier href=/fr/atelier>l'atelier de</a></p>"
    )
    image = "<p><img alt=l'été src=/ete.png> Chaise longue en chêne</p>"
    for length in range(len("<p><img alt=l'été src=/ete.png> C</p>"), len(image)):
        cut = compile_({"maxLength": length}, T.TEXTAREA, BODY).apply(image, ctx())
        assert cut.startswith("<p><img alt=l'été src=/ete.png> C") and _Elements(cut).well_formed, cut
    with pytest.raises(TransformationError, match="leaves nothing"):  # the image does not fit: nothing is cut
        compile_({"maxLength": 22}, T.TEXTAREA, BODY).apply(image, ctx())
    pinned = [  # (markup, length, cut): what the old tokenizer got right, kept
        ("<p>a <!-- x > y --> b c d e</p>", 24, "<p>a <!-- x > y --></p>"),
        ('<p><a title="a > b">voir plus loin</a></p>', 30, '<p><a title="a > b">vo</a></p>'),
        ("<p>un<br/>deux trois quatre</p>", 18, "<p>un<br/>deux</p>"),
        ("<p><b>gras sans fin et plus de mots", 20, "<p><b>gras</b></p>"),
        ("<p>Prix&nbsp;: 12&nbsp;kg et plus</p>", 24, "<p>Prix&nbsp;:</p>"),
        ("<p>&#x627;&#x644;&#x62e;&#x634;&#x628; plus</p>", 34, "<p>&#x627;&#x644;&#x62e;</p>"),
    ]
    for markup, length, expected in pinned:
        assert compile_({"maxLength": length}, T.TEXTAREA, BODY).apply(markup, ctx()) == expected, markup


def test_max_length_on_an_html_field_keeps_a_mark_written_as_a_reference_with_its_letter() -> None:
    """Arabic written as character references (&#x645;&#x64e; ...) is still letters with their harakat: the cut
    counts the references as sent and never leaves a letter without the mark the PIM gave it."""
    word = "مَرْحَبًا"  # m + fatha, r + sukun, h + fatha, b + tanwin, alif
    markup = "<p>" + "".join(f"&#x{ord(char):x};" for char in word) + "</p>"
    with pytest.raises(TransformationError, match="leaves nothing"):  # the meem alone would fit, not with its fatha
        compile_({"maxLength": len("<p>&#x645;</p>")}, T.TEXTAREA, BODY).apply(markup, ctx("ar_AE"))
    for length in range(len("<p>&#x645;&#x64e;</p>"), len(markup)):
        cut = compile_({"maxLength": length}, T.TEXTAREA, BODY).apply(markup, ctx("ar_AE"))
        shown = html.unescape(cut.removeprefix("<p>").removesuffix("</p>"))
        assert len(cut) <= length and word.startswith(shown) and truncate(word, len(shown)) == shown, (length, cut)


def test_truncation_is_a_prefix_within_the_limit_on_random_text() -> None:
    """A property test without hypothesis (not installed): seeded random texts mixing scripts and marks."""
    alphabet = ["a", "b", "é", "e\u0301", "م", "\u064e", "\u0652", "ب", " ", " ", NBSP, "\u200d", "👍", "\ufe0f", "\n"]
    rng = random.Random(20261122)
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        length = rng.randint(1, 30)
        ellipsis = rng.choice(["", "…", "..."])
        if len(ellipsis) >= length:
            continue
        result = truncate(text, length, ellipsis)
        assert len(result) <= length, (text, length, ellipsis, result)
        if len(text) <= length:
            assert result == text
            continue
        assert result.endswith(ellipsis)
        prefix = result[: len(result) - len(ellipsis)]
        assert text.startswith(prefix), (text, result)
        if prefix:
            assert unicodedata.category(text[len(prefix)]) not in {"Mn", "Mc", "Me"}, (text, result)
            if prefix.endswith("👍\u200d") or prefix.endswith("👍\ufe0f\u200d"):  # emoji ZWJ emoji is one (UAX #29)
                assert text[len(prefix)] != "👍", (text, result)
            budget = length - len(ellipsis)
            if any(text[i] in " \n" and text[:i].strip() for i in range(1, budget + 1)):  # a whole word fits
                assert text[len(prefix)].isspace(), (text, length, ellipsis, result)


# ---------------------------------------------------------------- default


def test_default_is_checked_against_the_channel_field() -> None:
    assert compile_({"default": "—"}).default == "—"
    assert compile_({"default": "0"}, T.PRICE, PRICE_FIELD).default == "0"
    assert compile_({"default": 0.5, "round": 2}, T.PRICE, PRICE_FIELD).default == "0.5"
    assert compile_({"default": ["sans"]}, T.MULTISELECT, TAGS).default == ["sans"]
    assert compile_([{"round": 2}, {"default": "1.50"}], T.PRICE, PRICE_FIELD).default == "1.50"
    assert compile_({"default": "Rouge", "valueMap": {"red": "Rouge"}}, T.SELECT, COLOR).default == "Rouge"


@pytest.mark.parametrize(
    ("raw", "field", "path"),
    [
        ({"default": "beaucoup"}, PRICE_FIELD, ("transformation", "default")),
        ({"default": 12}, TITLE, ("transformation", "default")),
        ({"default": "Vert"}, COLOR, ("transformation", "default")),
        ({"default": "x" * 71}, TITLE, ("transformation", "default")),
        ([{"maxLength": 3}, {"default": True}], TITLE, ("transformation", 1, "default")),
    ],
)
def test_a_default_the_field_cannot_take_is_a_type_mismatch(
    raw: Any, field: ChannelField, path: tuple[str | int, ...]
) -> None:
    assert problems(raw, T.TEXT, field) == [(path, "CHN-011")]


IMAGE_URL = ChannelField("imageUrl", FieldType.URL)
SHORT_TAGS = ChannelField("tags", FieldType.STRING_LIST, max_length=10)


@pytest.mark.parametrize(
    ("raw", "attribute_type", "field", "message"),
    [
        (
            "1e400",
            T.PRICE,
            PRICE_FIELD,
            "default: the amount '1e400' has 401 digits before the decimal point, at most 18",
        ),
        ("-5", T.PRICE, PRICE_FIELD, "default: the amount cannot be negative"),
        (
            "0.0000000000001",
            T.METRIC,
            PRICE_FIELD,
            "default: the amount '0.0000000000001' has 13 digits after the decimal point, at most 12",
        ),
        (
            "files/1111111171/image/bag.jpg",
            T.IMAGE,
            IMAGE_URL,
            "default: imageUrl takes an absolute http:// or https:// address the channel can download, "
            "got 'files/1111111171/image/bag.jpg'",
        ),
        (["chaise", "chêne massif"], T.MULTISELECT, SHORT_TAGS, "default: tags takes at most 10 characters per item"),
    ],
)
def test_a_default_is_checked_as_a_value_from_the_pim_would_be(
    raw: Any, attribute_type: AttributeType, field: ChannelField, message: str
) -> None:
    """A default of "1e400" for a price was saved, and would have gone out as 401 digits, and "-5" as a price:
    a default is sent as it is, so it is held to what a value from the PIM is (an amount of at most 18 digits
    before the point and 12 after, a price not negative; an address a channel can download; each item of a
    list within the field's limit)."""
    with pytest.raises(InvalidTransformation) as caught:
        compile_({"default": raw}, attribute_type, field)
    assert [(error.path, error.code.value, error.message) for error in caught.value.errors] == [
        (("transformation", "default"), "CHN-011", message)
    ]


def test_a_measure_may_default_below_zero_as_its_values_may_and_an_html_default_is_sanitised() -> None:
    assert compile_({"default": "-18.5"}, T.METRIC, PRICE_FIELD).default == "-18.5"
    assert compile_({"default": "12.50"}, T.PRICE, PRICE_FIELD).default == "12.50"
    assert compile_({"default": "https://media.example.com/none.jpg"}, T.IMAGE, IMAGE_URL).default == (
        "https://media.example.com/none.jpg"
    )
    markup = compile_({"default": '<p onclick="steal()">Bientôt<script>x()</script></p>'}, T.TEXTAREA, BODY)
    assert markup.default == "<p>Bientôt</p>"


def test_a_default_given_twice_is_refused() -> None:
    assert problems([{"default": "a"}, {"default": "b"}]) == [(("transformation", 1, "default"), "CHN-060")]


# ---------------------------------------------------------------- validation


P = "transformation"
VALIDATION_CASES: list[tuple[Any, AttributeType, ChannelField, tuple[str | int, ...], str]] = [
    # shape and names
    ("maxLength", T.TEXT, TITLE, (P,), "CHN-060"),
    ({"maxLenght": 10}, T.TEXT, TITLE, (P, "maxLenght"), "CHN-060"),
    ([{"stripHtml": True}, "maxLength"], T.TEXT, TITLE, (P, 1), "CHN-060"),
    ([{"stripHtml": True}, {}], T.TEXT, TITLE, (P, 1), "CHN-060"),
    ({"unmapped": "drop"}, T.SELECT, TITLE, (P, "unmapped"), "CHN-060"),
    # maxLength
    ({"maxLength": 0}, T.TEXT, TITLE, (P, "maxLength"), "CHN-060"),
    ({"maxLength": True}, T.TEXT, TITLE, (P, "maxLength"), "CHN-060"),
    ({"maxLength": 71}, T.TEXT, TITLE, (P, "maxLength"), "CHN-060"),
    ({"maxLength": {"length": "10"}}, T.TEXT, TITLE, (P, "maxLength", "length"), "CHN-060"),
    ({"maxLength": {"length": 2, "ellipsis": "..."}}, T.TEXT, TITLE, (P, "maxLength", "ellipsis"), "CHN-060"),
    ([{"stripHtml": True}, {"maxLength": -1}], T.TEXT, TITLE, (P, 1, "maxLength"), "CHN-060"),
    ({"maxLength": 10}, T.NUMBER, TITLE, (P, "maxLength"), "CHN-060"),
    # round
    ({"round": "2"}, T.NUMBER, PRICE_FIELD, (P, "round"), "CHN-060"),
    ({"round": 7}, T.NUMBER, PRICE_FIELD, (P, "round"), "CHN-060"),
    ({"round": {"decimals": 9}}, T.NUMBER, PRICE_FIELD, (P, "round", "decimals"), "CHN-060"),
    ({"round": {"decimals": 2, "mode": "BANKERS"}}, T.NUMBER, PRICE_FIELD, (P, "round", "mode"), "CHN-060"),
    ({"round": 2}, T.TEXT, TITLE, (P, "round"), "CHN-060"),
    # applyTax
    ({"applyTax": True, "taxRate": "0.15"}, T.TEXT, TITLE, (P, "applyTax"), "CHN-070"),
    ({"applyTax": True}, T.PRICE, PRICE_FIELD, (P, "applyTax"), "CHN-070"),
    ({"applyTax": True, "taxRate": 1.5}, T.PRICE, PRICE_FIELD, (P, "taxRate"), "CHN-070"),
    ({"applyTax": True, "taxRate": "-0.1"}, T.PRICE, PRICE_FIELD, (P, "taxRate"), "CHN-070"),
    ({"applyTax": {"taxRate": 1}}, T.PRICE, PRICE_FIELD, (P, "applyTax", "taxRate"), "CHN-070"),
    ({"applyTax": {"taxRate": "0.1", "rate": 1}}, T.PRICE, PRICE_FIELD, (P, "applyTax", "rate"), "CHN-070"),
    ({"applyTax": {"taxRate": "0.1"}, "decimals": 2}, T.PRICE, PRICE_FIELD, (P, "decimals"), "CHN-070"),
    (
        {"applyTax": True, "taxRate": "0.1", "roundingMode": "UP_ISH"},
        T.PRICE,
        PRICE_FIELD,
        (P, "roundingMode"),
        "CHN-070",
    ),
    (
        {"applyTax": True, "taxRate": "0.1", "pricesIncludeTax": "no"},
        T.PRICE,
        PRICE_FIELD,
        (P, "pricesIncludeTax"),
        "CHN-070",
    ),
    ({"applyTax": True, "taxRate": "0.1", "output": "both"}, T.PRICE, PRICE_FIELD, (P, "output"), "CHN-070"),
    ({"applyTax": "yes"}, T.PRICE, PRICE_FIELD, (P, "applyTax"), "CHN-070"),
    ({"taxRate": "0.1"}, T.PRICE, PRICE_FIELD, (P, "taxRate"), "CHN-060"),
    # formatCurrency
    ({"formatCurrency": True}, T.PRICE, PRICE_FIELD, (P, "formatCurrency"), "CHN-011"),
    ({"formatCurrency": True}, T.TEXT, TITLE, (P, "formatCurrency"), "CHN-060"),
    ({"formatCurrency": {"locale": "xx_ZZ"}}, T.PRICE, TITLE, (P, "formatCurrency", "locale"), "CHN-060"),
    (
        {"formatCurrency": {"numberingSystem": "roman"}},
        T.PRICE,
        TITLE,
        (P, "formatCurrency", "numberingSystem"),
        "CHN-060",
    ),
    ({"formatCurrency": {"currency": "USD"}}, T.PRICE, TITLE, (P, "formatCurrency"), "CHN-060"),
    # template
    ({"template": "{brand} {nope}"}, T.TEXT, TITLE, (P, "template"), "CHN-060"),
    ({"template": "{brand"}, T.TEXT, TITLE, (P, "template"), "CHN-060"),
    ({"template": "{weight:.2f}"}, T.TEXT, TITLE, (P, "template"), "CHN-060"),
    ({"template": "{brand!r}"}, T.TEXT, TITLE, (P, "template"), "CHN-060"),
    ({"template": ""}, T.TEXT, TITLE, (P, "template"), "CHN-060"),
    ({"template": "{name} {weight}"}, T.NUMBER, PRICE_FIELD, (P, "template"), "CHN-011"),
    # valueMap
    ({"valueMap": {"1": "one"}}, T.NUMBER, TITLE, (P, "valueMap"), "CHN-060"),
    ({"valueMap": {"1": "one"}}, T.PRICE, TITLE, (P, "valueMap"), "CHN-060"),
    ({"valueMap": {"yes": "oui", "false": "non"}}, T.BOOLEAN, TITLE, (P, "valueMap", "yes"), "CHN-060"),
    ({"valueMap": {"2024": "x"}}, T.DATE, TITLE, (P, "valueMap"), "CHN-060"),
    ({"valueMap": ["red"]}, T.SELECT, TITLE, (P, "valueMap"), "CHN-060"),
    ({"valueMap": {"red": 1}}, T.SELECT, TITLE, (P, "valueMap", "red"), "CHN-060"),
    ({"valueMap": {"red": {"xx_ZZ": "Red"}}}, T.SELECT, TITLE, (P, "valueMap", "red", "xx_ZZ"), "CHN-060"),
    ({"valueMap": {"red": {"fr": "Rouge", "fr-": "Rouge"}}}, T.SELECT, TITLE, (P, "valueMap", "red", "fr-"), "CHN-060"),
    (
        {"valueMap": {"red": {"en_US": "Red", "en-US": "Red"}}},
        T.SELECT,
        TITLE,
        (P, "valueMap", "red", "en-US"),
        "CHN-060",
    ),
    ({"valueMap": {"red": "Vermilion"}}, T.SELECT, COLOR, (P, "valueMap", "red"), "CHN-060"),
    ({"valueMap": {"red": {"ar": "قرمزي"}}}, T.SELECT, COLOR, (P, "valueMap", "red", "ar"), "CHN-060"),
    ({"valueMap": {"red": "Red"}, "unmapped": "ignore"}, T.SELECT, TITLE, (P, "unmapped"), "CHN-060"),
    # convertUnit
    ({"convertUnit": "STONE"}, T.METRIC, PRICE_FIELD, (P, "convertUnit"), "CHN-060"),
    ({"convertUnit": ["GRAM"]}, T.METRIC, PRICE_FIELD, (P, "convertUnit"), "CHN-060"),
    ({"convertUnit": "GRAM"}, T.NUMBER, PRICE_FIELD, (P, "convertUnit"), "CHN-060"),
    # stripHtml
    ({"stripHtml": "yes"}, T.TEXTAREA, BODY, (P, "stripHtml"), "CHN-060"),
    ({"stripHtml": {"newlines": True}}, T.TEXTAREA, BODY, (P, "stripHtml"), "CHN-060"),
    ({"stripHtml": True}, T.PRICE, TITLE, (P, "stripHtml"), "CHN-060"),
]


@pytest.mark.parametrize(("raw", "attribute_type", "field", "path", "code"), VALIDATION_CASES)
def test_each_problem_has_its_path_and_code(
    raw: Any, attribute_type: AttributeType, field: ChannelField, path: tuple[str | int, ...], code: str
) -> None:
    assert (path, code) in problems(raw, attribute_type, field)


def test_an_invalid_connector_tax_default_is_reported_on_the_step() -> None:
    found = problems({"applyTax": True}, T.PRICE, PRICE_FIELD, {"taxRate": "2"})
    assert found == [(("transformation", "applyTax"), "CHN-070")]


def test_every_problem_is_reported_at_once() -> None:
    raw = [{"template": "{nope}", "maxLenght": 3}, {"maxLength": 0}, {"round": "x"}]
    assert problems(raw) == [
        (("transformation", 0, "maxLenght"), "CHN-060"),
        (("transformation", 0, "template"), "CHN-060"),
        (("transformation", 1, "maxLength"), "CHN-060"),
        (("transformation", 2, "round"), "CHN-060"),
        (("transformation", 2, "round"), "CHN-060"),
    ]


def test_steps_that_are_switched_off_do_nothing() -> None:
    compiled = compile_(
        {"stripHtml": False, "applyTax": False, "formatCurrency": False, "round": 2}, T.PRICE, PRICE_FIELD
    )
    assert compiled.apply(Decimal("1.005"), ctx()) == Decimal("1.01")
    assert not compiled.produces_text


def test_convert_unit_is_exact_within_a_dimension_and_names_a_unit_it_cannot_convert() -> None:
    """Akeneo's unit codes; the pound is 453.59237 g exactly, the ounce a sixteenth of it."""
    to_grams = compile_({"convertUnit": "GRAM"}, T.METRIC, PRICE_FIELD)
    assert to_grams.unit == "GRAM"

    def grams(amount: str, unit: str) -> Any:
        return to_grams.apply({"amount": Decimal(amount), "unit": unit}, ctx())["amount"]

    assert (grams("1.5", "KILOGRAM"), grams("2", "POUND"), grams("1", "OUNCE")) == (
        Decimal("1500"),
        Decimal("907.18474"),
        Decimal("28.349523125"),
    )
    assert (grams("250", "MILLIGRAM"), grams("0.002", "TON"), grams("4.250", "GRAM")) == (
        Decimal("0.25"),
        Decimal("2000"),
        Decimal("4.250"),
    )
    to_pounds = compile_({"convertUnit": "POUND", "round": 3}, T.METRIC, PRICE_FIELD)
    assert to_pounds.apply({"amount": Decimal("1"), "unit": "KILOGRAM"}, ctx())["amount"] == Decimal("2.205")
    to_centimeters = compile_({"convertUnit": "CENTIMETER"}, T.METRIC, PRICE_FIELD)
    inches = to_centimeters.apply({"amount": Decimal("15.6"), "unit": "INCH"}, ctx())
    assert inches == {"amount": Decimal("39.624"), "unit": "CENTIMETER"}
    for unit in ("METER", "BUSHEL"):
        with pytest.raises(TransformationError) as caught:
            grams("1", unit)
        assert caught.value.code is ErrorCode.FIELD_TYPE_MISMATCH and unit in caught.value.message


def test_a_converted_amount_is_written_out_plainly() -> None:
    """Without the trailing zeros a conversion leaves, and never in exponent form (1.5 kg is 1500 g, not 1.5E+3)."""
    to_grams = compile_({"convertUnit": "GRAM"}, T.METRIC, PRICE_FIELD)
    to_millimeters = compile_({"convertUnit": "MILLIMETER"}, T.METRIC, PRICE_FIELD)
    written = [
        str(to_grams.apply({"amount": Decimal("1.5"), "unit": "KILOGRAM"}, ctx())["amount"]),
        str(to_millimeters.apply({"amount": Decimal("1"), "unit": "CENTIMETER"}, ctx())["amount"]),
        str(to_millimeters.apply({"amount": Decimal("2.50"), "unit": "METER"}, ctx())["amount"]),
        str(to_grams.apply({"amount": Decimal("1.20"), "unit": "GRAM"}, ctx())["amount"]),
    ]
    assert written == ["1500", "10", "2500", "1.20"]


@pytest.mark.parametrize("value", ["1.5 kg", Decimal("1.5"), {"amount": "1.5", "unit": "KILOGRAM"}, {"unit": "GRAM"}])
def test_convert_unit_takes_only_a_measure(value: Any) -> None:
    to_grams = compile_({"convertUnit": "GRAM"}, T.METRIC, PRICE_FIELD)
    with pytest.raises(TransformationError) as caught:
        to_grams.apply(value, ctx())
    assert caught.value.code is ErrorCode.FIELD_TYPE_MISMATCH and "convertUnit takes a measure" in caught.value.message


_DEFAULT_FIELDS = {
    "price": ChannelField("price", FieldType.DECIMAL),
    "quantity": ChannelField("quantity", FieldType.INTEGER),
    "published": ChannelField("published", FieldType.BOOLEAN),
    "tags": ChannelField("tags", FieldType.STRING_LIST, max_length=5),
    "launch": ChannelField("launch", FieldType.DATE),
    "title": ChannelField("title", FieldType.STRING, max_length=5),
}


@pytest.mark.parametrize(
    ("field", "attribute_type", "raw", "wire"),
    [
        ("price", T.PRICE, "12.50", "12.50"),
        ("price", T.NUMBER, -3, "-3"),
        ("quantity", T.NUMBER, 5, 5),
        ("published", T.BOOLEAN, False, False),
        ("tags", T.MULTISELECT, ["lin", "coton"], ["lin", "coton"]),  # five characters an item at most
        ("launch", T.DATE, "2026-03-01", "2026-03-01"),
        ("title", T.TEXT, "Stool", "Stool"),
    ],
)
def test_a_default_is_kept_in_its_wire_form(field: str, attribute_type: AttributeType, raw: Any, wire: Any) -> None:
    assert compile_({"default": raw}, attribute_type, _DEFAULT_FIELDS[field]).default == wire


@pytest.mark.parametrize(
    ("field", "attribute_type", "raw"),
    [
        ("price", T.PRICE, True),
        ("price", T.PRICE, "douze"),
        ("price", T.PRICE, "-1"),
        ("quantity", T.NUMBER, "5"),
        ("quantity", T.NUMBER, 5.5),
        ("published", T.BOOLEAN, "true"),
        ("tags", T.MULTISELECT, "lin"),
        ("tags", T.MULTISELECT, ["lin", ""]),
        ("tags", T.MULTISELECT, ["lin", "cotons"]),
        ("launch", T.DATE, "01/03/2026"),
        ("title", T.TEXT, "Stools"),
        ("title", T.TEXT, ""),
    ],
)
def test_a_default_the_field_cannot_take_is_refused_when_the_mapping_is_saved(
    field: str, attribute_type: AttributeType, raw: Any
) -> None:
    assert problems({"default": raw}, attribute_type, _DEFAULT_FIELDS[field]) == [
        (("transformation", "default"), "CHN-011")
    ]


@pytest.mark.parametrize("raw", [True, "douze"])
def test_a_decimal_fields_default_that_is_no_number_says_what_the_field_takes(raw: Any) -> None:
    with pytest.raises(InvalidTransformation) as caught:
        compile_({"default": raw}, T.PRICE, _DEFAULT_FIELDS["price"])
    assert [error.message for error in caught.value.errors] == ["default: price takes a decimal number"]


HUGE = Decimal("9" * 59)
"""An amount whose cents no longer fit the 60 digits money is computed in."""


@pytest.mark.parametrize(
    ("raw", "field", "code", "message"),
    [
        ({"round": 2}, PRICE_FIELD, ErrorCode.MAPPING_INVALID, "has too many digits to round"),
        ({"applyTax": True, "taxRate": "0.2"}, PRICE_FIELD, ErrorCode.TAX_CALCULATION_ERROR, "tax on"),
        ({"formatCurrency": True}, TITLE, ErrorCode.MAPPING_INVALID, "has too many digits to format as money"),
    ],
)
def test_an_amount_too_large_for_a_money_step_fails_its_field_never_goes_out_empty(
    raw: Any, field: ChannelField, code: ErrorCode, message: str
) -> None:
    with pytest.raises(TransformationError) as caught:
        compile_(raw, T.PRICE, field).apply(HUGE, ctx())
    assert caught.value.code is code and message in caught.value.message


def test_a_template_renders_each_kind_of_value_for_its_locale() -> None:
    """Text as it is, an empty value as nothing, true/false as such, lists joined the locale's way, a measure whose amount is no number
    as written, numbers too long for Babel in plain digits, and a PIM locale it cannot read refused."""
    template = compile_({"template": "{brand} {} {tags}"})
    assert template.apply("Chaise", ctx("fr_FR", {"brand": None, "tags": []})) == "Chaise"
    assert template.apply("Chaise", ctx("fr_FR", {"brand": "", "tags": ["lin", "coton"]})) == "Chaise lin et coton"
    assert template.apply("Chaise", ctx("en_US", {"brand": "Mexx", "tags": ["linen", "cotton"]})) == (
        "Mexx Chaise linen and cotton"
    )
    measured = compile_({"template": "{} {weight}"})
    assert measured.apply("Chaise", ctx("fr_FR", {"weight": {"amount": "n/a", "unit": "KILOGRAM"}})) == (
        "Chaise n/a KILOGRAM"
    )
    flagged = compile_({"template": "{} {color}"})
    assert [flagged.apply("Chaise", ctx("fr_FR", {"color": flag})) for flag in (True, False)] == [
        "Chaise true",
        "Chaise false",
    ]
    long = Decimal("1" * 70)
    assert compile_({"template": "{} {weight}"}).apply("N", ctx("fr_FR", {"weight": long})) == f"N {'1' * 70}"
    with pytest.raises(TransformationError, match="xx_NOT_A_LOCALE"):
        measured.apply("Chaise", ctx("xx_NOT_A_LOCALE", {"weight": Decimal("2")}))
