"""Benchmark what a catalog team does with a long history: delete a connector, bulk-resolve its conflicts, and what
the workers do with it: purge the jobs past PIMSYNC_HISTORY_RETENTION_DAYS.

Run from the repository root:

    .venv/bin/python bench/history_bench.py                                    # SQLite, in a temp dir
    .venv/bin/python bench/history_bench.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/history_bench.py --jobs 1000 --conflicts 1000        # a quick smoke run

The data. Two connectors of one tenant at each of two sizes, the second four
times the first: `--jobs` finished sync jobs (one in twenty a retry of the
job before it, as retrySyncJob makes them, each with an error and
`--changes` product changes) and `--conflicts` PENDING conflicts, each on a
product of its own. The jobs ended long before the retention. Rows go in
straight to the migrated schema; nothing of it is timed.

What is timed, at both sizes, each measured once on its own connector:

- deleteConnector's transaction (ConnectorService.delete): the database
  deletes the connector's jobs, their errors and chunks and conflicts by
  cascade, and sets `retry_of` to NULL on every job that retried one of them.
- The workers' history purge (retention.purge_old_history), on a history of
  its own connector: every job but the newest goes, each in a transaction
  of its own with its changes and errors. Baseline, in the same run on a
  history of the same size: the same jobs deleted in batches of WALK_BATCH
  ids, one statement and transaction each.
- The same purge of decided conflicts past PIMSYNC_CONFLICT_RETENTION_DAYS:
  `--conflicts` people's decisions carried out long ago, among one in ten
  not yet carried out (kept, walked past). Baseline, on as many of a
  connector of its own: the same rows deleted in batches of CONFLICT_BATCH
  ids, one statement and transaction each.
- bulkResolveConflicts by filter (ConflictService.bulk_resolve, DISMISSED,
  the connector's code): batches of BULK_BATCH conflicts, each decided with
  its event in one transaction and queued for applying after it commits.
  Baseline, in the same run on the same number of rows of a third connector:
  the least a bulk must do, a keyset batch of BULK_BATCH ids read and updated
  in one statement each per transaction, no event, no queue.

Printed: the time per row at each size and the ratio large/small (about 1
when the work per row does not grow with the history; 4 is a scan per row),
the bulk's statements per batch, and the bulk's and the purge's time per row
over their baselines'. Peak RSS shows memory stays flat. The apply messages the bulk
queues go to a queue of the run's own, deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from databases import throwaway_database
from sqlalchemy import delete, event, insert, select, update

from app.container import Container, open_container
from app.db.migrate import upgrade_to_head
from app.db.models import ApiToken, Conflict, Connector, Product, SyncJob, SyncJobChange, SyncJobError, Tenant
from app.domain.conflicts import Resolution
from app.services.conflicts.service import BULK_BATCH, BulkFilter, BulkRequest, ConflictService
from app.services.connectors import ConnectorService
from app.services.retention import CONFLICT_BATCH, WALK_BATCH, purge_old_history
from app.settings import Environment, Settings

MACHINE_REDIS = "redis://127.0.0.1:6379/0"
WRITE = 5_000
AT = datetime(2026, 1, 1, tzinfo=UTC)
DECIDED_AT = AT - timedelta(days=400)
"""Past the default PIMSYNC_CONFLICT_RETENTION_DAYS whenever the bench runs."""


@dataclass(frozen=True, slots=True)
class Options:
    admin_url: str | None
    redis_url: str
    jobs: int
    conflicts: int
    changes: int


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server's URL (default: SQLite)")
    parser.add_argument("--redis-url", default=MACHINE_REDIS)
    parser.add_argument("--jobs", type=int, default=4_000, help="jobs of the small connector (the large: 4x)")
    parser.add_argument("--conflicts", type=int, default=5_000, help="conflicts of the small connector (large: 4x)")
    parser.add_argument("--changes", type=int, default=20, help="product changes each job recorded")
    args = parser.parse_args(argv)
    return Options(args.database_url, args.redis_url, args.jobs, args.conflicts, args.changes)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def write(container: Container, model: type[Any], rows: list[dict[str, Any]]) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(rows), WRITE):
        async with container.db.transaction() as session:
            ids += list(await session.scalars(insert(model).returning(model.id), rows[start : start + WRITE]))
    return ids


async def tenant_and_products(container: Container, products: int) -> tuple[int, int, list[int]]:
    """The tenant, its token's id (who decides a bulk) and its products."""
    async with container.db.transaction() as session:
        tenant = Tenant(code="history", name="History", product_revision=1)
        session.add(tenant)
        await session.flush()
        token = ApiToken(
            tenant_id=tenant.id, name="bench", token_hash=uuid.uuid4().hex, token_prefix="bench", scopes=[]
        )
        session.add(token)
        await session.flush()
        tenant_id, token_id = tenant.id, token.id
    rows = [
        {"tenant_id": tenant_id, "sku": f"SKU-{n}", "revision": 1, "created_at": AT, "updated_at": AT}
        for n in range(products)
    ]
    return tenant_id, token_id, await write(container, Product, rows)


