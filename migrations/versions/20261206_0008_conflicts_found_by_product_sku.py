"""Conflicts are found by product SKU through an index

`conflicts(productSku:)` and a bulk resolution narrowed to one SKU read the
tenant's conflicts by SKU, newest first. No index held the SKU, so PostgreSQL
read the whole conflicts table (every tenant's, resolved ones included) for
each such page: a scan that grows with the catalog and the conflicts' history.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.create_index("ix_conflicts_tenant_product_sku", ["tenant_id", "product_sku", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.drop_index("ix_conflicts_tenant_product_sku")
