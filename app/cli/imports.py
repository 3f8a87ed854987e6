"""`pimsync import ...`: stream JSON Lines or Akeneo CSV files into a tenant's catalog."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer
from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from app.cli.common import (
    EXIT_UNUSABLE,
    TenantOption,
    UnusableInput,
    console,
    ctrl_c_stops,
    database,
    errors,
    progress_bar,
    run,
)
from app.cli.interrupt import EXIT_INTERRUPTED

if TYPE_CHECKING:
    from app.services.importing.importer import Importer, ImportReport, Rejection

imports = typer.Typer(help="Import attributes or products from JSON Lines or Akeneo CSV files.", no_args_is_help=True)

FileArgument = Annotated[
    Path,
    typer.Argument(
        metavar="FILE",
        exists=True,
        dir_okay=False,
        readable=True,
        help=".jsonl, .ndjson or .json: JSON Lines, one input per line; .csv: Akeneo's ;-separated export.",
    ),
]
RejectsOption = Annotated[
    Path | None, typer.Option("--rejects", help="Write every rejected row, with its reasons, to this JSON Lines file.")
]
SHOWN_REJECTIONS = 20
STOPPED_AT_ONCE = (
    "interrupted: stopped at once; each batch of rows is imported whole or not at all: run the import again to "
    "finish it (the rows already imported come out unchanged)"
)


def _import(
    path: Path, rejects: Path | None, start: Callable[[Importer], Awaitable[ImportReport]], what: str, key: str
) -> None:
    if rejects is not None and not rejects.parent.is_dir():
        errors.print(f"[red]error[/red] --rejects: the directory {rejects.parent} does not exist")
        raise typer.Exit(EXIT_UNUSABLE)
    if rejects is not None and rejects.exists() and rejects.samefile(path):
        errors.print("[red]error[/red] --rejects: it is the file being imported, which writing it would empty")
        raise typer.Exit(EXIT_UNUSABLE)
    sink = _rejects_file(rejects) if rejects is not None else None

    def on_reject(rejection: Rejection) -> None:
        if sink is not None:
            sink.write(json.dumps({"line": rejection.line, "reasons": rejection.reasons}, ensure_ascii=False) + "\n")

    size = path.stat().st_size
    try:
        report = run(lambda: _read_into_catalog(path, size, start, on_reject))
    except KeyboardInterrupt:  # asyncio's own, in the instants before or after the import
        errors.print(STOPPED_AT_ONCE)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        if sink is not None:
            sink.close()
    if report.stopped:
        errors.print(_interrupted(report, path, what))
        raise typer.Exit(EXIT_INTERRUPTED)
    _summary(report, what, rejects)
    _repeats(report, key)
    if report.rejected:
        raise typer.Exit(3)


def _rejects_file(rejects: Path) -> TextIO:
    """The --rejects file, opened before anything is imported: one that cannot be written (a folder, no
    permission) is a one-line error, not a traceback."""
    try:
        return rejects.open("w", encoding="utf-8")
    except OSError as exc:
        errors.print(f"[red]error[/red] --rejects: {rejects} cannot be written to ({exc.strerror})")
        raise typer.Exit(EXIT_UNUSABLE) from None


async def _read_into_catalog(
    path: Path, size: int, start: Callable[[Importer], Awaitable[ImportReport]], on_reject: Callable[[Rejection], None]
) -> ImportReport:
    """The import, under a progress bar over the file's bytes; a first Ctrl-C ends it after the batch in flight.

    The importer is imported here, when a command runs: building the command tree (`pimsync --help`) loads none
    of it."""
    from app.services.importing.importer import Importer
    from app.services.importing.sources import UnsupportedFile

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with progress_bar(*columns, TimeRemainingColumn()) as bar, ctrl_c_stops(lambda: STOPPED_AT_ONCE) as stop:
        task = bar.add_task(f"importing {path.name}", total=size)
        async with database() as db:
            importer = Importer(db, on_reject=on_reject, progress=lambda n: bar.advance(task, n), stop=stop)
            try:
                return await start(importer)
            except UnsupportedFile as exc:  # refused before a row was written
                raise UnusableInput(str(exc)) from exc


def _interrupted(report: ImportReport, path: Path, what: str) -> str:
    if not report.written_through:
        return f"interrupted: nothing of {path.name} was imported"
    return (
        f"interrupted: {path.name} was imported up to line {report.written_through} ({report.imported:,} {what}); "
        "nothing after it was"
    )


def _summary(report: ImportReport, what: str, rejects: Path | None) -> None:
    unchanged = report.imported - report.changed
    console.print(f"Imported {report.imported:,} {what} ({report.changed:,} changed, {unchanged:,} unchanged).")
    console.print(f"Rejected {report.rejected:,}.")
    if report.unread:
        errors.print(f"[yellow]warning[/yellow] the file was not read to its end: {report.unread}")
    if report.skipped_columns:
        console.print("Skipped columns (nothing in them was imported):")
        for column, why in report.skipped_columns.items():
            console.print(f"  {column}: {why}")
    for rejection in report.rejections[:SHOWN_REJECTIONS]:
        errors.print(f"line {rejection.line}: " + "; ".join(rejection.reasons))
    if report.rejected > SHOWN_REJECTIONS:
        more = f"... and {report.rejected - SHOWN_REJECTIONS:,} more"
        errors.print(more + (f" (all in {rejects})" if rejects else " (use --rejects FILE to keep them all)"))


def _repeats(report: ImportReport, key: str) -> None:
    """Rows that named a SKU (or code) an earlier row had named: not refused, but a file that says one product
    twice is most often a mistake, so each is named."""
    if not report.repeated:
        return
    console.print(f"Repeated {report.repeated:,} (a {key} an earlier row had: applied over it, counted once):")
    for repeat in report.repeats[:SHOWN_REJECTIONS]:
        console.print(f"  line {repeat.line}: {repeat.key} (first on line {repeat.first_line})")
    if report.repeated > SHOWN_REJECTIONS:
        console.print(f"  ... and {report.repeated - SHOWN_REJECTIONS:,} more")


@imports.command("attributes")
def attributes(tenant: TenantOption, file: FileArgument, rejects: RejectsOption = None) -> None:
    """Import attributes (AttributeInput lines, or Akeneo's attributes.csv). Exit 3 if any row was rejected."""
    _import(file, rejects, lambda importer: importer.attributes(tenant, file), "attributes", "code")


@imports.command("products")
def products(tenant: TenantOption, file: FileArgument, rejects: RejectsOption = None) -> None:
    """Import products (ProductInput lines, or Akeneo's products.csv). Exit 3 if any row was rejected."""
    _import(file, rejects, lambda importer: importer.products(tenant, file), "products", "SKU")
