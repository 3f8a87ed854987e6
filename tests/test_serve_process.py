"""Real processes on real ports: `pimsync serve` answers ops and GraphQL; `pimsync run` starts everything and
stops everything it started on Ctrl-C or SIGTERM, the worker and the embedded redis-server included."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest
import typer
import uvicorn
from starlette.applications import Starlette

from app.cli.commands import _serve
from app.container import queue_pool
from app.db.engine import Database
from app.db.migrate import head_revision
from app.domain.scopes import Scope
from app.services.tokens import TokenService
from app.settings import Settings
from tests.conftest import redis_available, services_required
from tests.ports import closed_port
from tests.redis_servers import embedded_servers

PIMSYNC = Path(sys.executable).with_name("pimsync")
SERVE_REDIS_URL = "redis://127.0.0.1:6379/15"
START_SECONDS = 45.0
STOP_SECONDS = 30.0
LOCALES = "{ locales { code } }"
TOKEN = re.compile(r"^\s+(pim_[A-Za-z0-9_-]{20,})\s*$", re.MULTILINE)
SERVING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:[0-9]+) ")
"""The address the service logs once it has bound its socket: with port 0, the only place its port appears."""
PRIVATE = {"DATABASE_URL", "REDIS_URL", "PIMSYNC_VAR_DIR", "PIMSYNC_HOST", "PIMSYNC_PORT", "SECRET_KEYS", "ENVIRONMENT"}


def base_env(**values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in PRIVATE}
    env.update(values)
    return env


@dataclass
class Service:
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    base_url: str = ""
    """Known once the service has logged the address it bound: see wait_for_address."""

    def output(self) -> str:
        read = [path.read_text(encoding="utf-8", errors="replace") for path in (self.stdout, self.stderr)]
        return f"--- stdout\n{read[0][-4000:]}\n--- stderr\n{read[1][-6000:]}"

    def stop(self, sig: signal.Signals = signal.SIGTERM, *, group: bool = False) -> int:
        """Send `sig` (to the whole process group, as Ctrl-C does, when `group`) and wait for the exit code."""
        if self.process.poll() is None:
            if group:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        try:
            return self.process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_SECONDS)
            pytest.fail(f"still running {STOP_SECONDS:.0f} s after {sig.name}:\n{self.output()}")


def start(tmp: Path, args: list[str], env: dict[str, str]) -> Service:
    stdout, stderr = tmp / "stdout.log", tmp / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [str(PIMSYNC), *args], env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
        )
    return Service(process, stdout, stderr)


@pytest.fixture
def services(tmp_path: Path) -> Iterator[list[Service]]:
    """Whatever a test started is gone when it ends, even when it fails halfway: its process group (the
    service and a worker it spawned) and any embedded redis-server serving the test's directory."""
    started: list[Service] = []
    yield started
    for service in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(service.process.pid, signal.SIGKILL)
        service.process.wait(STOP_SECONDS)
    for server in embedded_servers(tmp_path):
        with contextlib.suppress(psutil.NoSuchProcess):
            server.kill()


async def wait_for_address(service: Service) -> str:
    """The base URL the service logs it is serving on. The tests ask for port 0, any free port, so the service
    binds it itself: a port picked for it beforehand could be taken by another test process in between."""
    deadline = time.monotonic() + START_SECONDS
    while (found := SERVING.search(service.stderr.read_text(encoding="utf-8", errors="replace"))) is None:
        if service.process.poll() is not None:
            pytest.fail(f"exited {service.process.returncode} before logging its address:\n{service.output()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no address logged within {START_SECONDS:.0f} s:\n{service.output()}")
        await asyncio.sleep(0.1)
    service.base_url = found.group(1)
    return service.base_url


