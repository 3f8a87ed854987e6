"""sync_jobs.enqueued_at: when a job's planning message was last queued

Recovery asks the queue whether that message still waits there before
queueing it again; the message's id carries this time. Existing jobs were
queued when they were created. The column stays nullable: SQLite adds a NOT NULL
column only with a constant default, and rebuilding the table for it would
put its partial unique index at risk; the service always sets it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 21:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db.base

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("enqueued_at", app.db.base.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE sync_jobs SET enqueued_at = created_at")


def downgrade() -> None:
    with op.batch_alter_table("sync_jobs", schema=None) as batch_op:
        batch_op.drop_column("enqueued_at")
