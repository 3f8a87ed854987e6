"""Work a stop (a worker's SIGTERM in a deploy, which cancels its tasks) must not cut in the middle.

Two ways of letting it end, for two needs: `to_its_end` takes the stop at once and lets the work finish alone (a
session's commit and close: nothing after it depends on how it went), `ended_before_stopping` waits for the work
before taking the stop (a claim, a close, a write and its record: what comes next, the hand-back on a stop or the
next worker's look-up, must find it done).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")


async def to_its_end(work: Coroutine[Any, Any, None]) -> None:
    """Await `work`, which a cancellation of the caller does not cut short: the caller is cancelled at once, and
    `work` goes on to its end by itself (what it raises then is logged, never left unretrieved)."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_log_failure)
        raise


async def ended_before_stopping(work: Coroutine[Any, Any, T]) -> T:
    """Await `work`, which a cancellation of the caller waits for: the caller is cancelled once `work` has ended
    (what it returned dropped, what it raised logged), not in the middle of it.

    For a short step whose end a stop must not leave unknown: a commit cut off as its COMMIT went out may have landed
    with its caller gone (a chunk claimed by a run that is no longer there to hand it back)."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait((task,))
        _log_failure(task)
        raise


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("stop.step_failed", error=repr(task.exception()))
