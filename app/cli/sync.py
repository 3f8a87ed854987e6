"""`pimsync sync CONNECTOR`: start a sync and follow it with a progress bar until it ends.

The container and the sync services are imported when the command runs: building the command tree (`pimsync
--help`) loads none of them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

from app.cli.common import (
    TenantOption,
    console,
    ctrl_c_stops,
    errors,
    progress_bar,
    require_current_schema,
    run,
    settings,
    tenant_id,
)
from app.cli.interrupt import EXIT_INTERRUPTED
from app.domain.connectors import SyncType

if TYPE_CHECKING:
    from app.db.models import SyncJob
    from app.services.sync.jobs import SyncJobService

WAITING_HINT_AFTER = 5.0
EXIT_FAILED_PRODUCTS = 3
TERMS = {"connectorCode": "CONNECTOR", "input.productSkus": "--sku"}
"""triggerSync's input fields as this command names them, for its errors."""


def sync(
    connector: Annotated[str, typer.Argument(metavar="CONNECTOR", help="The connector's code.")],
    tenant: TenantOption,
    sync_type: Annotated[
        SyncType,
        typer.Option(
            "--type",
            case_sensitive=False,
            help="FULL (every product), INCREMENTAL (what changed since the last sync) or SINGLE (the --sku "
            "products); any case.",
        ),
    ] = SyncType.INCREMENTAL,
    skus: Annotated[list[str] | None, typer.Option("--sku", help="Only this product (repeat for several).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Record what would change; send nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Send even what is unchanged since the last sync.")] = False,
) -> None:
    """Start a sync of CONNECTOR and show its progress; a worker (`pimsync worker` or `pimsync run`) runs it.

    Exits 0 when every product went through, 3 when some failed and others
    went through (the job's errors list them), 1 when the job failed (as a
    whole, or on every product it went through; a dry run, when every product
    would fail) or was cancelled or could not
    start as things stand (a sync of CONNECTOR already running, CONNECTOR
    paused), 2 when what it was given cannot be used (an unknown tenant,
    connector or SKU), 130 on Ctrl-C (which stops following the job, not the
    job; a job that had ended by then ends the command as its end would).
    """
    from app.container import open_container
    from app.domain.sync import SyncJobStatus, SyncPriority
    from app.services.sync.jobs import SyncJobService, SyncRequest

    if sync_type is SyncType.SINGLE and not skus:
        raise typer.BadParameter(
            "a SINGLE sync names its products: give --sku (repeat it for several)", param_hint="--type"
        )
    current = settings()
    request = SyncRequest(
        sync_type=SyncType.SINGLE if skus and sync_type is not SyncType.FULL else sync_type,
        product_skus=tuple(skus) if skus else None,
        force_resync=force,
        priority=SyncPriority.HIGH,
        dry_run=dry_run,
    )

    started: list[SyncJob] = []
    ended: list[SyncJob] = []
    """The job once followed to its end: a Ctrl-C in the instants after that still ends with the job's end."""

    async def work() -> SyncJob | None:
        with ctrl_c_stops(lambda: _stopped_following(started)) as stop:
            container = await open_container(current)
            try:
                await require_current_schema(container.db)
                async with container.db.reader() as session:
                    service = SyncJobService(container, await tenant_id(session, tenant))
                if stop.is_set():  # before the job: none is started
                    return None
                triggered = await service.trigger(connector, request, source="cli")
                started.append(triggered.job)
                job = await _follow(container.redis, service, triggered.job, stop)
                if job is not None:
                    ended.append(job)
                return job
            finally:
                await container.close()

    try:
        job = run(work, TERMS)
    except KeyboardInterrupt:  # asyncio's own, in the instants before or after the command's work
        job = ended[0] if ended else None
    if job is None:
        if started:  # only the following stops: the job is the workers' and goes on
            errors.print(_stopped_following(started))
        raise typer.Exit(EXIT_INTERRUPTED)
    # Each product counts once, in one of these: the line adds up to the job's size. One line, never wrapped at
    # the terminal's width, for a script to read the job's id and counts from.
    held = f"{job.conflicted_products} held in conflict, " if job.conflicted_products else ""
    console.print(
        f"Job {_api_id(job)} {job.status}: {job.synced_products} synced, {job.skipped_products} unchanged, "
        f"{held}{job.failed_products} failed of {job.total_products}.",
        soft_wrap=True,
    )
    if job.failure:
        errors.print(f"[red]error[/red] {job.failure}")
    if job.status != SyncJobStatus.COMPLETED:
        raise typer.Exit(1)
    if _every_product_would_fail(job):
        errors.print(f"[red]error[/red] {_would_fail(job.failed_products)}: the job's errors say why (a dry run)")
        raise typer.Exit(1)
    if job.failed_products:
        raise typer.Exit(EXIT_FAILED_PRODUCTS)


