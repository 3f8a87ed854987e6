"""Periodic tasks: hand orphaned sync work, webhook deliveries and resolutions to live workers; start scheduled syncs;
delete webhook deliveries, the sync history and decided conflicts past their retention.

Each runs every minute or more often on some worker, so while the database does not answer (restarting, failing
over) a run is one warning line and nothing done: the next run, once it answers, catches up on what this one would
have done. A worker waits such an outage out rather than exiting."""

from __future__ import annotations

from app.services.conflicts.apply import recover_resolutions
from app.services.retention import Purged, purge_old_history
from app.services.sync.recovery import recover_orphans, schedule_due_syncs
from app.services.webhooks import collapse_waiting_deliveries, purge_old_deliveries, recover_webhook_deliveries
from workers.context import WorkerContext
from workers.tasks.outage import unless_database_down


async def recover_sync_work(ctx: WorkerContext) -> int:
    """Requeue chunks whose worker died (expired lease) and jobs whose queue message was lost."""
    return await unless_database_down("recover_sync_work", lambda: recover_orphans(ctx["container"]), 0)


async def start_scheduled_syncs(ctx: WorkerContext) -> list[int]:
    """An INCREMENTAL sync for each connector whose syncIntervalMinutes has passed."""
    return await unless_database_down("start_scheduled_syncs", lambda: schedule_due_syncs(ctx["container"]), [])


async def recover_webhooks(ctx: WorkerContext) -> int:
    """Queue again the webhook deliveries still PENDING whose queue message was lost (or never sent), and hand out
    the turns a connector's ended deliveries did not hand on (their worker died first)."""
    return await unless_database_down("recover_webhooks", lambda: recover_webhook_deliveries(ctx["container"]), 0)


async def apply_lost_resolutions(ctx: WorkerContext) -> int:
    """Queue again the conflict resolutions no worker applied (a lost queue message, Redis down when decided), and
    hand out the turns a connector's ended resolutions did not hand on (their worker died first)."""
    return await unless_database_down("apply_lost_resolutions", lambda: recover_resolutions(ctx["container"]), 0)


async def purge_webhook_deliveries(ctx: WorkerContext) -> int:
    """Set aside a paused connector's deliveries a newer one about the same product supersedes, and delete the
    webhook deliveries dealt with longer ago than PIMSYNC_WEBHOOK_RETENTION_DAYS."""

    async def purge() -> int:
        superseded = await collapse_waiting_deliveries(ctx["container"])
        return superseded + await purge_old_deliveries(ctx["container"])

    return await unless_database_down("purge_webhook_deliveries", purge, 0)


async def purge_history(ctx: WorkerContext) -> Purged:
    """Delete the finished sync jobs, the events, the service's own conflict decisions and the tombstones no channel
    needs older than PIMSYNC_HISTORY_RETENTION_DAYS, and people's decisions older than PIMSYNC_CONFLICT_RETENTION_DAYS."""
    return await unless_database_down("purge_history", lambda: purge_old_history(ctx["container"]), Purged())
