"""The queue's message format: JSON, where arq writes Python pickles by default.

Reading a pickle runs whatever code it names, so with arq's default anyone who
could write to the service's Redis could run code in every worker (and a
rolling deploy's stale message was one unpickling away from an import error).
Every task takes ints and returns plain values, so JSON loses nothing. A
failed job's result is its exception, kept as its text; the service reads its
outcomes from the database, not from arq's results. A message in another
format (a pickle an older release queued) is refused unread: arq drops it and
the recovery sweeps queue its work again from the rows that record it.
"""

from __future__ import annotations

from typing import Any

import orjson


def serialize(message: dict[str, Any]) -> bytes:
    """A message or a result as JSON; an exception stored as a failed job's result becomes its text."""
    return orjson.dumps(message, default=_as_text)


def deserialize(data: bytes) -> Any:
    """A JSON message; anything else raises (arq then drops the message with a logged error)."""
    return orjson.loads(data)


def _as_text(value: object) -> str:
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    raise TypeError(f"a queue message holds only JSON values, not {type(value).__name__}")