async def connector(container: Container, tenant_id: int, code: str) -> int:
    async with container.db.transaction() as session:
        row = Connector(tenant_id=tenant_id, code=code, name=code, channel_type="CUSTOM_HTTP", status="CONNECTED")
        session.add(row)
        await session.flush()
        return row.id


async def history(container: Container, tenant_id: int, connector_id: int, jobs: int, changes: int) -> list[int]:
    """`jobs` finished jobs, one in twenty a retry of the one before, each with an error and `changes` changes."""
    rows = [
        {
            "tenant_id": tenant_id,
            "connector_id": connector_id,
            "sync_type": "INCREMENTAL",
            "status": "COMPLETED",
            "total_products": changes,
            "created_at": AT + timedelta(minutes=15 * n),
            "completed_at": AT + timedelta(minutes=15 * n + 2),
        }
        for n in range(jobs)
    ]
    ids = await write(container, SyncJob, rows)
    async with container.db.transaction() as session:
        for previous, retry in zip(ids[::20], ids[1::20], strict=False):
            await session.execute(update(SyncJob).where(SyncJob.id == retry).values(retry_of=previous))
    errors = [
        {"tenant_id": tenant_id, "job_id": job, "product_sku": "SKU-1", "error_code": "CHN-030", "message": "refused"}
        for job in ids
    ]
    await write(container, SyncJobError, errors)
    skipped = [
        {"tenant_id": tenant_id, "job_id": job, "product_sku": f"SKU-{n}", "action": "SKIP", "fields": []}
        for job in ids
        for n in range(changes)
    ]
    await write(container, SyncJobChange, skipped)
    return ids


async def pending(container: Container, tenant_id: int, connector_id: int, products: list[int]) -> None:
    rows = [
        {
            "tenant_id": tenant_id,
            "connector_id": connector_id,
            "product_id": product,
            "product_sku": f"SKU-{n}",
            "conflict_type": "field_mismatch",
            "resolution_status": "PENDING",
            "fields": [
                {
                    "field": "title",
                    "attributeCode": "name",
                    "isLocaleSpecific": False,
                    "direction": "EXPORT",
                    "diffs": [
                        {
                            "pimLocale": None,
                            "channelLocale": None,
                            "baseValue": "a",
                            "pimValue": "b",
                            "channelValue": "c",
                        }
                    ],
                }
            ],
            "detected_at": AT,
        }
        for n, product in enumerate(products)
    ]
    await write(container, Conflict, rows)


async def decided(container: Container, tenant_id: int, connector_id: int, products: list[int]) -> list[int]:
    """A person's decision on each product, carried out long ago but for one in ten still to carry out."""
    rows = [
        {
            "tenant_id": tenant_id,
            "connector_id": connector_id,
            "product_id": product,
            "product_sku": f"SKU-{n}",
            "conflict_type": "field_mismatch",
            "resolution_status": "DISMISSED",
            "fields": [],
            "detected_at": DECIDED_AT,
            "resolved_at": DECIDED_AT + timedelta(seconds=n),
            "resolved_by": "token:bench",
            "resolution": {"resolution": "DISMISSED", "overrides": []},
            "applied_at": None if n % 10 == 0 else DECIDED_AT + timedelta(seconds=n + 1),
            "apply_queued_at": DECIDED_AT + timedelta(seconds=n),
        }
        for n, product in enumerate(products)
    ]
    return await write(container, Conflict, rows)


