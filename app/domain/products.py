"""Checking a product input as a whole: its SKU, header fields and every value (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.domain.catalog import CatalogSpec, is_valid_code, is_valid_sku
from app.domain.errors import ErrorCode, UserErrorItem
from app.domain.storable import echoed
from app.domain.values import ValueKey, check_value


@dataclass(frozen=True, slots=True)
class ProductDraft:
    """A product as given by a caller: values are {attribute, locale, scope, data} mappings.

    `enabled`, `family` and `parent` left as None keep what the product has;
    an empty string clears `family` or `parent`.
    """

    sku: str
    values: Sequence[Mapping[str, Any]] = ()
    enabled: bool | None = None
    family: str | None = None
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class CheckedProduct:
    sku: str
    enabled: bool | None
    family: str | None
    parent: str | None
    values: dict[ValueKey, Any] = field(default_factory=dict)
    """Normalised data per key; None clears that value, PriceChanges change some currencies of it."""


def _check_header(draft: ProductDraft) -> list[UserErrorItem]:
    """SKU, enabled, family and parent; a field of the wrong type is refused, never looked into."""
    errors = []
    if not isinstance(draft.sku, str) or not is_valid_sku(draft.sku):
        message = "a SKU is 1 to 255 printable characters with no surrounding spaces"
        errors.append(UserErrorItem(("sku",), message, ErrorCode.INVALID_CODE))
    if draft.enabled is not None and not isinstance(draft.enabled, bool):
        errors.append(UserErrorItem(("enabled",), "enabled must be true or false", ErrorCode.VALUE_TYPE_MISMATCH))
    for name, code, valid in (("family", draft.family, is_valid_code), ("parent", draft.parent, is_valid_sku)):
        if code is not None and not isinstance(code, str):
            message = f"{name} must be a code (a string) or null"
            errors.append(UserErrorItem((name,), message, ErrorCode.INVALID_CODE))
        elif code and not valid(code):
            errors.append(
                UserErrorItem((name,), f"'{echoed(code)}' is not a valid {name} code", ErrorCode.INVALID_CODE)
            )
    return errors


def check_product(draft: ProductDraft, spec: CatalogSpec) -> CheckedProduct | list[UserErrorItem]:
    """The checked product, or every problem found in it (paths relative to the product)."""
    errors = _check_header(draft)
    values: dict[ValueKey, Any] = {}
    if not isinstance(draft.values, list | tuple):
        errors.append(UserErrorItem(("values",), "values must be a list", ErrorCode.VALUE_TYPE_MISMATCH))
        return errors
    for index, raw in enumerate(draft.values):
        checked = check_value(raw, spec)
        if isinstance(checked, UserErrorItem):
            errors.append(checked.under("values", index))
        elif checked.key in values:
            message = "this attribute, locale and scope is given twice"
            errors.append(UserErrorItem(("values", index), message, ErrorCode.DUPLICATE_IN_BATCH))
        else:
            values[checked.key] = checked.data
    if errors:
        return errors
    return CheckedProduct(draft.sku, draft.enabled, draft.family, draft.parent, values)
