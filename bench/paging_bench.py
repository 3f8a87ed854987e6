"""Benchmark one connector's pages of sync jobs and conflicts, with and without migration 0010's indexes.

Run from the repository root:

    .venv/bin/python bench/paging_bench.py                                  # SQLite, in a temp dir
    .venv/bin/python bench/paging_bench.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/paging_bench.py --tenants 5 --connectors 2      # a quick smoke run

The data. `--tenants` tenants with `--connectors` connectors each; every
connector has `--jobs` finished sync jobs and `--conflicts` conflicts (a tenth
PENDING, the rest resolved), written in rounds so that, as in a running
service where every connector syncs on its schedule, each connector's rows are
spread evenly over the whole table. One connector more, the quiet one, has
only three old jobs and three old conflicts (paused since). The rows go in
with the migrated schema (head); before each measurement PostgreSQL is
vacuumed and analyzed, as autovacuum leaves tables whose old rows no longer
change; SQLite has no statistics, as in production.

What is measured. The repository calls the API makes for `syncJobs` and `conflicts` (a tenant's first page) and
for `syncJobs(connectorCode:)`,
`conflicts(connectorCode:)` (first page, a page deep into the list, the
status-filtered page, the total count) and for a listed page of connectors'
nested `syncJobs`/`conflicts` and their totals (one tenant's connectors at once), on the
connector created last (a busy one) and the quiet one: the best of
`--repeat` runs of each, with the plan the database chose for its statement.
Measured first on the migrated schema (head) without the paging indexes of
0010 (dropped), then on the same rows with them created again. Migrating
down to 0009 instead left tables without columns later migrations add (0014),
which the models of head select.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from databases import throwaway_database
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from app.db.engine import Database
from app.db.migrate import upgrade_to_head
from app.db.models import Conflict, Connector, Product, SyncJob, Tenant
from app.repositories.conflicts import ConflictFilter, ConflictRepository
from app.repositories.sync_jobs import SyncJobFilter, SyncJobRepository
from tests.sql_capture import statements_of

PAGE = 51
"""A first page of 50 and the one row that says whether another page follows."""
BATCH = 5_000


@dataclass(frozen=True, slots=True)
class Options:
    admin_url: str | None
    tenants: int
    connectors: int
    jobs: int
    conflicts: int
    repeat: int


@dataclass(slots=True)
class Sample:
    """The fastest run of one call, and the plan of its statement."""

    seconds: float
    plan: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Subject:
    tenant_id: int
    busy: int
    quiet: int
    listed: tuple[int, ...]
    deep_job: int
    deep_conflict: int


def parse_options(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="a PostgreSQL URL to create a throwaway database beside")
    parser.add_argument("--tenants", type=int, default=50)
    parser.add_argument("--connectors", type=int, default=4, help="connectors per tenant")
    parser.add_argument("--jobs", type=int, default=1_000, help="sync jobs per connector")
    parser.add_argument("--conflicts", type=int, default=500, help="conflicts per connector")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    return Options(args.database_url, args.tenants, args.connectors, args.jobs, args.conflicts, args.repeat)


async def load(db: Database, options: Options) -> Subject:
    """The tenants, connectors and products, then jobs and conflicts in rounds over every connector."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    owners: list[tuple[int, int]] = []
    products: dict[int, list[int]] = {}
    async with db.transaction() as session:
        for number in range(options.tenants):
            tenant = Tenant(code=f"t{number}", name=f"Tenant {number}", product_revision=1)
            session.add(tenant)
            await session.flush()
            connectors = [_connector(tenant.id, f"shop{index}") for index in range(options.connectors)]
            session.add_all(connectors)
            await session.flush()
            owners += [(tenant.id, connector.id) for connector in connectors]
            per_tenant = max(options.conflicts, 10)
            rows = [_product(tenant.id, f"SKU-{index}", at) for index in range(per_tenant)]
            products[tenant.id] = list(await session.scalars(insert(Product).returning(Product.id), rows))
        quiet = _connector(owners[-1][0], "paused")
        session.add(quiet)
        await session.flush()
    quiet_owner = (owners[-1][0], quiet.id)
    await _write(db, SyncJob, [_job(quiet_owner, at, index) for index in range(3)])
    await _write(db, Conflict, [_conflict(quiet_owner, products[quiet_owner[0]], at, index) for index in range(3)])
    for rounds, row in ((options.jobs, _job), (options.conflicts, _conflict)):
        rows: list[dict[str, Any]] = []
        for index in range(rounds):
            for owner in owners:
                made = row(owner, at, index) if row is _job else _conflict(owner, products[owner[0]], at, index)
                rows.append(made)
            if len(rows) >= BATCH:
                await _write(db, SyncJob if row is _job else Conflict, rows)
                rows = []
        await _write(db, SyncJob if row is _job else Conflict, rows)
    await db.refresh_statistics("sync_jobs", "conflicts", "connectors", "products")
    tenant_id, busy = owners[-1]
    listed = tuple(connector for tenant, connector in owners if tenant == tenant_id)
    async with db.reader() as session:
        deep_job = await _nth_newest(session, SyncJob, busy, options.jobs * 9 // 10)
        deep_conflict = await _nth_newest(session, Conflict, busy, options.conflicts * 9 // 10)
    return Subject(tenant_id, busy, quiet.id, listed, deep_job, deep_conflict)


def _connector(tenant_id: int, code: str) -> Connector:
    return Connector(tenant_id=tenant_id, code=code, name=code, channel_type="CUSTOM_HTTP", status="CONNECTED")


def _product(tenant_id: int, sku: str, at: datetime) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "sku": sku, "revision": 1, "created_at": at, "updated_at": at}


def _job(owner: tuple[int, int], at: datetime, index: int) -> dict[str, Any]:
    created = at + timedelta(minutes=15 * index)
    status = "FAILED" if index % 20 == 0 else "COMPLETED"
    return {
        "tenant_id": owner[0],
        "connector_id": owner[1],
        "sync_type": "INCREMENTAL",
        "status": status,
        "created_at": created,
        "completed_at": created + timedelta(minutes=2),
    }


def _conflict(owner: tuple[int, int], products: list[int], at: datetime, index: int) -> dict[str, Any]:
    """A tenth PENDING, each on a product of its own (one pending conflict per product and connector)."""
    product_id = products[index % len(products)]
    return {
        "tenant_id": owner[0],
        "connector_id": owner[1],
        "product_id": product_id,
        "product_sku": f"SKU-{index % len(products)}",
        "conflict_type": "FIELD",
        "resolution_status": "PENDING" if index % 10 == 9 else "PIM_WINS",
        "detected_at": at + timedelta(hours=index),
    }


async def _write(db: Database, model: type[Any], rows: list[dict[str, Any]]) -> None:
    if rows:
        async with db.transaction() as session:
            await session.execute(insert(model), rows)


async def _nth_newest(session: Any, model: type[Any], connector_id: int, offset: int) -> int:
    statement = select(model.id).where(model.connector_id == connector_id).order_by(model.id.desc()).offset(offset)
    return int(await session.scalar(statement.limit(1)) or 0)


def calls(subject: Subject) -> dict[str, Callable[[Any], Awaitable[Any]]]:
    """What the API asks of the repositories for one connector's (or a listed page of connectors') lists."""
    tenant, busy, quiet = subject.tenant_id, subject.busy, subject.quiet

    def jobs(where: SyncJobFilter, before: int | None = None) -> Callable[[Any], Awaitable[Any]]:
        return lambda session: SyncJobRepository(session).page(tenant, where, before_id=before, limit=PAGE)

    def conflicts(where: ConflictFilter, before: int | None = None) -> Callable[[Any], Awaitable[Any]]:
        return lambda session: ConflictRepository(session).page(tenant, where, before_id=before, limit=PAGE)

    return {
        "syncJobs() page 1": jobs(SyncJobFilter()),
        "syncJobs(busy) page 1": jobs(SyncJobFilter(connector_id=busy)),
        "syncJobs(busy) deep page": jobs(SyncJobFilter(connector_id=busy), subject.deep_job),
        "syncJobs(busy, FAILED)": jobs(SyncJobFilter(connector_id=busy, status="FAILED")),
        "syncJobs(busy) count": lambda session: SyncJobRepository(session).count(
            tenant, SyncJobFilter(connector_id=busy)
        ),
        "syncJobs(quiet) page 1": jobs(SyncJobFilter(connector_id=quiet)),
        "connectors{syncJobs} pages": lambda session: SyncJobRepository(session).pages_of(
            tenant, SyncJobFilter(), subject.listed, before_id=None, limit=PAGE
        ),
        "connectors{syncJobs} counts": lambda session: SyncJobRepository(session).counts_of(
            tenant, SyncJobFilter(), subject.listed
        ),
        "conflicts() page 1": conflicts(ConflictFilter()),
        "conflicts(busy) page 1": conflicts(ConflictFilter(connector_id=busy)),
        "conflicts(busy) deep page": conflicts(ConflictFilter(connector_id=busy), subject.deep_conflict),
        "conflicts(busy, PENDING)": conflicts(ConflictFilter(connector_id=busy, resolution_status="PENDING")),
        "conflicts(busy) count": lambda session: ConflictRepository(session).count(
            tenant, ConflictFilter(connector_id=busy)
        ),
        "conflicts(quiet) page 1": conflicts(ConflictFilter(connector_id=quiet)),
        "connectors{conflicts} pages": lambda session: ConflictRepository(session).pages_of(
            tenant, ConflictFilter(), subject.listed, before_id=None, limit=PAGE
        ),
        "connectors{conflicts} counts": lambda session: ConflictRepository(session).counts_of(
            tenant, ConflictFilter(), subject.listed
        ),
    }


async def measure(db: Database, subject: Subject, repeat: int) -> dict[str, Sample]:
    found: dict[str, Sample] = {}
    for name, call in calls(subject).items():
        best = float("inf")
        for _ in range(repeat):
            async with db.reader() as session:
                started = time.perf_counter()
                await call(session)
                best = min(best, time.perf_counter() - started)
        statements = await statements_of(db, call)
        found[name] = Sample(best, [line for sql, params in statements for line in await _plan(db, sql, params)])
    return found


async def _plan(db: Database, statement: str, parameters: Any) -> list[str]:
    async with db.read_engine.connect() as connection:
        if db.sqlite:
            rows = await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            return [str(row[-1]) for row in rows]
        rows = await connection.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) " + statement, parameters)
        return [str(row[0]) for row in rows]


