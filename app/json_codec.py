"""JSON on the hot paths (database columns, channel answers, export hashes), through orjson.

A sync page encodes and decodes thousands of small documents (listing
snapshots, change rows, the shop's answers), where the standard library's
json showed up as a large share of the engine's profile. orjson writes the same
compact UTF-8 text for everything the service stores. What it refuses
(integers beyond 64 bits, non-string keys) falls back to the standard
library, so nothing that was accepted before is refused now.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson


def dumps(value: Any) -> str:
    """Compact JSON text (the database's JSON columns)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def canonical(value: Any, default: Callable[[Any], Any] | None = None) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same bytes for equal documents, whatever their key order."""
    try:
        return orjson.dumps(value, default=default, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default)
        return text.encode()


def loads(data: str | bytes) -> Any:
    """Parse JSON text; NaN and Infinity are refused (they are not JSON), ValueError on anything malformed.

    Anything but text raises TypeError, as json.loads does: SQLite hands a JSON column holding a bare
    number over as that number, and SQLAlchemy's SQLite JSON type keeps it when decoding raises TypeError.
    """
    if not isinstance(data, str | bytes):
        raise TypeError(f"JSON must be str or bytes, not {type(data).__name__}")
    return orjson.loads(data)
