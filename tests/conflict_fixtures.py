"""Conflicts seeded straight into the database (detection is not under test here), and GraphQL documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.db.engine import Database
from app.db.models import Conflict
from app.repositories.conflicts import ConflictRepository
from app.repositories.connectors import ConnectorRepository
from app.repositories.products import ProductRepository
from graphql_schema.relay import global_id
from tests.catalog_fixtures import set_up_catalog, upsert, value
from tests.conftest import GraphQLClient, TenantHandle
from tests.connector_fixtures import ServedShop, create_connector

CONFLICT_FIELDS = """
  id productSku conflictType resolutionStatus version detectedAt resolvedAt resolvedBy resolution
  pimModifiedAt channelModifiedAt connector { code }
  fields { field attributeCode isLocaleSpecific direction
           diffs { pimLocale channelLocale baseValue pimValue channelValue } }
"""
CONFLICTS = f"""
query($code: String, $first: Int, $after: String, $status: ResolutionStatus, $sku: String) {{
  conflicts(connectorCode: $code, first: $first, after: $after, resolutionStatus: $status, productSku: $sku) {{
    totalCount pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    edges {{ cursor node {{ {CONFLICT_FIELDS} }} }}
  }}
}}"""
CONFLICT = f"""query($id: ID!) {{ conflict(id: $id) {{ {CONFLICT_FIELDS} }} }}"""
RESOLVE = f"""
mutation($id: ID!, $input: ResolveConflictInput!) {{
  resolveConflict(id: $id, input: $input) {{ conflict {{ {CONFLICT_FIELDS} }} userErrors {{ field message code }} }}
}}"""
BULK = """
mutation($ids: [ID!], $filter: ConflictFilterInput, $resolution: Resolution!) {
  bulkResolveConflicts(ids: $ids, filter: $filter, resolution: $resolution) {
    resolvedCount userErrors { field message code }
  }
}"""

SKUS = ("CHAIR-1", "CHAIR-2", "CHAIR-3", "CHAIR-4", "CHAIR-5")


def diff(pim_locale: str | None, channel_locale: str | None, base: Any, pim: Any, channel: Any) -> dict[str, Any]:
    return {
        "pimLocale": pim_locale,
        "channelLocale": channel_locale,
        "baseValue": base,
        "pimValue": pim,
        "channelValue": channel,
    }


def field(name: str, attribute: str, *diffs: dict[str, Any], direction: str = "EXPORT") -> dict[str, Any]:
    localized = any(item["pimLocale"] is not None for item in diffs)
    return {
        "field": name,
        "attributeCode": attribute,
        "isLocaleSpecific": localized,
        "direction": direction,
        "diffs": list(diffs),
    }


AR_TITLE = diff("ar_AE", "ar", "كرسي", "كرسي خشبي", "كرسي من الخشب")
FR_TITLE = diff("fr_FR", "fr", "Chaise", "Chaise en chêne", "Chaise en bois")
AR_BODY = diff("ar_AE", "ar", "<p>مريح</p>", "<p>مريح جدا</p>", "<p>مريح للغاية</p>")
FR_BODY = diff("fr_FR", "fr", "<p>Confortable</p>", "<p>Très confortable</p>", "<p>Confortable, robuste</p>")
PRICE = diff(None, None, "19.90", "21.00", "20.50")


def title(*diffs: dict[str, Any]) -> dict[str, Any]:
    return field("title", "name", *diffs)


def body(*diffs: dict[str, Any]) -> dict[str, Any]:
    return field("body_html", "description", *diffs, direction="BOTH")


@dataclass
class Shop:
    """A tenant's catalog with products CHAIR-1..5 and connectors, and the ids a seed needs."""

    db: Database
    tenant_id: int
    product_ids: dict[str, int]
    connector_ids: dict[str, int]

    async def seed(
        self,
        connector: str,
        sku: str,
        *fields: dict[str, Any],
        status: str = "PENDING",
        version: int = 1,
        conflict_type: str = "field_mismatch",
    ) -> int:
        """A conflict as detection would have written it; returns its primary key."""
        async with self.db.transaction() as session:
            conflicts = ConflictRepository(session)
            row = Conflict(
                tenant_id=self.tenant_id,
                connector_id=self.connector_ids[connector],
                product_id=self.product_ids[sku],
                product_sku=sku,
                conflict_type=conflict_type,
                resolution_status=status,
                fields=list(fields),
                version=version,
            )
            conflicts.add(row)
            await conflicts.flush()
            return row.id

    async def row(self, pk: int) -> Conflict:
        async with self.db.reader() as session:
            found = await ConflictRepository(session).get(self.tenant_id, pk)
        assert found is not None
        return found


def gid(pk: int) -> str:
    return str(global_id("Conflict", pk))


async def open_shop(
    gql: GraphQLClient, served_shop: ServedShop, db: Database, tenant: TenantHandle, connectors: tuple[str, ...]
) -> Shop:
    """Catalog, products with Arabic and French names, and connectors created over GraphQL."""
    await set_up_catalog(gql)
    products = [
        {"sku": sku, "values": [value("name", f"كرسي {n}", "ar_AE"), value("name", f"Chaise {n}", "fr_FR")]}
        for n, sku in enumerate(SKUS, 1)
    ]
    assert (await upsert(gql, *products))["userErrors"] == []
    for code in connectors:
        await create_connector(gql, served_shop, code)
    async with db.reader() as session:
        found = await ProductRepository(session).by_skus(tenant.id, SKUS)
        rows = [await ConnectorRepository(session).by_code(tenant.id, code) for code in connectors]
    return Shop(
        db=db,
        tenant_id=tenant.id,
        product_ids={sku: row.id for sku, row in found.items()},
        connector_ids={row.code: row.id for row in rows if row is not None},
    )
