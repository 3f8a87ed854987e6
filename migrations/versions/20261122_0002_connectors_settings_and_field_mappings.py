"""connectors settings and field mappings

Existing connectors get the defaults a new one gets (no credentials yet,
MANUAL conflicts, OMIT fallback text); field mappings are new.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 21:38:37.802561
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import app.db.base

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "field_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("attribute_id", sa.Integer(), nullable=True),
        sa.Column("attribute_code", sa.String(length=100), nullable=False),
        sa.Column("channel_field", sa.String(length=100), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column(
            "transformation",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "locale_mapping",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("when_empty", sa.String(length=10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attribute_id"],
            ["attributes.id"],
            name=op.f("fk_field_mappings_attribute_id_attributes"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["connector_id"],
            ["connectors.id"],
            name=op.f("fk_field_mappings_connector_id_connectors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_field_mappings_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_mappings")),
    )
    with op.batch_alter_table("field_mappings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_field_mappings_attribute_id"), ["attribute_id"], unique=False)
        batch_op.create_index("ix_field_mappings_connector_id", ["connector_id"], unique=False)

    with op.batch_alter_table("connectors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credentials_encrypted", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("scope", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column(
                "locale_mapping",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=False,
                server_default="[]",
            )
        )
        batch_op.add_column(
            sa.Column("default_sync_type", sa.String(length=20), nullable=False, server_default="INCREMENTAL")
        )
        batch_op.add_column(
            sa.Column("conflict_strategy", sa.String(length=20), nullable=False, server_default="MANUAL")
        )
        batch_op.add_column(
            sa.Column(
                "tax_config",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("sync_interval_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("fallback_policy", sa.String(length=10), nullable=False, server_default="OMIT"))
        batch_op.add_column(
            sa.Column("hold_incomplete_locales", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("store_name", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column(
                "supported_locales",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.add_column(sa.Column("primary_locale", sa.String(length=35), nullable=True))
        batch_op.add_column(sa.Column("last_tested_at", app.db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("mappings_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("connectors", schema=None) as batch_op:
        batch_op.drop_column("mappings_version")
        batch_op.drop_column("last_tested_at")
        batch_op.drop_column("primary_locale")
        batch_op.drop_column("supported_locales")
        batch_op.drop_column("store_name")
        batch_op.drop_column("hold_incomplete_locales")
        batch_op.drop_column("fallback_policy")
        batch_op.drop_column("sync_interval_minutes")
        batch_op.drop_column("currency")
        batch_op.drop_column("tax_config")
        batch_op.drop_column("conflict_strategy")
        batch_op.drop_column("default_sync_type")
        batch_op.drop_column("locale_mapping")
        batch_op.drop_column("scope")
        batch_op.drop_column("credentials_encrypted")

    with op.batch_alter_table("field_mappings", schema=None) as batch_op:
        batch_op.drop_index("ix_field_mappings_connector_id")
        batch_op.drop_index(batch_op.f("ix_field_mappings_attribute_id"))

    op.drop_table("field_mappings")
