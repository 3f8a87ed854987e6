"""/ready says what a load balancer must know: 503 while the database or Redis does not answer, or while the
database lacks migrations this code needs; /health only that the process lives."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from arq import Retry
from arq.connections import ArqRedis
from sqlalchemy import text
from sqlalchemy.engine import make_url
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from app import main
from app.container import Container
from app.db.engine import Database
from app.db.migrate import alembic_config, head_revision, upgrade_to_head
from app.main import DATABASE_UNAVAILABLE, SCHEMA_BEHIND_TOLD, create_app
from app.ops import CHECK_TIMEOUT_SECONDS
from app.services.auth import Principal
from app.settings import Settings
from tests.conftest import POSTGRES_ADMIN_URL, TenantHandle, postgres_available
from tests.emulators import serve
from tests.ports import UNREACHABLE_POSTGRES, closed_port
from workers.tasks.conflicts import apply_conflict_resolution
from workers.tasks.maintenance import (
    apply_lost_resolutions,
    recover_sync_work,
    recover_webhooks,
    start_scheduled_syncs,
)
from workers.tasks.sync import plan_sync_job, run_sync_chunk
from workers.tasks.webhooks import process_webhook_delivery

NOT_REACHABLE = "not reachable"
SCHEMA_BEHIND = "schema behind, run `pimsync migrate`"
SCHEMA_NEWER = "schema newer than this release, run the release that migrated it"
NEWER_REVISION = "ffffffffffff"


async def get(settings: Settings, container: Container, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=create_app(settings, container=container))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.get(path)


def logged_failures(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The lines the service logged about failed checks, as an operator reads them (after `app_logging()`)."""
    return [line for line in capsys.readouterr().err.splitlines() if "ready.check_failed" in line]


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A port that accepts connections and never answers: a database or Redis hung, or a network dropping
    packets, where a refused connection would fail at once."""
    accepted: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in accepted:
        writer.close()
    server.close()
    await server.wait_closed()


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
    with closed_port() as port:
        down = Database(UNREACHABLE_POSTGRES.format(closed_port=port))
        try:
            ready = await get(settings, dataclasses.replace(container, db=down), "/ready")
            health = await get(settings, dataclasses.replace(container, db=down), "/health")
        finally:
            await down.dispose()
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "checks": {"database": NOT_REACHABLE, "redis": "ok"}}
    assert health.status_code == 200


async def test_ready_shows_no_driver_message_and_the_server_log_has_it(
    settings: Settings, container: Container, app_logging: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    """/ready answers anyone, without a token: where the database is and who logs in stay in the server's log."""
    app_logging()
    with closed_port() as port:
        down = Database(UNREACHABLE_POSTGRES.format(closed_port=port))
        try:
            ready = await get(settings, dataclasses.replace(container, db=down), "/ready")
        finally:
            await down.dispose()
    assert ready.json()["checks"]["database"] == NOT_REACHABLE
    assert "127.0.0.1" not in ready.text and "Error" not in ready.text, ready.text
    [line] = logged_failures(capsys)
    assert "check=database" in line and "ConnectionRefusedError" in line and "127.0.0.1" in line, line


async def test_ready_answers_within_one_timeout_when_both_hang(
    settings: Settings, container: Container, silent_server: int
) -> None:
    """A probe gives up after its own timeout: the two checks wait side by side, not one after the other."""
    hung_db = Database(f"postgresql+asyncpg://pimsync@127.0.0.1:{silent_server}/pimsync")
    hung_redis = ArqRedis(host="127.0.0.1", port=silent_server)
    started = time.monotonic()
    try:
        ready = await get(settings, dataclasses.replace(container, db=hung_db, redis=hung_redis), "/ready")
    finally:
        await hung_db.dispose()
        await hung_redis.aclose()
    elapsed = time.monotonic() - started
    no_answer = f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    assert ready.json() == {"status": "unavailable", "checks": {"database": no_answer, "redis": no_answer}}
    # One after the other, the two timeouts take 2 x CHECK_TIMEOUT_SECONDS at the least, however fast the machine.
    assert elapsed < 2 * CHECK_TIMEOUT_SECONDS, f"/ready took {elapsed:.1f} s"


async def test_unready_while_redis_does_not_answer(settings: Settings, container: Container) -> None:
    with closed_port() as port:
        down = ArqRedis(host="127.0.0.1", port=port)
        try:
            ready = await get(settings, dataclasses.replace(container, redis=down), "/ready")
        finally:
            await down.aclose()
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "checks": {"database": "ok", "redis": NOT_REACHABLE}}


