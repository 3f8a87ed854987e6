"""Periodic tasks: hand orphaned sync work to live workers, start scheduled syncs."""

from __future__ import annotations

from app.services.sync.recovery import recover_orphans, schedule_due_syncs
from workers.context import WorkerContext


async def recover_sync_work(ctx: WorkerContext) -> int:
    """Requeue chunks whose worker died (expired lease) and jobs whose queue message was lost."""
    return await recover_orphans(ctx["container"])


async def start_scheduled_syncs(ctx: WorkerContext) -> list[int]:
    """An INCREMENTAL sync for each connector whose syncIntervalMinutes has passed."""
    return await schedule_due_syncs(ctx["container"])
