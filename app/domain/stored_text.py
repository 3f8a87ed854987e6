"""Text the service stores must fit every database it runs on (pure).

PostgreSQL cannot hold a NUL character (U+0000) in text or in JSONB; SQLite
can. A NUL a user sends would be stored on one and a server error on the
other, so input that gets stored is checked here first and refused alike on
both, as a userError naming where the NUL is.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from app.domain.errors import Path

NUL = "\x00"


def nul_refused(what: str) -> str:
    """The message refusing `what` ("a name", "text") for holding a NUL."""
    return f"{what} cannot contain a NUL character (\\u0000), which cannot be stored"


def holds_nul(text: str) -> bool:
    return NUL in text


def nul_paths(data: Any, path: Path = ()) -> list[Path]:
    """The path of every string in JSON `data` that holds a NUL: a value's own path, for an object's key the path
    it names. Walked without recursion, so input nested however deep cannot exhaust the stack."""
    found: dict[Path, None] = {}
    pending: deque[tuple[Path, Any]] = deque([(path, data)])
    while pending:
        at, item = pending.popleft()
        if isinstance(item, str):
            if holds_nul(item):
                found[at] = None
        elif isinstance(item, Mapping):
            for key, inner in item.items():
                where = (*at, str(key))
                if holds_nul(str(key)):
                    found[where] = None
                pending.append((where, inner))
        elif isinstance(item, list | tuple):
            pending.extend(((*at, index), inner) for index, inner in enumerate(item))
    return list(found)
