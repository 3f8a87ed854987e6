"""A mapping's "default": not a step, but a value sent as is, so checked against the channel field at save time
as a value from the PIM is checked (an amount's digits, a price never negative, an address a channel can download,
a text or each item of a list within the field's limit), and kept in its wire form (a decimal as its exact string,
markup sanitised), as a serialised working value would be."""

from __future__ import annotations

from datetime import date
from typing import Any

from app.domain.catalog import AttributeType
from app.domain.channels import ChannelField, FieldType, downloadable
from app.domain.storable import echoed
from app.domain.transformations.formatting import _decimal_or_none, _is_int
from app.domain.transformations.text import sanitize_html
from app.domain.values import checked_amount


def _channel_value(raw: Any, field: ChannelField, attribute_type: AttributeType) -> Any:
    """`raw` on the wire of `field` (a default is sent untransformed), or ValueError saying what it needs; an amount
    is held to what a value of `attribute_type` may be (a PRICE is never negative)."""
    kind = field.type
    if kind is FieldType.DECIMAL:
        if _decimal_or_none(raw) is None or isinstance(raw, bool):
            raise ValueError(f"{field.name} takes a decimal number")
        return checked_amount(raw, "the amount", signed=attribute_type is not AttributeType.PRICE)
    if kind is FieldType.INTEGER:
        if not _is_int(raw):
            raise ValueError(f"{field.name} takes a whole number")
        return raw
    if kind is FieldType.BOOLEAN:
        if not isinstance(raw, bool):
            raise ValueError(f"{field.name} takes true or false")
        return raw
    if kind is FieldType.STRING_LIST:
        if not isinstance(raw, list) or not all(isinstance(item, str) and item for item in raw):
            raise ValueError(f"{field.name} takes a list of texts")
        if field.max_length is not None and any(len(item) > field.max_length for item in raw):
            raise ValueError(f"{field.name} takes at most {field.max_length} characters per item")
        return list(raw)
    if not isinstance(raw, str) or not raw:
        raise ValueError(f"{field.name} takes text")
    return _channel_text(sanitize_html(raw) if kind is FieldType.HTML else raw, field)


def _channel_text(raw: str, field: ChannelField) -> str:
    if field.type is FieldType.ENUM and field.choices and raw not in field.choices:
        raise ValueError(f"'{echoed(raw)}' is not one of {field.name}'s choices: {', '.join(field.choices)}")
    if field.type is FieldType.DATE:
        try:
            date.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"{field.name} takes a date as YYYY-MM-DD") from None
    if field.type is FieldType.URL and not downloadable(raw):
        raise ValueError(
            f"{field.name} takes an absolute http:// or https:// address the channel can download, got '{echoed(raw)}'"
        )
    if field.max_length is not None and len(raw) > field.max_length:
        raise ValueError(f"{field.name} takes at most {field.max_length} characters")
    return raw
