"""Schema migrations, run in code so they work from any directory after `pip install .`.

alembic is imported by the functions that read or run the migrations: importing alembic loads its operations for
every database dialect (a tenth of a second or more), which a process that only catches SchemaNotCurrent (a
liveness probe, a command that fails before it opens the database) has no use for."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import migrations
from app.db.engine import sqlite_file_missing
from app.settings import DATABASE_CONNECT_TIMEOUT_SECONDS

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATION_LOCK = 0x70696D73796E63
"""The PostgreSQL advisory lock a migration run holds ("pimsync" in ASCII): a second process migrating the same
database (`pimsync run` twice, a migrate job per replica) waits for the first, then finds nothing left to do."""


class SchemaNotCurrent(Exception):
    """The database is not at the schema this code expects; the message is one line saying what to do."""


class SchemaNewer(SchemaNotCurrent):
    """The database is at a revision this code does not know: a newer release migrated it."""


def alembic_config(database_url: str) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


MIGRATED = "pimsync_migrated"
"""Where migrations/env.py leaves the revisions a run found and left, read under the run's lock (Upgrade)."""


@dataclass(frozen=True, slots=True)
class Upgrade:
    """The revision a migration run found the database at (None: never migrated) and the one it left it at."""

    before: str | None
    after: str | None

    @property
    def applied(self) -> bool:
        return self.before != self.after


def upgrade_to_head(database_url: str, *, connect_timeout: float = DATABASE_CONNECT_TIMEOUT_SECONDS) -> Upgrade:
    """Apply every migration not yet applied (call from synchronous code: alembic runs its own loop), and say from
    which revision: `pimsync migrate` tells an operator whether it changed anything.

    SchemaNewer, with nothing changed, on a database a newer release migrated (migrations/env.py checks it)."""
    from alembic import command

    config = alembic_config(database_url)
    config.attributes["connect_timeout"] = connect_timeout
    command.upgrade(config, "head")
    before, after = config.attributes[MIGRATED]
    return Upgrade(before=_single(before), after=_single(after))


def _single(heads: tuple[str, ...]) -> str | None:
    """The one revision of a database on this linear history; None for one never migrated."""
    return heads[0] if heads else None


def head_revision(database_url: str) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


@cache
def known_revisions() -> tuple[str | None, frozenset[str]]:
    """This code's head revision and every revision of its migrations, read once: /ready asks on every probe,
    and reading the scripts loads each migration file (milliseconds each time)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config(""))
    return scripts.get_current_head(), frozenset(script.revision for script in scripts.walk_revisions())


def require_known(revision: str | None) -> None:
    """SchemaNewer when the database is at a revision this code does not know. Neither migrating it (alembic
    cannot find the revision) nor running on it (its tables may have moved on) is this release's to do."""
    expected, known = known_revisions()
    if revision is not None and revision not in known:
        raise SchemaNewer(
            f"the database is at revision {revision}, newer than this pimsync knows (up to {expected}):"
            " a newer release migrated it; run that release"
        )


def require_file(url: str) -> None:
    """SchemaNotCurrent, as for a database never migrated, when `url` names a SQLite file not made yet: opening it
    to read the revision would make an empty file (and its folder), left behind by the refusal."""
    if sqlite_file_missing(url):
        require_current(None)


def require_current(revision: str | None) -> None:
    """SchemaNotCurrent unless the database is at this code's head: SchemaNewer as require_known says, else it is
    behind (or was never migrated) and `pimsync migrate` brings it on."""
    require_known(revision)
    expected, _ = known_revisions()
    if revision != expected:
        found = f"is at revision {revision}" if revision else "was never migrated"
        raise SchemaNotCurrent(f"the database {found}, this pimsync expects {expected}: run `pimsync migrate`")