def report(before: dict[str, Sample], after: dict[str, Sample], *, verbose: bool) -> str:
    lines = [f"{'call':<30} {'without':>10} {'with':>10}"]
    for name, sample in after.items():
        lines.append(f"{name:<30} {before[name].seconds * 1000:>8.2f}ms {sample.seconds * 1000:>8.2f}ms")
    if verbose:
        for name, sample in after.items():
            lines += ["", f"== {name}", "-- without:", *before[name].plan, "-- with:", *sample.plan]
    return "\n".join(lines)


async def run(url: str, options: Options) -> tuple[dict[str, Sample], dict[str, Sample]]:
    await asyncio.to_thread(upgrade_to_head, url)
    db = Database(url)
    try:
        started = time.perf_counter()
        subject = await load(db, options)
        print(f"loaded in {time.perf_counter() - started:.1f} s (not measured)", file=sys.stderr)
        measured: list[dict[str, Sample]] = []
        for paging_indexes in (False, True):
            await _paging_indexes(db, present=paging_indexes)
            await db.dispose()
            await _settle(url)
            measured.append(await measure(db, subject, options.repeat))
    finally:
        await db.dispose()
    return measured[0], measured[1]


PAGING_INDEXES = {
    "ix_sync_jobs_tenant_id": ("sync_jobs", "tenant_id, id"),
    "ix_sync_jobs_tenant_connector": ("sync_jobs", "tenant_id, connector_id, id"),
    "ix_sync_jobs_tenant_connector_status": ("sync_jobs", "tenant_id, connector_id, status, id"),
    "ix_conflicts_tenant_connector": ("conflicts", "tenant_id, connector_id, id"),
    "ix_conflicts_tenant_connector_status": ("conflicts", "tenant_id, connector_id, resolution_status, id"),
}
"""Migration 0010's indexes, the ones measured."""


async def _paging_indexes(db: Database, *, present: bool) -> None:
    async with db.write_engine.begin() as connection:
        for name, (table, columns) in PAGING_INDEXES.items():
            statement = f"CREATE INDEX {name} ON {table} ({columns})" if present else f"DROP INDEX {name}"
            await connection.exec_driver_sql(statement)


async def _settle(url: str) -> None:
    """On PostgreSQL, VACUUM ANALYZE: statistics, and the visibility map that lets a count read only the index,
    as autovacuum leaves a table whose old rows no longer change."""
    if url.startswith("sqlite"):
        return
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql("VACUUM ANALYZE sync_jobs, conflicts")
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    with throwaway_database(options.admin_url, "paging") as url:
        before, after = asyncio.run(run(url, options))
    backend = "SQLite" if options.admin_url is None else "PostgreSQL"
    print(
        f"{backend}: {options.tenants} tenants x {options.connectors} connectors, {options.jobs:,} jobs and"
        f" {options.conflicts:,} conflicts per connector; best of {options.repeat}"
    )
    print(report(before, after, verbose=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
