"""Field-mapping transformations: checked and compiled once when a mapping is saved, applied per value (pure).

A mapping's `transformation` is JSON: one object of steps, run in this
canonical order whatever the order of its keys,

    template, valueMap, stripHtml, convertUnit, applyTax, round, formatCurrency, maxLength

or a list of such objects, run in list order (each object in canonical
order), for any other order: `[{"round": 0}, {"template": "{} SAR"}]`.

    template        "{brand} {name}"
        Text made of attribute values of the same PIM locale; "{}" is the value
        being transformed, "{{" and "}}" are literal braces. Numbers are
        formatted for the PIM locale (fr_FR: "1,5"), lists joined the locale's
        way, known units shortened ("1,5 kg"); an empty attribute renders as
        nothing and the whitespace around it collapses. For an HTML field the
        template's own text is markup, the mapping author's ("<b>{brand}</b>
        {name}"), and each value put in is escaped as text, except a TEXTAREA's.
    valueMap        {"red": "Red", "blue": {"en_US": "Blue", "fr": "Bleu", "ar": "أزرق", "*": "Blue"}}
        Maps text or an option code, or each item of a list; a true/false
        attribute's "true" and "false" (so it can feed a choice field, e.g.
        {"true": "ACTIVE", "false": "DRAFT"}). A per-locale entry
        is looked up along the PIM locale's chain (ar_AE -> ar), then "*".
        Beside it, "unmapped": "keep" (default), "drop" or "error" says what a
        value without an entry does.
    stripHtml       true | {"lineBreaks": false}
        Plain text: tags removed (with the content of script and style),
        entities decoded, whitespace collapsed (no-break spaces too); blocks
        and <br> end a line (a space with lineBreaks false), cells get a space.
        For an HTML field the text is made HTML again ("a < b" goes as
        "a &lt; b", a line break as <br>), so the channel shows it as written.
    convertUnit     "KILOGRAM"
        A measure in the unit the channel field takes, converted exactly
        (Decimal) from the unit each value is in, within its dimension (mass:
        MILLIGRAM, GRAM, KILOGRAM, TON, OUNCE, POUND; length: MILLIMETER ...
        MILE, Akeneo's codes). Required, when exporting, for a measure sent to
        a decimal field: no channel field fixes the unit, and amounts in mixed
        units would go out as one. A value in another dimension or an unknown
        unit fails that field (CHN-011). A conversion that does not end
        (grams to ounces) keeps 20 significant digits: round after it.
    applyTax        true, with options beside it | {"taxRate": "0.15", "pricesIncludeTax": false,
                    "output": "gross", "roundingMode": "HALF_UP", "decimals": 2}
        Net PIM prices to gross (amount * (1 + taxRate)); with pricesIncludeTax
        and "output": "net", gross to net (amount / (1 + taxRate)); then rounds,
        to the decimals of the connector's currency (2 for EUR, 3 for KWD, 0 for
        JPY) unless "decimals" says otherwise.
        Options left out come from the connector's taxConfig; 0 <= taxRate < 1.
        A connector whose taxConfig says "applyTax": true runs this step, with
        its own options, first on every PRICE attribute sent to a decimal
        (price) field whose mapping says no applyTax itself; "applyTax": false
        sends that price untaxed. Steps are not run backwards, so a BOTH or
        IMPORT mapping of such a price needs "applyTax": false.
    round           2 | {"decimals": 2, "mode": "HALF_EVEN"}
        A number, or a measure's amount, to 0-6 decimals (mode default HALF_UP).
    formatCurrency  true | {"locale": "fr_FR" | "pim" | "channel", "numberingSystem": "default" | "latn" | "native"}
        A number as money in the connector's currency ("12,50 €"; in ar_AE,
        "native" gives Arabic-Indic digits). Locale default: the PIM locale.
        An amount with more decimals than the currency has is rounded the way
        the last round or applyTax step before it rounds (HALF_UP without one).
    maxLength       255 | {"length": 255, "ellipsis": "…"}
        Text (each item of a list) cut to `length` characters, ellipsis
        included, at a word boundary, inside a word only when the first word is
        too long, and never between a letter and its combining marks, nor inside
        an emoji sequence or a flag. For an HTML field the markup (and the
        entities stripHtml escaped) counts too and is kept whole: only text is
        cut, never a tag or an entity, and the elements left open are closed within
        the length. A value the length leaves no text of (its first character,
        or its markup, is longer) fails that field (CHN-011): sent empty, it
        would clear the channel's value.

What an HTML field (a description) gets depends on what the value is, not on
the steps alone (HtmlForm):

    text        a TEXT or IDENTIFIER value, or a number, date or choice made
                text (valueMap, formatCurrency): escaped ("A < B & C" goes as
                "A &lt; B &amp; C"), each line break a <br>, so the storefront
                shows the PIM's text, on its lines, and never runs a name
                holding "<img onerror=...>". Escaped before a maxLength step,
                so the cut counts what is sent.
    markup      a TEXTAREA value (the PIM's rich text), a template's output:
                sent as HTML, sanitised (nh3's allow-list of tags and
                attributes, plus class, dir, lang and title): scripts, styles,
                event handlers and javascript: links are removed. A TEXTAREA
                written without the rich-text editor is plain text: one with
                line breaks and no markup (no tag, no entity) is escaped, its
                paragraphs made <p> and its other lines <br> (rich_text),
                before a maxLength step too, and where a template puts it in.
    escaped     stripHtml's output: text already made HTML, sent as it is.

An import (BOTH, IMPORT) from an HTML field into a TEXT or IDENTIFIER
attribute takes the text the markup shows (stripHtml's rules): the way back.

`"default": ...` (beside the steps) is not a step: it is sent, as is, for an
empty PIM value when the mapping's whenEmpty is DEFAULT.

    ServiceError
    └── InvalidInput
        └── InvalidTransformation   the JSON is wrong (save time): every problem, with its path
    TransformationError             one value cannot be transformed (export time): that product fails

The package, by concept (everything public is imported from here):

    model       the value kinds, the errors, TransformContext, CompiledTransformation and IDENTITY
    compile     the JSON checked and compiled, step by step, into a CompiledTransformation
    defaults    a "default" checked against the channel field it is sent to
    formatting  numbers read exactly, and written the locale's way (numbers, measures, lists)
    text        truncate and strip_html, and the template, stripHtml and maxLength steps
    value_map   the valueMap step
    money       the applyTax, round and formatCurrency steps
    units       the convertUnit step and its table of unit sizes
"""

