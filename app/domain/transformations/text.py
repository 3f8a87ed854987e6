"""Text steps: template, stripHtml and maxLength, with the truncate and strip_html they are built on."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import nh3
import regex

from app.domain.errors import ErrorCode
from app.domain.transformations.formatting import _render
from app.domain.transformations.model import TransformationError, TransformContext

"""Whitespace a line may break at: all of it except the no-break spaces (French "12 kg" keeps its number and unit)."""
_BREAK = re.compile(r"[^\S\u00a0\u2007\u202f]")
_GRAPHEME = regex.compile(r"\X")
"""A user-perceived character (Unicode's extended grapheme cluster, UAX #29): a letter with its marks (Arabic
harakat, accents, variation selectors), an emoji with its skin tone or ZWJ sequence, a flag's two letters."""


def _grapheme_start(text: str, index: int) -> int:
    """Where the character holding text[index] starts: a cut there splits none. Clusters are found from the start
    of the text, since one cannot be told from inside (a mark alone looks like a character of its own)."""
    for match in _GRAPHEME.finditer(text):
        if match.end() > index:
            return match.start()
    return len(text)


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
        cut = _grapheme_start(text, budget)
    return text[:cut].rstrip() + ellipsis


def _word_end(text: str, budget: int) -> int:
    if budget == 0 or _BREAK.match(text, budget):
        return budget
    found = _BREAK.search(text[budget - 1 :: -1])  # the last break before budget, searched in C
    return budget - 1 - found.start() if found else 0


_MARKUP = re.compile(
    r"<!--.*?(?:-->|$)|<[!?][^>]*>?|</?[A-Za-z][^\s/>]*(?:\"[^\"]*\"|'[^']*'|[^'\">])*>?",
    re.DOTALL,
)
"""What truncate_html never cuts: a tag (quoted attributes may hold ">"), a comment or a declaration."""
_ENTITY = re.compile(r"&#?\w*;?")
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
)


def truncate_html(markup: str, length: int, ellipsis: str = "") -> str:
    """`markup` if it fits in `length` characters, else a prefix of its text plus `ellipsis`, still well formed.

    Counts what is sent (tags and entities as written), so the result fits a channel's limit; cuts only text,
    the way truncate() does (never inside an entity), never a tag, and closes the elements it leaves open.
    """
    if len(markup) <= length:
        return markup
    budget = length - len(ellipsis)
    out: list[str] = []
    used = closing = 0  # closing: what the end tags of open_tags take
    open_tags: tuple[str, ...] = ()
    said = False  # some text is in: a text that does not fit is cut at a word boundary only
    position = 0
    for match in (*_MARKUP.finditer(markup), None):
        text = markup[position : match.start() if match else len(markup)]
        room = budget - used - closing
        if len(text) > room:
            out.append(_cut_text(text, room, inside_words=not said))
            break
        out.append(text)
        used += len(text)
        said = said or bool(text.strip())
        if match is None:
            break
        token = match.group()
        after = _open_after(open_tags, token)
        closing = sum(len(name) + 3 for name in after)
        if used + len(token) + closing > budget:
            break
        out.append(token)
        used += len(token)
        open_tags = after
        position = match.end()
    return "".join(out).rstrip() + ellipsis + "".join(f"</{name}>" for name in reversed(open_tags))


def _cut_text(text: str, room: int, *, inside_words: bool) -> str:
    """The part of one run of HTML text that fits in `room`: whole words, or (`inside_words`, when it holds the
    first word) as much as fits, never ending inside an entity."""
    if not inside_words:
        return text[: _word_end(text, room)]
    cut = len(truncate(text, room))
    amp = text.rfind("&", 0, cut)
    entity = _ENTITY.match(text, amp) if amp >= 0 else None
    if entity is not None and entity.end() > cut:
        cut = amp
    return text[:cut]


def _open_after(open_tags: tuple[str, ...], token: str) -> tuple[str, ...]:
    """The elements open after `token`: a start tag opens one (not a void one), an end tag closes its element
    and any left open inside it; comments, declarations and stray end tags change nothing."""
    if token.startswith(("<!", "<?")):
        return open_tags
    name = token.lstrip("</").split(None, 1)[0].rstrip("/>").lower()
    if token.startswith("</"):
        return open_tags[: len(open_tags) - 1 - open_tags[::-1].index(name)] if name in open_tags else open_tags
    if name in _VOID or token.endswith("/>"):
        return open_tags
    return (*open_tags, name)


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
    """Plain text of an HTML fragment: one line per block (joined by `separator`), whitespace collapsed.

    No-break spaces inside a line are kept (French "Appréciez\u00a0!", "4\u00a0800"): a space
    there would let the channel break the line before the "!" or inside the number.
    """
    if "<" in text or "&" in text:
        cleaned = _CELL_TAG.sub(" ", _HTML_CLEANER.clean(text))
        text = html.unescape(_TAG.sub("\n", cleaned))
    lines = (" ".join(part for part in _BREAK.split(line.strip()) if part) for line in text.splitlines())
    return separator.join(line for line in lines if line)


