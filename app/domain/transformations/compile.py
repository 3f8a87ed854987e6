"""Compiling: a mapping's transformation JSON checked (every problem, with its path) and turned into a
CompiledTransformation, following the kind of value each step leaves for the next."""

from __future__ import annotations

import difflib
import string
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from app.domain.catalog import AttributeType
from app.domain.channels import ChannelField, FieldType
from app.domain.errors import ErrorCode, Path, UserErrorItem
from app.domain.locales import InvalidLocaleCode, canonical_locale
from app.domain.storable import echoed, unstorable_paths
from app.domain.transformations.defaults import _channel_value
from app.domain.transformations.formatting import _decimal_or_none, _is_int
from app.domain.transformations.model import (
    HTML_FORM_OF,
    IDENTITY,
    KIND_OF,
    CompiledTransformation,
    HtmlForm,
    InvalidTransformation,
    Step,
    ValueKind,
)
from app.domain.transformations.money import (
    MAX_DECIMALS,
    NUMBERING_SYSTEMS,
    ROUNDING_MODES,
    TAX_OPTIONS,
    _ApplyTax,
    _FormatCurrency,
    _Round,
    currency_decimals,
)
from app.domain.transformations.text import _MaxLength, _StripHtml, _Template, _ToHtml, rich_text
from app.domain.transformations.units import DIMENSION_OF, DIMENSIONS, _ConvertUnit
from app.domain.transformations.value_map import TRUE_FALSE, UNMAPPED_POLICIES, _ValueMap

STEP_ORDER = (
    "template",
    "valueMap",
    "stripHtml",
    "convertUnit",
    "applyTax",
    "round",
    "formatCurrency",
    "maxLength",
)
ROOT: Path = ("transformation",)

"""Keys that configure a step from beside it, and the step they belong to."""
_SIBLINGS: Mapping[str, str] = {"unmapped": "valueMap", **dict.fromkeys(TAX_OPTIONS, "applyTax")}
_KNOWN_KEYS = frozenset({*STEP_ORDER, *_SIBLINGS, "default"})
_SWITCHES = frozenset({"stripHtml", "applyTax", "formatCurrency"})
"""Steps that take `false` to mean "off"."""

_ACCEPTS: Mapping[str, frozenset[ValueKind]] = {
    "template": frozenset(ValueKind),
    "valueMap": frozenset({ValueKind.TEXT, ValueKind.LIST, ValueKind.BOOLEAN}),
    "stripHtml": frozenset({ValueKind.TEXT, ValueKind.LIST}),
    "convertUnit": frozenset({ValueKind.MEASURE}),
    "applyTax": frozenset({ValueKind.NUMBER}),
    "round": frozenset({ValueKind.NUMBER, ValueKind.MEASURE}),
    "formatCurrency": frozenset({ValueKind.NUMBER}),
    "maxLength": frozenset({ValueKind.TEXT, ValueKind.LIST}),
}
_MAKES_TEXT = frozenset({"template", "formatCurrency"})
"""Field types a step's text may go to (STRING_LIST takes one text as a one-item list)."""
TEXT_FIELD_TYPES = frozenset({FieldType.STRING, FieldType.HTML, FieldType.ENUM, FieldType.URL, FieldType.STRING_LIST})


