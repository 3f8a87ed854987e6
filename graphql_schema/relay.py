"""Relay plumbing: the Node interface, global ids, opaque cursors and generic connections."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import strawberry

from app.domain.errors import ServiceError
from app.domain.node_ids import node_id
from app.domain.storable import echoed

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 250
MAX_PRIMARY_KEY = 2**31 - 1
"""Primary keys are 32-bit Integer columns on PostgreSQL: a larger number names nothing."""

Item = TypeVar("Item")
Count = Callable[[], Awaitable[int]]
"""How many rows match a connection's filter in all, read when called."""


class BadArgument(ServiceError):
    """A query argument that cannot be used (a foreign cursor, a page size out of range)."""

    code = "BAD_USER_INPUT"


@strawberry.interface
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[Item]):
    cursor: str
    node: Item


@strawberry.type
class Connection(Generic[Item]):
    edges: list[Edge[Item]]
    page_info: PageInfo
    count: strawberry.Private[Count]

    @strawberry.field
    async def total_count(self) -> int:
        """Counted only when a query selects it: a count reads every matching row (every product a search
        matches, each listed job's errors), which a page of a few rows does not need."""
        return await self.count()


def _primary_key(raw: str) -> int:
    """The key `raw` spells in canonical decimal (no sign, no leading zero, no `_`), within the column's range.

    `int()` alone takes " 7", "+7", "0_7" and numbers no column holds, which
    reach the database and fail there instead of reading as a bad id.
    """
    if not (raw.isascii() and raw.isdigit()) or raw.startswith("0"):
        raise ValueError(f"'{echoed(raw)}' is not a primary key")
    pk = int(raw)
    if pk > MAX_PRIMARY_KEY:
        raise ValueError(f"{pk} is above the largest primary key")
    return pk


def _decode(kind: str, text: str, what: str) -> int:
    try:
        found_kind, _, raw = base64.urlsafe_b64decode(text.encode()).decode().partition(":")
        if found_kind == kind:
            return _primary_key(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise BadArgument(f"'{echoed(text)}' is not a valid {what}")


def global_id(kind: str, pk: int) -> strawberry.ID:
    return strawberry.ID(node_id(kind, pk))


def parse_global_id(text: str) -> tuple[str, int]:
    """(type name, primary key) of a global id, or BadArgument."""
    try:
        kind, _, raw = base64.urlsafe_b64decode(text.encode()).decode().partition(":")
        return kind, _primary_key(raw)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BadArgument(f"'{echoed(text)}' is not a valid id") from exc


def cursor_for(kind: str, pk: int) -> str:
    return node_id(f"cursor/{kind}", pk)


def after_key(kind: str, after: str | None) -> int | None:
    return None if after is None else _decode(f"cursor/{kind}", after, "cursor")


def page_size(first: int | None, argument: str = "first") -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise BadArgument(f"{argument} must be between 0 and {MAX_PAGE_SIZE}")
    return first


@dataclass(frozen=True, slots=True)
class Direction:
    """Which way a page is read: forwards (first/after, the default) or backwards (last/before), from the
    arguments of a field taking both. Mixing them is refused rather than given the Relay specification's combined
    meaning, which no frontend asks for."""

    limit: int
    cursor: int | None
    """The key of the cursor the page continues from: `after`'s, or `before`'s when backwards."""
    backwards: bool

    @classmethod
    def of(cls, kind: str, *, first: int | None, after: str | None, last: int | None, before: str | None) -> Direction:
        if first is not None and last is not None:
            raise BadArgument("give first or last, not both")
        if before is not None and first is not None:
            raise BadArgument(
                "before goes with last: page backwards with last and before, forwards with first and after"
            )
        if after is not None and last is not None:
            raise BadArgument(
                "after goes with first: page forwards with first and after, backwards with last and before"
            )
        if last is not None or before is not None:
            return cls(page_size(last, "last"), after_key(kind, before), backwards=True)
        return cls(page_size(first), after_key(kind, after), backwards=False)


@dataclass(frozen=True, slots=True)
class Page(Generic[Item]):
    """One page fetched with one row more than asked, to know whether another follows.

    Read backwards (last/before), `items` come nearest the cursor first, the other way from the list's order, and
    `after` is the `before` cursor's key."""

    items: list[tuple[int, Item]]
    limit: int
    after: int | None
    backwards: bool = False


def connection(kind: str, page: Page[Item], count: Count) -> Connection[Item]:
    """The page as a connection whose totalCount calls `count`, only when selected."""
    shown = page.items[: page.limit]
    more = len(page.items) > page.limit
    if page.backwards:
        shown.reverse()
    edges = [Edge(cursor=cursor_for(kind, pk), node=node) for pk, node in shown]
    info = PageInfo(
        has_next_page=page.after is not None if page.backwards else more,
        has_previous_page=more if page.backwards else page.after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
    return Connection(edges=edges, page_info=info, count=count)
