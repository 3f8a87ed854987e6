"""What every command shares: settings, the database, and turning service errors into clean exits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import typer
from rich.console import Console

from app.db.engine import Database
from app.domain.errors import InvalidInput, ServiceError
from app.settings import Settings, load_settings

console = Console()
errors = Console(stderr=True, soft_wrap=True)
Result = TypeVar("Result")


def settings() -> Settings:
    return load_settings()


@asynccontextmanager
async def database() -> AsyncIterator[Database]:
    db = Database(settings().resolved_database_url)
    try:
        yield db
    finally:
        await db.dispose()


def run(work: Callable[[], Awaitable[Result]]) -> Result:
    """Run a command's async body; service errors print a clear message and exit 1, without a traceback."""
    try:
        return asyncio.run(work())  # type: ignore[arg-type]
    except InvalidInput as exc:
        for error in exc.errors:
            where = ".".join(str(part) for part in error.path)
            errors.print(f"[red]error[/red] {where}: {error.message} ({error.code.value})")
        raise typer.Exit(1) from exc
    except (ServiceError, ValueError) as exc:
        errors.print(f"[red]error[/red] {exc}")
        raise typer.Exit(1) from exc
