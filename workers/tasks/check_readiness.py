"""The worker's own view of its dependencies, so an operator (or a test) can prove a worker runs jobs."""

from __future__ import annotations

import socket
from typing import Any

from app.services.readiness import ReadinessService
from workers.context import WorkerContext


async def check_readiness(ctx: WorkerContext) -> dict[str, Any]:
    """Report whether this worker reaches the database (and at which schema revision) and Redis."""
    container = ctx["container"]
    report = await ReadinessService(container).report()
    return {"worker": socket.gethostname(), "job_try": ctx.get("job_try", 1), **report}
