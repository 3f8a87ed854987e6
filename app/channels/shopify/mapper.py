"""Pure mapping between channel documents and Shopify's Admin GraphQL 2026-04 shapes; no I/O.

- document → productSet variables: the primary locale's localizable fields and
  every non-localizable field go into ProductSetInput (where each lives is
  spec.SCHEMA_PATHS); the product is one variant, with its existing variant id
  and options on update, since productSet replaces list fields it is sent.
  A field present with None clears it: "" for text, [] for tags, the PIM's
  own image alone taken off for imageUrl (see media.image_plan), null for the
  rest (compareAtPrice, status, the variant's measurement.weight); a field
  absent is not sent, so Shopify keeps its value. Where Shopify has no empty value: a None `sku` sends the PIM SKU
  (products are matched by it), a None `inventoryQuantity` sets 0, and a
  title or a price cannot be cleared (CHN-010 before anything is sent: a
  variant without a price would be sold for free). A variant sent a stock
  quantity is made tracked, since the PIM manages its stock.
- document → translations: every other locale's values per translation key
  (spec.TRANSLATION_KEYS); None or "" removes that locale's translation.
- userErrors → ItemResult with a CHN code; product JSON → RemoteProduct.
- imageUrl → media (files on create only, targeted mutations on update, the image-source metafield): media.py.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from app.channels.base import ChannelDocument, ItemResult, RemoteProduct
from app.channels.shopify import documents as gql
from app.channels.shopify.schemas import (
    JsonObject,
    PendingImage,
    ProductState,
    RememberedImage,
    TranslatableContent,
    UserError,
    decimal_text,
    field_of,
    marker_value,
    parse_datetime,
    remembered_image,
)
from app.channels.shopify.spec import (
    PRODUCT_STATUSES,
    SCHEMA_PATHS,
    SPEC,
    TAG_LENGTH,
    TRANSLATION_KEYS,
    WEIGHT_UNITS,
)
from app.domain.errors import ErrorCode, UserErrorItem
from app.domain.field_values import too_long

DEFAULT_OPTION: Final = ("Title", "Default Title")
"""The option Shopify gives a product that has a single variant."""
LOCALIZABLE: Final = frozenset(TRANSLATION_KEYS)
SHARED: Final = frozenset(SCHEMA_PATHS) - LOCALIZABLE
_TEXT_INPUTS: Final = ("title", "descriptionHtml", "handle", "productType")
_SEO: Final = {"seoTitle": "title", "seoDescription": "description"}
_FIELD_BY_KEY: Final = {key: name for name, key in TRANSLATION_KEYS.items()}
_FIELD_BY_PATH: Final = {path: name for name, path in SCHEMA_PATHS.items()}
INT_MIN: Final = -(2**31)
INT_MAX: Final = 2**31 - 1
"""The range of a GraphQL Int (a signed 32-bit integer), which Shopify's quantities are."""
PRICE_LIMIT: Final = Decimal(10) ** 18
"""Shopify refuses a price or compare-at price of this or more ("Price must be less than 1000000000000000000"):
Money is a decimal string of any size, so the refusal comes back as a userError, not from GraphQL."""
_BLANK = re.compile(r"\b(blank|can't be empty|cannot be empty|is required|is missing)\b", re.IGNORECASE)


