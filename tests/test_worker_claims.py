"""A worker whose Redis connection drops in the middle of claiming a job carries on (workers/worker.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from arq import create_pool, cron, func
from redis.asyncio.client import Pipeline

from app.container import arq_redis_settings
from app.settings import Settings
from workers.worker import OutageTolerantWorker


async def claimed(ctx: dict[str, Any]) -> str:
    return "ran"


def cut_after_the_watch(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> list[int]:
    """The next claim's connection is killed right after its WATCH, before the read that follows it, as a Redis
    restarting at that moment does; the ids of the connections killed."""
    killed: list[int] = []
    exists = Pipeline.exists

    async def cut_then_exists(pipe: Pipeline, *names: Any) -> Any:
        if not killed:
            assert pipe.connection is not None
            await pipe.connection.send_command("CLIENT", "ID")
            killed.append(int(await pipe.connection.read_response()))
            killer = await create_pool(arq_redis_settings(settings))
            try:
                await killer.client_kill_filter(_id=killed[0])
            finally:
                await killer.aclose()
        return await exists(pipe, *names)

    monkeypatch.setattr(Pipeline, "exists", cut_then_exists)
    return killed


async def test_a_claim_cut_off_by_a_lost_connection_is_made_again_at_the_next_poll(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """arq's claim of a job (WATCH, read, MULTI/EXEC) cannot be retried on a new connection, so redis-py raises
    WatchError there, which ended the worker: now the claim is given up with its slot, and made at the next poll."""
    pool = await create_pool(arq_redis_settings(settings, ride_out_outages=True))
    worker = OutageTolerantWorker(
        functions=[func(claimed, keep_result=0)],  # type: ignore[arg-type]
        redis_pool=pool,
        queue_name=settings.queue_name,
        max_jobs=1,  # a slot not handed back would leave none for the second claim
        handle_signals=False,
    )
    try:
        job = await pool.enqueue_job("claimed", _queue_name=settings.queue_name)
        assert job is not None
        killed = cut_after_the_watch(monkeypatch, settings)
        await worker.start_jobs([job.job_id.encode()])
        assert killed, "the claim never read after its WATCH"
        assert not worker.tasks, "a job started from a claim whose WATCH was lost"

        monkeypatch.undo()
        await asyncio.wait_for(worker.start_jobs([job.job_id.encode()]), 10)
        assert await asyncio.wait_for(worker.tasks[job.job_id], 10) is None
        assert worker.jobs_complete == 1
    finally:
        await pool.aclose()


async def test_periodic_tasks_cut_off_by_a_lost_connection_leave_the_worker_polling(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queueing a periodic task (enqueue_job: WATCH, read, MULTI/EXEC) cut off the same way skips that turn: the
    worker's poll loop carries on, and the next turn is queued."""
    pool = await create_pool(arq_redis_settings(settings, ride_out_outages=True))
    periodic = cron(claimed, name=f"{settings.queue_name}:claimed", run_at_startup=True, unique=True)  # type: ignore[arg-type]
    worker = OutageTolerantWorker(
        functions=[], cron_jobs=[periodic], redis_pool=pool, queue_name=settings.queue_name, handle_signals=False
    )
    try:
        killed = cut_after_the_watch(monkeypatch, settings)
        await worker.run_cron(datetime.now(UTC), delay=0.5)
        assert killed, "the periodic task was queued without a WATCH"
        assert not await pool.zcard(settings.queue_name), "a turn cut off was queued all the same"

        monkeypatch.undo()
        periodic.next_run = None
        await worker.run_cron(datetime.now(UTC), delay=0.5)
        assert await pool.zcard(settings.queue_name) == 1
    finally:
        await pool.aclose()
