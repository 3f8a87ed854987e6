"""A job's retries are found through an index

Deleting a sync job sets `retry_of` to NULL on the jobs that retried it
(ON DELETE SET NULL), so the database looks those up for every job deleted.
Nothing indexed the column: deleting a connector, which takes all its jobs
with it, scanned the whole table once per job, in the one transaction that
holds the connector (on SQLite, the database's only write lock). A
connector's history grows by one job per scheduled sync: 16,000 jobs took
3.6 s on PostgreSQL and 22 s on SQLite, four times as long for twice the
jobs. Partial, as few jobs are retries.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 16:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RETRIES = sa.text("retry_of IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("sync_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sync_jobs_retry_of", ["retry_of"], unique=False, sqlite_where=RETRIES, postgresql_where=RETRIES
        )


def downgrade() -> None:
    with op.batch_alter_table("sync_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_jobs_retry_of")
