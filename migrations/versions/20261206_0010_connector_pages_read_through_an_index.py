"""A connector's sync jobs and conflicts are paged through an index

`syncJobs(connectorCode:)`, `conflicts(connectorCode:)` and a connector's
nested `syncJobs`/`conflicts` read one connector's rows newest first (by id),
of any status or of one. No index led with the connector and ended with the
id: PostgreSQL walked the primary key backwards discarding every other
connector's rows, or read all the tenant's rows and sorted them, for every
page and every count; SQLite did the latter. A tenant's job list (no
connector) read all its jobs and sorted them the same way.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "sync_jobs": {
        "ix_sync_jobs_tenant_id": ["tenant_id", "id"],
        "ix_sync_jobs_tenant_connector": ["tenant_id", "connector_id", "id"],
        "ix_sync_jobs_tenant_connector_status": ["tenant_id", "connector_id", "status", "id"],
    },
    "conflicts": {
        "ix_conflicts_tenant_connector": ["tenant_id", "connector_id", "id"],
        "ix_conflicts_tenant_connector_status": ["tenant_id", "connector_id", "resolution_status", "id"],
    },
}


def upgrade() -> None:
    for table, indexes in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, columns in indexes.items():
                batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    for table, indexes in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in indexes:
                batch_op.drop_index(name)