class MappingProblem(Exception):
    """A document Shopify would refuse, found before anything is sent; becomes the item's error."""

    def __init__(self, code: ErrorCode, message: str, *, locale: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.locale = locale

    def result(self, document: ChannelDocument) -> ItemResult:
        return ItemResult(
            sku=document.sku,
            ok=False,
            external_id=document.external_id,
            code=self.code,
            message=self.message,
            locale=self.locale,
        )


@dataclass(frozen=True, slots=True)
class ExportContext:
    primary_locale: str
    shop_locales: frozenset[str]
    weight_unit: str
    """The shop's default unit, for a weight sent without one when the variant has none either."""
    location_id: str | None = None
    """Where inventoryQuantity is set ("available"); needed only when a document carries it."""


# -- values ------------------------------------------------------------------------------------------


def _mismatch(name: str, expected: str, value: object, locale: str | None = None) -> MappingProblem:
    return MappingProblem(
        ErrorCode.FIELD_TYPE_MISMATCH, f"{name} takes {expected}, got {type(value).__name__}", locale=locale
    )


def text_value(name: str, value: object, locale: str | None = None) -> str:
    """Text as Shopify takes it; None clears, and Shopify's empty text is ""."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _mismatch(name, "text", value, locale)
    return value


def bounded_text(name: str, value: object, locale: str | None = None) -> str:
    """text_value, refused (MappingProblem naming the field, in the words of the sync's own check) past the
    field's max_length in spec.SPEC: Shopify would answer a userError only once the product was read and sent.
    The sync checks mapped values against the same limit; this also covers a document built otherwise, and the
    PIM SKU sent when no sku is mapped."""
    text = text_value(name, value, locale)
    declared = SPEC.get_field(name)
    limit = None if declared is None else declared.max_length
    overlong = None if limit is None else too_long(name, text, limit)
    if overlong is not None:
        raise MappingProblem(ErrorCode.FIELD_TYPE_MISMATCH, overlong, locale=locale)
    return text


def price_value(name: str, value: object) -> str | None:
    """money_value, refused (MappingProblem naming the field) at PRICE_LIMIT or more, which Shopify refuses."""
    amount = money_value(name, value)
    if amount is not None and Decimal(amount) >= PRICE_LIMIT:
        raise MappingProblem(ErrorCode.FIELD_TYPE_MISMATCH, f"{name} must be less than {PRICE_LIMIT:f} on Shopify")
    return amount


def money_value(name: str, value: object) -> str | None:
    """Money is a decimal string; None (null) clears where Shopify allows it (compareAtPrice)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise _mismatch(name, "a decimal amount", value)
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation:
        raise MappingProblem(ErrorCode.FIELD_TYPE_MISMATCH, f"{name} takes a decimal amount, got {value!r}") from None
    if not amount.is_finite():
        raise MappingProblem(ErrorCode.FIELD_TYPE_MISMATCH, f"{name} must be a finite amount")
    return format(amount, "f")


def _weight_value(value: object) -> float | None:
    """WeightInput.value is a GraphQL Float, which holds only finite numbers: a larger weight would have Shopify
    refuse the whole request instead of this product."""
    amount = money_value("weight", value)
    if amount is None:
        return None
    if Decimal(amount) < 0:
        raise MappingProblem(ErrorCode.FIELD_TYPE_MISMATCH, "weight must not be negative")
    weight = float(amount)
    if not math.isfinite(weight):
        raise MappingProblem(ErrorCode.FIELD_TYPE_MISMATCH, "weight is too large for Shopify (a Float)")
    return weight


def _choice(name: str, value: object, choices: Sequence[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in choices:
        raise MappingProblem(ErrorCode.FIELD_TYPE_MISMATCH, f"{name} takes one of {', '.join(choices)}, got {value!r}")
    return value


def _tags(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple) and all(isinstance(tag, str) for tag in value):
        overlong = too_long("tags", list(value), TAG_LENGTH)
        if overlong is not None:
            raise MappingProblem(ErrorCode.FIELD_TYPE_MISMATCH, overlong)
        return list(value)
    raise _mismatch("tags", "a list of strings", value)


def _quantity(value: object) -> int:
    """Stock is a whole number; None clears it to 0 (Shopify has no empty stock). ProductSetInventoryInput.quantity
    is a GraphQL Int, 32 bits: a number outside would have Shopify refuse the whole request instead of this product."""
    if value is None:
        return 0
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _mismatch("inventoryQuantity", "a whole number", value)
    if not INT_MIN <= value <= INT_MAX:
        raise MappingProblem(
            ErrorCode.FIELD_TYPE_MISMATCH,
            f"inventoryQuantity must be between {INT_MIN} and {INT_MAX} (Shopify's Int), got {value}",
        )
    return value


# -- checks ------------------------------------------------------------------------------------------


def check_document(document: ChannelDocument, context: ExportContext) -> None:
    """Refuse, before anything is sent, what no request could fix: unknown or misplaced fields, unknown locales."""
    for name in document.fields:
        if name in LOCALIZABLE:
            raise MappingProblem(ErrorCode.MAPPING_INVALID, f"{name} is localizable: it belongs in a locale")
        if name not in SHARED:
            raise MappingProblem(ErrorCode.MAPPING_INVALID, f"Shopify has no field {name!r}")
    for locale, values in document.locales.items():
        if locale not in context.shop_locales:
            raise MappingProblem(ErrorCode.LOCALE_NOT_SUPPORTED, f"the shop has no locale {locale!r}", locale=locale)
        for name, value in values.items():
            if name not in LOCALIZABLE:
                raise MappingProblem(
                    ErrorCode.MAPPING_INVALID, f"{name} is not a translatable Shopify field", locale=locale
                )
            text_value(name, value, locale)


def check_title(document: ChannelDocument, context: ExportContext, *, creating: bool) -> None:
    """A new product needs a title in the primary locale, and an update cannot clear it (spec: title is required)."""
    primary = context.primary_locale
    title = document.locales.get(primary, {}).get("title")
    if creating and (not isinstance(title, str) or not title.strip()):
        raise MappingProblem(
            ErrorCode.MISSING_REQUIRED_FIELD,
            f"title is required to create a product (primary locale {primary})",
            locale=primary,
        )
    if (
        not creating
        and "title" in document.locales.get(primary, {})
        and not text_value("title", title, primary).strip()
    ):
        raise MappingProblem(
            ErrorCode.MISSING_REQUIRED_FIELD, "title cannot be cleared: Shopify requires one", locale=primary
        )


def check_export(document: ChannelDocument, context: ExportContext) -> None:
    """Every refusal of `document` knowable before anything is read or sent (MappingProblem): check_document's,
    and each value productSet could not carry (a price cleared or of Shopify's limit or more, a text longer than
    its field's max_length, a weight below zero, a status Shopify lacks ...).

    The adapter runs it first on every export, and for a dry run (check_batch). The title is checked apart
    (check_title), once it is known whether the product is created. Not knowable here: a SKU on several
    products, translations Shopify refuses, its own validation of what it receives.
    """
    check_document(document, context)
    if only_translations_changed(document, context.primary_locale):
        return
    # Built as for a new product, and thrown away: the values go through the very conversions the real productSet
    # makes (the product read on update decides only ids and kept measurements, never a refusal).
    _product_input(document, context, None)


def only_translations_changed(document: ChannelDocument, primary_locale: str) -> bool:
    """An update that carries no product field and nothing in the primary locale: no productSet, translations only."""
    return (
        document.external_id is not None
        and not document.fields
        and primary_locale not in document.locales
        and bool(document.locales)
    )


# -- productSet --------------------------------------------------------------------------------------


def product_set_variables(
    document: ChannelDocument, context: ExportContext, existing: ProductState | None
) -> dict[str, Any]:
    """The variables of documents.PRODUCT_SET; `existing` is the product read first when updating."""
    check_title(document, context, creating=existing is None)
    return {
        "identifier": {"id": existing.id} if existing else None,
        "input": _product_input(document, context, existing),
    }


def _product_input(document: ChannelDocument, context: ExportContext, existing: ProductState | None) -> dict[str, Any]:
    """ProductSetInput; MappingProblem for a value it cannot carry."""
    primary = document.locales.get(context.primary_locale, {})
    product: dict[str, Any] = {}
    for name in _TEXT_INPUTS:
        if name in primary:
            product[name] = bounded_text(name, primary[name], context.primary_locale)
    seo = {
        key: bounded_text(name, primary[name], context.primary_locale) for name, key in _SEO.items() if name in primary
    }
    if seo:
        product["seo"] = seo
    fields = document.fields
    if "vendor" in fields:
        product["vendor"] = bounded_text("vendor", fields["vendor"])
    if "tags" in fields:
        product["tags"] = _tags(fields["tags"])
    if "status" in fields:
        product["status"] = _choice("status", fields["status"], PRODUCT_STATUSES)
    if existing is None and fields.get("imageUrl") is not None:
        # A new product: `files` (the whole media list) is just the PIM's image, since nothing of the merchant's
        # exists yet. An update never sends files: media.image_plan's targeted mutations change the image.
        source = text_value("imageUrl", fields["imageUrl"])
        if source:
            product["files"] = [{"originalSource": source, "contentType": "IMAGE"}]
            # Written with the image, so a retry after a lost answer knows the media for the connector's own.
            product["metafields"] = [image_marker_input(None, PendingImage(source, None))]
    options = _options(existing)
    product["productOptions"] = [
        {**({"id": option_id} if option_id else {}), "name": name, "values": [{"name": value}]}
        for option_id, name, value in options
    ]
    product["variants"] = [_variant(document, context, existing, options)]
    return product


def image_marker_input(marker: RememberedImage | None, adding: PendingImage) -> dict[str, str]:
    """MetafieldInput writing the image-source metafield in the productSet or productUpdate that adds `adding`:
    written in the same change as the media, it names the image being added exactly when Shopify made it, so a
    retry after a lost answer finds that media (media.ProductMedia.read_all) instead of adding a second copy.
    `marker` (the connector's image until now, and those still to take off) is kept in it."""
    return {
        "namespace": gql.APP_NAMESPACE,
        "key": gql.IMAGE_SOURCE_KEY,
        "type": "json",
        "value": marker_value(marker, adding),
    }


def _options(existing: ProductState | None) -> list[tuple[str | None, str, str]]:
    """(option id, name, value) of the single variant: kept as they are on update, Title/Default Title on create."""
    ids = {name: option_id for option_id, name in existing.options} if existing else {}
    variant = existing.variant if existing else None
    if variant is None or not variant.selected_options:
        return [(ids.get(DEFAULT_OPTION[0]), *DEFAULT_OPTION)]
    return [(ids.get(name), name, value) for name, value in variant.selected_options]


def _variant(
    document: ChannelDocument,
    context: ExportContext,
    existing: ProductState | None,
    options: Iterable[tuple[str | None, str, str]],
) -> dict[str, Any]:
    fields = document.fields
    current = existing.variant if existing else None
    variant: dict[str, Any] = {"id": current.id} if current else {}
    variant["optionValues"] = [{"optionName": name, "name": value} for _, name, value in options]
    # The SKU is how products are matched, so it is always sent and never cleared (spec: sku).
    sku = fields.get("sku")
    variant["sku"] = bounded_text("sku", sku if sku else document.sku)
    if refused := uncleared(fields):
        raise MappingProblem(refused[0].code, refused[0].message)
    for name in ("price", "compareAtPrice"):
        if name in fields:
            variant[name] = price_value(name, fields[name])
    if "barcode" in fields:
        variant["barcode"] = bounded_text("barcode", fields["barcode"])
    item: dict[str, Any] = {}
    measurement = _measurement(
        fields, current.weight if current else None, current.weight_unit if current else None, context
    )
    if measurement is not None:
        item["measurement"] = measurement
    if "inventoryQuantity" in fields:
        quantity = _quantity(fields["inventoryQuantity"])
        if context.location_id is None:
            raise MappingProblem(ErrorCode.MAPPING_INVALID, "inventoryQuantity needs a stock location")
        variant["inventoryQuantities"] = [
            {"locationId": context.location_id, "name": "available", "quantity": quantity}
        ]
        if existing is None or existing.stock is None or not existing.stock.tracked:
            # The PIM manages this variant's stock: untracked, Shopify would keep selling past the quantity
            # sent, so tracking is turned on (for a variant created or linked alike) unless already on.
            item["tracked"] = True
    if item:
        variant["inventoryItem"] = item
    return variant


def _measurement(
    fields: Mapping[str, Any], weight: float | None, unit: str | None, context: ExportContext
) -> dict[str, Any] | None:
    """InventoryItemMeasurementInput: WeightInput needs a value and a unit together, so the one not sent is kept."""
    if "weight" not in fields and "weightUnit" not in fields:
        return None
    new_unit = _choice("weightUnit", fields.get("weightUnit"), WEIGHT_UNITS)
    if "weight" in fields:
        value = _weight_value(fields["weight"])
        if value is None:
            return {"weight": None}
    else:
        value = weight if weight is not None else 0.0
    return {"weight": {"value": value, "unit": new_unit or unit or context.weight_unit}}


# -- translations ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TranslationPlan:
    register: Mapping[str, Mapping[str, str]]
    """locale → {translation key: value}."""
    remove: Mapping[str, tuple[str, ...]]
    """locale → translation keys to remove."""
    refresh: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """locale → {translation key: value}: translations the PIM did not change whose source text the document
    changes. Shopify marks a translation outdated once its source's digest changes, so they are registered
    again, as they are, against the new digest."""


@dataclass(frozen=True, slots=True)
class LocaleFailure:
    locale: str | None
    code: ErrorCode
    message: str


def translation_plan(document: ChannelDocument, primary_locale: str) -> TranslationPlan:
    """What each non-primary locale asks for: a value registers a translation, None or "" removes it; and the
    unchanged translations of the fields whose primary-locale value the document sends are refreshed."""
    register: dict[str, dict[str, str]] = {}
    remove: dict[str, tuple[str, ...]] = {}
    for locale, values in document.locales.items():
        if locale == primary_locale:
            continue
        wanted = {TRANSLATION_KEYS[name]: value for name, value in values.items() if isinstance(value, str) and value}
        gone = tuple(TRANSLATION_KEYS[name] for name, value in values.items() if value is None or value == "")
        if wanted:
            register[locale] = wanted
        if gone:
            remove[locale] = gone
    sources = document.locales.get(primary_locale, {})
    refresh: dict[str, dict[str, str]] = {}
    for locale, values in document.unchanged.items():
        kept = {
            TRANSLATION_KEYS[name]: value
            for name, value in values.items()
            if name in sources and name in TRANSLATION_KEYS and isinstance(value, str) and value
        }
        if locale != primary_locale and kept:
            refresh[locale] = kept
    return TranslationPlan(register=register, remove=remove, refresh=refresh)


def _no_source(locale: str, name: str) -> LocaleFailure:
    """A translation of `name` refused for want of primary-locale text to translate (CHN-010)."""
    return LocaleFailure(
        locale, ErrorCode.MISSING_REQUIRED_FIELD, f"{name}: the primary locale has no value to translate"
    )


def uncleared(fields: Mapping[str, Any]) -> list[UserErrorItem]:
    """The product fields sent cleared that Shopify has no empty value for: a variant's price (without one it would
    be sold for free). Told from the document alone; _variant refuses the document with this code and message."""
    if "price" in fields and fields["price"] is None:
        return [
            UserErrorItem(("price",), "price cannot be cleared: Shopify requires one", ErrorCode.MISSING_REQUIRED_FIELD)
        ]
    return []


def known_refusals(
    fields: Mapping[str, Any], locales: Mapping[str, Mapping[str, Any]], primary_locale: str | None
) -> list[tuple[str | None, UserErrorItem]]:
    """(channel locale, or None for the product's fields; problem) for what the sync will refuse, told from the
    documents alone and the primary locale the connection test read (None before one): what the preview shows."""
    found: list[tuple[str | None, UserErrorItem]] = [(None, problem) for problem in uncleared(fields)]
    if primary_locale is not None:
        found += untranslatable(locales, primary_locale)
    return found


def untranslatable(locales: Mapping[str, Mapping[str, Any]], primary_locale: str) -> list[tuple[str, UserErrorItem]]:
    """(channel locale, problem) for each translation that will fail for want of a source, told from the documents
    alone: a non-primary locale's text for a field the primary locale sends empty, so productSet leaves Shopify no
    content (nor digest) to translate, and translation_inputs fails it after writing the product, with this code and
    message. What the primary locale does not send at all is the shop's to say, so it is not judged here."""
    primary = locales.get(primary_locale)
    if primary is None:
        return []
    empty = {name for name, value in primary.items() if name in TRANSLATION_KEYS and value in (None, "")}
    problems = []
    for locale, values in locales.items():
        if locale == primary_locale:
            continue
        for name in (name for name, value in values.items() if name in empty and isinstance(value, str) and value):
            failure = _no_source(locale, name)
            problems.append((locale, UserErrorItem((name,), failure.message, failure.code)))
    return problems


def removal_groups(plan: TranslationPlan) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(keys, locales) pairs: translationsRemove removes every key in every locale given, so locales are
    grouped by the exact set of keys they remove."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for locale, keys in plan.remove.items():
        groups.setdefault(tuple(sorted(keys)), []).append(locale)
    return [(keys, tuple(locales)) for keys, locales in groups.items()]


def translation_inputs(
    plan: TranslationPlan, content: Mapping[str, TranslatableContent]
) -> tuple[list[dict[str, str]], list[LocaleFailure]]:
    """TranslationInput entries, each with the digest of the source content it translates.

    Shopify refuses a translation whose digest does not match the current
    source, so digests are read after productSet. A key whose source is empty
    has no digest: that locale fails with CHN-010 (nothing to translate).
    """
    inputs: list[dict[str, str]] = []
    failures: list[LocaleFailure] = []
    for locale, values in plan.refresh.items():
        for key, value in values.items():
            source = content.get(key)
            if source is not None and source.digest:  # a source cleared has nothing left to translate
                inputs.append(
                    {"locale": locale, "key": key, "value": value, "translatableContentDigest": source.digest}
                )
    for locale, values in plan.register.items():
        for key, value in values.items():
            source = content.get(key)
            if source is None or not source.digest:
                failures.append(_no_source(locale, _FIELD_BY_KEY.get(key, key)))
                continue
            inputs.append({"locale": locale, "key": key, "value": value, "translatableContentDigest": source.digest})
    return inputs, failures


_TRANSLATION_CODES: Final[Mapping[str, ErrorCode]] = {
    "BLANK": ErrorCode.MISSING_REQUIRED_FIELD,
    "INVALID": ErrorCode.FIELD_TYPE_MISMATCH,
    "INVALID_FORMAT": ErrorCode.FIELD_TYPE_MISMATCH,
    "INVALID_VALUE_FOR_HANDLE_TRANSLATION": ErrorCode.FIELD_TYPE_MISMATCH,
    "FAILS_RESOURCE_VALIDATION": ErrorCode.FIELD_TYPE_MISMATCH,
    "INVALID_KEY_FOR_MODEL": ErrorCode.FIELD_TYPE_MISMATCH,
    "INVALID_LOCALE_FOR_SHOP": ErrorCode.LOCALE_NOT_SUPPORTED,
    "INVALID_CODE": ErrorCode.LOCALE_NOT_SUPPORTED,
    "RESOURCE_NOT_FOUND": ErrorCode.PRODUCT_NOT_FOUND_IN_CHANNEL,
}


def translation_failures(
    errors: Sequence[UserError], inputs: Sequence[Mapping[str, str]], locales: Sequence[str] = ()
) -> list[LocaleFailure]:
    """translationsRegister/Remove userErrors per locale: field ["translations", "<i>", ...] names inputs[i], and
    ["locales", "<i>"] the i-th of the `locales` one translationsRemove call named."""
    failures = []
    for error in errors:
        locale = locales[0] if len(locales) == 1 else None
        key = None
        index = int(error.field[1]) if len(error.field) >= 2 and error.field[1].isdigit() else None
        if error.field[0:1] == ("translations",) and index is not None and index < len(inputs):
            locale, key = inputs[index]["locale"], inputs[index]["key"]
        elif error.field[0:1] == ("locales",) and index is not None and index < len(locales):
            locale = locales[index]
        code = _TRANSLATION_CODES.get(error.code or "", ErrorCode.UPDATE_FAILED)
        name = _FIELD_BY_KEY.get(key, key) if key else None
        failures.append(LocaleFailure(locale, code, f"{name}: {error.message}" if name else error.message))
    return failures


def translation_result(sku: str, external_id: str, failures: Sequence[LocaleFailure]) -> ItemResult:
    """The product was written but some locale was not: ok=False with the product's id kept, the first
    failing locale in `locale` and every failure in the message."""
    first = failures[0]
    message = "; ".join(f"[{f.locale or '?'}] {f.message}" for f in failures)
    return ItemResult(sku=sku, ok=False, external_id=external_id, code=first.code, message=message, locale=first.locale)


# -- productSet userErrors ---------------------------------------------------------------------------


_PRODUCT_SET_CODES: Final[Mapping[str, ErrorCode]] = {
    "MISSING_FIELD_REQUIRED": ErrorCode.MISSING_REQUIRED_FIELD,
    "INVALID_INPUT": ErrorCode.FIELD_TYPE_MISMATCH,
    "INVALID_PRODUCT": ErrorCode.FIELD_TYPE_MISMATCH,
    "INVALID_VARIANT": ErrorCode.FIELD_TYPE_MISMATCH,
    "INPUT_MISMATCH": ErrorCode.FIELD_TYPE_MISMATCH,
    "HANDLE_NOT_UNIQUE": ErrorCode.FIELD_TYPE_MISMATCH,
    "DUPLICATED_VALUE": ErrorCode.FIELD_TYPE_MISMATCH,
    "NOT_FOUND": ErrorCode.PRODUCT_NOT_FOUND_IN_CHANNEL,
    "PRODUCT_DOES_NOT_EXIST": ErrorCode.PRODUCT_NOT_FOUND_IN_CHANNEL,
    "PRODUCT_VARIANT_DOES_NOT_EXIST": ErrorCode.PRODUCT_NOT_FOUND_IN_CHANNEL,
}
"""ProductSetUserErrorCode → CHN code; anything else is CHN-031 (create) or CHN-032 (update) failed."""


def channel_field(path: Sequence[str]) -> str | None:
    """The channel field a userError's `field` path points at, e.g. input.variants.0.price → price."""
    steps = tuple(step for step in path if not step.isdigit() and step != "input")
    for end in range(len(steps), 0, -1):
        name = _FIELD_BY_PATH.get(steps[:end])
        if name is not None:
            return name
    return None


def error_code(error: UserError, *, creating: bool) -> ErrorCode:
    mapped = _PRODUCT_SET_CODES.get(error.code or "")
    if mapped is not ErrorCode.PRODUCT_NOT_FOUND_IN_CHANNEL and _BLANK.search(error.message):
        return ErrorCode.MISSING_REQUIRED_FIELD
    if mapped is not None:
        return mapped
    return ErrorCode.CREATE_FAILED if creating else ErrorCode.UPDATE_FAILED


def product_set_result(
    document: ChannelDocument, errors: Sequence[UserError], *, external_id: str | None, primary_locale: str
) -> ItemResult:
    """A refused productSet: the first error's code, every error in the message."""
    creating = external_id is None
    parts = []
    for error in errors:
        name = channel_field(error.field)
        parts.append(f"{name}: {error.message}" if name else error.message)
    name = channel_field(errors[0].field)
    return ItemResult(
        sku=document.sku,
        ok=False,
        external_id=external_id,
        code=error_code(errors[0], creating=creating),
        message="; ".join(parts),
        locale=primary_locale if name in LOCALIZABLE else None,
    )


# -- reading back ------------------------------------------------------------------------------------


def _image_url(product: JsonObject) -> str | None:
    """The image URL the connector sent while the featured media is the one made from it; otherwise (an image
    the merchant set) Shopify's CDN URL, None until Shopify has processed it."""
    media = product.get("featuredMedia")
    if not isinstance(media, dict):
        return None
    remembered = remembered_image(product)
    if remembered is not None:
        return remembered.source
    url = field_of(media, "image", "url")
    return url if isinstance(url, str) else None


def _quantity_read(node: JsonObject) -> int | None:
    """The "available" quantity at the location the document's stock is written to; None where not stocked."""
    level = field_of(node, "inventoryItem", "inventoryLevel")
    quantities = level.get("quantities") if isinstance(level, dict) else None
    for entry in quantities if isinstance(quantities, list) else []:
        if isinstance(entry, dict) and entry.get("name") == "available":
            quantity = entry.get("quantity")
            return quantity if isinstance(quantity, int) else None
    return None


def remote_product(
    node: JsonObject,
    *,
    primary_locale: str,
    translations: Mapping[str, Mapping[str, str | None]],
    translated_at: datetime | None = None,
) -> RemoteProduct:
    """One variant of a ProductsBySku answer as the product the service binds; values as Shopify stores them.

    `updated_at` is the latest of the product's updatedAt and `translated_at` (when its latest translation
    changed): Shopify keeps a translation's time on the translation, so an Arabic title edited in the admin
    leaves the product's updatedAt where it was, and NEWEST_WINS must still see that edit's time. Webhook
    deliveries carry the product's updatedAt alone: that is `record_updated_at`, which stale deliveries are
    judged by.
    """
    product = node.get("product")
    if not isinstance(product, dict) or not isinstance(product.get("id"), str):
        raise ValueError("the variant has no product id")
    weight = field_of(node, "inventoryItem", "measurement", "weight")
    fields: dict[str, Any] = {
        "vendor": product.get("vendor"),
        "tags": list(product.get("tags") or []),
        "status": product.get("status"),
        "price": node.get("price"),
        "compareAtPrice": node.get("compareAtPrice"),
        "sku": node.get("sku"),
        "barcode": node.get("barcode"),
        "weight": decimal_text(weight.get("value")) if isinstance(weight, dict) else None,
        "weightUnit": weight.get("unit") if isinstance(weight, dict) else None,
        "inventoryQuantity": _quantity_read(node),
        "imageUrl": _image_url(product),
    }
    locales: dict[str, dict[str, Any]] = {
        primary_locale: {
            "title": product.get("title"),
            "descriptionHtml": product.get("descriptionHtml"),
            "handle": product.get("handle"),
            "productType": product.get("productType"),
            "seoTitle": field_of(product, "seo", "title"),
            "seoDescription": field_of(product, "seo", "description"),
        }
    }
    for locale, values in translations.items():
        locales[locale] = {name: values.get(key) for name, key in TRANSLATION_KEYS.items()}
    record_updated_at = parse_datetime(product.get("updatedAt"))
    return RemoteProduct(
        sku=str(node.get("sku")),
        external_id=product["id"],
        fields=fields,
        locales=locales,
        updated_at=_latest(record_updated_at, translated_at),
        record_updated_at=record_updated_at,
    )


def _latest(*times: datetime | None) -> datetime | None:
    known = [when for when in times if when is not None]
    return max(known) if known else None
