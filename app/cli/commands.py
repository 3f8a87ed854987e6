"""`pimsync`: run, serve, work, migrate, and manage tokens, the catalog set-up and imports.

Each command imports the server, the worker, the database or Redis it uses when it runs: building the command
tree, all that `pimsync --help` or a malformed option needs, loads none of them, where it took a second or more
(the same in every command module)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from app.cli.catalog import catalog
from app.cli.common import console, database, errors, operator_errors, settings, start_command
from app.cli.common import run as run_async
from app.cli.imports import imports
from app.cli.interrupt import EXIT_INTERRUPTED, interrupted
from app.cli.keys import keys
from app.cli.sync import sync
from app.cli.tokens import tenants, tokens
from app.domain.scopes import ALL_SCOPES

if TYPE_CHECKING:
    import uvicorn

    from app.settings import Settings


class _Commands(TyperGroup):
    """The commands, under which a Ctrl-C no command handles itself ends with one line and exit 130: typer alone
    exits 130 without a word, after whatever the interrupted command had half printed."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            interrupted()


app = typer.Typer(
    cls=_Commands,
    help="pimsync keeps sales channels in step with a multi-locale PIM catalog.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def _every_command() -> None:
    start_command()


app.add_typer(tokens, name="tokens")
app.add_typer(tenants, name="tenants")
app.add_typer(catalog, name="catalog")
app.add_typer(imports, name="import")
app.add_typer(keys, name="keys")
app.command("sync")(sync)

HostOption = Annotated[str | None, typer.Option(help="Address to listen on (default PIMSYNC_HOST or 127.0.0.1).")]
PortOption = Annotated[
    int | None,
    typer.Option(min=0, max=65535, help="Port to listen on (default PIMSYNC_PORT or 8000); 0 takes any free port."),
]


@app.command()
def migrate() -> None:
    """Apply the database migrations (alembic upgrade head), saying from which revision, or that none was needed."""
    from app.db.migrate import upgrade_to_head

    current = settings()
    with operator_errors():
        upgrade = upgrade_to_head(
            current.resolved_database_url, connect_timeout=current.database_connect_timeout_seconds
        )
    if not upgrade.applied:
        console.print(f"Nothing to migrate: the database is already at revision {upgrade.after}, the latest schema.")
    elif upgrade.before is None:
        console.print(f"Migrated a new database to revision {upgrade.after}, the latest schema.")
    else:
        console.print(f"Migrated the database from revision {upgrade.before} to {upgrade.after}, the latest schema.")


def _listen(current: Settings, host: str | None, port: int | None) -> tuple[uvicorn.Server, socket.socket]:
    """The API server and the socket it will serve, already bound, so port 0 ("any free port") has its real
    number before anything announces the address. uvicorn logs "Uvicorn running on http://host:port" here,
    with the bound port; a port in use, one `error` line naming the address, and the command exits 1: it failed to start (uvicorn's own
    exit 3 is pimsync's for rows or products that did not go through)."""
    import uvicorn

    from app.main import create_app
    from app.secrets import check_secret_keys

    with operator_errors():
        # A setting: refused before the socket is bound and its address logged. Checked only: the embedded key file
        # is made once the port is ours (by the services' start), so a port in use leaves no key behind.
        check_secret_keys(current)
    config = uvicorn.Config(
        create_app(current), host=host or current.host, port=current.port if port is None else port, log_config=None
    )
    held = _HeldErrors()
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addFilter(held)
    try:
        listening = config.bind_socket()
    except SystemExit:  # uvicorn's, once it has logged why: the log line held back, said here in the `error` line
        why = "; ".join(held.messages) or "the address cannot be bound"
        errors.print(
            f"[red]error[/red] cannot listen on {config.host}:{config.port}: {escape(why)} "
            "(choose another address with PIMSYNC_HOST and PIMSYNC_PORT, or --host and --port)"
        )
        raise typer.Exit(1) from None
    finally:
        uvicorn_log.removeFilter(held)
    return uvicorn.Server(config), listening


class _HeldErrors(logging.Filter):
    """Holds back the error uvicorn logs when it cannot bind (`[Errno 98] Address already in use`, naming neither
    the address nor what to change), so the command says it in its one `error` line; its "Uvicorn running on"
    line, an info, goes through."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        self.messages.append(record.getMessage())
        return False


async def _services_answer(current: Settings) -> None:
    """Open, once, what the API's start-up opens (the secret keys, Redis): a mistake in them is then one line and
    exit 1, where a failed start-up inside uvicorn is a traceback. The database is not needed to start: /ready
    tells whether it answers."""
    from app.container import open_container

    container = await open_container(current)
    await container.close()


def _serve(server: uvicorn.Server, listening: socket.socket) -> None:
    """Serve until Ctrl-C or SIGTERM, which uvicorn turns into a graceful shutdown (a second Ctrl-C cuts it
    short), then exit 128 + the signal, as a process the signal ended: 130, or 143. An application that fails
    to start exits 1, as any command that failed: uvicorn's 3 is pimsync's for rows or products that did not go
    through.

    Our handler is in place first, so it is the one uvicorn hands the signals back to once it has shut down:
    Python's own made a second Ctrl-C a KeyboardInterrupt inside the server's event loop (uvicorn logged its
    traceback), and SIGTERM ended the process outright, with no `finally` to stop `run`'s worker."""
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)
        server.should_exit = True  # one before uvicorn put its own handlers in place stops it all the same

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with contextlib.suppress(SystemExit):  # uvicorn's exit 3 once the application's startup failed
            server.run(sockets=[listening])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise typer.Exit(128 + received[0])
    if not server.started:  # the application's startup failed; uvicorn has logged why
        raise typer.Exit(1)


