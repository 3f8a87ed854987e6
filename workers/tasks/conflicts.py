"""Applying a person's resolution of a conflict: one task, safe to run twice."""

from __future__ import annotations

from arq import Retry

from app.services.conflicts.apply import apply_resolution
from workers.context import WorkerContext
from workers.tasks.outage import OutageTries


async def apply_conflict_resolution(ctx: WorkerContext, *, conflict_id: int, resolved_at_ms: int | None = None) -> str:
    """Run the export or import the resolution calls for; a busy channel or a racing sync brings it back later.

    A conflict already applied (or given up on) is left alone, so a duplicate
    job (the recovery sweep racing the first) does nothing. Cut off by a database
    outage, it is queued again in one warning line, and that try is not one of the
    resolution's own (OutageTries).
    """
    container = ctx["container"]
    tries = OutageTries(container.redis, ctx["job_id"], ctx.get("job_try", 1))
    work = apply_resolution(container, conflict_id, attempt=await tries.own_try(), resolved_at_ms=resolved_at_ms)
    retry_in = container.settings.background_retry_seconds
    result = await tries.after_outage("apply_conflict_resolution", work, retry_in=retry_in, conflict=conflict_id)
    if result.retry_in is not None:
        raise Retry(defer=result.retry_in)
    return result.status
