"""A RETRYING job holds its connector as PENDING and RUNNING ones do; failed listings are found by status

A job whose dead worker's chunks were handed back is RETRYING until a worker
claims one again. The one-active-job index left it out, so a second job of
the same connector could start, and the first one's chunks then failed on the
index each time they were claimed. Where a database already holds such a
pair, the newer job is cancelled (with its open chunks): the older one holds
the work in progress.

The listings index on (connector_id, status) lets an INCREMENTAL sync take
the connector's failed products again without reading all its listings.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 11:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ACTIVE = "status IN ('PENDING', 'RUNNING')"
NEW_ACTIVE = "status IN ('PENDING', 'RUNNING', 'RETRYING')"
NEWER_ACTIVE_JOBS = (
    f"SELECT j.id FROM sync_jobs j WHERE j.{NEW_ACTIVE} AND EXISTS ("
    f"SELECT 1 FROM sync_jobs o WHERE o.connector_id = j.connector_id AND o.{NEW_ACTIVE} AND o.id < j.id)"
)


def upgrade() -> None:
    op.execute(
        "UPDATE sync_chunks SET status = 'CANCELLED', lease_expires_at = NULL"
        f" WHERE status IN ('PENDING', 'RUNNING') AND job_id IN ({NEWER_ACTIVE_JOBS})"
    )
    op.execute(
        "UPDATE sync_jobs SET status = 'CANCELLED', cancel_requested = TRUE, completed_at = CURRENT_TIMESTAMP"
        f" WHERE id IN ({NEWER_ACTIVE_JOBS})"
    )
    with op.batch_alter_table("sync_jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_sync_jobs_one_active_per_connector",
            sqlite_where=sa.text(OLD_ACTIVE),
            postgresql_where=sa.text(OLD_ACTIVE),
        )
        batch_op.create_index(
            "uq_sync_jobs_one_active_per_connector",
            ["connector_id"],
            unique=True,
            sqlite_where=sa.text(NEW_ACTIVE),
            postgresql_where=sa.text(NEW_ACTIVE),
        )
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.create_index("ix_listings_connector_status", ["connector_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_index("ix_listings_connector_status")
    with op.batch_alter_table("sync_jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_sync_jobs_one_active_per_connector",
            sqlite_where=sa.text(NEW_ACTIVE),
            postgresql_where=sa.text(NEW_ACTIVE),
        )
        batch_op.create_index(
            "uq_sync_jobs_one_active_per_connector",
            ["connector_id"],
            unique=True,
            sqlite_where=sa.text(OLD_ACTIVE),
            postgresql_where=sa.text(OLD_ACTIVE),
        )
