"""The migrations build exactly the schema the models describe, on every backend the tests run on, and carry
existing rows over."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.base import Base
from app.db.engine import Database
from app.db.migrate import alembic_config
from app.domain.catalog import search_form
from app.repositories.conflicts import ConflictFilter, ConflictRepository
from app.repositories.products import ProductFilter, ProductRepository
from app.repositories.sync_jobs import SyncJobFilter, SyncJobRepository
from tests.conftest import POSTGRES_ADMIN_URL, _admin, _require_or_skip, postgres_available
from tests.sql_capture import statements_of


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own, with no table yet: the shared test database cannot be migrated down."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    if not postgres_available():
        _require_or_skip("PostgreSQL at 127.0.0.1:5432")
    name = f"pimsync_migrations_{uuid.uuid4().hex[:12]}"
    await _admin(f'CREATE DATABASE "{name}"')
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_the_migrated_schema_matches_the_models(db: Database) -> None:
    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [*compare_metadata(context, Base.metadata), *_partial_index_differences(connection)]

    async with db.write_engine.connect() as connection:
        found = await connection.run_sync(differences)
    assert found == [], f"models and migrations disagree; write a migration: {found}"


def test_a_partial_index_whose_condition_moved_is_a_difference() -> None:
    """Autogenerate compares an index's columns, not its WHERE: a migration that forgot to change a condition (as
    0007 changed which jobs hold their connector) would pass unseen. The 0006 database shows it is now seen."""
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as connection:
            Base.metadata.create_all(connection)
            connection.exec_driver_sql("DROP INDEX uq_sync_jobs_one_active_per_connector")
            connection.exec_driver_sql(
                "CREATE UNIQUE INDEX uq_sync_jobs_one_active_per_connector ON sync_jobs (connector_id)"
                " WHERE status IN ('PENDING', 'RUNNING')"
            )
            found = _partial_index_differences(connection)
    finally:
        engine.dispose()
    assert [name for name, _, _ in found] == ["uq_sync_jobs_one_active_per_connector"]


def _partial_index_differences(connection: Connection) -> list[tuple[str, str | None, str | None]]:
    """(index, migrated condition, models' condition) of each index whose condition differs, as the database
    itself renders both: the models' schema is built beside the migrated one (PostgreSQL, in a schema rolled
    back afterwards) or in memory (SQLite)."""
    migrated = _index_conditions(connection, schema=None)
    if connection.dialect.name == "postgresql":
        with connection.begin_nested() as built:
            connection.exec_driver_sql("CREATE SCHEMA models_reference")
            reference = connection.execution_options(schema_translate_map={None: "models_reference"})
            Base.metadata.create_all(reference)
            expected = _index_conditions(connection, schema="models_reference")
            built.rollback()
    else:
        engine = create_engine("sqlite://")
        try:
            with engine.begin() as memory:
                Base.metadata.create_all(memory)
                expected = _index_conditions(memory, schema=None)
        finally:
            engine.dispose()
    names = sorted(set(migrated) | set(expected))
    return [
        (name, migrated.get(name), expected.get(name)) for name in names if migrated.get(name) != expected.get(name)
    ]


def _index_conditions(connection: Connection, *, schema: str | None) -> dict[str, str]:
    """Each partial index's condition, by index name, whitespace folded."""
    inspector = inspect(connection)
    conditions: dict[str, str] = {}
    for table in Base.metadata.tables:
        for index in inspector.get_indexes(table, schema=schema):
            options = index.get("dialect_options", {})
            where = options.get("postgresql_where", options.get("sqlite_where"))
            if where is not None:
                conditions[str(index["name"])] = " ".join(str(where).split())
    return conditions


async def test_every_migration_downgrades_and_upgrades_again(empty_database_url: str) -> None:
    """A deployment rolled back to any revision can move forward again, ending with the schema the models describe."""
    config = alembic_config(empty_database_url)
    await asyncio.to_thread(command.upgrade, config, "head")
    await asyncio.to_thread(command.downgrade, config, "base")
    await asyncio.to_thread(command.upgrade, config, "head")
    for _ in range(3):  # the newest steps one by one, as a rollback of a release does
        await asyncio.to_thread(command.downgrade, config, "-1")
    await asyncio.to_thread(command.upgrade, config, "head")
    db = Database(empty_database_url)
    try:
        await test_the_migrated_schema_matches_the_models(db)
    finally:
        await db.dispose()


