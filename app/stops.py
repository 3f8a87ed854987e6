"""Work a stop (a worker's SIGTERM in a deploy, which cancels its tasks) must not cut in the middle.

Two ways of letting it end, for two needs: `to_its_end` takes the stop at once and lets the work finish alone (a
session's commit and close: nothing after it depends on how it went), `ended_before_stopping` waits for the work
before taking the stop (a claim, a close, a write and its record: what comes next, the hand-back on a stop or the
next worker's look-up, must find it done).

A write to a channel cannot always be waited for: a shop may hold it up to the HTTP timeout (30 s), longer than a
stopping worker has before it is killed (settings.worker_stop_seconds). So the waits for a write are bounded
(`within`, settings.stop_wait_seconds, counted once from the stop however many layers wait), and a write given up
on is noted on the work's `Stop` with its deadline: until then it may still land on the channel, so the work it
belongs to (a chunk, one product's check) is kept from the next worker until it has passed (`Stop.abandoned_until`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")


@dataclass
class Stop:
    """What a stop of one piece of work (a chunk's run, one product's check) may wait for, and what it left behind.

    Shared by every task the work starts (contextvars copy the reference), so the transport's wait for a write and
    the check's wait for its write and record count from the same moment and note on the same record."""

    waits_until: float | None = None
    """The loop's time at which every wait of this stop ends; set by the first wait that sees the stop."""
    in_flight: list[datetime] = field(default_factory=list)
    """The writes being sent now, each with the moment its exchange ends at the latest (the transport's deadline)."""
    abandoned_until: datetime | None = None
    """The latest deadline of the writes a wait gave up on: until then one of them may still land on the channel."""

    gave_up: bool = False
    """Whether a wait of this stop gave up on the work it waited for."""

    def abandon(self) -> None:
        """Note the writes in flight as given up on: the process may end before they answer."""
        self.gave_up = True
        if self.in_flight:
            latest = max(self.in_flight)
            self.abandoned_until = max(latest, self.abandoned_until or latest)


_stop: ContextVar[Stop | None] = ContextVar("pimsync_stop", default=None)


@contextlib.contextmanager
def watched() -> Iterator[Stop]:
    """A fresh record of what a stop of the work run inside the block leaves behind (its writes given up on)."""
    stop = Stop()
    token = _stop.set(stop)
    try:
        yield stop
    finally:
        _stop.reset(token)


@contextlib.contextmanager
def write_in_flight(seconds: float) -> Iterator[None]:
    """Note a write to a channel for the block, ending at the latest `seconds` from now, on the work's Stop (if the
    work is watched): a stop giving up on it knows until when it may still land."""
    stop = _stop.get()
    if stop is None:
        yield
        return
    deadline = datetime.now(UTC) + timedelta(seconds=seconds)
    stop.in_flight.append(deadline)
    try:
        yield
    finally:
        stop.in_flight.remove(deadline)


async def to_its_end(work: Coroutine[Any, Any, None]) -> None:
    """Await `work`, which a cancellation of the caller does not cut short: the caller is cancelled at once, and
    `work` goes on to its end by itself (what it raises then is logged, never left unretrieved)."""
    task = asyncio.ensure_future(work)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        task.add_done_callback(_log_failure)
        raise


async def ended_before_stopping(work: Coroutine[Any, Any, T], *, within: float | None = None) -> T:
    """Await `work`, which a cancellation of the caller waits for: the caller is cancelled once `work` has ended
    (what it returned dropped, what it raised logged), not in the middle of it.

    For a short step whose end a stop must not leave unknown: a commit cut off as its COMMIT went out may have landed
    with its caller gone (a chunk claimed by a run that is no longer there to hand it back).

    `within`: wait at most that many seconds from the stop (see `waited`); past them `work` is cancelled and the
    writes it has in flight are noted as given up on (Stop.abandon)."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if await waited(task, within):
            _log_failure(task)
        else:
            task.cancel()
            task.add_done_callback(_log_failure)
        raise


async def waited(task: asyncio.Future[Any], within: float | None) -> bool:
    """Wait, under a stop, for `task`'s end; whether it came. With `within`, at most that many seconds from the
    moment the watched work's first wait saw the stop (Stop.waits_until), so waits nested in one another (a check's
    for its write, the transport's for the write's answer) add up to no more; given up, the work's writes in flight
    are noted as abandoned."""
    if within is None:
        await asyncio.wait((task,))
        return True
    loop, stop = asyncio.get_running_loop(), _stop.get()
    until = loop.time() + within
    if stop is not None:
        stop.waits_until = until = stop.waits_until or until
    await asyncio.wait((task,), timeout=max(0.0, until - loop.time()))
    if task.done():
        return True
    if stop is None:
        log.warning("stop.gave_up_waiting", seconds=within)
        return False
    first = not stop.gave_up  # a wait nested in the one that gave up gives up at once after it: logged once
    stop.abandon()
    if first:
        lands_until = stop.abandoned_until.isoformat() if stop.abandoned_until else None
        log.warning("stop.gave_up_waiting", seconds=within, writes_may_land_until=lands_until)
    return False


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("stop.step_failed", error=repr(task.exception()))
