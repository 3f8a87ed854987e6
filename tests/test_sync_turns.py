"""Chunks take turns on the shared queue: a job keeps at most PIMSYNC_SYNC_CHUNKS_PER_JOB of them queued or running,
so one large sync of a slow channel cannot fill every worker and hold up every other tenant's jobs behind it."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select, update

from app.container import Container
from app.db.base import utcnow
from app.db.models import SyncChunk
from app.repositories.sync_jobs import SyncJobRepository, waits_its_turn
from app.services.sync import runner
from app.services.sync.queue import waiting
from app.services.sync.recovery import LOST_MESSAGE_AFTER, recover_orphans
from app.services.sync.runner import MAX_CHUNK_ATTEMPTS, run_chunk
from app.settings import Settings
from graphql_schema.relay import parse_global_id
from tests.catalog_fixtures import upsert
from tests.conftest import GraphQLClient
from tests.connector_fixtures import API_KEY, SAVE_MAPPINGS, SECRET, ServedShop, create_connector, served_shop
from tests.emulators import serve
from tests.emulators.custom_http_shop import CustomHttpShop
from tests.sync_fixtures import (
    CANCEL,
    FINISHED,
    JOB,
    MAPPINGS,
    PRODUCTS,
    chair,
    planned,
    running_worker,
    sent_products,
    shop_sync,
    sku,
    trigger,
    wait_for_job,
)

__all__ = ["served_shop", "shop_sync"]

SMALL_CHUNKS = {"PIMSYNC_SYNC_CHUNK_SIZE": "10", "PIMSYNC_SYNC_PAGE_SIZE": "10"}


def taking_turns(container: Container, per_job: int) -> Container:
    """The container of a service whose jobs keep `per_job` chunks on the queue at a time."""
    return dataclasses.replace(
        container, settings=container.settings.model_copy(update={"sync_chunks_per_job": per_job})
    )


async def statuses(container: Container, job_id: int) -> list[str]:
    """The job's chunks' statuses in id order, WAITING for a chunk waiting its turn (PENDING, never queued)."""
    async with container.db.reader() as session:
        rows = await session.scalars(select(SyncChunk).where(SyncChunk.job_id == job_id).order_by(SyncChunk.id))
        return ["WAITING" if waits_its_turn(chunk) else chunk.status for chunk in rows]


async def chunk_messages(container: Container, chunk_ids: list[int]) -> dict[int, list[str]]:
    """The ids of the messages the test's queue holds for each of the chunks."""
    members = [member.decode() for member in await container.redis.zrange(container.settings.queue_name, 0, -1)]
    return {chunk_id: [name for name in members if f":sync-chunk:{chunk_id}:" in name] for chunk_id in chunk_ids}


async def queued_chunks(container: Container, chunk_ids: list[int]) -> dict[int, int]:
    """How many messages the test's queue holds for each of the chunks."""
    return {chunk_id: len(found) for chunk_id, found in (await chunk_messages(container, chunk_ids)).items()}


async def untaken(container: Container, chunk_ids: list[int]) -> int:
    """How many messages of the chunks wait in the queue for a worker: arq keeps a taken one there until its run
    ends, and a run hands its chunk's turn on just before it ends."""
    names = [name for found in (await chunk_messages(container, chunk_ids)).values() for name in found]
    return len(await waiting(container.redis, container.settings.queue_name, names))


async def test_a_job_of_many_chunks_keeps_only_its_share_queued_or_running(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container, settings: Settings, tmp_path: Path
) -> None:
    """20 chunks, 2 a turn, one worker of four slots: however far the job is, no more than two of its chunks are
    queued or running (in its rows), nor waiting on arq's queue, and it still ends with every product sent once."""
    await upsert(shop_sync, *(chair(n) for n in range(PRODUCTS, 200)))
    served_shop.shop.slow_down(0.05)
    most_rows = most_messages = 0
    with running_worker(settings, tmp_path / "worker.log", PIMSYNC_SYNC_CHUNKS_PER_JOB="2", **SMALL_CHUNKS) as worker:
        job = await trigger(shop_sync)
        job_id = parse_global_id(job["id"])[1]
        deadline = time.monotonic() + 90
        while (await shop_sync(JOB, {"id": job["id"]}))["syncJob"]["status"] not in FINISHED:
            assert time.monotonic() < deadline, f"the job never ended:\n{worker.output()}"
            async with container.db.reader() as session:
                chunks = list(await session.scalars(select(SyncChunk).where(SyncChunk.job_id == job_id)))
            turns = [chunk for chunk in chunks if chunk.status in ("PENDING", "RUNNING") and not waits_its_turn(chunk)]
            most_rows = max(most_rows, len(turns))
            most_messages = max(most_messages, await untaken(container, [chunk.id for chunk in chunks]))
            await asyncio.sleep(0.02)
        done = await wait_for_job(shop_sync, job["id"], worker=worker)
    assert (done["status"], done["totalProducts"], done["syncedProducts"]) == ("COMPLETED", 200, 200)
    assert len(chunks) == 20
    assert most_rows <= 2, f"{most_rows} chunks of the job were queued or running at once"
    assert most_messages <= 2, f"{most_messages} chunks of the job waited on arq's queue at once"
    assert sorted(product["sku"] for product in sent_products(served_shop)) == sorted(sku(n) for n in range(200))


