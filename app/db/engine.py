"""Engines and sessions.

On SQLite a write transaction starts with `BEGIN IMMEDIATE`: a deferred
transaction that reads and then writes can fail at once with "database is
locked" when another process (the worker) writes meanwhile, whatever the busy
timeout. Reads keep deferred transactions, so WAL readers never wait on writers.
On PostgreSQL both kinds of session share one engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app import json_codec
from app.settings import DATABASE_CONNECT_TIMEOUT_SECONDS, Settings
from app.stops import to_its_end
from app.var_dir import make_private_dir

SQLITE_BUSY_TIMEOUT_MS = 30_000

_JSON = {"json_serializer": json_codec.dumps, "json_deserializer": json_codec.loads}


def unreachable(exc: BaseException) -> bool:
    """Whether `exc` says the database does not answer (refused, hung past its connect timeout, a connection
    lost as the server restarted) rather than that a statement failed: an outage to wait out, not a fault."""
    if isinstance(exc, DBAPIError):
        return exc.statement is None or exc.connection_invalidated
    return isinstance(exc, OSError)  # TimeoutError included


def silent_database(settings: Settings) -> str:
    """What an operator is told when connecting hung past the connect timeout: asyncpg raises a TimeoutError with
    no text, and "TimeoutError:" alone named neither the database nor the setting to check."""
    seconds = settings.database_connect_timeout_seconds
    return f"the database did not answer within {seconds:g} s (check DATABASE_URL)"


def outage_cause(exc: BaseException) -> str:
    """What the driver said of an outage `unreachable` recognised, for one log line: "ConnectionRefusedError:
    [Errno 111] ...", the driver's own error rather than SQLAlchemy's wrapper with its link, nor the adapter's bare
    `Error` around asyncpg's (whose class tells a refused login from a database starting up)."""
    cause: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    cause = cause.__cause__ or cause
    return f"{type(cause).__name__}: {cause}"[:500]


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_sqlite_directory(url: str) -> None:
    """The folder of a SQLite file, made if missing: the default `var/` does not exist on a fresh checkout, and
    SQLite creates a file but no folder ("unable to open database file")."""
    file = _sqlite_file(url)
    if file is not None:
        make_private_dir(file.parent)


def sqlite_file_missing(url: str) -> bool:
    """Whether `url` names a SQLite file not made yet: opening it would make an empty one (and its folder), so a
    command refusing a database never migrated would leave that behind."""
    file = _sqlite_file(url)
    return file is not None and not file.exists()


def _sqlite_file(url: str) -> Path | None:
    """The file a SQLite `url` names; None for another database, or SQLite in memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database)
    return None


def migration_engine(url: str, *, connect_timeout: float = DATABASE_CONNECT_TIMEOUT_SECONDS) -> AsyncEngine:
    """The engine migrations run on. On SQLite a run is one transaction begun with BEGIN IMMEDIATE (a second
    process migrating waits for it; a failed migration leaves nothing half done, where the driver committed each
    DDL statement at once), with foreign keys off: a batch migration rebuilds a table by dropping it, and with them
    on the drop would delete the rows of every table that references it (ON DELETE CASCADE)."""
    if not is_sqlite(url):
        return create_async_engine(url, connect_args={"timeout": connect_timeout})
    return _sqlite_engine(url, begin="BEGIN IMMEDIATE", foreign_keys=False)


def _sqlite_engine(url: str, *, begin: str, foreign_keys: bool = True) -> AsyncEngine:
    make_sqlite_directory(url)
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **_JSON)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, emit BEGIN (see the module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


async def _commit_and_close(session: AsyncSession) -> None:
    try:
        await session.commit()
    finally:
        await session.close()


class Database:
    """Owns the engines; hands out read sessions and write transactions."""

    def __init__(
        self, url: str, *, echo: bool = False, connect_timeout: float = DATABASE_CONNECT_TIMEOUT_SECONDS
    ) -> None:
        self.url = url
        self.sqlite = is_sqlite(url)
        if self.sqlite:
            self.write_engine = _sqlite_engine(url, begin="BEGIN IMMEDIATE")
            self.read_engine = _sqlite_engine(url, begin="BEGIN")
        else:
            self.write_engine = create_async_engine(
                url, echo=echo, pool_pre_ping=True, connect_args={"timeout": connect_timeout}, **_JSON
            )
            self.read_engine = self.write_engine
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block ends, rolls back if it raises."""
        async with self._write_sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A short read-only session (one per concurrent resolver or loader batch).

        Its end (the commit, and the rollback the pool does as it takes the connection back) runs to its end even
        when the reader's task is cancelled meanwhile, as a subscription is when its client completes it or goes
        away: cancelled there, SQLAlchemy logged "Exception during reset or similar" with a CancelledError's
        traceback, and on PostgreSQL closed the connection, for what was only a reader that was no longer needed."""
        session = self._read_sessions()
        try:
            yield session
        except BaseException:
            await to_its_end(session.close())
            raise
        await to_its_end(_commit_and_close(session))

    async def refresh_statistics(self, *tables: str) -> None:
        """Have PostgreSQL's planner look at these tables again, after a bulk write changed them wholesale.

        Without statistics (a fresh load, autovacuum off or not yet round)
        PostgreSQL planned a sync page's value lookup, product ids IN (100
        ids) and attribute ids IN (the mapped ones), on the attribute index,
        reading every value of those attributes: 28 ms a page on 10,000
        products instead of 1 ms. SQLite plans it on the product index
        without statistics, so it is left alone there.
        """
        if self.sqlite or not tables:
            return
        async with self.write_engine.begin() as connection:
            preparer = connection.dialect.identifier_preparer
            await connection.execute(text("ANALYZE " + ", ".join(preparer.quote(table) for table in tables)))

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
