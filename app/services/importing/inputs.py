"""The shape of a JSON Lines input (AttributeInput, ProductInput), checked line by line before the catalog sees it.

A key the input does not have is refused, never ignored: a typo such as
`valeus` would otherwise import a line as unchanged, and a value without its
`data` would clear what the product has.
"""

from __future__ import annotations

from typing import Any

from app.domain.catalog import AttributeType
from app.domain.products import ProductDraft
from app.domain.storable import echoed
from app.services.attributes import AttributeInputData
from app.services.catalog_setup import check_labels

ATTRIBUTE_KEYS = ("code", "type", "localizable", "scopable", "labels")
PRODUCT_KEYS = ("sku", "enabled", "family", "parent", "values")
VALUE_KEYS = ("attribute", "locale", "scope", "data")


class LineRejected(ValueError):
    """A line that does not have the input's shape; `reasons` names every problem found in it."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def attribute_input(data: dict[str, Any]) -> AttributeInputData:
    """An AttributeInput line (or an attributes.csv row made into one), or LineRejected."""
    problems = _unknown_keys(data, ATTRIBUTE_KEYS, "an attribute")
    code, localizable, scopable, labels = (data.get(key) for key in ("code", "localizable", "scopable", "labels"))
    if not isinstance(code, str):
        problems.append("each attribute needs a code (a string)")
    kind = _attribute_type(data.get("type"))
    if kind is None:
        problems.append(f"unsupported attribute type '{echoed(str(data.get('type')))}'")
    if not isinstance(localizable, bool):
        problems.append("localizable must be true or false")
    if scopable is not None and not isinstance(scopable, bool):
        problems.append("scopable must be true or false (or left out)")
    problems += [f"{'.'.join(map(str, error.path))}: {error.message}" for error in check_labels(labels)]
    if problems or not isinstance(code, str) or kind is None or not isinstance(localizable, bool):  # (types narrowed)
        raise LineRejected(problems)
    return AttributeInputData(code, kind, localizable, bool(scopable), labels)


def product_input(data: dict[str, Any]) -> ProductDraft:
    """A ProductInput line, or LineRejected naming every field of the wrong type or name."""
    problems = _unknown_keys(data, PRODUCT_KEYS, "a product")
    sku, enabled, family, parent = (data.get(key) for key in ("sku", "enabled", "family", "parent"))
    values = data.get("values", [])
    if not isinstance(sku, str):
        problems.append("each product needs a sku (a string)")
    if enabled is not None and not isinstance(enabled, bool):
        problems.append("enabled must be true or false")
    problems += [f"{key} must be a code (a string) or null" for key in ("family", "parent") if not _text(data.get(key))]
    if isinstance(values, list):
        problems += [f"values[{index}]: {problem}" for index, value in enumerate(values) for problem in _value(value)]
    else:
        problems.append("values must be a list of {attribute, locale, scope, data} objects")
    if problems or not isinstance(sku, str):  # (types narrowed)
        raise LineRejected(problems)
    return ProductDraft(sku, values, enabled, family, parent)


def _value(value: Any) -> list[str]:
    if not isinstance(value, dict):
        return ["a value is an object {attribute, locale, scope, data}"]
    problems = _unknown_keys(value, VALUE_KEYS, "a value")
    if not isinstance(value.get("attribute"), str):
        problems.append("attribute must be a code (a string)")
    problems += [f"{key} must be a code (a string) or null" for key in ("locale", "scope") if not _text(value.get(key))]
    if "data" not in value:
        problems.append('no "data": give the value, or null to clear it')
    return problems


def _unknown_keys(data: dict[str, Any], known: tuple[str, ...], what: str) -> list[str]:
    return [f"unknown key '{echoed(str(key))}' ({what} has {', '.join(known)})" for key in data if key not in known]


def _text(field: Any) -> bool:
    return field is None or isinstance(field, str)


def _attribute_type(raw: Any) -> AttributeType | None:
    try:
        return AttributeType(str(raw or "").upper())
    except ValueError:
        return None