async def wait_until_healthy(service: Service, http: httpx.AsyncClient) -> None:
    await wait_for_address(service)
    deadline = time.monotonic() + START_SECONDS
    while True:
        if service.process.poll() is not None:
            pytest.fail(f"exited {service.process.returncode} before /health answered:\n{service.output()}")
        with contextlib.suppress(httpx.TransportError):
            if (await http.get(f"{service.base_url}/health")).status_code == 200:
                return
        if time.monotonic() > deadline:
            pytest.fail(f"/health did not answer within {START_SECONDS:.0f} s:\n{service.output()}")
        await asyncio.sleep(0.1)


async def graphql(http: httpx.AsyncClient, service: Service, query: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await http.post(f"{service.base_url}/graphql", json={"query": query}, headers=headers)


@pytest.mark.parametrize("redis_kind", ["real-redis", "embedded"])
async def test_serve_answers_ops_and_graphql(
    redis_kind: str, tmp_path: Path, services: list[Service], migrated_sqlite: Callable[[Path], str]
) -> None:
    database_url = migrated_sqlite(tmp_path / "pimsync.sqlite3")
    db = Database(database_url)
    async with db.transaction() as session:
        issued = await TokenService(session).issue(tenant_code="acme", scopes=[Scope.CATALOG_VIEW], name="serve test")
    await db.dispose()
    redis_env = {}  # unset: the embedded server under the var dir
    if redis_kind == "real-redis":
        if not redis_available():
            if services_required():
                pytest.fail("Redis at 127.0.0.1:6379 is required but does not answer")
            pytest.skip("Redis at 127.0.0.1:6379 does not answer")
        redis_env = {"REDIS_URL": SERVE_REDIS_URL}
    env = base_env(PIMSYNC_VAR_DIR=str(tmp_path / "var"), DATABASE_URL=database_url, ENVIRONMENT="test", **redis_env)
    with socket.create_server(("127.0.0.1", 0)) as taken:  # PIMSYNC_PORT is in use: `--port 0` must win over it
        env["PIMSYNC_PORT"] = str(taken.getsockname()[1])
        service = start(tmp_path, ["serve", "--host", "127.0.0.1", "--port", "0"], env)
        services.append(service)
        await wait_for_address(service)

    try:
        async with httpx.AsyncClient(timeout=10) as http:
            await wait_until_healthy(service, http)
            assert (await http.get(f"{service.base_url}/health")).json() == {"status": "ok"}

            ready = await http.get(f"{service.base_url}/ready")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {"status": "ready", "checks": {"database": "ok", "redis": "ok"}}

            anonymous = await graphql(http, service, LOCALES, None)
            assert anonymous.status_code == 401
            assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert anonymous.headers["www-authenticate"].startswith("Bearer")

            answered = await graphql(http, service, LOCALES, issued.secret)
            assert answered.status_code == 200
            assert answered.json() == {"data": {"locales": []}}

            metrics = await http.get(f"{service.base_url}/metrics")
            assert metrics.status_code == 200
            assert metrics.headers["content-type"].startswith("text/plain")
            assert "# TYPE pimsync_http_requests_total counter" in metrics.text
            samples = dict(re.findall(r"^(pimsync_http_requests_total\{[^}]*\}) (\S+)$", metrics.text, re.MULTILINE))
            health = 'pimsync_http_requests_total{method="GET",route="/health",status="200"}'
            assert float(samples[health]) >= 2
            assert float(samples['pimsync_http_requests_total{method="POST",route="/graphql",status="401"}']) == 1
            assert float(samples['pimsync_http_requests_total{method="POST",route="/graphql",status="200"}']) == 1
    finally:
        returncode = service.stop(signal.SIGTERM)
    assert returncode in stopped_by(signal.SIGTERM), service.output()
    assert "Application shutdown complete" in service.stderr.read_text(encoding="utf-8")
    await wait_until_gone(embedded_servers(tmp_path / "var"))


def stopped_by(sig: signal.Signals) -> set[int]:
    """The exit status of a process that shut down cleanly on `sig`: 128 + the signal, as a shell reports it (130
    for Ctrl-C, 143 for SIGTERM), so a script or a supervisor tells a stop from a clean finish."""
    return {128 + sig}


async def wait_until_gone(processes: list[psutil.Process]) -> None:
    deadline = time.monotonic() + STOP_SECONDS
    while not gone(processes):
        if time.monotonic() > deadline:
            pytest.fail(f"still running {STOP_SECONDS:.0f} s after the service stopped: {[p.pid for p in processes]}")
        await asyncio.sleep(0.1)


def gone(processes: list[psutil.Process]) -> bool:
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                return False
    return True


async def wait_for_token(service: Service) -> str:
    deadline = time.monotonic() + START_SECONDS
    while (found := TOKEN.search(service.stdout.read_text(encoding="utf-8", errors="replace"))) is None:
        if service.process.poll() is not None:
            pytest.fail(f"exited {service.process.returncode} before printing a token:\n{service.output()}")
        if time.monotonic() > deadline:
            pytest.fail(f"no token printed within {START_SECONDS:.0f} s:\n{service.output()}")
        await asyncio.sleep(0.1)
    return found.group(1)


@pytest.mark.parametrize("interrupt", ["ctrl-c", "sigterm"])
async def test_run_starts_everything_and_an_interrupt_stops_everything(
    interrupt: str, tmp_path: Path, services: list[Service]
) -> None:
    var_dir = tmp_path / "var"
    service = start(tmp_path, ["run"], base_env(PIMSYNC_VAR_DIR=str(var_dir), PIMSYNC_PORT="0"))
    services.append(service)

    token = await wait_for_token(service)
    stdout = service.stdout.read_text(encoding="utf-8")
    assert f"GraphiQL: {await wait_for_address(service)}/graphql" in stdout, "the welcome names the port bound"
    assert "Admin token for the demo tenant 'demo'" in stdout
    async with httpx.AsyncClient(timeout=10) as http:
        await wait_until_healthy(service, http)
        answered = await graphql(http, service, LOCALES, token)
        assert answered.status_code == 200, answered.text
        assert answered.json() == {"data": {"locales": []}}
        assert (await http.get(f"{service.base_url}/ready")).status_code == 200

    assert (var_dir / "pimsync.sqlite3").exists()
    assert (var_dir / "secret.key").stat().st_mode & 0o777 == 0o600
    redis_servers = embedded_servers(var_dir)
    assert len(redis_servers) == 1, "run starts one embedded redis-server under its var dir"
    workers = [
        child for child in psutil.Process(service.process.pid).children() if "worker" in " ".join(child.cmdline())
    ]
    assert len(workers) == 1, "run starts one worker process"

    # The worker `run` started takes jobs from the embedded Redis.
    pool = await queue_pool(Settings(redis_url=f"unix://{var_dir / 'redis.sock'}"))
    try:
        job = await pool.enqueue_job("check_readiness", _job_id=f"run-{uuid.uuid4().hex}")
        assert job is not None
        result = await job.result(timeout=START_SECONDS, poll_delay=0.1)
    finally:
        await pool.aclose()
    assert result["schema_revision"] == head_revision(f"sqlite+aiosqlite:///{var_dir / 'pimsync.sqlite3'}")
    assert result["redis"] == "ok"

    # Ctrl-C: SIGINT to the terminal's whole process group. SIGTERM: to pimsync alone, as `kill` or systemd send it.
    sig = signal.SIGTERM if interrupt == "sigterm" else signal.SIGINT
    returncode = service.stop(sig, group=interrupt == "ctrl-c")
    assert returncode in stopped_by(sig), service.output()
    assert gone(workers), f"the worker outlived `pimsync run`:\n{service.output()}"
    await wait_until_gone(redis_servers)
    assert embedded_servers(var_dir) == []


async def test_run_issues_its_first_token_for_the_tenant_pimsync_demo_tenant_names(
    tmp_path: Path, services: list[Service]
) -> None:
    """`pimsync run --help` names PIMSYNC_DEMO_TENANT: it was read as DEMO_TENANT, so setting it changed nothing."""
    env = base_env(PIMSYNC_VAR_DIR=str(tmp_path / "var"), PIMSYNC_PORT="0", PIMSYNC_DEMO_TENANT="shop")
    env.pop("DEMO_TENANT", None)
    service = start(tmp_path, ["run"], env)
    services.append(service)

    token = await wait_for_token(service)
    assert "Admin token for the demo tenant 'shop'" in service.stdout.read_text(encoding="utf-8"), service.output()
    async with httpx.AsyncClient(timeout=10) as http:
        await wait_until_healthy(service, http)
        answered = await graphql(http, service, LOCALES, token)
    assert answered.json() == {"data": {"locales": []}}, answered.text
    assert service.stop(signal.SIGTERM) in stopped_by(signal.SIGTERM), service.output()
    listed = await asyncio.to_thread(
        subprocess.run, [str(PIMSYNC), "tenants", "list"], env=env, capture_output=True, text=True, check=True
    )
    assert [line.split()[0] for line in listed.stdout.splitlines()] == ["shop"], listed.stdout


async def test_run_on_a_port_in_use_stops_before_starting_anything(tmp_path: Path, services: list[Service]) -> None:
    var_dir = tmp_path / "var"
    with socket.create_server(("127.0.0.1", 0)) as taken:
        env = base_env(PIMSYNC_VAR_DIR=str(var_dir), PIMSYNC_PORT=str(taken.getsockname()[1]))
        service = start(tmp_path, ["run"], env)
        services.append(service)
        returncode = service.process.wait(START_SECONDS)

    assert returncode == 1, "it failed to start; 3 is for rows or products that did not go through"
    said = [line for line in service.stderr.read_text(encoding="utf-8").splitlines() if "error" in line]
    assert len(said) == 1, f"one line says why:\n{service.output()}"
    assert said[0].startswith(f"error cannot listen on 127.0.0.1:{env['PIMSYNC_PORT']}: "), service.output()
    assert "Address already in use" in said[0], service.output()
    assert "PIMSYNC_PORT" in said[0], "it says how to choose another port"
    assert not (var_dir / "pimsync.sqlite3").exists(), "no database is created"
    assert not (var_dir / "secret.key").exists(), "no secret key is made for a service that never started"
    assert embedded_servers(var_dir) == [], "no redis-server is started"
    assert TOKEN.search(service.stdout.read_text(encoding="utf-8")) is None, "no token is issued"


def test_an_api_whose_start_up_fails_exits_1_not_uvicorns_3(caplog: pytest.LogCaptureFixture) -> None:
    """What `serve` and `run` do once the API's own start-up fails (after the set-up they check first answered):
    exit 1, for a command that failed; uvicorn's 3 is pimsync's for rows or products that did not go through."""

    @contextlib.asynccontextmanager
    async def failing(_app: Starlette) -> AsyncIterator[None]:
        raise RuntimeError("the start-up failed")
        yield

    config = uvicorn.Config(Starlette(lifespan=failing), host="127.0.0.1", port=0, log_config=None)
    with (
        config.bind_socket() as listening,
        caplog.at_level(logging.ERROR, logger="uvicorn.error"),
        pytest.raises(typer.Exit) as exited,
    ):
        _serve(uvicorn.Server(config), listening)
    assert exited.value.exit_code == 1
    assert "the start-up failed" in caplog.text, "uvicorn says why"


@pytest.mark.parametrize("command", ["serve", "run"])
@pytest.mark.parametrize(
    ("setting", "said", "exit_code"),
    [
        ({"SECRET_KEYS": "notakey"}, "error SECRET_KEYS entry 1 is not a valid Fernet key", 2),
        ({"REDIS_URL": "redis://127.0.0.1:{closed_port}/0"}, "(check REDIS_URL)", 1),
    ],
)
async def test_a_set_up_mistake_stops_the_api_with_one_line(
    command: str,
    setting: dict[str, str],
    said: str,
    exit_code: int,
    tmp_path: Path,
    services: list[Service],
    migrated_sqlite: Callable[[Path], str],
) -> None:
    """Not uvicorn's traceback of a failed start-up; and an embedded Redis it started does not outlive it."""
    var_dir = tmp_path / "var"
    database_url = migrated_sqlite(tmp_path / "pimsync.sqlite3")
    with closed_port() as port:
        given = {name: value.format(closed_port=port) for name, value in setting.items()}
        env = base_env(PIMSYNC_VAR_DIR=str(var_dir), DATABASE_URL=database_url, ENVIRONMENT="test", **given)
        service = start(tmp_path, [command, "--port", "0"], env)
        services.append(service)
        returncode = service.process.wait(START_SECONDS)

    stderr = service.stderr.read_text(encoding="utf-8")
    assert returncode == exit_code, service.output()
    assert said in stderr.strip().splitlines()[-1], service.output()
    assert "Traceback" not in stderr, service.output()
    assert embedded_servers(var_dir) == [], "no redis-server is left running"


@pytest.mark.parametrize("command", ["serve", "run"])
@pytest.mark.parametrize(
    ("setting", "said"),
    [
        ({"SECRET_KEYS": "notakey"}, "error SECRET_KEYS entry 1 is not a valid Fernet key"),
        ({"ENVIRONMENT": "production"}, "error SECRET_KEYS must be set in production"),
    ],
)
async def test_unusable_secret_keys_stop_the_api_before_it_announces_an_address(
    command: str,
    setting: dict[str, str],
    said: str,
    tmp_path: Path,
    services: list[Service],
    migrated_sqlite: Callable[[Path], str],
) -> None:
    """A malformed or missing SECRET_KEYS is a setting: refused before the socket is bound, so no log says
    "Uvicorn running on ..." ahead of the error (a log watcher took the API for started), and before Redis is
    tried (one that does not answer either was reported instead, with exit 1 after its retries)."""
    database_url = migrated_sqlite(tmp_path / "pimsync.sqlite3")
    with closed_port() as port:
        env = base_env(
            PIMSYNC_VAR_DIR=str(tmp_path / "var"),
            DATABASE_URL=database_url,
            REDIS_URL=f"redis://127.0.0.1:{port}/0",
            ENVIRONMENT="test",
        )
        service = start(tmp_path, [command, "--port", "0"], {**env, **setting})
        services.append(service)
        returncode = service.process.wait(START_SECONDS)

    stderr = service.stderr.read_text(encoding="utf-8")
    assert returncode == 2, service.output()
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(said), service.output()
    assert "Uvicorn running" not in stderr, service.output()


async def test_another_ctrl_c_while_run_waits_for_its_worker_stops_it_at_once(
    tmp_path: Path, services: list[Service]
) -> None:
    """A worker slow to stop (here: one that cannot, stopped with SIGSTOP) holds `run` up to 20 s after Ctrl-C;
    another Ctrl-C kills it at once and says so in one line, and the embedded Redis is stopped all the same."""
    var_dir = tmp_path / "var"
    service = start(tmp_path, ["run"], base_env(PIMSYNC_VAR_DIR=str(var_dir), PIMSYNC_PORT="0"))
    services.append(service)
    await wait_for_token(service)
    [worker] = [
        child for child in psutil.Process(service.process.pid).children() if "worker" in " ".join(child.cmdline())
    ]
    redis_servers = embedded_servers(var_dir)
    worker.suspend()
    service.process.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_SECONDS
    while "Finished server process" not in service.stderr.read_text(encoding="utf-8"):
        assert time.monotonic() < deadline and service.process.poll() is None, service.output()
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    assert service.process.poll() is None, "run waits for its worker"
    returncode = service.stop(signal.SIGINT)

    stderr = service.stderr.read_text(encoding="utf-8")
    assert returncode == 130, service.output()
    assert stderr.strip().splitlines()[-1].startswith("interrupted again: the worker was stopped at once"), stderr
    assert "Traceback" not in stderr, service.output()
    await wait_until_gone([worker, *redis_servers])
