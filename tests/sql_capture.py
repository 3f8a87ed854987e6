"""The statements (with their parameters) a call sends to read the database: for EXPLAIN, in the tests that pin
query plans and in bench/paging_bench.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.engine import Database


async def statements_of(db: Database, call: Callable[[AsyncSession], Awaitable[object]]) -> list[tuple[str, Any]]:
    """What `call` sent, in order, given a reader session of `db`."""
    statements: list[tuple[str, Any]] = []

    def captured(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(db.read_engine.sync_engine, "before_cursor_execute", captured)
    try:
        async with db.reader() as session:
            await call(session)
    finally:
        event.remove(db.read_engine.sync_engine, "before_cursor_execute", captured)
    return statements
