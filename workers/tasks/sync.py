"""Sync tasks: plan a job into chunks, run one chunk. Both take ids and are safe to run twice."""

from __future__ import annotations

import os
import socket

from app.services.sync.planner import plan_job
from app.services.sync.runner import run_chunk
from workers.context import WorkerContext
from workers.tasks.outage import after_outage

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


async def plan_sync_job(ctx: WorkerContext, *, job_id: int) -> int:
    """Fix the job's selection, cut it into chunks and queue the first of them (its turns); returns how many chunks."""
    container = ctx["container"]
    retry_in = container.settings.background_retry_seconds
    return await after_outage("plan_sync_job", plan_job(container, job_id), retry_in=retry_in, job=job_id)


async def run_sync_chunk(ctx: WorkerContext, *, chunk_id: int) -> None:
    """Run or resume one chunk under this worker's lease.

    Cut off by a database outage, the run is tried again once its lease has run out (the lease could not be
    given back with the database away), so that the run after it can take the chunk."""
    container = ctx["container"]
    work = run_chunk(container, chunk_id, worker=WORKER_ID)
    await after_outage("run_sync_chunk", work, retry_in=container.settings.sync_lease_seconds, chunk=chunk_id)
