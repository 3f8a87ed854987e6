"""productSet: create or update a product from its desired state, with Shopify's userErrors.

Semantics from the 2026-04 SDL's productSet description: list fields
(`productOptions`, `variants`, `files`) replace what the product has (entries
not listed are deleted); every other field is changed only when present in
the input (an explicit null clears it). A change is validated as a whole and
applied only when there is no userError, so a refused productSet leaves the
shop untouched.

Variants are matched by `id` only: a variant given without one is a new
variant with a new id, and the old one is deleted. (Sending ids is what
keeps variant ids stable; the emulator does not guess a match from option
values.) Files are matched by `id` only too: a file given by `originalSource`
is a new upload every time, the same URL included, and the media it replaces
is deleted, as Shopify does (it keeps no record of the URL it downloaded
from). `identifier: {handle}` upserts:
the product with that handle is updated or, if none exists, created; the
input must then carry the same handle (MISSING_FIELD_REQUIRED /
INPUT_MISMATCH, as ProductSetUserErrorCode describes). `identifier: {id}`
must name an existing product (NOT_FOUND).

`metafields` are stored with the product's change (metafields.py). Input the
emulator does not model (collections, category,
gift cards, bundles, unit prices...) is refused loudly, never ignored.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from . import metafields, webhooks
from .fields import (
    UserError,
    apply_variant_fields,
    new_variant,
    normalize_tags,
    plan_media,
    refuse_unknown,
    reserialise_html,
    too_long,
    user_error,
)
from .model import DEFAULT_OPTION, DEFAULT_VALUE, Option, OptionValue, Product, ShopState, Variant, handleize, parse_gid

MAX_OPTIONS = 3
MAX_VARIANTS = 2048

PRODUCT_FIELDS = {
    "title", "descriptionHtml", "handle", "seo", "productType", "tags",
    "vendor", "status", "productOptions", "variants", "files", "metafields",
}  # fmt: skip
VARIANT_FIELDS = {
    "id", "optionValues", "price", "sku", "barcode", "position", "compareAtPrice",
    "inventoryPolicy", "inventoryQuantities", "inventoryItem", "taxable",
}  # fmt: skip


def product_set(
    state: ShopState,
    data: Mapping[str, Any],
    identifier: Mapping[str, Any] | None = None,
    *,
    notify: bool = True,
) -> tuple[Product | None, list[UserError]]:
    """Apply one ProductSetInput; (product, []) or (None, userErrors) with nothing changed."""
    refuse_unknown("ProductSetInput", data, PRODUCT_FIELDS)
    product: Product | None = None
    handle_key: str | None = None
    if identifier:
        refuse_unknown("ProductSetIdentifiers", identifier, ("id", "handle"))
        if identifier.get("id") is not None:
            product = state.product(identifier["id"])
            if product is None:
                return None, [user_error(("identifier", "id"), "Product does not exist", "NOT_FOUND")]
        elif identifier.get("handle") is not None:
            handle_key = identifier["handle"]
            if "handle" not in data:
                message = "The input field corresponding to the identifier is required."
                return None, [user_error(("input", "handle"), message, "MISSING_FIELD_REQUIRED")]
            if data["handle"] != handle_key:
                message = "The identifier value does not match the value of the corresponding field in the input."
                return None, [user_error(("input", "handle"), message, "INPUT_MISMATCH")]
            product = state.product_by_handle(handleize(handle_key))
    creating = product is None
    product_id = product.id if product else state.next_id()
    errors: list[UserError] = []

    title = data.get("title") if "title" in data else (product.title if product else None)
    if (creating or "title" in data) and (title is None or not title.strip()):
        errors.append(user_error(("input", "title"), "Title can't be blank", "INVALID_PRODUCT"))
    elif (long_title := too_long(("input", "title"), "Title", title, "INVALID_PRODUCT")) is not None:
        errors.append(long_title)
    errors += text_limits(data)

    handle = product.handle if product else ""
    if data.get("handle") is not None:
        handle = handleize(data["handle"])
        clash = state.product_by_handle(handle)
        if not handle:
            errors.append(user_error(("input", "handle"), "Handle can't be blank", "INVALID_PRODUCT"))
        elif clash is not None and clash is not product:
            message = f"Handle '{handle}' already in use. Please provide a new handle."
            errors.append(user_error(("input", "handle"), message, "HANDLE_NOT_UNIQUE"))
    elif creating and title:
        handle = state.unique_handle(handleize(title))

    options: list[Option] | None = None
    variants: list[Variant] | None = None
    options_in, variants_in = data.get("productOptions"), data.get("variants")
    if variants_in is not None and options_in is None:
        message = "Must specify product options when updating variants."
        errors.append(user_error(("input", "productOptions"), message, "PRODUCT_OPTIONS_INPUT_MISSING"))
    elif options_in is not None and variants_in is None:
        message = "Must specify variants when updating options."
        errors.append(user_error(("input", "variants"), message, "VARIANTS_INPUT_MISSING"))
    elif options_in is not None and variants_in is not None:
        options = plan_options(state, product, options_in, errors)
        if options is not None:
            variants = plan_variants(state, product, product_id, options, variants_in, errors)
    elif creating:
        options = [Option(state.next_id(), DEFAULT_OPTION, 1, [OptionValue(state.next_id(), DEFAULT_VALUE)])]
        variants = [new_variant(state, product_id, [DEFAULT_VALUE])]
    media = plan_media(state, product, data["files"] or [], errors) if "files" in data else None
    fields = data.get("metafields") or []
    errors += metafields.check_product_metafields(product, fields, ("input", "metafields"), "INVALID_METAFIELD")
    if errors:
        return None, errors

    if product is None:
        now = state.stamp()
        product = Product(id=product_id, title="", handle=handle, created_at=now, updated_at=now)
    before = copy.deepcopy(product)
    apply_scalars(product, data, reformat_html=state.reformat_html)
    product.handle = handle
    if options is not None and variants is not None:
        product.options = options
        product.variants = sorted(variants, key=lambda v: v.position)
        for position, variant in enumerate(product.variants, start=1):
            variant.position = position
    if media is not None:
        product.media = media
    for raw in fields:
        metafields.store_metafield(state, product, raw)
    commit(state, product, None if creating else before, notify=notify)
    return product, []


def text_limits(data: Mapping[str, Any]) -> list[UserError]:
    """The product's texts longer than Shopify stores (fields.MAX_TEXT): the handle as it would be stored, and
    each tag."""
    checked = [
        too_long(("input", "vendor"), "Vendor", data.get("vendor"), "INVALID_PRODUCT"),
        too_long(("input", "productType"), "Product type", data.get("productType"), "INVALID_PRODUCT"),
        too_long(("input", "handle"), "Handle", handleize(data.get("handle") or ""), "INVALID_PRODUCT"),
        *(too_long(("input", "tags"), "Tag", tag, "INVALID_PRODUCT") for tag in normalize_tags(data.get("tags"))),
    ]
    return [error for error in checked if error is not None]


def apply_scalars(product: Product, data: Mapping[str, Any], *, reformat_html: bool = False) -> None:
    """The non-list fields present in a ProductSetInput/ProductUpdateInput-shaped mapping (`reformat_html`:
    descriptionHtml is stored re-serialised, see fields.reserialise_html)."""
    if "title" in data:
        product.title = data["title"].strip()
    if "descriptionHtml" in data:
        markup = data["descriptionHtml"] or ""
        product.description_html = reserialise_html(markup) if reformat_html else markup
    if "vendor" in data:
        product.vendor = data["vendor"] or ""
    if "productType" in data:
        product.product_type = data["productType"] or ""
    if data.get("status") is not None:
        product.status = data["status"]
    if "tags" in data:
        product.tags = normalize_tags(data["tags"])
    if "seo" in data:
        seo = data["seo"] or {"title": None, "description": None}
        refuse_unknown("SEOInput", seo, ("title", "description"))
        if "title" in seo:
            product.seo_title = seo["title"] or None
        if "description" in seo:
            product.seo_description = seo["description"] or None


def commit(state: ShopState, product: Product, before: Product | None, *, notify: bool) -> bool:
    """Store `product`; when anything changed, move updatedAt (its own and changed variants') and notify."""
    if before is not None:
        product.updated_at = before.updated_at
        if product == before:
            return False
    stamp = state.stamp(before.updated_at if before else None)
    old = {v.id: v for v in before.variants} if before else {}
    for variant in product.variants:
        if variant.id not in old:
            variant.created_at = variant.updated_at = stamp
        elif variant != old[variant.id]:
            variant.updated_at = stamp
    product.updated_at = stamp
    state.products[product.id] = product
    if notify:
        webhooks.product_changed(state, product, created=before is None)
    return True


def plan_options(
    state: ShopState, product: Product | None, options_in: Sequence[Mapping[str, Any]], errors: list[UserError]
) -> list[Option] | None:
    """The product's options after the change (existing ids kept by id or name), or None when invalid."""
    path = ("input", "productOptions")
    if len(options_in) > MAX_OPTIONS:
        errors.append(user_error(path, f"Can only specify a maximum of {MAX_OPTIONS} options", "OPTIONS_OVER_LIMIT"))
        return None
    existing = product.options if product else []
    before, names = len(errors), set[str]()
    planned: list[Option] = []
    for i, raw in enumerate(options_in):
        refuse_unknown("OptionSetInput", raw, ("id", "name", "position", "values"))
        at = (*path, str(i))
        current = None
        if raw.get("id"):
            current = next((o for o in existing if o.id == parse_gid(raw["id"])[1]), None)
            if current is None:
                errors.append(user_error((*at, "id"), "Option does not exist", "OPTION_DOES_NOT_EXIST"))
                continue
        name = (raw.get("name") or (current.name if current else "")).strip()
        if not name:
            errors.append(user_error((*at, "name"), "Option name can't be blank", "INVALID_INPUT"))
            continue
        if name.casefold() in names:
            errors.append(user_error((*at, "name"), "Duplicated option name.", "DUPLICATED_OPTION_NAME"))
            continue
        names.add(name.casefold())
        current = current or next((o for o in existing if o.name == name), None)
        values = plan_values(state, current, raw.get("values") or [], at, errors)
        planned.append(Option(current.id if current else state.next_id(), name, raw.get("position") or i + 1, values))
    if len(errors) > before:
        return None
    planned.sort(key=lambda o: o.position)
    for position, option in enumerate(planned, start=1):
        option.position = position
    return planned


def plan_values(
    state: ShopState,
    option: Option | None,
    values_in: Sequence[Mapping[str, Any]],
    at: tuple[str, ...],
    errors: list[UserError],
) -> list[OptionValue]:
    if not values_in:
        message = "Each option must have at least one option value specified."
        errors.append(user_error((*at, "values"), message, "OPTION_VALUES_MISSING"))
        return []
    known = option.values if option else []
    values: list[OptionValue] = []
    for j, raw in enumerate(values_in):
        refuse_unknown("OptionValueSetInput", raw, ("id", "name"))
        where = (*at, "values", str(j))
        old = None
        if raw.get("id"):
            old = next((v for v in known if v.id == parse_gid(raw["id"])[1]), None)
            if old is None:
                errors.append(user_error(where, "Option value does not exist", "OPTION_VALUE_DOES_NOT_EXIST"))
                continue
        name = (raw.get("name") or (old.name if old else "")).strip()
        if not name:
            errors.append(user_error((*where, "name"), "Option value name can't be blank", "INVALID_INPUT"))
        elif any(v.name.casefold() == name.casefold() for v in values):
            errors.append(user_error((*where, "name"), "Duplicated option value.", "DUPLICATED_OPTION_VALUE"))
        else:
            old = old or next((v for v in known if v.name == name), None)
            values.append(OptionValue(old.id if old else state.next_id(), name))
    return values


def plan_variants(
    state: ShopState,
    product: Product | None,
    product_id: int,
    options: list[Option],
    variants_in: Sequence[Mapping[str, Any]],
    errors: list[UserError],
) -> list[Variant]:
    path = ("input", "variants")
    if len(variants_in) > MAX_VARIANTS:
        message = "Number of product variants exceeds shop limit."
        errors.append(user_error(path, message, "VARIANTS_OVER_LIMIT"))
        return []
    existing = {v.id: v for v in product.variants} if product else {}
    planned: list[Variant] = []
    combinations: set[tuple[str, ...]] = set()
    for i, raw in enumerate(variants_in):
        refuse_unknown("ProductVariantSetInput", raw, VARIANT_FIELDS)
        at, before = (*path, str(i)), len(errors)
        current = None
        if raw.get("id"):
            current = existing.get(parse_gid(raw["id"])[1])
            if current is None:
                errors.append(
                    user_error((*at, "id"), "Product variant does not exist", "PRODUCT_VARIANT_DOES_NOT_EXIST")
                )
                continue
        values = choose_values(options, raw["optionValues"], at, errors)
        variant = copy.deepcopy(current) if current else new_variant(state, product_id, [])
        apply_variant_fields(state, variant, raw, at, errors, stocked_only=current is not None)
        if len(errors) > before or values is None:
            continue
        if tuple(values) in combinations:
            message = f"The variant '{' / '.join(values)}' already exists."
            errors.append(user_error((*at, "optionValues"), message, "INVALID_VARIANT"))
            continue
        combinations.add(tuple(values))
        variant.option_values = values
        variant.position = raw.get("position") or i + 1
        planned.append(variant)
    return planned


def choose_values(
    options: list[Option], chosen: Sequence[Mapping[str, Any]], at: tuple[str, ...], errors: list[UserError]
) -> list[str] | None:
    """A variant's value for every option, from VariantOptionValueInput (by option id/name, value id/name)."""
    picked: dict[int, str] = {}
    for j, raw in enumerate(chosen):
        refuse_unknown("VariantOptionValueInput", raw, ("id", "name", "optionId", "optionName"))
        where = (*at, "optionValues", str(j))
        index = next(
            (
                k
                for k, o in enumerate(options)
                if (raw.get("optionId") and o.id == parse_gid(raw["optionId"])[1]) or o.name == raw.get("optionName")
            ),
            None,
        )
        if index is None:
            errors.append(user_error(where, "Option does not exist", "OPTION_DOES_NOT_EXIST"))
            return None
        value = next(
            (
                v
                for v in options[index].values
                if (raw.get("id") and v.id == parse_gid(raw["id"])[1]) or v.name == raw.get("name")
            ),
            None,
        )
        if value is None:
            errors.append(user_error(where, "Option value does not exist", "OPTION_VALUE_DOES_NOT_EXIST"))
            return None
        picked[index] = value.name
    if len(picked) != len(options):
        message = "Variant must have exactly one value for each product option"
        errors.append(user_error((*at, "optionValues"), message, "INVALID_VARIANT"))
        return None
    return [picked[k] for k in range(len(options))]
