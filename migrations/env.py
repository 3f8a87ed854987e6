"""Alembic environment: runs migrations on the async engine of the configured database.

A run holds the database for itself from its first statement to its commit (an advisory lock on PostgreSQL,
SQLite's write lock taken by BEGIN IMMEDIATE), so two processes migrating at once apply each migration once;
and it refuses a database a newer release migrated, before changing anything.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from app.db import models  # noqa: F401  (registers every table on the metadata)
from app.db.base import Base
from app.db.engine import migration_engine
from app.db.migrate import MIGRATED, MIGRATION_LOCK, require_known
from app.settings import load_settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _database_url() -> str:
    url = config.attributes.get("database_url")
    return str(url) if url else load_settings().resolved_database_url


def _connect_timeout() -> float:
    seconds = config.attributes.get("connect_timeout")
    return float(seconds) if seconds else load_settings().database_connect_timeout_seconds


def _hold_the_database(connection: Connection) -> None:
    """Begin the run's one transaction with the database held: alembic then reads the revision another process
    may just have moved, and leaves the commit to _run_online."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    else:
        connection.begin()  # BEGIN IMMEDIATE on migration_engine's SQLite connections


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        compare_server_default=True,  # `alembic check` then sees a default the models and migrations disagree on
    )
    found = context.get_context().get_current_heads()
    for revision in found:
        require_known(revision)
    with context.begin_transaction():
        context.run_migrations()
    config.attributes[MIGRATED] = (found, context.get_context().get_current_heads())


async def _run_online() -> None:
    engine = migration_engine(_database_url(), connect_timeout=_connect_timeout())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_hold_the_database)
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()  # a refused run too: its connection closed, the lock and transaction let go


if context.is_offline_mode():
    context.configure(url=_database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(_run_online())
    else:
        _run(connection)
