"""A job's changes are paged through an index whatever their action

A job's `changes` (and a listed page of jobs' changes) read one job's
changes in the order recorded (by id), of any action or of one. Only the
index led by the job and the action ended with the id: without an action
filter both databases read all the job's changes (one per product of the
catalog in a full sync) and sorted them, for every page.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sync_changes", schema=None) as batch_op:
        batch_op.create_index("ix_sync_changes_job_id", ["job_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_changes_job_id")
