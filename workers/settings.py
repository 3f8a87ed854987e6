"""arq WorkerSettings: the worker's task list, its schedule, and the resources it opens at start-up.

The Redis address is given by `pimsync worker` (arq's run_worker takes it as
an override), so importing this module starts nothing.
"""

from __future__ import annotations

from typing import Any, ClassVar

import structlog
from arq import cron, func

from app.container import open_container
from app.db.engine import silent_database
from app.db.migrate import SchemaNotCurrent, require_current, require_file
from app.logging import configure_logging
from app.queue_codec import deserialize, serialize
from app.runtime import settle_heap
from app.services.conflicts import apply as conflict_apply
from app.services.readiness import ReadinessService
from app.services.sync.recovery import recover_at_startup
from app.services.webhooks import MAX_ATTEMPTS, recover_webhook_deliveries
from app.settings import Settings, load_settings
from workers.arq_log import tell_head_starts_apart
from workers.context import WorkerContext
from workers.health import HEALTH_CHECK_SECONDS
from workers.tasks.check_readiness import check_readiness
from workers.tasks.conflicts import apply_conflict_resolution
from workers.tasks.maintenance import (
    apply_lost_resolutions,
    purge_history,
    purge_webhook_deliveries,
    recover_sync_work,
    recover_webhooks,
    start_scheduled_syncs,
)
from workers.tasks.sync import plan_sync_job, run_sync_chunk
from workers.tasks.webhooks import process_webhook_delivery

log = structlog.get_logger(__name__)

ONE_PRODUCT_TIMEOUT_SECONDS = 120
"""A webhook check or a resolution reads and writes one product on the channel; past this it is retried."""


class CannotStart(RuntimeError):
    """A worker that must not start; the message, one line, says what to fix."""


class SchemaOutdated(CannotStart):
    """The database is not at the migrations' head; the message says what to do (`pimsync migrate`, or run a newer release)."""


async def startup(ctx: WorkerContext) -> None:
    settings = load_settings()
    configure_logging(settings)
    tell_head_starts_apart()
    try:
        require_file(settings.resolved_database_url)
    except SchemaNotCurrent as exc:
        raise SchemaOutdated(str(exc)) from None
    container = await open_container(settings, ride_out_outages=True)
    try:
        current = await ReadinessService(container).schema_revision()
    except TimeoutError:  # a refusal is a DBAPIError, which `pimsync worker` already reports as the database's
        await container.close()
        raise CannotStart(silent_database(settings)) from None
    try:
        require_current(current)
    except SchemaNotCurrent as exc:
        await container.close()
        raise SchemaOutdated(str(exc)) from None
    ctx["container"] = container
    await recover_at_startup(container)
    await recover_webhook_deliveries(container)
    settle_heap()
    log.info("worker.ready", queue=settings.queue_name)


async def shutdown(ctx: WorkerContext) -> None:
    container = ctx.get("container")
    if container is not None:
        await container.close()


DEFAULT_QUEUE: str = Settings.model_fields["queue_name"].default


def periodic_tasks(queue_name: str) -> list[Any]:
    """The cron jobs, named after the queue. arq's cron job ids (name and time) do not carry the queue, so two
    services sharing one Redis (each with its own PIMSYNC_QUEUE) would each skip the ticks the other took."""
    prefix = f"cron:{queue_name}:"
    # arq types a task's context as a plain dict; ours is the TypedDict WorkerContext, which it is at run time.
    every_minute = None
    schedule: list[tuple[Any, set[int], set[int] | None]] = [
        (recover_sync_work, {0, 15, 30, 45}, every_minute),
        (start_scheduled_syncs, {15}, every_minute),
        (recover_webhooks, {5, 20, 35, 50}, every_minute),
        (apply_lost_resolutions, {10, 40}, every_minute),
        (purge_webhook_deliveries, {25}, {25}),  # hourly: retention is counted in days
        (purge_history, {45}, {45}),
    ]
    return [
        cron(task, name=prefix + task.__name__, minute=minutes, second=seconds, unique=True)
        for task, seconds, minutes in schedule
    ]


OUTAGE_TRIES = 24
"""Tries of a conflict's resolution a database outage may take (at PIMSYNC_BACKGROUND_RETRY_SECONDS each, two
minutes at 5 s) besides its own (OutageTries): past them arq drops the message and the recovery sweep queues it
again once the database answers."""


class WorkerSettings:
    functions: ClassVar[list[Any]] = [
        check_readiness,
        plan_sync_job,
        run_sync_chunk,
        # Also run once, deferred, by a starting worker (recovery.recover_at_startup); the cron runs it as well.
        func(recover_sync_work, keep_result=0),  # type: ignore[arg-type]
        # No result kept: the delivery's row records the outcome, and recovery may queue the same job id again.
        # arq's own try limit stays above the service's, so the service is the one that gives up (and says why).
        func(
            process_webhook_delivery,  # type: ignore[arg-type]
            keep_result=0,
            max_tries=MAX_ATTEMPTS + 2,
            timeout=ONE_PRODUCT_TIMEOUT_SECONDS,
        ),
        func(
            apply_conflict_resolution,  # type: ignore[arg-type]
            keep_result=0,
            max_tries=conflict_apply.MAX_ATTEMPTS + 2 + OUTAGE_TRIES,
            timeout=ONE_PRODUCT_TIMEOUT_SECONDS,
        ),
    ]
    cron_jobs: ClassVar[list[Any]] = periodic_tasks(DEFAULT_QUEUE)
    """`pimsync worker` passes its own queue's (periodic_tasks)."""
    on_startup = startup
    on_shutdown = shutdown
    max_jobs = 4
    """Chunks one worker runs at once; more workers (on any hosts) share a job's chunks between them, up to
    PIMSYNC_SYNC_CHUNKS_PER_JOB (4) of one job at a time (planner: the job's other chunks wait their turn)."""
    job_timeout = 600
    """A run of a chunk hands the chunk back after PIMSYNC_SYNC_RUN_SECONDS (240, at most 480) and shrinks pages
    slower than a quarter of that (PagePace), so it ends inside this unless a page alone outlasts it (a connector's
    first, at the configured size, on a slow shop). Past it arq cancels the run, which hands the chunk back to
    recovery; the page was made smaller while it was sent (runner._learn_while_sent), so the retry's fits."""
    max_tries = 5
    job_serializer = serialize
    job_deserializer = deserialize
    """JSON, not pickles (app.queue_codec); the pools that queue messages use the same (container.queue_pool)."""
    health_check_interval = HEALTH_CHECK_SECONDS
    """`pimsync worker` passes the key (health_key); `pimsync worker --check` reads it."""