async def test_a_job_hands_out_its_turns_one_at_a_time_as_workers_take_them(
    shop_sync: GraphQLClient, served_shop: ServedShop, container: Container
) -> None:
    """A polling worker takes as many queued messages as it has free slots: were a new job's three turns queued at
    once, the first worker to poll took all three and the others stayed idle beside it. A job starts with one
    chunk on the queue, and each chunk a worker takes queues the next while the job has a turn free, so each
    poll finds one of the job's chunks, and the workers polling beside it get theirs."""

    async def until(wanted: list[str], messages: list[int]) -> None:
        """The chunks' statuses and how many messages the queue holds for each, once the run's claim got there."""
        deadline = time.monotonic() + 10
        expected = dict(zip(chunk_ids, messages, strict=True))
        while (await statuses(service, job_id), await queued_chunks(service, chunk_ids)) != (wanted, expected):
            assert time.monotonic() < deadline, (
                await statuses(service, job_id),
                await queued_chunks(service, chunk_ids),
            )
            await asyncio.sleep(0.02)

    service = taking_turns(container, 3)
    global_id, job_id, chunks = await planned(shop_sync, service, size=PRODUCTS // 5, count=5)
    chunk_ids = [chunk.id for chunk in chunks]
    assert await statuses(service, job_id) == ["PENDING", "WAITING", "WAITING", "WAITING", "WAITING"]
    assert await queued_chunks(service, chunk_ids) == dict(zip(chunk_ids, [1, 0, 0, 0, 0], strict=True))
    served_shop.shop.slow_down(1.0)
    first = asyncio.create_task(run_chunk(service, chunk_ids[0], worker="first"))
    await until(["RUNNING", "PENDING", "WAITING", "WAITING", "WAITING"], [1, 1, 0, 0, 0])
    second = asyncio.create_task(run_chunk(service, chunk_ids[1], worker="second"))
    await until(["RUNNING", "RUNNING", "PENDING", "WAITING", "WAITING"], [1, 1, 1, 0, 0])
    third = asyncio.create_task(run_chunk(service, chunk_ids[2], worker="third"))
    # Its three turns taken, the job queues nothing more until a chunk ends.
    await until(["RUNNING", "RUNNING", "RUNNING", "WAITING", "WAITING"], [1, 1, 1, 0, 0])
    served_shop.shop.slow_down(0)
    await asyncio.gather(first, second, third)
    for chunk_id in chunk_ids[3:]:
        await run_chunk(service, chunk_id, worker="next")
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (done["status"], done["syncedProducts"]) == ("COMPLETED", PRODUCTS)


async def test_a_sync_started_behind_a_large_one_on_another_connector_ends_before_it(
    shop_sync: GraphQLClient, served_shop: ServedShop, settings: Settings, tmp_path: Path
) -> None:
    """The large job's chunks wait their turn behind what was queued meanwhile: a second connector's sync,
    triggered once the large one runs, is not held up until all 30 of its chunks are through."""
    await upsert(shop_sync, *(chair(n) for n in range(PRODUCTS, 300)))
    served_shop.shop.slow_down(0.1)
    other_shop = CustomHttpShop(signing_secret=SECRET, api_key=API_KEY, supported_locales=("en", "ar", "fr"))
    with serve(other_shop.app) as origin:
        await create_connector(shop_sync, ServedShop(other_shop, origin + other_shop.base_path), "other")
        saved = (await shop_sync(SAVE_MAPPINGS, {"code": "other", "mappings": MAPPINGS}))["saveMappings"]
        assert saved["userErrors"] == []
        with running_worker(settings, tmp_path / "worker.log", **SMALL_CHUNKS) as worker:
            large = await trigger(shop_sync)
            await wait_for_job(shop_sync, large["id"], worker=worker, until={"RUNNING"})
            small = await trigger(shop_sync, "other", syncType="SINGLE", productSkus=[sku(1), sku(2)])
            done = await wait_for_job(shop_sync, small["id"], worker=worker, within=60)
            meanwhile = (await shop_sync(JOB, {"id": large["id"]}))["syncJob"]
            assert (done["status"], done["syncedProducts"]) == ("COMPLETED", 2)
            assert meanwhile["status"] == "RUNNING", f"the large job ended first: {meanwhile['syncedProducts']} synced"
            finished = await wait_for_job(shop_sync, large["id"], worker=worker, within=90)
    assert (finished["status"], finished["syncedProducts"]) == ("COMPLETED", 300)


async def test_two_chunks_ending_at_once_queue_each_waiting_chunk_once(
    shop_sync: GraphQLClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two workers close the job's two queued chunks at the same moment: each hands its turn to a different
    waiting chunk, so both of those are queued, once each.

    Each close, once it has counted the job's queued chunks, waits (up to a second) for the other to count them
    too: were the two not kept apart by the job's row lock, both would count the same free turn, give it the same
    waiting chunk, and leave the other waiting beside a free turn."""
    counted: list[int] = []
    both_counted = asyncio.Event()
    count = SyncJobRepository.queued_chunks
    close = runner._close_chunk
    closing: contextvars.ContextVar[bool] = contextvars.ContextVar("closing", default=False)

    async def marked_close(*args: Any, **kwargs: Any) -> None:
        closing.set(True)  # in this run's task only
        await close(*args, **kwargs)

    async def counted_at_once(self: SyncJobRepository, job_id: int) -> int:
        found = await count(self, job_id)
        if not closing.get():
            return found  # a claim's count (it hands on no turn here: both are taken); the closes are under test
        counted.append(job_id)
        if len(counted) == 2:
            both_counted.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(both_counted.wait(), 1)
        return found

    service = taking_turns(container, 2)
    global_id, job_id, chunks = await planned(shop_sync, service, size=PRODUCTS // 4 + 1, count=4)
    chunk_ids = [chunk.id for chunk in chunks]
    assert await statuses(service, job_id) == ["PENDING", "WAITING", "WAITING", "WAITING"]
    async with service.db.transaction() as session:  # the second turn, as the first chunk's claim hands it on
        assert await SyncJobRepository(session).take_turns(job_id, 1, utcnow()) == [chunk_ids[1]]
    assert await statuses(service, job_id) == ["PENDING", "PENDING", "WAITING", "WAITING"]
    with monkeypatch.context() as patched:
        patched.setattr(SyncJobRepository, "queued_chunks", counted_at_once)
        patched.setattr(runner, "_close_chunk", marked_close)
        await asyncio.gather(
            *(run_chunk(service, chunk_id, worker=f"w{n}") for n, chunk_id in enumerate(chunk_ids[:2]))
        )
    assert len(counted) == 2
    assert await statuses(service, job_id) == ["DONE", "DONE", "PENDING", "PENDING"]
    assert (await queued_chunks(service, chunk_ids))[chunk_ids[2]] == 1
    assert (await queued_chunks(service, chunk_ids))[chunk_ids[3]] == 1
    for chunk_id in chunk_ids[2:]:
        await run_chunk(service, chunk_id, worker="next")
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (done["status"], done["syncedProducts"]) == ("COMPLETED", PRODUCTS)


async def test_recovery_leaves_waiting_chunks_to_their_turn_and_queues_them_when_none_is_queued(
    shop_sync: GraphQLClient, container: Container
) -> None:
    """A recovery pass does not take chunks waiting their turn for lost messages; but a job whose queued chunks
    are gone without handing their turn on (closed by a worker of an earlier release) gets its next one queued."""
    service = taking_turns(container, 1)
    global_id, job_id, chunks = await planned(shop_sync, service, size=10, count=3)
    chunk_ids = [chunk.id for chunk in chunks]
    later = chunks[0].enqueued_at + LOST_MESSAGE_AFTER * 2
    assert await recover_orphans(service, now=later) == 0
    assert await statuses(service, job_id) == ["PENDING", "WAITING", "WAITING"]
    assert await queued_chunks(service, chunk_ids) == dict(zip(chunk_ids, [1, 0, 0], strict=True))

    async with service.db.transaction() as session:
        await session.execute(update(SyncChunk).where(SyncChunk.id == chunk_ids[0]).values(status="DONE"))
    assert await recover_orphans(service, now=later) == 1
    assert await statuses(service, job_id) == ["DONE", "PENDING", "WAITING"]
    assert await queued_chunks(service, chunk_ids) == dict(zip(chunk_ids, [1, 1, 0], strict=True))
    # With a chunk on the queue, its job's next turn comes as a worker takes that one, not from recovery.
    assert await recover_orphans(taking_turns(container, 3), now=later) == 0
    assert await statuses(service, job_id) == ["DONE", "PENDING", "WAITING"]
    for chunk_id in chunk_ids[1:]:
        await run_chunk(service, chunk_id, worker="next")
    assert (await shop_sync(JOB, {"id": global_id}))["syncJob"]["status"] == "COMPLETED"


async def test_a_cancelled_job_cancels_its_waiting_chunks_at_once(
    shop_sync: GraphQLClient, container: Container
) -> None:
    service = taking_turns(container, 1)
    global_id, job_id, chunks = await planned(shop_sync, service, size=10, count=3)
    await run_chunk(service, chunks[0].id, worker="here")
    assert await statuses(service, job_id) == ["DONE", "PENDING", "WAITING"]
    cancelled = (await shop_sync(CANCEL, {"id": global_id}))["cancelSyncJob"]
    assert cancelled["userErrors"] == []
    assert (cancelled["syncJob"]["status"], cancelled["syncJob"]["syncedProducts"]) == ("CANCELLED", 10)
    assert await statuses(service, job_id) == ["DONE", "CANCELLED", "CANCELLED"]


async def test_a_job_given_up_on_ends_failed_with_its_waiting_chunks_cancelled(
    shop_sync: GraphQLClient, container: Container
) -> None:
    """A chunk no worker can finish fails its job: the chunks still waiting their turn, which no message will
    ever bring to a worker, are cancelled with it, so the job ends instead of holding its connector."""
    service = taking_turns(container, 1)
    global_id, job_id, chunks = await planned(shop_sync, service, size=10, count=3)
    async with service.db.transaction() as session:
        await session.execute(update(SyncChunk).where(SyncChunk.id == chunks[0].id).values(attempts=MAX_CHUNK_ATTEMPTS))
    await run_chunk(service, chunks[0].id, worker="here")
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert done["status"] == "FAILED" and f"taken up {MAX_CHUNK_ATTEMPTS} times" in done["failure"]
    assert await statuses(service, job_id) == ["CANCELLED", "CANCELLED", "CANCELLED"]


async def test_a_turn_whose_message_redis_lost_is_queued_again_by_recovery(
    shop_sync: GraphQLClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis is away as a chunk closes and hands its turn on: the worker still goes on, the next chunk is PENDING
    (its turn taken) with no message, and the recovery pass after LOST_MESSAGE_AFTER queues it."""

    async def away(*_: object, **__: object) -> None:
        raise RedisConnectionError("Connection refused")

    service = taking_turns(container, 1)
    global_id, job_id, chunks = await planned(shop_sync, service, size=10, count=3)
    chunk_ids = [chunk.id for chunk in chunks]
    with monkeypatch.context() as patched:
        patched.setattr("app.services.sync.planner.enqueue_chunk", away)
        await run_chunk(service, chunk_ids[0], worker="here")
    assert await statuses(service, job_id) == ["DONE", "PENDING", "WAITING"]
    assert await queued_chunks(service, chunk_ids) == dict(zip(chunk_ids, [1, 0, 0], strict=True))
    assert await recover_orphans(service, now=utcnow() + LOST_MESSAGE_AFTER + timedelta(seconds=1)) == 1
    assert await queued_chunks(service, chunk_ids) == dict(zip(chunk_ids, [1, 1, 0], strict=True))
    for chunk_id in chunk_ids[1:]:
        await run_chunk(service, chunk_id, worker="next")
    done = (await shop_sync(JOB, {"id": global_id}))["syncJob"]
    assert (done["status"], done["syncedProducts"]) == ("COMPLETED", PRODUCTS)
