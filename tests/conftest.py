"""Shared fixtures: a migrated database per backend, real Redis, the app over ASGI, a fresh tenant per test.

Every test that uses `database_url` runs on SQLite, and again on PostgreSQL
when one answers (in CI it does; PIMSYNC_REQUIRE_SERVICES=1 makes a missing
PostgreSQL or Redis fail the run instead of skipping or falling back). Each PostgreSQL run gets a throwaway database. Tests are
isolated by tenant: each gets a new one, which also exercises tenant scoping. And by queue: each test (or the
module-scoped worker serving it) enqueues on a queue of its own, so pytest -n processes and a module's worker
never take another test's messages.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import shutil
import signal
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from arq.connections import ArqRedis
from sqlalchemy import delete, event, text
from sqlalchemy.ext.asyncio import create_async_engine

from app.container import Container, open_container
from app.db.engine import Database
from app.db.migrate import upgrade_to_head
from app.db.models import Connector
from app.domain.scopes import ALL_SCOPES, Scope
from app.logging import configure_logging
from app.main import create_app
from app.services.tokens import TokenService
from app.settings import Environment, Settings
from tests.emulators import serve

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
REAL_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_DATABASE_PREFIX = os.environ.get("TEST_POSTGRES_DATABASE_PREFIX", "pimsync_")
"""The start of the name of every database the tests create: runs sharing one server (several checkouts on one
machine) each name their own, so none drops or counts another's."""


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C reaches the commands the tests start, even when the suite itself was started in the background.

    A shell without job control (a script's `make test &`, nohup, some CI runners) starts a background command with
    SIGINT ignored, and every process it starts inherits that: the tests that press Ctrl-C on `pimsync sync`, `import`
    or `run` (they send it SIGINT) saw it ignored, waited out their 30 s and failed, seven of them in one run. A
    handler of this process's own is not inherited (a new program starts with the default), an ignored signal is."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def postgres_available() -> bool:
    return _answers("127.0.0.1", 5432)


def redis_available() -> bool:
    return _answers("127.0.0.1", 6379)


def services_required() -> bool:
    return os.environ.get("PIMSYNC_REQUIRE_SERVICES") == "1"


def _require_or_skip(what: str) -> None:
    if services_required():
        pytest.fail(f"{what} is required but does not answer")
    pytest.skip(f"{what} does not answer")


async def _admin(sql: str) -> None:
    engine = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with engine.connect() as connection:
        await connection.execute(text(sql))
    await engine.dispose()


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        await asyncio.to_thread(upgrade_to_head, url)
        yield url
        return
    if not postgres_available():
        _require_or_skip("PostgreSQL at 127.0.0.1:5432")
    name = f"{POSTGRES_DATABASE_PREFIX}test_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    await asyncio.to_thread(upgrade_to_head, url)
    yield url
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], str]:
    """A fresh SQLite database at the latest schema, at the path given (its URL is returned): a copy of one file
    migrated once per test process. Migrating a new file for every test that needs a database of its own (a CLI
    user's, a machine's) took half a second or more each; the copy is the file migrations leave, byte for byte."""
    template = tmp_path_factory.mktemp("migrated") / "template.sqlite3"
    upgrade_to_head(f"sqlite+aiosqlite:///{template}")

    def fresh(path: Path) -> str:
        shutil.copyfile(template, path)
        return f"sqlite+aiosqlite:///{path}"

    return fresh


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def redis_url() -> str | None:
    """The machine's Redis when it answers; None means the embedded one."""
    if redis_available():
        return REAL_REDIS_URL
    if services_required():
        pytest.fail("Redis at 127.0.0.1:6379 is required but does not answer")
    return None


