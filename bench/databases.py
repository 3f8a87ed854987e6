"""A throwaway PostgreSQL database per benchmark size, shared by the benchmarks."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine


@contextmanager
def throwaway_postgres(admin_url: str, name: str, *, keep: bool, say: Callable[[str], None]) -> Iterator[str]:
    """Create database `name` beside `admin_url`'s, yield its URL, drop it afterwards unless `keep`."""
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if keep:
            say(f"kept database {name}")
        else:
            asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def throwaway_database(admin_url: str | None, name: str) -> Iterator[str]:
    """A fresh database for one run, dropped afterwards: a SQLite file in a temp dir when `admin_url` is None, else a
    PostgreSQL database beside `admin_url`'s named after `name` and a random suffix."""
    if admin_url is None:
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite+aiosqlite:///{Path(directory) / f'{name}.sqlite3'}"
        return
    with throwaway_postgres(admin_url, f"pimsync_{name}_{uuid.uuid4().hex[:10]}", keep=False, say=print) as url:
        yield url


async def _admin(admin_url: str, statement: str) -> None:
    """CREATE and DROP DATABASE cannot run inside a transaction: AUTOCOMMIT."""
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()
