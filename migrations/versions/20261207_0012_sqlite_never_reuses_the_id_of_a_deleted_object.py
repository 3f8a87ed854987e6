"""SQLite never gives a new connector, mapping, job or conflict the id of a deleted one

Their ids are what the API and the CLI call them by (global node ids,
job ids in CHN-090 messages, a conflict a person resolves). Without
AUTOINCREMENT SQLite gives a new row the largest id in the table plus one,
so the id of a deleted newest connector (or of the mappings a save replaced,
the jobs and conflicts deleted with their connector) came back on a new one,
and a client holding the old id (a frontend's cache, a bookmark, a script)
reached a different object with it. Each table is rebuilt with
AUTOINCREMENT; copying the rows sets its sqlite_sequence to the largest id
in it. PostgreSQL takes these ids from sequences, which never go back: there
nothing changes.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("connectors", "field_mappings", "sync_jobs", "conflicts")
"""The tables whose rows are deleted while their ids are known outside: by the API (node ids) and the CLI."""


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)


def _rebuild(*, autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ) as batch_op:
            batch_op.alter_column("id", existing_nullable=False)