def compile_transformation(
    raw: Any,
    *,
    attribute_type: AttributeType,
    field: ChannelField,
    known_attributes: Collection[str],
    tax_defaults: Mapping[str, Any] | None = None,
    markup_attributes: Collection[str] = frozenset(),
    currency: str | None = None,
) -> CompiledTransformation:
    """Check a mapping's transformation JSON and compile it, or raise InvalidTransformation with every problem.

    `known_attributes` are the catalog's attribute codes (templates may name only those); `tax_defaults` is
    the connector's taxConfig, which fills in the tax options a step leaves out; `markup_attributes` are the
    codes whose values are HTML already (TEXTAREA): a template writing to an HTML field escapes the others;
    `currency` is the one prices go out in: applyTax rounds to its decimals unless told otherwise.

    A connector whose taxConfig says applyTax: true taxes every price it sends to a price field (`taxed_price`)
    whose mapping has no applyTax of its own (`{"applyTax": false}` opts it out): its tax step comes first.
    """
    tax = tax_defaults or {}
    connector_tax = tax.get("applyTax") is True and taxed_price(attribute_type, field) and not _own_tax(raw)
    if raw is None or (isinstance(raw, Mapping | list) and not raw):
        if not connector_tax:
            return IDENTITY
        raw = {}
    compiler = _Compiler(
        attribute_type,
        field,
        frozenset(known_attributes),
        tax,
        frozenset(markup_attributes),
        currency_decimals(currency),
    )
    compiled = compiler.run(raw, connector_tax)
    if compiler.errors:
        raise InvalidTransformation(compiler.errors)
    return compiled


def taxed_price(attribute_type: AttributeType, field: ChannelField) -> bool:
    """A price sent to a price field (a decimal field: the channel field type for money): what a connector's
    taxConfig with applyTax: true taxes. A measure (METRIC) to a decimal field is a weight, not a price."""
    return attribute_type is AttributeType.PRICE and field.type is FieldType.DECIMAL


def step_objects(raw: Any) -> list[Mapping[str, Any]]:
    """The objects of a transformation's JSON (one, or a list of them), read without compiling it: what a saved
    mapping's steps say can be asked even of one that no longer compiles."""
    objects = [raw] if isinstance(raw, Mapping) else raw if isinstance(raw, list) else []
    return [obj for obj in objects if isinstance(obj, Mapping)]


def _own_tax(raw: Any) -> bool:
    """Whether a transformation's JSON says applyTax itself (true, false or its options) in any of its objects."""
    return any("applyTax" in obj for obj in step_objects(raw))


def template_attributes(raw: Any) -> frozenset[str]:
    """The attribute codes the templates of a transformation's JSON name, read without compiling it: a saved
    mapping whose template names a deleted attribute no longer compiles, and must still say which one."""
    codes: set[str] = set()
    for obj in step_objects(raw):
        template = obj.get("template")
        if not isinstance(template, str):
            continue
        try:
            codes.update(code for _, code, _, _ in string.Formatter().parse(template) if code)
        except ValueError:
            continue
    return frozenset(codes)