@app.command()
def serve(host: HostOption = None, port: PortOption = None) -> None:
    """Serve the GraphQL API, channels' webhooks and the /health, /ready and /metrics endpoints with uvicorn.

    A worker (`pimsync worker`) runs the syncs and webhook deliveries they queue."""
    current = settings()
    server, listening = _listen(current, host, port)
    run_async(lambda: _services_answer(current))
    _serve(server, listening)


async def _redis_answers(current: Settings) -> None:
    """Wait for Redis with arq's own tries, each said in the log, then exit 1 with one line if it never answers.
    The worker's own connections ride out an outage (arq_redis_settings), which at start-up would be half a minute
    of silence a try before a Redis that is not there is reported."""
    from app.container import queue_pool

    pool = await queue_pool(current)
    await pool.aclose()


CheckOption = Annotated[
    bool,
    typer.Option(
        "--check",
        help="Start nothing: exit 0 if the worker on this host is polling its queue (a liveness probe), else 1.",
    ),
]


async def _worker_health(current: Settings, key: str) -> str | None:
    """What the worker last wrote under its health key; None when it wrote nothing lately. One try: a probe
    answers at once, and starts no embedded Redis."""
    from redis.asyncio import Redis

    client = Redis.from_url(current.redis_url or f"unix://{current.embedded_redis_socket}", socket_connect_timeout=2)
    try:
        found = await client.get(key)
    finally:
        await client.aclose()
    return found.decode() if found else None


def _check_worker(current: Settings) -> None:
    from workers.health import HEALTH_CHECK_SECONDS, health_key

    found = run_async(lambda: _worker_health(current, health_key(current.queue_name)))
    if found is None:
        errors.print(
            f"[red]error[/red] no worker on {socket.gethostname()} has polled the queue {current.queue_name} "
            f"in the last {HEALTH_CHECK_SECONDS + 1} s"
        )
        raise typer.Exit(1)
    console.print(f"worker on {socket.gethostname()} polling {current.queue_name}: {found}")


