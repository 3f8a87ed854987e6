"""conflicts, webhook deliveries, listing base snapshots

The base snapshot is what the channel stored, read back after each write;
conflicts are detected against it. One PENDING conflict per product and
connector is a partial unique index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 02:31:38.614407
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


UNAPPLIED = "applied_at IS NULL AND apply_error IS NULL AND resolution_status != 'PENDING'"


def upgrade() -> None:
    op.create_table(
        "conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("product_sku", sa.String(length=255), nullable=False),
        sa.Column("conflict_type", sa.String(length=30), nullable=False),
        sa.Column("resolution_status", sa.String(length=20), nullable=False),
        sa.Column(
            "fields", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("pim_modified_at", app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("channel_modified_at", app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("detected_at", app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column(
            "resolution", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("applied_at", app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("apply_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["connector_id"], ["connectors.id"], name=op.f("fk_conflicts_connector_id_connectors"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_conflicts_product_id_products"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_conflicts_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conflicts")),
    )
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.create_index("ix_conflicts_connector_status", ["connector_id", "resolution_status"], unique=False)
        batch_op.create_index(
            "ix_conflicts_unapplied",
            ["resolved_at"],
            unique=False,
            sqlite_where=sa.text(UNAPPLIED),
            postgresql_where=sa.text(UNAPPLIED),
        )
        batch_op.create_index("ix_conflicts_tenant_status", ["tenant_id", "resolution_status", "id"], unique=False)
        batch_op.create_index(
            "uq_conflicts_one_pending_per_product",
            ["connector_id", "product_id"],
            unique=True,
            sqlite_where=sa.text("resolution_status = 'PENDING'"),
            postgresql_where=sa.text("resolution_status = 'PENDING'"),
        )

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=255), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("occurred_at", app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("processed_at", app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["connector_id"],
            ["connectors.id"],
            name=op.f("fk_webhook_deliveries_connector_id_connectors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_webhook_deliveries_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("connector_id", "delivery_id", name=op.f("uq_webhook_deliveries_connector_id_delivery_id")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_deliveries_status_received", ["status", "received_at"], unique=False)

    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "base",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default=sa.text("'{}'"),
            )
        )
        batch_op.add_column(sa.Column("channel_updated_at", app.db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("excluded", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.create_index("ix_listings_connector_external_id", ["connector_id", "external_id"], unique=False)

    with op.batch_alter_table("product_values", schema=None) as batch_op:
        batch_op.add_column(sa.Column("updated_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("product_values", schema=None) as batch_op:
        batch_op.drop_column("updated_by")

    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_index("ix_listings_connector_external_id")
        batch_op.drop_column("excluded")
        batch_op.drop_column("channel_updated_at")
        batch_op.drop_column("base")

    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_deliveries_status_received")

    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_conflicts_one_pending_per_product",
            sqlite_where=sa.text("resolution_status = 'PENDING'"),
            postgresql_where=sa.text("resolution_status = 'PENDING'"),
        )
        batch_op.drop_index("ix_conflicts_tenant_status")
        batch_op.drop_index("ix_conflicts_connector_status")
        batch_op.drop_index(
            "ix_conflicts_unapplied", sqlite_where=sa.text(UNAPPLIED), postgresql_where=sa.text(UNAPPLIED)
        )

    op.drop_table("conflicts")
