"""The life of a stored webhook delivery (pure vocabulary)."""

from __future__ import annotations

from enum import StrEnum


class DeliveryStatus(StrEnum):
    """PENDING until a worker has looked at it; then what it concluded, or FAILED once retries ran out."""

    PENDING = "PENDING"
    PROCESSED = "PROCESSED"
    IGNORED = "IGNORED"
    """Nothing to do: an echo of the service's own write, or older than the state already seen."""
    FAILED = "FAILED"
