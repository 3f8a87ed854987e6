"""Conflict vocabulary and the three-way decision per field and locale (pure).

For every exported (field, channel locale) the listing keeps two snapshots:
`sent`, the PIM value last agreed with the channel, and `base`, what the
channel stored, read back after the write. When the channel's current value
is read (on sync or from a webhook), each slot is classified:

| PIM vs sent | channel vs base | outcome |
| same        | same            | NOTHING |
| changed     | same            | EXPORT |
| same        | changed         | DRIFT (IMPORT/BOTH take it in; EXPORT follows the strategy) |
| changed     | changed = PIM   | CONVERGED (take the channel's value as the new base) |
| changed     | changed != PIM  | CONFLICT (the strategy decides) |

Channel values are compared under the channel field's normalisation, so a
channel that reformats HTML or numbers does not make false conflicts.
"""

from __future__ import annotations

from enum import StrEnum


class ResolutionStatus(StrEnum):
    PENDING = "PENDING"
    PIM_WINS = "PIM_WINS"
    CHANNEL_WINS = "CHANNEL_WINS"
    MERGED = "MERGED"
    DISMISSED = "DISMISSED"


class Resolution(StrEnum):
    """A choice for a field (and locale): PIM_WINS exports, CHANNEL_WINS keeps or imports, DISMISSED accepts both."""

    PIM_WINS = "PIM_WINS"
    CHANNEL_WINS = "CHANNEL_WINS"
    DISMISSED = "DISMISSED"


class ConflictType(StrEnum):
    FIELD_MISMATCH = "field_mismatch"
    DELETED_ON_CHANNEL = "deleted_on_channel"
    """The channel reported the product deleted (a delete webhook)."""
    MISSING_ON_CHANNEL = "missing_on_channel"
    """A read found no product for the stored external id, with no delete reported."""


class Outcome(StrEnum):
    NOTHING = "NOTHING"
    EXPORT = "EXPORT"
    DRIFT = "DRIFT"
    CONVERGED = "CONVERGED"
    CONFLICT = "CONFLICT"
