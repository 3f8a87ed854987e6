"""Values between the PIM and the wire, for the mapping pipeline (pure).

`reducer` turns a stored PIM value into the working value transformations
see (money and measures as Decimal), one way per attribute type; `serializer`
turns a working value into what a channel field takes, one way per field
type. ExportPlan picks both once per mapping, so building a product's
document only calls them.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from app.domain.catalog import AttributeSpec, AttributeType
from app.domain.channels import ChannelField, FieldType, downloadable
from app.domain.errors import ErrorCode
from app.domain.storable import echoed
from app.domain.transformations import HtmlForm, TransformationError, rich_text, sanitize_html, to_html


class NoPrice(Exception):
    """The product has a price, but not in the connector's currency (CHN-013)."""


UNREADABLE = (ArithmeticError, LookupError, TypeError, ValueError, AttributeError)
"""What reading a stored value that is not in its attribute's shape raises (Decimal("12,50"), a measure without
its unit ...): such a value was stored before a check that now refuses it, or around the service."""


def unreadable(attribute: AttributeSpec, data: Any) -> TransformationError:
    """One product's malformed stored value fails that product's field, not the build of the whole page."""
    return TransformationError(
        f"the stored {attribute.code} value {data!r} is not a valid {attribute.type.value} value: "
        "save the product's value again",
        ErrorCode.FIELD_TYPE_MISMATCH,
    )


def reducer(attribute: AttributeSpec, currency: str | None) -> Callable[[Any], Any]:
    """How a stored value becomes the working value transformations see (money and measures as Decimal)."""
    if attribute.type is AttributeType.PRICE:

        def price(data: Any) -> Any:
            try:
                amount = data.get(currency) if currency else None
                if amount is None:
                    raise NoPrice(f"no price in {currency}" if currency else "no currency to read prices in")
                return Decimal(amount)
            except UNREADABLE as exc:
                raise unreadable(attribute, data) from exc

        return price
    if attribute.type is AttributeType.NUMBER:

        def number(data: Any) -> Decimal:
            try:
                return Decimal(repr(data)) if isinstance(data, float) else Decimal(data)
            except UNREADABLE as exc:
                raise unreadable(attribute, data) from exc

        return number
    if attribute.type is AttributeType.METRIC:

        def measure(data: Any) -> dict[str, Any]:
            try:
                return {"amount": Decimal(data["amount"]), "unit": data["unit"]}
            except UNREADABLE as exc:
                raise unreadable(attribute, data) from exc

        return measure
    return same


def markup_html(text: str) -> str:
    """HTML a person wrote, as a storefront may show it: a plain text's lines kept apart, then sanitised."""
    return sanitize_html(rich_text(text))


def same(data: Any) -> Any:
    return data


def as_text(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(as_text(item) for item in value)
    if isinstance(value, dict) and "amount" in value:
        return f"{as_text(value['amount'])} {value.get('unit', '')}".strip()
    return str(value)


def too_long(name: str, wire: Any, limit: int) -> str | None:
    """What is wrong when a text, or an item of a list (the limit is per item there, as for tags), is longer
    than the channel's limit; None when all fits."""
    if isinstance(wire, str):
        return (
            f"{name} is {len(wire)} characters long; the channel takes at most {limit}" if len(wire) > limit else None
        )
    longest = max((len(item) for item in wire if isinstance(item, str)), default=0) if isinstance(wire, list) else 0
    if longest > limit:
        return f"an item of {name} is {longest} characters long; the channel takes at most {limit} per item"
    return None


class WrongType(Exception):
    """A working value the channel field cannot take (a measure into a bare number, text into a boolean ...)."""


def serializer(channel_field: ChannelField, unit: str | None, form: HtmlForm) -> Callable[[Any], Any]:
    """How a working value goes on the wire for this field type (decimals as exact strings).

    A measure goes to a decimal field only in `unit`, the one convertUnit put it in: the field holds a bare
    number, so amounts in mixed units would go out as if they were one. An HTML field gets HTML whatever the value
    is (`form`): plain text escaped, with <br> for its line breaks ("A < B & C" must not be read as markup, nor
    a name holding a tag run on the storefront), markup a person wrote sanitised (a TEXTAREA's plain text with its
    lines made paragraphs first: rich_text), and what the pipeline escaped as it is.
    """
    kind = channel_field.type
    if kind is FieldType.HTML:
        as_html = {HtmlForm.PLAIN: to_html, HtmlForm.MARKUP: markup_html, HtmlForm.ESCAPED: same}[form]
        return lambda value: as_html(value if isinstance(value, str) else as_text(value))
    if kind is FieldType.DECIMAL:

        def decimal(value: Any) -> Any:
            if isinstance(value, dict) and "amount" in value:
                if unit is None or value.get("unit") != unit:
                    raise WrongType(
                        f"{channel_field.name} takes a bare number and this value is in {value.get('unit')}: "
                        'say which unit the field takes with convertUnit, e.g. {"convertUnit": "KILOGRAM"}'
                    )
                value = value["amount"]
            if isinstance(value, Decimal):
                return format(value, "f")
            raise WrongType(f"{channel_field.name} takes a decimal, got {as_text(value)!r}")

        return decimal
    if kind is FieldType.INTEGER:

        def integer(value: Any) -> Any:
            if isinstance(value, Decimal) and value == value.to_integral_value():
                return int(value)
            raise WrongType(f"{channel_field.name} takes a whole number, got {as_text(value)!r}")

        return integer
    if kind is FieldType.BOOLEAN:

        def boolean(value: Any) -> Any:
            if isinstance(value, bool):
                return value
            raise WrongType(f"{channel_field.name} takes true or false")

        return boolean
    if kind is FieldType.STRING_LIST:
        return lambda value: [as_text(item) for item in value] if isinstance(value, list) else [as_text(value)]
    if kind is FieldType.URL:

        def address(value: Any) -> Any:
            text = value if isinstance(value, str) else as_text(value)
            if not downloadable(text):
                raise WrongType(
                    f"{channel_field.name} takes an absolute http:// or https:// address the channel can download, "
                    f"got '{echoed(text)}': give the address it is served from with a template, e.g. "
                    '{"template": "https://media.example.com/{}"}'
                )
            return text

        return address
    if kind is FieldType.ENUM:
        choices = frozenset(channel_field.choices)

        def enum(value: Any) -> Any:
            text = as_text(value)
            if choices and text not in choices:
                raise WrongType(f"{channel_field.name} takes one of {', '.join(channel_field.choices)}, got {text!r}")
            return text

        return enum
    return lambda value: value if isinstance(value, str) else as_text(value)
