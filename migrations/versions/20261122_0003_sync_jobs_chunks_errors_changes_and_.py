"""sync jobs, chunks, errors, changes and events

At most one active job per connector is a partial unique index, so the
database refuses a second one whatever the queue does.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 22:12:49.110407
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connector_id"], ["connectors.id"], name=op.f("fk_events_connector_id_connectors"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_events_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_tenant_id", ["tenant_id", "id"], unique=False)

    op.create_table(
        "sync_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("sync_type", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("force_resync", sa.Boolean(), nullable=False),
        sa.Column(
            "locales", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column(
            "product_skus", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("retry_of", sa.Integer(), nullable=True),
        sa.Column("select_all", sa.Boolean(), nullable=False),
        sa.Column("revision_from", sa.BigInteger(), nullable=False),
        sa.Column("revision_to", sa.BigInteger(), nullable=True),
        sa.Column("mappings_version", sa.Integer(), nullable=False),
        sa.Column("total_products", sa.Integer(), nullable=False),
        sa.Column("synced_products", sa.Integer(), nullable=False),
        sa.Column("failed_products", sa.Integer(), nullable=False),
        sa.Column("skipped_products", sa.Integer(), nullable=False),
        sa.Column("conflicted_products", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.Column("created_at", app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connector_id"], ["connectors.id"], name=op.f("fk_sync_jobs_connector_id_connectors"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["retry_of"], ["sync_jobs.id"], name=op.f("fk_sync_jobs_retry_of_sync_jobs"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sync_jobs_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_jobs")),
    )
    with op.batch_alter_table("sync_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_sync_jobs_status_priority", ["status", "priority", "id"], unique=False)
        batch_op.create_index("ix_sync_jobs_tenant_created", ["tenant_id", "created_at"], unique=False)
        batch_op.create_index(
            "uq_sync_jobs_one_active_per_connector",
            ["connector_id"],
            unique=True,
            sqlite_where=sa.text("status IN ('PENDING', 'RUNNING')"),
            postgresql_where=sa.text("status IN ('PENDING', 'RUNNING')"),
        )

    op.create_table(
        "sync_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("product_sku", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column(
            "fields", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["sync_jobs.id"], name=op.f("fk_sync_changes_job_id_sync_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sync_changes_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_changes")),
        sa.UniqueConstraint("job_id", "product_sku", name=op.f("uq_sync_changes_job_id_product_sku")),
    )
    with op.batch_alter_table("sync_changes", schema=None) as batch_op:
        batch_op.create_index("ix_sync_changes_job_action", ["job_id", "action", "id"], unique=False)

    op.create_table(
        "sync_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("first_product_id", sa.Integer(), nullable=False),
        sa.Column("last_product_id", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("enqueued_at", app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"], ["sync_jobs.id"], name=op.f("fk_sync_chunks_job_id_sync_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sync_chunks_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_chunks")),
    )
    with op.batch_alter_table("sync_chunks", schema=None) as batch_op:
        batch_op.create_index("ix_sync_chunks_job_id", ["job_id"], unique=False)
        batch_op.create_index("ix_sync_chunks_status_lease", ["status", "lease_expires_at"], unique=False)

    op.create_table(
        "sync_errors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("product_sku", sa.String(length=255), nullable=False),
        sa.Column("locale", sa.String(length=35), nullable=True),
        sa.Column("error_code", sa.String(length=10), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["sync_jobs.id"], name=op.f("fk_sync_errors_job_id_sync_jobs"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_sync_errors_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_errors")),
    )
    with op.batch_alter_table("sync_errors", schema=None) as batch_op:
        batch_op.create_index("ix_sync_errors_job_id", ["job_id", "id"], unique=False)

    with op.batch_alter_table("connectors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("requests_per_second", sa.Double(), nullable=True))
        batch_op.add_column(sa.Column("sync_cursor", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("synced_mappings_version", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("failed_job_streak", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_scheduled_at", app.db.base.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "document_hashes",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default="{}",
            )
        )
        batch_op.add_column(
            sa.Column(
                "sent",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default="{}",
            )
        )
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("synced_revision", sa.BigInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index("ix_products_tenant_id_id", ["tenant_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index("ix_products_tenant_id_id")

    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_column("synced_revision")
        batch_op.drop_column("last_error")
        batch_op.drop_column("sent")
        batch_op.drop_column("document_hashes")

    with op.batch_alter_table("connectors", schema=None) as batch_op:
        batch_op.drop_column("last_scheduled_at")
        batch_op.drop_column("failed_job_streak")
        batch_op.drop_column("synced_mappings_version")
        batch_op.drop_column("sync_cursor")
        batch_op.drop_column("requests_per_second")

    with op.batch_alter_table("sync_errors", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_errors_job_id")

    op.drop_table("sync_errors")
    with op.batch_alter_table("sync_chunks", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_chunks_status_lease")
        batch_op.drop_index("ix_sync_chunks_job_id")

    op.drop_table("sync_chunks")
    with op.batch_alter_table("sync_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_sync_changes_job_action")

    op.drop_table("sync_changes")
    with op.batch_alter_table("sync_jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_sync_jobs_one_active_per_connector",
            sqlite_where=sa.text("status IN ('PENDING', 'RUNNING')"),
            postgresql_where=sa.text("status IN ('PENDING', 'RUNNING')"),
        )
        batch_op.drop_index("ix_sync_jobs_tenant_created")
        batch_op.drop_index("ix_sync_jobs_status_priority")

    op.drop_table("sync_jobs")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_tenant_id")

    op.drop_table("events")