class _Compiler:
    """One compilation: walks the JSON, follows the kind of value each step leaves, collects every problem."""

    def __init__(
        self,
        attribute_type: AttributeType,
        field: ChannelField,
        known: frozenset[str],
        tax: Mapping[str, Any],
        markup_attributes: frozenset[str] = frozenset(),
        currency_places: int = 2,
    ) -> None:
        self.attribute_type = attribute_type
        self.currency_places = currency_places
        """The decimals of the currency prices go out in: what applyTax rounds to unless told."""
        self.field = field
        self.known = known
        self.tax_defaults = {key: value for key, value in tax.items() if key in TAX_OPTIONS}
        self.kind = KIND_OF[attribute_type]
        self.errors: list[UserErrorItem] = []
        self.steps: list[Step] = []
        self.uses: set[str] = set()
        self.default: Any = None
        self.default_at: Path | None = None
        self.text_from: Path | None = None
        self.unit: str | None = None
        self.needs_currency = False
        self.rounding_mode: str = ROUNDING_MODES["HALF_UP"]
        """The mode of the last round or applyTax step: formatCurrency rounds to the currency's digits the same way."""
        self.html = field.type is FieldType.HTML
        self.form = HTML_FORM_OF[attribute_type]
        """What the value is, for an HTML field, after the steps so far (see HtmlForm)."""
        self.markup_attributes = markup_attributes

    def error(self, path: Path, message: str, code: ErrorCode = ErrorCode.MAPPING_INVALID) -> None:
        self.errors.append(UserErrorItem(path, message, code))

    def run(self, raw: Any, connector_tax: bool = False) -> CompiledTransformation:
        if connector_tax:  # the connector's own options (checked when it was saved), before any step of the mapping
            step = self.tax({}, ROOT, ROOT)
            if step is not None:
                self.steps.append(step)
        for at, message in unstorable_paths(raw, ROOT):  # a mapping's transformation is stored as it is given
            self.error(at, message)
        if isinstance(raw, Mapping):
            self.element(raw, ROOT)
        elif isinstance(raw, list):
            for index, item in enumerate(raw):
                if isinstance(item, Mapping) and item:
                    self.element(item, (*ROOT, index))
                else:
                    self.error((*ROOT, index), "each item of a transformation list is an object of steps")
        else:
            self.error(ROOT, "a transformation is an object of steps or a list of them")
        produces_text = self.text_from is not None and self.kind is ValueKind.TEXT
        if produces_text and self.text_from is not None and self.field.type not in TEXT_FIELD_TYPES:
            self.error(
                self.text_from,
                f"this step makes text, but {self.field.name} is a {self.field.type} field",
                ErrorCode.FIELD_TYPE_MISMATCH,
            )
        unit = None if produces_text else self.unit
        return CompiledTransformation(
            tuple(self.steps),
            self.default,
            frozenset(self.uses),
            produces_text,
            unit,
            self.needs_currency,
            self.form,
            connector_tax,
        )

    def element(self, obj: Mapping[str, Any], path: Path) -> None:
        for key in obj:
            if key not in _KNOWN_KEYS:
                close = difflib.get_close_matches(str(key), _KNOWN_KEYS, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"steps are {', '.join(STEP_ORDER)}"
                self.error((*path, key), f"unknown transformation step '{echoed(key)}': {hint}")
            elif key in _SIBLINGS and _SIBLINGS[key] not in obj:
                self.error((*path, key), f"{key} goes beside {_SIBLINGS[key]}")
        if "default" in obj:
            self.parse_default(obj["default"], (*path, "default"))
        for name in STEP_ORDER:
            if name in obj and not (obj[name] is False and name in _SWITCHES):
                self.step(name, obj, path)

    def step(self, name: str, obj: Mapping[str, Any], path: Path) -> None:
        at = (*path, name)
        step = _PARSERS[name](self, obj[name], obj, path)
        if self.kind not in _ACCEPTS[name]:
            code = ErrorCode.TAX_CALCULATION_ERROR if name == "applyTax" else ErrorCode.MAPPING_INVALID
            origin = f"a {self.attribute_type} attribute" if self.text_from is None else "the text an earlier step made"
            self.error(at, f"{name} cannot take {self.kind} ({origin})", code)
        if name in _MAKES_TEXT or (name == "valueMap" and self.kind is ValueKind.BOOLEAN):
            self.kind, self.text_from = ValueKind.TEXT, at
        if step is not None:
            self.steps.append(step)

    def parse_default(self, raw: Any, at: Path) -> None:
        if self.default_at is not None:
            self.error(at, f"default is already given at {'.'.join(map(str, self.default_at))}")
            return
        self.default_at = at
        if raw is None:
            return
        try:
            self.default = _channel_value(raw, self.field, self.attribute_type)
        except ValueError as exc:
            self.error(at, f"default: {exc}", ErrorCode.FIELD_TYPE_MISMATCH)

    def parse_template(self, arg: Any, obj: Mapping[str, Any], path: Path) -> Step | None:
        at = (*path, "template")
        if not isinstance(arg, str) or not arg.strip():
            self.error(at, 'template is text such as "{brand} {name}"')
            return None
        try:
            pieces = list(string.Formatter().parse(arg))
        except ValueError as exc:
            self.error(at, f"template: {exc} (write {{{{ and }}}} for literal braces)")
            return None
        failed = len(self.errors)
        for _, code, spec, conversion in pieces:
            if code is None:
                continue
            if spec or conversion:
                self.error(
                    at, f"template: '{{{echoed(code)}}}' takes no format or conversion; numbers follow the locale"
                )
            elif code and code not in self.known:
                self.error(at, f"template: unknown attribute '{echoed(code)}'")
            elif code:
                self.uses.add(code)
        if len(self.errors) > failed:
            return None
        markup = self.markup_attributes | ({""} if self.form is not HtmlForm.PLAIN else set())
        if self.html:
            self.form = HtmlForm.MARKUP
        return _Template(tuple((literal, code) for literal, code, _, _ in pieces), self.html, frozenset(markup))

    def parse_value_map(self, arg: Any, obj: Mapping[str, Any], path: Path) -> Step | None:
        at = (*path, "valueMap")
        unmapped = obj.get("unmapped", "keep")
        if unmapped not in UNMAPPED_POLICIES:
            self.error((*path, "unmapped"), f"unmapped is one of {', '.join(UNMAPPED_POLICIES)}")
        if not isinstance(arg, Mapping) or not arg:
            self.error(at, 'valueMap is an object of value -> text, e.g. {"red": "Red"}')
            return None
        failed = len(self.errors)
        plain: dict[str, str] = {}
        localized: dict[str, Mapping[str, str]] = {}
        for code, target in arg.items():
            if isinstance(target, str) and target:
                plain[code] = self.choice(target, (*at, code))
            elif isinstance(target, Mapping) and target:
                localized[code] = MappingProxyType(self.localized(target, (*at, code)))
            else:
                self.error((*at, code), "a valueMap entry is text, or an object of locale -> text")
        if self.kind is ValueKind.BOOLEAN:
            self.true_false(arg, unmapped, at)
        if len(self.errors) > failed:
            return None
        if self.form is HtmlForm.ESCAPED:  # its entries are the author's text, put into HTML: markup, as a template's
            self.form = HtmlForm.MARKUP
        return _ValueMap(MappingProxyType(plain), MappingProxyType(localized), unmapped)

    def true_false(self, arg: Mapping[str, Any], unmapped: str, at: Path) -> None:
        """A true/false attribute's map names true and false only, and leaves out none the field would refuse."""
        for code in arg:
            if code not in TRUE_FALSE:
                self.error((*at, code), f"a {self.attribute_type} attribute's valueMap maps true and false only")
        choices = self.field.choices if self.field.type is FieldType.ENUM else ()
        for code in TRUE_FALSE:
            if code not in arg and unmapped == "keep" and choices and code not in choices:
                self.error(
                    at,
                    f"valueMap leaves {code} as it is, and '{code}' is not one of {self.field.name}'s choices: "
                    "map both true and false, or set unmapped to drop",
                )

    def localized(self, texts: Mapping[str, Any], at: Path) -> dict[str, str]:
        resolved: dict[str, str] = {}
        for locale, text in texts.items():
            try:
                key = "*" if locale == "*" else canonical_locale(locale)
            except InvalidLocaleCode as exc:
                self.error((*at, locale), str(exc))
                continue
            if not isinstance(text, str) or not text:
                self.error((*at, locale), "the text for a locale must be non-empty text")
            elif key in resolved:
                self.error((*at, locale), f"{key} is given twice")
            else:
                resolved[key] = self.choice(text, (*at, locale))
        return resolved

    def choice(self, text: str, at: Path) -> str:
        """A mapped value must be one the channel field takes, when it lists them."""
        if self.field.type is FieldType.ENUM and self.field.choices and text not in self.field.choices:
            self.error(
                at, f"'{echoed(text)}' is not one of {self.field.name}'s choices: {', '.join(self.field.choices)}"
            )
        return text

    def parse_strip_html(self, arg: Any, obj: Mapping[str, Any], path: Path) -> Step | None:
        at = (*path, "stripHtml")
        markup = self.html
        if markup:
            self.form = HtmlForm.ESCAPED
        if arg is True:
            return _StripHtml("\n", markup)
        if isinstance(arg, Mapping) and set(arg) <= {"lineBreaks"} and isinstance(arg.get("lineBreaks", True), bool):
            return _StripHtml("\n" if arg.get("lineBreaks", True) else " ", markup)
        self.error(at, 'stripHtml is true, false or {"lineBreaks": false}')
        return None

    def parse_convert_unit(self, arg: Any, obj: Mapping[str, Any], path: Path) -> Step | None:
        at = (*path, "convertUnit")
        if isinstance(arg, str) and arg in DIMENSION_OF:
            self.unit = arg
            return _ConvertUnit(arg)
        units = "; ".join(f"{dimension}: {', '.join(table)}" for dimension, table in DIMENSIONS.items())
        self.error(at, f"convertUnit is the unit the channel field takes ({units})")
        return None

    def parse_apply_tax(self, arg: Any, obj: Mapping[str, Any], path: Path) -> Step | None:
        at = (*path, "applyTax")
        if arg is True:
            return self.tax({key: obj[key] for key in TAX_OPTIONS if key in obj}, path, at)
        if not isinstance(arg, Mapping):
            self.error(
                at,
                "applyTax is true (options beside it), false or an object of options",
                ErrorCode.TAX_CALCULATION_ERROR,
            )
            return None
        for key in arg:
            if key not in TAX_OPTIONS:
                self.error((*at, key), f"unknown tax option '{echoed(key)}'", ErrorCode.TAX_CALCULATION_ERROR)
        for key in TAX_OPTIONS:
            if key in obj:
                self.error(
                    (*path, key),
                    "give tax options inside applyTax or beside it, not both",
                    ErrorCode.TAX_CALCULATION_ERROR,
                )
        return self.tax(arg, at, at)

    def tax(self, options: Mapping[str, Any], where: Path, at: Path) -> Step | None:
        settings = {**self.tax_defaults, **options}
        failed = len(self.errors)

        def wrong(key: str, message: str) -> None:
            place, origin = ((*where, key), "") if key in options else (at, " (from the connector's taxConfig)")
            self.error(place, f"{key}{origin} {message}", ErrorCode.TAX_CALCULATION_ERROR)

        rate = _decimal_or_none(settings.get("taxRate"))
        if "taxRate" not in settings:
            self.error(
                at, "applyTax needs a taxRate, here or in the connector's taxConfig", ErrorCode.TAX_CALCULATION_ERROR
            )
        elif isinstance(settings["taxRate"], bool) or rate is None or not 0 <= rate < 1:
            wrong("taxRate", "must be a decimal from 0 up to 1 (0.15 for 15%)")
        included = settings.get("pricesIncludeTax", False)
        if not isinstance(included, bool):
            wrong("pricesIncludeTax", "must be true or false")
        if settings.get("output", "gross") not in ("gross", "net"):
            wrong("output", 'must be "gross" or "net"')
        mode = self.rounding(settings.get("roundingMode", "HALF_UP"), lambda m: wrong("roundingMode", m))
        places = self.decimals(settings.get("decimals", self.currency_places), lambda m: wrong("decimals", m))
        if len(self.errors) > failed or rate is None or mode is None or places is None:
            return None
        converts = included != (settings.get("output", "gross") == "gross")
        self.rounding_mode = mode
        return _ApplyTax(1 + rate if converts else None, not included, Decimal(1).scaleb(-places), mode)

    def rounding(self, raw: Any, wrong: Callable[[str], None]) -> str | None:
        if isinstance(raw, str) and raw in ROUNDING_MODES:
            return ROUNDING_MODES[raw]
        wrong(f"must be one of {', '.join(ROUNDING_MODES)}")
        return None

    def decimals(self, raw: Any, wrong: Callable[[str], None]) -> int | None:
        if _is_int(raw) and 0 <= raw <= MAX_DECIMALS:
            return int(raw)
        wrong(f"must be a whole number from 0 to {MAX_DECIMALS}")
        return None

    def parse_round(self, arg: Any, obj: Mapping[str, Any], path: Path) -> Step | None:
        at = (*path, "round")
        if _is_int(arg):
            arg = {"decimals": arg}
            places_at = mode_at = at
        elif isinstance(arg, Mapping) and "decimals" in arg and set(arg) <= {"decimals", "mode"}:
            places_at, mode_at = (*at, "decimals"), (*at, "mode")
        else:
            self.error(at, 'round is a number of decimals or {"decimals": 2, "mode": "HALF_EVEN"}')
            return None
        places = self.decimals(arg["decimals"], lambda m: self.error(places_at, f"decimals {m}"))
        mode = self.rounding(arg.get("mode", "HALF_UP"), lambda m: self.error(mode_at, f"mode {m}"))
        if places is None or mode is None:
            return None
        self.rounding_mode = mode
        return _Round(Decimal(1).scaleb(-places), mode)

    def parse_format_currency(self, arg: Any, obj: Mapping[str, Any], path: Path) -> Step | None:
        at = (*path, "formatCurrency")
        self.needs_currency = True
        self.form = HtmlForm.PLAIN
        if arg is True:
            return _FormatCurrency("pim", "default", self.rounding_mode)
        if not isinstance(arg, Mapping) or not set(arg) <= {"locale", "numberingSystem"}:
            self.error(at, 'formatCurrency is true, false or {"locale": "fr_FR", "numberingSystem": "latn"}')
            return None
        locale = arg.get("locale", "pim")
        numbering = arg.get("numberingSystem", "default")
        if numbering not in NUMBERING_SYSTEMS:
            self.error((*at, "numberingSystem"), f"numberingSystem is one of {', '.join(NUMBERING_SYSTEMS)}")
            return None
        if locale in ("pim", "channel"):
            return _FormatCurrency(locale, numbering, self.rounding_mode)
        try:
            return _FormatCurrency(canonical_locale(str(locale)), numbering, self.rounding_mode)
        except InvalidLocaleCode as exc:
            self.error((*at, "locale"), f'{exc}; or "pim" or "channel" for the locale being built')
            return None

    def parse_max_length(self, arg: Any, obj: Mapping[str, Any], path: Path) -> Step | None:
        at = (*path, "maxLength")
        if _is_int(arg):
            arg = {"length": arg}
            length_at = ellipsis_at = at
        elif isinstance(arg, Mapping) and "length" in arg and set(arg) <= {"length", "ellipsis"}:
            length_at, ellipsis_at = (*at, "length"), (*at, "ellipsis")
        else:
            self.error(at, 'maxLength is a number of characters or {"length": 255, "ellipsis": "…"}')
            return None
        length, ellipsis = arg["length"], arg.get("ellipsis", "")
        limit = self.field.max_length
        if not _is_int(length) or length < 1:
            self.error(length_at, "maxLength must be a whole number of characters, at least 1")
        elif limit is not None and length > limit:
            self.error(length_at, f"maxLength {length} is more than {self.field.name} takes ({limit})")
        elif not isinstance(ellipsis, str) or len(ellipsis) >= length:
            self.error(ellipsis_at, "the ellipsis must be text shorter than maxLength")
        else:
            if self.html and self.form is HtmlForm.PLAIN:  # cut what is sent: the text made HTML first
                self.steps.append(_ToHtml())
                self.form = HtmlForm.ESCAPED
            elif self.html and self.form is HtmlForm.MARKUP:  # a TEXTAREA's plain lines too (still sanitised)
                self.steps.append(_ToHtml(rich_text))
            return _MaxLength(length, ellipsis, html=self.html)
        return None


_PARSERS: Mapping[str, Callable[[_Compiler, Any, Mapping[str, Any], Path], Step | None]] = {
    "template": _Compiler.parse_template,
    "valueMap": _Compiler.parse_value_map,
    "stripHtml": _Compiler.parse_strip_html,
    "convertUnit": _Compiler.parse_convert_unit,
    "applyTax": _Compiler.parse_apply_tax,
    "round": _Compiler.parse_round,
    "formatCurrency": _Compiler.parse_format_currency,
    "maxLength": _Compiler.parse_max_length,
}
