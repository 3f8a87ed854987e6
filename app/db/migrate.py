"""Schema migrations, run in code so they work from any directory after `pip install .`."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

import migrations


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


def upgrade_to_head(database_url: str) -> None:
    """Apply every migration not yet applied (call from synchronous code: alembic runs its own loop)."""
    command.upgrade(alembic_config(database_url), "head")


def head_revision(database_url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


@cache
def known_revisions() -> tuple[str | None, frozenset[str]]:
    """This code's head revision and every revision of its migrations, read once: /ready asks on every probe,
    and reading the scripts loads each migration file (milliseconds each time)."""
    scripts = ScriptDirectory.from_config(alembic_config(""))
    return scripts.get_current_head(), frozenset(script.revision for script in scripts.walk_revisions())
