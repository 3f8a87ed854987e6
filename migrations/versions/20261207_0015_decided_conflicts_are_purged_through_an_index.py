"""Decided conflicts are purged through an index

The workers' hourly purge now deletes the conflicts decided longer ago than
their retention (PIMSYNC_CONFLICT_RETENTION_DAYS for a person's decision,
PIMSYNC_HISTORY_RETENTION_DAYS for one the service made itself). It walks
them oldest decision first; without an index on the decision's time every
run read the whole table. Partial: a PENDING conflict is never purged.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 22:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DECIDED = sa.text("resolution_status != 'PENDING'")


def upgrade() -> None:
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conflicts_decided",
            ["resolved_at", "id"],
            unique=False,
            sqlite_where=DECIDED,
            postgresql_where=DECIDED,
        )


def downgrade() -> None:
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.drop_index("ix_conflicts_decided")
