"""Sync tasks: plan a job into chunks, run one chunk. Both take ids and are safe to run twice."""

from __future__ import annotations

import os
import socket

from app.services.sync.planner import plan_job
from app.services.sync.runner import run_chunk
from workers.context import WorkerContext

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}"


async def plan_sync_job(ctx: WorkerContext, *, job_id: int) -> int:
    """Fix the job's selection, cut it into chunks and queue the first of them (its turns); returns how many chunks."""
    return await plan_job(ctx["container"], job_id)


async def run_sync_chunk(ctx: WorkerContext, *, chunk_id: int) -> None:
    """Run or resume one chunk under this worker's lease."""
    await run_chunk(ctx["container"], chunk_id, worker=WORKER_ID)
