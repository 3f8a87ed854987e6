"""Product metafields: metafieldsSet and Product.metafield, with the checks the 2026-04 SDL describes.

From MetafieldsSetInput and metafieldsSet: at most 25 metafields a call; the
call is atomic (any userError, nothing is stored and `metafields` is null);
a namespace left out (or `$app`) is the app-reserved namespace; a namespace
is 3-255 and a key 2-64 characters of letters, digits, hyphens and
underscores; `type` is required when the metafield has no definition (the
emulator has no definitions, so a new metafield needs one) and a `json`
value must be JSON. Only products own metafields here, and only the types
listed in TYPES; anything else is refused loudly. productSet and productUpdate
take a product's `metafields` (MetafieldInput) with the same checks, stored
with the product's change or not at all (check_product_metafields,
store_metafield).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .fields import UserError, refuse_unknown, user_error
from .model import APP_NAMESPACE, Metafield, Product, ShopState, parse_gid
from .schema import not_implemented

MAX_METAFIELDS = 25
TYPES = ("json", "single_line_text_field", "multi_line_text_field", "url")
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def namespace_of(given: str | None) -> str:
    """The stored namespace: the app-reserved one for None or `$app`."""
    if given is None or given == "$app":
        return APP_NAMESPACE
    if given.startswith("$app:"):
        return f"{APP_NAMESPACE}--{given[len('$app:') :]}"
    return given


def product_metafield(product: Product, namespace: str | None, key: str) -> Metafield | None:
    return product.metafields.get((namespace_of(namespace), key))


def _error(index: int, name: str, message: str, code: str) -> UserError:
    return {"field": ["metafields", str(index), name], "message": message, "code": code, "elementIndex": index}


def _check(state: ShopState, index: int, raw: Mapping[str, Any]) -> tuple[Product | None, list[UserError]]:
    refuse_unknown("MetafieldsSetInput", raw, ("ownerId", "namespace", "key", "value", "type"))
    kind, number = parse_gid(raw["ownerId"])
    if kind != "Product":
        raise not_implemented(f"metafields owned by {kind}")
    product = state.products.get(number)
    if product is None:
        return None, [_error(index, "ownerId", "Owner does not exist", "INVALID")]
    return product, [
        {**user_error(("metafields", str(index), name), message, code), "elementIndex": index}
        for name, message, code in _problems(product, raw)
    ]


def _problems(product: Product | None, raw: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(input field, message, code) of what Shopify refuses in one metafield of `product` (None: one being made)."""
    problems: list[tuple[str, str, str]] = []
    namespace, key = raw.get("namespace"), raw["key"]
    reserved = namespace is None or namespace.startswith("$app")
    if not reserved and (not 3 <= len(namespace) <= 255 or not _NAME.match(namespace)):
        problems.append(("namespace", "Namespace is invalid", "INVALID"))
    if len(key) < 2:
        problems.append(("key", "Key is too short (minimum is 2 characters)", "TOO_SHORT"))
    elif len(key) > 64:
        problems.append(("key", "Key is too long (maximum is 64 characters)", "TOO_LONG"))
    elif not _NAME.match(key):
        problems.append(("key", "Key contains one or more invalid characters.", "INVALID"))
    current = None if product is None else product_metafield(product, namespace, key)
    kind_of_value = raw.get("type") or (current.type if current else None)
    if kind_of_value is None:
        problems.append(("type", "Type can't be blank", "BLANK"))
    elif kind_of_value not in TYPES:
        raise not_implemented(f"metafields of type {kind_of_value}")
    elif kind_of_value == "json":
        try:
            json.loads(raw["value"])
        except ValueError:
            problems.append(("value", "Value is invalid JSON", "INVALID_VALUE"))
    return problems


def check_product_metafields(
    product: Product | None, inputs: Sequence[Mapping[str, Any]], at: tuple[str, ...], code: str
) -> list[UserError]:
    """The `metafields` of a productSet or productUpdate (MetafieldInput, by namespace and key) as Shopify refuses
    them, under `at` with `code`; [] when every one can be stored with the product (store_metafield)."""
    errors: list[UserError] = []
    for index, raw in enumerate(inputs):
        refuse_unknown("MetafieldInput", raw, ("namespace", "key", "value", "type"))
        if not raw.get("key") or raw.get("value") is None:
            raise not_implemented("MetafieldInput without a key and value (a metafield named by id)")
        errors += [user_error((*at, str(index), name), message, code) for name, message, _ in _problems(product, raw)]
    return errors


def store_metafield(state: ShopState, product: Product, raw: Mapping[str, Any]) -> Metafield:
    """Create or replace one metafield of `product`, checked first (_problems)."""
    namespace = namespace_of(raw.get("namespace"))
    current = product.metafields.get((namespace, raw["key"]))
    now = state.stamp(current.updated_at if current else None)
    metafield = Metafield(
        id=current.id if current else state.next_id(),
        namespace=namespace,
        key=raw["key"],
        type=raw.get("type") or (current.type if current else ""),
        value=raw["value"],
        created_at=current.created_at if current else now,
        updated_at=now,
    )
    product.metafields[(namespace, raw["key"])] = metafield
    return metafield


def metafields_set(
    state: ShopState, inputs: Sequence[Mapping[str, Any]]
) -> tuple[list[Metafield] | None, list[UserError]]:
    """Set every metafield given, or none of them with the userErrors."""
    if len(inputs) > MAX_METAFIELDS:
        message = f"Exceeded the maximum metafields input limit of {MAX_METAFIELDS}."
        return None, [{"field": ["metafields"], "message": message, "code": "LESS_THAN_OR_EQUAL_TO"}]
    checked = [_check(state, index, raw) for index, raw in enumerate(inputs)]
    errors = [error for _, found in checked for error in found]
    if errors:
        return None, errors
    stored: list[Metafield] = []
    for (product, _), raw in zip(checked, inputs, strict=True):
        assert product is not None
        stored.append(store_metafield(state, product, raw))
    return stored, []
