"""Shopify's search syntax (the `query:` argument) for the fields the emulator supports, and cursor pagination.

Supported: `field:value` terms, quoted values (`sku:"A B"`), backslash
escapes, a trailing `*` for a prefix match, comparisons (`updated_at:>2026-01-01`,
`id:>=123`), implicit AND between terms, `AND`, `OR` (binding looser than
AND), `NOT` / a leading `-`, and parentheses. Values match case-insensitively.
A field the emulator does not know, or a bare word (Shopify's free-text
search over many fields), is refused loudly rather than guessed at.

Cursors are opaque base64 of the sort key, so a page boundary survives
products being added or deleted between requests, as Shopify's do.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from graphql import GraphQLError

from .schema import not_implemented

T = TypeVar("T")
Matcher = Callable[[Any, str, str], bool]
"""(item, comparator, value) -> whether the item matches; comparator is "", ">", ">=", "<" or "<="."""
Predicate = Callable[[Any], bool]
MAX_PAGE = 250


def _lex(query: str) -> list[tuple[str, str | None, str, str]]:
    """Tokens: ("(", ...), (")", ...), ("OR"|"AND"|"NOT", ...), ("TERM", field, comparator, value), ("-", ...)."""
    tokens: list[tuple[str, str | None, str, str]] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char.isspace():
            i += 1
            continue
        if char in "()":
            tokens.append((char, None, "", ""))
            i += 1
            continue
        if char == "-" and i + 1 < n and not query[i + 1].isspace():
            tokens.append(("NOT", None, "", ""))
            i += 1
            continue
        field: str | None = None
        text: list[str] = []
        quoted = False
        while i < n and not query[i].isspace() and query[i] not in "()":
            char = query[i]
            if char in "\"'":
                end = i + 1
                while end < n and query[end] != char:
                    if query[end] == "\\" and end + 1 < n:
                        end += 1
                    text.append(query[end])
                    end += 1
                i, quoted = end + 1, True
            elif char == "\\" and i + 1 < n:
                text.append(query[i + 1])
                i += 2
            elif char == ":" and field is None and not quoted:
                field, text = "".join(text), []
                i += 1
            else:
                text.append(char)
                i += 1
        word = "".join(text)
        if field is None and not quoted and word in ("OR", "AND", "NOT"):
            tokens.append((word, None, "", ""))
            continue
        comparator = ""
        if field is not None:
            for candidate in (">=", "<=", ">", "<"):
                if word.startswith(candidate):
                    comparator, word = candidate, word[len(candidate) :]
                    break
        tokens.append(("TERM", field, comparator, word))
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str | None, str, str]], fields: Mapping[str, Matcher]) -> None:
        self.tokens = tokens
        self.fields = fields
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at][0] if self.at < len(self.tokens) else None

    def parse(self) -> Predicate:
        predicate = self.or_expr()
        if self.peek() is not None:
            raise GraphQLError(f"unexpected {self.peek()!r} in search query")
        return predicate

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while self.peek() == "OR":
            self.at += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else (lambda item: any(p(item) for p in parts))

    def and_expr(self) -> Predicate:
        parts = [self.unary()]
        while self.peek() not in (None, "OR", ")"):
            if self.peek() == "AND":
                self.at += 1
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda item: all(p(item) for p in parts))

    def unary(self) -> Predicate:
        kind = self.peek()
        if kind == "NOT":
            self.at += 1
            inner = self.unary()
            return lambda item: not inner(item)
        if kind == "(":
            self.at += 1
            inner = self.or_expr()
            if self.peek() != ")":
                raise GraphQLError("unbalanced parentheses in search query")
            self.at += 1
            return inner
        if kind != "TERM":
            raise GraphQLError(f"unexpected {kind!r} in search query")
        _, field, comparator, value = self.tokens[self.at]
        self.at += 1
        if field is None:
            raise not_implemented(f"free-text search (the bare term {value!r}); use field:value")
        matcher = self.fields.get(field)
        if matcher is None:
            raise not_implemented(f"the search field {field!r}")
        return lambda item: matcher(item, comparator, value)


def compile_query(query: str | None, fields: Mapping[str, Matcher]) -> Predicate:
    """A predicate for `query`; everything matches an empty query."""
    if not query or not query.strip():
        return lambda item: True
    return _Parser(_lex(query), fields).parse()


def text_matches(actual: str | None, comparator: str, wanted: str) -> bool:
    """Case-insensitive equality; `abc*` is a prefix match."""
    if actual is None or comparator:
        return False
    actual, wanted = actual.casefold(), wanted.casefold()
    return actual.startswith(wanted[:-1]) if wanted.endswith("*") else actual == wanted


def contains(actual: str | None, comparator: str, wanted: str) -> bool:
    return actual is not None and not comparator and wanted.casefold().rstrip("*") in actual.casefold()


def compare(actual: float, comparator: str, wanted: float) -> bool:
    return {
        "": actual == wanted,
        ">": actual > wanted,
        ">=": actual >= wanted,
        "<": actual < wanted,
        "<=": actual <= wanted,
    }[comparator]


def number(value: str) -> float:
    try:
        return float(value.rsplit("/", 1)[-1])
    except ValueError:
        raise GraphQLError(f"search value {value!r} is not a number") from None


def timestamp(value: str) -> float:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise GraphQLError(f"search value {value!r} is not a date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Shopify reads it in the shop's zone; tests use UTC
    return moment.timestamp()


def encode_cursor(key: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"last": list(key)}).encode()).decode()


def decode_cursor(cursor: str) -> tuple[Any, ...]:
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return tuple(payload["last"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise GraphQLError(f"Invalid cursor for current pagination: {cursor!r}") from None


def paginate(
    items: Sequence[T],
    key: Callable[[T], tuple[Any, ...]],
    args: Mapping[str, Any],
) -> dict[str, Any]:
    """A Relay connection (edges, nodes, pageInfo) over `items` in `key` order (`reverse` flips it)."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= MAX_PAGE:
            raise GraphQLError(f"{name} must be between 0 and {MAX_PAGE}")
    reverse = bool(args.get("reverse"))
    ordered = sorted(items, key=key, reverse=reverse)
    keys = [key(item) for item in ordered]
    start, end = 0, len(ordered)
    if args.get("after"):
        after = decode_cursor(args["after"])
        start = next((i for i, k in enumerate(keys) if (k < after if reverse else k > after)), end)
    if args.get("before"):
        before = decode_cursor(args["before"])
        end = next((i for i, k in enumerate(keys) if not (k > before if reverse else k < before)), end)
        end = max(end, start)
    if first is not None:
        end = min(end, start + first)
    if last is not None:
        start = max(start, end - last)
    window = ordered[start:end]
    cursors = [encode_cursor(k) for k in keys[start:end]]
    return {
        "edges": [{"cursor": c, "node": node} for c, node in zip(cursors, window, strict=True)],
        "nodes": window,
        "pageInfo": {
            "hasNextPage": end < len(ordered),
            "hasPreviousPage": start > 0,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }
