"""Running a task again once the database answers, rather than failing it with a traceback while it does not."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

import structlog
from arq import Retry

from app.db.engine import outage_cause, unreachable

log = structlog.get_logger(__name__)

Done = TypeVar("Done")


async def after_outage(task: str, work: Awaitable[Done], *, retry_in: float, **about: object) -> Done:
    """`work`'s result; when the database did not answer (restarting, failing over), one warning line and the
    task queued again `retry_in` seconds later. arq would log the task as failed with its whole traceback and
    drop it, leaving the work to the next recovery sweep (recover_sync_work, recover_webhooks).

    The task is one that is safe to run twice: whatever it had done before the database went away is done
    again, or found done."""
    try:
        return await work
    except Exception as exc:
        if not unreachable(exc):
            raise
        log.warning("worker.database_unavailable", task=task, retry_in=retry_in, error=outage_cause(exc), **about)
        raise Retry(defer=retry_in) from None
