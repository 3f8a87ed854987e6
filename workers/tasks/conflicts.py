"""Applying a person's resolution of a conflict: one task, safe to run twice."""

from __future__ import annotations

from arq import Retry

from app.services.conflicts.apply import apply_resolution
from workers.context import WorkerContext


async def apply_conflict_resolution(ctx: WorkerContext, *, conflict_id: int, resolved_at_ms: int | None = None) -> str:
    """Run the export or import the resolution calls for; a busy channel or a racing sync brings it back later.

    A conflict already applied (or given up on) is left alone, so a duplicate
    job (the recovery sweep racing the first) does nothing.
    """
    result = await apply_resolution(
        ctx["container"], conflict_id, attempt=ctx.get("job_try", 1), resolved_at_ms=resolved_at_ms
    )
    if result.retry_in is not None:
        raise Retry(defer=result.retry_in)
    return result.status
