"""Processing a stored webhook delivery: one task, safe to run twice."""

from __future__ import annotations

from arq import Retry

from app.services.webhooks import process_delivery
from workers.context import WorkerContext
from workers.tasks.outage import after_outage


async def process_webhook_delivery(ctx: WorkerContext, *, delivery_pk: int, received_at_ms: int | None = None) -> str:
    """Process one delivery; a failed attempt comes back after a growing delay, until the service gives up on it.

    A delivery that is no longer PENDING is left alone, so a duplicate job
    (a recovery racing the first one) does nothing.
    """
    container = ctx["container"]
    retry_in = container.settings.background_retry_seconds
    work = process_delivery(container, delivery_pk, received_at_ms=received_at_ms)
    result = await after_outage("process_webhook_delivery", work, retry_in=retry_in, delivery=delivery_pk)
    if result.retry_in is not None:
        raise Retry(defer=result.retry_in)
    return result.status
