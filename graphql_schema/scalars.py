"""Scalars of the contract: DateTime (strawberry's built-in) and JSON, and the check DateTime arguments need."""

from __future__ import annotations

from datetime import datetime

from strawberry.scalars import JSON

from graphql_schema.relay import BadArgument

__all__ = ["JSON", "aware"]


def aware(argument: str, value: datetime | None) -> datetime | None:
    """`value` if it has a UTC offset; without one it names no instant, so it is refused (BadArgument)."""
    if value is not None and value.utcoffset() is None:
        raise BadArgument(
            f"{argument} needs a UTC offset (e.g. 2024-01-01T00:00:00Z or 2024-01-01T00:00:00+04:00): "
            f"'{value.isoformat()}' has none"
        )
    return value