def _every_product_would_fail(job: SyncJob) -> bool:
    """A dry run ends COMPLETED whatever it found out (domain.sync.every_product_failed), but exits as its real run
    would: one failing every product is exit 1, not exit 3, which says some went through."""
    from app.domain.sync import every_product_failed

    return job.dry_run and every_product_failed(
        synced=job.synced_products,
        failed=job.failed_products,
        skipped=job.skipped_products,
        conflicted=job.conflicted_products,
        dry_run=False,
    )


def _would_fail(products: int) -> str:
    return "the job's only product would fail" if products == 1 else f"all {products} products would fail"


def _stopped_following(started: list[SyncJob]) -> str:
    """What Ctrl-C ends the command with; before the job was started (a second Ctrl-C can come while it is being
    started), that it was interrupted, as any command says it."""
    if not started:
        return "interrupted"
    return f"Stopped following job {_api_id(started[0])}; it goes on. Stop it with cancelSyncJob if it should not."


def _api_id(job: SyncJob) -> str:
    """The id `syncJob`, `cancelSyncJob` and `retrySyncJob` take: the database's own number names nothing there.

    Imported here, not with the module: importing the API package builds its schema, which reads the settings,
    and a malformed setting must stay `pimsync`'s one-line error (checked when a command first needs them)."""
    from graphql_schema.relay import global_id

    return str(global_id("SyncJob", job.id))


async def _follow(redis: object, service: SyncJobService, job: SyncJob, stop: asyncio.Event) -> SyncJob | None:
    """Follow the job to its end; None once Ctrl-C (`stop`) stops following. A database that stops answering
    meanwhile (a restart, a failover) is waited out, as the workers wait it out: said once when it goes and once
    when it is back, where the command ended with exit 1 as if the job had failed."""
    from app.db.engine import outage_cause, unreachable
    from app.domain.sync import SyncJobStatus
    from app.services.sync import progress

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    started = time.monotonic()
    hinted = away = False
    with progress_bar(*columns) as bar:
        task = bar.add_task(f"sync {_api_id(job)}", total=job.total_products or None)
        # Closed here, while the Redis pool is still open: left to asyncio's shutdown, its unsubscribe ran on a
        # closed pool and printed a traceback after every followed job.
        async with aclosing(progress.listen(redis, job.id, every=1.0)) as updates:
            while await _next_unless_stopped(updates, stop):
                try:
                    job = await service.get(job.id)
                except Exception as exc:
                    if not unreachable(exc):
                        raise
                    if not away:
                        errors.print(
                            f"[yellow]warning[/yellow] the database is not answering ({escape(outage_cause(exc))}): "
                            f"still following job {_api_id(job)} until it answers (Ctrl-C stops following)"
                        )
                        away = True
                    continue
                if away:
                    errors.print("the database answers again")
                    away = False
                done = job.synced_products + job.failed_products + job.skipped_products + job.conflicted_products
                bar.update(
                    task,
                    total=job.total_products or None,
                    completed=done,
                    description=f"sync {_api_id(job)} {job.status}",
                )
                if SyncJobStatus(job.status).finished:
                    return job
                if (
                    job.status == SyncJobStatus.PENDING
                    and not hinted
                    and time.monotonic() - started > WAITING_HINT_AFTER
                ):
                    console.print("Waiting for a worker: start one with `pimsync worker` (or use `pimsync run`).")
                    hinted = True
    return await _ended_meanwhile(service, job)


async def _ended_meanwhile(service: SyncJobService, job: SyncJob) -> SyncJob | None:
    """The job, when it had ended by the time Ctrl-C stopped following it; None when it goes on (or the database
    does not answer to say). A Ctrl-C that came between the job's end and the command's next look at it said
    "Stopped following job ...; it goes on" of a job that had ended, and not how it ended."""
    from app.db.engine import unreachable
    from app.domain.sync import SyncJobStatus

    try:
        latest = await service.get(job.id)
    except Exception as exc:
        if not unreachable(exc):
            raise
        return None
    return latest if SyncJobStatus(latest.status).finished else None


_ENDED = object()


async def _next_unless_stopped(updates: AsyncIterator[object], stop: asyncio.Event) -> bool:
    """Whether the job's next update (or tick) came before Ctrl-C. Ctrl-C cuts short the wait on Redis for it, and
    only that: never a look at the job in flight, whose cancelled clean-up (the rollback SQLAlchemy does as it gives
    the connection back) SQLAlchemy logged with a CancelledError's traceback, under the command's last words."""
    if stop.is_set():
        return False
    update = asyncio.ensure_future(anext(updates, _ENDED))
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait((update, stopped), return_when=asyncio.FIRST_COMPLETED)
    for waiting in (update, stopped):
        waiting.cancel()
    await asyncio.gather(update, stopped, return_exceptions=True)
    if stop.is_set():
        return False
    return update.result() is not _ENDED