def to_html(text: str) -> str:
    """Plain text as HTML that shows it as written: "<" and "&" escaped, and each line break a <br>, so two lines
    in the PIM are not run into one on the storefront."""
    return "<br>".join(html.escape(line, quote=False) for line in text.splitlines())


_SAFE_HTML = nh3.Cleaner(
    attributes={**nh3.ALLOWED_ATTRIBUTES, "*": {"class", "dir", "lang", "title"}},
    link_rel=None,
)
"""Ammonia's allow-list of tags and attributes (formatting, lists, tables, links, images), plus the direction and
language an Arabic or Hebrew text needs; links are left as written (no rel added)."""


def sanitize_html(markup: str) -> str:
    """Markup a person wrote, as a storefront may show it: scripts, styles, event handlers, javascript: links and
    unknown tags are removed (their text kept, a script's dropped), stray "<" and "&" escaped."""
    return _SAFE_HTML.clean(markup) if "<" in markup or "&" in markup else markup


@dataclass(frozen=True, slots=True)
class _Template:
    parts: tuple[tuple[str, str | None], ...]
    """(literal text, then the attribute code to render, "" for the value itself, None for nothing)."""
    html: bool = False
    """The text goes to an HTML field: the literal text is markup, written by the mapping's author, and each
    value put in is escaped (to_html) unless it is markup already."""
    markup: frozenset[str] = frozenset()
    """The codes whose values are markup (TEXTAREA attributes; "" when the value itself is HTML by then)."""

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
                if text and self.html and code not in self.markup:
                    text = to_html(text)
                if text:
                    out.append(text)
                gap = not text
        result = "".join(out)
        return result.rstrip() if gap else result


@dataclass(frozen=True, slots=True)
class _StripHtml:
    separator: str
    markup: bool = False
    """The text goes to an HTML field: the decoded text is made HTML again (to_html: "a < b" as "a &lt; b", a line
    break as <br>), so the channel shows it as the PIM wrote it instead of reading it as markup."""

    def __call__(self, value: Any, ctx: TransformContext) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            return self._strip(value)
        if isinstance(value, list):
            return [text for text in (self._strip(str(item)) for item in value) if text]
        raise TransformationError(f"stripHtml takes text, got {type(value).__name__}")

    def _strip(self, text: str) -> str:
        plain = strip_html(text, self.separator)
        return to_html(plain) if self.markup else plain


@dataclass(frozen=True, slots=True)
class _ToHtml:
    """Plain text made HTML (to_html) before maxLength cuts it for an HTML field: the cut then counts what is sent
    and never splits an entity it would otherwise leave to the wire."""

    def __call__(self, value: Any, ctx: TransformContext) -> Any:
        if isinstance(value, str):
            return to_html(value)
        if isinstance(value, list):
            return [to_html(str(item)) for item in value]
        return value


@dataclass(frozen=True, slots=True)
class _MaxLength:
    length: int
    ellipsis: str
    html: bool = False
    """The text is markup for an HTML field (stripHtml's too, escaped): cut with truncate_html, so no tag or entity
    is split and no element left open."""

    def __call__(self, value: Any, ctx: TransformContext) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            return self._cut(value)
        if isinstance(value, list):
            return [self._cut(str(item)) for item in value]
        raise TransformationError(f"maxLength takes text, got {type(value).__name__}")

    def _cut(self, text: str) -> str:
        """`text` cut to the length; a text the cut leaves nothing of fails instead (CHN-011): sent empty (or as
        the bare ellipsis) it would clear, or blank, the channel's value while the PIM has one."""
        if len(text) <= self.length:
            return text
        cut = (
            truncate_html(text, self.length, self.ellipsis) if self.html else truncate(text, self.length, self.ellipsis)
        )
        kept = _MARKUP.sub("", cut) if self.html else cut
        if kept[: len(kept) - len(self.ellipsis)].strip() or not text.strip():
            return cut
        what = "its first character or its markup" if self.html else "its first character"
        raise TransformationError(
            f"maxLength {self.length} leaves nothing of {text[:40]!r}: {what} takes more room than that",
            ErrorCode.FIELD_TYPE_MISMATCH,
        )