async def test_conflicts_of_one_sku_are_read_through_an_index(db: Database) -> None:
    """conflicts(productSku:) read every tenant's conflicts, resolved ones included, on PostgreSQL: a full scan of a
    table that grows with the catalog, for each page."""
    plan = await _plan_of(
        db,
        "conflicts",
        lambda session: ConflictRepository(session).page(
            1, ConflictFilter(product_sku="SKU-1"), before_id=None, limit=51
        ),
    )
    assert "ix_conflicts_tenant_product_sku" in plan


PAGE_CALLS: dict[str, tuple[str, str, Callable[[AsyncSession], Awaitable[object]]]] = {
    "syncJobs(connectorCode:)": (
        "sync_jobs",
        "ix_sync_jobs_tenant_connector",
        lambda session: SyncJobRepository(session).page(1, SyncJobFilter(connector_id=2), before_id=9, limit=51),
    ),
    "syncJobs(connectorCode:, status:)": (
        "sync_jobs",
        "ix_sync_jobs_tenant_connector_status",
        lambda session: SyncJobRepository(session).page(
            1, SyncJobFilter(connector_id=2, status="FAILED"), before_id=None, limit=51
        ),
    ),
    "syncJobs": (
        "sync_jobs",
        "ix_sync_jobs_tenant_id",
        lambda session: SyncJobRepository(session).page(1, SyncJobFilter(), before_id=None, limit=51),
    ),
    "conflicts(connectorCode:)": (
        "conflicts",
        "ix_conflicts_tenant_connector",
        lambda session: ConflictRepository(session).page(1, ConflictFilter(connector_id=2), before_id=9, limit=51),
    ),
    "conflicts(connectorCode:, resolutionStatus:)": (
        "conflicts",
        "ix_conflicts_tenant_connector_status",
        lambda session: ConflictRepository(session).page(
            1, ConflictFilter(connector_id=2, resolution_status="PIM_WINS"), before_id=None, limit=51
        ),
    ),
}


@pytest.mark.parametrize("call", PAGE_CALLS)
async def test_a_page_of_one_connectors_jobs_or_conflicts_is_read_through_an_index(db: Database, call: str) -> None:
    """Such a page walked the primary key discarding every other connector's rows (PostgreSQL), or read all the
    tenant's rows and sorted them (both), for each page: an index in the page's order reads just the page."""
    table, index, page = PAGE_CALLS[call]
    plan = await _plan_of(db, table, page)
    assert index in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


async def _plan_of(
    db: Database, table: str, call: Callable[[AsyncSession], Awaitable[object]], *, containing: str = ""
) -> str:
    """The plan of the statement `call` sends to read `table`: on SQLite as it would run, on PostgreSQL the index
    the planner would take (an empty table is cheapest to scan)."""
    read = (
        (sql, params) for sql, params in await statements_of(db, call) if f"FROM {table}" in sql and containing in sql
    )
    statement, parameters = next(read)
    async with db.read_engine.connect() as connection:
        if db.sqlite:
            plan = await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        else:
            await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = await connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        return "\n".join(str(row[-1]) for row in plan)


def test_jobs_queued_before_0005_keep_the_stamp_of_their_planning_message(tmp_path: Path) -> None:
    """Recovery finds a job's queued message by the stamp in its id; jobs from before 0005 were stamped at creation."""
    path, config = _database_at(tmp_path, "0004")
    created = "2026-11-30 10:15:42.123456"
    with closing(sqlite3.connect(path)) as connection, connection:
        _tenant_with_connectors(connection, created, "CUSTOM_HTTP")
        connection.execute(
            "INSERT INTO sync_jobs (id, tenant_id, connector_id, sync_type, status, priority, dry_run, force_resync,"
            " select_all, revision_from, mappings_version, total_products, synced_products, failed_products,"
            " skipped_products, conflicted_products, cancel_requested, created_at)"
            " VALUES (1, 1, 1, 'FULL', 'PENDING', 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ?)",
            (created,),
        )
    command.upgrade(config, "head")
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT enqueued_at FROM sync_jobs WHERE id = 1").fetchone() == (created,)


def test_shopify_listings_from_before_0006_forget_the_time_they_saw(tmp_path: Path) -> None:
    """Their time included translation edits, which deliveries never carry: kept, it would make the next delivery
    about the product look stale. Other channels' listings keep theirs."""
    path, config = _database_at(tmp_path, "0005")
    seen = "2026-12-01 09:00:01.000000"
    with closing(sqlite3.connect(path)) as connection, connection:
        _tenant_with_connectors(connection, seen, "SHOPIFY", "CUSTOM_HTTP")
        connection.execute(
            "INSERT INTO products (id, tenant_id, sku, enabled, revision, search_text, created_at, updated_at)"
            " VALUES (1, 1, 'CHAIR', 1, 1, '', ?, ?)",
            (seen, seen),
        )
        for connector_id in (1, 2):
            connection.execute(
                "INSERT INTO listings (tenant_id, connector_id, product_id, external_id, status, document_hashes,"
                " sent, base, channel_updated_at, excluded, synced_revision)"
                " VALUES (1, ?, 1, 'x', 'synced', '{}', '{}', '{}', ?, 0, 1)",
                (connector_id, seen),
            )
    command.upgrade(config, "head")
    with closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT connector_id, channel_updated_at FROM listings ORDER BY connector_id")
        assert rows.fetchall() == [(1, None), (2, seen)]