from __future__ import annotations

from app.domain.transformations.compile import (
    ROOT,
    STEP_ORDER,
    TEXT_FIELD_TYPES,
    compile_transformation,
    step_objects,
    template_attributes,
)
from app.domain.transformations.model import (
    HTML_FORM_OF,
    IDENTITY,
    KIND_OF,
    CompiledTransformation,
    HtmlForm,
    InvalidTransformation,
    Step,
    TransformationError,
    TransformContext,
    ValueKind,
)
from app.domain.transformations.money import MAX_DECIMALS, NUMBERING_SYSTEMS, ROUNDING_MODES, TAX_OPTIONS
from app.domain.transformations.text import rich_text, sanitize_html, strip_html, to_html, truncate
from app.domain.transformations.value_map import TRUE_FALSE, UNMAPPED_POLICIES

__all__ = [
    "HTML_FORM_OF",
    "IDENTITY",
    "KIND_OF",
    "MAX_DECIMALS",
    "NUMBERING_SYSTEMS",
    "ROOT",
    "ROUNDING_MODES",
    "STEP_ORDER",
    "TAX_OPTIONS",
    "TEXT_FIELD_TYPES",
    "TRUE_FALSE",
    "UNMAPPED_POLICIES",
    "CompiledTransformation",
    "HtmlForm",
    "InvalidTransformation",
    "Step",
    "TransformContext",
    "TransformationError",
    "ValueKind",
    "compile_transformation",
    "rich_text",
    "sanitize_html",
    "step_objects",
    "strip_html",
    "template_attributes",
    "to_html",
    "truncate",
]
