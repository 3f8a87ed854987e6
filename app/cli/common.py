"""What every command shares: settings, the database, and turning service errors into clean exits.

What reads the settings or opens the database (pydantic-settings, SQLAlchemy, alembic's scripts, Redis's client)
is imported by the function that needs it: `pimsync --help`, or an option out of range, imports this module and
answers at once, where loading them all took a second or more."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, TypeVar
from urllib.parse import urlsplit

import typer
from rich.console import Console, ConsoleDimensions
from rich.markup import escape
from rich.progress import Progress, ProgressColumn

from app.cli.interrupt import EXIT_INTERRUPTED
from app.domain.errors import InvalidInput, NotFound, Path, ServiceError, TenantNotFound
from app.domain.storable import echoed

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.db.engine import Database
    from app.settings import Settings

UNWRAPPED_WIDTH = 100_000
"""The width output read by a script is laid out at: wider than any line a command prints, so none is wrapped."""


class _Output(Console):
    """The commands' output: laid out for the terminal it is shown on, unwrapped where it is not one (a pipe, a
    file). rich lays out any output at a terminal's width, and a pipe's at COLUMNS or 80: a script reading
    `pimsync tokens list | ...` got a token's scopes folded over a dozen rows of the table, and a line such as
    `worker --check`'s cut in two."""

    @property
    def size(self) -> ConsoleDimensions:
        measured = super().size
        return measured if self.is_terminal else ConsoleDimensions(UNWRAPPED_WIDTH, measured.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self.width, self.height = new_size


console = _Output()
errors = Console(stderr=True, soft_wrap=True)
Result = TypeVar("Result")
TenantOption = Annotated[
    str, typer.Option("--tenant", help="The tenant's code (`pimsync tenants list` lists them).", show_default=False)
]
EXIT_UNUSABLE = 2
"""As click's exit for a malformed command line: what the command was given (its arguments, options, files or
environment) cannot be used; nothing was tried. Exit 1 is for what was tried and failed or was refused."""


def progress_bar(*columns: ProgressColumn | str) -> Progress:
    """A progress bar on the terminal, gone once done; none where the output is not a terminal (a pipe, a log
    file), where rich would leave a blank line in its place, before the summary or the error a script reads."""
    return Progress(*columns, console=console, transient=True, disable=not console.is_interactive)


@dataclass
class _Reading:
    """The settings one command run has read, once it needed them."""

    settings: Settings | None = None


_reading: ContextVar[_Reading] = ContextVar("pimsync_settings_reading")


class UnusableInput(Exception):
    """What a command was given cannot be used, for a reason its command says (exit 2): nothing was tried."""


def settings() -> Settings:
    """The environment's settings, read once per command and only by a command that needs them: `keys generate`
    works whatever the environment holds. The first read also sends the command's log lines (a service's,
    alembic's) to stderr as LOG_LEVEL and LOG_JSON say, as the server's go, never into the output a script reads.
    A malformed variable is one line naming it and what is wrong (exit 2)."""
    from pydantic import ValidationError

    from app.logging import configure_logging
    from app.settings import load_settings

    reading = _reading.get()  # the object itself: a first read inside asyncio.run's copied context is shared
    if reading.settings is None:
        try:
            loaded = load_settings()
        except ValidationError as exc:
            for problem in exc.errors():
                errors.print(f"[red]error[/red] {escape(_setting_problem(problem['loc'], problem['msg']))}")
            raise typer.Exit(EXIT_UNUSABLE) from None
        configure_logging(loaded)
        reading.settings = loaded
    return reading.settings


def start_command() -> None:
    """Before each command: it reads the settings afresh (a test runs many commands in one process)."""
    _reading.set(_Reading())


def _setting_problem(location: tuple[int | str, ...], message: str) -> str:
    """`VARIABLE: what is wrong`, the variable named once: a validator's own message already starts with it."""
    variable = ".".join(str(part) for part in location).upper()
    message = message.removeprefix("Value error, ")
    return message if message.startswith(variable) else f"{variable}: {message}"


@asynccontextmanager
async def database() -> AsyncIterator[Database]:
    from app.db.engine import Database
    from app.db.migrate import require_file

    current = settings()
    url = current.resolved_database_url
    require_file(url)
    db = Database(url, connect_timeout=current.database_connect_timeout_seconds)
    try:
        await require_current_schema(db)
        yield db
    finally:
        await db.dispose()


async def require_current_schema(db: Database) -> None:
    """A command on a database never migrated, or migrated by older code, would fail on a missing table; on one a
    newer release migrated, it could write what that release no longer reads."""
    from app.db.migrate import require_current

    async with db.reader() as session:
        connection = await session.connection()
        require_current(await connection.run_sync(_revision))


def _revision(connection: Connection) -> str | None:
    """As ReadinessService reads it (alembic's MigrationContext would log to the command's output)."""
    from sqlalchemy import inspect, text

    if not inspect(connection).has_table("alembic_version"):
        return None
    revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
    return None if revision is None else str(revision)


async def tenant_id(session: AsyncSession, code: str) -> int:
    """The id of the tenant a command's --tenant names; TenantNotFound, said as every command says it, if none."""
    from app.repositories.tenants import TenantRepository

    tenant = await TenantRepository(session).by_code(code)
    if tenant is None:
        raise TenantNotFound(code)
    return tenant.id


def no_tenant(code: str) -> str:
    """What every command says of a --tenant no tenant has: how to find the right code, or make the tenant."""
    return (
        f"no tenant '{echoed(code)}' (`pimsync tenants list` lists them; "
        f"`pimsync tokens create --tenant {echoed(code)} --scopes all` creates it with its first token)"
    )


def run(work: Callable[[], Awaitable[Result]], terms: Mapping[str, str] | None = None) -> Result:
    """Run a command's async body; service errors print a clear message and exit 2 or 1 (operator_errors)."""
    with operator_errors(terms):
        return asyncio.run(work())  # type: ignore[arg-type]


@contextmanager
def ctrl_c_stops(at_once: Callable[[], str]) -> Iterator[asyncio.Event]:
    """A first Ctrl-C sets the event: the command stops where it can stop cleanly (an import after the batch in
    flight, `sync` once the look at its job in flight is done). asyncio's own Ctrl-C cancelled the command wherever
    it was, a database call's clean-up included, and SQLAlchemy logged that cancelled clean-up with a traceback.
    A second one ends the process at once, saying `at_once()`, without the clean-up a database that does not
    answer would hold up: a transaction not committed is the database's to drop."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield stop  # signals reach the main thread only; an ignored Ctrl-C (a shell's background job) stays so
        return

    def on_ctrl_c() -> None:
        if stop.is_set():
            errors.print(at_once())
            os._exit(EXIT_INTERRUPTED)
        stop.set()

    loop.add_signal_handler(signal.SIGINT, on_ctrl_c)
    try:
        yield stop
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        signal.signal(signal.SIGINT, previous)


def _where(path: Path, terms: Mapping[str, str]) -> str:
    """Where in the input a problem is, in the command's own terms: `terms` names the argument or option that
    fills an API input field (`connectorCode` is CONNECTOR); the rest of the path, an index into a list the
    command took, is dropped, as the message names the value. A field no term names keeps the API's path."""
    for length in range(len(path), 0, -1):
        named = terms.get(".".join(str(part) for part in path[:length]))
        if named is not None:
            return named
    return ".".join(str(part) for part in path)


@contextmanager
def operator_errors(terms: Mapping[str, str] | None = None) -> Iterator[None]:
    """One line, no traceback, for what an operator has nothing to learn from a traceback of: what the command
    was given that cannot be used (bad input, a tenant or object that does not exist, a malformed SECRET_KEYS)
    exits 2, as a malformed option or setting; what was refused as things stand (a sync already running) and a
    set-up to fix (a database or Redis that does not answer, a schema to migrate) exit 1."""
    from redis.exceptions import RedisError
    from sqlalchemy.exc import DBAPIError

    from app.db.engine import silent_database
    from app.db.migrate import SchemaNotCurrent
    from app.secrets import SecretKeysInvalid

    try:
        yield
    except InvalidInput as exc:
        for error in exc.errors:
            where = _where(error.path, terms or {})
            said = f"{where}: {error.message}" if where else error.message
            errors.print(f"[red]error[/red] {escape(said)} ({error.code.value})")
        raise typer.Exit(1 if exc.refused_by_state else EXIT_UNUSABLE) from exc
    except TenantNotFound as exc:
        errors.print(f"[red]error[/red] {escape(no_tenant(exc.tenant_code))}")
        raise typer.Exit(EXIT_UNUSABLE) from exc
    except (NotFound, UnusableInput, SecretKeysInvalid) as exc:  # the keys: a setting, read where first needed
        errors.print(f"[red]error[/red] {escape(str(exc))}")
        raise typer.Exit(EXIT_UNUSABLE) from exc
    except (ServiceError, ValueError, SchemaNotCurrent) as exc:
        errors.print(f"[red]error[/red] {exc}")
        raise typer.Exit(1) from exc
    except DBAPIError as exc:
        if exc.statement is not None:  # a statement that failed is a fault of the code, with its traceback
            raise
        errors.print(f"[red]error[/red] the database refused the connection: {exc.orig} (check DATABASE_URL)")
        raise typer.Exit(1) from exc
    except RedisError as exc:  # Redis does not answer: a setting to fix, not a bug
        errors.print(f"[red]error[/red] Redis {type(exc).__name__}: {exc} (check REDIS_URL)")
        raise typer.Exit(1) from exc
    except TimeoutError as exc:  # a connection hung past its timeout: asyncpg's (Redis's are RedisError)
        errors.print(f"[red]error[/red] {silent_database(settings())}")
        raise typer.Exit(1) from exc
    except OSError as exc:  # the database or Redis does not answer: which one, the address it names may tell
        errors.print(f"[red]error[/red] {type(exc).__name__}: {exc} (check {_setting_reached(exc)})")
        raise typer.Exit(1) from exc


_ADDRESS = re.compile(r"\('([^']*)', (\d+)")
"""An address as asyncio's socket errors give it: `Connect call failed ('127.0.0.1', 5432)`."""


def _setting_reached(exc: OSError) -> str:
    """The setting whose address a socket error names: the one whose port it is (and host, if both have that
    port). An error naming none (a name that does not resolve, a socket file) or either names both."""
    from sqlalchemy.engine import make_url

    reading = _reading.get(None)
    current = reading.settings if reading is not None else None
    named = {(host, int(port)) for host, port in _ADDRESS.findall(str(exc))}
    if current is None or not named:
        return "DATABASE_URL and REDIS_URL"
    database = make_url(current.resolved_database_url)
    redis = urlsplit(current.redis_url or "unix:")
    reached = {
        "DATABASE_URL": (database.host, database.port or DEFAULT_PORTS.get(database.get_backend_name())),
        "REDIS_URL": (redis.hostname, redis.port or (6379 if redis.hostname else None)),
    }
    by_port = [name for name, (_, port) in reached.items() if any(port == found for _, found in named)]
    if len(by_port) > 1:
        by_port = [name for name in by_port if reached[name] in named]
    return by_port[0] if len(by_port) == 1 else "DATABASE_URL and REDIS_URL"


DEFAULT_PORTS = {"postgresql": 5432}
"""A database URL's port when it gives none, by backend (SQLite has none)."""
