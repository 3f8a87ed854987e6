"""A connector's resolutions and webhook deliveries take turns on the queue

A bulk of thousands of decisions queued each one's applying at once, ahead
of every sync's work, and so did a burst of deliveries: on a slow or
rate-limited shop the one connector's checks held every worker for hours
while other connectors' resolutions and syncs waited behind them. A
connector now keeps a few of each queued or running (`apply_queued_at`,
`queued_at` set); the others wait their turn (NULL) and are queued as those
end. The indexes find a connector's both kinds among the few rows still to
do. Every resolution still unapplied and every delivery still PENDING was
queued by the release before, so it holds a turn: it is not queued twice.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db.base

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNAPPLIED = sa.text("applied_at IS NULL AND apply_error IS NULL AND resolution_status != 'PENDING'")
PENDING_DELIVERY = sa.text("status = 'PENDING'")


def upgrade() -> None:
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("apply_queued_at", app.db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_conflicts_unapplied_per_connector",
            ["connector_id", "resolved_at", "id"],
            unique=False,
            sqlite_where=UNAPPLIED,
            postgresql_where=UNAPPLIED,
        )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queued_at", app.db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(
            "ix_webhook_deliveries_pending_per_connector",
            ["connector_id", "received_at", "id"],
            unique=False,
            sqlite_where=PENDING_DELIVERY,
            postgresql_where=PENDING_DELIVERY,
        )
    op.execute(sa.text(f"UPDATE conflicts SET apply_queued_at = resolved_at WHERE {UNAPPLIED.text}"))
    op.execute(sa.text(f"UPDATE webhook_deliveries SET queued_at = received_at WHERE {PENDING_DELIVERY.text}"))


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_pending_per_connector")
        batch_op.drop_column("queued_at")
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.drop_index("ix_conflicts_unapplied_per_connector")
        batch_op.drop_column("apply_queued_at")
