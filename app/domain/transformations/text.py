"""Text steps: template, stripHtml and maxLength, with the truncate and strip_html they are built on."""

from __future__ import annotations

import html
import html.parser
import re
from collections.abc import Callable
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


_LOOKAHEAD = 40
"""How far past the limit truncate_html reads: enough to finish an entity begun before it (the longest named one
has 32 characters) and to see whether the limit falls inside a word or a character."""
_NEWLINE = re.compile("\n")
_TEXT, _REF, _START, _END, _OTHER = range(5)
"""Token kinds: text, a character reference (&amp; &nbsp; &#x627;), a start tag, an end tag, anything else
(a comment, a declaration, a self-closing tag, markup the parser skipped or could not finish)."""
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
)


class _Tokenizer(html.parser.HTMLParser):
    """Where each token of the markup starts, as the standard library's HTML parser reads it: quoted and unquoted
    attribute values (l'été), comments, declarations and the raw text of scripts and styles are its business."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=False)
        self.line_starts = [0, *(match.end() for match in _NEWLINE.finditer(markup))]
        self.found: list[tuple[int, int, str]] = []
        """(offset, kind, the tag's name or the text)."""

    def _add(self, kind: int, name: str = "") -> None:
        line, column = self.getpos()
        self.found.append((self.line_starts[line - 1] + column, kind, name))

    def handle_data(self, data: str) -> None:
        self._add(_TEXT, data)

    def handle_entityref(self, name: str) -> None:
        self._add(_REF)

    def handle_charref(self, name: str) -> None:
        self._add(_REF)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add(_START, tag)

    def handle_endtag(self, tag: str) -> None:
        self._add(_END, tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._add(_OTHER)

    def handle_comment(self, data: str) -> None:
        self._add(_OTHER)

    def handle_decl(self, decl: str) -> None:
        self._add(_OTHER)

    def handle_pi(self, data: str) -> None:
        self._add(_OTHER)

    def unknown_decl(self, data: str) -> None:
        self._add(_OTHER)


def _tokens(markup: str) -> list[tuple[int, str, str]]:
    """(kind, source, tag name) for each token, their sources adding up to `markup`.

    The parser is never closed: what it could not finish at the end (a tag or a comment cut off) is markup, as it
    is to a browser, and is kept whole or not at all.
    """
    parser = _Tokenizer(markup)
    parser.feed(markup)
    found = parser.found
    ends = [offset for offset, _, _ in found[1:]]
    ends.append(len(markup) - len(parser.rawdata))
    tokens: list[tuple[int, str, str]] = []
    if found and found[0][0] > 0:
        tokens.append((_OTHER, markup[: found[0][0]], ""))
    for (start, kind, name), end in zip(found, ends, strict=True):
        if kind == _TEXT:
            tokens.append((_TEXT, name, ""))
            start += len(name)  # the parser skips a few things silently ("</>"): they follow as markup
            if start < end:
                tokens.append((_OTHER, markup[start:end], ""))
        else:
            tokens.append((kind, markup[start:end], name))
    if parser.rawdata:
        tokens.append((_OTHER, parser.rawdata, ""))
    return tokens


def truncate_html(markup: str, length: int, ellipsis: str = "") -> str:
    """`markup` if it fits in `length` characters, else a prefix of its text plus `ellipsis`, still well formed.

    Counts what is sent (tags and entities as written), so the result fits a channel's limit; cuts only text,
    the way truncate() does (never inside an entity, nor between a letter and a mark an entity writes), never a
    tag, and closes the elements it leaves open.
    """
    return markup if len(markup) <= length else _cut_html(markup, length, ellipsis)[0]


def _cut_html(markup: str, length: int, ellipsis: str) -> tuple[str, bool]:
    """truncate_html's cut of a markup longer than `length`, and whether it keeps any text besides the ellipsis.

    Only the first `length` characters can be kept, so only they (and a little more, _LOOKAHEAD) are parsed.
    """
    budget = length - len(ellipsis)
    out: list[str] = []
    used = closing = 0  # closing: what the end tags of open_tags take
    open_tags: tuple[str, ...] = ()
    said = False  # some text is in: a text that does not fit is cut at a word boundary only
    run: list[tuple[int, str]] = []  # the text and references since the last tag
    for kind, source, name in (*_tokens(markup[: length + _LOOKAHEAD]), (_OTHER, "", "")):
        if kind in (_TEXT, _REF):
            run.append((kind, source))
            continue
        text = "".join(piece for _, piece in run)
        room = budget - used - closing
        if len(text) > room:
            text = _cut_text(run, room, inside_words=not said)
            out.append(text)
            said = said or bool(text.strip())
            break
        run = []
        out.append(text)
        used += len(text)
        said = said or bool(text.strip())
        after = _open_after(open_tags, kind, name)
        closing = sum(len(tag) + 3 for tag in after)
        if used + len(source) + closing > budget:
            break
        out.append(source)
        used += len(source)
        open_tags = after
    cut = "".join(out).rstrip() + ellipsis + "".join(f"</{tag}>" for tag in reversed(open_tags))
    return cut, said


def _cut_text(run: list[tuple[int, str]], room: int, *, inside_words: bool) -> str:
    """The part of one run of HTML text (text and character references) that fits in `room`: whole words, or
    (`inside_words`, when it holds the first word) as much as fits. The run is read as the text it shows, so a
    reference is one character, never split, and a mark one writes (&#x64e;) stays with its letter."""
    pieces = [(source, source if kind == _TEXT else html.unescape(source), kind == _TEXT) for kind, source in run]
    text = "".join(shown for _, shown, _ in pieces)
    fits = _across(pieces, room, from_source=True)
    cut = _word_end(text, fits)
    if inside_words and not text[:cut].strip():  # not even the first word fits: cut between whole characters
        cut = _grapheme_start(text, fits)
    return "".join(source for source, _, _ in pieces)[: _across(pieces, cut, from_source=False)]


def _across(pieces: list[tuple[str, str, bool]], length: int, *, from_source: bool) -> int:
    """An offset into a run's source (`from_source`) as the offset into the text it shows, or the other way round
    (pieces: source, shown, is it plain text). A reference is one character shown for several of source: an
    offset inside it stops before it, so it is in whole or not at all."""
    shown_at = source_at = 0
    for source, shown, plain in pieces:
        here, there, size = (source_at, shown_at, len(source)) if from_source else (shown_at, source_at, len(shown))
        if here + size > length:
            return there + (length - here if plain else 0)
        shown_at += len(shown)
        source_at += len(source)
    return shown_at if from_source else source_at


def _open_after(open_tags: tuple[str, ...], kind: int, name: str) -> tuple[str, ...]:
    """The elements open after a token: a start tag opens one (not a void one), an end tag closes its element
    and any left open inside it; comments, declarations, self-closing and stray end tags change nothing."""
    if kind == _END:
        return open_tags[: len(open_tags) - 1 - open_tags[::-1].index(name)] if name in open_tags else open_tags
    if kind == _START and name not in _VOID:
        return (*open_tags, name)
    return open_tags


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


_MARKUP_SIGN = re.compile(r"<[A-Za-z!/?]|&(?:#[0-9]+|#[xX][0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);")
"""What makes a text markup: a tag, a comment or a declaration (HTML reads "<" as one only before a letter, "!",
"/" or "?"), or a character reference."""
_LINE_BREAK = re.compile("[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
"""What str.splitlines() splits at."""


def rich_text(text: str) -> str:
    """A TEXTAREA value as markup. Akeneo's textarea holds HTML when its rich-text editor is on, and plain text when
    it is off, whose line breaks a storefront would run together: such a text (one without a sign of markup) is
    escaped, its paragraphs (lines apart by blank ones) made <p>, and its other line breaks <br>."""
    if not _LINE_BREAK.search(text) or _MARKUP_SIGN.search(text):
        return text
    paragraphs: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            paragraphs[-1].append(html.escape(line, quote=False))
        elif paragraphs[-1]:
            paragraphs.append([])
    return "".join(f"<p>{'<br>'.join(lines)}</p>" for lines in paragraphs if lines)


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
    value put in is escaped (to_html) unless it is markup already (rich_text: a TEXTAREA's plain lines kept apart)."""
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
                if text and self.html:
                    text = rich_text(text) if code in self.markup else to_html(text)
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
    """Text made the HTML it is sent as (`convert`: to_html for plain text, rich_text for a TEXTAREA's) before
    maxLength cuts it for an HTML field: the cut then counts what is sent and never splits an entity or a <br> it
    would otherwise leave to the wire."""

    convert: Callable[[str], str] = to_html

    def __call__(self, value: Any, ctx: TransformContext) -> Any:
        if isinstance(value, str):
            return self.convert(value)
        if isinstance(value, list):
            return [self.convert(str(item)) for item in value]
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
        if self.html:
            cut, kept = _cut_html(text, self.length, self.ellipsis)
        else:
            cut = truncate(text, self.length, self.ellipsis)
            kept = bool(cut[: len(cut) - len(self.ellipsis)].strip())
        if kept or not text.strip():
            return cut
        what = "its first character or its markup" if self.html else "its first character"
        raise TransformationError(
            f"maxLength {self.length} leaves nothing of {text[:40]!r}: {what} takes more room than that",
            ErrorCode.FIELD_TYPE_MISMATCH,
        )
