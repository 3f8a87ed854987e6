"""The arq Worker `pimsync worker` runs: arq's own, riding out a Redis connection lost in the middle of a claim.

A worker waits out a Redis outage command by command (app/redis_outage.py).
Two of arq's steps cannot: claiming a queued job (WATCH its in-progress key,
read it, then MULTI/EXEC) and queueing the periodic tasks (enqueue_job, the
same shape). When the connection drops between the WATCH and the read,
redis-py cannot retry on a new connection without losing the WATCH, so it
raises WatchError, which arq only expects from the EXEC. Raised from its
poll loop, it ended the worker (exit 1) on a Redis restart, although the
jobs it was running had ridden it out. Here such a claim is given up and its
slot handed back, and the job is claimed at the next poll (or by another
worker); a periodic task's turn is skipped, as its next one comes within the
minute.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from arq.worker import Worker, get_kwargs
from redis.exceptions import WatchError

from app.redis_outage import LOST_CONNECTION

log = structlog.get_logger(__name__)


def lost_connection(error: WatchError) -> bool:
    """Whether redis-py raised `error` because the connection dropped while watching, not because a watched key
    changed (which arq handles itself): it raises it while handling the connection error."""
    return isinstance(error.__context__, LOST_CONNECTION)


class OutageTolerantWorker(Worker):
    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """arq's claim, one job at a time, so that a claim cut off by a lost connection gives back what arq took
        for it (a slot and a count) and leaves the job, and those after it, to the next poll."""
        for job_id in job_ids:
            if self.job_counter >= self.max_jobs:
                return  # as arq's loop does once its slots are taken
            try:
                await super().start_jobs([job_id])
            except WatchError as exc:
                if not lost_connection(exc):
                    raise
                self.job_counter -= 1
                self.sem.release()
                log.warning("worker.claim_interrupted", job=job_id.decode(), error=str(exc.__context__))
                return

    async def run_cron(self, n: datetime, delay: float, num_windows: int = 2) -> None:
        try:
            await super().run_cron(n, delay, num_windows)
        except WatchError as exc:
            if not lost_connection(exc):
                raise
            log.warning("worker.periodic_tasks_skipped", error=str(exc.__context__))


def run_worker(settings_cls: type, **overrides: Any) -> None:
    """arq's run_worker, with this worker."""
    OutageTolerantWorker(**{**get_kwargs(settings_cls), **overrides}).run()
