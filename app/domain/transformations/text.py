"""Text steps: template, stripHtml and maxLength, with the truncate and strip_html they are built on."""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import nh3

from app.domain.transformations.formatting import _render
from app.domain.transformations.model import TransformationError, TransformContext

"""Whitespace a line may break at: all of it except the no-break spaces (French "12 kg" keeps its number and unit)."""
_BREAK = re.compile(r"[^\S\u00a0\u2007\u202f]")
_ZWJ = "\u200d"
_MARKS = frozenset({"Mn", "Mc", "Me"})


def _joins_previous(text: str, index: int) -> bool:
    """Cutting before text[index] would split a character from its marks (Arabic harakat, accents, variation
    selectors: every mark category, not only unicodedata.combining() > 0) or break a ZWJ sequence."""
    return unicodedata.category(text[index]) in _MARKS or text[index - 1] == _ZWJ


def truncate(text: str, length: int, ellipsis: str = "") -> str:
    """`text` if it fits in `length` characters, else a prefix of it plus `ellipsis`, `length` at most in all.

    The prefix ends at a word boundary; only when even the first word does not fit is a word cut, and then
    never inside a character with combining marks.
    """
    if len(text) <= length:
        return text
    budget = max(length - len(ellipsis), 0)
    cut = _word_end(text, budget)
    if not text[:cut].strip():  # not even the first word fits: cut inside it, between whole characters
        cut = budget
        while 0 < cut < len(text) and _joins_previous(text, cut):
            cut -= 1
    return text[:cut].rstrip() + ellipsis


def _word_end(text: str, budget: int) -> int:
    if budget == 0 or _BREAK.match(text, budget):
        return budget
    found = _BREAK.search(text[budget - 1 :: -1])  # the last break before budget, searched in C
    return budget - 1 - found.start() if found else 0


_BLOCK_TAGS = frozenset(
    {"address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure", "footer"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section"}
    | {"table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"}
)
"""nh3 (html5ever) does the parsing: it keeps only block tags, without attributes, so its output can be split
on tags safely (text "<" comes out as "&lt;"); entities are decoded only after that."""
_HTML_CLEANER = nh3.Cleaner(tags=set(_BLOCK_TAGS), attributes={}, link_rel=None)
_CELL_TAG = re.compile(r"</?t[dh]>")
_TAG = re.compile(r"<[^>]*>")


def strip_html(text: str, separator: str = "\n") -> str:
    """Plain text of an HTML fragment: one line per block (joined by `separator`), whitespace collapsed."""
    if "<" in text or "&" in text:
        cleaned = _CELL_TAG.sub(" ", _HTML_CLEANER.clean(text))
        text = html.unescape(_TAG.sub("\n", cleaned))
    lines = (" ".join(line.split()) for line in text.splitlines())
    return separator.join(line for line in lines if line)


@dataclass(frozen=True, slots=True)
class _Template:
    parts: tuple[tuple[str, str | None], ...]
    """(literal text, then the attribute code to render, "" for the value itself, None for nothing)."""

    def __call__(self, value: Any, ctx: TransformContext) -> str:
        out: list[str] = []
        gap = False  # an empty value was just rendered: whitespace next to it must not double up
        for literal, code in self.parts:
            if gap and literal and (not out or out[-1][-1].isspace()):
                literal = literal.lstrip()
            if literal:
                out.append(literal)
                gap = False
            if code is not None:
                text = _render(value if code == "" else ctx.lookup(code), ctx.pim_locale)
                if text:
                    out.append(text)
                gap = not text
        result = "".join(out)
        return result.rstrip() if gap else result


@dataclass(frozen=True, slots=True)
class _StripHtml:
    separator: str

    def __call__(self, value: Any, ctx: TransformContext) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            return strip_html(value, self.separator)
        if isinstance(value, list):
            return [text for text in (strip_html(str(item), self.separator) for item in value) if text]
        raise TransformationError(f"stripHtml takes text, got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class _MaxLength:
    length: int
    ellipsis: str

    def __call__(self, value: Any, ctx: TransformContext) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            return truncate(value, self.length, self.ellipsis)
        if isinstance(value, list):
            return [truncate(str(item), self.length, self.ellipsis) for item in value]
        raise TransformationError(f"maxLength takes text, got {type(value).__name__}")