class Statements:
    def __init__(self, container: Container) -> None:
        self.count = 0
        self.engines = list({id(e): e for e in (container.db.read_engine, container.db.write_engine)}.values())

    def __call__(self, *_: Any) -> None:
        self.count += 1

    def __enter__(self) -> Statements:
        for engine in self.engines:
            event.listen(engine.sync_engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_: Any) -> None:
        for engine in self.engines:
            event.remove(engine.sync_engine, "before_cursor_execute", self)


async def timed_delete(container: Container, tenant_id: int, code: str) -> float:
    started = time.perf_counter()
    await ConnectorService(container, tenant_id).delete(code)
    return time.perf_counter() - started


async def timed_purge(container: Container, tenant_id: int, options: Options, jobs: int) -> tuple[float, float]:
    """The purge's time and its baseline's, per job, on two histories of `jobs` jobs."""
    purged_id = await connector(container, tenant_id, f"purged{jobs}")
    await history(container, tenant_id, purged_id, jobs, options.changes)
    started = time.perf_counter()
    purged = await purge_old_history(container)
    seconds = time.perf_counter() - started
    assert purged.jobs == jobs - 1, (purged, jobs)
    base_id = await connector(container, tenant_id, f"base_purge{jobs}")
    ids = await history(container, tenant_id, base_id, jobs, options.changes)
    started = time.perf_counter()
    for start in range(0, len(ids) - 1, WALK_BATCH):
        async with container.db.transaction() as session:
            await session.execute(
                delete(SyncJob).where(SyncJob.id.in_(ids[start : min(start + WALK_BATCH, len(ids) - 1)]))
            )
    return seconds / (jobs - 1), (time.perf_counter() - started) / (jobs - 1)


async def timed_conflict_purge(container: Container, tenant_id: int, products: list[int]) -> tuple[float, float]:
    """The purge's time and its baseline's, per conflict deleted, on two connectors' decisions on `products`."""
    purged_id = await connector(container, tenant_id, f"decided{len(products)}")
    await decided(container, tenant_id, purged_id, products)
    started = time.perf_counter()
    purged = await purge_old_history(container)
    seconds = time.perf_counter() - started
    gone = len(products) - len(products[::10])
    assert purged.conflicts == gone, (purged, gone)
    base_id = await connector(container, tenant_id, f"base_decided{len(products)}")
    ids = [pk for n, pk in enumerate(await decided(container, tenant_id, base_id, products)) if n % 10]
    started = time.perf_counter()
    for start in range(0, len(ids), CONFLICT_BATCH):
        async with container.db.transaction() as session:
            await session.execute(delete(Conflict).where(Conflict.id.in_(ids[start : start + CONFLICT_BATCH])))
    return seconds / gone, (time.perf_counter() - started) / gone


async def timed_bulk(container: Container, tenant_id: int, token_id: int, code: str) -> tuple[float, int, int]:
    request = BulkRequest(Resolution.DISMISSED, filter=BulkFilter(connector_code=code))
    with Statements(container) as statements:
        started = time.perf_counter()
        resolved = await ConflictService(container, tenant_id).bulk_resolve(request, token_id=token_id)
        seconds = time.perf_counter() - started
    return seconds, resolved, statements.count


async def timed_baseline(container: Container, connector_id: int) -> float:
    """Keyset batches of BULK_BATCH pending ids, each read and updated in one statement in its own transaction."""
    started, after = time.perf_counter(), 0
    while True:
        async with container.db.transaction() as session:
            ids = list(
                await session.scalars(
                    select(Conflict.id)
                    .where(Conflict.connector_id == connector_id, Conflict.resolution_status == "PENDING")
                    .where(Conflict.id > after)
                    .order_by(Conflict.id)
                    .limit(BULK_BATCH)
                )
            )
            if not ids:
                return time.perf_counter() - started
            await session.execute(
                update(Conflict).where(Conflict.id.in_(ids)).values(resolution_status="DISMISSED", resolved_by="bench")
            )
        after = ids[-1]


async def run(url: str, options: Options) -> None:
    async with bench_container(url, options.redis_url, "history") as container:
        await measure(container, options)


