"""A throwaway PostgreSQL database per benchmark size, shared by the benchmarks."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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


async def _admin(admin_url: str, statement: str) -> None:
    """CREATE and DROP DATABASE cannot run inside a transaction: AUTOCOMMIT."""
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()
