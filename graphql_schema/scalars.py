"""Scalars of the contract: DateTime (strawberry's built-in) and JSON, and the check DateTime arguments need."""

from __future__ import annotations

from datetime import UTC, datetime

from strawberry.scalars import JSON

from graphql_schema.relay import BadArgument

__all__ = ["JSON", "aware"]


def aware(argument: str, value: datetime | None) -> datetime | None:
    """`value` in UTC, if it has a UTC offset; without one it names no instant, and an instant before year 1 or
    after year 9999 in UTC (9999-12-31T23:00:00-14:00) cannot be compared with any: both are refused (BadArgument)."""
    if value is None:
        return None
    if value.utcoffset() is None:
        raise BadArgument(
            f"{argument} needs a UTC offset (e.g. 2024-01-01T00:00:00Z or 2024-01-01T00:00:00+04:00): "
            f"'{value.isoformat()}' has none"
        )
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise BadArgument(f"{argument} is outside the years 1 to 9999 in UTC: '{value.isoformat()}' is not") from None
