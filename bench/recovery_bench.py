"""Benchmark the recovery sweeps after an outage: how much of a backlog of stranded work one sweep queues again, and
how long it takes.

Run from the repository root:

    .venv/bin/python bench/recovery_bench.py                                   # SQLite, in a temp dir
    .venv/bin/python bench/recovery_bench.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

The data. `--backlog` conflict resolutions and as many webhook deliveries,
spread over `--connectors` connectors, each holding its connector's turn on
the queue since long before RECOVER_AFTER with no message on it: what Redis
lost in an outage (or a restart without persistence), or what migration
0014 gave a turn to on upgrade. Rows go in straight to the migrated schema.

What is timed: one run of each sweep (conflicts.apply.recover_resolutions,
webhooks.recover_webhook_deliveries), as the workers' cron runs it twice
(resolutions) and four times (deliveries) a minute. Printed: how many of the
backlog it queued, the time it took, and the minutes the cron needs to drain
the backlog at that rate. The messages go to a queue of the run's own,
deleted afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from databases import throwaway_database
from history_bench import AT, MACHINE_REDIS, bench_container, connector, tenant_and_products, write

from app.container import Container
from app.db.models import Conflict, WebhookDelivery
from app.services.conflicts.apply import recover_resolutions
from app.services.webhooks import recover_webhook_deliveries

SWEEPS_PER_MINUTE = {"resolutions": 2, "deliveries": 4}


@dataclass(frozen=True, slots=True)
class Options:
    admin_url: str | None
    redis_url: str
    backlog: int
    connectors: int


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server's URL (default: SQLite)")
    parser.add_argument("--redis-url", default=MACHINE_REDIS)
    parser.add_argument("--backlog", type=int, default=5_000, help="stranded resolutions (and as many deliveries)")
    parser.add_argument("--connectors", type=int, default=50, help="connectors they are spread over")
    args = parser.parse_args(argv)
    return Options(args.database_url, args.redis_url, args.backlog, args.connectors)


async def stranded(container: Container, options: Options) -> None:
    """The backlog: resolutions and deliveries holding their connectors' turns, their messages lost."""
    tenant_id, _, products = await tenant_and_products(container, options.backlog)
    connectors = [await connector(container, tenant_id, f"c{n}") for n in range(options.connectors)]
    resolutions = [
        {
            "tenant_id": tenant_id,
            "connector_id": connectors[n % len(connectors)],
            "product_id": product,
            "product_sku": f"SKU-{n}",
            "conflict_type": "field_mismatch",
            "resolution_status": "DISMISSED",
            "fields": [],
            "detected_at": AT,
            "resolved_at": AT + timedelta(seconds=n),
            "resolved_by": "token:bench",
            "resolution": {"resolution": "DISMISSED", "overrides": []},
            "apply_queued_at": AT + timedelta(seconds=n),
        }
        for n, product in enumerate(products)
    ]
    await write(container, Conflict, resolutions)
    deliveries = [
        {
            "tenant_id": tenant_id,
            "connector_id": connectors[n % len(connectors)],
            "delivery_id": f"d-{n}",
            "topic": "product.updated",
            "payload": {"id": n},
            "received_at": AT + timedelta(seconds=n),
            "queued_at": AT + timedelta(seconds=n),
        }
        for n in range(options.backlog)
    ]
    await write(container, WebhookDelivery, deliveries)


async def timed_sweep(
    container: Container, name: str, sweep: Callable[[Container], Awaitable[int]], backlog: int
) -> None:
    before = await container.redis.zcard(container.settings.queue_name)
    started = time.perf_counter()
    await sweep(container)
    seconds = time.perf_counter() - started
    queued = await container.redis.zcard(container.settings.queue_name) - before
    minutes = math.ceil(backlog / max(queued, 1)) / SWEEPS_PER_MINUTE[name]
    print(
        f"{name}: one sweep queued {queued:,} of {backlog:,} in {seconds:.2f} s"
        f" ({seconds / max(queued, 1) * 1e6:.0f} us each); the backlog drained in about {minutes:.1f} min"
    )


async def run(url: str, options: Options) -> None:
    async with bench_container(url, options.redis_url, "recovery") as container:
        await stranded(container, options)
        print("SQLite" if container.db.sqlite else "PostgreSQL")
        await timed_sweep(container, "resolutions", recover_resolutions, options.backlog)
        await timed_sweep(container, "deliveries", recover_webhook_deliveries, options.backlog)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    with throwaway_database(options.admin_url, "recovery") as url:
        asyncio.run(run(url, options))
    return 0


if __name__ == "__main__":
    sys.exit(main())
