"""Product search finds "Smart TV" in a name written with a no-break space

`products(search:)` matches the stored `search_text` of each product, which
kept no-break, thin and other Unicode spaces as written: "smart tv" did not
find "Smart\u00a0TV". New writes store each of them as a plain space
(app.domain.catalog.search_form); this rewrites the rows stored before, one
character for one, as search_form would have written them.

Going down leaves the rows as they are: the older code searches the plain
spaces just as well, and the spaces it had cannot be told apart any more.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNICODE_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
"""app.domain.catalog.UNICODE_SPACES as of this revision (a migration keeps what it did, whatever the code becomes)."""


def upgrade() -> None:
    products = sa.table("products", sa.column("search_text", sa.Text()))
    spaced: sa.ColumnElement[str] = products.c.search_text
    for space in UNICODE_SPACES:
        spaced = sa.func.replace(spaced, space, " ")
    holding_one = sa.or_(*(products.c.search_text.contains(space) for space in UNICODE_SPACES))
    op.execute(products.update().where(holding_one).values(search_text=spaced))


def downgrade() -> None:
    """Nothing to undo (see the module docstring)."""
