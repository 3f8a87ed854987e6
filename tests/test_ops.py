"""/ready says what a load balancer must know: 503 while the database or Redis does not answer, or while the
database lacks migrations this code needs; /health only that the process lives."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from arq.connections import ArqRedis
from sqlalchemy import text

from app.container import Container
from app.db.engine import Database
from app.db.migrate import alembic_config, head_revision, upgrade_to_head
from app.main import create_app
from app.settings import Settings

UNREACHABLE_POSTGRES = "postgresql+asyncpg://pimsync@127.0.0.1:1/pimsync"
"""Port 1: nothing listens, the connection is refused at once."""


async def get(settings: Settings, container: Container, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(settings, container=container))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.get(path)


@pytest.fixture
async def sqlite_at(tmp_path: Path) -> AsyncIterator[Database]:
    """A database of the test's own, whose schema the test sets."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'ops.sqlite3'}")
    yield db
    await db.dispose()


async def test_ready_on_a_migrated_database_and_a_live_redis(settings: Settings, container: Container) -> None:
    ready = await get(settings, container, "/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}


async def test_unready_while_the_database_does_not_answer(settings: Settings, container: Container) -> None:
    down = Database(UNREACHABLE_POSTGRES)
    try:
        ready = await get(settings, dataclasses.replace(container, db=down), "/ready")
    finally:
        await down.dispose()
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable" and body["checks"]["redis"] == "ok"
    assert body["checks"]["database"].startswith("error: ConnectionRefusedError"), body
    assert (await get(settings, dataclasses.replace(container, db=down), "/health")).status_code == 200


async def test_unready_while_redis_does_not_answer(settings: Settings, container: Container) -> None:
    down = ArqRedis(host="127.0.0.1", port=1)
    try:
        ready = await get(settings, dataclasses.replace(container, redis=down), "/ready")
    finally:
        await down.aclose()
    assert ready.status_code == 503
    body = ready.json()
    assert body["checks"]["database"] == "ok" and body["checks"]["redis"].startswith("error: ConnectionError"), body


def _previous_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("")).get_revision(head_revision(""))
    if not isinstance(head.down_revision, str):
        pytest.skip("there is only one migration: no schema can be behind it")
    return head.down_revision


@pytest.mark.parametrize("state", ["never migrated", "behind"])
async def test_unready_on_a_database_that_needs_migrating(
    state: str, settings: Settings, container: Container, sqlite_at: Database
) -> None:
    """Every GraphQL request would fail on a missing table or column: no traffic until `pimsync migrate`."""
    if state == "behind":
        previous = _previous_revision()
        await asyncio.to_thread(command.upgrade, alembic_config(sqlite_at.url), previous)
    ready = await get(settings, dataclasses.replace(container, db=sqlite_at), "/ready")
    assert ready.status_code == 503
    database = ready.json()["checks"]["database"]
    assert "run `pimsync migrate`" in database and head_revision(sqlite_at.url) in database, database
    assert ("never migrated" if state == "never migrated" else f"at revision {previous}") in database


async def test_ready_on_a_database_a_newer_release_migrated(
    settings: Settings, container: Container, sqlite_at: Database
) -> None:
    """A deploy migrates before it replaces the running instances: they must stay in service until then."""
    await asyncio.to_thread(upgrade_to_head, sqlite_at.url)
    async with sqlite_at.transaction() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    ready = await get(settings, dataclasses.replace(container, db=sqlite_at), "/ready")
    assert ready.status_code == 200, ready.text