class SwappableApp:
    """An ASGI app whose target a test replaces: one served port, a fresh channel emulator per test."""

    def __init__(self) -> None:
        self.target: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.target is None:
            await self._unplugged(send)
            return
        await self.target(scope, receive, send)

    @staticmethod
    async def _unplugged(send: Any) -> None:
        """A 503 with a word, as a shop that is away answers: a request between tests (a worker finishing its
        last retry) raised here, and uvicorn's traceback of it landed in whatever output a test was capturing."""
        body = b"no emulator is plugged in for this test"
        await send({"type": "http.response.start", "status": 503, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="session")
def shopify_switch() -> Iterator[tuple[SwappableApp, str]]:
    """A loopback origin for Shopify's Admin API, served for the whole session (settings point at it)."""
    switch = SwappableApp()
    with serve(switch) as origin:
        yield switch, origin


@pytest.fixture(autouse=True)
def _keep_logging_config() -> Iterator[None]:
    """Every `pimsync` command, and a test through `app_logging`, configures logging for the whole process: put
    the test process's back afterwards, or a later test logs into a CLI run's closed output."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    structlog_config = structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**structlog_config)


@pytest.fixture
def app_logging(settings: Settings) -> Callable[..., None]:
    """Configures logging as the app does (settings changed as the test says); its handler writes to the
    stderr capsys captures at that moment."""

    def configure(**changes: Any) -> None:
        configure_logging(settings.model_copy(update=changes))

    return configure


@pytest.fixture(scope="session")
def session_settings(
    database_url: str, var_dir: Path, redis_url: str | None, shopify_switch: tuple[SwappableApp, str]
) -> Settings:
    """The process's settings; each test and each module-scoped worker names its own queue on top of them."""
    return Settings(
        environment=Environment.TEST,
        var_dir=var_dir,
        database_url=database_url,
        redis_url=redis_url,
        allow_private_urls=True,
        queue_name=f"pimsync:test:{uuid.uuid4().hex[:8]}",
        sync_lease_seconds=4.0,
        shopify_admin_url=f"{shopify_switch[1]}/admin/api/2026-04/graphql.json",
    )


def on_a_queue_of_its_own(settings: Settings) -> Settings:
    """`settings` with a queue (and so a pub/sub namespace) that no other test or worker uses."""
    return settings.model_copy(update={"queue_name": f"{settings.queue_name}:{uuid.uuid4().hex[:8]}"})


@pytest.fixture(scope="module")
async def module_settings(session_settings: Settings, session_container: Container) -> AsyncIterator[Settings]:
    """The settings of a worker serving a whole module (sync_fixtures.module_worker), and of the tests it serves."""
    own = on_a_queue_of_its_own(session_settings)
    yield own
    await session_container.redis.delete(own.queue_name)


@pytest.fixture
async def settings(
    request: pytest.FixtureRequest, session_settings: Settings, session_container: Container
) -> AsyncIterator[Settings]:
    """The test's settings, with a queue of its own: no worker but the test's own takes its messages (not one
    still serving another module, nor one a test stopped with messages still queued), and its workers take no one
    else's. A test served by its module's worker shares that worker's queue."""
    if "module_settings" in request.fixturenames:
        yield request.getfixturevalue("module_settings")
        return
    own = on_a_queue_of_its_own(session_settings)
    yield own
    await session_container.redis.delete(own.queue_name)  # what is still queued there was the test's alone


@pytest.fixture(scope="session")
async def session_container(session_settings: Settings) -> AsyncIterator[Container]:
    opened = await open_container(session_settings)
    if opened.db.sqlite:
        _track_sqlite_writers(opened.db)
    yield opened
    await opened.close()


def container_on(session_container: Container, settings: Settings) -> Container:
    """The process's database, Redis connections and vault, enqueuing and publishing on `settings`' queue."""
    shared = session_container.redis
    redis = ArqRedis(
        shared.connection_pool,
        default_queue_name=settings.queue_name,
        job_serializer=shared.job_serializer,  # the queue's format (app.queue_codec): a worker drops any other
        job_deserializer=shared.job_deserializer,
    )
    return dataclasses.replace(session_container, settings=settings, redis=redis)


@pytest.fixture
def container(session_container: Container, settings: Settings) -> Container:
    """The process's database, Redis connections and vault, enqueuing and publishing on the test's queue."""
    return container_on(session_container, settings)


_SQLITE_WRITERS: dict[int, set[int]] = {}
"""Per SQLite write engine, the connections in a write transaction or about to ask for one (until_a_writer_waits)."""


def _track_sqlite_writers(db: Database) -> None:
    """Record each connection of the write engine from its checkout, right before its BEGIN IMMEDIATE (which waits
    while another transaction holds the write lock), until it is given back."""
    writers = _SQLITE_WRITERS.setdefault(id(db.write_engine), set())
    pool = db.write_engine.sync_engine.pool

    def checked_out(dbapi_connection: Any, *_: Any) -> None:
        writers.add(id(dbapi_connection))

    def checked_in(dbapi_connection: Any, *_: Any) -> None:
        writers.discard(id(dbapi_connection))

    event.listen(pool, "checkout", checked_out)
    event.listen(pool, "checkin", checked_in)


@pytest.fixture(scope="session")
def db(session_container: Container) -> Database:
    return session_container.db


@asynccontextmanager
async def api_client(settings: Settings, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The app over ASGI, as a frontend reaches it."""
    app = create_app(settings, container=container)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        yield http


@pytest.fixture
async def client(settings: Settings, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(settings, container) as http:
        yield http


@dataclass
class TenantHandle:
    code: str
    id: int
    token: str


async def make_tenant(db: Database, scopes: tuple[Scope, ...] = ALL_SCOPES, code: str | None = None) -> TenantHandle:
    async with db.transaction() as session:
        issued = await TokenService(session).issue(
            tenant_code=code or f"t_{uuid.uuid4().hex[:10]}", scopes=list(scopes), name="test"
        )
    return TenantHandle(issued.tenant.code, issued.tenant.id, issued.secret)


@pytest.fixture
async def tenant(db: Database) -> AsyncIterator[TenantHandle]:
    handle = await make_tenant(db)
    yield handle
    await retire_connectors(db, handle.id)


async def retire_connectors(db: Database, tenant_id: int) -> None:
    """Delete a finished test's connectors, and with them (by cascade) its sync jobs, deliveries and conflicts.

    Tests share a database: a job a test left PENDING, or a delivery it
    left unprocessed, would otherwise be revived by a later test's worker
    (its start-up recovery looks at the whole database, whatever its queue)
    and keep it busy against a shop that is gone. With the rows gone, such
    messages find nothing to do.
    """
    async with db.transaction() as session:
        await session.execute(delete(Connector).where(Connector.tenant_id == tenant_id))


async def until_subscribed(container: Container, channel: str) -> None:
    """Until a subscriber listens on `channel`: a message published before that is lost, by design of pub/sub."""
    deadline = time.monotonic() + 30
    while True:
        [(_, subscribers)] = await container.redis.pubsub_numsub(channel)
        if subscribers:
            return
        assert time.monotonic() < deadline, f"no one subscribed to {channel}"
        await asyncio.sleep(0.02)


SQLITE_WAIT_FOR_WRITER = 3.0


async def until_a_writer_waits(db: Database) -> None:
    """Until another transaction waits for a lock the caller's write transaction holds: on PostgreSQL a row lock,
    on SQLite the database's one write lock (a second write transaction of this process has asked for it).

    On SQLite, where one writer at a time cannot deadlock, the other side may also have written everything
    before the caller took the lock: after SQLITE_WAIT_FOR_WRITER the caller goes on without it.
    """
    deadline = time.monotonic() + (SQLITE_WAIT_FOR_WRITER if db.sqlite else 30)
    statement = text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    while True:
        if db.sqlite:
            if len(_SQLITE_WRITERS[id(db.write_engine)]) > 1 or time.monotonic() > deadline:  # the caller's and another
                return
        else:
            async with db.reader() as session:
                if await session.scalar(statement):
                    return
        assert time.monotonic() < deadline, "no transaction came to wait for the lock"
        await asyncio.sleep(0.02)


class GraphQLClient:
    """Posts GraphQL documents with a tenant's token, as a frontend would."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.token = token

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    async def __call__(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> Any:
        """The response's `data`; fails the test on any top-level error."""
        body = (await self.raw(query, variables, token)).json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    async def errors(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> list[Any]:
        body = (await self.raw(query, variables, token)).json()
        assert body.get("errors"), body
        return list(body["errors"])


@pytest.fixture
def gql(client: httpx.AsyncClient, tenant: TenantHandle) -> GraphQLClient:
    return GraphQLClient(client, tenant.token)


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            self.statements.append(statement)


@pytest.fixture
def sql_counter(db: Database) -> Iterator[QueryCounter]:
    """Counts the SQL statements the app sends (both engines), to pin DataLoader behaviour."""
    counter = QueryCounter()
    engines = {id(engine): engine for engine in (db.read_engine, db.write_engine)}.values()
    for engine in engines:
        event.listen(engine.sync_engine, "before_cursor_execute", counter)
    yield counter
    for engine in engines:
        event.remove(engine.sync_engine, "before_cursor_execute", counter)
