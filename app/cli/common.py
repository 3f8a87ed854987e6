"""What every command shares: settings, the database, and turning service errors into clean exits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TypeVar

import typer
from pydantic import ValidationError
from redis.exceptions import RedisError
from rich.console import Console
from rich.markup import escape
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import DBAPIError

from app.db.engine import Database
from app.db.migrate import head_revision
from app.domain.errors import InvalidInput, ServiceError
from app.secrets import SecretKeysInvalid
from app.settings import Settings, load_settings

console = Console()
errors = Console(stderr=True, soft_wrap=True)
Result = TypeVar("Result")


class DatabaseNotMigrated(Exception):
    """The database is not at the schema this code expects: `pimsync migrate` brings it there."""


def settings() -> Settings:
    """The environment's settings; a malformed variable is a one-line error naming it (exit 1)."""
    with operator_errors():
        return load_settings()


@asynccontextmanager
async def database() -> AsyncIterator[Database]:
    db = Database(settings().resolved_database_url)
    try:
        await require_current_schema(db)
        yield db
    finally:
        await db.dispose()


async def require_current_schema(db: Database) -> None:
    """A command on a database never migrated, or migrated by older code, would fail on a missing table."""
    async with db.reader() as session:
        connection = await session.connection()
        current = await connection.run_sync(_revision)
    expected = head_revision(db.url)
    if current != expected:
        found = f"is at revision {current}" if current else "was never migrated"
        raise DatabaseNotMigrated(f"the database {found}, this pimsync expects {expected}: run `pimsync migrate`")


def _revision(connection: Connection) -> str | None:
    """As ReadinessService reads it (alembic's MigrationContext would log to the command's output)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    revision = connection.scalar(text("SELECT version_num FROM alembic_version"))
    return None if revision is None else str(revision)


def run(work: Callable[[], Awaitable[Result]]) -> Result:
    """Run a command's async body; service errors print a clear message and exit 1, without a traceback."""
    with operator_errors():
        return asyncio.run(work())  # type: ignore[arg-type]


@contextmanager
def operator_errors() -> Iterator[None]:
    """Bad input and a set-up to fix (a setting, a database or Redis that does not answer, a schema to migrate)
    print one line and exit 1: an operator has nothing to learn from a traceback of them."""
    try:
        yield
    except InvalidInput as exc:
        for error in exc.errors:
            where = ".".join(str(part) for part in error.path)
            errors.print(f"[red]error[/red] {where}: {error.message} ({error.code.value})")
        raise typer.Exit(1) from exc
    except ValidationError as exc:  # the settings: name the variable, not pydantic's model
        for problem in exc.errors():
            variable = ".".join(str(part) for part in problem["loc"]).upper()
            message = problem["msg"].removeprefix("Value error, ")  # a validator's own message says it all
            errors.print(f"[red]error[/red] {escape(variable)}: {escape(message)}")
        raise typer.Exit(1) from exc
    except (ServiceError, ValueError, DatabaseNotMigrated, SecretKeysInvalid) as exc:
        errors.print(f"[red]error[/red] {exc}")
        raise typer.Exit(1) from exc
    except DBAPIError as exc:
        if exc.statement is not None:  # a statement that failed is a fault of the code, with its traceback
            raise
        errors.print(f"[red]error[/red] the database refused the connection: {exc.orig} (check DATABASE_URL)")
        raise typer.Exit(1) from exc
    except (RedisError, OSError) as exc:  # a service that does not answer: a setting to fix, not a bug
        errors.print(f"[red]error[/red] {type(exc).__name__}: {exc} (check DATABASE_URL and REDIS_URL)")
        raise typer.Exit(1) from exc
