"""A task while the database does not answer (restarting, failing over): one warning line, not arq's traceback.

A periodic task gives its turn up (the next run catches up); a one-off task is queued again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
from arq import Retry

from app.db.engine import outage_cause, unreachable

log = structlog.get_logger(__name__)

Done = TypeVar("Done")


def _database_down(exc: Exception, task: str, **about: object) -> bool:
    """Whether `exc` is the database not answering, said in one warning line when it is."""
    if not unreachable(exc):
        return False
    log.warning("worker.database_unavailable", task=task, error=outage_cause(exc), **about)
    return True


async def unless_database_down(task: str, work: Callable[[], Awaitable[Done]], nothing: Done) -> Done:
    """`work`'s result; `nothing` when the database did not answer (arq would log the run as failed, with its
    whole traceback, on every run of every periodic task on every worker until it answers)."""
    try:
        return await work()
    except Exception as exc:
        if not _database_down(exc, task):
            raise
        return nothing


async def after_outage(task: str, work: Awaitable[Done], *, retry_in: float, **about: object) -> Done:
    """`work`'s result; when the database did not answer (restarting, failing over), one warning line and the
    task queued again `retry_in` seconds later. arq would log the task as failed with its whole traceback and
    drop it, leaving the work to the next recovery sweep (recover_sync_work, recover_webhooks).

    The task is one that is safe to run twice: whatever it had done before the database went away is done
    again, or found done."""
    try:
        return await work
    except Exception as exc:
        if not _database_down(exc, task, retry_in=retry_in, **about):
            raise
        raise Retry(defer=retry_in) from None
