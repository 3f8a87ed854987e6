"""Resolutions take turns on the queue, per connector

A bulk of thousands of decisions queued each one's applying at once, ahead
of every sync's work: on a slow or rate-limited shop the one connector's
resolutions held every worker for hours while other connectors' resolutions
and syncs waited behind them. A connector now keeps a few of them queued or
running (`apply_queued_at` set); the others wait their turn (NULL) and are
queued as those end. The index finds a connector's both kinds among the
few unapplied rows. Every resolution still unapplied was queued by the
release before, so it holds a turn: it is not queued a second time.

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
    op.execute(sa.text(f"UPDATE conflicts SET apply_queued_at = resolved_at WHERE {UNAPPLIED.text}"))


def downgrade() -> None:
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.drop_index("ix_conflicts_unapplied_per_connector")
        batch_op.drop_column("apply_queued_at")
