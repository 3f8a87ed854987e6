"""Product metafields: metafieldsSet and Product.metafield, with the checks the 2026-04 SDL describes.

From MetafieldsSetInput and metafieldsSet: at most 25 metafields a call; the
call is atomic (any userError, nothing is stored and `metafields` is null);
a namespace left out (or `$app`) is the app-reserved namespace; a namespace
is 3-255 and a key 2-64 characters of letters, digits, hyphens and
underscores; `type` is required when the metafield has no definition (the
emulator has no definitions, so a new metafield needs one) and a `json`
value must be JSON. Only products own metafields here, and only the types
listed in TYPES; anything else is refused loudly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .fields import UserError, refuse_unknown
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
    errors: list[UserError] = []
    namespace, key = raw.get("namespace"), raw["key"]
    reserved = namespace is None or namespace.startswith("$app")
    if not reserved and (not 3 <= len(namespace) <= 255 or not _NAME.match(namespace)):
        errors.append(_error(index, "namespace", "Namespace is invalid", "INVALID"))
    if len(key) < 2:
        errors.append(_error(index, "key", "Key is too short (minimum is 2 characters)", "TOO_SHORT"))
    elif len(key) > 64:
        errors.append(_error(index, "key", "Key is too long (maximum is 64 characters)", "TOO_LONG"))
    elif not _NAME.match(key):
        errors.append(_error(index, "key", "Key contains one or more invalid characters.", "INVALID"))
    current = product_metafield(product, namespace, key)
    kind_of_value = raw.get("type") or (current.type if current else None)
    if kind_of_value is None:
        errors.append(_error(index, "type", "Type can't be blank", "BLANK"))
    elif kind_of_value not in TYPES:
        raise not_implemented(f"metafields of type {kind_of_value}")
    elif kind_of_value == "json":
        try:
            json.loads(raw["value"])
        except ValueError:
            errors.append(_error(index, "value", "Value is invalid JSON", "INVALID_VALUE"))
    return product, errors


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
        stored.append(metafield)
    return stored, []
