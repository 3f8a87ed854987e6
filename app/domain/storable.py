"""What the service stores must come back as it was given, on every database it runs on (pure).

PostgreSQL cannot hold a NUL character (U+0000) in text or in JSONB; SQLite
can. A NUL a user sends would be stored on one and a server error on the
other. And a JSON column is read back with orjson, which gives a whole number
outside 64 bits back as a float (rounded, or no number at all beyond a
double's range). Input that gets stored is checked here first and refused
alike on both databases, as a userError naming where the problem is.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # errors quotes input back through echoed(): a runtime import would be circular
    from app.domain.errors import Path

NUL = "\x00"

SURROGATE = re.compile("[\ud800-\udfff]")
"""Half of a UTF-16 pair: JSON's \\ud800 escape decodes to one when its other half is missing, and no database
(nor UTF-8) can hold it."""

SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
"""A JSON escape of half of a UTF-16 pair: only text holding one can decode to a lone surrogate."""

EXACT_INTEGERS = range(-(2**63), 2**64)
"""The whole numbers a JSON column gives back as they were stored."""


def holds_nul(text: str) -> bool:
    return NUL in text


def cut_marked(text: str, length: int) -> str:
    """`text` as a column of `length` characters holds it: whole when it fits, else cut and ended with "…" so no
    reader takes the cut text for all that was said. Only for text that is shown, never for one that is matched."""
    return text if len(text) <= length else text[: length - 1] + "…"


ECHO_LENGTH = 100
"""Most characters of a user's input a message quotes back: enough to recognise it, not a 5,000-character code
repeated whole in an error (and in every log line that carries it)."""


def echoed(text: str) -> str:
    """`text` as a message quotes it back: cut to ECHO_LENGTH, the cut marked (cut_marked)."""
    return cut_marked(text, ECHO_LENGTH)


def nul_refused(what: str) -> str:
    """The message refusing `what` ("a name", "text") for holding a NUL."""
    return f"{what} cannot contain a NUL character (\\u0000), which cannot be stored"


def integer_refused(number: int | Decimal) -> str:
    """The message refusing a whole number outside EXACT_INTEGERS (not shown: it may have thousands of digits)."""
    try:
        stored = float(number)
    except OverflowError:
        stored = math.inf
    if math.isinf(stored):  # (a Decimal beyond a double's range becomes one without an error)
        return "a whole number this large cannot be stored (it is beyond 64 bits and a double's range)"
    return f"a whole number beyond 64 bits would be stored as {stored!r}, not as given"


def nul_paths(data: Any, path: Path = ()) -> list[Path]:
    """The path of every string in JSON `data` (an object's keys included) that holds a NUL."""
    return list(dict.fromkeys(at for at, leaf in _leaves(data, path) if isinstance(leaf, str) and holds_nul(leaf)))


def nests_deeper(data: Any, limit: int) -> bool:
    """Whether JSON `data` nests arrays and objects more than `limit` levels deep, found without recursion: the
    encoder that stores it recurses once per level, and the stack ends before the parser's does."""
    pending: list[tuple[int, Any]] = [(0, data)]
    while pending:
        depth, item = pending.pop()
        if isinstance(item, Mapping | list):
            if depth == limit:
                return True
            inner = item.values() if isinstance(item, Mapping) else item
            pending.extend((depth + 1, value) for value in inner)
    return False


def lone_surrogate_refused(text: str, data: Any) -> str | None:
    """Why JSON `data`, parsed from `text`, cannot be stored: its first string (an object's key too) holding half
    of a character, named by its path. None when every string is whole, found without walking `data` when `text`
    escapes no surrogate (a raw one is not UTF-8, so only an escape can make one)."""
    return lone_surrogate(data) if SURROGATE_ESCAPE.search(text) else None


def lone_surrogate(data: Any) -> str | None:
    """Why JSON `data` cannot be stored: its first string (an object's key too) holding half of a character, named
    by its path; None when every string is whole. Data come already parsed (a websocket's message) have no text
    for lone_surrogate_refused to look through first."""
    for at, leaf in _leaves(data, ()):
        found = SURROGATE.search(leaf) if isinstance(leaf, str) else None
        if found is not None:
            where = ".".join(str(step) for step in at) or "the document"
            half = f"\\u{ord(found.group()):04x}"
            return f"{where} holds a lone surrogate ({half}), half of a character, which cannot be stored"
    return None


def unstorable_paths(data: Any, path: Path = ()) -> list[tuple[Path, str]]:
    """Where JSON `data` holds what would not come back as given, and why: a string holding a NUL (an object's key
    too), a whole number outside EXACT_INTEGERS."""
    found: dict[Path, str] = {}
    for at, leaf in _leaves(data, path):
        if isinstance(leaf, str) and holds_nul(leaf):
            found.setdefault(at, nul_refused("text"))
        elif isinstance(leaf, int) and leaf not in EXACT_INTEGERS:
            found.setdefault(at, integer_refused(leaf))
    return list(found.items())


def _leaves(data: Any, path: Path) -> Iterator[tuple[Path, str | int]]:
    """Every string (an object's keys at the path they name) and whole number in JSON `data`, breadth first and
    without recursion, so input nested however deep cannot exhaust the stack."""
    pending: deque[tuple[Path, Any]] = deque([(path, data)])
    while pending:
        at, item = pending.popleft()
        if isinstance(item, str) or (isinstance(item, int) and not isinstance(item, bool)):
            yield at, item
        elif isinstance(item, Mapping):
            for key, inner in item.items():
                where = (*at, str(key))
                yield where, str(key)
                pending.append((where, inner))
        elif isinstance(item, list | tuple):
            pending.extend(((*at, index), inner) for index, inner in enumerate(item))
