"""Akeneo's flat CSV export layout: attribute rows, and product columns read against our catalog.

Product columns are `attr`, `attr-<locale>`, `attr-<scope>`, `attr-<locale>-<scope>`,
with `-<CURRENCY>` after a price and a sibling `attr[...]-unit` for a metric.
Columns the catalog has no place for (categories, groups, associations such
as PACK-products) are skipped and named once in the summary.

A TEXTAREA cell (Akeneo's multi-line text) may write a line break as the two
characters `\\n`, as the demo catalog's print descriptions do, or as a line
break inside a quoted cell, as its e-commerce descriptions do: both are stored
as a line break, `\\n` (a file saved with Windows line ends has `\\r\\n` there). Every other backslash is kept: a TEXT is single-line text in
Akeneo, so a `\\n` in one is not a line break (the demo catalog has one, in a
power supply's ratings), and a TEXTAREA's `\\\\n` (its backslash escaped) is
kept as written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from app.domain.catalog import AttributeSpec, AttributeType, CatalogSpec
from app.domain.locales import InvalidLocaleCode, canonical_locale
from app.domain.products import ProductDraft
from app.domain.values import PriceChanges
from app.services.importing.sources import UnsupportedFile

AKENEO_TYPES: dict[str, AttributeType] = {
    "pim_catalog_identifier": AttributeType.IDENTIFIER,
    "pim_catalog_text": AttributeType.TEXT,
    "pim_catalog_textarea": AttributeType.TEXTAREA,
    "pim_catalog_number": AttributeType.NUMBER,
    "pim_catalog_price_collection": AttributeType.PRICE,
    "pim_catalog_metric": AttributeType.METRIC,
    "pim_catalog_boolean": AttributeType.BOOLEAN,
    "pim_catalog_simpleselect": AttributeType.SELECT,
    "pim_catalog_multiselect": AttributeType.MULTISELECT,
    "pim_catalog_date": AttributeType.DATE,
    "pim_catalog_image": AttributeType.IMAGE,
    "pim_catalog_file": AttributeType.FILE,
}
ESCAPED_LINE_BREAK = re.compile(r"(?<!\\)\\n")
"""`\\n` written out in a TEXTAREA cell, unless its backslash is itself escaped."""
HEADER_FIELDS = {"sku", "enabled", "family", "parent"}
UNPLACED_FIELDS = {"categories": "categories", "groups": "groups"}
ASSOCIATION_SUFFIXES = ("-products", "-product_models", "-groups")


@dataclass(frozen=True, slots=True)
class ValueColumn:
    """Where one product column's cells go."""

    attribute: AttributeSpec
    locale: str | None
    scope: str | None
    currency: str | None = None
    unit: bool = False

    @property
    def key(self) -> tuple[str, str | None, str | None]:
        return self.attribute.code, self.locale, self.scope


@dataclass
class ProductLayout:
    """A products.csv header, read once against the catalog."""

    values: dict[str, ValueColumn] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    """Column -> why it is skipped."""
    unknown: list[str] = field(default_factory=list)


def attribute_row(row: Mapping[str, str]) -> dict[str, Any]:
    """An attributes.csv row as an AttributeInput-shaped record (the type left as Akeneo's if unknown)."""
    labels = {column[len("label-") :]: text for column, text in row.items() if column.startswith("label-") and text}
    akeneo_type = row.get("type", "")
    mapped = AKENEO_TYPES.get(akeneo_type)
    return {
        "code": row.get("code", ""),
        "type": mapped.value if mapped else akeneo_type,
        "localizable": _flag(row, "localizable"),
        "scopable": _flag(row, "scopable"),
        "labels": labels,
    }


def _flag(row: Mapping[str, str], column: str) -> Any:
    """1 or 0 as Akeneo writes it (true or false, any case, too), blank for false; other text is passed on
    for the check to refuse: read as "not 1", a TRUE made a localizable attribute silently not localizable."""
    cell = row.get(column, "").strip()
    return _cell(AttributeType.BOOLEAN, cell) if cell else False


def check_attribute_header(header: list[str]) -> None:
    """UnsupportedFile for a CSV that is not an attributes.csv, rather than every row refused for its type."""
    missing = [column for column in ("code", "type") if column not in header]
    if not missing:
        return
    hint = " (it has a sku column: import it with `pimsync import products`)" if "sku" in header else ""
    raise UnsupportedFile(
        f"the header has no {' or '.join(missing)} column: this is not Akeneo's attributes.csv, "
        f"whose rows give each attribute's code and type{hint}"
    )


def read_layout(header: list[str], spec: CatalogSpec) -> ProductLayout:
    """Where each column of a products.csv goes; UnsupportedFile for another kind of file."""
    _refuse_other_files(header)
    layout = ProductLayout()
    for number, column in enumerate(header, start=1):
        if column in HEADER_FIELDS:
            continue
        if not column:  # a spreadsheet's trailing `;`
            layout.skipped[f"column {number}"] = "it has no name"
        elif column in UNPLACED_FIELDS:
            layout.skipped[column] = "the catalog has no categories or groups yet"
        elif column.endswith(ASSOCIATION_SUFFIXES) and column.split("-", 1)[0] not in spec.attributes:
            layout.skipped[column] = "associations are not part of the catalog yet"
        else:
            parsed = _value_column(column, spec)
            if parsed is None:
                layout.unknown.append(column)
            else:
                layout.values[column] = parsed
    return layout