def _previous_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config("")).get_revision(head_revision(""))
    if not isinstance(head.down_revision, str):
        pytest.skip("there is only one migration: no schema can be behind it")
    return head.down_revision


@pytest.mark.parametrize("state", ["never migrated", "behind"])
async def test_unready_on_a_database_that_needs_migrating(
    state: str,
    settings: Settings,
    container: Container,
    sqlite_at: Database,
    app_logging: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every GraphQL request would fail on a missing table or column: no traffic until `pimsync migrate`. The
    revisions are the server log's to tell."""
    app_logging()
    if state == "behind":
        previous = _previous_revision()
        await asyncio.to_thread(command.upgrade, alembic_config(sqlite_at.url), previous)
    ready = await get(settings, dataclasses.replace(container, db=sqlite_at), "/ready")
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": SCHEMA_BEHIND, "redis": "ok"}
    [logged] = logged_failures(capsys)
    assert head_revision(sqlite_at.url) in logged, logged
    assert ("never migrated" if state == "never migrated" else f"at revision {previous}") in logged


async def stamp_newer(db: Database) -> None:
    """The database as a newer release leaves it: migrated to a revision this code does not know."""
    async with db.transaction() as session:
        await session.execute(text(f"UPDATE alembic_version SET version_num = '{NEWER_REVISION}'"))


async def test_ready_on_a_database_a_newer_release_migrated_while_it_served(
    settings: Settings, container: Container, sqlite_at: Database
) -> None:
    """A deploy migrates before it replaces the running instances: they must stay in service until then."""
    await asyncio.to_thread(upgrade_to_head, sqlite_at.url)
    app = create_app(settings, container=dataclasses.replace(container, db=sqlite_at))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        assert (await http.get("/ready")).status_code == 200
        await stamp_newer(sqlite_at)
        ready = await http.get("/ready")
    assert ready.status_code == 200, ready.text


async def test_unready_when_started_on_a_database_a_newer_release_migrated(
    settings: Settings,
    container: Container,
    sqlite_at: Database,
    app_logging: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The code was rolled back but not the database: its tables may have moved on, and the worker refuses to
    start there. The load balancer must not send this instance traffic; the log names both revisions."""
    app_logging()
    await asyncio.to_thread(upgrade_to_head, sqlite_at.url)
    await stamp_newer(sqlite_at)
    ready = await get(settings, dataclasses.replace(container, db=sqlite_at), "/ready")
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "checks": {"database": SCHEMA_NEWER, "redis": "ok"}}
    [logged] = logged_failures(capsys)
    assert NEWER_REVISION in logged and head_revision(sqlite_at.url) in logged, logged


async def test_metrics_keep_one_label_for_every_method_http_does_not_define(
    settings: Settings, container: Container
) -> None:
    """Anyone, without a token, chose the method label: a server parsing any token as a method (h11, which uvicorn
    runs on where httptools is not installed) kept a counter and a histogram per name sent, without bound."""
    app = create_app(settings, container=container)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        for number in range(20):
            await http.request(f"X{number}", "/health")
        await http.get("/health")
        exposed = (await http.get("/metrics")).text
    methods = sorted(set(re.findall(r'^pimsync_http_requests_total\{method="([^"]*)"', exposed, re.MULTILINE)))
    assert methods == ["GET", "OTHER"], methods
    assert 'pimsync_http_requests_total{method="OTHER",route="unmatched",status="405"} 20.0' in exposed


async def test_a_request_while_the_database_does_not_answer_is_answered_503_and_logged_in_one_line(
    settings: Settings, container: Container, app_logging: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    """A database restarting or failing over is an outage to ride out, not a fault: every GraphQL request was
    answered 500 with a bare `Internal Server Error` (no JSON, no code a client can act on) and logged with a
    whole traceback, a webhook delivery the same; now 503 with a code and Retry-After, one log line each."""
    app_logging()
    with closed_port() as port:
        down = Database(UNREACHABLE_POSTGRES.format(closed_port=port))
        app = create_app(settings, container=dataclasses.replace(container, db=down))
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
                query = await http.post(
                    "/graphql", json={"query": "{ locales { code } }"}, headers={"Authorization": "Bearer pim_x"}
                )
                delivery = await http.post("/webhooks/05cdbfbb-8f4c-460f-9ce5-f7dd99900999", content=b"{}")
                exposed = (await http.get("/metrics")).text
        finally:
            await down.dispose()
    assert query.status_code == 503, query.text
    assert query.headers["retry-after"] == "5"
    [error] = query.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["message"] == "the database is not answering: try again shortly"
    assert delivery.status_code == 503, delivery.text
    assert delivery.json() == {"code": "SERVICE_UNAVAILABLE", "message": error["message"]}
    assert delivery.headers["retry-after"] == "5"
    logged = capsys.readouterr().err
    assert "Traceback" not in logged, logged
    lines = [line for line in logged.splitlines() if "database_unavailable" in line]
    assert len(lines) == 2 and all("ConnectionRefusedError" in line for line in lines), logged
    assert 'pimsync_http_errors_total{route="/graphql"} 1.0' in exposed, exposed


@pytest.mark.parametrize(
    "document",
    ["{ locales { code } }", 'mutation { setLocales(codes: ["en_US"]) { userErrors { code } } }'],
    ids=["query", "mutation"],
)
async def test_a_request_whose_database_goes_away_after_its_token_was_checked_is_answered_503_too(
    settings: Settings,
    container: Container,
    tenant: TenantHandle,
    document: str,
    monkeypatch: pytest.MonkeyPatch,
    app_logging: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A database failing over, or a backend of the pool terminated, between a request's token check and its
    resolver: the request was answered 200 with an INTERNAL_SERVER_ERROR ("Unexpected error." in production) and
    its traceback logged as a fault, where one a moment earlier got 503 with Retry-After. Both are the outage now."""
    app_logging()
    checked = main.authenticate
    with closed_port() as port:
        down = Database(UNREACHABLE_POSTGRES.format(closed_port=port))
        serving = dataclasses.replace(container)

        async def then_the_database_goes_away(current: Container, token: str) -> Principal:
            principal = await checked(current, token)
            current.db = down
            return principal

        monkeypatch.setattr(main, "authenticate", then_the_database_goes_away)
        transport = httpx.ASGITransport(app=create_app(settings, container=serving))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                answer = await http.post(
                    "/graphql", json={"query": document}, headers={"Authorization": f"Bearer {tenant.token}"}
                )
        finally:
            await down.dispose()
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    [error] = answer.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["message"] == "the database is not answering: try again shortly"
    logged = capsys.readouterr().err
    assert "Traceback" not in logged and "graphql.fault" not in logged, logged
    lines = [line for line in logged.splitlines() if "database_unavailable" in line]
    assert len(lines) == 1 and "ConnectionRefusedError" in lines[0], logged


@pytest.mark.parametrize("token_on", ["connection_init", "upgrade request"])
async def test_a_socket_opened_while_the_database_does_not_answer_is_closed_try_again_later(
    token_on: str, settings: Settings, app_logging: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    """A subscription's socket authenticates in the database too: while it did not answer, connection_init (or
    the upgrade request carrying the token) ended in a traceback and a socket dropped without a close frame."""
    app_logging()
    with closed_port() as port:
        down = settings.model_copy(update={"database_url": UNREACHABLE_POSTGRES.format(closed_port=port)})
        with serve(create_app(down), lifespan="on", ws="websockets-sansio") as origin:
            url = origin.replace("http://", "ws://") + "/graphql"
            bearer = {"Authorization": "Bearer pim_x"}
            on_upgrade = bearer if token_on == "upgrade request" else None
            async with connect(
                url, subprotocols=[Subprotocol("graphql-transport-ws")], additional_headers=on_upgrade
            ) as ws:
                with pytest.raises(ConnectionClosed) as closed:
                    await ws.send(json.dumps({"type": "connection_init", "payload": bearer}))
                    await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd is not None, closed.value
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1013, DATABASE_UNAVAILABLE)
    logged = capsys.readouterr().err
    assert "Traceback" not in logged, logged
    assert len([line for line in logged.splitlines() if "database_unavailable" in line]) == 1, logged


async def test_a_request_to_an_api_started_before_pimsync_migrate_is_answered_503_saying_so(
    settings: Settings,
    container: Container,
    sqlite_at: Database,
    app_logging: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The API starts on a database never migrated (/ready says so); a request sent to it all the same was a
    bare 500 `Internal Server Error` and a traceback about a missing table, a webhook delivery the same."""
    app_logging()
    app = create_app(settings, container=dataclasses.replace(container, db=sqlite_at))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        query = await http.post(
            "/graphql", json={"query": "{ locales { code } }"}, headers={"Authorization": "Bearer x"}
        )
        delivery = await http.post("/webhooks/05cdbfbb-8f4c-460f-9ce5-f7dd99900999", content=b"{}")
    assert query.status_code == 503, query.text
    [error] = query.json()["errors"]
    assert error == {"message": SCHEMA_BEHIND_TOLD, "extensions": {"code": "SERVICE_UNAVAILABLE"}}
    assert (delivery.status_code, delivery.json()) == (
        503,
        {"code": "SERVICE_UNAVAILABLE", "message": SCHEMA_BEHIND_TOLD},
    )
    logged = capsys.readouterr().err
    assert "Traceback" not in logged, logged
    lines = [line for line in logged.splitlines() if "api.schema_behind" in line]
    assert len(lines) == 2 and all("never migrated" in line for line in lines), logged


@pytest.mark.parametrize("task", [recover_sync_work, start_scheduled_syncs, recover_webhooks, apply_lost_resolutions])
async def test_a_periodic_task_while_the_database_does_not_answer_is_one_warning_line(
    task: Callable[[Any], Awaitable[object]],
    container: Container,
    app_logging: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A worker waits out a database outage and carries on once it answers; meanwhile each of its periodic tasks
    failed every 15 s or so with arq's `failed` error line and a whole traceback, four tasks, on every worker."""
    app_logging()
    with closed_port() as port:
        down = Database(UNREACHABLE_POSTGRES.format(closed_port=port))
        try:
            done = await task({"container": dataclasses.replace(container, db=down)})
        finally:
            await down.dispose()
    assert done in (0, [])
    logged = capsys.readouterr().err
    [line] = [line for line in logged.splitlines() if "database_unavailable" in line]
    assert "warning" in line and task.__name__ in line and "ConnectionRefusedError" in line, line


ONE_OFF_TASKS = [
    (plan_sync_job, {"job_id": 1}, "background_retry_seconds"),
    (run_sync_chunk, {"chunk_id": 1}, "sync_lease_seconds"),
    (process_webhook_delivery, {"delivery_pk": 1}, "background_retry_seconds"),
    (apply_conflict_resolution, {"conflict_id": 1}, "background_retry_seconds"),
]


@pytest.mark.parametrize(
    ("task", "arguments", "wait"), ONE_OFF_TASKS, ids=[task.__name__ for task, _, _ in ONE_OFF_TASKS]
)
async def test_a_sync_or_webhook_task_while_the_database_does_not_answer_is_queued_again_with_one_warning_line(
    task: Callable[..., Awaitable[object]],
    arguments: dict[str, int],
    wait: str,
    container: Container,
    app_logging: Callable[..., None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A chunk (or a job's planning, a webhook delivery, a conflict's resolution) a worker was running when the database went away
    failed in arq's log with a whole traceback and was dropped: the chunk waited for the recovery sweep, about
    40 s after its lease ran out. It is now queued again (a chunk once its lease has run out, so that the run
    after it can take it up), said in one line."""
    app_logging()
    with closed_port() as port:
        down = Database(UNREACHABLE_POSTGRES.format(closed_port=port))
        try:
            with pytest.raises(Retry) as retried:
                ctx = {"container": dataclasses.replace(container, db=down), "job_try": 1, "job_id": "outage-test"}
                await task(ctx, **arguments)
        finally:
            await down.dispose()
    assert retried.value.defer_score == getattr(container.settings, wait) * 1000
    logged = capsys.readouterr().err
    assert "Traceback" not in logged, logged
    [line] = [line for line in logged.splitlines() if "database_unavailable" in line]
    assert "warning" in line and task.__name__ in line and "ConnectionRefusedError" in line, line


async def test_the_outage_line_names_the_drivers_own_error(
    settings: Settings, container: Container, app_logging: Callable[..., None], capsys: pytest.CaptureFixture[str]
) -> None:
    """asyncpg's refusal comes wrapped twice, and the wrapper's class is a bare `Error`: the line said `Error: role
    "..." does not exist`, where the driver's class tells a refused login from a database starting up."""
    if not postgres_available():
        pytest.skip("PostgreSQL does not answer")
    app_logging()
    no_login = make_url(POSTGRES_ADMIN_URL).set(username="pimsync_no_such_role", password=None)
    refused = Database(no_login.render_as_string(hide_password=False))
    app = create_app(settings, container=dataclasses.replace(container, db=refused))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
            query = await http.post(
                "/graphql", json={"query": "{ locales { code } }"}, headers={"Authorization": "Bearer x"}
            )
    finally:
        await refused.dispose()
    assert query.status_code == 503, query.text
    [line] = [line for line in capsys.readouterr().err.splitlines() if "api.database_unavailable" in line]
    assert "InvalidAuthorizationSpecificationError" in line and "pimsync_no_such_role" in line, line