@asynccontextmanager
async def bench_container(url: str, redis_url: str, name: str) -> AsyncIterator[Container]:
    """The service's resources on the migrated database `url`, queueing on a queue of the benchmark's own, which is
    dropped with what was queued on it once the block ends."""
    await asyncio.to_thread(upgrade_to_head, url)
    with tempfile.TemporaryDirectory() as var_dir:
        settings = Settings(
            environment=Environment.TEST,
            var_dir=Path(var_dir),
            database_url=url,
            redis_url=redis_url,
            queue_name=f"pimsync:bench:{name}:{uuid.uuid4().hex[:8]}",
        )
        container = await open_container(settings)
        try:
            yield container
        finally:
            await drop_queue(container, settings.queue_name)
            await container.close()


async def measure(container: Container, options: Options) -> None:
    sizes = (options.conflicts, options.conflicts * 4)
    tenant_id, token_id, products = await tenant_and_products(container, sizes[1])
    purges = [await timed_purge(container, tenant_id, options, jobs) for jobs in (options.jobs, options.jobs * 4)]
    conflict_purges = [await timed_conflict_purge(container, tenant_id, products[:size]) for size in sizes]
    deletes: list[float] = []
    for n, jobs in enumerate((options.jobs, options.jobs * 4)):
        connector_id = await connector(container, tenant_id, f"old{n}")
        await history(container, tenant_id, connector_id, jobs, options.changes)
        deletes.append(await timed_delete(container, tenant_id, f"old{n}") / jobs)
    bulks: list[tuple[float, int]] = []
    baselines: list[float] = []
    for n, size in enumerate(sizes):
        bulk_id = await connector(container, tenant_id, f"bulk{n}")
        base_id = await connector(container, tenant_id, f"base{n}")
        await pending(container, tenant_id, bulk_id, products[:size])
        await pending(container, tenant_id, base_id, products[:size])
        seconds, resolved, statements = await timed_bulk(container, tenant_id, token_id, f"bulk{n}")
        assert resolved == size, (resolved, size)
        bulks.append((seconds / size, statements))
        baselines.append(await timed_baseline(container, base_id) / size)
    backend = "SQLite" if container.db.sqlite else "PostgreSQL"
    print(f"{backend}; peak RSS {peak_rss_mb():.0f} MB")
    print(
        f"deleteConnector: {deletes[0] * 1e6:.0f} us per job at {options.jobs:,} jobs,"
        f" {deletes[1] * 1e6:.0f} us at {options.jobs * 4:,}: ratio {deletes[1] / deletes[0]:.2f} (1 = linear)"
    )
    for jobs, (per, base) in zip((options.jobs, options.jobs * 4), purges, strict=True):
        print(
            f"history purge of {jobs:,} jobs ({options.changes} changes each): {per * 1e6:.0f} us per job;"
            f" {per / base:.1f}x the baseline ({base * 1e6:.0f} us)"
        )
    print(f"history purge per job, large/small: {purges[1][0] / purges[0][0]:.2f} (1 = linear)")
    for size, (per, base) in zip(sizes, conflict_purges, strict=True):
        print(
            f"purge of {size - len(range(0, size, 10)):,} decided conflicts (and {len(range(0, size, 10)):,} kept):"
            f" {per * 1e6:.0f} us per conflict; {per / base:.1f}x the baseline ({base * 1e6:.0f} us)"
        )
    print(f"conflict purge per conflict, large/small: {conflict_purges[1][0] / conflict_purges[0][0]:.2f} (1 = linear)")
    for size, (per, statements), base in zip(sizes, bulks, baselines, strict=True):
        batches = -(-size // BULK_BATCH)
        print(
            f"bulkResolveConflicts over {size:,}: {per * 1e6:.0f} us per conflict, {statements / batches:.1f}"
            f" statements per batch of {BULK_BATCH}; {per / base:.1f}x the baseline ({base * 1e6:.0f} us)"
        )
    print(f"bulk per conflict, large/small: {bulks[1][0] / bulks[0][0]:.2f} (1 = linear)")


async def drop_queue(container: Container, queue_name: str) -> None:
    """The apply messages the bulks queued, and the queue: no worker serves it."""
    redis = container.redis
    job_ids = await redis.zrange(queue_name, 0, -1)
    for start in range(0, len(job_ids), 1000):
        await redis.delete(*[b"arq:job:" + job_id for job_id in job_ids[start : start + 1000]])
    await redis.delete(queue_name)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    with throwaway_database(options.admin_url, "history") as url:
        asyncio.run(run(url, options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
