"""What the read paths cost in SQL: the queries a frontend sends, the statements each one runs.

A connection counts its rows only when the query selects totalCount, and a listed page costs the same statements
whatever its size: related rows come by the request's loaders, one batch per field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.db.engine import Database
from app.db.models import Listing, SyncJob
from app.repositories.sync_jobs import SyncJobRepository
from tests.conflict_fixtures import AR_BODY, AR_TITLE, FR_TITLE, SKUS, body, open_shop, title
from tests.conftest import GraphQLClient, QueryCounter, TenantHandle
from tests.connector_fixtures import SAVE_MAPPINGS, ServedShop, served_shop
from tests.sync_fixtures import MAPPINGS

__all__ = ["served_shop"]

CONNECTORS = ("s1", "s2", "s3")
JOBS_PER_CONNECTOR = {"s1": 3, "s2": 2, "s3": 1}
CONFLICTS_PER_CONNECTOR = {"s1": 3, "s2": 1, "s3": 2}


@dataclass
class History:
    """What the catalog holds, newest first where the API lists newest first."""

    jobs: list[tuple[str, int, int]]
    """(connector code, errors, changes) of each job, newest first."""


async def _history(gql: GraphQLClient, served_shop: ServedShop, db: Database, tenant: TenantHandle) -> History:
    """Five products listed on three connectors with mappings, jobs with errors and changes, and conflicts."""
    shop = await open_shop(gql, served_shop, db, tenant, CONNECTORS)
    for code in CONNECTORS:
        saved = (await gql(SAVE_MAPPINGS, {"code": code, "mappings": MAPPINGS}))["saveMappings"]
        assert saved["userErrors"] == []
        for number in range(CONFLICTS_PER_CONNECTOR[code]):
            await shop.seed(code, SKUS[number], title(AR_TITLE, FR_TITLE), body(AR_BODY))
    made: list[tuple[str, int, int]] = []
    async with db.transaction() as session:
        session.add_all(
            Listing(tenant_id=tenant.id, connector_id=connector_id, product_id=product_id, status="synced")
            for connector_id in shop.connector_ids.values()
            for product_id in shop.product_ids.values()
        )
        repository = SyncJobRepository(session)
        for code, count in JOBS_PER_CONNECTOR.items():
            for _ in range(count):
                job = SyncJob(
                    tenant_id=tenant.id,
                    connector_id=shop.connector_ids[code],
                    sync_type="FULL",
                    status="COMPLETED",
                )
                session.add(job)
                await session.flush()
                errors, changes = len(made) % 3 + 1, len(made) % 2
                await repository.insert_errors(
                    [
                        {"tenant_id": tenant.id, "job_id": job.id, "product_sku": sku, "error_code": "CHN-020"}
                        | {"message": "refused"}
                        for sku in SKUS[:errors]
                    ]
                )
                await repository.insert_changes(
                    [
                        {"tenant_id": tenant.id, "job_id": job.id, "product_sku": sku, "action": "CREATE", "fields": []}
                        for sku in SKUS[:changes]
                    ]
                )
                made.append((code, errors, changes))
    return History(jobs=made[::-1])


def _totals(data: Any) -> list[int]:
    """Every totalCount of a response, in document order."""
    if isinstance(data, list):
        return [total for item in data for total in _totals(item)]
    if not isinstance(data, dict):
        return []
    found: list[int] = []
    for key, item in data.items():
        found += [item] if key == "totalCount" else _totals(item)
    return found


def _counting(counter: QueryCounter) -> list[str]:
    return [statement for statement in counter.statements if "count(" in statement.lower()]


CONNECTIONS: dict[str, str] = {
    "products": "{ products(first: 2) { TOTAL edges { node { sku } } } }",
    "connectors": "{ connectors(first: 1) { TOTAL edges { node { code } } } }",
    "syncJobs": "{ syncJobs(first: 1) { TOTAL edges { node { id } } } }",
    "conflicts": "{ conflicts(first: 1) { TOTAL edges { node { productSku } } } }",
    "connectors { syncJobs }": "{ connectors { edges { node { syncJobs(first: 1) { TOTAL edges { node { id } } } } } } }",
    "connectors { conflicts }": """{ connectors { edges { node {
        conflicts(first: 1) { TOTAL edges { node { productSku } } } } } } }""",
    "syncJobs { errors }": "{ syncJobs { edges { node { errors(first: 1) { TOTAL edges { node { productSku } } } } } } }",
    "syncJobs { changes }": """{ syncJobs { edges { node {
        changes(first: 1, action: CREATE) { TOTAL pageInfo { hasNextPage } } } } } }""",
}


def _expected_totals(history: History) -> dict[str, list[int]]:
    return {
        "products": [len(SKUS)],
        "connectors": [len(CONNECTORS)],
        "syncJobs": [len(history.jobs)],
        "conflicts": [sum(CONFLICTS_PER_CONNECTOR.values())],
        "connectors { syncJobs }": [JOBS_PER_CONNECTOR[code] for code in CONNECTORS],
        "connectors { conflicts }": [CONFLICTS_PER_CONNECTOR[code] for code in CONNECTORS],
        "syncJobs { errors }": [errors for _, errors, _ in history.jobs],
        "syncJobs { changes }": [changes for _, _, changes in history.jobs],
    }


async def test_a_connection_counts_its_rows_only_when_the_query_selects_total_count(
    gql: GraphQLClient, served_shop: ServedShop, db: Database, tenant: TenantHandle, sql_counter: QueryCounter
) -> None:
    """A list that shows a page counted every row matching it all the same (every product a search matches, each
    listed job's errors): the count now runs only for a query that selects totalCount, one per connection field."""
    expected = _expected_totals(await _history(gql, served_shop, db, tenant))
    for shape, query in CONNECTIONS.items():
        sql_counter.statements.clear()
        await gql(query.replace("TOTAL", ""))
        assert _counting(sql_counter) == [], shape
        sql_counter.statements.clear()
        assert _totals(await gql(query.replace("TOTAL", "totalCount"))) == expected[shape], shape
        assert len(_counting(sql_counter)) == 1, (shape, sql_counter.statements)


SHAPES: dict[str, tuple[str, int]] = {
    # Each: the token, the page, its count, then one batch per loader: the catalog's spec is four (attributes,
    # locales, scopes, currencies), a nested connection one for its pages and one for its totals.
    "syncJobs { connector errors changes }": (
        """query($first: Int) { syncJobs(first: $first) {
          totalCount pageInfo { hasNextPage endCursor } edges { cursor node {
            id status progress queuePosition createdAt connector { code name channelType }
            errors(first: 5) { totalCount edges { node { productSku locale errorCode message } } }
            changes(first: 5) { totalCount edges { node { productSku action fields { field } } } }
        } } } }""",
        8,
    ),
    "conflicts { connector fields diffs }": (
        """query($first: Int) { conflicts(first: $first) {
          totalCount pageInfo { hasNextPage endCursor } edges { node {
            id productSku conflictType resolutionStatus detectedAt version
            connector { code name localeSyncStatus { pimLocale channelLocale status } }
            fields { field attributeCode isLocaleSpecific direction
              diffs { pimLocale channelLocale baseValue pimValue channelValue } }
        } } } }""",
        6,
    ),
    "products { values value listings { connector } }": (
        """query($first: Int) { products(first: $first) {
          totalCount pageInfo { hasNextPage endCursor } edges { node {
            id sku enabled family updatedAt
            values(locales: ["ar_AE", "fr_FR"]) { attribute locale scope data }
            name: value(attribute: "name", locale: "ar_AE")
            listings { externalId status lastSyncedAt connector { code name } }
        } } } }""",
        10,
    ),
    "connectors { mappings lastJob syncJobs conflicts }": (
        """query($first: Int) { connectors(first: $first) {
          totalCount pageInfo { hasNextPage endCursor } edges { node {
            id code name channelType status settings { localeMapping { pimLocale channelLocale } } supportedLocales
            mappings { id attributeCode channelField direction transformation broken }
            localeSyncStatus { channelLocale status } pendingConflictCount lastJob { id status }
            syncJobs(first: 2) { totalCount edges { node { id status } } }
            conflicts(first: 2, resolutionStatus: PENDING) { totalCount edges { node { productSku } } }
        } } } }""",
        15,
    ),
}


async def test_each_frontend_list_costs_the_same_statements_whatever_its_page_size(
    gql: GraphQLClient, served_shop: ServedShop, db: Database, tenant: TenantHandle, sql_counter: QueryCounter
) -> None:
    """The lists a frontend shows, with what it shows of each row: a page of one row and a page of three run the
    same statements, as many as pinned here (related rows come by one loader batch per field, not per row)."""
    await _history(gql, served_shop, db, tenant)
    for shape, (query, statements) in SHAPES.items():
        counts = []
        for first in (1, 3):
            sql_counter.statements.clear()
            (page,) = (await gql(query, {"first": first})).values()
            assert len(page["edges"]) == first, shape
            counts.append(len(sql_counter.statements))
        assert counts == [statements, statements], (shape, sql_counter.statements)