def test_a_second_active_job_beside_a_retrying_one_is_cancelled_by_0007(tmp_path: Path) -> None:
    """Before 0007 a RETRYING job did not hold its connector, so a newer job could be active beside it; the
    stricter index cannot be built over such a pair. The newer job ends CANCELLED with its open chunks; the
    retrying one keeps the work in progress, and other connectors' jobs are untouched."""
    path, config = _database_at(tmp_path, "0006")
    at = "2026-12-05 08:00:00.000000"
    with closing(sqlite3.connect(path)) as connection, connection:
        _tenant_with_connectors(connection, at, "CUSTOM_HTTP", "CUSTOM_HTTP")
        for job_id, connector_id, status in ((1, 1, "RETRYING"), (2, 1, "RUNNING"), (3, 2, "RETRYING")):
            connection.execute(
                "INSERT INTO sync_jobs (id, tenant_id, connector_id, sync_type, status, priority, dry_run,"
                " force_resync, select_all, revision_from, mappings_version, total_products, synced_products,"
                " failed_products, skipped_products, conflicted_products, cancel_requested, created_at, enqueued_at)"
                " VALUES (?, 1, ?, 'FULL', ?, 1, 0, 0, 1, 0, 0, 10, 0, 0, 0, 0, 0, ?, ?)",
                (job_id, connector_id, status, at, at),
            )
            connection.execute(
                "INSERT INTO sync_chunks (tenant_id, job_id, first_product_id, last_product_id, cursor, status,"
                " attempts, lease_owner, lease_expires_at) VALUES (1, ?, 1, 10, 0, ?, 1, NULL, NULL)",
                (job_id, "PENDING" if status == "RETRYING" else "RUNNING"),
            )
    command.upgrade(config, "head")
    with closing(sqlite3.connect(path)) as connection:
        jobs = connection.execute("SELECT id, status, cancel_requested, completed_at IS NOT NULL FROM sync_jobs")
        assert sorted(jobs.fetchall()) == [(1, "RETRYING", 0, 0), (2, "CANCELLED", 1, 1), (3, "RETRYING", 0, 0)]
        chunks = connection.execute("SELECT job_id, status FROM sync_chunks ORDER BY job_id")
        assert chunks.fetchall() == [(1, "PENDING"), (2, "CANCELLED"), (3, "PENDING")]


async def test_0009_lets_a_search_with_plain_spaces_find_products_stored_before_it(empty_database_url: str) -> None:
    """Search texts written before 0009 kept their no-break and thin spaces: "smart tv" did not find them."""
    config = alembic_config(empty_database_url)
    await asyncio.to_thread(command.upgrade, config, "0008")
    before = {"TV-1": "tv-1\nphilips smart\u00a0tv", "TV-2": "tv-2\nsmart\u2009tv\u202f4k", "TV-3": "tv-3\nsmarttv"}
    db = Database(empty_database_url)
    try:
        async with db.transaction() as session:
            await session.execute(
                text("INSERT INTO tenants (id, code, name, product_revision, created_at) VALUES (1, 't', 'T', 1, :at)"),
                {"at": datetime(2026, 12, 6, tzinfo=UTC)},
            )
            for number, (sku, search_text) in enumerate(before.items(), start=1):
                await session.execute(
                    text(
                        "INSERT INTO products (id, tenant_id, sku, enabled, revision, search_text, created_at,"
                        " updated_at) VALUES (:id, 1, :sku, :enabled, 1, :search_text, :at, :at)"
                    ),
                    {"id": number, "sku": sku, "enabled": True, "search_text": search_text, "at": datetime.now(UTC)},
                )
        for steps in (("head",), ("-1", "head")):  # up, then down and up again as a rolled-back release does
            for step in steps:
                move = command.downgrade if step.startswith("-") else command.upgrade
                await asyncio.to_thread(move, config, step)
            async with db.reader() as session:
                products = await ProductRepository(session).page(
                    1, ProductFilter(search=search_form("Smart TV")), after_id=None, limit=10
                )
                rows = await session.execute(text("SELECT sku, search_text FROM products"))
                stored = {sku: search_text for sku, search_text in rows}
            assert [product.sku for product in products] == ["TV-1", "TV-2"]
            assert stored == {sku: search_form(search_text) for sku, search_text in before.items()}
    finally:
        await db.dispose()


