"""productCreate, productUpdate, productDelete and productVariantsBulkCreate/Update, on top of productSet.

productCreate/productUpdate answer with the generic UserError (field and
message, no code) and field paths relative to their `product` argument
(["title"], not ["input", "title"]); their checks are productSet's. A product
created without options gets Shopify's standalone "Default Title" variant; with
`productOptions`, one variant carrying the first value of each option.

The bulk variant mutations validate every variant first: with
allowPartialUpdates false (the default) one bad variant changes nothing.
productVariantsBulkUpdate refuses inventoryQuantities (Shopify only takes them
on create; stock is changed with inventoryAdjustQuantities), and its price
errors use GREATER_THAN_OR_EQUAL_TO, the code the SDL describes for them.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from . import webhooks
from .fields import UserError, apply_variant_fields, new_variant, refuse_unknown, user_error
from .model import DEFAULT_VALUE, OptionValue, Product, ShopState, Variant
from .products import commit, product_set
from .schema import not_implemented

CREATE_FIELDS = {
    "title",
    "descriptionHtml",
    "handle",
    "seo",
    "productType",
    "tags",
    "vendor",
    "status",
    "productOptions",
}
UPDATE_FIELDS = {
    "id", "title", "descriptionHtml", "handle", "seo", "productType", "tags", "vendor", "status", "metafields",
}  # fmt: skip
BULK_FIELDS = {"id", "price", "compareAtPrice", "barcode", "inventoryItem", "taxable", "inventoryPolicy"}


def _generic(errors: list[UserError]) -> list[UserError]:
    """ProductSetUserError -> UserError: the path loses its "input" root and there is no code."""
    return [
        {"field": e["field"][1:] if e["field"][:1] == ["input"] else e["field"], "message": e["message"]}
        for e in errors
    ]


def product_create(
    state: ShopState, data: Mapping[str, Any], media: Sequence[Any] | None
) -> tuple[Product | None, list[UserError]]:
    refuse_unknown("ProductCreateInput", data, CREATE_FIELDS)
    if media:
        raise not_implemented("productCreate(media:)")
    set_input = {k: v for k, v in data.items() if k in CREATE_FIELDS and k != "productOptions"}
    options = data.get("productOptions") or []
    if options:
        for option in options:
            refuse_unknown("OptionCreateInput", option, ("name", "position", "values"))
        set_input["productOptions"] = [
            {"name": o.get("name"), "position": o.get("position"), "values": [dict(v) for v in o.get("values") or []]}
            for o in options
        ]
        set_input["variants"] = [
            {
                "optionValues": [
                    {"optionName": o.get("name"), "name": (o.get("values") or [{}])[0].get("name")} for o in options
                ]
            }
        ]
    product, errors = product_set(state, set_input)
    return product, _generic(errors)


def product_to_update(
    state: ShopState, data: Mapping[str, Any], identifier: Mapping[str, Any] | None
) -> Product | None:
    """The product productUpdate names (by `product.id`, or its identifier's id or handle); None when none."""
    identifier = identifier or {}
    refuse_unknown("ProductUpdateIdentifiers", identifier, ("id", "handle"))
    if data.get("id") or identifier.get("id"):
        return state.product(data.get("id") or identifier["id"])
    if identifier.get("handle"):
        return state.product_by_handle(identifier["handle"])
    return None


def product_update(
    state: ShopState, data: Mapping[str, Any], identifier: Mapping[str, Any] | None
) -> tuple[Product | None, list[UserError]]:
    refuse_unknown("ProductUpdateInput", data, UPDATE_FIELDS)
    product = product_to_update(state, data, identifier)
    if product is None:
        return None, [{"field": ["id"], "message": "Product does not exist"}]
    changes = {k: v for k, v in data.items() if k in UPDATE_FIELDS and k != "id"}  # SDL defaults checked above
    updated, errors = product_set(state, changes, {"id": product.gid})
    return updated, _generic(errors)


def product_delete(state: ShopState, product_gid: str) -> tuple[str | None, list[UserError]]:
    product = state.product(product_gid)
    if product is None:
        return None, [{"field": ["id"], "message": "Product does not exist"}]
    del state.products[product.id]
    webhooks.product_deleted(state, product.id)
    return product.gid, []


def variants_bulk_update(
    state: ShopState, product_gid: str, variants: Sequence[Mapping[str, Any]], allow_partial: bool
) -> tuple[Product | None, list[Variant] | None, list[UserError]]:
    product = state.product(product_gid)
    if product is None:
        return None, None, [user_error(("productId",), "Product does not exist", "PRODUCT_DOES_NOT_EXIST")]
    errors: list[UserError] = []
    changed: dict[int, Variant] = {}
    for i, raw in enumerate(variants):
        refuse_unknown("ProductVariantsBulkInput", raw, {*BULK_FIELDS, "inventoryQuantities"})
        at, before = ("variants", str(i)), len(errors)
        if not raw.get("id"):
            errors.append(
                user_error((*at, "id"), "Product variant is missing ID attribute", "PRODUCT_VARIANT_ID_MISSING")
            )
            continue
        current = next((v for v in product.variants if v.gid == raw["id"]), None)
        if current is None:
            errors.append(user_error((*at, "id"), "Product variant does not exist", "PRODUCT_VARIANT_DOES_NOT_EXIST"))
            continue
        if raw.get("inventoryQuantities"):
            message = (
                "Inventory quantities can only be provided during create. "
                "To update inventory for existing variants, use inventoryAdjustQuantities."
            )
            errors.append(
                user_error((*at, "inventoryQuantities"), message, "NO_INVENTORY_QUANTITIES_ON_VARIANTS_UPDATE")
            )
            continue
        variant = copy.deepcopy(current)
        apply_variant_fields(state, variant, raw, at, errors, stocked_only=True, code="GREATER_THAN_OR_EQUAL_TO")
        if len(errors) == before:
            changed[variant.id] = variant
    if errors and not allow_partial:
        return None, None, errors
    return _store(state, product, changed), list(changed.values()), errors


def variants_bulk_create(
    state: ShopState, product_gid: str, variants: Sequence[Mapping[str, Any]], strategy: str | None
) -> tuple[Product | None, list[Variant] | None, list[UserError]]:
    product = state.product(product_gid)
    if product is None:
        return None, None, [user_error(("productId",), "Product does not exist", "PRODUCT_DOES_NOT_EXIST")]
    errors: list[UserError] = []
    options = copy.deepcopy(product.options)
    taken = {tuple(v.option_values) for v in product.variants}
    created: list[Variant] = []
    for i, raw in enumerate(variants):
        refuse_unknown("ProductVariantsBulkInput", raw, {*BULK_FIELDS, "optionValues", "inventoryQuantities"})
        at, before = ("variants", str(i)), len(errors)
        if raw.get("id"):
            errors.append(user_error((*at, "id"), "On create, this key cannot be used.", "NO_KEY_ON_CREATE"))
            continue
        chosen: dict[int, str] = {}
        for raw_value in raw.get("optionValues") or []:
            index = next((k for k, o in enumerate(options) if o.name == raw_value.get("optionName")), None)
            if index is None or not raw_value.get("name"):
                message = "Variant options are more than the product options."
                errors.append(user_error((*at, "optionValues"), message, "OPTION_VALUES_FOR_NUMBER_OF_UNKNOWN_OPTIONS"))
                break
            chosen[index] = raw_value["name"]
        if len(errors) > before:
            continue
        if len(chosen) != len(options):
            errors.append(
                user_error((*at, "optionValues"), "Variant options are not enough.", "NEED_TO_ADD_OPTION_VALUES")
            )
            continue
        values = [chosen[k] for k in range(len(options))]
        if tuple(values) in taken:
            message = f"The variant '{' / '.join(values)}' already exists."
            errors.append(user_error((*at, "optionValues"), message, "VARIANT_ALREADY_EXISTS"))
            continue
        variant = new_variant(state, product.id, values)
        quantities = [
            {"locationId": q["locationId"], "name": "available", "quantity": q["availableQuantity"]}
            for q in raw.get("inventoryQuantities") or []
        ]
        fields = {**{k: v for k, v in raw.items() if k != "inventoryQuantities"}, "inventoryQuantities": quantities}
        apply_variant_fields(state, variant, fields, at, errors, stocked_only=False, code="GREATER_THAN_OR_EQUAL_TO")
        if len(errors) == before:
            taken.add(tuple(values))
            created.append(variant)
            for option, value in zip(options, values, strict=True):
                if all(v.name != value for v in option.values):
                    option.values.append(OptionValue(state.next_id(), value))
    if errors:
        return None, None, errors
    before_product = copy.deepcopy(product)
    product.options = options
    standalone = len(product.variants) == 1
    if standalone and (
        strategy == "REMOVE_STANDALONE_VARIANT"
        or (strategy in (None, "DEFAULT") and product.variants[0].title == DEFAULT_VALUE)
    ):
        product.variants = []
    product.variants.extend(created)
    for position, variant in enumerate(product.variants, start=1):
        variant.position = position
    commit(state, product, before_product, notify=True)
    return product, created, []


def _store(state: ShopState, product: Product, changed: dict[int, Variant]) -> Product:
    before = copy.deepcopy(product)
    product.variants = [changed.get(v.id, v) for v in product.variants]
    commit(state, product, before, notify=True)
    return product
