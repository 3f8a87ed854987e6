"""Scalars of the contract: DateTime (strawberry's built-in) and JSON."""

from __future__ import annotations

from strawberry.scalars import JSON

__all__ = ["JSON"]