def _database_at(tmp_path: Path, revision: str) -> tuple[Path, Config]:
    """A SQLite database migrated up to `revision` only, as a deployment of that time left it."""
    path = tmp_path / "old.sqlite3"
    config = alembic_config(f"sqlite+aiosqlite:///{path}")
    command.upgrade(config, revision)
    return path, config


def _tenant_with_connectors(connection: sqlite3.Connection, at: str, *channel_types: str) -> None:
    """Tenant 1 with connectors 1, 2, ... of these channel types."""
    connection.execute(
        "INSERT INTO tenants (id, code, name, product_revision, created_at) VALUES (1, 't', 'T', 0, ?)", (at,)
    )
    for connector_id, channel_type in enumerate(channel_types, start=1):
        connection.execute(
            "INSERT INTO connectors (id, public_id, tenant_id, code, name, channel_type, status, created_at, updated_at)"
            " VALUES (?, ?, 1, ?, 'Shop', ?, 'CONNECTED', ?, ?)",
            (connector_id, f"p{connector_id}", f"shop{connector_id}", channel_type, at, at),
        )


NESTED_PAGE_CALLS: dict[str, tuple[str, tuple[str, ...], Callable[[AsyncSession], Awaitable[object]]]] = {
    "connectors { syncJobs }": (
        "sync_jobs",
        ("ix_sync_jobs_tenant_connector",),
        lambda session: SyncJobRepository(session).pages_of(1, SyncJobFilter(), [2, 3], before_id=9, limit=6),
    ),
    "connectors { syncJobs(status:) }": (
        "sync_jobs",
        ("ix_sync_jobs_tenant_connector_status",),
        lambda session: SyncJobRepository(session).pages_of(
            1, SyncJobFilter(status="FAILED"), [2, 3], before_id=None, limit=6
        ),
    ),
    "connectors { conflicts }": (
        "conflicts",
        ("ix_conflicts_tenant_connector",),
        lambda session: ConflictRepository(session).pages_of(1, ConflictFilter(), [2, 3], before_id=9, limit=6),
    ),
    "connectors { conflicts(resolutionStatus:) }": (
        "conflicts",
        ("ix_conflicts_tenant_connector_status",),
        lambda session: ConflictRepository(session).pages_of(
            1, ConflictFilter(resolution_status="PENDING"), [2, 3], before_id=None, limit=6
        ),
    ),
    "syncJobs { errors }": (
        "sync_errors",
        ("ix_sync_errors_job_id",),
        lambda session: SyncJobRepository(session).error_pages([2, 3], after_id=9, limit=6),
    ),
    "syncJobs { changes(action:) }": (
        "sync_changes",
        ("ix_sync_changes_job_action", "ix_sync_changes_job_id"),  # on empty tables PostgreSQL takes either
        lambda session: SyncJobRepository(session).change_pages([2, 3], action="CREATE", after_id=None, limit=6),
    ),
    "syncJobs { changes }": (
        "sync_changes",
        ("ix_sync_changes_job_id",),
        lambda session: SyncJobRepository(session).change_pages([2, 3], action=None, after_id=9, limit=6),
    ),
}


@pytest.mark.parametrize("call", NESTED_PAGE_CALLS)
async def test_each_owners_nested_page_is_read_from_an_index_and_stops_at_the_page(db: Database, call: str) -> None:
    """A listed page of connectors' syncJobs (of jobs' errors ...) ranked every row of those connectors to keep each
    one's first few: a year of quarter-hourly syncs is 35,000 jobs read per connector. Each owner's page is now read
    from an index in the page's order, right under its LIMIT (PostgreSQL) or in its correlated subquery (SQLite),
    so it reads at most the page; the one sort left orders the few rows of the pages together."""
    table, indexes, pages = NESTED_PAGE_CALLS[call]
    plan = await _plan_of(db, table, pages, containing="ORDER BY")
    lines = plan.splitlines()
    per_owner, sort = ("CORRELATED LIST SUBQUERY", "TEMP B-TREE") if db.sqlite else ("Limit", "Sort Key")
    owner_page = next((number for number, line in enumerate(lines) if per_owner in line), None)
    assert owner_page is not None, plan
    assert any(f" {index} " in lines[owner_page + 1] for index in indexes), plan
    assert plan.count(sort) == 1, plan
