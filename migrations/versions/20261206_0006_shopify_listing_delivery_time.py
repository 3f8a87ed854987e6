"""Shopify listings forget the translation-inclusive time they kept as the state seen

Until now a Shopify listing's channel_updated_at was the later of the
product's updatedAt and its translations' times, while deliveries carry the
product's updatedAt alone: a delivery after a translation edit was ignored as
stale. Listings now keep the deliveries' clock, which only a read of the shop
can tell; until the next sync reads the product, no time is known, so the next
delivery is checked against the shop (an echo is still recognised there).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "UPDATE listings SET channel_updated_at = NULL"
        " WHERE connector_id IN (SELECT id FROM connectors WHERE channel_type = 'SHOPIFY')"
    )


def downgrade() -> None:
    """Nothing to restore: the times dropped were wrong, and the next sync writes them again."""
