"""Putting a conflict's resolution on the arq queue, to be applied by a worker.

The job id is deterministic for one resolution (a repeated enqueue is
dropped) yet unique across databases sharing a Redis: arq refuses an id it
still holds a result for, so the id carries the resolution's time.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from app.services.sync.queue import Queue

log = structlog.get_logger(__name__)

APPLY_TASK = "apply_conflict_resolution"


def apply_job_id(conflict_id: int, resolved_at: datetime) -> str:
    return f"conflict-apply:{conflict_id}:{int(resolved_at.timestamp() * 1000)}"


async def enqueue_apply(queue: Queue, *, conflict_id: int, resolved_at: datetime) -> None:
    """Queue the export or import that follows a resolution; call it only after the resolution committed."""
    queued = await queue.enqueue_job(
        APPLY_TASK, conflict_id=conflict_id, _job_id=apply_job_id(conflict_id, resolved_at)
    )
    if queued is None:
        log.info("conflict.enqueue_skipped", task=APPLY_TASK, conflict=conflict_id)
