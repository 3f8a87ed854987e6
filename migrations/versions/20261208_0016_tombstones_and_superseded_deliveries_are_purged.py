"""Tombstones and a paused connector's superseded webhook deliveries are purged

The workers' hourly purge now deletes the tombstones of products deleted longer
ago than PIMSYNC_HISTORY_RETENTION_DAYS that no channel and no conflict needs.
It walks them oldest deletion first through a partial index of the tombstones
(live products are not in it), and each product it deletes makes the database
find the conflicts naming it (ON DELETE CASCADE): without an index leading with
conflicts.product_id that is a scan of the conflicts for each one.

A product's id is its node id, which clients hold: on SQLite the products table
is rebuilt with AUTOINCREMENT (as 0012 did for connectors, mappings, jobs and
conflicts), so a purged newest product's id is not given to the next one
created. PostgreSQL takes ids from sequences, which never go back.

A paused connector's webhook deliveries wait, PENDING, for it to be resumed;
the hourly webhook purge now keeps only the newest of those about one product
(each is checked against the channel's state at the time, so the older ones
add nothing). webhook_deliveries.product_ref records which product a delivery
is about, read from its payload the first time the purge looks at it.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08 01:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOMBSTONE = sa.text("deleted_at IS NOT NULL")


def upgrade() -> None:
    _rebuild_products(autoincrement=True)
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.create_index(
            "ix_products_tombstones",
            ["deleted_at", "id"],
            unique=False,
            sqlite_where=TOMBSTONE,
            postgresql_where=TOMBSTONE,
        )
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.create_index("ix_conflicts_product_id", ["product_id"], unique=False)
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("product_ref", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_column("product_ref")
    with op.batch_alter_table("conflicts", schema=None) as batch_op:
        batch_op.drop_index("ix_conflicts_product_id")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_index("ix_products_tombstones")
    _rebuild_products(autoincrement=False)


def _rebuild_products(*, autoincrement: bool) -> None:
    """On SQLite, copy the products into a table with (or without) AUTOINCREMENT: copying sets its sqlite_sequence
    to the largest id it holds. The migration engine has foreign keys off, so the drop takes no values along."""
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "products", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ) as batch_op:
        batch_op.alter_column("id", existing_nullable=False)
