"""`pimsync import ...`: stream JSON Lines or Akeneo CSV files into a tenant's catalog."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from app.cli.common import console, database, errors, run
from app.services.importing.importer import Importer, ImportReport, Rejection
from app.services.importing.sources import UnsupportedFile

imports = typer.Typer(help="Import attributes or products from JSON Lines or Akeneo CSV files.", no_args_is_help=True)

TenantOption = Annotated[str, typer.Option("--tenant", help="Tenant code.")]
FileArgument = Annotated[
    Path,
    typer.Argument(exists=True, dir_okay=False, readable=True, help=".jsonl (one input per line) or .csv (Akeneo)"),
]
RejectsOption = Annotated[
    Path | None, typer.Option("--rejects", help="Write every rejected row, with its reasons, to this JSON Lines file.")
]
SHOWN_REJECTIONS = 20


def _import(path: Path, rejects: Path | None, start: Callable[[Importer], Awaitable[ImportReport]], what: str) -> None:
    if rejects is not None and not rejects.parent.is_dir():
        errors.print(f"[red]error[/red] --rejects: the directory {rejects.parent} does not exist")
        raise typer.Exit(2)
    sink: TextIO | None = rejects.open("w", encoding="utf-8") if rejects else None

    def on_reject(rejection: Rejection) -> None:
        if sink is not None:
            sink.write(json.dumps({"line": rejection.line, "reasons": rejection.reasons}, ensure_ascii=False) + "\n")

    size = path.stat().st_size

    async def work() -> ImportReport:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(f"importing {path.name}", total=size)
            async with database() as db:
                importer = Importer(db, on_reject=on_reject, progress=lambda n: progress.advance(task, n))
                try:
                    return await start(importer)
                except UnsupportedFile as exc:
                    raise ValueError(str(exc)) from exc

    try:
        report = run(work)
    finally:
        if sink is not None:
            sink.close()
    _summary(report, what, rejects)
    if report.rejected:
        raise typer.Exit(3)


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


@imports.command("attributes")
def attributes(tenant: TenantOption, file: FileArgument, rejects: RejectsOption = None) -> None:
    """Import attributes (AttributeInput lines, or Akeneo's attributes.csv). Exit 3 if any row was rejected."""
    _import(file, rejects, lambda importer: importer.attributes(tenant, file), "attributes")


@imports.command("products")
def products(tenant: TenantOption, file: FileArgument, rejects: RejectsOption = None) -> None:
    """Import products (ProductInput lines, or Akeneo's products.csv). Exit 3 if any row was rejected."""
    _import(file, rejects, lambda importer: importer.products(tenant, file), "products")
