"""The var dir of the embedded default (SQLite database, embedded Redis, secret key), made private to its owner."""

from __future__ import annotations

from pathlib import Path

PRIVATE_DIR_MODE = 0o700
"""Owner only: the folder holds every tenant's catalog and the key that opens their credentials."""


def make_private_dir(path: Path) -> None:
    """Make `path` (and any missing parent) if it does not exist yet, itself readable by its owner only.

    Files in it are made with the process's umask (SQLite's database 0644): the folder is what keeps other
    users of the machine out. Parents are made as usual, and a folder that exists already is left as it is,
    its owner's to set."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
