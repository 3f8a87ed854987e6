"""What every part of the package shares: the kinds of working values, the two errors, the context a value is
transformed in, and a compiled transformation (pure)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.domain.catalog import AttributeType
from app.domain.errors import ErrorCode, InvalidInput


class ValueKind(StrEnum):
    """What a working value is, as far as steps care: it decides which steps may follow."""

    TEXT = "text"
    LIST = "a list"
    NUMBER = "a number"
    MEASURE = "a measure"
    BOOLEAN = "true/false"
    OTHER = "a date, image or file"


KIND_OF: Mapping[AttributeType, ValueKind] = {
    AttributeType.TEXT: ValueKind.TEXT,
    AttributeType.TEXTAREA: ValueKind.TEXT,
    AttributeType.IDENTIFIER: ValueKind.TEXT,
    AttributeType.SELECT: ValueKind.TEXT,
    AttributeType.MULTISELECT: ValueKind.LIST,
    AttributeType.NUMBER: ValueKind.NUMBER,
    AttributeType.PRICE: ValueKind.NUMBER,
    AttributeType.METRIC: ValueKind.MEASURE,
    AttributeType.BOOLEAN: ValueKind.BOOLEAN,
    AttributeType.DATE: ValueKind.OTHER,
    AttributeType.IMAGE: ValueKind.OTHER,
    AttributeType.FILE: ValueKind.OTHER,
}


class HtmlForm(StrEnum):
    """What a text is, for an HTML field: it decides how the text goes on the wire there."""

    PLAIN = "plain"
    """Text (a TEXT or IDENTIFIER value, a number a step formatted): escaped, its line breaks made <br>."""
    ESCAPED = "escaped"
    """HTML the pipeline made from text (stripHtml's output, plain text escaped before maxLength): sent as it is."""
    MARKUP = "markup"
    """HTML a person wrote (a TEXTAREA value, a template's own text): sanitised, so no script or event handler
    reaches the storefront."""


"""What a value of each attribute type is, for an HTML field: a TEXTAREA is the PIM's rich text."""
HTML_FORM_OF: Mapping[AttributeType, HtmlForm] = {
    kind: HtmlForm.MARKUP if kind is AttributeType.TEXTAREA else HtmlForm.PLAIN for kind in AttributeType
}


class TransformationError(Exception):
    """One value could not be transformed; the pipeline records it on that product and locale."""

    def __init__(self, message: str, code: ErrorCode = ErrorCode.MAPPING_INVALID) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class InvalidTransformation(InvalidInput):
    """The transformation JSON has problems; paths start at ("transformation", ...)."""


@dataclass(frozen=True, slots=True)
class TransformContext:
    """What a value is transformed for: built once per (product, locale) by the pipeline."""

    pim_locale: str
    channel_locale: str
    currency: str | None
    lookup: Callable[[str], Any]
    """The working value of another attribute for this PIM locale, or None."""


Step = Callable[[Any, TransformContext], Any]


@dataclass(frozen=True, slots=True)
class CompiledTransformation:
    """A checked transformation: applying it is one call per step, nothing parsed again.

    Once a value is gone (valueMap dropped it), later steps pass None on; a template renders it as empty.
    """

    steps: tuple[Step, ...] = ()
    default: Any | None = None
    """Sent as it is for an empty value under whenEmpty DEFAULT (already in the field's wire form, checked when
    the mapping was saved); None when not configured."""
    uses_attributes: frozenset[str] = frozenset()
    """Attribute codes templates read (besides the mapped one): they must be readable too."""
    produces_text: bool = False
    """The output is text a step made (template, formatCurrency), whatever the attribute's type."""
    unit: str | None = None
    """The unit convertUnit leaves a measure in: the one the channel field takes."""
    needs_currency: bool = False
    """A formatCurrency step writes money in the connector's currency: without one, every value would fail."""
    html_form: HtmlForm | None = None
    """What the output is for an HTML field; None: what the attribute's type makes it (no step changed that)."""
    taxed_by_connector: bool = False
    """The first step is the connector's applyTax (its taxConfig says applyTax: true, and the mapping, a price sent
    to a price field, has no applyTax of its own)."""

    def apply(self, value: Any, ctx: TransformContext) -> Any:
        for step in self.steps:
            value = step(value, ctx)
        return value


IDENTITY = CompiledTransformation()