@app.command()
def worker(check: CheckOption = False) -> None:
    """Run a worker: sync jobs, channel webhooks, conflict resolutions and scheduled syncs.

    It refuses to start on a database that needs `pimsync migrate`."""
    current = settings()
    if check:
        _check_worker(current)
        return
    from app.container import arq_redis_settings
    from app.embedded_redis import stop_embedded_redis
    from app.secrets import load_cipher
    from workers.health import health_key
    from workers.settings import CannotStart, WorkerSettings, periodic_tasks
    from workers.worker import run_worker

    try:
        with operator_errors():
            load_cipher(current)  # a setting: refused before Redis is tried or arq says it is starting
        run_async(lambda: _redis_answers(current))
        with operator_errors():
            run_worker(
                WorkerSettings,
                redis_settings=arq_redis_settings(current, ride_out_outages=True),
                queue_name=current.queue_name,
                cron_jobs=periodic_tasks(current.queue_name),
                health_check_key=health_key(current.queue_name),
                poll_delay=current.worker_poll_seconds,
            )
    except CannotStart as exc:
        errors.print(f"[red]error[/red] {exc}")
        raise typer.Exit(1) from None
    finally:
        stop_embedded_redis()


async def _demo_token(tenant_code: str) -> str | None:
    """An admin token for the demo tenant on first start; None when one was issued before."""
    from app.services.tokens import TokenService

    async with database() as db, db.transaction() as session:
        service = TokenService(session)
        tenant, _ = await service.ensure_tenant(tenant_code)
        if await service.tokens.list_for_tenant(tenant.id):
            return None
        issued = await service.issue(tenant_code=tenant_code, scopes=list(ALL_SCOPES), name="demo admin")
        return issued.secret


def _welcome(token: str | None, host: str, port: int, tenant: str) -> None:
    url = f"http://{host}:{port}/graphql"
    console.print(f"\n[bold]pimsync is starting[/bold]. GraphiQL: {url} (put the token in the headers pane)")
    if token is None:
        console.print(f"A token for tenant '{tenant}' was issued on first start; make another with:")
        console.print(f"  pimsync tokens create --tenant {tenant} --scopes all")
        return
    console.print(f"Admin token for the demo tenant '{tenant}' (shown once, keep it):")
    print(f"\n  {token}\n", flush=True)
    console.print("Try it:")
    query = '{"query": "{ locales { code name nativeName rtl } }"}'
    auth = f"-H 'Authorization: Bearer {token}' -H 'Content-Type: application/json'"
    print(f"  curl -s {url} {auth} -d '{query}'\n", flush=True)


@app.command("run")
def run_all(host: HostOption = None, port: PortOption = None) -> None:
    """Start everything on one machine: the migrations, Redis, a worker and the API.

    Redis is an embedded server unless REDIS_URL is set. On first start, it
    prints an admin token for the demo tenant (PIMSYNC_DEMO_TENANT).
    """
    from app.db.migrate import upgrade_to_head
    from app.embedded_redis import redis_url, stop_embedded_redis

    current = settings()
    server, listening = _listen(current, host, port)  # first: a port in use stops `run` before it starts anything
    with listening:  # closed too when a step below refuses to start
        with operator_errors():
            upgrade_to_head(current.resolved_database_url, connect_timeout=current.database_connect_timeout_seconds)
        run_async(lambda: _services_answer(current))
        url = redis_url(current)
        token = run_async(lambda: _demo_token(current.demo_tenant))
        _welcome(token, server.config.host, listening.getsockname()[1], current.demo_tenant)
        env = {**os.environ, "REDIS_URL": url}
        worker_process = subprocess.Popen([sys.executable, "-m", "app.cli", "worker"], env=env)
        try:
            _serve(server, listening)
        finally:
            try:
                _stop_worker(worker_process, within=current.worker_stop_seconds)
            finally:
                stop_embedded_redis()


STOPPED_WORKER_AT_ONCE = (
    "interrupted again: the worker was stopped at once; a sync chunk it was running is taken up by the next "
    "worker once its lease ends"
)


def _stop_worker(worker: subprocess.Popen[bytes], *, within: float) -> None:
    """SIGTERM, then `within` seconds (PIMSYNC_WORKER_STOP_SECONDS) for the jobs in flight to end; past it, or on
    another Ctrl-C, the worker is killed: what it held is picked up again by the next worker, as a crashed worker's is."""
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(timeout=within)
    except subprocess.TimeoutExpired:
        worker.kill()
    except KeyboardInterrupt:
        worker.kill()
        errors.print(STOPPED_WORKER_AT_ONCE)
        raise typer.Exit(EXIT_INTERRUPTED) from None
