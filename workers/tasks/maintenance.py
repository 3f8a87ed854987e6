"""Periodic tasks: hand orphaned sync work, webhook deliveries and resolutions to live workers; start scheduled syncs."""

from __future__ import annotations

from app.services.conflicts.apply import recover_resolutions
from app.services.sync.recovery import recover_orphans, schedule_due_syncs
from app.services.webhooks import recover_webhook_deliveries
from workers.context import WorkerContext


async def recover_sync_work(ctx: WorkerContext) -> int:
    """Requeue chunks whose worker died (expired lease) and jobs whose queue message was lost."""
    return await recover_orphans(ctx["container"])


async def start_scheduled_syncs(ctx: WorkerContext) -> list[int]:
    """An INCREMENTAL sync for each connector whose syncIntervalMinutes has passed."""
    return await schedule_due_syncs(ctx["container"])


async def recover_webhooks(ctx: WorkerContext) -> int:
    """Queue again the webhook deliveries still PENDING whose queue message was lost (or never sent)."""
    return await recover_webhook_deliveries(ctx["container"])


async def apply_lost_resolutions(ctx: WorkerContext) -> int:
    """Queue again the conflict resolutions no worker applied (a lost queue message, Redis down when decided)."""
    return await recover_resolutions(ctx["container"])