def _refuse_other_files(header: list[str]) -> None:
    if {"code", "family_variant"} <= set(header):
        raise UnsupportedFile(
            "this is Akeneo's product_models.csv (columns code and family_variant): product models are not "
            "supported; import products.csv, whose variants name their model in the parent column"
        )
    if "sku" not in header:
        raise UnsupportedFile("the header has no sku column: a products.csv row is found by its sku")


def _value_column(column: str, spec: CatalogSpec) -> ValueColumn | None:
    code, *parts = column.split("-")
    attribute = spec.attributes.get(code)
    if attribute is None:
        return None
    unit = attribute.type is AttributeType.METRIC and parts[-1:] == ["unit"]
    currency = parts[-1] if attribute.type is AttributeType.PRICE and parts and parts[-1].isupper() else None
    if unit or currency:
        parts = parts[:-1]
    locale = _locale(parts.pop(0)) if attribute.localizable and parts else None
    scope = parts.pop(0) if attribute.scopable and parts else None
    if parts or (attribute.localizable and locale is None) or (attribute.scopable and scope is None):
        return None
    if attribute.type is AttributeType.PRICE and currency is None:
        return None
    return ValueColumn(attribute, locale, scope, currency, unit)


def _locale(text: str) -> str | None:
    try:
        return canonical_locale(text)
    except InvalidLocaleCode:
        return None


def product_draft(row: Mapping[str, str], layout: ProductLayout, spec: CatalogSpec) -> tuple[ProductDraft, list[str]]:
    """The draft for one row, and the column each of its values came from (for messages).

    An empty cell clears the value (a family or parent too), as in Akeneo; empty cells of locales or
    scopes the catalog has not enabled are ignored rather than refused. A
    price's cells change just their currencies: one without a column in the
    file keeps its stored amount (see PriceChanges). An
    `enabled` cell that is not 1, 0, true or false is passed on as written,
    for the check to refuse: read as "not 1", it silently disabled the product.
    """
    grouped: dict[tuple[str, str | None, str | None], tuple[str, Any]] = {}
    for column, target in layout.values.items():
        raw = row.get(column, "")
        cell = raw if raw.strip() else ""
        if not cell and not _enabled(target, spec):
            continue
        key = target.key
        first_column, data = grouped.get(key, (column, None))
        grouped[key] = (first_column, _merge(target, data, cell))
    values = [
        {"attribute": key[0], "locale": key[1], "scope": key[2], "data": _finish(data)}
        for key, (_, data) in grouped.items()
    ]
    draft = ProductDraft(
        sku=row.get("sku", "").strip(),
        values=values,
        enabled=_cell(AttributeType.BOOLEAN, row.get("enabled", "").strip()),
        family=_header_cell(row, "family"),
        parent=_header_cell(row, "parent"),
    )
    return draft, [column for column, _ in grouped.values()]


def _header_cell(row: Mapping[str, str], column: str) -> str | None:
    """A family or parent cell: empty clears it, as an empty cell clears a value; no such column keeps it."""
    cell = row.get(column)
    return None if cell is None else cell.strip()


def _enabled(target: ValueColumn, spec: CatalogSpec) -> bool:
    locale_ok = target.locale is None or target.locale in spec.locales
    return locale_ok and (target.scope is None or target.scope in spec.scopes)


def _merge(target: ValueColumn, so_far: Any, cell: str) -> Any:
    kind = target.attribute.type
    if kind is AttributeType.PRICE and target.currency:
        changes = so_far if isinstance(so_far, PriceChanges) else PriceChanges()
        return changes.with_cell(target.currency, cell)
    if kind is AttributeType.METRIC:
        metric = dict(so_far or {})
        if cell:
            metric["unit" if target.unit else "amount"] = cell
        return metric
    return _cell(kind, cell)


def _finish(data: Any) -> Any:
    """A metric with no cells at all is no value; a half-filled one goes on to be refused."""
    return None if data == {} else data


def _cell(kind: AttributeType, cell: str) -> Any:
    if not cell:
        return None
    if kind is AttributeType.NUMBER:
        try:
            number = Decimal(cell.strip())
        except InvalidOperation:
            return cell
        return number if number.is_finite() else cell  # (Infinity and NaN are refused as the text they are)
    if kind is AttributeType.BOOLEAN:
        return {"1": True, "0": False, "true": True, "false": False}.get(cell.strip().lower(), cell)
    if kind is AttributeType.MULTISELECT:
        return [part.strip() for part in cell.split(",") if part.strip()]
    if kind is AttributeType.TEXTAREA:
        return ESCAPED_LINE_BREAK.sub("\n", cell.replace("\r\n", "\n"))
    return cell
